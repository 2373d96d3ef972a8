"""Which fields of an item a member edits, per kind, and where each one lives.

Most are item columns. A few facts the Collection table shows have no column of their own and live in the
item's ``details`` (where the importers keep what a file said): a coin's face value, unit, mint and mint mark
(OpenNumismat's names), a record's artist, format and sleeve condition (Discogs'). This module is the one map
from an edit field to its home, so the editor, the table and ``update_item`` agree on what a field holds; the
table's record facts (with the cached Discogs release as the fallback) are read here for the same reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from services import labels
from services.errors import InvalidInput
from services.integrations.discogs.conditions import SLEEVE_CONDITIONS, media_condition, sleeve_condition
from services.integrations.discogs.mapping import format_text
from services.states import CARD_CONDITIONS, ItemKind
from services.store.models import DiscogsRelease, Item
from services.validation import check_face_value, check_text

EDITABLE_COLUMNS = frozenset({
    "title", "quantity", "grade", "grade_code", "printing", "language", "status", "notes", "tags",
    "acquired_date", "acquired_price", "acquired_currency", "acquired_place", "storage_location",
    "country", "year", "series", "numista_type_id", "numista_issue_id", "discogs_release_id",
})  # fmt: skip
# edit field -> its key in ``details`` (the importers' own names, so a re-import and an edit meet).
DETAIL_KEYS = {
    "face_value": "value", "face_unit": "unit", "mint": "mint", "mintmark": "mintmark",
    "artist": "artist", "format": "format", "sleeve": "sleeve_condition",
}  # fmt: skip
FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {
    ItemKind.COIN: ("country", "year", "face_value", "face_unit", "series", "mint", "mintmark", "grade", "grade_code",
                    "numista_type_id", "numista_issue_id"),
    ItemKind.CARD: ("grade", "printing", "language"),
    # a record's series is its label (as Discogs imports store it and the Sets page groups by it)
    ItemKind.RECORD: ("artist", "series", "format", "year", "country", "grade", "sleeve", "discogs_release_id"),
}  # fmt: skip
COMMON_FIELDS = (
    "title", "quantity", "status", "storage_location", "tags", "notes", "acquired_date", "acquired_price",
    "acquired_currency", "acquired_place",
)  # fmt: skip
_DETAIL_LIMIT = 200  # characters of a free-text detail, as the columns beside it


def edit_fields_for(kind: str) -> tuple[str, ...]:
    """Every editable field of an item of this kind, in form order."""
    return (*COMMON_FIELDS[:3], *FIELDS_BY_KIND.get(kind, ()), *COMMON_FIELDS[3:])


def detail_text(item: Item, *keys: str) -> str:
    """The first of these ``details`` entries that is set, as text ('' if none)."""
    details = item.details or {}
    return next((labels.text(details[key]) for key in keys if not labels.is_blank(details.get(key))), "")


def record_facts(item: Item, release: DiscogsRelease | None) -> dict[str, str]:
    """A record's artist, label, format, media and sleeve as shown: the member's own value first, then what the
    import kept, then the cached release."""
    details = item.details or {}
    data = (release.data if release is not None else None) or {}
    listed = details.get("labels") or data.get("labels")
    names = [str(entry["name"]) for entry in listed or [] if isinstance(entry, dict) and entry.get("name")]
    imported_formats = details.get("formats")
    formats = format_text(imported_formats) if isinstance(imported_formats, list) else labels.text(imported_formats)
    return {
        "artist": detail_text(item, "artist") or (release.artist or "" if release is not None else ""),
        "label": item.series or (names[0] if names else ""),
        "format": detail_text(item, "format") or formats or (release.formats or "" if release is not None else ""),
        "media": item.grade or detail_text(item, "media_condition"),
        "sleeve": detail_text(item, "sleeve_condition"),
    }


def edit_values(session: Session, item: Item) -> dict[str, Any]:
    """The current value of every edit field of the item, as the form starts from (what the table shows)."""
    values: dict[str, Any] = {}
    facts: dict[str, str] = {}
    if item.kind == ItemKind.RECORD:
        release = session.get(DiscogsRelease, item.discogs_release_id) if item.discogs_release_id else None
        facts = record_facts(item, release)
    for name in edit_fields_for(item.kind):
        if name in DETAIL_KEYS:
            values[name] = facts.get(name) or detail_text(item, DETAIL_KEYS[name]) or None
        elif name == "series" and item.kind == ItemKind.RECORD:
            values[name] = facts["label"] or None
        else:
            values[name] = getattr(item, name)
    return values


def check_details(kind: str, changes: Mapping[str, Any]) -> dict[str, str | None]:
    """The ``details`` entries an edit of these detail fields sets (None removes one), checked; a field of
    another kind (an artist on a coin) is refused."""
    foreign = sorted(name for name in changes if name not in FIELDS_BY_KIND.get(kind, ()))
    if foreign:
        raise InvalidInput(f"A {kind} has no {', '.join(foreign)}.", code="INVALID_FIELD")
    checked: dict[str, str | None] = {}
    for name, value in changes.items():
        label = name.replace("_", " ")
        if name == "face_value":
            checked[DETAIL_KEYS[name]] = check_face_value(value, name=label)
        elif name == "sleeve":
            exact = sleeve_condition(value)
            if value and exact is None:
                raise InvalidInput(f"The sleeve condition must be one of: {', '.join(SLEEVE_CONDITIONS)}.",
                                   code="INVALID_CONDITION")  # fmt: skip
            checked[DETAIL_KEYS[name]] = exact
        else:
            text = check_text(value, name=label, limit=_DETAIL_LIMIT)
            checked[DETAIL_KEYS[name]] = (text or "").strip() or None
    return checked


def with_details(item: Item, entries: Mapping[str, str | None]) -> dict[str, Any]:
    """The item's ``details`` with these entries set or (None) removed: a new dict, so the change is saved."""
    details = dict(item.details or {})
    for key, value in entries.items():
        if value is None:
            details.pop(key, None)
        else:
            details[key] = value
    return details


def pricing_grade(kind: str, grade: str | None) -> str | None:
    """The grade a card's or a record's prices are looked up by, following its condition as edited: a card's
    condition is its TCGplayer grade; a record's media condition the exact Discogs one (None if unknown)."""
    if kind == ItemKind.CARD:
        return grade if grade in CARD_CONDITIONS else None
    return media_condition(grade)
