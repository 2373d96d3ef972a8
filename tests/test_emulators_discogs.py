"""The Discogs emulator checks OAuth 1.0a signatures for real, insists on a User-Agent, enforces its
moving-window rate limit with Discogs' headers, and rejects anything but Discogs' exact condition strings.

Why: these are the rules real exporters trip over (see notes/discogs.md §5); the emulator must trip too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.oauth1.rfc5849 import client_auth

from tests.emulators.discogs import (
    CONSUMER_KEY,
    CONSUMER_SECRET,
    MEDIA_CONDITIONS,
    PERSONAL_TOKEN,
    USER_AGENT,
    DiscogsEmulator,
)
from tests.emulators.fixtures import *  # noqa: F403
from tests.emulators.oauth_clients import OAuth1Client

UA = {"User-Agent": USER_AGENT}
CALLBACK = "http://127.0.0.1:9/discogs/callback"


def oauth_client(emulator: DiscogsEmulator, username: str = "example", **kwargs: Any) -> OAuth1Client:
    """A signed client for an access token issued directly (tests that are not about the dance)."""
    token, secret = emulator.issue_access_token(username)
    # force_include_body: without it authlib silently drops JSON bodies from signed requests.
    return OAuth1Client(CONSUMER_KEY, CONSUMER_SECRET, token=token, token_secret=secret, headers=UA,
                        force_include_body=True, base_url=emulator.base_url, timeout=5, **kwargs)


@pytest.fixture
def owner(discogs_emulator: DiscogsEmulator) -> Iterator[OAuth1Client]:
    with oauth_client(discogs_emulator) as client:
        yield client


@pytest.fixture
def anonymous(discogs_emulator: DiscogsEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=discogs_emulator.base_url, headers=UA, timeout=5) as client:
        yield client


# ---------------------------------------------------------------------------- User-Agent
@pytest.mark.parametrize("user_agent", ["", "python-httpx/0.28.1", "curl/8.5.0", "my app",
                                        "Mozilla/5.0 (X11; Linux x86_64)"])
def test_missing_or_generic_user_agent_is_blocked(discogs_emulator: DiscogsEmulator, user_agent: str) -> None:
    response = httpx.get(discogs_emulator.url + "/releases/1", headers={"User-Agent": user_agent})
    assert response.status_code == 403 and response.content == b""
    assert "x-discogs-ratelimit" in response.headers


def test_product_user_agent_is_accepted(anonymous: httpx.Client) -> None:
    assert anonymous.get("/releases/1").status_code == 200


# ---------------------------------------------------------------------------- OAuth 1.0a
@pytest.mark.parametrize("method", ["HMAC-SHA1", "PLAINTEXT"])
def test_three_legged_oauth_with_authlib(discogs_emulator: DiscogsEmulator, method: str) -> None:
    with OAuth1Client(CONSUMER_KEY, CONSUMER_SECRET, redirect_uri=CALLBACK, signature_method=method,
                      headers=UA, timeout=5) as client:
        request_token = client.fetch_request_token(discogs_emulator.url + "/oauth/request_token")
        assert request_token["oauth_callback_confirmed"] == "true"
        url = client.create_authorization_url(discogs_emulator.authorize_url)
        approval = httpx.get(url, headers=UA)
        assert approval.status_code == 302
        callback = approval.headers["location"]
        assert callback.startswith(CALLBACK)
        assert parse_qs(urlsplit(callback).query)["oauth_token"] == [request_token["oauth_token"]]
        client.parse_authorization_response(callback)
        access = client.fetch_access_token(discogs_emulator.url + "/oauth/access_token")
        assert set(access) == {"oauth_token", "oauth_token_secret"}
        identity = client.get(discogs_emulator.url + "/oauth/identity")
        assert identity.status_code == 200
        assert identity.json()["username"] == "example"
        assert identity.json()["resource_url"] == discogs_emulator.url + "/users/example"


def test_out_of_band_verifier(discogs_emulator: DiscogsEmulator) -> None:
    with OAuth1Client(CONSUMER_KEY, CONSUMER_SECRET, redirect_uri="oob", headers=UA, timeout=5) as client:
        token = client.fetch_request_token(discogs_emulator.url + "/oauth/request_token")["oauth_token"]
        page = httpx.get(discogs_emulator.authorize_url, params={"oauth_token": token}, headers=UA)
        assert page.status_code == 200 and "verification code" in page.text
        verifier = discogs_emulator.approve(token)  # what the user would paste
        access = client.fetch_access_token(discogs_emulator.url + "/oauth/access_token", verifier=verifier)
        assert access["oauth_token"]


def test_request_token_rejects_bad_consumer_credentials(discogs_emulator: DiscogsEmulator) -> None:
    url = discogs_emulator.url + "/oauth/request_token"
    with OAuth1Client(CONSUMER_KEY, "wrong-secret", headers=UA) as client:
        wrong_secret = client.post(url)
    assert wrong_secret.status_code == 401 and wrong_secret.text == "Invalid signature."
    with OAuth1Client("unknown-key", CONSUMER_SECRET, headers=UA) as client:
        unknown = client.post(url)
    assert unknown.status_code == 401 and unknown.text == "Invalid consumer."
    assert discogs_emulator.state.request_tokens == {}


def test_access_token_needs_the_right_verifier_once(discogs_emulator: DiscogsEmulator) -> None:
    with OAuth1Client(CONSUMER_KEY, CONSUMER_SECRET, redirect_uri=CALLBACK, headers=UA) as client:
        token = client.fetch_request_token(discogs_emulator.url + "/oauth/request_token")["oauth_token"]
        verifier = discogs_emulator.approve(token)
        client.auth.verifier = "0000000000"
        wrong = client.post(discogs_emulator.url + "/oauth/access_token")
        assert wrong.status_code == 400
        client.auth.verifier = verifier
        assert client.post(discogs_emulator.url + "/oauth/access_token").status_code == 200
        again = client.post(discogs_emulator.url + "/oauth/access_token")
        assert again.status_code == 400  # request tokens are single-use


def test_request_token_expires(emulator_factory: Any) -> None:
    emulator = emulator_factory(DiscogsEmulator, request_token_ttl=0.1)
    with OAuth1Client(CONSUMER_KEY, CONSUMER_SECRET, redirect_uri=CALLBACK, headers=UA) as client:
        token = client.fetch_request_token(emulator.url + "/oauth/request_token")["oauth_token"]
        client.auth.verifier = emulator.approve(token)
        time.sleep(0.15)
        assert client.post(emulator.url + "/oauth/access_token").status_code == 400


def test_signed_calls_reject_wrong_secret_tampering_and_replay(discogs_emulator: DiscogsEmulator) -> None:
    token, secret = discogs_emulator.issue_access_token()
    with OAuth1Client(CONSUMER_KEY, CONSUMER_SECRET, token=token, token_secret="not-the-secret",
                      headers=UA) as bad:
        response = bad.get(discogs_emulator.url + "/oauth/identity")
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("OAuth")
    with OAuth1Client(CONSUMER_KEY, CONSUMER_SECRET, token=token, token_secret=secret, headers=UA) as good:
        signed = good.build_request("GET", discogs_emulator.url + "/database/search", params={"q": "icarus"})
        signed = next(good.auth.auth_flow(signed))  # type: ignore[union-attr]
        assert good.send(signed).status_code == 200
        replay = httpx.get(str(signed.url), headers=signed.headers)
        assert replay.status_code == 401 and replay.json()["message"] == "Nonce already used."
        tampered = httpx.get(str(signed.url).replace("icarus", "hologram"), headers=signed.headers)
        assert tampered.status_code == 401


@pytest.mark.parametrize(("timestamp", "nonce"), [
    (lambda: int(time.time() * 1000), lambda: "n" * 30),  # milliseconds instead of seconds
    (lambda: int(time.time()) - 3600, lambda: "n" * 30),  # stale
    (lambda: int(time.time()), lambda: "n" * 65),  # nonce longer than 64 characters
])
def test_timestamp_and_nonce_rules(discogs_emulator: DiscogsEmulator, monkeypatch: pytest.MonkeyPatch,
                                   timestamp: Any, nonce: Any) -> None:
    monkeypatch.setattr(client_auth, "generate_timestamp", timestamp)
    monkeypatch.setattr(client_auth, "generate_nonce", nonce)
    token, secret = discogs_emulator.issue_access_token()
    with OAuth1Client(CONSUMER_KEY, CONSUMER_SECRET, token=token, token_secret=secret, headers=UA) as client:
        assert client.get(discogs_emulator.url + "/oauth/identity").status_code == 401


def test_unauthenticated_identity_and_search(anonymous: httpx.Client) -> None:
    identity = anonymous.get("/oauth/identity")
    assert identity.status_code == 401
    assert identity.json() == {"message": "You must authenticate to access this resource."}
    assert anonymous.get("/database/search", params={"q": "trash80"}).status_code == 401
    assert anonymous.get("/database/search", params={"q": "x", "token": "bogus"}).status_code == 401


def test_personal_token_authenticates(anonymous: httpx.Client) -> None:
    header = {"Authorization": f"Discogs token={PERSONAL_TOKEN}"}
    assert anonymous.get("/oauth/identity", headers=header).json()["username"] == "example"
    by_query = anonymous.get("/database/search", params={"q": "trash80", "token": PERSONAL_TOKEN})
    assert by_query.status_code == 200


# ---------------------------------------------------------------------------- rate limit
def test_rate_limit_headers_and_429(emulator_factory: Any) -> None:
    emulator = emulator_factory(DiscogsEmulator, rate_limit=3, unauthenticated_rate_limit=2, rate_window=0.6)
    token = {"Authorization": f"Discogs token={PERSONAL_TOKEN}", **UA}
    with httpx.Client(base_url=emulator.base_url, headers=token, timeout=5) as client:
        seen = []
        for _ in range(3):
            response = client.get("/releases/1")
            assert response.status_code == 200
            seen.append(tuple(response.headers[f"x-discogs-ratelimit{suffix}"]
                              for suffix in ("", "-used", "-remaining")))
        assert seen == [("3", "1", "2"), ("3", "2", "1"), ("3", "3", "0")]
        refused = client.get("/releases/1")
        assert refused.status_code == 429
        assert refused.json() == {"message": "You are making requests too quickly."}
        assert refused.headers["x-discogs-ratelimit-remaining"] == "0"
        assert "retry-after" not in refused.headers
        time.sleep(0.65)  # the moving window empties
        assert client.get("/releases/1").headers["x-discogs-ratelimit-used"] == "1"
        emulator.faults.exhaust_rate_limit()
        assert client.get("/releases/1").status_code == 429
    emulator.reset()
    with httpx.Client(base_url=emulator.base_url, headers=UA, timeout=5) as anonymous:
        statuses = [anonymous.get("/releases/1").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]  # unauthenticated requests have the lower limit


def test_rate_headers_on_injected_faults(discogs_emulator: DiscogsEmulator, anonymous: httpx.Client) -> None:
    discogs_emulator.faults.fail_next(1, status=503)
    response = anonymous.get("/releases/1")
    assert response.status_code == 503 and response.json() == {"message": "Injected fault"}
    assert response.headers["x-discogs-ratelimit"] == "60"


# ---------------------------------------------------------------------------- collection
def test_add_release_to_collection_then_find_and_delete(discogs_emulator: DiscogsEmulator,
                                                        owner: OAuth1Client) -> None:
    added = owner.post("/users/example/collection/folders/1/releases/1")
    assert added.status_code == 201
    instance_id = added.json()["instance_id"]
    assert added.json()["resource_url"].startswith(discogs_emulator.url)
    assert owner.post("/users/example/collection/folders/1/releases/1").status_code == 201  # a second copy
    found = owner.get("/users/example/collection/releases/1").json()
    assert [r["instance_id"] for r in found["releases"]] == [instance_id, instance_id + 1]
    assert found["releases"][0]["basic_information"]["title"] == "Stockholm"
    assert owner.get("/users/example/collection/releases/2").json()["releases"] == []
    folders = {f["id"]: f["count"] for f in owner.get("/users/example/collection/folders").json()["folders"]}
    assert folders[0] == 5 and folders[1] == 5
    url = f"/users/example/collection/folders/1/releases/1/instances/{instance_id}"
    assert owner.delete(url).status_code == 204
    assert owner.delete(url).status_code == 404
    remaining = [i["instance_id"] for i in discogs_emulator.collection_instances() if i["id"] == 1]
    assert remaining == [instance_id + 1]


def test_collection_write_rules(discogs_emulator: DiscogsEmulator, owner: OAuth1Client,
                                anonymous: httpx.Client) -> None:
    assert owner.post("/users/example/collection/folders/0/releases/1").status_code == 422  # "All"
    assert owner.post("/users/example/collection/folders/99/releases/1").status_code == 404
    assert owner.post("/users/example/collection/folders/1/releases/999999").json() == {
        "message": "Release not found."}
    assert anonymous.post("/users/example/collection/folders/1/releases/1").status_code == 401
    with oauth_client(discogs_emulator, "other_user") as other:
        forbidden = other.post("/users/example/collection/folders/1/releases/1")
        assert forbidden.status_code == 403
        assert forbidden.json() == {"message": "You don't have permission to access this resource."}
    assert [f["id"] for f in anonymous.get("/users/example/collection/folders").json()["folders"]] == [0]


def test_folder_listing_is_paginated(owner: OAuth1Client) -> None:
    page = owner.get("/users/example/collection/folders/0/releases", params={"per_page": 2}).json()
    assert page["pagination"]["items"] == 3 and page["pagination"]["pages"] == 2
    assert len(page["releases"]) == 2
    assert parse_qs(urlsplit(page["pagination"]["urls"]["next"]).query) == {"page": ["2"], "per_page": ["2"]}
    assert page["releases"][0]["basic_information"]["resource_url"].startswith("http://127.0.0.1:")


def test_custom_field_values_must_match_dropdown_options(owner: OAuth1Client) -> None:
    instance = owner.post("/users/example/collection/folders/1/releases/2").json()["instance_id"]
    url = f"/users/example/collection/folders/1/releases/2/instances/{instance}/fields/1"
    assert owner.post(url, params={"value": "Near Mint (NM or M-)"}).status_code == 204
    assert owner.post(url, params={"value": "NM"}).status_code == 422


# ---------------------------------------------------------------------------- wantlist
def test_wantlist_put_is_an_upsert(discogs_emulator: DiscogsEmulator, owner: OAuth1Client) -> None:
    created = owner.put("/users/example/wants/79", params={"notes": "first", "rating": 3})
    assert created.status_code == 201
    assert created.json()["notes"] == "first" and created.json()["rating"] == 3
    assert owner.put("/users/example/wants/79", json={"notes": "second"}).status_code == 201
    assert list(discogs_emulator.wantlist()).count(79) == 1
    assert discogs_emulator.wantlist()[79]["notes"] == "second"
    assert owner.post("/users/example/wants/79", json={"rating": 5}).json()["rating"] == 5
    assert owner.put("/users/example/wants/79", json={"rating": 7}).status_code == 422
    assert 79 in {w["id"] for w in owner.get("/users/example/wants").json()["wants"]}
    assert owner.delete("/users/example/wants/79").status_code == 204
    assert owner.delete("/users/example/wants/79").status_code == 404


# ---------------------------------------------------------------------------- marketplace
LISTING = {"release_id": 1, "condition": "Very Good Plus (VG+)", "sleeve_condition": "Generic",
           "price": 12.5, "status": "Draft", "comments": "from Vitrine"}


def test_create_read_edit_delete_listing(discogs_emulator: DiscogsEmulator, owner: OAuth1Client,
                                         anonymous: httpx.Client) -> None:
    created = owner.post("/marketplace/listings", json={**LISTING, "external_id": "vitrine-42"})
    assert created.status_code == 201, created.text
    listing_id = created.json()["listing_id"]
    assert created.json()["resource_url"] == f"{discogs_emulator.url}/marketplace/listings/{listing_id}"
    mine = owner.get(f"/marketplace/listings/{listing_id}").json()
    assert (mine["condition"], mine["status"], mine["external_id"]) == ("Very Good Plus (VG+)", "Draft",
                                                                       "vitrine-42")
    assert anonymous.get(f"/marketplace/listings/{listing_id}").status_code == 404  # drafts are private
    edited = owner.post(f"/marketplace/listings/{listing_id}", json={**LISTING, "status": "For Sale",
                                                                      "price": 15})
    assert edited.status_code == 204
    public = anonymous.get(f"/marketplace/listings/{listing_id}").json()
    assert public["price"]["value"] == 15 and "external_id" not in public
    assert owner.delete(f"/marketplace/listings/{listing_id}").status_code == 204
    assert discogs_emulator.listings() == [v for v in discogs_emulator.listings() if v["id"] != listing_id]


@pytest.mark.parametrize(("field", "value"), [
    ("condition", "Mint"),
    ("condition", "NM"),
    ("condition", "near mint (nm or m-)"),
    ("condition", "Very Good Plus (VG+) "),
    ("condition", "Generic"),  # sleeve-only value
    ("condition", "Near Mint (NM or M−)"),  # unicode minus
    ("sleeve_condition", "VG+"),
    ("sleeve_condition", "Not graded"),
    ("status", "Sold"),
    ("price", -1),
    ("price", "cheap"),
])
def test_listing_rejects_anything_but_discogs_exact_strings(discogs_emulator: DiscogsEmulator,
                                                            owner: OAuth1Client, field: str,
                                                            value: Any) -> None:
    response = owner.post("/marketplace/listings", json={**LISTING, field: value})
    assert response.status_code == 422
    assert response.json()["message"]
    assert discogs_emulator.listings() == [v for v in discogs_emulator.listings() if v["release_id"] != 1]


@pytest.mark.parametrize("missing", ["release_id", "condition", "price", "status"])
def test_listing_requires_fields(owner: OAuth1Client, missing: str) -> None:
    body = {k: v for k, v in LISTING.items() if k != missing}
    assert owner.post("/marketplace/listings", json=body).status_code == 422


def test_every_exact_condition_is_accepted(owner: OAuth1Client) -> None:
    for condition in MEDIA_CONDITIONS:
        for sleeve in (condition, "Generic", "Not Graded", "No Cover"):
            body = {**LISTING, "condition": condition, "sleeve_condition": sleeve}
            assert owner.post("/marketplace/listings", json=body).status_code == 201


def test_listing_needs_authentication_and_ownership(discogs_emulator: DiscogsEmulator, owner: OAuth1Client,
                                                    anonymous: httpx.Client) -> None:
    assert anonymous.post("/marketplace/listings", json=LISTING).status_code == 401
    listing_id = owner.post("/marketplace/listings", json=LISTING).json()["listing_id"]
    with oauth_client(discogs_emulator, "other_user") as other:
        assert other.delete(f"/marketplace/listings/{listing_id}").status_code == 403


def test_price_suggestions(discogs_emulator: DiscogsEmulator, owner: OAuth1Client,
                           anonymous: httpx.Client) -> None:
    assert anonymous.get("/marketplace/price_suggestions/1").status_code == 401
    discogs_emulator.set_price_suggestions(1, {"Mint (M)": {"currency": "USD", "value": 14.3191391}})
    assert owner.get("/marketplace/price_suggestions/1").json()["Mint (M)"]["value"] == 14.3191391
    generated = [owner.get(f"/marketplace/price_suggestions/{rid}").json() for rid in (2, 3, 79, 3329867)]
    for suggestion in generated:
        assert suggestion == {} or list(suggestion) == list(MEDIA_CONDITIONS)
    discogs_emulator.faults.incomplete_seller_settings("example")
    assert owner.get("/marketplace/price_suggestions/2").json() == {}
    assert owner.get("/marketplace/price_suggestions/999999").status_code == 404


# ---------------------------------------------------------------------------- database
def test_search_and_release(discogs_emulator: DiscogsEmulator, owner: OAuth1Client) -> None:
    results = owner.get("/database/search", params={"q": "icarus", "type": "release"}).json()
    assert {r["id"] for r in results["results"]} == {1743771, 1346442}
    assert all(isinstance(r["label"], list) for r in results["results"])
    assert owner.get("/database/search", params={"artist": "trash80", "type": "artist"}).json()["results"][0][
        "id"] == 95780
    assert owner.get("/database/search", params={"type": "song"}).status_code == 422
    release = owner.get("/releases/1").json()
    assert release["title"] == "Stockholm"
    assert release["resource_url"] == f"{discogs_emulator.url}/releases/1"
    missing = owner.get("/releases/999999")
    assert missing.status_code == 404 and missing.json() == {"message": "Release not found."}
    assert owner.get("/artists/1").json()["name"] == "Persuader, The"  # other fixtures served as-is


def test_requests_are_recorded_with_auth_headers(discogs_emulator: DiscogsEmulator,
                                                 owner: OAuth1Client) -> None:
    owner.put("/users/example/wants/2", json={"notes": "n"})
    recorded = discogs_emulator.last_request("/users/example/wants/*", method="PUT")
    assert recorded is not None
    assert recorded.header("authorization", "").startswith("OAuth ")  # type: ignore[union-attr]
    assert recorded.header("user-agent") == USER_AGENT
    assert recorded.json() == {"notes": "n"}


# ---------------------------------------------------------------------------- faults and state helpers
def test_authorize_page_is_a_website_page_open_to_browsers(discogs_emulator: DiscogsEmulator) -> None:
    with OAuth1Client(CONSUMER_KEY, CONSUMER_SECRET, redirect_uri="oob", headers=UA, timeout=5) as client:
        token = client.fetch_request_token(discogs_emulator.url + "/oauth/request_token")["oauth_token"]
    browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0"}
    assert httpx.get(discogs_emulator.authorize_url, params={"oauth_token": token}, headers=browser).status_code == 200
    assert httpx.get(discogs_emulator.url + "/releases/1", headers=browser).status_code == 403  # the API is not


def test_fail_after_write_does_the_write_then_answers_500(discogs_emulator: DiscogsEmulator,
                                                          owner: OAuth1Client) -> None:
    discogs_emulator.faults.fail_after_write_next(1, path="/users/example/collection/folders/1/releases/*")
    before = len(discogs_emulator.collection_instances())
    answer = owner.post("/users/example/collection/folders/1/releases/1")
    assert answer.status_code == 500 and "instance_id" not in answer.text
    assert len(discogs_emulator.collection_instances()) == before + 1  # it was added anyway
    assert owner.post("/users/example/collection/folders/1/releases/1").status_code == 201
    assert discogs_emulator.answers[-1][3] == 201


def test_flaky_writes_fail_some_before_and_some_after_acting(discogs_emulator: DiscogsEmulator,
                                                             owner: OAuth1Client) -> None:
    discogs_emulator.faults.flaky_writes(0.3, 0.3, seed=1, path="/users/example/collection/folders/1/releases/*")
    before = len(discogs_emulator.collection_instances())
    statuses = [owner.post("/users/example/collection/folders/1/releases/1").status_code for _ in range(20)]
    injected = discogs_emulator.injected
    assert statuses.count(500) == injected["before"] + injected["after"] and injected["before"] and injected["after"]
    assert len(discogs_emulator.collection_instances()) == before + statuses.count(201) + injected["after"]


def test_add_instance_with_field_values(discogs_emulator: DiscogsEmulator, owner: OAuth1Client) -> None:
    instance = discogs_emulator.add_instance(1, folder_id=1, fields={1: "Mint (M)"})
    assert discogs_emulator.field_values(instance) == {1: "Mint (M)"}
    copies = owner.get("/users/example/collection/releases/1").json()["releases"]
    assert {"field_id": 1, "value": "Mint (M)"} in next(c for c in copies if c["instance_id"] == instance)["notes"]
