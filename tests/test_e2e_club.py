"""Club mode in a real browser: two members signed in at once (two browser contexts) on one server, a reload
keeps each signed in (streamlit-authenticator's cookie), signing out kills that member's cookie on the server
(a replayed copy is refused), and a member disabled from the command line is signed out at the next reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.club_support import COOKIE_KEY
from tests.test_e2e_browser import CHROMIUM, CHROMIUM_ARGS, _cli, _serve, _wait_rendered

pytestmark = pytest.mark.e2e

ANN, BOB = "ann's long password", "bob's long password"


@pytest.fixture(scope="module")
def club_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A club server on PostgreSQL (TEST_DATABASE_URL, schema reset) or else SQLite, with ann (admin, demo
    collection) and bob (nothing), made with the operator's CLI as the README says."""
    data = tmp_path_factory.mktemp("club")
    extra = {"VITRINE_MODE": "club", "VITRINE_COOKIE_KEY": COOKIE_KEY}
    from tests.conftest import POSTGRES_URL as postgres

    if postgres:
        from tests.conftest import _reset_postgres

        _reset_postgres(postgres).dispose()
        extra["DATABASE_URL"] = postgres
    env = _prepared_env(data, extra)
    _cli(env, "users", "add", "ann", "--admin", stdin=ANN + "\n")
    _cli(env, "users", "add", "bob", stdin=BOB + "\n")
    with _serve(data, extra, demo_user="ann") as url:
        yield url, env


def _prepared_env(data: Path, extra: dict[str, str]) -> dict[str, str]:
    from tests.test_e2e_browser import _app_env

    return _app_env(data, extra)


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _sign_in(page, url: str, username: str, password: str, lands_on: str = "Overview") -> None:  # type: ignore[no-untyped-def]
    """Sign in as a person would, at `url` (the app, or one of its pages: the member then lands on `lands_on`).
    Typed once: nothing reruns a signed-out session by itself, so nothing wipes the form meanwhile."""
    page.goto(url)
    _wait_rendered(page)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    _signed_in_as(page, username, lands_on)


def _signed_in_as(page, username: str, heading: str = "Overview") -> None:  # type: ignore[no-untyped-def]
    try:
        page.get_by_text(f"Signed in as {username}").wait_for(timeout=60_000)
        page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=60_000)
    except Exception as waited:  # say what the page showed instead
        shown = page.locator("[data-testid='stMain']").inner_text(timeout=5_000)[:400].replace("\n", " | ")
        raise AssertionError(f"not signed in as {username} on {heading!r}: at {page.url}, showing: {shown}") from waited


def _sign_in_form_shown(page) -> bool:  # type: ignore[no-untyped-def]
    """True when a finished run shows the sign-in form and no member. While a run is going, the previous run's
    elements stay on the page (stale) until it ends: a sign-out's rerun shows the form while the sidebar still
    says "Signed in as", so both are read together once the run has finished."""
    page.wait_for_function(
        "document.querySelector(\"[data-testid='stApp']\")?.dataset.testScriptState === 'notRunning'"
        " && [...document.querySelectorAll('button')].some(b => b.innerText.trim() === 'Sign in')",
        timeout=60_000,
    )
    return page.get_by_text("Signed in as").count() == 0


def _on_page(page, username: str, url_path: str, heading: str) -> None:  # type: ignore[no-untyped-def]
    """Signed in as `username`, on the page titled `heading`, and the address still names that page."""
    _wait_rendered(page)
    _signed_in_as(page, username, heading)
    assert urlsplit(page.url).path.strip("/") == url_path, page.url


def test_a_new_tab_a_reload_and_a_sign_in_keep_the_page_asked_for(browser, club_server) -> None:  # type: ignore[no-untyped-def]
    """A new tab or a reload is a new session signed in by the cookie, on the page its address names. A rerun the
    library's cookie component made in each new session named no page: under load it opened Overview."""
    url, env = club_server
    _cli(env, "users", "add", "dee", "--admin", stdin="dee's long password\n")
    _cli(env, "users", "add", "eve", stdin="eve's long password\n")
    member = browser.new_context()
    _sign_in(member.new_page(), url, "eve", "eve's long password")
    tab = member.new_page()  # a new tab on a page: that page
    tab.goto(f"{url}/collection")
    _on_page(tab, "eve", "collection", "Collection")
    tab.goto(f"{url}/settings")
    _on_page(tab, "eve", "settings", "Settings")
    tab.reload()  # a reload on a page stays there
    _on_page(tab, "eve", "settings", "Settings")
    tab.goto(f"{url}/admin")  # a member asking for Admin: Overview, saying why
    _on_page(tab, "eve", "admin", "Overview")
    tab.get_by_text("The Admin page is for the club's admins").wait_for(timeout=10_000)
    assert tab.get_by_text("Page not found").count() == 0
    tab.goto(f"{url}/overview")  # the default page by name (the sidebar's link is /)
    _on_page(tab, "eve", "overview", "Overview")
    assert tab.get_by_text("Page not found").count() == 0
    tab.go_back()  # Back goes back (a page that switched to the Overview was landed on again and again)
    _on_page(tab, "eve", "admin", "Overview")
    tab.go_back()
    _on_page(tab, "eve", "settings", "Settings")

    admin = browser.new_context()
    _sign_in(admin.new_page(), url, "dee", "dee's long password")
    admin_tab = admin.new_page()
    admin_tab.goto(f"{url}/admin")  # an admin's new tab on Admin: Admin
    _on_page(admin_tab, "dee", "admin", "Admin")

    signed_out = browser.new_context()  # signing in from a page's address lands on that page
    visitor = signed_out.new_page()
    _sign_in(visitor, f"{url}/collection", "eve", "eve's long password", lands_on="Collection")
    _on_page(visitor, "eve", "collection", "Collection")
    for context in (member, admin, signed_out):
        context.close()


