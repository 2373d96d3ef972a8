"""Exporting records to Discogs on the push engine, against the emulator: collection folder (fields written,
DUPLICATE for releases already there, another copy on request), wantlist (idempotent, never overwrites the
member's own wants), Draft listings (exact conditions, our marker); exactly once through 429s, 500s before
and after the write, and a worker that dies between the POST and the checkpoint."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from services.collection import item_document, sync_statuses
from services.collection_table import build_rows
from services.errors import InvalidInput
from services.integrations.discogs.api import DiscogsApi
from services.integrations.discogs.oauth import load_credentials
from services.integrations.discogs.pusher import DiscogsPushSession, ExportOptions, plan_export
from services.store.db import session_scope
from services.store.models import Item, JobItem, SyncLedger, User
from services.sync import engine as jobs
from services.sync import markers
from services.sync.worker import JobInfo
from tests.discogs_support import (
    DiscogsEnv,
    add_records,
    connected_env,
    discogs_worker,
    queue_discogs_export,
    seed_releases,
)
from tests.emulators.discogs import MEDIA_CONDITIONS, DiscogsEmulator
from tests.sync_support import FAST, run_until_settled

ADD = "/users/example/collection/folders/*/releases/*"
ADD_ONLY = "/users/example/collection/folders/1/releases/??????"  # the seeded 6-digit releases, no fields


@pytest.fixture
def env(engine: Engine, session: Session, owner: User, discogs_emulator: DiscogsEmulator) -> DiscogsEnv:
    session.commit()
    return connected_env(engine, discogs_emulator, owner.id)


def _ours(env: DiscogsEnv, releases: list[int]) -> list[dict[str, Any]]:
    wanted = set(releases)
    return [i for i in env.emulator.collection_instances() if i["id"] in wanted]


def _adds(env: DiscogsEnv) -> int:
    """Collection POSTs that add a copy (not the field writes below them)."""
    return sum(1 for r in env.emulator.requests_to(ADD, "POST") if "/instances/" not in r.path)


def _document(env: DiscogsEnv, job_id: int) -> dict[str, Any]:
    with session_scope(env.engine) as session:
        return jobs.job_document(session, env.owner_id, job_id)


def test_collection_export_records_instances_and_writes_fields(env: DiscogsEnv) -> None:
    releases = seed_releases(env.emulator, 6)
    ids = add_records(env, releases)
    env.emulator.clear_requests()
    job_id = queue_discogs_export(env, ids, target="collection", folder_id=1)
    run_until_settled(discogs_worker(env), job_id)
    document = _document(env, job_id)
    assert document["status"] == "done" and document["counts"]["synced"] == 6
    instances = _ours(env, releases)
    assert sorted(i["id"] for i in instances) == releases and {i["folder_id"] for i in instances} == {1}
    by_item = {row["id"]: row["remoteId"] for row in document["items"]}
    instance = int(by_item[ids[0]])
    assert env.emulator.field_values(instance) == {1: "Very Good Plus (VG+)", 2: "Generic", 3: "copy 0"}
    # calls: one collection read, one fields read, one POST per record and one per field value
    assert _adds(env) == 6
    assert env.emulator.count("GET", "/users/example/collection/folders/0/releases") == 1
    assert env.emulator.count("GET", "/users/example/collection/fields") == 1
    with session_scope(env.engine) as session:
        items = list(session.scalars(select(Item).where(Item.id.in_(ids))))
        statuses = sync_statuses(session, ids)
        assert {item_document(i, statuses.get(i.id))["sync"]["discogs"] for i in items} == {"SYNCED"}
        ledger = session.scalar(select(SyncLedger).where(SyncLedger.item_id == ids[0]))
        assert ledger is not None and ledger.remote_data == {"release_id": releases[0], "instance_id": instance,
                                                             "folder_id": 1}
    # export again: nothing is added; linked records are skipped, a release already there is DUPLICATE
    more = add_records(env, releases[:2])
    again = queue_discogs_export(env, [*ids, *more], target="collection", folder_id=1)
    run_until_settled(discogs_worker(env), again)
    counts = _document(env, again)["counts"]
    assert counts == {"synced": 0, "duplicate": 2, "failed": 0, "skipped": 6, "queued": 0}
    assert len(_ours(env, releases)) == 6
    # ... unless the member asks for another copy
    copy_job = queue_discogs_export(env, more[:1], target="collection", folder_id=1, another_copy=True)
    run_until_settled(discogs_worker(env), copy_job)
    assert _document(env, copy_job)["counts"]["synced"] == 1 and len(_ours(env, releases)) == 7


def test_folder_zero_and_unlinked_records_are_refused_before_any_call(env: DiscogsEnv) -> None:
    ids = add_records(env, seed_releases(env.emulator, 1))
    with session_scope(env.engine) as session, pytest.raises(InvalidInput, match="Folder 0"):
        plan_export(session, env.owner_id, ids, ExportOptions(folder_id=0))
    unlinked = add_records(env, [0])
    with session_scope(env.engine) as session:
        session.get(Item, unlinked[0]).discogs_release_id = None  # type: ignore[union-attr]
    with session_scope(env.engine) as session:
        plan = plan_export(session, env.owner_id, unlinked, ExportOptions())
    assert plan[0].action == "skip" and "link it first" in (plan[0].reason or "")


def test_exactly_once_through_429s_and_500s_before_and_after_the_write(
    engine: Engine, session: Session, owner: User, emulator_factory: Any
) -> None:
    session.commit()
    env = connected_env(engine, emulator_factory(DiscogsEmulator, rate_limit=60, rate_window=3.0), owner.id)
    releases = seed_releases(env.emulator, 30)
    ids = add_records(env, releases, notes=None)
    env.emulator.faults.rate_limit_next(3, retry_after=None, path=ADD_ONLY, method="POST")
    env.emulator.faults.fail_next(2, 500, path=ADD_ONLY, method="POST")
    env.emulator.faults.fail_after_write_next(3, path=ADD_ONLY, method="POST")
    job_id = queue_discogs_export(env, ids, target="collection", folder_id=1)
    run_until_settled(discogs_worker(env), job_id)
    document = _document(env, job_id)
    assert document["counts"]["synced"] == 30 and document["status"] == "done"
    instances = _ours(env, releases)
    assert sorted(i["id"] for i in instances) == releases  # each release exactly once
    recorded = {int(row["remoteId"]) for row in document["items"]}
    assert recorded == {i["instance_id"] for i in instances}
    for instance in instances:  # fields were written on the adopted instances too
        assert env.emulator.field_values(instance["instance_id"]) == {1: "Very Good Plus (VG+)", 2: "Generic"}


class _Crash(BaseException):
    """The worker dies here (like a kill: none of our except clauses run)."""


def test_a_worker_dying_after_the_post_leaves_no_second_instance(env: DiscogsEnv) -> None:
    releases = seed_releases(env.emulator, 8)
    ids = add_records(env, releases)
    job_id = queue_discogs_export(env, ids, target="collection", folder_id=1)
    pushed = [0]

    class Crashing(DiscogsPushSession):
        def _finish_instance(self, *args: Any, **kwargs: Any) -> Any:
            pushed[0] += 1
            if pushed[0] == 4:
                raise _Crash  # the POST landed; its instance id dies with the worker
            return super()._finish_instance(*args, **kwargs)

    def crashing(job: JobInfo) -> Crashing:
        with session_scope(env.engine) as session:
            credentials = load_credentials(session, env.vault, env.owner_id)
        api = DiscogsApi(env.settings, credentials)
        api.username = "example"
        return Crashing(env.engine, api, job, settle_seconds=FAST.settle_seconds)

    died: list[BaseException] = []

    def run_doomed() -> None:
        from services.sync.worker import Worker

        try:
            Worker(env.engine, {"discogs": crashing}, FAST).run(job_id=job_id)
        except _Crash as crash:
            died.append(crash)

    thread = threading.Thread(target=run_doomed, daemon=True)
    thread.start()
    thread.join(30)
    assert died
    with session_scope(env.engine) as session:
        stuck = session.scalars(select(JobItem).where(JobItem.job_id == job_id, JobItem.status == "running")).all()
    assert len(stuck) == 1
    run_until_settled(discogs_worker(env), job_id)
    assert _document(env, job_id)["counts"]["synced"] == 8
    assert sorted(i["id"] for i in _ours(env, releases)) == releases
    assert _adds(env) == 8


def test_wantlist_is_idempotent_and_leaves_the_members_own_wants_alone(env: DiscogsEnv) -> None:
    releases = seed_releases(env.emulator, 4)
    own_want = next(iter(env.emulator.wantlist()))
    ids = add_records(env, [*releases, own_want])
    env.emulator.faults.fail_after_write_next(1, path="/users/example/wants/*", method="PUT")
    job_id = queue_discogs_export(env, ids, target="wantlist")
    run_until_settled(discogs_worker(env), job_id)
    counts = _document(env, job_id)["counts"]
    assert counts == {"synced": 4, "duplicate": 1, "failed": 0, "skipped": 0, "queued": 0}
    wants = env.emulator.wantlist()
    assert set(releases) <= set(wants) and wants[releases[0]]["notes"] == "copy 0"
    assert wants[own_want]["notes"] != "copy 4"  # untouched
    # the Collection page's sync column shows every target a record went to
    with session_scope(env.engine) as session:
        items = list(session.scalars(select(Item).where(Item.id.in_(ids)).order_by(Item.id)))
        rows = build_rows(session, env.owner_id, items, currency="EUR", images=None)
    assert [row.sync for row in rows] == ["In wantlist"] * 4 + ["Wantlist: already there"]
    again = queue_discogs_export(env, ids, target="wantlist")
    assert _document(env, again)["counts"]["skipped"] == 4


def test_marketplace_drafts_with_exact_conditions_prices_and_marker(env: DiscogsEnv) -> None:
    releases = seed_releases(env.emulator, 5)
    env.emulator.set_price_suggestions(releases[0], {c: {"currency": "USD", "value": 10.123} for c in MEDIA_CONDITIONS})
    env.emulator.set_price_suggestions(releases[1], {})
    ids = add_records(env, releases[:2], storage_location="Box 1")
    ungraded = add_records(env, releases[2:3], grade=None, grade_code=None)
    env.emulator.faults.fail_after_write_next(1, path="/marketplace/listings", method="POST")
    job_id = queue_discogs_export(env, [*ids, *ungraded], target="marketplace")
    run_until_settled(discogs_worker(env), job_id)
    document = {row["id"]: row for row in _document(env, job_id)["items"]}
    assert document[ids[0]]["status"] == "SYNCED"
    assert document[ids[1]]["status"] == "FAILED" and "no price" in document[ids[1]]["error"]
    assert document[ungraded[0]]["status"] == "SKIPPED" and "media condition" in document[ungraded[0]]["error"]
    listings = [v for v in env.emulator.listings() if v.get("external_id", "").startswith("vitrine:")]
    assert len(listings) == 1  # the lost answer was reconciled, not posted twice
    listing = listings[0]
    assert (listing["status"], listing["condition"], listing["sleeve_condition"], listing["price"]) == (
        "Draft", "Very Good Plus (VG+)", "Generic", 10.12)
    with session_scope(env.engine) as session:
        install = markers.install_id(session)
    assert listing["external_id"] == markers.marker_for(install, ids[0]) and listing["location"] == "Box 1"
    fixed = queue_discogs_export(env, [ids[1]], target="marketplace", price=Decimal("7.50"))
    run_until_settled(discogs_worker(env), fixed)
    assert _document(env, fixed)["counts"]["synced"] == 1


def test_an_export_of_a_member_who_disconnected_pauses_with_the_reason(env: DiscogsEnv) -> None:
    from services.integrations.discogs.oauth import disconnect

    releases = seed_releases(env.emulator, 2)
    ids = add_records(env, releases)
    job_id = queue_discogs_export(env, ids, target="wantlist")
    with session_scope(env.engine) as session:
        disconnect(session, env.owner_id)
    run_until_settled(discogs_worker(env), job_id)
    document = _document(env, job_id)
    assert document["status"] == "paused" and "not connected" in document["message"]
    assert document["counts"]["queued"] == 2 and not env.emulator.wantlist().keys() & set(releases)


def test_a_release_id_our_columns_cannot_hold_in_the_collection_never_breaks_an_export(env: DiscogsEnv) -> None:
    """The job's baseline stores the member's collection by release id (an INTEGER column): an id out of its
    range on Discogs' side (none of our records can carry it) is left out, not an overflow that kills the job."""
    releases = seed_releases(env.emulator, 2)
    huge = 2**31
    env.emulator.add_release({"id": huge, "title": "Odd", "artists": [{"name": "Odd", "id": 1}]})
    env.emulator.add_instance(huge)
    job_id = queue_discogs_export(env, add_records(env, releases), target="collection", folder_id=1)
    run_until_settled(discogs_worker(env), job_id)
    document = _document(env, job_id)
    assert document["status"] == "done" and document["counts"]["synced"] == 2, document
