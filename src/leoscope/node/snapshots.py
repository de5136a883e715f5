"""Partial results: snapshots of a running run's /artifacts, uploaded every `sync_interval`.

An experiment config may ask for them:

    artifacts:
      sync_interval: 60      # seconds

`SnapshotHook.before_start` then starts a task for the run; `after_exit` stops it (before the
final archive is made). Every interval the task zips the run directory the way the final
archive is made (one top-level folder `<runid>/`), adds the container's output so far as
`container.stdout` / `container.stderr`, and uploads it through the uploader as

    <artifactPath>/<nodeid>/<jobid>/<YYYY>/<M>/<D>/<runid>.partial-<n>.zip     n = 1, 2, ...

A store never overwrites a blob with other content, so each snapshot takes the next number,
and a run directory unchanged since the last snapshot is not uploaded again. Each snapshot is
whole (not a delta): any one of them can be read alone. The run then reports the snapshot as
its `blob_name` (with its current status), so get_download_url -- `leoscope run download`,
`leoscope run logs --follow` -- serves the newest snapshot while the run goes on; the final
report names the final archive. If the node dies mid-run, the newest snapshot is what the
run's record points at. Old snapshots stay in the store until its retention sweep.

Snapshots are best effort: one attempt each (a failure is logged and the next interval tries
again), none after an agent restart adopted the run's container, and none with an
orchestrator that has no artifact store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import time
import zipfile
from pathlib import Path

from leoscope.core.errors import InvalidInput
from leoscope.core.experiment import parse_experiment_config

from .records import RunPhase
from .rundir import CONTAINER_STDERR, CONTAINER_STDOUT
from .runtime.base import LABEL_RUN, ContainerSpec, Runtime, RuntimeErrorBase
from .seams import Outcome, RunContext, RunHook
from .tasks import cancel_and_wait
from .upload import Uploader
from .upload_errors import classify

log = logging.getLogger(__name__)

_PRIVATE_PREFIX = ".leoscope"
Manifest = tuple[tuple[str, int, int], ...]


def sync_interval(config_text: str) -> float | None:
    """`artifacts.sync_interval` of an experiment config (None when unset or unreadable)."""
    try:
        config = parse_experiment_config(config_text)
    except InvalidInput:
        return None
    return config.artifacts.sync_interval if config.artifacts else None


def manifest(run_dir: Path, extra: dict[str, Path]) -> Manifest:
    """(name, size, mtime) of every file a snapshot would hold: cheap change detection."""
    items: list[tuple[str, int, int]] = []
    for dirpath, dirnames, filenames in os.walk(run_dir, followlinks=False):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(filenames):
            if name.startswith(_PRIVATE_PREFIX):
                continue
            relative = (base / name).relative_to(run_dir).as_posix()
            if relative in extra:
                continue
            with contextlib.suppress(OSError):
                st = (base / name).lstat()
                items.append((relative, st.st_size, st.st_mtime_ns))
    for name, path in sorted(extra.items()):
        with contextlib.suppress(OSError):
            st = path.stat()
            items.append((name, st.st_size, -1))  # rewritten each time: compare sizes only
    return tuple(items)


def write_snapshot(run_dir: Path, runid: str, extra: dict[str, Path], target: Path) -> None:
    """Zip `run_dir` (plus `extra` files, by name) under `<runid>/` into `target` (blocking).

    Files may change or vanish while the experiment runs: each is stored as read at that
    moment, and one that vanished is left out. Symlinks are never followed.
    """
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.writestr(zipfile.ZipInfo(f"{runid}/"), b"")
        for dirpath, dirnames, filenames in os.walk(run_dir, followlinks=False):
            dirnames.sort()
            base = Path(dirpath)
            for name in sorted(filenames):
                source = base / name
                if name.startswith(_PRIVATE_PREFIX) or source.is_symlink():
                    continue
                relative = source.relative_to(run_dir).as_posix()
                if relative in extra:  # e.g. the process runtime writes its logs here itself
                    continue
                arcname = f"{runid}/{relative}"
                with contextlib.suppress(FileNotFoundError):
                    zf.write(source, arcname)
        for name, path in sorted(extra.items()):
            with contextlib.suppress(FileNotFoundError):
                zf.write(path, f"{runid}/{name}")


class SnapshotHook(RunHook):
    """Starts and stops one snapshot task per run that asks for them."""

    def __init__(self, uploader: Uploader, runtime: Runtime) -> None:
        self.uploader = uploader
        self.runtime = runtime
        self.staging = uploader.spool_dir / "snapshots"
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def before_start(self, run: RunContext, spec: ContainerSpec) -> ContainerSpec:
        interval = sync_interval(run.job.config or "")
        if interval is not None and run.runid not in self._tasks:
            log.info("run=%s snapshots of /artifacts every %g s", run.runid, interval)
            self._tasks[run.runid] = asyncio.create_task(
                self._snapshots(run, interval), name=f"snapshots-{run.runid[:8]}"
            )
        return spec

    async def after_exit(self, run: RunContext, outcome: Outcome) -> None:
        await self.stop(run.runid)

    async def after_final(self, run: RunContext, status: str, message: str) -> None:
        await self.stop(run.runid)

    async def stop(self, runid: str) -> None:
        await cancel_and_wait(self._tasks.pop(runid, None))

    async def close(self) -> None:
        for runid in list(self._tasks):
            await self.stop(runid)

    async def _snapshots(self, run: RunContext, interval: float) -> None:
        number = 0
        last: Manifest | None = None
        next_at = time.monotonic() + interval
        while True:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at + interval, time.monotonic())  # no drift, no bursts
            try:
                taken = await self._take(run, last)
                if taken is None:
                    continue
                current, path = taken
                try:
                    name = await self.uploader.upload_snapshot(run.record, path, number + 1)
                finally:
                    path.unlink(missing_ok=True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                problem = classify(exc)
                if problem.kind == "unsupported":
                    log.info("run=%s no snapshots: %s", run.runid, problem.reason)
                    return
                if problem.kind == "conflict":  # that number was taken (an earlier attempt)
                    number += 1
                log.warning(
                    "run=%s snapshot %d not uploaded: %s", run.runid, number + 1, problem.reason
                )
                continue
            number += 1
            last = current
            self._announce(run, name)

    async def _take(self, run: RunContext, last: Manifest | None) -> tuple[Manifest, Path] | None:
        """A new snapshot zip, or None when nothing changed since `last`."""
        self.staging.mkdir(parents=True, exist_ok=True)
        logs = Path(tempfile.mkdtemp(prefix=f"{run.runid[:8]}-", dir=self.staging))
        try:
            extra = await self._container_output(run, logs)
            current = await asyncio.to_thread(manifest, run.run_dir, extra)
            if current == last:
                return None
            target = self.staging / f"{run.runid}.partial.zip"
            await asyncio.to_thread(write_snapshot, run.run_dir, run.runid, extra, target)
            return current, target
        finally:
            await asyncio.to_thread(_remove_tree, logs)

    async def _container_output(self, run: RunContext, into: Path) -> dict[str, Path]:
        try:
            found = await self.runtime.list_owned({LABEL_RUN: run.runid})
            if not found:
                return {}
            stdout, stderr = into / CONTAINER_STDOUT, into / CONTAINER_STDERR
            await self.runtime.collect_logs(found[0], stdout, stderr)
        except RuntimeErrorBase as exc:
            log.debug("run=%s no container output for the snapshot: %s", run.runid, exc)
            return {}
        return {CONTAINER_STDOUT: stdout, CONTAINER_STDERR: stderr}

    def _announce(self, run: RunContext, name: str) -> None:
        """Report the snapshot as the run's blob_name, with the status it has now."""
        record = run.record
        if record.phase not in (RunPhase.STARTING, RunPhase.RUNNING, RunPhase.COLLECTING):
            return
        run.state.update_run(
            run.runid, status=record.status, message=record.status_message, blob_name=name
        )
        log.info("run=%s partial snapshot uploaded blob=%s", run.runid, name)


def _remove_tree(path: Path) -> None:
    for child in path.iterdir():
        child.unlink(missing_ok=True)
    path.rmdir()
