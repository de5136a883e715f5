"""Who is calling, and what they may do.

Authentication follows the wire contract (§1.4): a JWT in `x-leotest-jwt-access-token` decides
the caller when it verifies (HS256, claim `userid`, `exp` required), whatever
`x-leotest-userid` says; otherwise `x-leotest-userid` plus `x-leotest-access-token` must match one
of the user's two stored token hashes. Tokens are random, shown once, and stored only as
SHA-256; nothing here ever logs one.

Authorization is the table `RULES` at the bottom: one entry per RPC, each a predicate over the
caller and the object the call is about. Handlers load the object, then ask `allowed(...)`. The
table closes every hole of reference §9.1 and is written out for people in docs/security.md.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jwt

from leoscope.core.errors import AuthenticationError
from leoscope.core.model import Job, Role, Task, User

log = logging.getLogger(__name__)

HEADER_USERID = "x-leotest-userid"
HEADER_TOKEN = "x-leotest-access-token"
HEADER_JWT = "x-leotest-jwt-access-token"

# Secrets the reference ships as defaults; starting with one of them would be an open door.
WEAK_JWT_SECRETS = frozenset({"", "jwt-secret", "jwt-algo", "secret", "changeme"})
MIN_JWT_SECRET_LEN = 32


def issue_token() -> tuple[str, str]:
    """A new random access token (64 lowercase hex chars, the reference's shape) and its hash."""
    token = secrets.token_hex(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_jwt_secret(secret: str | None) -> None:
    """Refuse placeholder or short JWT secrets at start-up (reference defect §9.1.9)."""
    if secret is None:
        return
    if secret in WEAK_JWT_SECRETS or len(secret) < MIN_JWT_SECRET_LEN:
        raise ValueError(
            f"--jwt-secret must be a random string of at least {MIN_JWT_SECRET_LEN} characters"
        )


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller."""

    userid: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_node(self) -> bool:
        return self.role.is_node

    def denial(self) -> str:
        """The reference's permission-denied text."""
        return f"permission denied: userid={self.userid} and role={self.role.name}"


def last_values(metadata: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """Header values by name; a repeated header counts by its last occurrence (as the reference)."""
    values: dict[str, str] = {}
    for key, value in metadata:
        if isinstance(value, bytes):
            continue
        values[key.lower()] = value
    return values


UserLookup = Callable[[str], "tuple[User, str | None, str | None] | None"]


def authenticate(headers: dict[str, str], lookup: UserLookup, jwt_secret: str | None) -> Principal:
    """Identify the caller or raise AuthenticationError.

    `lookup(userid)` returns the stored user with its two token hashes, or None.
    """
    token = headers.get(HEADER_JWT, "")
    if token and jwt_secret:
        try:
            claims = jwt.decode(
                token, jwt_secret, algorithms=["HS256"], options={"require": ["exp"]}
            )
        except jwt.PyJWTError as exc:
            log.debug("JWT rejected: %s", type(exc).__name__)
        else:
            userid = claims.get("userid")
            found = lookup(userid) if isinstance(userid, str) and userid else None
            if found is not None:
                return Principal(found[0].id, found[0].role)
    userid = headers.get(HEADER_USERID, "")
    presented = headers.get(HEADER_TOKEN, "")
    if userid and presented:
        found = lookup(userid)
        if found is not None:
            user, static_hash, dynamic_hash = found
            digest = hash_token(presented)
            ok = False
            for stored in (static_hash, dynamic_hash):
                if stored and hmac.compare_digest(stored, digest):
                    ok = True
            if ok:
                return Principal(user.id, user.role)
    raise AuthenticationError("Invalid token")


# ---------------------------------------------------------------------------- predicates
# Each predicate takes the caller and keyword facts about the object of the call.


def anyone(p: Principal, **_: Any) -> bool:
    return True


def admin(p: Principal, **_: Any) -> bool:
    return p.is_admin


def admin_or_node(p: Principal, **_: Any) -> bool:
    return p.is_admin or p.is_node


def experimenter(p: Principal, **_: Any) -> bool:
    return p.role.is_experimenter


def admin_or_self(p: Principal, *, userid: str, **_: Any) -> bool:
    return p.is_admin or p.userid == userid


def node_itself(p: Principal, *, nodeid: str, **_: Any) -> bool:
    return p.is_node and p.userid == nodeid


def admin_or_node_itself(p: Principal, *, nodeid: str, **_: Any) -> bool:
    return p.is_admin or node_itself(p, nodeid=nodeid)


def _runs_job(p: Principal, job: Job) -> bool:
    return p.is_node and p.userid in job.nodes


def job_reader(p: Principal, *, job: Job, **_: Any) -> bool:
    """Admins, the owner, and the nodes the job runs on (they need its config)."""
    return p.is_admin or p.userid == job.userid or _runs_job(p, job)


def job_owner(p: Principal, *, job: Job, **_: Any) -> bool:
    return p.is_admin or p.userid == job.userid


def job_mover(p: Principal, *, job: Job, **_: Any) -> bool:
    """Owner or admin; also the job's nodes (reference nodes reschedule in scavenger mode)."""
    return job_owner(p, job=job) or _runs_job(p, job)


def run_reporter(p: Principal, *, job: Job, **_: Any) -> bool:
    """The node running the job, or its server node (whose rows carry the client's node id)."""
    return p.is_admin or _runs_job(p, job)


def task_creator(p: Principal, *, job: Job, **_: Any) -> bool:
    """The job's client node asks its server node for help."""
    return p.is_admin or (p.is_node and p.userid == job.nodeid)


def task_executor(p: Principal, *, task: Task, **_: Any) -> bool:
    return p.is_admin or (p.is_node and p.userid == task.nodeid)


@dataclass(frozen=True, slots=True)
class Rule:
    check: Callable[..., bool]
    who: str
    """The rule in words, for docs/security.md and error messages."""


# ---------------------------------------------------------------------------- the table

RULES: dict[str, Rule] = {
    "report_heartbeat": Rule(node_itself, "a node, for itself"),
    "update_global_config": Rule(admin, "admins"),
    "get_global_config": Rule(admin_or_node, "admins and nodes (users get masked values)"),
    "register_user": Rule(admin, "admins"),
    "get_user": Rule(admin_or_self, "admins, or the user itself"),
    "modify_user": Rule(admin, "admins"),
    "delete_user": Rule(admin, "admins"),
    "get_users": Rule(admin, "admins"),
    "whoami": Rule(anyone, "any authenticated caller"),
    "schedule_job": Rule(experimenter, "experimenters (USER, USER_PRIV, ADMIN); never nodes"),
    "get_job_by_id": Rule(job_reader, "admins, the owner, the job's node and server node"),
    "get_jobs_by_userid": Rule(admin_or_self, "admins (any user, or all); others their own"),
    "get_jobs_by_nodeid": Rule(anyone, "any authenticated caller (no config in the reply)"),
    "reschedule_job_nearest": Rule(job_mover, "admins, the owner, the job's nodes"),
    "modify_job": Rule(job_owner, "admins and the owner"),
    "delete_job_by_id": Rule(job_owner, "admins and the owner"),
    "delete_jobs_by_nodeid": Rule(admin, "admins"),
    "update_run": Rule(run_reporter, "the job's node or server node (admins too)"),
    "get_runs": Rule(anyone, "filtered: admins all; nodes their jobs' runs; users their own"),
    "get_scheduled_runs": Rule(anyone, "any authenticated caller"),
    "find_free_slot": Rule(anyone, "any authenticated caller"),
    "register_node": Rule(admin, "admins"),
    "get_nodes": Rule(anyone, "any authenticated caller"),
    "update_node": Rule(admin_or_node_itself, "admins, or the node itself"),
    "delete_node": Rule(admin, "admins"),
    "set_scavenger_status": Rule(admin_or_node_itself, "admins, or the node itself"),
    "get_scavenger_status": Rule(admin_or_node_itself, "admins, or the node itself"),
    "schedule_task": Rule(task_creator, "the job's (client) node"),
    "get_tasks": Rule(admin_or_node, "filtered: admins all; nodes their own tasks"),
    "update_task": Rule(task_executor, "the node the task is for (admins too)"),
    "kernel_access": Rule(admin_or_node, "nodes and admins"),
    "watch_node": Rule(admin_or_node_itself, "the node itself (admins too)"),
    "get_upload_url": Rule(run_reporter, "the node that ran the run"),
    "get_download_url": Rule(job_owner, "the job's owner and admins"),
}


def rules_markdown() -> str:
    """The authorization table as Markdown (docs/security.md embeds it; a test keeps it equal)."""
    lines = ["| RPC | Who may call it |", "| --- | --- |"]
    lines += [f"| `{rpc}` | {rule.who} |" for rpc, rule in sorted(RULES.items())]
    return "\n".join(lines) + "\n"


def allowed(rpc: str, principal: Principal, **facts: Any) -> bool:
    """Whether `principal` may make call `rpc` about the object described by `facts`."""
    return RULES[rpc].check(principal, **facts)
