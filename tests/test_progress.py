"""Progress of long work: the ETA arithmetic every page shares (services/progress.py) and background tasks with
their state in the database (services/tasks.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from services.errors import Conflict, InvalidInput
from services.progress import ProgressSnapshot, duration_text, eta_seconds
from services.states import JobStatus
from services.store.db import session_scope
from services.store.models import Job, User
from services.tasks import STALE_AFTER, Level, Task, TaskOutcome, TaskReporter, latest_task, run_in_thread, start_task

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_eta_is_the_average_rate_so_far() -> None:
    assert eta_seconds(10, 40, 20.0) == pytest.approx(60.0)  # 2 s each, 30 left
    assert eta_seconds(1, 3, 5.0) == pytest.approx(10.0)
    assert eta_seconds(40, 40, 20.0) == 0.0  # done: nothing left
    assert eta_seconds(0, 40, 20.0) is None  # nothing done yet: no guess
    assert eta_seconds(5, None, 20.0) is None  # total unknown
    assert eta_seconds(5, 40, 0.0) is None


def test_duration_text() -> None:
    assert duration_text(None) == "—"
    assert duration_text(0.2) == "about 1 s"
    assert duration_text(45) == "about 45 s"
    assert duration_text(600) == "about 10 min"
    assert duration_text(3 * 3600) == "about 3.0 h"


def test_snapshot_line_counts_then_time_left() -> None:
    running = ProgressSnapshot(12, 40, "sets", started_at=T0)
    assert running.fraction == pytest.approx(0.3)
    assert running.text(T0 + timedelta(seconds=36)) == "12 of 40 sets · about 84 s left"
    assert running.text(T0 + timedelta(minutes=6)) == "12 of 40 sets · about 14 min left"
    assert ProgressSnapshot(0, 40, "sets", started_at=T0).text(T0 + timedelta(seconds=5)) == "0 of 40 sets"
    assert ProgressSnapshot(3, None, "pages").text(T0) == "3 pages"
    assert ProgressSnapshot(3, None, "pages").fraction == 0.0
    finished = ProgressSnapshot(2, 5, "coins", started_at=T0, finished=True)
    assert finished.fraction == 1.0 and finished.text(T0 + timedelta(hours=1)) == "2 of 5 coins"
    assert ProgressSnapshot(1_234, 10_000, "items").counts_text() == "1,234 of 10,000 items"


def test_task_runs_in_a_thread_and_its_progress_is_read_back(engine: Engine, owner: User, session: Session) -> None:
    owner_id = owner.id
    session.commit()
    with session_scope(engine) as db:
        job_id = start_task(db, owner_id, Task.CATALOGUE_SYNC, total=3, unit="sets", step="Starting…")
    halfway, release = threading.Event(), threading.Event()

    def work(report: TaskReporter) -> TaskOutcome:
        report(1, 3, "Set one", force=True)
        halfway.set()
        release.wait(10)
        report(3, 3, "Set three")
        return TaskOutcome(((Level.SUCCESS, "3 set(s) synced"),))

    thread = run_in_thread(engine, job_id, work)
    assert halfway.wait(10)
    with session_scope(engine) as db:
        state = latest_task(db, owner_id, Task.CATALOGUE_SYNC)
        assert state is not None and state.running and state.step == "Set one"
        assert state.progress.counts_text() == "1 of 3 sets" and state.progress.fraction == pytest.approx(1 / 3)
        with pytest.raises(Conflict):  # one run at a time
            start_task(db, owner_id, Task.CATALOGUE_SYNC, total=None, unit="sets", step="")
        assert latest_task(db, owner_id, Task.NUMISTA_SEARCH) is None  # another task is independent
    release.set()
    thread.join(10)
    with session_scope(engine) as db:
        state = latest_task(db, owner_id, Task.CATALOGUE_SYNC)
        assert state is not None and not state.running and state.status == JobStatus.DONE
        assert state.lines == ((Level.SUCCESS, "3 set(s) synced"),) and state.progress.fraction == 1.0
        assert state.progress.counts_text() == "3 of 3 sets" and state.finished_at is not None


def test_a_failing_task_ends_with_one_readable_line(engine: Engine, owner: User, session: Session) -> None:
    owner_id = owner.id
    session.commit()

    def refuses(_report: TaskReporter) -> TaskOutcome:
        raise InvalidInput("No such set: xx1.")

    def crashes(_report: TaskReporter) -> TaskOutcome:
        raise RuntimeError("secret-token-123 in a traceback")

    for work, line in ((refuses, "No such set: xx1."), (crashes, "It stopped on an unexpected error")):
        with session_scope(engine) as db:
            job_id = start_task(db, owner_id, Task.NUMISTA_LINK, total=2, unit="coins", step="")
        run_in_thread(engine, job_id, work).join(10)
        with session_scope(engine) as db:
            state = latest_task(db, owner_id, Task.NUMISTA_LINK)
            assert state is not None and state.status == JobStatus.DONE_WITH_ERRORS
            ((level, text),) = state.lines
            assert level == Level.ERROR and text.startswith(line) and "secret" not in text


def test_a_task_whose_server_stopped_no_longer_blocks(engine: Engine, owner: User, session: Session) -> None:
    owner_id = owner.id
    session.commit()
    with session_scope(engine) as db:
        job_id = start_task(db, owner_id, Task.NUMISTA_SEARCH, total=5, unit="searches", step="")
    with session_scope(engine) as db:  # its thread died with the server: the row stopped moving long ago
        long_ago = (datetime.now(UTC) - STALE_AFTER - timedelta(minutes=1)).isoformat()
        db.execute(update(Job).where(Job.id == job_id).values(params={"done": 2, "total": 5, "updatedAt": long_ago}))
    with session_scope(engine) as db:
        state = latest_task(db, owner_id, Task.NUMISTA_SEARCH)
        assert state is not None and state.stale and not state.running
        assert "start it again" in state.lines[-1][1]
        again = start_task(db, owner_id, Task.NUMISTA_SEARCH, total=5, unit="searches", step="")
    with session_scope(engine) as db:
        old = db.get(Job, job_id)
        assert old is not None and old.status == JobStatus.CANCELLED and again != job_id


def test_reports_are_throttled_but_the_last_one_is_written(engine: Engine, owner: User, session: Session) -> None:
    owner_id = owner.id
    session.commit()
    with session_scope(engine) as db:
        job_id = start_task(db, owner_id, Task.NUMISTA_SEARCH, total=100, unit="searches", step="")
    report = TaskReporter(engine, job_id, min_interval=60)
    report(1, 100, force=True)
    report(50, 100)  # within the interval: not written
    with session_scope(engine) as db:
        state = latest_task(db, owner_id, Task.NUMISTA_SEARCH)
        assert state is not None and state.progress.done == 1
    report(100, 100)  # the last unit always is
    with session_scope(engine) as db:
        state = latest_task(db, owner_id, Task.NUMISTA_SEARCH)
        assert state is not None and state.progress.done == 100


def test_the_import_page_imports_an_opennumismat_file_in_the_background(
    app_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Import now starts a task (the page run ends at once); its result and the refreshed preview follow. The
    task reads a copy of the upload that only the server's user can read, removed once the import ended."""
    import stat
    import tempfile

    from streamlit.testing.v1 import AppTest

    from services import task_work
    from services.collection import list_items
    from services.context import open_context
    from tests.fixture_files import opennumismat_file
    from tests.sync_support import wait_task

    uploads = tmp_path / "uploads"
    uploads.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(uploads))
    copies: list[tuple[Path, int]] = []
    import_work = task_work.opennumismat_import_work

    def recorded(context, owner_id, path, **options):  # type: ignore[no-untyped-def]
        copies.append((path, stat.S_IMODE(path.stat().st_mode)))
        return import_work(context, owner_id, path, **options)

    monkeypatch.setattr(task_work, "opennumismat_import_work", recorded)

    app = str(Path(__file__).resolve().parents[1] / "app.py")
    at = AppTest.from_file(app, default_timeout=60).run()
    at.switch_page("pages/import.py").run()
    data = opennumismat_file().read_bytes()
    at.file_uploader(key="opennumismat_file").set_value(("mine.db", data, "application/octet-stream")).run()
    assert [m.value for m in at.metric][:4] == ["21", "0", "0", "0"]
    at.button(key="opennumismat_commit").click().run()
    assert not at.exception, at.exception
    context = open_context()
    wait_task(context.engine, "opennumismat_import")
    at.run()
    assert any("Imported: 21 new, 0 updated, 0 unchanged." in s.value for s in at.success)
    assert at.progress[0].value == 100 and "21 of 21 coins" in str(at.progress[0].proto.text)
    assert [m.value for m in at.metric][:4] == ["0", "0", "21", "0"]  # the preview reads the collection after it
    with context.session() as session:
        assert sum(1 for item in list_items(session, 1) if item.kind == "coin") == 21
    from services.exchange_rates import current_rates
    from services.memo import basis
    from services.store.models_memo import AggregateMemo

    with context.session() as session:  # the Overview was computed again before the task ended
        (remembered,) = session.scalars(select(AggregateMemo.basis).where(AggregateMemo.answer == "overview"))
        assert remembered == basis(session, 1, current_rates())
    ((copy, mode),) = copies
    assert copy.parent == uploads and mode == 0o600  # the server's user only
    assert list(uploads.iterdir()) == []  # removed after the import


