"""Push jobs in the database: the outbox rows, how a worker claims one, checkpoints, and job control.

Why the rows live in the database and not in memory: a push of hundreds of coins outlives a browser tab,
a Streamlit rerun and a server restart. Every state change below is one short committed transaction, so a
crash at any point leaves a row in a state the next worker can continue from.

Row states (``job_items.status``)::

    queued ──claim──▶ running ──checkpoint──▶ synced | duplicate | failed | skipped
    retry  ──claim──▶ running                 (retry: an earlier attempt MAY have reached the server,
                                               so the pusher reconciles with the remote before sending)
    queued|retry ──cancel──▶ cancelled        running rows of a dead worker ──reclaim──▶ retry

Job states (``jobs.status``): queued → running → done | done_with_errors; paused (by the user, or by the
engine when the service says the quota is used up or the credentials stopped working) → queued on resume;
cancelled. Rows of paused or cancelled jobs are never claimed.

Claiming: on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED`` picks a row no other transaction holds, then
marks it running; on SQLite (one writer at a time) the same SELECT without locking is followed by an
``UPDATE ... WHERE status = <what we saw>``, and a lost race (0 rows) simply tries the next row. A row
stays claimed while its worker's heartbeat (``sync_workers``) is fresh; rows of a worker whose heartbeat
went stale are put back as ``retry``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.errors import Conflict, InvalidInput, NotFound
from services.progress import eta_seconds
from services.states import JobStatus, RowAction, RowStatus, SyncStatus
from services.store.chunks import in_chunks
from services.store.db import affected_rows, session_scope
from services.store.models import Item, Job, JobItem, SyncLedger, utcnow
from services.store.models_sync import SyncWorker
from services.sync import markers

JOB_KIND = "push"
ACTIVE_JOB = (JobStatus.QUEUED, JobStatus.RUNNING)  # rows of these jobs may be claimed
OPEN_JOB = (*ACTIVE_JOB, JobStatus.PAUSED)  # not finished: its open rows still "own" their items
FINISHED_JOB = (JobStatus.DONE, JobStatus.DONE_WITH_ERRORS, JobStatus.CANCELLED)
OPEN_ROW = (RowStatus.QUEUED, RowStatus.RETRY, RowStatus.RUNNING)
FINAL_ROW = (RowStatus.SYNCED, RowStatus.DUPLICATE, RowStatus.FAILED, RowStatus.SKIPPED, RowStatus.CANCELLED)
ACTIONS = tuple(RowAction)
UNCERTAIN_NOTE = "an earlier attempt may have reached the service; the next push checks there first"


# ------------------------------------------------------------------------------------------ creating
@dataclass(frozen=True)
class PlannedRow:
    """One item of a new job: what to do with it, or why it is skipped."""

    item_id: int
    action: str = RowAction.CREATE  # create | update | copy | skip
    reason: str | None = None  # why skipped
    reconcile: bool = False  # a previous push of this item may have reached the service
    remote_id: str | None = None  # the remote item this one is already linked to


def _busy_items(session: Session, service: str, item_ids: list[int]) -> dict[int, int]:
    """Items already waiting in another unfinished job of the same service → that job's id."""
    busy: dict[int, int] = {}
    for chunk in in_chunks(item_ids):
        rows = session.execute(
            select(JobItem.item_id, JobItem.job_id)
            .join(Job, Job.id == JobItem.job_id)
            .where(Job.service == service, Job.status.in_(OPEN_JOB), JobItem.status.in_(OPEN_ROW))
            .where(JobItem.item_id.in_(chunk))
        )
        busy.update({item_id: job_id for item_id, job_id in rows})
    return busy


def ledger_rows(session: Session, service: str, item_ids: Iterable[int]) -> dict[int, SyncLedger]:
    """The sync-ledger rows of these items for one service (callers pass owner-scoped item ids)."""
    found: dict[int, SyncLedger] = {}
    for chunk in in_chunks(item_ids):
        query = select(SyncLedger).where(SyncLedger.service == service, SyncLedger.item_id.in_(chunk))
        found.update({row.item_id: row for row in session.scalars(query)})
    return found


