"""Two Vitrine installations pushing to one Numista account, and markers written before markers named the
installation: a push finds, adopts and changes only the remote coins it created itself.

Real worker, real databases (the test's SQLite or PostgreSQL one plus a second SQLite file: two installations
share nothing but the Numista account), real HTTP to the emulator.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from services.accounts import create_user
from services.collection import get_item, update_item
from services.integrations.numista.item_mapping import map_coin, payload_hash, remote_as_request
from services.integrations.numista.pusher import export_options, plan_export
from services.store.db import session_scope
from services.store.models import SyncLedger
from services.sync import markers
from tests.emulators.numista import DEMO_USER_ID, NumistaEmulator
from tests.sync_support import (
    FAST,
    Env,
    FlakyNumista,
    add_coins,
    assert_each_exactly_once,
    job_status,
    ledger,
    make_env,
    mark_uncertain,
    prepare_env,
    queue_export,
    row_statuses,
    run_until_settled,
    second_install,
)

POSTS = "/v3/users/*/collected_items"
PATIENT = dataclasses.replace(FAST, max_attempts=15)  # 30% refusals: 15 in a row would be a 1-in-70-million fluke


@pytest.fixture
def second_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = second_install(tmp_path / "second-install.db")
    yield engine
    engine.dispose()


def _second_install(engine: Engine, emulator: NumistaEmulator) -> Env:
    with session_scope(engine) as session:
        owner = create_user(session, "ann", "correct horse battery")  # the same person, on another computer
    return make_env(engine, emulator, owner)


def _push_together(rounds: list[tuple[Env, int]]) -> None:
    threads = [
        threading.Thread(target=run_until_settled, args=(env.worker(PATIENT), job_id), daemon=True)
        for env, job_id in rounds
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)
    assert not any(thread.is_alive() for thread in threads)
    for env, job_id in rounds:
        assert job_status(env.engine, job_id) == "done", row_statuses(env.engine, job_id)


def _expected_bodies(env: Env, item_ids: list[int]) -> dict[str, dict[str, Any]]:
    """What each coin's remote copy must hold (by its marker), mapped as the push maps it."""
    with session_scope(env.engine) as session:
        options = export_options(session, env.owner_id, collection_id=1001)
        return {
            env.marker(item_id): map_coin(get_item(session, env.owner_id, item_id), options).payload
            for item_id in item_ids
        }


def _assert_remote_mirrors(env: Env, item_ids: list[int]) -> None:
    """Every remote coin of this installation holds exactly its own coin's data: nobody else changed it."""
    expected = _expected_bodies(env, item_ids)
    actual = {item["internal_id"]: remote_as_request(item) for item in env.remote_ours()}
    assert actual == expected


@pytest.mark.parametrize("on_synced", ["skip", "update"])
def test_two_installations_pushing_to_one_account_each_keep_to_their_own_coins(
    engine: Engine, session: Any, owner: Any, emulator_factory: Any, second_engine: Engine, on_synced: str
) -> None:
    session.commit()
    emulator = emulator_factory(FlakyNumista, fail_before=0.3, seed=9)  # 30% of POSTs refused before the write
    first, second = make_env(engine, emulator, owner), _second_install(second_engine, emulator)
    assert first.install_id != second.install_id
    first_ids = add_coins(first, 30)
    # The same item ids: half of them the same (type, issue) as the first installation's, half of other types.
    second_ids = add_coins(second, 15) + add_coins(second, 15, offset=7, storage_location="Drawer")
    assert first_ids == second_ids
    seeded = emulator.collected_items_for(DEMO_USER_ID)  # the user's own coins, entered on numista.com

    _push_together([(first, queue_export(first, first_ids)), (second, queue_export(second, second_ids))])
    assert emulator.injected["before"] >= 10
    for env, ids in ((first, first_ids), (second, second_ids)):
        assert_each_exactly_once(env, set(ids))
        _assert_remote_mirrors(env, ids)

    # A second round: unchanged coins are skipped; with "update", every coin was edited on both computers.
    if on_synced == "update":
        for env, place in ((first, "Safe A"), (second, "Safe B")):
            with session_scope(env.engine) as db:
                for item_id in first_ids:
                    item = get_item(db, env.owner_id, item_id)
                    update_item(db, env.owner_id, item_id, item.version, storage_location=place)
    emulator.clear_requests()
    _push_together([(first, queue_export(first, first_ids, on_synced=on_synced)),
                    (second, queue_export(second, second_ids, on_synced=on_synced))])  # fmt: skip
    patched = {int(r.path.rsplit("/", 1)[1]) for r in emulator.requests_to(POSTS + "/*", "PATCH")}
    assert len(patched) == (60 if on_synced == "update" else 0) and emulator.count("POST", POSTS) == 0
    for env, ids in ((first, first_ids), (second, second_ids)):
        assert_each_exactly_once(env, set(ids))
        _assert_remote_mirrors(env, ids)
    remaining = emulator.collected_items_for(DEMO_USER_ID)
    assert [item for item in remaining if item["id"] in {s["id"] for s in seeded}] == seeded  # never touched
    assert len(remaining) == len(seeded) + 60


# ------------------------------------------------------------------------------------------ legacy markers
@pytest.fixture
def sync_env(engine: Engine, session: Any, owner: Any, numista_emulator: NumistaEmulator) -> Env:
    return prepare_env(engine, session, owner, numista_emulator)


