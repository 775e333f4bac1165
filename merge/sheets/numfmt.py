"""Show a number as a spreadsheet displays it under a cell's number format (`00000`, `0.00%`...).

A focused formatter for the number-format language of Excel and LibreOffice: sections
(`positive;negative;zero;text`), conditions (`[>=10]`), colours (ignored), currency tags
(`[$€-407]`), quoted and escaped literals, `_x` spacing, digit placeholders `0 # ?`, thousands
separators and scaling, percent, scientific notation, fractions, and date/time codes with elapsed
hours. Text is shown in the English (United States) locale, as LibreOffice shows it by default.

Excel's built-in short date (format 14) and date-time (22) follow the reader's locale, so a
sheet shows them differently on every computer: they stay ISO (2024-03-07), like unformatted dates.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

LOCALE_DATE = "\x00iso-date"
LOCALE_DATETIME = "\x00iso-datetime"

BUILTIN_FORMATS = {
    0: "General",
    1: "0",
    2: "0.00",
    3: "#,##0",
    4: "#,##0.00",
    9: "0%",
    10: "0.00%",
    11: "0.00E+00",
    12: "# ?/?",
    13: "# ??/??",
    14: LOCALE_DATE,
    15: "d-mmm-yy",
    16: "d-mmm",
    17: "mmm-yy",
    18: "h:mm AM/PM",
    19: "h:mm:ss AM/PM",
    20: "h:mm",
    21: "h:mm:ss",
    22: LOCALE_DATETIME,
    37: "#,##0 ;(#,##0)",
    38: "#,##0 ;[Red](#,##0)",
    39: "#,##0.00;(#,##0.00)",
    40: "#,##0.00;[Red](#,##0.00)",
    45: "mm:ss",
    46: "[h]:mm:ss",
    47: "mm:ss.0",
    48: "##0.0E+0",
    49: "@",
}

EPOCH = dt.datetime(1899, 12, 30)
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

_TOKEN = re.compile(
    r'"(?P<quoted>[^"]*)"?'
    r"|\\(?P<escaped>.)"
    r"|_(?P<space>.)"
    r"|\*(?P<fill>.)"
    r"|\[(?P<bracket>[^\]]*)\]"
    r"|(?P<ampm>AM/PM|am/pm|A/P|a/p)"
    r"|(?P<date>[yY]+|[mM]+|[dD]+|[hH]+|[sS]+)"
    r"|(?P<exp>[eE][+-])"
    r"|(?P<other>.)",
    re.S,
)
_CONDITION = re.compile(r"(<=|>=|<>|<|>|=)\s*(-?[0-9.]+)")


class _Part:
    """One section of a format: its tokens (kind, text), its condition, and what it shows."""

    def __init__(self, source: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        self.condition: tuple[str, float] | None = None
        self.elapsed = False
        for match in _TOKEN.finditer(source):
            kind = match.lastgroup or "other"
            text = match.group(kind)
            if kind == "bracket":
                kind, text = self._bracket(text)
                if not kind:
                    continue
            elif kind in ("space", "fill"):
                kind, text = "literal", " " if kind == "space" else ""
            elif kind in ("quoted", "escaped"):
                kind = "literal"
            elif kind == "date":
                text = text.lower()
            self.tokens.append((kind, text))
        self.is_date = any(kind in ("date", "ampm", "elapsed") for kind, _ in self.tokens)
        self.is_text = any(kind == "other" and text == "@" for kind, text in self.tokens)
        self.scientific = any(kind == "exp" for kind, _ in self.tokens)
        self.slash = _fraction_slash(self.tokens)
        self.plain = None if self.is_date else _plain_spec(self.tokens)

    def _bracket(self, inside: str) -> tuple[str, str]:
        condition = _CONDITION.fullmatch(inside.strip())
        if condition:
            self.condition = (condition.group(1), float(condition.group(2)))
            return "", ""
        if inside.startswith("$"):  # currency and locale: [$€-407] shows "€"
            return "literal", inside[1:].split("-", 1)[0]
        if re.fullmatch(r"[hH]+|[mM]+|[sS]+", inside):
            self.elapsed = True
            return "elapsed", inside.lower()
        return "", ""  # a colour, a locale or a calendar tag shows nothing

    def accepts(self, value: float) -> bool:
        if self.condition is None:
            return True
        op, limit = self.condition
        return {
            "<": value < limit,
            ">": value > limit,
            "=": value == limit,
            "<=": value <= limit,
            ">=": value >= limit,
            "<>": value != limit,
        }[op]


def _split_sections(code: str) -> list[str]:
    sections: list[str] = []
    current: list[str] = []
    quoted = escaped = bracket = False
    for char in code:
        if escaped:
            escaped = False
        elif char == "\\" and not quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "[" and not quoted:
            bracket = True
        elif char == "]" and not quoted:
            bracket = False
        elif char == ";" and not (quoted or bracket):
            sections.append("".join(current))
            current = []
            continue
        current.append(char)
    sections.append("".join(current))
    return sections


@lru_cache(maxsize=512)
def _parse(code: str) -> tuple[_Part, ...]:
    return tuple(_Part(section) for section in _split_sections(code))


def is_general(code: str | None) -> bool:
    """Whether a format shows a number as it is (General, or no format at all)."""
    return code is None or code.strip().lower() in ("", "general", "@", '"general"')


def is_date_format(code: str) -> bool:
    """Whether a format shows dates or times."""
    if code in (LOCALE_DATE, LOCALE_DATETIME):
        return True
    return any(part.is_date for part in _parse(code))


@lru_cache(maxsize=4096)
def format_number(value: float, code: str) -> str:
    """Show a number under `code` as a spreadsheet's cell does (ZIPs and rates repeat: cached)."""
    if code == LOCALE_DATE:
        return _from_serial(value).date().isoformat()
    if code == LOCALE_DATETIME:
        moment = _from_serial(value)
        return moment.date().isoformat() if moment.time() == dt.time(0) else moment.isoformat()
    parts = _number_parts(code)
    if not parts:
        return general_number(value)
    part, sign = _choose(parts, value)
    if part.is_date:
        return _format_date(value, part)
    text = _format_plain(abs(value) if sign is not None else value, part)
    if sign and text.strip("0.,% ") != "" and _has_digits(text):
        return "-" + text
    return text


