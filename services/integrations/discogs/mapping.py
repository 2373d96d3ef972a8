"""Discogs releases and collection instances ⇄ our record items, and our records → Discogs payloads.

One home for: how a record's title is built, where each Discogs field lands on an item and which exact
condition strings a push sends. The marker that tells our listings from the member's own (and from another
installation's) is built by services.sync.markers, the rule Numista's pushes follow too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.integrations.discogs.conditions import media_condition, sleeve_condition
from services.states import ItemKind, ItemStatus, ListingStatus
from services.validation import check_id, check_texts, check_year

_ARTIST_NUMBER = re.compile(r"\s\(\d+\)$")  # Discogs disambiguates namesakes as "Name (2)"


def artist_names(artists: list[Mapping[str, Any]] | None) -> str:
    """ "A & B" as Discogs credits them (the ``anv`` display name first, join words kept)."""
    text = ""
    for index, artist in enumerate(artists or []):
        name = _ARTIST_NUMBER.sub("", str(artist.get("anv") or artist.get("name") or "")).strip()
        text += name
        join = str(artist.get("join") or "").strip()
        if index < len(artists or []) - 1:
            text += f" {join} " if join and join != "," else ", "
    return text.strip() or "Various"


def record_title(artist: str, title: str) -> str:
    return f"{artist} – {title}"[:400] if artist else title[:400]


def release_summary(info: Mapping[str, Any]) -> dict[str, Any]:
    """The catalogue facts of a release (``basic_information`` or a full release) as we store them.

    Discogs' answer is checked like any input (services/validation.py): an id that does not fit our column
    or a year out of range raises OutOfRange rather than reaching the database."""
    labels = [{"name": str(lab.get("name") or ""), "catno": str(lab.get("catno") or "")}
              for lab in info.get("labels") or []]  # fmt: skip
    formats = [
        {"name": str(f.get("name") or ""), "qty": str(f.get("qty") or "1"),
         "descriptions": [str(d) for d in f.get("descriptions") or []]}
        for f in info.get("formats") or []
    ]  # fmt: skip
    return {
        "release_id": check_id(info["id"], name="release id"), "title": str(info.get("title") or ""),
        "artist": artist_names(info.get("artists")),
        "year": discogs_year(info.get("year")),
        "labels": labels, "formats": formats, "country": info.get("country") or None,
        "genres": list(info.get("genres") or []), "styles": list(info.get("styles") or []),
        "thumb": info.get("thumb") or info.get("cover_image") or None,
        "barcodes": [str(i.get("value")) for i in info.get("identifiers") or [] if i.get("type") == "Barcode"],
    }  # fmt: skip


def discogs_year(value: object) -> int | None:
    """The year of a Discogs year or date: the API's 1977, the CSV export's "Released" "1977-05-00"; 0 or
    empty is unknown. One rule for both imports; a year out of range raises OutOfRange (a refused row)."""
    head = str(value or "").strip().split("-")[0]
    return check_year(int(head)) if head.isascii() and head.isdigit() and int(head) else None


def format_text(formats: list[Mapping[str, Any]]) -> str:
    return "; ".join(", ".join([f["name"], *f.get("descriptions", [])]) for f in formats)[:400]


@dataclass(frozen=True)
class CollectionFieldValues:
    """A copy's Media, Sleeve and Notes (by field name; ids are per user) and any other custom fields."""

    media: str | None = None
    sleeve: str | None = None
    notes: str | None = None
    other: tuple[tuple[str, str], ...] = ()


def instance_field_values(instance: Mapping[str, Any], fields: Mapping[int, str]) -> CollectionFieldValues:
    """Read an instance's ``notes`` array ([{field_id, value}]) with the member's field names."""
    named: dict[str, str] = {}
    for entry in instance.get("notes") or []:
        name = fields.get(int(entry.get("field_id") or 0))
        if name is not None and entry.get("value") not in (None, ""):
            named[name] = str(entry["value"])
    return CollectionFieldValues(
        media=named.pop("Media", None), sleeve=named.pop("Sleeve", None), notes=named.pop("Notes", None),
        other=tuple(sorted(named.items())),
    )  # fmt: skip


def record_fields(summary: Mapping[str, Any], *, media: str | None, sleeve: str | None, notes: str | None,
                  extra: Mapping[str, Any]) -> dict[str, Any]:  # fmt: skip
    """Our item's columns for one copy of a release; everything else Discogs said goes to ``details``. A text
    longer than its column (a free-text media condition, a label name) raises OutOfRange: the row is refused."""
    media_exact = media_condition(media)
    details = {
        "artist": summary["artist"], "release_title": summary["title"],
        "labels": summary["labels"], "formats": summary["formats"], "genres": summary["genres"],
        "styles": summary["styles"], "thumb": summary["thumb"],
        "media_condition": media_exact or media, "sleeve_condition": sleeve_condition(sleeve) or sleeve,
        **extra,
    }  # fmt: skip
    return check_texts({
        "title": record_title(summary["artist"], summary["title"]),
        "quantity": 1,
        "grade": media_exact or media,
        "grade_code": media_exact,
        "status": ItemStatus.OWNED,
        "country": summary.get("country"),
        "year": summary.get("year"),
        "series": (summary["labels"][0]["name"] if summary["labels"] else None),
        "notes": notes,
        "discogs_release_id": summary["release_id"],
        "details": {k: v for k, v in details.items() if v not in (None, "", [], {})},
    })


# ------------------------------------------------------------------------------------------ pushing
@dataclass(frozen=True)
class RecordPayload:
    """What a push sends for one record; ``problem`` says why it cannot be sent."""

    release_id: int | None
    media: str | None
    sleeve: str | None
    notes: str | None
    location: str | None
    problem: str | None = None


def record_payload(item: Any) -> RecordPayload:
    """The Discogs view of one of our records (an ORM Item or a row with the same columns)."""
    details = dict(item.details or {})
    media = media_condition(item.grade_code) or media_condition(item.grade)
    sleeve = sleeve_condition(details.get("sleeve_condition"))
    problem = None if item.discogs_release_id else "no Discogs release id: link it first (catalog search discogs)"
    return RecordPayload(item.discogs_release_id, media, sleeve, (item.notes or "").strip() or None,
                         item.storage_location, problem)  # fmt: skip


def export_problem(item: Any) -> str | None:
    """Why one of our items cannot go to Discogs (None: it can): only records with a release id."""
    if item.kind != ItemKind.RECORD:
        return f"a {item.kind} is not a record; Discogs holds records"
    return record_payload(item).problem


def listing_body(marker: str, payload: RecordPayload, price: float, *, status: str = ListingStatus.DRAFT,
                 comments: str | None = None) -> dict[str, Any]:  # fmt: skip
    """POST /marketplace/listings body: exact condition strings, Draft unless asked, and `marker` (the item's
    ``services.sync.markers.marker_for``) as the listing's private ``external_id``."""
    body: dict[str, Any] = {"release_id": payload.release_id, "condition": payload.media, "price": round(price, 2),
                            "status": status, "external_id": marker}  # fmt: skip
    if payload.sleeve:
        body["sleeve_condition"] = payload.sleeve
    if comments or payload.notes:
        body["comments"] = (comments or payload.notes or "")[:255]
    if payload.location:
        body["location"] = payload.location
    return body
