"""Scheduling maths: vectorized cron expansion and the interval-index conflict check.

Prints one JSON line per result, each against a baseline measured in the same run:

* `cron_expand_year`: `* * * * *` over a year with core.schedule.expand_cron, against croniter
  stepping one fire at a time (timed over the first days of the same year and scaled per fire
  to the year; both give identical fire times, which the run checks). Target >= 50x.
* `conflict_check`: a `*/10` candidate (4,320 runs of 60 s over 30 days, which fit) against K =
  10, 100 and 1,000 overhead jobs that densely fill the same 30 days without clashing (cron jobs
  at distinct minute offsets and date sub-windows, mixed with one-shot jobs). "warm" is what the
  orchestrator does with cached per-node indexes: admit the candidate (expand, bound, self
  overlap) and search the index. "cold" also expands every existing job and builds the index.
  p50 and p99 per K.
* `reference_pairwise`: the reference's pairwise check (leoscope-reference.md section 5.2,
  reimplemented here with croniter) on the K = 100 calendar: as many pairs as the time budget
  allows, scaled per pair to all 100 jobs, against our warm p50. Target >= 1,000x.

    .venv/bin/python bench/schedule.py [--quick] [--baseline-secs S]

`make_dense_calendar` and `make_candidate` build core.model.Job objects, so an orchestrator-level
benchmark (schedule_job over gRPC against the same calendars) can reuse them.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
from croniter import croniter, croniter_range

from leoscope.core.conflicts import BusyIndex, BusyJob
from leoscope.core.model import Job, JobType
from leoscope.core.schedule import admission_occurrences, expand_cron
from leoscope.core.timeutil import to_epoch

BENCH = "schedule"
BENCH_CONFIG = "docker: {image: bench/probe:latest}\n"
NODE = "bench-node"
USER = "bench"
RUN_SECS = 60
CRON_OFFSETS = tuple(range(1, 9))
"""Minute offsets (mod 10) for the calendar's cron jobs; 0 is the candidate's, 9 one-shots'."""
WINDOW_START = datetime(2030, 1, 1, tzinfo=UTC)
"""In the future, so an orchestrator accepts the one-shot jobs too."""


