"""Plan a submit run: render every row, give it a key, and decide what the journal allows.

Nothing here sends anything. `plan_submit` reads the sheet and the journal and says, row by
row, what will happen (send, check first, skip and why, invalid), so the user can confirm.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from merge.addresses import is_loopback
from merge.batch.journal import Entry, Journal, VideoState, journal_path
from merge.batch.proof import lost_since, reconcile_with_output, sent_in_output
from merge.batch.results import Job, Ledger
from merge.errors import OutputError, SheetError
from merge.payload.encode import dumps
from merge.payload.media import LocalFile, MediaFiles, tokens_in
from merge.payload.render import Template
from merge.payload.row import V3, Target, check_row, load_template
from merge.payload.translate_v3 import engine_of
from merge.prices import PriceTable
from merge.problems import Problem, did_you_mean
from merge.review.offline import RenderOptions
from merge.settings import FOLLOW_COLUMNS, RESULT_COLUMNS, SUMMARY_PROBLEMS_SHOWN
from merge.sheets.selection import select_rows
from merge.sheets.sheet import Row, SheetInfo, check_writable, remove_stale_temps

SAME_FORMAT = {".xlsx": {".xlsx"}, ".xlsm": {".xlsm"}}  # Excel refuses a mismatched content type
TEXT_FORMATS = {".csv", ".tsv", ".txt"}
CHECK_FIRST = ("sending", "unknown")
LOCAL_TARGET = "a local simulator"
XLSX_COLUMNS = 16_384
"""The columns a worksheet holds (XFD): the output must fit its added columns in them."""
HIDDEN_SKIPPED = "hidden in the sheet (--include-hidden sends them)"


@dataclass(frozen=True)
class SubmitOptions:
    """What `submit` was asked to do, resolved once at the boundary."""

    render: RenderOptions = field(default_factory=RenderOptions)
    key_column: str | None = None
    retry_failed: bool = False
    retry_unknown: bool = False


@dataclass
class Plan:
    """Every selected row's fate before anything is sent, and the rows to send or check."""

    info: SheetInfo
    template: Template
    output: Path
    ledger: Ledger
    send: list[Job] = field(default_factory=list)
    check: list[Job] = field(default_factory=list)
    first_sent: dict[str, float] = field(default_factory=dict)
    check_only: set[str] = field(default_factory=set)
    """Rows refused with a 5xx: checked against the video list, not sent again if absent."""
    skipped: Counter[str] = field(default_factory=Counter)
    total: int = 0
    invalid: int = 0
    first_problems: list[str] = field(default_factory=list)
    renewed: int = 0
    """Rows whose video failed to render, sent again as new videos (--retry-failed)."""
    follow_columns: tuple[str, ...] = ()
    videos: dict[str, VideoState] = field(default_factory=dict)
    files: dict[str, LocalFile] = field(default_factory=dict)
    """Local files the rows to send or check name, by token: uploaded before any create."""
    avatar_types: dict[str, str] = field(default_factory=dict)
    """Each look's avatar type as the pre-flight learnt it, for the page's cost estimate."""
    prices: PriceTable = field(default_factory=PriceTable)
    lost_since: float | None = None
    """The output held ids its journal did not: a row without one may have been sent since."""
    engines: Counter[str] = field(default_factory=Counter)
    """The avatar engine of each row to send (v3), counted: what the run will cost depends on it."""
    target: Target = V3
    """The API the bodies were made for; the run's client is chosen from it, nowhere else."""

    @property
    def journal(self) -> Journal:
        """The journal this plan was made against, held until the run ends."""
        return self.ledger.journal


