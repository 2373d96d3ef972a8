"""The REST API against the live server: `streamlit run app.py` on a free port, a demo collection for the local
owner, a second member, tokens made with the CLI. Every endpoint and error code of the plan, isolation between
members, optimistic concurrency, and schemathesis over /api/openapi.json. Rate limits: tests/test_api_limits.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from tests.api_support import app_env, cli, new_token, serve


@dataclass
class Server:
    url: str
    env: dict[str, str]
    tokens: dict[str, str]

    def client(self, who: str | None = "local") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("api")
    env = app_env(
        f"sqlite:///{data / 'vitrine.db'}",
        VITRINE_API_RATE_CATALOGUE="100000/minute",
        VITRINE_API_RATE_COLLECTION="100000/minute",
    )
    cli(env, "demo", "load")
    for name in ("bob", "fuzz"):
        cli(env, "users", "add", name, stdin="a long enough password\n")
    tokens = {user: new_token(env, None if user == "local" else user) for user in ("local", "bob", "fuzz")}
    with serve(env, data / "server.log") as url:
        yield Server(url, env, tokens)


def error_of(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


# -- authentication ---------------------------------------------------------------------------------------------
AUTHENTICATED_GETS = [
    "/api/cards", "/api/cards/base1-4", "/api/cards/autocomplete?q=pi", "/api/sets", "/api/sets/base1",
    "/api/card-conditions", "/api/collection/entries", "/api/collection/entries/1", "/api/collection/summary",
    "/api/collection/value", "/api/profile/summary", "/api/status/external", "/api/items", "/api/items/1",
]  # fmt: skip


@pytest.mark.parametrize("path", AUTHENTICATED_GETS)
def test_every_endpoint_needs_a_token(server: Server, path: str) -> None:
    with server.client(None) as anonymous:
        response = anonymous.get(path)
        error_of(response, 401, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"].startswith("Bearer")
        error_of(anonymous.get(path, headers={"Authorization": "Bearer vt_not-a-real-token"}), 401, "UNAUTHENTICATED")
        error_of(anonymous.get(path, headers={"Authorization": "Basic dXNlcjpwdw=="}), 401, "UNAUTHENTICATED")


def test_tokens_cli_lists_without_the_secret_and_revoked_tokens_stop_working(server: Server) -> None:
    created = json.loads(cli(server.env, "tokens", "create", "--name", "short-lived", "--json"))
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert httpx.get(f"{server.url}/api/collection/value", headers=headers).status_code == 200
    listed = json.loads(cli(server.env, "tokens", "list", "--json"))
    assert created["id"] in {t["id"] for t in listed}
    assert created["token"] not in json.dumps(listed)
    cli(server.env, "tokens", "revoke", str(created["id"]))
    error_of(httpx.get(f"{server.url}/api/collection/value", headers=headers), 401, "UNAUTHENTICATED")


# -- catalogue --------------------------------------------------------------------------------------------------
def test_cards_search_is_fuzzy_paged_and_priced(server: Server) -> None:
    with server.client() as api:
        page = api.get("/api/cards", params={"q": "charzard", "pageSize": 5}).json()
    first = page["data"][0]
    assert first["name"] == "Charizard"
    assert set(page["meta"]) == {"page", "pageSize", "totalPages", "totalItems", "cacheExpiresAt"}
    assert page["meta"]["page"] == 1 and page["meta"]["pageSize"] == 5 and page["meta"]["totalItems"] >= 2
    assert page["meta"]["totalPages"] == -(-page["meta"]["totalItems"] // 5)
    assert page["meta"]["cacheExpiresAt"] and page["warnings"] == []
    for field in ("cardNumber", "numberSort", "set", "rarity", "images", "types", "marketPrice"):
        assert field in first
    charizard = next(card for card in page["data"] if card["id"] == "base1-4")
    assert charizard["marketPrice"]["amount"] > 0 and charizard["marketPrice"]["currency"]
    assert set(charizard["marketPrice"]) == {"amount", "currency", "source", "lastSeenAt"}


def test_cards_filters_and_sorting(server: Server) -> None:
    with server.client() as api:
        one = api.get("/api/cards", params={"setId": "base1", "cardNumber": "4"}).json()
        assert [c["id"] for c in one["data"]] == ["base1-4"]
        by_code = api.get("/api/cards", params={"setExternalId": "BS", "cardNumber": "4"}).json()
        assert [c["id"] for c in by_code["data"]] == ["base1-4"]
        holos = api.get("/api/cards", params={"setId": "base1", "rarityId": "rare-holo", "pageSize": 100}).json()
        assert holos["data"] and {c["rarity"]["id"] for c in holos["data"]} == {"rare-holo"}
        fire = api.get("/api/cards", params={"setId": "base1", "type": "Fire", "pageSize": 100}).json()
        assert fire["data"] and all("Fire" in c["types"] for c in fire["data"])
        by_number = api.get("/api/cards", params={"setId": "base1", "sort": "number", "pageSize": 12}).json()
        assert [c["cardNumber"] for c in by_number["data"][:3]] == ["1", "2", "3"]
        desc = api.get("/api/cards", params={"setId": "base1", "sort": "name", "order": "desc", "pageSize": 100})
        names = [c["name"].casefold() for c in desc.json()["data"]]
        assert names == sorted(names, reverse=True)
        second = api.get("/api/cards", params={"setId": "base1", "sort": "number", "page": 2, "pageSize": 12})
        assert second.json()["data"][0]["cardNumber"] == "13"
        unknown = api.get("/api/cards", params={"setId": "no-such-set"}).json()
        assert unknown["data"] == [] and unknown["warnings"][0]["code"] == "UNKNOWN_FILTER_VALUE"


@pytest.mark.parametrize(
    "params", [{"page": 0}, {"pageSize": 101}, {"pageSize": "x"}, {"sort": "price"}, {"order": "up"}, {"colour": "red"}]
)
def test_cards_refuse_invalid_filters(server: Server, params: dict) -> None:
    with server.client() as api:
        error = error_of(api.get("/api/cards", params=params), 400, "INVALID_FILTER")
    assert error["details"]["fields"]


def test_one_card_with_price_history_and_by_external_id(server: Server) -> None:
    with server.client() as api:
        card = api.get("/api/cards/base1-4", params={"includePriceHistory": "true"}).json()
        assert card["id"] == "base1-4" and card["set"]["id"] == "base1"
        assert card["priceHistory"] and {"source", "amount", "currency", "observedAt"} <= set(card["priceHistory"][0])
        assert api.get("/api/cards/base1-4").json()["priceHistory"] is None
        assert api.get("/api/cards/BASE1-4", params={"externalId": "true"}).json()["id"] == "base1-4"
        error_of(api.get("/api/cards/base1-9999"), 404, "CARD_NOT_FOUND")


def test_autocomplete(server: Server) -> None:
    with server.client() as api:
        suggestions = api.get("/api/cards/autocomplete", params={"q": "pika"}).json()["data"]
        assert 1 <= len(suggestions) <= 8 and all("Pikachu" in s["name"] for s in suggestions[:3])
        limited = api.get("/api/cards/autocomplete", params={"q": "pi", "limit": 3, "setId": "base1"}).json()["data"]
        assert len(limited) == 3 and {s["set"]["id"] for s in limited} == {"base1"}
        error_of(api.get("/api/cards/autocomplete", params={"q": "p"}), 400, "QUERY_TOO_SHORT")
        error_of(api.get("/api/cards/autocomplete"), 400, "QUERY_TOO_SHORT")
        error_of(api.get("/api/cards/autocomplete", params={"q": "pika", "limit": 21}), 400, "INVALID_FILTER")


def test_sets_and_one_set(server: Server) -> None:
    with server.client() as api:
        sets = api.get("/api/sets", params={"pageSize": 100}).json()
        dates = [s["releaseDate"] for s in sets["data"]]
        assert dates == sorted(dates, reverse=True) and sets["meta"]["totalItems"] >= len(sets["data"])
        base = api.get("/api/sets/base1").json()
        assert (base["name"], base["externalId"], base["cachedCards"], base["totalCards"]) == ("Base", "BS", 102, 102)
        assert base["lastSyncAt"] and base["cacheExpiresAt"]
        error_of(api.get("/api/sets/nope"), 404, "SET_NOT_FOUND")


def test_card_conditions_are_sorted_with_near_mint_the_default(server: Server) -> None:
    with server.client() as api:
        conditions = api.get("/api/card-conditions").json()["data"]
    assert [c["code"] for c in conditions] == ["NM", "LP", "MP", "HP", "DMG"]
    assert [c["code"] for c in conditions if c["isDefault"]] == ["NM"]
    assert [c["sortOrder"] for c in conditions] == sorted(c["sortOrder"] for c in conditions)


# -- collection -------------------------------------------------------------------------------------------------
def test_add_increment_refuse_twin_edit_and_delete_an_entry(server: Server) -> None:
    with server.client() as api:
        before = api.get("/api/collection/value").json()["totalEstimatedValue"]
        created = api.post("/api/collection/entries", json={
            "cardId": "base1-2", "quantity": 2, "conditionCode": "HP", "printing": "holofoil",
            "acquiredAt": "2024-05-01", "purchasePrice": 12.5, "notes": "from the fair",
        })  # fmt: skip
        assert created.status_code == 201, created.text
        change = created.json()
        entry = change["entry"]
        assert change["created"] is True and entry["quantity"] == 2 and entry["conditionCode"] == "HP"
        assert entry["purchasePrice"] == {"amount": 12.5, "currency": "EUR"} and entry["acquiredAt"] == "2024-05-01"
        unit = entry["estimatedUnitValue"]["amount"]
        assert change["collectionValueDelta"] == pytest.approx(2 * unit, abs=0.01) and unit > 0
        after = api.get("/api/collection/value").json()["totalEstimatedValue"]
        assert after == pytest.approx(before + change["collectionValueDelta"], abs=0.02)
        assert created.headers["location"] == f"/api/collection/entries/{entry['id']}"

        more = api.post("/api/collection/entries", json={"cardId": "base1-2", "conditionCode": "HP",
                                                          "printing": "holofoil"})  # fmt: skip
        assert more.status_code == 200 and more.json()["created"] is False
        assert more.json()["entry"]["id"] == entry["id"] and more.json()["entry"]["quantity"] == 3
        twin = {"cardId": "base1-2", "conditionCode": "HP", "printing": "holofoil", "duplicationStrategy": "separate"}
        error_of(api.post("/api/collection/entries", json=twin), 409, "ENTRY_EXISTS")

        error_of(api.post("/api/collection/entries", json={"cardId": "base1-2", "quantity": 0}), 400,
                 "INVALID_QUANTITY")  # fmt: skip
        error_of(api.post("/api/collection/entries", json={"cardId": "base1-2", "quantity": -3}), 400,
                 "INVALID_QUANTITY")  # fmt: skip
        error_of(api.post("/api/collection/entries", json={"cardId": "base1-2", "conditionCode": "XX"}), 400,
                 "INVALID_CONDITION")  # fmt: skip
        error_of(api.post("/api/collection/entries", json={"cardId": "nope-1"}), 404, "CARD_NOT_FOUND")
        error_of(api.post("/api/collection/entries", content=b"{not json"), 400, "INVALID_JSON")

        edited = api.patch(f"/api/collection/entries/{entry['id']}", json={"quantity": 5, "notes": None})
        assert edited.status_code == 200 and edited.json()["quantity"] == 5 and edited.json()["notes"] is None
        error_of(api.patch(f"/api/collection/entries/{entry['id']}", json={"quantity": 0}), 400, "INVALID_QUANTITY")
        error_of(api.patch(f"/api/collection/entries/{entry['id']}", json={"conditionCode": "XX"}), 400,
                 "INVALID_CONDITION")  # fmt: skip

        deleted = api.delete(f"/api/collection/entries/{entry['id']}").json()
        assert deleted == {"deleted": True, "collectionValueDelta": pytest.approx(-5 * unit, abs=0.01),
                           "currency": "EUR"}  # fmt: skip
        error_of(api.delete(f"/api/collection/entries/{entry['id']}"), 404, "ENTRY_NOT_FOUND")
        error_of(api.patch(f"/api/collection/entries/{entry['id']}", json={"quantity": 1}), 404, "ENTRY_NOT_FOUND")
        error_of(api.get("/api/collection/entries/abc"), 404, "ENTRY_NOT_FOUND")
        assert api.get("/api/collection/value").json()["totalEstimatedValue"] == pytest.approx(before, abs=0.02)


WISHES = """Portfolio Name,Category,Set,Product Name,Card Number,Rarity,Variance,Grade,Card Condition,\
Average Cost Paid,Quantity,Market Price (As of 2025-11-14),Price Override,Watchlist,Date Added,Notes
Wants,Pokemon,Base,Hitmonchan,7/102,Holo Rare,Holofoil,Ungraded,Near Mint,,0,$20.00,,true,,
"""


def test_copies_join_only_a_held_entry_with_the_same_purchase_details(server: Server, tmp_path: Path) -> None:
    """A wished card gets an owned entry of its own (201); copies with another price or notes than the held
    entry's get a new one too (201, keptApartFrom); the same details, or none, are added to it (200)."""
    wishes = tmp_path / "collectr.csv"
    wishes.write_text(WISHES, encoding="utf-8")
    cli(server.env, "import", "cards-csv", str(wishes))
    card = {"cardId": "base1-7", "printing": "holofoil"}
    with server.client("bob") as api:  # the wish is the local member's: bob's first copy is a plain add
        bobs = api.post("/api/collection/entries", json=card).json()
        assert bobs["message"] == "Added Hitmonchan (Base 7) to your collection."
        assert api.delete(f"/api/collection/entries/{bobs['entry']['id']}").status_code == 200
    with server.client() as api:
        wished = [e for e in api.get("/api/collection/entries", params={"pageSize": 100}).json()["data"]
                  if e["cardId"] == "base1-7"]  # fmt: skip
        first = api.post("/api/collection/entries", json=card | {"purchasePrice": 12, "notes": "fair"})
        assert first.status_code == 201, first.text
        change = first.json()
        assert (change["created"], change["keptApartFrom"], change["entry"]["quantity"]) == (True, None, 1)
        assert f"also on your wish list (entry #{wished[0]['id']})" in change["message"]
        owned = change["entry"]["id"]
        assert owned != wished[0]["id"]
        assert api.get(f"/api/collection/entries/{wished[0]['id']}").json()["quantity"] == 1  # the wish as it was

        plain = api.post("/api/collection/entries", json=card)
        assert plain.status_code == 200 and plain.json()["entry"]["id"] == owned and not plain.json()["created"]
        other = api.post("/api/collection/entries", json=card | {"quantity": 2, "purchasePrice": 8, "notes": "fair"})
        assert other.status_code == 201, other.text
        apart = other.json()
        assert (apart["created"], apart["keptApartFrom"]) == (True, owned) and apart["entry"]["id"] != owned
        assert apart["entry"]["purchasePrice"] == {"amount": 8.0, "currency": "EUR"} and apart["entry"]["quantity"] == 2
        assert other.headers["location"] == f"/api/collection/entries/{apart['entry']['id']}"
        assert "keeping the price paid you gave apart" in apart["message"]
        assert api.get(f"/api/collection/entries/{owned}").json()["quantity"] == 2
        for entry in (owned, apart["entry"]["id"]):
            api.delete(f"/api/collection/entries/{entry}")


