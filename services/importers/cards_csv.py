"""TCGplayer app and Collectr CSV exports → the user's cards: parse → match → preview → commit at once.

Why a preview with three outcomes: the exports name cards by *their* set names ("SV01: Scarlet & Violet Base
Set", "Base Set") and numbers ("004/102"), not by pokemontcg.io ids. A row is **matched** when set, number and
name agree with exactly one catalogue card, **ambiguous** when several cards fit (the user picks one, or the
row is reported), **unmatched** when none does. Nothing is written until the user commits, and the commit is
one transaction (the caller's session): all rows or none.

Re-importing a newer export of the same app updates the entries it created (matched by a row key built from
the export's own identity: TCGplayer SKU, or card + condition + printing + language [+ Collectr portfolio])
instead of duplicating them. Like the OpenNumismat importer, each entry keeps the values it was last
imported with (`details["_imported"]`) and a field is only overwritten when the file changed it since, so the
user's own edits to other fields survive.

Columns (peers.md §4d), matched by header name (case and spacing ignored, "Market Price (As of …)" by prefix):
TCGplayer: Quantity, Name, Simple Name, Set, Card Number, Set Code, External ID, Printing, Condition,
Language, Rarity, Product ID, SKU, Price, Price Each. Collectr: Portfolio Name, Category, Set, Product Name,
Card Number, Rarity, Variance, Grade, Card Condition, Average Cost Paid, Quantity, Market Price, Price Override,
Watchlist, Date Added, Notes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.card_printings import default_printing, known_printings
from services.collection import add_item
from services.errors import InvalidInput
from services.pricing import Observation, record_observations
from services.store.models import Item, PokemonCard, PokemonSet
from services.text import natural_sort_key, normalize

FORMATS = ("tcgplayer", "collectr")
SNAPSHOT_KEY = "_imported"
SNAPSHOT_FIELDS = ("quantity", "grade", "grade_code", "printing", "language", "status", "acquired_price",
                   "acquired_currency", "acquired_date", "notes", "estimate")  # fmt: skip
MATCH_STATUSES = ("matched", "ambiguous", "unmatched", "skipped", "invalid")
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
SET_STOPWORDS = {"set", "base", "cards", "card", "pokemon", "the", "and", "of", "tcg"}
_SET_CODE_PREFIX = re.compile(r"^\s*[A-Za-z]{1,5}\d{0,3}[a-z]?\s*:\s*")
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
    status: str = "owned"
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
    status: str  # matched | ambiguous | unmatched | skipped | invalid
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
    """The import JSON document (DESIGN.md) plus the per-row preview."""

    format: str
    rows: list[RowOutcome] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.rows if outcome.status == status)

    def to_json(self) -> dict[str, Any]:
        return {
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged, "skipped": self.skipped,
            "errors": self.errors, "format": self.format,
            "matching": {status: self.count(status) for status in MATCH_STATUSES},
        }  # fmt: skip


# ------------------------------------------------------------------------------------------- parsing
def _decode(data: bytes | str | Path) -> str:
    if isinstance(data, Path):
        data = data.read_bytes()
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


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
    """'$1,234.50' → (1234.50, 'USD'); '12,50 €' → (12.50, 'EUR'); '' → (None, default)."""
    raw = (text or "").strip()
    currency = next((code for sign, code in CURRENCY_SIGNS.items() if sign in raw), default_currency)
    digits = re.sub(r"[^\d,.\-]", "", raw)
    if not digits or digits in "-.,":
        return None, currency
    if "," in digits and "." in digits:
        digits = digits.replace(",", "") if digits.rfind(".") > digits.rfind(",") else digits.replace(".", "")
        digits = digits.replace(",", ".")
    elif "," in digits:
        head, _, tail = digits.rpartition(",")
        digits = f"{head.replace(',', '')}.{tail}" if len(tail) != 3 else digits.replace(",", "")
    try:
        value = Decimal(digits)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None
    if value < 0:
        raise ValueError(f"{text!r} is negative")
    return value.quantize(Decimal("0.01")), currency


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


def _condition_and_printing(condition: str, printing: str) -> tuple[str, str | None]:
    """TCGplayer folds the finish into the condition ("Near Mint Foil"); split them, then map both."""
    words = normalize(condition)
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
    mapped = PRINTINGS.get(normalize(printing))
    if rest:
        from_condition = PRINTINGS.get(rest)
        if from_condition is None:
            raise ValueError(f"unknown condition {condition!r}")
        if mapped in (None, "normal"):
            mapped = from_condition
    return code, mapped


def _language(text: str) -> str:
    words = normalize(text)
    if not words:
        return "en"
    return LANGUAGES.get(words, words[:20])


def _quantity(text: str) -> int:
    raw = (text or "").strip()
    if not raw:
        return 1
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"quantity {text!r} is not a number") from None
    if value != value.to_integral_value():
        raise ValueError(f"quantity {text!r} is not a whole number")
    return int(value)


def _row_key(*parts: str) -> str:
    key = "|".join(parts)
    return key if len(key) <= 70 else "h:" + hashlib.sha1(key.encode()).hexdigest()[:40]


def read_cards_csv(data: bytes | str | Path, *, currency: str = "USD") -> tuple[str, list[CardCsvRow]]:
    """(format, rows) of a TCGplayer or Collectr export. Bad rows carry `error`, rows not to import
    `skip_reason`; a file that is neither format raises InvalidInput."""
    text = _decode(data)
    if not text.strip():
        raise InvalidInput("The file is empty.", code="EMPTY_FILE")
    first_line = text.splitlines()[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers = next(reader)
    kind = detect_format(headers)
    columns = _columns(headers, TCGPLAYER_COLUMNS if kind == "tcgplayer" else COLLECTR_COLUMNS)
    rows: list[CardCsvRow] = []
    for offset, values in enumerate(reader):
        if not any(v.strip() for v in values):
            continue
        source = {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(headers) if h}
        rows.append(_parse_row(kind, offset + 2, source, columns, currency))
    return kind, rows


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
    category = normalize(get("category"))
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
            if normalize(get("watchlist")) in ("true", "yes", "1", "y", "x"):
                row.status = "wish"
            grade = get("grade")
            row.key = _row_key("portfolio", get("portfolio"), normalize(grade) or "ungraded")
    except ValueError as error:
        row.error = str(error)
        return row
    if not row.name:
        row.error = "no card name"
    elif row.quantity <= 0:
        if row.status == "wish":
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
    words = normalize(_SET_CODE_PREFIX.sub("", name))
    for suffix in (" base set", " set"):
        if words.endswith(suffix) and len(words) > len(suffix):
            words = words[: -len(suffix)]
    return words


def _name_keys(name: str) -> tuple[str, str]:
    """(full, without variant decoration such as "(Showcase)" or "- 4/102") normalized names."""
    return normalize(name), normalize(_VARIANT_SUFFIX.sub("", name))


class CardMatcher:
    """Matches export rows to catalogue cards; loads what it needs from the database lazily."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.sets = list(session.execute(select(PokemonSet.id, PokemonSet.name, PokemonSet.ptcgo_code)))
        self._by_set: dict[str, list[_Card]] = {}
        self._all: list[_Card] | None = None
        self._set_cache: dict[tuple[str, str], list[str]] = {}

    def card_ids(self) -> set[str]:
        return {card.id for card in self._cards(None)}

    def _cards(self, set_ids: Iterable[str] | None = None) -> list[_Card]:
        if set_ids is None:
            if self._all is None:
                self._all = self._load(None)
            return self._all
        cards: list[_Card] = []
        for set_id in set_ids:
            if set_id not in self._by_set:
                self._by_set[set_id] = self._load(set_id)
            cards.extend(self._by_set[set_id])
        return cards

    def _load(self, set_id: str | None) -> list[_Card]:
        query = select(
            PokemonCard.id, PokemonCard.name, PokemonCard.number, PokemonCard.set_id, PokemonSet.name,
            PokemonCard.rarity,
        ).join(PokemonSet, PokemonSet.id == PokemonCard.set_id)  # fmt: skip
        if set_id is not None:
            query = query.where(PokemonCard.set_id == set_id)
        return [
            _Card(card_id, name, normalize(name), natural_sort_key(number), sid, set_name, number, rarity)
            for card_id, name, number, sid, set_name, rarity in self.session.execute(query)
        ]

    def candidate_sets(self, set_name: str, set_code: str) -> list[str]:
        cache_key = (set_name, set_code)
        if cache_key in self._set_cache:
            return self._set_cache[cache_key]
        wanted, stripped = normalize(set_name), _strip_set(set_name)
        code = set_code.strip().casefold()
        scored: list[tuple[float, str]] = []
        for set_id, name, ptcgo in self.sets:
            ours = normalize(name)
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
        row_keys = _name_keys(row.name)
        number_key = natural_sort_key(row.number) if row.number else None
        sets = self.candidate_sets(row.set_name, row.set_code)
        if sets:
            cards = self._cards(sets)
            set_label = row.set_name or row.set_code
            if number_key is not None:
                numbered = [c for c in cards if c.number_key == number_key]
                fitting = self._by_name(numbered, row_keys)
                if len(fitting) == 1:
                    return RowOutcome(row, "matched", fitting[0].id)
                if len(fitting) > 1:
                    return RowOutcome(row, "ambiguous", candidates=[c.id for c in fitting],
                                      reason=f"{len(fitting)} cards numbered {row.number} in {set_label}")  # fmt: skip
                named = self._by_name(cards, row_keys)
                options = [c.id for c in [*numbered, *named]][:10]
                if options:
                    return RowOutcome(row, "ambiguous", candidates=list(dict.fromkeys(options)),
                                      reason=f"number {row.number} and name {row.name!r} disagree in {set_label}")
                return RowOutcome(row, "unmatched", reason=f"no card {row.name!r} numbered {row.number} in {set_label}")
            named = self._by_name(cards, row_keys)
            if len(named) == 1:
                return RowOutcome(row, "matched", named[0].id)
            if named:
                return RowOutcome(row, "ambiguous", candidates=[c.id for c in named][:10],
                                  reason=f"{len(named)} cards named {row.name!r} in {set_label}; no number given")
            return RowOutcome(row, "unmatched", reason=f"no card named {row.name!r} in {set_label}")
        return self._match_without_set(row, row_keys, number_key)

    def _match_without_set(self, row: CardCsvRow, row_keys: tuple[str, str], number_key: str | None) -> RowOutcome:
        """The set name is not one we know: fall back to name + number over the whole catalogue."""
        cards = self._cards(None)
        if number_key is not None:
            cards = [c for c in cards if c.number_key == number_key]
        fitting = [c for c in cards if c.name_key in row_keys]
        if not fitting:
            return RowOutcome(row, "unmatched", reason=f"unknown set {row.set_name!r} and no card "
                              f"{row.name!r}{f' numbered {row.number}' if row.number else ''}")  # fmt: skip
        significant = set(normalize(row.set_name).split()) - SET_STOPWORDS
        close = [c for c in fitting if significant & (set(normalize(c.set_name).split()) - SET_STOPWORDS)]
        if len(close) == 1 and number_key is not None:
            return RowOutcome(row, "matched", close[0].id, reason=f"set {row.set_name!r} read as {close[0].set_name}")
        return RowOutcome(row, "ambiguous", candidates=[c.id for c in (close or fitting)][:10],
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
) -> CardImportReport:
    """Preview (`dry_run`) or import an export into the owner's cards.

    `choices` maps a row number to the card id the user picked for an ambiguous (or unmatched) row, or to
    None/"" to skip it. The caller owns the transaction: commit it to keep the import, roll back to drop it.
    """
    kind, rows = read_cards_csv(data, currency=currency)
    report = CardImportReport(kind)
    matcher = CardMatcher(session)
    choices = dict(choices or {})
    known_ids = matcher.card_ids() if choices else set()
    for row in rows:
        if row.error:
            report.rows.append(RowOutcome(row, "invalid", reason=row.error))
            continue
        if row.skip_reason:
            report.rows.append(RowOutcome(row, "skipped", reason=row.skip_reason))
            continue
        outcome = matcher.match(row)
        if row.row in choices and outcome.status != "matched":
            chosen = choices[row.row]
            if not chosen:
                outcome = RowOutcome(row, "skipped", candidates=outcome.candidates, reason="skipped by you")
            elif chosen in known_ids:
                outcome = RowOutcome(row, "matched", chosen, candidates=outcome.candidates, reason="chosen by you")
            else:
                outcome.reason = f"{chosen!r} is not a catalogue card"
        report.rows.append(outcome)
    _plan_and_apply(session, owner_id, kind, report, dry_run=dry_run)
    return report


