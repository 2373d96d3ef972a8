"""Catalog: find a Pokémon card (works offline, tolerates typos), keep the catalogue current, add copies."""

from datetime import date

import pandas as pd
import streamlit as st

from services.card_printings import card_printings, suggested_printing
from services.collection import add_card
from services.errors import VitrineError
from services.images import ImageCache, cached_uri, fetch_images, placeholder
from services.integrations.pokemontcg.catalog import ensure_offline_catalogue, list_sets
from services.integrations.pokemontcg.search import DEFAULT_LIMIT, SUGGEST_MIN_CHARS, CardFilter, card_index
from services.integrations.pokemontcg.sync import catalogue_status
from services.integrations.pokemontcg.values import card_prices
from services.labels import moment
from services.states import CARD_CONDITIONS, DUPLICATE_STRATEGIES
from services.task_work import catalogue_sync_work
from services.tasks import Task, latest_task
from services.text import normalize
from services.validation import parse_money
from ui import cache
from ui.fields import DATE_FORMAT, money_input
from ui.progress import start_page_task, task_panel
from ui.session import app_context, current_actor

LANGUAGES = {"en": "English", "ja": "Japanese", "fr": "French", "de": "German", "it": "Italian", "es": "Spanish",
             "pt": "Portuguese", "ko": "Korean", "zh": "Chinese"}  # fmt: skip
SORT_LABELS = {"relevance": "Best match", "number": "Set, then card number"}

actor = current_actor()
context = app_context()
st.title("Catalog")

with context.session() as session:  # the sync's state first: what a finished sync wrote is read below
    sync_state = latest_task(session, actor.id, Task.CATALOGUE_SYNC)
    ensure_offline_catalogue(session)
    status = catalogue_status(session)
    index = card_index(session)
    sets = {s.id: s.name for s in list_sets(session)}

banner = status.banner()
if banner is not None:
    level, message = banner
    (st.warning if level == "warning" else st.info)(message, icon=":material/history:")

syncing = sync_state is not None and sync_state.running
with st.expander("Update the catalogue from pokemontcg.io", expanded=syncing):  # a running sync stays in view
    last = moment(status.last_synced_at) or "never"
    st.caption(
        f"{status.cards:,} cards in {status.sets} sets; {status.synced_sets} set(s) synced (last: {last}). "
        "Sets still fresh (synced within a day) are not fetched again. A sync that stops continues where it "
        "stopped next time."
    )
    to_sync = st.multiselect(
        "Sets to sync (none chosen: every set)", list(sets), format_func=lambda s: sets.get(s, s), key="sync_sets"
    )
    force = st.checkbox("Also fetch sets that are still fresh", key="sync_force")
    if st.button("Sync now", key="sync_now", icon=":material/sync:", disabled=syncing) and start_page_task(
        context, actor.id, Task.CATALOGUE_SYNC, catalogue_sync_work(context, actor.id, to_sync, force),
        total=len(to_sync) or None, unit="sets",
    ):  # fmt: skip
        st.rerun()
    task_panel(context, actor.id, Task.CATALOGUE_SYNC, sync_state)


def _use_suggestion() -> None:
    chosen = st.session_state.get("catalog_suggestion")
    if chosen:
        st.session_state["catalog_query"] = chosen
    st.session_state["catalog_suggestion"] = None


query_col, set_col = st.columns([2, 1])
text = query_col.text_input(
    "Card name", key="catalog_query", placeholder="e.g. Charizard, charzard, pikachu 58/102, base1-4"
)
set_id = set_col.selectbox(
    "Set", ["", *sets], format_func=lambda s: sets.get(s, "All sets"), key="catalog_set"
)
suggestions = index.suggest(text)
if suggestions and normalize(text) not in {normalize(name) for name in suggestions[:1]}:
    st.pills(
        "Suggestions", suggestions, key="catalog_suggestion", on_change=_use_suggestion, label_visibility="collapsed"
    )
number_col, rarity_col, type_col, sort_col = st.columns(4)
number = number_col.text_input("Number", key="catalog_number", placeholder="e.g. 4, TG01")
rarity = rarity_col.selectbox(
    "Rarity", ["", *index.rarities_list()], format_func=lambda r: r or "Any rarity", key="catalog_rarity"
)
energy = type_col.selectbox(
    "Type", ["", *index.types_list()], format_func=lambda t: t or "Any type", key="catalog_type"
)
sort = sort_col.selectbox("Order", list(SORT_LABELS), format_func=SORT_LABELS.get, key="catalog_sort")

filters = CardFilter(set_id=set_id or None, number=number or None, rarity=rarity or None, type=energy or None)
signature = (text, filters, sort)
if st.session_state.get("catalog_signature") != signature:  # a new search starts on its first page
    st.session_state["catalog_signature"] = signature
    st.session_state.pop("catalog_page", None)  # back to the widget's default, page 1 (setting it would warn)
page_number = int(st.session_state.get("catalog_page") or 1)
results = index.search(text, filters, sort=sort, limit=DEFAULT_LIMIT, offset=(page_number - 1) * DEFAULT_LIMIT)
if results.total and not results.hits:  # the filters changed under a later page: back to the first
    st.session_state.pop("catalog_page", None)
    page_number = 1
    results = index.search(text, filters, sort=sort, limit=DEFAULT_LIMIT)
if not results.hits:
    if 0 < len(text.strip()) < SUGGEST_MIN_CHARS:  # one letter names no card: say what would
        st.info(f"Type at least {SUGGEST_MIN_CHARS} letters of the card's name.")
    else:
        st.info("No card matches. Check the spelling, clear a filter or pick another set.")
    st.stop()
