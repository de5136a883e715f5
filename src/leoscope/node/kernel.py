"""Kernel tuning without a root shell: an experiment's whitelisted sysctls (issue 8).

An experiment config may ask for per-network-namespace settings:

    kernel:
      tcp_congestion_control: bbr        # alias of net.ipv4.tcp_congestion_control
      net.core.rmem_max: 4194304

Only `net.ipv4.tcp_*` and `net.core.*` are accepted (core.experiment.normalize_kernel; the
orchestrator refuses anything else at schedule_job, and refuses users without USER_PRIV).
Before the container starts, `KernelSettingsHook` asks the orchestrator `kernel_access` for the
job's owner (the role may have changed since scheduling). Then:

* on a named network (docker.execute.network), the settings go into the container's own
  network namespace (Docker `sysctls`): nothing outside the experiment changes;
* on the host network, a setting would change the whole host, so it is applied only if the
  operator set `allow_host_kernel_settings: true` in the executor config. The previous values
  are written to the local state first and restored once the container ends, also after an
  agent restart; two runs holding the same setting must ask for the same value.

Anything refused ends the run FAILED with the reason, before the container starts. There is no
listener for the reference's text protocol (cca.check, cca.change, bbr2.param.set): nothing on
the node accepts commands from experiments.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from leoscope.core.errors import InvalidInput
from leoscope.core.experiment import ExecutorConfig, parse_experiment_config

from .link import LinkError, OrchestratorLink
from .runtime.base import ContainerSpec
from .seams import EndRun, Outcome, RunContext, RunHook
from .state import LocalState

log = logging.getLogger(__name__)

HOST_SETTINGS_KEY = "kernel_host_settings"
SYSCTL_ROOT = Path("/proc/sys")
MSG_NEEDS_NAMESPACE = (
    "kernel settings need the container's own network namespace: set docker.execute.network "
    "in the executor config (host-network experiments need allow_host_kernel_settings)"
)


class HostSysctls:
    """Host sysctls changed for runs, with the values to restore (kept in the local state).

    The record is `{name: {"original": value, "holders": [runid, ...]}}`; the original value is
    written back when the last holder lets go.
    """

    def __init__(self, state: LocalState, root: Path = SYSCTL_ROOT) -> None:
        self.state = state
        self.root = root

    def _path(self, name: str) -> Path:
        return self.root.joinpath(*name.split("."))

    def _read(self, name: str) -> str:
        return self._path(name).read_text().strip()

    def _write(self, name: str, value: str) -> None:
        self._path(name).write_text(f"{value}\n")

    def _held(self) -> dict[str, Any]:
        return dict(self.state.get_value(HOST_SETTINGS_KEY, {}))

    def apply(self, runid: str, settings: dict[str, str]) -> None:
        """Set `settings` on the host for `runid`. Raises EndRun (nothing changed) on refusal."""
        held = self._held()
        for name, value in settings.items():
            entry = held.get(name)
            if entry and entry["holders"] and self._read_or(name) != value:
                raise EndRun(
                    f"kernel setting {name} is held at another value by a running experiment"
                )
        try:
            for name, value in settings.items():
                entry = held.setdefault(name, {"original": self._read(name), "holders": []})
                if runid not in entry["holders"]:
                    entry["holders"].append(runid)
                self.state.set_value(HOST_SETTINGS_KEY, held)  # before the write: restorable
                self._write(name, value)
                log.info("run=%s host sysctl %s=%s (was %s)", runid, name, value, entry["original"])
        except OSError as exc:
            self.restore(runid)
            raise EndRun(f"kernel setting could not be applied on the host: {exc}") from None

    def _read_or(self, name: str) -> str | None:
        try:
            return self._read(name)
        except OSError:
            return None

    def restore(self, runid: str) -> None:
        """Let go of `runid`'s settings; write back originals nobody holds any more."""
        held = self._held()
        changed = False
        for name in list(held):
            entry = held[name]
            if runid not in entry["holders"]:
                continue
            entry["holders"].remove(runid)
            changed = True
            if entry["holders"]:
                continue
            try:
                self._write(name, entry["original"])
                log.info("run=%s host sysctl %s restored to %s", runid, name, entry["original"])
            except OSError as exc:
                log.error(
                    "host sysctl %s could not be restored to %s: %s", name, entry["original"], exc
                )
            del held[name]
        if changed:
            self.state.set_value(HOST_SETTINGS_KEY, held)


class KernelSettingsHook(RunHook):
    """Applies an experiment's kernel settings; see the module docstring."""

    def __init__(
        self,
        *,
        link: OrchestratorLink,
        executor_config: ExecutorConfig,
        host: HostSysctls,
    ) -> None:
        self.link = link
        self.allow_host = executor_config.allow_host_kernel_settings
        self.host = host

    async def before_start(self, run: RunContext, spec: ContainerSpec) -> ContainerSpec:
        try:
            settings = parse_experiment_config(run.job.config).kernel_sysctls()
        except InvalidInput as exc:
            raise EndRun(f"invalid experiment config: {exc.field}: {exc.problem}") from None
        if not settings:
            return spec
        userid = run.job.userid
        try:
            granted, reason = await self.link.kernel_access(userid)
        except LinkError as exc:
            raise EndRun(
                f"kernel settings not applied: kernel access of {userid} not confirmed ({exc.message})"
            ) from None
        if not granted:
            raise EndRun(f"kernel settings refused: {reason}")
        if spec.network is not None:
            run.log.info("kernel settings in the container's namespace: %s", settings)
            return replace(spec, sysctls={**spec.sysctls, **settings})
        if not self.allow_host:
            raise EndRun(MSG_NEEDS_NAMESPACE)
        self.host.apply(run.runid, settings)
        run.log.info("kernel settings applied on the host until the run ends: %s", settings)
        return spec

    async def after_exit(self, run: RunContext, outcome: Outcome) -> None:
        self.host.restore(run.runid)
