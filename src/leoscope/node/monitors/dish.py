"""Starlink dish telemetry: starlink-grpc-tools' MQTT topics, or the dish's gRPC API directly.

starlink-grpc-tools (``dish_grpc_mqtt.py status``) publishes every status field of the dish about
every 2 s as text on ``<prefix>/dish_status/<dish id>/<field>`` (prefix ``starlink``), e.g.
``starlink/dish_status/ut01000000-00000000-001fdb33/pop_ping_latency_ms`` = ``27.6``. In its JSON
mode it publishes one object on ``<prefix>/dish_status/<dish id>``; both shapes are accepted.

Trigger variables produced (`DISH_VARIABLES`):

===========================  ======  ==============================================
``uplink_throughput_bps``    int     bits/s
``downlink_throughput_bps``  int     bits/s
``pop_ping_latency_ms``      float   ms to the point of presence (the reference
                                     truncated it to int; the fraction is kept)
``direction_azimuth``        float   degrees, where the dish points
``direction_elevation``      float   degrees, where the dish points
``currently_obstructed``     bool    parsed from ``True``/``False`` (the reference's
                                     ``bool("False")`` made it always true)
``fraction_obstructed``      float   0-1
===========================  ======  ==============================================

Every other status field (``id``, ``software_version``, ``state``, ``snr``...) is kept in
``status`` with its proper type for the per-run ``grpc.csv``; the dish id and firmware version
are recorded in ``dish_id`` / ``firmware_version`` when they arrive. Empty, ``None`` or ``nan``
payloads mean unknown (None); a payload that does not parse is logged and ignored.

The MQTT session reconnects with jittered backoff and detects a dead broker with keepalives.
Optionally (``grpc_target``), the dish's own gRPC API (default ``192.168.100.1:9200``) is polled
with ``starlink-grpc-core`` (module ``starlink_grpc``) when that package is installed and the
dish is reachable, but only while MQTT has delivered nothing for ``grpc_fallback_after_secs``, so
one dish never feeds the variables twice.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import logging
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any

from leoscope.core.errors import InvalidInput

from ..tasks import cancel_and_wait
from .base import Backoff, Clock, Monitor, SampleCallback
from .dish_fields import DISH_VARIABLES, coerce_field, parse_topic

log = logging.getLogger(__name__)

DEFAULT_DISH_TARGET = "192.168.100.1:9200"


def tcp_reachable(target: str, timeout_secs: float = 1.0) -> bool:
    """Whether something accepts TCP connections at ``host:port`` (the reference's dish probe)."""
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_secs):
            return True
    except (OSError, ValueError):
        return False


class DishGrpcPoller:
    """Reads the dish's status over its gRPC API with starlink-grpc-core (blocking calls).

    Only usable when the ``starlink_grpc`` module is installed (`available`); there is no dish
    to test against here, so this is a thin seam around the library's ``status_data``.
    """

    def __init__(self, target: str = DEFAULT_DISH_TARGET) -> None:
        if ":" not in target:
            raise InvalidInput("grpc_target", f"must be host:port, got {target!r}")
        self.target = target
        self._context: Any = None

    @staticmethod
    def available() -> bool:
        return importlib.util.find_spec("starlink_grpc") is not None

    def status(self) -> dict[str, object]:
        """One status read: field name -> value (raises the library's GrpcError on failure)."""
        starlink_grpc = importlib.import_module("starlink_grpc")
        if self._context is None:
            self._context = starlink_grpc.ChannelContext(target=self.target)
        status, _obstruction, _alerts = starlink_grpc.status_data(context=self._context)
        return dict(status)

    def close(self) -> None:
        if self._context is not None:
            self._context.close()
            self._context = None


