"""Pushing coins to Numista end to end: real worker, real database (SQLite and PostgreSQL), real HTTP to the
emulator. What must hold whatever goes wrong: every exportable coin ends up on Numista exactly once."""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select, text

from services.accounts.vault import Vault
from services.collection import add_item, get_item, update_item
from services.integrations.numista.api import NumistaApi
from services.integrations.numista.item_mapping import map_coin, remote_as_request
from services.integrations.numista.pusher import (
    ExportOptions,
    NumistaPusher,
    NumistaPushSession,
    export_options,
    plan_export,
    set_item_options,
    start_export,
)
from services.integrations.numista.quota import clear_exhausted
from services.store.db import session_scope
from services.store.models import Job, JobItem
from services.store.registry import metadata
from services.sync import engine as jobs
from services.sync.worker import JobInfo
from tests.emulators.numista import DEMO_API_KEY, DEMO_USER_ID, NumistaEmulator
from tests.sync_support import (
    FAST,
    Env,
    FlakyNumista,
    add_coins,
    assert_each_exactly_once,
    job_status,
    ledger,
    make_env,
    prepare_env,
    queue_export,
    row_statuses,
    run_until_settled,
    wait_for,
)

POSTS = "/v3/users/*/collected_items"


@pytest.fixture
def sync_env(engine: Engine, session: Any, owner: Any, numista_emulator: NumistaEmulator) -> Env:
    return prepare_env(engine, session, owner, numista_emulator)


def test_push_sends_each_mapped_coin_once_and_records_the_result(sync_env: Env) -> None:
    env = sync_env
    ids = add_coins(env, 24)
    with session_scope(env.engine) as session:
        wish = add_item(session, env.owner_id, kind="coin", title="Wanted", numista_type_id=420, status="wish").id
        unlinked = add_item(session, env.owner_id, kind="coin", title="Mystery coin").id
    job_id = queue_export(env, [*ids, wish, unlinked])
    worker = env.worker()
    run_until_settled(worker, job_id)

    assert job_status(env.engine, job_id) == "done"
    assert_each_exactly_once(env, set(ids))
    statuses = row_statuses(env.engine, job_id)
    assert statuses[wish] == "skipped" and statuses[unlinked] == "skipped"
    with session_scope(env.engine) as session:
        document = jobs.job_document(session, env.owner_id, job_id)
        item = get_item(session, env.owner_id, ids[4])
        expected = map_coin(item, ExportOptions(currency="EUR", collection_id=1001, install_id=env.install_id)).payload
    assert document["counts"] == {"synced": 24, "duplicate": 0, "failed": 0, "skipped": 2, "queued": 0}
    skipped = {row["id"]: row["error"] for row in document["items"] if row["status"] == "SKIPPED"}
    assert "wish" in skipped[wish] and "no Numista type" in skipped[unlinked]
    sent = next(r for r in env.remote_ours() if r["internal_id"] == env.marker(ids[4]))
    assert remote_as_request(sent) == {k: v for k, v in expected.items()}
    # One call per coin and one token: no collection read was needed.
    assert env.emulator.count("POST", POSTS) == 24
    assert env.emulator.count("GET", POSTS) == 0 and env.emulator.count("GET", "/v3/oauth_token") == 1


def test_a_post_that_created_the_item_but_answered_500_is_found_not_sent_again(
    engine: Engine, session: Any, owner: Any, emulator_factory: Any
) -> None:
    session.commit()
    env = make_env(engine, emulator_factory(FlakyNumista, fail_after=0.3, seed=1), owner)
    ids = add_coins(env, 30)
    job_id = queue_export(env, ids)
    run_until_settled(env.worker(), job_id)
    assert env.emulator.injected["after"] >= 5
    assert_each_exactly_once(env, set(ids))
    # The failed POSTs all happened before the retries, so the collection was read once for all of them.
    assert env.emulator.count("POST", POSTS) == 30
    assert env.emulator.count("GET", POSTS) == 1
    assert job_status(env.engine, job_id) == "done"


