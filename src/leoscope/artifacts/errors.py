"""Errors raised by artifact stores and transfers.

    LeoscopeError (core.errors)
    ├── NotFound("artifact", blob_name)        no blob by that name (stores)
    ├── InvalidInput(field, problem)           bad blob name, size, checksum, settings
    ├── Conflict
    │   └── BlobConflict                       a different blob already has that name
    ├── PermissionDenied
    │   └── SignedUrlRejected                  the store refused a signed URL (HTTP 403)
    │       └── SignedUrlExpired               ... because it expired: ask for a fresh one
    ├── Unavailable
    │   └── TransferUnavailable                the store stayed unreachable for the whole
    │                                          retry budget: retry the transfer later
    └── ArtifactError
        ├── ChecksumMismatch                   content differs from its SHA-256 / size
        └── TransferFailed                     the store answered something unexpected

A node's durable outbox retries `TransferUnavailable` and `SignedUrlExpired` (with a fresh URL);
the others are permanent for the same input and should be reported, not retried blindly.
"""

from __future__ import annotations

from leoscope.core.errors import Conflict, LeoscopeError, PermissionDenied, Unavailable


class ArtifactError(LeoscopeError):
    """Base of artifact errors that have no closer core.errors class."""


class ChecksumMismatch(ArtifactError):
    """Content does not match the SHA-256 (or size) it was supposed to have."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        self.what = what
        self.expected = expected
        self.actual = actual
        super().__init__(f"{what}: expected {expected}, got {actual}")


class TransferFailed(ArtifactError):
    """The store answered a transfer request in a way that retrying will not fix."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message)


class BlobConflict(Conflict):
    """A blob with that name already exists with other content; it is never overwritten."""

    def __init__(self, blob_name: str, detail: str = "") -> None:
        self.blob_name = blob_name
        text = f"artifact {blob_name!r} already exists with different content"
        super().__init__(f"{text}: {detail}" if detail else text)


class SignedUrlRejected(PermissionDenied):
    """The store refused the signed URL (bad or tampered signature, wrong blob, expired)."""

    def __init__(self, message: str, status_code: int = 403) -> None:
        self.status_code = status_code
        super().__init__(message)


class SignedUrlExpired(SignedUrlRejected):
    """The signed URL has expired; the caller should ask the orchestrator for a fresh one."""


class TransferUnavailable(Unavailable):
    """The store could not be reached (or kept failing) for the whole retry budget."""
