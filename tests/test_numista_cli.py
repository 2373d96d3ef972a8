"""The Numista commands as a user runs them (subprocess, real HTTP to the emulator): connect numista,
catalog search numista, prices refresh --kind coin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services.accounts import connections, ensure_local_user
from services.collection import add_item
from services.context import open_context
from tests.emulators.numista import DEMO_API_KEY, OTHER_API_KEY, NumistaEmulator

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli_env(app_env: str, numista_emulator: NumistaEmulator, monkeypatch: pytest.MonkeyPatch) -> NumistaEmulator:
    monkeypatch.setenv("NUMISTA_API_URL", numista_emulator.base_url)
    monkeypatch.setenv("HTTP_MAX_RETRIES", "1")
    monkeypatch.setenv("HTTP_BACKOFF_BASE", "0.01")
    return numista_emulator


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services", *args],
        input=stdin, capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(), timeout=120,
    )  # fmt: skip


def run_json(*args: str, stdin: str = "", status: int = 0) -> Any:
    result = run(*args, "--json", stdin=stdin)
    assert result.returncode == status, result.stderr
    return json.loads(result.stdout)


def test_connect_then_search_from_the_cache(cli_env: NumistaEmulator) -> None:
    connected = run_json("connect", "numista", stdin=DEMO_API_KEY + "\n")
    assert (connected["verified"], connected["username"], connected["userId"]) == (True, "demo", 2104)
    assert connected["quota"]["used"] == 2

    first = run_json("catalog", "search", "numista", "victoria")
    assert [t["id"] for t in first["types"]] == [420] and first["fromCache"] is False and first["calls"] == 1
    again = run("catalog", "search", "numista", "victoria")
    assert again.returncode == 0 and "N# 420" in again.stdout and "from the cache, 0 calls" in again.stdout
    assert cli_env.quota_used() == 3


def test_connect_with_a_wrong_key_saves_nothing_and_never_prints_it(cli_env: NumistaEmulator) -> None:
    wrong = "not-the-right-key-42"
    result = run("connect", "numista", "--json", stdin=wrong + "\n")
    assert result.returncode == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "NUMISTA_AUTH" and "did not accept your API key" in error["message"]
    assert wrong not in result.stdout + result.stderr
    missing = run_json("prices", "refresh", "--kind", "coin", status=2)
    assert missing["error"]["code"] == "NUMISTA_NOT_CONNECTED"


def test_reconnecting_with_a_wrong_key_or_while_numista_is_down_keeps_the_working_key(cli_env: NumistaEmulator) -> None:
    run_json("connect", "numista", stdin=DEMO_API_KEY + "\n")
    wrong = "a-mistyped-numista-key-7"
    result = run("connect", "numista", "--json", stdin=wrong + "\n")
    assert result.returncode == 2 and wrong not in result.stdout + result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "NUMISTA_AUTH" and "previous key is kept" in error["message"]

    cli_env.faults.fail_next(10, status=503)  # Numista down: a new key cannot be checked, so it is not taken
    result = run("connect", "numista", "--json", stdin=OTHER_API_KEY + "\n")
    assert result.returncode == 2 and json.loads(result.stdout)["error"]["code"] == "NUMISTA_UNAVAILABLE"
    cli_env.faults.clear()

    context = open_context()
    with context.session() as session:
        owner = ensure_local_user(session)
        assert connections.read_secret(session, context.vault, owner.id, "numista") == DEMO_API_KEY
    searched = run_json("catalog", "search", "numista", "victoria")  # the old key still works
    assert [t["id"] for t in searched["types"]] == [420]


def test_prices_refresh_counts_calls_and_skips_fresh_prices(cli_env: NumistaEmulator) -> None:
    context = open_context()
    with context.session() as session:
        owner = ensure_local_user(session)
        add_item(session, owner.id, kind="coin", title="5 Cents 1858", grade="VF", grade_code="vf",
                 numista_type_id=420, numista_issue_id=4201)  # fmt: skip
        add_item(session, owner.id, kind="coin", title="2 Sapèque 1892", year=1892, numista_type_id=11331)
        add_item(session, owner.id, kind="coin", title="Unknown coin")
    run_json("connect", "numista", stdin=DEMO_API_KEY + "\n")

    report = run_json("prices", "refresh", "--kind", "coin")
    assert sorted(r["issueId"] for r in report["refreshed"]) == [4201, 63445]
    assert report["issuesLinked"][0]["issueId"] == 63445 and report["unlinked"] == 1
    assert report["calls"] == 3 and report["quota"]["used"] == 5 == cli_env.quota_used()
    summary = run("prices", "refresh")
    assert summary.returncode == 0
    assert "Refreshed 0 issue(s)" in summary.stdout and "2 still fresh" in summary.stdout
    assert "0 call(s) used, 5 of 2000 this month" in summary.stdout
    value = run_json("value")
    assert value["byKind"]["coin"]["estimatedValue"] == pytest.approx(65.0)  # Numista's VF estimate of issue 4201

    unsupported = run_json("prices", "refresh", "--kind", "card", status=2)
    assert unsupported["error"]["code"] == "UNSUPPORTED_KIND"
    cli_env.faults.exhaust_quota()
    stopped = run("prices", "refresh", "--force")
    assert stopped.returncode == 1 and "Stopped:" in stopped.stdout and "quota" in stopped.stdout.lower()
