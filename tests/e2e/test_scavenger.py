"""Scavenger mode with real containers: the local switch, the orchestrator's flag, the gate,
one-shot rescheduling, a restart while the orchestrator is unreachable, and quiet hours."""

from __future__ import annotations

import asyncio
import math
import sys
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from leoscope.client import Client
from leoscope.core.timeutil import utcnow
from leoscope.node import control
from leoscope.node.clock import ShiftedClock
from leoscope.node.records import RunPhase
from leoscope.node.scavenger import MSG_ABORTED, SOURCE_LOCAL, SOURCE_QUIET
from leoscope.orchestrator.admission import SLOT_GRANULARITY_SECS
from tests.fakes.tcpproxy import TcpProxy
from tests.fakes.waits import wait_until
from tests.images import docker_client

from .conftest import Node, experiment_config, next_second, wait_for_run

STOP_WITHIN_SECS = 2.0


def switch(agent, active: bool) -> dict:
    path = agent.settings.control_socket_path
    return control.request(path, {"command": "scavenger", "active": active})


def status(agent) -> dict:
    return control.request(agent.settings.control_socket_path, {"command": "status"})


def archive_of(admin: Client, run, directory: Path) -> zipfile.ZipFile:
    """The run's delivered archive (a file:// URL, or downloaded through the orchestrator)."""
    if run.blob_url.startswith("file://"):
        return zipfile.ZipFile(Path(run.blob_url.removeprefix("file://")))
    target = directory / f"{run.runid}.zip"
    admin.download_run(run.runid, target)
    return zipfile.ZipFile(target)


def container_running(container_id: str) -> bool:
    client = docker_client()
    try:
        return bool(client.api.inspect_container(container_id)["State"]["Running"])
    finally:
        client.close()


async def running_record(agent, jobid: str, within: float = 15.0):
    await wait_until(
        lambda: any(r.phase is RunPhase.RUNNING for r in agent.state.runs(jobid)),
        within,
        f"a running container for {jobid}",
    )
    (record,) = [r for r in agent.state.runs(jobid) if r.phase is RunPhase.RUNNING]
    return record


async def stopped_within(container_id: str, within: float) -> float:
    """Seconds until the container is no longer running; fails after `within`."""
    began = time.monotonic()
    while await asyncio.to_thread(container_running, container_id):
        assert time.monotonic() - began < within, f"container still running after {within}s"
        await asyncio.sleep(0.02)
    return time.monotonic() - began


def minute_clock(lead_secs: float) -> ShiftedClock:
    """An agent clock whose next minute boundary is `lead_secs` away (cron is per minute)."""
    now = time.time()
    shift = (math.floor(now / 60) + 1) * 60 - lead_secs - now
    return ShiftedClock(shift if shift >= 0 else shift + 60)


def cron_job(admin: Client, jobid: str, node: Node, image: str, *, overhead: bool) -> None:
    admin.schedule_job(
        jobid,
        node.id,
        length_secs=40,
        config=experiment_config(image),
        cron="* * * * *",
        start=utcnow() - timedelta(minutes=5),
        end=utcnow() + timedelta(minutes=30),
        overhead=overhead,
    )


async def test_local_switch_stops_overhead_at_once_and_spares_the_rest(
    admin: Client, node: Node, make_agent, sleeper_image: str, leftover_containers, tmp_path: Path
) -> None:
    agent = await make_agent(agent_kwargs={"clock": minute_clock(3.0)}).start()
    cron_job(admin, "heavy", node, sleeper_image, overhead=True)
    cron_job(admin, "light", node, sleeper_image, overhead=False)
    heavy = await running_record(agent, "heavy")
    light = await running_record(agent, "light")

    began = time.monotonic()
    reply = await asyncio.to_thread(switch, agent, True)
    took = await stopped_within(heavy.container_id, STOP_WITHIN_SECS)
    assert reply["scavenger_mode_active"] and reply["changed"]
    assert reply["stopping"] == [heavy.runid]
    assert reply["reported"], "the orchestrator acknowledged the switch"
    assert took <= STOP_WITHIN_SECS and time.monotonic() - began <= STOP_WITHIN_SECS + 0.5

    run = await wait_for_run(admin, "heavy", ("ABORTED", "COMPLETE", "FAILED"))
    assert run.status == "ABORTED"
    assert run.status_message == MSG_ABORTED
    with archive_of(admin, run, tmp_path) as zf:
        assert zf.read(f"{run.runid}/started.txt") == b"up\n", "artifacts still delivered"
    assert admin.get_scavenger(node.id) is True

    assert await asyncio.to_thread(container_running, light.container_id)
    assert agent.state.get_run(light.runid).phase is RunPhase.RUNNING
    (light_run,) = admin.list_runs(job="light")
    assert light_run.status == "EXECUTING"
    shown = await asyncio.to_thread(status, agent)
    assert shown["scavenger_mode_active"] and shown["source"] == SOURCE_LOCAL
    assert shown["overhead_runs"] == []

    admin.delete_job("light")  # ends the non-overhead run (ABORTED "job deleted")
    await wait_for_run(admin, "light", ("ABORTED",))