def _plan_and_apply(session: Session, owner_id: int, kind: str, report: CardImportReport, *, dry_run: bool) -> None:
    matched = [o for o in report.rows if o.status == "matched"]
    card_ids = sorted({o.card_id for o in matched if o.card_id})
    printings = known_printings(session, card_ids)
    cards: dict[str, PokemonCard] = {}
    for start in range(0, len(card_ids), 500):
        chunk = card_ids[start : start + 500]
        cards.update((card.id, card) for card in session.scalars(select(PokemonCard).where(PokemonCard.id.in_(chunk))))
    existing = {
        item.origin_row_id: item
        for item in session.scalars(select(Item).where(Item.owner_id == owner_id, Item.origin_source == kind))
    }
    seen: dict[str, int] = {}
    estimates: list[Observation] = []
    for outcome in report.rows:
        if outcome.status in ("skipped",):
            report.skipped += 1
            continue
        if outcome.status != "matched" or outcome.card_id is None:
            candidates = f" (candidates: {', '.join(outcome.candidates)})" if outcome.candidates else ""
            report.errors.append({"row": outcome.row.row, "reason": f"{outcome.status}: {outcome.reason}{candidates}"})
            continue
        row, card = outcome.row, cards[outcome.card_id]
        outcome.printing = _resolve_printing(row.printing, card.rarity, printings.get(card.id, ()))
        base_key = row.key if row.key.startswith("sku|") else _row_key(
            row.key, card.id, row.condition, outcome.printing, row.language
        )  # fmt: skip
        seen[base_key] = seen.get(base_key, 0) + 1
        key = base_key if seen[base_key] == 1 else _row_key(base_key, f"#{seen[base_key]}")
        values = {
            "quantity": row.quantity, "grade": row.condition, "grade_code": row.condition,
            "printing": outcome.printing, "language": row.language, "status": row.status,
            "acquired_price": row.acquired_price, "acquired_currency": row.acquired_currency,
            "acquired_date": row.acquired_date, "notes": row.notes, "estimate": row.estimate,
        }  # fmt: skip
        snapshot = _snapshot(values)
        item = existing.get(key)
        if item is None:
            outcome.action = "create"
            report.created += 1
            if dry_run:
                continue
            fields = {name: value for name, value in values.items() if name != "estimate"}
            item = add_item(
                session, owner_id, kind="card", title=f"{card.name} ({card.set.name} {card.number})",
                pokemontcg_card_id=card.id, origin_source=kind, origin_row_id=key,
                details={"source": row.source, SNAPSHOT_KEY: snapshot}, **fields,
            )  # fmt: skip
            if row.estimate is not None:
                estimates.append(_estimate(item.id, row.estimate, row.estimate_currency))
            existing[key] = item
            continue
        previous = (item.details or {}).get(SNAPSHOT_KEY, {})
        changed = [name for name, value in snapshot.items() if previous.get(name) != value]
        if not changed:
            outcome.action = "unchanged"
            report.unchanged += 1
            continue
        outcome.action = "update"
        report.updated += 1
        if dry_run:
            continue
        for name in changed:
            if name == "estimate":
                if row.estimate is not None:
                    estimates.append(_estimate(item.id, row.estimate, row.estimate_currency))
            else:
                setattr(item, name, values[name])
        item.details = {**(item.details or {}), "source": row.source, SNAPSHOT_KEY: snapshot}
    if not dry_run:
        record_observations(session, estimates)
        session.flush()


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
