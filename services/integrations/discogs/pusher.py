"""Exporting records to Discogs on the push engine: a collection folder, the wantlist, or Draft marketplace
listings. The plan (what each record becomes, or why it is skipped), starting the job, and the push session
the worker calls for every row.

Each target is its own service key of the engine (``discogs`` = the collection, which is what
``sync.discogs`` reports; ``discogs_wantlist``; ``discogs_listing``), so a record has one ledger row per
target and the worker dispatches each job to the right pusher.

Exactly once. Discogs never deduplicates: every collection POST is a new copy and every listing POST a new
listing (notes/discogs.md §2.2, §5). So the remote is read once per job (collection or wantlist: pages of
100) and that *baseline* is stored with the job. A release in the baseline is already there: DUPLICATE,
never added again unless the member asked for another copy. A row whose earlier attempt may have reached
Discogs (5xx, timeout, killed worker) comes back as ``retry`` and is reconciled before anything is sent:

* collection: an instance of the release that is in the collection now, was not in the job's baseline
  and is not recorded for any of the member's records is the one our lost attempt created: it is adopted
  (and its fields written), never duplicated. Instances we did not create are never modified;
* wantlist: PUT is an upsert of a release that was not wanted before the job: sending it again is safe;
* marketplace: our listings carry the item's marker as their ``external_id`` (private to the seller):
  ``vitrine:<install id>:<item id>``, by the rule every push follows (services/sync/markers.py). A listing
  carrying exactly our marker that is not linked yet is adopted; a legacy ``vitrine:<item id>`` only when
  our own outbox says a job of before the install id may have sent it. Listings of the member, of another
  tool or of another Vitrine installation on the same account are never adopted or changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.accounts.vault import Vault
from services.collection import items_of_kind
from services.config import Settings
from services.context import AppContext
from services.errors import InvalidInput
from services.http import AuthError, BadRequestError, NotFoundError, RateLimitedError, ServiceError
from services.integrations.discogs.api import DiscogsApi
from services.integrations.discogs.conditions import MEDIA_CONDITIONS
from services.integrations.discogs.mapping import RecordPayload, listing_body, record_payload
from services.integrations.discogs.oauth import DiscogsNotConnected, member_api
from services.states import DiscogsTarget, ItemKind, ListingStatus, RowAction, RowStatus, SyncService, SyncStatus
from services.store.db import session_scope
from services.store.models import Item, JobItem, SyncLedger, table_of, utcnow
from services.store.models_discogs import DiscogsPushBaseline
from services.sync import engine as jobs
from services.sync import markers
from services.sync.engine import Claim, Outcome, PlannedRow
from services.sync.worker import JobInfo, JobPaused
from services.validation import ID_MAX, ID_MIN

log = logging.getLogger("services.integrations.discogs")

TARGETS: dict[DiscogsTarget, str] = {target: target.service for target in DiscogsTarget}
LISTING_STATUSES = tuple(ListingStatus)
BASELINE_TAKEN = 0  # release id 0 never exists: its row says "the baseline of this job is complete"


# ------------------------------------------------------------------------------------------ the plan
@dataclass(frozen=True)
class ExportOptions:
    target: str = DiscogsTarget.COLLECTION
    folder_id: int = 1
    another_copy: bool = False
    listing_status: str = ListingStatus.DRAFT
    price: Decimal | None = None  # marketplace: one price for every listing (else price suggestions)

    def validate(self) -> None:
        if self.target not in TARGETS:
            raise InvalidInput(f"Target is one of {', '.join(TARGETS)}.", code="INVALID_TARGET")
        if self.target == DiscogsTarget.COLLECTION and self.folder_id <= 0:
            raise InvalidInput("Folder 0 (All) cannot receive records; choose 1 (Uncategorized) or one of your "
                               "folders.", code="INVALID_FOLDER")  # fmt: skip
        if self.listing_status not in LISTING_STATUSES:
            raise InvalidInput("A listing is Draft or For Sale.", code="INVALID_STATUS")
        if self.price is not None and not self.price > 0:
            raise InvalidInput("A listing price must be greater than 0.", code="INVALID_PRICE")

    @property
    def service(self) -> SyncService:
        """The sync ledger service of the target (each target has its own)."""
        return DiscogsTarget(self.target).service

    def params(self) -> dict[str, Any]:
        return {"target": self.target, "folder": self.folder_id, "another_copy": self.another_copy,
                "listing_status": self.listing_status, "price": str(self.price) if self.price else None}  # fmt: skip

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ExportOptions:
        price = params.get("price")
        return cls(str(params.get("target") or DiscogsTarget.COLLECTION), int(params.get("folder") or 1),
                   bool(params.get("another_copy")), str(params.get("listing_status") or ListingStatus.DRAFT),
                   Decimal(price) if price else None)  # fmt: skip


@dataclass(frozen=True)
class PlannedRecord:
    item_id: int
    title: str
    payload: RecordPayload
    action: RowAction  # create | copy | skip
    reason: str | None = None
    sync_status: SyncStatus = SyncStatus.NOT_SYNCED
    remote_id: str | None = None
    reconcile: bool = False

    def to_json(self) -> dict[str, Any]:
        row_status = RowStatus.SKIPPED if self.action == RowAction.SKIP else RowStatus.QUEUED
        return {"id": self.item_id, "status": row_status.document_status,
                "remoteId": self.remote_id, "error": self.reason, "action": self.action, "title": self.title,
                "releaseId": self.payload.release_id, "media": self.payload.media,
                "sleeve": self.payload.sleeve}  # fmt: skip


def selectable_records(session: Session, owner_id: int, item_ids: Iterable[int] | None = None) -> list[Item]:
    """The owner's records (all, or the given ids; other owners' ids are silently not found)."""
    return items_of_kind(session, owner_id, ItemKind.RECORD, item_ids)


def plan_export(session: Session, owner_id: int, item_ids: Iterable[int] | None,
                options: ExportOptions) -> list[PlannedRecord]:  # fmt: skip
    """What the export would do, without calling Discogs."""
    options.validate()
    wanted = None if item_ids is None else list(item_ids)
    items = selectable_records(session, owner_id, wanted)
    if wanted is not None:
        missing = set(wanted) - {item.id for item in items}
        if missing:
            raise InvalidInput(f"Not records of yours: {', '.join(map(str, sorted(missing)))}.",
                               code="ITEM_NOT_FOUND")  # fmt: skip
    ledger = jobs.ledger_rows(session, options.service, [item.id for item in items])
    plan = []
    for item in items:
        payload = record_payload(item)
        entry = ledger.get(item.id)
        status = SyncStatus(entry.status) if entry is not None else SyncStatus.NOT_SYNCED
        remote = entry.remote_id if entry is not None else None
        reason = payload.problem
        if reason is None and options.target == DiscogsTarget.MARKETPLACE and payload.media is None:
            reason = f"no media condition; Discogs needs one of: {', '.join(MEDIA_CONDITIONS)}"
        if reason is not None:
            plan.append(PlannedRecord(item.id, item.title, payload, RowAction.SKIP, reason, status, remote))
        elif remote and options.target == DiscogsTarget.COLLECTION and options.another_copy:
            plan.append(PlannedRecord(item.id, item.title, payload, RowAction.COPY, None, status, remote))
        elif remote:
            where = {DiscogsTarget.COLLECTION: f"in your collection (instance {remote})",
                     DiscogsTarget.WANTLIST: "in your wantlist",
                     DiscogsTarget.MARKETPLACE: f"listed (listing {remote})"}[DiscogsTarget(options.target)]
            plan.append(PlannedRecord(item.id, item.title, payload, RowAction.SKIP, f"already {where}", status,
                                      remote))  # fmt: skip
        else:
            plan.append(PlannedRecord(item.id, item.title, payload, RowAction.CREATE, None, status, None,
                                      reconcile=status in (SyncStatus.QUEUED, SyncStatus.FAILED)))  # fmt: skip
    return plan


def dry_run_document(plan: list[PlannedRecord]) -> dict[str, Any]:
    skipped = sum(1 for row in plan if row.action == RowAction.SKIP)
    return {"job": None, "status": "dry-run",
            "counts": {RowStatus.SYNCED: 0, RowStatus.DUPLICATE: 0, RowStatus.FAILED: 0, RowStatus.SKIPPED: skipped,
                       RowStatus.QUEUED: len(plan) - skipped},
            "items": [row.to_json() for row in plan]}  # fmt: skip


def start_export(session: Session, owner_id: int, plan: list[PlannedRecord], options: ExportOptions) -> int:
    """Queue the plan as a job of the target's service; returns the job id."""
    rows = [PlannedRow(row.item_id, row.action, row.reason, row.reconcile, row.remote_id) for row in plan]
    job = jobs.create_job(session, owner_id, options.service, rows, options.params())
    return job.id


