"""The command line: argparse adapters over the library, progress bars and exit codes."""

from merge.cli.commands import main

__all__ = ["main"]