def plan_submit(
    data: Path,
    template_path: Path,
    output: Path,
    target: str,
    options: SubmitOptions,
    clock: Callable[[], float] = time.time,
    warn: Callable[[str], None] | None = None,
) -> Plan:
    """Read the sheet, the template and the journal, and decide each selected row's fate."""
    sheet = options.render.open(data)
    _check_output(sheet.info, Path(output))
    template = load_template(template_path, sheet.info.columns)
    _check_key_column(options.key_column, sheet.info)
    # Whatever would stop the output being written is found now, before anything is sent.
    writing = check_writable(sheet.info, Path(output), RESULT_COLUMNS + FOLLOW_COLUMNS)
    for warning in sheet.info.warnings + template.warnings + tuple(writing):
        if warn is not None:
            warn(warning)
    journal = Journal.open(journal_path(Path(output)), target)
    remove_stale_temps(Path(output))
    try:
        sent = sent_in_output(Path(output), sheet.info.sheet_name)
        adopted = reconcile_with_output(journal, sent, refuse_empty=True)
        if adopted and warn is not None:
            warn(
                f"{adopted:,} video_ids were in the output but not in its journal: taken from"
                " the output; rows without one are checked against the video list first"
            )
        plan = Plan(sheet.info, template, Path(output), Ledger(journal, clock))
        lost = [t for t in (lost_since(journal), journal.crashed_run()) if t is not None]
        plan.lost_since = min(lost, default=None)
        plan.target = options.render.target
        plan.follow_columns = journal.follow_columns(sheet.info.columns)
        journal.remember("api", options.render.target.api)
        _check_same_key(journal, options.key_column)
        plan.videos = journal.videos()
        shown = options.render.shown_rows(template)
        read = template.columns | ({options.key_column} if options.key_column else set())
        shown.read = frozenset(read)
        _plan_rows(plan, shown(sheet.rows()), options)
    except BaseException:
        journal.close()
        raise
    if shown.hidden:
        plan.skipped[HIDDEN_SKIPPED] = shown.hidden
    for warning in shown.warnings():
        if warn is not None:
            warn(warning)
    return plan


def journal_target(base_url: str) -> str:
    """Name the API a journal's ids belong to: any loopback address is a local simulator."""
    host = urlsplit(base_url).hostname or ""
    return LOCAL_TARGET if is_loopback(host) else base_url.rstrip("/")


def _check_output(info: SheetInfo, output: Path) -> None:
    if output.resolve() == info.path.resolve():
        raise OutputError(
            f"{output}: is the input itself",
            "write to a new file with -o (it can be the next run's input)",
        )
    allowed = SAME_FORMAT.get(info.path.suffix.lower(), TEXT_FORMATS)
    if output.suffix.lower() not in allowed:
        raise OutputError(
            f"{output}: the output keeps the input's format, {info.path.suffix}",
            f"name it like {output.with_suffix(info.path.suffix).name}",
        )
    if output.is_dir():
        raise OutputError(f"{output}: is a folder", "name the output file itself")
    needed = info.width + len(RESULT_COLUMNS) + len(FOLLOW_COLUMNS)
    if info.kind == "xlsx" and needed > XLSX_COLUMNS:
        raise OutputError(
            f"{info.path}: has {info.width:,} columns; the output adds up to"
            f" {needed - info.width} more and a worksheet holds {XLSX_COLUMNS:,}",
            "delete the columns the videos do not need, or save the sheet as CSV",
        )
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(
            f"{output.parent}: the output folder cannot be made ({error.strerror})",
            "choose an output in a folder you can write to",
        ) from None
    if output.exists() and not journal_path(output).exists():
        raise OutputError(
            f"{output}: exists, but its journal {journal_path(output).name} does not",
            f"use {output.name} as the input (its video_id column is kept), or choose a new -o",
        )


def _check_same_key(journal: Journal, key: str | None) -> None:
    """Refuse another --key than the one rows were sent with: they would not be recognised."""
    known = journal.meta("key_column")
    if known is None or not journal.entries():
        journal.remember("key_column", key or "")
        return
    if known != (key or ""):
        before = f'with --key "{known}"' if known else "without --key"
        now = f'--key "{key}"' if key else "no --key"
        raise OutputError(
            f"{journal.path}: its rows were sent {before}; with {now} they would not be"
            " recognised, and would be sent again",
            f"run again {before}" if known else "run again without --key",
        )


