"""avatar-merge: a spreadsheet and one request template become personalised avatar videos."""

# Names are imported when first used, so a command pays only for the stages it runs (the
# simulator's web stack, for one, is not loaded by `render`).
import typing as _typing
from importlib import import_module as _import_module

if _typing.TYPE_CHECKING:
    from merge.batch.checked import CheckReport, check_account
    from merge.batch.plan import Plan, SubmitOptions, plan_submit
    from merge.batch.preflight import Preflight
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
else:
    from merge.version import __version__ as __version__

_WHERE = {
    "CheckReport": "merge.batch.checked",
    "check_account": "merge.batch.checked",
    "Preflight": "merge.batch.preflight",
    "Plan": "merge.batch.plan",
    "SubmitOptions": "merge.batch.plan",
    "plan_submit": "merge.batch.plan",
    "RunSettings": "merge.batch.run",
    "RunSummary": "merge.batch.run",
    "run_plan": "merge.batch.run",
    "submit_sheet": "merge.batch.run",
    "MergeError": "merge.errors",
    "OutputError": "merge.errors",
    "SheetError": "merge.errors",
    "TemplateError": "merge.errors",
    "FollowOptions": "merge.follow.follower",
    "FollowSummary": "merge.follow.follower",
    "follow_output": "merge.follow.follower",
    "follow_sheet": "merge.follow.follower",
    "Template": "merge.payload.render",
    "compile_template": "merge.payload.render",
    "RowResult": "merge.payload.row",
    "Target": "merge.payload.row",
    "check_row": "merge.payload.row",
    "load_template": "merge.payload.row",
    "render_frame": "merge.payload.row",
    "render_rows": "merge.payload.row",
    "json_schema": "merge.payload.validate",
    "validate_payload": "merge.payload.validate",
    "validate_v3_payload": "merge.payload.validate",
    "Problem": "merge.problems",
    "RenderOptions": "merge.review.offline",
    "RenderSummary": "merge.review.offline",
    "render_to_folder": "merge.review.offline",
    "RowSelection": "merge.sheets.selection",
    "Row": "merge.sheets.sheet",
    "SheetInfo": "merge.sheets.sheet",
    "open_sheet": "merge.sheets.sheet",
    "Simulator": "merge.simulator",
    "SimulatorSettings": "merge.simulator",
}


def __getattr__(name: str) -> _typing.Any:
    """Import a public name on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'merge' has no attribute {name!r}")
    value = getattr(_import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CheckReport",
    "FollowOptions",
    "FollowSummary",
    "MergeError",
    "OutputError",
    "Plan",
    "Preflight",
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
    "check_account",
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
