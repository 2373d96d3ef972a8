"""The Import page's card section: upload a TCGplayer or Collectr CSV, see matched / ambiguous / unmatched rows,
pick the card for ambiguous ones, then import everything in one transaction.

A function (not a page) so the Import page, which belongs to another area, only calls
`cards_csv_section(context, actor)`.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from services.context import AppContext
from services.errors import VitrineError
from services.importers.cards_csv import DETAIL_ROWS, CardImportReport, RowOutcome, describe_cards, import_cards_csv
from services.integrations.pokemontcg.catalog import ensure_offline_catalogue
from services.states import MatchStatus
from services.task_work import cards_csv_import_work
from services.tasks import Task
from ui.progress import start_page_task, task_panel
from ui.session import Actor

UNDECIDED, SKIP = "?", "-"
PICK_PREFIX = "cards_csv_pick_"


def _choices(file_id: str) -> dict[int, str | None]:
    """The user's picks for ambiguous rows of this file, read from the widgets of the previous run."""
    prefix = f"{PICK_PREFIX}{file_id}_"
    picks: dict[int, str | None] = {}
    for key, value in st.session_state.items():
        if isinstance(key, str) and key.startswith(prefix) and value not in (None, UNDECIDED):
            picks[int(key.removeprefix(prefix))] = None if value == SKIP else str(value)
    return picks


def _rows_table(outcomes: list[RowOutcome]) -> pd.DataFrame:
    rows = [o.to_json() for o in outcomes]
    columns = ["row", "name", "set", "number", "quantity", "condition", "printing", "cardId", "action", "reason"]
    return pd.DataFrame({name: [r[name] for r in rows] for name in columns})


def _labels(context: AppContext, report: CardImportReport) -> dict[str, str]:
    ids = {c for o in report.rows for c in o.candidates}
    if not ids:
        return {}
    with context.session() as session:
        return describe_cards(session, ids)


def cards_csv_section(context: AppContext, actor: Actor) -> None:
    """Upload → preview → commit for card exports."""
    st.subheader("Cards from TCGplayer or Collectr (CSV)")
    st.caption(
        "Export your collection from the TCGplayer app or Collectr and choose the CSV file. Rows are matched to "
        "catalogue cards by set, number and name; you see what would change first and nothing is written until "
        "you confirm. Importing a newer export again updates the entries it brought in."
    )
    # The task's state is read before the preview: a preview read after it sees what a finished import wrote.
    last_import = task_panel(context, actor.id, Task.CARDS_CSV_IMPORT)
    importing = last_import is not None and last_import.running
    upload = st.file_uploader("Card export", type=["csv"], key="cards_csv_file")
    if upload is None:
        return
    data = upload.getvalue()
    file_id = hashlib.sha1(data).hexdigest()[:12]
    currency = st.selectbox(
        "Prices without a currency sign are in", ["USD", "EUR", "GBP", "CHF"], key="cards_csv_currency"
    )
    choices = _choices(file_id)
    try:
        with context.session() as session:
            ensure_offline_catalogue(session)
            preview = import_cards_csv(
                session, actor.id, data, choices=choices, dry_run=True, currency=currency,
                max_rows=context.settings.import_max_rows,
            )  # fmt: skip
    except VitrineError as error:
        st.error(error.message)
        return
    new, changed, same, skipped = st.columns(4)
    new.metric("New entries", preview.created)
    changed.metric("Updated", preview.updated)
    same.metric("Unchanged", preview.unchanged)
    skipped.metric("Skipped", preview.skipped)
    matched = [o for o in preview.rows if o.status == MatchStatus.MATCHED]
    chosen = [o for o in preview.rows if o.row.row in choices]
    problems = [o for o in preview.rows if o.status in (MatchStatus.UNMATCHED, MatchStatus.INVALID)]
    st.caption(
        f"{preview.format} export · {preview.count('matched')} matched · {preview.count('ambiguous')} ambiguous · "
        f"{preview.count('unmatched')} unmatched · {preview.count('invalid')} invalid · "
        f"{preview.count('skipped')} skipped" + (f" (the first {DETAIL_ROWS:,} of each are listed)"
                                                 if len(preview.rows) < sum(preview.matching.values()) else "")
    )
    if matched:
        st.caption("Matched")
        st.dataframe(_rows_table(matched), hide_index=True, key="cards_csv_matched")
    pending = [o for o in preview.rows
               if o.status == MatchStatus.AMBIGUOUS or (o in chosen and o.status != MatchStatus.INVALID)]  # fmt: skip
    if pending:
        st.caption("Ambiguous: pick the card each row means (or skip it); undecided rows are reported, not imported")
        labels = _labels(context, preview)
        for outcome in pending:
            row = outcome.row
            options = [UNDECIDED, SKIP, *outcome.candidates]
            st.selectbox(
                f"Row {row.row}: {row.quantity} × {row.name} ({' '.join(filter(None, (row.set_name, row.number)))})"
                f" — {outcome.reason}",
                options,
                key=f"{PICK_PREFIX}{file_id}_{row.row}",
                format_func=lambda c: {UNDECIDED: "Decide later", SKIP: "Skip this row"}.get(c, labels.get(c, c)),
            )
    if problems:
        st.caption("Not importable")
        st.dataframe(_rows_table(problems), hide_index=True, key="cards_csv_problems")
    skipped_rows = [o for o in preview.rows if o.status == MatchStatus.SKIPPED]
    if skipped_rows:
        with st.expander(f"{len(skipped_rows)} skipped row(s)"):
            st.dataframe(_rows_table(skipped_rows), hide_index=True, key="cards_csv_skipped")
    if st.button("Import cards now", key="cards_csv_commit", type="primary",
                 disabled=not (preview.created or preview.updated) or importing):  # fmt: skip
        # The import runs on the server with the rows decided here: leaving the page does not stop it.
        work = cards_csv_import_work(context, actor.id, data, choices=choices, currency=currency)
        if start_page_task(context, actor.id, Task.CARDS_CSV_IMPORT, work, total=sum(preview.matching.values()),
                           unit="rows", step="Importing cards"):  # fmt: skip
            st.rerun()
