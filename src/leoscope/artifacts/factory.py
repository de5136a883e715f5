"""Build an artifact store from its URL or settings; the scheme picks the back end.

    local:///var/lib/leoscope/artifacts   LocalStore (needs a signing secret and the endpoint URL)
    azure://<container>                   AzureBlobStore (needs an account-key connection string)
    s3://<bucket>                         S3Store (endpoint, keys and region from settings/kwargs)

The Azure and S3 SDKs are imported only when such a store is opened, so a deployment without
the `azure`/`s3` extras still runs the local store.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from leoscope.core.errors import InvalidInput
from leoscope.core.model import BlobSettings, GlobalConfig, StoreSettings

from .base import ArtifactStore

SCHEMES = ("local", "azure", "s3")


def open_store(
    target: str | StoreSettings | BlobSettings,
    *,
    connection_string: str | None = None,
    s3_endpoint: str | None = None,
    s3_access_key: str | None = None,
    s3_secret_key: str | None = None,
    s3_region: str | None = None,
    url_ttl_secs: int | None = None,
    signing_secret: bytes | str | None = None,
    public_base_url: str | None = None,
) -> ArtifactStore:
    """Open the store that `target` names.

    `target` is a store URL, a `StoreSettings` (its fields fill in whatever the keyword
    arguments leave out), or the reference's `BlobSettings` (Azure: connection string and
    container). Raises InvalidInput naming the setting that is missing or malformed.
    """
    if isinstance(target, BlobSettings):
        return _azure(target.container, target.connection_string or connection_string, url_ttl_secs)
    if isinstance(target, StoreSettings):
        url = target.url
        s3_endpoint = s3_endpoint or target.s3_endpoint
        s3_access_key = s3_access_key or target.s3_access_key
        s3_secret_key = s3_secret_key or target.s3_secret_key
        s3_region = s3_region or target.s3_region
        url_ttl_secs = url_ttl_secs or target.url_ttl_secs
    else:
        url = target
    if not isinstance(url, str) or not url:
        raise InvalidInput(
            "store.url", "is empty; expected local:///dir, azure://container or s3://bucket"
        )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "local":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise InvalidInput("store.url", f"{url!r}: a local store is local:///absolute/dir")
        from .local import LocalStore

        return LocalStore(
            unquote(parts.path),
            secret=signing_secret,
            base_url=public_base_url,
            url_ttl_secs=url_ttl_secs,
        )
    if scheme == "azure":
        return _azure(parts.netloc, connection_string, url_ttl_secs)
    if scheme == "s3":
        if parts.path.strip("/"):
            raise InvalidInput(
                "store.url", f"{url!r}: use s3://<bucket> (prefixes go in artifactPath)"
            )
        from .s3 import S3Store

        return S3Store(
            parts.netloc,
            endpoint_url=s3_endpoint,
            access_key=s3_access_key,
            secret_key=s3_secret_key,
            region=s3_region,
            url_ttl_secs=url_ttl_secs,
        )
    raise InvalidInput("store.url", f"{url!r} has unknown scheme {parts.scheme!r}; use {SCHEMES}")


def open_store_from_config(
    config: GlobalConfig,
    *,
    signing_secret: bytes | str | None = None,
    public_base_url: str | None = None,
) -> ArtifactStore:
    """The store the global config selects: `store.url` if set, else the reference's Azure blob."""
    blob = config.blob
    if config.store is not None and config.store.url:
        return open_store(
            config.store,
            connection_string=blob.connection_string if blob else None,
            signing_secret=signing_secret,
            public_base_url=public_base_url,
        )
    if blob is not None and blob.connection_string:
        return open_store(blob, url_ttl_secs=config.store.url_ttl_secs if config.store else None)
    raise InvalidInput("datastore", "no artifact store is configured (store.url or blob settings)")


def _azure(
    container: str, connection_string: str | None, url_ttl_secs: int | None
) -> ArtifactStore:
    if not container:
        raise InvalidInput("container", "the Azure store needs a container (azure://<container>)")
    if not connection_string:
        raise InvalidInput(
            "connectionString", "the Azure store needs an account-key connection string"
        )
    from .azure import AzureBlobStore

    return AzureBlobStore(connection_string, container, url_ttl_secs=url_ttl_secs)
