"""Exporting coins to a Numista collection: the plan (what each coin becomes, skipped or why), starting the
job, and the pusher the worker calls for every row.

Idempotency (Numista never deduplicates a POST, notes/numista.md §3.9): a POST that failed with a 5xx, a
timeout or a dropped connection, or whose worker died before recording the answer, may have created the
item anyway. Such a row comes back as ``retry`` and is *reconciled* before anything is sent again: the
user's remote collection (``GET /users/{id}/collected_items``, unpaginated: one call) is read once per job
and worker and searched for the ``internal_id`` we sent (``vitrine:<install id>:<item id>``, see
services.sync.markers; without internal ids, for an unmarked item of the same type, issue, grade and price).
The read is repeated only when a retry's earlier attempt ended after the last read, so a normal push costs
one call per coin plus a token now and then.

Never touching what another installation (or the user) made: a match must carry exactly our marker (a
legacy ``vitrine:<item id>`` only with our own outbox's word for it) and have the coin's type; an update
PATCHes only the remote item the ledger recorded, and only while its type and marker are still the coin's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.orm import Session

from services.accounts.vault import Vault
from services.collection import ItemFilter, get_item, items_of_kind, list_items
from services.config import Settings
from services.context import AppContext
from services.errors import InvalidInput
from services.grades import GradeMapper
from services.http import (
    AuthError,
    BadRequestError,
    NotFoundError,
    QuotaExceededError,
    RateLimitedError,
    ServiceError,
)
from services.integrations.numista.api import NumistaApi
from services.integrations.numista.grade_overrides import grade_overrides
from services.integrations.numista.item_mapping import (
    ExportOptions,
    FieldChange,
    MappedCoin,
    field_changes,
    find_remote_matches,
    map_coin,
    not_ours_to_change,
    patch_body,
    payload_hash,
    validate_collected_item,
)
from services.states import ON_SYNCED, ItemKind, RowAction, RowStatus, SyncStatus
from services.store.db import session_scope
from services.store.models import Item, JobItem, SyncLedger, User, utcnow
from services.store.models_sync import SyncItemOption, SyncPreference
from services.sync import engine as jobs
from services.sync import markers
from services.sync.engine import Claim, Outcome, PlannedRow
from services.sync.worker import JobInfo, JobPaused

log = logging.getLogger("services.integrations.numista.pusher")

SERVICE = "numista"
ACTIONS_ALLOWED = (RowAction.CREATE.value, *ON_SYNCED)
DEFAULT_PREFERENCES: dict[str, Any] = {
    "collection": None, "collection_name": None, "use_internal_id": True, "on_synced": RowAction.SKIP,
}  # fmt: skip


# ------------------------------------------------------------------------------------------ preferences
def get_preferences(session: Session, owner_id: int, service: str = SERVICE) -> dict[str, Any]:
    """The user's remembered export choices (target collection, internal ids, already-synced policy)."""
    row = session.get(SyncPreference, (owner_id, service))
    return {**DEFAULT_PREFERENCES, **((row.settings or {}) if row is not None else {})}


def save_preferences(session: Session, owner_id: int, service: str = SERVICE, **changes: Any) -> dict[str, Any]:
    unknown = set(changes) - set(DEFAULT_PREFERENCES)
    if unknown:
        raise InvalidInput(f"Unknown export settings: {', '.join(sorted(unknown))}.", code="INVALID_SETTING")
    if "on_synced" in changes and changes["on_synced"] not in ON_SYNCED:
        raise InvalidInput(f"Already-synced coins: choose one of {', '.join(ON_SYNCED)}.", code="INVALID_SETTING")
    row = session.get(SyncPreference, (owner_id, service))
    if row is None:
        row = SyncPreference(owner_id=owner_id, service=service, settings={})
        session.add(row)
    row.settings = {**(row.settings or {}), **changes}
    session.flush()
    return get_preferences(session, owner_id, service)


def item_options(session: Session, item_ids: Iterable[int], service: str = SERVICE) -> dict[int, dict[str, Any]]:
    """Per-coin export options (grade override, for swap) of items the caller fetched owner-scoped."""
    ids = list(item_ids)
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 900):
        query = select(SyncItemOption).where(
            SyncItemOption.service == service, SyncItemOption.item_id.in_(ids[start : start + 900])
        )
        found.update({row.item_id: dict(row.options or {}) for row in session.scalars(query)})
    return found


