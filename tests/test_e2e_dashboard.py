"""The dashboard in a real browser (Chromium driven by Playwright, `streamlit run app.py` over the demo):
no raw code, None, nan or ISO timestamp on any page; the Collection filtered, downloaded and edited (a stale
edit refused); a set's binder; the demo coins bulk-linked to the Numista emulator and pushed. With
UPDATE_SCREENSHOTS=1 the screenshots land in docs/screenshots for the README."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from services.accounts import ensure_local_user
from services.collection import update_item
from services.context import open_context
from services.pricing import own_estimate
from services.store.db import dispose_engine
from services.store.models import Item
from tests.e2e_support import choose_option
from tests.test_e2e_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PAGES,
    _app_env,
    _cli,
    _screenshot_dir,
    _serve,
    _wait_rendered,
)

pytestmark = pytest.mark.e2e
RAW = re.compile(
    r"\bNone\b|\bnan\b|\bNaN\b|NOT_SYNCED|\bSYNCED\b|\bNOT_SYN|reverseHolofoil|\b\d{4}-\d\d-\d\d\b|done_with_errors"
)  # ISO dates and timestamps alike: a collector reads "30 Oct 2026"


@pytest.fixture(scope="module")
def served_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _serve(tmp_path_factory.mktemp("e2e")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser, served_app: str):  # type: ignore[no-untyped-def]
    tab = browser.new_page(viewport={"width": 1400, "height": 1000})
    yield tab
    tab.close()


def _screen_text(page) -> str:  # type: ignore[no-untyped-def]
    """What the page shows: its text plus the cells of every data grid (drawn on a canvas)."""
    grids = page.locator("[data-testid='data-grid-canvas'] table").all_text_contents()
    return page.locator("[data-testid='stMain']").inner_text() + "\n" + "\n".join(grids)


def _items(served_env: dict[str, str]) -> list[Item]:
    context = open_context({name: served_env[name] for name in ("DATABASE_URL", "VITRINE_SECRET_KEY")})
    try:
        with context.session() as session:
            owner = ensure_local_user(session)
            found = list(session.scalars(select(Item).where(Item.owner_id == owner.id).order_by(Item.id)))
            session.expunge_all()
            return found
    finally:
        dispose_engine(context.settings.database_url)


@pytest.mark.parametrize("url_path", list(PAGES))
def test_no_raw_codes_on_any_page_of_the_demo(page, served_app: str, url_path: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{served_app}/{url_path}")
    page.get_by_role("heading", name=PAGES[url_path]).first.wait_for(timeout=30_000)
    _wait_rendered(page)
    assert page.locator("[data-testid='stException']").count() == 0
    shown = _screen_text(page)
    assert not RAW.findall(shown), (url_path, sorted(set(RAW.findall(shown))))
    assert page.locator("img[alt='broken']").count() == 0


def _rgba(css: str) -> tuple[float, float, float, float]:
    """'rgb(1, 2, 3)', 'rgba(1, 2, 3, 0.5)' or '#rrggbb' → (r, g, b, alpha) with channels 0..255."""
    if css.startswith("#"):
        return (int(css[1:3], 16), int(css[3:5], 16), int(css[5:7], 16), 1.0)
    parts = [float(part) for part in re.findall(r"[\d.]+", css)]
    return (parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0)


def _luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG relative luminance."""
    channels = [c / 255 for c in rgb]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(text: str, background: str) -> float:
    """WCAG contrast ratio of a text colour (blended over the background when translucent)."""
    *fg, alpha = _rgba(text)
    bg = _rgba(background)[:3]
    blended = tuple(alpha * f + (1 - alpha) * b for f, b in zip(fg, bg, strict=True))
    light, dark = sorted((_luminance(blended), _luminance(bg)), reverse=True)  # type: ignore[arg-type]
    return (light + 0.05) / (dark + 0.05)


