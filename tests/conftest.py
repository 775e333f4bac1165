"""Shared test helpers: run the CLI in process and capture what a user would see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from merge.cli.commands import main

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class CliRun:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run `avatar-merge ARGS` in process; return exit code, stdout and stderr."""

    def run(*args: str | Path) -> CliRun:
        argv: Sequence[str] = [str(a) for a in args]
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run