@lru_cache(maxsize=512)
def _number_parts(code: str) -> list[_Part]:
    """The sections that show numbers; none for General."""
    if is_general(code):
        return []
    return [p for p in _parse(code) if not p.is_text]


def format_date(value: dt.datetime | dt.date | dt.time | dt.timedelta, code: str) -> str | None:
    """Show a date, time or duration under a date format, or None when `code` is no date format."""
    if not is_date_format(code):
        return None
    return format_number(to_serial(value), code)


def to_serial(value: dt.datetime | dt.date | dt.time | dt.timedelta) -> float:
    """Turn a date, time or duration back into the day count a spreadsheet stores."""
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 86400
    if isinstance(value, dt.time):
        return (value.hour * 3600 + value.minute * 60 + value.second) / 86400 + (
            value.microsecond / 86400e6
        )
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    return (value.replace(tzinfo=None) - EPOCH).total_seconds() / 86400


def general_number(value: float) -> str:
    """Show a number in the General format: whole numbers as all their digits, else 15 digits."""
    if math.isnan(value) or math.isinf(value):
        return ""
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e21:
        # The shortest digits that read back as the same number: an id 1234567890123456 stays so.
        return str(int(value)) if abs(value) < 2**53 else format(Decimal(repr(value)), "f")
    text = f"{value:.15g}"
    if "e" in text and abs(value) >= 1e-10:
        text = format(Decimal(text), "f")
    return text


def _has_digits(text: str) -> bool:
    return any(ch.isdigit() and ch != "0" for ch in text)


def _choose(parts: list[_Part], value: float) -> tuple[_Part, bool | None]:
    """Pick the section for a value; the sign says whether a minus must be added by us."""
    if any(part.condition for part in parts):
        for index, part in enumerate(parts):
            if part.accepts(value):
                return part, (
                    value < 0
                    and (index == len(parts) - 1 or part.condition is None)
                    and not _has_minus(part)
                ) or None
        return parts[-1], value < 0 or None
    if value > 0 or len(parts) == 1:
        return parts[0], (value < 0) or None
    if value < 0:
        return parts[1], False
    return (parts[2] if len(parts) > 2 else parts[0]), None


def _has_minus(part: _Part) -> bool:
    return any(kind in ("literal", "other") and "-" in text for kind, text in part.tokens)


