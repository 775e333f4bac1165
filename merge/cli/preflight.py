"""The pre-flight's part of a plan, and the options that shape it (`submit` and `check`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

import httpx

from merge.api.client import open_http
from merge.batch.checked import check_plan
from merge.batch.plan import Plan
from merge.batch.preflight import Preflight
from merge.cli.console import count
from merge.errors import MergeError
from merge.prices import PriceTable, load_prices
from merge.settings import API_KEY_ENV, LOOKUP_CONCURRENCY, LOOKUP_TIMEOUT_SECONDS


def add_cost_options(command: argparse.ArgumentParser) -> None:
    """Add --max-cost and --prices."""
    command.add_argument(
        "--max-cost",
        type=amount,
        metavar="AMOUNT",
        help="refuse to send when the estimate (its high end) is above AMOUNT (USD, or credits"
        " for a credit-billed account)",
    )
    command.add_argument(
        "--prices",
        type=Path,
        metavar="FILE",
        help="a JSON price table replacing the built-in one (default: $HEYGEN_PRICES_FILE)",
    )


def amount(text: str) -> float:
    """Read an amount like 25, 25.50 or $25."""
    try:
        value = float(text.strip().lstrip("$").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount like 25 or 25.50") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def price_table(args: argparse.Namespace) -> PriceTable:
    """Resolve the price table once: --prices, $HEYGEN_PRICES_FILE, else the built-in one."""
    return load_prices(args.prices, os.environ)


def key_source(args: argparse.Namespace) -> str:
    """Name where the key came from, never the key itself."""
    if getattr(args, "simulate", False):
        return "the built-in simulator"
    if getattr(args, "api_key_file", None) is not None:
        return f"--api-key-file {args.api_key_file}"
    return f"${API_KEY_ENV}"


def lookup_http(url: str, api_key: str, args: argparse.Namespace) -> httpx.AsyncClient:
    """The pre-flight's own client: reads answer fast, so it waits less than a create does."""
    return open_http(url, api_key, min(args.timeout, LOOKUP_TIMEOUT_SECONDS), LOOKUP_CONCURRENCY)


def check_plan_first(
    plan: Plan, args: argparse.Namespace, url: str, api_key: str
) -> Preflight | None:
    """Run the pre-flight on the rows a plan would send (none to send: nothing to check)."""
    if not plan.send:
        return None
    http = lookup_http(url, api_key, args)
    return check_plan(plan, http, price_table(args), key_source(args), args.limit_valid)


def print_plan_checks(verdict: Preflight | None, plan: Plan, out: TextIO) -> None:
    """Print the pre-flight's lines for the rows a plan sends."""
    if verdict is not None:
        print_preflight(verdict, [job.row for job in plan.send], out)


def refuse_plan_over_max_cost(verdict: Preflight | None, plan: Plan, limit: float | None) -> None:
    """Stop before sending when the plan's estimate is above --max-cost."""
    if verdict is not None:
        refuse_over_max_cost(verdict, [job.row for job in plan.send], limit)


def print_preflight(verdict: Preflight, rows: list[int], out: TextIO) -> None:
    """Print the account, what was checked, the cost of `rows` and every warning."""
    facts = verdict.facts
    me = facts.me or {}
    who = me.get("username") or me.get("email")
    balance = verdict.balance
    if who or balance:
        left = f" ({balance.billing_type}: {balance.say()} left)" if balance else ""
        print(f"  account:        {who or 'unnamed'}{left}", file=out)
    looks, voices = len(facts.looks), len(facts.voices)
    if looks or voices:
        cached = f", {facts.cached} from the cache" if facts.cached else ""
        print(
            f"  checked:        {count(looks, 'look')}, {count(voices, 'voice')}"
            f" ({count(facts.lookups, 'look-up')}{cached})",
            file=out,
        )
    _print_cost(verdict, rows, out)
    for warning in verdict.warnings:
        print(f"  warning: {warning}", file=out)
    _print_balance_warning(verdict, rows, out)


def _print_cost(verdict: Preflight, rows: list[int], out: TextIO) -> None:
    priced = [verdict.costs[r] for r in rows if r in verdict.costs]
    if not priced:
        return
    low, high = verdict.total(rows)
    each_low = min(c.low for c in priced)
    each_high = max(c.high for c in priced)
    print(
        f"  cost:           ${low:,.2f} to ${high:,.2f} for {count(len(priced), 'row')}"
        f" (each ${each_low:,.2f} to ${each_high:,.2f})",
        file=out,
    )
    table = verdict.table
    print(f"                  prices of {table.date} ({table.source})", file=out)
    balance = verdict.balance
    if balance is not None and balance.unit == "credits":
        credits = sum(verdict.spend(rows))
        print(f"                  about {credits:,.1f} credits at most", file=out)


def _print_balance_warning(verdict: Preflight, rows: list[int], out: TextIO) -> None:
    balance = verdict.balance
    if balance is None or not rows:
        return
    need = sum(verdict.spend(rows))
    if need <= balance.amount:
        return
    covered = verdict.covered(rows)
    print(
        f"  WARNING: the {balance.billing_type} has {balance.say()}, the estimate is up to"
        f" {balance.say(need)}: it covers about {covered:,} of the {len(rows):,} rows;"
        " sending stops when it runs out (the rest stay ready for the next run)",
        file=out,
    )
    print(
        f"warning: the balance ({balance.say()}) covers about {covered:,} of {len(rows):,} rows",
        file=sys.stderr,
    )


def refuse_over_max_cost(verdict: Preflight, rows: list[int], limit: float | None) -> None:
    """Stop before sending when the estimate's high end is above --max-cost."""
    if limit is None or not rows:
        return
    balance = verdict.balance
    credits = balance is not None and balance.unit == "credits"
    high = sum(verdict.spend(rows)) if credits else verdict.total(rows)[1]
    if high > limit:
        said, cap = (
            (f"{high:,.1f} credits", f"{limit:,.1f} credits")
            if credits
            else (
                f"${high:,.2f}",
                f"${limit:,.2f}",
            )
        )
        raise MergeError(
            f"not sending: the estimate, up to {said}, is above --max-cost {cap}; nothing was sent",
            "send fewer rows (--limit-valid N, --rows), or raise --max-cost",
        )
