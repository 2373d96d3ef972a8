"""Export: push coins to your Numista collection (choose → review → watch) and see where items stand.

The push itself runs in the server's background worker (ui/sync_worker.py) from a job in the database, so
leaving the page, a click elsewhere or a restart does not lose it; this page only queues, watches and
steers jobs through services.sync.
"""

import pandas as pd
import streamlit as st

from services.accounts.connections import status as connection_status
from services.collection import ItemFilter, count_items, sync_summary
from services.errors import VitrineError
from services.grades import NUMISTA_GRADES
from services.integrations.numista.pusher import (
    ON_SYNCED,
    export_candidates,
    export_options,
    get_preferences,
    plan_export,
    plan_summary,
    quota_cost,
    set_item_options,
    start_export,
)
from services.integrations.numista.quota import quota_status
from services.labels import SERVICE_LABELS, day, moment, status_label, sync_label
from services.progress import ProgressSnapshot, duration_text
from services.states import ItemKind, JobStatus, RowAction
from services.store.models import SYNC_STATUSES
from services.sync import engine as jobs
from ui import cache
from ui.discogs_export import discogs_export_section
from ui.export_selection import preselection_notice
from ui.progress import show_progress
from ui.session import app_context, current_actor
from ui.sync_views import numista_collections

ON_SYNCED_LABELS = {RowAction.SKIP: "Skip it", RowAction.COPY: "Add another copy",
                    RowAction.UPDATE: "Update it (only the changed fields)"}  # fmt: skip
JOB_LABELS = {
    JobStatus.QUEUED: "waiting for the worker", JobStatus.RUNNING: "pushing", JobStatus.PAUSED: "paused",
    JobStatus.CANCELLED: "cancelled", JobStatus.DONE: "done", JobStatus.DONE_WITH_ERRORS: "done, some items failed",
}  # fmt: skip
IMPORTANT_FIELDS = ("issue", "grade", "price")

actor = current_actor()
context = app_context()
state = st.session_state
st.title("Export")
preselection_notice()

with context.session() as session:  # the page polls only while a push is open
    pushing = any(job.status in jobs.OPEN_JOB for job in jobs.list_jobs(session, actor.id, limit=5))


@st.fragment(run_every="5s" if pushing else None)
def sync_summary_panel() -> None:
    """Where items stand per service, read fresh on every run and every few seconds while a push is open
    (the background worker changes it meanwhile)."""
    with context.session() as session:
        summary = sync_summary(session, actor.id)
        connected = {service: connection_status(session, context.vault, actor.id, service).connected
                     for service in summary}  # fmt: skip
    st.subheader("Sync status")
    table = pd.DataFrame(
        [
            {"Service": SERVICE_LABELS.get(service, service),
             **{sync_label(status): counts.get(status, 0) for status in SYNC_STATUSES}}
            for service, counts in summary.items()
        ]
    )  # fmt: skip
    st.dataframe(table, hide_index=True, key="sync_table")
    missing = [SERVICE_LABELS.get(service, service) for service, ok in connected.items() if not ok]
    connect_hint = f" Connect {' and '.join(missing)} on the Connections page to push there." if missing else ""
    st.caption("Coins go to Numista, records to Discogs." + connect_hint)


sync_summary_panel()


