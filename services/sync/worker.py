"""The push worker: claims outbox rows one at a time, hands each to its service's pusher, checkpoints it.

It runs as a background thread of the Streamlit server (app.py starts one per process) or in the
foreground (``python -m services worker``, and ``export``/``jobs resume`` while they wait for their job).
Any number of workers may run against one database: claims never overlap (services.sync.engine), a
heartbeat thread keeps this worker's claims alive, and a worker that dies leaves its claimed rows to be
reclaimed by the others once its heartbeat is stale.

A pusher is a factory ``(JobInfo) -> PushSession``: one session per job and worker, so per-job state (an
API client with its token, the remote collection read once per job) is reused across that job's rows.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlalchemy import Engine, func, select

from services.accounts.vault import VaultError
from services.config import Settings, current_settings
from services.states import RowStatus
from services.store.db import session_scope
from services.store.models import Job, JobItem
from services.sync import engine as jobs
from services.sync.engine import Claim, Outcome

log = logging.getLogger("services.sync")


@dataclass(frozen=True)
class WorkerConfig:
    """Timings of a worker (settings VITRINE_WORKER_POLL, VITRINE_WORKER_HEARTBEAT, VITRINE_WORKER_STALE_AFTER,
    VITRINE_SYNC_SETTLE, VITRINE_SYNC_MAX_ATTEMPTS; services.config)."""

    poll_seconds: float = 1.0  # idle wait between looks for work
    heartbeat_seconds: float = 2.0
    stale_after: float = 30.0  # a worker silent this long is dead; its claims are reclaimed
    settle_seconds: float = 5.0  # wait after an uncertain attempt before looking for its result remotely
    max_attempts: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        return cls(
            poll_seconds=settings.worker_poll,
            heartbeat_seconds=settings.worker_heartbeat,
            stale_after=settings.worker_stale_after,
            settle_seconds=settings.sync_settle,
            max_attempts=settings.sync_max_attempts,
        )


@dataclass(frozen=True)
class JobInfo:
    id: int
    owner_id: int
    service: str
    params: dict[str, Any]


class JobPaused(Exception):
    """Raised by a push session when the whole job must stop (quota used up, credentials refused).

    ``message`` is what the user reads; the row being pushed goes back to the queue untouched."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def secret_key_changed(service: str) -> str:
    """Why a job stopped when the vault cannot decrypt the service's stored key or token (VaultError)."""
    return (
        f"Paused: the secret key changed (VITRINE_SECRET_KEY), so your stored {service} key cannot be decrypted. "
        f"Restore the previous VITRINE_SECRET_KEY (or data/secret.key) and resume, or save your {service} key "
        "again on the Connections page and resume."
    )


class PushSession(Protocol):
    def push(self, claim: Claim) -> Outcome: ...

    def close(self) -> None: ...


PusherFactory = Callable[[JobInfo], PushSession]


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:10]}"