def test_entries_list_pages_and_filters(server: Server) -> None:
    with server.client() as api:
        everything = api.get("/api/collection/entries", params={"pageSize": 100}).json()
        assert everything["meta"]["totalItems"] == len(everything["data"]) > 5
        assert all(e["cardId"] and e["card"]["set"]["id"] for e in everything["data"])
        page_two = api.get("/api/collection/entries", params={"pageSize": 5, "page": 2}).json()
        assert [e["id"] for e in page_two["data"]] == [e["id"] for e in everything["data"][5:10]]
        base = api.get("/api/collection/entries", params={"setId": "base1", "pageSize": 100}).json()["data"]
        assert base and {e["card"]["set"]["id"] for e in base} == {"base1"}
        error_of(api.get("/api/collection/entries", params={"pageSize": 0}), 400, "INVALID_REQUEST")


def test_optimistic_concurrency(server: Server) -> None:
    with server.client() as api:
        entry = api.post("/api/collection/entries", json={"cardId": "base1-15", "conditionCode": "DMG"}).json()["entry"]
        read = api.get(f"/api/collection/entries/{entry['id']}")
        etag, last_modified = read.headers["etag"], read.headers["last-modified"]
        time.sleep(1.1)  # HTTP dates have one-second resolution
        first = api.patch(f"/api/collection/entries/{entry['id']}", json={"quantity": 2},
                          headers={"If-Unmodified-Since": last_modified, "If-Match": etag})  # fmt: skip
        assert first.status_code == 200 and first.headers["etag"] != etag
        stale_date = api.patch(f"/api/collection/entries/{entry['id']}", json={"quantity": 7},
                               headers={"If-Unmodified-Since": last_modified})  # fmt: skip
        error_of(stale_date, 412, "PRECONDITION_FAILED")
        path = f"/api/collection/entries/{entry['id']}"
        stale_tag = api.patch(path, json={"quantity": 7}, headers={"If-Match": etag})
        error_of(stale_tag, 412, "PRECONDITION_FAILED")
        error_of(api.delete(f"/api/collection/entries/{entry['id']}", headers={"If-Match": etag}), 412,
                 "PRECONDITION_FAILED")  # fmt: skip
        assert api.get(f"/api/collection/entries/{entry['id']}").json()["quantity"] == 2  # nothing applied
        later = format_datetime(datetime.now(UTC) + timedelta(minutes=5), usegmt=True)
        fresh = api.patch(f"/api/collection/entries/{entry['id']}", json={"quantity": 7},
                          headers={"If-Unmodified-Since": later, "If-Match": first.headers["etag"]})  # fmt: skip
        assert fresh.status_code == 200 and fresh.json()["quantity"] == 7
        assert api.delete(f"/api/collection/entries/{entry['id']}").json()["deleted"] is True


