"""The operator's `users ...` commands in club mode, as a subprocess (the README's club setup, step by step)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.test_cli import run, run_json


@pytest.fixture
def club_env(app_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VITRINE_MODE", "club")
    return app_env


def test_readme_club_setup_creates_the_first_admin_without_user(club_env: str) -> None:
    result = run("users", "add", "ann", "--admin", stdin="ann's long password\n")
    assert result.returncode == 0, result.stderr
    assert "Created user ann (admin)" in result.stdout
    assert run("users", "add", "bob", stdin="bob's long password\n").returncode == 0
    members = run_json("users", "list")
    assert [(m["username"], m["role"], m["active"]) for m in members] == [
        ("ann", "admin", True),
        ("bob", "member", True),
    ]
    # member commands still need --user in club mode; the operator's do not
    anonymous = run("items", "list")
    assert anonymous.returncode == 2 and "--user" in anonymous.stderr
    assert run_json("items", "list", "--user", "bob") == []


def test_disable_enable_role_and_the_last_admin(club_env: str) -> None:
    run("users", "add", "ann", "--admin", stdin="ann's long password\n")
    run("users", "add", "bob", stdin="bob's long password\n")
    last = run("users", "role", "ann", "member", "--json")
    assert last.returncode == 2 and json.loads(last.stdout)["error"]["code"] == "LAST_ADMIN"
    assert run("users", "disable", "ann").returncode == 2, "the last admin cannot be disabled either"
    assert run_json("users", "role", "bob", "admin") == {"username": "bob", "role": "admin"}
    assert run_json("users", "disable", "ann") == {"username": "ann", "active": False}
    refused = run("items", "list", "--user", "ann")
    assert refused.returncode == 2 and "No active user named 'ann'" in refused.stderr
    assert run_json("users", "enable", "ann")["active"] is True
    assert run_json("items", "list", "--user", "ann") == []
    unknown = run("users", "disable", "nobody")
    assert unknown.returncode == 2 and "nobody" in unknown.stderr and "Traceback" not in unknown.stderr


def test_passwd_reads_stdin_and_can_make_it_temporary(club_env: str) -> None:
    run("users", "add", "ann", "--admin", stdin="ann's long password\n")
    empty = run("users", "passwd", "ann", stdin="")
    assert empty.returncode == 2 and "standard input" in empty.stderr
    weak = run("users", "passwd", "ann", stdin="short\n")
    assert weak.returncode == 2 and "at least 8" in weak.stderr
    changed = run_json("users", "passwd", "ann", "--temporary", stdin="a temporary password\n")
    assert changed == {"username": "ann", "mustChangePassword": True}
    assert run_json("users", "list")[0]["mustChangePassword"] is True
    path = club_env.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        stored = db.execute("SELECT password_hash FROM users WHERE username = 'ann'").fetchone()[0]
        events = db.execute("SELECT event, channel FROM login_events ORDER BY id").fetchall()
        dump = "\n".join(db.iterdump())
    assert stored.startswith("scrypt$") and "temporary password" not in dump and "ann's long" not in dump
    assert events == [("created", "cli"), ("password_reset", "cli")]


def test_worker_needs_no_user_in_club_mode(club_env: str) -> None:
    result = run("worker", "--once")
    assert result.returncode == 0, result.stderr
