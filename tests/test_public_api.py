"""The library surface: everything a notebook user needs is importable from `merge` alone."""

from __future__ import annotations

import inspect

import merge


def test_all_is_sorted() -> None:
    assert merge.__all__ == sorted(merge.__all__)


def test_all_names_every_public_name_and_nothing_else() -> None:
    public = {
        name
        for name, value in vars(merge).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert set(merge.__all__) == public


def test_render_submit_and_follow_come_from_merge_alone() -> None:
    for name in (
        "render_to_folder",
        "submit_sheet",
        "follow_sheet",
        "follow_output",
        "open_sheet",
        "check_row",
    ):
        assert callable(getattr(merge, name)), name
    assert inspect.signature(merge.follow_output).parameters
