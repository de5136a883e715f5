"""Client settings: one table, one lookup order, shared by the SDK and the CLI.

Each setting is resolved in this order, first hit wins:

1. a command-line flag (the CLI passes its flags in);
2. the environment variable ``LEOSCOPE_<KEY>``;
3. the selected profile in the config file;
4. the default.

Keys (each also read from ``LEOSCOPE_<KEY>``, e.g. ``LEOSCOPE_TLS_CA``):

* ``host`` (default ``localhost:50051``): orchestrator address, HOST[:PORT].
* ``user``: your user id, sent as ``x-leotest-userid``.
* ``token`` (secret): your access token.
* ``jwt`` (secret): a JWT to authenticate with instead of a token.
* ``tls_ca``: PEM file of the CA (or the self-signed server certificate); default: system roots.
* ``tls_server_name``: the name the server certificate must match, when it differs from the
  host dialled. Reference certificates are issued for ``localhost``.
* ``insecure`` (default false): plaintext gRPC, for loopback development orchestrators.
* ``timeout`` (default 10): per-call deadline, seconds.
* ``retry_secs`` (default 5): how long idempotent reads keep retrying while the orchestrator
  is unreachable (writes never retry).
* ``output`` (default ``table``): CLI output format, ``table``, ``json`` or ``yaml``.

The profile is chosen by ``--profile``, else ``LEOSCOPE_PROFILE``, else the file's ``current``
key, else ``default``. The config file is ``$LEOSCOPE_CONFIG`` if set, else
``$XDG_CONFIG_HOME/leoscope/config.toml``, else ``~/.config/leoscope/config.toml``. It holds
tokens, so it is written with mode 0600 (directory 0700)::

    current = "alice"

    [profiles.alice]
    host = "orchestrator.example.org:50051"
    user = "alice"
    token = "..."
    tls_ca = "/etc/leoscope/server.crt"
    tls_server_name = "localhost"
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from leoscope.core.errors import InvalidInput

DEFAULT_PORT = 50051
OUTPUT_FORMATS = ("table", "json", "yaml")
PROFILE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DEFAULT_PROFILE = "default"


# ---------------------------------------------------------------------------- converters
# Each takes a raw value (a string from the environment, or a TOML/flag value) and returns the
# typed value, or raises ValueError with a short problem description.


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string")
    return value.strip()


def _host(value: Any) -> str:
    text = _text(value)
    if not text:
        raise ValueError("is empty; expected HOST[:PORT]")
    if any(c.isspace() for c in text) or "/" in text:
        raise ValueError(f"{text!r} is not HOST[:PORT]")
    if text.startswith("["):  # [v6] or [v6]:port
        _, _, port = text.partition("]:")
    elif text.count(":") > 1:  # a bare IPv6 address
        return f"[{text}]:{DEFAULT_PORT}"
    else:
        _, _, port = text.partition(":")
    if not port:
        return f"{text.rstrip(':')}:{DEFAULT_PORT}"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} has an invalid port")
    return text


def _optional_path(value: Any) -> Path | None:
    text = _text(value) if not isinstance(value, Path) else str(value)
    return Path(text).expanduser() if text else None


def _optional_text(value: Any) -> str | None:
    return _text(value) or None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not a boolean (use true or false)")


def _positive_float(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number of seconds") from None
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _non_negative_float(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number of seconds") from None
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _output(value: Any) -> str:
    text = _text(value).lower()
    if text not in OUTPUT_FORMATS:
        raise ValueError(f"{value!r} is not one of {', '.join(OUTPUT_FORMATS)}")
    return text


# ---------------------------------------------------------------------------- the table


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the settings table."""

    key: str
    default: Any
    convert: Callable[[Any], Any]
    help: str
    secret: bool = False
    flag: str | None = None
    """The CLI's global flag for it, when there is one (the rest are env / profile only)."""

    @property
    def env(self) -> str:
        return f"LEOSCOPE_{self.key.upper()}"


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "localhost:50051", _host, "Orchestrator address, HOST[:PORT].", flag="--host"),
    Setting("user", "", _text, "Your user id.", flag="--user"),
    Setting("token", "", _text, "Your access token.", secret=True, flag="--token"),
    Setting("jwt", "", _text, "A JWT to authenticate with instead of a token.", secret=True),
    Setting("tls_ca", None, _optional_path, "PEM file of the orchestrator's CA.", flag="--tls-ca"),
    Setting(
        "tls_server_name",
        None,
        _optional_text,
        "Name the server certificate must match (reference certificates: localhost).",
        flag="--tls-server-name",
    ),
    Setting("insecure", False, _bool, "Plaintext gRPC (loopback only).", flag="--insecure"),
    Setting("timeout", 10.0, _positive_float, "Per-call deadline in seconds."),
    Setting("retry_secs", 5.0, _non_negative_float, "How long reads retry while unreachable."),
    Setting("output", "table", _output, "Output format: table, json or yaml.", flag="--output"),
)
BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}
CONNECTION_KEYS = ("host", "user", "token", "jwt", "tls_ca", "tls_server_name", "insecure")
"""What `leoscope login` stores in a profile."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings. `sources` says where each value came from (flag/env/profile/default)."""

    host: str
    user: str
    token: str
    jwt: str
    tls_ca: Path | None
    tls_server_name: str | None
    insecure: bool
    timeout: float
    retry_secs: float
    output: str
    profile: str
    config_path: Path
    sources: Mapping[str, str] = field(default_factory=dict)

    def describe(self, reveal: bool = False) -> dict[str, Any]:
        """Key -> value for display; secrets are masked unless `reveal`."""
        out: dict[str, Any] = {}
        for s in SETTINGS:
            value = getattr(self, s.key)
            if s.secret and value and not reveal:
                value = "********"
            out[s.key] = str(value) if isinstance(value, Path) else value
        return out


