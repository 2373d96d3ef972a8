"""Immutable results of reading an OpenNumismat collection (no I/O here except lazy image loading)."""

from __future__ import annotations

import marshal
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, make_dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from services.importers.opennumismat import OpenNumismatImages

_T = TypeVar("_T")
_V = TypeVar("_V")


class FrozenMap(Mapping[str, _V]):
    """A read-only mapping that, unlike MappingProxyType, pickles (Streamlit caches pickle results)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, _V] | None = None) -> None:
        self._data = dict(data or {})

    def __getitem__(self, key: str) -> _V:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


class RawRow(Mapping[str, object]):
    """All `coins` columns of one row by name, exactly as SQLite returned them.

    Stored as one marshal-encoded bytes object and decoded on first access: 50k retained 110-cell tuples
    (plus their cell objects) weigh far more and make garbage-collector passes walk millions of references;
    one bytes object per row does neither. The column index is shared by all rows of a file. Image columns
    keep their ids; inline BLOBs (schema 1/2) read as None — fetch image bytes through
    `OpenNumismatCoin.photos`/`thumbnail`.
    """

    __slots__ = ("_index", "_packed", "_values")

    def __init__(self, index: Mapping[str, int], values: tuple[object, ...]) -> None:
        self._index = index
        self._packed: bytes | None = marshal.dumps(values)  # type: ignore[arg-type]  # cells: None/int/float/str/bytes
        self._values: tuple[object, ...] | None = None

    def _row(self) -> tuple[object, ...]:
        values = self._values
        if values is None:
            packed = self._packed
            if packed is None:  # another thread decoded it meanwhile (it sets _values before clearing)
                return self._values  # type: ignore[return-value]
            values = marshal.loads(packed)
            self._values = values
            self._packed = None
        return values

    def __getitem__(self, key: str) -> object:
        return self._row()[self._index[key]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def items(self) -> list[tuple[str, object]]:  # type: ignore[override]
        """All (column, value) pairs at once: the importer walks every column of every row."""
        row = self._row()
        return [(name, row[position]) for name, position in self._index.items()]

    def __repr__(self) -> str:
        return f"RawRow({dict(self)!r})"


@dataclass(frozen=True, slots=True)
class ImageRef:
    """Where one image's bytes live; cheap to keep for 50k coins, resolved only on demand."""

    field: str  # coins column: "image" (preview/thumbnail), "obverseimg", "reverseimg", "photo1", ...
    table: str  # "photos" | "images" | "coins" (inline BLOB, schema 1/2)
    row_id: int  # id in `table` (the coin id for inline BLOBs)
    column: str  # column holding the bytes in `table`

    @property
    def is_thumbnail(self) -> bool:
        return self.field == "image"