# -- numbers ------------------------------------------------------------------------------------


class _Plain(NamedTuple):
    """A number section, analysed once: what each value needs is only rounding and filling."""

    factor: float
    decimals: int
    int_slots: tuple[str, ...]
    dec_slots: tuple[str, ...]
    grouping: bool
    pieces: tuple[tuple[int, str], ...]
    """(0, text) literal, (1, k) the k-th integer slot, (2, k) the k-th decimal slot."""


def _plain_spec(tokens: list[tuple[str, str]]) -> _Plain | None:
    kinds = [text if kind == "other" else "" for kind, text in tokens]
    placeholders = [i for i, k in enumerate(kinds) if k in ("0", "#", "?")]
    if not placeholders:
        return None
    point = next((i for i, k in enumerate(kinds) if k == "."), None)
    # Commas right after the last integer placeholder scale by 1000 each: "#,##0," shows thousands.
    scale = 0
    if point is not None:
        j = point - 1
        while j >= 0 and kinds[j] == ",":
            scale, j = scale + 1, j - 1
    else:
        j = placeholders[-1] + 1
        while j < len(kinds) and kinds[j] == ",":
            scale, j = scale + 1, j + 1
    decimals = [i for i in placeholders if point is not None and i > point]
    int_slots = [i for i in placeholders if point is None or i < point]
    grouping = any(
        kinds[i] == "," and int_slots and int_slots[0] < i < int_slots[-1]
        for i in range(len(kinds))
    )
    where = {i: (1, k) for k, i in enumerate(int_slots)}
    where.update({i: (2, k) for k, i in enumerate(decimals)})
    pieces: list[tuple[int, str]] = []
    for index, (kind, text) in enumerate(tokens):
        if index in where:
            slot, k = where[index]
            pieces.append((slot, str(k)))
        elif kind == "other" and text == ",":
            continue
        elif kind in ("literal", "other", "date", "ampm", "elapsed"):
            pieces.append((0, text))
    return _Plain(
        100 ** kinds.count("%") / 1000**scale,
        len(decimals),
        tuple(kinds[i] for i in int_slots),
        tuple(kinds[i] for i in decimals),
        grouping,
        tuple(pieces),
    )


def _format_plain(value: float, part: _Part) -> str:
    tokens = part.tokens
    if part.scientific:
        return _format_scientific(value, tokens)
    if part.slash is not None:
        return _format_fraction(value, tokens, part.slash)
    spec = part.plain
    if spec is None:
        return "".join(text for kind, text in tokens if kind != "other" or text not in ",.")
    rounded = _round(value * spec.factor, spec.decimals)
    whole, _, frac = rounded.partition(".")
    filled = _fill_integer(whole.lstrip("-"), spec.int_slots, spec.grouping)
    fraction = _fill_decimals(frac, spec.dec_slots)
    out = ["-"] if whole.startswith("-") else []
    for slot, text in spec.pieces:
        out.append(text if slot == 0 else (filled if slot == 1 else fraction)[int(text)])
    return "".join(out)


def _round(value: float, places: int) -> str:
    """Round half away from zero at the shown places, as spreadsheets do."""
    if not math.isfinite(value):
        value = 0.0
    shortest = repr(value)
    if abs(value) < 2**53 and "e" not in shortest:
        digits = shortest.partition(".")[2]
        # Away from a decimal tie, rounding the double gives what rounding its digits gives.
        if len(digits) <= places or digits[places] != "5" or digits[places + 1 :].strip("0"):
            text = f"{value:.{places}f}"
            return text if not text.startswith("-") or text.strip("-0.") else text.lstrip("-")
    # Past 2**53 a double holds no more than 15 digits that mean anything, and spreadsheets show 15.
    exact = Decimal(shortest if abs(value) < 2**53 else f"{value:.15g}")
    quantum = Decimal(1).scaleb(-places)
    text = format(exact.quantize(quantum, rounding=ROUND_HALF_UP), "f")
    return text if not text.startswith("-") or text.strip("-0.") else text.lstrip("-")