def _check_key_column(key: str | None, info: SheetInfo) -> None:
    if key is not None and key not in info.columns:
        raise SheetError(
            f'{info.path}: --key column "{key}" is not in the header'
            + did_you_mean(key, info.columns),
            "name a column whose value is unique for each row, such as an email",
        )


def _plan_rows(plan: Plan, rows: Any, options: SubmitOptions) -> None:
    entries = plan.journal.entries()
    by_row = {entry.row: entry for entry in entries.values()}
    campaign = plan.journal.campaign
    keys: dict[str, int] = {}
    rules = options.render.cells.for_sheet(plan.info)
    media = MediaFiles(plan.info.path.parent, options.render.target.api)
    files: dict[str, LocalFile] = {}
    for row in select_rows(rows, options.render.rows, options.render.limit):
        plan.total += 1
        result = check_row(plan.template, row, options.render.target, rules, media)
        files.update(result.files)
        key, key_problem = _row_key(row, result.payload, options.key_column, campaign)
        if key is not None:
            if key in keys:
                key_problem = Problem("", f'callback_id "{key}" is also row {keys[key]}\'s')
                key = None
            else:
                keys[key] = row.number
        entry = entries.get(key) if key is not None else by_row.get(row.number)
        problems = result.problems + ([key_problem] if key_problem else [])
        if entry is not None and entry.video_id and _render_failed(plan, entry, options):
            if problems or key is None:
                _mark_invalid(plan, row.number, problems, key)
            else:
                _send_again(plan, row, key, _with_key(result.payload, key), entry.video_id)
        elif entry is not None and entry.video_id:
            _skip_submitted(plan, entry, row, _hash(result.payload, key))
        elif row.values.get("video_id", "").strip():
            plan.ledger.show(row.number, "submitted", "", key or "", **_cells(row))
            plan.skipped["already has a video_id in the input sheet"] += 1
        elif problems or key is None:
            _mark_invalid(plan, row.number, problems, key)
        else:
            _plan_valid(plan, row, key, _with_key(result.payload, key), entry, options)
    for entry in entries.values():
        if entry.row not in plan.ledger.values:
            plan.ledger.show_entry(entry)
    if files:
        named = {token for job in (*plan.send, *plan.check) for token in tokens_in(job.body)}
        plan.files = {token: files[token] for token in sorted(named)}


def _row_key(
    row: Row, payload: Any, key_column: str | None, campaign: str
) -> tuple[str | None, Problem | None]:
    """Give a row its callback_id: the template's, the sheet's, from --key, or from its number."""
    given = payload.get("callback_id") if isinstance(payload, dict) else None
    if isinstance(given, str) and given.strip():
        return given, None
    cell = row.values.get("callback_id", "").strip()
    if cell:
        return cell, None
    if key_column is not None:
        value = row.values.get(key_column, "").strip()
        if not value:
            return None, Problem("", "is empty, and --key needs a value in every row", key_column)
        return f"am-{campaign}-{value}", None
    return f"am-{campaign}-row-{row.number}", None


V3_TYPES = frozenset({"avatar", "image", "studio"})


def _with_key(payload: dict[str, Any], key: str) -> dict[str, Any]:
    """Give the body the row's key as its callback_id, and (v3) as its title when it has none:
    v3's videos carry no callback_id, so a lost answer's video is found by its title."""
    extra: dict[str, str] = {}
    if payload.get("callback_id") != key:
        extra["callback_id"] = key
    if payload.get("type") in V3_TYPES and not payload.get("title"):
        extra["title"] = key
    return {**payload, **extra} if extra else payload


def _hash(payload: Any, key: str | None) -> str:
    if not isinstance(payload, dict) or key is None:
        return ""
    canonical = orjson.dumps(_with_key(payload, key), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:32]


