"""Loopback emulator of the pokemontcg.io API v2, serving the real card/set files kept in tests/fixtures.

Why: the Pokémon integration must be tested on real data (odd numbers like "TG01", Energy cards without
rarity, sets whose ``total`` is stale) and on the real query language, paging and price blocks.

Configure the app with ``POKEMONTCG_API_URL = emulator.base_url`` — note the ``/v2`` suffix:
``emulator.url`` is the server root (``http://127.0.0.1:<port>``), ``emulator.base_url`` is
``http://127.0.0.1:<port>/v2`` (the real default is ``https://api.pokemontcg.io/v2``).

Served (data from ``tests/fixtures/pokemontcg``: all 170 sets, cards of base1-base5, sv1, svp):

* ``GET /v2/cards`` and ``GET /v2/sets``: ``q``, ``page`` (1-based), ``pageSize`` (default and max 250),
  ``orderBy`` (comma list, ``-`` = descending, dotted paths such as ``-set.releaseDate``), ``select``;
  envelope ``{data, page, pageSize, count, totalCount}``.
* ``GET /v2/cards/{id}``, ``GET /v2/sets/{id}``: ``{"data": {...}}``; 404 when unknown.
* ``GET /v2/types|subtypes|supertypes|rarities``: ``{"data": [...]}``.

``q`` syntax (as documented at docs.pokemontcg.io): ``field:value`` with dotted nested fields
(``set.id:sv1``, ``attacks.name:Spelunk``), implicit AND, ``OR`` with parentheses, ``-`` negation,
``"quoted phrases"``, ``*`` wildcards, ``!field:value`` exact match, ``[a TO b]`` inclusive and
``{a TO b}`` exclusive ranges with ``*`` open ends. Matching is case-insensitive; a plain keyword
matches a whole word of the field (``name:charizard`` finds "Dark Charizard").

Every card gets its ``set`` object embedded and, deterministically from its id, a ``tcgplayer`` (USD;
printings among normal/holofoil/reverseHolofoil/1stEdition*) and a ``cardmarket`` (EUR) block; about one
card in eight has no tcgplayer block and one in six no cardmarket block. Override per card with
``emulator.set_card_prices(card_id, tcgplayer=..., cardmarket=...)`` (``None`` removes a block).

Auth: ``X-Api-Key`` is optional like the real API; with ``require_api_key=True`` a missing or unknown key
gets 403. A key that is sent but unknown is also 403. Anonymous requests are limited to
``anonymous_per_minute`` (30) in a sliding minute and ``anonymous_per_day`` (1000); keyed ones to
``key_per_day`` (20000); beyond that 429. Errors: ``{"error": {"message": ..., "code": ...}}``.

Run by hand: ``python -m tests.emulators.pokemontcg --port 8766``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import random
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.emulators.base import (
    Emulator,
    HTTPError,
    RecordedRequest,
    Request,
    Response,
    run_cli,
)
from tests.fixture_files import FIXTURES, pokemon_data

DEMO_API_KEY = "vitrine-ptcg-key"
MAX_PAGE_SIZE = 250
PRICE_DATE = "2025/11/14"
BAD_REQUEST = "Bad Request. Your request is either malformed, or is missing one or more required fields."


# ---------------------------------------------------------------------------- data
@functools.lru_cache(maxsize=2)
def load_data(root: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(sets, cards) from the data files in ``root``; cards get their set embedded (as the API does)."""
    sets, cards_by_set = pokemon_data(Path(root))
    by_id = {s["id"]: s for s in sets}
    cards: list[dict[str, Any]] = []
    for set_id in sorted(cards_by_set, key=lambda set_id: (by_id.get(set_id, {}).get("releaseDate", ""), set_id)):
        card_set = by_id[set_id]
        for raw in cards_by_set[set_id]:
            card = dict(raw)
            card["set"] = card_set
            cards.append(card)
    return sets, cards


# ---------------------------------------------------------------------------- q language
class QueryError(ValueError):
    """Malformed ``q``: answered with 400 like the real API."""


@dataclass
class Term:
    field: str
    kind: str  # "word" | "phrase" | "range"
    value: Any
    exact: bool = False


_TOKEN = re.compile(r"""\s*(?:
    (?P<lp>\() | (?P<rp>\))
    | (?P<term>[-!]*[\w.@$]+:(?:"[^"]*" | [\[{][^\]}]*[\]}] | [^\s()]+))
    | (?P<neg>-)(?=[(])
    | (?P<word>[^\s()]+))""", re.VERBOSE)


