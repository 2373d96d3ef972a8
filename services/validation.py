"""The one home of the ranges a value must fit before it is stored.

Every door a value comes in by (card CSVs, OpenNumismat files, Discogs CSVs and collection pages, `items add`,
the Collection page's edits) checks it here, so the database only ever holds what the pages and `value` can
add up: a quantity is a whole number of copies, money fits the NUMERIC(14,2) columns and is never negative, a
year is a year, a remote id fits the INTEGER column it is stored in.
Each check raises `OutOfRange` (an InvalidInput: one line a user can act on) naming the field and the value.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from services.errors import InvalidInput
from services.states import ItemStatus, parse
from services.store.models import Item

QUANTITY_MIN, QUANTITY_MAX = 1, 1_000_000
MONEY_MAX = Decimal("999999999999.99")  # NUMERIC(14,2): 12 digits before the point, 2 after
YEAR_MIN, YEAR_MAX = -5000, 2100
ID_MIN, ID_MAX = 1, 2**31 - 1  # INTEGER columns: PostgreSQL's int4 is the narrower of our two databases
RATING_MIN, RATING_MAX = 0, 5  # stars (Discogs: 0 = not rated)
CENT = Decimal("0.01")


class OutOfRange(InvalidInput):
    """A value that is readable but cannot be right (a billion copies, a negative price, the year 99999)."""

    code = "OUT_OF_RANGE"


def _shown(value: Any) -> str:
    """The value as the user typed it (text quoted), cut short: a refusal is one short line."""
    text = str(value)
    text = text if len(text) <= 24 else text[:21] + "..."
    return repr(text) if isinstance(value, str) else text


def check_quantity(value: Any, *, name: str = "quantity") -> int:
    """A whole number of copies in QUANTITY_MIN..QUANTITY_MAX (bools and fractions refused)."""
    if isinstance(value, str) and len(value) < 20 and value.isascii() and value.strip().isdigit():  # "3": no Decimal
        number: int | Decimal = int(value)
    elif isinstance(value, bool) or not isinstance(value, int | Decimal | float | str):
        raise _quantity_refusal(value, name)
    else:
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise _quantity_refusal(value, name) from None
        if not number.is_finite() or number != number.to_integral_value():
            raise _quantity_refusal(value, name)
    if not QUANTITY_MIN <= number <= QUANTITY_MAX:
        raise _quantity_refusal(value, name)
    return int(number)


def _quantity_refusal(value: Any, name: str) -> OutOfRange:
    return OutOfRange(
        f"{name} must be a whole number from {QUANTITY_MIN} to {QUANTITY_MAX:,}, not {_shown(value)}",
        code="INVALID_QUANTITY",
    )


def check_money(value: Any, *, name: str = "price") -> Decimal | None:
    """An amount of money, rounded to the cent, 0..MONEY_MAX; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise OutOfRange(f"{name} {value!r} is not an amount", code="INVALID_PRICE")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise OutOfRange(f"{name} {_shown(value)} is not an amount", code="INVALID_PRICE") from None
    if not amount.is_finite():
        raise OutOfRange(f"{name} {_shown(value)} is not an amount", code="INVALID_PRICE")
    if amount < 0:
        raise OutOfRange(f"{name} {_shown(value)} is negative", code="INVALID_PRICE")
    if amount > MONEY_MAX:
        raise OutOfRange(f"{name} {_shown(value)} is out of range (at most {MONEY_MAX:,})", code="INVALID_PRICE")
    return cents(amount)


