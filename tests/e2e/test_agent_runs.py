"""A node agent against a real orchestrator and the real Docker engine: runs from slot to archive."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from leoscope.client import Client, Run
from leoscope.core.timeutil import from_epoch, utcnow
from leoscope.node.clock import ShiftedClock
from leoscope.node.records import RunPhase
from tests.fakes.waits import wait_until
from tests.images import docker_client

from .conftest import Node, epoch, experiment_config, next_second, schedule_at, wait_for_run
from .uploads import run_archive

pytestmark = [pytest.mark.docker]

EXPECTED_FILES = {
    "experiment-config.yaml",
    "experiment-args.json",
    "executor-config.yaml",
    "executor.stdout",
    "executor.stderr",
    "container.stdout",
    "container.stderr",
}


def archive_of(admin: Client, run: Run) -> zipfile.ZipFile:
    return run_archive(admin, run)  # through the orchestrator's signed download URL


async def test_one_shot_run_completes_on_time_with_its_archive(
    admin: Client, node: Node, make_agent, writer_image: str, leftover_containers
) -> None:
    agent = await make_agent().start()
    slot = next_second(2.0)
    config = experiment_config(writer_image)
    schedule_at(admin, "oneshot", node, slot, config, length_secs=6)

    run = await wait_for_run(admin, "oneshot", ("COMPLETE", "FAILED"))
    assert run.status == "COMPLETE", run.status_message
    assert run.status_message == "Done executing the job."
    (local,) = agent.state.runs("oneshot")
    assert local.slot == epoch(slot)
    assert 0 <= local.start_time - local.slot < 1.0, "the run must start within 1 s of its slot"
    assert local.started_at is not None and local.started_at >= local.slot

    # The archive: one top-level folder <runid>/, the executor's files and the experiment's.
    layout = f"jobs/{node.id}/oneshot/{slot.year}/{slot.month}/{slot.day}/{run.runid}.zip"
    assert run.blob_name == layout, "uploaded to the orchestrator's store, reference layout"
    assert run.blob_url.endswith(layout)
    assert run.archive_size and run.archive_sha256 and len(run.archive_sha256) == 64
    with archive_of(admin, run) as zf:
        names = zf.namelist()
        assert all(n.startswith(f"{run.runid}/") for n in names)
        files = {n.split("/", 1)[1] for n in names if not n.endswith("/")}
        assert EXPECTED_FILES | {"result.txt", "env.txt"} <= files
        assert zf.read(f"{run.runid}/result.txt") == b"result-42\n"
        assert b"hello from the experiment" in zf.read(f"{run.runid}/container.stdout")
        assert zf.read(f"{run.runid}/experiment-config.yaml").decode() == config
        env = dict(
            line.split("=", 1) for line in zf.read(f"{run.runid}/env.txt").decode().splitlines()
        )
        executor_log = zf.read(f"{run.runid}/executor.stdout").decode()
    assert env["LEOTEST_JOBID"] == "oneshot"
    assert env["LEOTEST_NODEID"] == node.id
    assert env["LEOTEST_SERVER"] == "0"
    assert env["LEOTEST_SERVERIP"] == "None"
    assert env["LEOSCOPE_RUN_ID"] == run.runid
    assert node.token not in "".join(env.values()), "the node token must not reach experiments"
    assert "starting container" in executor_log
    # Delivered: the local run directory and archive are gone, the container removed.
    assert not (agent.paths.run_dir(local.run_relpath)).exists()
    assert not agent.paths.archive_path(run.runid).exists()
    assert local.phase is RunPhase.DONE


async def test_cron_run_fires_on_its_minute(
    admin: Client, node: Node, make_agent, writer_image: str, leftover_containers
) -> None:
    """Cron has minute resolution: the agent's wall clock is shifted so the next minute
    boundary is ~4 s away (the orchestrator keeps the real clock)."""
    now = time.time()
    shift = (math.floor(now / 60) + 1) * 60 - 4.0 - now
    if shift < 0:
        shift += 60
    clock = ShiftedClock(shift)
    agent = await make_agent(agent_kwargs={"clock": clock}).start()
    admin.schedule_job(
        "cronjob",
        node.id,
        length_secs=4,
        config=experiment_config(writer_image),
        cron="* * * * *",
        start=utcnow() - timedelta(minutes=5),
        end=utcnow() + timedelta(minutes=30),
        overhead=False,
    )
    run = await wait_for_run(admin, "cronjob", ("COMPLETE", "FAILED"), within=25)
    assert run.status == "COMPLETE", run.status_message
    runs = agent.state.runs("cronjob")
    assert len(runs) == 1, "slots before the job reached the node are neither run nor missed"
    (local,) = runs
    assert local.slot % 60 == 0
    assert 0 <= local.start_time - local.slot < 1.0
    with archive_of(admin, run) as zf:
        assert zf.read(f"{run.runid}/result.txt") == b"result-42\n"


async def test_exit_code_3_fails_and_keeps_its_output(
    admin: Client, node: Node, make_agent, exit3_image: str, leftover_containers
) -> None:
    await make_agent().start()
    schedule_at(admin, "fails", node, next_second(1.5), experiment_config(exit3_image))
    run = await wait_for_run(admin, "fails", ("COMPLETE", "FAILED"))
    assert run.status == "FAILED"
    assert "exit code 3" in run.status_message
    with archive_of(admin, run) as zf:
        assert b"failing" in zf.read(f"{run.runid}/container.stderr")


async def test_missing_image_fails_with_the_pull_error(
    admin: Client, node: Node, make_agent, docker_ready: None, leftover_containers
) -> None:
    await make_agent().start()
    image = "127.0.0.1:1/leoscope/no-such-image:latest"  # a registry that refuses at once
    schedule_at(admin, "nopull", node, next_second(1.5), experiment_config(image))
    run = await wait_for_run(admin, "nopull", ("COMPLETE", "FAILED"))
    assert run.status == "FAILED"
    assert run.status_message.startswith("pull failed: ")
    assert "127.0.0.1:1" in run.status_message  # Docker's own words name the registry
    with archive_of(admin, run) as zf:  # the configs and the executor's log are kept
        assert f"{run.runid}/executor.stdout" in zf.namelist()


async def test_container_is_unprivileged_limited_and_labelled(
    admin: Client, node: Node, make_agent, sleeper_image: str, leftover_containers
) -> None:
    agent = await make_agent().start()
    slot = next_second(1.5)
    schedule_at(admin, "inspectme", node, slot, experiment_config(sleeper_image), length_secs=4)
    await wait_for_run(admin, "inspectme", ("EXECUTING",))
    (local,) = agent.state.runs("inspectme")
    client = docker_client()
    try:
        info = client.api.inspect_container(local.container_id)
    finally:
        client.close()
    host = info["HostConfig"]
    assert host["Privileged"] is False
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["CapDrop"] == ["ALL"]
    assert host["CapAdd"] == ["NET_RAW"]
    assert host["Memory"] == 64 * 1024 * 1024
    assert host["MemorySwap"] == 64 * 1024 * 1024
    assert host["NanoCpus"] == 500_000_000
    assert host["PidsLimit"] == 64
    assert host["NetworkMode"] == "host"
    (mount,) = info["Mounts"]
    assert mount["Destination"] == "/artifacts" and mount["RW"] is True
    assert mount["Source"] == str(agent.paths.run_dir(local.run_relpath))
    labels = info["Config"]["Labels"]
    assert labels["runid"] == local.runid and labels["jobid"] == "inspectme"
    assert labels["leotest"] == "true" and labels["server"] == "false"
    assert labels["type"] == "atq" and labels["overhead"] == "false"
    assert labels["userid"] == "admin"
    assert labels["leoscope.node"] == node.id and labels["leoscope.run"] == local.runid
    assert info["Name"] == f"/exp_inspectme_{local.runid}"
    # The slot ends: SIGTERM, the experiment exits 0, the run completes as stopped.
    run = await wait_for_run(admin, "inspectme", ("COMPLETE", "FAILED"))
    assert run.status == "COMPLETE"
    assert "stopped at the end of its slot" in run.status_message
    assert agent.state.runs("inspectme")[0].exit_code == 0


async def test_job_deleted_mid_run_is_aborted(
    admin: Client, node: Node, make_agent, sleeper_image: str, leftover_containers
) -> None:
    agent = await make_agent().start()
    schedule_at(admin, "delme", node, next_second(1.5), experiment_config(sleeper_image), 30)
    await wait_for_run(admin, "delme", ("EXECUTING",))
    started = time.monotonic()
    admin.delete_job("delme")
    run = await wait_for_run(admin, "delme", ("ABORTED", "COMPLETE", "FAILED"))
    assert run.status == "ABORTED"
    assert run.status_message == "job deleted"
    assert time.monotonic() - started < 10, "the container must be stopped, not left to run"
    with archive_of(admin, run) as zf:  # partial results are kept
        assert zf.read(f"{run.runid}/started.txt") == b"up\n"
    (local,) = agent.state.runs("delme")
    assert local.phase is RunPhase.DONE


async def test_job_deleted_before_its_slot_never_runs(
    admin: Client, node: Node, make_agent, writer_image: str, leftover_containers
) -> None:
    agent = await make_agent().start()
    slot = next_second(2.5)
    schedule_at(admin, "never", node, slot, experiment_config(writer_image))
    await wait_until(lambda: agent.state.job("never") is not None, 3, "job synced")
    admin.delete_job("never")
    await wait_until(lambda: agent.state.job("never") is None, 3, "deletion synced")
    await asyncio.sleep(max(0.0, epoch(slot) + 1.0 - time.time()))  # let the slot pass
    assert agent.state.runs("never") == []
    assert admin.list_runs(job="never") == []


async def test_a_scheduled_job_reaches_a_watching_agent_within_a_second(
    admin: Client, node: Node, make_agent, writer_image: str
) -> None:
    agent = await make_agent(interval=60.0).start()  # polling alone would take up to a minute
    await wait_until(lambda: agent.syncer.watch_state == "open", 5, "watch stream open")
    began = time.monotonic()
    schedule_at(admin, "fast", node, utcnow() + timedelta(hours=1), experiment_config(writer_image))
    await wait_until(lambda: agent.state.job("fast") is not None, 1.0, "job in local state")
    assert time.monotonic() - began < 1.0
    stored = agent.state.job("fast")
    await wait_until(lambda: agent.state.job("fast").detail is not None, 1.0, "config fetched")
    assert stored.role == "client"


async def test_shell_metacharacters_in_the_config_are_inert(
    admin: Client, node: Node, make_agent, writer_image: str, leftover_containers, tmp_path: Path
) -> None:
    marker = Path("/tmp") / f"leoscope-pwned-{uuid.uuid4().hex}"
    extra = f"tests:\n  cmd: \"$(touch {marker})\"\n  other: '`touch {marker}`; touch {marker}'\n"
    config = experiment_config(writer_image, name=f"x$(touch {marker});`id`", extra=extra)
    agent = await make_agent().start()
    schedule_at(admin, "meta", node, next_second(1.5), config)
    run = await wait_for_run(admin, "meta", ("COMPLETE", "FAILED"))
    assert run.status == "COMPLETE", run.status_message
    assert not marker.exists()
    (local,) = agent.state.runs("meta")
    assert local.container_name is not None
    assert set(local.container_name) <= set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
    )
    with archive_of(admin, run) as zf:  # the config reaches the experiment verbatim
        assert zf.read(f"{run.runid}/experiment-config.yaml").decode() == config


async def test_one_shot_first_seen_after_its_start_is_missed(
    admin: Client, node: Node, make_agent, writer_image: str
) -> None:
    slot = next_second(0.0) - timedelta(seconds=20)  # the orchestrator allows 60 s in the past
    schedule_at(admin, "late", node, slot, experiment_config(writer_image), length_secs=60)
    agent = await make_agent(missed_grace=5.0).start()
    run = await wait_for_run(admin, "late", ("MISSED", "COMPLETE", "FAILED"), within=10)
    assert run.status == "MISSED"
    assert "reached this node" in run.status_message
    assert run.start_time == from_epoch(epoch(slot))
    (local,) = agent.state.runs("late")
    assert local.container_name is None, "a missed run starts nothing"


async def test_one_shot_first_seen_within_the_grace_still_starts(
    admin: Client, node: Node, make_agent, writer_image: str, leftover_containers
) -> None:
    slot = next_second(0.0) - timedelta(seconds=5)
    schedule_at(admin, "slightlylate", node, slot, experiment_config(writer_image), 30)
    agent = await make_agent(missed_grace=60.0).start()
    run = await wait_for_run(admin, "slightlylate", ("MISSED", "COMPLETE", "FAILED"))
    assert run.status == "COMPLETE", run.status_message
    (local,) = agent.state.runs("slightlylate")
    assert local.deadline == epoch(slot) + 30, "a late run keeps its slot's end"


async def test_slot_passed_during_downtime_is_missed(
    admin: Client, node: Node, make_agent, writer_image: str
) -> None:
    runner = make_agent(missed_grace=1.0)
    agent = await runner.start()
    slot = next_second(3.0)
    schedule_at(admin, "downtime", node, slot, experiment_config(writer_image), 2)
    await wait_until(lambda: agent.state.job("downtime") is not None, 2.5, "job synced")
    await runner.stop()
    assert time.time() < epoch(slot), "the agent stopped before the slot"
    await asyncio.sleep(max(0.0, epoch(slot) + 1.5 - time.time()))
    agent = await runner.start()
    run = await wait_for_run(admin, "downtime", ("MISSED", "COMPLETE", "FAILED"), within=10)
    assert run.status == "MISSED"
    assert "agent could not start the run at its slot" in run.status_message
    assert len(agent.state.runs("downtime")) == 1