def _poll_catalogue_sync() -> None:
    """One tick of the catalogue sync panel's fragment, as the browser's timer sends it (for AppTest)."""
    from services.tasks import Task
    from ui.progress import _poll
    from ui.session import app_context, local_actor

    _poll(app_context(), local_actor().id, Task.CATALOGUE_SYNC)


def test_a_late_tick_of_an_ended_task_draws_nothing(app_env: str) -> None:
    """The whole page's run draws an ended task's result. A tick that arrives after that run (sent before it
    began, or from a fragment a page's st.stop() left registered) drew it a second time, for good."""
    from streamlit.testing.v1 import AppTest

    from services.context import open_context

    at = AppTest.from_function(_poll_catalogue_sync, default_timeout=30).run()
    context = open_context()
    with context.session() as session:
        owner_id = session.scalars(select(User.id)).one()
        job_id = start_task(session, owner_id, Task.CATALOGUE_SYNC, total=2, unit="sets", step="Starting…")
    release = threading.Event()

    def work(report: TaskReporter) -> TaskOutcome:
        report(1, 2, "Set one", force=True)
        release.wait(10)
        return TaskOutcome(((Level.SUCCESS, "2 set(s) synced"),))

    thread = run_in_thread(context.engine, job_id, work)
    for _ in range(100):
        at.run()
        if at.progress and "Set one" in str(at.progress[0].proto.text):
            break
    assert "1 of 2 sets" in str(at.progress[0].proto.text)  # running: the tick draws its progress
    assert at.session_state["task_running_catalogue_sync"] == job_id
    release.set()
    thread.join(10)
    at.run()  # the tick that sees it end refreshes the whole page (here: this script again) and draws nothing
    assert not at.exception and not at.progress and not at.success
    assert "task_running_catalogue_sync" not in at.session_state
    at.run()  # a late tick
    assert not at.exception and not at.progress and not at.success


