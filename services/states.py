"""Every state and vocabulary of the domain, in one place: item kinds and statuses, sync and job states.

Each is a ``StrEnum`` whose values are what the database stores (with a CHECK constraint) and what the
command line's JSON shows, so a member compares equal to the stored string and a typo is a NameError instead
of a silently unmatched state. Values are validated where they enter: ``parse(Enum, text, what)``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from services.errors import InvalidInput


class ItemKind(StrEnum):
    COIN = "coin"
    RECORD = "record"
    CARD = "card"


class ItemStatus(StrEnum):
    """OpenNumismat's status vocabulary (its definition order), shared by every kind, plus ``unknown``."""

    DEMO = "demo"
    BIDDING = "bidding"
    ORDERED = "ordered"
    OWNED = "owned"
    DUPLICATE = "duplicate"
    REPLACEMENT = "replacement"
    SOLD = "sold"
    WISH = "wish"
    SALE = "sale"
    MISSING = "missing"
    PASS = "pass"
    UNKNOWN = "unknown"


NOT_HELD_STATUSES: tuple[ItemStatus, ...] = (
    ItemStatus.WISH, ItemStatus.SOLD, ItemStatus.PASS, ItemStatus.DEMO, ItemStatus.BIDDING,
)  # fmt: skip
"""Items that are not (or not yet) in the member's hands: never valued, never pushed to an account."""


class SyncStatus(StrEnum):
    """Where an item stands on one remote service (the sync ledger; ``items list --sync-status``)."""

    NOT_SYNCED = "NOT_SYNCED"
    QUEUED = "QUEUED"
    SYNCED = "SYNCED"
    FAILED = "FAILED"
    DUPLICATE = "DUPLICATE"


class SyncService(StrEnum):
    """A sync ledger's service key: one per remote place an item can be pushed to."""

    NUMISTA = "numista"
    DISCOGS = "discogs"  # a Discogs collection folder (what ``sync.discogs`` reports)
    DISCOGS_WANTLIST = "discogs_wantlist"
    DISCOGS_LISTING = "discogs_listing"


class DiscogsTarget(StrEnum):
    """Where a Discogs export sends records (``export discogs --target``); each has its own ledger service."""

    COLLECTION = "collection"
    WANTLIST = "wantlist"
    MARKETPLACE = "marketplace"

    @property
    def service(self) -> SyncService:
        return {DiscogsTarget.COLLECTION: SyncService.DISCOGS, DiscogsTarget.WANTLIST: SyncService.DISCOGS_WANTLIST,
                DiscogsTarget.MARKETPLACE: SyncService.DISCOGS_LISTING}[self]  # fmt: skip


class ListingStatus(StrEnum):
    """A Discogs marketplace listing's status as Vitrine creates it (Draft unless the member asks)."""

    DRAFT = "Draft"
    FOR_SALE = "For Sale"


class CredentialKind(StrEnum):
    """How a member's Discogs requests are signed."""

    OAUTH = "oauth"
    PERSONAL = "personal"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    DONE_WITH_ERRORS = "done_with_errors"
    CANCELLED = "cancelled"


class RowStatus(StrEnum):
    """One outbox row of a push job (``job_items.status``); see services/sync/engine.py for the transitions."""

    QUEUED = "queued"
    RETRY = "retry"
    RUNNING = "running"
    SYNCED = "synced"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def document_status(self) -> str:
        """The row as the export document counts it: waiting rows are QUEUED, cancelled ones SKIPPED."""
        if self in (RowStatus.QUEUED, RowStatus.RETRY, RowStatus.RUNNING):
            return "QUEUED"
        if self is RowStatus.CANCELLED:
            return "SKIPPED"
        return self.value.upper()


class CatalogSyncStatus(StrEnum):
    """Progress of one catalogue download (the set list, or one set's cards): resumable while partial."""

    PENDING = "pending"
    PARTIAL = "partial"
    COMPLETE = "complete"
    FAILED = "failed"


class MatchStatus(StrEnum):
    """A card CSV row after matching it to the catalogue (services/importers/cards_csv.py)."""

    MATCHED = "matched"
    AMBIGUOUS = "ambiguous"
    UNMATCHED = "unmatched"
    SKIPPED = "skipped"
    INVALID = "invalid"


class RowAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    COPY = "copy"
    SKIP = "skip"


ROLES = ("admin", "member")
"""A member's role in a club installation (``users role``)."""

CARD_CONDITIONS = ("NM", "LP", "MP", "HP", "DMG")
DUPLICATE_STRATEGIES = ("increment", "separate")
"""Adding a card that is already there: add to its quantity, or keep a separate entry."""

CARD_PRINTINGS = (
    "normal",
    "holofoil",
    "reverseHolofoil",
    "1stEditionHolofoil",
    "1stEditionNormal",
    "unlimitedHolofoil",
)
"""The usual printings in their usual order: the default printing of a card is the first of these it has."""

ON_SYNCED = (RowAction.SKIP.value, RowAction.COPY.value, RowAction.UPDATE.value)
"""What a Numista export does with a coin that is already there."""



_E = TypeVar("_E", bound=StrEnum)


def parse(enum: type[_E], value: object, what: str) -> _E:
    """``value`` as a member of ``enum``, or InvalidInput naming the allowed values."""
    try:
        return enum(str(value))
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InvalidInput(f"{what} must be one of {allowed}, not {value!r}.", code="INVALID_STATUS") from None


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)
