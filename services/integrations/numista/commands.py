"""Command-line handlers for Numista (named in services/cli_parsers.py): ``connect numista``,
``catalog search numista QUERY`` and ``prices refresh [--kind coin]``.

They follow the cli.py handler contract ``(context, session, actor, args) -> (document, summary, exit status)``
with one deliberate difference: they commit the command's session first and let the NumistaApi write its token
and call counter in their own short transactions (NumistaApi.transaction). Why: a call Numista has counted must stay
counted, and a "Quota exceeded" must stay recorded, even when the command then fails and rolls back; and on
SQLite an open write in the command's session would otherwise block those writes.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy.orm import Session

from services.accounts import connections
from services.context import AppContext, CommandResult
from services.errors import InvalidInput, NotFound, VitrineError
from services.http import (
    AuthError,
    BadRequestError,
    NotFoundError,
    QuotaExceededError,
    RateLimitedError,
    ServiceError,
    ServiceUnavailableError,
)
from services.integrations.numista.api import NumistaApi, NumistaNotConnected, numista_api
from services.integrations.numista.catalog import NumistaCatalog, refresh_coin_prices
from services.integrations.numista.connect import replace_key
from services.store.models import User

EXIT_OK, EXIT_PARTIAL = 0, 1
PRICE_KINDS = ("coin",)  # kinds whose catalogue prices this command refreshes (cards/records: their own issues)

_CODES: tuple[tuple[type[ServiceError], str], ...] = (
    (NumistaNotConnected, "NUMISTA_NOT_CONNECTED"),
    (AuthError, "NUMISTA_AUTH"),
    (QuotaExceededError, "NUMISTA_QUOTA_EXCEEDED"),
    (RateLimitedError, "NUMISTA_RATE_LIMITED"),
    (ServiceUnavailableError, "NUMISTA_UNAVAILABLE"),
    (NotFoundError, "NUMISTA_NOT_FOUND"),
    (BadRequestError, "NUMISTA_BAD_REQUEST"),
)


def as_vitrine_error(error: ServiceError) -> VitrineError:
    """A Numista error as the CLI's error document (stable code + the user-facing message)."""
    code = next((code for cls, code in _CODES if isinstance(error, cls)), "NUMISTA_ERROR")
    return VitrineError(error.message, code=code)


def _api(context: AppContext, session: Session, actor: User) -> NumistaApi:
    session.commit()  # see the module docstring: the API writes through the engine from here on
    return numista_api(context, actor.id)


def _require_key(context: AppContext, session: Session, actor: User) -> None:
    if connections.read_secret(session, context.vault, actor.id, "numista") is None:
        raise NotFound(
            "Numista is not connected: run `python -m services connect numista` with your API key on stdin.",
            code="NUMISTA_NOT_CONNECTED",
        )


def cmd_connect_numista(context: AppContext, session: Session, actor: User, _args: argparse.Namespace) -> CommandResult:
    """Check the API key read from stdin with Numista (user, token, calls this month), then save it
    (encrypted) in place of the current one. A key Numista refuses changes nothing."""
    key = sys.stdin.readline().strip()
    if not key:
        raise InvalidInput("Give your Numista API key on the first line of standard input.", code="KEY_REQUIRED")
    session.commit()  # replace_key writes in its own transactions (see the module docstring)
    change = replace_key(context, actor.id, key)
    if not change.saved:
        assert change.error is not None
        error = as_vitrine_error(change.error)
        kept = " Your previous key is kept and still used." if change.kept_previous else ""
        raise VitrineError(error.message + kept, code=error.code)
    if change.check is None:
        assert change.error is not None
        with numista_api(context, actor.id) as api:
            quota = api.quota()
        document = {"connected": True, "verified": False, "error": as_vitrine_error(change.error).to_json()["error"],
                    "quota": quota.to_json()}  # fmt: skip
        return document, f"Key saved, but not verified: {change.error.message}", EXIT_PARTIAL
    check = change.check
    document = {"connected": True, "verified": True, **check.to_json()}
    summary = (
        f"Connected to Numista as {check.username} (user {check.user_id}); token valid until "
        f"{check.token_expires_at:%Y-%m-%d %H:%M} UTC; {check.quota.used} of {check.quota.limit} calls used in "
        f"{check.quota.month}."
    )
    return document, summary, EXIT_OK