_COLOURS = """() => {
  const main = document.querySelector("[data-testid='stMain']");
  const selector = "h1, h2, h3, p, label, [data-testid='stMetricValue'], [data-testid='stMetricLabel']";
  const texts = [...main.querySelectorAll(selector)].filter(e => e.offsetParent !== null && e.innerText.trim())
    .map(e => [e.innerText.trim().slice(0, 40), getComputedStyle(e).color]);
  const charts = [...main.querySelectorAll(".vega-embed svg text")].filter(t => t.textContent.trim())
    .map(t => [t.textContent.trim(), getComputedStyle(t).fill]);
  return {background: getComputedStyle(document.querySelector("[data-testid='stApp']")).backgroundColor, texts, charts};
}"""


@pytest.fixture(scope="module", params=["light", "dark"])
def themed_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The demo served as shipped; the browser asks for the light or the dark colour scheme, which Streamlit
    follows (as it does for a member whose system is set to dark, or who picks Dark in the menu)."""
    with _serve(tmp_path_factory.mktemp(f"e2e-{request.param}")) as url:
        yield request.param, url


@pytest.mark.parametrize("url_path", ["overview", "sets"])
def test_overview_and_sets_read_well_in_light_and_dark(browser, themed_app: tuple[str, str], url_path: str,  # type: ignore[no-untyped-def]
                                                        tmp_path: Path) -> None:  # fmt: skip
    theme, url = themed_app
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, color_scheme=theme)
    try:
        page.goto(f"{url}/{url_path}")
        page.get_by_role("heading", name=PAGES[url_path]).first.wait_for(timeout=30_000)
        page.locator(".vega-embed svg text").first.wait_for(timeout=30_000)
        _wait_rendered(page)
        assert page.locator("[data-testid='stException']").count() == 0
        assert page.get_by_text("Page not found").count() == 0, "the page's own address is not the app's /"
        colours = page.evaluate(_COLOURS)
        background = colours["background"]
        assert (_luminance(_rgba(background)[:3]) < 0.05) == (theme == "dark"), background
        assert len(colours["texts"]) > 5 and colours["charts"], colours
        # WCAG AA: 4.5:1 for the page's text; 3:1 for the charts' axis and legend labels, which Streamlit's
        # chart theme draws itself (#808495 on white: 3.7:1) with no per-theme setting to change it.
        unreadable = [(text, colour, round(_contrast(colour, background), 1))
                      for texts, least in ((colours["texts"], 4.5), (colours["charts"], 3.0))
                      for text, colour in texts if _contrast(colour, background) < least]  # fmt: skip
        assert not unreadable, (theme, url_path, unreadable)
        shown = _screen_text(page)
        assert not RAW.findall(shown), (url_path, sorted(set(RAW.findall(shown))))
        folder = _screenshot_dir(tmp_path) if theme == "dark" else tmp_path  # the README shows the dark ones
        page.screenshot(path=str(folder / f"{url_path}-{theme}.png"), full_page=True)
    finally:
        page.close()


def _choose(page, key: str, option: str) -> None:  # type: ignore[no-untyped-def]
    choose_option(page, key, option)
    _wait_rendered(page)


def test_filter_download_and_edit_the_collection(page, served_app: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{served_app}/collection")
    page.get_by_role("heading", name="Collection").first.wait_for(timeout=30_000)
    _wait_rendered(page)
    _choose(page, "collection_kind", "Coins")
    page.locator(".st-key-collection_text input").fill("2 euro")
    page.keyboard.press("Enter")
    page.get_by_text("Page 1 of 1").first.wait_for(timeout=30_000)
    _wait_rendered(page)
    headers = page.locator("[data-testid='data-grid-canvas'] table thead th").all_text_contents()
    assert {"Country", "Year", "Face value", "Mint", "Grade"} <= set(headers), headers
    page.screenshot(path=str(_screenshot_dir(tmp_path) / "collection.png"), full_page=True)
    with page.expect_download() as download:
        page.locator(".st-key-collection_csv button").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(rows) == 10 and {row["Face value"] for row in rows} == {"2 Euro"}
    assert {"Greece", "Italy", "Finland"} <= {row["Country"] for row in rows}


# What the browser types into the editor, by field label, and what the database then holds (services' names).
_COMMON_TYPED = {
    "Quantity": "2", "Storage": "Album 2, page 4", "Tags": "fair, 2021", "Notes": "from the fair",
    "Price paid (per copy)": "6.50", "Paid in": "chf", "Bought at": "Basel", "Your own estimate (per copy)": "9.75",
    "Estimate currency": "usd",
}  # fmt: skip
_COMMON_SAVED = {
    "quantity": 2, "status": "sale", "storage_location": "Album 2, page 4", "tags": ["fair", "2021"],
    "notes": "from the fair", "acquired_date": date(2021, 5, 1), "acquired_price": Decimal("6.50"),
    "acquired_currency": "CHF", "acquired_place": "Basel",
}  # fmt: skip
_KINDS = {  # search, then per kind: typed fields, chosen options (field -> option shown), saved columns, details
    "coin": ("Greece", {"Country": "Hellas", "Year": "2004", "Face value": "2", "Unit": "Euro", "Series": "Olympics",
                        "Mint": "Athens mint", "Mint mark": "Γ", "Grade": "Unc", "Numista type (N#)": "70101",
                        "Numista issue": "701011"},
             {"grade_code": "AU"},
             {"country": "Hellas", "year": 2004, "series": "Olympics", "grade": "Unc", "grade_code": "au",
              "numista_type_id": 70101, "numista_issue_id": 701011},
             {"value": "2", "unit": "Euro", "mint": "Athens mint", "mintmark": "Γ"}),
    "card": ("Pikachu", {"Language": "fr"}, {"printing": "Reverse holofoil", "grade": "LP"},
             {"printing": "reverseHolofoil", "grade": "LP", "grade_code": "LP", "language": "fr"}, {}),
    "record": ("Stockholm", {"Artist": "The Persuader", "Label": "Svek", "Format": "Vinyl, 12 inch", "Year": "2001",
                             "Country": "Sweden", "Discogs release": "2"},
               {"grade": "Near Mint (NM or M-)", "sleeve": "Very Good (VG)"},
               {"series": "Svek", "year": 2001, "country": "Sweden", "discogs_release_id": 2,
                "grade": "Near Mint (NM or M-)", "grade_code": "Near Mint (NM or M-)"},
               {"artist": "The Persuader", "format": "Vinyl, 12 inch", "sleeve_condition": "Very Good (VG)"}),
}  # fmt: skip


def _edit_every_field(page, env: dict[str, str], kind: str) -> Item:  # type: ignore[no-untyped-def]
    """Find the demo item of this kind, type or choose a new value for every field of its form, save; the item
    as saved."""
    search, typed, chosen, _, _ = _KINDS[kind]
    page.locator(".st-key-edit_search input").fill(search)
    page.keyboard.press("Enter")
    page.locator("[data-testid='stForm']").get_by_text(re.compile(rf"^{kind.title()} #\d+")).first.wait_for(
        timeout=30_000)  # fmt: skip
    _wait_rendered(page)
    item = next(item for item in _items(env) if item.kind == kind and search in f"{item.title} {item.country}")
    key = f"edit_{item.id}_v{item.version}"
    form = page.locator("[data-testid='stForm']").first
    title = f"{item.title} (edited)"
    for label, value in {"Title": title, **_COMMON_TYPED, **typed}.items():
        form.get_by_label(label, exact=True).fill(value)
    # The date field is a group of day, month and year segments (react-aria): typed into one by one, as a user does.
    for segment, digits in zip(form.get_by_label("Bought on", exact=True).get_by_role("spinbutton").all(),
                               ("01", "05", "2021"), strict=True):  # fmt: skip
        segment.click()
        page.keyboard.type(digits)
    for field, option in {"status": "For sale", **chosen}.items():
        choose_option(page, f"{key}_{field}", option)
    form.get_by_role("button", name="Save changes").click()
    page.get_by_text(re.compile(rf"^Saved #{item.id} .+ \(edited\): title, quantity, status, ")).wait_for(
        timeout=30_000)  # fmt: skip
    _wait_rendered(page)
    assert page.locator("[data-testid='stException']").count() == 0
    return next(saved for saved in _items(env) if saved.id == item.id)


def test_edit_every_field_of_a_coin_a_card_and_a_record_and_see_a_stale_edit_refused(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = _app_env(tmp_path)
    with _serve(tmp_path) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 2300})  # the whole form in the screenshot
        try:
            page.goto(f"{url}/collection")
            page.get_by_role("heading", name="Collection").first.wait_for(timeout=30_000)
            _wait_rendered(page)
            for kind, (_, _, _, columns, details) in _KINDS.items():
                saved = _edit_every_field(page, env, kind)
                assert saved.title.endswith(" (edited)")
                assert {name: getattr(saved, name) for name in {**_COMMON_SAVED, **columns}} == _COMMON_SAVED | columns
                assert {key: (saved.details or {}).get(key) for key in details} == details
                estimate = _own_estimate(env, saved.id)
                assert estimate == (Decimal("9.75"), "USD"), (kind, estimate)
                if kind == "record":
                    page.screenshot(path=str(_screenshot_dir(tmp_path) / "collection-edit.png"), full_page=True)

            coin = next(item for item in _items(env) if item.country == "Luxembourg")
            page.locator(".st-key-edit_search input").fill("Luxembourg")
            page.keyboard.press("Enter")
            page.locator("[data-testid='stForm']").get_by_text(f"Coin #{coin.id}").wait_for(timeout=30_000)
            _wait_rendered(page)
            context = open_context({name: env[name] for name in ("DATABASE_URL", "VITRINE_SECRET_KEY")})
            with context.session() as session:  # saved elsewhere meanwhile (another tab, the CLI)
                update_item(session, ensure_local_user(session).id, coin.id, coin.version, notes="from elsewhere")
            dispose_engine(context.settings.database_url)
            form = page.locator("[data-testid='stForm']").first
            form.get_by_label("Notes").fill("my edit")
            form.get_by_role("button", name="Save changes").click()
            page.get_by_text("was changed elsewhere since you opened it").first.wait_for(timeout=30_000)
            assert page.locator("[data-testid='stException']").count() == 0
        finally:
            page.close()
    assert next(item for item in _items(env) if item.id == coin.id).notes == "from elsewhere"


def _own_estimate(served_env: dict[str, str], item_id: int) -> tuple[Decimal, str] | None:
    context = open_context({name: served_env[name] for name in ("DATABASE_URL", "VITRINE_SECRET_KEY")})
    try:
        with context.session() as session:
            return own_estimate(session, item_id)
    finally:
        dispose_engine(context.settings.database_url)


def test_a_sets_binder(page, served_app: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{served_app}/sets")
    page.get_by_role("heading", name="Binder").wait_for(timeout=30_000)
    _wait_rendered(page)
    slots = page.locator("[class*='st-key-binder_slot_']")
    assert slots.count() == 18
    greyed = page.locator("[class*='st-key-binder_slot_'] img[style*='grayscale']")
    assert 0 < greyed.count() < 18  # owned cards in colour, missing ones greyed
    page.locator("[class*='st-key-binder_slot_']").filter(has=page.locator("img[style*='grayscale']")).first.screenshot(
        path=str(tmp_path / "missing.png"))  # fmt: skip
    page.screenshot(path=str(_screenshot_dir(tmp_path) / "sets.png"), full_page=True)
    before = greyed.count()
    page.locator("[class*='st-key-binder_add_']").first.locator("button").click()
    page.get_by_text(re.compile(r"^Added .+ to your collection\.$")).wait_for(timeout=30_000)
    _wait_rendered(page)
    assert page.locator("[class*='st-key-binder_slot_'] img[style*='grayscale']").count() == before - 1


def test_a_catalog_add_clears_the_copies_it_added(page, served_app: str) -> None:  # type: ignore[no-untyped-def]
    """After an add the form's quantity, price, date and notes are cleared in the browser, not only on the server:
    the form kept showing and sending them back, so a second click added the same copies again."""
    page.goto(f"{served_app}/catalog")
    page.get_by_role("heading", name="Catalog").first.wait_for(timeout=30_000)
    _wait_rendered(page)
    page.locator(".st-key-catalog_query input").fill("bulbasaur 44")
    page.keyboard.press("Enter")
    form = page.locator("[data-testid='stForm']").first
    form.get_by_label("Quantity", exact=True).wait_for(timeout=30_000)
    _wait_rendered(page)
    typed = {"Quantity": "2", "Price paid (per copy)": "1.00", "Notes": "zz"}
    for label, value in typed.items():
        form.get_by_label(label, exact=True).fill(value)
    form.get_by_role("button", name="Add").click()
    page.get_by_text(re.compile(r"^Added 2 copies of Bulbasaur")).wait_for(timeout=30_000)
    _wait_rendered(page)
    for label, cleared in {"Quantity": "1", "Price paid (per copy)": "", "Notes": ""}.items():
        expect(form.get_by_label(label, exact=True)).to_have_value(cleared)
    form.get_by_role("button", name="Add").click()  # again, untouched: one copy, no price or notes
    page.get_by_text(re.compile(r"^Added (1 copy to your entry #\d+ of Bulbasaur|Bulbasaur .*to your collection)"))\
        .wait_for(timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0


def test_bulk_link_the_demo_coins_and_push_them(browser, numista_emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.emulators.numista import DEMO_API_KEY, DEMO_USER_ID

    extra = {"NUMISTA_API_URL": numista_emulator.base_url}
    env = _app_env(tmp_path, extra)
    _cli(env, "connect", "numista", stdin=f"{DEMO_API_KEY}\n")
    seeded = numista_emulator.collected_items_for(DEMO_USER_ID)
    spent = numista_emulator.quota_used()  # connecting checked the key
    with _serve(tmp_path, extra) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{url}/numista_link")
            page.get_by_role("heading", name="Link coins to Numista").wait_for(timeout=30_000)
            _wait_rendered(page)
            assert numista_emulator.quota_used() == spent  # opening the page spends nothing
            page.locator(".st-key-bulk_search button").filter(has_text="Search Numista (15 calls)").click()
            page.get_by_text("14 search(es) done").first.wait_for(timeout=60_000)
            # The ended task's panel can show twice while the run that replaces the polling one draws; once only after.
            expect(page.get_by_text("14 search(es) done")).to_have_count(1, timeout=30_000)
            _wait_rendered(page)
            coins = page.locator("[class*='st-key-bulk_coin_']")
            assert coins.count() == 21
            assert all(coins.nth(i).locator("input[type='radio']").first.is_checked() for i in range(21))  # none picked
            page.locator(".st-key-bulk_accept button").click()
            _wait_rendered(page)
            for index in range(21):  # pick the others by hand: the first candidate offered
                radios = coins.nth(index).locator("input[type='radio']")
                if radios.first.is_checked():
                    coins.nth(index).locator("[role='radiogroup'] label").nth(1).click()
                    _wait_rendered(page)
            page.screenshot(path=str(_screenshot_dir(tmp_path) / "numista-link.png"), full_page=True)
            page.locator(".st-key-bulk_link button").filter(has_text="Link 21 coin(s)").click()
            page.get_by_text("Linked 21 coin(s)").first.wait_for(timeout=60_000)
            # The ended task's panel can show twice while the run that replaces the polling one draws; once only after.
            expect(page.get_by_text("Linked 21 coin(s)")).to_have_count(1, timeout=30_000)

            page.goto(f"{url}/export")
            page.get_by_role("heading", name="Push coins to Numista").wait_for(timeout=30_000)
            _wait_rendered(page)
            page.locator(".st-key-export_select_all button").click()
            _wait_rendered(page)
            page.locator(".st-key-export_review button").filter(has_text="Review 21 coin(s)").click()
            page.get_by_role("heading", name="Preview").wait_for(timeout=30_000)
            _wait_rendered(page)
            page.locator(".st-key-export_confirm button").filter(has_text="Push 21 coin(s)").click()
            page.get_by_role("heading", name=re.compile(r"^Job \d+: done$")).wait_for(timeout=120_000)
            assert page.locator("[data-testid='stException']").count() == 0
        finally:
            page.close()
    pushed = [item for item in numista_emulator.collected_items_for(DEMO_USER_ID) if item not in seeded]
    assert len(pushed) == 21
    linked = {item.id: item.numista_type_id for item in _items(env) if item.kind == "coin"}
    # markers are vitrine:<install id>:<item id>
    by_item = {int(item["internal_id"].rsplit(":", 1)[1]): item["type"]["id"] for item in pushed}
    assert by_item == linked
