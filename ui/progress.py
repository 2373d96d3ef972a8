"""The progress widget every long task shares (a bar with "12 of 40 sets · about 2 min left"), and the panel
that polls a background task (services/tasks.py) and refreshes the whole page when it ends, so the page's
summaries show the task's result without a manual reload."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import streamlit as st

from services.context import AppContext
from services.errors import VitrineError
from services.labels import moment
from services.progress import ProgressSnapshot
from services.store.models import utcnow
from services.tasks import Task, TaskState, Work, latest_task, run_in_thread, start_task
from ui import cache

POLL_SECONDS = 1.0
_DUE_CHECK_SECONDS = 5.0  # how often rerun_at looks at the clock


def show_progress(snapshot: ProgressSnapshot, step: str = "", *, now: datetime | None = None) -> None:
    """A progress bar with its counts and ETA (``step``, when given, says what is being done now)."""
    line = snapshot.text(now or utcnow())
    st.progress(snapshot.fraction, text=f"{step} · {line}" if step else line)


def _show(state: TaskState) -> None:
    if state.running:
        show_progress(state.progress, state.step or "Working…")
        return
    show_progress(state.progress)
    for level, text in state.lines:
        getattr(st, level.value)(text)
    if state.finished_at is not None:
        st.caption(f"Finished {moment(state.finished_at)}.")


def _seen_key(task: Task) -> str:
    return f"task_running_{task.value}"


def _poll(context: AppContext, owner_id: int, task: Task) -> None:
    """One tick of the running panel. It draws only a running task: the ended one is drawn by the whole page's
    run that the end triggers. A tick sent before that run began can still arrive after it, and a page that
    ended with ``st.stop()`` leaves this fragment registered: drawing the result then would show it twice."""
    with context.session() as session:
        state = latest_task(session, owner_id, task)
    if state is None:
        return
    if state.running:
        st.session_state[_seen_key(task)] = state.job_id
        _show(state)
    elif st.session_state.get(_seen_key(task)) == state.job_id:  # it just ended: refresh every summary
        st.session_state.pop(_seen_key(task), None)
        cache.invalidate()
        st.rerun(scope="app")


def task_panel(context: AppContext, owner_id: int, task: Task, state: TaskState | None = None) -> TaskState | None:
    """Show the member's latest run of ``task``: live while it runs (polled every second, also after coming
    back to the page), its result lines once it ended. Returns the state it found (None: never run).

    A page reads the state (``state``, or here) before the data the task changes: when it says "ended", that
    data is read after the task's commit; when it says "running", the panel reruns the page once it ends."""
    if state is None:
        with context.session() as session:
            state = latest_task(session, owner_id, task)
    if state is None:
        return None
    if state.running:
        st.session_state[_seen_key(task)] = state.job_id  # ends before the panel shows: rerun, data read again
        st.fragment(run_every=POLL_SECONDS)(_poll)(context, owner_id, task)
    else:
        _show(state)
    return state


def rerun_at(moment_due: datetime) -> None:
    """Run the whole page again once ``moment_due`` has passed, while it stays open (checked every few seconds):
    a page that waits before doing something by itself (the Overview's paused update) then does it."""

    def check() -> None:
        if utcnow() >= moment_due:
            st.rerun()

    st.fragment(run_every=_DUE_CHECK_SECONDS)(check)()


def start_page_task(context: AppContext, owner_id: int, task: Task, work: Work, *, total: int | None, unit: str,
                    step: str = "Starting…", quiet: bool = False) -> bool:  # fmt: skip
    """Start ``task`` on the server: leaving the page does not stop it, and the page's task_panel shows it. The
    member's same task still running refuses it: one line on the page, or nothing when ``quiet`` (a page that
    then follows the running one). Returns whether it started: the one home of starting a task from a page."""
    try:
        with context.session() as session:
            job_id = start_task(session, owner_id, task, total=total, unit=unit, step=step)
    except VitrineError as error:
        if not quiet:
            st.error(error.message)
        return False
    run_in_thread(context.engine, job_id, work)
    return True


def start_file_task(context: AppContext, owner_id: int, task: Task, data: bytes, *, suffix: str, total: int,
                    unit: str, step: str, work: Callable[[Path], Work]) -> None:  # fmt: skip
    """Start ``task`` on the server over a private copy of an upload (its work removes the copy): leaving the
    page does not stop it. A refusal (the same task still running) is one line on the page."""
    handle, copy = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(handle, "wb") as private:
        private.write(data)
    started = False
    try:
        started = start_page_task(context, owner_id, task, work(Path(copy)), total=total, unit=unit, step=step)
    finally:
        if not started:  # refused (or failed to start): the task that would have removed the copy never runs
            Path(copy).unlink(missing_ok=True)
    if started:
        st.rerun()