def _cells(row: Row) -> dict[str, str]:
    return {"video_id": row.values["video_id"].strip(), "at": row.values.get("submitted_at", "")}


def _queue(plan: Plan, job: Job, payload: dict[str, Any]) -> None:
    """Add a row to send, counting its engine."""
    plan.send.append(job)
    if plan.target.api == "v3":
        plan.engines[engine_of(payload)] += 1


def _job(row: Row, key: str, payload: dict[str, Any], renews: str = "") -> Job:
    """Make a row's request, its body serialised once and kept at its own size."""
    # orjson's bytes keep a 4 KiB buffer; an exact copy makes 100,000 waiting bodies 8x smaller.
    body = bytes(memoryview(dumps(payload)))
    return Job(row.number, key, body, _hash(payload, key), renews)


def _render_failed(plan: Plan, entry: Entry, options: SubmitOptions) -> bool:
    """Whether --retry-failed asks for a new video in place of one that failed to render."""
    state = plan.videos.get(entry.video_id or "")
    return options.retry_failed and state is not None and state.status == "failed"


def _send_again(plan: Plan, row: Row, key: str, payload: dict[str, Any], failed: str) -> None:
    """Queue a new video for a row whose video failed; the failed one stays in the journal."""
    _queue(plan, _job(row, key, payload, f"failed video {failed}"), payload)
    plan.renewed += 1


def _skip_submitted(plan: Plan, entry: Entry, row: Row, payload_hash: str) -> None:
    plan.ledger.show_entry(entry, row.number)
    if payload_hash and entry.payload_hash and payload_hash != entry.payload_hash:
        plan.skipped["changed since it was submitted (it keeps its video_id)"] += 1
    else:
        plan.skipped["already has a video_id"] += 1


def _mark_invalid(plan: Plan, number: int, problems: list[Problem], key: str | None) -> None:
    plan.invalid += 1
    plan.ledger.show_invalid(number, problems, key or "")
    room = SUMMARY_PROBLEMS_SHOWN - len(plan.first_problems)
    plan.first_problems.extend(f"row {number}, {p.describe()}" for p in problems[: max(room, 0)])


def _plan_valid(
    plan: Plan,
    row: Row,
    key: str,
    payload: dict[str, Any],
    entry: Entry | None,
    options: SubmitOptions,
) -> None:
    job = _job(row, key, payload)
    in_doubt = row.values.get("merge_status", "").strip() == "unknown"
    if entry is None and in_doubt and not options.retry_unknown:
        plan.ledger.show(row.number, "unknown", "unknown in the input sheet", key)
        plan.skipped["unknown in the input sheet (--retry-unknown sends it again)"] += 1
    elif entry is None and plan.lost_since is not None and not options.retry_unknown:
        plan.ledger.show(
            row.number, "unknown", "a run that never ended may have sent it: checked first", key
        )
        plan.check.append(job)
        plan.first_sent[key] = plan.lost_since
    elif entry is None or entry.state == "unsent":
        _queue(plan, job, payload)
    elif entry.state in CHECK_FIRST or entry.server_error:
        # A 5xx may come after the video was made: in doubt until the video list says; one
        # found absent is sent again only when --retry-failed asks (as any refused row).
        plan.ledger.show_entry(entry, row.number)
        if entry.server_error and not options.retry_failed:
            plan.check_only.add(key)
        if options.retry_unknown and not entry.server_error:
            _queue(plan, job, payload)
        else:
            plan.check.append(job)
            plan.first_sent[key] = entry.first_sent_at or entry.sent_at or 0.0
    elif entry.payload_hash != job.payload_hash:
        _queue(plan, job, payload)
    elif options.retry_failed:  # refused before: a new key, not the refusal's replay
        _queue(plan, _job(row, key, payload, f"refused, attempt {entry.attempts}"), payload)
    else:
        plan.ledger.show_entry(entry, row.number)
        plan.skipped["failed before (--retry-failed sends it again)"] += 1
