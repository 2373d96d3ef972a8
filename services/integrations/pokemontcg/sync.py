"""Catalogue sync from pokemontcg.io v2: sets, cards and every price block, paged, resumable, cache-aware.

Why it is shaped like this:

* **Per set, per page, committed page by page.** A full sync is hundreds of requests (30 a minute without an
  API key). Each page is committed with its progress (`catalog_sync_state`: next page, total), so a sync
  stopped by the network, a rate limit, Ctrl-C or a closed browser tab continues at that page next time.
* **Fresh data costs no call.** The set list and each set's cards carry `expires_at`; a run skips what has
  not expired (unless `force`). Prices change daily, so cards expire after a day, the set list after a week.
* **Failures are data, not crashes.** A service error is recorded on the set's state row and reported; the
  catalogue already stored keeps being served (pages show it with a stale banner).
* **Prices are dated observations.** Every tcgplayer/cardmarket figure becomes a price observation dated by
  the block's `updatedAt`; an observation already recorded for that date is not stored twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from services.accounts.connections import read_secret
from services.accounts.vault import Vault, VaultError
from services.config import Settings
from services.errors import NotFound
from services.http import BadRequestError, NotFoundError, ServiceClient, ServiceError, pokemontcg_client
from services.integrations.pokemontcg.catalog import SOURCE, upsert_cards, upsert_sets
from services.integrations.pokemontcg.prices import price_rows
from services.pricing import Observation, record_observations
from services.states import CatalogSyncStatus
from services.store.db import session_scope
from services.store.models import Item, LatestPrice, PokemonCard, PokemonSet, utcnow
from services.store.models_cards import CatalogSyncState

PAGE_SIZE = 250  # the API's maximum
CARD_TTL = timedelta(days=1)  # prices move daily
SET_LIST_TTL = timedelta(days=7)
SETS_KEY = "sets"
# Fields a card page asks for: `select` drops the embedded set object (the query already names the set),
# which is most of each card's bytes.
CARD_FIELDS = "id,name,number,supertype,subtypes,types,rarity,artist,images,tcgplayer,cardmarket"


def set_key(set_id: str) -> str:
    return f"set:{set_id}"


def stored_api_key(session: Session, vault: Vault, owner_id: int) -> str | None:
    """The user's own pokemontcg.io key (Connections page), if any; an unreadable one counts as none
    (the sync then runs keyless, at the lower rate limit, rather than failing)."""
    try:
        return read_secret(session, vault, owner_id, SOURCE)
    except VaultError:
        return None


@dataclass(frozen=True)
class SyncProgress:
    """What a sync is doing now, for a progress bar (`fraction`) and a one-line status (`message`)."""

    phase: str  # "sets", "cards", "done"
    sets_done: int
    sets_total: int
    set_id: str | None = None
    page: int = 0
    pages: int | None = None
    cards: int = 0
    message: str = ""

    @property
    def fraction(self) -> float:
        if self.phase == "done" or self.sets_total == 0:
            return 1.0 if self.phase == "done" else 0.0
        within = (self.page / self.pages) if self.pages else 0.0
        return min(1.0, (self.sets_done + within) / self.sets_total)


ProgressCallback = Callable[[SyncProgress], None]


@dataclass
class SyncReport:
    """What one run did; `to_json` is the `catalog sync pokemon --json` document."""

    sets: int = 0
    cards: int = 0
    prices: int = 0
    requests: int = 0
    synced_sets: list[str] = field(default_factory=list)
    fresh_sets: list[str] = field(default_factory=list)
    resumed_sets: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    stopped: bool = False
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return not self.errors and not self.stopped

    def to_json(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "sets": self.sets,
            "cards": self.cards,
            "prices": self.prices,
            "requests": self.requests,
            "syncedSets": self.synced_sets,
            "freshSets": self.fresh_sets,
            "resumedSets": self.resumed_sets,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
        }




def _state(session: Session, key: str) -> CatalogSyncState:
    row = session.get(CatalogSyncState, (SOURCE, key))
    if row is None:
        row = CatalogSyncState(source=SOURCE, key=key, status=CatalogSyncStatus.PENDING, next_page=1, revision=0)
        session.add(row)
    return row


def _is_fresh(row: CatalogSyncState | None, now: datetime) -> bool:
    expires = row.expires_at if row is not None else None
    return row is not None and row.status == CatalogSyncStatus.COMPLETE and expires is not None and expires > now


def _page(client: ServiceClient, path: str, params: dict[str, Any], report: SyncReport) -> dict[str, Any]:
    report.requests += 1
    payload = client.get_json(path, params=params)
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise ServiceError(
            "pokemontcg.io answered with an unexpected document (no data list).", service="pokemontcg"
        )
    return payload


def _done(payload: dict[str, Any], page: int) -> bool:
    size = int(payload.get("pageSize") or PAGE_SIZE)
    total = payload.get("totalCount")
    if not payload["data"]:
        return True
    return total is not None and page * size >= int(total)


def _record_failure(engine: Engine, key: str, error: ServiceError, next_page: int | None = None) -> None:
    with session_scope(engine) as session:
        state = _state(session, key)
        state.status, state.last_error = CatalogSyncStatus.FAILED, error.message
        if next_page is not None:
            state.next_page = next_page


def _sync_set_list(
    engine: Engine, client: ServiceClient, report: SyncReport, now: datetime, set_ttl: timedelta
) -> None:
    page = 1
    try:
        while True:
            payload = _page(client, "/sets", {"page": page, "pageSize": PAGE_SIZE, "orderBy": "releaseDate"}, report)
            with session_scope(engine) as session:
                report.sets += upsert_sets(session, payload["data"], expires_at=now + set_ttl)
            if _done(payload, page):
                break
            page += 1
    except ServiceError as error:
        _record_failure(engine, SETS_KEY, error)
        raise
    with session_scope(engine) as session:
        state = _state(session, SETS_KEY)
        state.status, state.next_page, state.total_count = CatalogSyncStatus.COMPLETE, 1, report.sets
        state.fetched_at, state.expires_at, state.last_error = now, now + set_ttl, None


def _record_prices(session: Session, cards: list[dict[str, Any]]) -> int:
    """Dated observations for a page of cards, minus those already recorded for the same date and value."""
    ids = [card["id"] for card in cards]
    latest = {  # plain rows, not objects: a page's few thousand prices cost no identity map
        (ref_id, source, variant, metric): (observed_at, value)
        for ref_id, source, variant, metric, observed_at, value in session.execute(
            select(LatestPrice.ref_id, LatestPrice.source, LatestPrice.variant, LatestPrice.metric,
                   LatestPrice.observed_at, LatestPrice.value).where(
                LatestPrice.ref_kind == SOURCE,
                LatestPrice.ref_id.in_(ids),
                LatestPrice.source.in_(("tcgplayer", "cardmarket")),
            )
        )
    }  # fmt: skip
    now = utcnow()
    observations = []
    for card in cards:
        for source, variant, metric, currency, value, observed_at in price_rows(card):
            when = observed_at or now
            seen = latest.get((card["id"], source, variant, metric))
            if seen is not None and seen[0] == when and Decimal(seen[1]) == value:
                continue
            observations.append(Observation(SOURCE, card["id"], source, variant, metric, currency, value, when))
    return record_observations(session, observations)


def _sync_set_cards(
    engine: Engine,
    client: ServiceClient,
    card_set: PokemonSet,
    report: SyncReport,
    progress: ProgressCallback,
    position: tuple[int, int],
    card_ttl: timedelta,
) -> None:
    """One set's card pages, each page with its progress in a unit of work of its own, so a sync stopped by
    the network, a rate limit or a closed tab continues at that page next time."""
    key = set_key(card_set.id)
    with session_scope(engine) as session:
        state = _state(session, key)
        resumable = state.status in (CatalogSyncStatus.PARTIAL, CatalogSyncStatus.FAILED) and state.next_page > 1
        page = state.next_page if resumable else 1
        total_count = state.total_count
    if page > 1:
        report.resumed_sets.append(card_set.id)
    done, total = position
    while True:
        pages = -(-total_count // PAGE_SIZE) if total_count else None
        progress(
            SyncProgress(
                "cards", done, total, card_set.id, page - 1, pages, report.cards,
                f"{card_set.name}: page {page}{f' of {pages}' if pages else ''}",
            )
        )  # fmt: skip
        params = {"q": f"set.id:{card_set.id}", "page": page, "pageSize": PAGE_SIZE, "orderBy": "number",
                  "select": CARD_FIELDS}  # fmt: skip
        try:
            payload = _page(client, "/cards", params, report)
        except ServiceError as error:
            _record_failure(engine, key, error, next_page=page)
            raise
        cards = payload["data"]
        total_count = int(payload.get("totalCount") or len(cards))
        finished = _done(payload, page)
        with session_scope(engine) as session:
            report.cards += upsert_cards(session, card_set.id, cards, expires_at=utcnow() + card_ttl)
            report.prices += _record_prices(session, cards)
            state = _state(session, key)
            state.total_count, state.fetched_at, state.last_error = total_count, utcnow(), None
            if finished:
                state.status, state.next_page = CatalogSyncStatus.COMPLETE, 1
                state.expires_at = state.fetched_at + card_ttl
            else:
                state.status, state.next_page = CatalogSyncStatus.PARTIAL, page + 1
        if finished:
            report.synced_sets.append(card_set.id)
            return
        page += 1


def sync_pokemon(
    engine: Engine,
    client: ServiceClient,
    *,
    set_ids: Iterable[str] | None = None,
    force: bool = False,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
    card_ttl: timedelta = CARD_TTL,
    set_ttl: timedelta = SET_LIST_TTL,
) -> SyncReport:
    """Bring the catalogue (all sets, or `set_ids`) up to date; see the module docstring.

    A long job: it takes the engine and commits each page in a unit of work of its own (the caller holds no
    transaction open across it). Raises NotFound (before any card request) for a set id the API does not
    list; every service failure is returned in the report instead of raised.
    """
    started = time.monotonic()
    report = SyncReport()
    notify = progress or (lambda _progress: None)
    now = now or utcnow()
    wanted = list(dict.fromkeys(s.strip() for s in (set_ids or ()) if s.strip()))
    with session_scope(engine) as session:
        known = set(session.scalars(select(PokemonSet.id)))
        list_is_fresh = _is_fresh(session.get(CatalogSyncState, (SOURCE, SETS_KEY)), now)
    if force or not list_is_fresh or any(s not in known for s in wanted):
        notify(SyncProgress("sets", 0, max(len(wanted), 1), message="Fetching the set list"))
        try:
            _sync_set_list(engine, client, report, now, set_ttl)
        except ServiceError as error:
            # Whatever stopped the set list (down, limited, refused) would stop the card pages too; what is
            # stored keeps being served.
            report.errors.append({"set": SETS_KEY, "reason": error.message})
            report.stopped = True
            report.seconds = time.monotonic() - started
            return report
    with session_scope(engine) as session:
        unknown = [s for s in wanted if session.get(PokemonSet, s) is None]
        if unknown:
            raise NotFound(f"pokemontcg.io has no set {', '.join(unknown)}.", code="SET_NOT_FOUND")
        query = select(PokemonSet).order_by(PokemonSet.release_date, PokemonSet.id)
        if wanted:
            by_id = {s.id: s for s in session.scalars(query.where(PokemonSet.id.in_(wanted)))}
            targets = [by_id[s] for s in wanted]
        else:
            targets = list(session.scalars(query))
        states = {
            row.key: row
            for row in session.scalars(select(CatalogSyncState).where(CatalogSyncState.source == SOURCE))
        }
    for index, card_set in enumerate(targets):
        if not force and _is_fresh(states.get(set_key(card_set.id)), now):
            report.fresh_sets.append(card_set.id)
            continue
        try:
            _sync_set_cards(engine, client, card_set, report, notify, (index, len(targets)), card_ttl)
        except (NotFoundError, BadRequestError) as error:
            report.errors.append({"set": card_set.id, "reason": error.message})  # this set only
        except ServiceError as error:
            # Down, rate-limited, refused credentials: the next set would fail the same way.
            report.errors.append({"set": card_set.id, "reason": error.message})
            report.stopped = True
            break
    notify(SyncProgress("done", len(targets), len(targets), cards=report.cards, message="Done"))
    report.seconds = time.monotonic() - started
    return report


def owned_set_ids(session: Session, owner_id: int) -> list[str]:
    """Sets the owner holds cards of: what `prices refresh --kind card` needs to sync (fresh ones cost nothing)."""
    return list(
        session.scalars(
            select(PokemonCard.set_id)
            .join(Item, Item.pokemontcg_card_id == PokemonCard.id)
            .where(Item.owner_id == owner_id, Item.kind == "card")
            .distinct()
            .order_by(PokemonCard.set_id)
        )
    )


@dataclass(frozen=True)
class CatalogueStatus:
    """How current the stored catalogue is, for the stale banner on the pages and `catalog sync` output."""

    sets: int
    cards: int
    synced_sets: int
    last_synced_at: datetime | None
    stale_sets: list[str]
    unfinished_sets: list[str]
    last_error: str | None

    @property
    def offline_only(self) -> bool:
        """Nothing was ever synced: the shipped snapshot (no prices) is all there is."""
        return self.synced_sets == 0

    @property
    def stale(self) -> bool:
        return bool(self.stale_sets)

    def banner(self) -> tuple[str, str] | None:
        """(level, text) for the pages, or None when all is current. Level is "info" or "warning"."""
        if self.last_error and (self.unfinished_sets or self.offline_only):
            return (
                "warning",
                f"The last catalogue sync did not finish: {self.last_error} Showing the cards stored so far; "
                "sync again to continue where it stopped.",
            )
        if self.offline_only:
            return (
                "info",
                "Offline catalogue: cards and sets from the snapshot shipped with Vitrine, without live market "
                "prices (only the demo collection's sample prices, once loaded). Sync with pokemontcg.io to get "
                "current cards and prices.",
            )
        if self.stale:
            when = self.last_synced_at.strftime("%Y-%m-%d %H:%M UTC") if self.last_synced_at else "a while ago"
            return (
                "warning",
                f"Catalogue data may be out of date: {len(self.stale_sets)} set(s) were last synced before "
                f"their refresh time (latest sync {when}). Prices shown are from then.",
            )
        return None


def catalogue_status(session: Session, now: datetime | None = None) -> CatalogueStatus:
    """Counts and freshness of the Pokémon catalogue, from the sync-state rows."""
    now = now or utcnow()
    rows = list(
        session.scalars(
            select(CatalogSyncState).where(
                CatalogSyncState.source == SOURCE, CatalogSyncState.key.like("set:%")
            )
        )
    )
    complete = [r for r in rows if r.status == CatalogSyncStatus.COMPLETE]
    stale = sorted(r.key[4:] for r in complete if (r.expires_at or now) <= now)
    unfinished = sorted(r.key[4:] for r in rows if r.status in (CatalogSyncStatus.PARTIAL, CatalogSyncStatus.FAILED))
    errored = [r for r in [*rows, session.get(CatalogSyncState, (SOURCE, SETS_KEY))] if r and r.last_error]
    errored.sort(key=lambda r: r.updated_at or now)
    last_sync = max((r.fetched_at for r in complete if r.fetched_at), default=None)
    return CatalogueStatus(
        sets=session.scalar(select(func.count()).select_from(PokemonSet)) or 0,
        cards=session.scalar(select(func.count()).select_from(PokemonCard)) or 0,
        synced_sets=len(complete),
        last_synced_at=last_sync,
        stale_sets=stale,
        unfinished_sets=unfinished,
        last_error=errored[-1].last_error if errored else None,
    )


def sync_pokemon_for_user(
    engine: Engine,
    settings: Settings,
    vault: Vault,
    owner_id: int,
    *,
    set_ids: Iterable[str] | None = None,
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> SyncReport:
    """`sync_pokemon` with the user's own key (Connections page) or the instance's, as pages and the CLI run it."""
    with session_scope(engine) as session:
        key = stored_api_key(session, vault, owner_id) or settings.pokemontcg_api_key
    with pokemontcg_client(settings, api_key=key) as client:
        return sync_pokemon(engine, client, set_ids=set_ids, force=force, progress=progress)
