"""Discogs catalogue facts in our database: the release cache, database search for linking records, and
valuation from price suggestions (stored as dated observations).

Why cached: a release's facts rarely change and the API allows 60 requests a minute; a second look at a
release costs nothing for a week. Price suggestions are stored with their date, which is what makes the
value-over-time chart possible (Discogs only ever says "now").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.collection import get_item
from services.errors import InvalidInput
from services.http import RateLimitedError, ServiceError
from services.integrations.discogs.api import DiscogsApi
from services.integrations.discogs.conditions import MEDIA_CONDITIONS
from services.integrations.discogs.mapping import format_text, release_summary
from services.pricing import Observation, record_observations
from services.states import ItemKind, SyncService
from services.store.models import DiscogsRelease, Item, LatestPrice, utcnow
from services.validation import OutOfRange, check_id, check_money

RELEASE_TTL = timedelta(days=7)
PRICE_TTL = timedelta(days=3)
PRICE_SOURCE = SyncService.DISCOGS
SUGGESTED, LOWEST = "suggested", "lowest"


def cache_releases(session: Session, summaries: Iterable[Mapping[str, Any]], *, full: bool = False,
                   only_new: bool = False) -> None:  # fmt: skip
    """Upsert release facts (from collection pages, searches or full release reads; ``only_new``: a CSV's
    few facts never replace what Discogs itself said)."""
    now = utcnow()
    for summary in summaries:
        row = session.get(DiscogsRelease, summary["release_id"])
        if row is None:
            row = DiscogsRelease(id=summary["release_id"])
            session.add(row)
        elif only_new or ((row.data or {}).get("full") and not full):
            continue  # a full read is not overwritten by the short basic_information
        row.title = summary["title"][:400] or "?"
        row.artist = summary["artist"][:400]
        row.year = summary.get("year")
        row.formats = format_text(summary.get("formats") or [])
        row.country = (summary.get("country") or None) and str(summary["country"])[:100]
        row.data = {**summary, "full": full}
        row.fetched_at = now
        # A CSV's facts are not Discogs' own answer: expired at once (a page needing the release reads it from
        # Discogs), and never reported as a success of Discogs (services/api/status.py).
        row.expires_at = now if only_new else now + RELEASE_TTL
    session.flush()


def release_details(session: Session, api: DiscogsApi, release_id: int) -> tuple[dict[str, Any], bool]:
    """A release's facts: from the cache while fresh (0 calls), else one GET. Returns (facts, from_cache)."""
    row = session.get(DiscogsRelease, release_id)
    if row is not None and (row.data or {}).get("full") and row.expires_at is not None and row.expires_at > utcnow():
        return dict(row.data or {}), True
    summary = release_summary(api.release(release_id))
    cache_releases(session, [summary], full=True)
    return {**summary, "full": True}, False


@dataclass(frozen=True)
class SearchHit:
    release_id: int
    title: str
    year: str | None
    country: str | None
    formats: list[str]
    labels: list[str]
    catno: str | None
    barcodes: list[str]
    thumb: str | None

    def to_json(self) -> dict[str, Any]:
        return {"releaseId": self.release_id, "title": self.title, "year": self.year, "country": self.country,
                "formats": self.formats, "labels": self.labels, "catno": self.catno, "barcodes": self.barcodes,
                "thumb": self.thumb}  # fmt: skip


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def search_releases(api: DiscogsApi, query: str | None = None, *, barcode: str | None = None,
                    catno: str | None = None) -> list[SearchHit]:  # fmt: skip
    """Releases matching a barcode, a catalogue number, or artist + title words (a pick list to link).

    Barcodes are searched digits-only first, then as free text: Discogs' barcode index is inconsistent
    about spaces (notes/discogs.md §2.10)."""
    query = (query or "").strip()
    if not (query or barcode or catno):
        raise InvalidInput("Give words to search for, a --barcode or a --catno.", code="EMPTY_QUERY")
    attempts: list[dict[str, Any]] = []
    if barcode:
        digits = re.sub(r"\D", "", barcode)
        attempts += [{"barcode": digits or barcode}, {"q": barcode}]
    if catno:
        attempts.append({"catno": catno, "q": query or None})
    if query and not (barcode or catno):
        attempts.append({"q": query})
    for params in attempts:
        results = [r for r in api.search(type="release", **params) if r.get("type", "release") == "release"]
        if results:
            return [
                SearchHit(int(r["id"]), str(r.get("title") or ""), str(r.get("year") or "") or None,
                          r.get("country") or None, _as_list(r.get("format")), _as_list(r.get("label")),
                          r.get("catno") or None, _as_list(r.get("barcode")), r.get("thumb") or None)
                for r in results
            ]  # fmt: skip
    return []


@dataclass(frozen=True)
class RecordToLink:
    """One of the member's records without a Discogs release, with what a search for it starts from."""

    item_id: int
    title: str
    year: int | None
    catno: str | None

    @property
    def query(self) -> str:
        """The words a search starts from: the record's title ("Artist – Title") without the dash."""
        return " ".join(self.title.replace("–", " ").split())