# ------------------------------------------------------------------------------------------ the pusher
_ITEM = select(Item.id, Item.owner_id, Item.kind, Item.grade, Item.grade_code, Item.notes, Item.details,
               Item.storage_location, Item.discogs_release_id).where(Item.id == bindparam("item"))  # fmt: skip


class DiscogsPusher:
    """Pusher factory for the worker, one per target service (see ``pushers``)."""

    def __init__(self, engine: Engine, settings: Settings, vault: Vault, *, settle_seconds: float = 5.0,
                 api_options: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        self.engine, self.settings, self.vault = engine, settings, vault
        self.settle_seconds = settle_seconds
        self.api_options = dict(api_options or {})

    def __call__(self, job: JobInfo) -> DiscogsPushSession | _NotConnected:
        try:
            with session_scope(self.engine) as session:
                api = member_api(session, self.settings, self.vault, job.owner_id, **self.api_options)
        except DiscogsNotConnected as error:
            return _NotConnected(error.message)
        return DiscogsPushSession(self.engine, api, job, settle_seconds=self.settle_seconds)


class _NotConnected:
    """The member disconnected Discogs after queueing: the job pauses with the reason, nothing is lost."""

    def __init__(self, message: str) -> None:
        self.message = message

    def push(self, claim: Claim) -> Outcome:
        raise JobPaused(f"{self.message} The export is paused; resume it after reconnecting.")

    def close(self) -> None:
        return None


def pushers(engine: Engine, settings: Settings, vault: Vault, **options: Any) -> dict[str, DiscogsPusher]:
    """The worker's pushers for every Discogs target."""
    pusher = DiscogsPusher(engine, settings, vault, **options)
    return dict.fromkeys(TARGETS.values(), pusher)


def pushers_for(context: AppContext, *, settle_seconds: float) -> dict[str, DiscogsPusher]:
    """The worker's Discogs pushers (registered in services.integrations.registry)."""
    return pushers(context.engine, context.settings, context.vault, settle_seconds=settle_seconds)


def _storable(release_id: Any) -> bool:
    """Whether a release id from Discogs fits the baseline's INTEGER column; one that does not is no release
    of any of our records either (their ids are checked on the way in: services/validation.py)."""
    return ID_MIN <= int(release_id) <= ID_MAX


class DiscogsPushSession:
    """Pushes one job's rows for one worker: the API client, the job's baseline and view of the remote."""

    def __init__(self, engine: Engine, api: DiscogsApi, job: JobInfo, *, settle_seconds: float = 5.0) -> None:
        self.engine, self.api, self.job = engine, api, job
        self.settle_seconds = settle_seconds
        self.options = ExportOptions.from_params(job.params)
        self.service = self.options.service
        self.baseline: dict[int, list[Any]] | None = None
        self.current: dict[int, list[Any]] | None = None  # release (or 0 for listings) -> remote entries now
        self.current_read_at: datetime | None = None
        self.ours: set[str] = set()
        self.field_ids: dict[str, tuple[int, list[str] | None]] | None = None
        self.suggestions: dict[int, dict[str, Any]] = {}
        self.remote_reads = 0
        self.install_id: str | None = None  # read on the first listing (services.sync.markers)

    def close(self) -> None:
        self.api.close()

    # -- reading the remote ------------------------------------------------------------------------
    def _read_remote(self) -> dict[int, list[Any]]:
        """The remote now: release id -> instance ids (collection), [release] (wantlist), or for the
        marketplace external_id -> listing ids."""
        found: dict[int | str, list[Any]] = {}
        if self.options.target == DiscogsTarget.COLLECTION:
            for _page, _pages, entries in self.api.collection_pages(0):
                for entry in entries:
                    if _storable(entry["id"]):
                        found.setdefault(int(entry["id"]), []).append(int(entry["instance_id"]))
        elif self.options.target == DiscogsTarget.WANTLIST:
            for _page, _pages, entries in self.api.want_pages():
                for entry in entries:
                    if _storable(entry["id"]):
                        found.setdefault(int(entry["id"]), []).append(int(entry["id"]))
        else:
            for _page, _pages, entries in self.api.inventory_pages():
                for entry in entries:
                    if entry.get("external_id"):
                        found.setdefault(str(entry["external_id"]), []).append(int(entry["id"]))
        self.remote_reads += 1
        return found  # type: ignore[return-value]

    def _load_ours(self) -> None:
        with session_scope(self.engine) as session:
            linked = session.scalars(
                select(SyncLedger.remote_id).join(Item, Item.id == SyncLedger.item_id)
                .where(Item.owner_id == self.job.owner_id, SyncLedger.service == self.service,
                       SyncLedger.remote_id.is_not(None)))  # fmt: skip
            in_job = session.scalars(select(JobItem.remote_id).where(JobItem.job_id == self.job.id,
                                                                     JobItem.remote_id.is_not(None)))  # fmt: skip
            self.ours = {str(value) for value in (*linked, *in_job)}

    def _baseline(self) -> dict[int, list[Any]]:
        """What the remote held when this job first looked (stored: survives a killed worker)."""
        if self.baseline is not None:
            return self.baseline
        with session_scope(self.engine) as session:
            rows = list(session.scalars(select(DiscogsPushBaseline).where(DiscogsPushBaseline.job_id == self.job.id)))
        if any(row.release_id == BASELINE_TAKEN for row in rows):
            self.baseline = {row.release_id: list(row.remote_ids or []) for row in rows
                             if row.release_id != BASELINE_TAKEN}  # fmt: skip
            self._load_ours()
            return self.baseline
        started = utcnow()
        remote = self._read_remote()
        self.current, self.current_read_at = remote, started
        try:
            with session_scope(self.engine) as session:
                session.execute(table_of(DiscogsPushBaseline).insert(), [
                    {"job_id": self.job.id, "release_id": BASELINE_TAKEN, "remote_ids": []},
                    *({"job_id": self.job.id, "release_id": key, "remote_ids": ids}
                      for key, ids in remote.items() if isinstance(key, int)),
                ])  # fmt: skip
        except IntegrityError:  # another worker of the same job stored it first: use theirs
            self.baseline = None
            return self._baseline()
        self.baseline = {key: ids for key, ids in remote.items() if isinstance(key, int)}
        self._load_ours()
        return self.baseline

    def _current(self, claim: Claim) -> dict[Any, list[Any]]:
        """The remote as of a moment after `claim`'s earlier attempt had settled (one read serves many)."""
        end = claim.last_attempt_end
        if self.current is not None and self.current_read_at is not None and (
                end is None or self.current_read_at >= end + timedelta(seconds=self.settle_seconds)):
            return self.current
        with session_scope(self.engine) as session:
            latest = session.scalar(select(func.max(JobItem.updated_at)).where(
                JobItem.job_id == self.job.id, JobItem.status == RowStatus.RETRY))  # fmt: skip
        ends = [moment for moment in (latest, end) if moment is not None]
        if ends:
            wait = (max(ends) + timedelta(seconds=self.settle_seconds) - utcnow()).total_seconds()
            if wait > 0:
                time.sleep(min(wait, self.settle_seconds))
        started = utcnow()
        self.current, self.current_read_at = self._read_remote(), started
        self._load_ours()
        return self.current

    # -- one row ---------------------------------------------------------------------------------
    def push(self, claim: Claim) -> Outcome:
        with self.engine.connect() as connection:
            item = connection.execute(_ITEM, {"item": claim.item_id}).first()
            earlier = connection.scalar(select(JobItem.remote_id).where(JobItem.id == claim.row_id))
            action = (self.job.params.get("actions") or {}).get(str(claim.item_id), RowAction.CREATE)
        if item is None or item.owner_id != claim.owner_id or item.kind != ItemKind.RECORD:
            return Outcome(RowStatus.SKIPPED, error="the record no longer exists")
        payload = record_payload(item)
        if payload.problem or payload.release_id is None:
            return Outcome(RowStatus.SKIPPED, error=payload.problem)
        try:
            if self.options.target == DiscogsTarget.COLLECTION:
                return self._collection(claim, payload, action, earlier)
            if self.options.target == DiscogsTarget.WANTLIST:
                return self._wantlist(payload)
            return self._listing(claim, payload, earlier)
        except AuthError as error:
            raise JobPaused(f"{error.message} The export is paused; resume it after reconnecting Discogs.") from None
        except RateLimitedError as error:  # refused without acting: send again later, never a failure
            return Outcome(claim.previous_status, error=error.message, refund=True)
        except (BadRequestError, NotFoundError) as error:  # refused, and sending again will not help
            return Outcome(RowStatus.FAILED, error=error.message)
        except ServiceError as error:  # 5xx, timeout, dropped connection: it may have been done
            return Outcome(RowStatus.RETRY, error=error.message)

    # collection ---------------------------------------------------------------------------------
    def _collection(self, claim: Claim, payload: RecordPayload, action: str, earlier: str | None) -> Outcome:
        release_id = int(payload.release_id or 0)
        baseline = self._baseline()
        link = action != RowAction.COPY
        if claim.needs_reconcile:
            instance = int(earlier) if earlier else None
            if instance is None:
                before = set(baseline.get(release_id, []))
                now = self._current(claim).get(release_id, [])
                mine = [i for i in now if i not in before and str(i) not in self.ours]
                instance = min(mine) if mine else None
            if instance is not None:
                log.info("job %s item %s: instance %s found on Discogs; not added again", claim.job_id,
                         claim.item_id, instance)  # fmt: skip
                return self._finish_instance(release_id, instance, payload, link)
        if action != RowAction.COPY and not self.options.another_copy and baseline.get(release_id):
            existing = baseline[release_id]
            return Outcome(RowStatus.DUPLICATE, remote_data={"existingInstances": existing}, link=link,
                           error=f"already in your collection (instance {', '.join(map(str, existing))}); not added "
                                 "again (ask for another copy to add one)")  # fmt: skip
        instance = self.api.add_to_folder(self.options.folder_id, release_id)
        self.ours.add(str(instance))
        return self._finish_instance(release_id, instance, payload, link)

    def _fields(self) -> dict[str, tuple[int, list[str] | None]]:
        if self.field_ids is None:
            self.field_ids = {str(f.get("name")): (int(f["id"]), f.get("options"))
                              for f in self.api.collection_fields()}  # fmt: skip
        return self.field_ids

    def _finish_instance(self, release_id: int, instance: int, payload: RecordPayload, link: bool) -> Outcome:
        """Write Media, Sleeve and Notes on our instance (by field name; a value a dropdown does not offer
        is left out and reported). A failure here keeps the instance id on the row for the retry."""
        self.ours.add(str(instance))
        notes: list[str] = []
        wanted = {"Media": payload.media, "Sleeve": payload.sleeve, "Notes": payload.notes}
        try:
            for name, value in wanted.items():
                if not value:
                    continue
                found = self._fields().get(name)
                if found is None:
                    notes.append(f"no {name} field on your collection")
                    continue
                field_id, options = found
                if options and value not in options:
                    notes.append(f"{name} {value!r} is not one of your field's options")
                    continue
                self.api.set_field(self.options.folder_id, release_id, instance, field_id, value)
        except (RateLimitedError, ServiceError) as error:
            return Outcome(RowStatus.RETRY, remote_id=str(instance),
                           error=f"added as instance {instance}, but writing its fields failed: {error.message}")
        data = {"release_id": release_id, "instance_id": instance, "folder_id": self.options.folder_id}
        return Outcome(RowStatus.SYNCED, str(instance), data, link=link, error="; ".join(notes) or None)

    # wantlist -----------------------------------------------------------------------------------
    def _wantlist(self, payload: RecordPayload) -> Outcome:
        release_id = int(payload.release_id or 0)
        if release_id in self._baseline() and str(release_id) not in self.ours:
            return Outcome(RowStatus.DUPLICATE, error="already in your wantlist; left as it is")
        self.api.put_want(release_id, payload.notes)
        self.ours.add(str(release_id))
        return Outcome(RowStatus.SYNCED, str(release_id), {"release_id": release_id})

    # marketplace --------------------------------------------------------------------------------
    def _price(self, payload: RecordPayload) -> Decimal | None:
        if self.options.price is not None:
            return self.options.price
        release_id = int(payload.release_id or 0)
        if release_id not in self.suggestions:
            self.suggestions[release_id] = self.api.price_suggestions(release_id)
        entry = self.suggestions[release_id].get(payload.media or "")
        try:
            value = Decimal(str(entry["value"])) if isinstance(entry, Mapping) else None
        except (ArithmeticError, KeyError, ValueError):
            value = None
        return value.quantize(Decimal("0.01")) if value and value > 0 else None

    def _markers(self, claim: Claim) -> tuple[str, tuple[str, ...]]:
        """(the marker a new listing of this item carries, every marker of a listing that is ours to adopt:
        that one, and the legacy one when our own outbox says a job of before the install id sent it)."""
        legacy = None
        if self.install_id is None or claim.needs_reconcile:  # a plain create costs no database read
            with session_scope(self.engine) as session:
                self.install_id = self.install_id or markers.install_id(session)
                if claim.needs_reconcile:
                    legacy = markers.legacy_marker_if_sent(session, self.service, claim.item_id)
        assert self.install_id is not None
        tag = markers.marker_for(self.install_id, claim.item_id)
        return tag, (tag, legacy) if legacy else (tag,)

    def _listing(self, claim: Claim, payload: RecordPayload, earlier: str | None) -> Outcome:
        if earlier:
            return Outcome(RowStatus.SYNCED, earlier, {"listing_id": int(earlier)})
        tag, ours = self._markers(claim)
        if claim.needs_reconcile:
            remote = self._current(claim)
            mine = [i for key in ours for i in remote.get(key, []) if str(i) not in self.ours]
            if mine:
                return Outcome(RowStatus.SYNCED, str(min(mine)), {"listing_id": min(mine)})
        price = self._price(payload)
        if price is None:
            return Outcome(RowStatus.FAILED, error="no price: Discogs has no price suggestion for this condition "
                                                   "(fill in your seller settings) - give one with --price")
        body = listing_body(tag, payload, float(price), status=self.options.listing_status)
        listing = self.api.create_listing(body)
        self.ours.add(str(listing))
        return Outcome(RowStatus.SYNCED, str(listing), {"listing_id": listing, "price": str(price)})