def test_a_token_sees_and_changes_only_its_members_entries(server: Server) -> None:
    with server.client() as ann, server.client("bob") as bob:
        ann_entry = ann.get("/api/collection/entries", params={"pageSize": 1}).json()["data"][0]
        assert bob.get("/api/collection/entries").json()["meta"]["totalItems"] == 0
        mine = bob.post("/api/collection/entries", json={"cardId": "base1-4", "quantity": 4})
        assert mine.status_code == 201
        bob_entry = mine.json()["entry"]
        path = f"/api/collection/entries/{ann_entry['id']}"
        error_of(bob.get(path), 404, "ENTRY_NOT_FOUND")
        error_of(bob.patch(path, json={"quantity": 99}), 404, "ENTRY_NOT_FOUND")
        error_of(bob.delete(path), 404, "ENTRY_NOT_FOUND")
        error_of(ann.get(f"/api/collection/entries/{bob_entry['id']}"), 404, "ENTRY_NOT_FOUND")
        assert ann.get(path).json()["quantity"] == ann_entry["quantity"]
        assert [e["id"] for e in bob.get("/api/collection/entries").json()["data"]] == [bob_entry["id"]]
        assert bob.get("/api/collection/value").json()["totalCards"] == 4
        assert bob.get("/api/profile/summary").json()["member"]["username"] == "bob"
        assert ann.get("/api/profile/summary").json()["member"]["username"] == "local"


