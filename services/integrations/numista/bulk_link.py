"""Bulk linking to Numista: every held coin without a type, matched in one pass against few catalogue searches.

Why: a real OpenNumismat file arrives with no Numista types, and without a type a coin cannot be priced or
pushed. Linking one coin at a time costs a search per coin and invites a careless click. Here:

* coins are grouped by what a catalogue search can tell apart cheaply, issuer + face value ("Germany, 2 euro"),
  so a collection of 500 coins from 40 countries costs a few dozen searches, not 500; searches are cached
  (services.integrations.numista.catalog), so looking again costs nothing;
* the calls a pass will spend are counted before any is spent (:func:`plan_bulk_link`);
* each coin's candidates are scored from its structured fields (face value and unit, year against the
  type's years, issuer, title words, KM number when the type is cached) with rapidfuzz, 0..100;
* nothing is linked that the user did not choose: :func:`link_choices` takes explicit (coin, type) choices,
  and refuses a coin edited since it was shown (optimistic concurrency, StaleEdit).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import select

from services.errors import VitrineError
from services.http import ServiceError
from services.integrations.numista.catalog import STOP_ERRORS, NumistaCatalog, parse_catalogue_number
from services.integrations.numista.links import LinkResult, set_numista_link, unlinked_coins
from services.store.models import Item, NumistaType

CANDIDATES_PER_COIN = 5
DEFAULT_THRESHOLD = 85
CLEAR_MARGIN = 8  # the best candidate must beat the runner-up by this much to be accepted in bulk
_FACE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s+([^\d(\-–—,]+)")
_WORDS = re.compile(r"[^\w]+", re.UNICODE)
_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")


def _unit_key(unit: str | None) -> str | None:
    """'Euro Cent' / 'cents' / 'Cent' → 'cent'; 'Euros' → 'euro': the last word, singular, lower case."""
    words = [word for word in _WORDS.split((unit or "").casefold()) if word]
    if not words:
        return None
    last = words[-1]
    return last[:-1] if last.endswith("s") and len(last) > 3 else last


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).replace(",", "."))
    except InvalidOperation:
        return None
    return amount.normalize() if amount.is_finite() and amount > 0 else None


def parse_face_value(text: str | None) -> tuple[Decimal, str] | None:
    """'2 euro 2004' → (2, 'euro'); '50 Euro Cent (1st map)' → (50, 'cent'); None without a leading amount."""
    match = _FACE.match(text or "")
    if not match:
        return None
    amount, unit = _decimal(match.group(1)), _unit_key(match.group(2))
    return (amount, unit) if amount is not None and unit else None


@dataclass(frozen=True, order=True)
class SearchKey:
    """One catalogue search shared by every coin of one issuer and face value."""

    issuer: str
    q: str

    @property
    def label(self) -> str:
        return f"{self.issuer or 'any issuer'} · {self.q or 'any value'}"


@dataclass(frozen=True)
class CoinToLink:
    """What a held coin without a Numista type tells a search: its structured fields."""

    item_id: int
    version: int
    title: str
    country: str | None
    year: int | None
    face_value: Decimal | None
    unit: str | None
    mint_mark: str | None
    catalogue_number: str | None

    @property
    def face_text(self) -> str:
        if self.face_value is None:
            return ""
        return f"{self.face_value:f} {self.unit or ''}".strip()

    @property
    def search(self) -> SearchKey:
        """Issuer + face value when the coin has one, else its title without the year."""
        q = (self.face_text if self.face_value is not None else _YEAR.sub(" ", self.title)).casefold()
        return SearchKey(self.country or "", " ".join(q.split()))


@dataclass(frozen=True)
class Candidate:
    """A Numista type offered for a coin, with how well it fits (0..100)."""

    type_id: int
    title: str
    issuer: str | None
    min_year: int | None
    max_year: int | None
    thumbnail: str | None
    score: int

    @property
    def years(self) -> str:
        if self.min_year is None and self.max_year is None:
            return "years unknown"
        if self.min_year == self.max_year or self.max_year is None:
            return str(self.min_year)
        return f"{self.min_year or '?'}–{self.max_year}"

    @property
    def label(self) -> str:
        return f"N# {self.type_id} · {self.title} · {self.issuer or '?'} · {self.years} · {self.score}%"


@dataclass(frozen=True)
class CoinMatch:
    coin: CoinToLink
    candidates: tuple[Candidate, ...]
    searched: bool  # False: its search has not been run (or has expired) yet

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def accepted_at(self, threshold: int) -> Candidate | None:
        """The best candidate when it is at least ``threshold`` and clearly ahead of the runner-up, else None."""
        best = self.best
        if best is None or best.score < threshold:
            return None
        runner_up = self.candidates[1].score if len(self.candidates) > 1 else 0
        return best if best.score - runner_up >= CLEAR_MARGIN else None


@dataclass(frozen=True)
class BulkLinkPlan:
    """The coins to link and the searches that finds their candidates, counted before any call is spent."""

    coins: tuple[CoinToLink, ...]
    searches: tuple[SearchKey, ...]
    cached_searches: int
    calls_needed: int  # searches not cached, plus the issuer list when it is not cached


@dataclass
class SearchRun:
    searched: int = 0
    from_cache: int = 0
    calls: int = 0
    failed: list[str] = field(default_factory=list)
    stopped: str | None = None


@dataclass
class LinkOutcome:
    linked: list[LinkResult] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    calls: int = 0
    stopped: str | None = None


def _details_text(details: Mapping[str, Any], names: Iterable[str]) -> str | None:
    return next((str(details[name]).strip() for name in names if str(details.get(name) or "").strip()), None)


def coin_to_link(item: Item) -> CoinToLink:
    """A coin's search fields: OpenNumismat's value + unit, else its series ('5 Cent'), else its title."""
    details = item.details or {}
    amount, unit = _decimal(details.get("value")), _unit_key(details.get("unit"))
    if amount is None or unit is None:
        parsed = parse_face_value(item.series) or parse_face_value(item.title)
        amount, unit = parsed if parsed else (amount, unit)
    catalogue_number = next(
        (text for name in ("catalognum1", "catalognum2", "catalognum3")
         if (text := _details_text(details, [name])) and parse_catalogue_number(text)),
        None,
    )  # fmt: skip
    return CoinToLink(
        item.id, item.version, item.title, item.country, item.year, amount, unit,
        _details_text(details, ["mintmark"]), catalogue_number,
    )  # fmt: skip


def coins_to_link(catalog: NumistaCatalog, *, limit: int = 5000) -> list[CoinToLink]:
    with catalog.api.transaction() as session:
        return [coin_to_link(item) for item in unlinked_coins(session, catalog.api.owner_id, limit=limit)]


def plan_bulk_link(catalog: NumistaCatalog, coins: list[CoinToLink] | None = None) -> BulkLinkPlan:
    """The searches a pass needs and how many calls they cost; spends no call."""
    coins = coins if coins is not None else coins_to_link(catalog)
    searches = tuple(sorted({coin.search for coin in coins}))
    cached = sum(1 for key in searches if _cached(catalog, key) is not None)
    issuer_list = 0 if catalog.issuers_cached() or not any(key.issuer for key in searches) else 1
    calls = len(searches) - cached + issuer_list
    return BulkLinkPlan(tuple(coins), searches, cached, calls)


def _cached(catalog: NumistaCatalog, key: SearchKey) -> Any:
    return catalog.cached_search(key.q or None, issuer=key.issuer or None)


Progress = Callable[[int, int], None]  # (done, total): for a progress bar


def run_searches(
    catalog: NumistaCatalog, plan: BulkLinkPlan, *, max_calls: int | None = None, progress: Progress | None = None
) -> SearchRun:
    """Run the plan's searches that are not cached. Stops at once on a quota, key or network error, or when
    ``max_calls`` were spent; what was fetched stays cached for the next pass. ``progress`` hears (searches
    looked at, searches in the plan) after each one."""
    run = SearchRun()
    before = catalog.api.calls_made
    for index, key in enumerate(plan.searches):
        if progress is not None and index:
            progress(index, len(plan.searches))
        if _cached(catalog, key) is not None:
            run.from_cache += 1
            continue
        if max_calls is not None and catalog.api.calls_made - before >= max_calls:
            run.stopped = f"Stopped after {max_calls} call(s), as asked."
            break
        try:
            catalog.search_types(key.q or None, issuer=key.issuer or None)
        except STOP_ERRORS as error:
            run.stopped = error.message
            break
        except (ServiceError, ValueError) as error:
            run.failed.append(f"{key.label}: {getattr(error, 'message', str(error))}")
            continue
        run.searched += 1
    run.calls = catalog.api.calls_made - before
    return run


def score_candidate(coin: CoinToLink, summary: Mapping[str, Any], references: Iterable[str] = ()) -> int:
    """How well a type summary fits a coin, 0..100: face value and unit 40, year 25, issuer 15, title words 20;
    a matching KM number (known when the type is cached) adds 10."""
    face = parse_face_value(str(summary.get("title") or ""))
    if coin.face_value is None or face is None:
        face_points = 15
    elif face[0] == coin.face_value and (coin.unit is None or face[1] == coin.unit):
        face_points = 40
    else:
        face_points = 0
    low, high = _int(summary.get("min_year")), _int(summary.get("max_year"))
    if coin.year is None or (low is None and high is None):
        year_points = 12
    else:
        year_points = 25 if (low or coin.year) <= coin.year <= (high or coin.year) else 0
    listed_issuer = summary.get("issuer")
    issuer = listed_issuer if isinstance(listed_issuer, Mapping) else {}
    names = [str(issuer.get("name") or ""), str(issuer.get("code") or "")]
    if not coin.country:
        issuer_points = 8
    else:
        issuer_points = 15 if max(fuzz.ratio(coin.country.casefold(), n.casefold()) for n in names) >= 90 else 0
    text_points = 20 * fuzz.token_set_ratio(_title_words(coin), str(summary.get("title") or "").casefold()) / 100
    km = parse_catalogue_number(coin.catalogue_number)
    km_points = 10 if km and f"{km[0].casefold()} {km[1]}" in set(references) else 0
    return min(100, round(face_points + year_points + issuer_points + text_points + km_points))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _title_words(coin: CoinToLink) -> str:
    """The coin's title without its year and country (they are scored on their own)."""
    title = coin.title.casefold()
    if coin.country:
        title = title.replace(coin.country.casefold(), " ")
    return " ".join(_YEAR.sub(" ", title).split())


