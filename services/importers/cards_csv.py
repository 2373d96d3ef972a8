"""TCGplayer app and Collectr CSV exports → the user's cards: parse → match → preview → commit at once.

Why a preview with three outcomes: the exports name cards by *their* set names ("SV01: Scarlet & Violet Base
Set", "Base Set") and numbers ("004/102"), not by pokemontcg.io ids. A row is **matched** when set, number and
name agree with exactly one catalogue card, **ambiguous** when several cards fit (the user picks one, or the
row is reported), **unmatched** when none does. Nothing is written until the user commits, and the commit is
one transaction (the caller's session): all rows or none.

Bad input: a value that cannot be right (quantity, price: services/validation.py) rejects its row, reported
as `{row, reason}` while the other rows import; what makes the file itself unreadable (binary, UTF-16, a
field over the csv module's 131,072-character limit, an unclosed quote, more rows than the limit) refuses
the whole file with one InvalidInput line. Big files stay cheap: read as a stream, matched from an
in-memory catalogue index, planned and written in batches; the report keeps counts plus the first rows.

Re-importing a newer export of the same app updates the entries it created (matched by a row key built from
the export's own identity: TCGplayer SKU, or card + condition + printing + language [+ Collectr portfolio])
instead of duplicating them, by the one re-import rule of every importer (services/importers/merge.py): a
field is only overwritten when the file changed it since the last import, a value the file cleared is
cleared (a withdrawn Collectr "Price Override" withdraws the entry's own estimate), and the member's own
edits to other fields survive.

Columns (peers.md §4d), matched by header name (case and spacing ignored, "Market Price (As of …)" by prefix):
TCGplayer: Quantity, Name, Simple Name, Set, Card Number, Set Code, External ID, Printing, Condition,
Language, Rarity, Product ID, SKU, Price, Price Each. Collectr: Portfolio Name, Category, Set, Product Name,
Card Number, Rarity, Variance, Grade, Card Condition, Average Cost Paid, Quantity, Market Price, Price Override,
Watchlist, Date Added, Notes.
"""

from __future__ import annotations

import codecs
import csv
import functools
import hashlib
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.card_printings import default_printing, known_printings
from services.errors import InvalidInput
from services.importers.merge import SNAPSHOT_KEY, changed_fields, merge_keeping_edits
from services.importers.row_limit import DEFAULT_MAX_ROWS, check_row_count
from services.pricing import Observation, record_observations, set_own_estimate
from services.states import ItemStatus, MatchStatus
from services.store.chunks import in_chunks
from services.store.models import Item, PokemonCard, PokemonSet, table_of
from services.text import natural_sort_key, normalize
from services.validation import OutOfRange, check_money, check_quantity

_norm = functools.lru_cache(maxsize=65_536)(normalize)  # exports repeat the same few conditions, sets, names
FORMATS = ("tcgplayer", "collectr")
SNAPSHOT_FIELDS = ("quantity", "grade", "grade_code", "printing", "language", "status", "acquired_price",
                   "acquired_currency", "acquired_date", "notes", "estimate")  # fmt: skip
MATCH_STATUSES = tuple(status.value for status in MatchStatus)
NAME_CUTOFF = 85.0
SET_CUTOFF = 90.0

CONDITIONS = {
    "near mint": "NM", "nm": "NM", "mint": "NM", "m": "NM", "nm m": "NM", "near mint mint": "NM",
    "lightly played": "LP", "lp": "LP", "slightly played": "LP", "sp": "LP", "excellent": "LP",
    "moderately played": "MP", "mp": "MP", "played": "MP",
    "heavily played": "HP", "hp": "HP",
    "damaged": "DMG", "dmg": "DMG", "dm": "DMG", "poor": "DMG",
}  # fmt: skip
PRINTINGS = {
    "normal": "normal", "unlimited": "normal", "non foil": "normal", "nonfoil": "normal", "regular": "normal",
    "holofoil": "holofoil", "holo": "holofoil", "holo foil": "holofoil", "unlimited holofoil": "holofoil",
    "reverse holofoil": "reverseHolofoil", "reverse holo": "reverseHolofoil", "reverse": "reverseHolofoil",
    "reverse foil": "reverseHolofoil",
    "1st edition": "1stEditionNormal", "1st edition normal": "1stEditionNormal", "first edition": "1stEditionNormal",
    "1st edition holofoil": "1stEditionHolofoil", "1st edition holo": "1stEditionHolofoil",
    "first edition holofoil": "1stEditionHolofoil",
    "foil": "foil",  # resolved per card: holofoil or reverseHolofoil
}  # fmt: skip
LANGUAGES = {
    "english": "en", "japanese": "ja", "french": "fr", "german": "de", "italian": "it", "spanish": "es",
    "portuguese": "pt", "korean": "ko", "chinese": "zh", "chinese simplified": "zh", "chinese traditional": "zh-tw",
    "dutch": "nl", "russian": "ru", "polish": "pl", "thai": "th", "indonesian": "id",
}  # fmt: skip
CURRENCY_SIGNS = {"$": "USD", "€": "EUR", "£": "GBP"}
HOLO_RARITIES = ("holo", "secret", "double rare", "ultra rare", "illustration rare", "hyper rare", "promo",
                 "rare rainbow", "rare shiny", "amazing rare", "radiant rare", "ace spec")  # fmt: skip
