"""The API's request and response shapes, as pydantic models.

One home for each shape: handlers validate their input with these models and build their output from them,
and /api/openapi.json is generated from the same classes (services.api.openapi), so the document cannot drift
from what the server does. Field names are camelCase like the rest of the plan.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from services.states import CARD_CONDITIONS, CARD_PRINTINGS, ItemKind, SyncStatus
from services.validation import QUANTITY_MAX, YEAR_MAX, YEAR_MIN

T = TypeVar("T")

MAX_PAGE_SIZE = 100
_TEXT = 200  # longest free-text filter accepted


def _no_default(schema: dict[str, Any]) -> None:
    """An optional field that may be left out but never sent as null (a PATCH of quantity: null is refused)."""
    schema.pop("default", None)


class Schema(BaseModel):
    """Strict about unknown input fields; documented without titles clutter."""

    model_config = ConfigDict(extra="forbid")


def _integral(value: Any) -> Any:
    """JSON Schema counts 3.0 as an integer; strict validation would not (and still refuses "3" and true)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, BeforeValidator(_integral)]
Year = Annotated[int, Field(ge=YEAR_MIN, le=YEAR_MAX), BeforeValidator(_integral)]  # constraints first: documented


class Body(Schema):
    """A JSON request body, validated strictly from the JSON text: `false` is not 0 and "3" is not 3."""

    model_config = ConfigDict(extra="forbid", strict=True)


# -- errors -----------------------------------------------------------------------------------------------
class ErrorBody(Schema):
    code: str = Field(description="stable machine code, e.g. CARD_NOT_FOUND")
    message: str = Field(description="one line a person can act on")
    details: dict[str, Any] | None = None


class ErrorResponse(Schema):
    error: ErrorBody


class ApiWarning(Schema):
    code: str
    message: str


# -- paging ---------------------------------------------------------------------------------------------------
class PageMeta(Schema):
    page: int
    pageSize: int
    totalPages: int
    totalItems: int
    cacheExpiresAt: datetime | None = Field(None, description="when the catalogue data behind this page expires")


class Page(Schema, Generic[T]):
    data: list[T]
    meta: PageMeta
    warnings: list[ApiWarning] = Field(default_factory=list, description="e.g. STALE_CATALOGUE: served anyway")


class DataList(Schema, Generic[T]):
    data: list[T]
    warnings: list[ApiWarning] = Field(default_factory=list)


# -- catalogue ----------------------------------------------------------------------------------------------
class CardSort(StrEnum):
    set = "set"
    name = "name"
    number = "number"


class SortOrder(StrEnum):
    asc = "asc"
    desc = "desc"


class CardQuery(Schema):
    q: str | None = Field(None, max_length=_TEXT, description="name, typo-tolerant; 'charizard 4/102' works")
    setId: str | None = Field(None, max_length=40)
    setExternalId: str | None = Field(None, max_length=40, description="the set's PTCGO code, e.g. BS")
    cardNumber: str | None = Field(None, max_length=20)
    rarityId: str | None = Field(None, max_length=80, description="a rarity id from the cards, e.g. rare-holo")
    # Values of setId, setExternalId, rarityId and type the catalogue does not know match no card; the answer
    # says so in `warnings` (UNKNOWN_FILTER_VALUE). Malformed parameters are 400 INVALID_FILTER.
    type: str | None = Field(None, max_length=40, description="energy type, e.g. Fire")
    page: int = Field(1, ge=1, le=100_000)
    pageSize: int = Field(24, ge=1, le=MAX_PAGE_SIZE)
    sort: CardSort | None = Field(None, description="default: relevance with q, else set")
    order: SortOrder = SortOrder.asc


class CardQueryOne(Schema):
    includePriceHistory: bool = False
    externalId: bool = Field(False, description="{cardId} is the pokemontcg.io id (looked up case-insensitively)")


class AutocompleteQuery(Schema):
    q: str = Field(min_length=2, max_length=_TEXT, description="at least 2 characters (400 QUERY_TOO_SHORT)")
    setId: str | None = Field(None, max_length=40)
    limit: int = Field(8, ge=1, le=20)


class SetRef(Schema):
    id: str
    name: str
    series: str | None = None
    releaseDate: date | None = None


class Rarity(Schema):
    id: str
    name: str


class Images(Schema):
    small: str | None = None
    large: str | None = None


class Money(Schema):
    amount: float
    currency: str


class MarketPrice(Schema):
    amount: float
    currency: str
    source: str = Field(description="tcgplayer, cardmarket or demo")
    lastSeenAt: datetime


class PricePoint(Schema):
    source: str
    printing: str
    metric: str
    amount: float
    currency: str
    observedAt: datetime