def _cached_references(catalog: NumistaCatalog, type_ids: set[int]) -> dict[int, set[str]]:
    """'km 2'-style references of the types already cached in full (no call)."""
    if not type_ids:
        return {}
    with catalog.api.transaction() as session:
        rows = session.execute(select(NumistaType.id, NumistaType.data).where(NumistaType.id.in_(type_ids))).all()
    found: dict[int, set[str]] = {}
    for type_id, data in rows:
        for reference in (data or {}).get("references") or []:
            code = str((reference.get("catalogue") or {}).get("code") or "").casefold()
            found.setdefault(type_id, set()).add(f"{code} {reference.get('number')}")
    return found


def match_candidates(
    catalog: NumistaCatalog, coins: Iterable[CoinToLink], *, per_coin: int = CANDIDATES_PER_COIN
) -> list[CoinMatch]:
    """Each coin with its best candidates from the cached searches, best first; spends no call."""
    coins = list(coins)
    answers = {key: _cached(catalog, key) for key in {coin.search for coin in coins}}
    type_ids = {int(t["id"]) for a in answers.values() if a for t in a.types if _int(t.get("id")) is not None}
    references = _cached_references(catalog, type_ids)
    matches = []
    for coin in coins:
        answer = answers[coin.search]
        summaries = [t for t in (answer.types if answer else []) if _int(t.get("id")) is not None]
        scored = sorted(
            (_candidate(t, score_candidate(coin, t, references.get(int(t["id"]), ()))) for t in summaries),
            key=lambda candidate: (-candidate.score, candidate.type_id),
        )
        matches.append(CoinMatch(coin, tuple(scored[:per_coin]), answer is not None))
    return matches