def set_item_options(session: Session, owner_id: int, item_id: int, service: str = SERVICE, **options: Any) -> None:
    """Set (or with None, remove) per-coin export options: ``grade`` (g..unc) and ``for_swap`` (bool)."""
    get_item(session, owner_id, item_id)  # owner check
    if options.get("grade") not in (None, "g", "vg", "f", "vf", "xf", "au", "unc"):
        raise InvalidInput("A grade override is one of g, vg, f, vf, xf, au, unc.", code="INVALID_GRADE")
    row = session.get(SyncItemOption, (item_id, service))
    current = dict(row.options or {}) if row is not None else {}
    for name, value in options.items():
        if name not in ("grade", "for_swap"):
            raise InvalidInput(f"Unknown export option {name!r}.", code="INVALID_SETTING")
        if value is None:
            current.pop(name, None)
        else:
            current[name] = bool(value) if name == "for_swap" else value
    if row is None:
        session.add(SyncItemOption(item_id=item_id, service=service, options=current))
    else:
        row.options = current
    session.flush()


# ------------------------------------------------------------------------------------------ the plan
@dataclass(frozen=True)
class PlannedCoin:
    """One selected coin in the wizard's review, the CLI's dry run and the job's rows."""

    mapped: MappedCoin
    action: RowAction
    reason: str | None = None  # why it is skipped
    sync_status: SyncStatus = SyncStatus.NOT_SYNCED
    remote_id: str | None = None
    changes: list[FieldChange] = field(default_factory=list)  # update: against what Numista last returned
    reconcile: bool = False

    @property
    def item_id(self) -> int:
        return self.mapped.item_id

    def to_json(self) -> dict[str, Any]:
        """A dry-run row: the export document's item fields plus the exact body and the omissions."""
        return {
            "id": self.item_id,
            "status": RowStatus.SKIPPED.document_status if self.action == RowAction.SKIP else SyncStatus.QUEUED,
            "remoteId": self.remote_id, "error": self.reason, "action": self.action,
            "payload": self.mapped.payload, "omitted": self.mapped.omitted,
            "changes": [{"field": c.field, "numista": c.numista, "vitrine": c.vitrine} for c in self.changes],
        }  # fmt: skip


def export_options(
    session: Session, owner_id: int, *, collection_id: int | None = None, use_internal_id: bool | None = None
) -> ExportOptions:
    """Options for this user: their currency and grade overrides, the chosen (else remembered) collection."""
    user = session.get(User, owner_id)
    preferences = get_preferences(session, owner_id)
    return ExportOptions(
        currency=(user.currency if user is not None else None) or "EUR",
        collection_id=collection_id if collection_id is not None else preferences["collection"],
        use_internal_id=preferences["use_internal_id"] if use_internal_id is None else use_internal_id,
        grade_overrides=grade_overrides(session, owner_id),
        install_id=markers.install_id(session),
    )


def selectable_coins(session: Session, owner_id: int, item_ids: Iterable[int] | None = None) -> list[Item]:
    """The owner's coins (all, or the given ids; other owners' ids are silently not found)."""
    return items_of_kind(session, owner_id, "coin", item_ids)


@dataclass(frozen=True)
class ExportCandidate:
    """A coin as the export wizard lists it: where it stands on Numista and its per-coin export options."""

    item_id: int
    title: str
    grade: str | None
    status: str
    numista_type_id: int | None
    sync: SyncStatus
    linked: bool  # already linked to a Numista item (skip / copy / update applies)
    grade_override: str | None
    for_swap: bool


def export_candidates(session: Session, owner_id: int, filters: ItemFilter) -> list[ExportCandidate]:
    """The owner's coins matching ``filters`` (the Collection page's SQL filters, kind forced to coin)."""
    coins = list_items(session, owner_id, replace(filters, kind=ItemKind.COIN))
    ids = [coin.id for coin in coins]
    ledger = jobs.ledger_rows(session, SERVICE, ids)
    options = item_options(session, ids)
    candidates = []
    for coin in coins:
        entry, own = ledger.get(coin.id), options.get(coin.id, {})
        candidates.append(
            ExportCandidate(
                coin.id, coin.title, coin.grade, coin.status, coin.numista_type_id,
                SyncStatus(entry.status) if entry is not None else SyncStatus.NOT_SYNCED,
                entry is not None and entry.remote_id is not None, own.get("grade"), bool(own.get("for_swap")),
            )
        )  # fmt: skip
    return candidates


