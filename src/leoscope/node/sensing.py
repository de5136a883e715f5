"""What the node knows about its sky, its weather and its dish: the trigger variables' plumbing.

One `VariableTable` per agent, fed by the monitors' `on_sample`. Each monitor is an asyncio task
started on the agent's exit stack, and keeps the time of its last good sample (`freshness`):

    monitor      variables                           runs when
    dish         the seven dish variables            mqtt_broker is set (and dish_id is not
                                                     "off"), or dish_grpc is set
    traffic      exp_rx_rate_bytes, exp_tx_rate_bytes  traffic_monitor and the Docker runtime
    satellites   satellite_elevation, visible_satellites, sat_dist_*
                                                     tle_url is set and the node's registered
                                                     coordinates are known
    weather      the 18 weather_* variables          weather_url is set, the coordinates are
                                                     known and the global config has a key

The node's coordinates, altitude and minimum elevation come from its record at the orchestrator
(`get_nodes`); the weather key from the global config (`get_global_config`, which nodes may
read). Both are fetched at start, again whenever the watch stream says the node changed (or
reconnects), and every CONFIG_REFRESH_SECS (a global config change sends no notice). The
position is kept in the local state, so after a restart without the orchestrator the satellite
monitor starts from it at once; the key is kept in memory only.

A monitor that is not configured stays off and its variables stay unknown: triggers reading
them do not hold, and their reasons say so. With a broker configured, `TriggerPublisher` also
publishes every active trigger's result on `leotest/triggers/<jobid>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from leoscope.api import leotest_pb2 as pb
from leoscope.core.errors import InvalidInput
from leoscope.core.variables import DEFAULT_MIN_ELEVATION_DEG, VariableTable

from .clock import Clock
from .link import LinkDown, LinkError, OrchestratorLink
from .settings import AgentSettings
from .state import LocalState
from .tasks import cancel_and_wait
from .trigger_gate import TriggerCache, TriggerGate
from .trigger_publish import TriggerPublisher

if TYPE_CHECKING:
    from .monitors.base import Monitor
    from .monitors.dish import DishMonitor
    from .monitors.satellites import SatelliteMonitor
    from .monitors.traffic import TrafficMonitor
    from .monitors.weather import WeatherMonitor

log = logging.getLogger(__name__)

CONFIG_REFRESH_SECS = 300.0
RETRY_SECS = 5.0
SITE_KEY = "sensing_site"
REFRESH_NOTICES = frozenset({"node", "hello", "resync", "config"})
TELEMETRY_MAX_AGE_SECS = 10.0
"""A satellite summary older than this is not written into a run's satellites.csv."""


@dataclass(frozen=True)
class NodeSite:
    """Where the node is, as registered: geodetic degrees, metres, and its minimum elevation."""

    latitude_deg: float
    longitude_deg: float
    altitude_m: float = 0.0
    min_elevation_deg: float | None = None


def site_of(node: pb._node) -> NodeSite | None:
    """The node's position from its record; None when it has no usable coordinates."""
    try:
        lat, lon = (float(part) for part in node.coords.split(","))
    except ValueError:
        return None
    return NodeSite(
        lat,
        lon,
        node.altitude_m if node.HasField("altitude_m") else 0.0,
        node.min_elevation_deg if node.HasField("min_elevation_deg") else None,
    )