def test_value_and_summary_are_the_numbers_of_value_json(server: Server) -> None:
    report = json.loads(cli(server.env, "value", "--json"))
    with server.client() as api:
        value = api.get("/api/collection/value").json()
        summary = api.get("/api/collection/summary").json()
    cards = report["byKind"]["card"]
    assert value == {"totalEstimatedValue": cards["estimatedValue"], "totalCards": cards["items"],
                     "cardsWithoutPrice": cards["itemsWithoutPrice"], "currency": report["currency"]}  # fmt: skip
    assert value["cardsWithoutPrice"] >= 1  # the demo has one unpriced card
    expected = {s["set"]["id"]: (s["uniqueCards"], s["totalQuantity"], s["estimatedValue"]) for s in report["bySet"]}
    got = {s["set"]["id"]: (s["uniqueCards"], s["totalQuantity"], s["estimatedValue"]) for s in summary["data"]}
    assert got == expected and summary["meta"]["lastRefreshedAt"]
    with server.client() as api:  # each set as the catalogue endpoints describe it
        described = {s["set"]["id"]: api.get(f"/api/sets/{s['set']['id']}").json() for s in summary["data"]}
    for entry in summary["data"]:
        shown = described[entry["set"]["id"]]
        assert (entry["set"]["series"], entry["set"]["releaseDate"]) == (shown["series"], shown["releaseDate"])
        assert entry["set"]["series"] is not None


