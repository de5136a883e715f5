"""A run's directory (the container's /artifacts): the files put there, and the executor's log.

Before the container starts the directory holds (wire contract §6.3):

    experiment-config.yaml   the job's config, verbatim
    experiment-args.json     the get_job_by_id answer in protobuf's JSON mapping (camelCase,
                             defaults omitted), without `config` (it is in the YAML above)
    executor-config.yaml     the node's executor config; registry credentials are replaced by
                             "<redacted>" (the experiment must never see them)
    executor.stdout          the executor's log of this run, every line
    executor.stderr          the same run's warnings and errors

and after the container ends `container.stdout` / `container.stderr`, its whole output.
Everything is written with plain file APIs; nothing here passes through a shell.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format

from leoscope.api import leotest_pb2 as pb
from leoscope.core.timeutil import from_epoch, iso_z

from .clock import Clock

log = logging.getLogger(__name__)

EXPERIMENT_CONFIG = "experiment-config.yaml"
EXPERIMENT_ARGS = "experiment-args.json"
EXECUTOR_CONFIG = "executor-config.yaml"
EXECUTOR_STDOUT = "executor.stdout"
EXECUTOR_STDERR = "executor.stderr"
CONTAINER_STDOUT = "container.stdout"
CONTAINER_STDERR = "container.stderr"
REDACTED = "<redacted>"


def experiment_args(
    detail: pb.message_get_job_by_id_response | None, summary: pb.job
) -> dict[str, Any]:
    """`experiment-args.json`: the detail's JSON mapping, or the summary's when it is missing."""
    if detail is not None:
        args = json_format.MessageToDict(detail)
    else:
        args = json_format.MessageToDict(summary)
        args["exists"] = True
    args.pop("config", None)
    return args


def executor_config_copy(text: str) -> str:
    """The executor config as the experiment may see it: verbatim unless it holds secrets."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError:
        return ""
    docker = data.get("docker") if isinstance(data, dict) else None
    auth = docker.get("auth") if isinstance(docker, dict) else None
    if not isinstance(auth, dict):
        return text
    docker["auth"] = dict.fromkeys(auth, REDACTED)
    return yaml.safe_dump(data, sort_keys=False)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def prepare_run_dir(
    run_dir: Path,
    *,
    config_text: str,
    summary: pb.job,
    detail: pb.message_get_job_by_id_response | None,
    executor_config_text: str,
) -> None:
    """Create the run directory with the files the experiment reads (idempotent)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    _write(run_dir / EXPERIMENT_CONFIG, config_text)
    args = experiment_args(detail, summary)
    _write(run_dir / EXPERIMENT_ARGS, json.dumps(args, indent=2, sort_keys=True) + "\n")
    _write(run_dir / EXECUTOR_CONFIG, executor_config_copy(executor_config_text))
    for name in (EXECUTOR_STDOUT, EXECUTOR_STDERR):
        (run_dir / name).touch()


class RunLog:
    """The executor's log of one run, written into the run directory and the agent's log.

    Lines look like `2024-05-01T10:00:00.123Z INFO message`. Every line goes to
    executor.stdout; WARNING and ERROR lines also go to executor.stderr. The agent's module
    logger gets the same line with `run=<id>` for the operator.
    """

    def __init__(self, run_dir: Path, runid: str, clock: Clock) -> None:
        self.run_dir = run_dir
        self.runid = runid
        self._clock = clock

    def _line(self, level: int, msg: str, args: tuple[Any, ...]) -> None:
        text = msg % args if args else msg
        # The agent's own log gets one INFO line per status (executor.py); details at DEBUG.
        log.log(level if level >= logging.WARNING else logging.DEBUG, "run=%s %s", self.runid, text)
        stamp = iso_z(from_epoch(self._clock.time()))
        line = f"{stamp} {logging.getLevelName(level)} {text}\n"
        try:
            if not self.run_dir.is_dir():
                return
            with (self.run_dir / EXECUTOR_STDOUT).open("a") as out:
                out.write(line)
            if level >= logging.WARNING:
                with (self.run_dir / EXECUTOR_STDERR).open("a") as err:
                    err.write(line)
        except OSError as exc:
            log.warning("run=%s cannot write the executor log: %s", self.runid, exc)

    def info(self, msg: str, *args: Any) -> None:
        self._line(logging.INFO, msg, args)

    def warning(self, msg: str, *args: Any) -> None:
        self._line(logging.WARNING, msg, args)

    def error(self, msg: str, *args: Any) -> None:
        self._line(logging.ERROR, msg, args)