def test_a_page_task_the_member_already_runs_is_refused_and_its_upload_copy_removed(
    app_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages start tasks through ui/progress.py: the member's same task still running refuses a second one (one
    line, or nothing for a page that follows the running one), nothing is run, and an upload's private copy
    is removed at once since no task will remove it."""
    import tempfile

    import ui.progress as progress
    from services.accounts import ensure_local_user
    from services.context import open_context

    context = open_context()
    with context.session() as session:
        owner_id = ensure_local_user(session).id
        start_task(session, owner_id, Task.OPENNUMISMAT_IMPORT, total=1, unit="coins", step="Importing")
    ran: list[int] = []
    monkeypatch.setattr(progress, "run_in_thread", lambda _engine, job_id, _work: ran.append(job_id))
    errors: list[str] = []
    monkeypatch.setattr(progress.st, "error", errors.append)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(uploads))

    def work(_report: TaskReporter) -> TaskOutcome:
        raise AssertionError("never run")

    assert not progress.start_page_task(context, owner_id, Task.OPENNUMISMAT_IMPORT, work, total=1, unit="coins")
    assert not progress.start_page_task(context, owner_id, Task.OPENNUMISMAT_IMPORT, work, total=1, unit="coins",
                                        quiet=True)  # fmt: skip
    progress.start_file_task(context, owner_id, Task.OPENNUMISMAT_IMPORT, b"data", suffix=".db", total=1,
                             unit="coins", step="Importing", work=lambda _path: work)  # fmt: skip
    assert ran == [] and len(errors) == 2 and list(uploads.iterdir()) == []
    assert progress.start_page_task(context, owner_id, Task.CATALOGUE_SYNC, work, total=None, unit="sets")
    assert len(ran) == 1
