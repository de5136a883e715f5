"""Artifact pieces that need no server: blob layout, the store factory, wire conversion, the
local store's URL signing, part-size choice, and the public surface of leoscope.artifacts."""

from __future__ import annotations

import sys
import time
import types
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

import leoscope.artifacts as artifacts
from leoscope.api import leotest_pb2 as pb
from leoscope.artifacts import (
    SignedUrlExpired,
    SignedUrlRefused,
    SignedUrlRejected,
    blob_name_for,
    blob_name_for_run,
    failed_response,
    open_store,
    open_store_from_config,
    signed_url_from_response,
    signed_url_response,
    upload_request_from_pb,
)
from leoscope.artifacts.base import MIB, choose_part_size, part_count
from leoscope.artifacts.local import LocalStore
from leoscope.core.errors import InvalidInput
from leoscope.core.model import BlobSettings, GlobalConfig, Run, StoreSettings
from tests.services import AZURITE_CONNECTION_STRING

START = datetime(2024, 5, 7, 23, 59, tzinfo=UTC)
SHA = "ab" * 32


# ---------------------------------------------------------------- layout


@pytest.mark.parametrize("prefix", ["jobs", "jobs/", "/jobs/"])
def test_blob_name_matches_the_reference_layout(prefix: str) -> None:
    name = blob_name_for(prefix, nodeid="node-1", jobid="exp-1", start_time=START, runid="0f3ce1")
    assert name == "jobs/node-1/exp-1/2024/5/7/0f3ce1.zip"


def test_server_side_archive_uses_client_node_and_date() -> None:
    name = blob_name_for(
        "jobs/", nodeid="client-1", jobid="exp-1", start_time=START, runid="r1", server=True
    )
    assert name == "jobs/client-1/exp-1/2024/5/7/r1_server.zip"
    server_run = Run(
        runid="r1_server",
        jobid="exp-1",
        nodeid="client-1",
        userid="u",
        start_time=START,
        end_time=START,
        last_updated=START,
        status="COMPLETE",
    )
    assert blob_name_for_run("jobs/", server_run) == name


def test_blob_name_uses_utc_date_and_empty_prefix() -> None:
    from datetime import timedelta, timezone

    local = datetime(2024, 5, 8, 1, 0, tzinfo=timezone(timedelta(hours=2)))  # 23:00 UTC on 7 May
    assert (
        blob_name_for("", nodeid="n", jobid="j", start_time=local, runid="r")
        == "n/j/2024/5/7/r.zip"
    )


@pytest.mark.parametrize("field", ["nodeid", "jobid", "runid"])
@pytest.mark.parametrize("bad", ["", "a/b", ".."])
def test_blob_name_refuses_unsafe_ids(field: str, bad: str) -> None:
    ids = {"nodeid": "n", "jobid": "j", "runid": "r", field: bad}
    with pytest.raises(InvalidInput) as caught:
        blob_name_for("jobs", start_time=START, **ids)
    assert caught.value.field == field


# ---------------------------------------------------------------- factory