SNIFF_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
DETAIL_ROWS = 1_000  # rows of each status (and errors) the report keeps in full; the rest are counted
BATCH_ROWS = 2_000  # rows matched, planned and written together
SET_STOPWORDS = {"set", "base", "cards", "card", "pokemon", "the", "and", "of", "tcg"}
_SET_CODE_PREFIX = re.compile(r"^\s*[A-Za-z]{1,5}\d{0,3}[a-z]?\s*:\s*")
_CURRENCY_NOISE = re.compile(r"[\s$€£\u00a0']|\b(?:USD|EUR|GBP|CHF|CAD|AUD|JPY)\b", re.IGNORECASE)
_AMOUNT = re.compile(r"-?[\d.,]+")
_VARIANT_SUFFIX = re.compile(r"\s*(\([^)]*\)|\[[^\]]*\]|-\s*[A-Za-z]{0,4}\d+\s*/\s*[A-Za-z]{0,4}\d+)\s*$")

# Header aliases: our field → header names (normalized) per format; a trailing "*" matches by prefix.
TCGPLAYER_COLUMNS = {
    "quantity": ("quantity", "qty", "add to quantity", "total quantity"),
    "name": ("simple name", "name", "product name"),
    "full_name": ("name", "product name"),
    "set": ("set", "set name"),
    "number": ("card number", "number"),
    "set_code": ("set code",),
    "printing": ("printing",),
    "condition": ("condition",),
    "language": ("language",),
    "rarity": ("rarity",),
    "product_id": ("product id", "tcgplayer id"),
    "sku": ("sku", "sku id"),
    "price_each": ("price each", "tcg market price"),
}
COLLECTR_COLUMNS = {
    "portfolio": ("portfolio name",),
    "category": ("category",),
    "set": ("set",),
    "name": ("product name",),
    "number": ("card number",),
    "rarity": ("rarity",),
    "printing": ("variance",),
    "grade": ("grade",),
    "condition": ("card condition",),
    "cost": ("average cost paid",),
    "quantity": ("quantity",),
    "market_price": ("market price*",),
    "override": ("price override",),
    "watchlist": ("watchlist",),
    "date_added": ("date added",),
    "notes": ("notes",),
}


@dataclass
class CardCsvRow:
    """One data row, parsed: what the file says, on our scales where that is unambiguous."""

    row: int  # spreadsheet row number (the header is row 1)
    name: str
    set_name: str
    number: str
    quantity: int
    condition: str
    printing: str | None  # our key, "foil" (decided per card), or None (unknown: decided per card)
    language: str
    rarity: str = ""
    set_code: str = ""
    status: ItemStatus = ItemStatus.OWNED
    acquired_price: Decimal | None = None
    acquired_currency: str | None = None
    acquired_date: date | None = None
    notes: str | None = None
    estimate: Decimal | None = None
    estimate_currency: str | None = None
    key: str = ""  # the export's identity of this line (before the card id is known)
    source: dict[str, str] = field(default_factory=dict)  # every column, as read
    skip_reason: str | None = None
    error: str | None = None


@dataclass
class RowOutcome:
    """A row after matching (and, once planned, what importing it does)."""

    row: CardCsvRow
    status: MatchStatus
    card_id: str | None = None
    candidates: list[str] = field(default_factory=list)
    reason: str | None = None
    action: str | None = None  # create | update | unchanged (matched rows, after planning)
    printing: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "row": self.row.row, "status": self.status, "name": self.row.name, "set": self.row.set_name,
            "number": self.row.number, "quantity": self.row.quantity, "condition": self.row.condition,
            "printing": self.printing or self.row.printing, "cardId": self.card_id, "candidates": self.candidates,
            "reason": self.reason, "action": self.action,
        }  # fmt: skip


@dataclass
class CardImportReport:
    """The import JSON document (DESIGN.md) plus the per-row preview.

    Bounded whatever the file's size: every row is counted, but only the first DETAIL_ROWS rows of each
    status (and the first DETAIL_ROWS errors) are kept in full; `errorsOmitted` says how many more failed."""

    format: str
    rows: list[RowOutcome] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_omitted: int = 0
    matching: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MATCH_STATUSES, 0))

    def count(self, status: str) -> int:
        return self.matching[status]

    def keep(self, outcome: RowOutcome) -> None:
        """Count a row; keep it in `rows` while its status has fewer than DETAIL_ROWS kept."""
        self.matching[outcome.status] += 1
        if self.matching[outcome.status] <= DETAIL_ROWS:
            self.rows.append(outcome)

    def error(self, row: int, reason: str) -> None:
        if len(self.errors) < DETAIL_ROWS:
            self.errors.append({"row": row, "reason": reason})
        else:
            self.errors_omitted += 1

    def to_json(self) -> dict[str, Any]:
        document = {
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged, "skipped": self.skipped,
            "errors": self.errors, "format": self.format, "matching": dict(self.matching),
        }  # fmt: skip
        if self.errors_omitted:
            document["errorsOmitted"] = self.errors_omitted
        return document


