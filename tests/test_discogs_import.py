"""Importing records from a Discogs account (paged at the rate limit, resumable) and from the collection
CSV export: one item per instance, re-import updates in place and keeps the member's own edits."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from services.errors import InvalidInput
from services.integrations.discogs.importer import import_discogs_csv, import_from_account
from services.sets_view import group_values
from services.store.db import session_scope
from services.store.models import DiscogsRelease, Item, Job, User
from tests.discogs_support import connected_env, discogs_csv, seed_releases
from tests.emulators.discogs import DiscogsEmulator


def _records(engine: Engine, owner_id: int) -> list[Item]:
    with session_scope(engine) as session:
        items = list(session.scalars(select(Item).where(Item.owner_id == owner_id, Item.kind == "record")
                                     .order_by(Item.id)))
        session.expunge_all()
        return items


def test_account_import_of_a_hundred_records_pages_and_reimports(
    engine: Engine, session: Session, owner: User, discogs_emulator: DiscogsEmulator
) -> None:
    session.commit()
    releases = seed_releases(discogs_emulator, 99)
    for n, release_id in enumerate(releases):
        discogs_emulator.add_instance(release_id, fields={1: "Very Good Plus (VG+)", 2: "Generic", 3: f"note {n}"}
                                      if n % 2 else None)
    twice = discogs_emulator.add_instance(releases[0])  # a release owned twice is two copies
    env = connected_env(engine, discogs_emulator, owner.id)
    discogs_emulator.clear_requests()
    report = import_from_account(engine, env.settings, env.vault, owner.id)
    remote = discogs_emulator.collection_instances()
    assert report.created == len(remote) == 103 and report.stopped is None
    assert report.pages == (2, 2)
    # one fields read + one read per 100 copies, nothing else
    assert discogs_emulator.count("GET", "/users/example/collection/folders/0/releases") == 2
    assert discogs_emulator.count() == 3 == report.calls
    items = _records(engine, owner.id)
    by_instance = {item.origin_row_id: item for item in items}
    assert len(by_instance) == 103 and str(twice) in by_instance
    graded = next(i for i in items if i.notes == "note 1")
    assert graded.grade_code == "Very Good Plus (VG+)" and graded.details["sleeve_condition"] == "Generic"
    assert graded.title == "Band 1 – Album 1" and graded.discogs_release_id == releases[1]
    assert graded.details["labels"] == [{"name": "Label 1", "catno": "CAT-0001"}]
    assert (graded.details["genres"], graded.details["styles"]) == (["Rock"], ["Prog Rock"])
    assert graded.details["folder_id"] == 1 and graded.details["instance_id"] == int(graded.origin_row_id or 0)
    assert graded.details["date_added"].startswith("20") and graded.details.get("rating") is None  # 0 = not rated
    assert graded.year == 1971 and graded.series == "Label 1"
    with session_scope(engine) as check:
        assert check.scalar(select(func.count()).select_from(DiscogsRelease)) >= 99
    # the member edits a record; Discogs changes another field of it; re-import keeps the edit
    with session_scope(engine) as edit:
        item = edit.get(Item, graded.id)
        assert item is not None
        item.notes = "my own note"
    discogs_emulator.state.field_values[("example", int(graded.origin_row_id or 0))][1] = "Mint (M)"
    again = import_from_account(engine, env.settings, env.vault, owner.id)
    assert (again.created, again.updated, again.unchanged) == (0, 1, 102)
    after = {i.id: i for i in _records(engine, owner.id)}[graded.id]
    assert after.grade_code == "Mint (M)" and after.notes == "my own note"


def test_account_import_resumes_after_a_failure(engine: Engine, session: Session, owner: User,
                                                discogs_emulator: DiscogsEmulator) -> None:
    session.commit()
    for release_id in seed_releases(discogs_emulator, 250):
        discogs_emulator.add_instance(release_id)
    env = connected_env(engine, discogs_emulator, owner.id)
    discogs_emulator.faults.fail_next(5, 500, path="/users/example/collection/folders/0/releases",
                                      method="GET")  # the first page and its 4 retries
    first = import_from_account(engine, env.settings, env.vault, owner.id)
    assert first.stopped and "continue" in first.stopped and first.created == 0
    second = import_from_account(engine, env.settings, env.vault, owner.id)
    assert second.stopped is None and second.created == 253 and second.job == first.job
    with session_scope(engine) as check:
        job = check.get(Job, first.job)
        assert job is not None and job.status == "done"


def test_csv_import_preview_commit_and_reimport(tmp_path: Path, session: Session, owner: User) -> None:
    rows = [
        {"Catalog#": "CAT-1", "Artist": "Band A", "Title": "First", "Label": "Lab, Other", "Format": "Vinyl, LP",
         "Rating": "4", "Released": "1977", "release_id": "11", "CollectionFolder": "Uncategorized",
         "Date Added": "2020-01-02 10:00:00", "Collection Media Condition": "Near Mint (NM or M-)",
         "Collection Sleeve Condition": "VG+", "Collection Notes": "signed"},
        {"Artist": "Band A", "Title": "First", "release_id": "11", "Collection Media Condition": "VG"},
        {"Artist": "Band B", "Title": "Second", "release_id": "12"},
        {"Artist": "Broken", "Title": "Row", "release_id": "abc"},
    ]
    path = tmp_path / "export.csv"
    path.write_text(discogs_csv(rows), encoding="utf-8")
    preview = import_discogs_csv(session, owner.id, path, dry_run=True)
    assert (preview.created, preview.skipped) == (3, 1) and preview.errors[0]["row"] == 5
    assert session.scalar(select(func.count()).select_from(Item)) == 0
    done = import_discogs_csv(session, owner.id, path)
    assert done.to_json()["byMediaCondition"] == {"Near Mint (NM or M-)": 1, "Very Good (VG)": 1, "unmapped": 1}
    first = session.scalar(select(Item).where(Item.origin_row_id == "11#1"))
    assert first is not None and first.details["sleeve_condition"] == "Very Good Plus (VG+)"
    assert first.year == 1977 and first.notes == "signed" and first.series == "Lab"
    by_artist = {g.name: g.copies for g in group_values(session, owner.id, "record", "artist", "EUR")}
    by_label = {g.name: g.copies for g in group_values(session, owner.id, "record", "label", "EUR")}
    assert by_artist == {"Band A": 2, "Band B": 1} and by_label == {"Lab": 1, "Unknown": 2}
    first.details = {**first.details, "artist": "Band A & Friends"}  # edited in the Collection page's editor
    session.flush()
    by_artist = {g.name: g.copies for g in group_values(session, owner.id, "record", "artist", "EUR")}
    assert by_artist == {"Band A": 1, "Band A & Friends": 1, "Band B": 1}  # the record's own artist first
    first.storage_location = "Shelf 3"
    rows[0]["Collection Notes"] = "signed by the band"
    path.write_text(discogs_csv(rows), encoding="utf-8")
    again = import_discogs_csv(session, owner.id, path)
    assert (again.created, again.updated, again.unchanged) == (0, 1, 2)
    assert first.notes == "signed by the band" and first.storage_location == "Shelf 3"


@pytest.mark.parametrize("content, reason", [
    ("a,b,c\n1,2,3\n", "not a Discogs collection export"),
    (b"\xff\xfe\x00bad", "UTF-8"),
    ("Artist,Title,release_id\nA,B,1,extra\n", "more fields"),
])
def test_malformed_csv_is_one_line_and_writes_nothing(tmp_path: Path, session: Session, owner: User,
                                                      content: str | bytes, reason: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InvalidInput, match=reason) as caught:
        import_discogs_csv(session, owner.id, path)
    assert "\n" not in caught.value.message
    assert session.scalar(select(func.count()).select_from(Item)) == 0


def test_account_import_reports_copies_with_values_out_of_range_and_stores_none_of_them(
    engine: Engine, session: Session, owner: User, discogs_emulator: DiscogsEmulator
) -> None:
    """Discogs' answers are input too: a release id our column cannot hold or a year 9999 is reported."""
    session.commit()
    good = seed_releases(discogs_emulator, 3)
    huge, future = 2**31, 900_500
    for release_id, year in ((huge, 1990), (future, 9999)):
        discogs_emulator.add_release({"id": release_id, "title": f"Odd {release_id}", "year": year,
                                      "artists": [{"name": "Odd", "id": 1}]})  # fmt: skip
    for release_id in (*good, huge, future):
        discogs_emulator.add_instance(release_id)
    env = connected_env(engine, discogs_emulator, owner.id)
    report = import_from_account(engine, env.settings, env.vault, owner.id)
    assert report.stopped is None and report.created == len(discogs_emulator.collection_instances()) - 2
    reasons = sorted(error["reason"] for error in report.errors)
    assert len(reasons) == 2 and "release id must be" in reasons[0] and "year 9999" in reasons[1], reasons
    assert all(isinstance(error["row"], int) for error in report.errors)
    stored = _records(engine, owner.id)
    assert {huge, future}.isdisjoint(item.discogs_release_id for item in stored)
    assert all(item.year is None or item.year <= 2100 for item in stored)
    with session_scope(engine) as check:
        cached = set(check.scalars(select(DiscogsRelease.id)))
    assert set(good) <= cached and {huge, future}.isdisjoint(cached)


