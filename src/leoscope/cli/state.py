"""Per-invocation state: the global flags, resolved settings, one client, one printer."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import typer

from leoscope.client import Client, InvalidInput
from leoscope.core.timeutil import utcnow
from leoscope.settings import Settings, readable_by_others, resolve

from .errors import UsageProblem
from .output import Printer

log = logging.getLogger(__name__)


@dataclass
class CliState:
    """Built by the root callback from the global flags; commands reach it via `get_state`."""

    flags: dict[str, Any] = field(default_factory=dict)
    profile: str | None = None
    debug: bool = False
    now: datetime = field(default_factory=utcnow)
    _settings: Settings | None = None
    _client: Client | None = None

    def settings(self) -> Settings:
        """Flag > LEOSCOPE_<KEY> > profile > default; a bad value is a usage error."""
        if self._settings is None:
            try:
                self._settings = resolve(self.flags, profile=self.profile)
            except InvalidInput as exc:
                raise UsageProblem(str(exc)) from None
            if readable_by_others(self._settings.config_path):
                typer.echo(
                    f"warning: {self._settings.config_path} holds tokens but others can read "
                    f"it; run: chmod 600 {self._settings.config_path}",
                    err=True,
                )
        return self._settings

    def client(self) -> Client:
        """The SDK client for these settings (one per invocation, closed on exit)."""
        if self._client is None:
            s = self.settings()
            if not (s.jwt or (s.user and s.token)):
                raise UsageProblem(
                    "no credentials: run `leoscope login`, or pass --user and --token "
                    "(LEOSCOPE_USER, LEOSCOPE_TOKEN)"
                )
            try:
                self._client = Client.from_settings(s)
            except InvalidInput as exc:
                raise UsageProblem(str(exc)) from None
        return self._client

    def printer(self, output: str | None = None) -> Printer:
        """A printer in the format asked for by this command's -o, else the settings'."""
        return Printer(str(output) if output else self.settings().output, self.now)

    def error_context(self) -> dict[str, str]:
        """What error messages may mention (never the token)."""
        if self._settings is None:
            return {}
        return {"host": self._settings.host, "user": self._settings.user}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def get_state(ctx: typer.Context) -> CliState:
    """The invocation's state (created on first use when a command runs on its own)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
        root.call_on_close(root.obj.close)
    return root.obj