def create_job(session: Session, owner_id: int, service: str, rows: list[PlannedRow], params: Mapping[str, Any]) -> Job:
    """Write a job and its outbox rows (in the caller's transaction). Items are marked QUEUED in the ledger;
    an item already waiting in another unfinished job is skipped rather than pushed twice."""
    if not rows:
        raise InvalidInput("Nothing to export: choose at least one item.", code="NOTHING_SELECTED")
    busy = _busy_items(session, service, [row.item_id for row in rows if row.action != RowAction.SKIP])
    actions = {str(row.item_id): row.action for row in rows if row.action in (RowAction.UPDATE, RowAction.COPY)}
    job_params = {**params, "actions": actions, markers.SCHEME_PARAM: markers.SCHEME}  # markers name the install
    job = Job(owner_id=owner_id, kind=JOB_KIND, service=service, status=JobStatus.QUEUED, params=job_params)
    session.add(job)
    session.flush()
    ledger = ledger_rows(session, service, [row.item_id for row in rows])
    now = utcnow()
    values: list[dict[str, Any]] = []
    for row in rows:
        status, error = (RowStatus.RETRY if row.reconcile else RowStatus.QUEUED), None
        if row.action == RowAction.SKIP:
            status, error = RowStatus.SKIPPED, row.reason
        elif row.item_id in busy:
            status, error = RowStatus.SKIPPED, f"already waiting in job {busy[row.item_id]}"
        # A reconcile row's "last attempt ended" is when the ledger last changed (a settled past attempt).
        entry = ledger.get(row.item_id)
        last_end = (entry.updated_at if entry is not None else None) or now
        values.append(
            {"job_id": job.id, "item_id": row.item_id, "status": status, "attempts": 0, "error": error,
             "remote_id": row.remote_id if status == RowStatus.SKIPPED else None,
             "updated_at": last_end if status == RowStatus.RETRY else now}
        )  # fmt: skip
        if status in OPEN_ROW and row.action == RowAction.CREATE:
            entry = ledger.get(row.item_id)
            if entry is None:
                session.add(SyncLedger(item_id=row.item_id, service=service, status=SyncStatus.QUEUED))
            elif entry.remote_id is None:
                entry.status = SyncStatus.QUEUED
    session.execute(insert(JobItem), values)
    session.flush()
    if not any(value["status"] in OPEN_ROW for value in values):
        job.status = JobStatus.DONE
        job.finished_at = now
        job.message = "Nothing needed pushing."
    session.flush()
    return job


# ------------------------------------------------------------------------------------------ claiming
@dataclass(frozen=True)
class Claim:
    """A row this worker now owns until it checkpoints it."""

    row_id: int
    job_id: int
    item_id: int
    owner_id: int
    service: str
    attempts: int  # including this one
    previous_status: str  # queued (never sent) or retry (may have been sent: reconcile first)
    last_attempt_end: datetime | None  # when the previous attempt ended (retry rows)
    claimed_at: datetime

    @property
    def needs_reconcile(self) -> bool:
        return self.previous_status == RowStatus.RETRY


@functools.lru_cache(maxsize=32)
def _candidate_query(
    postgres: bool, job_scoped: bool, services: tuple[str, ...] | None
) -> Select[*tuple[Any, ...]]:
    """The "next row to push" query, built once per shape (cheap to execute again and again)."""
    query: Select[*tuple[Any, ...]] = (
        select(
            JobItem.id, JobItem.job_id, JobItem.item_id, JobItem.status, JobItem.attempts, JobItem.updated_at,
            Job.owner_id, Job.service, Job.status.label("job_status"),
        )
        .join(Job, Job.id == JobItem.job_id)
        .where(Job.kind == JOB_KIND, Job.status.in_(ACTIVE_JOB))
        .where(
            or_(
                JobItem.status == RowStatus.QUEUED,
                and_(JobItem.status == RowStatus.RETRY, JobItem.updated_at <= bindparam("settled_before")),
            )
        )
        .order_by(JobItem.job_id, JobItem.attempts, JobItem.id)
        .limit(1)
    )  # fmt: skip
    if job_scoped:
        query = query.where(JobItem.job_id == bindparam("only_job"))
    if services is not None:
        query = query.where(Job.service.in_(services))
    if postgres:
        query = query.with_for_update(skip_locked=True, of=JobItem)
    return query


