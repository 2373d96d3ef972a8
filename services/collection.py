"""A user's items: list, add, edit, delete. Every function takes the acting owner's id and filters by it,
so no caller can read or change another owner's rows by accident."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, Integer, Row, Select, and_, bindparam, func, literal, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.exc import StaleDataError

from services.card_printings import card_printings, choose_printing
from services.errors import Conflict, InvalidInput, NotFound, StaleEdit
from services.item_fields import DETAIL_KEYS, EDITABLE_COLUMNS, check_details, pricing_grade, with_details
from services.states import (
    CARD_CONDITIONS,
    DUPLICATE_STRATEGIES,
    NOT_HELD_STATUSES,
    DiscogsTarget,
    ItemKind,
    ItemStatus,
    SyncStatus,
    parse,
)
from services.store.chunks import in_chunks
from services.store.models import ITEM_KINDS, SYNC_STATUSES, Item, PokemonCard, SyncLedger
from services.validation import (
    check_currency,
    check_fields,
    check_money,
    check_quantity,
    check_title,
    readable_quantity,
)

SYNC_SERVICE_FOR_KIND = {"coin": "numista", "record": "discogs"}
# A kind pushed to several places of one service: target -> ledger service (``items list --json`` syncTargets).
SYNC_TARGETS_FOR_KIND: dict[str, dict[str, str]] = {
    ItemKind.RECORD: {target.value: target.service.value for target in DiscogsTarget},
}


@dataclass(frozen=True)
class ItemFilter:
    kind: str | None = None
    sync_status: str | None = None
    text: str | None = None
    set_id: str | None = None
    held_only: bool = False
    status: str | None = None


def _owned(owner_id: int | BindParameter[int]) -> Select[Item]:
    return select(Item).where(Item.owner_id == owner_id)


def items_of_kind(session: Session, owner_id: int, kind: str, item_ids: Iterable[int] | None = None) -> list[Item]:
    """The owner's items of one kind (all, or the given ids; other owners' ids are silently not found), by title."""
    query = _owned(owner_id).where(Item.kind == kind).order_by(Item.title, Item.id)
    if item_ids is None:
        return list(session.scalars(query))
    found: list[Item] = []
    for chunk in in_chunks(sorted(set(item_ids))):
        found.extend(session.scalars(query.where(Item.id.in_(chunk))))
    return found


def get_item(session: Session, owner_id: int, item_id: int) -> Item:
    item = session.scalar(_owned(owner_id).where(Item.id == item_id))
    if item is None:
        raise NotFound(f"No item {item_id} in your collection.", code="ITEM_NOT_FOUND")
    return item


def _sync_status_clause(status: str) -> Any:
    if status not in SYNC_STATUSES:
        raise InvalidInput(f"Sync status must be one of {', '.join(SYNC_STATUSES)}.", code="INVALID_STATUS")
    ledger = aliased(SyncLedger)
    current = (
        select(func.coalesce(func.max(ledger.status), SyncStatus.NOT_SYNCED.value))
        .where(ledger.item_id == Item.id)
        .where(
            or_(
                and_(Item.kind == "coin", ledger.service == "numista"),
                and_(Item.kind == "record", ledger.service == "discogs"),
            )
        )
        .scalar_subquery()
    )
    return and_(Item.kind.in_(tuple(SYNC_SERVICE_FOR_KIND)), current == literal(status))


_LIKE_ESCAPE = "/"


def _contains_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, taken literally: a `%` or `_` the user types means that
    character, not "anything" (escaped with ``_LIKE_ESCAPE``, which SQLite and PostgreSQL both honour)."""
    for special in (_LIKE_ESCAPE, "%", "_"):
        text = text.replace(special, _LIKE_ESCAPE + special)
    return f"%{text}%"


def _text_clause(text: str) -> Any:
    """Title or country contains the text (literally); '#12' or '12' also finds item 12."""
    wanted = text.strip()
    pattern = _contains_pattern(wanted)
    clause = or_(Item.title.ilike(pattern, escape=_LIKE_ESCAPE), Item.country.ilike(pattern, escape=_LIKE_ESCAPE))
    number = wanted.removeprefix("#").strip()
    return or_(clause, Item.id == int(number)) if number.isdigit() else clause