class NodeSensing:
    """The table, the monitors feeding it, the trigger gate reading it; see the module docstring.

    Build it without I/O (the gate exists at once); `start` starts what is configured.
    """

    def __init__(self, settings: AgentSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.variables = VariableTable()
        self.triggers = TriggerCache()
        self.gate = TriggerGate(self.variables, clock, cache=self.triggers)
        self.dish: DishMonitor | None = None
        self.traffic: TrafficMonitor | None = None
        self.satellites: SatelliteMonitor | None = None
        self.weather: WeatherMonitor | None = None
        self.publisher: TriggerPublisher | None = None
        self.site: NodeSite | None = None
        self.weather_key: str | None = None
        self.refreshes = 0
        """Successful look-ups of the node record and global config (tests)."""
        self.listeners: list[Callable[[], None]] = []
        """Called (on the event loop) after every update of the table."""
        self._stack: AsyncExitStack | None = None
        self._state: LocalState | None = None
        self._link: OrchestratorLink | None = None
        self._refresh = asyncio.Event()
        self._docker: Any = None
        self._triggers: list[tuple[str, str]] = []
        self._triggers_index: dict[str, tuple[str, str]] | None = None

    # ------------------------------------------------------------------------ the table

    def on_sample(self, values: dict[str, object], at: float) -> None:
        """The monitors' callback: store the sample, then tell the listeners."""
        try:
            self.variables.update_many(values, at)
        except InvalidInput:  # one bad value must not cost the good ones
            for name, value in values.items():
                try:
                    self.variables.update(name, value, at)
                except InvalidInput as exc:
                    log.warning("variable %s not updated: %s", name, exc)
        for listener in self.listeners:
            listener()

    @property
    def monitors(self) -> dict[str, Monitor]:
        running = {
            "dish": self.dish,
            "traffic": self.traffic,
            "satellites": self.satellites,
            "weather": self.weather,
        }
        return {name: monitor for name, monitor in running.items() if monitor is not None}

    def freshness(self) -> dict[str, float | None]:
        """Each running monitor's last good sample (epoch seconds; None before the first)."""
        return {name: monitor.freshness for name, monitor in self.monitors.items()}

    # ------------------------------------------------------------------------ telemetry getters

    def dish_telemetry(self) -> dict[str, object] | None:
        return self.dish.telemetry() if self.dish is not None else None

    def satellite_summary(self) -> dict[str, object] | None:
        if self.satellites is None:
            return None
        return self.satellites.fresh_values(TELEMETRY_MAX_AGE_SECS)

    # ------------------------------------------------------------------------ lifecycle

    async def start(
        self,
        stack: AsyncExitStack,
        *,
        state: LocalState,
        link: OrchestratorLink,
        runtime_kind: str,
        busy: Callable[[], bool],
    ) -> None:
        """Start the configured monitors; `busy` says whether any run is under way."""
        s = self.settings
        self._stack, self._state, self._link = stack, state, link
        stack.push_async_callback(self._close_docker)
        if s.mqtt_broker is not None or s.dish_grpc is not None:
            await self._start_dish()
        if s.traffic_monitor and runtime_kind == "docker":
            await self._start_traffic(busy)
        if s.mqtt_broker is not None:
            host, port = _host_port(s.mqtt_broker)
            self.publisher = TriggerPublisher(
                host=host,
                port=port,
                variables=self.variables,
                job_triggers=self._active_triggers,
                clock=self.clock,
                cache=self.triggers,
            )
            self.listeners.append(self.publisher.variables_changed)
            await self.publisher.start(stack)
        # The satellite and weather monitors start in the background, from the position kept
        # in the local state (at once) or from the node record (once the orchestrator answers).
        task = asyncio.create_task(self._refresh_loop(), name="agent-sensing-refresh")
        stack.push_async_callback(cancel_and_wait, task)

    def notice(self, kind: str) -> None:
        """A watch notice: re-read the node record and the global config on node changes."""
        if kind in REFRESH_NOTICES:
            self._refresh.set()

    async def _start_dish(self) -> None:
        dish = await _monitor_module("dish")
        s = self.settings
        host, port = _host_port(s.mqtt_broker) if s.mqtt_broker else (None, 1883)
        if host is not None and s.dish_id is None and s.dish_grpc is None:
            return  # the broker only carries trigger results
        self.dish = dish.DishMonitor(
            self.on_sample,
            mqtt_host=host if s.dish_id is not None else None,
            mqtt_port=port,
            dish_id=s.dish_id or "+",
            grpc_target=s.dish_grpc,
            clock=self.clock.time,
        )
        await self._start_monitor(self.dish)

    async def _start_traffic(self, busy: Callable[[], bool]) -> None:
        traffic = await _monitor_module("traffic")
        from .experiment_traffic import ExperimentTrafficMonitor

        node_label = f"leoscope.node={self.settings.node_id}"

        def list_containers() -> list[Any]:  # in a worker thread
            if self._docker is None:
                import docker

                self._docker = docker.from_env(timeout=10)
            filters = {"label": [traffic.EXPERIMENT_LABEL, node_label], "status": "running"}
            return list(self._docker.containers.list(filters=filters))

        self.traffic = ExperimentTrafficMonitor(
            self.on_sample, list_containers=list_containers, busy=busy, clock=self.clock.time
        )
        await self._start_monitor(self.traffic)

    async def _start_site_monitors(self) -> None:
        """Start the satellite and weather monitors once what they need is known."""
        s, site = self.settings, self.site
        if site is None:
            return
        if self.satellites is None and s.tle_url is not None:
            satellites = await _monitor_module("satellites")
            self.satellites = satellites.SatelliteMonitor(
                self.on_sample,
                observer=satellites.Observer(
                    site.latitude_deg, site.longitude_deg, site.altitude_m
                ),
                cache_dir=s.tle_cache_root,
                tle_url=s.tle_url,
                interval_secs=s.satellite_interval,
                min_elevation_deg=self._min_elevation(),
                clock=self.clock.time,
            )
            await self._start_monitor(self.satellites)
        if self.weather is None and s.weather_url is not None and self.weather_key:
            weather = await _monitor_module("weather")
            self.weather = weather.WeatherMonitor(
                self.on_sample,
                latitude_deg=site.latitude_deg,
                longitude_deg=site.longitude_deg,
                api_key=lambda: self.weather_key,
                cache_dir=s.data_dir / "weather",
                base_url=s.weather_url,
                interval_secs=s.weather_interval,
                clock=self.clock.time,
            )
            await self._start_monitor(self.weather)

    async def _start_monitor(self, monitor: Monitor) -> None:
        assert self._stack is not None
        await monitor.start(self._stack)
        log.info("monitor=%s started", monitor.name)

    def _min_elevation(self) -> float:
        if self.settings.min_elevation is not None:
            return self.settings.min_elevation
        if self.site is not None and self.site.min_elevation_deg is not None:
            return self.site.min_elevation_deg
        return DEFAULT_MIN_ELEVATION_DEG

    async def _apply_site(self, site: NodeSite | None) -> None:
        """Use a (new) position: checked, stored, and handed to the running monitors."""
        if site is None or site == self.site:
            return
        satellites = await _monitor_module("satellites")
        try:
            observer = satellites.Observer(site.latitude_deg, site.longitude_deg, site.altitude_m)
        except InvalidInput as exc:
            log.warning("node position not usable for the monitors: %s", exc)
            return
        self.site = site
        if self._state is not None:
            self._state.set_value(SITE_KEY, asdict(site))
        if self.satellites is not None:
            self.satellites.observer = observer
            self.satellites.min_elevation_deg = self._min_elevation()
        if self.weather is not None:
            self.weather.latitude_deg = site.latitude_deg
            self.weather.longitude_deg = site.longitude_deg
        log.info(
            "node position lat=%.5f lon=%.5f alt=%.0fm min_elevation=%g",
            site.latitude_deg,
            site.longitude_deg,
            site.altitude_m,
            self._min_elevation(),
        )

    # ------------------------------------------------------------------------ refreshing

    async def refresh(self) -> bool:
        """Re-read the node record and the global config; False if the orchestrator is away."""
        assert self._link is not None
        try:
            node = await self._link.own_node()
            config = await self._link.global_config()
        except LinkDown as exc:
            log.debug("node record / global config not refreshed: %s", exc)
            return False
        except LinkError as exc:
            log.warning("node record / global config not readable: %s", exc)
            return False
        if node is not None:
            await self._apply_site(site_of(node))
        key = config.weather.apikey.strip() if config is not None else ""
        if (key or None) != self.weather_key:
            log.info("weather API key %s", "set" if key else "not set")
        self.weather_key = key or None
        await self._start_site_monitors()
        self.refreshes += 1
        return True

    async def _refresh_loop(self) -> None:
        assert self._state is not None
        cached = self._state.get_value(SITE_KEY)
        if isinstance(cached, dict):
            with contextlib.suppress(TypeError):
                await self._apply_site(NodeSite(**cached))
            await self._start_site_monitors()
        while True:
            self._refresh.clear()
            try:
                reached = await self.refresh()
            except Exception:  # a bug here must not stop the refreshes (or the agent)
                log.exception("node record / global config refresh failed")
                reached = False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CONFIG_REFRESH_SECS if reached else RETRY_SECS):
                    await self._refresh.wait()

    def _active_triggers(self) -> list[tuple[str, str]]:
        """The publisher asks up to once a second: the jobs are read again (every summary
        and config parsed) only when the cheap index of versions says they changed."""
        assert self._state is not None
        index = self._state.job_index()
        if index != self._triggers_index:
            self._triggers = [
                (job.jobid, job.summary.trigger)
                for job in self._state.jobs()
                if job.role == "client" and job.summary.trigger.strip()
            ]
            self._triggers_index = index
        return self._triggers

    async def _close_docker(self) -> None:
        client, self._docker = self._docker, None
        if client is not None:
            await asyncio.to_thread(client.close)


async def _monitor_module(name: str) -> ModuleType:
    """Import a monitor module in a worker thread: skyfield, numpy and aiohttp take a while to
    import, and the event loop (running experiments, talking to the orchestrator) must not wait."""
    return await asyncio.to_thread(importlib.import_module, f"leoscope.node.monitors.{name}")


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)
