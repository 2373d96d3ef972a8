"""One settings object: every key read and validated once, from the environment or the Streamlit secrets files,
by the command line, the app and the workers alike; a malformed value is a one-line startup error; the
files Vitrine creates for its data are private."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from services.accounts.vault import load_or_create_key
from services.config import SettingsError, load_settings, secrets_files
from services.store.db import create_configured_engine
from services.store.models import User
from services.sync.worker import WorkerConfig
from tests.secret_key import SECRET_KEY

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
KEY = SECRET_KEY


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user's shell: no Vitrine key set, their own home (no global secrets file)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("VITRINE_", "DATABASE_URL",
           "NUMISTA_", "DISCOGS_", "POKEMONTCG_", "HTTP_"))}  # fmt: skip
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), **extra)
    return env


def cli(cwd: Path, env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services", *args],
        input=stdin, capture_output=True, text=True, cwd=cwd, env=env, timeout=120,
    )  # fmt: skip


def write_secrets(directory: Path, body: str) -> Path:
    path = directory / ".streamlit" / "secrets.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def usernames(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(User.username).order_by(User.username)))
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------ secrets.toml
def test_the_command_line_uses_the_clubs_secrets_toml(tmp_path: Path) -> None:
    """README Club setup: DATABASE_URL and VITRINE_MODE in .streamlit/secrets.toml, then `users add` on the
    command line. The member must land in the club's database, not in one the shell happens to name."""
    club, stray = f"sqlite:///{tmp_path / 'club.db'}", f"sqlite:///{tmp_path / 'stray.db'}"
    project = tmp_path / "project"
    write_secrets(project, f'DATABASE_URL = "{club}"\nVITRINE_MODE = "club"\nVITRINE_SECRET_KEY = "{KEY}"\n')
    env = clean_env(tmp_path / "home", DATABASE_URL=stray)  # the file wins, as it does in `streamlit run`
    result = cli(project, env, "users", "add", "ann", "--admin", "--json", stdin="a long password\n")
    assert result.returncode == 0, result.stderr
    assert usernames(club) == ["ann"]
    assert not (tmp_path / "stray.db").exists()


def test_global_and_project_secrets_files_merge_like_streamlit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    monkeypatch.setenv("HOME", str(home))
    write_secrets(home, 'VITRINE_CURRENCY = "chf"\nVITRINE_MODE = "club"\n[auth]\nredirect_uri = "x"\n')
    write_secrets(project, 'VITRINE_MODE = "local"\nVITRINE_WORKER_POLL = 0.25\nVITRINE_BACKGROUND_WORKER = false\n')
    assert secrets_files(project) == [home / ".streamlit/secrets.toml", project / ".streamlit/secrets.toml"]
    settings = load_settings(environ={"VITRINE_CURRENCY": "USD", "HTTP_TIMEOUT": "7"}, secrets=secrets_files(project))
    assert (settings.currency, settings.mode, settings.http_timeout) == ("CHF", "local", 7.0)
    assert (settings.worker_poll, settings.background_worker) == (0.25, False)
    assert load_settings({"VITRINE_MODE": "club"}, environ={}, secrets=secrets_files(project)).club_mode  # tests


def test_workers_and_the_price_order_read_the_same_settings(tmp_path: Path) -> None:
    path = write_secrets(tmp_path, 'VITRINE_WORKER_POLL = "0.3"\nVITRINE_WORKER_HEARTBEAT = 4\n'
                         'VITRINE_SYNC_SETTLE = 0\nVITRINE_SYNC_MAX_ATTEMPTS = 9\n'
                         'VITRINE_CARD_PRICE_ORDER = "cardmarket:avg30, tcgplayer:market"\n')  # fmt: skip
    settings = load_settings(environ={"VITRINE_WORKER_STALE_AFTER": "12"}, secrets=[path])
    assert WorkerConfig.from_settings(settings) == WorkerConfig(
        poll_seconds=0.3, heartbeat_seconds=4.0, stale_after=12.0, settle_seconds=0.0, max_attempts=9
    )
    assert settings.card_price_order == (("cardmarket", "avg30"), ("tcgplayer", "market"))


# ------------------------------------------------------------------------------------ malformed values
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VITRINE_WORKER_POLL", "abc"),
        ("HTTP_TIMEOUT", "-1"),
        ("VITRINE_MODE", "foo"),
        ("VITRINE_CARD_PRICE_ORDER", "tcgplayer:market,ebay:sold"),
        ("VITRINE_BACKGROUND_WORKER", "maybe"),
        ("NUMISTA_RATE_LIMIT", "1e3"),
        ("HTTP_MAX_RETRIES", "99999999999999999999999"),
        ("DISCOGS_API_URL", "api.discogs.com"),
    ],
)
def test_a_malformed_value_is_one_line_and_exit_2(tmp_path: Path, name: str, value: str) -> None:
    env = clean_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'app.db'}", VITRINE_SECRET_KEY=KEY, **{name: value})
    result = cli(tmp_path, env, "items", "list", "--json")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr and name in result.stderr
    document = json.loads(result.stdout)
    assert document["error"]["code"] == "INVALID_SETTING" and name in document["error"]["message"]
    assert not (tmp_path / "app.db").exists()  # refused before anything is opened


def test_a_bad_secret_or_a_broken_secrets_file_is_named_never_shown(tmp_path: Path) -> None:
    write_secrets(tmp_path, 'VITRINE_SECRET_KEY = "hunter2-not-a-fernet-key"\n')
    with pytest.raises(SettingsError) as bad_key:
        load_settings(environ={}, secrets=secrets_files(tmp_path))
    assert "VITRINE_SECRET_KEY" in bad_key.value.message and "hunter2" not in bad_key.value.message
    path = write_secrets(tmp_path, 'DATABASE_URL = "sqlite:///x.db\n')  # unterminated string
    result = cli(tmp_path, clean_env(tmp_path / "home"), "items", "list")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert str(path) in result.stderr and "TOML" in result.stderr


def test_the_app_shows_a_malformed_value_and_stops(app_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITRINE_WORKER_POLL", "abc")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    assert len(at.error) == 1 and "VITRINE_WORKER_POLL" in at.error[0].value
    assert not at.title and not at.metric  # no page ran


def test_the_apps_worker_follows_secrets_toml(app_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """VITRINE_BACKGROUND_WORKER = false in secrets.toml: the Streamlit server starts no push worker."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write_secrets(tmp_path, "VITRINE_BACKGROUND_WORKER = false\n")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    assert not [t for t in threading.enumerate() if t.name.startswith("vitrine-worker-") and t.is_alive()]


# ------------------------------------------------------------------------------------ private files
@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)  # the usual default: new files world-readable unless made private
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_directory_and_the_database_are_private(tmp_path: Path, umask_022: None) -> None:
    data = tmp_path / "fresh" / "data"
    engine = create_configured_engine(f"sqlite:///{data / 'vitrine.db'}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
        assert mode(data) == 0o700
        assert mode(data / "vitrine.db") == 0o600
        assert mode(data / "vitrine.db-wal") == 0o600  # SQLite gives its WAL the database file's mode
    finally:
        engine.dispose()


def test_the_secret_key_directory_is_private(tmp_path: Path, umask_022: None) -> None:
    key_file = tmp_path / "data" / "secret.key"
    load_or_create_key(None, key_file)
    assert (mode(tmp_path / "data"), mode(key_file)) == (0o700, 0o600)