def _legacy_copy(env: Env, item_id: int, **changes: Any) -> dict[str, Any]:
    """Put on Numista what Vitrine sent for this coin before markers named the installation."""
    with session_scope(env.engine) as session:
        options = export_options(session, env.owner_id, collection_id=1001)
        body = dict(map_coin(get_item(session, env.owner_id, item_id), options).payload or {})
    body.update(internal_id=markers.legacy_marker_for(item_id), **changes)
    return env.emulator.add_collected_item(DEMO_USER_ID, body)


def test_a_legacy_marker_is_adopted_only_when_our_own_outbox_sent_it(sync_env: Env) -> None:
    env = sync_env
    ids = add_coins(env, 3)
    found = _legacy_copy(env, ids[0])
    other_type = _legacy_copy(env, ids[1], type=11331, issue=None)  # "vitrine:<id>" on some other coin
    job_id = queue_export(env, ids)
    mark_uncertain(env.engine, job_id, legacy=True)
    run_until_settled(env.worker(), job_id)

    assert job_status(env.engine, job_id) == "done"
    assert env.emulator.count("POST", POSTS) == 2  # ids[1] and ids[2]; ids[0] was already there
    assert ledger(env.engine, [ids[0]])[ids[0]].remote_id == str(found["id"])
    assert_each_exactly_once(env, {ids[1], ids[2]})
    untouched = next(item for item in env.remote() if item["id"] == other_type["id"])
    assert untouched == other_type


def test_a_legacy_marker_alone_is_never_taken_for_ours(sync_env: Env) -> None:
    """A new database (a rebuilt install) finds "vitrine:<its item id>" on Numista: some other install's."""
    env = sync_env
    ids = add_coins(env, 2)
    foreign = [_legacy_copy(env, item_id) for item_id in ids]  # same coins, same type: only the marker differs
    job_id = queue_export(env, ids)
    mark_uncertain(env.engine, job_id, legacy=False)  # its own uncertain attempts wrote install-scoped markers
    run_until_settled(env.worker(), job_id)
    assert env.emulator.count("POST", POSTS) == 2
    assert_each_exactly_once(env, set(ids))
    assert [item for item in env.remote() if item["id"] in {f["id"] for f in foreign}] == foreign


def test_a_coin_synced_with_a_legacy_marker_is_updated_in_place_and_gets_the_new_marker(sync_env: Env) -> None:
    env = sync_env
    ids = add_coins(env, 1, acquired_place=None, notes=None)
    remote = _legacy_copy(env, ids[0])
    with session_scope(env.engine) as session:  # what the earlier Vitrine recorded after its push
        session.add(SyncLedger(item_id=ids[0], service="numista", status="SYNCED", remote_id=str(remote["id"]),
                               remote_data=remote, payload_hash=payload_hash(remote_as_request(remote))))  # fmt: skip
        item = get_item(session, env.owner_id, ids[0])
        update_item(session, env.owner_id, ids[0], item.version, storage_location="Safe")
    job_id = queue_export(env, ids, on_synced="update")
    run_until_settled(env.worker(), job_id)
    patches = env.emulator.requests_to(POSTS + "/*", "PATCH")
    assert [p.json() for p in patches] == [{"storage_location": "Safe", "internal_id": env.marker(ids[0])}]
    assert env.emulator.count("POST", POSTS) == 0
    assert_each_exactly_once(env, set(ids))


def test_an_update_never_patches_a_linked_remote_coin_of_another_type(sync_env: Env) -> None:
    """The state the old markers left behind: the ledger links a coin to another installation's coin."""
    env = sync_env
    ids = add_coins(env, 2)
    run_until_settled(env.worker(), queue_export(env, ids))
    theirs = env.emulator.add_collected_item(DEMO_USER_ID, {"type": 11331, "grade": "xf", "internal_id": "vitrine:1"})
    with session_scope(env.engine) as session:
        entry = session.scalar(select(SyncLedger).where(SyncLedger.item_id == ids[0]))
        seen = dict(entry.remote_data or {})
        entry.remote_id, entry.remote_data = str(theirs["id"]), {**seen, "id": theirs["id"]}  # same type, we thought
        entry = session.scalar(select(SyncLedger).where(SyncLedger.item_id == ids[1]))
        entry.remote_id, entry.remote_data = str(theirs["id"]), theirs  # recorded as another type
        for item_id in ids:
            item = get_item(session, env.owner_id, item_id)
            update_item(session, env.owner_id, item_id, item.version, storage_location="Safe")
    with session_scope(env.engine) as session:
        options = export_options(session, env.owner_id, collection_id=1001)
        plan = {row.item_id: row for row in plan_export(session, env.owner_id, ids, options, on_synced="update")}
    assert plan[ids[0]].action == "update"  # the plan only knows what was recorded ...
    assert plan[ids[1]].action == "skip" and "N# 11331" in (plan[ids[1]].reason or "")  # ... and says so here
    env.emulator.clear_requests()
    job_id = queue_export(env, ids, on_synced="update")
    run_until_settled(env.worker(), job_id)
    assert env.emulator.count("PATCH", POSTS + "/*") == 0  # the live item's type decides: left alone
    assert row_statuses(env.engine, job_id) == {ids[0]: "failed", ids[1]: "skipped"}
    assert "N# 11331" in (ledger(env.engine, [ids[0]])[ids[0]].last_error or "")
    assert next(item for item in env.remote() if item["id"] == theirs["id"]) == theirs