# ------------------------------------------------------------------------------------------- parsing
def _file_error(message: str, code: str) -> InvalidInput:
    return InvalidInput(message, code=code)


def _sniff_binary(head: bytes) -> None:
    """Refuse what is not a text CSV before reading it as one: UTF-16 (Excel's "Unicode text") and binary."""
    even, odd = head[0::2].count(0), head[1::2].count(0)
    half = max(len(head) // 2, 1)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (
        len(head) >= 8 and max(even, odd) > 0.4 * half and min(even, odd) < 0.05 * half
    ):
        raise _file_error("The file is UTF-16; save it as UTF-8 (CSV UTF-8) and import it again.", "UTF16_FILE")
    if b"\0" in head:
        raise _file_error("This is a binary file, not a CSV export.", "BINARY_FILE")


def _binary_stream(data: bytes | Path) -> BinaryIO:
    return data.open("rb") if isinstance(data, Path) else io.BytesIO(data)


def _encoding(stream: BinaryIO) -> str:
    """UTF-8 (with or without BOM) when every byte decodes as such, else Windows-1252 (older Excel exports).
    One streaming pass, so a 50 MB file costs a chunk of memory, not its size."""
    _sniff_binary(stream.read(SNIFF_BYTES))
    stream.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
        if b"\0" in chunk:
            raise _file_error("This is a binary file, not a CSV export.", "BINARY_FILE")
        if utf8:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                utf8 = False
    stream.seek(0)
    return "utf-8-sig" if utf8 else "cp1252"


@contextmanager
def _text_lines(data: bytes | str | Path) -> Iterator[TextIO]:
    """The export as a text stream (never read whole): Path and bytes are decoded as they are read."""
    if isinstance(data, str):
        if "\0" in data:
            raise _file_error("This is a binary file, not a CSV export.", "BINARY_FILE")
        yield io.StringIO(data.lstrip("\ufeff"), newline="")
        return
    with _binary_stream(data) as stream:
        encoding = _encoding(stream)
        text = io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")
        try:
            yield text
        finally:
            text.detach()


def _header_key(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip().lstrip("\ufeff").casefold())


def _columns(headers: list[str], aliases: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Our field → the file's header for it."""
    found: dict[str, str] = {}
    keyed = {_header_key(h): h for h in headers}
    for name, options in aliases.items():
        for option in options:
            if option.endswith("*"):
                match = next((h for k, h in keyed.items() if k.startswith(option[:-1])), None)
            else:
                match = keyed.get(option)
            if match is not None:
                found[name] = match
                break
    return found


def detect_format(headers: Iterable[str]) -> str:
    keys = {_header_key(h) for h in headers}
    if "product name" in keys and keys & {"variance", "portfolio name", "card condition", "average cost paid"}:
        return "collectr"
    if keys & {"simple name", "sku", "printing"} and "condition" in keys:
        return "tcgplayer"
    raise InvalidInput(
        "This is not a TCGplayer or Collectr export: expected columns such as Quantity, Name, Set, Card Number, "
        "Printing, Condition (TCGplayer) or Product Name, Variance, Card Condition (Collectr).",
        code="UNKNOWN_CSV_FORMAT",
    )


def _amount(text: str, default_currency: str) -> tuple[Decimal | None, str]:
    """'$1,234.50' → (1234.50, 'USD'); '12,50 €' → (12.50, 'EUR'); '' → (None, default).
    Only digits, separators and a currency sign or code are an amount: '1e300' or 'Infinity' are not."""
    raw = (text or "").strip()
    currency = next((code for sign, code in CURRENCY_SIGNS.items() if sign in raw), default_currency)
    digits = _CURRENCY_NOISE.sub("", raw)
    if not digits or digits in "-.,":
        return None, currency
    if not _AMOUNT.fullmatch(digits):
        raise ValueError(f"{_short(text)!r} is not an amount")
    if "," in digits and "." in digits:
        digits = digits.replace(",", "") if digits.rfind(".") > digits.rfind(",") else digits.replace(".", "")
        digits = digits.replace(",", ".")
    elif "," in digits:
        head, _, tail = digits.rpartition(",")
        digits = f"{head.replace(',', '')}.{tail}" if len(tail) != 3 else digits.replace(",", "")
    try:
        Decimal(digits)
    except InvalidOperation:
        raise ValueError(f"{_short(text)!r} is not an amount") from None
    return check_money(digits), currency


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _date(text: str) -> date | None:
    raw = (text or "").strip()
    if not raw:
        return None
    for pattern in ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%m/%d/%y"):
        try:
            return datetime.strptime(raw[:10] if pattern.startswith("%Y") else raw.split(" ")[0], pattern).date()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).date()
    except ValueError:
        raise ValueError(f"{text!r} is not a date") from None