# ---------------------------------------------------------------------------- the file


@dataclass
class ConfigFile:
    """The parsed config file: named profiles and the current profile's name."""

    path: Path
    current: str | None = None
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the config file lives ($LEOSCOPE_CONFIG, $XDG_CONFIG_HOME, or ~/.config)."""
    env = os.environ if env is None else env
    if env.get("LEOSCOPE_CONFIG"):
        return Path(env["LEOSCOPE_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "leoscope" / "config.toml"


def check_profile_name(name: str) -> str:
    if not PROFILE_NAME.match(name):
        raise InvalidInput(
            "profile", f"{name!r} may only contain letters, digits, '.', '_' and '-'"
        )
    return name


def read_config(path: Path) -> ConfigFile:
    """Parse the config file; a missing file is an empty config. Raises InvalidInput."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ConfigFile(path)
    except OSError as exc:
        raise InvalidInput("config file", f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput("config file", f"{path} is not valid TOML: {exc}") from None
    current = data.get("current")
    if current is not None and not isinstance(current, str):
        raise InvalidInput("config file", f"{path}: 'current' must be a profile name")
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values()):
        raise InvalidInput("config file", f"{path}: [profiles.NAME] must be tables")
    for name, values in profiles.items():
        for key in values:
            if key not in BY_KEY:
                raise InvalidInput(
                    "config file",
                    f"{path}: profiles.{name}.{key} is not a setting (known: {', '.join(BY_KEY)})",
                )
    return ConfigFile(path, current, {k: dict(v) for k, v in profiles.items()})


