"""The `submit` and `simulate` commands: confirm, send, report; or play the API locally."""

from __future__ import annotations

import argparse
import functools
import shlex
import sys
import time
from dataclasses import replace
from typing import TextIO

from tqdm import tqdm

from merge.api.client import V2_RETIRED_HINT
from merge.batch.journal import journal_path, journal_target_of
from merge.batch.plan import LOCAL_TARGET, Plan, SubmitOptions, journal_target, plan_submit
from merge.batch.run import RunSettings, RunSummary, run_plan, write_output
from merge.batch.sent_page import sent_page_path
from merge.batch.uploads import describe_uploads
from merge.cli import api_options as cli_api
from merge.cli import preflight as cli_preflight
from merge.cli.api_options import add_api_options
from merge.cli.console import (
    PROG,
    ExitCode,
    add_inputs,
    ask,
    count,
    paint,
    positive,
    record,
    render_options,
    warn,
    warn_above,
)
from merge.cli.status import (
    add_follow_options,
    follow_exit_code,
    follow_record,
    follow_with_bar,
    options_from,
    print_follow,
    rehearsal_api,
)
from merge.errors import MergeError, redact
from merge.follow.names import check_name
from merge.payload.translate_v3 import LOSS_TEXT, LOSSY_HINT
from merge.settings import RESULT_COLUMNS


