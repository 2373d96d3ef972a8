"""Words for the screen: every stored code (kind, status, sync state, printing), amount and moment a page shows,
in one place, so no page prints a raw enum, ``None``, ``nan`` or an ISO timestamp."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from services.states import DiscogsTarget, ItemKind, ItemStatus, SyncStatus

KIND_LABELS = {ItemKind.COIN: "Coin", ItemKind.RECORD: "Record", ItemKind.CARD: "Card"}
KIND_PLURALS = {ItemKind.COIN: "Coins", ItemKind.RECORD: "Records", ItemKind.CARD: "Cards"}
STATUS_LABELS = {
    ItemStatus.DEMO: "Demo", ItemStatus.BIDDING: "Bidding", ItemStatus.ORDERED: "Ordered",
    ItemStatus.OWNED: "Owned", ItemStatus.DUPLICATE: "Duplicate", ItemStatus.REPLACEMENT: "Replacement",
    ItemStatus.SOLD: "Sold", ItemStatus.WISH: "Wish list", ItemStatus.SALE: "For sale",
    ItemStatus.MISSING: "Missing", ItemStatus.PASS: "Passed on", ItemStatus.UNKNOWN: "Unknown",
}  # fmt: skip
SYNC_LABELS = {
    SyncStatus.NOT_SYNCED: "Not pushed", SyncStatus.QUEUED: "Waiting to push", SyncStatus.SYNCED: "Pushed",
    SyncStatus.FAILED: "Push failed", SyncStatus.DUPLICATE: "Already there",
}  # fmt: skip
SERVICE_LABELS = {"numista": "Numista", "discogs": "Discogs", "pokemontcg": "Pokémon TCG"}
TARGET_LABELS = {DiscogsTarget.COLLECTION: "Collection", DiscogsTarget.WANTLIST: "Wantlist",
                 DiscogsTarget.MARKETPLACE: "Marketplace"}  # fmt: skip
TARGET_SYNCED_LABELS = {DiscogsTarget.COLLECTION: "In collection", DiscogsTarget.WANTLIST: "In wantlist",
                        DiscogsTarget.MARKETPLACE: "Listed"}  # fmt: skip
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def kind_label(kind: str | None) -> str:
    return KIND_LABELS.get(kind, str(kind or "").capitalize()) if kind else ""  # type: ignore[call-overload]


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status, str(status or "").capitalize()) if status else ""  # type: ignore[call-overload]


def sync_label(status: str | None, service: str | None = None) -> str:
    """'Pushed to Numista', 'Not pushed', ...; '' where no service applies."""
    if not status:
        return ""
    label = SYNC_LABELS.get(status, str(status).replace("_", " ").capitalize())  # type: ignore[call-overload]
    if service and status in (SyncStatus.SYNCED, SyncStatus.QUEUED, SyncStatus.NOT_SYNCED):
        name = SERVICE_LABELS.get(service, service)
        return {SyncStatus.SYNCED: f"On {name}", SyncStatus.QUEUED: f"Waiting for {name}",
                SyncStatus.NOT_SYNCED: f"Not on {name}"}[SyncStatus(status)]  # fmt: skip
    return str(label)


def targets_label(targets: Mapping[str, str], service: str) -> str:
    """'In collection · Wantlist: push failed' for the targets an item was pushed to; 'Not on Discogs' when none."""
    parts = []
    for target, status in targets.items():
        if status == SyncStatus.NOT_SYNCED:
            continue
        if status == SyncStatus.SYNCED:
            parts.append(TARGET_SYNCED_LABELS.get(target, target))  # type: ignore[call-overload]
        else:
            where = TARGET_LABELS.get(target, target)  # type: ignore[call-overload]
            parts.append(f"{where}: {sync_label(status).lower()}")
    return " · ".join(parts) or sync_label(SyncStatus.NOT_SYNCED, service)


def printing_label(printing: str | None) -> str:
    """'reverseHolofoil' → 'Reverse holofoil', '1stEditionHolofoil' → '1st edition holofoil'."""
    if not printing:
        return ""
    words = _CAMEL.sub(" ", printing).split()
    return " ".join([words[0][:1].upper() + words[0][1:], *(word.lower() for word in words[1:])])


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def text(value: object) -> str:
    """A cell's text: '' for None/NaN, never the words 'None' or 'nan'."""
    return "" if is_blank(value) else str(value)


def money(amount: Decimal | float | None, currency: str | None, *, missing: str = "no price") -> str:
    """'1,191.73 EUR'; ``missing`` when there is no amount (never 0.00 for an unknown price)."""
    if is_blank(amount):
        return missing
    return f"{float(amount):,.2f} {currency or ''}".strip()  # type: ignore[arg-type]


def signed_money(amount: Decimal | float | None, currency: str) -> str:
    if is_blank(amount):
        return "no price"
    return f"{float(amount):+,.2f} {currency}"  # type: ignore[arg-type]


def day(moment: datetime | date | None) -> str:
    """'1 Dec 2026' (a date a collector reads, not an ISO timestamp); '' when unknown."""
    if moment is None:
        return ""
    return f"{moment.day} {moment.strftime('%b %Y')}"


def number(value: Decimal | float | int | None) -> str:
    """'2', '0.5', '1,000': a face value or a count without trailing zeros."""
    if is_blank(value):
        return ""
    amount = Decimal(str(value)).normalize()
    return f"{amount:,f}" if amount == amount.to_integral() else f"{amount:f}"


def moment(value: datetime | str | None) -> str:
    """'1 Dec 2026 23:40 UTC' for a timestamp (or its ISO text); '' when unknown."""
    if not value:
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{day(when)} {when.strftime('%H:%M')}" + (" UTC" if when.utcoffset() is not None else "")