@functools.lru_cache(maxsize=4096)
def _condition_and_printing(condition: str, printing: str) -> tuple[str, str | None]:
    """TCGplayer folds the finish into the condition ("Near Mint Foil"); split them, then map both."""
    words = _norm(condition)
    code = None
    rest = ""
    for phrase in sorted(CONDITIONS, key=len, reverse=True):
        if words == phrase or words.startswith(phrase + " "):
            code, rest = CONDITIONS[phrase], words[len(phrase) :].strip()
            break
    if code is None:
        if words:
            raise ValueError(f"unknown condition {condition!r} (expected Near Mint, Lightly Played, ...)")
        code = "NM"
    # An unknown finish ("Cosmos Holo") is not fatal: the printing is then decided per card.
    mapped = PRINTINGS.get(_norm(printing))
    if rest:
        from_condition = PRINTINGS.get(rest)
        if from_condition is None:
            raise ValueError(f"unknown condition {condition!r}")
        if mapped in (None, "normal"):
            mapped = from_condition
    return code, mapped


@functools.lru_cache(maxsize=4096)
def _language(text: str) -> str:
    words = _norm(text)
    if not words:
        return "en"
    return LANGUAGES.get(words, words[:20])


def _quantity(text: str) -> int:
    """1 when empty, 0 kept (the row is then skipped), else a quantity in the one allowed range."""
    raw = (text or "").strip()
    if not raw:
        return 1
    if raw in ("0", "0.0", "0.00"):
        return 0
    return check_quantity(raw)


def _row_key(*parts: str) -> str:
    key = "|".join(parts)
    return key if len(key) <= 70 else "h:" + hashlib.sha1(key.encode()).hexdigest()[:40]


@contextmanager
def cards_csv_rows(
    data: bytes | str | Path, *, currency: str = "USD", max_rows: int = DEFAULT_MAX_ROWS
) -> Iterator[tuple[str, Iterator[CardCsvRow]]]:
    """(format, rows) of a TCGplayer or Collectr export, rows parsed one at a time as the file is read.

    A row with a bad value carries `error` (it is reported, the others import); a row not to import carries
    `skip_reason`. The whole file is refused (InvalidInput, one line) when it is not a text CSV of either
    format, when a field is larger than the csv module's limit (131,072 characters: no card field is), when a
    quote is never closed, or when it has more than `max_rows` data rows."""
    with _text_lines(data) as text:
        first_line = text.readline(SNIFF_BYTES)
        if not first_line.strip():
            raise InvalidInput("The file is empty.", code="EMPTY_FILE")
        if not first_line.endswith(("\n", "\r")) and len(first_line) >= SNIFF_BYTES:
            raise _file_error("The first line is too long to be a header: this is not a card export.",
                              "UNKNOWN_CSV_FORMAT")  # fmt: skip
        delimiter = max((",", ";", "\t"), key=first_line.count)
        reader = csv.reader(itertools.chain([first_line], text), delimiter=delimiter)
        headers = _next_record(reader, 1) or []
        kind = detect_format(headers)
        columns = _columns(headers, TCGPLAYER_COLUMNS if kind == "tcgplayer" else COLLECTR_COLUMNS)

        def rows() -> Iterator[CardCsvRow]:
            count, record = 0, 1  # record: the spreadsheet row (the header is row 1)
            while True:
                values = _next_record(reader, reader.line_num + 1)
                if values is None:
                    return
                record += 1
                if not any(v.strip() for v in values):
                    continue
                count += 1
                check_row_count(count, max_rows)
                source = {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(headers) if h}
                yield _parse_row(kind, record, source, columns, currency)

        yield kind, rows()


def _next_record(reader: Any, line: int) -> list[str] | None:
    """The next CSV record; a structural error (a 50 MB field, an unclosed quote) refuses the file."""
    try:
        record: list[str] = next(reader)
        return record
    except StopIteration:
        return None
    except csv.Error as error:
        limit = csv.field_size_limit()
        if "field larger than field limit" in str(error):
            raise _file_error(f"Line {line}: a field is longer than {limit:,} characters; this is not a card "
                              "export (check the quotes).", "FIELD_TOO_LARGE") from None  # fmt: skip
        raise _file_error(f"Line {line}: not readable as CSV ({error}).", "BAD_CSV") from None


def read_cards_csv(data: bytes | str | Path, *, currency: str = "USD") -> tuple[str, list[CardCsvRow]]:
    """All rows at once (small files and tests); imports stream through `cards_csv_rows`."""
    with cards_csv_rows(data, currency=currency) as (kind, rows):
        return kind, list(rows)


