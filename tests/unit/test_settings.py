"""Settings: the lookup order, converters, profiles, the file's location and permissions."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from leoscope.core.errors import InvalidInput
from leoscope.settings import (
    SETTINGS,
    config_path,
    delete_profile,
    read_config,
    readable_by_others,
    resolve,
    save_profile,
    use_profile,
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "leoscope" / "config.toml"


def test_defaults_without_anything(path: Path) -> None:
    s = resolve(env={}, path=path)
    assert (s.host, s.user, s.token, s.insecure, s.output, s.timeout) == (
        "localhost:50051",
        "",
        "",
        False,
        "table",
        10.0,
    )
    assert s.profile == "default" and set(s.sources.values()) == {"default"}


def test_flag_beats_env_beats_profile_beats_default(path: Path) -> None:
    save_profile("lab", {"host": "profile-host:1", "user": "p-user", "token": "p-tok"}, path=path)
    env = {"LEOSCOPE_USER": "env-user", "LEOSCOPE_TOKEN": "env-tok"}
    s = resolve({"token": "flag-tok"}, env=env, path=path)
    assert (s.host, s.user, s.token, s.output) == (
        "profile-host:1",
        "env-user",
        "flag-tok",
        "table",
    )
    assert dict(s.sources) | {} == {
        "host": "profile",
        "user": "env",
        "token": "flag",
        "jwt": "default",
        "tls_ca": "default",
        "tls_server_name": "default",
        "insecure": "default",
        "timeout": "default",
        "retry_secs": "default",
        "output": "default",
    }
    # An empty environment variable counts as unset.
    assert resolve(env={"LEOSCOPE_HOST": ""}, path=path).host == "profile-host:1"


def test_every_setting_has_an_env_variable(path: Path) -> None:
    env = {
        "LEOSCOPE_HOST": "h:9",
        "LEOSCOPE_USER": "u",
        "LEOSCOPE_TOKEN": "t",
        "LEOSCOPE_JWT": "j",
        "LEOSCOPE_TLS_CA": "~/ca.pem",
        "LEOSCOPE_TLS_SERVER_NAME": "localhost",
        "LEOSCOPE_INSECURE": "yes",
        "LEOSCOPE_TIMEOUT": "2.5",
        "LEOSCOPE_RETRY_SECS": "0",
        "LEOSCOPE_OUTPUT": "JSON",
    }
    assert {s.env for s in SETTINGS} == set(env)
    s = resolve(env=env, path=path)
    assert (s.host, s.user, s.token, s.jwt, s.tls_server_name) == (
        "h:9",
        "u",
        "t",
        "j",
        "localhost",
    )
    assert s.tls_ca == Path("~/ca.pem").expanduser()
    assert (s.insecure, s.timeout, s.retry_secs, s.output) == (True, 2.5, 0.0, "json")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("example.org", "example.org:50051"),
        ("example.org:443", "example.org:443"),
        ("127.0.0.1", "127.0.0.1:50051"),
        ("[::1]", "[::1]:50051"),
        ("[::1]:7000", "[::1]:7000"),
        ("::1", "[::1]:50051"),
    ],
)
def test_host_gets_the_default_port(path: Path, given: str, expected: str) -> None:
    assert resolve({"host": given}, env={}, path=path).host == expected


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"LEOSCOPE_INSECURE": "maybe"}, "insecure (from LEOSCOPE_INSECURE)"),
        ({"LEOSCOPE_TIMEOUT": "0"}, "timeout (from LEOSCOPE_TIMEOUT)"),
        ({"LEOSCOPE_TIMEOUT": "soon"}, "timeout (from LEOSCOPE_TIMEOUT)"),
        ({"LEOSCOPE_OUTPUT": "xml"}, "output (from LEOSCOPE_OUTPUT)"),
        ({"LEOSCOPE_HOST": "a host"}, "host (from LEOSCOPE_HOST)"),
        ({"LEOSCOPE_HOST": "h:99999"}, "host (from LEOSCOPE_HOST)"),
    ],
)
def test_bad_values_name_the_setting_and_source(
    path: Path, env: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve(env=env, path=path)
    assert caught.value.field == field


def test_profiles_select_and_switch(path: Path) -> None:
    save_profile("admin", {"user": "admin", "token": "a"}, path=path)
    save_profile("alice", {"user": "alice", "token": "b"}, path=path)
    assert resolve(env={}, path=path).user == "alice"  # the last login is current
    assert resolve(profile="admin", env={}, path=path).user == "admin"
    assert resolve(env={"LEOSCOPE_PROFILE": "admin"}, path=path).user == "admin"
    use_profile("admin", path=path)
    assert resolve(env={}, path=path).profile == "admin"
    save_profile("extra", {"user": "x"}, path=path, make_current=False)
    assert read_config(path).current == "admin"
    delete_profile("admin", path=path)
    config = read_config(path)
    assert config.current is None and sorted(config.profiles) == ["alice", "extra"]
    with pytest.raises(InvalidInput, match="no profile 'ghost'"):
        resolve(profile="ghost", env={}, path=path)
    with pytest.raises(InvalidInput):
        use_profile("ghost", path=path)
    with pytest.raises(InvalidInput):
        save_profile("bad name", {}, path=path)


def test_profile_file_is_private_and_drops_defaults(path: Path) -> None:
    save_profile(
        "lab",
        {"host": "h", "user": "u", "token": "t", "insecure": False, "tls_ca": None},
        path=path,
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not readable_by_others(path)
    assert read_config(path).profiles["lab"] == {"host": "h:50051", "user": "u", "token": "t"}
    path.chmod(0o644)
    assert readable_by_others(path)


def test_broken_files_are_reported_clearly(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text("current = [unclosed")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        resolve(env={}, path=path)
    path.write_text('[profiles.lab]\nhots = "typo"\n')
    with pytest.raises(InvalidInput, match="profiles.lab.hots is not a setting"):
        resolve(env={}, path=path)
    path.write_text('current = "lab"\n[profiles.lab]\ninsecure = "sometimes"\n')
    with pytest.raises(InvalidInput) as caught:
        resolve(env={}, path=path)
    assert caught.value.field == "insecure (from profile lab)"


def test_config_path_honours_the_environment(tmp_path: Path) -> None:
    assert config_path({"LEOSCOPE_CONFIG": str(tmp_path / "c.toml")}) == tmp_path / "c.toml"
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "leoscope" / "config.toml"
    assert config_path({}) == Path.home() / ".config" / "leoscope" / "config.toml"


def test_describe_masks_secrets(path: Path) -> None:
    s = resolve({"token": "sekrit"}, env={"LEOSCOPE_JWT": "jay"}, path=path)
    assert s.describe()["token"] == "********" and s.describe()["jwt"] == "********"
    assert s.describe(reveal=True)["token"] == "sekrit"
    assert s.describe()["user"] == ""
