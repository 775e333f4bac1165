"""avatar-merge: a spreadsheet and one request template become personalised avatar videos."""

__version__ = "0.1.0"

from merge.errors import MergeError, OutputError, SheetError, TemplateError
from merge.pipeline import (
    RenderOptions,
    RenderSummary,
    RowResult,
    RowSelection,
    check_row,
    load_template,
    render_frame,
    render_rows,
    render_to_folder,
)
from merge.problems import Problem
from merge.render import Template, compile_template
from merge.sheet import Row, SheetInfo, open_sheet
from merge.validate import json_schema, validate_payload

__all__ = [
    "MergeError",
    "OutputError",
    "Problem",
    "RenderOptions",
    "RenderSummary",
    "Row",
    "RowResult",
    "RowSelection",
    "SheetError",
    "SheetInfo",
    "Template",
    "TemplateError",
    "check_row",
    "compile_template",
    "json_schema",
    "load_template",
    "open_sheet",
    "render_frame",
    "render_rows",
    "render_to_folder",
    "validate_payload",
]