def test_the_first_visitor_of_a_fresh_server_signs_in_on_the_page_asked_for(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A restarted server's first session used to run a page asked for by address on its own (Streamlit's legacy
    pages/ mode): the sign-in form shown on the way did not sign in. And a sign-in screen at a page's address said
    "Page not found" in a dialog over the form, which nothing closed once no component reran the app."""
    extra = {"VITRINE_MODE": "club", "VITRINE_COOKIE_KEY": COOKIE_KEY}
    env = _prepared_env(tmp_path, extra)
    _cli(env, "users", "add", "fay", stdin="fay's long password\n")
    with _serve(tmp_path, extra, demo_user="fay") as url:
        visitor = browser.new_context()
        for asked, lands_on, heading in (("sets", "sets", "Sets"), ("overview", "overview", "Overview")):
            page = visitor.new_page()
            page.goto(f"{url}/{asked}")
            page.get_by_role("textbox", name="Username").fill("fay")
            assert page.get_by_text("Page not found").count() == 0
            page.get_by_role("textbox", name="Password").fill("fay's long password")
            page.get_by_role("button", name="Sign in").click()
            _on_page(page, "fay", lands_on, heading)
            assert page.get_by_text("Page not found").count() == 0
            page.get_by_role("button", name="Sign out").click()
            _sign_in_form_shown(page)
        visitor.close()


def test_a_tab_left_open_across_a_restart_goes_where_it_is_clicked(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A restarted server gives an open tab a new session, still at the address it had then: its first run is the
    member's next click, and the address used to be taken for a page asked for before sign-in, and switched back to."""
    extra = {"VITRINE_MODE": "club", "VITRINE_COOKIE_KEY": COOKIE_KEY}
    env = _prepared_env(tmp_path, extra)
    _cli(env, "users", "add", "gus", stdin="gus's long password\n")
    visitor = browser.new_context()
    page = visitor.new_page()
    with _serve(tmp_path, extra, demo_user="gus") as url:
        _sign_in(page, f"{url}/collection", "gus", "gus's long password", lands_on="Collection")
        _wait_rendered(page)  # a run still going when the server stops is started again on reconnecting
    reconnecting = "document.querySelector(\"[data-testid='stConnectionStatus']\") !== null"  # says CONNECTING
    page.wait_for_function(reconnecting, timeout=30_000)
    with _serve(tmp_path, extra, demo_user="gus", port=urlsplit(url).port):
        page.wait_for_function(f"!({reconnecting})", timeout=60_000)  # the tab has reconnected
        page.get_by_role("link", name="Sets").click()
        _on_page(page, "gus", "sets", "Sets")
        page.wait_for_timeout(2_000)  # a switch back came at once
        _on_page(page, "gus", "sets", "Sets")
    visitor.close()


def test_two_members_reload_sign_out_and_a_replayed_cookie(browser, club_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, env = club_server
    ann_context, bob_context = browser.new_context(), browser.new_context()
    ann, bob = ann_context.new_page(), bob_context.new_page()
    _sign_in(ann, url, "ann", ANN)
    _sign_in(bob, url, "bob", BOB)
    assert ann.get_by_text("Your collection is empty").count() == 0, "ann has the demo collection"
    bob.get_by_text("Your collection is empty").wait_for(timeout=60_000)

    for page, name in ((ann, "ann"), (bob, "bob")):  # a reload is a new Streamlit session: the cookie signs in
        page.reload()
        _wait_rendered(page)
        _signed_in_as(page, name)
    ann.goto(f"{url}/collection")  # so does a new tab on another page
    _wait_rendered(ann)
    ann.get_by_text("Signed in as ann").wait_for(timeout=60_000)
    # and the way back from another site (Discogs' authorisation page links back to the app)
    ann.set_content(f'<a id="back" href="{url}/connections?oauth_token=t&oauth_verifier=v">back to Vitrine</a>')
    ann.click("#back")
    _wait_rendered(ann)
    ann.get_by_text("Signed in as ann").wait_for(timeout=60_000)
    bob_cookie = next(c for c in bob_context.cookies() if c["name"] == "vitrine_signin")
    assert bob_cookie["sameSite"] == "Lax" and bob_cookie["path"] == "/"
    copy_context = browser.new_context()  # the copied cookie signs in elsewhere while bob is signed in...
    copy_context.add_cookies([bob_cookie])
    copy = copy_context.new_page()
    copy.goto(url)
    _wait_rendered(copy)
    _signed_in_as(copy, "bob")

    bob.get_by_role("button", name="Sign out").click()
    assert _sign_in_form_shown(bob)
    copy.reload()  # ...and dies with his sign-out, in the browser that held it
    assert _sign_in_form_shown(copy), "the copy's session ended with bob's sign-out"
    replay_context = browser.new_context()  # and replayed anywhere afterwards
    replay_context.add_cookies([bob_cookie])
    replay = replay_context.new_page()
    replay.goto(url)
    assert _sign_in_form_shown(replay), "bob's copied cookie died with his sign-out"
    replay.screenshot(path=str(tmp_path / "replayed-cookie.png"))

    ann.reload()
    _wait_rendered(ann)
    ann.get_by_text("Signed in as ann").wait_for(timeout=60_000)  # bob's sign-out left ann alone
    _cli(env, "users", "add", "carl", "--admin", stdin="carl's long password\n")
    _cli(env, "users", "disable", "ann")
    ann.reload()
    assert _sign_in_form_shown(ann), "a disabled member's cookie is refused"
    for context in (ann_context, bob_context, copy_context, replay_context):
        context.close()