class Card(Schema):
    id: str
    externalId: str = Field(description="the pokemontcg.io id")
    name: str
    cardNumber: str
    numberSort: str = Field(description="natural-sort key: 4 < 10 < 102 < TG01")
    set: SetRef
    rarity: Rarity | None
    supertype: str | None
    subtypes: list[str]
    types: list[str]
    images: Images
    marketPrice: MarketPrice | None
    priceHistory: list[PricePoint] | None = None


class Suggestion(Schema):
    cardId: str
    name: str
    cardNumber: str
    set: SetRef
    image: str | None


class SetQuery(Schema):
    page: int = Field(1, ge=1, le=100_000)
    pageSize: int = Field(100, ge=1, le=MAX_PAGE_SIZE)


class CardSet(Schema):
    id: str
    externalId: str | None = Field(description="PTCGO code")
    name: str
    series: str | None
    releaseDate: date | None
    printedTotal: int | None
    totalCards: int | None = Field(description="cards in the set according to the source")
    cachedCards: int = Field(description="cards of the set stored here")
    images: dict[str, str | None]
    lastSyncAt: datetime | None
    cacheExpiresAt: datetime | None


class Condition(Schema):
    code: str
    name: str
    sortOrder: int
    isDefault: bool


# -- collection ---------------------------------------------------------------------------------------------
class Strategy(StrEnum):
    increment = "increment"
    separate = "separate"


class EntryQuery(Schema):
    page: int = Field(1, ge=1, le=100_000)
    pageSize: int = Field(24, ge=1, le=MAX_PAGE_SIZE)
    setId: str | None = Field(None, max_length=40)
    q: str | None = Field(None, max_length=_TEXT, description="words of the entry's title")


# TCGplayer's scale, best first (GET /api/card-conditions), and the printings: services.collection and
# services.card_printings hold the lists, so these enums are built from them (mypy cannot list their members).
ConditionCode = StrEnum("ConditionCode", {code: code for code in CARD_CONDITIONS})  # type: ignore[misc]
Printing = StrEnum("Printing", {printing: printing for printing in CARD_PRINTINGS})  # type: ignore[misc]


MAX_QUANTITY = QUANTITY_MAX


class EntryCreate(Body):
    cardId: str = Field(min_length=1, max_length=60)
    quantity: WholeNumber = Field(1, ge=1, le=MAX_QUANTITY, description="copies (400 INVALID_QUANTITY otherwise)")
    conditionCode: ConditionCode = Field(ConditionCode("NM"), description="400 INVALID_CONDITION otherwise")
    printing: Printing = Field(Printing("normal"), description="which print of the card")
    acquiredAt: date | None = None
    purchasePrice: float | None = Field(None, ge=0, le=10_000_000)
    purchaseCurrency: str | None = Field(None, pattern="^[A-Z]{3}$", description="default: the member's")
    notes: str | None = Field(None, max_length=4000)
    duplicationStrategy: Strategy = Strategy.increment


class EntryUpdate(Body):
    """Only the fields sent change; `acquiredAt`, `purchasePrice` and `notes` may be null to clear them."""

    quantity: WholeNumber = Field(None, ge=1, le=MAX_QUANTITY, json_schema_extra=_no_default)  # type: ignore[assignment]
    conditionCode: ConditionCode = Field(None, json_schema_extra=_no_default)  # type: ignore[assignment]
    acquiredAt: date | None = None
    purchasePrice: float | None = Field(None, ge=0, le=10_000_000)
    purchaseCurrency: str | None = Field(None, pattern="^[A-Z]{3}$")
    notes: str | None = Field(None, max_length=4000)


class CardSummary(Schema):
    id: str
    name: str
    cardNumber: str
    set: SetRef
    image: str | None


class Entry(Schema):
    id: int
    cardId: str | None
    card: CardSummary | None
    quantity: int
    conditionCode: str | None
    printing: str | None
    language: str | None
    acquiredAt: date | None
    purchasePrice: Money | None
    notes: str | None
    estimatedUnitValue: Money | None
    createdAt: datetime
    updatedAt: datetime
    version: int


class EntryChange(Schema):
    entry: Entry
    created: bool = Field(description="true: a new entry (201); false: copies added to `entry` (200)")
    keptApartFrom: int | None = Field(
        None,
        description="with duplicationStrategy increment: the entry you hold whose price paid, purchase date or "
        "notes differ from the ones sent, so the copies got a new entry instead of being added to it",
    )
    message: str = Field(description="what was done, in one line (also notes a wish-list entry of the card)")
    collectionValueDelta: float = Field(description="change of the collection's estimated value, member currency")
    currency: str


class Deleted(Schema):
    deleted: Literal[True]
    collectionValueDelta: float
    currency: str


class SetSummary(Schema):
    set: SetRef
    uniqueCards: int
    totalQuantity: int
    estimatedValue: float
    setTotal: int
    completion: float