def cents(amount: Decimal) -> Decimal:
    """The one rounding of money, stored, shown or returned: to the cent, half up (0.125 → 0.13)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


# An amount as a person types it: digits, then a dot and at most two decimals ("12", "12.5", "12.50", ".50").
_TYPED_AMOUNT = re.compile(r"(?:[0-9]+(?:\.[0-9]{1,2})?|\.[0-9]{1,2})")


def parse_money(text: str | None, *, name: str = "price") -> Decimal | None:
    """An amount of money typed by a user (every page's money field, `--price` on the command line): digits with a
    dot for the cents; empty (or None) is no amount. A comma is refused, never guessed at: "12,50" is 12.50 in
    much of Europe and "1,250" is 1250 in English, and taking one for the other stores a price 100 times off.
    More than two decimals, signs, currency symbols and exponents are refused too; then the range of check_money."""
    if text is None or not text.strip():
        return None
    typed = text.strip()
    if "," in typed:
        raise OutOfRange(f"{name} {_shown(typed)} has a comma: use a dot for the cents and no thousands separator "
                         "(12.50, 1250.00)", code="INVALID_PRICE")  # fmt: skip
    if not _TYPED_AMOUNT.fullmatch(typed):
        raise OutOfRange(f"{name} {_shown(typed)} is not an amount (use digits and a dot, e.g. 12.50)",
                         code="INVALID_PRICE")  # fmt: skip
    return check_money(typed, name=name)


def typed_money(amount: Decimal | None) -> str:
    """An amount as parse_money reads it back ("6.50", no thousands separator); None is empty."""
    return "" if amount is None else f"{amount:.2f}"


def check_year(value: Any, *, name: str = "year") -> int | None:
    """A year in YEAR_MIN..YEAR_MAX (negative = BC); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise OutOfRange(f"{name} {_shown(value)} is not a whole number", code="INVALID_YEAR")
    if not YEAR_MIN <= value <= YEAR_MAX:
        raise OutOfRange(f"{name} {_shown(value)} is out of range ({YEAR_MIN} to {YEAR_MAX})", code="INVALID_YEAR")
    return value


def _whole_number(value: Any) -> int | None:
    """An int, or text of ASCII digits short enough to be one of ours (never "1e23", "12.0" or a 50 MB
    number, which int() would refuse or spend seconds on); None when it is neither."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 20 else None


def check_id(value: Any, *, name: str = "id") -> int:
    """A remote id (a Discogs release): a whole number in ID_MIN..ID_MAX, the range of the column it goes to."""
    number = _whole_number(value)
    if number is None or not ID_MIN <= number <= ID_MAX:
        raise OutOfRange(f"{name} must be a whole number from {ID_MIN} to {ID_MAX:,}, not {_shown(value)}",
                         code="INVALID_ID")  # fmt: skip
    return number


def check_rating(value: Any, *, name: str = "rating") -> int | None:
    """A star rating in RATING_MIN..RATING_MAX; None (or empty text) stays None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = _whole_number(value)
    if number is None or not RATING_MIN <= number <= RATING_MAX:
        raise OutOfRange(f"{name} must be a whole number from {RATING_MIN} to {RATING_MAX}, not {_shown(value)}",
                         code="INVALID_RATING")  # fmt: skip
    return number


def check_status(value: Any, *, name: str = "status") -> ItemStatus:
    """One of the item statuses (services.states.ItemStatus)."""
    return parse(ItemStatus, value, f"An item's {name}")


def check_currency(value: Any, *, name: str = "currency") -> str | None:
    """A three-letter currency code, upper-cased ("eur" → "EUR"); None or blank stays None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    code = value.strip().upper() if isinstance(value, str) else ""
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise OutOfRange(f"{name} {_shown(value)} is not a three-letter code such as EUR", code="INVALID_CURRENCY")
    return code


def check_face_value(value: Any, *, name: str = "face value") -> str | None:
    """A coin's face value as the text OpenNumismat files keep ("2", "0.5"): a number 0..MONEY_MAX, however
    many decimals (a quarter farthing is 0.0625); None or blank stays None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise OutOfRange(f"{name} {_shown(value)} is not a number", code="INVALID_FACE_VALUE") from None
    if isinstance(value, bool) or not amount.is_finite() or not 0 <= amount <= MONEY_MAX:
        raise OutOfRange(f"{name} {_shown(value)} is out of range (0 to {MONEY_MAX:,})", code="INVALID_FACE_VALUE")
    return f"{amount.normalize():f}"


def check_text(value: Any, *, name: str, limit: int | None) -> str | None:
    """A text that fits its column (``limit`` characters; None: any length): a longer one is refused, never cut."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise OutOfRange(f"{name} {_shown(value)} is not a text", code="INVALID_TEXT")
    if limit is not None and len(value) > limit:
        raise OutOfRange(f"{name} is {len(value):,} characters long; at most {limit:,} fit", code="INVALID_TEXT")
    if "\x00" in value:  # PostgreSQL refuses it in any text (SQLite keeps it): the same answer on both
        raise OutOfRange(f"{name} holds a NUL character (byte 0)", code="INVALID_TEXT")
    return value


def check_title(value: Any, *, name: str = "title") -> str:
    """An item's title: never empty, and it fits its column."""
    if not isinstance(value, str) or not value.strip():
        raise OutOfRange("An item needs a title.", code="INVALID_TITLE")
    return check_text(value.strip(), name=name, limit=_LIMITS["title"]) or ""


# The item's text columns and how many characters each holds (from the table itself: one home for the lengths).
_LIMITS: dict[str, int | None] = {
    column.name: getattr(column.type, "length", None)
    for column in Item.__table__.columns
    if column.name in ("title", "grade", "grade_code", "printing", "language", "country", "series", "notes",
                       "acquired_place", "storage_location")
}  # fmt: skip
CHECKS = {
    "quantity": check_quantity, "acquired_price": check_money, "year": check_year, "status": check_status,
    "acquired_currency": check_currency, "title": check_title,
}  # fmt: skip


def check_texts(fields: dict[str, Any]) -> dict[str, Any]:
    """An imported item's texts (grade, country, series, place, storage...) each fit their column: a longer one
    refuses the row (PostgreSQL would refuse the whole transaction; SQLite would keep it whole, unlike the
    other database)."""
    for name, value in fields.items():
        if name in _LIMITS:
            check_text(value, name=name.replace("_", " "), limit=_LIMITS[name])
    return fields


def check_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The item fields with their values checked (quantity, money, year, status, currency, title, text lengths);
    others unchanged."""
    checked: dict[str, Any] = {}
    for name, value in fields.items():
        label = name.replace("_", " ")
        if name in CHECKS:
            checked[name] = CHECKS[name](value, name=label)
        elif name in _LIMITS:
            checked[name] = check_text(value, name=label, limit=_LIMITS[name])
        else:
            checked[name] = value
    return checked


def readable_quantity(value: Any) -> int:
    """Read side: a stored quantity outside the range (an older database) counts as 1, never as a crash."""
    return value if isinstance(value, int) and QUANTITY_MIN <= value <= QUANTITY_MAX else 1


def readable_money(value: Any) -> Decimal | None:
    """Read side: a stored amount outside the range reads as unknown (None), never as a crash."""
    try:
        return check_money(value)
    except OutOfRange:
        return None