async def test_one_shot_runs_are_moved_with_their_end_date_intact(
    admin: Client, node: Node, make_agent, sleeper_image: str, leftover_containers
) -> None:
    agent = await make_agent().start()
    config = experiment_config(sleeper_image)
    admin.schedule_job("once", node.id, length_secs=30, config=config, at=next_second(1.0))
    before = admin.get_job("once")
    record = await running_record(agent, "once")

    await asyncio.to_thread(switch, agent, True)
    await stopped_within(record.container_id, STOP_WITHIN_SECS)
    run = await wait_for_run(admin, "once", ("RESCHEDULED", "RESCHEDULE_FAILED", "COMPLETE"))
    assert run.status == "RESCHEDULED", run.status_message
    assert run.status_message.startswith(
        "job run rescheduled (scavenger mode is active); reason: "
        "updated job schedule successfully; next_slot="
    )
    after = admin.get_job("once")
    assert after.end == before.end, "the end date is the latest acceptable end: kept"
    moved_by = (after.start - utcnow()).total_seconds()
    # 30 minutes ahead, rounded up to the orchestrator's slot granularity
    assert 1790 < moved_by <= 1800 + SLOT_GRANULARITY_SECS, "moved 30 minutes ahead"
    assert run.blob_url, "the stopped run's artifacts were delivered"

    # The start gate: a new one-shot overhead run is moved before it deploys anything.
    admin.schedule_job("later", node.id, length_secs=5, config=config, at=next_second(1.0))
    gated = await wait_for_run(admin, "later", ("RESCHEDULED", "RESCHEDULE_FAILED", "COMPLETE"))
    assert gated.status == "RESCHEDULED", gated.status_message
    (local,) = agent.state.runs("later")
    assert local.container_name is None, "no container was started"


async def test_the_orchestrator_flag_arrives_through_the_watch_stream(
    admin: Client, node: Node, make_agent, sleeper_image: str, leftover_containers
) -> None:
    # Polling every 60 s cannot explain a stop within 2 s: the watch stream carries it.
    agent = await make_agent(interval=60.0, agent_kwargs={"clock": minute_clock(3.0)}).start()
    cron_job(admin, "heavy", node, sleeper_image, overhead=True)
    record = await running_record(agent, "heavy")
    await wait_until(lambda: agent.syncer.watch_state == "open", 5, "the watch stream")

    began = time.monotonic()
    await asyncio.to_thread(admin.set_scavenger, node.id, True)
    await stopped_within(record.container_id, STOP_WITHIN_SECS)
    assert time.monotonic() - began <= STOP_WITHIN_SECS + 0.5
    run = await wait_for_run(admin, "heavy", ("ABORTED", "COMPLETE", "FAILED"))
    assert (run.status, run.status_message) == ("ABORTED", MSG_ABORTED)
    shown = await asyncio.to_thread(status, agent)
    assert shown["scavenger_mode_active"] and shown["source"] == "orchestrator"

    await asyncio.to_thread(admin.set_scavenger, node.id, False)
    await wait_until(lambda: not agent.scavenger.active, 2, "the mode switched off")


class SwitchableProxy(TcpProxy):
    """A TcpProxy that refuses connections while `down`."""

    down = False

    async def _serve(self, reader, writer) -> None:  # type: ignore[override]
        if self.down:
            writer.transport.abort()
            return
        await super()._serve(reader, writer)


