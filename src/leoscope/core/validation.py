"""Request validation: every field checked, every problem named.

Ids are restricted to a shell-safe set because reference nodes paste them unquoted into root
shell commands (wire contract §4.3, injection guard); web users' ids are e-mail addresses, hence
the `@`. Job dates are normalised so that nothing with a space or an offset reaches a node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import schedule
from .errors import InvalidInput
from .experiment import parse_experiment_config
from .model import Job, JobParams, JobType
from .timeutil import parse_time
from .zones import load_zone

# Letters, digits, '.', '_', '@', '-'; not starting with '.' (so never "." or ".." as a path
# segment on a node) nor '-' (never read as an option by a reference node's command line).
ID_PATTERN = re.compile(r"^[A-Za-z0-9_@][A-Za-z0-9._@-]{0,127}$")
PARAM_PATTERN = re.compile(r"^[A-Za-z0-9._@:/=+,-]{0,128}$")
MAX_LENGTH_SECS = 31 * 24 * 3600
ATQ_START_GRACE = timedelta(seconds=60)
MAX_TEXT = 255


def check_id(field: str, value: str) -> str:
    if not value:
        raise InvalidInput(field, "is empty")
    if not ID_PATTERN.match(value):
        raise InvalidInput(
            field,
            f"{value!r} may only contain letters, digits, '.', '_', '@' and '-', must not start "
            "with '.' or '-', and is at most 128 characters long",
        )
    return value


def check_text(field: str, value: str, limit: int = MAX_TEXT) -> str:
    if len(value) > limit:
        raise InvalidInput(field, f"is longer than {limit} characters")
    if any(ord(c) < 32 for c in value):
        raise InvalidInput(field, "contains control characters")
    return value


def parse_coords(text: str, field: str = "coords") -> tuple[float, float]:
    """`"<lat>,<lon>"` in decimal degrees, in range."""
    parts = text.split(",") if text else []
    if len(parts) != 2:
        raise InvalidInput(field, f"{text!r} must be '<lat>,<lon>' in decimal degrees")
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise InvalidInput(field, f"{text!r} must be '<lat>,<lon>' in decimal degrees") from None
    if not -90 <= lat <= 90:
        raise InvalidInput(field, f"latitude {lat} is outside -90..90")
    if not -180 <= lon <= 180:
        raise InvalidInput(field, f"longitude {lon} is outside -180..180")
    return lat, lon


def check_timezone(value: str | None) -> str | None:
    if value:
        load_zone(value)
    return value or None


def check_params(params: JobParams) -> JobParams:
    mode = params.mode or "docker"
    if mode != "docker":
        raise InvalidInput("params.mode", f"{mode!r} is not supported; use 'docker'")
    for name in ("deploy", "execute", "finish"):
        value = getattr(params, name)
        if not PARAM_PATTERN.match(value):
            raise InvalidInput(
                f"params.{name}", "may not contain spaces, quotes or shell metacharacters"
            )
    return JobParams(mode, params.deploy, params.execute, params.finish)


@dataclass(frozen=True, slots=True)
class JobRequest:
    """A job as submitted: raw strings, straight from the wire."""

    id: str
    nodeid: str
    type: int
    schedule: str
    start_date: str
    end_date: str
    length_secs: int
    overhead: bool
    config: str
    params: JobParams = JobParams()
    server: str | None = None
    trigger: str | None = None
    timezone: str | None = None
    trigger_wait_secs: int | None = None


def build_job(req: JobRequest, owner: str, now: datetime) -> Job:
    """Validate a submitted job and return it normalised. Raises InvalidInput naming the field.

    Checks that need the datastore (node existence, duplicates, conflicts) and the trigger
    language are the caller's; everything that depends only on the request is here.
    """
    check_id("id", req.id)
    check_id("nodeid", req.nodeid)
    server = req.server or None
    if server is not None:
        check_id("server", server)
        if server == req.nodeid:
            raise InvalidInput("server", "must differ from nodeid")
    try:
        job_type = JobType(req.type)
    except ValueError:
        raise InvalidInput("type", f"{req.type} is not a job type (0=CRON, 1=ATQ)") from None
    params = check_params(req.params)
    start = parse_time(req.start_date, "start_date")
    end = parse_time(req.end_date, "end_date")
    if not start < end:
        raise InvalidInput("end_date", "must be after start_date")
    if req.length_secs <= 0:
        raise InvalidInput("length_secs", "must be greater than 0")
    if req.length_secs > MAX_LENGTH_SECS:
        raise InvalidInput("length_secs", f"must be at most {MAX_LENGTH_SECS} (31 days)")
    timezone = check_timezone(req.timezone)
    if job_type is JobType.CRON:
        if not req.schedule or not req.schedule.strip():
            raise InvalidInput("schedule", "is empty; a CRON job needs a 5-field cron expression")
        schedule.validate_cron(req.schedule)
        cron = schedule.normalize_cron(req.schedule)
    else:
        cron = ""
        if timezone:
            raise InvalidInput("timezone", "applies to CRON jobs only")
        if start < now - ATQ_START_GRACE:
            raise InvalidInput("start_date", "is in the past; a one-shot job must start later")
        if start + timedelta(seconds=req.length_secs) > end:
            raise InvalidInput("end_date", "is before the run would end (start_date + length_secs)")
    parse_experiment_config(req.config)
    wait = req.trigger_wait_secs
    if wait is not None and not 0 <= wait <= req.length_secs:
        raise InvalidInput("trigger_wait_secs", "must be between 0 and length_secs")
    trigger = (req.trigger or "").strip() or None
    return Job(
        id=req.id,
        nodeid=req.nodeid,
        type=job_type,
        start=start.replace(microsecond=0),
        end=end.replace(microsecond=0),
        length_secs=req.length_secs,
        userid=owner,
        schedule=cron,
        params=params,
        overhead=req.overhead,
        server=server,
        trigger=trigger,
        config=req.config,
        timezone=timezone,
        trigger_wait_secs=wait,
    )