class Worker:
    """Claims and pushes rows until stopped. ``run`` in the foreground, or ``start`` a daemon thread."""

    def __init__(
        self,
        engine: Engine,
        pushers: Mapping[str, PusherFactory],
        config: WorkerConfig | None = None,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.engine = engine
        self.pushers = dict(pushers)
        self.config = config or WorkerConfig.from_settings(current_settings())
        self.id = worker_id or new_worker_id()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.processed = 0
        self._sessions: dict[int, PushSession] = {}
        self._last_reclaim = 0.0
        self._next: Claim | None = None  # claimed in the last checkpoint's transaction, not yet pushed
        self._heartbeat_stop = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> threading.Thread:
        """Run in a daemon thread (the Streamlit server's worker)."""
        if self.thread is None or not self.thread.is_alive():
            self.stop_event.clear()
            self.thread = threading.Thread(target=self.run, name=f"vitrine-worker-{self.id}", daemon=True)
            self.thread.start()
        return self.thread

    def stop(self, timeout: float | None = 30.0) -> None:
        """Finish the item in hand, then stop."""
        self.stop_event.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout)

    def run(self, *, job_id: int | None = None, until_idle: bool = False) -> None:
        """Work until stopped; with ``job_id`` until that job is finished, paused or cancelled; with
        ``until_idle`` until no job has work left."""
        jobs.register_worker(self.engine, self.id, host=socket.gethostname()[:200], pid=os.getpid())
        beat = threading.Thread(target=self._beat, name=f"vitrine-heartbeat-{self.id}", daemon=True)
        self._heartbeat_stop.clear()
        beat.start()
        try:
            recover = False
            while not self.stop_event.is_set():
                try:
                    if recover:  # rows this worker holds after an error: their outcome is unknown
                        self._next = None
                        jobs.requeue_own(self.engine, self.id)
                        recover = False
                    claim = self.step(job_id=job_id)
                except Exception:  # the database went away, a bug: keep the server's worker alive
                    log.exception("push worker %s: unexpected error; retrying in %.0f s", self.id, 5.0)
                    recover = True
                    self.stop_event.wait(5.0)
                    continue
                if claim is not None:
                    continue
                if job_id is not None and self._job_settled(job_id):
                    break
                self._close_finished_jobs()
                if until_idle and job_id is None and not self._any_work():
                    break
                self.stop_event.wait(self.config.poll_seconds)
        finally:
            self._heartbeat_stop.set()
            for session in self._sessions.values():
                _close_quietly(session)
            self._sessions.clear()
            try:
                if self._next is not None:  # claimed together with the last checkpoint, never started
                    jobs.release(self.engine, self._next, self.id)
                    self._next = None
                jobs.unregister_worker(self.engine, self.id)
            except Exception:  # the rows are reclaimed once this worker's heartbeat is stale
                log.warning("push worker %s: could not sign off cleanly", self.id, exc_info=True)

    def _beat(self) -> None:
        while not self._heartbeat_stop.wait(self.config.heartbeat_seconds):
            try:
                jobs.heartbeat(self.engine, self.id, host=socket.gethostname()[:200], pid=os.getpid())
            except Exception:
                log.warning("push worker %s: heartbeat failed", self.id, exc_info=True)

    # -- one row ---------------------------------------------------------------------------------
    def step(self, *, job_id: int | None = None) -> Claim | None:
        """Reclaim dead workers' rows if due, claim one row and push it; None when there was nothing."""
        request = jobs.ClaimRequest(self.id, self.config.settle_seconds, job_id, tuple(self.pushers))
        claim, self._next = self._next, None
        if claim is None:
            now = time.monotonic()
            if now - self._last_reclaim >= min(self.config.stale_after / 2, 5.0):
                self._last_reclaim = now
                reclaimed = jobs.reclaim_stale(self.engine, self.config.stale_after)
                if reclaimed:
                    log.warning("push worker %s: took over %d row(s) of a stopped worker", self.id, reclaimed)
            with self.engine.begin() as connection:
                claim = jobs.claim_in(connection, request)
        if claim is None:
            return None
        self._process(claim, request)
        self.processed += 1
        return claim

    def _session_for(self, claim: Claim) -> PushSession:
        session = self._sessions.get(claim.job_id)
        if session is None:
            with session_scope(self.engine) as db:
                job = db.get(Job, claim.job_id)
                params = dict(job.params or {}) if job is not None else {}
            info = JobInfo(claim.job_id, claim.owner_id, claim.service, params)
            session = self.pushers[claim.service](info)
            self._sessions[claim.job_id] = session
        return session

    def _drop_session(self, job_id: int) -> None:
        session = self._sessions.pop(job_id, None)
        if session is not None:
            _close_quietly(session)

    def _process(self, claim: Claim, request: jobs.ClaimRequest) -> None:
        try:
            try:
                outcome = self._session_for(claim).push(claim)
            except VaultError:  # every row of the job would fail alike: stop the job, not each row
                raise JobPaused(secret_key_changed(claim.service)) from None
        except JobPaused as pause:
            # Nothing was sent for this row: it waits (as it was) for the job to be resumed.
            jobs.checkpoint(
                self.engine, claim, self.id, Outcome(claim.previous_status, error=pause.message, refund=True)
            )
            jobs.pause_job_by_system(self.engine, claim.job_id, pause.message)
            self._drop_session(claim.job_id)
            log.warning("push job %s paused: %s", claim.job_id, pause.message)
            return
        except Exception as exc:  # a bug in a pusher must not stop the batch or touch other rows
            log.exception("push job %s, item %s: unexpected error", claim.job_id, claim.item_id)
            outcome = Outcome(RowStatus.RETRY, error=f"internal error ({type(exc).__name__}); see the server log")
            self._drop_session(claim.job_id)
        if outcome.status == RowStatus.RETRY and claim.attempts >= self.config.max_attempts:
            outcome = replace(
                outcome,
                status=RowStatus.FAILED,
                error=f"{outcome.error or 'failed'} — gave up after {claim.attempts} attempts; {jobs.UNCERTAIN_NOTE}",
            )
        # The next row is claimed in the checkpoint's transaction, unless this worker is stopping or it is
        # time to look for rows of dead workers (step() does that before a fresh claim).
        due = time.monotonic() - self._last_reclaim >= min(self.config.stale_after / 2, 5.0)
        then = None if self.stop_event.is_set() or due else request
        recorded, self._next = jobs.checkpoint_and_claim(self.engine, claim, self.id, outcome, then)
        if not recorded:
            log.warning("push job %s, item %s: claim lost to another worker", claim.job_id, claim.item_id)

    # -- idle checks -----------------------------------------------------------------------------
    def _close_finished_jobs(self) -> None:
        """When idle: mark jobs without open rows finished, and drop sessions of jobs no longer active."""
        finished = jobs.finish_completed(self.engine)
        if self._sessions:
            with session_scope(self.engine) as session:
                active = set(
                    session.scalars(
                        select(Job.id).where(Job.id.in_(list(self._sessions)), Job.status.in_(jobs.ACTIVE_JOB))
                    )
                )
            for job_id in [*finished, *(j for j in self._sessions if j not in active)]:
                self._drop_session(job_id)

    def _job_settled(self, job_id: int) -> bool:
        """The job no longer needs this worker: finished, paused, cancelled (or gone)."""
        with session_scope(self.engine) as session:
            job = session.get(Job, job_id)
            if job is None or job.status not in jobs.ACTIVE_JOB:
                return True
        return jobs.finish_if_complete(self.engine, job_id) or False

    def _any_work(self) -> bool:
        with session_scope(self.engine) as session:
            count = session.scalar(
                select(func.count())
                .select_from(JobItem)
                .join(Job, Job.id == JobItem.job_id)
                .where(Job.status.in_(jobs.ACTIVE_JOB), JobItem.status.in_(jobs.OPEN_ROW))
            )
        return bool(count)


def _close_quietly(session: PushSession) -> None:
    try:
        session.close()
    except Exception:
        log.warning("closing a push session failed", exc_info=True)