async def test_a_switch_made_offline_survives_a_restart_and_reaches_the_orchestrator(
    orchestrator, admin: Client, node: Node, make_agent, sleeper_image: str
) -> None:
    host, port = orchestrator.address.rsplit(":", 1)
    async with SwitchableProxy(host, int(port)) as proxy:
        runner = make_agent(address=f"127.0.0.1:{proxy.port}", interval=1.0)
        await runner.start()
        admin.schedule_job(
            "blocked",
            node.id,
            length_secs=5,
            config=experiment_config(sleeper_image),
            at=next_second(6.0),
        )
        await wait_until(lambda: runner.agent.state.job("blocked") is not None, 5, "job synced")
        proxy.down = True
        await proxy.cut()

        reply = await asyncio.to_thread(switch, runner.agent, True)
        assert reply["scavenger_mode_active"] and not reply["reported"]
        await runner.stop()
        agent = await runner.start()
        shown = await asyncio.to_thread(status, agent)
        assert shown["scavenger_mode_active"] and shown["report_pending"]

        # The run fires while the link is down: the gate cannot move the job, so it ends
        # RESCHEDULE_FAILED (not run), and the owner keeps the link.
        await wait_until(lambda: any(r.is_final for r in agent.state.runs("blocked")), 12, "gated")
        (local,) = agent.state.runs("blocked")
        assert local.status == "RESCHEDULE_FAILED" and local.container_name is None
        assert admin.get_scavenger(node.id) is False, "the orchestrator has not heard yet"

        proxy.down = False
        await wait_until(lambda: admin.get_scavenger(node.id), 15, "the pending report delivered")
        run = await wait_for_run(admin, "blocked", ("RESCHEDULE_FAILED",))
        assert "could not be asked" in run.status_message
        await wait_until(lambda: agent.syncer.syncs >= 2, 10, "polls after reconnecting")
        shown = await asyncio.to_thread(status, agent)
        assert shown["scavenger_mode_active"] and not shown["report_pending"]
        await runner.stop()


async def test_quiet_hours_switch_the_mode_and_are_reported(
    admin: Client, node: Node, make_agent
) -> None:
    admin.update_node(node.id, quiet_hours="* * * * *@1")  # every minute for a minute: always
    agent = await make_agent(runtime="process").start()
    await wait_until(lambda: agent.scavenger.active, 5, "quiet hours switched the mode on")
    await wait_until(lambda: admin.get_scavenger(node.id), 5, "reported to the orchestrator")
    shown = await asyncio.to_thread(status, agent)
    assert shown["source"] == SOURCE_QUIET and shown["in_quiet_hours"]

    admin.update_node(node.id, quiet_hours="")  # the "node" notice makes the agent re-read it
    await wait_until(lambda: not agent.scavenger.active, 5, "the window's end switched it off")
    await wait_until(lambda: not admin.get_scavenger(node.id), 5, "reported off")


async def test_the_control_socket_is_private_and_refuses_bad_requests(
    node: Node, make_agent
) -> None:
    agent = await make_agent(runtime="process").start()
    path = agent.settings.control_socket_path
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(control.ControlError, match="unknown command 'reboot'"):
        await asyncio.to_thread(control.request, path, {"command": "reboot"})
    with pytest.raises(control.ControlError, match="'active' must be true or false"):
        await asyncio.to_thread(control.request, path, {"command": "scavenger", "active": "yes"})
    with pytest.raises(control.ControlError, match="no agent is running"):
        await asyncio.to_thread(control.request, path.with_name("x.sock"), {"command": "status"})
    assert not agent.scavenger.active


async def leoscope(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "leoscope",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_the_documented_commands_switch_the_running_agent(
    admin: Client, node: Node, make_agent
) -> None:
    """docs/scavenger.md: `leoscope agent scavenger on|status|off --data-dir DIR`."""
    agent = await make_agent(runtime="process").start()
    data_dir = str(agent.settings.data_dir)
    code, out, err = await leoscope("agent", "scavenger", "on", "--data-dir", data_dir)
    assert code == 0, err
    assert "scavenger mode on" in out and "reported to the orchestrator" in out
    assert agent.scavenger.active and admin.get_scavenger(node.id)
    code, out, err = await leoscope("agent", "scavenger", "status", "--data-dir", data_dir)
    assert code == 0, err
    assert out.splitlines()[0] == f"scavenger mode on ({SOURCE_LOCAL})"
    code, out, err = await leoscope("agent", "scavenger", "off", "--data-dir", data_dir)
    assert code == 0 and "scavenger mode off" in out, err
    assert not agent.scavenger.active
    code, out, err = await leoscope("agent", "scavenger", "status", "--data-dir", "/nonexistent")
    assert code == 1 and "no agent is running" in err
