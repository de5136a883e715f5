"""JWT logins (the web backend's path): HS256 with claim `userid`; `exp` required."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import jwt
import pytest

from leoscope.api import leotest_pb2 as pb
from tests.harness import RunningOrchestrator

SECRET = "a-long-random-shared-secret-for-tests-0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def orch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrchestrator]:
    o = RunningOrchestrator(tmp_path_factory.mktemp("jwt"), jwt_secret=SECRET)
    o.admin().register_user("alice@example.org")
    yield o
    o.stop()


def token(claims: dict, key: str = SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def whoami(orch: RunningOrchestrator, jwt_token: str) -> str:
    # The web backend always sends userid "admin" with an empty token next to the JWT.
    return orch.caller("admin", "", jwt_token).call("whoami", pb.message_whoami()).userid


def test_valid_jwt_decides_the_caller(orch: RunningOrchestrator) -> None:
    good = token({"userid": "alice@example.org", "exp": int(time.time()) + 600})
    assert whoami(orch, good) == "alice@example.org"


@pytest.mark.parametrize(
    "claims_key_alg",
    [
        ({"userid": "alice@example.org"}, SECRET, "HS256"),  # no exp
        ({"userid": "alice@example.org", "exp": int(time.time()) - 10}, SECRET, "HS256"),  # expired
        (
            {"userid": "alice@example.org", "exp": int(time.time()) + 600},
            "another-secret-entirely-0123456789abcdef0123456789abcdef0123456789",
            "HS256",
        ),
        (
            {"userid": "alice@example.org", "exp": int(time.time()) + 600},
            SECRET,
            "HS512",
        ),  # other alg
        ({"userid": "nobody", "exp": int(time.time()) + 600}, SECRET, "HS256"),  # unknown user
        ({"sub": "alice@example.org", "exp": int(time.time()) + 600}, SECRET, "HS256"),  # no userid
    ],
)
def test_bad_jwts_are_refused(orch: RunningOrchestrator, claims_key_alg: tuple) -> None:
    claims, key, alg = claims_key_alg
    with pytest.raises(grpc.RpcError) as info:
        whoami(orch, token(claims, key, alg))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_jwt_ignored_without_secret(tmp_path: Path) -> None:
    o = RunningOrchestrator(tmp_path)
    try:
        o.admin().register_user("bob")
        with pytest.raises(grpc.RpcError):
            whoami(o, token({"userid": "bob", "exp": int(time.time()) + 600}))
    finally:
        o.stop()
