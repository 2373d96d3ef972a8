"""Card search over an in-process index: typo-tolerant names, filters, collector ordering, paging, suggestions.

Why in process: the Catalog page searches on every keystroke and the whole catalogue is ~20,000 cards. A
LIKE scan per keystroke cannot rank typos ("charzard" → Charizard) and costs a round trip; an index built
once from the database answers in a few milliseconds. It is cached per database and rebuilt when the
catalogue's revision (`catalog_sync_state`, bumped by every card/set write, from any process) changes, so a
sync from the CLI shows up in a running app on its next query.

How names match: names are normalized (accents, case and apostrophes dropped: "Professor's" → "professors"),
split into words, and each query word is matched against the vocabulary of name words: exactly, as a
prefix (so typing "char" already finds Charizard), or fuzzily with rapidfuzz (Indel ratio, also against
word prefixes so "charz" works). A name matches when every query word does. Ranking: exact name, then names
starting with the query, then names whose words all match exactly or by prefix, then typo matches; ties go
to the name closest to the query, then to catalogue order (set release date, then natural card number).
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.errors import InvalidInput
from services.integrations.pokemontcg.catalog import catalogue_revision
from services.store.models import PokemonCard, PokemonSet
from services.text import natural_sort_key, normalize

DEFAULT_LIMIT = 24
MAX_LIMIT = 100
SUGGEST_MIN_CHARS = 2
SORTS = ("relevance", "number")
_PREFIX_SCORE = 95.0
_FUZZY_WEIGHT = 0.9  # a typo match never outranks an exact or prefix one with the same closeness
_FALLBACK_CUTOFF = 80.0
# "charizard 4/102", "TG01/TG30", "pikachu #58": a trailing card number is a number filter.
_NUMBER_IN_QUERY = re.compile(
    r"(?:^|\s)#?([A-Za-z]{0,4}\d+[A-Za-z]?)\s*(?:/\s*[A-Za-z]{0,4}\d+)\s*$"
    r"|(?:^|\s)#([A-Za-z]{0,4}\d+[A-Za-z]?)\s*$"
)


def _fuzzy_cutoff(word: str) -> float | None:
    """Short words get no typo tolerance (too many false friends); longer words tolerate one or two edits."""
    if len(word) < 4:
        return None
    return 80.0 if len(word) < 6 else 75.0


@dataclass(frozen=True)
class CardHit:
    id: str
    name: str
    set_id: str
    set_name: str
    number: str
    rarity: str | None
    types: tuple[str, ...]
    supertype: str | None
    image: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "set": {"id": self.set_id, "name": self.set_name},
            "number": self.number,
            "rarity": self.rarity,
            "types": list(self.types),
            "supertype": self.supertype,
            "image": self.image,
        }


@dataclass(frozen=True)
class SearchPage:
    hits: list[CardHit]
    total: int
    offset: int
    limit: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit))

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
            "results": [hit.to_json() for hit in self.hits],
        }


@dataclass(frozen=True)
class CardFilter:
    """Filters of a search; empty fields filter nothing. Text comparisons ignore case."""

    set_id: str | None = None
    number: str | None = None
    rarity: str | None = None
    type: str | None = None
    supertype: str | None = None


class CardIndex:
    """An immutable index of the catalogue; build with `CardIndex(rows)` or `build_index(session)`.

    `rows` are (id, name, set_id, set_name, release_date, number, rarity, types, supertype, image) tuples.
    """

    def __init__(self, rows: Iterable[tuple[Any, ...]]) -> None:
        ordered = sorted(
            rows, key=lambda r: (r[4] or date.max, r[2], natural_sort_key(r[5]), r[0])
        )  # catalogue order: set release date, set, natural card number
        self.size = len(ordered)
        self.ids = [r[0] for r in ordered]
        self.names = [r[1] for r in ordered]
        self.set_ids = [r[2] for r in ordered]
        self.set_names = {r[2]: r[3] for r in ordered}
        self.numbers = [r[5] for r in ordered]
        self.number_keys = [natural_sort_key(r[5]) for r in ordered]
        self.rarities = [r[6] for r in ordered]
        self.rarity_keys = [(r[6] or "").casefold() for r in ordered]
        self.types = [tuple(r[7] or ()) for r in ordered]
        self.type_keys = [frozenset(t.casefold() for t in (r[7] or ())) for r in ordered]
        self.supertypes = [r[8] for r in ordered]
        self.supertype_keys = [normalize(r[8] or "") for r in ordered]
        self.images = [r[9] for r in ordered]
        self.position_of_id = {card_id.casefold(): i for i, card_id in enumerate(self.ids)}
        self.set_range: dict[str, tuple[int, int]] = {}
        for i, set_id in enumerate(self.set_ids):
            start, _ = self.set_range.get(set_id, (i, i))
            self.set_range[set_id] = (start, i + 1)
        # Distinct normalized names → their cards (in catalogue order) and the most frequent spelling.
        name_index: dict[str, int] = {}
        self.name_keys: list[str] = []
        self.name_rows: list[list[int]] = []
        spellings: list[dict[str, int]] = []
        for i, name in enumerate(self.names):
            key = normalize(name)
            slot = name_index.get(key)
            if slot is None:
                slot = name_index[key] = len(self.name_keys)
                self.name_keys.append(key)
                self.name_rows.append([])
                spellings.append({})
            self.name_rows[slot].append(i)
            spellings[slot][name] = spellings[slot].get(name, 0) + 1
        self.name_display = [max(s.items(), key=lambda kv: kv[1])[0] for s in spellings]
        # Vocabulary of name words → names containing them; prefix views for "typo in a prefix" matching.
        word_names: dict[str, set[int]] = {}
        for slot, key in enumerate(self.name_keys):
            for word in key.split():
                word_names.setdefault(word, set()).add(slot)
        self.vocab = sorted(word_names)
        self.vocab_names = [sorted(word_names[w]) for w in self.vocab]
        self.vocab_slot = {w: i for i, w in enumerate(self.vocab)}
        self._prefix_views: dict[int, list[str]] = {}
        self._lock = threading.Lock()
        self._memo: OrderedDict[str, list[tuple[tuple[float, ...], int]]] = OrderedDict()

    # -- name matching -----------------------------------------------------------------------------
    def _prefix_view(self, length: int) -> list[str]:
        view = self._prefix_views.get(length)
        if view is None:
            view = [w[:length] if len(w) > length else "" for w in self.vocab]
            self._prefix_views[length] = view
        return view

    def _word_matches(self, word: str) -> dict[int, float]:
        """Vocabulary slots matching one query word, with a score out of 100."""
        matches: dict[int, float] = {}
        exact = self.vocab_slot.get(word)
        if exact is not None:
            matches[exact] = 100.0
        if len(word) >= 2:
            at = bisect_left(self.vocab, word)
            while at < len(self.vocab) and self.vocab[at].startswith(word):
                matches.setdefault(at, _PREFIX_SCORE)
                at += 1
        cutoff = _fuzzy_cutoff(word)
        if cutoff is not None:
            for choices in (self.vocab, self._prefix_view(len(word))):
                for _choice, score, slot in process.extract(
                    word, choices, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None
                ):
                    weighted = score * _FUZZY_WEIGHT
                    if weighted > matches.get(slot, 0.0):
                        matches[slot] = weighted
        return matches

    def ranked_names(self, query: str) -> list[tuple[tuple[float, ...], int]]:
        """(rank key, name slot) of every matching name, best first; memoized per normalized query."""
        with self._lock:
            cached = self._memo.get(query)
            if cached is not None:
                self._memo.move_to_end(query)
                return cached
        ranked = self._rank_names(query)
        with self._lock:
            self._memo[query] = ranked
            while len(self._memo) > 512:
                self._memo.popitem(last=False)
        return ranked

    def _rank_names(self, query: str) -> list[tuple[tuple[float, ...], int]]:
        words = query.split()
        if not words:
            return []
        scores: dict[int, list[float]] | None = None
        for word in words:
            per_name: dict[int, float] = {}
            for slot, score in self._word_matches(word).items():
                for name in self.vocab_names[slot]:
                    if score > per_name.get(name, 0.0):
                        per_name[name] = score
            if scores is None:
                scores = {name: [score] for name, score in per_name.items()}
            else:
                scores = {name: [*got, per_name[name]] for name, got in scores.items() if name in per_name}
            if not scores:
                break
        ranked: list[tuple[tuple[float, ...], int]] = []
        for name, word_scores in (scores or {}).items():
            key = self.name_keys[name]
            if key == query:
                tier = 4
            elif key.startswith(query):
                tier = 3
            elif min(word_scores) >= _PREFIX_SCORE:
                tier = 2
            else:
                tier = 1
            mean = sum(word_scores) / len(word_scores)
            ranked.append(((-tier, -round(mean, 1), -fuzz.ratio(query, key), self.name_rows[name][0]), name))
        if not ranked and len(query) >= 4:  # e.g. "charizardex": no word boundary to work with
            for _choice, score, name in process.extract(
                query, self.name_keys, scorer=fuzz.WRatio, score_cutoff=_FALLBACK_CUTOFF, limit=50
            ):
                ranked.append(((0, -round(score, 1), -fuzz.ratio(query, self.name_keys[name]),
                                self.name_rows[name][0]), name))  # fmt: skip
        ranked.sort()
        return ranked

    # -- filters -----------------------------------------------------------------------------------
    def _predicate(self, filters: CardFilter) -> Callable[[int], bool] | None:
        tests: list[Callable[[int], bool]] = []
        if filters.number and filters.number.strip():
            wanted = natural_sort_key(filters.number.strip().lstrip("#").split("/")[0].strip())
            number_keys = self.number_keys
            tests.append(lambda i: number_keys[i] == wanted)
        if filters.rarity:
            rarity = filters.rarity.casefold()
            rarity_keys = self.rarity_keys
            tests.append(lambda i: rarity_keys[i] == rarity)
        if filters.type:
            energy = filters.type.casefold()
            type_keys = self.type_keys
            tests.append(lambda i: energy in type_keys[i])
        if filters.supertype:
            supertype = normalize(filters.supertype)
            supertype_keys = self.supertype_keys
            tests.append(lambda i: supertype_keys[i] == supertype)
        if filters.set_id:
            start, end = self.set_range.get(filters.set_id, (0, 0))
            tests.append(lambda i: start <= i < end)
        if not tests:
            return None
        if len(tests) == 1:
            return tests[0]
        return lambda i: all(test(i) for test in tests)

    def _positions(self, filters: CardFilter) -> range:
        if filters.set_id:
            start, end = self.set_range.get(filters.set_id, (0, 0))
            return range(start, end)
        return range(self.size)

    # -- queries -----------------------------------------------------------------------------------
    def hit(self, i: int) -> CardHit:
        return CardHit(
            self.ids[i], self.names[i], self.set_ids[i], self.set_names[self.set_ids[i]], self.numbers[i],
            self.rarities[i], self.types[i], self.supertypes[i], self.images[i],
        )  # fmt: skip

    def search(
        self,
        text: str = "",
        filters: CardFilter = CardFilter(),
        *,
        sort: str = "relevance",
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> SearchPage:
        """Cards matching `text` and `filters`; `sort` "relevance" (best name match first, then catalogue
        order) or "number" (catalogue order: set, then natural card number)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"A page holds 1 to {MAX_LIMIT} cards.", code="INVALID_LIMIT")
        if offset < 0:
            raise InvalidInput("The offset cannot be negative.", code="INVALID_OFFSET")
        if sort not in SORTS:
            raise InvalidInput(f"Sort must be one of {', '.join(SORTS)}.", code="INVALID_SORT")
        matched = self.matches(text, filters, sort=sort)
        chosen = matched[offset : offset + limit]
        return SearchPage([self.hit(i) for i in chosen], len(matched), offset, limit)

    def matches(self, text: str = "", filters: CardFilter = CardFilter(), *, sort: str = "relevance") -> Sequence[int]:
        """Index positions of every card matching `text` and `filters`, in `sort` order (see `search`); the REST
        API pages and re-sorts these itself."""
        text = text.strip()
        number_in_text = _NUMBER_IN_QUERY.search(text)
        if number_in_text and not filters.number:  # "charizard 4/102", "pikachu #58"
            filters = CardFilter(
                filters.set_id, number_in_text.group(1) or number_in_text.group(2), filters.rarity, filters.type,
                filters.supertype,
            )  # fmt: skip
            text = text[: number_in_text.start()].strip()
        keep = self._predicate(filters)
        query = normalize(text)
        if not query:
            positions = self._positions(filters)
            return positions if keep is None else [i for i in positions if keep(i)]
        exact_id = self.position_of_id.get(text.casefold())
        matched = [exact_id] if exact_id is not None and (keep is None or keep(exact_id)) else []
        for _key, name in self.ranked_names(query):
            rows = self.name_rows[name]
            matched.extend(i for i in rows if i != exact_id and (keep is None or keep(i)))
        if sort == "number":
            matched.sort()
        return matched

    def suggest(self, text: str, limit: int = 8) -> list[str]:
        """Card names for autocomplete, best first; nothing under two characters."""
        query = normalize(text)
        if len(query) < SUGGEST_MIN_CHARS:
            return []
        return [self.name_display[name] for _key, name in self.ranked_names(query)[:limit]]

    def rarities_list(self) -> list[str]:
        return sorted({r for r in self.rarities if r})

    def types_list(self) -> list[str]:
        return sorted({t for ts in self.types for t in ts})


