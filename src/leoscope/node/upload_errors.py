"""What an upload failure means for the uploader: wait and retry, rename, fall back, or give up.

Every failure of one upload attempt becomes a `Problem` with one of four kinds:

    transient    retry with backoff; the run shows UPLOAD_PENDING with the reason: the store
                 unreachable, a signed URL expired, ... Two are not reported, only retried as
                 soon as the outbox gets an answer again: an unreachable orchestrator (nobody
                 would hear it, and it would be stale once heard), and one that does not know
                 the run yet (its first report is still in the outbox)
    conflict     the blob name holds other content (it is never overwritten): upload under
                 the alternative name (upload_names.py)
    unsupported  the orchestrator has no get_upload_url (the reference): keep the archive in
                 the node's local store, as the reference does
    permanent    retrying the same archive cannot succeed (it no longer matches its checksum,
                 the orchestrator denies this node the run): end the run FAILED with the
                 reason, and keep the archive on the node

When in doubt a failure is transient: a run waiting visibly is better than lost results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import grpc

from leoscope.artifacts import (
    BlobConflict,
    ChecksumMismatch,
    SignedUrlExpired,
    SignedUrlRejected,
    TransferFailed,
    TransferUnavailable,
)
from leoscope.core.errors import InvalidInput

from .link import CredentialsRejected, LinkDown, Refused

Kind = Literal["transient", "conflict", "unsupported", "permanent"]

ORCHESTRATOR_UNREACHABLE = "orchestrator unreachable"
STORE_UNREACHABLE = "artifact store unreachable"
RUN_UNKNOWN = "the orchestrator does not know the run yet"


class SignRefused(Exception):
    """get_upload_url answered FAILED; `message` is the orchestrator's reason."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Problem:
    kind: Kind
    headline: str
    """What is wrong, in a few stable words ("artifact store unreachable"): a run's status
    message changes only when this does, not with every variation of the detail."""
    detail: str = ""

    @property
    def reason(self) -> str:
        return f"{self.headline} ({self.detail})" if self.detail else self.headline

    @property
    def worth_reporting(self) -> bool:
        """False for problems that only the outbox reaching the orchestrator can clear."""
        return self.headline not in (ORCHESTRATOR_UNREACHABLE, RUN_UNKNOWN)


def _sign_refusal(message: str) -> Problem:
    lowered = message.lower()
    if message.startswith("permission denied"):
        return Problem("permanent", "the orchestrator refused the upload", message)
    if "already exists with different content" in lowered:
        return Problem("conflict", "the blob name holds other content", message)
    if message.startswith("invalid blob_name"):
        return Problem("permanent", "the orchestrator refused the blob name", message)
    if any(word in lowered for word in ("unreachable", "storage failed", "endpoint failed")):
        return Problem("transient", STORE_UNREACHABLE, message)
    if "not found" in lowered:
        return Problem("transient", RUN_UNKNOWN, message)
    return Problem("transient", "the orchestrator could not sign an upload URL", message)


def classify(exc: BaseException) -> Problem:
    """The `Problem` an exception from one upload attempt stands for."""
    if isinstance(exc, SignRefused):
        return _sign_refusal(exc.message)
    if isinstance(exc, Refused) and exc.code == grpc.StatusCode.UNIMPLEMENTED:
        return Problem("unsupported", "the orchestrator has no artifact store (get_upload_url)")
    if isinstance(exc, LinkDown):
        return Problem("transient", ORCHESTRATOR_UNREACHABLE, exc.message)
    if isinstance(exc, CredentialsRejected):
        return Problem("transient", "the orchestrator rejected the node's token", exc.message)
    if isinstance(exc, Refused):
        return Problem("transient", "the orchestrator refused get_upload_url", exc.message)
    if isinstance(exc, BlobConflict):
        return Problem("conflict", "the blob name holds other content", str(exc))
    if isinstance(exc, TransferUnavailable):
        return Problem("transient", STORE_UNREACHABLE, str(exc))
    if isinstance(exc, SignedUrlExpired):
        return Problem("transient", "the signed URL expired", str(exc))
    if isinstance(exc, SignedUrlRejected):
        return Problem("transient", "the artifact store refused the signed URL", str(exc))
    if isinstance(exc, ChecksumMismatch):
        return Problem("permanent", "the archive on the node changed after it was made", str(exc))
    if isinstance(exc, TransferFailed):
        return Problem("transient", "the artifact store answered unexpectedly", str(exc))
    if isinstance(exc, FileNotFoundError):
        return Problem("permanent", "the archive is missing from the node", str(exc))
    if isinstance(exc, InvalidInput):
        return Problem("permanent", "the upload request was invalid", str(exc))
    if isinstance(exc, OSError):
        return Problem("transient", "cannot read the archive", str(exc))
    return Problem("transient", type(exc).__name__, str(exc))
