"""End to end in a real browser: `streamlit run app.py` in a subprocess, Debian's Chromium driven by
Playwright. With UPDATE_SCREENSHOTS=1 the screenshots land in docs/screenshots for the README."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PAGES = {
    "overview": "Overview", "collection": "Collection", "sets": "Sets", "catalog": "Catalog",
    "import": "Import", "export": "Export", "connections": "Connections", "settings": "Settings",
}  # fmt: skip

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


@contextmanager
def _serve(data: Path) -> Iterator[str]:
    """`streamlit run app.py` on a free port over a demo collection in `data`."""
    env = os.environ | {"DATABASE_URL": f"sqlite:///{data / 'vitrine.db'}", "VITRINE_MODE": "local",
                        "VITRINE_SECRET_KEY": "p6m1N1m3Cz2QWm2wqkU2Hn3r5h6fK7b8c9d0e1f2g3A="}  # fmt: skip
    subprocess.run([sys.executable, "-m", "services", "demo", "load"], cwd=ROOT, env=env, check=True, timeout=120)
    port = _free_port()
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
def page(served_app: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()


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
    assert len(metrics) == 3
    assert metrics[0].endswith("EUR") and float(metrics[0].split()[0].replace(",", "")) > 0
    assert int(metrics[1].replace(",", "")) > 0
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(_screenshot_dir(tmp_path) / "overview.png"), full_page=True)


@pytest.mark.parametrize("url_path", [p for p in PAGES if p != "overview"])
def test_every_page_opens_in_the_browser(page, served_app: str, tmp_path: Path, url_path: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{served_app}/{url_path}")
    page.get_by_role("heading", name=PAGES[url_path]).first.wait_for(timeout=30_000)
    _wait_rendered(page)
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(_screenshot_dir(tmp_path) / f"{url_path}.png"), full_page=True)


def test_import_an_opennumismat_file_in_the_browser(page, served_app: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reference = Path(os.environ.get("VITRINE_REFERENCE_DIR", ROOT.parent / "shared" / "reference"))
    collection = reference / "opennumismat" / "SYNTHETIC_edgecases_v10.db"
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
    assert page.locator("[data-testid='stException']").count() == 0


def test_a_fresh_server_opened_straight_on_a_page_shows_that_page(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Streamlit runs a pages/ file directly when a new server's first request is a page URL; the app
    must still route it through app.py (owner, navigation) and land on the page asked for."""
    with _serve(tmp_path) as url:
        page.goto(f"{url}/sets")
        page.get_by_role("heading", name="Pokémon sets").first.wait_for(timeout=30_000)
        _wait_rendered(page)
        assert page.get_by_role("link", name="Overview").count() == 1
        assert page.locator("[data-testid='stException']").count() == 0