def _parse_row(kind: str, number: int, source: dict[str, str], columns: dict[str, str], currency: str) -> CardCsvRow:
    def get(name: str) -> str:
        header = columns.get(name)
        return source.get(header, "").strip() if header else ""

    name = get("name") or get("full_name")
    row = CardCsvRow(
        row=number, name=name, set_name=get("set"), number=get("number").split("/")[0].strip().lstrip("#"),
        quantity=1, condition="NM", printing=None, language="en", rarity=get("rarity"), set_code=get("set_code"),
        source=source,
    )  # fmt: skip
    category = _norm(get("category"))
    if kind == "collectr" and category and not category.startswith("pokemon"):
        row.skip_reason = f"not a Pokémon card (category {get('category')})"
        return row
    if name and not row.number and not row.rarity:
        row.skip_reason = "sealed product or accessory (no card number)"
        return row
    try:
        row.quantity = _quantity(get("quantity"))
        row.condition, row.printing = _condition_and_printing(get("condition"), get("printing"))
        row.language = _language(get("language"))
        if kind == "tcgplayer":
            sku = get("sku")
            row.key = _row_key("sku", sku) if sku else ""
        else:
            row.acquired_price, row.acquired_currency = _amount(get("cost"), currency)
            if row.acquired_price is not None and row.acquired_price == 0:
                row.acquired_price = None
            if row.acquired_price is None:
                row.acquired_currency = None
            row.estimate, row.estimate_currency = _amount(get("override"), currency)
            if row.estimate is not None and row.estimate == 0:
                row.estimate = None
            row.acquired_date = _date(get("date_added"))
            row.notes = get("notes") or None
            if _norm(get("watchlist")) in ("true", "yes", "1", "y", "x"):
                row.status = ItemStatus.WISH
            grade = get("grade")
            row.key = _row_key("portfolio", get("portfolio"), _norm(grade) or "ungraded")
    except (ValueError, OutOfRange) as error:
        row.error = str(error)
        return row
    if not row.name:
        row.error = "no card name"
    elif row.quantity <= 0:
        if row.status == ItemStatus.WISH:
            row.quantity = 1
        else:
            row.skip_reason = "quantity 0"
    return row


# ------------------------------------------------------------------------------------------- matching
@dataclass(frozen=True)
class _Card:
    id: str
    name: str
    name_key: str
    number_key: str
    set_id: str
    set_name: str
    number: str
    rarity: str | None


def _strip_set(name: str) -> str:
    """"SV01: Scarlet & Violet Base Set" → "scarlet violet"; "Base Set" → "base"."""
    words = _norm(_SET_CODE_PREFIX.sub("", name))
    for suffix in (" base set", " set"):
        if words.endswith(suffix) and len(words) > len(suffix):
            words = words[: -len(suffix)]
    return words


def _name_keys(name: str) -> tuple[str, str]:
    """(full, without variant decoration such as "(Showcase)" or "- 4/102") normalized names."""
    return _norm(name), _norm(_VARIANT_SUFFIX.sub("", name))