def test_factory_picks_back_end_by_scheme(tmp_path: Path) -> None:
    local = open_store(
        f"local://{tmp_path}/a", signing_secret="s" * 32, public_base_url="http://h/x"
    )
    assert isinstance(local, LocalStore) and local.root == (tmp_path / "a").resolve()
    azure = open_store(
        "azure://leotest", connection_string=AZURITE_CONNECTION_STRING, url_ttl_secs=60
    )
    assert azure.backend == "azure" and azure.url_ttl_secs == 60
    s3 = open_store(
        StoreSettings(
            url="s3://bucket",
            s3_endpoint="http://127.0.0.1:1",
            s3_access_key="a",
            s3_secret_key="b",
        )
    )
    assert s3.backend == "s3" and s3.url_ttl_secs == artifacts.DEFAULT_URL_TTL_SECS
    ref = open_store(BlobSettings(AZURITE_CONNECTION_STRING, "leotest", "jobs/"))
    assert ref.backend == "azure"
    for store in (local, azure, s3, ref):
        store.close()


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("", "store.url"),
        ("ftp://x", "store.url"),
        ("local://host/dir", "store.url"),
        ("s3://bucket/prefix", "store.url"),
        ("azure://", "container"),
        ("azure://leotest", "connectionString"),
    ],
)
def test_factory_names_the_bad_setting(url: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        open_store(url)
    assert caught.value.field == field


def test_azure_needs_an_account_key() -> None:
    sas_only = (
        "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;SharedAccessSignature=sv=2020&sig=x"
    )
    with pytest.raises(InvalidInput) as caught:
        open_store("azure://c", connection_string=sas_only)
    assert caught.value.field == "connectionString"


def test_store_from_global_config(tmp_path: Path) -> None:
    blob = BlobSettings(AZURITE_CONNECTION_STRING, "leotest", "jobs/")
    chosen = open_store_from_config(
        GlobalConfig(blob=blob, store=StoreSettings(url=f"local://{tmp_path}", url_ttl_secs=30))
    )
    assert chosen.backend == "local" and chosen.url_ttl_secs == 30
    assert open_store_from_config(GlobalConfig(blob=blob)).backend == "azure"
    with pytest.raises(InvalidInput):
        open_store_from_config(GlobalConfig())


def test_sdk_modules_load_only_when_needed(tmp_path: Path) -> None:
    import subprocess

    code = (
        "import sys, leoscope.artifacts as a;"
        f"a.open_store('local://{tmp_path}');"
        "print('azure.storage.blob' in sys.modules, 'boto3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------- part sizes


def test_part_size_keeps_part_count_bounded() -> None:
    assert choose_part_size(200 * MIB, max_parts=1000) == 8 * MIB
    big = 100 * 1024 * MIB
    size = choose_part_size(big, max_parts=1000)
    assert size % MIB == 0 and part_count(big, size) <= 1000
    assert part_count(1, 8 * MIB) == 1 and part_count(16 * MIB, 8 * MIB) == 2


# ---------------------------------------------------------------- local signing


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_local_url_is_bound_to_blob_operation_content_and_time(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, secret=b"k" * 32, base_url="http://h/a")
    signed = store.sign_upload("x/y.zip", size=10, sha256=SHA, ttl_secs=60)
    query = _query(signed.url)
    grant = store.check_access("x/y.zip", query, write=True)
    assert (grant.size, grant.sha256, grant.op) == (10, SHA, "w")

    with pytest.raises(SignedUrlRejected):
        store.check_access("x/other.zip", query, write=True)
    for field, value in (("sz", "11"), ("sh", "cd" * 32), ("exp", str(int(query["exp"]) + 60))):
        with pytest.raises(SignedUrlRejected):
            store.check_access("x/y.zip", {**query, field: value}, write=True)
    with pytest.raises(SignedUrlExpired):
        store.check_access("x/y.zip", query, write=True, now=time.time() + 61)
    other_secret = LocalStore(tmp_path, secret=b"j" * 32, base_url="http://h/a")
    with pytest.raises(SignedUrlRejected):
        other_secret.check_access("x/y.zip", query, write=True)


def test_local_read_url_cannot_write(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, secret=b"k" * 32, base_url="http://h/a")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "y.zip").write_bytes(b"hello")
    signed = store.sign_download("x/y.zip")
    assert signed.size == 5
    with pytest.raises(SignedUrlRejected):
        store.check_access("x/y.zip", _query(signed.url), write=True)


def test_local_store_reserves_its_state_directory(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, base_url="http://h/a")
    with pytest.raises(InvalidInput):
        store.sign_upload(".leoscope/meta/x.json", size=1, sha256=SHA)
    with pytest.raises(InvalidInput):
        LocalStore(tmp_path, secret=b"short")


# ---------------------------------------------------------------- wire


def test_signed_url_round_trips_through_the_wire(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, base_url="http://h/a")
    signed = store.sign_upload("x/y.zip", size=10, sha256=SHA, ttl_secs=120)
    wire = pb.message_signed_url_response.FromString(
        signed_url_response(signed).SerializeToString()
    )
    assert wire.state == pb.SUCCESS and wire.ttl_secs == 120 and wire.operation == "upload"
    back = signed_url_from_response(wire)
    assert back == signed
    assert "sig=" not in repr(back)  # URLs are credentials: reprs never show signatures


def test_s3_style_fields_round_trip() -> None:
    signed = artifacts.SignedUrl(
        backend="s3",
        operation="upload",
        url="http://s3/b/k?X-Amz-Signature=1",
        blob_name="k",
        expires_at=START,
        ttl_secs=900,
        sha256=SHA,
        size=20 * MIB,
        part_size=8 * MIB,
        upload_id="u-1",
        part_urls=("p1", "p2", "p3"),
        list_parts_url="l",
        complete_url="c",
    )
    assert signed_url_from_response(signed_url_response(signed)) == signed


def test_failed_answer_raises() -> None:
    with pytest.raises(SignedUrlRefused, match="not your run"):
        signed_url_from_response(failed_response("not your run"))


def test_upload_request_is_validated() -> None:
    ok = upload_request_from_pb(pb.message_get_upload_url(runid="r", sha256=SHA.upper(), size=5))
    assert ok.sha256 == SHA and ok.upload_id is None and ok.blob_name is None
    for msg, field in (
        (pb.message_get_upload_url(sha256=SHA, size=5), "runid"),
        (pb.message_get_upload_url(runid="r", size=5), "sha256"),
        (pb.message_get_upload_url(runid="r", sha256="x", size=5), "sha256"),
        (pb.message_get_upload_url(runid="r", sha256=SHA), "size"),
        (pb.message_get_upload_url(runid="r", sha256=SHA, size=0), "size"),
    ):
        with pytest.raises(InvalidInput) as caught:
            upload_request_from_pb(msg)
        assert caught.value.field == field


def test_public_surface_is_pinned() -> None:
    public = {
        name
        for name, value in vars(artifacts).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert public == set(artifacts.__all__)
    assert artifacts.__all__ == sorted(artifacts.__all__, key=lambda n: (not n.isupper(), n))
