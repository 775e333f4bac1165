"""Every default in one place, so a reader finds the knobs without hunting."""

from __future__ import annotations

DEFAULT_CHUNK_ROWS = 2_000
"""Rows read, rendered and written per chunk: bounds memory on huge sheets."""

CSV_DELIMITERS = (",", ";", "\t", "|")
"""Delimiters the CSV sniffer chooses among (European Excel writes `;`)."""

CSV_SNIFF_BYTES = 64 * 1024
CSV_FALLBACK_ENCODING = "cp1252"

STATUS_COLUMNS = ("merge_status", "merge_errors")
"""Columns `render` adds to the copy of the input sheet in the review folder."""

RESERVED_NAMES = frozenset({"row", "row_number"})
"""Names the template sees besides the columns."""

EXCEL_CELL_LIMIT = 32_767
PAYLOAD_FILE_DIGITS = 4
SUMMARY_PROBLEMS_SHOWN = 10
WRITE_SETTLE_SECONDS = 0.5
"""How long to watch a just-modified input for growth before reading it."""

GC_THRESHOLDS = (50_000, 20, 20)
"""The command's garbage-collector thresholds: about a third of render time went to collections
at Python's defaults (700, 10, 10)."""
