"""Two Vitrine installations listing records from one Discogs account, and listing markers written before
markers named the installation: a push finds and adopts only the listings it created itself.

Real worker, real databases (the test's SQLite or PostgreSQL one plus a second SQLite file: two installations
share nothing but the Discogs account), real HTTP to the emulator. The Numista version of the same rule is
tests/test_numista_export_installs.py; the rule itself lives in services/sync/markers.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from services.accounts import create_user
from services.store.db import session_scope
from services.store.models import JobItem, SyncLedger, User
from services.sync import markers
from tests import discogs_support as discogs
from tests.discogs_support import DiscogsEnv
from tests.emulators.discogs import DiscogsEmulator
from tests.sync_support import mark_uncertain, run_until_settled, second_install

LISTINGS = "/marketplace/listings"
PRICE = Decimal("7.50")


@pytest.fixture
def second_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = second_install(tmp_path / "second-install.db")
    yield engine
    engine.dispose()


@pytest.fixture
def env(engine: Engine, session: Session, owner: User, discogs_emulator: DiscogsEmulator) -> DiscogsEnv:
    session.commit()
    return discogs.connected_env(engine, discogs_emulator, owner.id)


def _install_id(env: DiscogsEnv) -> str:
    with session_scope(env.engine) as session:
        return markers.install_id(session)


def _listed(env: DiscogsEnv, job_id: int) -> dict[int, str]:
    """item id → the listing id this installation recorded for it."""
    with session_scope(env.engine) as session:
        rows = session.execute(select(JobItem.item_id, JobItem.remote_id).where(JobItem.job_id == job_id))
        return {item_id: str(remote_id) for item_id, remote_id in rows}


def _by_marker(emulator: DiscogsEmulator) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for listing in emulator.listings():
        if listing.get("external_id"):
            found.setdefault(listing["external_id"], []).append(listing["id"])
    return found


def _push(env: DiscogsEnv, item_ids: list[int], *, lost_answers: int) -> int:
    """List the records as Drafts; the first `lost_answers` POSTs are done but answered 500 (reconciled)."""
    env.emulator.faults.fail_after_write_next(lost_answers, path=LISTINGS, method="POST")
    job_id = discogs.queue_discogs_export(env, item_ids, target="marketplace", price=PRICE)
    run_until_settled(discogs.discogs_worker(env), job_id)
    return job_id


def _assert_each_listed_once_under_its_own_marker(env: DiscogsEnv, job_id: int, item_ids: list[int]) -> None:
    install = _install_id(env)
    remote = _by_marker(env.emulator)
    recorded = _listed(env, job_id)
    for item_id in item_ids:
        assert remote.get(markers.marker_for(install, item_id)) == [int(recorded[item_id])], (item_id, recorded)


def test_two_installations_listing_from_one_account_each_keep_to_their_own_listings(
    env: DiscogsEnv, second_engine: Engine, discogs_emulator: DiscogsEmulator
) -> None:
    with session_scope(second_engine) as session:
        other_owner = create_user(session, "ann", "correct horse battery")  # the same person, another computer
    second = discogs.connected_env(second_engine, discogs_emulator, other_owner.id)
    assert _install_id(env) != _install_id(second)
    releases = discogs.seed_releases(discogs_emulator, 6)
    first_ids, second_ids = discogs.add_records(env, releases), discogs.add_records(second, releases)
    assert first_ids == second_ids  # the same item ids, the same releases: only the installation differs

    first_job = _push(env, first_ids, lost_answers=2)
    theirs = {listing["id"]: listing for listing in discogs_emulator.listings()}
    second_job = _push(second, second_ids, lost_answers=6)  # every answer lost: every row is reconciled

    assert set(_listed(env, first_job).values()).isdisjoint(_listed(second, second_job).values())
    _assert_each_listed_once_under_its_own_marker(env, first_job, first_ids)
    _assert_each_listed_once_under_its_own_marker(second, second_job, second_ids)
    assert discogs_emulator.count("POST", LISTINGS) == 12  # each record listed once per installation
    now = {listing["id"]: listing for listing in discogs_emulator.listings()}
    assert {key: now[key] for key in theirs} == theirs  # the first installation's listings were never touched


# ------------------------------------------------------------------------------------------ legacy markers
def _queued(env: DiscogsEnv, item_ids: list[int]) -> int:
    return discogs.queue_discogs_export(env, item_ids, target="marketplace", price=PRICE)


def test_a_legacy_listing_is_adopted_only_when_our_own_outbox_sent_it(env: DiscogsEnv) -> None:
    releases = discogs.seed_releases(env.emulator, 2)
    ids = discogs.add_records(env, releases)
    found = env.emulator.add_listing(releases[0], external_id=markers.legacy_marker_for(ids[0]))
    job_id = _queued(env, ids)
    mark_uncertain(env.engine, job_id, legacy=True)
    env.emulator.clear_requests()
    run_until_settled(discogs.discogs_worker(env), job_id)
    recorded = _listed(env, job_id)
    assert recorded[ids[0]] == str(found) and env.emulator.count("POST", LISTINGS) == 1  # only ids[1] was sent
    assert _by_marker(env.emulator)[markers.marker_for(_install_id(env), ids[1])] == [int(recorded[ids[1]])]


def test_a_legacy_listing_alone_is_never_taken_for_ours(env: DiscogsEnv) -> None:
    """A new database (a rebuilt install) finds "vitrine:<its item id>" on Discogs: some other install's."""
    releases = discogs.seed_releases(env.emulator, 2)
    ids = discogs.add_records(env, releases)
    foreign = {env.emulator.add_listing(release, external_id=markers.legacy_marker_for(item_id))
               for release, item_id in zip(releases, ids, strict=True)}  # fmt: skip
    before = [listing for listing in env.emulator.listings() if listing["id"] in foreign]
    job_id = _queued(env, ids)
    mark_uncertain(env.engine, job_id, legacy=False)  # its own uncertain attempts wrote install-scoped markers
    env.emulator.clear_requests()
    run_until_settled(discogs.discogs_worker(env), job_id)
    assert env.emulator.count("POST", LISTINGS) == 2
    _assert_each_listed_once_under_its_own_marker(env, job_id, ids)
    assert foreign.isdisjoint(int(listing) for listing in _listed(env, job_id).values())
    assert [listing for listing in env.emulator.listings() if listing["id"] in foreign] == before
    with session_scope(env.engine) as session:
        linked = set(session.scalars(select(SyncLedger.remote_id).where(SyncLedger.service == "discogs_listing")))
    assert linked == set(_listed(env, job_id).values())