def build_index(session: Session) -> CardIndex:
    """Read the catalogue (one query) into a fresh index."""
    rows = session.execute(
        select(
            PokemonCard.id, PokemonCard.name, PokemonCard.set_id, PokemonSet.name, PokemonSet.release_date,
            PokemonCard.number, PokemonCard.rarity, PokemonCard.types, PokemonCard.supertype,
            PokemonCard.image_small,
        ).join(PokemonSet, PokemonSet.id == PokemonCard.set_id)
    )  # fmt: skip
    return CardIndex(tuple(row) for row in rows)


_CACHE: OrderedDict[str, tuple[tuple[int, Any], CardIndex]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def card_index(session: Session) -> CardIndex:
    """The cached index of this session's database, rebuilt when the catalogue revision moved."""
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    token = catalogue_revision(session)
    with _CACHE_LOCK:
        cached = _CACHE.get(url)
        if cached is not None and cached[0] == token:
            _CACHE.move_to_end(url)
            return cached[1]
        index = build_index(session)  # under the lock: concurrent first queries build once
        _CACHE[url] = (token, index)
        _CACHE.move_to_end(url)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return index


def search_catalogue(
    session: Session,
    text: str = "",
    filters: CardFilter = CardFilter(),
    *,
    sort: str = "relevance",
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> SearchPage:
    """Search the stored catalogue (see CardIndex.search)."""
    return card_index(session).search(text, filters, sort=sort, limit=limit, offset=offset)


def suggest_names(session: Session, text: str, limit: int = 8) -> list[str]:
    """Autocomplete suggestions (see CardIndex.suggest)."""
    return card_index(session).suggest(text, limit)