def select_step() -> None:
    """Step 1: which coins, into which collection, and what to do with coins already on Numista."""
    text_col, sync_col, held_col = st.columns([2, 1, 1])
    text = text_col.text_input("Title contains", key="export_filter_text")
    sync_filter = sync_col.selectbox("Sync status", ["any", *SYNC_STATUSES], key="export_filter_sync",
                                     format_func=lambda s: "Any" if s == "any" else sync_label(s))  # fmt: skip
    held_only = held_col.checkbox("Coins you hold", value=True, key="export_filter_held")
    filters = ItemFilter(
        sync_status=None if sync_filter == "any" else sync_filter, text=text or None, held_only=held_only
    )
    with context.session() as session:
        preferences = get_preferences(session, actor.id)
        has_coins = count_items(session, actor.id, ItemFilter(kind=ItemKind.COIN)) > 0
        candidates = export_candidates(session, actor.id, filters)
    if not has_coins:
        st.info("You have no coins yet: import an OpenNumismat file or add coins first.")
        return
    previous = set(state.get("export_selection", []))
    default = state.get("export_default_push")
    rows = [
        {"push": default if default is not None else coin.item_id in previous, "id": coin.item_id,
         "title": coin.title, "grade": coin.grade, "Numista grade": coin.grade_override or "",
         "for swap": coin.for_swap,
         "if on Numista": state.get("export_actions", {}).get(coin.item_id, "") if coin.linked else "",
         "status": status_label(coin.status), "sync": sync_label(coin.sync), "N#": coin.numista_type_id}
        for coin in candidates
    ]  # fmt: skip
    options = {coin.item_id: {"grade": coin.grade_override, "for_swap": coin.for_swap} for coin in candidates}
    all_col, none_col, _ = st.columns([1, 1, 4])
    if all_col.button("Select all", key="export_select_all"):
        state["export_default_push"] = True
        state["export_pick_version"] = state.get("export_pick_version", 0) + 1
        st.rerun()
    if none_col.button("Select none", key="export_select_none"):
        state["export_default_push"] = False
        state["export_pick_version"] = state.get("export_pick_version", 0) + 1
        st.rerun()
    if not rows:
        st.info("No coin matches these filters.")
        return
    frame = pd.DataFrame(rows)
    edited = st.data_editor(
        frame,
        key=f"export_pick_{state.get('export_pick_version', 0)}",
        hide_index=True,
        disabled=["id", "title", "grade", "status", "sync", "N#"],
        column_config={
            "push": st.column_config.CheckboxColumn("push", help="push this coin"),
            "Numista grade": st.column_config.SelectboxColumn(
                options=["", *NUMISTA_GRADES], help="override the grade sent for this coin (empty: mapped)"
            ),
            "for swap": st.column_config.CheckboxColumn(help="offer it for swap (status 'sale' always is)"),
            "if on Numista": st.column_config.SelectboxColumn(
                options=["", *ON_SYNCED], help="for a coin already on Numista: skip, copy or update (empty: below)"
            ),
        },
    )
    chosen = [int(value) for value in edited.loc[edited["push"].fillna(False).astype(bool), "id"]]

    collections, problem = numista_collections(actor.id)
    if problem:
        st.warning(f"Could not list your Numista collections: {problem}")
    ids = [None, *(c["id"] for c in collections)]
    names = {c["id"]: c["name"] for c in collections}
    remembered = preferences["collection"] if preferences["collection"] in ids else None
    collection = st.selectbox(
        "Numista collection",
        ids,
        index=ids.index(remembered),
        format_func=lambda cid: "your default collection" if cid is None else f"{names.get(cid, cid)} (#{cid})",
        key="export_collection",
    )
    use_internal_id = st.checkbox(
        "Mark each item with its Vitrine marker (vitrine:<install>:<id>) as its internal ID (lets a retried push "
        "recognise its own items)",
        value=bool(preferences["use_internal_id"]),
        key="export_internal_id",
    )
    on_synced = st.radio(
        "Coins already on Numista",
        ON_SYNCED,
        index=ON_SYNCED.index(preferences["on_synced"]),
        format_func=ON_SYNCED_LABELS.get,
        horizontal=True,
        key="export_on_synced",
    )
    if st.button(f"Review {len(chosen)} coin(s)", key="export_review", type="primary", disabled=not chosen):
        try:
            with context.session() as session:
                for record in edited.to_dict("records"):
                    own = options.get(int(record["id"]), {})
                    grade = record["Numista grade"] or None
                    swap = bool(record["for swap"])
                    if grade != own.get("grade") or swap != bool(own.get("for_swap")):
                        set_item_options(session, actor.id, int(record["id"]), grade=grade, for_swap=swap or None)
        except VitrineError as error:
            st.error(error.message)
            return
        state["export_selection"] = chosen
        state["export_actions"] = {
            int(record["id"]): record["if on Numista"]
            for record in edited.to_dict("records")
            if record["if on Numista"] in ON_SYNCED
        }
        state["export_choice"] = {
            "collection": collection, "collection_name": names.get(collection), "use_internal_id": use_internal_id,
            "on_synced": on_synced,
        }  # fmt: skip
        state["export_step"] = "review"
        st.rerun()


