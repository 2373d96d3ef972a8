"""Link coins to Numista: every held coin without a Numista type, with its best catalogue candidates, linked
in one pass (services/integrations/numista/bulk_link.py). Nothing is linked without a choice; calls are shown
before they are spent."""

import streamlit as st

from services.accounts import connections
from services.images import ImageCache, cached_uri, fetch_images, placeholder
from services.integrations.numista.api import numista_api
from services.integrations.numista.bulk_link import (
    DEFAULT_THRESHOLD,
    coins_to_link,
    issue_lists_needed,
    match_candidates,
    plan_bulk_link,
)
from services.integrations.numista.catalog import NumistaCatalog
from services.task_work import numista_link_work, numista_search_work
from services.tasks import Task, Work
from ui.progress import start_page_task, task_panel
from ui.session import app_context, current_actor

PER_PAGE = 25
SKIP = 0
_FLASH = "bulk_link_flash"

actor = current_actor()
context = app_context()
st.title("Link coins to Numista")
st.caption(
    "A coin needs its Numista type to be priced and pushed. Candidates come from one catalogue search per "
    "country and face value; you choose, nothing is linked on its own."
)
for level, message in st.session_state.pop(_FLASH, []):
    getattr(st, level)(message)

with context.session() as session:
    connected = connections.status(session, context.vault, actor.id, "numista").connected
if not connected:
    st.info("Connect your Numista account first: its catalogue is searched with your key.")
    st.page_link("pages/connections.py", label="Open Connections", icon=":material/link:")
    st.stop()


def _start(task: Task, *, total: int, unit: str, work: Work) -> None:
    """Start one of this page's tasks in the background; its progress is shown below and survives leaving."""
    if start_page_task(context, actor.id, task, work, total=total, unit=unit):
        st.rerun()


# The tasks' states are read before the coins and candidates: what a finished task wrote is then shown.
states = [task_panel(context, actor.id, task) for task in (Task.NUMISTA_SEARCH, Task.NUMISTA_LINK)]
busy = any(state is not None and state.running for state in states)  # one pass at a time
images = ImageCache.from_settings(context.settings)
with numista_api(context, actor.id) as api:
    catalog = NumistaCatalog(api)
    coins = coins_to_link(catalog)
    if not coins:
        st.success("Every coin you hold is linked to a Numista type. Push them from the Export page.")
        st.page_link("pages/export.py", label="Open Export", icon=":material/cloud_upload:")
        st.stop()
    plan = plan_bulk_link(catalog, coins)
    quota = api.quota()
    matches = match_candidates(catalog, coins)

to_link, searches, cached_count, calls, left = st.columns(5)
to_link.metric("Coins without a type", f"{len(coins):,}")
searches.metric("Searches needed", f"{len(plan.searches):,}")
cached_count.metric("Already cached", f"{plan.cached_searches:,}")
calls.metric("Calls to spend", f"{plan.calls_needed:,}")
left.metric("Calls left this month", f"{quota.remaining:,}")

if plan.calls_needed:
    too_many = plan.calls_needed > quota.remaining
    label = f"Search Numista ({plan.calls_needed:,} call{'s' if plan.calls_needed != 1 else ''})"
    if too_many:
        st.warning(f"{plan.calls_needed:,} calls needed, {quota.remaining:,} left this month: searching stops "
                   "when the quota runs out; what was found stays cached.")  # fmt: skip
    if st.button(label, key="bulk_search", type="primary", disabled=quota.remaining == 0 or busy):
        _start(Task.NUMISTA_SEARCH, total=len(plan.searches), unit="searches",
               work=numista_search_work(context, actor.id))  # fmt: skip

searched = [match for match in matches if match.searched]
if not searched:
    st.info("Run the search to see candidates for your coins.")
    st.stop()

threshold = st.slider("Accept automatically from a confidence of", 50, 100, DEFAULT_THRESHOLD, 5,
                      format="%d%%", key="bulk_threshold")  # fmt: skip
