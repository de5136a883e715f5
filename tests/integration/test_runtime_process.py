"""ProcessRuntime with real child processes: the container contract where it applies."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from leoscope.node.runtime.base import (
    EXIT_CODE_UNKNOWN,
    LABEL_NODE,
    LABEL_RUN,
    ContainerGone,
    ContainerSpec,
    ContainerStatus,
    StartError,
)
from leoscope.node.runtime.process import (
    RECORD_NAME,
    STDERR_NAME,
    STDOUT_NAME,
    ProcessRuntime,
)

SH = "/bin/sh"


def read_text(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


async def wait_for_file(path: Path, within_secs: float = 10.0) -> str:
    async with asyncio.timeout(within_secs):
        while True:
            text = read_text(path)
            if text:
                return text
            await asyncio.sleep(0.02)


def process_state(pid: int) -> str | None:
    """The kernel's one-letter state of `pid` (Z = zombie), None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return text[text.rindex(")") + 2]


def is_running(pid: int) -> bool:
    return process_state(pid) not in (None, "Z", "X")


async def wait_until_ended(pid: int, within_secs: float = 5.0) -> None:
    async with asyncio.timeout(within_secs):
        while True:
            if not is_running(pid):
                return
            await asyncio.sleep(0.02)


def kill_leftovers(state_dir: Path) -> list[str]:
    """Kill whatever the records in `state_dir` still point at; return the record names."""
    leftovers = sorted(p.name for p in state_dir.iterdir())
    for name in leftovers:
        record = json.loads((state_dir / name / RECORD_NAME).read_text())
        if is_running(record["pid"]):
            os.killpg(record["pgid"], signal.SIGKILL)
    return leftovers


@pytest.fixture
def node_id() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
async def runtime(state_dir: Path) -> AsyncIterator[ProcessRuntime]:
    rt = ProcessRuntime(state_dir)
    yield rt
    # Every test removes what it started: no record may be left, and no process alive.
    leftovers = kill_leftovers(state_dir)
    assert not leftovers, f"process records leaked: {leftovers}"
    await rt.close()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    path = tmp_path / "run"
    path.mkdir()
    return path


def make_spec(node_id: str, run_dir: Path, command: list[str] | None, **overrides) -> ContainerSpec:
    run_id = uuid.uuid4().hex
    args: dict[str, object] = {
        "run_id": run_id,
        "name": f"lstest_{run_id[:12]}",
        "image": "unused",
        "artifacts_dir": run_dir,
        "command": command,
        "env": {"LEOTEST_JOBID": "job-1", "LEOTEST_NODEID": node_id},
        "labels": {LABEL_NODE: node_id, "leotest": "true"},
    }
    args.update(overrides)
    return ContainerSpec(**args)  # type: ignore[arg-type]


def test_constructing_warns_that_there_is_no_isolation(tmp_path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="leoscope.node.runtime.process"):
        ProcessRuntime(tmp_path / "state")
    assert any(
        "no isolation" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records
    )


async def test_command_runs_in_the_run_dir_with_only_the_given_environment(
    runtime, node_id, run_dir, monkeypatch
) -> None:
    monkeypatch.setenv("LEOSCOPE_TEST_AGENT_SECRET", "must-not-leak")
    script = "echo hi > out.txt; env > env.txt; pwd > pwd.txt"
    handle = await runtime.start(make_spec(node_id, run_dir, [SH, "-c", script]))
    try:
        exit_info = await runtime.wait(handle, 10)
        assert exit_info is not None and exit_info.succeeded
        assert (run_dir / "out.txt").read_text() == "hi\n"
        assert (run_dir / "pwd.txt").read_text().strip() == str(run_dir)
        env = dict(line.split("=", 1) for line in (run_dir / "env.txt").read_text().splitlines())
        assert env["LEOSCOPE_ARTIFACTS"] == str(run_dir)
        assert env["LEOTEST_JOBID"] == "job-1" and env["LEOTEST_NODEID"] == node_id
        assert "LEOSCOPE_TEST_AGENT_SECRET" not in env
        assert handle.labels[LABEL_RUN] == handle.run_id
    finally:
        await runtime.remove(handle)


async def test_shell_metacharacters_in_arguments_are_not_interpreted(
    runtime, node_id, run_dir
) -> None:
    evil = "x; echo pwned > pwned.txt"
    handle = await runtime.start(make_spec(node_id, run_dir, ["/bin/echo", evil]))
    try:
        await runtime.wait(handle, 10)
        await runtime.collect_logs(handle, run_dir / "o", run_dir / "e")
        assert (run_dir / "o").read_text() == evil + "\n"
        assert not (run_dir / "pwned.txt").exists()
    finally:
        await runtime.remove(handle)


async def test_exit_code_is_reported(runtime, node_id, run_dir) -> None:
    handle = await runtime.start(make_spec(node_id, run_dir, [SH, "-c", "exit 3"]))
    try:
        exit_info = await runtime.wait(handle, 10)
        assert exit_info is not None and exit_info.exit_code == 3 and not exit_info.succeeded
        state = await runtime.inspect(handle)
        assert state.status is ContainerStatus.EXITED and state.exit_code == 3
        assert state.finished_at is not None and state.started_at is not None
    finally:
        await runtime.remove(handle)