def _fill_integer(digits: str, slots: Sequence[str], grouping: bool) -> list[str]:
    """Put the integer digits in their placeholders from the right; the first takes the rest."""
    if digits == "0":
        digits = ""
    if grouping:
        minimum = sum(1 for s in slots if s == "0")
        padded = digits.rjust(minimum, "0") if digits or minimum else ""
        text = f"{int(padded):,}" if padded else ""
        if padded and len(padded) > len(str(int(padded))):
            text = padded[: len(padded) - len(str(int(padded)))] + text
        spaces = sum(1 for s in slots if s == "?") - max(0, len(padded) - minimum)
        text = " " * max(0, spaces) + text
        return [text] + [""] * (len(slots) - 1)
    out = [""] * len(slots)
    rest = digits
    for k in range(len(slots) - 1, -1, -1):
        if k == 0:
            shown = rest
            if not shown:
                shown = {"0": "0", "?": " ", "#": ""}[slots[k]]
            out[k] = shown
        elif rest:
            out[k], rest = rest[-1], rest[:-1]
        else:
            out[k] = {"0": "0", "?": " ", "#": ""}[slots[k]]
    return out


def _fill_decimals(digits: str, slots: Sequence[str]) -> list[str]:
    out = list(digits.ljust(len(slots), "0")[: len(slots)])
    for k in range(len(slots) - 1, -1, -1):
        if out[k] != "0" or slots[k] == "0":
            break
        out[k] = " " if slots[k] == "?" else ""
    return out


def _format_scientific(value: float, tokens: list[tuple[str, str]]) -> str:
    at = next(i for i, (kind, _) in enumerate(tokens) if kind == "exp")
    mantissa = [(k, t) for k, t in tokens[:at]]
    exponent_slots = [t for k, t in tokens[at + 1 :] if k == "other" and t in "0#?"]
    kinds = [t if k == "other" else "" for k, t in mantissa]
    point = kinds.index(".") if "." in kinds else None
    int_count = sum(
        1 for i, k in enumerate(kinds) if k in "0#?" and k and (point is None or i < point)
    )
    dec_count = sum(
        1 for i, k in enumerate(kinds) if k in "0#?" and k and point is not None and i > point
    )
    exponent = 0 if value == 0 else math.floor(math.log10(abs(value)))
    step = int_count if int_count > 1 and "#" in kinds else 1
    exponent -= exponent % step if step > 1 else 0
    if step == 1 and int_count > 1:
        exponent -= int_count - 1
    scaled = value / 10**exponent if value else 0.0
    digits = _round(scaled, dec_count)
    if abs(float(digits)) >= 10 ** max(int_count, 1) and step == 1:
        exponent += 1
        digits = _round(value / 10**exponent, dec_count)
    sign = tokens[at][1][1]
    exp_text = str(abs(exponent)).rjust(len(exponent_slots), "0")
    mark = "-" if exponent < 0 else ("+" if sign == "+" else "")
    literals = "".join(t for k, t in mantissa if k == "literal")
    tail = "".join(t for k, t in tokens[at + 1 :] if k == "literal")
    return f"{literals}{digits}{tokens[at][1][0]}{mark}{exp_text}{tail}"


def _fraction_slash(tokens: list[tuple[str, str]]) -> int | None:
    for index, (kind, text) in enumerate(tokens):
        if kind == "other" and text == "/" and 0 < index < len(tokens) - 1:
            before, after = tokens[index - 1], tokens[index + 1]
            if before[1] in ("0", "#", "?") and (after[1] in ("0", "#", "?") or after[1].isdigit()):
                return index
    return None


def _format_fraction(value: float, tokens: list[tuple[str, str]], slash: int) -> str:
    after = [t for k, t in tokens[slash + 1 :] if k == "other" and (t in "0#?" or t.isdigit())]
    before = tokens[:slash]
    # The numerator is the run of placeholders just before the slash; anything earlier is the
    # whole number's.
    k = len(before) - 1
    while k >= 0 and before[k][1] in ("0", "#", "?"):
        k -= 1
    numerator_slots = len(before) - 1 - k
    head = before[: k + 1]
    has_whole = any(t in ("0", "#", "?") for kind, t in head if kind == "other")
    sign = "-" if value < 0 else ""
    value = abs(value)
    whole = int(value) if has_whole else 0
    rest = value - whole
    if all(t.isdigit() for t in after):
        denominator = int("".join(after))
        numerator = round(rest * denominator)
    else:
        best = Fraction(rest).limit_denominator(10 ** len(after) - 1)
        numerator, denominator = best.numerator, best.denominator
    if numerator == denominator and has_whole:
        whole, numerator = whole + 1, 0
    width = len(after)
    if numerator == 0 and has_whole:
        frac = " " * (numerator_slots + 1 + width)
    else:
        frac = f"{str(numerator).rjust(numerator_slots)}/{str(denominator).ljust(width)}"
    literal_head = "".join(
        t for kind, t in head if kind == "literal" or (kind == "other" and t not in "0#?,")
    )
    if has_whole:
        whole_text = str(whole) if whole or numerator == 0 else ""
        text = (
            f"{whole_text}{literal_head}{frac}"
            if whole_text
            else f"{' ' * len(literal_head)}{frac}"
        )
    else:
        text = f"{literal_head}{frac}"
    if has_whole and not whole and numerator:
        text = " " * len(text[: len(text) - len(frac)]) + frac
    return sign + text