_TAKE = (
    update(JobItem)
    .where(JobItem.id == bindparam("row"), JobItem.status == bindparam("seen_status"))
    .where(JobItem.attempts == bindparam("seen_attempts"))
    .values(
        status=RowStatus.RUNNING, claimed_by=bindparam("worker"), claimed_at=bindparam("now"),
        attempts=JobItem.attempts + 1, updated_at=bindparam("now"),
    )
)  # fmt: skip
_START_JOB = (
    update(Job)
    .where(Job.id == bindparam("job"), Job.status == JobStatus.QUEUED)
    .values(status=JobStatus.RUNNING, started_at=func.coalesce(Job.started_at, bindparam("now")), message=None)
)


@dataclass(frozen=True)
class ClaimRequest:
    """What a worker may claim: its id, how long retries settle, optionally one job or some services."""

    worker_id: str
    settle_seconds: float = 5.0
    job_id: int | None = None
    services: tuple[str, ...] | None = None


def claim_in(connection: Connection, request: ClaimRequest) -> Claim | None:
    """One claim inside the caller's transaction; None when there is nothing to claim (or only lost races)."""
    query = _candidate_query(connection.dialect.name == "postgresql", request.job_id is not None, request.services)
    now = utcnow()
    for _ in range(20):  # SQLite: a lost race (another worker took the row) tries the next row
        row = connection.execute(
            query, {"settled_before": now - timedelta(seconds=request.settle_seconds), "only_job": request.job_id}
        ).first()
        if row is None:
            return None
        taken = connection.execute(
            _TAKE,
            {"row": row.id, "seen_status": row.status, "seen_attempts": row.attempts, "worker": request.worker_id,
             "now": now},
        )  # fmt: skip
        if affected_rows(taken) != 1:
            continue
        if row.job_status == JobStatus.QUEUED:
            connection.execute(_START_JOB, {"job": row.job_id, "now": now})
        return Claim(
            row.id, row.job_id, row.item_id, row.owner_id, row.service or "", row.attempts + 1, row.status,
            row.updated_at if row.status == RowStatus.RETRY else None, now,
        )  # fmt: skip
    return None


def claim_next(
    engine: Engine,
    worker_id: str,
    *,
    settle_seconds: float = 5.0,
    job_id: int | None = None,
    services: Iterable[str] | None = None,
) -> Claim | None:
    """Claim the next row to push: oldest job first, never-tried rows before retries; None when idle.

    A retry row is only claimed ``settle_seconds`` after its last attempt ended, so a request the server
    was still processing when we gave up has landed before we look for it on the server.
    """
    request = ClaimRequest(worker_id, settle_seconds, job_id, None if services is None else tuple(services))
    with engine.begin() as connection:
        return claim_in(connection, request)


def release(engine: Engine, claim: Claim, worker_id: str) -> None:
    """Give back a row claimed but never worked on (a stopping worker): as it was, attempt refunded."""
    with engine.begin() as connection:
        connection.execute(
            update(JobItem)
            .where(JobItem.id == claim.row_id, JobItem.claimed_by == worker_id, JobItem.status == RowStatus.RUNNING)
            .values(status=claim.previous_status, claimed_by=None, attempts=JobItem.attempts - 1)
        )


