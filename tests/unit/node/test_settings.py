"""Agent settings: flag, then environment, then config file, then default; errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from leoscope.core.errors import InvalidInput
from leoscope.node.settings import DEFAULT_PUBLIC_IP_URL, resolve_settings

BASE = {"orchestrator": "127.0.0.1:50051", "node_id": "n1", "data_dir": "/tmp/x"}


def test_flags_beat_environment_beat_file_beat_defaults(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(
        'orchestrator = "file:1"\nnode_id = "from-file"\ninterval = 30\ntoken = "t"\n'
    )
    env = {"LEOSCOPE_NODE_ID": "from-env", "LEOSCOPE_AGENT_INTERVAL": "20"}
    settings = resolve_settings(
        {"interval": 5.0, "data_dir": str(tmp_path)}, env=env, config_file=config
    )
    assert settings.interval == 5.0
    assert settings.node_id == "from-env"
    assert settings.orchestrator == "file:1"
    assert settings.token == "t"
    assert settings.runtime == "docker"
    assert settings.public_ip_url == DEFAULT_PUBLIC_IP_URL
    assert settings.missed_grace == 60.0
    assert settings.artifact_root == tmp_path / "artifacts"


def test_token_from_a_file_and_never_in_repr(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    settings = resolve_settings({**BASE, "token_file": str(token_file)}, env={})
    assert settings.token == "s3cret-token"
    assert "s3cret" not in repr(settings)


def test_plaintext_only_by_default_on_loopback() -> None:
    env = {"LEOSCOPE_NODE_TOKEN": "t"}
    assert resolve_settings(BASE, env=env).insecure is True
    remote = resolve_settings({**BASE, "orchestrator": "orch.example.org:50051"}, env=env)
    assert remote.insecure is False
    with pytest.raises(InvalidInput, match="tls_ca"):
        resolve_settings({**BASE, "insecure": True, "tls_ca": "/ca.pem"}, env=env)


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        ({"orchestrator": None}, "orchestrator"),
        ({"orchestrator": "no-port"}, "orchestrator"),
        ({"node_id": "a/b"}, "node_id"),
        ({"node_id": ".."}, "node_id"),
        ({"interval": 0.0}, "interval"),
        ({"runtime": "podman"}, "runtime"),
        ({"public_ip_url": "ftp://x"}, "public_ip_url"),
        ({"missed_grace": -1.0}, "missed_grace"),
    ],
)
def test_bad_settings_name_the_field(flags: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        resolve_settings({**BASE, **flags}, env={"LEOSCOPE_NODE_TOKEN": "t"})
    assert info.value.field == field


def test_missing_token_and_unknown_file_keys(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="token") as info:
        resolve_settings(BASE, env={})
    assert info.value.field == "token"
    config = tmp_path / "agent.toml"
    config.write_text('node = "typo"\n')
    with pytest.raises(InvalidInput, match="unknown setting"):
        resolve_settings(BASE, env={"LEOSCOPE_NODE_TOKEN": "t"}, config_file=config)


def test_public_ip_lookup_can_be_switched_off() -> None:
    env = {"LEOSCOPE_NODE_TOKEN": "t", "LEOSCOPE_PUBLIC_IP_URL": "off"}
    assert resolve_settings(BASE, env=env).public_ip_url is None