def test_profile_summary(server: Server) -> None:
    with server.client() as api:
        profile = api.get("/api/profile/summary").json()
        value = api.get("/api/collection/value").json()
    assert profile["member"]["username"] == "local" and profile["value"] == value
    values = [s["estimatedValue"] for s in profile["topSets"]]
    assert values == sorted(values, reverse=True) and 1 <= len(values) <= 5
    moments = [a["updatedAt"] for a in profile["recentActivity"]]
    assert moments == sorted(moments, reverse=True) and len(moments) <= 10


def test_external_status(server: Server) -> None:
    with server.client() as api:
        status = api.get("/api/status/external").json()["data"]
    assert [s["service"] for s in status] == ["pokemontcg", "numista", "discogs"]
    assert {s["service"]: s["status"] for s in status}["numista"] == "not_connected"
    for service in status:
        assert set(service) == {"service", "status", "source", "snapshotDate", "lastSuccessAt", "lastErrorAt",
                                "lastError", "cacheExpiresAt"}  # fmt: skip
    cards = status[0]  # the demo's catalogue is the shipped snapshot: never synced, and not reported as a sync
    assert (cards["status"], cards["source"], cards["lastSuccessAt"]) == ("offline", "offline snapshot", None)
    assert cards["snapshotDate"] is not None