# ------------------------------------------------------------------------------------------ checkpoint
@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed row. ``status``: synced, duplicate, failed, skipped (final), retry (may
    have reached the service: reconcile next time) or queued (certainly not sent: just send again)."""

    status: str
    remote_id: str | None = None
    remote_data: dict[str, Any] | None = None
    payload_hash: str | None = None
    error: str | None = None
    link: bool = True  # synced/duplicate: record remote_id as the item's remote item in the ledger
    refund: bool = False  # the attempt did not count (never sent): give it back

    def __post_init__(self) -> None:
        # Validated where it enters: a pusher's unknown status fails here, not as a CHECK violation later.
        object.__setattr__(self, "status", RowStatus(self.status))


_RECORD = (
    update(JobItem)
    .where(JobItem.id == bindparam("row"), JobItem.claimed_by == bindparam("worker"))
    .where(JobItem.status == RowStatus.RUNNING)
    .values(
        status=bindparam("new_status"), error=bindparam("new_error"), claimed_by=None, updated_at=bindparam("now"),
        remote_id=func.coalesce(bindparam("new_remote_id", type_=String), JobItem.remote_id),
        attempts=JobItem.attempts - bindparam("refund", type_=Integer),
    )
)  # fmt: skip
_LEDGER_ROW = select(SyncLedger.id, SyncLedger.status, SyncLedger.remote_id).where(
    SyncLedger.item_id == bindparam("item"), SyncLedger.service == bindparam("service")
)


def checkpoint(engine: Engine, claim: Claim, worker_id: str, outcome: Outcome) -> bool:
    """Record one row's outcome and the item's ledger in one transaction; False if the claim was lost
    (this worker was presumed dead and another one took the row over: it will reconcile)."""
    return checkpoint_and_claim(engine, claim, worker_id, outcome, None)[0]


def checkpoint_and_claim(
    engine: Engine, claim: Claim, worker_id: str, outcome: Outcome, then: ClaimRequest | None
) -> tuple[bool, Claim | None]:
    """Checkpoint `claim` and, in the same transaction, claim the next row (one commit per item instead of
    two). Returns (checkpointed, next claim or None)."""
    with engine.begin() as connection:
        now = utcnow()
        result = connection.execute(
            _RECORD,
            {"row": claim.row_id, "worker": worker_id, "new_status": outcome.status, "new_error": outcome.error,
             "now": now, "new_remote_id": outcome.remote_id, "refund": 1 if outcome.refund else 0},
        )  # fmt: skip
        recorded = affected_rows(result) == 1
        if recorded:
            _update_ledger(connection, claim, outcome, now)
        return recorded, (claim_in(connection, then) if then is not None else None)


def _update_ledger(connection: Connection, claim: Claim, outcome: Outcome, now: datetime) -> None:
    if outcome.status in (RowStatus.QUEUED, RowStatus.RETRY, RowStatus.SKIPPED):
        return
    entry = connection.execute(_LEDGER_ROW, {"item": claim.item_id, "service": claim.service}).first()
    values: dict[str, Any] = {"updated_at": now}
    current_status = entry.status if entry is not None else SyncStatus.NOT_SYNCED
    linked = entry.remote_id if entry is not None else None
    if outcome.status in (RowStatus.SYNCED, RowStatus.DUPLICATE):
        values["last_error"] = None
        if outcome.link:
            values.update(
                status=outcome.status.upper(), remote_id=outcome.remote_id, remote_data=outcome.remote_data,
                payload_hash=outcome.payload_hash,
            )  # fmt: skip
        elif current_status == SyncStatus.QUEUED:
            values["status"] = SyncStatus.SYNCED
    elif outcome.status == RowStatus.FAILED:
        values["last_error"] = outcome.error
        if linked is None:
            values["status"] = SyncStatus.FAILED  # an item already linked stays SYNCED: only this update/copy failed
    if entry is None:
        values.setdefault("status", current_status)
        connection.execute(insert(SyncLedger).values(item_id=claim.item_id, service=claim.service, **values))
    else:
        connection.execute(update(SyncLedger).where(SyncLedger.id == entry.id).values(**values))


def finish_if_complete(engine: Engine, job_id: int) -> bool:
    """Close the job once no row is open; True if this call closed it."""
    with session_scope(engine) as session:
        open_rows = session.scalar(
            select(func.count()).select_from(JobItem).where(JobItem.job_id == job_id, JobItem.status.in_(OPEN_ROW))
        )
        if open_rows:
            return False
        failed = session.scalar(
            select(func.count())
            .select_from(JobItem)
            .where(JobItem.job_id == job_id, JobItem.status == RowStatus.FAILED)
        )
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_(ACTIVE_JOB))
            .values(status=JobStatus.DONE_WITH_ERRORS if failed else JobStatus.DONE, finished_at=utcnow())
        )
        return affected_rows(result) == 1


def finish_completed(engine: Engine) -> list[int]:
    """Close every active job that has no open row left (the worker does this when it runs out of work)."""
    with engine.connect() as connection:
        open_rows = select(JobItem.id).where(JobItem.job_id == Job.id, JobItem.status.in_(OPEN_ROW)).exists()
        candidates = list(
            connection.scalars(select(Job.id).where(Job.kind == JOB_KIND, Job.status.in_(ACTIVE_JOB), ~open_rows))
        )
    return [job_id for job_id in candidates if finish_if_complete(engine, job_id)]


# ------------------------------------------------------------------------------------------ workers
def register_worker(engine: Engine, worker_id: str, *, host: str | None, pid: int | None) -> None:
    with session_scope(engine) as session:
        now = utcnow()
        if session.get(SyncWorker, worker_id) is None:
            session.add(SyncWorker(id=worker_id, host=host, pid=pid, started_at=now, heartbeat_at=now))


def heartbeat(engine: Engine, worker_id: str, *, host: str | None = None, pid: int | None = None) -> None:
    """Say "still alive"; re-registers a worker that another one already presumed dead."""
    with session_scope(engine) as session:
        result = session.execute(update(SyncWorker).where(SyncWorker.id == worker_id).values(heartbeat_at=utcnow()))
        if affected_rows(result) == 0:
            session.add(SyncWorker(id=worker_id, host=host, pid=pid, started_at=utcnow(), heartbeat_at=utcnow()))


def unregister_worker(engine: Engine, worker_id: str) -> None:
    with session_scope(engine) as session:
        session.execute(delete(SyncWorker).where(SyncWorker.id == worker_id))


def reclaim_stale(engine: Engine, stale_after: float) -> int:
    """Put rows claimed by dead workers (no heartbeat for `stale_after` s) back as retry; returns how many."""
    with session_scope(engine) as session:
        now = utcnow()
        cutoff = now - timedelta(seconds=stale_after)
        session.execute(delete(SyncWorker).where(SyncWorker.heartbeat_at < cutoff))
        live = select(SyncWorker.id)
        result = session.execute(
            update(JobItem)
            .where(JobItem.status == RowStatus.RUNNING)
            .where(or_(JobItem.claimed_by.is_(None), JobItem.claimed_by.not_in(live)))
            .values(
                status=RowStatus.RETRY, claimed_by=None, updated_at=now, error=f"the worker stopped; {UNCERTAIN_NOTE}"
            )
        )  # fmt: skip
        return affected_rows(result) or 0


def requeue_own(engine: Engine, worker_id: str) -> int:
    """After an error in a worker: the rows it holds go back as retry (reconciled before any re-send)."""
    with engine.begin() as connection:
        result = connection.execute(
            update(JobItem)
            .where(JobItem.claimed_by == worker_id, JobItem.status == RowStatus.RUNNING)
            .values(
                status=RowStatus.RETRY, claimed_by=None, updated_at=utcnow(), error=f"interrupted; {UNCERTAIN_NOTE}"
            )
        )
        return affected_rows(result) or 0


def live_workers(session: Session, stale_after: float) -> list[SyncWorker]:
    cutoff = utcnow() - timedelta(seconds=stale_after)
    return list(session.scalars(select(SyncWorker).where(SyncWorker.heartbeat_at >= cutoff)))


# ------------------------------------------------------------------------------------------ control
def get_job(session: Session, owner_id: int, job_id: int) -> Job:
    job = session.scalar(select(Job).where(Job.id == job_id, Job.owner_id == owner_id, Job.kind == JOB_KIND))
    if job is None:
        raise NotFound(f"No export job {job_id}.", code="JOB_NOT_FOUND")
    return job


def list_jobs(session: Session, owner_id: int, *, limit: int = 50) -> list[Job]:
    query = select(Job).where(Job.owner_id == owner_id, Job.kind == JOB_KIND).order_by(Job.id.desc()).limit(limit)
    return list(session.scalars(query))


def pause_job(session: Session, owner_id: int, job_id: int, message: str | None = None) -> Job:
    """Stop claiming this job's rows (the item being pushed right now still finishes)."""
    job = get_job(session, owner_id, job_id)
    if job.status in ACTIVE_JOB:
        job.status = JobStatus.PAUSED
        job.message = message or "Paused by you."
        session.flush()
    elif job.status != JobStatus.PAUSED:
        raise Conflict(f"Job {job_id} is {job.status}; only a queued or running job can be paused.", code="JOB_STATE")
    return job


