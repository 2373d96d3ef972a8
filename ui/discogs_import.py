"""The Import page's Discogs section: the collection CSV export (previewed, then committed in one
transaction) and an import from the connected account, run as a resumable background job whose progress
the page polls from the database (a click elsewhere does not stop it; running it again continues it)."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import pandas as pd
import streamlit as st
from sqlalchemy import select

from services.context import AppContext
from services.errors import VitrineError
from services.integrations.discogs import oauth
from services.integrations.discogs.importer import ACCOUNT_SOURCE, IMPORT_KIND, import_discogs_csv, import_from_account
from services.progress import ProgressSnapshot
from services.states import JobStatus
from services.store.models import Job
from services.task_work import discogs_csv_import_work
from services.tasks import Task
from ui import cache
from ui.progress import show_progress, start_file_task, task_panel
from ui.session import Actor

_RUNNING: dict[int, threading.Thread] = {}  # member id -> the import thread of this server process
_WATCHING = "discogs_import_watching"
OPEN = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.PAUSED)
JOB_LABELS = {JobStatus.QUEUED: "waiting", JobStatus.RUNNING: "running", JobStatus.PAUSED: "paused",
              JobStatus.DONE: "done", JobStatus.DONE_WITH_ERRORS: "done, with errors",
              JobStatus.CANCELLED: "cancelled"}  # fmt: skip


def _start_account_import(context: AppContext, owner_id: int, folder_id: int) -> None:
    running = _RUNNING.get(owner_id)
    if running is not None and running.is_alive():
        return

    def work() -> None:
        import_from_account(context.engine, context.settings, context.vault, owner_id, folder_id=folder_id)

    thread = threading.Thread(target=work, name=f"discogs-import-{owner_id}", daemon=True)
    _RUNNING[owner_id] = thread
    thread.start()


def _account_progress(context: AppContext, actor: Actor) -> None:
    """The account import's progress: polled every 2 s while its thread runs, drawn once otherwise."""
    thread = _RUNNING.get(actor.id)
    (_live_progress if thread is not None and thread.is_alive() else _draw_progress)(context, actor)


def _draw_progress(context: AppContext, actor: Actor) -> None:
    with context.session() as session:
        job = session.scalar(select(Job).where(Job.owner_id == actor.id, Job.kind == IMPORT_KIND,
                                               Job.service == ACCOUNT_SOURCE).order_by(Job.id.desc()))  # fmt: skip
        if job is None:
            return
        params, status, message, started = dict(job.params or {}), job.status, job.message, job.started_at
        job_id = job.id
    if st.session_state.get(_WATCHING) == job_id and status not in OPEN:  # it just ended: refresh the page
        st.session_state.pop(_WATCHING, None)
        cache.invalidate()
        st.rerun(scope="app")
    if status in OPEN:
        st.session_state[_WATCHING] = job_id
    pages, done = params.get("pages") or None, max(0, int(params.get("nextPage") or 1) - 1)
    step = (f"Import {JOB_LABELS.get(status, status)}: {params.get('created', 0)} new, "
            f"{params.get('updated', 0)} updated, {params.get('unchanged', 0)} unchanged")  # fmt: skip
    show_progress(ProgressSnapshot(done, pages, "pages", started, finished=status == JobStatus.DONE), step)
    if message:
        st.warning(message)


@st.fragment(run_every="2s")
def _live_progress(context: AppContext, actor: Actor) -> None:
    _draw_progress(context, actor)
    thread = _RUNNING.get(actor.id)
    if thread is None or not thread.is_alive():
        st.rerun(scope="app")  # the import ended: redraw the page, which stops the polling


def discogs_import_section(context: AppContext, actor: Actor) -> None:
    st.subheader("Records from Discogs")
    st.caption("One record per copy you own on Discogs. Importing again updates the records it brought in and "
               "keeps your own edits.")  # fmt: skip
    with context.session() as session:
        connected = oauth.connection_info(session, actor.id) is not None
    folder = st.number_input("Folder id (0: all folders)", min_value=0, value=0, step=1, key="discogs_import_folder")
    if st.button("Import from my Discogs account", key="discogs_import_account", disabled=not connected,
                 help=None if connected else "Connect Discogs on the Connections page first"):  # fmt: skip
        _start_account_import(context, actor.id, int(folder))
    st.session_state.pop(_WATCHING, None)  # this full run shows everything fresh: only the panel's own runs rerun it
    _account_progress(context, actor)

    # The task's state is read before the preview: a preview read after it sees what a finished import wrote.
    last_import = task_panel(context, actor.id, Task.DISCOGS_CSV_IMPORT)
    importing = last_import is not None and last_import.running
    upload = st.file_uploader("Discogs collection export (CSV)", type=["csv"], key="discogs_csv_file")
    if upload is None:
        return
    with tempfile.TemporaryDirectory() as folder_path:
        path = Path(folder_path) / upload.name
        path.write_bytes(upload.getvalue())
        try:
            with context.session() as session:
                preview = import_discogs_csv(session, actor.id, path, dry_run=True,
                                             max_rows=context.settings.import_max_rows)  # fmt: skip
        except VitrineError as error:
            st.error(error.message)
            return
        new, changed, same, skipped = st.columns(4)
        new.metric("New records", preview.created)
        changed.metric("Updated", preview.updated)
        same.metric("Unchanged", preview.unchanged)
        skipped.metric("Skipped", preview.skipped)
        st.caption("By media condition ('unmapped': empty or not a Discogs grade)")
        st.dataframe(pd.Series(dict(preview.by_condition), name="records"), key="discogs_csv_by_condition")
        for error in preview.errors:
            st.warning(f"Row {error['row']}: {error['reason']}")
        if st.button("Import records now", key="discogs_csv_commit", type="primary",
                     disabled=not (preview.created or preview.updated) or importing):  # fmt: skip
            start_file_task(
                context, actor.id, Task.DISCOGS_CSV_IMPORT, upload.getvalue(), suffix=".csv",
                total=preview.created + preview.updated + preview.unchanged + preview.skipped, unit="records",
                step="Importing records", work=lambda copy: discogs_csv_import_work(context, actor.id, copy),
            )  # fmt: skip
