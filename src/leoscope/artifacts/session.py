"""HTTP calls through signed URLs: retry what is transient, refresh what has expired.

One helper for every request the transfer functions make, so the rules live in one place:

* Transient: a transport error (connection refused or reset, timeouts) or HTTP 408/429/5xx.
  Retried with jittered exponential backoff until the request has kept failing for
  `RetryPolicy.max_elapsed_secs`; then `TransferUnavailable` (the caller's outbox retries later).
* HTTP 403: the URL expired or was refused. With a signer, the bundle is re-signed and the
  request tried again (at most twice in a row); otherwise `SignedUrlExpired`/`SignedUrlRejected`.
* Anything else is returned to the caller, which knows what a 404 or 409 means for it.
"""

from __future__ import annotations

import functools
import logging
import ssl
import threading
import time
from collections.abc import Callable, Container
from dataclasses import dataclass

import httpx

from leoscope import retry
from leoscope.retry import Backoff

from .base import SignedUrl, redact_url
from .errors import SignedUrlExpired, SignedUrlRejected, TransferUnavailable

log = logging.getLogger(__name__)

Signer = Callable[[str | None], SignedUrl]
"""Fetches a fresh bundle, e.g. by calling get_upload_url; gets the upload id to resume (S3)."""

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_EXPIRY_SLACK_SECS = 2.0
_EXPIRY_WORDS = ("expired", "expiry", "not valid in the specified time")


class _RedactSignedUrls(logging.Filter):
    """httpx logs every request URL at INFO; signed URLs are credentials, so drop the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(
                redact_url(str(a)) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


def _install_redaction() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactSignedUrls) for f in httpx_log.filters):
        httpx_log.addFilter(_RedactSignedUrls())


_install_redaction()


@dataclass(frozen=True)
class RetryPolicy:
    """How long one request keeps being retried, and how the waits between tries grow.

    The schedule itself is `leoscope.retry`'s (jittered, doubling waits); the budget counts
    from the first failure of the request, so a long transfer is not penalised for its length.
    """

    max_elapsed_secs: float = 60.0
    initial_delay_secs: float = 0.2
    max_delay_secs: float = 5.0

    def __post_init__(self) -> None:
        self._schedule()  # a bad policy raises ValueError here, not at the first failure

    def _schedule(self) -> retry.RetryPolicy:
        return retry.RetryPolicy(
            first_wait_secs=self.initial_delay_secs,
            max_wait_secs=self.max_delay_secs,
            give_up_after_secs=self.max_elapsed_secs,
        )

    def backoff(self) -> Backoff:
        """A fresh wait schedule, started now (at a request's first failure)."""
        return Backoff(self._schedule())


class SignedSession:
    """The current `SignedUrl` of a transfer, re-signed when it nears expiry or is refused."""

    def __init__(self, signed: SignedUrl, signer: Signer | None) -> None:
        self._current = signed
        self._signer = signer
        self._lock = threading.Lock()

    @property
    def current(self) -> SignedUrl:
        return self._current

    @property
    def can_refresh(self) -> bool:
        return self._signer is not None

    def get(self) -> SignedUrl:
        """The bundle to use now; re-signed first when it would expire within a margin."""
        signed = self._current
        margin = min(30.0, signed.ttl_secs / 4)
        if self._signer is not None and signed.expires_within(margin):
            return self.refresh(signed)
        return signed

    def refresh(self, stale: SignedUrl) -> SignedUrl:
        """Re-sign (once, however many threads saw `stale` fail) and return the new bundle."""
        if self._signer is None:
            return self._current
        with self._lock:
            if self._current is stale:
                fresh = self._signer(stale.upload_id)
                log.info("artifact URL re-signed blob=%s op=%s", fresh.blob_name, fresh.operation)
                self._current = fresh
            return self._current


class SignedCaller:
    """Sends requests built from the current bundle, applying the rules in the module doc."""

    def __init__(self, client: httpx.Client, session: SignedSession, policy: RetryPolicy) -> None:
        self.client = client
        self.session = session
        self.policy = policy

    def __call__(
        self,
        what: str,
        send: Callable[[SignedUrl], httpx.Response],
        *,
        ok: Container[int] = range(200, 300),
    ) -> httpx.Response:
        """Send until a non-transient answer; return it unless it is a 403."""
        backoff: Backoff | None = None
        refreshes = 0
        while True:
            signed = self.session.get()
            try:
                response = send(signed)
            except httpx.TransportError as exc:
                problem: str = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 403:
                    refused = refused_error(response, signed)
                    if self.session.can_refresh and refreshes < 2:
                        refreshes += 1
                        self.session.refresh(signed)
                        continue
                    raise refused
                if response.status_code not in TRANSIENT_STATUS or response.status_code in ok:
                    return response
                problem = f"HTTP {response.status_code}"
            backoff = backoff or self.policy.backoff()
            wait_transient(
                backoff,
                what,
                problem,
                f"{what} failed for {self.policy.max_elapsed_secs:.0f} s, last: {problem}",
            )


def wait_transient(backoff: Backoff, what: str, problem: str, give_up: str) -> None:
    """Sleep before the next try of a failing request, or raise TransferUnavailable(give_up)
    once its time budget is spent. One place for the log line of every retried transfer."""
    delay = backoff.next_wait()
    if delay is None:
        raise TransferUnavailable(give_up)
    log.warning(
        "artifact %s failed (attempt %d, retry in %.2f s): %s",
        what,
        backoff.attempts - 1,
        delay,
        problem,
    )
    time.sleep(delay)


def refused_error(response: httpx.Response, signed: SignedUrl) -> SignedUrlRejected:
    """SignedUrlExpired when the store (or our clock) says the URL expired, else SignedUrlRejected."""
    try:
        text = response.text[:2000]
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        text = ""
    lowered = text.lower()
    where = redact_url(str(response.request.url)) if response.request else signed.blob_name
    # Signed times have whole-second granularity, and a HEAD answer has no body to say why:
    # a refusal within a moment of the nominal expiry counts as the expiry.
    if signed.expires_within(_EXPIRY_SLACK_SECS) or any(w in lowered for w in _EXPIRY_WORDS):
        return SignedUrlExpired(f"signed URL for {signed.blob_name!r} has expired ({where})")
    return SignedUrlRejected(f"store refused the signed URL for {signed.blob_name!r} ({where})")


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once: building it costs ~75 ms per client."""
    return httpx.create_ssl_context()


def http_client(concurrency: int) -> httpx.Client:
    """The HTTP client for one transfer: pooled connections, generous body timeouts."""
    limits = httpx.Limits(
        max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2
    )
    timeout = httpx.Timeout(connect=10.0, read=120.0, write=120.0, pool=None)
    return httpx.Client(
        limits=limits, timeout=timeout, follow_redirects=False, verify=_tls_context()
    )