# -- dates and times ----------------------------------------------------------------------------


def _from_serial(value: float) -> dt.datetime:
    # Round to the millisecond first: a stored 0.58333333 is 14:00:00, not 13:59:59.999.
    return EPOCH + dt.timedelta(milliseconds=round(value * 86400000))


def _format_date(value: float, part: _Part) -> str:
    tokens = part.tokens
    shows_fraction = any(kind == "other" and text == "0" for kind, text in tokens)
    moment = _from_serial(value)
    if not shows_fraction and moment.microsecond >= 500_000:
        moment += dt.timedelta(microseconds=1_000_000 - moment.microsecond)
    if not shows_fraction:
        moment = moment.replace(microsecond=0)
    twelve = any(kind == "ampm" for kind, _ in tokens)
    out: list[str] = []
    for index, (kind, text) in enumerate(tokens):
        if kind == "date":
            out.append(_date_token(text, index, tokens, moment, twelve))
        elif kind == "elapsed":
            total = value * 86400
            unit = {"h": 3600, "m": 60, "s": 1}[text[0]]
            out.append(str(int(round(total) // unit)).rjust(len(text), "0"))
        elif kind == "ampm":
            pm = moment.hour >= 12
            if text.lower() == "a/p":
                out.append(("p" if pm else "a") if text[0].islower() else ("P" if pm else "A"))
            else:
                out.append("PM" if pm else "AM")
        elif kind == "other" and text == "0":
            continue
        elif (
            kind == "other"
            and text == "."
            and index + 1 < len(tokens)
            and tokens[index + 1][1] == "0"
        ):
            places = 0
            while index + 1 + places < len(tokens) and tokens[index + 1 + places][1] == "0":
                places += 1
            fraction = f"{moment.microsecond / 1e6:.{places}f}"[1:]
            out.append(fraction)
        else:
            out.append(text)
    return "".join(out)


def _minutes_here(index: int, tokens: list[tuple[str, str]]) -> bool:
    """Whether an m at `index` means minutes: just after hours or just before seconds."""
    for k in range(index - 1, -1, -1):
        kind, text = tokens[k]
        if kind in ("date", "elapsed"):
            if text[0] == "h":
                return True
            break
    for k in range(index + 1, len(tokens)):
        kind, text = tokens[k]
        if kind in ("date", "elapsed"):
            return text[0] == "s"
    return False


def _date_token(
    text: str, index: int, tokens: list[tuple[str, str]], moment: dt.datetime, twelve: bool
) -> str:
    letter, size = text[0], len(text)
    if letter == "y":
        return str(moment.year)[-2:] if size <= 2 else str(moment.year)
    if letter == "d":
        if size >= 4:
            return DAYS[moment.weekday()]
        if size == 3:
            return DAYS[moment.weekday()][:3]
        return str(moment.day).rjust(size, "0")
    if letter == "h":
        hour = moment.hour % 12 or 12 if twelve else moment.hour
        return str(hour).rjust(min(size, 2), "0")
    if letter == "s":
        return str(moment.second).rjust(min(size, 2), "0")
    if size <= 2 and _minutes_here(index, tokens):
        return str(moment.minute).rjust(size, "0")
    if size >= 5:
        return MONTHS[moment.month - 1][0]
    if size == 4:
        return MONTHS[moment.month - 1]
    if size == 3:
        return MONTHS[moment.month - 1][:3]
    return str(moment.month).rjust(size, "0")
