"""Cell converters for OpenNumismat files: every column may hold NULL, '' or free text.

SQLite affinity turns numeric-looking widget text into INTEGER/REAL, leaves '' as TEXT, and with
`free_numeric` any text ("about 5", "2 pcs") can sit in a numeric column (notes/opennumismat.md §4). The
converters below never raise: what they cannot read becomes None (the original cell stays in `raw`).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import cast

DATE_SENTINEL = "2000-01-01"
"""The editor's legacy "no date" value, saved literally by older versions (notes §4, §0.7)."""

_Decimal = Decimal
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'\u2019_")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*(?:(?!\1)[.,]\d+)?$")
_LEADING_COUNT = re.compile(r"^\s*(\d{1,9})\s*(?:[^\W\d_][^\d]*)?$")
_BC_YEAR = re.compile(
    r"^\s*(\d{1,4})\s*(?:bc|b\.c\.|bce|b\.c\.e\.|v\.?\s*chr\.?|av\.?\s*j\.?-?c\.?|a\.?\s*c\.?|до\s*н\.?\s*э\.?)\s*$",
    re.IGNORECASE,
)
_AD_YEAR = re.compile(r"^\s*(?:ad|a\.d\.)?\s*(\d{1,4})\s*(?:ad|a\.d\.|ce)?\s*$", re.IGNORECASE)


def text(value: object) -> str | None:
    """Short single-line text, stripped; '' and non-text cells → None (numbers are rendered as text)."""
    if value is None:
        return None
    if value.__class__ is str:
        return value.strip() or None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def long_text(value: object) -> str | None:
    """Multi-line text kept exactly as stored (only blank → None)."""
    if value.__class__ is str:
        return value if value.strip() else None
    return text(value)


def _number_text(value: str) -> str | None:
    """Canonical '1234.5' form of a numeric string, or None if it is not purely a number."""
    compact = value.strip().translate(_SPACES)
    if not compact:
        return None
    if _PLAIN_NUMBER.match(compact):
        return compact.replace(",", ".")
    match = _GROUPED.match(compact)
    if match:
        group = match.group(1)
        return compact.replace(group, "").replace(",", ".")
    return None


def decimal(value: object) -> Decimal | None:
    """Money / face value as Decimal (REAL cells via their shortest repr, so 2.5 → Decimal('2.5'))."""
    if value is None:
        return None
    cls = value.__class__
    if cls is float:
        return _Decimal(repr(value)) if cast(float, value) - cast(float, value) == 0.0 else None
    if cls is int:
        return _Decimal(cast(int, value))
    if cls is str:
        number = _number_text(cast(str, value))
        if number is None:
            return None
        try:
            result = Decimal(number)
        except InvalidOperation:
            return None
        return result if result.is_finite() else None
    return None


def real(value: object) -> float | None:
    """Measurements (weight, diameter, ...) as float."""
    if value is None:
        return None
    cls = value.__class__
    if cls is float:
        measured = cast(float, value)
        return measured if math.isfinite(measured) else None
    if cls is int:
        return float(cast(int, value))
    if cls is str:
        number = _number_text(cast(str, value))
        if number is None:
            return None
        result = float(number)
        return result if math.isfinite(result) else None
    return None


def integer(value: object) -> int | None:
    """Whole numbers; a REAL with a fraction or non-numeric text → None."""
    if value is None:
        return None
    cls = value.__class__
    if cls is int:
        return cast(int, value)
    if cls is float:
        whole = cast(float, value)
        return int(whole) if math.isfinite(whole) and whole.is_integer() else None
    if cls is str:
        number = _number_text(cast(str, value))
        if number is None:
            return None
        result = float(number) if "." in number else int(number)
        if isinstance(result, float):
            return int(result) if math.isfinite(result) and result.is_integer() else None
        return result
    return None


def quantity(value: object) -> int | None:
    """Quantity: a number, or a leading count followed by a word ("2 pcs", "3x", "5 Stück")."""
    number = integer(value)
    if number is not None or value.__class__ is not str:
        return number
    match = _LEADING_COUNT.match(value)
    return int(match.group(1)) if match else None


def year(value: object) -> int | None:
    """Year; negative = BC as OpenNumismat stores it, and textual "300 BC" / "300 v. Chr." → -300."""
    number = integer(value)
    if number is not None or value.__class__ is not str:
        return number
    match = _BC_YEAR.match(value)
    if match:
        return -int(match.group(1))
    match = _AD_YEAR.match(value)
    return int(match.group(1)) if match else None


def iso_date(value: object) -> date | None:
    """`YYYY-MM-DD` → date; '', NULL, the 2000-01-01 sentinel and unreadable text → None."""
    if value.__class__ is not str:
        return None
    if len(value) != 10:
        value = value.strip()[:10]  # tolerate padding or a trailing time part
        if len(value) != 10:
            return None
    if value == DATE_SENTINEL:
        return None
    try:
        return _date_from_iso(value)
    except ValueError:
        return None


def timestamp(value: object) -> datetime | None:
    """`createdat`/`updatedat`: UTC ISO text with or without milliseconds and `Z` → aware datetime."""
    if value.__class__ is not str:
        return None
    try:
        moment = _datetime_from_iso(value)
    except ValueError:
        stripped = value.strip()
        if not stripped or stripped == value:
            return None
        try:
            moment = _datetime_from_iso(stripped)
        except ValueError:
            return None
    zone = moment.tzinfo
    if zone is None:
        return moment.replace(tzinfo=UTC)  # the app stores UTC without a suffix in older rows (notes §4)
    return moment if zone is UTC else moment.astimezone(UTC)


_date_from_iso = date.fromisoformat
_datetime_from_iso = datetime.fromisoformat