def plan_export(
    session: Session,
    owner_id: int,
    item_ids: Iterable[int] | None,
    options: ExportOptions,
    *,
    on_synced: str = RowAction.SKIP,
    actions: Mapping[int, str] | None = None,
) -> list[PlannedCoin]:
    """What an export of these coins would do, without calling Numista: the exact body per coin, what is
    left out and why, and for coins already on Numista the chosen action (skip, add a copy, update)."""
    if on_synced not in ON_SYNCED:
        raise InvalidInput(f"Already-synced coins: choose one of {', '.join(ON_SYNCED)}.", code="INVALID_SETTING")
    wanted = None if item_ids is None else list(item_ids)
    items = selectable_coins(session, owner_id, wanted)
    if wanted is not None:
        missing = set(wanted) - {item.id for item in items}
        if missing:
            raise InvalidInput(f"Not coins of yours: {', '.join(map(str, sorted(missing)))}.", code="ITEM_NOT_FOUND")
    ledger = jobs.ledger_rows(session, SERVICE, [item.id for item in items])
    per_item = item_options(session, [item.id for item in items])
    mapper = GradeMapper(options.grade_overrides)
    copy_options = replace(options, copy_tag="job")
    plan: list[PlannedCoin] = []
    for item in items:
        entry = ledger.get(item.id)
        status = SyncStatus(entry.status) if entry is not None else SyncStatus.NOT_SYNCED
        remote_id = entry.remote_id if entry is not None else None
        asked = (actions or {}).get(item.id) or (on_synced if remote_id else RowAction.CREATE)
        if asked not in ACTIONS_ALLOWED:
            raise InvalidInput(f"Unknown action {asked!r} for item {item.id}.", code="INVALID_SETTING")
        action = RowAction(asked)
        if remote_id and action == RowAction.CREATE:
            action = RowAction.COPY  # a coin already on Numista is only added again deliberately, as a copy
        elif not remote_id and action in (RowAction.COPY, RowAction.UPDATE):
            action = RowAction.CREATE
        mapped = map_coin(
            item, copy_options if action == RowAction.COPY else options, per_item.get(item.id), mapper=mapper
        )
        if mapped.excluded or mapped.problems:
            reason = mapped.excluded or "cannot be sent: " + "; ".join(mapped.problems)
            plan.append(PlannedCoin(mapped, RowAction.SKIP, reason, status, remote_id))
            continue
        if remote_id and action == RowAction.SKIP:
            plan.append(PlannedCoin(mapped, RowAction.SKIP, f"already on Numista (#{remote_id})", status, remote_id))
        elif remote_id and action == RowAction.UPDATE:
            assert mapped.payload is not None
            last_seen = entry.remote_data if entry is not None else None
            foreign = not_ours_to_change(mapped.payload, last_seen, item.id)
            if foreign:
                plan.append(PlannedCoin(mapped, RowAction.SKIP, foreign, status, remote_id))
            elif entry is not None and entry.payload_hash == payload_hash(mapped.payload):
                plan.append(PlannedCoin(mapped, RowAction.SKIP, "unchanged since the last push", status, remote_id))
            else:
                changes = field_changes(mapped.payload, last_seen)
                plan.append(PlannedCoin(mapped, RowAction.UPDATE, None, status, remote_id, changes))
        elif remote_id and action == RowAction.COPY:
            plan.append(PlannedCoin(mapped, RowAction.COPY, None, status, remote_id))
        else:
            plan.append(
                PlannedCoin(
                    mapped,
                    RowAction.CREATE,
                    None,
                    status,
                    None,
                    reconcile=status in (SyncStatus.QUEUED, SyncStatus.FAILED),
                )
            )
    return plan


