"""The Numista emulator is as strict as the spec: API key, OAuth scopes and expiry, swagger-validated
bodies, quota; and the catalogue/collection routes answer in the documented shapes.

Why: a lenient emulator would let integration code pass tests that the real service would fail.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.emulators.fixtures import *  # noqa: F403
from tests.emulators.numista import (
    DEMO_API_KEY,
    DEMO_CLIENT_ID,
    DEMO_USER_ID,
    NO_USER_API_KEY,
    OTHER_API_KEY,
    OTHER_USER_ID,
    NumistaEmulator,
    request_body_schema,
)
from tests.emulators.oauth_clients import OAuth2Client

ITEMS = f"/users/{DEMO_USER_ID}/collected_items"


@pytest.fixture
def api(numista_emulator: NumistaEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=numista_emulator.base_url, headers={"Numista-API-Key": DEMO_API_KEY},
                      timeout=5) as client:
        yield client


def bearer(emulator: NumistaEmulator, *scopes: str) -> dict[str, str]:
    token = emulator.issue_token(scopes=scopes or ("view_collection", "edit_collection"))
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------------- API key & OAuth
@pytest.mark.parametrize("headers", [{}, {"Numista-API-Key": "not-a-key"}])
def test_every_route_needs_a_valid_api_key(numista_emulator: NumistaEmulator,
                                           headers: dict[str, str]) -> None:
    for path in ("/types?q=euro", "/types/420", f"/users/{DEMO_USER_ID}",
                 "/oauth_token?grant_type=client_credentials&scope=view_collection"):
        response = httpx.get(numista_emulator.base_url + path, headers=headers, timeout=5)
        assert response.status_code == 401
        assert response.json() == {"error_message": "Invalid or missing API key"}


def test_client_credentials_token(emulator_factory: Any) -> None:
    emulator = emulator_factory(NumistaEmulator, token_lifetime=90)
    params = {"grant_type": "client_credentials", "scope": "view_collection,edit_collection"}
    response = httpx.get(emulator.base_url + "/oauth_token", headers={"Numista-API-Key": DEMO_API_KEY},
                         params=params)
    assert response.status_code == 200
    token = response.json()
    assert set(token) == {"access_token", "token_type", "expires_in", "user_id"}
    assert (token["token_type"], token["expires_in"], token["user_id"]) == ("bearer", 90, DEMO_USER_ID)


@pytest.mark.parametrize(("key", "scope", "status"), [
    (DEMO_API_KEY, None, 401),  # missing scope: Numista's misleading 401
    (DEMO_API_KEY, "view_collection,delete_everything", 400),
    (NO_USER_API_KEY, "view_collection", 501),
])
def test_client_credentials_errors(numista_emulator: NumistaEmulator, key: str, scope: str | None,
                                   status: int) -> None:
    params = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    response = httpx.get(numista_emulator.base_url + "/oauth_token", params=params,
                         headers={"Numista-API-Key": key})
    assert response.status_code == status
    assert "error_message" in response.json()


def test_authorization_code_flow_with_authlib(numista_emulator: NumistaEmulator) -> None:
    redirect_uri = "http://127.0.0.1:9/callback"
    with OAuth2Client(DEMO_CLIENT_ID, DEMO_API_KEY, scope="view_collection", redirect_uri=redirect_uri,
                      token_endpoint_auth_method="none", headers={"Numista-API-Key": DEMO_API_KEY}) as oauth:
        url, state = oauth.create_authorization_url(numista_emulator.authorize_url)
        approval = httpx.get(url)
        assert approval.status_code == 302
        callback = approval.headers["location"]
        assert callback.startswith(redirect_uri) and f"state={state}" in callback
        # Numista's token endpoint is a GET with query parameters; the API key is the client secret.
        token = oauth.fetch_token(numista_emulator.base_url + "/oauth_token", method="GET",
                                  authorization_response=callback, client_secret=DEMO_API_KEY)
        assert token["user_id"] == DEMO_USER_ID
        assert oauth.get(numista_emulator.base_url + ITEMS).status_code == 200
        view_only = oauth.post(numista_emulator.base_url + ITEMS, json={"type": 420})
        assert view_only.status_code == 401
        # The code is single-use.
        params = {"grant_type": "authorization_code", "code": callback.split("code=")[1][:32],
                  "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_API_KEY, "redirect_uri": redirect_uri}
        again = httpx.get(numista_emulator.base_url + "/oauth_token",
                          headers={"Numista-API-Key": DEMO_API_KEY}, params=params)
        assert again.status_code == 400


def test_authorization_code_checks_redirect_uri_and_secret(numista_emulator: NumistaEmulator,
                                                           api: httpx.Client) -> None:
    code = numista_emulator.authorize(redirect_uri="http://127.0.0.1:9/a")
    base = {"grant_type": "authorization_code", "code": code, "client_id": DEMO_CLIENT_ID}
    assert api.get("/oauth_token", params={**base, "client_secret": "wrong",
                                           "redirect_uri": "http://127.0.0.1:9/a"}).status_code == 401
    assert api.get("/oauth_token", params={**base, "client_secret": DEMO_API_KEY,
                                           "redirect_uri": "http://127.0.0.1:9/b"}).status_code == 400
    assert api.get("/oauth_token", params={**base, "client_secret": DEMO_API_KEY}).status_code == 400


def test_user_routes_check_bearer_user_scope_and_expiry(numista_emulator: NumistaEmulator,
                                                        api: httpx.Client) -> None:
    assert api.get(ITEMS).status_code == 401  # no token
    assert api.get(ITEMS, headers={"Authorization": "Bearer nope"}).status_code == 401
    view_only = bearer(numista_emulator, "view_collection")
    edit_only = bearer(numista_emulator, "edit_collection")
    assert api.get(ITEMS, headers=view_only).status_code == 200
    assert api.get(f"/users/{DEMO_USER_ID}/collections", headers=view_only).status_code == 200
    assert api.get(ITEMS, headers=edit_only).status_code == 401  # edit does not imply view
    assert api.post(ITEMS, headers=view_only, json={"type": 420}).status_code == 401
    assert api.post(ITEMS, headers=edit_only, json={"type": 420}).status_code == 201
    assert api.get(f"/users/{OTHER_USER_ID}/collected_items", headers=view_only).status_code == 401
    assert api.get("/users/999999/collected_items", headers=view_only).status_code == 404
    # A token is bound to the API key that obtained it.
    assert api.get(ITEMS, headers={**view_only, "Numista-API-Key": OTHER_API_KEY}).status_code == 401
    numista_emulator.faults.expire_tokens()
    expired = api.get(ITEMS, headers=view_only)
    assert expired.status_code == 401 and "expired" in expired.json()["error_message"]


def test_short_lived_tokens_fault(numista_emulator: NumistaEmulator, api: httpx.Client) -> None:
    numista_emulator.faults.short_lived_tokens(0.2)
    params = {"grant_type": "client_credentials", "scope": "view_collection"}
    token = api.get("/oauth_token", params=params).json()
    assert token["expires_in"] == 1  # rounded up to whole seconds
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert api.get(ITEMS, headers=headers).status_code == 200
    threading.Event().wait(0.3)
    assert api.get(ITEMS, headers=headers).status_code == 401


def test_get_user_needs_only_the_key(api: httpx.Client) -> None:
    assert api.get(f"/users/{DEMO_USER_ID}").json()["username"] == "demo"
    assert api.get("/users/424242").status_code == 404


# ---------------------------------------------------------------------------- catalogue
def test_search_types(api: httpx.Client) -> None:
    result = api.get("/types", params={"q": "2 euro", "issuer": "grece"}).json()
    assert result["count"] == 1
    assert result["types"][0]["title"] == "2 Euro (Olympic Games in Athens)"
    assert set(result["types"][0]) >= {"id", "title", "issuer", "min_year", "max_year", "object_type"}
    assert api.get("/types").status_code == 400  # needs q/issuer/catalogue/date/year
    assert api.get("/types", params={"issuer": "Germany"}).status_code == 400  # codes, not names
    assert api.get("/types", params={"catalogue": 3, "number": "2"}).json()["types"][0]["id"] == 420
    assert {t["id"] for t in api.get("/types", params={"year": "1887-1890"}).json()["types"]} == {11331}
    assert api.get("/types", params={"date": "1900", "q": "victoria"}).json()["count"] == 1


def test_search_paging_is_one_based_and_count_capped(api: httpx.Client) -> None:
    everything = api.get("/types", params={"date": "1-3000", "count": 500}).json()
    assert everything["count"] == len(everything["types"]) <= 50
    page1 = api.get("/types", params={"date": "1-3000", "count": 5, "page": 1}).json()
    page2 = api.get("/types", params={"date": "1-3000", "count": 5, "page": 2}).json()
    assert page1["count"] == everything["count"]
    assert len(page1["types"]) == 5
    assert {t["id"] for t in page1["types"]}.isdisjoint({t["id"] for t in page2["types"]})
    assert api.get("/types", params={"q": "euro", "page": 0}).status_code == 400


def test_type_issues_and_prices(api: httpx.Client) -> None:
    detail = api.get("/types/420").json()
    assert detail["title"] == "5 Cents - Victoria" and detail["issuer"]["code"] == "canada"
    assert api.get("/types/1").status_code == 404
    issues = api.get("/types/70001/issues").json()
    assert isinstance(issues, list) and {i["mint_letter"] for i in issues} >= {"A", "D", "F", "G", "J"}
    eur = api.get("/types/420/issues/4201/prices", params={"currency": "EUR"}).json()
    usd = api.get("/types/420/issues/4201/prices", params={"currency": "USD"}).json()
    assert eur["currency"] == "EUR" and usd["currency"] == "USD"
    assert {p["grade"] for p in eur["prices"]} <= {"g", "vg", "f", "vf", "xf", "au", "unc"}
    assert usd["prices"][0]["price"] > eur["prices"][0]["price"]
    assert api.get("/types/420/issues/4203/prices").json() == {"currency": "EUR", "prices": []}
    assert api.get("/types/420/issues/700011/prices").status_code == 404  # issue of another type
    assert api.get("/types/420/issues/4201/prices", params={"currency": "EURO"}).status_code == 400


# ---------------------------------------------------------------------------- collected items
def test_request_schema_comes_from_the_official_swagger() -> None:
    post = request_body_schema("/users/{user_id}/collected_items", "POST")
    patch = request_body_schema("/users/{user_id}/collected_items/{item_id}", "PATCH")
    assert post["required"] == ["type"]
    assert post["properties"]["grade"]["enum"] == ["g", "vg", "f", "vf", "xf", "au", "unc"]
    assert post["properties"]["price"]["required"] == ["value", "currency"]  # inlined $ref
    assert None in patch["properties"]["grade"]["enum"]  # nullable: true
    assert "null" in patch["properties"]["price"]["type"]


def test_add_item_returns_201_expanded_and_never_deduplicates(numista_emulator: NumistaEmulator,
                                                               api: httpx.Client) -> None:
    numista_emulator.clear_collected_items(DEMO_USER_ID)
    headers = bearer(numista_emulator)
    body = {"type": 70001, "issue": 700012, "quantity": 2, "grade": "xf", "for_swap": False,
            "price": {"value": 1.5, "currency": "EUR"}, "collection": 1001, "acquisition_date": "2020-08-08",
            "axis": 6, "weight": 7.5, "grading_details": {"grading_company": 1, "slab_grade": 13}}
    created = api.post(ITEMS, headers=headers, json=body)
    assert created.status_code == 201
    item = created.json()
    assert item["type"] == {"id": 70001, "title": "1 Euro (1st map)", "category": "coin",
                            "issuer": {"code": "allemagne", "name": "Germany"}}
    assert item["issue"]["id"] == 700012 and item["issue"]["mint_letter"] == "D"
    assert item["collection"] == {"id": 1001, "name": "Euro coins"}
    assert "public_comment" not in item  # absent fields are omitted, not null
    assert api.post(ITEMS, headers=headers, json=body).status_code == 201
    assert len(numista_emulator.collected_items_for(DEMO_USER_ID)) == 2


def test_type_may_be_a_numeric_string(numista_emulator: NumistaEmulator, api: httpx.Client) -> None:
    assert api.post(ITEMS, headers=bearer(numista_emulator), json={"type": "420"}).status_code == 201


@pytest.mark.parametrize("body", [
    {},
    {"issue": 4201},
    {"type": "abc"},
    {"type": 420, "grade": "ms"},
    {"type": 420, "grade": "VF"},
    {"type": 420, "quantity": "2"},
    {"type": 420, "for_swap": "no"},
    {"type": 420, "price": {"value": 12}},
    {"type": 420, "price": {"value": "12", "currency": "EUR"}},
    {"type": 420, "price": {"value": 12, "currency": "euro"}},
    {"type": 420, "acquisition_date": "08/08/2020"},
    {"type": 420, "axis": 13},
    {"type": 420, "grading_details": {"slab_grade": 13}},
    {"type": 420, "grading_details": "NGC MS63"},
    {"type": 420, "collection": {"id": 1001}},
    {"type": 420, "issue": None},  # null is only allowed on PATCH
    {"type": 999999},
    {"type": 420, "issue": 700011},
    {"type": 420, "collection": 4242},
    ["type", 420],
])
def test_invalid_bodies_are_rejected_like_the_real_service(numista_emulator: NumistaEmulator,
                                                           api: httpx.Client, body: Any) -> None:
    before = numista_emulator.collected_items_for(DEMO_USER_ID)
    response = api.post(ITEMS, headers=bearer(numista_emulator), json=body)
    assert response.status_code == 400
    assert isinstance(response.json()["error_message"], str)
    assert numista_emulator.collected_items_for(DEMO_USER_ID) == before


def test_list_filters_and_counters(numista_emulator: NumistaEmulator, api: httpx.Client) -> None:
    headers = bearer(numista_emulator)
    listing = api.get(ITEMS, headers=headers).json()
    assert set(listing) == {"item_count", "item_for_swap_count", "item_type_count",
                            "item_type_for_swap_count", "items"}
    assert listing["item_count"] == sum(i["quantity"] for i in listing["items"])
    assert listing["item_type_count"] == len({i["type"]["id"] for i in listing["items"]})
    assert listing["item_for_swap_count"] == 2
    only_420 = api.get(ITEMS, headers=headers, params={"type": 420}).json()
    assert {i["type"]["id"] for i in only_420["items"]} == {420}
    assert api.get(ITEMS, headers=headers, params={"collection": 1001}).json()["item_count"] == 1
    assert api.get(ITEMS, headers=headers, params={"category": "banknote"}).json()["items"] == []
    assert api.get(ITEMS, headers=headers, params={"category": "stamps"}).status_code == 400


def test_get_patch_delete_item(numista_emulator: NumistaEmulator, api: httpx.Client) -> None:
    headers = bearer(numista_emulator)
    item = api.post(ITEMS, headers=headers, json={"type": 420, "issue": 4202, "grade": "f",
                                                  "price": {"value": 30, "currency": "CAD"}}).json()
    url = f"{ITEMS}/{item['id']}"
    assert api.get(url, headers=headers).json() == item
    patched = api.patch(url, headers=headers, json={"grade": None, "price": None, "public_comment": "ok"})
    assert patched.status_code == 200
    assert "grade" not in patched.json() and "price" not in patched.json()
    assert patched.json()["issue"]["id"] == 4202 and patched.json()["public_comment"] == "ok"
    assert api.patch(url, headers=headers, json={"grade": "mint"}).status_code == 400
    assert api.patch(url, headers=headers, json={"axis": 0}).status_code == 400
    deleted = api.delete(url, headers=headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert api.get(url, headers=headers).status_code == 404
    assert api.delete(url, headers=headers).status_code == 404


# ---------------------------------------------------------------------------- quota & faults
def test_monthly_quota_then_429(emulator_factory: Any) -> None:
    emulator = emulator_factory(NumistaEmulator, monthly_quota=3)
    with httpx.Client(base_url=emulator.base_url, headers={"Numista-API-Key": DEMO_API_KEY}) as client:
        assert [client.get("/types/420").status_code for _ in range(3)] == [200, 200, 200]
        refused = client.get("/types/420")
        assert refused.status_code == 429
        assert refused.json() == {"error_message": "Quota exceeded"}
        assert emulator.quota_used(DEMO_API_KEY) == 3
        # Quota is per key.
        assert client.get("/types/420", headers={"Numista-API-Key": OTHER_API_KEY}).status_code == 200


def test_exhaust_quota_fault(numista_emulator: NumistaEmulator, api: httpx.Client) -> None:
    numista_emulator.faults.exhaust_quota(DEMO_API_KEY)
    assert api.get("/oauth_token", params={"grant_type": "client_credentials",
                                           "scope": "view_collection"}).status_code == 429
    numista_emulator.reset()
    assert api.get("/types/420").status_code == 200


def test_concurrency_limit_fault(numista_emulator: NumistaEmulator) -> None:
    numista_emulator.faults.limit_concurrency(1)
    numista_emulator.faults.delay_next(1, seconds=0.5)
    statuses: list[int] = []

    def call() -> None:
        statuses.append(httpx.get(numista_emulator.base_url + "/types/420", timeout=5,
                                  headers={"Numista-API-Key": DEMO_API_KEY}).status_code)

    slow = threading.Thread(target=call)
    slow.start()
    threading.Event().wait(0.15)
    call()
    slow.join(timeout=5)
    assert sorted(statuses) == [200, 429]