# -- coins and records: /api/items ----------------------------------------------------------------------------------
def test_items_of_every_kind_read_and_coins_and_records_written(server: Server) -> None:
    with server.client() as api, server.client("bob") as bob:
        coins = api.get("/api/items", params={"kind": "coin", "pageSize": 100}).json()
        assert coins["data"] and {i["kind"] for i in coins["data"]} == {"coin"}
        assert coins["meta"]["totalItems"] == len(coins["data"])
        assert all(set(i["sync"]) == {"numista", "discogs"} and i["sync"]["discogs"] is None for i in coins["data"])
        assert all(i["syncTargets"] == {"discogs": None} for i in coins["data"])
        records = api.get("/api/items", params={"kind": "record", "pageSize": 100}).json()["data"]
        targets = {"collection": "NOT_SYNCED", "wantlist": "NOT_SYNCED", "marketplace": "NOT_SYNCED"}
        assert records and all(i["syncTargets"] == {"discogs": targets} for i in records)
        kinds = {i["kind"] for i in api.get("/api/items", params={"pageSize": 100}).json()["data"]}
        assert kinds <= {"coin", "record", "card"} and len(kinds) >= 2
        error_of(api.get("/api/items", params={"kind": "stamp"}), 400, "INVALID_REQUEST")

        made = api.post("/api/items", json={"kind": "record", "title": "Kind of Blue", "grade": "Near Mint (NM or M-)",
                                            "year": 1959, "purchasePrice": 30, "quantity": 2})  # fmt: skip
        assert made.status_code == 201, made.text
        record = made.json()
        assert (record["kind"], record["title"], record["year"], record["quantity"]) == ("record", "Kind of Blue",
                                                                                         1959, 2)  # fmt: skip
        assert record["purchasePrice"] == {"amount": 30.0, "currency": "EUR"}
        path = f"/api/items/{record['id']}"
        etag = api.get(path).headers["etag"]
        edited = api.patch(path, json={"quantity": 3, "country": "US"}, headers={"If-Match": etag})
        assert edited.status_code == 200 and (edited.json()["quantity"], edited.json()["country"]) == (3, "US")
        error_of(api.patch(path, json={"quantity": 4}, headers={"If-Match": etag}), 412, "PRECONDITION_FAILED")
        error_of(api.patch(path, json={"quantity": 0}), 400, "INVALID_QUANTITY")
        error_of(api.patch(path, json={"title": None}), 400, "INVALID_TITLE")
        error_of(api.post("/api/items", json={"kind": "card", "title": "x"}), 400, "INVALID_KIND")
        error_of(api.post("/api/items", json={"kind": "coin", "title": "   "}), 400, "INVALID_TITLE")
        error_of(bob.get(path), 404, "ITEM_NOT_FOUND")
        error_of(bob.delete(path), 404, "ITEM_NOT_FOUND")
        card = api.get("/api/items", params={"kind": "card", "pageSize": 1}).json()["data"][0]
        error_of(api.patch(f"/api/items/{card['id']}", json={"quantity": 9}), 409, "USE_ENTRIES")
        assert api.delete(path).json()["deleted"] is True
        error_of(api.get(path), 404, "ITEM_NOT_FOUND")


