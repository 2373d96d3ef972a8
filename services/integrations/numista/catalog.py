"""The Numista catalogue adapter: type search, type details, issues and price estimates, cached in the database.

Why a database cache: with 2,000 calls a month, asking Numista again for something fetched yesterday is a
waste the user pays for. Types and issue lists change rarely (kept 30 days), price estimates move (kept
3 days), searches are kept 7 days so a Streamlit rerun or a second look at the same pick list costs nothing.
Every cached answer has ``fetched_at``/``expires_at``; a fresh one is served without any call, an expired
one is fetched again. An empty price list is a normal answer ("no estimate") and is cached like any other.

Prices become price observations (``ref_kind="numista_issue"``, source ``numista``, variant = Numista grade,
metric ``estimate``), which is what the coin valuation reads first after the user's own estimate.

The cache and the counter are written through the same storage as the NumistaApi (its engine, or its
session), so a page or CLI command never holds a lock the API's counter waits for.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.grades import NUMISTA_GRADES
from services.http import (
    AuthError,
    BadRequestError,
    NotFoundError,
    QuotaExceededError,
    RateLimitedError,
    ServiceError,
    ServiceUnavailableError,
)
from services.integrations.numista.api import NumistaApi
from services.integrations.numista.quota import QuotaStatus
from services.pricing import Observation, record_observations
from services.store.models import Item, NumistaType, utcnow
from services.store.models_numista import NumistaCacheEntry, NumistaIssue

TYPE_TTL = timedelta(days=30)
ISSUES_TTL = timedelta(days=30)
PRICES_TTL = timedelta(days=3)
SEARCH_TTL = timedelta(days=7)
REFERENCE_TTL = timedelta(days=30)  # the issuer and catalogue lists
PRICE_SOURCE = "numista"
PRICE_REF_KIND = "numista_issue"
PRICE_METRIC = "estimate"
_CATALOGUE_NUMBER = re.compile(r"^\s*([A-Za-zÀ-ÿ.&' -]+?)\s*#?\s*([0-9][\w.\-/]*)\s*$")


@dataclass(frozen=True)
class SearchResult:
    """One page of type summaries (id, title, issuer, min_year, max_year, thumbnails)."""

    count: int
    types: list[dict[str, Any]]
    fetched_at: datetime
    from_cache: bool
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PriceQuote:
    """Numista's estimates for one issue in one currency, by grade (g..unc); empty = no estimate."""

    type_id: int
    issue_id: int
    currency: str
    prices: dict[str, Decimal]
    fetched_at: datetime
    from_cache: bool


def _now() -> datetime:
    return utcnow()


