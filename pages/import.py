"""Import: bring a collection in from another tool; every import is previewed, then committed at once."""

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from services.collection import origin_summary
from services.demo import load_demo
from services.errors import VitrineError
from services.importers.opennumismat_import import import_opennumismat, source_name
from services.integrations.numista.grade_overrides import grade_overrides
from services.task_work import opennumismat_import_work
from services.tasks import Task
from ui import cache
from ui.cards_import import cards_csv_section
from ui.discogs_import import discogs_import_section
from ui.progress import start_file_task, task_panel
from ui.session import app_context, current_actor

actor = current_actor()
context = app_context()
st.title("Import")

st.subheader("OpenNumismat collection")
st.caption(
    "Choose your collection file (.db). You see what would change first; nothing is written until you confirm. "
    "Importing the same file again updates the coins it brought in and keeps your own edits."
)
# The task's state is read before the preview: a preview read after it sees what a finished import wrote.
last_import = task_panel(context, actor.id, Task.OPENNUMISMAT_IMPORT)
importing = last_import is not None and last_import.running
upload = st.file_uploader("OpenNumismat file", type=["db"], key="opennumismat_file")
if upload is not None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / upload.name
        path.write_bytes(upload.getvalue())
        origin = source_name(upload.name)
        try:
            with context.session() as session:
                preview = import_opennumismat(
                    session, actor.id, path, currency=actor.currency, source=origin, dry_run=True,
                    grade_overrides=grade_overrides(session, actor.id), max_rows=context.settings.import_max_rows,
                )
        except VitrineError as error:
            st.error(error.message)
            preview = None
        if preview is not None:
            new, changed, same, skipped = st.columns(4)
            new.metric("New coins", preview.created)
            changed.metric("Updated", preview.updated)
            same.metric("Unchanged", preview.unchanged)
            skipped.metric("Skipped", preview.skipped)
            by_status, by_grade = st.columns(2)
            by_status.caption("By status (wish, sold, pass, demo and bidding are kept but not valued)")
            by_status.dataframe(pd.Series(preview.by_status, name="coins"), key="import_by_status")
            by_grade.caption("By Numista grade ('unmapped': empty or not recognised, never guessed)")
            by_grade.dataframe(pd.Series(preview.by_numista_grade, name="coins"), key="import_by_grade")
            if preview.changes:
                st.caption("What the file changed since the last import")
                st.dataframe(pd.DataFrame(preview.changes), hide_index=True, key="import_changes")
            for error in preview.errors:
                st.warning(f"Row {error['row']}: {error['reason']}")
            if st.button("Import now", key="opennumismat_commit", type="primary",
                         disabled=not (preview.created or preview.updated) or importing):  # fmt: skip
                start_file_task(
                    context, actor.id, Task.OPENNUMISMAT_IMPORT, upload.getvalue(), suffix=".db",
                    total=preview.created + preview.updated + preview.unchanged + preview.skipped, unit="coins",
                    step="Importing coins", work=lambda copy: opennumismat_import_work(
                        context, actor.id, copy, source=origin, currency=actor.currency),
                )  # fmt: skip

st.subheader("What is in your collection, by source")
with context.session() as session:
    summary = pd.DataFrame(origin_summary(session, actor.id))
if summary.empty:
    st.info("Nothing imported yet.")
else:
    st.dataframe(summary, hide_index=True, key="origin_table")

st.subheader("Demo collection")
st.caption("Real coins, records and cards with illustrative prices. Loading it twice changes nothing.")
if st.button("Load the demo collection", key="import_demo"):
    with context.session() as session:
        result = load_demo(session, actor.id)
    cache.invalidate()
    st.success(f"{result.created} added, {result.unchanged} already there.")

cards_csv_section(context, actor)

discogs_import_section(context, actor)
