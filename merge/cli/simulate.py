"""The `simulate` command: play the HeyGen API on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
from dataclasses import Field, fields
from typing import Any, TextIO

from merge.cli.console import PROG, ExitCode, UsageError, positive
from merge.errors import MergeError
from merge.simulator import SimulatorSettings, serve
from merge.simulator.settings import FRACTIONS, OPTION_HELP, PLAN_CAPS


def add_simulate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Describe `simulate`."""
    simulate = commands.add_parser(
        "simulate",
        help="run a local stand-in for the HeyGen API on 127.0.0.1 (for rehearsals and tests)",
    )
    simulate.add_argument(
        "--port", type=int, default=8000, metavar="P", help="port (default 8000; 0: any free one)"
    )
    for setting in fields(SimulatorSettings):
        if setting.name in OPTION_HELP:
            _add_option(simulate, setting)
    simulate.set_defaults(run=run_simulate)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _add_option(command: argparse.ArgumentParser, setting: Field[Any]) -> None:
    """Add the option of one simulator setting: its name, type and default from the field."""
    metavar, text = OPTION_HELP[setting.name]
    default = setting.default
    kind = str(setting.type)
    options: dict[str, Any] = {"default": default, "metavar": metavar}
    if isinstance(default, bool):
        options = {"action": "store_true"}
    elif setting.name in FRACTIONS:
        options["type"] = _fraction
    elif setting.name == "plan":
        options |= {"choices": tuple(PLAN_CAPS), "metavar": None}
    elif kind.startswith("float"):
        options["type"] = float
    elif kind.startswith("int"):
        options["type"] = positive if setting.name == "slots" else int
    shown = f" (default {default:g})" if isinstance(default, float) and default else ""
    if isinstance(default, int | str) and not isinstance(default, bool) and not shown:
        shown = f" (default {default})"
    option = "--" + setting.name.replace("_", "-")
    command.add_argument(option, help=text + (shown if default is not None else ""), **options)


def _simulator_settings(args: argparse.Namespace) -> SimulatorSettings:
    names = [setting.name for setting in fields(SimulatorSettings) if setting.name in OPTION_HELP]
    return SimulatorSettings(**{name: getattr(args, name) for name in names})


def run_simulate(args: argparse.Namespace, out: TextIO) -> ExitCode:
    """Serve the simulator until Ctrl-C."""
    try:
        settings = _simulator_settings(args)
    except ValueError as error:
        raise UsageError(str(error)) from None

    def ready(url: str) -> None:
        print(f"HeyGen simulator listening on {url} (Ctrl-C stops it)", file=out, flush=True)
        print(f"  try: {PROG} submit DATA TEMPLATE -o OUT --base-url {url}", file=out, flush=True)

    try:
        serve(settings, args.port, ready)
    except OSError as error:
        raise MergeError(
            f"port {args.port}: cannot listen there ({error.strerror})",
            "choose another with --port, or --port 0 for any free one",
        ) from None
    return ExitCode.OK