@dataclass(frozen=True, slots=True)
class CoinImage:
    """Image bytes with the MIME type sniffed from magic bytes, plus photo metadata when stored (v10)."""

    ref: ImageRef
    mime: str
    data: bytes
    title: str | None = None
    author: str | None = None
    license: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class OpenNumismatTag:
    """One user tag (schema ≥ 9); `path` is the names from the root down to this tag."""

    id: int
    name: str
    parent_id: int | None
    position: int | None
    description: str | None
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OpenNumismatCoin:
    """One `coins` row, normalised. Money is Decimal (currency is not stored anywhere in the file)."""

    source_row_id: int
    title: str | None
    status: str  # one of STATUSES or "unknown"
    status_raw: object
    category: str | None
    country: str | None
    region: str | None
    period: str | None
    ruler: str | None
    series: str | None
    type: str | None
    subject: str | None  # `subjectshort`
    value: Decimal | None  # face value
    unit: str | None
    year: int | None  # negative = BC
    issue_date: date | None  # `issuedate`
    mint: str | None
    mintmark: str | None
    mintage: int | None
    quantity: int | None  # None when empty/unreadable (callers usually default to 1)
    grade_raw: str | None
    grader: str | None
    barcode: str | None
    quality: str | None
    material: str | None  # v1 `metal`
    weight: float | None  # g; v1 `mass`
    diameter: float | None  # mm
    thickness: float | None  # mm; v1 `thick`
    axis: int | None  # degrees 0–359
    real_weight: float | None
    real_diameter: float | None
    catalognum1: str | None
    catalognum2: str | None
    catalognum3: str | None
    catalognum4: str | None
    url: str | None
    features: str | None
    payprice: Decimal | None
    totalpayprice: Decimal | None
    paydate: date | None
    payplace: str | None
    seller: str | None  # `saller` (sic)
    saleprice: Decimal | None
    totalsaleprice: Decimal | None
    saledate: date | None
    saleplace: str | None
    buyer: str | None
    price1: Decimal | None  # catalogue value in F
    price2: Decimal | None  # VF
    price3: Decimal | None  # XF
    price4: Decimal | None  # Unc
    storage: str | None
    seat: str | None
    created_at: datetime | None  # UTC
    updated_at: datetime | None  # UTC
    sort_id: int | None
    note: str | None  # NumiSync-Wizard block stripped; may be HTML when the collection uses rich text
    tags: tuple[str, ...] = ()
    numista_type_id: int | None = None
    numista_issue_id: int | None = None
    numista_source: str | None = None  # "numisync" | "url" | "catalognum4"
    thumbnail: ImageRef | None = None
    photos: tuple[ImageRef, ...] = ()
    raw: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def paid(self) -> Decimal | None:
        """What was paid for the row: `totalpayprice` when set, else `payprice`."""
        return self.totalpayprice if self.totalpayprice is not None else self.payprice

    @property
    def catalogue_values(self) -> dict[str, Decimal]:
        """price1..price4 keyed by the Numista grade they are for (f, vf, xf, unc), only the set ones."""
        pairs = (("f", self.price1), ("vf", self.price2), ("xf", self.price3), ("unc", self.price4))
        return {grade: price for grade, price in pairs if price is not None}


@dataclass(frozen=True, slots=True)
class OpenNumismatCollection:
    """A whole collection file: coins plus collection-level facts. Images load lazily from `path`."""

    path: Path
    schema_version: int
    title: str | None
    description: str | None
    author: str | None
    coins: tuple[OpenNumismatCoin, ...]
    counts_by_status: Mapping[str, int]
    status_titles: Mapping[str, str]
    settings: Mapping[str, object]
    tags: tuple[OpenNumismatTag, ...]
    columns: tuple[str, ...]
    field_titles: Mapping[str, str]
    password_protected: bool
    file_size: int
    file_mtime_ns: int

    def __len__(self) -> int:
        return len(self.coins)

    def images(self) -> OpenNumismatImages:
        """A read-only image loader for this file; use as a context manager to close it."""
        from services.importers.opennumismat import OpenNumismatImages

        return OpenNumismatImages(self)

    def load_image(self, ref: ImageRef) -> CoinImage | None:
        """Bytes of one image (opens and closes the file; use `images()` for many)."""
        with self.images() as loader:
            return loader.load(ref)


@cache
def builder_classes(cls: type[_T], order: tuple[str, ...] | None = None) -> tuple[type, type[_T]]:
    """(mutable twin, cls) for building frozen slots dataclass instances ~6x faster than cls(...).

    A frozen __init__ sets every field through object.__setattr__ (~6 µs for OpenNumismatCoin's 64 fields,
    a third of the per-coin budget at 50k coins). The twin has the same slots and a plain __init__ taking
    the fields in `order` (default: cls's order); after ``obj = twin(*values_in_that_order)`` the caller
    sets ``obj.__class__ = cls``, which leaves an ordinary, fully frozen `cls` instance (equality, hashing,
    repr, FrozenInstanceError unchanged). CPython lays slots out by sorted name, so any field order gives
    the identical memory layout that the __class__ assignment requires (it refuses otherwise).
    """
    names = [item.name for item in fields(cls)]  # type: ignore[arg-type]  # cls is a dataclass (caller's contract)
    if order is not None and sorted(order) != sorted(names):
        raise ValueError(f"builder order must be a permutation of {cls.__name__}'s fields")
    twin = make_dataclass(f"_{cls.__name__}Builder", list(order or names), slots=True)
    return twin, cls
