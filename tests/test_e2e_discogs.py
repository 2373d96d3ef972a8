"""Connecting Discogs in a real browser (Playwright, /usr/bin/chromium) against the Discogs emulator:
Connections → Connect Discogs → Discogs' authorize page → redirected back to Connections with oauth_token and
oauth_verifier in a new browser session → connected, identity shown, no token on the page. With
UPDATE_SCREENSHOTS=1 the screenshot lands in docs/screenshots for the README."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulators.discogs import CONSUMER_KEY, CONSUMER_SECRET, DiscogsEmulator
from tests.test_e2e_browser import _screenshot_dir, _serve, _wait_rendered, browser  # noqa: F401 - fixture
from tests.test_e2e_dashboard import _choose

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(tmp_path: Path, discogs_emulator: DiscogsEmulator) -> Iterator[str]:
    extra = {"DISCOGS_API_URL": discogs_emulator.base_url, "DISCOGS_AUTHORIZE_URL": discogs_emulator.authorize_url,
             "DISCOGS_CONSUMER_KEY": CONSUMER_KEY, "DISCOGS_CONSUMER_SECRET": CONSUMER_SECRET}  # fmt: skip
    with _serve(tmp_path, extra) as url:
        yield url


def test_connect_discogs_in_the_browser(browser, served: str, discogs_emulator: DiscogsEmulator,  # noqa: F811
                                        tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{served}/connections")
    page.get_by_role("button", name="Connect Discogs").click(timeout=30_000)
    link = page.get_by_role("link", name="Continue to Discogs to approve Vitrine")
    link.wait_for(timeout=30_000)
    with page.context.expect_page() as opened:
        link.click()
    back = opened.value  # Discogs approved and sent the browser back here: a new Streamlit session
    back.get_by_text("Connected as").first.wait_for(timeout=60_000)
    _wait_rendered(back)
    text = back.locator("[data-testid='stApp']").inner_text()
    assert "Connected as example (Discogs user 1) with OAuth" in text
    assert "oauth_verifier" not in back.url  # the query parameters were cleared
    tokens = [t for a in discogs_emulator.state.access_tokens.values() for t in (a.token, a.secret)]
    assert tokens and not any(token in text for token in tokens)
    assert back.locator("[data-testid='stException']").count() == 0
    back.screenshot(path=str(_screenshot_dir(tmp_path) / "discogs-connections.png"), full_page=True)

    # Collection → select two records → Send to export: the Discogs wizard opens with them chosen
    back.goto(f"{served}/collection")
    back.get_by_role("heading", name="Collection").first.wait_for(timeout=30_000)
    _wait_rendered(back)
    _choose(back, "collection_kind", "Records")
    grid = back.locator(".st-key-collection_table [data-testid='data-grid-canvas']").first
    box = grid.bounding_box()
    assert box is not None
    for row in range(2):  # the row markers: the first column, under the 35 px header, rows of 56 px
        back.mouse.click(box["x"] + 18, box["y"] + 35 + 56 * row + 28)
        _wait_rendered(back)
    back.get_by_text("2 selected").first.wait_for(timeout=30_000)
    _wait_rendered(back)
    back.locator(".st-key-collection_send_to_export button").first.click()
    back.get_by_text("From your Collection selection:").first.wait_for(timeout=60_000)
    _wait_rendered(back)
    assert "2 for Discogs" in back.locator("[data-testid='stMain']").inner_text()
    assert back.get_by_role("button", name="Review 2 record(s)").count() == 1
    assert back.locator("[data-testid='stException']").count() == 0
    back.close()
    page.close()  # the page owns the browser context the callback's tab opened in
