"""The artifact store as the orchestrator sees it: chosen by the global config, signing URLs.

* `datastore.store.url` (LEOScope) picks the back end: `azure://<container>` (with the blob
  connection string), `s3://<bucket>` (with the s3_* settings) or `local:///<dir>`;
* otherwise the reference's `datastore.blob` settings select Azure, so reference nodes (which
  upload with the account key themselves) and ours share one container and one layout;
* with neither, the embedded default: a local directory in the data directory, served by this
  process's HTTP endpoint with HMAC-signed, expiring URLs.

Stores are opened once per configuration and kept; a config change opens the new one.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from leoscope.api.convert import global_config_from_document
from leoscope.artifacts import ArtifactStore, open_store
from leoscope.artifacts.local import LocalStore
from leoscope.core.errors import InvalidInput

from .store import config_doc

log = logging.getLogger(__name__)

DEFAULT_ARTIFACT_PATH = "jobs/"


def load_signing_secret(data_dir: Path) -> bytes:
    """The local store's URL-signing secret, created once and kept in the data directory."""
    path = data_dir / "artifact-signing.key"
    if not path.exists():
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


class ArtifactService:
    def __init__(self, data_dir: Path, *, signing_secret: bytes | None = None) -> None:
        self.local_root = (data_dir / "artifacts").resolve()
        self._secret = signing_secret or load_signing_secret(data_dir)
        self.local = LocalStore(self.local_root, secret=self._secret)
        self._lock = threading.Lock()
        self._opened: dict[str, ArtifactStore] = {}

    def set_local_base_url(self, url: str) -> None:
        self.local.set_base_url(url)

    def current(self, conn: Connection) -> tuple[ArtifactStore, str]:
        """(the configured store, the blob-name prefix `artifactPath`)."""
        document = config_doc.load(conn) or {}
        config = global_config_from_document(document)
        prefix = (config.blob.artifact_path if config.blob else "") or DEFAULT_ARTIFACT_PATH
        datastore: dict[str, Any] = document.get("datastore", {})
        key = json.dumps(datastore, sort_keys=True)
        with self._lock:
            store = self._opened.get(key)
        if store is None:
            store = self._open(config)
            with self._lock:
                self._opened[key] = store
        return store, prefix

    def _open(self, config: Any) -> ArtifactStore:
        if config.store is not None and config.store.url:
            url = config.store.url
            if url.startswith("local:"):
                path = url.split("://", 1)[-1]
                if path and Path(path).resolve() != self.local_root:
                    raise InvalidInput(
                        "datastore.store.url",
                        f"this orchestrator's local store lives in {self.local_root}; "
                        "use local:// (or that directory)",
                    )
                return self.local
            return open_store(
                config.store,
                connection_string=config.blob.connection_string if config.blob else None,
            )
        if config.blob is not None and config.blob.connection_string and config.blob.container:
            return open_store(config.blob)
        return self.local

    def close(self) -> None:
        with self._lock:
            stores, self._opened = list(self._opened.values()), {}
        for store in stores:
            if store is not self.local:
                store.close()
        self.local.close()
