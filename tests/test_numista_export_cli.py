"""`export numista`, `jobs ...` and `worker` as users and scripts run them: subprocesses against the Numista
emulator, including a 200-coin push through 500s, 5-second tokens and a worker killed mid-job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from services.accounts import ensure_local_user
from services.accounts.connections import save_secret
from services.accounts.vault import Vault
from services.collection import add_item, get_item, update_item
from services.store.db import session_scope
from services.store.models import JobItem
from tests.emulators.numista import DEMO_API_KEY, NumistaEmulator
from tests.secret_key import SECRET_KEY
from tests.sync_support import Env, add_coins, assert_each_exactly_once, job_status, numista_settings, wait_for
from tests.test_numista_export import POSTS, FlakyNumista

ROOT = Path(__file__).resolve().parents[1]


def cli_env(database_url: str, emulator: NumistaEmulator) -> dict[str, str]:
    return {
        **os.environ, "DATABASE_URL": database_url, "VITRINE_SECRET_KEY": SECRET_KEY, "VITRINE_MODE": "local",
        "NUMISTA_API_URL": emulator.base_url, "NUMISTA_RATE_LIMIT": "10000", "HTTP_BACKOFF_BASE": "0.01",
        "VITRINE_WORKER_POLL": "0.1", "VITRINE_WORKER_HEARTBEAT": "0.3", "VITRINE_WORKER_STALE_AFTER": "2",
        "VITRINE_SYNC_SETTLE": "1",
    }  # fmt: skip


def run(environment: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services", *args], input=stdin, capture_output=True, text=True, cwd=ROOT,
        env=environment, timeout=240,
    )  # fmt: skip


def run_json(environment: dict[str, str], *args: str, expect: int = 0) -> Any:
    result = run(environment, *args, "--json")
    assert result.returncode == expect, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    return json.loads(result.stdout)


def local_env(engine: Engine, emulator: NumistaEmulator, *, connect: bool = True) -> Env:
    vault = Vault(SECRET_KEY.encode())
    with session_scope(engine) as session:
        owner = ensure_local_user(session, "EUR")
        if connect:
            save_secret(session, vault, owner.id, "numista", DEMO_API_KEY)
        owner_id = owner.id
    return Env(engine, emulator, numista_settings(emulator), vault, owner_id)


@pytest.fixture
def cli(app_env: str, numista_emulator: NumistaEmulator) -> tuple[dict[str, str], Env]:
    from services.store.db import get_engine

    engine = get_engine(app_env)
    return cli_env(app_env, numista_emulator), local_env(engine, numista_emulator, connect=False)


def test_dry_run_shows_the_exact_bodies_and_sends_nothing(cli: tuple[dict[str, str], Env]) -> None:
    environment, env = cli
    ids = add_coins(env, 3)
    with session_scope(env.engine) as session:
        add_item(session, env.owner_id, kind="coin", title="Wanted", numista_type_id=420, status="wish")
    document = run_json(environment, "export", "numista", "--all", "--collection", "1002", "--dry-run")
    assert document["job"] is None and document["status"] == "dry-run"
    assert document["counts"] == {"synced": 0, "duplicate": 0, "failed": 0, "skipped": 1, "queued": 3}
    first = next(row for row in document["items"] if row["id"] == ids[0])
    assert first["payload"]["internal_id"] == env.marker(ids[0]) and first["payload"]["collection"] == 1002
    assert first["payload"]["weight"] == 4.9  # measured (real_weight)
    second = next(row for row in document["items"] if row["id"] == ids[1])
    assert "weight" not in second["payload"] and "catalogue weight" in second["omitted"]["weight"]
    assert env.emulator.requests == []  # a dry run needs no key and makes no call
    assert run_json(environment, "jobs", "list") == []


def test_export_runs_to_completion_and_exits_1_when_a_coin_failed(cli: tuple[dict[str, str], Env]) -> None:
    environment, env = cli
    connect = run(environment, "connect", "numista", stdin=DEMO_API_KEY + "\n")
    assert connect.returncode == 0, connect.stderr
    ids = add_coins(env, 5)
    with session_scope(env.engine) as session:
        bad = add_item(session, env.owner_id, kind="coin", title="Unknown type", numista_type_id=999999).id
    document = run_json(environment, "export", "numista", "--all", "--collection", "1001", expect=1)
    assert document["status"] == "done_with_errors"
    assert document["counts"] == {"synced": 5, "duplicate": 0, "failed": 1, "skipped": 0, "queued": 0}
    assert set(document) >= {"job", "status", "counts", "items"}
    failed = next(row for row in document["items"] if row["id"] == bad)
    assert failed["status"] == "FAILED" and "999999" in failed["error"] and failed["remoteId"] is None
    assert all(set(row) >= {"id", "status", "remoteId", "error"} for row in document["items"])
    assert_each_exactly_once(env, set(ids))

    with session_scope(env.engine) as session:  # the user fixes the link; the next export only sends that coin
        update_item(session, env.owner_id, bad, get_item(session, env.owner_id, bad).version, numista_type_id=420)
    again = run_json(environment, "export", "numista", "--all")  # remembered collection; synced coins skipped
    assert again["counts"] == {"synced": 1, "duplicate": 0, "failed": 0, "skipped": 5, "queued": 0}
    fixed = next(r for r in env.remote_ours() if r["internal_id"] == env.marker(bad))
    assert fixed["collection"]["id"] == 1001
    listed = run_json(environment, "jobs", "list")
    assert [job["status"] for job in listed] == ["done", "done_with_errors"]
    assert listed[1]["progress"]["failed"] == 1 and listed[1]["counts"]["synced"] == 5


def test_bad_requests_exit_2_with_a_reason(cli: tuple[dict[str, str], Env]) -> None:
    environment, env = cli
    add_coins(env, 1)
    for args, code in (
        (("export", "numista"), "NOTHING_SELECTED"),
        (("export", "numista", "--all"), "NUMISTA_NOT_CONNECTED"),
        (("jobs", "resume", "99"), "JOB_NOT_FOUND"),
    ):
        result = run(environment, *args, "--json")
        assert result.returncode == 2 and json.loads(result.stdout)["error"]["code"] == code, result.stdout
        assert result.stderr.strip()
    assert run(environment, "connect", "numista", stdin=DEMO_API_KEY + "\n").returncode == 0
    result = run(environment, "export", "numista", "--all", "--collection", "4242", "--json")
    assert result.returncode == 2 and json.loads(result.stdout)["error"]["code"] == "UNKNOWN_COLLECTION"
    assert "1001" in result.stderr  # the message lists the user's real collections


def test_queue_cancel_resume_and_worker_once(cli: tuple[dict[str, str], Env]) -> None:
    environment, env = cli
    assert run(environment, "connect", "numista", stdin=DEMO_API_KEY + "\n").returncode == 0
    ids = add_coins(env, 4)
    queued = run_json(environment, "export", "numista", "--item", str(ids[0]), "--item", str(ids[1]), "--no-wait")
    assert queued["status"] == "queued" and queued["counts"]["queued"] == 2
    cancelled = run_json(environment, "jobs", "cancel", str(queued["job"]))
    assert cancelled["status"] == "cancelled" and cancelled["counts"]["skipped"] == 2
    second = run_json(environment, "export", "numista", "--item", str(ids[2]), "--item", str(ids[3]), "--no-wait")
    worker = run_json(environment, "worker", "--once")
    assert worker["processed"] == 2
    assert job_status(env.engine, second["job"]) == "done"
    assert_each_exactly_once(env, {ids[2], ids[3]})
    resumed = run_json(environment, "jobs", "resume", str(second["job"]))  # nothing left to do: harmless
    assert resumed["status"] == "done"


def _synced(engine: Engine, job_id: int) -> int:
    with session_scope(engine) as session:
        return (
            session.scalar(
                select(func.count()).select_from(JobItem).where(JobItem.job_id == job_id, JobItem.status == "synced")
            )
            or 0
        )


def test_200_coins_through_500s_short_tokens_and_a_killed_worker(engine: Engine, emulator_factory: Any) -> None:
    """20% of POSTs answer 500 (half of them after creating the item), tokens live 5 s, and the worker process
    is SIGKILLed while one of its POSTs is on the wire; a second worker finishes. Every exportable coin is on
    Numista exactly once and Numista rejected no body."""
    emulator = emulator_factory(FlakyNumista, fail_before=0.1, fail_after=0.1, token_lifetime=5, seed=200)
    env = local_env(engine, emulator)
    environment = cli_env(engine.url.render_as_string(hide_password=False), emulator)
    ids = add_coins(env, 200)
    with session_scope(engine) as session:
        for number in range(5):
            add_item(session, env.owner_id, kind="coin", title=f"Wish {number}", numista_type_id=420, status="wish")
            add_item(session, env.owner_id, kind="coin", title=f"Unlinked {number}")
    started = time.monotonic()
    queued = run_json(environment, "export", "numista", "--all", "--collection", "1001", "--no-wait")
    job_id = queued["job"]
    assert queued["counts"] == {"synced": 0, "duplicate": 0, "failed": 0, "skipped": 10, "queued": 200}

    first = subprocess.Popen([sys.executable, "-m", "services", "worker"], cwd=ROOT, env=environment,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for(lambda: _synced(engine, job_id) >= 60, timeout=120)
        emulator.faults.delay_next(1, seconds=1.5, path=POSTS, method="POST")
        wait_for(lambda: any(r.fault == "delay" for r in emulator.requests_to(POSTS, "POST")), timeout=30)
        first.send_signal(signal.SIGKILL)  # mid-POST: the server creates the item after the worker is gone
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert _synced(engine, job_id) < 200
    second = run_json(environment, "worker", "--once")
    elapsed = time.monotonic() - started

    assert job_status(engine, job_id) == "done"
    assert second["processed"] > 0
    assert_each_exactly_once(env, set(ids))
    assert not [a for a in emulator.answers if a[2] == 400]  # zero schema (or any) rejections
    assert emulator.injected["before"] >= 10 and emulator.injected["after"] >= 10
    tokens = emulator.count("GET", "/v3/oauth_token")
    assert tokens >= 2 or elapsed < 5  # renewed on expiry
    listed = run_json(environment, "jobs", "list")
    assert (
        listed[0]["id"] == job_id and listed[0]["counts"]["synced"] == 200 and listed[0]["progress"]["remaining"] == 0
    )
    posts = emulator.count("POST", POSTS)
    print(f"\n200 coins: {posts} POSTs, {emulator.count('GET', POSTS)} collection reads, {tokens} tokens, "
          f"injected {emulator.injected}, {elapsed:.1f} s")  # fmt: skip