images = ImageCache.from_settings(context.settings)  # cached thumbnails, else a drawn placeholder: never broken
table = pd.DataFrame(
    {
        "image": [cached_uri(images, h.image) or placeholder(h.name, h.number, "card") for h in results.hits],
        "name": [h.name for h in results.hits],
        "set": [h.set_name for h in results.hits],
        "number": [h.number for h in results.hits],
        "rarity": [h.rarity for h in results.hits],
        "types": [", ".join(h.types) for h in results.hits],
        "id": [h.id for h in results.hits],
    }
)
st.caption(f"{results.total:,} card(s) · page {page_number} of {results.pages}")
st.dataframe(
    table, hide_index=True, key="catalog_results", column_config={"image": st.column_config.ImageColumn()}
)
if results.pages > 1:
    st.pagination(results.pages, key="catalog_page")
if flash := st.session_state.pop("catalog_pictures_flash", None):
    st.info(flash)
if st.button("Fetch this page's card images", key="catalog_fetch_pictures", icon=":material/image:",
             help="Card images are fetched once, then shown from the cache, also offline."):  # fmt: skip
    with st.spinner(f"Fetching {len(results.hits)} card image(s)…"):
        added = fetch_images(images, [h.image for h in results.hits if h.image], context.settings)
    st.session_state["catalog_pictures_flash"] = (
        f"{added} card image(s) cached." if added else
        "No new image could be fetched (offline?): the ones shown come from the cache or are drawn."
    )  # fmt: skip
    st.rerun()

st.subheader("Add to my collection")
titles = {h.id: f"{h.name} · {h.set_name} {h.number}" for h in results.hits}
card_id = st.selectbox("Card", list(titles), format_func=titles.get, key="add_card_id")
with context.session() as session:
    printing_options = list(card_printings(session, card_id))  # only the card's own, when known
    prices = card_prices(session, card_id)
chosen = next(h for h in results.hits if h.id == card_id)
picture, details = st.columns([1, 3])
picture.image(cached_uri(images, chosen.image) or placeholder(chosen.name, chosen.number, "card"), width=160)
if prices:
    details.caption("Latest prices (TCGplayer in USD per printing; Cardmarket in EUR)")
    details.dataframe(pd.DataFrame(prices), hide_index=True, key="catalog_prices")
else:
    details.caption("No price stored for this card yet: sync its set, or give your own estimate later.")

if st.session_state.get("add_card_for") != card_id:  # another card: preselect a printing that has a price
    st.session_state["add_card_for"] = card_id
    with context.session() as session:
        st.session_state["add_card_printing"] = suggested_printing(session, card_id, printing_options)
# After an add, what this purchase's copies were is cleared (condition, printing, language, currency and strategy
# stay for the next card): a second click must not add the same copies again. Set before the form is drawn, as
# values: removing the keys left the browser showing, and sending back, the old ones.
ADD_FORM_CLEARED = {"add_card_quantity": 1, "add_card_acquired": None, "add_card_price": "", "add_card_notes": ""}
if st.session_state.pop("add_card_clear", False):
    st.session_state.update(ADD_FORM_CLEARED)
currencies = list(dict.fromkeys([actor.currency, "USD", "EUR", "GBP", "CHF"]))
if flash := st.session_state.pop("add_card_flash", None):
    st.success(flash)
with st.form("add_card_form"):
    quantity_col, condition_col, printing_col, language_col = st.columns(4)
    quantity = quantity_col.number_input("Quantity", min_value=1, value=1, key="add_card_quantity")
    condition = condition_col.selectbox("Condition", CARD_CONDITIONS, key="add_card_condition")
    printing = printing_col.selectbox(
        "Printing", printing_options, key="add_card_printing",
        help="The printings TCGplayer lists for this card (all of them while the catalogue does not know).",
    )  # fmt: skip
    language = language_col.selectbox("Language", list(LANGUAGES), format_func=LANGUAGES.get, key="add_card_language")
    acquired_col, price_col, currency_col, strategy_col = st.columns(4)
    acquired = acquired_col.date_input("Acquired on", value=None, max_value=date.today(), format=DATE_FORMAT,
                                       key="add_card_acquired")  # fmt: skip
    typed_price = money_input("Price paid (per copy)", key="add_card_price", where=price_col)
    currency = currency_col.selectbox("Currency", currencies, key="add_card_currency")
    strategy = strategy_col.selectbox(
        "If I already have it",
        DUPLICATE_STRATEGIES,
        key="add_card_strategy",
        help="increment: add to the entry you hold with the same condition, printing and language (copies "
        "with another price, date or notes get an entry of their own); "
        "separate: refuse, so you never get an accidental twin entry.",
    )
    notes = st.text_input("Notes", key="add_card_notes")
    submitted = st.form_submit_button("Add", type="primary")
if submitted:
    try:
        price = parse_money(typed_price, name="price paid (per copy)")  # refused: nothing added, the text kept
        with context.session() as session:
            message = add_card(
                session, actor.id, card_id, quantity=int(quantity), condition=condition, printing=printing,
                strategy=strategy, language=language, acquired=acquired, notes=notes, price=price,
                currency=currency,  # checked, and stored with a price only (add_card)
            ).message  # fmt: skip
    except VitrineError as error:
        st.error(error.message)
    else:
        cache.invalidate()
        st.session_state["add_card_clear"] = True  # ADD_FORM_CLEARED, on the next run
        st.session_state["add_card_flash"] = message
        st.rerun()