def test_a_timed_out_post_is_reconciled_after_it_settles(
    engine: Engine, session: Any, owner: Any, numista_emulator: NumistaEmulator
) -> None:
    """The client gives up (read timeout) while the server is still creating the item."""
    session.commit()
    env = make_env(engine, numista_emulator, owner)
    env.settings = dataclasses.replace(env.settings, http_timeout=0.4)
    ids = add_coins(env, 5)
    job_id = queue_export(env, ids)
    numista_emulator.faults.delay_next(1, seconds=0.8, path=POSTS, method="POST")
    config = dataclasses.replace(FAST, settle_seconds=1.0)
    run_until_settled(env.worker(config), job_id)
    assert_each_exactly_once(env, set(ids))
    assert numista_emulator.count("POST", POSTS) == 5  # the slow one was not posted twice


class _Crash(BaseException):
    """The worker thread dies here (like a kill: no except clause of ours runs)."""


@pytest.mark.parametrize("moment", ["after claiming", "after the POST, before the checkpoint"])
def test_a_worker_killed_mid_item_leaves_no_duplicate(sync_env: Env, moment: str) -> None:
    env = sync_env
    ids = add_coins(env, 12)
    job_id = queue_export(env, ids)
    pushed = [0]

    class Crashing(NumistaPushSession):
        def push(self, claim: Any) -> Any:
            pushed[0] += 1
            if pushed[0] == 5 and moment == "after claiming":
                raise _Crash
            outcome = super().push(claim)
            if pushed[0] == 5:
                raise _Crash  # the POST went through; its answer dies with the worker
            return outcome

    def crashing(job: JobInfo) -> NumistaPushSession:
        api = NumistaApi(env.settings, env.engine, env.vault, job.owner_id)
        return Crashing(env.engine, api, job, settle_seconds=FAST.settle_seconds)

    died: list[BaseException] = []

    def run_doomed() -> None:
        try:
            env.worker(pusher=crashing).run(job_id=job_id)
        except _Crash as crash:
            died.append(crash)

    thread = threading.Thread(target=run_doomed, daemon=True)
    thread.start()
    thread.join(30)
    assert died and not thread.is_alive()
    with session_scope(env.engine) as session:
        stuck = session.scalars(select(JobItem).where(JobItem.job_id == job_id, JobItem.status == "running")).all()
    assert len(stuck) == 1  # still claimed by the dead worker, outcome unknown
    assert env.emulator.count("POST", POSTS) == (4 if moment == "after claiming" else 5)

    run_until_settled(env.worker(), job_id)
    assert_each_exactly_once(env, set(ids))
    assert env.emulator.count("POST", POSTS) == 12  # nothing posted twice
    assert env.emulator.count("GET", POSTS) == 1  # the survivor looked before re-sending


def test_quota_exhaustion_pauses_the_job_and_resume_finishes_it_without_loss(
    engine: Engine, session: Any, owner: Any, emulator_factory: Any
) -> None:
    session.commit()
    emulator = emulator_factory(NumistaEmulator, monthly_quota=15)
    env = make_env(engine, emulator, owner)
    ids = add_coins(env, 25)
    job_id = queue_export(env, ids)
    run_until_settled(env.worker(), job_id)

    with session_scope(engine) as db:
        job = db.get(Job, job_id)
        assert job.status == "paused" and "quota" in job.message.lower() and "resume" in job.message.lower()
        progress = jobs.job_progress(db, job)
    assert progress.failed == 0 and progress.remaining == 25 - 14  # 1 token + 14 coins fit in 15 calls
    assert len(env.remote_ours()) == 14

    with emulator.lock:  # "later": the month rolled over
        emulator.keys[DEMO_API_KEY].used = 0
    with session_scope(engine) as db:
        clear_exhausted(db, env.owner_id)
        jobs.resume_job(db, env.owner_id, job_id)
    run_until_settled(env.worker(), job_id)
    assert job_status(engine, job_id) == "done"
    assert_each_exactly_once(env, set(ids))


def test_a_rejected_coin_fails_alone_and_the_batch_goes_on(sync_env: Env) -> None:
    env = sync_env
    ids = add_coins(env, 6)
    with session_scope(env.engine) as session:
        bad = add_item(session, env.owner_id, kind="coin", title="Not in the catalogue", numista_type_id=999999).id
    job_id = queue_export(env, [*ids[:3], bad, *ids[3:]])
    run_until_settled(env.worker(), job_id)
    assert job_status(env.engine, job_id) == "done_with_errors"
    assert_each_exactly_once(env, set(ids))
    row = ledger(env.engine, [bad])[bad]
    assert row.status == "FAILED" and "999999" in row.last_error and row.remote_id is None


