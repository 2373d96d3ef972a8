"""ORM models (SQLAlchemy 2.x). The same models run on SQLite and PostgreSQL.

Catalogue tables are shared facts keyed by the source's own id; everything a user owns carries
`owner_id` and is only reachable through the owner-scoped functions in services.collection.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.states import ItemKind, ItemStatus, JobStatus, RowStatus, SyncService, SyncStatus, values
from services.store.types import UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ITEM_KINDS = values(ItemKind)
SYNC_STATUSES = values(SyncStatus)
SYNC_SERVICES = values(SyncService)


def one_of(column: str, enum: type[StrEnum]) -> CheckConstraint:
    """CHECK that ``column`` holds a value of ``enum`` (named ``ck_<table>_<column>``)."""
    allowed = ", ".join(f"'{value}'" for value in values(enum))
    return CheckConstraint(f"{column} IN ({allowed})", name=column)


def table_of(model: type[Base]) -> Table:
    """A model's Core table, for executemany statements that must stay Core (the ORM's bulk path is slower)."""
    return cast(Table, model.__table__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CachedFact:
    """Mixin for catalogue rows: when fetched and until when they count as fresh."""

    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class PokemonSet(CachedFact, Base):
    __tablename__ = "pokemon_sets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    series: Mapped[str | None] = mapped_column(String(200))
    printed_total: Mapped[int | None] = mapped_column(Integer)
    total: Mapped[int | None] = mapped_column(Integer)
    ptcgo_code: Mapped[str | None] = mapped_column(String(20))
    release_date: Mapped[date | None] = mapped_column(Date)
    symbol_url: Mapped[str | None] = mapped_column(String(500))
    logo_url: Mapped[str | None] = mapped_column(String(500))


class PokemonCard(CachedFact, Base):
    __tablename__ = "pokemon_cards"
    __table_args__ = (Index(None, "set_id", "number_sort"), Index(None, "name"))

    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    set_id: Mapped[str] = mapped_column(ForeignKey("pokemon_sets.id"))
    name: Mapped[str] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(20))
    number_sort: Mapped[str] = mapped_column(String(40), doc="natural-sort key: '4' < '10' < 'TG01'")
    number_value: Mapped[int | None] = mapped_column(Integer, doc="the number when purely numeric")
    supertype: Mapped[str | None] = mapped_column(String(40))
    subtypes: Mapped[list[str] | None] = mapped_column(JSON)
    types: Mapped[list[str] | None] = mapped_column(JSON)
    rarity: Mapped[str | None] = mapped_column(String(80))
    artist: Mapped[str | None] = mapped_column(String(200))
    image_small: Mapped[str | None] = mapped_column(String(500))
    image_large: Mapped[str | None] = mapped_column(String(500))
    printings: Mapped[list[str] | None] = mapped_column(
        JSON, doc="TCGplayer's printings of the card (its price-block keys); None: not known"
    )

    set: Mapped[PokemonSet] = relationship()


class NumistaType(CachedFact, Base):
    __tablename__ = "numista_types"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(400))
    issuer: Mapped[str | None] = mapped_column(String(200))
    min_year: Mapped[int | None] = mapped_column(Integer)
    max_year: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class DiscogsRelease(CachedFact, Base):
    __tablename__ = "discogs_releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(400))
    artist: Mapped[str | None] = mapped_column(String(400))
    year: Mapped[int | None] = mapped_column(Integer)
    formats: Mapped[str | None] = mapped_column(String(400))
    country: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Item(Base):
    """One of a user's own copies: a coin, a record or a card."""

    __tablename__ = "items"
    __table_args__ = (
        Index(None, "owner_id", "kind", "title", "id"),  # also the list order of collection.list_items: no sort
        Index(None, "owner_id", "pokemontcg_card_id"),
        Index(None, "owner_id", "numista_type_id"),
        Index(None, "owner_id", "discogs_release_id"),
        UniqueConstraint("owner_id", "origin_source", "origin_row_id"),
        one_of("kind", ItemKind),
        one_of("status", ItemStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(400))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    grade: Mapped[str | None] = mapped_column(String(80), doc="on the item's native scale")
    grade_code: Mapped[str | None] = mapped_column(
        String(40), doc="the grade on the pricing scale: Numista g..unc, TCGplayer NM..DMG, Discogs media"
    )
    printing: Mapped[str | None] = mapped_column(String(40), doc="cards: normal, holofoil, ...")
    language: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=ItemStatus.OWNED)
    pokemontcg_card_id: Mapped[str | None] = mapped_column(String(60))
    numista_type_id: Mapped[int | None] = mapped_column(Integer)
    numista_issue_id: Mapped[int | None] = mapped_column(Integer)
    discogs_release_id: Mapped[int | None] = mapped_column(Integer)
    country: Mapped[str | None] = mapped_column(String(200))
    year: Mapped[int | None] = mapped_column(Integer)
    series: Mapped[str | None] = mapped_column(String(200))
    acquired_date: Mapped[date | None] = mapped_column(Date)
    acquired_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    acquired_currency: Mapped[str | None] = mapped_column(String(3))
    acquired_place: Mapped[str | None] = mapped_column(String(200))
    storage_location: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str] | None] = mapped_column(JSON)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="source fields kept so nothing is lost")
    origin_source: Mapped[str | None] = mapped_column(String(40))
    origin_row_id: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    sync_rows: Mapped[list[SyncLedger]] = relationship(back_populates="item", cascade="all, delete-orphan")
    images: Mapped[list[ItemImage]] = relationship(cascade="all, delete-orphan")