def cmd_catalog_search_numista(
    context: AppContext, session: Session, actor: User, args: argparse.Namespace
) -> CommandResult:
    """Search Numista types (1 call, 0 when the same search is cached)."""
    _require_key(context, session, actor)
    with _api(context, session, actor) as api:
        try:
            result = NumistaCatalog(api).search_types(
                args.query, issuer=args.issuer, year=args.year, catalogue_number=args.number, page=args.page
            )
        except ValueError as error:
            raise InvalidInput(str(error), code="EMPTY_QUERY") from None
        except ServiceError as error:
            raise as_vitrine_error(error) from None
        quota = api.quota()
        calls = api.calls_made
    types = [
        {
            "id": t.get("id"), "title": t.get("title"), "issuer": (t.get("issuer") or {}).get("name"),
            "minYear": t.get("min_year"), "maxYear": t.get("max_year"),
        }
        for t in result.types
    ]  # fmt: skip
    document = {"count": result.count, "page": args.page, "fromCache": result.from_cache, "types": types,
                "calls": calls, "quota": quota.to_json()}  # fmt: skip
    lines = [
        f"N# {t['id']:<7} {t['title']}  ({t['issuer'] or '?'}, {t['minYear'] or '?'}–{t['maxYear'] or '?'})"
        for t in types
    ]
    lines.append(
        f"{result.count} type(s); {'from the cache, 0 calls' if result.from_cache else f'{calls} call(s)'}; "
        f"{quota.used} of {quota.limit} calls used in {quota.month}."
    )
    return document, "\n".join(lines), EXIT_OK


def cmd_prices_refresh(context: AppContext, session: Session, actor: User, args: argparse.Namespace) -> CommandResult:
    """Refresh Numista estimates of the user's linked coins whose prices are stale."""
    kinds = [args.kind] if args.kind else list(PRICE_KINDS)
    unsupported = [kind for kind in kinds if kind not in PRICE_KINDS]
    if unsupported:
        raise InvalidInput(
            f"Price refresh is available for {', '.join(PRICE_KINDS)} only (not {', '.join(unsupported)}).",
            code="UNSUPPORTED_KIND",
        )
    _require_key(context, session, actor)
    currency = (actor.currency or context.settings.currency).upper()
    with _api(context, session, actor) as api:
        report = refresh_coin_prices(NumistaCatalog(api), currency, force=args.force, limit=args.limit)
    lines = [
        f"  N# {r['typeId']} issue {r['issueId']}: "
        + (", ".join(f"{grade} {value:.2f}" for grade, value in r["prices"].items()) or "no estimate")
        + f" {r['currency']} (item{'s' if len(r['items']) != 1 else ''} {', '.join(map(str, r['items']))})"
        for r in report.refreshed
    ]
    lines += [f"  linked item {x['item']} to issue {x['issueId']} of N# {x['typeId']}" for x in report.issues_linked]
    lines += [f"  failed: {_where(f)}: {f['reason']}" for f in report.failed]
    quota = report.quota
    lines.append(
        f"Refreshed {len(report.refreshed)} issue(s) ({report.no_estimate} without an estimate), "
        f"{report.fresh} still fresh, {report.unlinked} coin(s) not linked to Numista; "
        f"{report.calls} call(s) used"
        + (f", {quota.used} of {quota.limit} this month ({quota.month})." if quota else ".")
    )
    if report.stopped:
        lines.append(f"Stopped: {report.stopped}")
    status = EXIT_PARTIAL if report.stopped or report.failed else EXIT_OK
    return report.to_json(), "\n".join(lines), status


def _where(failure: dict[str, Any]) -> str:
    if "item" in failure:
        return f"item {failure['item']}"
    return f"N# {failure.get('typeId')} issue {failure.get('issueId')}"