def add_submit(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Describe `submit`."""
    submit = commands.add_parser(
        "submit",
        help="send every valid row to the API once, and write each video_id into a copy of the"
        " sheet",
        description="Render and validate as `render` does, then send each valid row exactly once"
        " and write video_id, merge_status, merge_error, callback_id and submitted_at into"
        " OUTPUT, a copy of the sheet. A journal beside OUTPUT records every request, so running"
        " the same command again resumes where it stopped.",
    )
    add_inputs(submit, "the output sheet, in the input's format (e.g. leads-sent.xlsx)")
    submit.add_argument(
        "--key", metavar="COLUMN", help="column whose value identifies a row across edits"
    )
    submit.add_argument("-y", "--yes", action="store_true", help="send without asking")
    submit.add_argument(
        "--limit-valid",
        type=positive,
        metavar="N",
        help="a pilot of N videos: send only the first N rows that pass every check"
        " (--limit counts rows, valid or not)",
    )
    cli_preflight.add_cost_options(submit)
    submit.add_argument(
        "--simulate",
        action="store_true",
        help="send to the built-in simulator instead of HeyGen (no key, no credits)",
    )
    add_api_options(submit)
    add_follow_options(submit, chained=True)
    submit.add_argument(
        "--retry-failed", action="store_true", help="send again the rows the API refused before"
    )
    submit.add_argument(
        "--retry-unknown",
        action="store_true",
        help="send again rows whose outcome is unknown, without checking (may duplicate)",
    )
    submit.set_defaults(run=run_submit)


def run_submit(args: argparse.Namespace, out: TextIO) -> ExitCode:
    """Plan, confirm, send, report; then follow the videos when asked (--wait, --download)."""
    api_key = cli_api.api_key(args)
    base_url = cli_api.base_url(args)
    # An output made by an earlier run keeps the API its journal records, unless --api says.
    recorded = journal_target_of(args.output, "api")
    render = render_options(args, recorded)
    options = SubmitOptions(render, args.key, args.retry_failed, args.retry_unknown)
    target = LOCAL_TARGET if args.simulate else journal_target(base_url)
    follow = options_from(args)
    plan = plan_submit(args.data, args.template, args.output, target, options, time.time, warn)
    if follow.name is not None:
        check_name(follow.name, (*plan.info.columns, *RESULT_COLUMNS))
    with rehearsal_api(args.simulate, base_url, args.output) as url:
        try:
            code = _plan_and_send(plan, args, url, api_key, out)
        finally:
            plan.journal.close()
        if not (args.wait or args.download) or code in (ExitCode.ERROR, ExitCode.INTERRUPTED):
            return code
        http = cli_api.http_for(args, url, api_key)
        followed = follow_with_bar(args.output, http, target, follow)
    print_follow(followed, args.output, out, retry_command(args.argv, "--retry-failed"))
    record(args, follow=follow_record(followed))
    return max(code, follow_exit_code(followed), key=_severity)


def _severity(code: ExitCode) -> int:
    order = (ExitCode.OK, ExitCode.INVALID_ROWS, ExitCode.FAILED_ROWS, ExitCode.ERROR)
    return order.index(code) if code in order else len(order)


def _plan_and_send(
    plan: Plan, args: argparse.Namespace, url: str, api_key: str, out: TextIO
) -> ExitCode:
    verdict = cli_preflight.check_plan_first(plan, args, url, api_key)
    _print_plan(plan, args, out)
    cli_preflight.print_plan_checks(verdict, plan, out)
    if not plan.send and not plan.check:
        return _finish_without_sending(plan, args, out)
    cli_preflight.refuse_plan_over_max_cost(verdict, plan, args.max_cost)
    try:
        _confirm(plan, args)
    except MergeError:
        plan.journal.discard_if_unused()  # a declined run leaves nothing that binds the output
        raise
    summary = _send(plan, args, url, api_key)
    _print_run(plan, summary, args, out)
    return _exit_code(plan, summary)


def _warn(message: str) -> None:
    print(f"warning: {redact(message)}", file=sys.stderr)


def _print_plan(plan: Plan, args: argparse.Namespace, out: TextIO) -> None:
    sheet = f' (sheet "{plan.info.sheet_name}")' if plan.info.sheet_name else ""
    print(f"{args.data}{sheet} with {args.template}: {count(plan.total, 'row')}", file=out)
    renewed = f" ({plan.renewed:,} new videos for failed ones)" if plan.renewed else ""
    print(f"  to send:        {len(plan.send):,}{renewed}", file=out)
    if plan.check:
        print(
            f"  to check first: {len(plan.check):,} (may have been sent before, outcome unknown:"
            " checked before any resend)",
            file=out,
        )
    if plan.invalid:
        print(f"  invalid:        {plan.invalid:,} (never sent; see merge_error)", file=out)
    for line in plan.first_problems:
        print(f"    {line}", file=out)
    if any(LOSS_TEXT in line for line in plan.first_problems):
        print(f"    hint: {LOSSY_HINT}", file=out)
    for reason, number in sorted(plan.skipped.items()):
        print(f"  skipped:        {number:,} {reason}", file=out)
    uploads = describe_uploads(plan)
    if uploads:
        print(f"  uploads first:  {uploads}", file=out)
    if plan.engines:
        engines = ", ".join(f"{n:,} {name}" for name, n in sorted(plan.engines.items()))
        print(
            f"  engine:         {engines} (v3; --engine or the template's engine sets it)", file=out
        )
    print(f"  API:            {plan.journal.meta('target')}", file=out)
    print(f"  output:         {plan.output} (journal: {journal_path(plan.output).name})", file=out)
    record(
        args,
        plan={
            "rows": plan.total,
            "to_send": len(plan.send),
            "to_check": len(plan.check),
            "invalid": plan.invalid,
            "skipped": dict(plan.skipped),
            "first_problems": plan.first_problems,
        },
    )


def _finish_without_sending(plan: Plan, args: argparse.Namespace, out: TextIO) -> ExitCode:
    problem = write_output(plan)
    if problem:
        raise MergeError(problem, "close the output if it is open elsewhere, then run again")
    print(f"Nothing to send. Wrote {plan.output}", file=out)
    waiting = print_failures(plan, args, out)
    record(args, output=str(plan.output), sent=0)
    statuses = {cells.status for cells in plan.ledger.values.values()}
    if waiting or statuses & {"failed", "unknown"}:
        return ExitCode.FAILED_ROWS  # nothing left to send is not everything sent
    return ExitCode.INVALID_ROWS if plan.invalid else ExitCode.OK


def _confirm(plan: Plan, args: argparse.Namespace) -> None:
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise MergeError(
            "not sending: no terminal to confirm on",
            "add --yes to send without asking (check the plan above first)",
        )
    try:
        answer = ask(f"Send {count(len(plan.send) + len(plan.check), 'row')}? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise MergeError("nothing sent", "run again and answer y to send")


def _send(plan: Plan, args: argparse.Namespace, url: str, api_key: str) -> RunSummary:
    settings = RunSettings(args.concurrency, args.rate, args.timeout)
    http = cli_api.http_for(args, url, api_key, fast=True)
    total = len(plan.send) + len(plan.check)
    with tqdm(
        total=total, desc="sending", unit=" rows", disable=not sys.stderr.isatty(), file=sys.stderr
    ) as bar:
        note = functools.partial(bar.write, file=sys.stderr)
        return run_plan(plan, http, replace(settings, note=note), bar.update, warn_above(bar))


def _print_run(plan: Plan, summary: RunSummary, args: argparse.Namespace, out: TextIO) -> None:
    rate = summary.sent / summary.seconds if summary.seconds else 0.0
    found = f"; {summary.found:,} found through the video list" if summary.found else ""
    sent = count(summary.sent, "row")
    print(f"Sent {sent} in {summary.seconds:.1f} s ({rate:.1f}/s){found}", file=out)
    shown = ", ".join(f"{n:,} {status}" for status, n in sorted(summary.statuses.items()))
    print(f"  output rows: {shown}", file=out)
    for key, extra in summary.duplicates.items():
        print(f"  note: {key} has more than one video: {', '.join(extra)}", file=out)
    if summary.stopped is not None:
        print(f"Stopped: {summary.stopped.reason}", file=out)
    if summary.write_failed:
        print(f"The output could not be written: {summary.write_failed}", file=out)
        print(f"  every video_id is in the journal, {journal_path(plan.output).name}", file=out)
    else:
        print(f"Wrote {plan.output}", file=out)
    print(f"Review page: {sent_page_path(plan.output)}", file=out)
    print_failures(plan, args, out)
    hint = _hint(summary)
    if hint:
        print(f"{paint('Hint:', 'hint', out)} {hint}", file=out)
    record(
        args,
        output=str(plan.output),
        sent=summary.sent,
        seconds=round(summary.seconds, 3),
        statuses=dict(summary.statuses),
        stopped=summary.stopped.reason if summary.stopped is not None else None,
        review_page=str(sent_page_path(plan.output)),
    )


FAILURES_SHOWN = 20
"""Failed and unknown rows the end summary lists one by one (all are in the output sheet)."""


def print_failures(plan: Plan, args: argparse.Namespace, out: TextIO) -> int:
    """List the rows that need a next step, with their reasons, and the command that retries."""
    rows = sorted(
        (row, cells)
        for row, cells in plan.ledger.values.items()
        if cells.status in ("failed", "unknown")
    )
    record(
        args,
        failed_rows=[
            {"row": row, "status": cells.status, "reason": cells.error} for row, cells in rows
        ],
    )
    if not rows:
        return 0
    print(f"Rows that need a next step ({len(rows):,}):", file=out)
    for row, cells in rows[:FAILURES_SHOWN]:
        reason = cells.error or "sent, but no answer came back"
        print(f"  row {row}: {paint(cells.status, 'error', out)}: {reason}", file=out)
    if len(rows) > FAILURES_SHOWN:
        print(f"  ... and {len(rows) - FAILURES_SHOWN:,} more (see merge_error)", file=out)
    failed = any(cells.status == "failed" for _, cells in rows)
    command = retry_command(args.argv, "--retry-failed" if failed else None)
    record(args, retry_command=command)
    print(f"To retry them: {command}", file=out)
    return len(rows)


def retry_command(argv: list[str], extra: str | None) -> str:
    """The command as given, plus what makes it send the failed rows again."""
    words = [PROG, *argv]
    if extra is not None and extra not in words:
        words.append(extra)
    return str(shlex.join(words))


def _hint(summary: RunSummary) -> str | None:
    stopped = summary.stopped
    if stopped is not None and stopped.kind == "auth":
        return "the API key was refused: check HEYGEN_API_KEY, then run the same command again"
    if stopped is not None and stopped.kind == "retired":
        return V2_RETIRED_HINT
    if stopped is not None or summary.write_failed:
        return "run the same command again to resume; rows with a video_id are never sent again"
    if summary.statuses.get("unknown"):
        return "run again to check the unknown rows, or add --retry-unknown to send them again"
    if summary.statuses.get("failed"):
        return "fix the failed rows (see merge_error) and run again, or add --retry-failed"
    return None


def _exit_code(plan: Plan, summary: RunSummary) -> ExitCode:
    stopped = summary.stopped
    if stopped is not None and stopped.kind == "interrupted":
        return ExitCode.INTERRUPTED
    if (stopped is not None and stopped.fatal) or summary.write_failed:
        return ExitCode.ERROR
    if stopped is not None or summary.statuses.get("failed") or summary.statuses.get("unknown"):
        return ExitCode.FAILED_ROWS
    return ExitCode.INVALID_ROWS if plan.invalid else ExitCode.OK