def quota_cost(plan: Iterable[PlannedCoin]) -> int:
    """Numista calls the plan will spend at most: one per push, one read of the collection when an update
    or a reconciliation needs it, one token (if the stored one has expired)."""
    rows = list(plan)
    pushes = sum(1 for row in rows if row.action != RowAction.SKIP)
    if not pushes:
        return 0
    needs_read = any(row.action == RowAction.UPDATE or row.reconcile for row in rows)
    return pushes + int(needs_read) + 1


def plan_summary(plan: Iterable[PlannedCoin]) -> dict[str, int]:
    counts = {action.value: 0 for action in RowAction}
    for row in plan:
        counts[row.action] += 1
    return counts


def dry_run_document(plan: list[PlannedCoin]) -> dict[str, Any]:
    """The export document of a dry run: nothing queued, nothing sent."""
    skipped = sum(1 for row in plan if row.action == RowAction.SKIP)
    return {
        "job": None, "status": "dry-run",
        "counts": {"synced": 0, "duplicate": 0, "failed": 0, "skipped": skipped, "queued": len(plan) - skipped},
        "quotaCost": quota_cost(plan), "items": [row.to_json() for row in plan],
    }  # fmt: skip


def start_export(
    session: Session,
    owner_id: int,
    plan: list[PlannedCoin],
    options: ExportOptions,
    *,
    on_synced: str = RowAction.SKIP,
    remember: bool = True,
    collection_name: str | None = None,
) -> int:
    """Queue the plan as a job (the worker pushes it); remembers the choices for next time. Returns the job id."""
    rows = [
        PlannedRow(row.item_id, row.action, row.reason, row.reconcile, row.remote_id) for row in plan
    ]  # fmt: skip
    params = {
        "currency": options.currency, "collection": options.collection_id,
        "use_internal_id": options.use_internal_id, "on_synced": on_synced,
    }  # fmt: skip
    if remember:
        changes: dict[str, Any] = {"use_internal_id": options.use_internal_id, "on_synced": on_synced}
        if options.collection_id is not None:
            changes["collection"] = options.collection_id
            if collection_name is not None:
                changes["collection_name"] = collection_name
        save_preferences(session, owner_id, **changes)
    job = jobs.create_job(session, owner_id, SERVICE, rows, params)
    return job.id


# ------------------------------------------------------------------------------------------ the pusher
_ITEM_FOR_PUSH = select(
    Item.id, Item.owner_id, Item.kind, Item.title, Item.status, Item.quantity, Item.grade, Item.grade_code,
    Item.numista_type_id, Item.numista_issue_id, Item.acquired_price, Item.acquired_currency, Item.acquired_date,
    Item.acquired_place, Item.storage_location, Item.notes, Item.details,
).where(Item.id == bindparam("item"))  # fmt: skip
_LINKED_REMOTE = select(SyncLedger.remote_id).where(
    SyncLedger.item_id == bindparam("item"), SyncLedger.service == SERVICE
)


class NumistaPusher:
    """Pusher factory for the worker: ``pushers={"numista": NumistaPusher(engine, settings, vault)}``."""

    service = SERVICE

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        vault: Vault,
        *,
        settle_seconds: float = 5.0,
        api_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.vault = vault
        self.settle_seconds = settle_seconds
        self.api_options = dict(api_options or {})

    def __call__(self, job: JobInfo) -> NumistaPushSession:
        api = NumistaApi(self.settings, self.engine, self.vault, job.owner_id, **self.api_options)
        return NumistaPushSession(self.engine, api, job, settle_seconds=self.settle_seconds)


def pushers_for(context: AppContext, *, settle_seconds: float) -> dict[str, NumistaPusher]:
    """The worker's Numista pusher (registered in services.integrations.registry)."""
    return {SERVICE: NumistaPusher(context.engine, context.settings, context.vault, settle_seconds=settle_seconds)}