class SummaryMeta(Schema):
    currency: str
    lastRefreshedAt: datetime | None = Field(description="newest card price behind the values")


class CollectionSummary(Schema):
    data: list[SetSummary]
    meta: SummaryMeta


class CollectionValue(Schema):
    totalEstimatedValue: float
    totalCards: int = Field(description="copies")
    cardsWithoutPrice: int = Field(description="entries no price source covers")
    currency: str


class Member(Schema):
    id: int
    username: str
    displayName: str | None
    currency: str
    memberSince: datetime


class Activity(Schema):
    entryId: int
    title: str
    quantity: int
    updatedAt: datetime


class ProfileSummary(Schema):
    member: Member
    value: CollectionValue
    topSets: list[SetSummary]
    recentActivity: list[Activity]


class ExternalState(StrEnum):
    ok = "ok"
    stale = "stale"
    error = "error"
    never = "never"
    not_connected = "not_connected"
    offline = "offline"  # pokemontcg: never synced, the catalogue is the snapshot shipped with Vitrine


class ExternalSource(StrEnum):
    live = "live"
    offline_snapshot = "offline snapshot"


class ExternalService(Schema):
    service: str
    status: ExternalState
    source: ExternalSource | None = Field(
        description="where the data in use comes from: the service's own answers (live), the offline snapshot "
        "shipped with Vitrine (pokemontcg before its first sync), or nothing yet (null)"
    )
    snapshotDate: date | None = Field(
        description="source 'offline snapshot': the release date of the snapshot's newest set (how current it is)"
    )
    lastSuccessAt: datetime | None
    lastErrorAt: datetime | None
    lastError: str | None
    cacheExpiresAt: datetime | None


class ExternalStatus(Schema):
    data: list[ExternalService]


class NoQuery(Schema):
    """Endpoints without query parameters still refuse unknown ones (a typo is not silently ignored)."""


# -- every kind of item: /api/items ---------------------------------------------------------------------------
class HandKind(StrEnum):
    """The kinds /api/items writes (cards go through /api/collection/entries)."""

    coin = ItemKind.COIN.value
    record = ItemKind.RECORD.value


class ItemQuery(Schema):
    kind: ItemKind | None = Field(None, description="coin, record or card; default all")
    page: int = Field(1, ge=1, le=100_000)
    pageSize: int = Field(24, ge=1, le=MAX_PAGE_SIZE)
    q: str | None = Field(None, max_length=_TEXT, description="words of the title")


class ItemRefs(Schema):
    pokemontcg: str | None
    numistaType: int | None
    numistaIssue: int | None
    discogsRelease: int | None


class ItemOut(Schema):
    """The `items list --json` shape, plus acquisition and the estimated unit value."""

    id: int
    kind: str
    title: str
    quantity: int
    grade: str | None = Field(description="on the item's native scale (coins: XF...; records: Discogs media)")
    status: str
    notes: str | None
    country: str | None
    year: int | None
    acquiredAt: date | None
    purchasePrice: Money | None
    refs: ItemRefs
    sync: dict[str, str | None]
    syncTargets: dict[str, dict[str, SyncStatus] | None] = Field(
        description="records: where the item stands on each Discogs target (collection, wantlist, marketplace)"
    )
    estimatedUnitValue: Money | None
    updatedAt: datetime
    version: int


class ItemCreate(Body):
    kind: HandKind = Field(description="coins and records; cards go through /api/collection/entries")
    title: str = Field(min_length=1, max_length=400, pattern=r"\S")
    quantity: WholeNumber = Field(1, ge=1, le=MAX_QUANTITY)
    grade: str | None = Field(None, max_length=80)
    country: str | None = Field(None, max_length=200)
    year: Year | None = None
    acquiredAt: date | None = None
    purchasePrice: float | None = Field(None, ge=0, le=10_000_000)
    purchaseCurrency: str | None = Field(None, pattern="^[A-Z]{3}$")
    notes: str | None = Field(None, max_length=4000)


class ItemUpdate(Body):
    """Only the fields sent change; nullable ones may be sent as null to clear them."""

    title: str = Field(None, min_length=1, max_length=400, pattern=r"\S", json_schema_extra=_no_default)  # type: ignore[assignment]
    quantity: WholeNumber = Field(None, ge=1, le=MAX_QUANTITY, json_schema_extra=_no_default)  # type: ignore[assignment]
    grade: str | None = Field(None, max_length=80)
    country: str | None = Field(None, max_length=200)
    year: Year | None = None
    acquiredAt: date | None = None
    purchasePrice: float | None = Field(None, ge=0, le=10_000_000)
    purchaseCurrency: str | None = Field(None, pattern="^[A-Z]{3}$")
    notes: str | None = Field(None, max_length=4000)
