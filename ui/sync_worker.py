"""The push worker of this Streamlit server process: started once, stopped when the cache is cleared.

Why a thread in the server: a push of hundreds of coins must not live in a script run (a click cancels the
run, notes/streamlit.md §1.7). The worker claims jobs from the database, so it also picks up jobs queued by
the CLI, and a server restart simply continues them. Set VITRINE_BACKGROUND_WORKER=0 when a separate
`python -m services worker` process does the pushing instead.
"""

from __future__ import annotations

import streamlit as st

from services.sync.commands import build_worker
from services.sync.worker import Worker
from ui.session import app_context


def _stop(worker: Worker | None) -> None:
    if worker is not None:
        worker.stop(timeout=10)


@st.cache_resource(show_spinner=False, on_release=_stop)
def background_worker() -> Worker | None:
    """The one worker thread of this process (None when disabled)."""
    context = app_context()
    if not context.settings.background_worker:
        return None
    worker = build_worker(context)
    worker.start()
    return worker
