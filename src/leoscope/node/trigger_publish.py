"""Trigger results on MQTT `leotest/triggers/<jobid>`, as the reference node published them.

Experiments written for the reference subscribe to this topic to learn whether their trigger
holds. Whenever the node's variables change, the trigger of every job scheduled on this node is
evaluated and its result published as text: `True` or `False`, a number for an arithmetic-only
expression, `None` when it is undefined (wire contract section 7.7). QoS 0, not retained.

The reference re-parsed and published every trigger on every single variable update (several a
second per dish field). Here updates only mark the results stale; a loop publishes at most once
per `min_interval_secs` (1 s), with the latest values, so a burst of MQTT telemetry costs one
round of evaluations. Publishing is best effort: while the broker is unreachable results are
dropped and paho reconnects on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from leoscope.core.errors import InvalidInput
from leoscope.core.variables import VariableTable

from .clock import Clock
from .tasks import cancel_and_wait
from .trigger_gate import TriggerCache, current_values

log = logging.getLogger(__name__)

TOPIC_PREFIX = "leotest/triggers/"
MIN_INTERVAL_SECS = 1.0
KEEPALIVE_SECS = 30

JobTriggers = Callable[[], Iterable[tuple[str, str]]]
"""Returns (jobid, trigger text) for the jobs whose triggers are active on this node."""


def topic_for(jobid: str) -> str:
    return TOPIC_PREFIX + jobid


class TriggerPublisher:
    """Publishes the active triggers' results after variable updates; see the module docstring."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        variables: VariableTable,
        job_triggers: JobTriggers,
        clock: Clock,
        min_interval_secs: float = MIN_INTERVAL_SECS,
        cache: TriggerCache | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.variables = variables
        self.job_triggers = job_triggers
        self.clock = clock
        self.min_interval_secs = min_interval_secs
        self.cache = cache or TriggerCache()
        self.published = 0
        """How many results were handed to the MQTT client (tests, metrics)."""
        self._stale = asyncio.Event()
        self._client: Any = None
        self._task: asyncio.Task[None] | None = None
        self._bad: set[str] = set()

    def variables_changed(self) -> None:
        """Mark the results stale (called after every table update, on the event loop)."""
        self._stale.set()

    async def start(self, stack: contextlib.AsyncExitStack) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"leoscope-triggers-{uuid.uuid4().hex[:12]}"
        )
        client.reconnect_delay_set(1, 30)
        client.connect_async(self.host, self.port, keepalive=KEEPALIVE_SECS)
        client.loop_start()  # paho's network thread connects and reconnects by itself
        self._client = client
        self._task = asyncio.create_task(self._run(), name="agent-trigger-publisher")
        stack.push_async_callback(self.stop)
        log.info("publishing trigger results to mqtt=%s:%d", self.host, self.port)

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)

    async def _run(self) -> None:
        while True:
            await self._stale.wait()
            self._stale.clear()
            try:
                self.publish_all()
            except Exception:  # a bad job must never stop the other jobs' results
                log.exception("trigger results not published")
            await asyncio.sleep(self.min_interval_secs)

    def results(self) -> dict[str, str]:
        """Each active job's current result text (what `publish_all` sends)."""
        values = current_values(self.variables, self.clock.time())
        out: dict[str, str] = {}
        for jobid, text in self.job_triggers():
            try:
                trigger = self.cache.get(text)
            except InvalidInput as exc:
                if jobid not in self._bad:
                    log.warning("job=%s trigger not evaluated: %s", jobid, exc)
                    self._bad.add(jobid)
                out[jobid] = "None"
                continue
            if trigger is not None:
                out[jobid] = trigger.reference_result(values)
        return out

    def publish_all(self) -> dict[str, str]:
        results = self.results()
        client = self._client
        if client is None:
            return results
        for jobid, result in results.items():
            client.publish(topic_for(jobid), result, qos=0, retain=False)
            self.published += 1
        return results