def _filtered(owner_id: int | BindParameter[int], filters: ItemFilter) -> Select[Item]:
    query = _owned(owner_id)
    if filters.kind:
        if filters.kind not in ITEM_KINDS:
            raise InvalidInput(f"Kind must be one of {', '.join(ITEM_KINDS)}.", code="INVALID_KIND")
        query = query.where(Item.kind == filters.kind)
    if filters.sync_status:
        query = query.where(_sync_status_clause(filters.sync_status))
    if filters.status:
        query = query.where(Item.status == parse(ItemStatus, filters.status, "An item's status"))
    if filters.text:
        query = query.where(_text_clause(filters.text))
    if filters.set_id:
        query = query.join(PokemonCard, PokemonCard.id == Item.pokemontcg_card_id).where(
            PokemonCard.set_id == filters.set_id
        )
    if filters.held_only:
        query = query.where(Item.status.not_in(NOT_HELD_STATUSES))
    return query


def count_items(session: Session, owner_id: int, filters: ItemFilter = ItemFilter()) -> int:
    subquery = _filtered(owner_id, filters).with_only_columns(Item.id).subquery()
    return session.scalar(select(func.count()).select_from(subquery)) or 0


def list_items(
    session: Session,
    owner_id: int,
    filters: ItemFilter = ItemFilter(),
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[Item]:
    query = _filtered(owner_id, filters).order_by(Item.kind, Item.title, Item.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def page_of_items(
    session: Session, owner_id: int, filters: ItemFilter, *, limit: int, offset: int
) -> tuple[list[Item], int]:
    """One page of the filtered items (ORM objects, for pages that edit them) and how many match: the same
    statement as ``page_of_rows``, selecting the items themselves."""
    statement = _page_of_rows_statement(filters, _ITEMS)
    values = {"page_owner": owner_id, "page_limit": limit, "page_offset": offset}
    found = session.execute(statement, values).all()
    if not found:
        return [], count_items(session, owner_id, filters) if offset else 0
    return [row[0] for row in found], int(found[0].total)


_ITEMS: Select[tuple[Item]] = select(Item)  # one object, so the statement cache below keys on it


def page_of_rows(
    session: Session, owner_id: int, filters: ItemFilter, rows: Select[*tuple[Any, ...]], *, limit: int, offset: int
) -> tuple[list[Row[*tuple[Any, ...]]], int]:
    """One page of the filtered items as ``rows`` (a select of plain columns from Item and what it joins: no
    ORM objects) in list order, and how many items match, from one statement. The page's ids are picked by
    walking the list order's index reading ids only, so the rows before a late page are never read or joined;
    the count is an uncorrelated scalar subquery; only a page past the end needs a second statement."""
    statement = _page_of_rows_statement(filters, rows)
    values = {"page_owner": owner_id, "page_limit": limit, "page_offset": offset}
    found = list(session.connection().execute(statement, values))  # plain rows: no ORM result machinery
    if not found:
        return [], count_items(session, owner_id, filters) if offset else 0
    return found, int(found[0].total)


@lru_cache(maxsize=64)
def _page_of_rows_statement(filters: ItemFilter, rows: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    """Built once per filters and row shape, with the owner and the page bound at execution: a REST API client
    pages through with the same filters, and constructing the statement cost more than running it."""
    matching = _filtered(bindparam("page_owner", type_=Integer), filters).with_only_columns(Item.id)
    page = (
        matching.order_by(Item.kind, Item.title, Item.id)
        .offset(bindparam("page_offset", type_=Integer))
        .limit(bindparam("page_limit", type_=Integer))
        .subquery("page")
    )
    total = select(func.count()).select_from(matching.subquery()).scalar_subquery().label("total")
    return rows.add_columns(total).where(Item.id.in_(select(page.c.id))).order_by(Item.kind, Item.title, Item.id)


def sync_statuses(session: Session, item_ids: list[int]) -> dict[int, dict[str, str]]:
    """Remote status per item and service, for items the caller already fetched owner-scoped (a page's rows:
    one prebuilt statement on the session's connection, no ORM result machinery)."""
    result: dict[int, dict[str, str]] = {}
    session.flush()  # the connection's own execute does not autoflush
    connection = session.connection()
    for chunk in in_chunks(item_ids):
        for item_id, service, status in connection.execute(_SYNC_STATUSES, {"sync_items": chunk}):
            result.setdefault(item_id, {})[service] = status
    return result


_SYNC_STATUSES = select(SyncLedger.item_id, SyncLedger.service, SyncLedger.status).where(
    SyncLedger.item_id.in_(bindparam("sync_items", expanding=True))
)


def sync_targets(kind: str, statuses: dict[str, str] | None) -> dict[str, SyncStatus] | None:
    """Where an item stands on each export target of its service (records: collection, wantlist,
    marketplace); None for a kind pushed to one place only."""
    targets = SYNC_TARGETS_FOR_KIND.get(kind)
    if targets is None:
        return None
    statuses = statuses or {}
    return {target: SyncStatus(statuses.get(service, SyncStatus.NOT_SYNCED)) for target, service in targets.items()}


def item_document(item: Item, statuses: dict[str, str] | None = None) -> dict[str, Any]:
    """The stable JSON shape of one item (DESIGN.md, `items list --json`)."""
    statuses = statuses or {}
    return {
        "id": item.id,
        "kind": item.kind,
        "title": item.title,
        "quantity": readable_quantity(item.quantity),
        "grade": item.grade,
        "printing": item.printing,  # cards (null for coins and records)
        "language": item.language,
        "status": item.status,
        "notes": item.notes,
        "refs": {
            "pokemontcg": item.pokemontcg_card_id,
            "numistaType": item.numista_type_id,
            "numistaIssue": item.numista_issue_id,
            "discogsRelease": item.discogs_release_id,
        },
        "sync": {
            service: (
                statuses.get(service, SyncStatus.NOT_SYNCED)
                if SYNC_SERVICE_FOR_KIND.get(item.kind) == service
                else None
            )
            for service in ("numista", "discogs")
        },
        # Added after `sync` (whose keys stay as they are): every export target's status, by service.
        "syncTargets": {"discogs": sync_targets(item.kind, statuses)},
    }


def add_item(
    session: Session, owner_id: int, *, kind: str, title: str, quantity: int = 1, **fields: Any
) -> Item:
    """Add a coin, record or card entry as given (no catalogue lookup)."""
    if kind not in ITEM_KINDS:
        raise InvalidInput(f"Kind must be one of {', '.join(ITEM_KINDS)}.", code="INVALID_KIND")
    title = check_title(title)
    quantity = check_quantity(quantity)
    fields = check_fields(fields)
    unknown = (
        set(fields) - EDITABLE_COLUMNS - {"pokemontcg_card_id", "details", "origin_source", "origin_row_id"}
    )
    if unknown:
        raise InvalidInput(f"Unknown item fields: {', '.join(sorted(unknown))}.", code="INVALID_FIELD")
    item = Item(owner_id=owner_id, kind=kind, title=title, quantity=quantity, **fields)
    session.add(item)
    session.flush()
    return item


@dataclass(frozen=True)
class CardAdded:
    """What ``add_card`` did, so that every door (Catalog, Sets binder, command line, REST API) reports the
    same thing: which entry got the copies, whether it is new, and why new copies were kept apart."""

    item: Item
    created: bool
    added: int  # copies added by this call
    kept_apart_from: int | None = None  # the held entry the copies were not added to (their details differ)
    differing: tuple[str, ...] = ()  # which purchase details differ from that entry's
    wish_id: int | None = None  # an entry of the same card on the wish list, left as it is

    @property
    def message(self) -> str:
        """One line for a person, without any door's own wording (no command-line flag, no button)."""
        title, item = self.item.title, self.item
        copies = f"{self.added} copies of {title}" if self.added != 1 else title
        if not self.created:
            what = f"{self.added} cop{'y' if self.added == 1 else 'ies'}"
            return f"Added {what} to your entry #{item.id} of {title}: now {item.quantity}."
        if self.kept_apart_from is not None:
            message = (
                f"Added {copies} to your collection as a new entry #{item.id}, keeping the {_and(self.differing)} "
                f"you gave apart from your entry #{self.kept_apart_from}, which does not have the same."
            )
        else:
            message = f"Added {copies} to your collection."
        if self.wish_id is not None:
            message += f" It is also on your wish list (entry #{self.wish_id}), left as it is."
        return message


def _and(words: tuple[str, ...]) -> str:
    return " and ".join(words) if len(words) <= 2 else f"{', '.join(words[:-1])} and {words[-1]}"


def _differing_details(
    entry: Item, price: Decimal | None, currency: str | None, acquired: date | None, notes: str | None
) -> tuple[str, ...]:
    """The purchase details given with new copies that ``entry`` does not already have the same. Adding the
    copies to an entry keeps only its quantity, so a detail listed here would be lost there: these copies
    need an entry of their own. A detail not given is no difference (the copies take the entry's), nor is what
    an edit may leave around the same words: spaces about notes, a price stored without its currency."""
    differing: list[str] = []
    other_currency = None not in (entry.acquired_currency, currency) and entry.acquired_currency != currency
    if price is not None and (entry.acquired_price != price or other_currency):
        differing.append("price paid")
    if acquired is not None and entry.acquired_date != acquired:
        differing.append("purchase date")
    if notes is not None and (entry.notes or "").strip() != notes:
        differing.append("notes")
    return tuple(differing)


def add_card(
    session: Session,
    owner_id: int,
    card_id: str,
    *,
    quantity: int = 1,
    condition: str = "NM",
    printing: str | None = None,
    strategy: str = "increment",
    language: str = "en",
    price: Decimal | None = None,
    currency: str | None = None,
    acquired: date | None = None,
    notes: str | None = None,
) -> CardAdded:
    """Record copies of a catalogue card; the one home of what "I already have it" means, for every door.

    Copies only ever join an entry the member holds (same card, condition, printing and language, a status
    not in ``NOT_HELD_STATUSES``): a card on the wish list (or sold...) gets a new owned entry, else it would
    never count as owned, and the wish entry stays as it is. `increment` adds to the held entry unless the
    copies carry a price paid, purchase date or notes it does not already have the same: adding keeps only the
    quantity, so such copies get an entry of their own and nothing typed is lost. `separate` refuses when a
    held entry exists, so a member never gets an accidental twin row. Without a printing the entry gets the
    card's own (services.card_printings); one the card does not have is refused. A currency is checked
    whenever it is given, and stored only with a price.
    """
    quantity = check_quantity(quantity)
    price = check_money(price)
    currency = check_currency(currency)
    notes = notes.strip() or None if notes is not None else None
    condition = condition.upper()
    if condition not in CARD_CONDITIONS:
        raise InvalidInput(
            f"Condition must be one of {', '.join(CARD_CONDITIONS)}.", code="INVALID_CONDITION"
        )
    if strategy not in DUPLICATE_STRATEGIES:
        raise InvalidInput("Strategy must be 'increment' or 'separate'.", code="INVALID_STRATEGY")
    card = session.get(PokemonCard, card_id)
    if card is None:
        raise NotFound(
            f"Card {card_id!r} is not in the catalogue; search for it or sync its set first.",
            code="CARD_NOT_FOUND",
        )
    printing = choose_printing(f"{card.name} ({card.id})", printing, card_printings(session, card_id))
    this_card = _owned(owner_id).where(Item.kind == ItemKind.CARD, Item.pokemontcg_card_id == card_id)
    held = list(
        session.scalars(
            this_card.where(
                Item.grade == condition,
                Item.printing == printing,
                Item.language == language,
                Item.status.not_in(NOT_HELD_STATUSES),
            ).order_by(Item.id)
        )
    )
    if held and strategy == "separate":
        raise Conflict(
            f"You already have an entry for {card.name} ({condition}, {printing}): #{held[0].id}; nothing was "
            "added. Choose increment to add the copies to it (or, with a price paid, date or notes it does not "
            "have, to an entry of their own).",
            code="DUPLICATE_ENTRY",
        )
    for entry in held:
        if not _differing_details(entry, price, currency, acquired, notes):
            entry.quantity = check_quantity(readable_quantity(entry.quantity) + quantity)
            session.flush()
            return CardAdded(entry, created=False, added=quantity)
    item = add_item(
        session,
        owner_id,
        kind="card",
        title=f"{card.name} ({card.set.name} {card.number})",
        quantity=quantity,
        grade=condition,
        grade_code=condition,
        printing=printing,
        language=language,
        pokemontcg_card_id=card_id,
        acquired_price=price,
        acquired_currency=currency if price is not None else None,
        acquired_date=acquired,
        notes=notes,
    )
    wish_id = session.scalar(
        this_card.with_only_columns(Item.id).where(Item.status == ItemStatus.WISH).order_by(Item.id).limit(1)
    )
    return CardAdded(
        item,
        created=True,
        added=quantity,
        kept_apart_from=held[0].id if held else None,
        differing=_differing_details(held[0], price, currency, acquired, notes) if held else (),
        wish_id=wish_id,
    )


def update_item(session: Session, owner_id: int, item_id: int, expected_version: int, **changes: Any) -> Item:
    """Apply an edit made on version `expected_version`; refuse it if someone saved in between. Fields kept in
    ``details`` (services.item_fields.DETAIL_KEYS: a coin's face value, a record's artist...) are edited like
    columns; a card's or record's pricing grade follows its edited condition."""
    unknown = set(changes) - EDITABLE_COLUMNS - set(DETAIL_KEYS)
    if unknown:
        raise InvalidInput(
            f"These fields cannot be edited: {', '.join(sorted(unknown))}.", code="INVALID_FIELD"
        )
    detail_changes = {name: changes.pop(name) for name in list(changes) if name in DETAIL_KEYS}
    changes = check_fields(changes)
    item = get_item(session, owner_id, item_id)
    title = item.title  # read now: after a failed flush the session can no longer load it
    if item.version != expected_version:
        raise _stale(title)
    if detail_changes:
        changes["details"] = with_details(item, check_details(item.kind, detail_changes))
    if "grade" in changes and "grade_code" not in changes and item.kind in (ItemKind.CARD, ItemKind.RECORD):
        changes["grade_code"] = pricing_grade(item.kind, changes["grade"])
    if "printing" in changes and item.kind == "card" and item.pokemontcg_card_id:
        card_id = item.pokemontcg_card_id
        changes["printing"] = choose_printing(title, changes["printing"], card_printings(session, card_id))
    for name, value in changes.items():
        setattr(item, name, value)
    try:
        session.flush()
    except StaleDataError:
        raise _stale(title) from None
    return item


def _stale(title: str) -> StaleEdit:
    return StaleEdit(f"'{title}' was changed elsewhere since you opened it; reload it and apply your edit again.")


def delete_item(session: Session, owner_id: int, item_id: int) -> None:
    session.delete(get_item(session, owner_id, item_id))
    session.flush()


def find_items(session: Session, owner_id: int, text: str, *, limit: int = 25) -> list[Item]:
    """The owner's items whose title contains ``text`` or whose id it is ('#12'), for an item picker that
    reaches the whole collection, not only the page on screen."""
    if not text.strip():
        return []
    query = _owned(owner_id).where(_text_clause(text)).order_by(Item.kind, Item.title, Item.id).limit(limit)
    return list(session.scalars(query))


def bulk_update(
    session: Session,
    owner_id: int,
    item_ids: list[int],
    *,
    status: str | None = None,
    storage_location: str | None = None,
    add_tags: list[str] | None = None,
) -> int:
    """Set the status and/or storage of several items and add tags to them; returns how many changed.
    Each item is checked like a single edit (status validated, owner-scoped)."""
    changed = 0
    new_tags = [tag.strip() for tag in add_tags or [] if tag.strip()]
    for item_id in dict.fromkeys(item_ids):
        item = get_item(session, owner_id, item_id)
        changes: dict[str, Any] = {}
        if status:
            changes["status"] = status
        if storage_location is not None and storage_location.strip():
            changes["storage_location"] = storage_location.strip()
        if new_tags:
            merged = list(dict.fromkeys([*(item.tags or []), *new_tags]))
            if merged != (item.tags or []):
                changes["tags"] = merged
        if changes:
            update_item(session, owner_id, item_id, item.version, **changes)
            changed += 1
    return changed


def list_items_by_id(session: Session, owner_id: int, item_ids: list[int]) -> list[Item]:
    """The owner's items among ``item_ids`` (others' ids are simply not found)."""
    found: list[Item] = []
    for start in range(0, len(item_ids), 900):
        found.extend(session.scalars(_owned(owner_id).where(Item.id.in_(item_ids[start : start + 900]))))
    return found


def delete_items(session: Session, owner_id: int, item_ids: list[int]) -> int:
    for item_id in dict.fromkeys(item_ids):
        session.delete(get_item(session, owner_id, item_id))
    session.flush()
    return len(set(item_ids))


def sync_summary(session: Session, owner_id: int) -> dict[str, dict[str, int]]:
    """Counts per service and sync status of the owner's items that service can hold (coins → Numista,
    records → Discogs); items never pushed count as NOT_SYNCED."""
    summary: dict[str, dict[str, int]] = {}
    for kind, service in SYNC_SERVICE_FOR_KIND.items():
        status = func.coalesce(SyncLedger.status, SyncStatus.NOT_SYNCED.value)
        rows = session.execute(
            select(status, func.count())
            .select_from(Item)
            .outerjoin(SyncLedger, and_(SyncLedger.item_id == Item.id, SyncLedger.service == service))
            .where(Item.owner_id == owner_id, Item.kind == kind)
            .group_by(status)
        )
        counts = {status_name: count for status_name, count in rows}
        summary[service] = {name: counts.get(name, 0) for name in SYNC_STATUSES}
    return summary


def origin_summary(session: Session, owner_id: int) -> list[dict[str, Any]]:
    """How the owner's items arrived: counts per import source and kind (manual entries have no source)."""
    source = func.coalesce(Item.origin_source, "manual")
    rows = session.execute(
        select(source, Item.kind, func.count(), func.max(Item.created_at))
        .where(Item.owner_id == owner_id)
        .group_by(source, Item.kind)
        .order_by(source, Item.kind)
    )
    return [{"source": s, "kind": k, "items": n, "last added": last} for s, k, n, last in rows]
