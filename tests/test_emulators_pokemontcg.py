"""The pokemontcg.io emulator serves the real reference cards with the documented q syntax, paging,
orderBy, envelope, embedded set, deterministic prices, optional API key and rate limits.

Why: the Pokémon integration is only as trustworthy as the emulator it is tested against.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.emulators.fixtures import *  # noqa: F403
from tests.emulators.pokemontcg import DEMO_API_KEY, PokemonTcgEmulator, generate_prices, parse_query

PRINTINGS = {"normal", "holofoil", "reverseHolofoil", "1stEditionHolofoil", "1stEditionNormal"}


@pytest.fixture
def api(pokemontcg_emulator: PokemonTcgEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pokemontcg_emulator.base_url, headers={"X-Api-Key": DEMO_API_KEY},
                      timeout=5) as client:
        yield client


def ids(api: httpx.Client, q: str, **params: Any) -> list[str]:
    response = api.get("/cards", params={"q": q, "select": "id", **params})
    assert response.status_code == 200, response.text
    return [card["id"] for card in response.json()["data"]]


def test_base_url_has_the_v2_prefix(pokemontcg_emulator: PokemonTcgEmulator) -> None:
    assert pokemontcg_emulator.base_url == pokemontcg_emulator.url + "/v2"
    assert httpx.get(pokemontcg_emulator.url + "/cards/base1-4").status_code == 404


def test_single_card_has_the_embedded_set_and_api_fields(api: httpx.Client) -> None:
    card = api.get("/cards/base1-4").json()["data"]
    assert (card["name"], card["number"], card["hp"]) == ("Charizard", "4", "120")
    assert card["rarity"] == "Rare Holo"
    assert card["set"]["id"] == "base1" and card["set"]["printedTotal"] == 102
    assert card["images"]["small"].startswith("https://")
    energy = api.get("/cards/base1-97").json()["data"]
    assert "rarity" not in energy  # basic energies have no rarity key, as in the real data
    missing = api.get("/cards/base1-999")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == 404 and missing.json()["error"]["message"]


@pytest.mark.parametrize(("q", "expected"), [
    ("name:charizard set.id:base1", ["base1-4"]),
    ("!name:charizard", ["base1-4", "base4-4"]),  # exact match excludes "Dark Charizard"
    ('name:"dark charizard"', ["base5-4", "base5-21"]),
    ('set.id:base5 rarity:"Rare Secret"', ["base5-83"]),
    ('attacks.name:"Fire Spin"', ["base1-4", "base4-4"]),
    ("nationalPokedexNumbers:[1 TO 3] set.id:base1", ["base1-15", "base1-30", "base1-44"]),
    ("nationalPokedexNumbers:{1 TO 3} set.id:base1", ["base1-30"]),
    ("set.id:base1 supertype:energy -name:*double*", [f"base1-{n}" for n in range(97, 103)]),
])
def test_q_syntax(api: httpx.Client, q: str, expected: list[str]) -> None:
    assert sorted(ids(api, q)) == sorted(expected)


def test_q_and_or_not_wildcards_and_ranges(api: httpx.Client) -> None:
    charizards = ids(api, "name:charizard")
    assert "base5-4" in charizards and len(charizards) > 2  # keyword matches a whole word
    assert set(ids(api, "name:charizard -set.id:base1")) == set(charizards) - {"base1-4"}
    starts = ids(api, "name:char* set.id:base1")
    assert sorted(starts) == ["base1-24", "base1-4", "base1-46"]  # Charmeleon, Charizard, Charmander
    either = ids(api, "set.id:base1 (name:pikachu OR name:raichu)")
    assert sorted(either) == ["base1-14", "base1-58"]
    hp = [int(c["hp"]) for c in api.get("/cards", params={"q": "set.id:sv1 hp:[300 TO *]",
                                                         "select": "hp"}).json()["data"]]
    assert hp and min(hp) >= 300
    assert api.get("/cards", params={"q": "charizard"}).status_code == 400  # field:value is required
    assert api.get("/cards", params={"q": "name:(charizard"}).status_code == 400
    assert api.get("/cards", params={"q": "hp:[1 TO]"}).status_code == 400


def test_paging_envelope(api: httpx.Client) -> None:
    full = api.get("/cards", params={"q": "set.id:sv1"}).json()
    assert (full["page"], full["pageSize"], full["count"], full["totalCount"]) == (1, 250, 250, 258)
    last = api.get("/cards", params={"q": "set.id:sv1", "page": 2}).json()
    assert (last["count"], last["totalCount"]) == (8, 258)
    small = api.get("/cards", params={"q": "set.id:base1", "pageSize": 10, "page": 3}).json()
    assert small["page"] == 3 and small["pageSize"] == 10 and small["count"] == 10
    assert small["data"][0]["id"] == "base1-21"
    assert api.get("/cards", params={"pageSize": 1000}).json()["pageSize"] == 250
    assert api.get("/cards", params={"q": "set.id:base1", "page": 50}).json()["data"] == []
    for bad in ({"page": 0}, {"pageSize": 0}, {"page": "two"}):
        assert api.get("/cards", params=bad).status_code == 400


def test_order_by(api: httpx.Client) -> None:
    def names(order: str) -> list[str]:
        data = api.get("/cards", params={"q": "set.id:base1 supertype:pokémon", "orderBy": order,
                                         "select": "name,number"}).json()["data"]
        return [c["name"] for c in data]

    ascending = names("name")
    assert ascending == sorted(ascending, key=str.lower)
    assert names("-name") == sorted(ascending, key=str.lower, reverse=True)
    sets = api.get("/sets", params={"q": "series:base", "orderBy": "-releaseDate"}).json()["data"]
    assert [s["releaseDate"] for s in sets] == sorted((s["releaseDate"] for s in sets), reverse=True)
    params = {"q": "name:charizard", "orderBy": "set.id,-number", "select": "id"}
    mixed = api.get("/cards", params=params).json()
    pairs = [c["id"].split("-") for c in mixed["data"]]
    assert [p[0] for p in pairs] == sorted(p[0] for p in pairs)
    # number is a string: the emulator sorts it lexically (client code must not rely on server order).
    params = {"q": "set.id:base1", "orderBy": "number", "pageSize": 3, "select": "number"}
    numbers = [c["number"] for c in api.get("/cards", params=params).json()["data"]]
    assert numbers == ["1", "10", "100"]


def test_select_limits_fields(api: httpx.Client) -> None:
    data = api.get("/cards", params={"q": "set.id:base2", "select": "id,name", "pageSize": 2}).json()["data"]
    assert all(set(card) == {"id", "name"} for card in data)
    assert set(api.get("/cards/base1-4", params={"select": "id,set"}).json()["data"]) == {"id", "set"}


def test_sets(api: httpx.Client) -> None:
    everything = api.get("/sets").json()
    assert everything["totalCount"] == 170
    svp = api.get("/sets/svp").json()["data"]
    assert (svp["total"], svp["printedTotal"]) == (75, 102)  # stale total, as in the real data
    assert api.get("/sets", params={"q": "id:base1"}).json()["data"][0]["name"] == "Base"
    assert api.get("/sets/nope").status_code == 404
    assert "Hyper Rare" in api.get("/rarities").json()["data"]
    assert api.get("/supertypes").json()["data"] == ["Energy", "Pokémon", "Trainer"]


def test_prices_are_deterministic_and_well_formed(pokemontcg_emulator: PokemonTcgEmulator,
                                                  api: httpx.Client) -> None:
    data = api.get("/cards", params={"q": "set.id:sv1"}).json()["data"]
    again = api.get("/cards", params={"q": "set.id:sv1"}).json()["data"]
    assert [c.get("tcgplayer") for c in data] == [c.get("tcgplayer") for c in again]
    with_tcg = [c for c in data if "tcgplayer" in c]
    assert 0 < len(with_tcg) < len(data)  # some cards have no price at all
    assert any("cardmarket" not in c for c in data)
    for card in with_tcg:
        block = card["tcgplayer"]
        assert block["url"].endswith(card["id"]) and block["updatedAt"] == "2025/11/14"
        assert set(block["prices"]) <= PRINTINGS and block["prices"]
        for price in block["prices"].values():
            assert set(price) == {"low", "mid", "high", "market", "directLow"}
    printings = {p for c in with_tcg for p in c["tcgplayer"]["prices"]}
    assert printings >= {"normal", "reverseHolofoil", "holofoil"}
    card = pokemontcg_emulator.cards_by_id["sv1-1"]
    assert generate_prices(card) == pokemontcg_emulator.prices_for("sv1-1")


def test_price_override(pokemontcg_emulator: PokemonTcgEmulator, api: httpx.Client) -> None:
    block = {"url": "x", "updatedAt": "2025/01/01", "prices": {"holofoil": {"low": 1, "mid": 2, "high": 3,
                                                                           "market": 2.5, "directLow": None}}}
    pokemontcg_emulator.set_card_prices("base1-4", tcgplayer=block, cardmarket=None)
    card = api.get("/cards/base1-4").json()["data"]
    assert card["tcgplayer"] == block and "cardmarket" not in card


def test_api_key_optional_unless_required(emulator_factory: Any) -> None:
    open_emulator = emulator_factory(PokemonTcgEmulator)
    assert httpx.get(open_emulator.base_url + "/cards/base1-4").status_code == 200
    wrong = httpx.get(open_emulator.base_url + "/cards/base1-4", headers={"X-Api-Key": "wrong"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == 403
    strict = emulator_factory(PokemonTcgEmulator, require_api_key=True)
    assert httpx.get(strict.base_url + "/cards/base1-4").status_code == 403
    keyed = httpx.get(strict.base_url + "/cards/base1-4", headers={"X-Api-Key": DEMO_API_KEY})
    assert keyed.status_code == 200


def test_anonymous_requests_are_rate_limited(emulator_factory: Any) -> None:
    emulator = emulator_factory(PokemonTcgEmulator, anonymous_per_minute=3)
    statuses = [httpx.get(emulator.base_url + "/sets/base1").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    keyed = httpx.get(emulator.base_url + "/sets/base1", headers={"X-Api-Key": DEMO_API_KEY})
    assert keyed.status_code == 200
    daily = emulator_factory(PokemonTcgEmulator, key_per_day=1)
    headers = {"X-Api-Key": DEMO_API_KEY}
    statuses = [httpx.get(daily.base_url + "/sets/base1", headers=headers).status_code for _ in range(2)]
    assert statuses == [200, 429]


def test_faults_and_recording(pokemontcg_emulator: PokemonTcgEmulator, api: httpx.Client) -> None:
    pokemontcg_emulator.faults.fail_next(1, status=503, path="/v2/cards")
    assert api.get("/cards", params={"q": "set.id:base1"}).status_code == 503
    assert api.get("/cards", params={"q": "set.id:base1"}).status_code == 200
    recorded = pokemontcg_emulator.requests_to("/v2/cards")
    assert [r.fault for r in recorded] == ["fail", None]
    assert recorded[0].param("q") == "set.id:base1" and recorded[0].header("x-api-key") == DEMO_API_KEY


def test_parse_query_directly() -> None:
    card = {"name": "Dark Charizard", "hp": "80", "set": {"id": "base5"}, "subtypes": ["Stage 2"]}
    assert parse_query('name:charizard subtypes:"stage 2"')(card)
    assert not parse_query("!name:charizard")(card)
    assert parse_query("hp:[50 TO 80] -set.id:base1")(card)
    assert not parse_query("hp:{50 TO 80}")(card)
    assert parse_query("set.id:base1 OR (name:dark* AND hp:80)")(card)