class DishMonitor(Monitor):
    """Publishes `DISH_VARIABLES` from MQTT (and, as a fallback, the dish's gRPC API).

    ``dish_id`` restricts the subscription to one dish (``+`` takes any). ``mqtt_host=None``
    disables MQTT; ``grpc_target=None`` disables the direct gRPC fallback.
    """

    name = "dish"

    def __init__(
        self,
        on_sample: SampleCallback,
        *,
        mqtt_host: str | None = "127.0.0.1",
        mqtt_port: int = 1883,
        dish_id: str = "+",
        topic_prefix: str = "starlink",
        keepalive_secs: int = 30,
        connect_timeout_secs: float = 5.0,
        grpc_target: str | None = None,
        grpc_interval_secs: float = 1.0,
        grpc_fallback_after_secs: float = 5.0,
        backoff: Backoff | None = None,
        grpc_backoff: Backoff | None = None,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(on_sample, backoff=backoff or Backoff(1.0, 60.0), clock=clock)
        if not 0 < mqtt_port < 65536:
            raise InvalidInput("mqtt_port", f"must be 1-65535, got {mqtt_port!r}")
        if not dish_id or "/" in dish_id or "#" in dish_id:
            raise InvalidInput("dish_id", f"must be a dish id or '+', got {dish_id!r}")
        if keepalive_secs < 5:
            raise InvalidInput("keepalive_secs", f"must be at least 5, got {keepalive_secs!r}")
        self.mqtt_host = mqtt_host
        self.mqtt_port = mqtt_port
        self.dish_filter = dish_id
        self.topic_prefix = topic_prefix
        self.keepalive_secs = keepalive_secs
        self.connect_timeout_secs = connect_timeout_secs
        self.grpc = DishGrpcPoller(grpc_target) if grpc_target else None
        self.grpc_interval_secs = grpc_interval_secs
        self.grpc_fallback_after_secs = grpc_fallback_after_secs
        self.grpc_backoff = grpc_backoff or Backoff(5.0, 300.0)
        self.grpc_error: str | None = None
        self.connected = False
        """True while the MQTT session is up and its subscription acknowledged."""
        self.dish_id: str | None = None
        self.firmware_version: str | None = None
        self.hardware_version: str | None = None
        self._status: dict[str, object] = {}
        self._last_mqtt_data: float | None = None  # monotonic

    @property
    def topics(self) -> list[str]:
        base = f"{self.topic_prefix}/dish_status/{self.dish_filter}"
        return [f"{base}/+", base]

    @property
    def status(self) -> Mapping[str, object]:
        """The latest value of every dish status field seen (typed), for telemetry files."""
        return dict(self._status)

    def telemetry(self, max_age_secs: float = 10.0) -> dict[str, object] | None:
        """The status fields for a ``grpc.csv`` row, or None when no dish data is that recent."""
        if self.freshness is None or self._clock() - self.freshness > max_age_secs:
            return None
        return dict(self._status)

    # -- shared handling -----------------------------------------------------------------------

    def _apply(self, fields: Mapping[str, object], at: float, dish_id: str | None) -> None:
        typed: dict[str, object] = {}
        for field, raw in fields.items():
            try:
                typed[field] = coerce_field(field, raw)
            except (TypeError, ValueError) as exc:
                log.warning("dish field=%s payload ignored: %s", field, exc)
        if dish_id and dish_id != self.dish_id:
            if self.dish_id is not None:
                log.warning("dish id changed from %s to %s", self.dish_id, dish_id)
            self.dish_id = dish_id
            log.info("dish id=%s", dish_id)
        if typed.get("id"):
            self.dish_id = str(typed["id"])
        if typed.get("software_version") and typed["software_version"] != self.firmware_version:
            self.firmware_version = str(typed["software_version"])
            log.info("dish id=%s firmware=%s", self.dish_id, self.firmware_version)
        if typed.get("hardware_version"):
            self.hardware_version = str(typed["hardware_version"])
        if not typed:
            return
        self._status.update(typed)
        self._emit({k: v for k, v in typed.items() if k in DISH_VARIABLES}, at)

    def _on_mqtt_message(self, topic: str, payload: bytes, at: float) -> None:
        parsed = parse_topic(topic, self.topic_prefix)
        if parsed is None:
            return
        dish_id, field = parsed
        self._last_mqtt_data = time.monotonic()
        if field is not None:
            self._apply({field: payload}, at, dish_id)
            return
        try:
            document = json.loads(payload)
        except ValueError:
            log.warning("dish topic=%s payload is not JSON, ignored", topic)
            return
        if isinstance(document, dict):
            self._apply(document, at, dish_id)

    # -- MQTT ----------------------------------------------------------------------------------

    async def _run(self) -> None:
        tasks = []
        if self.grpc is not None:
            tasks.append(asyncio.create_task(self._grpc_loop(), name="monitor:dish:grpc"))
        try:
            if self.mqtt_host is None:
                await asyncio.Event().wait()  # gRPC only: wait for cancellation
            while True:
                try:
                    await self._mqtt_session()
                except _SessionEnded as ended:
                    await asyncio.sleep(self._record_error(str(ended)))
        finally:
            await cancel_and_wait(*tasks)

    async def _mqtt_session(self) -> None:
        """One connection: subscribe, deliver messages; raises _SessionEnded when it is over."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        loop = asyncio.get_running_loop()
        connected = asyncio.Event()
        ended = asyncio.Event()
        reason: list[str] = []

        def finish(why: str) -> None:
            reason.append(why)
            loop.call_soon_threadsafe(ended.set)

        def on_connect(client: Any, userdata: Any, flags: Any, code: Any, properties: Any) -> None:
            if code.is_failure:
                finish(f"MQTT broker refused the connection: {code}")
                return
            client.subscribe([(topic, 0) for topic in self.topics])

        def on_subscribe(client: Any, userdata: Any, mid: Any, codes: Any, properties: Any) -> None:
            if any(code.is_failure for code in codes):
                finish(f"MQTT broker refused the subscription: {codes}")
                return
            loop.call_soon_threadsafe(connected.set)

        def on_disconnect(
            client: Any, userdata: Any, flags: Any, code: Any, properties: Any
        ) -> None:
            finish(f"MQTT connection lost: {code}")

        def on_message(client: Any, userdata: Any, message: Any) -> None:
            loop.call_soon_threadsafe(
                self._on_mqtt_message, message.topic, message.payload, self._clock()
            )

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"leoscope-dish-{uuid.uuid4().hex[:12]}",
            reconnect_on_failure=False,
        )
        client.connect_timeout = self.connect_timeout_secs
        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        await self._connect(client)
        client.loop_start()
        try:
            waiters = [asyncio.ensure_future(connected.wait()), asyncio.ensure_future(ended.wait())]
            try:
                await asyncio.wait(
                    waiters, timeout=self.connect_timeout_secs, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for waiter in waiters:
                    waiter.cancel()
            if not connected.is_set():
                why = (
                    reason[0]
                    if reason
                    else f"MQTT connect to {self.mqtt_host}:{self.mqtt_port} timed out"
                )
                raise _SessionEnded(why)
            self.connected = True
            self.backoff.reset()
            log.info("dish mqtt=%s:%d subscribed=%s", self.mqtt_host, self.mqtt_port, self.topics)
            await ended.wait()
            raise _SessionEnded(reason[0] if reason else "MQTT connection ended")
        finally:
            self.connected = False
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)

    async def _connect(self, client: Any) -> None:
        """The blocking TCP + CONNECT step, in a thread; a socket opened after we gave up is closed."""
        address = f"{self.mqtt_host}:{self.mqtt_port}"
        attempt = asyncio.get_running_loop().run_in_executor(
            None,
            lambda: client.connect(self.mqtt_host, self.mqtt_port, keepalive=self.keepalive_secs),
        )
        try:
            await asyncio.wait_for(asyncio.shield(attempt), self.connect_timeout_secs + 1.0)
        except BaseException as exc:
            attempt.add_done_callback(lambda _done: _close_socket(client))
            if isinstance(exc, OSError | TimeoutError):
                raise _SessionEnded(
                    f"MQTT connection to {address} failed: {exc or 'timed out'}"
                ) from None
            raise

    # -- gRPC fallback -------------------------------------------------------------------------

    def _mqtt_is_feeding(self) -> bool:
        recent = self._last_mqtt_data
        return recent is not None and time.monotonic() - recent < self.grpc_fallback_after_secs

    async def _grpc_loop(self) -> None:
        assert self.grpc is not None
        if not DishGrpcPoller.available():
            self.grpc_error = "starlink-grpc-core is not installed"
            log.info("dish grpc polling disabled: %s", self.grpc_error)
            return
        try:
            while True:
                if self._mqtt_is_feeding():
                    await asyncio.sleep(self.grpc_interval_secs)
                    continue
                if not await asyncio.to_thread(tcp_reachable, self.grpc.target):
                    self.grpc_error = f"dish {self.grpc.target} is not reachable"
                    await asyncio.sleep(self.grpc_backoff.next_delay())
                    continue
                try:
                    status = await asyncio.wait_for(asyncio.to_thread(self.grpc.status), 15.0)
                except Exception as exc:  # the library raises its own GrpcError, and others
                    self.grpc_error = f"dish gRPC status failed: {exc}"
                    delay = self.grpc_backoff.next_delay()
                    log.warning(
                        "dish grpc=%s error=%s retry_in=%.0fs", self.grpc.target, exc, delay
                    )
                    await asyncio.sleep(delay)
                    continue
                self.grpc_error = None
                self.grpc_backoff.reset()
                self._apply(status, self._clock(), None)
                await asyncio.sleep(self.grpc_interval_secs)
        finally:
            await asyncio.to_thread(self.grpc.close)


def _close_socket(client: Any) -> None:
    sock = client.socket()
    if sock is not None:
        sock.close()


class _SessionEnded(Exception):
    """An MQTT session could not start or has ended; the text says why."""
