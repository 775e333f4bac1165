"""The pre-flight put to work: on a submit plan before it is shown, or on a sheet alone (`check`).

On a plan, rows the account cannot make are taken out of the sending list and marked invalid
(with the column that fed the id), so no request goes out for them; a pilot of N valid rows
(`--limit-valid`) is cut after that, so it means N videos.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from merge.api.client import open_http
from merge.batch.plan import Plan, _mark_invalid
from merge.batch.preflight import LookupCache, Preflight, run_preflight
from merge.payload.render import Template
from merge.payload.row import check_row, load_template
from merge.prices import PriceTable
from merge.review.offline import RenderOptions
from merge.settings import (
    DEFAULT_BASE_URL,
    LOOKUP_CONCURRENCY,
    LOOKUP_TIMEOUT_SECONDS,
    PREFLIGHT_CACHE_SUFFIX,
    SUMMARY_PROBLEMS_SHOWN,
)
from merge.sheets.selection import select_rows
from merge.sheets.sheet import SheetInfo, open_sheet

SCENE = re.compile(r"^(?:scenes\[(\d+)\](?:\.input)?\.)?(avatar_id|voice_id)$")
V2_SCENE = re.compile(r"^video_inputs\[(\d+)\]\.")


def cache_path(output: Path) -> Path:
    """Place the pre-flight's cache beside the journal: leads-sent.xlsx.preflight.json."""
    return output.with_name(output.name + PREFLIGHT_CACHE_SUFFIX)


def template_columns(template: Template) -> Callable[[str], str | None]:
    """Name the column that fed a body path, V2 or v3, from the template's placeholders."""

    def column(path: str) -> str | None:
        for candidate in _template_paths(path):
            leaf = template.leaves.get(candidate)
            if leaf is not None:
                return ", ".join(leaf.columns) or None
        return None

    return column


def _template_paths(path: str) -> list[str]:
    """The template paths a body path may come from: itself, or the V2 place of a v3 field."""
    found = [path]
    match = SCENE.match(path)
    if match:
        scene = f"video_inputs[{match.group(1) or 0}]"
        if match.group(2) == "avatar_id":
            found += [f"{scene}.character.avatar_id", f"{scene}.character.talking_photo_id"]
        else:
            found.append(f"{scene}.voice.voice_id")
    return found


def check_plan(
    plan: Plan,
    http: httpx.AsyncClient,
    table: PriceTable,
    key_source: str,
    limit_valid: int | None = None,
) -> Preflight:
    """Check the rows a plan would send, take out the ones that would fail, cut a pilot."""
    bodies = {job.row: orjson.loads(job.body) for job in plan.send}
    cache = LookupCache(cache_path(plan.output), str(plan.journal.meta("target")))
    verdict = run_preflight(http, bodies, template_columns(plan.template), table, cache, key_source)
    plan.prices = table
    plan.avatar_types = verdict.avatar_types
    if verdict.invalid:
        kept = []
        for job in plan.send:
            problems = verdict.invalid.get(job.row)
            if problems is None:
                kept.append(job)
            else:
                _mark_invalid(plan, job.row, problems, job.key)
        plan.send = kept
    if limit_valid is not None and len(plan.send) > limit_valid:
        reason = f"beyond the pilot of the first {limit_valid} valid rows (--limit-valid)"
        for job in plan.send[limit_valid:]:
            plan.ledger.show(job.row, "skipped", reason, job.key)
            plan.skipped[reason] += 1
        plan.send = plan.send[:limit_valid]
    return verdict


@dataclass
class CheckReport:
    """What `check` found: the sheet's rows, those invalid by the template or by the account."""

    info: SheetInfo
    total: int = 0
    valid_rows: list[int] = field(default_factory=list)
    invalid: int = 0
    first_problems: list[str] = field(default_factory=list)
    preflight: Preflight | None = None

    def note(self, row: int, lines: list[str]) -> None:
        """Count an invalid row and keep its first lines for the summary."""
        self.invalid += 1
        room = SUMMARY_PROBLEMS_SHOWN - len(self.first_problems)
        self.first_problems.extend(lines[: max(room, 0)])


def check_sheet(
    data: Path,
    template_path: Path,
    options: RenderOptions,
    http: httpx.AsyncClient,
    table: PriceTable,
    key_source: str,
    warn: Callable[[str], None] | None = None,
) -> CheckReport:
    """Render and validate every selected row, then check the valid ones against the account."""
    sheet = open_sheet(data, options.sheet, options.encoding, options.delimiter)
    template = load_template(template_path, sheet.info.columns)
    for warning in sheet.info.warnings + template.warnings:
        if warn is not None:
            warn(warning)
    report = CheckReport(sheet.info)
    bodies: dict[int, Any] = {}
    for row in select_rows(sheet.rows(), options.rows, options.limit):
        report.total += 1
        result = check_row(template, row, options.target)
        if result.status == "valid":
            bodies[row.number] = result.payload
        else:
            report.note(row.number, result.messages())
    verdict = run_preflight(http, bodies, template_columns(template), table, None, key_source)
    for number in bodies:
        problems = verdict.invalid.get(number)
        if problems is None:
            report.valid_rows.append(number)
        else:
            report.note(number, [f"row {number}, {p.describe()}" for p in problems])
    report.preflight = verdict
    return report


def check_account(
    data: Path,
    template: Path,
    api_key: str,
    base_url: str = DEFAULT_BASE_URL,
    options: RenderOptions | None = None,
    prices: PriceTable | None = None,
) -> CheckReport:
    """Check a sheet against the account as `avatar-merge check` does; nothing is created."""
    http = open_http(base_url, api_key, LOOKUP_TIMEOUT_SECONDS, LOOKUP_CONCURRENCY)
    options = options or RenderOptions()
    return check_sheet(data, template, options, http, prices or PriceTable(), "the given key")
