from __future__ import annotations

import re
from pathlib import Path

from leoscope.node.settings import TABLE

DOC = Path(__file__).resolve().parents[3] / "docs" / "node.md"


def test_the_operator_guide_lists_every_agent_setting() -> None:
    rows = set(re.findall(r"^\| `([a-z_]+)` \| `(LEOSCOPE_[A-Z_]+)` \|$", DOC.read_text(), re.M))
    assert rows == {(s.key, s.env) for s in TABLE}
