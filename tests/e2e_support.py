"""Helpers of the browser tests (tests/test_e2e_browser.py) that would clutter the tests themselves: linking
imported coins to Numista through the services layer, and ticking and reading Streamlit's data grids.

Why the keyboard for the grids: st.data_editor and st.dataframe draw on a canvas (Glide Data Grid), so there is
no checkbox element to click. The grid keeps an accessibility table of its visible cells
(`td[data-testid='glide-cell-<column>-<row>']`, `aria-selected` on the cursor) that tells where the keyboard cursor
is and what a cell shows; the arrow keys move the cursor and Space toggles a checkbox cell, as for a user.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import select

from services.accounts import ensure_local_user
from services.context import open_context
from services.integrations.numista.api import numista_api
from services.integrations.numista.catalog import NumistaCatalog
from services.integrations.numista.links import set_numista_link
from services.store.db import dispose_engine
from services.store.models import Item

APP_SETTINGS = ("DATABASE_URL", "VITRINE_MODE", "VITRINE_SECRET_KEY", "NUMISTA_API_URL", "NUMISTA_RATE_LIMIT")


def link_imported_coins(env: Mapping[str, str], origin: str, links: Mapping[str, int]) -> dict[str, int]:
    """Link the local owner's coins imported from `origin` (e.g. "opennumismat:MyCoins") to Numista types with
    services.integrations.numista.links.set_numista_link, on the database and Numista of `env` (the app's environment).
    `links` maps the file's row id to a Numista type; returns row id -> item id."""
    context = open_context({name: env[name] for name in APP_SETTINGS if env.get(name)})
    try:
        with context.session() as session:
            owner_id = ensure_local_user(session).id
            items = dict(
                session.execute(
                    select(Item.origin_row_id, Item.id).where(Item.owner_id == owner_id, Item.origin_source == origin)
                ).all()
            )
        with numista_api(context, owner_id) as api:
            catalog = NumistaCatalog(api)
            return {row: set_numista_link(catalog, items[row], type_id).item_id for row, type_id in links.items()}
    finally:
        dispose_engine(context.settings.database_url)  # the server keeps the SQLite file; leave it no connection


def choose_option(page: Any, key: str, option: str, *, attempts: int = 5) -> None:
    """Pick `option` in the st.selectbox with widget key `key`, as a keyboard user does. The list opens on
    ArrowDown (a click on the combobox does not, in headless Chromium); a rerun that lands meanwhile redraws the
    box and closes the list, so a list that did not open is opened again."""
    combobox = page.locator(f".st-key-{key}").get_by_role("combobox")
    wanted = page.get_by_role("option", name=option, exact=True)
    for attempt in range(attempts):
        page.wait_for_function(
            "document.querySelector(\"[data-testid='stApp']\")?.dataset.testScriptState !== 'running'",
            timeout=30_000,
        )
        combobox.focus()
        page.keyboard.press("ArrowDown")
        try:
            wanted.click(timeout=5_000)
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")


def _cell(grid: Any, column: int, row: int) -> Any:
    return grid.locator(f"td[data-testid='glide-cell-{column}-{row}']")


def tick_rows(page: Any, key: str, wanted: Collection[str], *, match_column: int = 1, timeout: float = 10_000) -> None:
    """Tick the checkbox in the first column of every row of the data editor with widget key `key` whose column
    `match_column` (0-based) shows one of `wanted`; each row is visited once, top to bottom."""
    grid = page.locator(f".st-key-{key} [data-testid='data-grid-canvas']")
    rows = int(grid.locator("table[role='grid']").get_attribute("aria-rowcount", timeout=timeout)) - 1  # + header
    grid.focus()  # the cursor starts on the first cell: row 0, the checkbox column
    for row in range(rows):
        if row:
            page.keyboard.press("ArrowDown")
        _cell(grid, 0, row).and_(grid.locator("td[aria-selected='true']")).wait_for(state="attached", timeout=timeout)
        if _cell(grid, match_column, row).text_content(timeout=timeout) in wanted:
            page.keyboard.press("Space")


def grid_table(page: Any, column: str) -> Any:
    """The accessibility table of the first grid (st.dataframe or st.data_editor) with a column headed `column`.
    (A read-only st.dataframe gets no `st-key-<key>` class, so a header finds it.)"""
    tables = page.locator("[data-testid='data-grid-canvas'] table[role='grid']")
    return tables.filter(has=page.locator("thead th", has_text=column)).first


def grid_rows(page: Any, column: str, *, timeout: float = 10_000) -> list[dict[str, str]]:
    """The visible rows of :func:`grid_table` as {column header: cell text}."""
    table = grid_table(page, column)
    table.wait_for(state="attached", timeout=timeout)
    headers = table.locator("thead th").all_text_contents()
    rows = table.locator("tbody tr").all()
    return [dict(zip(headers, row.locator("td").all_text_contents(), strict=True)) for row in rows]
