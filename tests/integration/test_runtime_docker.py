"""DockerRuntime against the real Docker engine, with a busybox image built locally."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from leoscope.core.errors import InvalidInput
from leoscope.node.runtime.base import (
    LABEL_NODE,
    LABEL_RUN,
    ContainerGone,
    ContainerSpec,
    ContainerStatus,
    PullError,
    PullPolicy,
    StartError,
)
from tests.images import docker_client, ensure_busybox_image, ensure_image_with_cmd
from tests.services import docker_available, require

pytestmark = pytest.mark.docker

MIB = 1024 * 1024
HOST_CC = Path("/proc/sys/net/ipv4/tcp_congestion_control")


@pytest.fixture(scope="module")
def image() -> str:
    require(docker_available(), "Docker")
    return ensure_busybox_image()


@pytest.fixture
def node_id() -> str:
    """A node id unique to the test; every container the test makes carries it as a label."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def raw_docker(image: str) -> Iterator[object]:
    client = docker_client()
    yield client
    client.close()


@pytest.fixture
def leak_check(raw_docker, node_id: str) -> Iterator[list[str]]:
    """Fails the test if a labelled container outlives it; also removes extra names listed."""
    extra_names: list[str] = []
    yield extra_names
    leaked = raw_docker.containers.list(all=True, filters={"label": f"{LABEL_NODE}={node_id}"})
    for name in extra_names:
        leaked += raw_docker.containers.list(all=True, filters={"name": f"^{name}$"})
    for container in leaked:
        container.remove(force=True)
    assert not leaked, f"containers leaked: {[c.name for c in leaked]}"


@pytest.fixture
async def runtime(image: str, leak_check: list[str]) -> AsyncIterator[object]:
    from leoscope.node.runtime.docker import DockerRuntime

    rt = DockerRuntime()
    yield rt
    await rt.close()


def make_spec(
    image: str, node_id: str, run_dir: Path, command: list[str] | None, **overrides: object
) -> ContainerSpec:
    run_id = uuid.uuid4().hex
    args: dict[str, object] = {
        "run_id": run_id,
        "name": f"lstest_{run_id[:12]}",
        "image": image,
        "artifacts_dir": run_dir,
        "command": command,
        "env": {"LEOTEST_JOBID": "job-1", "LEOTEST_NODEID": node_id, "LEOTEST_SERVER": "0"},
        "labels": {LABEL_NODE: node_id, "jobid": "job-1", "leotest": "true", "server": "false"},
        "nano_cpus": 500_000_000,
        "memory_bytes": 64 * MIB,
        "pids_limit": 64,
        "stop_grace_secs": 2,
    }
    args.update(overrides)
    return ContainerSpec(**args)  # type: ignore[arg-type]


