"""avatar-merge: a spreadsheet and one request template become personalised avatar videos."""

from merge.batch.plan import Plan, SubmitOptions, plan_submit
from merge.batch.run import RunSettings, RunSummary, run_plan, submit_sheet
from merge.errors import MergeError, OutputError, SheetError, TemplateError
from merge.follow.follower import FollowOptions, FollowSummary, follow_output, follow_sheet
from merge.payload.render import Template, compile_template
from merge.payload.row import (
    RowResult,
    Target,
    check_row,
    load_template,
    render_frame,
    render_rows,
)
from merge.payload.validate import json_schema, validate_payload, validate_v3_payload
from merge.problems import Problem
from merge.review.offline import RenderOptions, RenderSummary, render_to_folder
from merge.sheets.selection import RowSelection
from merge.sheets.sheet import Row, SheetInfo, open_sheet
from merge.simulator import Simulator, SimulatorSettings
from merge.version import __version__ as __version__

__all__ = [
    "FollowOptions",
    "FollowSummary",
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
    "Target",
    "Template",
    "TemplateError",
    "check_row",
    "compile_template",
    "follow_output",
    "follow_sheet",
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
    "validate_v3_payload",
]