def review_step() -> None:
    """Step 2: the exact bodies, what is left out and why, the quota cost; then confirm."""
    choice = state["export_choice"]
    with context.session() as session:
        options = export_options(
            session, actor.id, collection_id=choice["collection"], use_internal_id=choice["use_internal_id"]
        )
        plan = plan_export(
            session, actor.id, state["export_selection"], options, on_synced=choice["on_synced"],
            actions=state.get("export_actions"),
        )  # fmt: skip
        quota = quota_status(session, actor.id)
    counts, cost = plan_summary(plan), quota_cost(plan)
    columns = st.columns(5)
    columns[0].metric("To add", counts["create"])
    columns[1].metric("To update", counts["update"])
    columns[2].metric("Extra copies", counts["copy"])
    columns[3].metric("Skipped", counts["skip"])
    columns[4].metric("Numista calls", cost, help=f"{quota.remaining} of {quota.limit} left in {quota.month}")
    if cost > quota.remaining:
        st.warning(
            f"This push needs about {cost} Numista calls but only {quota.remaining} are left this month. It will "
            f"pause when the quota runs out; resume it after {day(quota.resets_on)}."
        )
    warnings = []
    for row in plan:
        notes = [row.reason] if row.action == "skip" else []
        notes += [f"{name}: {row.mapped.omitted[name]}" for name in IMPORTANT_FIELDS if name in row.mapped.omitted]
        if notes:
            note = "; ".join(notes)
            warnings.append({"id": row.item_id, "title": row.mapped.title, "action": row.action, "note": note})
    if warnings:
        st.subheader("Mapping warnings")
        st.dataframe(pd.DataFrame(warnings), hide_index=True, key="export_warnings")

    st.subheader("Preview")
    ordered = sorted(plan, key=lambda row: row.action == "skip")  # coins that will be sent first
    titles = {row.item_id: row.mapped.title for row in ordered}
    picked = st.selectbox("Coin", list(titles), format_func=lambda i: f"#{i} {titles[i]}", key="export_preview_item")
    row = next(row for row in plan if row.item_id == picked)
    st.caption(f"Action: {row.action}" + (f" — {row.reason}" if row.reason else ""))
    if row.mapped.payload is not None:
        st.json(row.mapped.payload, expanded=True)
    if row.changes:
        st.dataframe(
            pd.DataFrame(
                [{"field": c.field, "on Numista": str(c.numista), "would send": "(cleared)" if c.cleared else
                  "(kept: the API cannot clear it)" if c.kept else str(c.vitrine)} for c in row.changes]
            ),
            hide_index=True,
            key="export_diff",
        )  # fmt: skip
    if row.mapped.omitted:
        omitted = [{"field": name, "why it is not sent": why} for name, why in row.mapped.omitted.items()]
        st.dataframe(pd.DataFrame(omitted), hide_index=True, key="export_omitted")

    back, confirm = st.columns([1, 3])
    if back.button("Back", key="export_back"):
        state["export_step"] = "select"
        st.rerun()
    pushes = counts["create"] + counts["update"] + counts["copy"]
    if confirm.button(f"Push {pushes} coin(s) to Numista", key="export_confirm", type="primary", disabled=not pushes):
        try:
            with context.session() as session:
                job_id = start_export(
                    session, actor.id, plan, options, on_synced=choice["on_synced"],
                    collection_name=choice.get("collection_name"),
                )  # fmt: skip
        except VitrineError as error:
            st.error(error.message)
            return
        cache.invalidate()
        state["export_job"] = job_id
        state["export_step"] = "progress"
        state.pop("export_default_push", None)
        st.rerun()