def pause_job_by_system(engine: Engine, job_id: int, message: str) -> None:
    """The worker's pause (quota used up, credentials refused): the reason is what the user reads."""
    with session_scope(engine) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_(ACTIVE_JOB))
            .values(status=JobStatus.PAUSED, message=message)
        )


def resume_job(session: Session, owner_id: int, job_id: int) -> Job:
    """Paused → queued again; a finished job with failures gets its failed rows retried."""
    job = get_job(session, owner_id, job_id)
    if job.status == JobStatus.PAUSED:
        job.status = JobStatus.QUEUED
        job.message = None
        session.flush()
        return job
    if job.status == JobStatus.DONE_WITH_ERRORS:
        return retry_failed(session, owner_id, job_id)
    if job.status in ACTIVE_JOB or job.status == JobStatus.DONE:
        return job
    raise Conflict(f"Job {job_id} was cancelled; start a new export instead.", code="JOB_STATE")


def retry_failed(session: Session, owner_id: int, job_id: int) -> Job:
    """Queue the failed rows again. They are retried as "may have reached the service": the pusher
    checks the remote first, so a failure that was in fact a success is not pushed twice."""
    job = get_job(session, owner_id, job_id)
    if job.status == JobStatus.CANCELLED:
        raise Conflict(f"Job {job_id} was cancelled; start a new export instead.", code="JOB_STATE")
    failed_ids = list(
        session.scalars(select(JobItem.item_id).where(JobItem.job_id == job_id, JobItem.status == RowStatus.FAILED))
    )
    if not failed_ids:
        return job
    session.execute(
        update(JobItem)
        .where(JobItem.job_id == job_id, JobItem.status == RowStatus.FAILED)
        # updated_at stays the end of the last attempt: the reconcile must look after that moment.
        .values(status=RowStatus.RETRY, attempts=0, error=None, updated_at=JobItem.updated_at)
    )
    for entry in ledger_rows(session, job.service or "", failed_ids).values():
        if entry.status == SyncStatus.FAILED:
            entry.status = SyncStatus.QUEUED
    if job.status != JobStatus.PAUSED:
        job.status = JobStatus.QUEUED
    job.finished_at = None
    job.message = None
    session.flush()
    return job