def _candidate(summary: Mapping[str, Any], score: int) -> Candidate:
    listed_issuer = summary.get("issuer")
    issuer = listed_issuer if isinstance(listed_issuer, Mapping) else {}
    return Candidate(
        int(summary["id"]), str(summary.get("title") or f"N# {summary['id']}"), issuer.get("name"),
        _int(summary.get("min_year")), _int(summary.get("max_year")), summary.get("obverse_thumbnail"), score,
    )  # fmt: skip


def issue_lists_needed(catalog: NumistaCatalog, type_ids: Iterable[int]) -> int:
    """Calls linking will spend: one issue list per distinct chosen type that is not cached."""
    return sum(1 for type_id in set(type_ids) if catalog.cached_issues(type_id) is None)


def link_choices(
    catalog: NumistaCatalog, choices: Mapping[int, tuple[int, int]], *, progress: Progress | None = None
) -> LinkOutcome:
    """Link each chosen coin (item id → (type id, the version the user saw)); the issue is set when exactly
    one issue of the type fits the coin's year and mint mark. A coin edited meanwhile, or a type Numista does
    not know, is reported and the others go on; a quota, key or network error stops the pass. ``progress``
    hears (coins handled, coins chosen) after each one."""
    outcome = LinkOutcome()
    before = catalog.api.calls_made
    for index, (item_id, (type_id, version)) in enumerate(choices.items()):
        if progress is not None and index:
            progress(index, len(choices))
        try:
            outcome.linked.append(set_numista_link(catalog, item_id, type_id, expected_version=version))
        except STOP_ERRORS as error:
            outcome.stopped = error.message
            break
        except (VitrineError, ServiceError) as error:
            outcome.failed.append((item_id, error.message))
    outcome.calls = catalog.api.calls_made - before
    return outcome
