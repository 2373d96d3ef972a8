"""Long work started from a page (catalogue sync, Numista searches and linking, an OpenNumismat import) run
as background tasks whose state lives in the database, so leaving the page, a click elsewhere or another
browser tab does not stop or hide them.

Why not the push worker (services/sync): pushes are outbox rows claimed item by item, exactly once, by any
worker process. These tasks are one call of an existing service function that already commits its own
progress (a synced set, a cached search, a linked coin), so running it again simply continues; all they need
is a thread that outlives the script run and a row the page can poll. The row is a ``jobs`` row of kind
``task`` (``service`` names the task); its ``params`` hold the live counts. A task whose row stopped moving
for :data:`STALE_AFTER` (its server stopped) no longer blocks starting it again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from services.errors import Conflict, VitrineError
from services.progress import ProgressSnapshot
from services.states import JobStatus
from services.store.db import session_scope
from services.store.models import Job, utcnow

TASK_KIND = "task"
STALE_AFTER = timedelta(minutes=10)
_OPEN = (JobStatus.QUEUED, JobStatus.RUNNING)
log = logging.getLogger(__name__)


class Task(StrEnum):
    """The long tasks a page can start (``jobs.service`` of a task row)."""

    CATALOGUE_SYNC = "catalogue_sync"
    NUMISTA_SEARCH = "numista_search"
    NUMISTA_LINK = "numista_link"
    OPENNUMISMAT_IMPORT = "opennumismat_import"
    CARDS_CSV_IMPORT = "cards_csv_import"
    DISCOGS_CSV_IMPORT = "discogs_csv_import"
    OVERVIEW = "overview"  # the member's Overview computed again while the page shows the remembered one


class Level(StrEnum):
    """How a finished task's result lines are shown."""

    SUCCESS = "success"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class TaskOutcome:
    """What a finished task says to the user: lines of (level, text), and whether it fully succeeded."""

    lines: tuple[tuple[Level, str], ...]
    complete: bool = True


@dataclass(frozen=True)
class TaskState:
    """A task row as the page shows it."""

    job_id: int
    task: Task
    status: JobStatus
    progress: ProgressSnapshot
    step: str
    lines: tuple[tuple[Level, str], ...] = field(default_factory=tuple)
    finished_at: datetime | None = None
    stale: bool = False

    @property
    def running(self) -> bool:
        return self.status in _OPEN and not self.stale


def _as_datetime(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


def _state(job: Job, now: datetime) -> TaskState:
    params = dict(job.params or {})
    updated = _as_datetime(params.get("updatedAt")) or job.started_at or job.created_at
    status = JobStatus(job.status)
    stale = status in _OPEN and updated is not None and now - updated > STALE_AFTER
    total = params.get("total")
    progress = ProgressSnapshot(
        done=int(params.get("done") or 0), total=None if total is None else int(total),
        unit=str(params.get("unit") or "items"), started_at=job.started_at, finished=status not in _OPEN or stale,
    )  # fmt: skip
    lines = tuple((Level(level), str(text)) for level, text in params.get("lines") or [])
    if stale:
        lines += ((Level.WARNING, "It stopped when the server stopped; start it again to continue."),)
    return TaskState(
        job.id, Task(job.service or ""), status, progress, str(params.get("step") or ""), lines, job.finished_at,
        stale,
    )  # fmt: skip


def _latest(session: Session, owner_id: int, task: Task) -> Job | None:
    query = select(Job).where(Job.owner_id == owner_id, Job.kind == TASK_KIND, Job.service == task)
    return session.scalar(query.order_by(Job.id.desc()).limit(1))


def latest_task(session: Session, owner_id: int, task: Task) -> TaskState | None:
    """The member's most recent run of this task (running or finished), or None if never started."""
    job = _latest(session, owner_id, task)
    return None if job is None else _state(job, utcnow())


def start_task(session: Session, owner_id: int, task: Task, *, total: int | None, unit: str, step: str) -> int:
    """Write a running task row (in the caller's transaction) and return its id; refused while the same task
    of this member is still running (a stale one is closed first)."""
    current = _latest(session, owner_id, task)
    if current is not None and current.status in _OPEN:
        if not _state(current, utcnow()).stale:
            raise Conflict("This is already running: its progress is shown below.", code="TASK_RUNNING")
        current.status, current.finished_at = JobStatus.CANCELLED, utcnow()
    now = utcnow()
    params = {"done": 0, "total": total, "unit": unit, "step": step, "updatedAt": now.isoformat()}
    job = Job(owner_id=owner_id, kind=TASK_KIND, service=task, status=JobStatus.RUNNING, params=params,
              started_at=now)  # fmt: skip
    session.add(job)
    session.flush()
    return job.id


class TaskReporter:
    """The progress callback handed to the work: writes counts to the task row, at most every
    ``min_interval`` seconds (a forced or final report always), each in a short transaction of its own."""

    def __init__(self, engine: Engine, job_id: int, *, min_interval: float = 0.5) -> None:
        self.engine, self.job_id, self.min_interval = engine, job_id, min_interval
        self._last = 0.0

    def _update(self, changes: Mapping[str, Any], status: JobStatus | None = None) -> None:
        with session_scope(self.engine) as session:
            job = session.get(Job, self.job_id)
            if job is None:
                return
            job.params = {**(job.params or {}), **changes, "updatedAt": utcnow().isoformat()}
            if status is not None:
                job.status, job.finished_at = status, utcnow()

    def __call__(self, done: int, total: int | None = None, step: str | None = None, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.min_interval and (total is None or done < total):
            return
        self._last = now
        changes: dict[str, Any] = {"done": done}
        if total is not None:
            changes["total"] = total
        if step is not None:
            changes["step"] = step
        self._update(changes)

    def finish(self, outcome: TaskOutcome) -> None:
        lines = [[level.value, text] for level, text in outcome.lines]
        status = JobStatus.DONE if outcome.complete else JobStatus.DONE_WITH_ERRORS
        self._update({"lines": lines, "step": ""}, status)


Work = Callable[[TaskReporter], TaskOutcome]


def run_in_thread(engine: Engine, job_id: int, work: Work) -> threading.Thread:
    """Run ``work`` in a daemon thread of this process and record how it ended on the task row. Any error
    ends the task with one readable line (the traceback goes to the server log only)."""
    reporter = TaskReporter(engine, job_id)

    def body() -> None:
        try:
            outcome = work(reporter)
        except VitrineError as error:
            outcome = TaskOutcome(((Level.ERROR, error.message),), complete=False)
        except Exception:
            log.exception("background task %s failed", job_id)
            outcome = TaskOutcome(((Level.ERROR, "It stopped on an unexpected error (see the server log)."),), False)
        reporter.finish(outcome)

    thread = threading.Thread(target=body, name=f"vitrine-task-{job_id}", daemon=True)
    thread.start()
    return thread