def cancel_job(session: Session, owner_id: int, job_id: int) -> Job:
    """Stop for good: rows not yet pushed are cancelled (their items go back to their previous status); the
    item being pushed right now still finishes and keeps its result."""
    job = get_job(session, owner_id, job_id)
    if job.status in FINISHED_JOB:
        if job.status == JobStatus.CANCELLED:
            return job
        raise Conflict(f"Job {job_id} already finished.", code="JOB_STATE")
    rows = list(
        session.execute(
            select(JobItem.id, JobItem.item_id, JobItem.attempts).where(
                JobItem.job_id == job_id, JobItem.status.in_((RowStatus.QUEUED, RowStatus.RETRY))
            )
        )
    )
    ledger = ledger_rows(session, job.service or "", [row.item_id for row in rows])
    for row in rows:
        entry = ledger.get(row.item_id)
        if entry is not None and entry.status == SyncStatus.QUEUED:
            if row.attempts > 0:
                entry.status, entry.last_error = SyncStatus.FAILED, "Cancelled; " + UNCERTAIN_NOTE + "."
            else:
                entry.status = SyncStatus.SYNCED if entry.remote_id else SyncStatus.NOT_SYNCED
    session.execute(
        update(JobItem)
        .where(JobItem.job_id == job_id, JobItem.status.in_((RowStatus.QUEUED, RowStatus.RETRY)))
        .values(status=RowStatus.CANCELLED, error="cancelled", updated_at=utcnow())
    )
    job.status = JobStatus.CANCELLED
    job.message = "Cancelled by you."
    job.finished_at = utcnow()
    session.flush()
    return job