def test_record_values_from_price_suggestions_or_else_the_lowest_marketplace_price(
    engine: Engine, session: Session, owner: User, discogs_emulator: DiscogsEmulator
) -> None:
    """A release with suggestions is priced per exact media condition (one call); one without (no seller settings
    for it) falls back to the marketplace's lowest price (a second call); priced ones are skipped for 3 days."""
    from services.collection import add_item
    from services.integrations.discogs.catalog import LOWEST, SUGGESTED, refresh_record_values
    from services.integrations.discogs.oauth import member_api
    from services.store.models import PriceObservation

    suggested, unsuggested = seed_releases(discogs_emulator, 2)
    discogs_emulator.set_price_suggestions(suggested, {"Mint (M)": {"currency": "USD", "value": 31.5},
                                                       "Good (G)": {"currency": "USD", "value": 4.25}})  # fmt: skip
    discogs_emulator.set_price_suggestions(unsuggested, {})
    for release_id in (suggested, unsuggested):
        add_item(session, owner.id, kind="record", title=f"r{release_id}").discogs_release_id = release_id
    session.commit()
    env = connected_env(engine, discogs_emulator, owner.id)
    with session_scope(engine) as db, member_api(db, env.settings, env.vault, owner.id) as api:
        lowest = api.stats(unsuggested)["lowest_price"]
    with session_scope(engine) as db, member_api(db, env.settings, env.vault, owner.id) as api:
        report = refresh_record_values(db, api, owner.id)
    assert (report.refreshed, report.without_price, report.calls) == ([suggested, unsuggested], [], 3)
    with session_scope(engine) as db:
        seen = {(o.ref_id, o.variant, o.metric, o.currency, float(o.value)) for o in db.scalars(
            select(PriceObservation).where(PriceObservation.ref_kind == "discogs_release"))}  # fmt: skip
    assert seen == {(str(suggested), "Mint (M)", SUGGESTED, "USD", 31.5), (str(suggested), "Good (G)", SUGGESTED,
                    "USD", 4.25), (str(unsuggested), "", LOWEST, lowest["currency"], lowest["value"])}  # fmt: skip
    with session_scope(engine) as db, member_api(db, env.settings, env.vault, owner.id) as api:
        again = refresh_record_values(db, api, owner.id)
    assert (again.fresh, again.calls) == (2, 0)


def test_one_year_rule_for_the_api_and_the_csv_export() -> None:
    from services.integrations.discogs.mapping import discogs_year
    from services.validation import OutOfRange

    assert [discogs_year(v) for v in (1977, "1977", "1977-05-00", "1977-00-00", 0, "0", "", None)] == [
        1977, 1977, 1977, 1977, None, None, None, None,
    ]  # fmt: skip
    with pytest.raises(OutOfRange):
        discogs_year("19771")  # five digits: refused, not read as 1977