async def test_stop_sends_sigterm_to_the_group(runtime, node_id, run_dir) -> None:
    script = (
        "trap 'echo bye > bye.txt; exit 0' TERM; echo ready > ready;"
        " while true; do sleep 1 & wait $!; done"
    )
    handle = await runtime.start(make_spec(node_id, run_dir, [SH, "-c", script]))
    try:
        await wait_for_file(run_dir / "ready")
        await runtime.stop(handle, grace_secs=10)
        exit_info = await runtime.wait(handle, 0)
        assert exit_info is not None and exit_info.exit_code == 0
        assert (run_dir / "bye.txt").read_text() == "bye\n"
    finally:
        await runtime.remove(handle)


async def test_stop_kills_after_the_grace_when_sigterm_is_ignored(
    runtime, node_id, run_dir
) -> None:
    script = "trap '' TERM; echo ready > ready; while true; do sleep 1; done"
    handle = await runtime.start(make_spec(node_id, run_dir, [SH, "-c", script]))
    try:
        await wait_for_file(run_dir / "ready")
        loop = asyncio.get_running_loop()
        began = loop.time()
        await runtime.stop(handle, grace_secs=0.5)
        elapsed = loop.time() - began
        exit_info = await runtime.wait(handle, 0)
        assert exit_info is not None and exit_info.exit_code == 128 + signal.SIGKILL
        assert elapsed >= 0.45, "SIGKILL came before the grace period ended"
    finally:
        await runtime.remove(handle)


async def test_processes_left_behind_die_with_the_main_process(runtime, node_id, run_dir) -> None:
    script = "sleep 30 & echo $! > bg.pid; exit 0"
    handle = await runtime.start(make_spec(node_id, run_dir, [SH, "-c", script]))
    try:
        assert (await runtime.wait(handle, 10)).exit_code == 0
        background = int(await wait_for_file(run_dir / "bg.pid"))
        await wait_until_ended(background)
    finally:
        await runtime.remove(handle)


async def test_wait_timeout_inspect_remove_and_gone(runtime, node_id, run_dir) -> None:
    handle = await runtime.start(make_spec(node_id, run_dir, ["sleep", "30"]))
    assert handle.status is ContainerStatus.RUNNING and handle.started_at is not None
    assert await runtime.wait(handle, 0.2) is None
    assert (await runtime.inspect(handle)).running
    assert await runtime.stats(handle) is None  # shares the host network
    await runtime.remove(handle)
    assert not (run_dir / RECORD_NAME).exists()
    await runtime.remove(handle)
    with pytest.raises(ContainerGone):
        await runtime.inspect(handle)


async def test_logs_go_to_run_dir_files_and_can_be_collected_and_streamed(
    runtime, node_id, run_dir
) -> None:
    script = "echo out-1; echo err-1 >&2; sleep 0.3; echo out-2; echo err-2 >&2"
    handle = await runtime.start(make_spec(node_id, run_dir, [SH, "-c", script]))
    try:
        streamed: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        async with asyncio.timeout(10):
            async for chunk in runtime.stream_logs(handle):
                streamed[chunk.stream] += chunk.data
        assert streamed == {"stdout": b"out-1\nout-2\n", "stderr": b"err-1\nerr-2\n"}
        assert (run_dir / STDOUT_NAME).read_bytes() == b"out-1\nout-2\n"
        await runtime.collect_logs(handle, run_dir / "c.out", run_dir / "c.err")
        assert (run_dir / "c.err").read_bytes() == b"err-1\nerr-2\n"
        # Collecting onto the live files themselves is a no-op, not a truncation.
        await runtime.collect_logs(handle, run_dir / STDOUT_NAME, run_dir / STDERR_NAME)
        assert (run_dir / STDOUT_NAME).read_bytes() == b"out-1\nout-2\n"
    finally:
        await runtime.remove(handle)


async def test_remove_after_the_run_dir_was_deleted_cleans_up(
    runtime, state_dir, node_id, run_dir
) -> None:
    handle = await runtime.start(make_spec(node_id, run_dir, ["sleep", "30"]))
    pid = json.loads((run_dir / RECORD_NAME).read_text())["pid"]
    shutil.rmtree(run_dir)  # the agent uploaded and deleted the run directory first
    await runtime.remove(handle)
    assert list(state_dir.iterdir()) == []
    await wait_until_ended(pid)


async def test_start_errors_leave_nothing_behind(runtime, state_dir, node_id, run_dir) -> None:
    with pytest.raises(StartError, match="no/such/binary"):
        await runtime.start(make_spec(node_id, run_dir, ["/no/such/binary"]))
    with pytest.raises(StartError, match="explicit command"):
        await runtime.start(make_spec(node_id, run_dir, None))
    with pytest.raises(StartError, match="does not exist"):
        await runtime.start(make_spec(node_id, run_dir / "absent", ["true"]))
    assert list(state_dir.iterdir()) == []