# ------------------------------------------------------------------------------------------ progress
@dataclass(frozen=True)
class Progress:
    """Live numbers for the UI and `jobs list`."""

    total: int
    done: int  # synced + duplicate + skipped + cancelled
    failed: int
    remaining: int  # queued + retry + running
    counts: dict[str, int] = field(default_factory=dict)  # per row status
    eta_seconds: float | None = None
    rate_per_second: float | None = None

    @property
    def fraction(self) -> float:
        return 1.0 if self.total == 0 else (self.total - self.remaining) / self.total

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total, "done": self.done, "failed": self.failed, "remaining": self.remaining,
            "etaSeconds": None if self.eta_seconds is None else round(self.eta_seconds, 1),
            "perSecond": None if self.rate_per_second is None else round(self.rate_per_second, 2),
        }  # fmt: skip


_PUSHED = (RowStatus.SYNCED, RowStatus.DUPLICATE, RowStatus.FAILED)


def _row_counts(job_ids: Any) -> Any:
    """Per job and row status: rows, rows pushed at least once, and when the last of those was pushed."""
    pushed = and_(JobItem.status.in_(_PUSHED), JobItem.attempts > 0)
    return (
        select(JobItem.job_id, JobItem.status, func.count().label("rows"),
               func.sum(case((pushed, 1), else_=0)).label("pushed"),
               func.max(case((pushed, JobItem.updated_at))).label("last_pushed"))
        .where(JobItem.job_id.in_(job_ids))
        .group_by(JobItem.job_id, JobItem.status)
    )  # fmt: skip


def job_progress(session: Session, job: Job) -> Progress:
    return _progress(job, session.execute(_row_counts([job.id])).all())


def _progress(job: Job, rows: Iterable[Any]) -> Progress:
    """A job's progress from its rows of ``_row_counts`` (job id, status, rows, pushed, last pushed)."""
    counts: dict[str, int] = {status.value: 0 for status in (*OPEN_ROW, *FINAL_ROW)}
    pushed_count, last_pushed = 0, None
    for _job_id, status, count, pushed, last in rows:
        if status is None:  # a job without rows (outer join)
            continue
        counts[status] = counts.get(status, 0) + count
        pushed_count += int(pushed or 0)
        if last is not None and (last_pushed is None or last > last_pushed):
            last_pushed = last
    remaining = sum(counts[s] for s in OPEN_ROW)
    eta = rate = None
    started = job.started_at
    if started is not None and pushed_count:
        end = utcnow() if job.status in ACTIVE_JOB else (last_pushed or utcnow())
        elapsed = max((end - started).total_seconds(), 1e-3)
        rate = pushed_count / elapsed
        if remaining and job.status in ACTIVE_JOB:
            eta = eta_seconds(pushed_count, pushed_count + remaining, elapsed)
    return Progress(
        total=sum(counts.values()),
        done=sum(counts[s] for s in (RowStatus.SYNCED, RowStatus.DUPLICATE, RowStatus.SKIPPED, RowStatus.CANCELLED)),
        failed=counts[RowStatus.FAILED],
        remaining=remaining,
        counts=counts,
        eta_seconds=eta,
        rate_per_second=rate,
    )


