"""Push markers: the tag a pushed remote item carries so that this installation, and only it, finds it again.

Why: Numista (like Discogs) never deduplicates a create, so a push whose answer was lost is looked for on the
service, by its marker, before anything is sent again (services.sync.engine: retry rows are reconciled). A
marker naming only the item id (``vitrine:<item id>``, what Vitrine wrote until December 2026) is not unique:
another installation pushing to the same account (a second laptop, a rebuilt database, a club server next to
a local install) has items with the same ids, and took that installation's coins for its own. A marker
therefore names the installation too (Numista: a collected item's ``internal_id``; Discogs: a marketplace
listing's private ``external_id``)::

    vitrine:<install id>:<item id>            vitrine:3f9a0c1b7d2e:1234
    vitrine:<install id>:<item id>/<tag>      a deliberate extra copy (tag ``job<N>``: the job that added it)

The install id is 12 hex characters generated once per database (table ``instance_settings``, created by
migration 0006): a copy of the database is the same installation, a new or rebuilt one is another.

The rules every integration follows:

* A remote item is ours only when its marker is exactly the one we write for that item (``marker_for``).
* A legacy marker (``vitrine:<item id>``) is ours only with evidence from our own records, never by the
  marker alone: the remote id is the one our ledger recorded for the item (the update path checks that), or
  our outbox holds a row of a job created before this scheme that may have sent it
  (``legacy_marker_if_sent``). Jobs created since carry ``marker_scheme`` in their parameters.
* Nothing is adopted or changed on the service whose kind (Numista: the coin's type) differs from the item's:
  a marker can be copied by hand, a type cannot be wrong by accident. That check is each integration's, as
  only it knows what "the same kind" means.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.states import RowStatus
from services.store.models import Job, JobItem
from services.store.models_instance import InstanceSetting

PREFIX = "vitrine:"
INSTALL_ID_KEY = "install_id"
SCHEME_PARAM = "marker_scheme"  # in a job's params: the job writes install-scoped markers
SCHEME = 2
_INSTALL_ID = re.compile(r"^[0-9a-f]{12}$")
_MARKER = re.compile(r"^vitrine:(?:(?P<install>[0-9a-f]{12}):)?(?P<item>\d+)(?:/(?P<tag>[A-Za-z0-9_-]+))?$")
# Outbox rows that may have reached the service: everything but never-tried (queued, skipped) rows.
_MAYBE_SENT = or_(
    JobItem.status.in_((RowStatus.RETRY, RowStatus.RUNNING, RowStatus.SYNCED, RowStatus.DUPLICATE, RowStatus.FAILED)),
    and_(JobItem.status == RowStatus.CANCELLED, JobItem.attempts > 0),
)


def new_install_id() -> str:
    """12 random hex characters (48 bits): short enough for any remote text field, unique enough for the
    handful of installations that ever share one account."""
    return secrets.token_hex(6)


def install_id(session: Session) -> str:
    """This installation's id, created on first use when the database has none (migration 0006 creates it;
    a table emptied by hand or by tests has lost it). Concurrent first uses agree on one id."""
    row = session.get(InstanceSetting, INSTALL_ID_KEY)
    if row is None:
        try:
            with session.begin_nested():
                session.add(InstanceSetting(key=INSTALL_ID_KEY, value=new_install_id()))
        except IntegrityError:  # another process created it first: use theirs
            pass
        row = session.get(InstanceSetting, INSTALL_ID_KEY, populate_existing=True)
    if row is None or not _INSTALL_ID.match(row.value):
        raise RuntimeError("instance_settings.install_id is missing or malformed")
    return row.value


def marker_for(install: str, item_id: int, copy_tag: str | None = None) -> str:
    """The marker this installation writes on the remote copy of `item_id` (``copy_tag``: an extra copy)."""
    if not _INSTALL_ID.match(install):
        raise ValueError(f"not an install id: {install!r}")
    return f"{PREFIX}{install}:{int(item_id)}" + (f"/{copy_tag}" if copy_tag else "")


def legacy_marker_for(item_id: int, copy_tag: str | None = None) -> str:
    """The marker Vitrine wrote before markers named the installation."""
    return f"{PREFIX}{int(item_id)}" + (f"/{copy_tag}" if copy_tag else "")


def parse_marker(marker: Any) -> tuple[str | None, int, str | None] | None:
    """(install id or None for a legacy marker, item id, copy tag) of a Vitrine marker; None otherwise."""
    match = _MARKER.match(marker) if isinstance(marker, str) else None
    if match is None:
        return None
    return match["install"], int(match["item"]), match["tag"]


def is_vitrine_marker(marker: Any) -> bool:
    return parse_marker(marker) is not None


def job_uses_scheme(params: Mapping[str, Any] | None) -> bool:
    """Whether a job writes install-scoped markers (every job created since the scheme exists)."""
    return bool((params or {}).get(SCHEME_PARAM))


def legacy_marker_if_sent(
    session: Session, service: str, item_id: int, *, job_id: int | None = None, copy_tag: str | None = None
) -> str | None:
    """The legacy marker of `item_id` when our own outbox says a job created before the scheme may have
    sent it: for an extra copy only job `job_id` (its tag names that job), else any job of `service`.
    None when there is no such evidence: then a legacy marker on the service is not ours to adopt."""
    query = (
        select(Job.params)
        .join(JobItem, JobItem.job_id == Job.id)
        .where(Job.service == service, JobItem.item_id == item_id, _MAYBE_SENT)
    )
    if copy_tag is not None:
        query = query.where(Job.id == job_id)
    if any(not job_uses_scheme(params) for params in session.scalars(query)):
        return legacy_marker_for(item_id, copy_tag)
    return None