def records_to_link(session: Session, owner_id: int, *, limit: int) -> tuple[list[RecordToLink], int]:
    """The member's first ``limit`` records without a release (by title), and how many there are in all."""
    unlinked = (Item.owner_id == owner_id, Item.kind == ItemKind.RECORD, Item.discogs_release_id.is_(None))
    total = session.scalar(select(func.count()).select_from(Item).where(*unlinked)) or 0
    rows = session.execute(select(Item.id, Item.title, Item.year, Item.details).where(*unlinked)
                           .order_by(Item.title, Item.id).limit(limit))  # fmt: skip
    found = [RecordToLink(item_id, title, year, str((details or {}).get("catno") or "").strip() or None)
             for item_id, title, year, details in rows]  # fmt: skip
    return found, total


def link_record(session: Session, owner_id: int, item_id: int, release_id: int) -> Item:
    """Give one of the member's records its Discogs release (what export and valuation need)."""
    item = get_item(session, owner_id, item_id)
    if item.kind != ItemKind.RECORD:
        raise InvalidInput(f"Item {item_id} is a {item.kind}, not a record.", code="NOT_A_RECORD")
    item.discogs_release_id = check_id(release_id, name="release id")
    session.flush()
    return item


def link_release(session: Session, api: DiscogsApi, owner_id: int, item_id: int,
                 release_id: int) -> tuple[Item, dict[str, Any], bool]:  # fmt: skip
    """Link a record to a release picked from a search, with the release's facts cached for a week (what valuing
    and exporting it read): the page's and the command line's one way to link. Returns (item, facts, from_cache)."""
    details, cached = release_details(session, api, release_id)
    return link_record(session, owner_id, item_id, release_id), details, cached


# ------------------------------------------------------------------------------------------ valuation
@dataclass
class ValueRefresh:
    refreshed: list[int] = field(default_factory=list)  # release ids priced now
    fresh: int = 0
    without_price: list[int] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    stopped: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"refreshed": self.refreshed, "fresh": self.fresh, "withoutPrice": self.without_price,
                "failed": self.failed, "calls": self.calls, "stopped": self.stopped}  # fmt: skip


def _money(value: Any) -> Decimal | None:
    """A price Discogs gave, if it is one we can store (services/validation.py) and above zero."""
    try:
        amount = check_money(value)
    except OutOfRange:
        return None
    return amount if amount else None


def price_observations(release_id: int, suggestions: Mapping[str, Any], stats: Mapping[str, Any] | None,
                       ) -> list[Observation]:  # fmt: skip
    """Observations from price suggestions (per exact condition), or the lowest marketplace price."""
    now = utcnow()
    found = []
    for condition in MEDIA_CONDITIONS:
        entry = suggestions.get(condition)
        if isinstance(entry, Mapping) and (value := _money(entry.get("value"))) is not None:
            found.append(Observation("discogs_release", str(release_id), PRICE_SOURCE, condition, SUGGESTED,
                                     str(entry.get("currency") or "USD")[:3], value, now))  # fmt: skip
    lowest = (stats or {}).get("lowest_price")
    if not found and isinstance(lowest, Mapping) and (value := _money(lowest.get("value"))) is not None:
        found.append(Observation("discogs_release", str(release_id), PRICE_SOURCE, "", LOWEST,
                                 str(lowest.get("currency") or "USD")[:3], value, now))  # fmt: skip
    return found


def refresh_record_values(session: Session, api: DiscogsApi, owner_id: int, *, force: bool = False,
                          progress: Callable[[int, int], None] | None = None) -> ValueRefresh:  # fmt: skip
    """Price the member's linked records: one call per release (two when the account has no seller settings
    and the marketplace statistics stand in), skipping releases priced in the last three days."""
    linked = session.scalars(select(Item.discogs_release_id).where(
        Item.owner_id == owner_id, Item.kind == ItemKind.RECORD, Item.discogs_release_id.is_not(None)))  # fmt: skip
    releases = sorted({release for release in linked if release is not None})
    report = ValueRefresh()
    recent: set[str] = set()
    if not force and releases:
        cutoff = utcnow() - PRICE_TTL
        recent = set(session.scalars(
            select(LatestPrice.ref_id).where(LatestPrice.ref_kind == "discogs_release",
                                             LatestPrice.source == PRICE_SOURCE)
            .group_by(LatestPrice.ref_id).having(func.max(LatestPrice.observed_at) >= cutoff)))  # fmt: skip
    start = api.calls
    found: list[Observation] = []  # written after the calls: no write is held open while waiting for Discogs
    for index, release_id in enumerate(releases):
        if progress is not None:
            progress(index, len(releases))
        if str(release_id) in recent:
            report.fresh += 1
            continue
        try:
            suggestions = api.price_suggestions(release_id)
            stats = None if suggestions else api.stats(release_id)
        except RateLimitedError as error:
            report.stopped = error.message
            break
        except ServiceError as error:
            report.failed.append({"releaseId": release_id, "reason": error.message})
            continue
        observations = price_observations(release_id, suggestions, stats)
        if observations:
            found.extend(observations)
            report.refreshed.append(release_id)
        else:
            report.without_price.append(release_id)
    record_observations(session, found)
    session.flush()
    report.calls = api.calls - start
    return report