class CardMatcher:
    """Matches export rows to catalogue cards from an in-memory index of the catalogue, built once per import
    (a few MB for the whole catalogue), and remembers the answer for each (set, number, name) it has seen:
    a big export repeats the same cards in other conditions and printings."""

    MEMO_LIMIT = 100_000

    def __init__(self, session: Session) -> None:
        self.session = session
        self.sets = list(session.execute(select(PokemonSet.id, PokemonSet.name, PokemonSet.ptcgo_code)))
        self.by_id: dict[str, _Card] = {}
        self._by_set: dict[str, list[_Card]] = {}
        self._by_set_number: dict[tuple[str, str], list[_Card]] = {}
        self._by_number: dict[str, list[_Card]] = {}
        self._by_name_key: dict[str, list[_Card]] = {}
        query = select(
            PokemonCard.id, PokemonCard.name, PokemonCard.number, PokemonCard.set_id, PokemonSet.name,
            PokemonCard.rarity,
        ).join(PokemonSet, PokemonSet.id == PokemonCard.set_id)  # fmt: skip
        for card_id, name, number, set_id, set_name, rarity in session.execute(query):
            card = _Card(card_id, name, _norm(name), natural_sort_key(number), set_id, set_name, number, rarity)
            self.by_id[card_id] = card
            self._by_set.setdefault(set_id, []).append(card)
            self._by_set_number.setdefault((set_id, card.number_key), []).append(card)
            self._by_number.setdefault(card.number_key, []).append(card)
            self._by_name_key.setdefault(card.name_key, []).append(card)
        self._set_cache: dict[tuple[str, str], list[str]] = {}
        self._memo: dict[tuple[str, str, str, str], tuple[MatchStatus, str | None, list[str], str | None]] = {}

    def _cards(self, set_ids: Iterable[str]) -> list[_Card]:
        return [card for set_id in set_ids for card in self._by_set.get(set_id, ())]

    def candidate_sets(self, set_name: str, set_code: str) -> list[str]:
        cache_key = (set_name, set_code)
        if cache_key in self._set_cache:
            return self._set_cache[cache_key]
        wanted, stripped = _norm(set_name), _strip_set(set_name)
        code = set_code.strip().casefold()
        scored: list[tuple[float, str]] = []
        for set_id, name, ptcgo in self.sets:
            ours = _norm(name)
            if wanted and (ours == wanted or set_id.casefold() == wanted):
                scored.append((100.0, set_id))
            elif code and ptcgo and ptcgo.casefold() == code:
                scored.append((99.0, set_id))
            elif stripped and (_strip_set(name) == stripped):
                scored.append((97.0, set_id))
            elif stripped:
                score = fuzz.token_sort_ratio(stripped, _strip_set(name))
                if score >= SET_CUTOFF:
                    scored.append((score, set_id))
        best = max((score for score, _ in scored), default=None)
        found = [set_id for score, set_id in scored if score == best]
        self._set_cache[cache_key] = found
        return found

    @staticmethod
    def _name_fits(row_keys: tuple[str, str], card: _Card) -> float:
        if card.name_key in row_keys:
            return 100.0
        return max(fuzz.token_set_ratio(key, card.name_key) for key in row_keys if key) if any(row_keys) else 0.0

    def _by_name(self, cards: list[_Card], row_keys: tuple[str, str]) -> list[_Card]:
        exact = [c for c in cards if c.name_key in row_keys]
        if exact:
            return exact
        return [c for c in cards if self._name_fits(row_keys, c) >= NAME_CUTOFF]

    def match(self, row: CardCsvRow) -> RowOutcome:
        key = (row.set_name, row.set_code, row.number, row.name)
        known = self._memo.get(key)
        if known is None:
            found = self._match(row)
            known = (found.status, found.card_id, found.candidates, found.reason)
            if len(self._memo) < self.MEMO_LIMIT:
                self._memo[key] = known
        status, card_id, candidates, reason = known
        return RowOutcome(row, status, card_id, candidates=list(candidates), reason=reason)

    def _match(self, row: CardCsvRow) -> RowOutcome:
        row_keys = _name_keys(row.name)
        number_key = natural_sort_key(row.number) if row.number else None
        sets = self.candidate_sets(row.set_name, row.set_code)
        if sets:
            cards = self._cards(sets)
            set_label = row.set_name or row.set_code
            if number_key is not None:
                numbered = [c for set_id in sets for c in self._by_set_number.get((set_id, number_key), ())]
                fitting = self._by_name(numbered, row_keys)
                if len(fitting) == 1:
                    return RowOutcome(row, MatchStatus.MATCHED, fitting[0].id)
                if len(fitting) > 1:
                    return RowOutcome(row, MatchStatus.AMBIGUOUS, candidates=[c.id for c in fitting],
                                      reason=f"{len(fitting)} cards numbered {row.number} in {set_label}")  # fmt: skip
                named = self._by_name(cards, row_keys)
                options = [c.id for c in [*numbered, *named]][:10]
                if options:
                    return RowOutcome(row, MatchStatus.AMBIGUOUS, candidates=list(dict.fromkeys(options)),
                                      reason=f"number {row.number} and name {row.name!r} disagree in {set_label}")
                return RowOutcome(row, MatchStatus.UNMATCHED,
                                  reason=f"no card {row.name!r} numbered {row.number} in {set_label}")  # fmt: skip
            named = self._by_name(cards, row_keys)
            if len(named) == 1:
                return RowOutcome(row, MatchStatus.MATCHED, named[0].id)
            if named:
                return RowOutcome(row, MatchStatus.AMBIGUOUS, candidates=[c.id for c in named][:10],
                                  reason=f"{len(named)} cards named {row.name!r} in {set_label}; no number given")
            return RowOutcome(row, MatchStatus.UNMATCHED, reason=f"no card named {row.name!r} in {set_label}")
        return self._match_without_set(row, row_keys, number_key)

    def _match_without_set(self, row: CardCsvRow, row_keys: tuple[str, str], number_key: str | None) -> RowOutcome:
        """The set name is not one we know: fall back to name + number over the whole catalogue."""
        if number_key is not None:
            fitting = [c for c in self._by_number.get(number_key, ()) if c.name_key in row_keys]
        else:
            fitting = list({c.id: c for key in row_keys for c in self._by_name_key.get(key, ())}.values())
        if not fitting:
            return RowOutcome(row, MatchStatus.UNMATCHED, reason=f"unknown set {row.set_name!r} and no card "
                              f"{row.name!r}{f' numbered {row.number}' if row.number else ''}")  # fmt: skip
        significant = set(_norm(row.set_name).split()) - SET_STOPWORDS
        close = [c for c in fitting if significant & (set(_norm(c.set_name).split()) - SET_STOPWORDS)]
        if len(close) == 1 and number_key is not None:
            return RowOutcome(row, MatchStatus.MATCHED, close[0].id,
                              reason=f"set {row.set_name!r} read as {close[0].set_name}")  # fmt: skip
        return RowOutcome(row, MatchStatus.AMBIGUOUS, candidates=[c.id for c in (close or fitting)][:10],
                          reason=f"unknown set {row.set_name!r}")  # fmt: skip


# ------------------------------------------------------------------------------------------- planning
def _resolve_printing(printing: str | None, rarity: str | None, known: Sequence[str]) -> str:
    """Our printing key for a row: "Foil" (TCGplayer's word for both holo and reverse holo) and a missing
    printing are decided by the card's printings (services.card_printings, the usual order), then by its
    rarity."""
    holo_rarity = any(word in (rarity or "").casefold() for word in HOLO_RARITIES)
    if printing == "foil":
        foils = [p for p in ("holofoil", "reverseHolofoil") if p in known]
        if len(foils) == 1:
            return foils[0]
        return "holofoil" if holo_rarity else "reverseHolofoil"
    if printing is None:
        if known:
            return default_printing(known)
        return "holofoil" if holo_rarity else "normal"
    if printing == "holofoil" and "holofoil" not in known and "unlimitedHolofoil" in known:
        return "unlimitedHolofoil"
    return printing


def _snapshot(values: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, date):
            return value.isoformat()
        return value

    return {name: plain(values.get(name)) for name in SNAPSHOT_FIELDS}


