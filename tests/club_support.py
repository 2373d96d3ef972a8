"""Club-mode helpers for tests: the environment, and signing in through the real sign-in widgets."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
COOKIE_KEY = "Qx7-kd93JfPz0aL2mN5vB8cR1tY4wE6uI9oP3sD7fG0hVb2"


def start_club() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def submit_sign_in(at: AppTest, username: str, password: str) -> AppTest:
    """Fill streamlit-authenticator's login form (its inputs have labels, not keys) and submit it."""
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    next(button for button in at.button if button.label == "Sign in").click().run()
    assert not at.exception, at.exception
    return at


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    """Sign in; then the rerun the cookie component triggers in a browser once the cookie is written."""
    submit_sign_in(at, username, password)
    assert "Signing in…" in [info.value for info in at.info], [e.value for e in at.error]
    at.run()
    assert not at.exception, at.exception
    return at
