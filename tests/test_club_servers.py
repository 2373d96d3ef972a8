"""A club on one PostgreSQL database: two Streamlit servers (each with its push-worker thread) and two
`python -m services worker` processes share one member's export job; every coin reaches Numista exactly once."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from services.accounts import members
from services.accounts.connections import save_secret
from services.accounts.vault import Vault
from services.store.db import session_scope
from services.store.models_sync import SyncWorker
from tests.club_support import COOKIE_KEY
from tests.emulators.numista import DEMO_API_KEY, NumistaEmulator
from tests.sync_support import Env, add_coins, assert_each_exactly_once, job_status, numista_settings, wait_for
from tests.test_numista_export import POSTS
from tests.test_numista_export_cli import SECRET_KEY, cli_env, run_json

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.postgres, pytest.mark.e2e]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(environment: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return server, f"http://127.0.0.1:{port}"


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok"
    except httpx.HTTPError:
        return False


def test_two_servers_and_two_workers_push_one_job_exactly_once(
    postgres_engine: Engine, numista_emulator: NumistaEmulator
) -> None:
    from tests.conftest import POSTGRES_URL, _truncate
    from tests.test_e2e_browser import CHROMIUM, CHROMIUM_ARGS

    _truncate(postgres_engine)
    environment = cli_env(POSTGRES_URL, numista_emulator) | {"VITRINE_MODE": "club", "VITRINE_COOKIE_KEY": COOKIE_KEY}
    vault = Vault(SECRET_KEY.encode())
    with session_scope(postgres_engine) as session:
        ann, _ = members.add_member(session, "ann", "ann's long password", admin=True)
        members.add_member(session, "bob", "bob's long password")
        save_secret(session, vault, ann.id, "numista", DEMO_API_KEY)
        ann_id = ann.id
    env = Env(postgres_engine, numista_emulator, numista_settings(numista_emulator), vault, ann_id)
    ids = add_coins(env, 60)

    processes = [_start_server(environment) for _ in range(2)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "services", "worker"], cwd=ROOT, env=environment,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        wait_for(lambda: all(_healthy(url) for _, url in processes), timeout=90, interval=0.5)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:  # a first session on each server starts its worker thread
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for _, url in processes:
                page = browser.new_page()
                page.goto(url)
                page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
            wait_for(lambda: _live_workers(postgres_engine) >= 4, timeout=90, interval=0.5)
            # the job is queued once all four poll the database; slow POSTs keep them all busy with it
            numista_emulator.faults.delay_next(60, seconds=0.2, path=POSTS, method="POST")
            queued = run_json(
                environment, "export", "numista", "--all", "--collection", "1001", "--no-wait", "--user", "ann"
            )
            job_id = queued["job"]
            assert queued["counts"]["queued"] == 60
            wait_for(lambda: job_status(postgres_engine, job_id) in {"done", "done_with_errors"}, timeout=240)
            browser.close()
    finally:
        for process in [*workers, *(server for server, _ in processes)]:
            process.terminate()
        for process in [*workers, *(server for server, _ in processes)]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    assert job_status(postgres_engine, job_id) == "done"
    assert_each_exactly_once(env, set(ids))


def _live_workers(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(SyncWorker)) or 0