def import_cards_csv(
    session: Session,
    owner_id: int,
    data: bytes | str | Path,
    *,
    choices: Mapping[int, str | None] | None = None,
    dry_run: bool = False,
    currency: str = "USD",
    max_rows: int = DEFAULT_MAX_ROWS,
    progress: Callable[[int], None] | None = None,
) -> CardImportReport:
    """Preview (`dry_run`) or import an export into the owner's cards.

    `choices` maps a row number to the card id the user picked for an ambiguous (or unmatched) row, or to
    None/"" to skip it; `progress` is told the rows read so far after each batch. The caller owns the
    transaction: commit it to keep the import, roll back to drop it (an InvalidInput raised half-way, such as the
    row limit, leaves the caller nothing to commit).

    Bounded in memory and fast: the file is read as a stream, rows are matched from the in-memory catalogue
    index and planned and written BATCH_ROWS at a time (new entries by one executemany INSERT per batch).
    """
    matcher = CardMatcher(session)
    choices = dict(choices or {})
    with cards_csv_rows(data, currency=currency, max_rows=max_rows) as (kind, rows):
        report = CardImportReport(kind)
        planner = _Planner(session, owner_id, kind, report, matcher, dry_run=dry_run)
        read = 0
        for batch in _batched(rows, BATCH_ROWS):
            planner.apply([_outcome(matcher, row, choices) for row in batch])
            read += len(batch)
            if progress is not None:
                progress(read)
        planner.finish()
    return report