def test_already_synced_coins_skip_copy_or_update_with_only_the_changed_fields(sync_env: Env) -> None:
    env = sync_env
    ids = add_coins(env, 3, acquired_price=None, acquired_place=None, notes=None)
    run_until_settled(env.worker(), queue_export(env, ids))
    first_remote = {i: ledger(env.engine, ids)[i].remote_id for i in ids}

    skip_job = queue_export(env, ids, on_synced="skip")
    assert job_status(env.engine, skip_job) == "done" and set(row_statuses(env.engine, skip_job).values()) == {
        "skipped"
    }

    with session_scope(env.engine) as session:
        item = get_item(session, env.owner_id, ids[0])
        update_item(session, env.owner_id, ids[0], item.version, storage_location="Safe", grade="XF")
    env.emulator.clear_requests()
    update_job = queue_export(env, ids, on_synced="update")
    assert row_statuses(env.engine, update_job)[ids[1]] == "skipped"  # unchanged since the last push: no call
    run_until_settled(env.worker(), update_job)
    patches = env.emulator.requests_to("/v3/users/*/collected_items/*", "PATCH")
    assert len(patches) == 1 and patches[0].json() == {"grade": "xf", "storage_location": "Safe"}
    assert env.emulator.count("POST", POSTS) == 0
    remote = next(r for r in env.remote_ours() if r["internal_id"] == env.marker(ids[0]))
    assert (remote["grade"], remote["storage_location"], str(remote["id"])) == ("xf", "Safe", first_remote[ids[0]])

    copy_job = queue_export(env, [ids[2]], on_synced="copy")
    run_until_settled(env.worker(), copy_job)
    copies = [r for r in env.remote_ours() if str(r["internal_id"]).startswith(env.marker(ids[2]))]
    assert sorted(r["internal_id"] for r in copies) == [env.marker(ids[2]), env.marker(ids[2], f"job{copy_job}")]
    assert ledger(env.engine, [ids[2]])[ids[2]].remote_id == first_remote[ids[2]]  # still linked to the first


def test_per_coin_choices_override_the_default_for_synced_coins(sync_env: Env) -> None:
    env = sync_env
    ids = add_coins(env, 3, acquired_price=None)
    run_until_settled(env.worker(), queue_export(env, ids))
    with session_scope(env.engine) as session:
        for item_id in ids:
            set_item_options(session, env.owner_id, item_id, grade="unc")
        options = export_options(session, env.owner_id, collection_id=1001)
        plan = plan_export(session, env.owner_id, ids, options, on_synced="skip", actions={ids[0]: "update",
                                                                                         ids[1]: "copy"})  # fmt: skip
        assert [row.action for row in plan] == ["update", "copy", "skip"]
        assert [c.field for c in plan[0].changes] == ["grade"] and plan[0].changes[0].vitrine == "unc"
        job_id = start_export(session, env.owner_id, plan, options)
    run_until_settled(env.worker(), job_id)
    assert env.emulator.count("POST", POSTS) == 4 and env.emulator.count("PATCH", POSTS + "/*") == 1
    grades = {r["internal_id"]: r["grade"] for r in env.remote_ours()}
    assert grades[env.marker(ids[0])] == "unc" and grades[env.marker(ids[1], f"job{job_id}")] == "unc"
    assert grades[env.marker(ids[2])] != "unc"


def test_an_update_of_a_coin_deleted_on_numista_adds_it_again(sync_env: Env) -> None:
    env = sync_env
    ids = add_coins(env, 1)
    run_until_settled(env.worker(), queue_export(env, ids))
    with env.emulator.lock:
        env.emulator.state.items[DEMO_USER_ID] = [
            i for i in env.emulator.state.items[DEMO_USER_ID] if i.get("internal_id") != env.marker(ids[0])
        ]
    with session_scope(env.engine) as session:
        set_item_options(session, env.owner_id, ids[0], grade="au")
    run_until_settled(env.worker(), queue_export(env, ids, on_synced="update"))
    assert_each_exactly_once(env, set(ids))
    assert next(r for r in env.remote_ours())["grade"] == "au"


