"""The agent on the process runtime (hosts without Docker): same contract, plain processes."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import yaml

from leoscope.client import Client

from .conftest import Node, next_second, schedule_at, wait_for_run
from .uploads import run_archive

SCRIPT = """
import json, os, pathlib, sys
out = pathlib.Path(os.environ["LEOSCOPE_ARTIFACTS"])
(out / "seen.json").write_text(json.dumps({"argv": sys.argv[1:], "env": dict(os.environ)}))
print("process experiment ran")
sys.exit(int(sys.argv[1]))
"""


def process_config(exit_code: int, *args: str) -> str:
    command = [sys.executable, "-c", SCRIPT, str(exit_code), *args]
    return yaml.safe_dump({"process": {"command": command}})


async def test_process_runtime_runs_the_command_without_a_shell(
    admin: Client, node: Node, make_agent, caplog
) -> None:
    marker = Path("/tmp") / f"leoscope-pwned-{uuid.uuid4().hex}"
    hostile = f"$(touch {marker}); `touch {marker}`"
    agent = await make_agent(runtime="process").start()
    assert "runtime=process" in caplog.text  # the agent says so, as a WARNING
    schedule_at(admin, "proc", node, next_second(1.5), process_config(0, hostile))
    run = await wait_for_run(admin, "proc", ("COMPLETE", "FAILED"))
    assert run.status == "COMPLETE", run.status_message
    assert not marker.exists()
    with run_archive(admin, run) as zf:
        seen = json.loads(zf.read(f"{run.runid}/seen.json"))
        assert b"process experiment ran" in zf.read(f"{run.runid}/container.stdout")
        names = {n.split("/", 1)[1] for n in zf.namelist()}
    assert seen["argv"] == ["0", hostile]
    assert seen["env"]["LEOTEST_JOBID"] == "proc"
    assert seen["env"]["LEOSCOPE_RUN_ID"] == run.runid
    assert node.token not in json.dumps(seen["env"])
    assert {"experiment-config.yaml", "experiment-args.json", "executor.stdout"} <= names
    assert not any(name.startswith(".leoscope") for name in names)
    assert agent.runtime.kind == "process"


async def test_process_runtime_exit_code_3_fails(admin: Client, node: Node, make_agent) -> None:
    await make_agent(runtime="process").start()
    schedule_at(admin, "proc3", node, next_second(1.5), process_config(3))
    run = await wait_for_run(admin, "proc3", ("COMPLETE", "FAILED"))
    assert run.status == "FAILED"
    assert run.status_message == "experiment failed: exit code 3"