class NumistaPushSession:
    """Pushes one job's rows for one worker; holds the API client and the job's view of the remote."""

    def __init__(self, engine: Engine, api: NumistaApi, job: JobInfo, *, settle_seconds: float = 5.0) -> None:
        self.engine = engine
        self.api = api
        self.job = job
        self.settle_seconds = settle_seconds
        params = job.params
        with session_scope(engine) as session:
            overrides = grade_overrides(session, job.owner_id)
            install = markers.install_id(session)
        self.options = ExportOptions(
            currency=params.get("currency") or "EUR",
            collection_id=params.get("collection"),
            use_internal_id=bool(params.get("use_internal_id", True)),
            grade_overrides=overrides,
            install_id=install,
        )
        self.copy_options = replace(self.options, copy_tag=f"job{job.id}")
        self.actions: dict[str, str] = dict(params.get("actions") or {})
        with session_scope(engine) as session:  # per-coin options of the job's items, read once
            job_items = select(JobItem.item_id).where(JobItem.job_id == job.id)
            self.item_options = {
                row.item_id: dict(row.options or {})
                for row in session.scalars(
                    select(SyncItemOption).where(
                        SyncItemOption.service == SERVICE, SyncItemOption.item_id.in_(job_items)
                    )
                )
            }
        self.mapper = GradeMapper(overrides)
        self.remote: dict[str, dict[str, Any]] | None = None  # remote id → collected item
        self.remote_read_at: datetime | None = None
        self.linked: set[str] = set()  # remote ids already linked to one of the owner's coins
        self.remote_reads = 0

    def close(self) -> None:
        self.api.close()

    # -- the remote collection, read once per job -------------------------------------------------
    def _remote_items(self, claim: Claim) -> dict[str, dict[str, Any]]:
        """The remote collection as of a moment after `claim`'s earlier attempt had settled."""
        fresh_enough = (
            self.remote is not None
            and self.remote_read_at is not None
            and (
                claim.last_attempt_end is None
                or self.remote_read_at >= claim.last_attempt_end + timedelta(seconds=self.settle_seconds)
            )
        )
        if fresh_enough:
            assert self.remote is not None
            return self.remote
        # One read should serve every retry waiting now: wait (at most `settle`) until the latest of their
        # earlier attempts has settled too, instead of reading again for each of them.
        with session_scope(self.engine) as session:
            latest = session.scalar(
                select(func.max(JobItem.updated_at)).where(
                    JobItem.job_id == self.job.id, JobItem.status == RowStatus.RETRY
                )
            )
        ends = [moment for moment in (latest, claim.last_attempt_end) if moment is not None]
        if ends:
            wait = (max(ends) + timedelta(seconds=self.settle_seconds) - utcnow()).total_seconds()
            if wait > 0:
                time.sleep(min(wait, self.settle_seconds))
        started = utcnow()
        data = self.api.list_collected_items()
        self.remote_reads += 1
        self.remote = {str(item["id"]): item for item in data.get("items", []) if "id" in item}
        self.remote_read_at = started
        with session_scope(self.engine) as session:
            linked = session.scalars(
                select(SyncLedger.remote_id)
                .join(Item, Item.id == SyncLedger.item_id)
                .where(Item.owner_id == self.job.owner_id, SyncLedger.service == SERVICE)
                .where(SyncLedger.remote_id.is_not(None))
            )
            copies = session.scalars(
                select(JobItem.remote_id).where(JobItem.job_id == self.job.id, JobItem.remote_id.is_not(None))
            )
            self.linked = {str(value) for value in (*linked, *copies)}
        return self.remote

    def _remember(self, remote_item: Mapping[str, Any]) -> None:
        if self.remote is not None and "id" in remote_item:
            self.remote[str(remote_item["id"])] = dict(remote_item)
        if "id" in remote_item:
            self.linked.add(str(remote_item["id"]))

    # -- one row ---------------------------------------------------------------------------------
    def push(self, claim: Claim) -> Outcome:
        with self.engine.connect() as connection:
            item = connection.execute(_ITEM_FOR_PUSH, {"item": claim.item_id}).first()
            if item is None or item.owner_id != claim.owner_id:
                return Outcome(RowStatus.SKIPPED, error="the item no longer exists")
            action = RowAction(self.actions.get(str(item.id), RowAction.CREATE))
            linked_id = None
            if action == RowAction.UPDATE:
                linked_id = connection.scalar(_LINKED_REMOTE, {"item": item.id})
        options = self.copy_options if action == RowAction.COPY else self.options
        mapped = map_coin(item, options, self.item_options.get(item.id), mapper=self.mapper)
        if mapped.excluded:
            return Outcome(RowStatus.SKIPPED, error=mapped.excluded)
        if mapped.problems or mapped.payload is None:
            return Outcome(
                RowStatus.FAILED, error="not sent, the body breaks Numista's schema: " + "; ".join(mapped.problems)
            )
        payload = mapped.payload
        try:
            if action == RowAction.UPDATE and linked_id:
                return self._update(claim, payload, linked_id)
            return self._create(claim, payload, link=action != RowAction.COPY, copy_tag=options.copy_tag)
        except QuotaExceededError as error:
            raise JobPaused(f"{error.message} The export is paused; resume it once calls are available.") from None
        except AuthError as error:
            raise JobPaused(f"{error.message} The export is paused; resume it after reconnecting.") from None
        except RateLimitedError as error:  # refused without acting: send again later
            return Outcome(claim.previous_status, error=error.message, refund=True)
        except BadRequestError as error:  # refused without acting, and sending it again will not help
            return Outcome(RowStatus.FAILED, error=error.message)
        except ServiceError as error:  # 5xx, timeout, dropped connection: it may have been created
            return Outcome(RowStatus.RETRY, error=error.message)

    def _create(self, claim: Claim, payload: dict[str, Any], *, link: bool, copy_tag: str | None = None) -> Outcome:
        digest = payload_hash(payload)
        if claim.needs_reconcile:
            remote = self._remote_items(claim)
            also_ours = self._legacy_markers(claim, payload, copy_tag)
            matches = find_remote_matches(payload, remote.values(), exclude_ids=self.linked, also_ours=also_ours)
            if matches:
                match = matches[0]
                self._remember(match)
                if payload.get("internal_id"):
                    log.info("job %s item %s: found on Numista as #%s; not sent again", claim.job_id,
                             claim.item_id, match["id"])  # fmt: skip
                    if len(matches) > 1:
                        return Outcome(RowStatus.DUPLICATE, str(match["id"]), dict(match), digest, link=link,
                                       error=f"{len(matches)} Numista items carry {match['internal_id']}; kept "
                                             f"#{match['id']}")  # fmt: skip
                    return Outcome(RowStatus.SYNCED, str(match["id"]), dict(match), digest, link=link)
                return Outcome(RowStatus.DUPLICATE, str(match["id"]), dict(match), digest, link=link,
                               error=f"a matching item (type, issue, grade, price) is already on Numista "
                                     f"(#{match['id']}); not added again")  # fmt: skip
        created = self.api.create_collected_item(payload)
        self._remember(created)
        return Outcome(RowStatus.SYNCED, str(created["id"]), dict(created), digest, link=link)

    def _legacy_markers(self, claim: Claim, payload: Mapping[str, Any], copy_tag: str | None) -> tuple[str, ...]:
        """The pre-install-id marker of this coin, when our own outbox says an earlier attempt sent it."""
        if not payload.get("internal_id"):
            return ()
        with session_scope(self.engine) as session:
            legacy = markers.legacy_marker_if_sent(
                session, SERVICE, claim.item_id, job_id=claim.job_id, copy_tag=copy_tag
            )
        return (legacy,) if legacy else ()

    def _update(self, claim: Claim, payload: dict[str, Any], remote_id: str) -> Outcome:
        digest = payload_hash(payload)
        remote = self._remote_items(claim).get(str(remote_id))
        if remote is None:
            log.info("job %s item %s: #%s is gone from Numista; adding it again", claim.job_id, claim.item_id,
                     remote_id)  # fmt: skip
            return self._create(replace(claim, previous_status=RowStatus.RETRY), payload, link=True)
        foreign = not_ours_to_change(payload, remote, claim.item_id)
        if foreign:
            return Outcome(RowStatus.FAILED, error=foreign)
        body = patch_body(payload, remote)
        if not body:
            return Outcome(RowStatus.SYNCED, str(remote_id), dict(remote), digest)
        problems = validate_collected_item(body, "PATCH")
        if problems:
            return Outcome(
                RowStatus.FAILED, error="not sent, the change breaks Numista's schema: " + "; ".join(problems)
            )
        try:
            updated = self.api.edit_collected_item(int(remote_id), body)
        except NotFoundError:
            return self._create(replace(claim, previous_status=RowStatus.RETRY), payload, link=True)
        self._remember(updated)
        return Outcome(RowStatus.SYNCED, str(remote_id), dict(updated), digest)