def read_text(path: Path) -> str:
    """The file's text, or "" while it does not exist yet."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


async def wait_for_file(path: Path, within_secs: float = 10.0) -> str:
    """Wait until the container has written something into `path` (fails after the deadline)."""
    async with asyncio.timeout(within_secs):
        while True:
            text = read_text(path)
            if text:
                return text
            await asyncio.sleep(0.05)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    path = tmp_path / "run"
    path.mkdir()
    return path


async def test_artifacts_env_and_labels_reach_the_container(
    runtime, raw_docker, image, node_id, run_dir
) -> None:
    spec = make_spec(
        image,
        node_id,
        run_dir,
        ["sh", "-c", "echo hello > /artifacts/out.txt; env > /artifacts/env.txt"],
    )
    handle = await runtime.start(spec)
    try:
        assert handle.name == spec.name and handle.run_id == spec.run_id
        exit_info = await runtime.wait(handle, 10)
        assert exit_info is not None and exit_info.exit_code == 0 and exit_info.succeeded
        assert (run_dir / "out.txt").read_text() == "hello\n"
        env_lines = (run_dir / "env.txt").read_text().splitlines()
        assert f"LEOTEST_NODEID={node_id}" in env_lines
        assert "LEOTEST_JOBID=job-1" in env_lines
        labels = raw_docker.containers.get(handle.id).labels
        assert labels[LABEL_NODE] == node_id
        assert labels[LABEL_RUN] == spec.run_id
        assert labels["leotest"] == "true" and labels["jobid"] == "job-1"
    finally:
        await runtime.remove(handle)


async def test_security_options_and_limits_are_applied(
    runtime, raw_docker, image, node_id, run_dir
) -> None:
    script = (
        "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status > /artifacts/status.txt;"
        " echo ready > /artifacts/ready; sleep 30"
    )
    spec = make_spec(image, node_id, run_dir, ["sh", "-c", script])
    handle = await runtime.start(spec)
    try:
        await wait_for_file(run_dir / "ready")
        attrs = raw_docker.api.inspect_container(handle.id)
        host = attrs["HostConfig"]
        assert host["Privileged"] is False
        assert "no-new-privileges" in host["SecurityOpt"]
        assert host["CapDrop"] == ["ALL"] and host["CapAdd"] == ["NET_RAW"]
        assert host["NanoCpus"] == 500_000_000
        assert host["Memory"] == 64 * MIB and host["MemorySwap"] == 64 * MIB
        assert host["PidsLimit"] == 64
        assert host["NetworkMode"] == "host"
        assert host["AutoRemove"] is False
        mount = next(m for m in attrs["Mounts"] if m["Destination"] == "/artifacts")
        assert mount["Source"] == str(run_dir) and mount["RW"] is True
        assert attrs["Config"]["OpenStdin"] is True and attrs["Config"]["Tty"] is False
        # What the kernel enforces inside: only CAP_NET_RAW (bit 13), no_new_privs set.
        status = dict(
            line.split(":\t") for line in (run_dir / "status.txt").read_text().splitlines()
        )
        assert int(status["CapEff"], 16) == 1 << 13
        assert status["NoNewPrivs"] == "1"
    finally:
        await runtime.remove(handle)


async def test_image_cmd_runs_when_no_command_given(runtime, node_id, run_dir) -> None:
    own_cmd_image = ensure_image_with_cmd(["sh", "-c", "echo from-cmd > /artifacts/cmd.txt"])
    handle = await runtime.start(make_spec(own_cmd_image, node_id, run_dir, None))
    try:
        assert (await runtime.wait(handle, 10)).exit_code == 0
        assert (run_dir / "cmd.txt").read_text() == "from-cmd\n"
    finally:
        await runtime.remove(handle)


async def test_nonzero_exit_code_is_reported(runtime, image, node_id, run_dir) -> None:
    handle = await runtime.start(make_spec(image, node_id, run_dir, ["sh", "-c", "exit 3"]))
    try:
        exit_info = await runtime.wait(handle, 10)
        assert exit_info is not None
        assert exit_info.exit_code == 3 and not exit_info.oom_killed and not exit_info.succeeded
        assert exit_info.describe() == "exited with code 3"
        state = await runtime.inspect(handle)
        assert state.status is ContainerStatus.EXITED and state.exit_code == 3
    finally:
        await runtime.remove(handle)


async def test_oom_kill_is_reported(runtime, image, node_id, run_dir) -> None:
    # dd's 64 MiB block buffer is filled from /dev/zero: far past the 8 MiB limit, no swap.
    command = ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]
    spec = make_spec(image, node_id, run_dir, command, memory_bytes=8 * MIB)
    handle = await runtime.start(spec)
    try:
        exit_info = await runtime.wait(handle, 15)
        assert exit_info is not None
        assert exit_info.oom_killed is True and exit_info.exit_code == 137
        assert "out-of-memory" in exit_info.describe()
    finally:
        await runtime.remove(handle)


async def test_stop_delivers_sigterm_to_a_container_that_traps_it(
    runtime, image, node_id, run_dir
) -> None:
    script = (
        "trap 'echo bye > /artifacts/bye.txt; exit 0' TERM;"
        " echo ready > /artifacts/ready; while true; do sleep 1 & wait $!; done"
    )
    handle = await runtime.start(make_spec(image, node_id, run_dir, ["sh", "-c", script]))
    try:
        await wait_for_file(run_dir / "ready")
        await runtime.stop(handle, grace_secs=10)
        exit_info = await runtime.wait(handle, 0)
        # Exit code 0 comes from the trap; SIGKILL after the grace would have given 137.
        assert exit_info is not None and exit_info.exit_code == 0
        assert (run_dir / "bye.txt").read_text() == "bye\n"
    finally:
        await runtime.remove(handle)


async def test_stop_kills_a_container_that_ignores_sigterm(
    runtime, image, node_id, run_dir
) -> None:
    script = "trap '' TERM; echo ready > /artifacts/ready; while true; do sleep 1; done"
    handle = await runtime.start(make_spec(image, node_id, run_dir, ["sh", "-c", script]))
    try:
        await wait_for_file(run_dir / "ready")
        loop = asyncio.get_running_loop()
        began = loop.time()
        await runtime.stop(handle, grace_secs=1)
        elapsed = loop.time() - began
        exit_info = await runtime.wait(handle, 0)
        assert exit_info is not None and exit_info.exit_code == 137
        assert not exit_info.oom_killed
        assert elapsed >= 0.9, "SIGKILL came before the grace period ended"
    finally:
        await runtime.remove(handle)


async def test_wait_times_out_with_none_and_remove_is_idempotent(
    runtime, image, node_id, run_dir
) -> None:
    handle = await runtime.start(make_spec(image, node_id, run_dir, ["sleep", "30"]))
    try:
        assert handle.status is ContainerStatus.RUNNING and handle.started_at is not None
        assert await runtime.wait(handle, 0.3) is None
        assert (await runtime.inspect(handle)).running
    finally:
        await runtime.remove(handle)
    await runtime.remove(handle)
    with pytest.raises(ContainerGone):
        await runtime.inspect(handle)
    with pytest.raises(ContainerGone):
        await runtime.wait(handle, 1)


async def test_pull_of_unreachable_registry_raises_with_dockers_message(runtime) -> None:
    port = free_port()
    image = f"127.0.0.1:{port}/leoscope/nothing:1"
    with pytest.raises(PullError) as caught:
        await runtime.pull(image)
    assert caught.value.image == image
    assert f"127.0.0.1:{port}" in caught.value.message
    assert "connection refused" in caught.value.message.lower()


async def test_pull_policies_use_the_local_copy(runtime, image, raw_docker) -> None:
    expected = raw_docker.images.get(image).id
    assert await runtime.pull(image, policy=PullPolicy.IF_NOT_PRESENT) == expected
    assert await runtime.pull(image, policy=PullPolicy.NEVER) == expected
    with pytest.raises(PullError, match="never"):
        await runtime.pull("leoscope-test/absent:1", policy=PullPolicy.NEVER)


async def test_start_error_carries_dockers_message_and_leaves_nothing(
    runtime, raw_docker, image, node_id, run_dir
) -> None:
    spec = make_spec(image, node_id, run_dir, ["/no/such/binary"])
    with pytest.raises(StartError) as caught:
        await runtime.start(spec)
    assert "/no/such/binary" in caught.value.message
    assert raw_docker.containers.list(all=True, filters={"name": f"^{spec.name}$"}) == []


async def test_start_error_for_a_missing_run_directory(runtime, image, node_id, tmp_path) -> None:
    spec = make_spec(image, node_id, tmp_path / "absent", ["true"])
    with pytest.raises(StartError, match="absent"):
        await runtime.start(spec)


async def test_start_replaces_a_leftover_container_of_the_same_name(
    runtime, raw_docker, image, node_id, run_dir
) -> None:
    first = await runtime.start(make_spec(image, node_id, run_dir, ["sleep", "30"]))
    spec = make_spec(image, node_id, run_dir, ["sleep", "30"], name=first.name, stop_grace_secs=0)
    second = await runtime.start(spec)
    try:
        assert second.id != first.id
        with pytest.raises(ContainerGone):
            await runtime.inspect(first)
        assert (await runtime.inspect(second)).running
    finally:
        await runtime.remove(second)


async def test_start_refuses_to_replace_a_foreign_container(
    runtime, raw_docker, image, node_id, run_dir, leak_check
) -> None:
    spec = make_spec(image, node_id, run_dir, ["sleep", "30"])
    leak_check.append(spec.name)
    foreign = raw_docker.containers.create(image, ["sleep", "30"], name=spec.name)
    with pytest.raises(StartError, match="did not create"):
        await runtime.start(spec)
    foreign.reload()
    assert foreign.status == "created"
    foreign.remove(force=True)


async def test_list_owned_finds_only_our_labelled_containers(
    runtime, raw_docker, image, node_id, run_dir, leak_check
) -> None:
    running = await runtime.start(make_spec(image, node_id, run_dir, ["sleep", "30"]))
    exited = await runtime.start(make_spec(image, node_id, run_dir, ["sh", "-c", "exit 5"]))
    other_node = await runtime.start(make_spec(image, f"{node_id}-other", run_dir, ["sleep", "30"]))
    stranger_name = f"lstest_stranger_{uuid.uuid4().hex[:8]}"
    leak_check.append(stranger_name)
    stranger = raw_docker.containers.run(image, ["sleep", "30"], name=stranger_name, detach=True)
    try:
        await runtime.wait(exited, 10)
        owned = await runtime.list_owned({LABEL_NODE: node_id})
        by_name = {handle.name: handle for handle in owned}
        assert set(by_name) == {running.name, exited.name}
        assert by_name[running.name].status is ContainerStatus.RUNNING
        assert by_name[exited.name].status is ContainerStatus.EXITED
        assert by_name[running.name].run_id == running.run_id
        assert by_name[running.name].labels["leotest"] == "true"
        assert by_name[running.name].started_at == running.started_at
        with pytest.raises(InvalidInput):
            await runtime.list_owned({})
        stranger.reload()
        assert stranger.status == "running"
    finally:
        for handle in (running, exited, other_node):
            await runtime.remove(handle)
        stranger.remove(force=True)


async def test_sysctl_applies_inside_the_container_only(runtime, image, node_id, run_dir) -> None:
    host_before = read_text(HOST_CC)
    spec = make_spec(
        image,
        node_id,
        run_dir,
        ["sh", "-c", f"cat {HOST_CC} > /artifacts/cc.txt"],
        network="bridge",
        sysctls={"net.ipv4.tcp_congestion_control": "reno"},
    )
    handle = await runtime.start(spec)
    try:
        assert (await runtime.wait(handle, 10)).exit_code == 0
        assert (run_dir / "cc.txt").read_text().strip() == "reno"
        assert read_text(HOST_CC) == host_before
        assert host_before.strip() != "reno"
    finally:
        await runtime.remove(handle)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def send_line(port: int, line: bytes) -> None:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as conn:
        conn.sendall(line)


async def test_ports_are_published_from_a_bridge_network(runtime, image, node_id, run_dir) -> None:
    port = free_port()
    spec = make_spec(
        image,
        node_id,
        run_dir,
        ["sh", "-c", "nc -l -p 5201 > /artifacts/got.txt"],
        network="bridge",
        ports={"5201/tcp": port},
    )
    handle = await runtime.start(spec)
    try:
        # docker-proxy accepts before nc listens; resend until the line arrives inside.
        async with asyncio.timeout(10):
            while True:
                await asyncio.to_thread(send_line, port, b"hello-through-the-port\n")
                if read_text(run_dir / "got.txt"):
                    break
                await asyncio.sleep(0.1)
        assert read_text(run_dir / "got.txt") == "hello-through-the-port\n"
    finally:
        await runtime.remove(handle)


async def test_user_option_runs_the_container_as_that_uid(runtime, image, node_id, run_dir) -> None:
    run_dir.chmod(0o777)
    spec = make_spec(
        image, node_id, run_dir, ["sh", "-c", "id -u > /artifacts/uid.txt"], user="65534:65534"
    )
    handle = await runtime.start(spec)
    try:
        assert (await runtime.wait(handle, 10)).exit_code == 0
        assert read_text(run_dir / "uid.txt") == "65534\n"
        assert (run_dir / "uid.txt").stat().st_uid == 65534
    finally:
        await runtime.remove(handle)


async def test_logs_are_collected_and_streamed_per_stream(runtime, image, node_id, run_dir) -> None:
    script = "echo out-1; echo err-1 >&2; sleep 0.3; echo out-2; echo err-2 >&2"
    handle = await runtime.start(make_spec(image, node_id, run_dir, ["sh", "-c", script]))
    try:
        streamed: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        async with asyncio.timeout(10):
            async for chunk in runtime.stream_logs(handle):
                streamed[chunk.stream] += chunk.data
        assert streamed == {"stdout": b"out-1\nout-2\n", "stderr": b"err-1\nerr-2\n"}
        await runtime.wait(handle, 10)
        await runtime.collect_logs(handle, run_dir / "c.stdout", run_dir / "c.stderr")
        assert (run_dir / "c.stdout").read_bytes() == b"out-1\nout-2\n"
        assert (run_dir / "c.stderr").read_bytes() == b"err-1\nerr-2\n"
    finally:
        await runtime.remove(handle)


async def test_stats_count_bridge_traffic_and_are_none_on_the_host_network(
    runtime, image, node_id, run_dir
) -> None:
    script = (
        "gw=$(ip route | awk '/default/ {print $3}'); ping -c 3 -i 0.2 -W 1 $gw;"
        " echo done > /artifacts/done; sleep 30"
    )
    bridged = await runtime.start(
        make_spec(image, node_id, run_dir, ["sh", "-c", script], network="bridge")
    )
    on_host = await runtime.start(make_spec(image, node_id, run_dir, ["sleep", "30"]))
    try:
        await wait_for_file(run_dir / "done")
        stats = await runtime.stats(bridged)
        assert stats is not None
        assert stats.tx_bytes >= 3 * 98 and stats.rx_bytes >= 3 * 98  # three 98-byte echoes
        assert await runtime.stats(on_host) is None
    finally:
        await runtime.remove(bridged)
        await runtime.remove(on_host)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"command": "echo hi; rm -rf /"}, "command"),
        ({"ports": {"5201/tcp": 5201}}, "ports"),
        ({"sysctls": {"net.ipv4.tcp_congestion_control": "reno"}}, "sysctls["),
        ({"artifacts_dir": Path("relative/dir")}, "artifacts_dir"),
        ({"memory_bytes": 1024}, "memory_bytes"),
        ({"name": "bad name"}, "name"),
        ({"cap_add": ["ALL"]}, "cap_add"),
        ({"labels": {LABEL_RUN: "someone-else"}}, "labels["),
        ({"stop_grace_secs": -1}, "stop_grace_secs"),
        ({"env": {"A": 1}}, "env[A]"),
    ],
)
def test_spec_rejects_bad_input_naming_the_field(overrides: dict, field: str) -> None:
    command = overrides.pop("command", ["true"])
    with pytest.raises(InvalidInput) as caught:
        make_spec("img", "node", Path("/tmp/run"), command, **overrides)
    assert caught.value.field.startswith(field)


def test_spec_normalises_host_network_and_freezes_collections() -> None:
    spec = make_spec(
        "img", "node", Path("/tmp/run"), ["a", "b"], network="host", cap_add=["cap_net_raw"]
    )
    assert spec.network is None
    assert spec.command == ("a", "b")
    assert spec.cap_add == ("NET_RAW",)
    with pytest.raises(TypeError):
        spec.env["X"] = "y"  # type: ignore[index]