def test_without_internal_ids_a_retry_matches_type_issue_grade_and_price(
    engine: Engine, session: Any, owner: Any, emulator_factory: Any
) -> None:
    session.commit()
    env = make_env(engine, emulator_factory(FlakyNumista, fail_after=1.0), owner)  # every POST: created, then 500
    ids = add_coins(env, 1)
    job_id = queue_export(env, ids, use_internal_id=False)
    run_until_settled(env.worker(), job_id)
    ours = env.remote()[-1]
    assert env.emulator.count("POST", POSTS) == 1 and len(env.remote()) == 3  # 2 seed items + ours, once
    assert "internal_id" not in ours
    entry = ledger(engine, ids)[ids[0]]
    assert entry.status == "DUPLICATE" and entry.remote_id == str(ours["id"])
    assert row_statuses(engine, job_id)[ids[0]] == "duplicate"


def test_two_workers_share_one_job_and_push_each_coin_once(sync_env: Env) -> None:
    env = sync_env
    ids = add_coins(env, 60)
    job_id = queue_export(env, ids)
    first, second = env.worker(), env.worker()
    threads = [threading.Thread(target=w.run, kwargs={"job_id": job_id}, daemon=True) for w in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert first.processed > 0 and second.processed > 0 and first.processed + second.processed == 60
    assert env.emulator.count("POST", POSTS) == 60
    assert_each_exactly_once(env, set(ids))


def test_secrets_never_reach_logs_errors_or_the_database(
    engine: Engine, session: Any, owner: Any, emulator_factory: Any, caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    session.commit()
    caplog.set_level(logging.DEBUG)
    emulator = emulator_factory(FlakyNumista, fail_before=0.2, fail_after=0.2, token_lifetime=1, monthly_quota=30)
    env = make_env(engine, emulator, owner)
    ids = add_coins(env, 30)
    job_id = queue_export(env, ids)
    worker = env.worker()
    thread = threading.Thread(target=worker.run, kwargs={"job_id": job_id}, daemon=True)
    thread.start()  # it pauses on the quota, with failures, a refused token and renewals on the way
    wait_for(lambda: emulator.count("POST", POSTS) >= 8)
    emulator.faults.expire_tokens()
    thread.join(60)
    with session_scope(engine) as db:
        document = jobs.job_document(db, env.owner_id, job_id)
    with emulator.lock:
        secrets = [DEMO_API_KEY, *emulator.state.tokens]
    assert len(secrets) >= 3 and document["status"] == "paused"

    haystacks = [caplog.text, repr(document), str(document)]
    for record in caplog.records:
        haystacks.append(record.getMessage())
        if record.exc_info:
            haystacks.append(logging.Formatter().formatException(record.exc_info))
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(text(f"SELECT * FROM {table.name}")):
                haystacks.append(repr(tuple(row)))
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        for suffix in ("", "-wal"):
            try:
                with open(f"{database}{suffix}", "rb") as handle:
                    haystacks.append(handle.read().decode("latin-1"))
            except FileNotFoundError:
                pass
    everything = "\n".join(haystacks)
    assert "Quota" in everything or "quota" in everything  # the haystack is real
    for secret in secrets:
        assert secret not in everything


def test_a_changed_secret_key_pauses_the_job_with_that_reason_and_resume_finishes_it(sync_env: Env) -> None:
    """VITRINE_SECRET_KEY changed (or went missing and a new key file was made): the stored Numista key cannot
    be decrypted. The job stops once, saying why, instead of failing every coin; nothing is sent or lost."""
    env = sync_env
    ids = add_coins(env, 6)
    job_id = queue_export(env, ids)
    wrong_key = Vault(Fernet.generate_key())
    pusher = NumistaPusher(env.engine, env.settings, wrong_key, settle_seconds=FAST.settle_seconds)
    run_until_settled(env.worker(pusher=pusher), job_id)

    with session_scope(env.engine) as session:
        job = session.get(Job, job_id)
        assert job.status == "paused" and "secret key changed" in job.message, job.message
        assert "VITRINE_SECRET_KEY" in job.message and "resume" in job.message
        progress = jobs.job_progress(session, job)
        attempts = session.scalars(select(JobItem.attempts).where(JobItem.job_id == job_id)).all()
    assert progress.failed == 0 and progress.remaining == 6 and set(attempts) == {0}
    assert env.emulator.count("POST", POSTS) == 0
    assert {row.status for row in ledger(env.engine, ids).values()} == {"QUEUED"}

    with session_scope(env.engine) as session:  # the right key is back
        jobs.resume_job(session, env.owner_id, job_id)
    run_until_settled(env.worker(), job_id)
    assert job_status(env.engine, job_id) == "done"
    assert_each_exactly_once(env, set(ids))