def _fresh(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at > now


def _decimal(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount.quantize(Decimal("0.01")) if amount.is_finite() and amount >= 0 else None


def _year(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_catalogue_number(text: str | None) -> tuple[str, str] | None:
    """``"KM# 2"``, ``"KM 2"``, ``"Schön 12a"`` → (catalogue code, number); None when it is not one."""
    if not text:
        return None
    match = _CATALOGUE_NUMBER.match(text)
    if not match:
        return None
    return match.group(1).strip().rstrip("#").strip(), match.group(2)


def match_issue(
    issues: list[dict[str, Any]], year: int | None, mint_letter: str | None = None
) -> dict[str, Any] | None:
    """The one issue of a type that fits a coin's year (and mint letter), or None when none or several do.

    Why refuse to guess: one year often has several issues (mints, varieties); a wrong issue means a wrong
    price and a wrong push, while no issue only means "pick it yourself"."""
    if not issues:
        return None
    if year is None:
        return issues[0] if len(issues) == 1 else None
    dated = [i for i in issues if year in (_year(i.get("gregorian_year")), _year(i.get("year")))]
    undated = [
        i for i in issues
        if i.get("is_dated") is False
        and (_year(i.get("min_year")) or year) <= year <= (_year(i.get("max_year")) or year)
    ]  # fmt: skip
    candidates = dated or undated
    if mint_letter:
        letter = mint_letter.strip().casefold()
        with_letter = [i for i in candidates if str(i.get("mint_letter") or "").casefold() == letter]
        candidates = with_letter or candidates
    return candidates[0] if len(candidates) == 1 else None


class NumistaCatalog:
    """Cached catalogue reads for one user's NumistaApi (whose key pays for the misses)."""

    def __init__(self, api: NumistaApi, *, clock: Callable[[], datetime] = _now) -> None:
        self.api = api
        self._clock = clock

    # -- cache entries ---------------------------------------------------------------------------
    def _entry(self, session: Session, key: str) -> NumistaCacheEntry | None:
        return session.get(NumistaCacheEntry, key)

    def _store_entry(self, session: Session, key: str, kind: str, data: Any, ttl: timedelta) -> datetime:
        now = self._clock()
        entry = session.get(NumistaCacheEntry, key) or NumistaCacheEntry(key=key, kind=kind)
        entry.kind, entry.data, entry.fetched_at, entry.expires_at = kind, data, now, now + ttl
        session.add(entry)
        return now

    def _cached_json(self, key: str) -> tuple[Any, datetime] | None:
        with self.api.transaction() as session:
            entry = self._entry(session, key)
            if entry is not None and _fresh(entry.expires_at, self._clock()):
                return entry.data, entry.fetched_at or self._clock()
        return None

    # -- reference lists (issuers, catalogues) ---------------------------------------------------
    def _reference(
        self, name: str, fetch: Callable[[], Any], list_key: str, *, cached_only: bool = False
    ) -> list[dict[str, Any]] | None:
        key = f"{name}:{self.api.lang}"
        cached = self._cached_json(key)
        if cached is not None:
            return list(cached[0] or [])
        if cached_only:
            return None
        data = fetch()
        rows = data.get(list_key) if isinstance(data, dict) else None
        rows = list(rows) if isinstance(rows, list) else []
        with self.api.transaction() as session:
            self._store_entry(session, key, name, rows, REFERENCE_TTL)
        return rows

    def issuer_code(self, name: str | None) -> str | None:
        """Numista's issuer code (``canada``) for a country name or code; None when unknown.
        Costs one call a month for the whole issuer list (codes are French slugs, not guessable)."""
        if not name or not name.strip():
            return None
        wanted = name.strip().casefold()
        issuers = self._reference("issuers", self.api.list_issuers, "issuers") or []
        for issuer in issuers:
            if wanted in (str(issuer.get("code", "")).casefold(), str(issuer.get("name", "")).casefold()):
                return str(issuer["code"])
        return None

    def issuers_cached(self) -> bool:
        """Whether the issuer list is cached (resolving a country to its code then costs no call)."""
        return self._reference("issuers", self.api.list_issuers, "issuers", cached_only=True) is not None

    def catalogue_id(self, code: str | None) -> int | None:
        """The id of a reference catalogue by its code (``KM`` → 3); one call a month for the list."""
        if not code:
            return None
        wanted = code.strip().casefold()
        catalogues = self._reference("catalogues", self.api.list_catalogues, "catalogues") or []
        for catalogue in catalogues:
            if str(catalogue.get("code", "")).casefold() == wanted:
                return _year(catalogue.get("id"))
        return None

    # -- search ----------------------------------------------------------------------------------
    def search_types(
        self,
        q: str | None = None,
        *,
        issuer: str | None = None,
        year: int | str | None = None,
        catalogue_number: str | None = None,
        page: int = 1,
        refresh: bool = False,
    ) -> SearchResult:
        """Search types by text, issuer (name or code), year and a catalogue number such as ``KM# 2``.

        An issuer or catalogue Numista does not know is folded into the text query instead of failing
        (Numista answers 400 to an unknown issuer code)."""
        params = self._search_params(q, issuer, year, catalogue_number, page)
        key = self._search_key(params)
        if not refresh:
            cached = self._cached_json(key)
            if cached is not None:
                data, fetched_at = cached
                return SearchResult(int(data["count"]), list(data["types"]), fetched_at, True, params)
        answer = self.api.search_types(
            params.get("q"), issuer=params.get("issuer"), year=params.get("year"), catalogue=params.get("catalogue"),
            number=params.get("number"), page=params["page"],
        )  # fmt: skip
        with self.api.transaction() as session:
            fetched_at = self._store_entry(session, key, "search", answer, SEARCH_TTL)
        return SearchResult(answer["count"], answer["types"], fetched_at, False, params)

    def cached_search(
        self, q: str | None = None, *, issuer: str | None = None, year: int | str | None = None, page: int = 1
    ) -> SearchResult | None:
        """The fresh cached answer of :meth:`search_types` for the same search, or None; never calls Numista
        (an issuer name is resolved only from a cached issuer list)."""
        if issuer and not self.issuers_cached():
            return None
        key = self._search_key(self._search_params(q, issuer, year, None, page))
        cached = self._cached_json(key)
        if cached is None:
            return None
        data, fetched_at = cached
        return SearchResult(int(data["count"]), list(data["types"]), fetched_at, True)

    def _search_params(
        self, q: str | None, issuer: str | None, year: int | str | None, catalogue_number: str | None, page: int
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"page": max(1, page)}
        words = [q.strip()] if q and q.strip() else []
        if issuer:
            code = self.issuer_code(issuer)
            if code:
                params["issuer"] = code
            else:
                words.append(issuer.strip())
        if year not in (None, ""):
            params["year"] = str(year).strip()
        parsed = parse_catalogue_number(catalogue_number)
        if parsed is not None:
            catalogue = self.catalogue_id(parsed[0])
            if catalogue is not None:
                params["catalogue"], params["number"] = catalogue, parsed[1]
        if words:
            params["q"] = " ".join(words)
        if not any(name in params for name in ("q", "issuer", "catalogue", "year")):
            raise ValueError("Give a title, an issuer, a year or a catalogue number to search Numista.")
        return params

    def _search_key(self, params: dict[str, Any]) -> str:
        return "search:" + hashlib.sha256(
            json.dumps({**params, "lang": self.api.lang}, sort_keys=True, default=str).encode()
        ).hexdigest()[:40]

    # -- types -----------------------------------------------------------------------------------
    def get_type(self, type_id: int, *, refresh: bool = False) -> dict[str, Any]:
        """The full type (cached 30 days in ``numista_types``)."""
        with self.api.transaction() as session:
            row = session.get(NumistaType, int(type_id))
            if row is not None and not refresh and _fresh(row.expires_at, self._clock()) and row.data:
                return dict(row.data)
        data = self.api.get_type(type_id)
        now = self._clock()
        with self.api.transaction() as session:
            row = session.get(NumistaType, int(type_id)) or NumistaType(id=int(type_id))
            row.title = str(data.get("title") or f"N# {type_id}")[:400]
            issuer = data.get("issuer")
            issuer = issuer if isinstance(issuer, dict) else {}
            row.issuer = (str(issuer.get("name")) if issuer.get("name") else None)
            row.min_year, row.max_year = _year(data.get("min_year")), _year(data.get("max_year"))
            row.data, row.fetched_at, row.expires_at = data, now, now + TYPE_TTL
            session.add(row)
        return data

    # -- issues ----------------------------------------------------------------------------------
    def cached_issues(self, type_id: int) -> list[dict[str, Any]] | None:
        """The type's issues if a fresh list is cached, else None (no call)."""
        with self.api.transaction() as session:
            entry = self._entry(session, f"issues:{int(type_id)}")
            if entry is None or not _fresh(entry.expires_at, self._clock()):
                return None
            rows = session.scalars(select(NumistaIssue).where(NumistaIssue.type_id == int(type_id)).order_by(
                NumistaIssue.gregorian_year, NumistaIssue.id))
            return [dict(row.data or {"id": row.id}) for row in rows]

    def get_issues(self, type_id: int, *, refresh: bool = False) -> list[dict[str, Any]]:
        """The type's issues (years, mint letters, ids), cached 30 days in ``numista_issues``."""
        if not refresh:
            cached = self.cached_issues(type_id)
            if cached is not None:
                return cached
        issues = [i for i in self.api.get_issues(type_id) if isinstance(i, dict) and _year(i.get("id")) is not None]
        now = self._clock()
        with self.api.transaction() as session:
            known = {row.id: row for row in session.scalars(
                select(NumistaIssue).where(NumistaIssue.type_id == int(type_id)))}  # fmt: skip
            answered = {int(issue["id"]) for issue in issues}
            for gone in [row for issue_id, row in known.items() if issue_id not in answered]:
                session.delete(gone)
            for issue in issues:
                row = known.get(int(issue["id"])) or session.get(NumistaIssue, int(issue["id"]))
                row = row or NumistaIssue(id=int(issue["id"]))
                row.type_id = int(type_id)
                row.is_dated = issue.get("is_dated") if isinstance(issue.get("is_dated"), bool) else None
                row.year, row.gregorian_year = _year(issue.get("year")), _year(issue.get("gregorian_year"))
                row.min_year, row.max_year = _year(issue.get("min_year")), _year(issue.get("max_year"))
                row.mint_letter = str(issue["mint_letter"])[:40] if issue.get("mint_letter") else None
                row.comment = str(issue["comment"]) if issue.get("comment") else None
                row.data, row.fetched_at, row.expires_at = issue, now, now + ISSUES_TTL
                session.add(row)
            self._store_entry(session, f"issues:{int(type_id)}", "issues", {"count": len(issues)}, ISSUES_TTL)
        return issues

    # -- prices ----------------------------------------------------------------------------------
    def cached_prices(self, issue_id: int, currency: str) -> PriceQuote | None:
        """Fresh cached estimates of an issue in a currency, or None (no call)."""
        with self.api.transaction() as session:
            entry = self._entry(session, f"prices:{int(issue_id)}:{currency.upper()}")
            if entry is None or not _fresh(entry.expires_at, self._clock()):
                return None
            data = entry.data or {}
            return PriceQuote(
                int(data.get("type_id") or 0), int(issue_id), currency.upper(),
                {grade: Decimal(value) for grade, value in (data.get("prices") or {}).items()},
                entry.fetched_at or self._clock(), True,
            )  # fmt: skip

    def get_prices(self, type_id: int, issue_id: int, currency: str, *, refresh: bool = False) -> PriceQuote:
        """Numista's estimates by grade (cached 3 days per issue and currency); each fetch is also recorded
        as price observations so the valuation and the value history use it."""
        currency = currency.upper()
        if not refresh:
            cached = self.cached_prices(issue_id, currency)
            if cached is not None:
                return cached
        answer = self.api.get_prices(type_id, issue_id, currency)
        answered_currency = answer["currency"] or currency
        prices: dict[str, Decimal] = {}
        for entry in answer["prices"]:
            grade = str(entry.get("grade") or "").lower() if isinstance(entry, dict) else ""
            value = _decimal(entry.get("price")) if isinstance(entry, dict) else None
            if grade in NUMISTA_GRADES and value is not None:
                prices[grade] = value
        now = self._clock()
        with self.api.transaction() as session:
            record_observations(session, [
                Observation(PRICE_REF_KIND, str(int(issue_id)), PRICE_SOURCE, grade, PRICE_METRIC, answered_currency,
                            value, now)
                for grade, value in prices.items()
            ])  # fmt: skip
            self._store_entry(
                session, f"prices:{int(issue_id)}:{currency}", "prices",
                {"type_id": int(type_id), "currency": answered_currency,
                 "prices": {grade: str(value) for grade, value in prices.items()}},
                PRICES_TTL,
            )  # fmt: skip
        return PriceQuote(int(type_id), int(issue_id), answered_currency, prices, now, False)


# ---------------------------------------------------------------------------- price refresh
STOP_ERRORS = (QuotaExceededError, AuthError, ServiceUnavailableError, RateLimitedError)


@dataclass
class PriceRefreshReport:
    """What ``prices refresh --kind coin`` did: per issue refreshed, what was fresh, what failed, calls used."""

    currency: str
    refreshed: list[dict[str, Any]] = field(default_factory=list)
    fresh: int = 0
    no_estimate: int = 0
    issues_linked: list[dict[str, Any]] = field(default_factory=list)
    unlinked: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None
    calls: int = 0
    quota: QuotaStatus | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "coin", "currency": self.currency, "refreshed": self.refreshed, "fresh": self.fresh,
            "noEstimate": self.no_estimate, "issuesLinked": self.issues_linked, "unlinked": self.unlinked,
            "failed": self.failed, "stopped": self.stopped, "calls": self.calls,
            "quota": self.quota.to_json() if self.quota else None,
        }  # fmt: skip


def refresh_coin_prices(
    catalog: NumistaCatalog, currency: str, *, force: bool = False, limit: int | None = None
) -> PriceRefreshReport:
    """Refresh Numista estimates for the owner's held coins whose cached prices are stale.

    Coins linked to a type but not to an issue get their issue first when exactly one issue fits the coin's
    year (issue lists are cached 30 days). A quota, key or network error stops the batch at once (more
    calls would only fail too); an unknown issue is reported and skipped. ``limit`` caps the calls spent.
    """
    from services.integrations.numista.links import link_issue_by_year
    from services.states import NOT_HELD_STATUSES

    api = catalog.api
    report = PriceRefreshReport(currency=currency.upper())
    calls_before = api.calls_made
    with api.transaction() as session:
        rows = session.execute(
            select(Item.id, Item.numista_type_id, Item.numista_issue_id)
            .where(Item.owner_id == api.owner_id, Item.kind == "coin", Item.status.not_in(NOT_HELD_STATUSES))
            .order_by(Item.id)
        ).all()
    by_issue: dict[int, dict[str, Any]] = {}

    def spent() -> int:
        return api.calls_made - calls_before

    try:
        for item_id, type_id, issue_id in rows:
            if type_id is None:
                report.unlinked += 1
                continue
            if issue_id is None:
                if limit is not None and spent() >= limit and catalog.cached_issues(type_id) is None:
                    continue
                try:
                    issue_id = link_issue_by_year(catalog, item_id)
                except (NotFoundError, BadRequestError) as error:
                    report.failed.append({"item": item_id, "typeId": type_id, "reason": error.message})
                    continue
                if issue_id is None:
                    report.unlinked += 1
                    continue
                report.issues_linked.append({"item": item_id, "typeId": type_id, "issueId": issue_id})
            entry = by_issue.setdefault(issue_id, {"typeId": type_id, "issueId": issue_id, "items": []})
            entry["items"].append(item_id)
        for issue_id, entry in by_issue.items():
            if not force and catalog.cached_prices(issue_id, currency) is not None:
                report.fresh += 1
                continue
            if limit is not None and spent() >= limit:
                report.stopped = f"Stopped after {spent()} calls (--limit {limit})."
                break
            try:
                quote = catalog.get_prices(entry["typeId"], issue_id, currency, refresh=True)
            except (NotFoundError, BadRequestError) as error:
                report.failed.append({"issueId": issue_id, "typeId": entry["typeId"], "reason": error.message})
                continue
            if not quote.prices:
                report.no_estimate += 1
            report.refreshed.append({
                "typeId": entry["typeId"], "issueId": issue_id, "items": entry["items"], "currency": quote.currency,
                "prices": {grade: float(value) for grade, value in quote.prices.items()},
            })  # fmt: skip
    except STOP_ERRORS as error:
        report.stopped = error.message
    except ServiceError as error:  # anything else unexpected from Numista: stop, say why
        report.stopped = error.message
    report.calls = spent()
    report.quota = api.quota()
    return report
