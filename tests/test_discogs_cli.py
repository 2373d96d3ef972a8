"""The Discogs commands as a user runs them: subprocesses against the emulator. Connect (OAuth with the
pasted verifier, and a personal token), import 100 records from the account and from a CSV, export them to
a folder through injected 429s and 500s (some after the write) and a worker killed mid-job, then export
again; the wantlist and Draft listings; search and link; valuation. No token ever shows."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from services.store.db import get_engine, session_scope
from services.store.models import Connection, Item, JobItem
from tests.discogs_support import discogs_csv, seed_releases
from tests.emulators.discogs import (
    CONSUMER_KEY,
    CONSUMER_SECRET,
    MEDIA_CONDITIONS,
    PERSONAL_TOKEN,
    USER_AGENT,
    DiscogsEmulator,
)
from tests.secret_key import SECRET_KEY
from tests.sync_support import job_status, wait_for

ROOT = Path(__file__).resolve().parents[1]


def cli_env(database_url: str, emulator: DiscogsEmulator) -> dict[str, str]:
    return {
        **os.environ, "DATABASE_URL": database_url, "VITRINE_SECRET_KEY": SECRET_KEY, "VITRINE_MODE": "local",
        "DISCOGS_API_URL": emulator.base_url, "DISCOGS_AUTHORIZE_URL": emulator.authorize_url,
        "DISCOGS_CONSUMER_KEY": CONSUMER_KEY, "DISCOGS_CONSUMER_SECRET": CONSUMER_SECRET,
        "DISCOGS_RATE_LIMIT": str(emulator.rate_limit), "DISCOGS_RATE_WINDOW": str(emulator.rate_window),
        "HTTP_BACKOFF_BASE": "0.01", "VITRINE_WORKER_POLL": "0.1", "VITRINE_WORKER_HEARTBEAT": "0.3",
        "VITRINE_WORKER_STALE_AFTER": "2", "VITRINE_SYNC_SETTLE": "0.5",
    }  # fmt: skip


def run(environment: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=environment, timeout=300)  # fmt: skip


def run_json(environment: dict[str, str], *args: str, expect: int = 0, stdin: str = "") -> Any:
    result = run(environment, *args, "--json", stdin=stdin)
    assert result.returncode == expect, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    return json.loads(result.stdout)


@pytest.fixture
def emulator(emulator_factory: Any) -> DiscogsEmulator:
    return emulator_factory(DiscogsEmulator, rate_limit=60, rate_window=2.0)


@pytest.fixture
def environment(app_env: str, emulator: DiscogsEmulator) -> dict[str, str]:
    return cli_env(app_env, emulator)


def _engine(environment: dict[str, str]) -> Engine:
    return get_engine(environment["DATABASE_URL"])


def test_connect_with_the_pasted_verifier_never_shows_a_token(environment: dict[str, str],
                                                              emulator: DiscogsEmulator) -> None:
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    process = subprocess.Popen([sys.executable, "-m", "services", "connect", "discogs"], cwd=ROOT, env=environment,
                               text=True, **pipes)  # fmt: skip
    assert process.stdout is not None and process.stdin is not None
    lines = [process.stdout.readline(), process.stdout.readline()]
    url = lines[1].strip()
    assert url.startswith(emulator.authorize_url + "?oauth_token=")
    page = httpx.get(url, headers={"User-Agent": USER_AGENT})  # out of band: Discogs shows the code
    verifier = re.search(r'<code id="verifier">(\w+)</code>', page.text)
    assert verifier is not None
    out, err = process.communicate(verifier.group(1) + "\n", timeout=60)
    assert process.returncode == 0, err
    assert "Connected to Discogs as example (user 1)." in out
    with session_scope(_engine(environment)) as session:
        connection = session.scalar(select(Connection).where(Connection.service == "discogs"))
        assert connection is not None and connection.remote_user == "example"
    tokens = [t.token for t in emulator.state.access_tokens.values()] + [
        t.secret for t in emulator.state.access_tokens.values()]
    assert tokens and not any(t in out + err for t in tokens)
    # a reused verifier is refused with one line, no traceback
    again = run(environment, "connect", "discogs", stdin="nonsense\n")
    assert again.returncode == 2 and "Traceback" not in again.stderr
    gone = run_json(environment, "connect", "discogs", "--disconnect")
    assert gone == {"connected": False}


@pytest.mark.timeout(900)  # about 15 commands at several seconds each on a shared 2-core machine
def test_import_export_wantlist_marketplace_end_to_end(environment: dict[str, str], emulator: DiscogsEmulator,
                                                       tmp_path: Path) -> None:
    connected = run_json(environment, "connect", "discogs", "--personal-token", stdin=PERSONAL_TOKEN + "\n")
    assert connected["username"] == "example" and PERSONAL_TOKEN not in json.dumps(connected)
    releases = seed_releases(emulator, 200)
    for release_id in releases[:100]:
        emulator.add_instance(release_id, fields={1: "Near Mint (NM or M-)"})
    account = run_json(environment, "import", "discogs")
    assert account["created"] == 103 and account["pages"] == {"done": 2, "total": 2}
    rows = [{"Artist": f"Band {n}", "Title": f"Album {n}", "release_id": str(release_id), "Catalog#": f"CAT-{n}",
             "Collection Media Condition": MEDIA_CONDITIONS[n % 8], "Collection Sleeve Condition": "Generic",
             "Collection Notes": f"csv {n}"} for n, release_id in enumerate(releases[100:])]  # fmt: skip
    path = tmp_path / "collection.csv"
    path.write_text(discogs_csv(rows), encoding="utf-8")
    preview = run_json(environment, "import", "discogs-csv", str(path), "--dry-run")
    assert preview["created"] == 100
    assert run_json(environment, "import", "discogs-csv", str(path))["created"] == 100
    listed = run_json(environment, "items", "list", "--kind", "record")
    assert len(listed) == 203 and {d["sync"]["discogs"] for d in listed} == {"NOT_SYNCED"}
    csv_ids = [d["id"] for d in listed if d["refs"]["discogsRelease"] in set(releases[100:])]
    account_ids = [d["id"] for d in listed if d["id"] not in set(csv_ids)]

    # export every record: 429s and 500s (half after the write) on the adds, and a worker killed mid-job
    emulator.faults.flaky_writes(0.08, 0.08, seed=11, path="/users/example/collection/folders/1/releases/??????")
    emulator.faults.rate_limit_next(4, retry_after=None, path="/users/example/collection/folders/1/releases/*")
    queued = run_json(environment, "export", "discogs", "--target", "collection", "--all", "--no-wait")
    job_id = queued["job"]
    first = subprocess.Popen([sys.executable, "-m", "services", "worker"], cwd=ROOT, env=environment,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        def done_rows() -> int:
            with session_scope(_engine(environment)) as session:
                return session.scalar(select(func.count()).select_from(JobItem).where(
                    JobItem.job_id == job_id, JobItem.status.in_(("synced", "duplicate")))) or 0

        wait_for(lambda: done_rows() >= 120, timeout=180)
        emulator.faults.delay_next(1, seconds=1.5, path="/users/example/collection/folders/1/releases/??????",
                                   method="POST")  # fmt: skip
        wait_for(lambda: any(r.fault == "delay" for r in emulator.requests_to(
            "/users/example/collection/folders/1/releases/??????", "POST")), timeout=60)
        first.send_signal(signal.SIGKILL)  # mid-POST: Discogs adds the copy after the worker is gone
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    run_json(environment, "worker", "--once")
    assert job_status(_engine(environment), job_id) == "done"
    document = run_json(environment, "jobs", "resume", str(job_id))
    assert document["counts"]["failed"] == 0
    counts = document["counts"]
    assert counts["synced"] == 100 and counts["duplicate"] == 103  # the imported ones were already there
    instances = emulator.collection_instances()
    for release_id in releases:  # each release is in the collection exactly once
        assert sum(1 for i in instances if i["id"] == release_id) == 1
    assert emulator.injected["before"] >= 3 and emulator.injected["after"] >= 3
    again = run_json(environment, "export", "discogs", "--target", "collection", "--all")
    assert again["counts"] == {"synced": 0, "duplicate": 103, "failed": 0, "skipped": 100, "queued": 0}
    assert len(emulator.collection_instances()) == len(instances)
    synced = {d["id"]: d["sync"]["discogs"] for d in run_json(environment, "items", "list", "--kind", "record")}
    assert {synced[i] for i in csv_ids} == {"SYNCED"} and {synced[i] for i in account_ids} == {"DUPLICATE"}

    # wantlist: exactly the chosen releases; listing Drafts with exact conditions
    chosen = csv_ids[:5]
    wants_before = set(emulator.wantlist())
    items = {"--item": chosen}
    args = [a for i in items["--item"] for a in ("--item", str(i))]
    assert run_json(environment, "export", "discogs", "--target", "wantlist", *args)["counts"]["synced"] == 5
    assert run_json(environment, "export", "discogs", "--target", "wantlist", *args)["counts"]["skipped"] == 5
    with session_scope(_engine(environment)) as session:
        chosen_releases = set(session.scalars(select(Item.discogs_release_id).where(Item.id.in_(chosen))))
    assert set(emulator.wantlist()) - wants_before == chosen_releases
    market = run_json(environment, "export", "discogs", "--target", "marketplace", *args, "--price", "9.99")
    assert market["counts"]["synced"] == 5
    ours = [v for v in emulator.listings() if str(v.get("external_id", "")).startswith("vitrine:")]
    assert len(ours) == 5 and {v["status"] for v in ours} == {"Draft"}
    assert all(v["condition"] in MEDIA_CONDITIONS and v["price"] == 9.99 for v in ours)
    # items list: sync.discogs (the collection) stays as it was; syncTargets.discogs has every export target
    listed = {d["id"]: d for d in run_json(environment, "items", "list", "--kind", "record")}
    assert {str(listed[i]["syncTargets"]["discogs"]) for i in chosen} == {
        str({"collection": "SYNCED", "wantlist": "SYNCED", "marketplace": "SYNCED"})}
    assert {listed[i]["syncTargets"]["discogs"]["wantlist"] for i in account_ids} == {"NOT_SYNCED"}
    assert all(d["sync"]["discogs"] == d["syncTargets"]["discogs"]["collection"] for d in listed.values())



def test_valuation_search_and_link(environment: dict[str, str], emulator: DiscogsEmulator, tmp_path: Path) -> None:
    run_json(environment, "connect", "discogs", "--personal-token", stdin=PERSONAL_TOKEN + "\n")
    releases = seed_releases(emulator, 50)
    rows = [{"Artist": f"Band {n}", "Title": f"Album {n}", "release_id": str(release_id),
             "Collection Media Condition": "Very Good Plus (VG+)"}
            for n, release_id in enumerate(releases[:5])]  # fmt: skip
    path = tmp_path / "collection.csv"
    path.write_text(discogs_csv(rows), encoding="utf-8")
    run_json(environment, "import", "discogs-csv", str(path))
    emulator.set_price_suggestions(releases[0], {c: {"currency": "EUR", "value": 20.0 - n}
                                                 for n, c in enumerate(MEDIA_CONDITIONS)})  # fmt: skip
    refreshed = run_json(environment, "prices", "refresh", "--kind", "record")
    assert releases[0] in refreshed["refreshed"] and refreshed["calls"] >= 5
    value = run_json(environment, "value")
    record = value["byKind"]["record"]
    assert record["items"] == 5 and record["estimatedValue"] >= 18.0  # VG+ of release 0 is 18.00 EUR
    found = run_json(environment, "catalog", "search", "discogs", "--barcode", "5 012345 000007")
    assert found["results"][0]["releaseId"] == releases[7]
    manual = run_json(environment, "items", "add", "record", "Unlinked record", "--grade", "VG")
    linked = run_json(environment, "catalog", "search", "discogs", "--catno", "CAT-0042", "--link", str(manual["id"]))
    assert linked["linked"]["item"] == manual["id"] and linked["linked"]["releaseId"] == releases[42]
    assert linked["linked"]["artist"] == "Band 8"
