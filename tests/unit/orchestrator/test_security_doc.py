from __future__ import annotations

from pathlib import Path

from leoscope.orchestrator.auth import rules_markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "security.md"


def test_security_doc_shows_the_authorization_table() -> None:
    assert rules_markdown() in DOC.read_text()