def _batched(rows: Iterator[CardCsvRow], size: int) -> Iterator[list[CardCsvRow]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


def _outcome(matcher: CardMatcher, row: CardCsvRow, choices: Mapping[int, str | None]) -> RowOutcome:
    if row.error:
        return RowOutcome(row, MatchStatus.INVALID, reason=row.error)
    if row.skip_reason:
        return RowOutcome(row, MatchStatus.SKIPPED, reason=row.skip_reason)
    outcome = matcher.match(row)
    if row.row in choices and outcome.status != MatchStatus.MATCHED:
        chosen = choices[row.row]
        if not chosen:
            return RowOutcome(row, MatchStatus.SKIPPED, candidates=outcome.candidates, reason="skipped by you")
        if chosen in matcher.by_id:
            return RowOutcome(row, MatchStatus.MATCHED, chosen, candidates=outcome.candidates, reason="chosen by you")
        outcome.reason = f"{chosen!r} is not a catalogue card"
    return outcome


class _Planner:
    """Decides create / update / unchanged per matched row and writes each batch (unless a dry run).

    What it holds across batches is bounded by the catalogue (printings per card) and by the number of row
    keys (to number repeated lines of one export); the owner's existing entries are looked up per batch."""

    def __init__(self, session: Session, owner_id: int, kind: str, report: CardImportReport, matcher: CardMatcher,
                 *, dry_run: bool) -> None:  # fmt: skip
        self.session, self.owner_id, self.kind, self.report = session, owner_id, kind, report
        self.matcher, self.dry_run = matcher, dry_run
        self.printings: dict[str, tuple[str, ...]] = {}
        self.seen: dict[str, int] = {}
        self.updates: list[tuple[int, dict[str, Any], dict[str, Any], RowOutcome]] = []  # this batch's, then cleared

    def apply(self, outcomes: list[RowOutcome]) -> None:
        report = self.report
        matched: list[RowOutcome] = []
        for outcome in outcomes:
            report.keep(outcome)
            if outcome.status == MatchStatus.SKIPPED:
                report.skipped += 1
            elif outcome.status != MatchStatus.MATCHED or outcome.card_id is None:
                candidates = f" (candidates: {', '.join(outcome.candidates)})" if outcome.candidates else ""
                report.error(outcome.row.row, f"{outcome.status}: {outcome.reason}{candidates}")
            else:
                matched.append(outcome)
        if not matched:
            return
        missing = sorted({o.card_id for o in matched if o.card_id is not None and o.card_id not in self.printings})
        found = known_printings(self.session, missing)
        self.printings.update((card_id, found.get(card_id, ())) for card_id in missing)
        planned = [self._plan(outcome) for outcome in matched]
        existing = self._existing([key for key, _ in planned])
        creates: list[dict[str, Any]] = []
        estimates: list[tuple[str, Decimal, str | None]] = []
        for key, outcome in planned:
            self._decide(key, outcome, existing.get(key), creates, estimates)
        if self.dry_run:
            return
        new_ids: dict[str, int] = {}
        if creates:  # Core executemany (the ORM's bulk path costs more than the rest of the import)
            items = table_of(Item)
            estimated = {key for key, _value, _currency in estimates}
            if estimated.isdisjoint(row["origin_row_id"] for row in creates):
                self.session.execute(items.insert(), creates)
            else:  # the new entries' ids are needed for their estimates
                inserted = self.session.execute(items.insert().returning(items.c.origin_row_id, items.c.id), creates)
                new_ids = {key: item_id for key, item_id in inserted if key is not None}
        withdrawn = self._update()
        record_observations(
            self.session,
            [_estimate(new_ids[key] if key in new_ids else existing[key][0], value, currency)
             for key, value, currency in estimates],
        )  # fmt: skip
        for item_id in withdrawn:  # the file cleared its Price Override: the catalogue prices count again
            set_own_estimate(self.session, item_id, None, "USD")

    def _update(self) -> list[int]:
        """Merge this batch's changed entries (loaded in one query per IN chunk, let go once written); the
        ids whose own estimate the file cleared."""
        withdrawn: list[int] = []
        for chunk in in_chunks(self.updates, 500):
            items = {item.id: item for item in self.session.scalars(
                select(Item).where(Item.owner_id == self.owner_id, Item.id.in_([u[0] for u in chunk])))}  # fmt: skip
            for item_id, values, snapshot, outcome in chunk:
                item = items[item_id]
                item.details = {**(item.details or {}), "source": outcome.row.source}
                changed = merge_keeping_edits(item, values, snapshot, dry_run=False, kept_elsewhere=_ESTIMATE)
                if "estimate" in changed and outcome.row.estimate is None:
                    withdrawn.append(item_id)
            self.session.flush()
            for item in items.values():  # keep the identity map (and memory) flat across batches
                self.session.expunge(item)
        self.updates.clear()
        return withdrawn

    def _plan(self, outcome: RowOutcome) -> tuple[str, RowOutcome]:
        row, card = outcome.row, self.matcher.by_id[outcome.card_id]  # type: ignore[index]
        outcome.printing = _resolve_printing(row.printing, card.rarity, self.printings.get(card.id, ()))
        base_key = row.key if row.key.startswith("sku|") else _row_key(
            row.key, card.id, row.condition, outcome.printing, row.language
        )  # fmt: skip
        self.seen[base_key] = self.seen.get(base_key, 0) + 1
        return (base_key if self.seen[base_key] == 1 else _row_key(base_key, f"#{self.seen[base_key]}")), outcome

    def _existing(self, keys: list[str]) -> dict[str, tuple[int, dict[str, Any]]]:
        found: dict[str, tuple[int, dict[str, Any]]] = {}
        for start in range(0, len(keys), 500):
            rows = self.session.execute(
                select(Item.origin_row_id, Item.id, Item.details).where(
                    Item.owner_id == self.owner_id,
                    Item.origin_source == self.kind,
                    Item.origin_row_id.in_(keys[start : start + 500]),
                )
            )
            found.update((key, (item_id, details or {})) for key, item_id, details in rows)
        return found

    def _decide(self, key: str, outcome: RowOutcome, existing: tuple[int, dict[str, Any]] | None,
                creates: list[dict[str, Any]], estimates: list[tuple[str, Decimal, str | None]]) -> None:  # fmt: skip
        row, card = outcome.row, self.matcher.by_id[outcome.card_id]  # type: ignore[index]
        values = {
            "quantity": row.quantity, "grade": row.condition, "grade_code": row.condition,
            "printing": outcome.printing, "language": row.language, "status": row.status,
            "acquired_price": row.acquired_price, "acquired_currency": row.acquired_currency,
            "acquired_date": row.acquired_date, "notes": row.notes, "estimate": row.estimate,
        }  # fmt: skip
        snapshot = _snapshot(values)
        if existing is None:
            outcome.action = "create"
            self.report.created += 1
            fields = {name: value for name, value in values.items() if name != "estimate"}
            creates.append(fields | {
                "owner_id": self.owner_id, "kind": "card", "title": f"{card.name} ({card.set_name} {card.number})",
                "pokemontcg_card_id": card.id, "origin_source": self.kind, "origin_row_id": key, "version": 1,
                "details": {"source": row.source, SNAPSHOT_KEY: snapshot},
            })  # fmt: skip
            if row.estimate is not None:
                estimates.append((key, row.estimate, row.estimate_currency))
            return
        item_id, details = existing
        changed = changed_fields(details.get(SNAPSHOT_KEY, {}), snapshot)
        if not changed:
            outcome.action = "unchanged"
            self.report.unchanged += 1
            return
        outcome.action = "update"
        self.report.updated += 1
        if self.dry_run:
            return
        self.updates.append((item_id, values, snapshot, outcome))
        if "estimate" in changed and row.estimate is not None:
            estimates.append((key, row.estimate, row.estimate_currency))

    def finish(self) -> None:
        if not self.dry_run:
            self.session.flush()


_ESTIMATE = frozenset({"estimate"})  # a price observation, not an item column (see _estimate)


def describe_cards(session: Session, card_ids: Iterable[str]) -> dict[str, str]:
    """"Nest Ball · Scarlet & Violet 181 (Uncommon)" per card id: how the preview names the candidates."""
    ids = sorted(set(card_ids))
    labels: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(PokemonCard.id, PokemonCard.name, PokemonSet.name, PokemonCard.number, PokemonCard.rarity)
            .join(PokemonSet, PokemonSet.id == PokemonCard.set_id)
            .where(PokemonCard.id.in_(ids[start : start + 500]))
        )
        for card_id, name, set_name, number, rarity in rows:
            labels[card_id] = f"{name} · {set_name} {number} ({rarity or 'no rarity'})"
    return labels


def _estimate(item_id: int, value: Decimal, currency: str | None) -> Observation:
    """Collectr's "Price Override" is the user's own value: it beats every catalogue price."""
    return Observation("item", str(item_id), "manual", "", "estimate", currency or "USD", value)
