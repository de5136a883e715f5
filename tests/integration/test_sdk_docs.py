"""docs/sdk.md is executable: its walk-through runs against a real orchestrator.

The ```python blocks after "## A walk-through" run in order, in one namespace, with the
documented address replaced by this test's orchestrator. Each ```text block that follows one
is its exact output; `...` stands for the rest of a line that changes from run to run.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from leoscope.client import Client
from tests.harness import RunningOrchestrator

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"
BLOCK = re.compile(r"```(python|text)\n(.*?)```", re.DOTALL)


def walkthrough() -> list[tuple[str, str | None]]:
    """(code, expected output or None) for each runnable block."""
    text = DOC.read_text(encoding="utf-8").split("## A walk-through", 1)[1].split("\n## ", 1)[0]
    pairs: list[tuple[str, str | None]] = []
    for kind, body in BLOCK.findall(text):
        if kind == "python":
            pairs.append((body, None))
        else:
            assert pairs and pairs[-1][1] is None, "a text block must follow a python block"
            pairs[-1] = (pairs[-1][0], body)
    return pairs


def matches(expected: str, actual: str) -> bool:
    if expected.endswith("..."):
        return actual.startswith(expected[:-3])
    return expected == actual


@pytest.fixture(scope="module")
def orch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrchestrator]:
    o = RunningOrchestrator(tmp_path_factory.mktemp("sdk-docs"))
    yield o
    o.stop()


def test_walkthrough_runs_and_prints_what_it_shows(
    orch: RunningOrchestrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEOSCOPE_ADMIN_TOKEN", orch.admin_token)
    blocks = walkthrough()
    assert len(blocks) >= 5
    namespace: dict[str, object] = {"__name__": "sdk_docs"}
    for code, expected in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(
                compile(code.replace("127.0.0.1:50051", orch.address), str(DOC), "exec"), namespace
            )
        if expected is None:
            continue
        want, got = expected.strip().splitlines(), out.getvalue().strip().splitlines()
        assert len(want) == len(got) and all(map(matches, want, got)), (
            f"{code}\nexpected:\n{expected}\ngot:\n{out.getvalue()}"
        )


def test_every_public_method_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    methods = [n for n, _ in inspect.getmembers(Client, callable) if not n.startswith("_")]
    assert len(methods) > 30
    for name in methods:
        assert f"{name}(" in text, f"docs/sdk.md does not mention Client.{name}"
