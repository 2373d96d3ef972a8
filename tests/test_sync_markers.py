"""Push markers: one install id per database, markers that name it, and when a legacy marker counts as ours."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from services.collection import add_item
from services.store.db import create_configured_engine, init_db, session_scope
from services.store.models import JobItem, User
from services.store.models_instance import InstanceSetting
from services.sync import engine as jobs
from services.sync import markers
from services.sync.engine import PlannedRow


def test_every_database_gets_its_own_install_id_once(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        created = session.scalar(select(InstanceSetting.value).where(InstanceSetting.key == "install_id"))
        assert created is not None or engine.dialect.name == "postgresql"  # PostgreSQL tests truncate tables
        first = markers.install_id(session)
    with session_scope(engine) as session:
        assert markers.install_id(session) == first and (created is None or created == first)
    assert len(first) == 12 and int(first, 16) >= 0

    other = create_configured_engine(f"sqlite:///{tmp_path / 'another.db'}")
    init_db(other)
    with session_scope(other) as session:
        assert markers.install_id(session) != first
    other.dispose()

    with session_scope(engine) as session:  # lost (a table emptied by hand): a new one, kept from then on
        session.execute(delete(InstanceSetting))
    with session_scope(engine) as session:
        renewed = markers.install_id(session)
    with session_scope(engine) as session:
        assert markers.install_id(session) == renewed != first


def test_markers_name_the_installation_and_the_item() -> None:
    assert markers.marker_for("0a1b2c3d4e5f", 42) == "vitrine:0a1b2c3d4e5f:42"
    assert markers.marker_for("0a1b2c3d4e5f", 42, "job7") == "vitrine:0a1b2c3d4e5f:42/job7"
    assert markers.parse_marker("vitrine:0a1b2c3d4e5f:42/job7") == ("0a1b2c3d4e5f", 42, "job7")
    assert markers.parse_marker("vitrine:42") == (None, 42, None)  # legacy
    assert markers.legacy_marker_for(42, "job7") == "vitrine:42/job7"
    for text in ("Emergency reserve №12", "vitrine:", "vitrine:xyz:1", None, 42):
        assert markers.parse_marker(text) is None
    with pytest.raises(ValueError):
        markers.marker_for("not-an-id", 1)


def test_a_legacy_marker_counts_only_for_items_a_legacy_job_may_have_sent(
    engine: Engine, session: Session, owner: User
) -> None:
    ids = [add_item(session, owner.id, kind="coin", title=f"c{n}", numista_type_id=420).id for n in range(3)]
    session.commit()
    with session_scope(engine) as db:
        new_job = jobs.create_job(db, owner.id, "numista", [PlannedRow(ids[0])], {})
        old_job = jobs.create_job(db, owner.id, "numista", [PlannedRow(ids[1]), PlannedRow(ids[2])], {})
        assert markers.job_uses_scheme(new_job.params)
        old_job.params = {k: v for k, v in old_job.params.items() if k != markers.SCHEME_PARAM}
        db.execute(update(JobItem).where(JobItem.job_id.in_((new_job.id, old_job.id))).values(status="retry"))
        db.execute(update(JobItem).where(JobItem.item_id == ids[2]).values(status="queued"))  # never sent
        new_id, old_id = new_job.id, old_job.id
    with session_scope(engine) as db:
        assert markers.legacy_marker_if_sent(db, "numista", ids[0]) is None  # only install-scoped jobs
        assert markers.legacy_marker_if_sent(db, "numista", ids[1]) == f"vitrine:{ids[1]}"
        assert markers.legacy_marker_if_sent(db, "numista", ids[2]) is None
        assert markers.legacy_marker_if_sent(db, "discogs", ids[1]) is None
        tag = f"job{old_id}"
        assert markers.legacy_marker_if_sent(db, "numista", ids[1], job_id=old_id, copy_tag=tag) == (
            f"vitrine:{ids[1]}/{tag}"
        )
        assert markers.legacy_marker_if_sent(db, "numista", ids[1], job_id=new_id, copy_tag=f"job{new_id}") is None
