"""The review folder is the same whether its page is built in a forked process or in this one."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from merge.errors import OutputError
from merge.payload.row import Target, check_row, load_template
from merge.review import folder as review_folder
from merge.review.marked import ArrivingAnnotations, Stopped
from merge.review.offline import RenderOptions, render_to_folder
from merge.review.page import ReviewPage
from merge.sheets.selection import chunked
from merge.sheets.sheet import Row, open_sheet
from tests.submitting import OUTREACH, lead, write_csv


def leads(tmp_path: Path, count: int) -> Path:
    """A sheet of leads with awkward cells, one row in seven invalid."""
    rows = []
    for n in range(count):
        row = list(lead(n))
        row[0] = ["Zoë", 'Bob "B"', "مرحبا", "😀\u2028", "</script>", "a & b"][n % 6]
        if n % 7 == 3:
            row[7] = "fast"  # the speed: an invalid row
        rows.append(row)
    return write_csv(tmp_path / "leads.csv", rows)


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("split", [False, True], ids=["folder", "split"])
@pytest.mark.parametrize("target", [Target("v3"), Target("v2")], ids=["v3", "v2"])
def test_the_page_built_in_a_forked_process_is_the_page_built_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split: bool, target: Target
) -> None:
    if not review_folder.can_fork():
        pytest.skip("the page is built in a forked process only on Linux")
    data = leads(tmp_path, 2_100)
    options = RenderOptions(split=split, target=target, chunk_rows=700)
    forked = render_to_folder(data, OUTREACH, tmp_path / "forked", options)
    monkeypatch.setattr(review_folder, "can_fork", lambda: False)
    here = render_to_folder(data, OUTREACH, tmp_path / "here", options)
    assert (forked.total, forked.valid) == (here.total, here.valid) == (2_100, 1_800)
    made, expected = files_of(tmp_path / "forked"), files_of(tmp_path / "here")
    assert made.keys() == expected.keys()
    assert len(made) == 3 + (1_800 if split else 0)
    for name, content in expected.items():
        assert made[name] == content, name


def test_an_interrupted_render_leaves_no_writer_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not review_folder.can_fork():
        pytest.skip("the page is built in a forked process only on Linux")
    data = write_csv(tmp_path / "leads.csv", [lead(n) for n in range(3_000)])
    children: list[int] = []
    fork = review_folder.ForkedWriter.__init__

    def noted(writer: review_folder.ForkedWriter, *args: Any) -> None:
        fork(writer, *args)
        children.append(writer.pid)

    def interrupt(rows: int) -> None:
        raise KeyboardInterrupt

    def killed(pid: int, sig: int) -> None:
        raise AssertionError(f"child {pid} had to be killed: a pipe was kept open")

    monkeypatch.setattr(review_folder.ForkedWriter, "__init__", noted)
    monkeypatch.setattr(os, "kill", killed)  # each child ends on its own
    with pytest.raises(KeyboardInterrupt):
        render_to_folder(data, OUTREACH, tmp_path / "review", progress=interrupt)
    assert len(children) == 2, "the page and the copy were each written in a process of their own"
    for pid in children:
        with pytest.raises(ChildProcessError):  # ended, and waited for
            os.waitpid(pid, os.WNOHANG)
    assert sorted(p.name for p in (tmp_path / "review").iterdir()) == []  # nothing half-written


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "here"])
@pytest.mark.parametrize(
    ("taken", "said", "hint"),
    [
        ("review.html", "writing failed", "free some disk space or choose another folder"),
        ("leads.csv", "leads.csv: cannot be written", "close it if it is open in another program"),
    ],
    ids=["page", "marked-copy"],
)
def test_an_output_that_cannot_be_written_is_a_clear_error_and_no_half_folder(
    tmp_path: Path, fork: bool, taken: str, said: str, hint: str
) -> None:
    if fork and not review_folder.can_fork():
        pytest.skip("the page is built in a forked process only on Linux")
    data = write_csv(tmp_path / "leads.csv", [lead(n) for n in range(30)])
    out = tmp_path / "review"
    (out / taken).mkdir(parents=True)  # the output's name is taken by a folder
    folder = review_folder.ReviewFolder.prepare(out, open_sheet(data).info, fork=fork)
    with folder, pytest.raises(OutputError) as caught:
        folder.finish()
    assert said in caught.value.message
    assert hint in str(caught.value.hint)
    assert not (out / ".payloads.jsonl.tmp").exists()


def test_a_row_is_answered_once_every_row_up_to_it_has_arrived() -> None:
    marks = ArrivingAnnotations()
    answers: list[object] = []

    def ask() -> None:
        answers.append(3 in marks)  # row 3 is blank in the sheet: it never arrives
        answers.append(marks[4])
        answers.append(9 in marks)

    reader = threading.Thread(target=ask)
    reader.start()
    marks.arrive([(2, "valid", "")])
    time.sleep(0.05)
    assert answers == []  # row 3 may still come
    marks.arrive([(4, "invalid", "speed: too fast"), (5, "valid", "")])
    time.sleep(0.05)
    assert answers == [False, ("invalid", "speed: too fast")]  # row 9 may still come
    marks.end()
    reader.join(timeout=5)
    assert answers == [False, ("invalid", "speed: too fast"), False]
    assert list(marks) == [2, 4, 5]


def test_a_stopped_run_leaves_the_reader_of_its_marks_stopped() -> None:
    marks = ArrivingAnnotations()
    raised: list[BaseException] = []

    def ask() -> None:
        try:
            len(marks)
        except Stopped as error:
            raised.append(error)

    reader = threading.Thread(target=ask)
    reader.start()
    marks.arrive([(2, "valid", "")])
    marks.end(complete=False)
    reader.join(timeout=5)
    assert len(raised) == 1


def test_a_fault_in_the_writer_process_is_said_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not review_folder.can_fork():
        pytest.skip("the page is built in a forked process only on Linux")

    def broken(page: object, card: object, encoded: object = None) -> None:
        raise ValueError("a card that cannot be drawn")

    monkeypatch.setattr(ReviewPage, "add", broken)
    data = write_csv(tmp_path / "leads.csv", [lead(n) for n in range(30)])
    with pytest.raises(OutputError) as caught:
        render_to_folder(data, OUTREACH, tmp_path / "review")
    assert "ValueError: a card that cannot be drawn" in caught.value.message


def test_a_render_hands_over_a_small_first_chunk_then_ever_larger_ones() -> None:
    rows = [Row(n, {}) for n in range(2, 2_000)]
    sizes = [len(chunk) for chunk in chunked(rows, 700, first=100)]
    assert sizes == [100, 200, 400, 700, 598]
    assert [len(chunk) for chunk in chunked(rows[:5], 700, first=100)] == [5]
    assert [len(chunk) for chunk in chunked(rows, 700)] == [700, 700, 598]
    assert [row for chunk in chunked(rows, 700, first=100) for row in chunk] == rows


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "here"])
def test_a_disk_that_fills_mid_run_is_a_clear_error_and_leaves_no_half_written_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fork: bool
) -> None:
    if fork and not review_folder.can_fork():
        pytest.skip("the page is built in a forked process only on Linux")
    write = review_folder.PageWriter.add

    def full(writer: review_folder.PageWriter, chunk: review_folder.Chunk) -> None:
        write(writer, chunk)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(review_folder.PageWriter, "add", full)  # the forked child has it too
    monkeypatch.setattr(review_folder, "can_fork", lambda: fork)
    data = write_csv(tmp_path / "leads.csv", [lead(n) for n in range(30)])
    with pytest.raises(OutputError) as caught:
        render_to_folder(data, OUTREACH, tmp_path / "review")
    assert "No space left on device" in caught.value.message
    left = {p.name for p in (tmp_path / "review").iterdir()}
    # The marked copy of a CSV whose every row was checked may be complete; nothing else is.
    assert left <= {"leads.csv"}


def test_a_render_does_not_read_a_body_made_as_bytes_back(tmp_path: Path) -> None:
    sheet = open_sheet(leads(tmp_path, 30))
    template = load_template(OUTREACH, sheet.info.columns)
    made = 0
    for row in sheet.rows():
        kept = check_row(template, row)
        bare = check_row(template, row, payload=False)
        assert bare.json_line() == kept.json_line()
        if bare.body is not None:
            made += 1
            assert bare.payload is None
            assert orjson.loads(bare.body) == kept.payload
        else:
            assert bare.payload == kept.payload
    assert made > 10  # most rows: the body was made as bytes


@pytest.mark.parametrize("first", ["copy", "page"])
def test_each_child_ends_when_its_own_pipe_closes_whatever_the_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: str
) -> None:
    if not review_folder.can_fork():
        pytest.skip("the page and the copy are written in forked processes only on Linux")

    def killed(pid: int, sig: int) -> None:
        raise AssertionError(f"child {pid} had to be killed: its pipe was kept open")

    data = write_csv(tmp_path / "leads.csv", [lead(n) for n in range(30)])
    folder = review_folder.ReviewFolder.prepare(tmp_path / "review", open_sheet(data).info)
    children = [folder._copy, folder._writer]
    assert all(isinstance(child, review_folder.ForkedWriter) for child in children)
    monkeypatch.setattr(os, "kill", killed)
    for child in children if first == "copy" else children[::-1]:
        assert isinstance(child, review_folder.ForkedWriter)
        child.stop()
    folder._writer = folder._copy = None
    folder.__exit__(None, None, None)
