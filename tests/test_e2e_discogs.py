"""Connecting Discogs in a real browser (Playwright, /usr/bin/chromium) against the Discogs emulator:
Connections → Connect Discogs → Discogs' authorize page → redirected back to Connections with oauth_token and
oauth_verifier in a new browser session → connected, identity shown, no token on the page; in a club, that new
session is the signed-in member's (the sign-in cookie) and the connection is theirs alone. With
UPDATE_SCREENSHOTS=1 the screenshot lands in docs/screenshots for the README."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.accounts.users import find_user
from services.context import open_context
from services.integrations.discogs import oauth
from services.store.db import dispose_engine
from tests.club_support import COOKIE_KEY
from tests.emulators.discogs import CONSUMER_KEY, CONSUMER_SECRET, DiscogsEmulator
from tests.test_e2e_browser import _app_env, _cli, _screenshot_dir, _serve, _wait_rendered, browser  # noqa: F401
from tests.test_e2e_club import _sign_in
from tests.test_e2e_dashboard import _choose

pytestmark = pytest.mark.e2e


def _discogs_env(discogs_emulator: DiscogsEmulator) -> dict[str, str]:
    return {"DISCOGS_API_URL": discogs_emulator.base_url, "DISCOGS_AUTHORIZE_URL": discogs_emulator.authorize_url,
            "DISCOGS_CONSUMER_KEY": CONSUMER_KEY, "DISCOGS_CONSUMER_SECRET": CONSUMER_SECRET}  # fmt: skip


@pytest.fixture
def served(tmp_path: Path, discogs_emulator: DiscogsEmulator) -> Iterator[str]:
    with _serve(tmp_path, _discogs_env(discogs_emulator)) as url:
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


def test_connect_discogs_in_a_club_comes_back_signed_in(browser, tmp_path: Path,  # noqa: F811
                                                        discogs_emulator: DiscogsEmulator) -> None:  # type: ignore[no-untyped-def]
    """The return from Discogs is a new browser session: the member's sign-in cookie signs them in again, the
    callback finishes on their Connections page, and the connection is theirs (not bob's, signed in too)."""
    extra = _discogs_env(discogs_emulator) | {"VITRINE_MODE": "club", "VITRINE_COOKIE_KEY": COOKIE_KEY}
    env = _app_env(tmp_path, extra)
    _cli(env, "users", "add", "ann", "--admin", stdin="ann's long password\n")
    _cli(env, "users", "add", "bob", stdin="bob's long password\n")
    with _serve(tmp_path, extra, demo_user="ann") as url:
        bob_context = browser.new_context()
        _sign_in(bob_context.new_page(), url, "bob", "bob's long password")
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        _sign_in(page, url, "ann", "ann's long password")
        _wait_rendered(page)  # ann's first Overview is computed in the view: a person clicks once it is shown
        page.get_by_role("link", name="Connections").click()
        page.get_by_role("heading", name="Connections").first.wait_for(timeout=60_000)
        _wait_rendered(page)
        page.get_by_role("button", name="Connect Discogs").click(timeout=30_000)
        link = page.get_by_role("link", name="Continue to Discogs to approve Vitrine")
        link.wait_for(timeout=30_000)
        with context.expect_page() as opened:
            link.click()
        back = opened.value  # Discogs approved and sent the browser back: a new session, signed in by the cookie
        back.get_by_text("Connected as").first.wait_for(timeout=60_000)
        _wait_rendered(back)
        assert back.get_by_text("Signed in as ann").count() == 1
        assert back.get_by_role("heading", name="Connections").count() == 1
        text = back.locator("[data-testid='stApp']").inner_text()
        assert "Connected as example (Discogs user 1) with OAuth" in text
        assert "oauth_verifier" not in back.url and back.url.rstrip("/").endswith("/connections")
        tokens = [t for a in discogs_emulator.state.access_tokens.values() for t in (a.token, a.secret)]
        assert tokens and not any(token in text for token in tokens)
        assert back.locator("[data-testid='stException']").count() == 0
        bob_context.close()
        context.close()
    app = open_context({name: env[name] for name in ("DATABASE_URL", "VITRINE_MODE", "VITRINE_SECRET_KEY")})
    try:
        with app.session() as session:
            owners = {name: find_user(session, name) for name in ("ann", "bob")}
            connected = {name: oauth.connection_info(session, user.id) for name, user in owners.items() if user}
    finally:
        dispose_engine(app.settings.database_url)
    assert connected["ann"] is not None and connected["ann"].username == "example"
    assert connected["bob"] is None, "the connection is the member's who started it"


def test_link_a_record_to_discogs_in_the_browser(browser, tmp_path: Path,  # noqa: F811
                                                 discogs_emulator: DiscogsEmulator) -> None:  # type: ignore[no-untyped-def]
    """A record typed in by hand has no release: Link to Discogs searches from its title, offers the releases
    found with none chosen, and links the one picked."""
    from tests.discogs_support import seed_releases
    from tests.emulators.discogs import PERSONAL_TOKEN
    from tests.test_e2e_dashboard import _items

    releases = seed_releases(discogs_emulator, 3)
    extra = _discogs_env(discogs_emulator)
    env = _app_env(tmp_path, extra)
    _cli(env, "connect", "discogs", "--personal-token", stdin=f"{PERSONAL_TOKEN}\n")
    _cli(env, "items", "add", "record", "Band 2 (2) – Album 2", "--year", "1972")
    with _serve(tmp_path, extra) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{url}/discogs_link")
            page.get_by_role("heading", name="Link records to Discogs").wait_for(timeout=30_000)
            _wait_rendered(page)
            record = page.locator("[class*='st-key-discogs_record_']").filter(has_text="Band 2 (2) – Album 2")
            record.get_by_role("button", name="Search", exact=True).click()
            record.get_by_text("release(s) found").wait_for(timeout=30_000)
            _wait_rendered(page)
            assert record.locator("input[type='radio']:checked").count() == 0  # nothing chosen for you
            record.locator("[role='radiogroup'] label").filter(has_text="Band 2 (2) - Album 2 (1972").click()
            _wait_rendered(page)
            page.screenshot(path=str(_screenshot_dir(tmp_path) / "discogs-link.png"), full_page=True)
            record.get_by_role("button", name="Link", exact=True).click()
            page.get_by_text(f"to Discogs release {releases[2]}.").wait_for(timeout=30_000)
            assert page.locator("[data-testid='stException']").count() == 0
        finally:
            page.close()
    linked = {item.title: item.discogs_release_id for item in _items(env) if item.kind == "record"}
    assert linked["Band 2 (2) – Album 2"] == releases[2]
