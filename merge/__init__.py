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
from merge.runner import RunSettings, RunSummary, run_plan, submit_sheet
from merge.sheet import Row, SheetInfo, open_sheet
from merge.simulator import Simulator, SimulatorSettings
from merge.submit import Plan, SubmitOptions, plan_submit
from merge.validate import json_schema, validate_payload

__all__ = [
    "MergeError",
    "OutputError",
    "Plan",
    "Problem",
    "RenderOptions",
    "RenderSummary",
    "Row",
    "RowResult",
    "RowSelection",
    "RunSettings",
    "RunSummary",
    "SheetError",
    "SheetInfo",
    "Simulator",
    "SimulatorSettings",
    "SubmitOptions",
    "Template",
    "TemplateError",
    "check_row",
    "compile_template",
    "json_schema",
    "load_template",
    "open_sheet",
    "plan_submit",
    "render_frame",
    "render_rows",
    "render_to_folder",
    "run_plan",
    "submit_sheet",
    "validate_payload",
]