# -- the contract -----------------------------------------------------------------------------------------------
def test_openapi_documents_every_endpoint_and_the_docs_page_lists_them(server: Server) -> None:
    document = httpx.get(f"{server.url}/api/openapi.json").json()
    assert document["openapi"].startswith("3.")
    operations = {(method.upper(), path) for path, methods in document["paths"].items() for method in methods}
    assert operations == {
        ("GET", "/api/cards"), ("GET", "/api/cards/autocomplete"), ("GET", "/api/cards/{cardId}"),
        ("GET", "/api/sets"), ("GET", "/api/sets/{setId}"), ("GET", "/api/card-conditions"),
        ("GET", "/api/collection/entries"), ("POST", "/api/collection/entries"),
        ("GET", "/api/collection/entries/{entryId}"), ("PATCH", "/api/collection/entries/{entryId}"),
        ("DELETE", "/api/collection/entries/{entryId}"), ("GET", "/api/collection/summary"),
        ("GET", "/api/collection/value"), ("GET", "/api/profile/summary"), ("GET", "/api/status/external"),
        ("GET", "/api/items"), ("POST", "/api/items"), ("GET", "/api/items/{itemId}"), ("PATCH", "/api/items/{itemId}"),
        ("DELETE", "/api/items/{itemId}"),
    }  # fmt: skip
    assert "PRECONDITION_FAILED" in json.dumps(document["paths"]["/api/collection/entries/{entryId}"]["patch"])
    page = httpx.get(f"{server.url}/api/docs")
    assert page.status_code == 200 and "/api/collection/entries/{entryId}" in page.text


def test_unknown_paths_and_methods_answer_in_the_error_format(server: Server) -> None:
    with server.client() as api:
        error_of(api.get("/api/nothing-here"), 404, "NOT_FOUND")
        refused = api.put("/api/cards")
        error_of(refused, 405, "METHOD_NOT_ALLOWED")
        assert "GET" in refused.headers["allow"]


def test_the_dashboard_is_still_served_beside_the_api(server: Server) -> None:
    assert httpx.get(f"{server.url}/_stcore/health").text == "ok"
    assert "<html" in httpx.get(f"{server.url}/").text.lower()


# -- property-based: schemathesis over the published document -----------------------------------------------------
def test_schemathesis_finds_no_server_error_and_no_schema_violation(server: Server, tmp_path: Path) -> None:
    """Every check of schemathesis (server errors, status codes, content types, response schemas, headers, Allow on
    405, acceptance of schema-valid and rejection of schema-invalid requests), all phases, stateful links included.
    Run through its CLI: its pytest plugin does not support pytest 9 yet. "fuzz" is a member of its own, so what
    the fuzzer adds or deletes never touches the other tests' data. One worker: with two threads, Hypothesis's
    ast.parse of a lambda's source can fail inside CPython 3.11 ("AST constructor recursion depth mismatch")."""
    done = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/api/openapi.json", "--url", server.url,
         "-H", f"Authorization: Bearer {server.tokens['fuzz']}", "--checks", "all", "--max-examples", "30",
         "--seed", "20261201", "--workers", "1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,  # its .schemathesis cache stays out of the repo
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Tested: 20" in done.stdout


def test_log_has_no_server_error(server: Server) -> None:
    log = Path(server.env["DATABASE_URL"].removeprefix("sqlite:///")).parent / "server.log"
    assert "Traceback" not in log.read_text()