def write_config(config: ConfigFile) -> None:
    """Write atomically with mode 0600 (the file holds tokens), creating the directory 0700."""
    path = config.path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data: dict[str, Any] = {}
    if config.current:
        data["current"] = config.current
    data["profiles"] = {
        name: {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()}
        for name, values in sorted(config.profiles.items())
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            tomli_w.dump(data, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def readable_by_others(path: Path) -> bool:
    """True when the file exists and group/others may read it (it holds tokens)."""
    try:
        return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except OSError:
        return False


def save_profile(
    name: str, values: Mapping[str, Any], *, path: Path | None = None, make_current: bool = True
) -> Path:
    """Replace profile `name` with `values` (validated; None and defaults dropped)."""
    check_profile_name(name)
    stored: dict[str, Any] = {}
    for key, raw in values.items():
        setting = BY_KEY.get(key)
        if setting is None:
            raise InvalidInput(key, "is not a setting")
        if raw is None:
            continue
        value = _convert(setting, raw, "profile")
        if value != setting.default:
            stored[key] = str(value) if isinstance(value, Path) else value
    config = read_config(path or config_path())
    config.profiles[name] = stored
    if make_current:
        config.current = name
    write_config(config)
    return config.path


def use_profile(name: str, path: Path | None = None) -> Path:
    """Make `name` the current profile."""
    config = read_config(path or config_path())
    if name not in config.profiles:
        raise InvalidInput("profile", f"there is no profile {name!r} in {config.path}")
    config.current = name
    write_config(config)
    return config.path


def delete_profile(name: str, path: Path | None = None) -> Path:
    config = read_config(path or config_path())
    if config.profiles.pop(name, None) is None:
        raise InvalidInput("profile", f"there is no profile {name!r} in {config.path}")
    if config.current == name:
        config.current = None
    write_config(config)
    return config.path


# ---------------------------------------------------------------------------- resolution


def _convert(setting: Setting, raw: Any, source: str) -> Any:
    try:
        return setting.convert(raw)
    except ValueError as exc:
        where = setting.env if source == "env" else source
        raise InvalidInput(f"{setting.key} (from {where})", str(exc)) from None


def selected_profile(
    explicit: str | None, env: Mapping[str, str], config: ConfigFile
) -> tuple[str, bool]:
    """(profile name, whether it was asked for by name)."""
    if explicit:
        return check_profile_name(explicit), True
    if env.get("LEOSCOPE_PROFILE"):
        return check_profile_name(env["LEOSCOPE_PROFILE"]), True
    if config.current:
        return config.current, False
    return DEFAULT_PROFILE, False


def resolve(
    flags: Mapping[str, Any] | None = None,
    *,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
    path: Path | None = None,
    new_profile_ok: bool = False,
) -> Settings:
    """Resolve every setting: flag, then LEOSCOPE_<KEY>, then the profile, then the default.

    `flags` maps keys to values given on the command line (None means "not given"). A profile
    asked for by name must exist, unless `new_profile_ok` (a login about to create it).
    Raises InvalidInput naming the setting and where the bad value came from.
    """
    env = os.environ if env is None else env
    flags = flags or {}
    path = path or config_path(env)
    config = read_config(path)
    name, explicit = selected_profile(profile, env, config)
    if explicit and name not in config.profiles and not new_profile_ok:
        known = ", ".join(sorted(config.profiles)) or "none yet"
        raise InvalidInput(
            "profile",
            f"there is no profile {name!r} in {path} (known: {known}); "
            f"create it with: leoscope login --profile {name}",
        )
    stored = config.profiles.get(name, {})
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        if flags.get(setting.key) is not None:
            values[setting.key] = _convert(setting, flags[setting.key], "flag")
            sources[setting.key] = "flag"
        elif env.get(setting.env, "") != "":
            values[setting.key] = _convert(setting, env[setting.env], "env")
            sources[setting.key] = "env"
        elif setting.key in stored:
            values[setting.key] = _convert(setting, stored[setting.key], f"profile {name}")
            sources[setting.key] = "profile"
        else:
            values[setting.key] = setting.default
            sources[setting.key] = "default"
    return Settings(**values, profile=name, config_path=path, sources=sources)


__all__ = [
    "CONNECTION_KEYS",
    "OUTPUT_FORMATS",
    "SETTINGS",
    "ConfigFile",
    "Setting",
    "Settings",
    "config_path",
    "delete_profile",
    "read_config",
    "readable_by_others",
    "resolve",
    "save_profile",
    "use_profile",
    "write_config",
]
