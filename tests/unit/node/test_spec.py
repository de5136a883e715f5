"""From run and executor config to the container: env, labels, limits, names, policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leoscope.core.errors import InvalidInput
from leoscope.core.experiment import parse_executor_config, parse_experiment_config
from leoscope.core.timeutil import to_epoch
from leoscope.node.records import RunRecord
from leoscope.node.runtime.base import PullPolicy
from leoscope.node.spec import build_spec, container_name, execution_policy, parse_memory

from .helpers import NODE, job_msg

T0 = datetime(2030, 5, 7, 9, 30, tzinfo=UTC)
RUNID = "0123456789abcdef0123456789abcdef"


def run_record() -> RunRecord:
    msg = job_msg("exp-1", T0, T0 + timedelta(hours=1))
    return RunRecord(
        runid=RUNID,
        jobid="exp-1",
        userid="alice",
        slot=to_epoch(T0),
        deadline=to_epoch(T0) + 30,
        start_time=to_epoch(T0) + 0.25,
        run_relpath=f"{NODE}/exp-1/2030/5/7/{RUNID}",
        job_blob=msg.SerializeToString(),
    )


def spec_for(experiment: str, executor: str = "", runtime: str = "docker"):
    return build_spec(
        record=run_record(),
        experiment=parse_experiment_config(experiment),
        policy=execution_policy(parse_executor_config(executor)),
        node_id=NODE,
        runtime_kind=runtime,
        run_dir=Path("/data/runs") / run_record().run_relpath,
    )


def test_reference_environment_labels_and_name() -> None:
    spec = spec_for("docker: {image: 'img:1', execute: {name: leo-measurement}}")
    assert spec.name == f"leo-measurement_exp-1_{RUNID}"
    assert spec.command is None, "the image's own CMD runs"
    assert dict(spec.env) == {
        "LEOTEST_SERVER": "0",
        "LEOTEST_JOBID": "exp-1",
        "LEOTEST_NODEID": NODE,
        "LEOTEST_SERVERIP": "None",
        "LEOTEST_SERVER_NODEID": "None",
        "LEOSCOPE_RUN_ID": RUNID,
    }
    labels = dict(spec.labels)
    assert labels["start_time"] == "2030-05-07 09:30:00.250000"
    assert labels["start_date"] == "2030-05-07T09:30:00"
    assert labels["type"] == "atq" and labels["overhead"] == "true" and labels["server"] == "false"
    assert labels["leoscope.node"] == NODE and labels["leoscope.job"] == "exp-1"
    assert {"runid", "jobid", "userid", "end_date", "leotest"} <= set(labels)


def test_defaults_limit_and_harden_the_container() -> None:
    spec = spec_for("docker: {image: img}")
    assert spec.network is None  # host network, as the reference
    assert spec.nano_cpus == 1_000_000_000 and spec.memory_bytes == 512 * 1024**2
    assert spec.pids_limit == 512 and spec.cap_add == ("NET_RAW",)
    assert spec.stop_grace_secs == 10.0
    assert spec.artifacts_dir == Path("/data/runs") / run_record().run_relpath
    assert spec.artifacts_dest == "/artifacts"


def test_executor_config_network_volume_limits_and_pull_policy() -> None:
    executor = """
docker:
  pull_policy: IF-NOT-PRESENT
  auth: {username: u, password: p, registry: reg.example}
  execute:
    network: leotest-net
    volume: {source: /datadrive1/leoscope/jobs, dest: /results}
    cpus: 1.5
    memory: 1g
    cap_add: [NET_RAW, NET_ADMIN]
"""
    policy = execution_policy(parse_executor_config(executor))
    assert policy.pull_policy is PullPolicy.IF_NOT_PRESENT
    spec = spec_for("docker: {image: img, execute: {ports: {'5201/tcp': 5201}}}", executor)
    assert spec.network == "leotest-net" and dict(spec.ports) == {"5201/tcp": 5201}
    assert spec.artifacts_dir == Path("/datadrive1/leoscope/jobs") / run_record().run_relpath
    assert spec.artifacts_dest == "/results"
    assert spec.nano_cpus == 1_500_000_000 and spec.memory_bytes == 1024**3
    assert spec.cap_add == ("NET_RAW", "NET_ADMIN")
    assert spec.auth is not None and spec.auth.server == "reg.example"


def test_bad_executor_settings_name_the_key() -> None:
    with pytest.raises(InvalidInput) as info:
        execution_policy(parse_executor_config("docker: {pull_policy: sometimes}"))
    assert info.value.field == "docker.pull_policy"
    with pytest.raises(InvalidInput) as info:
        execution_policy(parse_executor_config("docker: {execute: {memory: lots}}"))
    assert info.value.field == "docker.execute.memory"


def test_runtime_needs_its_section() -> None:
    with pytest.raises(InvalidInput, match="docker section"):
        spec_for("process: {command: ['/bin/true']}")
    with pytest.raises(InvalidInput, match="process.command"):
        spec_for("docker: {image: img}", runtime="process")
    spec = spec_for("process: {command: ['/bin/echo', '$(rm -rf /)']}", runtime="process")
    assert spec.command == ("/bin/echo", "$(rm -rf /)")


def test_hostile_names_become_safe_container_names() -> None:
    name = container_name("x$(touch /tmp/p);`id`", "job@example.org", RUNID)
    assert name == f"x--touch--tmp-p---id-_job-example.org_{RUNID}"
    assert container_name("-lead", "j", RUNID).startswith("x-lead")


@pytest.mark.parametrize(
    ("text", "size"),
    [("512m", 512 * 1024**2), ("1g", 1024**3), ("64MB", 64 * 1024**2), ("4096", 4096)],
)
def test_memory_sizes(text: str, size: int) -> None:
    assert parse_memory(text) == size