confident = [(match, match.accepted_at(threshold)) for match in searched]
confident = [(match, best) for match, best in confident if best is not None]
accept_col, clear_col, pictures_col = st.columns(3)
if accept_col.button(f"Choose the {len(confident)} clear match(es) at {threshold}% or more", key="bulk_accept",
                     disabled=not confident):  # fmt: skip
    for match, best in confident:
        st.session_state[f"bulk_pick_{match.coin.item_id}"] = best.type_id
    st.rerun()
if clear_col.button("Clear every choice", key="bulk_clear"):
    for match in matches:
        st.session_state[f"bulk_pick_{match.coin.item_id}"] = SKIP
    st.rerun()
thumbnails = [c.thumbnail for m in searched for c in m.candidates if c.thumbnail]
if pictures_col.button("Download the candidates' pictures", key="bulk_pictures", disabled=not thumbnails):
    with st.spinner("Fetching pictures…"):
        added = fetch_images(images, thumbnails, context.settings)
    st.session_state[_FLASH] = [("success" if added else "info", f"{added} picture(s) added to the cache." if added
                                 else "No new picture could be fetched (offline?): placeholders are shown.")]
    st.rerun()

pages = max(1, -(-len(searched) // PER_PAGE))
page = st.number_input(f"Page (of {pages})", 1, pages, 1, key="bulk_page") if pages > 1 else 1
for match in searched[(page - 1) * PER_PAGE : page * PER_PAGE]:
    coin = match.coin
    key = f"bulk_pick_{coin.item_id}"
    options = [SKIP, *(candidate.type_id for candidate in match.candidates)]
    if st.session_state.get(key) not in options:
        st.session_state[key] = SKIP
    by_id = {candidate.type_id: candidate for candidate in match.candidates}
    with st.container(border=True, key=f"bulk_coin_{coin.item_id}"):
        picture, about, pick = st.columns([1, 3, 6])
        chosen = by_id.get(st.session_state[key])
        uri = cached_uri(images, chosen.thumbnail) if chosen else None
        picture.image(uri or placeholder(chosen.title if chosen else coin.title,
                                         f"N# {chosen.type_id}" if chosen else None, "coin"), width=90)  # fmt: skip
        facts = [coin.country or "country unknown", str(coin.year) if coin.year else "year unknown"]
        facts += [f"face value {coin.face_text}" if coin.face_text else "", f"mint mark {coin.mint_mark}"
                  if coin.mint_mark else "", coin.catalogue_number or ""]  # fmt: skip
        about.markdown(f"**{coin.title}**  \n" + " · ".join(fact for fact in facts if fact))
        if not match.candidates:
            pick.caption("No candidate in this search: link it from the Collection page with your own search.")
            continue
        pick.radio(
            "Numista type", options, key=key,
            format_func=lambda type_id, by_id=by_id: "Leave unlinked" if type_id == SKIP else by_id[type_id].label,
            label_visibility="collapsed",
        )  # fmt: skip

chosen_pairs = {
    match.coin.item_id: (int(st.session_state[f"bulk_pick_{match.coin.item_id}"]), match.coin.version)
    for match in searched
    if st.session_state.get(f"bulk_pick_{match.coin.item_id}", SKIP) != SKIP
}
with numista_api(context, actor.id) as api:
    issue_calls = issue_lists_needed(NumistaCatalog(api), [type_id for type_id, _ in chosen_pairs.values()])
st.caption(
    f"{len(chosen_pairs)} coin(s) chosen, {len(searched) - len(chosen_pairs)} left unlinked. Linking reads the "
    f"issue list of each new type to set the issue from the coin's year: {issue_calls} call(s)."
)
if st.button(f"Link {len(chosen_pairs)} coin(s)", key="bulk_link", type="primary", disabled=not chosen_pairs or busy):
    for item_id in chosen_pairs:
        st.session_state.pop(f"bulk_pick_{item_id}", None)
    _start(Task.NUMISTA_LINK, total=len(chosen_pairs), unit="coins",
           work=numista_link_work(context, actor.id, chosen_pairs))  # fmt: skip
