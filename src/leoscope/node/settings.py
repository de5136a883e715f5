"""The agent's settings: one table, one lookup order, validated once.

Each setting is resolved in this order, first hit wins:

1. the command-line flag;
2. its environment variable (column "env" below);
3. the agent config file (TOML, keys as in column "key"; `--config` / LEOSCOPE_AGENT_CONFIG);
4. the default.

    key                  env                          default
    orchestrator         LEOSCOPE_ORCHESTRATOR        (required) HOST:PORT of the orchestrator
    node_id              LEOSCOPE_NODE_ID             (required) this node's id
    token                LEOSCOPE_NODE_TOKEN          the node's token (secret; prefer env/file)
    token_file           LEOSCOPE_NODE_TOKEN_FILE     a file holding the token (first line)
    data_dir             LEOSCOPE_AGENT_DATA_DIR      (required) state, run dirs, archives
    tls_ca               LEOSCOPE_TLS_CA              PEM CA / self-signed cert to trust
    tls_server_name      LEOSCOPE_TLS_SERVER_NAME     name the certificate must match
    insecure             LEOSCOPE_INSECURE            plaintext; default only for loopback
    runtime              LEOSCOPE_AGENT_RUNTIME       docker | process      (docker)
    interval             LEOSCOPE_AGENT_INTERVAL      sync period, seconds  (10)
    executor_config      LEOSCOPE_EXECUTOR_CONFIG     executor-config.yaml (limits, network)
    public_ip_url        LEOSCOPE_PUBLIC_IP_URL       https://checkip.amazonaws.com; "off"
    public_ip_interval   LEOSCOPE_PUBLIC_IP_INTERVAL  seconds between look-ups (600)
    missed_grace         LEOSCOPE_MISSED_GRACE        a run late by less still starts (60)
    artifact_dir         LEOSCOPE_ARTIFACT_DIR        local artifact store (<data_dir>/artifacts)
    artifact_path        LEOSCOPE_ARTIFACT_PATH       blob name prefix ("jobs")
    keep_run_dirs        LEOSCOPE_KEEP_RUN_DIRS       keep run dirs after delivery (false)
    watch                LEOSCOPE_AGENT_WATCH         hold watch_node open (true)
    log_level            LEOSCOPE_LOG_LEVEL           INFO

Trigger monitors (docs/triggers.md, "Gating on the node"); a monitor left unconfigured stays off
and its variables stay unknown:

    tle_url              LEOSCOPE_TLE_URL             satellite TLEs (CelesTrak Starlink); "off"
    tle_cache_dir        LEOSCOPE_TLE_CACHE_DIR       TLE cache (<data_dir>/tle)
    satellite_interval   LEOSCOPE_SATELLITE_INTERVAL  seconds between satellite passes (1)
    min_elevation        LEOSCOPE_MIN_ELEVATION       degrees for visible_satellites (the
                                                      node's registered value, else 25)
    weather_url          LEOSCOPE_WEATHER_URL         OpenWeatherMap base URL; "off". The key
                                                      is the global config's weather.apikey
    weather_interval     LEOSCOPE_WEATHER_INTERVAL    seconds between weather polls (600)
    mqtt_broker          LEOSCOPE_MQTT_BROKER         HOST:PORT of the dish telemetry broker,
                                                      also used for leotest/triggers/<jobid>
                                                      ("off", the default: no dish over MQTT)
    dish_id              LEOSCOPE_DISH_ID             the dish's MQTT id ("+": any); "off"
    dish_grpc            LEOSCOPE_DISH_GRPC           HOST:PORT of the dish's gRPC API, polled
                                                      with starlink-grpc-core ("off", default)
    traffic_monitor      LEOSCOPE_TRAFFIC_MONITOR     experiment rx/tx rates (true; Docker only)

Scavenger mode, paired runs (docs/scavenger.md):

    control_socket       LEOSCOPE_AGENT_CONTROL_SOCKET  the local control socket
                                                      (<data_dir>/control.sock, mode 0600)
    scavenger_reschedule_secs  LEOSCOPE_SCAVENGER_RESCHEDULE_SECS  how far ahead a one-shot
                                                      run stopped by scavenger mode is moved (1800)
    server_wait_share    LEOSCOPE_SERVER_WAIT_SHARE   share of a paired run's length the client
                                                      waits for its server (0.3)

Results and their upload (docs/results.md):

    spool_budget         LEOSCOPE_SPOOL_BUDGET        disk for run dirs and archives waiting to
                                                      be uploaded (10G); beyond it no new run
                                                      starts (FAILED "spool full"); "off"
    keep_uploaded        LEOSCOPE_KEEP_UPLOADED       seconds an archive is kept after its
                                                      verified upload (0: deleted at once)

The token never appears in `repr`, logs or a child's command line or environment.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from leoscope.core.errors import InvalidInput

from .paths import check_segment
from .sizes import parse_size_or_off

log = logging.getLogger(__name__)

DEFAULT_PUBLIC_IP_URL = "https://checkip.amazonaws.com"
DEFAULT_TLE_URL = "https://celestrak.org/NORAD/elements/gp.php?GROUP=starlink&FORMAT=tle"
DEFAULT_WEATHER_URL = "https://api.openweathermap.org"
DEFAULT_SPOOL_BUDGET = 10 * 1024**3
RUNTIMES = ("docker", "process")
_OFF = ("", "off", "none", "false", "0", "no")


@dataclass(frozen=True)
class AgentSettings:
    orchestrator: str
    node_id: str
    token: str = field(repr=False)
    data_dir: Path
    tls_ca: Path | None = None
    tls_server_name: str | None = None
    insecure: bool = False
    runtime: str = "docker"
    interval: float = 10.0
    executor_config: Path | None = None
    public_ip_url: str | None = DEFAULT_PUBLIC_IP_URL
    public_ip_interval: float = 600.0
    missed_grace: float = 60.0
    artifact_dir: Path | None = None
    artifact_path: str = "jobs"
    keep_run_dirs: bool = False
    watch: bool = True
    log_level: str = "INFO"
    spool_budget: int | None = DEFAULT_SPOOL_BUDGET
    keep_uploaded: float = 0.0
    tle_url: str | None = DEFAULT_TLE_URL
    tle_cache_dir: Path | None = None
    satellite_interval: float = 1.0
    min_elevation: float | None = None
    weather_url: str | None = DEFAULT_WEATHER_URL
    weather_interval: float = 600.0
    mqtt_broker: str | None = None
    dish_id: str | None = "+"
    dish_grpc: str | None = None
    traffic_monitor: bool = True

    control_socket: Path | None = None
    scavenger_reschedule_secs: float = 1800.0
    server_wait_share: float = 0.3

    @property
    def artifact_root(self) -> Path:
        return self.artifact_dir or self.data_dir / "artifacts"

    @property
    def control_socket_path(self) -> Path:
        return self.control_socket or self.data_dir / "control.sock"

    @property
    def tle_cache_root(self) -> Path:
        return self.tle_cache_dir or self.data_dir / "tle"


@dataclass(frozen=True)
class _Setting:
    key: str
    env: str
    parse: Callable[[str, Any], Any]


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput(key, f"must be a string, got {type(value).__name__}")
    return value.strip()


def _path(key: str, value: Any) -> Path:
    text = _text(key, value) if not isinstance(value, Path) else str(value)
    if not text:
        raise InvalidInput(key, "is empty")
    return Path(text).expanduser()


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(key, value).lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in _OFF:
        return False
    raise InvalidInput(key, f"{value!r} is not a boolean (true/false)")


def _seconds(minimum: float) -> Callable[[str, Any], float]:
    def parse(key: str, value: Any) -> float:
        try:
            secs = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(key, f"{value!r} is not a number of seconds") from None
        if not secs >= minimum:
            raise InvalidInput(key, f"must be at least {minimum:g} seconds (got {value!r})")
        return secs

    return parse


def _address(key: str, value: Any) -> str:
    text = _text(key, value)
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(key, f"{text!r} must be HOST:PORT (e.g. orchestrator.example:50051)")
    return text


def _runtime(key: str, value: Any) -> str:
    text = _text(key, value).lower()
    if text not in RUNTIMES:
        raise InvalidInput(key, f"{text!r} is not one of {', '.join(RUNTIMES)}")
    return text


def _url_or_off(key: str, value: Any) -> str | None:
    text = _text(key, value)
    if text.lower() in _OFF:
        return None
    if not text.startswith(("http://", "https://")):
        raise InvalidInput(key, f"{text!r} must be an http(s) URL, or 'off'")
    return text


def _address_or_off(key: str, value: Any) -> str | None:
    text = _text(key, value)
    return None if text.lower() in _OFF else _address(key, text)


def _degrees(key: str, value: Any) -> float:
    try:
        degrees = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(key, f"{value!r} is not a number of degrees") from None
    if not -90 <= degrees <= 90:
        raise InvalidInput(key, f"must be between -90 and 90 degrees (got {value!r})")
    return degrees


def _dish_id(key: str, value: Any) -> str | None:
    text = _text(key, value)
    if text.lower() in _OFF:
        return None
    if "/" in text or "#" in text or (("+" in text) and text != "+"):
        raise InvalidInput(key, f"{text!r} must be a dish id, '+' (any dish) or 'off'")
    return text


def _share(key: str, value: Any) -> float:
    try:
        share = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(key, f"{value!r} is not a number") from None
    if not 0.01 <= share <= 0.9:
        raise InvalidInput(key, f"must be between 0.01 and 0.9 of the run's length (got {value!r})")
    return share


def _optional_text(key: str, value: Any) -> str | None:
    return _text(key, value) or None


def _level(key: str, value: Any) -> str:
    text = _text(key, value).upper()
    if text not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise InvalidInput(key, f"{text!r} is not DEBUG, INFO, WARNING or ERROR")
    return text


TABLE: tuple[_Setting, ...] = (
    _Setting("orchestrator", "LEOSCOPE_ORCHESTRATOR", _address),
    _Setting("node_id", "LEOSCOPE_NODE_ID", lambda k, v: check_segment(k, _text(k, v))),
    _Setting("token", "LEOSCOPE_NODE_TOKEN", _text),
    _Setting("token_file", "LEOSCOPE_NODE_TOKEN_FILE", _path),
    _Setting("data_dir", "LEOSCOPE_AGENT_DATA_DIR", _path),
    _Setting("tls_ca", "LEOSCOPE_TLS_CA", _path),
    _Setting("tls_server_name", "LEOSCOPE_TLS_SERVER_NAME", _optional_text),
    _Setting("insecure", "LEOSCOPE_INSECURE", _bool),
    _Setting("runtime", "LEOSCOPE_AGENT_RUNTIME", _runtime),
    _Setting("interval", "LEOSCOPE_AGENT_INTERVAL", _seconds(0.2)),
    _Setting("executor_config", "LEOSCOPE_EXECUTOR_CONFIG", _path),
    _Setting("public_ip_url", "LEOSCOPE_PUBLIC_IP_URL", _url_or_off),
    _Setting("public_ip_interval", "LEOSCOPE_PUBLIC_IP_INTERVAL", _seconds(10)),
    _Setting("missed_grace", "LEOSCOPE_MISSED_GRACE", _seconds(0)),
    _Setting("artifact_dir", "LEOSCOPE_ARTIFACT_DIR", _path),
    _Setting("artifact_path", "LEOSCOPE_ARTIFACT_PATH", lambda k, v: _text(k, v).strip("/")),
    _Setting("keep_run_dirs", "LEOSCOPE_KEEP_RUN_DIRS", _bool),
    _Setting("watch", "LEOSCOPE_AGENT_WATCH", _bool),
    _Setting("log_level", "LEOSCOPE_LOG_LEVEL", _level),
    _Setting("spool_budget", "LEOSCOPE_SPOOL_BUDGET", parse_size_or_off),
    _Setting("keep_uploaded", "LEOSCOPE_KEEP_UPLOADED", _seconds(0)),
    _Setting("control_socket", "LEOSCOPE_AGENT_CONTROL_SOCKET", _path),
    _Setting("scavenger_reschedule_secs", "LEOSCOPE_SCAVENGER_RESCHEDULE_SECS", _seconds(1)),
    _Setting("server_wait_share", "LEOSCOPE_SERVER_WAIT_SHARE", _share),
    _Setting("tle_url", "LEOSCOPE_TLE_URL", _url_or_off),
    _Setting("tle_cache_dir", "LEOSCOPE_TLE_CACHE_DIR", _path),
    _Setting("satellite_interval", "LEOSCOPE_SATELLITE_INTERVAL", _seconds(0.1)),
    _Setting("min_elevation", "LEOSCOPE_MIN_ELEVATION", _degrees),
    _Setting("weather_url", "LEOSCOPE_WEATHER_URL", _url_or_off),
    _Setting("weather_interval", "LEOSCOPE_WEATHER_INTERVAL", _seconds(1)),
    _Setting("mqtt_broker", "LEOSCOPE_MQTT_BROKER", _address_or_off),
    _Setting("dish_id", "LEOSCOPE_DISH_ID", _dish_id),
    _Setting("dish_grpc", "LEOSCOPE_DISH_GRPC", _address_or_off),
    _Setting("traffic_monitor", "LEOSCOPE_TRAFFIC_MONITOR", _bool),
)
BY_KEY = {s.key: s for s in TABLE}
CONFIG_ENV = "LEOSCOPE_AGENT_CONFIG"


def read_config_file(path: Path) -> dict[str, Any]:
    """The agent config file's settings (TOML). Unknown keys are an error, not ignored."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise InvalidInput("config", f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput("config", f"{path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(BY_KEY))
    if unknown:
        raise InvalidInput("config", f"{path}: unknown setting(s) {', '.join(unknown)}")
    if "token" in data and os.stat(path).st_mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("config file %s holds the node token and is readable by others", path)
    return data