def _tokenize(q: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(q):
        if q[pos:].strip() == "":
            break
        m = _TOKEN.match(q, pos)
        if not m or m.end() == pos:
            raise QueryError(f"cannot parse q near {q[pos:]!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


def _parse_term(text: str) -> tuple[bool, Term]:
    negate = False
    exact = False
    while text[0] in "-!":
        if text[0] == "-":
            negate = not negate
        else:
            exact = True
        text = text[1:]
    field, _, value = text.partition(":")
    if value.startswith('"'):
        return negate, Term(field, "phrase", value[1:-1], exact)
    if value[0] in "[{":
        m = re.fullmatch(r"([\[{])\s*(\S+)\s+TO\s+(\S+)\s*([\]}])", value)
        if not m:
            raise QueryError(f"bad range {value!r}")
        bounds = (m.group(1) == "[", m.group(2), m.group(3), m.group(4) == "]")
        return negate, Term(field, "range", bounds, exact)
    if not value:
        raise QueryError(f"empty value for {field!r}")
    return negate, Term(field, "word", value, exact)


Predicate = Callable[[dict[str, Any]], bool]


class _Parser:
    """Recursive descent over: or := and ("OR" and)* ; and := unary ("AND"? unary)* ; unary := "-"? atom."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def parse(self) -> Predicate:
        pred = self.parse_or()
        if self.peek() is not None:
            raise QueryError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return pred

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.peek() == ("word", "OR"):
            self.i += 1
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else (lambda c: any(p(c) for p in parts))

    def parse_and(self) -> Predicate:
        parts = [self.parse_unary()]
        while (tok := self.peek()) is not None and tok[0] != "rp" and tok != ("word", "OR"):
            if tok == ("word", "AND"):
                self.i += 1
            parts.append(self.parse_unary())
        return parts[0] if len(parts) == 1 else (lambda c: all(p(c) for p in parts))

    def parse_unary(self) -> Predicate:
        tok = self.peek()
        if tok is None:
            raise QueryError("unexpected end of q")
        if tok[0] == "neg" or tok == ("word", "NOT"):
            self.i += 1
            inner = self.parse_unary()
            return lambda c: not inner(c)
        if tok[0] == "lp":
            self.i += 1
            inner = self.parse_or()
            if self.peek() is None or self.peek()[0] != "rp":  # type: ignore[index]
                raise QueryError("missing )")
            self.i += 1
            return inner
        if tok[0] == "term":
            self.i += 1
            negate, term = _parse_term(tok[1])
            pred = _term_predicate(term)
            return (lambda c: not pred(c)) if negate else pred
        raise QueryError(f"expected field:value, got {tok[1]!r}")


def parse_query(q: str) -> Predicate:
    """Compile a pokemontcg.io ``q`` string into a predicate over card/set dicts."""
    tokens = _tokenize(q)
    if not tokens:
        return lambda c: True
    return _Parser(tokens).parse()


def field_values(obj: Any, path: str) -> list[Any]:
    """All scalar values at a dotted path, descending through lists (``attacks.name``)."""
    current = [obj]
    for part in path.split("."):
        nxt: list[Any] = []
        for value in current:
            if isinstance(value, dict) and part in value:
                got = value[part]
                nxt.extend(got if isinstance(got, list) else [got])
        current = nxt
    out: list[Any] = []
    for value in current:
        out.extend(value if isinstance(value, list) else [value])
    return [v for v in out if v is not None and not isinstance(v, dict)]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _term_predicate(term: Term) -> Predicate:
    if term.kind == "range":
        lower_inclusive, low, high, upper_inclusive = term.value

        def in_range(value: Any) -> bool:
            num = _as_number(value)
            for bound, is_low, inclusive in ((low, True, lower_inclusive), (high, False, upper_inclusive)):
                if bound == "*":
                    continue
                b_num = _as_number(bound)
                left: Any = num if (num is not None and b_num is not None) else str(value).lower()
                right: Any = b_num if (num is not None and b_num is not None) else bound.lower()
                if is_low and (left < right or (left == right and not inclusive)):
                    return False
                if not is_low and (left > right or (left == right and not inclusive)):
                    return False
            return True

        return lambda c: any(in_range(v) for v in field_values(c, term.field))

    text = str(term.value).lower()
    if "*" in text or "?" in text:
        pattern = re.compile("".join({"*": ".*", "?": "."}.get(ch) or re.escape(ch) for ch in text))

        def wildcard(value: Any) -> bool:
            s = str(value).lower()
            if pattern.fullmatch(s):
                return True
            return not term.exact and any(pattern.fullmatch(w) for w in _words(s))

        return lambda c: any(wildcard(v) for v in field_values(c, term.field))

    wanted = _words(text)

    def matches(value: Any) -> bool:
        s = str(value).lower()
        if s == text:
            return True
        if term.exact or not wanted:
            return False
        have = _words(s)
        n = len(wanted)
        return any(have[i:i + n] == wanted for i in range(len(have) - n + 1))

    return lambda c: any(matches(v) for v in field_values(c, term.field))


def sort_key_function(path: str) -> Callable[[dict[str, Any]], tuple[int, int, Any]]:
    """Sort key for one orderBy field: missing last, numbers before strings (strings sort lexically)."""

    def key(obj: dict[str, Any]) -> tuple[int, int, Any]:
        values = field_values(obj, path)
        if not values:
            return (1, 0, "")
        v = values[0]
        if isinstance(v, int | float) and not isinstance(v, bool):
            return (0, 0, v)
        return (0, 1, str(v).lower())

    return key


def order_by(items: list[dict[str, Any]], spec: str) -> list[dict[str, Any]]:
    """Apply a comma-separated orderBy (``-`` prefix = descending) with stable multi-key sorting."""
    result = list(items)
    fields = [f.strip() for f in spec.split(",") if f.strip()]
    for f in reversed(fields):
        desc = f.startswith("-")
        path = f.lstrip("-")
        key = sort_key_function(path)
        present = [i for i in result if field_values(i, path)]
        missing = [i for i in result if not field_values(i, path)]
        result = sorted(present, key=key, reverse=desc) + missing
    return result


# ---------------------------------------------------------------------------- prices
def _printings(card: dict[str, Any]) -> list[str]:
    rarity = card.get("rarity") or ""
    first_edition = card["set"]["id"] in ("base2", "base3", "base5")
    if not rarity or card.get("supertype") == "Energy":
        return ["normal"]
    if "Holo" in rarity or rarity in ("Rare Secret", "Double Rare", "Ultra Rare", "Illustration Rare",
                                      "Special Illustration Rare", "Hyper Rare", "Promo"):
        return ["holofoil", "1stEditionHolofoil"] if first_edition else ["holofoil"]
    if card["set"]["series"] == "Base":
        return ["normal", "1stEditionNormal"] if first_edition else ["normal"]
    return ["normal", "reverseHolofoil"]


_RARITY_BASE = {"Common": 0.15, "Uncommon": 0.3, "Rare": 1.0, "Rare Holo": 25.0, "Rare Secret": 80.0,
                "Double Rare": 2.5, "Ultra Rare": 12.0, "Illustration Rare": 8.0,
                "Special Illustration Rare": 60.0, "Hyper Rare": 40.0, "Promo": 3.0}


def generate_prices(card: dict[str, Any], price_date: str = PRICE_DATE) -> dict[str, Any]:
    """Deterministic tcgplayer/cardmarket blocks for a card (seeded by its id); keys absent = no prices."""
    rng = random.Random(int(hashlib.sha256(card["id"].encode()).hexdigest()[:16], 16))
    base = _RARITY_BASE.get(card.get("rarity") or "", 0.1)
    if card["set"]["series"] == "Base":
        base *= 6  # vintage
    base *= rng.uniform(0.5, 2.0)
    out: dict[str, Any] = {}
    if rng.random() >= 0.125:
        prices: dict[str, Any] = {}
        for n, printing in enumerate(_printings(card)):
            market = round(base * (1.0 if n == 0 else rng.uniform(1.5, 4.0)), 2)
            prices[printing] = {
                "low": round(market * rng.uniform(0.5, 0.9), 2),
                "mid": round(market * rng.uniform(1.0, 1.3), 2),
                "high": round(market * rng.uniform(2.0, 6.0), 2),
                "market": market if rng.random() > 0.05 else None,
                "directLow": round(market * rng.uniform(0.9, 1.2), 2) if rng.random() > 0.3 else None,
            }
        out["tcgplayer"] = {"url": f"https://prices.pokemontcg.io/tcgplayer/{card['id']}",
                            "updatedAt": price_date, "prices": prices}
    if rng.random() >= 1 / 6:
        eur = base * 0.92
        reverse = "reverseHolofoil" in _printings(card)

        def p(scale: float) -> float:
            return round(eur * scale * rng.uniform(0.9, 1.1), 2)

        cm = {"averageSellPrice": p(1.0), "lowPrice": p(0.5), "trendPrice": p(1.0), "germanProLow": 0.0,
              "suggestedPrice": 0.0, "reverseHoloSell": p(1.8) if reverse else 0.0,
              "reverseHoloLow": p(1.0) if reverse else 0.0, "reverseHoloTrend": p(1.8) if reverse else 0.0,
              "lowPriceExPlus": p(0.6), "avg1": p(1.0), "avg7": p(1.0), "avg30": p(1.0),
              "reverseHoloAvg1": p(1.8) if reverse else None, "reverseHoloAvg7": p(1.8) if reverse else None,
              "reverseHoloAvg30": p(1.8) if reverse else None}
        out["cardmarket"] = {"url": f"https://prices.pokemontcg.io/cardmarket/{card['id']}",
                             "updatedAt": price_date, "prices": cm}
    return out


# ---------------------------------------------------------------------------- emulator
class PokemonTcgEmulator(Emulator):
    """pokemontcg.io API v2 over loopback. See the module docstring."""

    api_prefix = "/v2"
    name = "pokemontcg"

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = (DEMO_API_KEY,),
        require_api_key: bool = False,
        anonymous_per_minute: int | None = 30,
        anonymous_per_day: int | None = 1000,
        key_per_day: int | None = 20000,
        price_date: str = PRICE_DATE,
        data_dir: Path | None = None,
        **kwargs: Any,
    ) -> None:
        self.api_keys = set(api_keys)
        self.require_api_key = require_api_key
        self.anonymous_per_minute = anonymous_per_minute
        self.anonymous_per_day = anonymous_per_day
        self.key_per_day = key_per_day
        self.price_date = price_date
        self.data_dir = data_dir or FIXTURES / "pokemontcg"
        self.sets, self.cards = load_data(str(self.data_dir))
        self.cards_by_id = {c["id"]: c for c in self.cards}
        self.sets_by_id = {s["id"]: s for s in self.sets}
        self.price_overrides: dict[str, dict[str, Any]] = {}
        self._anon_recent: deque[float] = deque()
        self._daily: dict[str, int] = {}
        super().__init__(**kwargs)

    def reset_state(self) -> None:
        self.price_overrides = {}
        self._anon_recent = deque()
        self._daily = {}

    # ------------------------------------------------------------------ helpers for tests
    def set_card_prices(self, card_id: str, *, tcgplayer: dict[str, Any] | bool | None = False,
                        cardmarket: dict[str, Any] | bool | None = False) -> None:
        """Override a card's price blocks: a dict replaces the block, None removes it, False keeps it."""
        with self.lock:
            current = self.prices_for(card_id)
            for name, value in (("tcgplayer", tcgplayer), ("cardmarket", cardmarket)):
                if value is None:
                    current.pop(name, None)
                elif value is not False:
                    current[name] = value
            self.price_overrides[card_id] = current

    def prices_for(self, card_id: str) -> dict[str, Any]:
        """The price blocks the emulator serves for a card (``{}`` when it has none)."""
        with self.lock:
            if card_id in self.price_overrides:
                return copy.deepcopy(self.price_overrides[card_id])
            return generate_prices(self.cards_by_id[card_id], self.price_date)

    def card(self, card_id: str) -> dict[str, Any]:
        """A card exactly as ``GET /v2/cards/{id}`` serves it."""
        with self.lock:
            return self._serve_card(self.cards_by_id[card_id])

    # ------------------------------------------------------------------ hooks
    def error_body(self, status: int, message: str) -> Any:
        return {"error": {"message": message, "code": status}}

    def before_request(self, request: RecordedRequest) -> Response | None:
        key = request.header("X-Api-Key")
        if key is not None and key not in self.api_keys:
            raise HTTPError(403, "Forbidden. The API key is invalid.")
        if key is None and self.require_api_key:
            raise HTTPError(403, "Forbidden. An X-Api-Key header is required.")
        now = time.monotonic()
        bucket = key or "anonymous"
        daily_limit = self.key_per_day if key else self.anonymous_per_day
        if daily_limit is not None and self._daily.get(bucket, 0) >= daily_limit:
            raise HTTPError(429, "Too Many Requests. You have exceeded your daily rate limit.")
        if key is None and self.anonymous_per_minute is not None:
            while self._anon_recent and now - self._anon_recent[0] >= 60:
                self._anon_recent.popleft()
            if len(self._anon_recent) >= self.anonymous_per_minute:
                raise HTTPError(429, "Too Many Requests. Unauthenticated requests are limited to "
                                     f"{self.anonymous_per_minute} per minute.")
            self._anon_recent.append(now)
        self._daily[bucket] = self._daily.get(bucket, 0) + 1
        return None

    def setup_routes(self) -> None:
        p = self.api_prefix
        self.route("GET", f"{p}/cards", self.search_cards)
        self.route("GET", f"{p}/cards/{{card_id}}", self.get_card)
        self.route("GET", f"{p}/sets", self.search_sets)
        self.route("GET", f"{p}/sets/{{set_id}}", self.get_set)
        self.route("GET", f"{p}/types", lambda r: {"data": self._distinct("types")})
        self.route("GET", f"{p}/subtypes", lambda r: {"data": self._distinct("subtypes")})
        self.route("GET", f"{p}/supertypes", lambda r: {"data": self._distinct("supertype")})
        self.route("GET", f"{p}/rarities", lambda r: {"data": self._distinct("rarity")})

    # ------------------------------------------------------------------ routes
    def _distinct(self, field: str) -> list[str]:
        return sorted({v for c in self.cards for v in field_values(c, field)})

    def _serve_card(self, card: dict[str, Any]) -> dict[str, Any]:
        served = copy.deepcopy(card)
        served.update(self.prices_for(card["id"]))
        return served

    @staticmethod
    def _select(obj: dict[str, Any], req: Request) -> dict[str, Any]:
        select = req.arg("select")
        if not select:
            return obj
        fields = [f.strip() for f in select.split(",") if f.strip()]
        return {k: obj[k] for k in fields if k in obj}

    def _search(self, req: Request, items: list[dict[str, Any]],
                serve: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        page = req.int_arg("page", 1, message=BAD_REQUEST)
        page_size = req.int_arg("pageSize", MAX_PAGE_SIZE, message=BAD_REQUEST)
        if page is None or page < 1 or page_size is None or page_size < 1:
            raise HTTPError(400, BAD_REQUEST)
        page_size = min(page_size, MAX_PAGE_SIZE)
        try:
            predicate = parse_query(req.arg("q") or "")
        except QueryError:
            raise HTTPError(400, BAD_REQUEST) from None
        matched = [i for i in items if predicate(i)]
        order = req.arg("orderBy")
        if order:
            matched = order_by(matched, order)
        chunk = matched[(page - 1) * page_size: page * page_size]
        data = [self._select(serve(i), req) for i in chunk]
        return {"data": data, "page": page, "pageSize": page_size, "count": len(data),
                "totalCount": len(matched)}

    def search_cards(self, req: Request) -> dict[str, Any]:
        # Prices are generated per served card only; searching on price fields is not supported.
        return self._search(req, self.cards, self._serve_card)

    def get_card(self, req: Request) -> dict[str, Any]:
        card = self.cards_by_id.get(req.params["card_id"])
        if card is None:
            raise HTTPError(404, "Not Found. The requested resource could not be found.")
        return {"data": self._select(self._serve_card(card), req)}

    def search_sets(self, req: Request) -> dict[str, Any]:
        return self._search(req, self.sets, copy.deepcopy)

    def get_set(self, req: Request) -> dict[str, Any]:
        card_set = self.sets_by_id.get(req.params["set_id"])
        if card_set is None:
            raise HTTPError(404, "Not Found. The requested resource could not be found.")
        return {"data": self._select(copy.deepcopy(card_set), req)}

    def describe(self) -> list[str]:
        return [
            f"  POKEMONTCG_API_URL={self.base_url}",
            f"  POKEMONTCG_API_KEY={sorted(self.api_keys)[0] if self.api_keys else ''}"
            f"  (optional{'; required' if self.require_api_key else ''})",
            f"  {len(self.sets)} sets, {len(self.cards)} cards "
            f"({', '.join(sorted({c['set']['id'] for c in self.cards}))})",
        ]


def main(argv: list[str] | None = None) -> None:
    def extra(parser: Any) -> None:
        parser.add_argument("--require-key", action="store_true", help="reject requests without X-Api-Key")

    run_cli(lambda a: PokemonTcgEmulator(port=a.port, verbose=a.verbose, require_api_key=a.require_key),
            "pokemontcg.io API v2 emulator", argv, extra)


if __name__ == "__main__":
    main()
