"""Card search over the offline catalogue (the shipped snapshot of the real reference sets): typo-tolerant
ranking, collector ordering of numbers, filters, paging, suggestions and index refresh on catalogue change."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from services.errors import InvalidInput
from services.integrations.pokemontcg.catalog import load_offline_snapshot, upsert_cards
from services.integrations.pokemontcg.search import CardFilter, CardIndex, card_index, search_catalogue, suggest_names


@pytest.fixture
def catalogue(session: Session) -> Session:
    load_offline_snapshot(session)
    return session


ANY = CardFilter()


def ids(session: Session, text: str, filters: CardFilter = ANY, **options: object) -> list[str]:
    return [hit.id for hit in search_catalogue(session, text, filters, **options).hits]  # type: ignore[arg-type]


def test_a_typo_still_finds_the_card_first(catalogue: Session) -> None:
    found = ids(catalogue, "charzard")
    assert found[:2] == ["base1-4", "base4-4"]  # Charizard, oldest set first
    assert set(found) >= {"base5-4", "svp-56"}  # Dark Charizard, Charizard ex follow
    assert found.index("svp-56") > found.index("base4-4")
    assert ids(catalogue, "pikachu")[0] == "base1-58"
    assert ids(catalogue, "profesor research", limit=4) == ["sv1-189", "sv1-240", "sv1-190", "sv1-241"]
    assert ids(catalogue, "flabebe") == ["sv1-91"]  # accents do not matter
    assert ids(catalogue, "DARK raichu") == ["base5-83"]
    assert ids(catalogue, "qwxz") == []


def test_exact_names_rank_before_longer_names_and_prefixes_work_while_typing(catalogue: Session) -> None:
    names = [hit.name for hit in search_catalogue(catalogue, "charizard", limit=100).hits]
    assert names[:2] == ["Charizard", "Charizard"] and "Dark Charizard" in names
    assert names.index("Charizard ex") < names.index("Dark Charizard")  # starts with the query: closer
    assert "Charizard" in {hit.name for hit in search_catalogue(catalogue, "char").hits}
    assert "Charizard" in {hit.name for hit in search_catalogue(catalogue, "charz").hits}  # typo in a prefix


def test_number_order_is_natural(catalogue: Session) -> None:
    numbers = [h.number for h in search_catalogue(catalogue, "", CardFilter(set_id="base1"), sort="number",
                                                  limit=100).hits]  # fmt: skip
    assert numbers[:12] == [str(n) for n in range(1, 13)] and numbers[99] == "100"
    index = CardIndex(
        [(f"x-{n}", f"Card {n}", "x", "X", date(2020, 1, 1), n, None, None, None, None)
         for n in ["TG10", "10", "4", "TG01", "102", "SV2", "1"]]
    )  # fmt: skip
    assert [h.number for h in index.search("", sort="number", limit=10).hits] == [
        "1", "4", "10", "102", "SV2", "TG01", "TG10"
    ]  # fmt: skip


def test_results_across_sets_go_by_release_date_then_number(catalogue: Session) -> None:
    hits = search_catalogue(catalogue, "pikachu", sort="number", limit=100).hits
    keys = [(h.set_id, h.number) for h in hits]
    assert keys[:3] == [("base1", "58"), ("base2", "60"), ("base4", "87")]  # 1999 Base, Jungle, 2000 Base Set 2
    sv_promos = [int(n) for s, n in keys if s == "svp"]
    assert sv_promos == sorted(sv_promos)


def test_filters(catalogue: Session) -> None:
    assert ids(catalogue, "", CardFilter(number="4"), limit=10) == [
        "base1-4", "base2-4", "base3-4", "base4-4", "base5-4", "svp-4", "sv1-4"
    ]  # fmt: skip  (svp came out 2023-01-01, sv1 2023-03-31)
    assert ids(catalogue, "", CardFilter(number="004", set_id="base1")) == ["base1-4"]
    assert ids(catalogue, "charizard 4/102") == ["base1-4", "base4-4", "base5-4"]  # number typed in the query
    assert ids(catalogue, "", CardFilter(rarity="rare secret")) == ["base5-83"]
    fire = search_catalogue(catalogue, "", CardFilter(set_id="base1", type="Fire"), limit=100).hits
    assert fire and all("Fire" in h.types for h in fire)
    energy = search_catalogue(catalogue, "", CardFilter(set_id="base1", supertype="Energy"), limit=100)
    assert energy.total == 7  # Double Colorless (Uncommon) and the six basic Energy cards, which have no rarity
    assert [h.id for h in energy.hits if h.rarity is None] == [f"base1-{n}" for n in range(97, 103)]
    assert ids(catalogue, "base1-4") == ["base1-4"]


def test_paging(catalogue: Session) -> None:
    first = search_catalogue(catalogue, "", CardFilter(set_id="sv1"))
    assert first.limit == 24 and first.total == 258 and first.pages == 11 and len(first.hits) == 24
    pages = [search_catalogue(catalogue, "", CardFilter(set_id="sv1"), limit=100, offset=o).hits for o in (0, 100, 200)]
    assert [len(p) for p in pages] == [100, 100, 58]
    assert len({h.id for p in pages for h in p}) == 258
    with pytest.raises(InvalidInput):
        search_catalogue(catalogue, "x", limit=101)
    with pytest.raises(InvalidInput):
        search_catalogue(catalogue, "x", limit=0)


def test_suggestions_start_at_two_characters(catalogue: Session) -> None:
    assert suggest_names(catalogue, "c") == []
    assert "Charizard" in suggest_names(catalogue, "ch")
    assert suggest_names(catalogue, "pikac")[0] == "Pikachu"
    assert suggest_names(catalogue, "charzard")[0] == "Charizard"
    assert len(suggest_names(catalogue, "ch", limit=3)) == 3


def test_the_index_is_cached_and_rebuilt_when_the_catalogue_changes(catalogue: Session) -> None:
    first = card_index(catalogue)
    assert card_index(catalogue) is first  # no rebuild per query
    assert ids(catalogue, "missingno") == []
    upsert_cards(catalogue, "base1", [{"id": "base1-999", "name": "MissingNo.", "number": "999"}], expires_at=None)
    assert card_index(catalogue) is not first
    assert ids(catalogue, "missingno") == ["base1-999"]