async def test_start_replaces_a_leftover_of_the_same_name(runtime, node_id, run_dir) -> None:
    first = await runtime.start(make_spec(node_id, run_dir, ["sleep", "30"]))
    first_pid = json.loads((run_dir / RECORD_NAME).read_text())["pid"]
    second = await runtime.start(
        make_spec(node_id, run_dir, ["sleep", "30"], name=first.name, stop_grace_secs=1)
    )
    try:
        assert not is_running(first_pid)
        assert (await runtime.inspect(second)).running
    finally:
        await runtime.remove(second)


OLD_AGENT = textwrap.dedent(
    """
    import asyncio, json, os, signal, sys
    from pathlib import Path
    from leoscope.node.runtime.base import ContainerSpec
    from leoscope.node.runtime.process import ProcessRuntime

    async def main():
        state_dir, specs = sys.argv[1], json.loads(sys.argv[2])
        rt = ProcessRuntime(Path(state_dir))
        pids = []
        for spec in specs:
            handle = await rt.start(ContainerSpec(**spec))
            pids.append(json.loads((Path(spec["artifacts_dir"]) / ".leoscope-process.json").read_text())["pid"])
        print(json.dumps(pids), flush=True)
        sys.stdin.read()  # "crashed" agent: the test holds us until it is done
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)

    asyncio.run(main())
    """
)


@pytest.fixture
def old_agent(state_dir: Path) -> Iterator:
    """Starts processes from another Python process (the agent before its restart)."""
    agents: list[subprocess.Popen[str]] = []

    def start(specs: list[dict]) -> list[int]:
        agent = subprocess.Popen(
            [sys.executable, "-c", OLD_AGENT, str(state_dir), json.dumps(specs)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        agents.append(agent)
        return json.loads(agent.stdout.readline())

    yield start
    for agent in agents:
        agent.communicate(timeout=10)  # closes stdin: it kills and reaps its children
        assert agent.returncode == 0


def spec_args(node_id: str, run_dir: Path, command: list[str], **extra) -> dict:
    run_id = uuid.uuid4().hex
    run_dir.mkdir(parents=True, exist_ok=True)
    return {
        "run_id": run_id,
        "name": f"lstest_{run_id[:12]}",
        "image": "unused",
        "artifacts_dir": str(run_dir),
        "command": command,
        "labels": {LABEL_NODE: node_id, **extra},
    }


async def test_a_new_runtime_re_adopts_live_and_exited_processes(
    runtime, old_agent, node_id, tmp_path
) -> None:
    live = spec_args(node_id, tmp_path / "live", [SH, "-c", "echo ready > ready; sleep 30"])
    done = spec_args(node_id, tmp_path / "done", [SH, "-c", "exit 5"])
    other = spec_args(f"{node_id}-other", tmp_path / "other", ["sleep", "30"])
    live_pid, done_pid, other_pid = old_agent([live, done, other])
    await wait_for_file(tmp_path / "live" / "ready")
    await wait_until_ended(done_pid)

    owned = {handle.name: handle for handle in await runtime.list_owned({LABEL_NODE: node_id})}
    assert set(owned) == {live["name"], done["name"]}
    assert owned[live["name"]].status is ContainerStatus.RUNNING
    assert owned[live["name"]].run_id == live["run_id"]
    assert owned[done["name"]].status is ContainerStatus.EXITED
    # The old agent never saw the exit, so the code is unknown, and says so.
    exit_info = await runtime.wait(owned[done["name"]], 0)
    assert exit_info.exit_code == EXIT_CODE_UNKNOWN and "unknown" in exit_info.error

    await runtime.stop(owned[live["name"]], grace_secs=5)
    assert not is_running(live_pid)
    assert is_running(other_pid), "a process without our labels was touched"
    for handle in await runtime.list_owned({LABEL_NODE: f"{node_id}-other"}):
        await runtime.remove(handle)
    for handle in owned.values():
        await runtime.remove(handle)


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated live process that no runtime started."""
    process = subprocess.Popen(["sleep", "30"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


async def test_a_reused_pid_is_never_taken_for_ours(
    runtime, state_dir, node_id, run_dir, stranger
) -> None:
    handle = await runtime.start(make_spec(node_id, run_dir, [SH, "-c", "exit 0"]))
    await runtime.wait(handle, 10)
    # Point our record at an unrelated live process, as if its pid had been reused.
    record_path = run_dir / RECORD_NAME
    record = json.loads(record_path.read_text())
    record.update(pid=stranger.pid, pgid=stranger.pid, exit_code=None, finished_at=None)
    record_path.write_text(json.dumps(record))
    fresh = ProcessRuntime(state_dir)
    [adopted] = await fresh.list_owned({LABEL_NODE: node_id})
    assert adopted.status is ContainerStatus.EXITED
    await fresh.stop(adopted, grace_secs=0)
    await fresh.remove(adopted)
    assert stranger.poll() is None, "the stranger process was signalled"