@st.fragment(run_every="2s" if pushing else None)
def job_panel(job_id: int) -> None:
    """Live progress of one job, polled from the database while a push is open; pause, resume, cancel, retry
    the failed ones."""
    try:
        with context.session() as session:
            job = jobs.get_job(session, actor.id, job_id)
            progress = jobs.job_progress(session, job)
            results = jobs.job_results(session, actor.id, job_id)
            status, message = job.status, job.message
    except VitrineError as error:
        st.error(error.message)
        return
    if pushing and status not in jobs.OPEN_JOB:  # this push ended: redraw the page and its sync summary
        cache.invalidate()  # (it polls again only if another push is open)
        st.rerun(scope="app")
    st.subheader(f"Job {job_id}: {JOB_LABELS.get(status, status)}")
    handled = progress.total - progress.remaining
    show_progress(
        ProgressSnapshot(handled, progress.total, "items handled", finished=status not in jobs.ACTIVE_JOB),
        "Pushing" if status in jobs.ACTIVE_JOB else "",
    )
    columns = st.columns(4)
    columns[0].metric("Done", progress.done)
    columns[1].metric("Failed", progress.failed)
    columns[2].metric("Remaining", progress.remaining)
    columns[3].metric("Time left", duration_text(progress.eta_seconds) if status in jobs.ACTIVE_JOB else "—")
    if message:
        (st.warning if status == JobStatus.PAUSED else st.info)(message)
    buttons = st.columns(4)
    action = None
    if status in jobs.ACTIVE_JOB and buttons[0].button("Pause", key="export_pause"):
        action = jobs.pause_job
    if status == JobStatus.PAUSED and buttons[0].button("Resume", key="export_resume", type="primary"):
        action = jobs.resume_job
    if status in jobs.OPEN_JOB and buttons[1].button("Cancel", key="export_cancel"):
        action = jobs.cancel_job
    if (
        progress.failed
        and status == JobStatus.DONE_WITH_ERRORS
        and buttons[2].button(f"Retry {progress.failed} failed", key="export_retry", type="primary")
    ):
        action = jobs.retry_failed
    if action is not None:
        try:
            with context.session() as session:
                action(session, actor.id, job_id)
        except VitrineError as error:
            st.error(error.message)
        cache.invalidate()
        st.rerun()
    if results:
        st.dataframe(pd.DataFrame(results).drop(columns=["step"]), hide_index=True, key="export_results")


st.header("Push coins to Numista")
with context.session() as db:
    connected = connection_status(db, context.vault, actor.id, "numista").connected
step = state.get("export_step", "select")
if step == "progress" and "export_job" in state:  # any export job: Numista or Discogs
    state.pop("export_watching", None)  # this full run shows everything fresh: only the panel's own runs rerun it
    job_panel(int(state["export_job"]))
    if st.button("New export", key="export_new"):
        state["export_step"] = "select"
        st.rerun()
elif not connected:
    st.info("Connect Numista first: save your API key on the Connections page.")
elif step == "review" and "export_choice" in state:
    review_step()
else:
    select_step()

discogs_export_section(context, actor)


@st.fragment(run_every="5s" if pushing else None)
def recent_jobs() -> None:
    """The user's recent export jobs in one query, refreshed every few seconds only while one is open."""
    with context.session() as db:
        recent = jobs.recent_job_summaries(db, actor.id, limit=20)
    if pushing and not any(j["status"] in jobs.OPEN_JOB for j in recent):
        st.rerun(scope="app")  # the last open job ended: redraw the page, which stops the polling
    if not recent:
        return
    st.subheader("Recent exports")
    st.dataframe(
        pd.DataFrame(
            [{"job": j["id"], "service": SERVICE_LABELS.get(j["service"], j["service"]),
              "status": JOB_LABELS.get(j["status"], j["status"]),
              "done": j["progress"]["done"], "failed": j["progress"]["failed"],
              "remaining": j["progress"]["remaining"], "started": moment(j["startedAt"]), "message": j["message"] or ""}
             for j in recent]
        ),
        hide_index=True,
        key="export_jobs",
    )  # fmt: skip
    opened = st.selectbox("Open a job", [j["id"] for j in recent], key="export_open_job")
    if st.button("Show progress and results", key="export_show_job"):
        state["export_job"] = opened
        state["export_step"] = "progress"
        st.rerun()


recent_jobs()
