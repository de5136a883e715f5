"""Pure parts of issue 8: quiet-hour windows, the server side's config, host sysctl records."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from leoscope.core.errors import InvalidInput
from leoscope.core.quiet_hours import parse_quiet_hours, quiet_state
from leoscope.node.kernel import HOST_SETTINGS_KEY, HostSysctls
from leoscope.node.pairing import server_config
from leoscope.node.seams import EndRun
from leoscope.node.state import LocalState

CCA = "net.ipv4.tcp_congestion_control"


def at(hour: int, minute: int = 0, day: int = 1) -> float:
    return datetime(2030, 5, day, hour, minute, tzinfo=UTC).timestamp()


def test_quiet_windows_are_half_open_and_say_when_they_change() -> None:
    windows = parse_quiet_hours("0 18 * * *@120")
    assert quiet_state(windows, at(17)) == (False, at(18))
    assert quiet_state(windows, at(18, 30)) == (True, at(20))
    assert quiet_state(windows, at(20)) == (False, at(18, day=2))
    assert quiet_state((), at(12)) == (False, float("inf"))


def test_overlapping_windows_keep_the_node_quiet() -> None:
    windows = parse_quiet_hours("0 18 * * *@120;0 19 * * *@120")
    inside, change = quiet_state(windows, at(19, 30))
    assert inside and change == at(20)  # asked again at 20:00 ...
    assert quiet_state(windows, change) == (True, at(21))  # ... still quiet until 21:00


@pytest.mark.parametrize(
    ("text", "problem"),
    [("0 18 * * *", "must be '<cron expression>@<minutes>'"), ("0 18 * *@5", "has 4 fields")],
)
def test_bad_quiet_hours_name_the_field(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem) as refused:
        parse_quiet_hours(text)
    assert refused.value.field == "quiet_hours"


def test_the_server_section_is_merged_over_the_config() -> None:
    text = yaml.safe_dump(
        {
            "docker": {"image": "client:1", "execute": {"name": "exp", "ports": None}},
            "tests": {"duration": 10},
            "server": {"docker": {"image": "server:1", "execute": {"ports": {"5201/tcp": 5201}}}},
        }
    )
    merged = yaml.safe_load(server_config(text))
    assert merged["docker"] == {
        "image": "server:1",
        "execute": {"name": "exp", "ports": {"5201/tcp": 5201}},
    }
    assert merged["tests"] == {"duration": 10}
    plain = "docker:\n  image: same:1\n"
    assert server_config(plain) is plain, "no server section: the config is used verbatim"


@pytest.fixture
def state(tmp_path: Path) -> LocalState:
    s = LocalState.open(tmp_path / "state.sqlite3", "n1", time.time)
    yield s
    s.close()


@pytest.fixture
def sysctl_root(tmp_path: Path) -> Path:
    """A stand-in for /proc/sys: tests never change the real host's kernel settings."""
    root = tmp_path / "sys"
    (root / "net" / "ipv4").mkdir(parents=True)
    (root / "net" / "ipv4" / "tcp_congestion_control").write_text("bbr\n")
    return root


def value(root: Path) -> str:
    return (root / "net" / "ipv4" / "tcp_congestion_control").read_text().strip()


def test_host_settings_are_restored_when_the_last_holder_lets_go(
    state: LocalState, sysctl_root: Path
) -> None:
    host = HostSysctls(state, sysctl_root)
    host.apply("r1", {CCA: "reno"})
    host.apply("r2", {CCA: "reno"})
    assert value(sysctl_root) == "reno"
    with pytest.raises(EndRun, match="held at another value"):
        host.apply("r3", {CCA: "cubic"})
    host.restore("r1")
    assert value(sysctl_root) == "reno", "r2 still holds it"
    host.restore("r2")
    assert value(sysctl_root) == "bbr"
    assert state.get_value(HOST_SETTINGS_KEY) == {}


def test_the_original_value_survives_an_agent_restart(
    tmp_path: Path, state: LocalState, sysctl_root: Path
) -> None:
    HostSysctls(state, sysctl_root).apply("r1", {CCA: "reno"})
    state.close()
    reopened = LocalState.open(tmp_path / "state.sqlite3", "n1", time.time)
    try:
        HostSysctls(reopened, sysctl_root).restore("r1")
        assert value(sysctl_root) == "bbr"
    finally:
        reopened.close()


def test_a_setting_that_cannot_be_written_changes_nothing(
    state: LocalState, sysctl_root: Path
) -> None:
    host = HostSysctls(state, sysctl_root)
    with pytest.raises(EndRun, match="could not be applied on the host"):
        host.apply("r1", {CCA: "reno", "net.core.no_such_setting": "1"})
    assert value(sysctl_root) == "bbr", "the first setting was rolled back"
    assert state.get_value(HOST_SETTINGS_KEY) == {}
