"""Artifact stores (local directory, Azure Blob Storage, S3) and signed-URL transfers.

Orchestrator side (holds the credentials):

    store = open_store("s3://bucket", s3_endpoint=..., s3_access_key=..., s3_secret_key=...)
    signed = store.sign_upload(blob_name_for(...), size=size, sha256=sha256)
    reply = signed_url_response(signed)          # answer to get_upload_url

Node / CLI side (holds only the signed URLs):

    sha256, size = file_digest(path)
    upload_file(lambda upload_id: ask_orchestrator(sha256, size, upload_id), path,
                checkpoint_path=path.with_suffix(".upload.json"))
    download_file(signed_url_from_response(reply), dest)

The store interface and its contract are in `base.py`; `azure` and `s3` (and their SDKs) are
imported only by `open_store` when such a store is opened.
"""

from __future__ import annotations

from .base import (
    DEFAULT_PART_SIZE,
    DEFAULT_URL_TTL_SECS,
    MAX_URL_TTL_SECS,
    ArtifactStore,
    BlobInfo,
    SignedUrl,
    check_blob_name,
    check_sha256,
)
from .digest import file_digest
from .download import DownloadResult, download_file
from .errors import (
    ArtifactError,
    BlobConflict,
    ChecksumMismatch,
    SignedUrlExpired,
    SignedUrlRejected,
    TransferFailed,
    TransferUnavailable,
)
from .factory import open_store, open_store_from_config
from .layout import blob_name_for, blob_name_for_run
from .session import RetryPolicy, Signer
from .transfer import UploadResult, resume_upload_id, upload_file
from .wire import (
    SignedUrlRefused,
    UploadRequest,
    failed_response,
    signed_url_from_response,
    signed_url_response,
    upload_request_from_pb,
)

__all__ = [
    "DEFAULT_PART_SIZE",
    "DEFAULT_URL_TTL_SECS",
    "MAX_URL_TTL_SECS",
    "ArtifactError",
    "ArtifactStore",
    "BlobConflict",
    "BlobInfo",
    "ChecksumMismatch",
    "DownloadResult",
    "RetryPolicy",
    "SignedUrl",
    "SignedUrlExpired",
    "SignedUrlRefused",
    "SignedUrlRejected",
    "Signer",
    "TransferFailed",
    "TransferUnavailable",
    "UploadRequest",
    "UploadResult",
    "blob_name_for",
    "blob_name_for_run",
    "check_blob_name",
    "check_sha256",
    "download_file",
    "failed_response",
    "file_digest",
    "open_store",
    "open_store_from_config",
    "resume_upload_id",
    "signed_url_from_response",
    "signed_url_response",
    "upload_file",
    "upload_request_from_pb",
]