def _read_token_file(path: Path) -> str:
    try:
        token = path.read_text().strip().splitlines()
    except OSError as exc:
        raise InvalidInput("token_file", f"cannot read {path}: {exc.strerror or exc}") from None
    if not token or not token[0].strip():
        raise InvalidInput("token_file", f"{path} is empty")
    return token[0].strip()


def _is_loopback(address: str) -> bool:
    host = address.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_settings(
    flags: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> AgentSettings:
    """Build validated settings from flags, environment and config file (in that order).

    `flags` holds None for flags not given. Raises InvalidInput naming the setting.
    """
    env = os.environ if env is None else env
    if config_file is None and env.get(CONFIG_ENV):
        config_file = Path(env[CONFIG_ENV])
    from_file = read_config_file(config_file) if config_file else {}
    values: dict[str, Any] = {}
    for setting in TABLE:
        raw: Any = flags.get(setting.key)
        if raw is None and env.get(setting.env, "") != "":
            raw = env[setting.env]
        if raw is None and setting.key in from_file:
            raw = from_file[setting.key]
        if raw is not None:
            values[setting.key] = setting.parse(setting.key, raw)
    token_file = values.pop("token_file", None)
    if not values.get("token") and token_file is not None:
        values["token"] = _read_token_file(token_file)
    for required, hint in (
        ("orchestrator", "--orchestrator HOST:PORT"),
        ("node_id", "--node-id ID"),
        ("token", "LEOSCOPE_NODE_TOKEN, --token-file or --token"),
        ("data_dir", "--data-dir DIR"),
    ):
        if not values.get(required):
            raise InvalidInput(required, f"is required ({hint})")
    if "insecure" not in values:
        values["insecure"] = "tls_ca" not in values and _is_loopback(values["orchestrator"])
    if values["insecure"] and "tls_ca" in values:
        raise InvalidInput("insecure", "cannot be combined with tls_ca")
    known = {f.name for f in fields(AgentSettings)}
    return AgentSettings(**{k: v for k, v in values.items() if k in known})
