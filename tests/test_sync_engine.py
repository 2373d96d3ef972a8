"""The outbox engine on real SQLite and PostgreSQL: claims, leases, checkpoints, job control, progress."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from services.collection import add_item
from services.errors import Conflict
from services.store.db import session_scope
from services.store.models import Job, JobItem, SyncLedger, User, utcnow
from services.store.models_sync import SyncWorker
from services.sync import engine as jobs
from services.sync.engine import Outcome, PlannedRow
from tests.sync_support import job_status, ledger, row_statuses


def _coins(engine: Engine, owner: User, count: int) -> list[int]:
    with session_scope(engine) as session:
        return [add_item(session, owner.id, kind="coin", title=f"c{n}", numista_type_id=420).id for n in range(count)]


def _job(engine: Engine, owner: User, rows: list[PlannedRow]) -> int:
    with session_scope(engine) as session:
        return jobs.create_job(session, owner.id, "numista", rows, {"currency": "EUR"}).id


@pytest.fixture
def ids(engine: Engine, session: Session, owner: User) -> list[int]:
    session.commit()
    return _coins(engine, owner, 6)


def _register(engine: Engine, *workers: str) -> None:
    for worker in workers:
        jobs.register_worker(engine, worker, host="test", pid=1)


def test_create_job_queues_rows_marks_the_ledger_and_skips_with_reasons(engine: Engine, owner: User, ids: list[int]):
    job_id = _job(engine, owner, [PlannedRow(ids[0]), PlannedRow(ids[1], "skip", "status 'wish'"),
                                  PlannedRow(ids[2], reconcile=True)])  # fmt: skip
    assert row_statuses(engine, job_id) == {ids[0]: "queued", ids[1]: "skipped", ids[2]: "retry"}
    rows = ledger(engine, ids[:3])
    assert rows[ids[0]].status == "QUEUED" and rows[ids[2]].status == "QUEUED" and ids[1] not in rows
    # An item waiting in an unfinished job is not queued twice.
    second = _job(engine, owner, [PlannedRow(ids[0]), PlannedRow(ids[3])])
    assert row_statuses(engine, second) == {ids[0]: "skipped", ids[3]: "queued"}
    with session_scope(engine) as session:
        assert "waiting in job" in session.scalar(select(JobItem.error).where(JobItem.job_id == second,
                                                                             JobItem.item_id == ids[0]))  # fmt: skip
    only_skips = _job(engine, owner, [PlannedRow(ids[4], "skip", "no type")])
    assert job_status(engine, only_skips) == "done"


def test_claims_fresh_rows_first_and_retries_only_after_they_settle(engine: Engine, owner: User, ids: list[int]):
    _register(engine, "w1")
    job_id = _job(engine, owner, [PlannedRow(ids[0], reconcile=True), PlannedRow(ids[1]), PlannedRow(ids[2])])
    with session_scope(engine) as session:  # the reconcile row's earlier attempt ended just now
        session.execute(update(JobItem).where(JobItem.item_id == ids[0]).values(updated_at=utcnow()))
    first = jobs.claim_next(engine, "w1", settle_seconds=0.5)
    second = jobs.claim_next(engine, "w1", settle_seconds=0.5)
    assert (first.item_id, second.item_id) == (ids[1], ids[2])
    assert first.attempts == 1 and not first.needs_reconcile and job_status(engine, job_id) == "running"
    assert jobs.claim_next(engine, "w1", settle_seconds=0.5) is None  # the retry has not settled yet
    time.sleep(0.6)
    third = jobs.claim_next(engine, "w1", settle_seconds=0.5)
    assert third.item_id == ids[0] and third.needs_reconcile and third.last_attempt_end is not None


def test_checkpoint_records_outcomes_and_closes_the_job(engine: Engine, owner: User, ids: list[int]):
    _register(engine, "w1")
    job_id = _job(engine, owner, [PlannedRow(ids[0]), PlannedRow(ids[1])])
    first = jobs.claim_next(engine, "w1", settle_seconds=0)
    assert jobs.checkpoint(engine, first, "w1", Outcome("synced", "555", {"id": 555}, "abc"))
    assert not jobs.finish_if_complete(engine, job_id)
    second = jobs.claim_next(engine, "w1", settle_seconds=0)
    assert jobs.checkpoint(engine, second, "w1", Outcome("failed", error="Numista rejected the request"))
    assert jobs.finish_if_complete(engine, job_id) and job_status(engine, job_id) == "done_with_errors"
    rows = ledger(engine, ids[:2])
    assert (rows[ids[0]].status, rows[ids[0]].remote_id, rows[ids[0]].payload_hash) == ("SYNCED", "555", "abc")
    assert (rows[ids[1]].status, rows[ids[1]].last_error) == ("FAILED", "Numista rejected the request")


def test_a_lost_claim_is_not_checkpointed(engine: Engine, owner: User, ids: list[int]):
    _register(engine, "w1", "w2")
    _job(engine, owner, [PlannedRow(ids[0])])
    claim = jobs.claim_next(engine, "w1", settle_seconds=0)
    with session_scope(engine) as session:  # w1 was presumed dead and w2 took the row over
        session.execute(update(JobItem).where(JobItem.id == claim.row_id).values(claimed_by="w2"))
    assert not jobs.checkpoint(engine, claim, "w1", Outcome("synced", "1"))
    assert ledger(engine, [ids[0]])[ids[0]].status == "QUEUED"


def test_rows_of_a_dead_worker_are_reclaimed_as_retry(engine: Engine, owner: User, ids: list[int]):
    _register(engine, "alive", "dead")
    job_id = _job(engine, owner, [PlannedRow(ids[0]), PlannedRow(ids[1])])
    dead = jobs.claim_next(engine, "dead", settle_seconds=0)
    alive = jobs.claim_next(engine, "alive", settle_seconds=0)
    with session_scope(engine) as session:
        session.execute(update(SyncWorker).where(SyncWorker.id == "dead")
                        .values(heartbeat_at=utcnow() - timedelta(seconds=60)))  # fmt: skip
    assert jobs.reclaim_stale(engine, stale_after=30) == 1
    statuses = row_statuses(engine, job_id)
    assert statuses[dead.item_id] == "retry" and statuses[alive.item_id] == "running"
    with session_scope(engine) as session:
        assert session.get(SyncWorker, "dead") is None and session.get(SyncWorker, "alive") is not None
    again = jobs.claim_next(engine, "alive", settle_seconds=0)
    assert again.item_id == dead.item_id and again.needs_reconcile and again.attempts == 2


def test_pause_resume_cancel_and_retry_failed(engine: Engine, owner: User, ids: list[int]):
    _register(engine, "w1")
    job_id = _job(engine, owner, [PlannedRow(i) for i in ids[:4]])
    with session_scope(engine) as session:
        jobs.pause_job(session, owner.id, job_id)
    assert jobs.claim_next(engine, "w1", settle_seconds=0) is None  # paused jobs are not claimed
    with session_scope(engine) as session:
        jobs.resume_job(session, owner.id, job_id)
    claim = jobs.claim_next(engine, "w1", settle_seconds=0)
    jobs.checkpoint(engine, claim, "w1", Outcome("failed", error="bad"))
    retried = jobs.claim_next(engine, "w1", settle_seconds=0)
    jobs.checkpoint(engine, retried, "w1", Outcome("retry", error="HTTP 500"))  # attempted, outcome unknown
    in_hand = jobs.claim_next(engine, "w1", settle_seconds=0)
    with session_scope(engine) as session:
        jobs.cancel_job(session, owner.id, job_id)
    assert jobs.claim_next(engine, "w1", settle_seconds=0) is None
    jobs.checkpoint(engine, in_hand, "w1", Outcome("synced", "77"))  # the item in hand keeps its result
    statuses = row_statuses(engine, job_id)
    assert sorted(statuses.values()) == ["cancelled", "cancelled", "failed", "synced"]
    rows = ledger(engine, ids[:4])
    assert rows[in_hand.item_id].status == "SYNCED"
    assert rows[retried.item_id].status == "FAILED" and "may have reached" in rows[retried.item_id].last_error
    untouched = next(i for i in ids[:4] if i not in (claim.item_id, retried.item_id, in_hand.item_id))
    assert rows[untouched].status == "NOT_SYNCED"
    with session_scope(engine) as session, pytest.raises(Conflict):
        jobs.resume_job(session, owner.id, job_id)

    other = _job(engine, owner, [PlannedRow(ids[4])])
    row = jobs.claim_next(engine, "w1", settle_seconds=0)
    jobs.checkpoint(engine, row, "w1", Outcome("failed", error="HTTP 503"))
    jobs.finish_if_complete(engine, other)
    with session_scope(engine) as session:
        jobs.resume_job(session, owner.id, other)  # a finished job with failures: retry them
    assert row_statuses(engine, other) == {ids[4]: "retry"} and job_status(engine, other) == "queued"
    assert ledger(engine, [ids[4]])[ids[4]].status == "QUEUED"


def test_progress_counts_and_eta(engine: Engine, owner: User, ids: list[int]):
    _register(engine, "w1")
    job_id = _job(engine, owner, [PlannedRow(i) for i in ids[:5]] + [PlannedRow(ids[5], "skip", "x")])
    for _ in range(2):
        claim = jobs.claim_next(engine, "w1", settle_seconds=0)
        time.sleep(0.05)
        jobs.checkpoint(engine, claim, "w1", Outcome("synced", "1"))
    with session_scope(engine) as session:
        job = session.get(Job, job_id)
        progress = jobs.job_progress(session, job)
        summary = jobs.job_summary(session, job)
    assert (progress.total, progress.done, progress.failed, progress.remaining) == (6, 3, 0, 3)
    assert progress.eta_seconds is not None and 0 < progress.eta_seconds < 5
    assert summary["counts"] == {"synced": 2, "duplicate": 0, "failed": 0, "skipped": 1, "queued": 3}


def test_recent_job_summaries_are_the_job_summaries_in_one_query(engine: Engine, owner: User, ids: list[int]):
    """What the Export page polls: the same documents as job_summary per job, one statement whatever the count."""
    from sqlalchemy import event

    _register(engine, "w1")
    first = _job(engine, owner, [PlannedRow(i) for i in ids[:3]] + [PlannedRow(ids[3], "skip", "x")])
    claim = jobs.claim_next(engine, "w1", settle_seconds=0)
    jobs.checkpoint(engine, claim, "w1", Outcome("failed", error="HTTP 503"))
    claim = jobs.claim_next(engine, "w1", settle_seconds=0)
    jobs.checkpoint(engine, claim, "w1", Outcome("synced", "7"))
    second = _job(engine, owner, [PlannedRow(ids[4]), PlannedRow(ids[5])])
    with session_scope(engine) as session:
        expected = [jobs.job_summary(session, job) for job in jobs.list_jobs(session, owner.id)]
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        with session_scope(engine) as session:
            recent = jobs.recent_job_summaries(session, owner.id)
            assert len(statements) == 1
            assert [d["id"] for d in jobs.recent_job_summaries(session, owner.id, limit=1)] == [second]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    for document in (*recent, *expected):  # the rate and ETA depend on the moment they are read
        document["progress"].pop("etaSeconds"), document["progress"].pop("perSecond")
    assert [d["id"] for d in recent] == [second, first] and recent == expected
    assert recent[1]["counts"] == {"synced": 1, "duplicate": 0, "failed": 1, "skipped": 1, "queued": 1}


def test_concurrent_claimers_never_take_the_same_row(engine: Engine, session: Session, owner: User):
    """Four threads race for 120 rows; every row is claimed exactly once (SKIP LOCKED on PostgreSQL, the
    guarded UPDATE on SQLite)."""
    session.commit()
    item_ids = _coins(engine, owner, 120)
    _job(engine, owner, [PlannedRow(i) for i in item_ids])
    workers = [f"w{n}" for n in range(4)]
    _register(engine, *workers)
    claimed: dict[str, list[int]] = {w: [] for w in workers}
    start = threading.Barrier(len(workers))

    def claimer(worker: str) -> None:
        start.wait()
        while (claim := jobs.claim_next(engine, worker, settle_seconds=0)) is not None:
            claimed[worker].append(claim.row_id)
            jobs.checkpoint(engine, claim, worker, Outcome("synced", str(claim.item_id)))

    threads = [threading.Thread(target=claimer, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [row for rows in claimed.values() for row in rows]
    assert len(everything) == 120 and len(set(everything)) == 120
    assert sum(1 for rows in claimed.values() if rows) >= 2  # they really ran side by side


@pytest.mark.postgres
def test_postgres_skip_locked_claims_around_a_row_another_worker_holds(engine: Engine, owner: User, ids: list[int]):
    """While one worker's claim transaction holds the first row (FOR UPDATE), another worker gets the next
    row at once instead of waiting for the lock or taking the same row."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's")
    _register(engine, "w2")
    _job(engine, owner, [PlannedRow(i) for i in ids[:3]])
    with engine.connect() as holder:
        transaction = holder.begin()
        held = holder.execute(
            text("SELECT id, item_id FROM job_items WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE")
        ).one()
        result: dict[str, object] = {}

        def claim_now() -> None:
            started = time.monotonic()
            result["claim"] = jobs.claim_next(engine, "w2", settle_seconds=0)
            result["waited"] = time.monotonic() - started

        claimer = threading.Thread(target=claim_now)
        claimer.start()
        claimer.join(5)  # a claim that waited for the lock would still be blocked here
        transaction.rollback()
        claimer.join(10)
    claim = result["claim"]
    assert claim is not None and claim.row_id != held.id and claim.item_id == ids[1]
    assert result["waited"] < 2.0
    with session_scope(engine) as session:
        assert session.scalar(select(SyncLedger.status).where(SyncLedger.item_id == held.item_id)) == "QUEUED"


def test_checkpoint_and_claim_release_and_requeue_own(engine: Engine, owner: User, ids: list[int]):
    _register(engine, "w1")
    job_id = _job(engine, owner, [PlannedRow(i) for i in ids[:3]])
    first = jobs.claim_next(engine, "w1", settle_seconds=0)
    request = jobs.ClaimRequest("w1", 0, job_id)
    recorded, second = jobs.checkpoint_and_claim(engine, first, "w1", Outcome("synced", "9"), request)
    assert recorded and second is not None and second.item_id == ids[1]
    jobs.release(engine, second, "w1")  # a stopping worker gives back the row it never started
    assert row_statuses(engine, job_id)[ids[1]] == "queued"
    again = jobs.claim_next(engine, "w1", settle_seconds=0)
    assert again.item_id == ids[1] and again.attempts == 1  # the released claim cost no attempt
    assert jobs.requeue_own(engine, "w1") == 1  # after an error mid-push: outcome unknown
    assert row_statuses(engine, job_id) == {ids[0]: "synced", ids[1]: "retry", ids[2]: "queued"}