class ItemImage(Base):
    __tablename__ = "item_images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    role: Mapped[str] = mapped_column(String(20), default="photo", doc="photo or thumbnail")
    mime: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class PriceObservation(Base):
    """One dated price from one source: the time series that makes value history possible."""

    __tablename__ = "price_observations"
    # The whole series key, then date, carrying currency and value: history and movers read the index alone.
    __table_args__ = (
        Index("ix_price_observations_series", "ref_kind", "ref_id", "source", "variant", "metric", "observed_at",
              "currency", "value"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ref_kind: Mapped[str] = mapped_column(String(20), doc="pokemontcg, numista_issue, discogs_release, item")
    ref_id: Mapped[str] = mapped_column(String(60))
    source: Mapped[str] = mapped_column(String(20), doc="tcgplayer, cardmarket, numista, opennumismat, ...")
    variant: Mapped[str] = mapped_column(String(60), default="", doc="printing, grade or condition")
    metric: Mapped[str] = mapped_column(String(30), default="market")
    currency: Mapped[str] = mapped_column(String(3))
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    observed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LatestPrice(Base):
    """The newest observation per price key, upserted with each observation so valuation is index lookups."""

    __tablename__ = "latest_prices"

    ref_kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    ref_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    variant: Mapped[str] = mapped_column(String(60), primary_key=True)
    metric: Mapped[str] = mapped_column(String(30), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    observed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SyncLedger(Base):
    """Where an item stands on one remote service."""

    __tablename__ = "sync_ledger"
    __table_args__ = (
        UniqueConstraint("item_id", "service"), Index(None, "service", "status"), one_of("status", SyncStatus),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=SyncStatus.NOT_SYNCED)
    remote_id: Mapped[str | None] = mapped_column(String(80))
    remote_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    payload_hash: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    item: Mapped[Item] = relationship(back_populates="sync_rows")


class Job(Base):
    """A push or import of many items; its per-item rows are the outbox."""

    __tablename__ = "jobs"
    __table_args__ = (Index(None, "owner_id", "status"), one_of("status", JobStatus))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    service: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class JobItem(Base):
    __tablename__ = "job_items"
    __table_args__ = (Index(None, "job_id", "status"), one_of("status", RowStatus))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default=RowStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    remote_id: Mapped[str | None] = mapped_column(String(80))
    error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Connection(Base):
    """A user's link to a remote service; secrets are Fernet ciphertext (see services.accounts.vault)."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("owner_id", "service"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(20))
    remote_user: Mapped[str | None] = mapped_column(String(200))
    secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
