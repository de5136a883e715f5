"""Azure Blob Storage back end (azure-storage-blob; imported only here).

Signed URLs are blob-scoped service SAS URLs made with the account key from the connection
string: read+create+write for an upload (the node stages blocks, reads the uncommitted block
list to resume, commits, and reads its own blob's properties), read only for a download. The
uploader stores the SHA-256 as blob metadata `sha256` when it commits the block list.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobProperties, BlobSasPermissions, BlobServiceClient
from azure.storage.blob import generate_blob_sas as _generate_blob_sas

from leoscope.core.errors import InvalidInput, Unavailable
from leoscope.core.timeutil import from_epoch, to_utc

from .base import (
    DEFAULT_PART_SIZE,
    ArtifactStore,
    BlobInfo,
    SignedUrl,
    check_blob_name,
    check_size,
    choose_part_size,
)

log = logging.getLogger(__name__)

SHA256_METADATA = "sha256"
MAX_BLOCKS = 50_000


class AzureBlobStore(ArtifactStore):
    """Blobs in one container of an Azure Storage account (or Azurite)."""

    backend = "azure"

    def __init__(
        self,
        connection_string: str,
        container: str,
        *,
        url_ttl_secs: int | None = None,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        super().__init__(url_ttl_secs=url_ttl_secs)
        if not connection_string:
            raise InvalidInput("connectionString", "is empty; the Azure store needs one")
        if not container:
            raise InvalidInput("container", "is empty")
        try:
            # The orchestrator makes only metadata calls here, inside RPCs whose callers wait
            # 5 s: fail fast when the store is down (nodes retry; data moves over signed URLs).
            self._service = BlobServiceClient.from_connection_string(
                connection_string, retry_total=1, connection_timeout=3, read_timeout=30
            )
        except ValueError as exc:
            raise InvalidInput("connectionString", f"is not valid: {exc}") from None
        credential = self._service.credential
        account_key = getattr(credential, "account_key", None)
        if not account_key:
            raise InvalidInput(
                "connectionString", "must contain AccountKey (the orchestrator signs SAS URLs)"
            )
        self._account_name: str = credential.account_name
        self._account_key: str = account_key
        self.container = container
        self.part_size = check_size(part_size, "part_size")
        self._container = self._service.get_container_client(container)
        self._container_ready = False

    def sign_upload(
        self,
        blob_name: str,
        *,
        size: int,
        sha256: str,
        ttl_secs: int | None = None,
        upload_id: str | None = None,
    ) -> SignedUrl:
        name, size, sha256 = self._check_upload(blob_name, size, sha256)
        self._ensure_container()
        self._stored_copy(name, size, sha256)
        ttl = self._ttl(ttl_secs)
        url, expires = self._sas_url(
            name, BlobSasPermissions(read=True, create=True, write=True), ttl
        )
        return SignedUrl(
            backend=self.backend,
            operation="upload",
            url=url,
            blob_name=name,
            expires_at=expires,
            ttl_secs=ttl,
            sha256=sha256,
            size=size,
            part_size=choose_part_size(size, max_parts=MAX_BLOCKS, minimum=self.part_size),
        )

    def sign_download(self, blob_name: str, *, ttl_secs: int | None = None) -> SignedUrl:
        ttl = self._ttl(ttl_secs)
        info = self.stat(blob_name)
        url, expires = self._sas_url(info.name, BlobSasPermissions(read=True), ttl)
        return SignedUrl(
            backend=self.backend,
            operation="download",
            url=url,
            blob_name=info.name,
            expires_at=expires,
            ttl_secs=ttl,
            sha256=info.sha256,
            size=info.size,
        )

    def stat(self, blob_name: str) -> BlobInfo:
        name = check_blob_name(blob_name)
        with self._translate():
            try:
                props = self._container.get_blob_client(name).get_blob_properties()
            except ResourceNotFoundError:
                raise self._not_found(name) from None
        return _info(props)

    def delete(self, blob_name: str) -> bool:
        name = check_blob_name(blob_name)
        with self._translate():
            try:
                self._container.get_blob_client(name).delete_blob(delete_snapshots="include")
            except ResourceNotFoundError:
                return False
        log.info("artifact deleted blob=%s", name)
        return True

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        with self._translate():
            try:
                for props in self._container.list_blobs(
                    name_starts_with=prefix or None, include=["metadata"]
                ):
                    yield _info(props)
            except ResourceNotFoundError:
                return  # no container yet: no blobs

    def close(self) -> None:
        self._service.close()

    # ---------------------------------------------------------------- internals

    def _sas_url(self, name: str, permission: BlobSasPermissions, ttl: int) -> tuple[str, datetime]:
        # Whole seconds (SAS times have no fractions), rounded up so a URL never lives < ttl.
        expires = from_epoch(math.ceil(time.time()) + ttl)
        sas = _generate_blob_sas(
            account_name=self._account_name,
            container_name=self.container,
            blob_name=name,
            account_key=self._account_key,
            permission=permission,
            expiry=expires,
        )
        return f"{self._container.get_blob_client(name).url}?{sas}", expires

    def _ensure_container(self) -> None:
        if self._container_ready:
            return
        with self._translate():
            try:
                self._container.create_container()
                log.info("artifact container created container=%s", self.container)
            except ResourceExistsError:
                pass
        self._container_ready = True

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """Map the SDK's transport failures to Unavailable (retrying later may succeed)."""
        try:
            yield
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise Unavailable(f"Azure Blob Storage is unreachable: {exc}") from exc
        except AzureError as exc:
            if getattr(exc, "status_code", None) in (500, 502, 503, 504):
                raise Unavailable(f"Azure Blob Storage failed: {exc}") from exc
            raise


def _info(props: BlobProperties) -> BlobInfo:
    metadata = props.metadata or {}
    return BlobInfo(
        name=props.name,
        size=props.size,
        sha256=metadata.get(SHA256_METADATA),
        last_modified=to_utc(props.last_modified),
    )