def recent_job_summaries(session: Session, owner_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
    """The owner's newest jobs as ``job_summary`` documents, in one query whatever their number: what the
    Export page polls and ``jobs list`` prints."""
    recent = (select(Job.id).where(Job.owner_id == owner_id, Job.kind == JOB_KIND)
              .order_by(Job.id.desc()).limit(limit).subquery())  # fmt: skip
    counts = _row_counts(select(recent.c.id)).subquery()
    rows = session.execute(
        select(Job, counts.c.job_id, counts.c.status, counts.c.rows, counts.c.pushed, counts.c.last_pushed)
        .join(recent, recent.c.id == Job.id)
        .outerjoin(counts, counts.c.job_id == Job.id)
        .order_by(Job.id.desc())
    ).all()
    by_job: dict[int, tuple[Job, list[Any]]] = {}
    for job, *counted in rows:
        by_job.setdefault(job.id, (job, []))[1].append(counted)
    return [_summary(job, _progress(job, counted)) for job, counted in by_job.values()]


def job_summary(session: Session, job: Job) -> dict[str, Any]:
    """One job for `jobs list --json` and the UI's job table."""
    return _summary(job, job_progress(session, job))


def _summary(job: Job, progress: Progress) -> dict[str, Any]:
    return {
        "id": job.id, "kind": job.kind, "service": job.service, "status": job.status, "message": job.message,
        "createdAt": _iso(job.created_at), "startedAt": _iso(job.started_at), "finishedAt": _iso(job.finished_at),
        "counts": document_counts(progress.counts), "progress": progress.to_json(),
    }  # fmt: skip


def document_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """Row counts in the export document's terms (cancelled rows count as skipped: they were not pushed)."""
    result = {"synced": 0, "duplicate": 0, "failed": 0, "skipped": 0, "queued": 0}
    for status, count in counts.items():
        result[RowStatus(status).document_status.lower()] += count
    return result


def _iso(moment: datetime | None) -> str | None:
    value = moment
    return value.isoformat() if value is not None else None


def job_rows(session: Session, job_id: int) -> list[JobItem]:
    return list(session.scalars(select(JobItem).where(JobItem.job_id == job_id).order_by(JobItem.id)))


def job_document(session: Session, owner_id: int, job_id: int) -> dict[str, Any]:
    """The export JSON document: ``{job, status, counts, items: [{id, status, remoteId, error}]}``."""
    job = get_job(session, owner_id, job_id)
    rows = job_rows(session, job_id)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return {
        "job": job.id,
        "status": job.status,
        "message": job.message,
        "counts": document_counts(counts),
        "items": [
            {
                "id": row.item_id,
                "status": RowStatus(row.status).document_status,
                "remoteId": row.remote_id,
                "error": row.error,
            }
            for row in rows
        ],
    }


def job_results(session: Session, owner_id: int, job_id: int) -> list[dict[str, Any]]:
    """The per-item result table of a job (for the wizard): item, title, status, remote id, error."""
    get_job(session, owner_id, job_id)
    rows = session.execute(
        select(JobItem.item_id, Item.title, JobItem.status, JobItem.remote_id, JobItem.attempts, JobItem.error)
        .join(Item, Item.id == JobItem.item_id)
        .where(JobItem.job_id == job_id, Item.owner_id == owner_id)
        .order_by(JobItem.id)
    )
    return [
        {"item": item_id, "title": title, "status": RowStatus(status).document_status, "step": status,
         "remote id": remote_id, "attempts": attempts, "error": error}
        for item_id, title, status, remote_id, attempts, error in rows
    ]  # fmt: skip