def make_dense_calendar(k: int, window_start: datetime, window_days: int = 30) -> list[Job]:
    """K overhead jobs on "bench-node" that fill 90 % of the window in 60-second runs.

    Every tenth job (at least one) is a one-shot at a minute ending in 9. The rest are cron jobs
    `c-59/10 * * * *` for c in 1..8, each offset's 30 days cut into consecutive date sub-windows
    shared among the jobs of that offset. No two jobs clash, and minutes ending in 0 stay free.
    """
    window_secs = window_days * 86400
    one_shots = max(1, k // 10)
    crons = k - one_shots
    jobs: list[Job] = []
    for j in range(crons):
        offset = CRON_OFFSETS[j % len(CRON_OFFSETS)]
        block = j // len(CRON_OFFSETS)
        blocks = len(range(j % len(CRON_OFFSETS), crons, len(CRON_OFFSETS)))
        span = window_secs // blocks
        first = window_start + timedelta(seconds=block * span)
        last_exclusive = window_secs if block == blocks - 1 else (block + 1) * span
        jobs.append(
            Job(
                id=f"bench-{k}-cron-{j:04d}",
                nodeid=NODE,
                type=JobType.CRON,
                start=first,
                end=window_start + timedelta(seconds=last_exclusive - 1),
                length_secs=RUN_SECS,
                userid=USER,
                schedule=f"{offset}-59/10 * * * *",
                overhead=True,
            )
        )
    slots = window_secs // 600
    for i in range(one_shots):
        at = window_start + timedelta(seconds=(i * slots // one_shots) * 600 + 540)
        jobs.append(
            Job(
                id=f"bench-{k}-once-{i:04d}",
                nodeid=NODE,
                type=JobType.ATQ,
                start=at,
                end=at + timedelta(days=1),
                length_secs=RUN_SECS,
                userid=USER,
                overhead=True,
            )
        )
    return jobs


def make_candidate(
    window_start: datetime, window_days: int = 30, jobid: str = "bench-candidate"
) -> Job:
    """A `*/10` overhead job over the whole window that fits the dense calendar exactly."""
    return Job(
        id=jobid,
        nodeid=NODE,
        type=JobType.CRON,
        start=window_start,
        end=window_start + timedelta(days=window_days, seconds=-1),
        length_secs=RUN_SECS,
        userid=USER,
        schedule="*/10 * * * *",
        overhead=True,
    )


# --- the reference's pairwise rules (section 5.2), for the baseline ---------------------------


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)


def _reference_cron_cron(new: Job, old: Job) -> bool:
    lo, hi = max(_naive(new.start), _naive(old.start)), min(_naive(new.end), _naive(old.end))
    if lo >= hi:
        return False
    length_new, length_old = timedelta(seconds=new.length_secs), timedelta(seconds=old.length_secs)
    for a in croniter_range(lo, hi, new.schedule):
        for b in croniter_range(a - length_new, a + length_new, old.schedule):
            if b != a + length_new and b + length_old != a:
                return True
    return False


def _reference_atq_cron(once: Job, cron: Job) -> bool:
    start = _naive(once.start)
    end = start + timedelta(seconds=once.length_secs)
    if max(_naive(cron.start), start) >= min(_naive(cron.end), end):
        return False
    length = timedelta(seconds=cron.length_secs)
    return any(c != end and c + length != start for c in croniter_range(start, end, cron.schedule))


def _reference_atq_atq(a: Job, b: Job) -> bool:
    starts = (_naive(a.start), _naive(b.start))
    ends = (
        starts[0] + timedelta(seconds=a.length_secs),
        starts[1] + timedelta(seconds=b.length_secs),
    )
    return max(starts) <= min(ends)


def reference_pair_conflicts(new: Job, old: Job) -> bool:
    """Whether the reference would report a conflict between a new and an existing job."""
    if new.type == JobType.CRON and old.type == JobType.CRON:
        return _reference_cron_cron(new, old)
    if new.type == JobType.ATQ and old.type == JobType.ATQ:
        return _reference_atq_atq(new, old)
    once, cron = (new, old) if new.type == JobType.ATQ else (old, new)
    return _reference_atq_cron(once, cron)


# --- measuring ---------------------------------------------------------------------------------


def line(metric: str, value: float, unit: str, **extra: object) -> None:
    record: dict[str, object] = {
        "bench": BENCH,
        "metric": metric,
        "value": round(value, 6),
        "unit": unit,
        "baseline": None,
        "ratio": None,
        "target": None,
        "met": None,
    }
    record.update(extra)
    print(json.dumps(record), flush=True)


def timings(action: Callable[[], object], repeats: int) -> np.ndarray:
    """Wall-clock seconds of each of `repeats` calls, after one untimed warm-up call."""
    action()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - start)
    return np.array(seconds)


def bench_expansion(baseline_days: int) -> None:
    start = to_epoch(datetime(2025, 1, 1, tzinfo=UTC))
    year_end = start + 365 * 86400
    ours = float(np.median(timings(lambda: expand_cron("* * * * *", start, year_end), 7)))
    year_fires = len(expand_cron("* * * * *", start, year_end))
    sample_end = start + baseline_days * 86400
    began = time.perf_counter()
    it = croniter("* * * * *", datetime(2024, 12, 31, 23, 59, 59))
    stepped = []
    while (t := int(it.get_next(float))) < sample_end:
        stepped.append(t)
    croniter_secs = time.perf_counter() - began
    if stepped != expand_cron("* * * * *", start, sample_end).tolist():
        raise SystemExit("expand_cron and croniter disagree")
    baseline = croniter_secs * year_fires / len(stepped)
    ratio = baseline / ours
    line(
        "cron_expand_year",
        ours,
        "s",
        baseline=round(baseline, 3),
        ratio=round(ratio, 1),
        target=50,
        met=ratio >= 50,
        fires=year_fires,
        note=f"croniter timed over {baseline_days} days ({len(stepped)} identical fires), "
        "scaled per fire to the year",
    )


def bench_conflicts(k: int, repeats: int) -> float:
    """Print warm and cold latencies for K existing jobs; return the warm p50 in seconds."""
    jobs = make_dense_calendar(k, WINDOW_START)
    candidate = make_candidate(WINDOW_START)
    now = WINDOW_START
    window_end = to_epoch(WINDOW_START) + 400 * 86400

    def calendar() -> BusyIndex:
        lo = to_epoch(now)
        return BusyIndex([BusyJob.from_job(j, lo, window_end) for j in jobs], NODE)

    index = calendar()
    starts = admission_occurrences(candidate, now)
    assert len(starts) == 4320 and not index.find_conflicts(starts, candidate.length_secs)
    clashing = starts + 60  # a shifted candidate clashes with the offset-1 jobs: still exact
    assert len(index.find_conflicts(clashing, candidate.length_secs)) == len(
        [j for j in jobs if j.schedule.startswith("1-")]
    )

    def warm() -> object:
        return index.find_conflicts(admission_occurrences(candidate, now), candidate.length_secs)

    def cold() -> object:
        fresh = calendar()
        return fresh.find_conflicts(admission_occurrences(candidate, now), candidate.length_secs)

    warm_times = timings(warm, repeats) * 1000
    cold_times = timings(cold, max(5, repeats // 10)) * 1000
    for name, values in (("warm", warm_times), ("cold", cold_times)):
        for quantile in (50, 99):
            line(
                f"conflict_check_{name}_p{quantile}",
                float(np.percentile(values, quantile)),
                "ms",
                k=k,
                runs_in_calendar=len(index),
                candidate_runs=len(starts),
            )
    return float(np.percentile(warm_times, 50)) / 1000


def bench_reference(ours_p50: float, budget_secs: float) -> None:
    k = 100
    jobs = make_dense_calendar(k, WINDOW_START)
    candidate = make_candidate(WINDOW_START)
    rng = random.Random(7)
    kinds = {kind: [j for j in jobs if j.type == kind] for kind in (JobType.CRON, JobType.ATQ)}
    spent = dict.fromkeys(kinds, 0.0)
    pairs = dict.fromkeys(kinds, 0)
    deadline = time.perf_counter() + budget_secs
    while time.perf_counter() < deadline or not all(pairs.values()):
        kind = JobType.ATQ if pairs[JobType.ATQ] == 0 else JobType.CRON
        old = rng.choice(kinds[kind])
        began = time.perf_counter()
        if reference_pair_conflicts(candidate, old):
            raise SystemExit(f"the reference rules found a conflict with {old.id}")
        spent[kind] += time.perf_counter() - began
        pairs[kind] += 1
    baseline = sum(len(kinds[kind]) * spent[kind] / pairs[kind] for kind in kinds)
    ratio = baseline / ours_p50
    line(
        "reference_pairwise_k100",
        ours_p50,
        "s",
        baseline=round(baseline, 3),
        ratio=round(ratio, 1),
        target=1000,
        met=ratio >= 1000,
        pairs_timed=sum(pairs.values()),
        secs_per_cron_pair=round(spent[JobType.CRON] / pairs[JobType.CRON], 4),
        note="value: our warm p50 at K=100; baseline: the reference's pairwise check scaled "
        "per pair to the 100 jobs",
    )


def reference_pairwise_secs(k: int, budget_secs: float) -> float:
    """The reference's pairwise check against a K-job calendar, timed on a sample and scaled."""
    jobs = make_dense_calendar(k, WINDOW_START)
    candidate = make_candidate(WINDOW_START)
    rng = random.Random(11)
    spent, pairs = 0.0, 0
    deadline = time.perf_counter() + budget_secs
    while time.perf_counter() < deadline or pairs < 2:
        old = rng.choice(jobs)
        began = time.perf_counter()
        reference_pair_conflicts(candidate, old)
        spent += time.perf_counter() - began
        pairs += 1
    return spent / pairs * len(jobs)


def _schedule_latencies(port: int, admin_token: str, k: int, repeats: int) -> list[float]:
    import grpc

    from leoscope.api import convert
    from leoscope.api import leotest_pb2 as pb
    from leoscope.api import leotest_pb2_grpc as pb_grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = pb_grpc.LeotestOrchestratorStub(channel)
    md = [
        ("x-leotest-userid", "admin"),
        ("x-leotest-access-token", admin_token),
        ("x-leotest-jwt-access-token", ""),
    ]
    candidate = make_candidate(WINDOW_START).with_changes(config=BENCH_CONFIG)
    as_job = convert.job_to_pb(candidate, with_config=True)
    request = pb.message_schedule_job()
    request.ParseFromString(as_job.SerializeToString())  # same field numbers as `job`
    latencies = []
    for attempt in range(repeats + 1):  # the first call builds the node's calendar index
        began = time.perf_counter()
        reply = stub.schedule_job(request, metadata=md, timeout=30)
        elapsed = time.perf_counter() - began
        if reply.state != pb.SUCCESS:
            raise SystemExit(f"candidate refused at K={k}: {reply.message[:300]}")
        if attempt:
            latencies.append(elapsed)
        stub.delete_job_by_id(pb.message_delete_job_by_id(jobid=candidate.id), metadata=md)
    channel.close()
    return latencies


def bench_grpc(ks: tuple[int, ...], repeats: int, budget_secs: float) -> None:
    """schedule_job over gRPC against a real orchestrator process holding K calendar jobs."""
    import secrets
    import sys
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.common import free_port, python_process, wait_port
    from leoscope.core.model import Node
    from leoscope.core.timeutil import utcnow
    from leoscope.orchestrator.store import Store
    from leoscope.orchestrator.store import jobs as job_store
    from leoscope.orchestrator.store import nodes as node_store

    for k in ks:
        work = Path(tempfile.mkdtemp(prefix=f"bench-schedule-{k}-"))
        store = Store.open(f"sqlite:///{work / 'leoscope.db'}")
        with store.write() as conn:
            node_store.add(conn, Node(nodeid=NODE, coords="1,2"), utcnow())
            for job in make_dense_calendar(k, WINDOW_START):
                job_store.add(conn, job.with_changes(config=BENCH_CONFIG), utcnow())
        store.dispose()
        port = free_port()
        admin_token = secrets.token_hex(16)
        server = python_process(
            [
                "-m",
                "leoscope",
                "orchestrator",
                "--listen",
                f"127.0.0.1:{port}",
                "--data-dir",
                str(work),
                "--log-level",
                "WARNING",
            ],
            work / "orchestrator.log",
            env={"LEOSCOPE_ADMIN_TOKEN": admin_token},
        )
        try:
            wait_port(port)
            latencies = _schedule_latencies(port, admin_token, k, repeats)
        finally:
            server.terminate()
            server.wait()
        ms = np.array(latencies) * 1000
        p50, p99 = float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
        baseline = reference_pairwise_secs(k, budget_secs / len(ks)) * 1000
        line(
            "schedule_job_grpc_p50",
            p50,
            "ms",
            k=k,
            baseline=round(baseline, 1),
            ratio=round(baseline / p50, 1),
        )
        line(
            "schedule_job_grpc_p99",
            p99,
            "ms",
            k=k,
            baseline=round(baseline, 1),
            ratio=round(baseline / p99, 1),
            target="p99 <= 50 ms and >= 1000x the pairwise baseline" if k == 100 else None,
            met=(p99 <= 50 and baseline / p99 >= 1000) if k == 100 else None,
            note="baseline: the reference's pairwise check against the same K jobs, timed on "
            "a sample of pairs and scaled",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (about 10 s)")
    parser.add_argument(
        "--baseline-secs", type=float, help="time budget for the reference pairwise baseline"
    )
    args = parser.parse_args()
    bench_expansion(baseline_days=2 if args.quick else 21)
    ours_k100 = 0.0
    for k in (10, 100, 1000):
        p50 = bench_conflicts(k, repeats=30 if args.quick else 200)
        if k == 100:
            ours_k100 = p50
    budget = args.baseline_secs if args.baseline_secs is not None else (3 if args.quick else 15)
    bench_reference(ours_k100, budget)
    bench_grpc((10, 100, 1000), repeats=20 if args.quick else 100, budget_secs=budget)


if __name__ == "__main__":
    main()
