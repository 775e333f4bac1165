"""The command line: argparse adapters over the library, progress bars and exit codes."""

import os

# The command's own models need no pydantic plugins (tracing, metrics), and looking for them
# reads every installed package's metadata at start-up (about 40 ms here, more where more is
# installed). A value the user sets is kept.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from merge.cli.commands import main

__all__ = ["main"]
