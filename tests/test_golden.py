"""Golden cases: tests/golden/<case>/ holds a sheet, a template and the expected payloads.jsonl.

Run with UPDATE_GOLDEN=1 to rewrite the expected files after a deliberate change, then read the
diff before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from merge.payload.row import V2
from merge.review.offline import RenderOptions, render_to_folder

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = sorted(p for p in GOLDEN.iterdir() if p.is_dir() and any(p.glob("data.*")))


def _one(case: Path, pattern: str) -> Path:
    [found] = [p for p in case.glob(pattern) if p.name != "expected.jsonl"]
    return found


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_golden_case(case: Path, tmp_path: Path):
    options = RenderOptions(target=V2)  # the cases record V2 bodies; tests/golden_v3 has v3's
    render_to_folder(_one(case, "data.*"), _one(case, "template.*"), tmp_path, options)
    produced = (tmp_path / "payloads.jsonl").read_text(encoding="utf-8")
    expected_file = case / "expected.jsonl"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_file.write_text(produced, encoding="utf-8")
    expected = expected_file.read_text(encoding="utf-8").splitlines()
    lines = produced.splitlines()
    assert len(lines) == len(expected)
    for got, want in zip(lines, expected, strict=True):
        assert json.loads(got) == json.loads(want)
