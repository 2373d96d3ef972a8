"""Link a coin to its Numista type (N#) and issue: "find on Numista" for coins the import could not link.

Why: a coin's Numista type is what prices and pushes need; OpenNumismat's `url`, `catalognum4` or a NumiSync
note give it for many coins at import (services.importers.opennumismat_links), the rest the user picks from a
search. The issue (year/mint variant) is set only when exactly one issue of the type fits the coin's year and
mint mark: a wrong issue would mean a wrong price and a wrong push, no issue only means "pick it yourself".
Every function is scoped to the catalog's owner (its NumistaApi's owner_id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.collection import get_item, update_item
from services.errors import InvalidInput
from services.http import BadRequestError, NotFoundError
from services.integrations.numista.catalog import NumistaCatalog, SearchResult, match_issue
from services.states import NOT_HELD_STATUSES
from services.store.models import Item

_YEAR_TOKEN = re.compile(r"(?<!\d)\d{3,4}(?!\d)")
_PUNCT = re.compile(r"[\s,;:()\[\]/\-–—]+")


@dataclass(frozen=True)
class LinkQuery:
    """What a "find on Numista" search asks: text, issuer (country name or Numista code), year, catalogue no."""

    q: str | None = None
    issuer: str | None = None
    year: int | None = None
    catalogue_number: str | None = None


@dataclass(frozen=True)
class LinkResult:
    item_id: int
    type_id: int
    issue_id: int | None
    issue_matched: bool  # True when the issue was chosen from the coin's year by us
    version: int


def _mint_mark(item: Item) -> str | None:
    value = (item.details or {}).get("mintmark")
    return str(value).strip() or None if value else None


def suggested_query(item: Item) -> LinkQuery:
    """The search a coin suggests: its title without the year and country words, its country, its year,
    and a catalogue number found in OpenNumismat's catalognum1..3 (e.g. ``KM# 2``)."""
    title = item.title or ""
    if item.country:
        title = re.sub(re.escape(item.country), " ", title, flags=re.IGNORECASE)
    title = _YEAR_TOKEN.sub(" ", title) if item.year is not None else title
    words = [word for word in _PUNCT.split(title) if word]
    details = item.details or {}
    catalogue_number = next(
        (str(details[name]) for name in ("catalognum1", "catalognum2", "catalognum3") if details.get(name)), None
    )
    return LinkQuery(q=" ".join(words) or None, issuer=item.country or None, year=item.year,
                     catalogue_number=catalogue_number)  # fmt: skip


def unlinked_coins(session: Session, owner_id: int, *, limit: int = 500) -> list[Item]:
    """The owner's held coins with no Numista type yet (what "find on Numista" is for)."""
    return list(
        session.scalars(
            select(Item)
            .where(
                Item.owner_id == owner_id,
                Item.kind == "coin",
                Item.numista_type_id.is_(None),
                Item.status.not_in(NOT_HELD_STATUSES),
            )
            .order_by(Item.title, Item.id)
            .limit(limit)
        )
    )


def find_numista_types(
    catalog: NumistaCatalog, item_id: int, query: LinkQuery | None = None, *, page: int = 1, refresh: bool = False
) -> SearchResult:
    """Search Numista for the owner's coin (``query`` defaults to :func:`suggested_query`); 1 call, or 0 when the
    same search is cached (7 days). Raises InvalidInput when the query is empty."""
    with catalog.api.transaction() as session:
        item = get_item(session, catalog.api.owner_id, item_id)
        query = query or suggested_query(item)
    try:
        return catalog.search_types(
            query.q, issuer=query.issuer, year=query.year, catalogue_number=query.catalogue_number, page=page,
            refresh=refresh,
        )  # fmt: skip
    except ValueError as error:
        raise InvalidInput(str(error), code="EMPTY_QUERY") from None


def set_numista_link(
    catalog: NumistaCatalog,
    item_id: int,
    type_id: int,
    *,
    issue_id: int | None = None,
    expected_version: int | None = None,
    match_year: bool = True,
) -> LinkResult:
    """Link the owner's coin to a Numista type and, when known, an issue.

    With ``issue_id`` the issue is checked against the type's issues; without it the issue matching the
    coin's year (and mint mark) is chosen when exactly one fits. Reading the issues costs 1 call, or 0 when
    the list is cached (30 days). ``expected_version`` refuses the change if the coin was edited since
    (StaleEdit); None means "the current version"."""
    if int(type_id) <= 0:
        raise InvalidInput("A Numista type number (N#) is a positive whole number.", code="INVALID_NUMISTA_TYPE")
    owner_id = catalog.api.owner_id
    with catalog.api.transaction() as session:
        item = get_item(session, owner_id, item_id)
        year, mint_mark, version = item.year, _mint_mark(item), item.version
    issues: list[dict[str, Any]] = []
    if issue_id is not None or match_year:
        try:
            issues = catalog.get_issues(int(type_id))
        except NotFoundError:
            raise InvalidInput(f"Numista has no type N# {type_id}.", code="UNKNOWN_NUMISTA_TYPE") from None
        except BadRequestError as error:
            raise InvalidInput(error.message, code="UNKNOWN_NUMISTA_TYPE") from None
    matched = False
    if issue_id is not None:
        if not any(int(issue.get("id", 0)) == int(issue_id) for issue in issues):
            raise InvalidInput(f"Issue {issue_id} is not an issue of N# {type_id}.", code="UNKNOWN_NUMISTA_ISSUE")
    elif match_year:
        found = match_issue(issues, year, mint_mark)
        if found is not None:
            issue_id, matched = int(found["id"]), True
    with catalog.api.transaction() as session:
        updated = update_item(
            session, owner_id, item_id, version if expected_version is None else expected_version,
            numista_type_id=int(type_id), numista_issue_id=int(issue_id) if issue_id is not None else None,
        )  # fmt: skip
        return LinkResult(updated.id, int(type_id), issue_id, matched, updated.version)


def link_issue_by_year(catalog: NumistaCatalog, item_id: int) -> int | None:
    """Set the issue of a coin linked to a type only, when exactly one issue fits its year; the issue id or None."""
    owner_id = catalog.api.owner_id
    with catalog.api.transaction() as session:
        item = get_item(session, owner_id, item_id)
        type_id, year, mint_mark, version = item.numista_type_id, item.year, _mint_mark(item), item.version
        if item.numista_issue_id is not None:
            return item.numista_issue_id
    if type_id is None:
        return None
    found = match_issue(catalog.get_issues(type_id), year, mint_mark)
    if found is None:
        return None
    with catalog.api.transaction() as session:
        update_item(session, owner_id, item_id, version, numista_issue_id=int(found["id"]))
    return int(found["id"])


def clear_numista_link(session: Session, owner_id: int, item_id: int, expected_version: int) -> Item:
    """Unlink the owner's coin from Numista (type and issue)."""
    return update_item(session, owner_id, item_id, expected_version, numista_type_id=None, numista_issue_id=None)
