"""The offline run behind `render`: every selected row rendered and checked into a review folder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from merge.payload.cell_checks import CellRules
from merge.payload.media import LocalFile, MediaFiles
from merge.payload.render import Template
from merge.payload.row import V3, RowResult, Target, check_row, load_template
from merge.review.folder import ReviewFolder
from merge.settings import DEFAULT_CHUNK_ROWS, FIRST_CHUNK_ROWS, SUMMARY_PROBLEMS_SHOWN
from merge.sheets.selection import RowSelection, ShownRows, chunked, select_rows
from merge.sheets.sheet import Sheet, SheetInfo, open_sheet

Progress = Callable[[int], None]


@dataclass(frozen=True)
class RenderOptions:
    """What `render` was asked to do, resolved once at the boundary."""

    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    rows: RowSelection = field(default_factory=RowSelection)
    limit: int | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    target: Target = V3
    split: bool = False
    """Also write payloads/row-NNNN.json, one pretty-printed file per valid body."""
    header_row: int | None = None
    include_hidden: bool = False
    cells: CellRules = field(default_factory=CellRules)

    def open(self, data: Path) -> Sheet:
        """Open the input as these options say."""
        return open_sheet(
            data, self.sheet, self.encoding, self.delimiter, header_row=self.header_row
        )

    def shown_rows(self, template: Template) -> ShownRows:
        """The filter that takes the rows the user sees, for this template."""
        return ShownRows(self.include_hidden, template.columns, self.rows)


@dataclass
class RenderSummary:
    """What a render run did, for the closing report and the exit code."""

    source: SheetInfo
    template: Template
    folder: Path
    annotated: Path
    split: bool = False
    total: int = 0
    valid: int = 0
    lossy: int = 0
    """Rows that lost V2 settings v3 cannot express (--lossy)."""
    hidden: int = 0
    """Rows hidden in the sheet and left out (--include-hidden takes them)."""
    first_problems: list[str] = field(default_factory=list)
    files: dict[str, LocalFile] = field(default_factory=dict)
    """Local files the valid rows name, by token: what submit will upload."""

    @property
    def invalid(self) -> int:
        """Rows that will not be sent."""
        return self.total - self.valid

    def count(self, result: RowResult) -> None:
        """Add one row's result to the totals."""
        self.total += 1
        if result.warnings:
            self.lossy += 1
        if result.status == "valid":
            self.valid += 1
            self.files.update(result.files)
        elif len(self.first_problems) < SUMMARY_PROBLEMS_SHOWN:
            room = SUMMARY_PROBLEMS_SHOWN - len(self.first_problems)
            self.first_problems.extend(result.messages()[:room])


def render_to_folder(
    data: Path,
    template_path: Path,
    out: Path,
    options: RenderOptions | None = None,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
) -> RenderSummary:
    """Render every selected row into a review folder; stop before any row if the inputs are bad."""
    options = options or RenderOptions()
    sheet = options.open(data)
    template = load_template(template_path, sheet.info.columns)
    for warning in sheet.info.warnings + template.warnings:
        if warn is not None:
            warn(warning)
    folder = ReviewFolder.prepare(out, sheet.info, options.split)
    summary = RenderSummary(sheet.info, template, folder.path, folder.annotated_path, options.split)
    shown = options.shown_rows(template)
    rows = select_rows(shown(sheet.rows()), options.rows, options.limit)
    rules = options.cells.for_sheet(sheet.info)
    media = MediaFiles(sheet.info.path.parent, options.target.api)
    with folder:
        for chunk in chunked(rows, options.chunk_rows, first=FIRST_CHUNK_ROWS):
            results = [
                check_row(template, row, options.target, rules, media, payload=False)
                for row in chunk
            ]
            folder.add(results)
            for result in results:
                summary.count(result)
            if progress is not None:
                progress(len(results))
        folder.finish()
    summary.hidden = shown.hidden
    for warning in shown.warnings():
        if warn is not None:
            warn(warning)
    return summary
