"""Reading a run's archive in place (`Client.open_archive`'s RangeReader) against the real local
store endpoint: a refused URL is re-signed, and a re-signed URL that names another blob (a newer
partial snapshot) is refused instead of mixing ranges of two archives.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from leoscope.artifacts import SignedUrl, TransferFailed, upload_file
from leoscope.artifacts.local import LocalStore
from leoscope.client._remote_zip import BLOCK_BYTES, RangeReader, RemoteArchive
from tests.integration.artifacts.servers import BackgroundLoop, serve_local_store, unique_blob

pytest_plugins = ("tests.integration.artifact_fixtures",)


@pytest.fixture
def local_store(tmp_path: Path, background_loop: BackgroundLoop) -> Iterator[LocalStore]:
    served = serve_local_store(tmp_path / "store", background_loop)
    yield served.store
    background_loop.run(served.endpoint.close())
    served.store.close()


def _archive(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _store(store: LocalStore, data: bytes, tmp_path: Path) -> str:
    blob = unique_blob()
    source = tmp_path / f"{hashlib.sha1(data).hexdigest()}.zip"
    source.write_bytes(data)
    signed = store.sign_upload(blob, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    upload_file(signed, source)
    return blob


def _tampered(signed: SignedUrl) -> SignedUrl:
    return signed.with_url(signed.url.replace("sig=", "sig=00"))


def test_a_refused_url_is_re_signed(local_store: LocalStore, tmp_path: Path) -> None:
    members = {"run/container.stdout": b"hello\n", "run/big.bin": bytes(3 * BLOCK_BYTES)}
    blob = _store(local_store, _archive(members), tmp_path)
    resigned: list[SignedUrl] = []

    def resign() -> SignedUrl:
        resigned.append(local_store.sign_download(blob))
        return resigned[-1]

    with RemoteArchive(RangeReader(_tampered(local_store.sign_download(blob)), resign)) as zf:
        assert zf.read("run/container.stdout") == b"hello\n"
        assert sorted(zf.namelist()) == sorted(members)
    assert len(resigned) == 1


def test_a_url_re_signed_for_another_blob_is_refused(
    local_store: LocalStore, tmp_path: Path
) -> None:
    first = _store(local_store, _archive({"run/a.txt": b"first " * 50_000}), tmp_path)
    newer = _store(local_store, _archive({"run/b.txt": b"newer " * 70_000}), tmp_path)
    stale = _tampered(local_store.sign_download(first))

    with pytest.raises(TransferFailed, match="replaced while it was being read"):
        RemoteArchive(RangeReader(stale, lambda: local_store.sign_download(newer)))
