"""End to end in a real browser: `streamlit run app.py` in a subprocess, Debian's Chromium driven by
Playwright. With UPDATE_SCREENSHOTS=1 the screenshots land in docs/screenshots for the README."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.fixture_files import opennumismat_file
from tests.secret_key import SECRET_KEY

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PAGES = {
    "overview": "Overview", "collection": "Collection", "sets": "Sets", "catalog": "Catalog",
    "import": "Import", "export": "Export", "numista_link": "Link coins to Numista",
    "discogs_link": "Link records to Discogs", "connections": "Connections", "settings": "Settings",
}  # fmt: skip
LINK_PAGES = ("numista_link", "discogs_link")

pytestmark = pytest.mark.e2e

if not CHROMIUM.exists():
    if os.environ.get("VITRINE_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium (see README, Development)")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _serve(tmp_path_factory.mktemp("e2e")) as url:
        yield url


def _app_env(data: Path, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the server and of the CLI run beside it: a database in `data`, local mode."""
    env = os.environ | {"DATABASE_URL": f"sqlite:///{data / 'vitrine.db'}", "VITRINE_MODE": "local",
                        "VITRINE_SECRET_KEY": SECRET_KEY,
                        # Numista's 45 calls a minute (shared by the server and the CLI) would make a flow that
                        # searches, links and pushes 21 coins wait out the window; the limiter has its own tests.
                        "NUMISTA_RATE_LIMIT": "1000"}  # fmt: skip
    return env | (extra_env or {})


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """`python -m services ARGS` as a user runs it; its output."""
    done = subprocess.run([sys.executable, "-m", "services", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


@contextmanager
def _serve(
    data: Path, extra_env: dict[str, str] | None = None, demo_user: str | None = None, port: int | None = None
) -> Iterator[str]:
    """`streamlit run app.py` on a free port (or `port`: a restart) over a demo collection in `data` (`extra_env`:
    e.g. NUMISTA_API_URL; `demo_user`: whose demo collection, in club mode)."""
    env = _app_env(data, extra_env)
    user = ["--user", demo_user] if demo_user else []
    demo_load = [sys.executable, "-m", "services", "demo", "load", *user]
    subprocess.run(demo_load, cwd=ROOT, env=env, check=True, timeout=120)
    port = port or _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("streamlit did not become healthy within 60 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser, served_app: str):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    yield page
    page.close()


def _screenshot_dir(tmp_path: Path) -> Path:
    return ROOT / "docs" / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path


def _wait_rendered(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector("[data-testid='stApp']", timeout=30_000)
    page.wait_for_function(
        "document.querySelector(\"[data-testid='stApp']\")?.dataset.testScriptState !== 'running'", timeout=30_000
    )
    page.wait_for_timeout(800)  # let charts and grids paint before a screenshot


def test_overview_renders_the_totals(page, served_app: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(served_app)
    page.get_by_text("Estimated value").first.wait_for(timeout=30_000)
    _wait_rendered(page)
    metrics = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    assert len(metrics) == 5
    assert metrics[0].endswith("EUR") and float(metrics[0].split()[0].replace(",", "")) > 0
    assert metrics[2].startswith("+") and int(metrics[3].replace(",", "")) > 0
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(_screenshot_dir(tmp_path) / "overview.png"), full_page=True)


def test_the_overview_updates_itself_after_a_change(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """After a change made elsewhere (here on the command line) the Overview shows the figures from before it at
    once, says they are being updated, and shows the new ones without a reload (pages/overview.py)."""
    from playwright.sync_api import expect

    data = tmp_path / "data"
    data.mkdir()
    with _serve(data) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_text("Estimated value").first.wait_for(timeout=30_000)
        _wait_rendered(page)
        copies = page.locator("[data-testid='stMetricValue']").nth(3)
        before = int(copies.inner_text().replace(",", ""))
        _cli(_app_env(data), "items", "add", "coin", "Sol 1864")
        page.reload()
        page.get_by_text("before your latest changes — updating…").first.wait_for(timeout=30_000)
        expect(copies).to_have_text(f"{before + 1:,}", timeout=30_000)
        expect(page.get_by_text("before your latest changes")).to_have_count(0)
        assert page.locator("[data-testid='stException']").count() == 0
        page.close()


@pytest.mark.parametrize("url_path", [p for p in PAGES if p != "overview"])
def test_every_page_opens_in_the_browser(page, served_app: str, tmp_path: Path, url_path: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{served_app}/{url_path}")
    page.get_by_role("heading", name=PAGES[url_path]).first.wait_for(timeout=30_000)
    _wait_rendered(page)
    assert page.locator("[data-testid='stException']").count() == 0
    # The link pages' README pictures show them at work (tests/test_e2e_dashboard.py), not this empty state.
    folder = tmp_path if url_path in LINK_PAGES else _screenshot_dir(tmp_path)
    page.screenshot(path=str(folder / f"{url_path}.png"), full_page=True)


def test_import_an_opennumismat_file_in_the_browser(page, served_app: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    collection = opennumismat_file()
    page.goto(f"{served_app}/import")
    page.get_by_role("heading", name="Import").first.wait_for(timeout=30_000)
    uploader = page.locator(".st-key-opennumismat_file [data-testid='stFileUploaderDropzoneInput']")
    uploader.set_input_files(str(collection))
    page.get_by_text("New coins").wait_for(timeout=30_000)
    _wait_rendered(page)
    values = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    assert values[:4] == ["21", "0", "0", "0"]
    page.screenshot(path=str(_screenshot_dir(tmp_path) / "import-preview.png"), full_page=True)
    page.get_by_role("button", name="Import now").click()
    page.get_by_text("Imported: 21 new").wait_for(timeout=30_000)
    _wait_rendered(page)
    values = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    assert values[:4] == ["0", "0", "21", "0"]  # the preview now reads the collection after the import
    assert page.locator("[data-testid='stException']").count() == 0


def test_a_fresh_server_opened_straight_on_a_page_shows_that_page(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A new server's first request to a page URL goes through app.py (owner, navigation; Streamlit's legacy
    pages/ mode would run the file alone) and lands on the page asked for."""
    with _serve(tmp_path) as url:
        page.goto(f"{url}/sets")
        page.get_by_role("heading", name="Pokémon sets").first.wait_for(timeout=30_000)
        _wait_rendered(page)
        assert page.get_by_role("link", name="Overview").count() == 1
        assert page.locator("[data-testid='stException']").count() == 0


def test_push_coins_to_numista_in_the_browser(browser, numista_emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A user connects Numista and imports an OpenNumismat file on the command line, links three coins they hold,
    then pushes them from the Export page; the server's own worker thread does the pushing."""
    from services.sync.markers import parse_marker
    from tests.e2e_support import choose_option, grid_rows, grid_table, link_imported_coins, tick_rows
    from tests.emulators.numista import DEMO_API_KEY, DEMO_USER_ID

    env = _app_env(tmp_path, {"NUMISTA_API_URL": numista_emulator.base_url})
    _cli(env, "connect", "numista", stdin=f"{DEMO_API_KEY}\n")
    _cli(env, "import", "opennumismat", str(opennumismat_file()))
    # OpenNumismat rows 6 (50 cent DE, for sale), 20 and 21 (2 euro 2004 Vatican City, San Marino; owned)
    types = {"6": 70003, "20": 70105, "21": 70104}
    items = link_imported_coins(env, "opennumismat:SYNTHETIC_edgecases_v10", types)
    wanted = {item_id: types[row] for row, item_id in items.items()}
    seeded = numista_emulator.collected_items_for(DEMO_USER_ID)

    with _serve(tmp_path, {"NUMISTA_API_URL": numista_emulator.base_url}) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{url}/export")
            page.get_by_role("heading", name="Push coins to Numista").wait_for(timeout=30_000)
            _wait_rendered(page)
            tick_rows(page, "export_pick_0", {str(item_id) for item_id in wanted})
            review = page.locator(".st-key-export_review button")
            review.filter(has_text=f"Review {len(wanted)} coin(s)").wait_for(timeout=30_000)
            choose_option(page, "export_collection", "World coins (#1002)")
            _wait_rendered(page)
            review.click()

            page.get_by_role("heading", name="Preview").wait_for(timeout=30_000)
            _wait_rendered(page)
            labels = page.locator("[data-testid='stMetricLabel']").all_inner_texts()
            metrics = dict(zip(labels, page.locator("[data-testid='stMetricValue']").all_inner_texts(), strict=True))
            assert (metrics["To add"], metrics["Skipped"]) == (str(len(wanted)), "0"), metrics
            page.locator(".st-key-export_confirm button").filter(has_text=f"Push {len(wanted)} coin(s)").click()

            page.get_by_role("heading", name=re.compile(r"^Job \d+: done$")).wait_for(timeout=60_000)
            _wait_rendered(page)
            results = {int(row["item"]): row for row in grid_rows(page, "attempts")}
            recent = grid_table(page, "started").locator("td", has_text=re.compile(r"^done$"))
            recent.first.wait_for(state="attached", timeout=30_000)  # "Recent exports" refreshes itself (5 s)
            _wait_rendered(page)
            assert page.locator("[data-testid='stException']").count() == 0
            assert DEMO_API_KEY not in page.content()
            page.screenshot(path=str(_screenshot_dir(tmp_path) / "export-wizard.png"), full_page=True)
        finally:
            page.close()

    assert set(results) == set(wanted), results
    assert all(row["status"] == "SYNCED" and not row["error"] for row in results.values()), results
    pushed = [item for item in numista_emulator.collected_items_for(DEMO_USER_ID) if item not in seeded]
    by_item = {marker[1]: item for item in pushed if (marker := parse_marker(item.get("internal_id")))}
    assert len(pushed) == len(by_item) == len(wanted), pushed  # each coin once, nothing else
    assert {item_id: item["type"]["id"] for item_id, item in by_item.items()} == wanted
    assert {item_id: int(results[item_id]["remote id"]) for item_id in wanted} == {
        item_id: item["id"] for item_id, item in by_item.items()
    }
    assert all(item["collection"]["id"] == 1002 for item in pushed)
    assert by_item[items["6"]]["for_swap"] is True  # status "sale"
