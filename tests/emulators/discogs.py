"""Loopback emulator of the Discogs API (api.discogs.com), with real OAuth 1.0a signature checks.

Why: Vitrine exports records to a user's Discogs collection, wantlist and marketplace; the emulator lets
tests run the whole OAuth 1.0a dance and every write over real HTTP, and is strict where Discogs is
(User-Agent, signatures, exact condition strings, moving-window rate limit with its headers).

Configure the app with ``DISCOGS_API_URL = emulator.base_url`` (the server root, no prefix) and
``DISCOGS_AUTHORIZE_URL = emulator.authorize_url``.

Credentials (defaults):

* consumer ``CONSUMER_KEY`` / ``CONSUMER_SECRET`` ("vitrine-consumer-key" / "vitrine-consumer-secret");
* user "example" (id 1, from the fixtures) approves authorizations (``authorize_as``); user "other_user"
  (id 2) also exists;
* personal access token ``PERSONAL_TOKEN`` ("vitrine-personal-token") for "example"
  (``Authorization: Discogs token=...`` or ``?token=``).

OAuth 1.0a: ``POST|GET /oauth/request_token`` -> ``GET /oauth/authorize?oauth_token=...`` (approves at
once as ``authorize_as`` and redirects to the callback with ``oauth_token`` and ``oauth_verifier``, or
shows the verifier for ``oob``) -> ``POST /oauth/access_token`` -> ``GET /oauth/identity``. Signatures
(HMAC-SHA1 and PLAINTEXT, header/query/form parameters) are verified per RFC 5849; timestamps must be
integer seconds within ``timestamp_tolerance``; nonces at most 64 characters and never reused; request
tokens expire after ``request_token_ttl`` (15 min). Helpers: ``emulator.approve(request_token)`` ->
verifier, ``emulator.issue_access_token("example")`` -> ``(token, secret)``.

Every request needs a product-style User-Agent (``Name/version``); a missing, empty or generic one
(python-httpx/..., curl/..., a browser) gets 403 with an empty body. Rate limit: moving window of
``rate_limit`` (60) authenticated / ``unauthenticated_rate_limit`` (25) requests per ``rate_window``
(60 s) for the whole client (Discogs counts per source IP); ``X-Discogs-Ratelimit``,
``X-Discogs-Ratelimit-Used`` and ``X-Discogs-Ratelimit-Remaining`` on every response; 429
``{"message": "You are making requests too quickly."}`` past it (no Retry-After, like Discogs).

Routes: identity, ``/users/{u}``, collection folders (list/create/get, items of a folder), add a release
to a folder (201 ``instance_id``), move/rate and delete an instance, ``collection/releases/{rid}``,
``collection/fields`` and setting a field value, ``collection/value``; wantlist GET/PUT/POST/DELETE;
marketplace listings POST/GET/POST-edit/DELETE, ``/users/{u}/inventory``, ``price_suggestions``,
``stats``; ``/database/search`` (auth required), ``/releases/{id}``; any other GET is served from the
joalla fixtures when one matches (``/artists/1``, ``/masters/4242``...). Fixture resource URLs are
rewritten to the emulator's URL. Errors are ``{"message": ...}``.

Faults beyond the generic ones: ``emu.faults.exhaust_rate_limit()`` (fill the window now),
``emu.faults.fail_after_write_next(n, path=...)`` (do the write, then answer 500),
``emu.faults.flaky_writes(before, after, seed=..., path=...)`` (random 500s before/after acting),
``emu.faults.incomplete_seller_settings("example")`` (price suggestions come back ``{}``).
State helpers: ``collection_instances("example")``, ``wantlist("example")``, ``listings("example")``,
``add_release({...})``, ``add_instance(release_id, folder_id=1, fields={1: "Mint (M)"})``,
``add_listing(release_id, external_id="vitrine:...")``,
``field_values(instance_id)``, ``set_price_suggestions(release_id, {...})``.

Run by hand: ``python -m tests.emulators.discogs --port 8767``.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import hashlib
import hmac
import json
import math
import random
import re
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from tests.emulators.base import (
    Emulator,
    Faults,
    HTTPError,
    RecordedRequest,
    Request,
    Response,
    _Fault,
    run_cli,
)
from tests.fixture_files import FIXTURES, FixtureMissing, read_json

CONSUMER_KEY = "vitrine-consumer-key"
CONSUMER_SECRET = "vitrine-consumer-secret"
CONSUMER_NAME = "Vitrine Test"
PERSONAL_TOKEN = "vitrine-personal-token"
USER_AGENT = "VitrineTests/1.0 +https://example.invalid/vitrine"

MEDIA_CONDITIONS = ("Mint (M)", "Near Mint (NM or M-)", "Very Good Plus (VG+)", "Very Good (VG)",
                    "Good Plus (G+)", "Good (G)", "Fair (F)", "Poor (P)")
SLEEVE_CONDITIONS = (*MEDIA_CONDITIONS, "Generic", "Not Graded", "No Cover")
LISTING_STATUSES = ("For Sale", "Draft")
INVENTORY_STATUSES = ("All", "Deleted", "Draft", "Expired", "For Sale", "Sold", "Suspended", "Violation")
CURRENCIES = ("USD", "GBP", "EUR", "CAD", "AUD", "JPY", "CHF", "MXN", "BRL", "NZD", "SEK", "ZAR")
AUTH_REQUIRED = "You must authenticate to access this resource."
NO_PERMISSION = "You don't have permission to access this resource."
TOO_FAST = "You are making requests too quickly."
GENERIC_USER_AGENT = re.compile(r"^(python-httpx|python-requests|python-urllib|curl|wget|mozilla|httpie)/",
                                re.IGNORECASE)
PRODUCT_USER_AGENT = re.compile(r"^\S+/\S+")


FIXTURE_DIR = FIXTURES / "discogs"  # the joalla/discogs_client test responses (tests/fixtures/README.md)
REQUIRED_FIXTURES = (  # read by the routes below; checked when the emulator is built, not on first request
    "users/example.json", "users/example/collection/folders.json",
    "users/example/collection/folders/0/releases_page=1&per_page=50.json",
    "users/example/collection/value.json", "users/example/wants_per_page=50&page=1.json",
    "users/example/inventory_per_page=50&page=1.json", "database/search_q=trash80&per_page=50&page=1.json",
    "releases/1.json",
)  # fmt: skip


def _enc(value: str) -> str:
    """RFC 5849 §3.6 percent-encoding (RFC 3986 unreserved characters kept)."""
    return quote(value, safe="~-._")


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S-00:00", time.gmtime())


# ---------------------------------------------------------------------------- state
@dataclass
class Consumer:
    key: str
    secret: str
    name: str
    callback_url: str | None = None


@dataclass
class RequestToken:
    token: str
    secret: str
    consumer_key: str
    callback: str | None
    created: float
    verifier: str | None = None
    username: str | None = None


@dataclass
class AccessToken:
    token: str
    secret: str
    consumer_key: str
    username: str


@dataclass
class Auth:
    """Who signed the current request."""

    kind: str  # "oauth" | "token" | "consumer"
    username: str | None
    consumer_key: str | None = None


@dataclass
class DiscogsState:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    instances: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    field_values: dict[tuple[str, int], dict[int, str]] = field(default_factory=dict)
    wants: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    listings: dict[int, dict[str, Any]] = field(default_factory=dict)
    request_tokens: dict[str, RequestToken] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    nonces: set[tuple[str, str, str, str]] = field(default_factory=set)
    seller_settings_complete: dict[str, bool] = field(default_factory=dict)
    price_suggestions: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_instance_id: int = 1001
    next_listing_id: int = 41578241
    next_folder_id: int = 232842


class DiscogsFaults(Faults):
    """Generic faults plus Discogs' rate-limit and seller-settings ones."""

    def __init__(self, emulator: DiscogsEmulator) -> None:
        super().__init__()
        self._emulator = emulator

    def exhaust_rate_limit(self) -> None:
        """Fill the moving window now: the next requests get 429 until the window slides."""
        emu = self._emulator
        with emu.lock:
            now = time.monotonic()
            emu._window.extend([now] * max(0, emu.rate_limit - len(emu._window)))

    def fail_after_write_next(self, n: int = 1, status: int = 500, *, path: str | None = None,
                              method: str | None = "POST") -> None:
        """Handle the next ``n`` matching requests (the write happens), then answer ``status`` anyway: the
        client cannot tell whether its POST took effect."""
        if n < 1:
            raise ValueError("n must be >= 1")
        with self._emulator.lock:
            self._emulator.after_faults.append(_Fault("after", n, status=status, path=path, method=method))

    def flaky_writes(self, before: float, after: float, *, seed: int = 0, path: str = "*",
                     method: str = "POST") -> None:
        """From now on, fail a fraction of matching writes with 500: ``before`` without acting, ``after``
        after acting. ``emu.injected`` counts both kinds."""
        with self._emulator.lock:
            self._emulator.flaky = (before, after, random.Random(seed), path, method)

    def incomplete_seller_settings(self, username: str = "example") -> None:
        """The user has not filled their seller settings: price suggestions answer ``{}``."""
        with self._emulator.lock:
            self._emulator.state.seller_settings_complete[username] = False


class DiscogsEmulator(Emulator):
    """Discogs API over loopback. See the module docstring."""

    api_prefix = ""
    name = "discogs"
    faults: DiscogsFaults  # set by the base class through make_faults()

    def __init__(
        self,
        *,
        consumers: dict[str, str] | None = None,
        personal_tokens: dict[str, str] | None = None,
        authorize_as: str = "example",
        rate_limit: int = 60,
        unauthenticated_rate_limit: int = 25,
        rate_window: float = 60.0,
        timestamp_tolerance: float = 300.0,
        request_token_ttl: float = 900.0,
        reject_generic_user_agents: bool = True,
        fixture_dir: Path = FIXTURE_DIR,
        **kwargs: Any,
    ) -> None:
        """``consumers`` maps consumer key -> secret; ``personal_tokens`` maps token -> username; responses
        come from the fixture files in ``fixture_dir`` (a missing one: :class:`FixtureMissing`)."""
        self.fixture_dir = fixture_dir
        pairs = consumers if consumers is not None else {CONSUMER_KEY: CONSUMER_SECRET}
        self.consumers = {k: Consumer(k, s, CONSUMER_NAME) for k, s in pairs.items()}
        self.personal_tokens = dict(personal_tokens) if personal_tokens is not None else {
            PERSONAL_TOKEN: "example"}
        self.authorize_as = authorize_as
        self.rate_limit = rate_limit
        self.unauthenticated_rate_limit = unauthenticated_rate_limit
        self.rate_window = rate_window
        self.timestamp_tolerance = timestamp_tolerance
        self.request_token_ttl = request_token_ttl
        self.reject_generic_user_agents = reject_generic_user_agents
        self._window: deque[float] = deque()
        self.after_faults: list[_Fault] = []
        self.flaky: tuple[float, float, random.Random, str, str] | None = None
        self.injected = {"before": 0, "after": 0}
        self.answers: list[tuple[float, str, str, int]] = []  # (arrival, method, path, status) of every answer
        self._fail_after: set[int] = set()
        self._auth: Auth | None = None
        self._rate_headers: dict[int, dict[str, str]] = {}
        self.state = DiscogsState()
        self._load_fixtures()
        super().__init__(**kwargs)

    def make_faults(self) -> DiscogsFaults:
        return DiscogsFaults(self)

    # ------------------------------------------------------------------ fixtures & catalogue
    def _fixture(self, rel: str) -> Any:
        return read_json(self.fixture_dir / rel)

    def _load_fixtures(self) -> None:
        """Index fixture files by API path and build a release catalogue from everything they contain."""
        root = self.fixture_dir
        for rel in REQUIRED_FIXTURES:
            if not (root / rel).is_file():
                raise FixtureMissing(root / rel)
        self.fixture_files: dict[str, Path] = {}
        for path in root.rglob("*.json"):
            rel = path.relative_to(root).as_posix()[:-5]
            self.fixture_files.setdefault("/" + rel.split("_", 1)[0] if "_" in rel.rsplit("/", 1)[-1]
                                          else "/" + rel, path)
        self.releases: dict[int, dict[str, Any]] = {}
        for path in (root / "releases").glob("*.json"):
            release = json.loads(path.read_text(encoding="utf-8"))
            self.releases[int(release.get("id") or path.stem)] = release
        collection = self._fixture("users/example/collection/folders/0/releases_page=1&per_page=50.json")
        wants = self._fixture("users/example/wants_per_page=50&page=1.json")
        seeds = [r["basic_information"] for r in collection["releases"]]
        seeds += [w["basic_information"] for w in wants["wants"]]
        for info in seeds:
            self.releases.setdefault(info["id"], {**copy.deepcopy(info), "status": "Accepted"})
        self.search_index: list[dict[str, Any]] = []
        for result in self._fixture("database/search_q=trash80&per_page=50&page=1.json")["results"]:
            entry = copy.deepcopy(result)
            for key in ("label", "barcode", "format", "genre", "style"):
                if key in entry and not isinstance(entry[key], list):
                    entry[key] = [entry[key]]  # the docs' shape: lists (the 2012-era fixture has strings)
            self.search_index.append(entry)
            if entry["type"] == "release" and entry["id"] not in self.releases:
                artist, _, title = entry["title"].partition(" - ")
                self.releases[entry["id"]] = {
                    "id": entry["id"], "title": title or entry["title"], "status": "Accepted",
                    "year": int(entry.get("year") or 0), "country": entry.get("country", ""),
                    "artists": [{"name": artist, "anv": "", "join": "", "role": "", "tracks": "", "id": 0}],
                    "labels": [{"name": n, "catno": entry.get("catno", ""), "entity_type": "1"}
                               for n in entry.get("label", [])],
                    "formats": [{"name": f, "qty": "1", "descriptions": []} for f in entry.get("format", [])],
                    "genres": entry.get("genre", []), "styles": entry.get("style", []),
                    "thumb": entry.get("thumb") or "", "resource_url": f"/releases/{entry['id']}"}
        indexed = {e["id"] for e in self.search_index if e["type"] == "release"}
        for release in self.releases.values():
            if release["id"] not in indexed:
                self.search_index.append(self._search_entry(release))
        self._base_catalogue = copy.deepcopy(self.releases)
        self._base_index = copy.deepcopy(self.search_index)

    @staticmethod
    def _search_entry(release: dict[str, Any]) -> dict[str, Any]:
        artists = " & ".join(a.get("name", "") for a in release.get("artists", [])) or "Various"
        return {
            "id": release["id"], "type": "release", "title": f"{artists} - {release.get('title', '')}",
            "year": str(release.get("year") or ""), "country": release.get("country", ""),
            "format": [f.get("name", "") for f in release.get("formats", [])],
            "label": [lab.get("name", "") for lab in release.get("labels", [])],
            "catno": (release.get("labels") or [{}])[0].get("catno", ""),
            "genre": list(release.get("genres", [])), "style": list(release.get("styles", [])),
            "barcode": [i["value"] for i in release.get("identifiers", []) if i.get("type") == "Barcode"],
            "thumb": release.get("thumb", ""), "uri": f"/release/{release['id']}",
            "resource_url": f"/releases/{release['id']}", "community": {"want": 0, "have": 0},
        }

    def add_release(self, release: dict[str, Any]) -> None:
        """Add a release to the catalogue (needs ``id`` and ``title``; artists/labels/formats optional)."""
        with self.lock:
            self.releases[int(release["id"])] = copy.deepcopy(release)
            self.search_index = [e for e in self.search_index
                                 if not (e["type"] == "release" and e["id"] == release["id"])]
            self.search_index.append(self._search_entry(release))

    def _release(self, release_id: int) -> dict[str, Any]:
        release = self.releases.get(release_id)
        if release is None:
            raise HTTPError(404, "Release not found.")
        return release

    def _basic_information(self, release_id: int) -> dict[str, Any]:
        r = self._release(release_id)
        keys = ("id", "title", "year", "resource_url", "thumb", "cover_image", "formats", "labels", "artists",
                "genres", "styles", "master_id", "master_url")
        info = {k: copy.deepcopy(r[k]) for k in keys if k in r}
        info.setdefault("resource_url", f"/releases/{release_id}")
        return info

    def rewrite_urls(self, data: Any) -> Any:
        """Make fixture URLs (relative or api.discogs.com) point at this emulator."""
        if isinstance(data, list):
            return [self.rewrite_urls(v) for v in data]
        if not isinstance(data, dict):
            return data
        out: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, str) and (key.endswith("_url") or key in ("next", "prev", "first", "last")):
                value = re.sub(r"^https?://api\.discogs\.com", "", value)
                if value.startswith("/"):
                    value = self.url + value
                out[key] = value
            else:
                out[key] = self.rewrite_urls(value)
        return out

    # ------------------------------------------------------------------ state
    def reset_state(self) -> None:
        self._window = deque()
        self.after_faults, self.flaky, self._fail_after, self.answers = [], None, set(), []
        self.injected = {"before": 0, "after": 0}
        self._rate_headers = {}
        self.releases = copy.deepcopy(self._base_catalogue)
        self.search_index = copy.deepcopy(self._base_index)
        st = DiscogsState()
        profile = self._fixture("users/example.json")
        st.users["example"] = profile
        st.users["other_user"] = {"id": 2, "username": "other_user", "name": "Other Collector",
                                  "resource_url": "/users/other_user", "num_collection": 0}
        for username in st.users:
            st.folders[username] = [{"id": 1, "name": "Uncategorized"}]
            st.instances[username] = []
            st.wants[username] = {}
            st.seller_settings_complete[username] = True
        st.folders["example"] = [{"id": f["id"], "name": f["name"]}
                                 for f in self._fixture("users/example/collection/folders.json")["folders"]
                                 if f["id"] != 0]
        page = self._fixture("users/example/collection/folders/0/releases_page=1&per_page=50.json")
        for item in page["releases"]:
            st.instances["example"].append({k: item[k] for k in ("id", "instance_id", "folder_id", "rating",
                                                                 "date_added")})
        for want in self._fixture("users/example/wants_per_page=50&page=1.json")["wants"]:
            st.wants["example"][want["id"]] = {"id": want["id"], "rating": want.get("rating", 0),
                                               "notes": want.get("notes", ""),
                                               "notes_public": want.get("notes_public", False)}
        for listing in self._fixture("users/example/inventory_per_page=50&page=1.json")["listings"]:
            release = listing["release"]
            self.releases.setdefault(release["id"], {
                "id": release["id"], "title": release["title"], "year": release.get("year"),
                "artists": [{"name": release.get("artist", ""), "id": 0}], "status": "Accepted",
                "resource_url": f"/releases/{release['id']}", "thumb": release.get("thumbnail", "")})
            st.listings[listing["id"]] = {
                "id": listing["id"], "seller": "example", "release_id": release["id"],
                "condition": listing["condition"], "sleeve_condition": listing.get("sleeve_condition"),
                "price": listing["price"]["value"], "currency": listing["price"]["currency"],
                "status": listing["status"], "comments": listing.get("comments", ""),
                "allow_offers": listing.get("allow_offers", False), "posted": listing["posted"],
                "ships_from": listing.get("ships_from", "United States")}
        self.state = st

    def collection_instances(self, username: str = "example") -> list[dict[str, Any]]:
        """Server-side collection instances of a user (copies): assert an export added exactly once."""
        with self.lock:
            return copy.deepcopy(self.state.instances.get(username, []))

    def wantlist(self, username: str = "example") -> dict[int, dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.state.wants.get(username, {}))

    def listings(self, username: str = "example") -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(v) for v in self.state.listings.values() if v["seller"] == username]

    def add_listing(self, release_id: int, *, username: str = "example", external_id: str | None = None,
                    condition: str = "Very Good Plus (VG+)", price: float = 5.0, status: str = "Draft") -> int:
        """Put a listing on the marketplace as if created elsewhere (the site, another tool, another Vitrine);
        returns its id."""
        with self.lock:
            self._release(release_id)
            listing_id = self.state.next_listing_id
            self.state.next_listing_id += 1
            self.state.listings[listing_id] = {
                "id": listing_id, "seller": username, "release_id": release_id, "condition": condition,
                "sleeve_condition": None, "price": price, "currency": "USD", "status": status, "comments": "",
                "allow_offers": False, "posted": _now_iso(), "ships_from": "United States",
                **({"external_id": external_id} if external_id is not None else {}),
            }  # fmt: skip
            return listing_id

    def add_instance(self, release_id: int, *, username: str = "example", folder_id: int = 1,
                     fields: dict[int, str] | None = None) -> int:
        """Put a copy of a release in a user's collection as if added on the site; returns its instance id."""
        with self.lock:
            self._release(release_id)
            instance_id = self.state.next_instance_id
            self.state.next_instance_id += 1
            self.state.instances[username].append({"id": release_id, "instance_id": instance_id,
                                                   "folder_id": folder_id, "rating": 0, "date_added": _now_iso()})
            if fields:
                self.state.field_values[(username, instance_id)] = dict(fields)
            return instance_id

    def field_values(self, instance_id: int, username: str = "example") -> dict[int, str]:
        """The custom field values (field id -> value) of one instance."""
        with self.lock:
            return dict(self.state.field_values.get((username, instance_id), {}))

    def set_price_suggestions(self, release_id: int, suggestions: dict[str, Any]) -> None:
        """Override the suggestions of a release (``{}`` = none available)."""
        with self.lock:
            self.state.price_suggestions[release_id] = copy.deepcopy(suggestions)

    # ------------------------------------------------------------------ OAuth helpers for tests
    @property
    def authorize_url(self) -> str:
        """Where the user approves a request token (Discogs: https://www.discogs.com/oauth/authorize)."""
        return self.url + "/oauth/authorize"

    def approve(self, request_token: str, username: str | None = None) -> str:
        """Approve a request token as ``username`` (default ``authorize_as``); returns the verifier."""
        with self.lock:
            rt = self.state.request_tokens.get(request_token)
            if rt is None:
                raise KeyError(f"unknown request token {request_token!r}")
            rt.username = username or self.authorize_as
            rt.verifier = secrets.token_hex(5)
            return rt.verifier

    def issue_access_token(self, username: str = "example",
                           consumer_key: str = CONSUMER_KEY) -> tuple[str, str]:
        """Create an access token directly, for tests that are not about the OAuth dance."""
        with self.lock:
            token = AccessToken(secrets.token_hex(20), secrets.token_hex(20), consumer_key, username)
            self.state.access_tokens[token.token] = token
            return token.token, token.secret

    # ------------------------------------------------------------------ OAuth verification
    @staticmethod
    def _oauth_header_params(header: str) -> dict[str, str] | None:
        scheme, _, rest = header.partition(" ")
        if scheme.lower() != "oauth":
            return None
        return {k: unquote(v) for k, v in re.findall(r'([\w-]+)\s*=\s*"([^"]*)"', rest)}

    def _verify_oauth(self, request: RecordedRequest, endpoint: str) -> dict[str, str]:
        """Check an OAuth 1.0a signed request; returns its oauth_* parameters. Raises HTTPError."""
        query_pairs = parse_qsl(urlsplit(request.raw_path).query, keep_blank_values=True)
        body_pairs: list[tuple[str, str]] = []
        if (request.header("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            body_pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
        header_params = self._oauth_header_params(request.header("Authorization") or "") or {}
        header_pairs = [(k, v) for k, v in header_params.items() if k != "realm"]
        oauth = {k: v for k, v in [*query_pairs, *body_pairs, *header_pairs] if k.startswith("oauth_")}
        plain = endpoint in ("request_token", "access_token")
        bad_request = 400

        def fail(status: int, message: str) -> HTTPError:
            if plain:
                return HTTPError(status, message, body=message.encode(),
                                 headers={"Content-Type": "text/plain"})
            return HTTPError(status, message, headers={"WWW-Authenticate": 'OAuth realm="https://api.discogs.com"'})

        method = oauth.get("oauth_signature_method", "")
        if "oauth_consumer_key" not in oauth or "oauth_signature" not in oauth or not method:
            raise fail(bad_request if plain else 401, "Missing OAuth parameters." if plain else AUTH_REQUIRED)
        if oauth.get("oauth_version", "1.0") != "1.0":
            raise fail(bad_request, "Unsupported oauth_version.")
        consumer = self.consumers.get(oauth["oauth_consumer_key"])
        if consumer is None:
            raise fail(401, "Invalid consumer.")
        if method not in ("HMAC-SHA1", "PLAINTEXT"):
            raise fail(bad_request, f"Unsupported signature method {method}.")
        timestamp, nonce = oauth.get("oauth_timestamp"), oauth.get("oauth_nonce")
        if method == "HMAC-SHA1" or timestamp is not None or nonce is not None:
            if not timestamp or not re.fullmatch(r"\d{1,10}", timestamp):
                raise fail(401, "Invalid oauth_timestamp: integer seconds expected.")
            if abs(time.time() - int(timestamp)) > self.timestamp_tolerance:
                raise fail(401, "Expired oauth_timestamp.")
            if not nonce or len(nonce) > 64:
                raise fail(401, "Invalid oauth_nonce (1-64 characters).")
        token_value = oauth.get("oauth_token", "")
        token_secret = ""
        if endpoint == "request_token":
            if token_value:
                raise fail(bad_request, "oauth_token must not be sent when requesting a token.")
        elif endpoint == "access_token":
            rt = self.state.request_tokens.get(token_value)
            if rt is None or rt.consumer_key != consumer.key:
                raise fail(bad_request, "Invalid or expired request token.")
            token_secret = rt.secret
        else:
            at = self.state.access_tokens.get(token_value)
            if at is None or at.consumer_key != consumer.key:
                raise fail(401, AUTH_REQUIRED)
            token_secret = at.secret
        signature = oauth["oauth_signature"]
        if method == "PLAINTEXT":
            expected = f"{_enc(consumer.secret)}&{_enc(token_secret)}"
        else:
            params = [(k, v) for k, v in [*query_pairs, *body_pairs, *header_pairs] if k != "oauth_signature"]
            normalized = "&".join(f"{a}={b}" for a, b in sorted((_enc(k), _enc(v)) for k, v in params))
            host = (request.header("Host") or f"127.0.0.1:{self.port}").lower()
            if host.endswith(":80"):
                host = host[:-3]
            base = "&".join([request.method.upper(), _enc(f"http://{host}{request.path}"), _enc(normalized)])
            key = f"{_enc(consumer.secret)}&{_enc(token_secret)}".encode()
            expected = base64.b64encode(hmac.new(key, base.encode(), hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise fail(401, "Invalid signature.")
        body_hash = oauth.get("oauth_body_hash")  # OAuth Request Body Hash extension (sent by authlib)
        actual_hash = base64.b64encode(hashlib.sha1(request.body).digest()).decode()
        if body_hash is not None and body_hash != actual_hash:
            raise fail(401, "Invalid oauth_body_hash.")
        if nonce is not None:
            replay_key = (consumer.key, token_value, timestamp or "", nonce)
            if replay_key in self.state.nonces:
                raise fail(401, "Nonce already used.")
            self.state.nonces.add(replay_key)
        return oauth

    def _authenticate(self, request: RecordedRequest) -> Auth | None:
        """Who is calling (None = anonymous). Raises HTTPError for credentials that are present but bad."""
        header = request.header("Authorization") or ""
        if header.lower().startswith("oauth "):
            oauth = self._verify_oauth(request, "api")
            at = self.state.access_tokens[oauth["oauth_token"]]
            return Auth("oauth", at.username, at.consumer_key)
        if header.lower().startswith("discogs "):
            params = dict(re.findall(r"(\w+)=([^,\s]+)", header[8:]))
            if "token" in params:
                if params["token"] not in self.personal_tokens:
                    raise HTTPError(401, "Invalid personal access token.")
                return Auth("token", self.personal_tokens[params["token"]])
            consumer = self.consumers.get(params.get("key", ""))
            if consumer is None or not hmac.compare_digest(params.get("secret", ""), consumer.secret):
                raise HTTPError(401, "Invalid consumer.")
            return Auth("consumer", None, consumer.key)
        token = dict(parse_qsl(urlsplit(request.raw_path).query)).get("token")
        if token is not None:
            if token not in self.personal_tokens:
                raise HTTPError(401, "Invalid personal access token.")
            return Auth("token", self.personal_tokens[token])
        return None

    # ------------------------------------------------------------------ hooks
    def error_body(self, status: int, message: str) -> Any:
        if status == 429:
            return {"message": TOO_FAST}
        return {"message": message}

    def _rate_snapshot(self, limit: int) -> dict[str, str]:
        now = time.monotonic()
        while self._window and now - self._window[0] >= self.rate_window:
            self._window.popleft()
        used = min(len(self._window), limit)
        return {"X-Discogs-Ratelimit": str(limit), "X-Discogs-Ratelimit-Used": str(used),
                "X-Discogs-Ratelimit-Remaining": str(max(0, limit - used))}

    def before_request(self, request: RecordedRequest) -> Response | None:
        self._auth = None
        ua = (request.header("User-Agent") or "").strip()
        website = request.path == "/oauth/authorize"  # www.discogs.com's page, opened by the member's browser
        blocked = not ua or not PRODUCT_USER_AGENT.match(ua) or (
            self.reject_generic_user_agents and GENERIC_USER_AGENT.match(ua))
        if blocked and not website:
            return Response(403, b"", {"Content-Type": "text/plain"})  # Discogs silently blocks these
        oauth_endpoint = request.path in ("/oauth/request_token", "/oauth/access_token", "/oauth/authorize")
        auth_error: HTTPError | None = None
        if not oauth_endpoint:
            try:
                self._auth = self._authenticate(request)
            except HTTPError as exc:
                auth_error = exc
        authenticated = oauth_endpoint or self._auth is not None
        limit = self.rate_limit if authenticated else self.unauthenticated_rate_limit
        snapshot = self._rate_snapshot(limit)
        if len(self._window) >= limit:
            self._rate_headers[id(request)] = snapshot
            raise HTTPError(429, TOO_FAST)
        self._window.append(time.monotonic())
        self._rate_headers[id(request)] = self._rate_snapshot(limit)
        if auth_error is not None:
            raise auth_error
        self._maybe_flaky(request)
        return None

    def _maybe_flaky(self, request: RecordedRequest) -> None:
        """Apply ``faults.flaky_writes`` and ``faults.fail_after_write_next`` to this request."""
        for fault in self.after_faults:
            if fault.matches(request.method, request.path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.after_faults.remove(fault)
                self._fail_after.add(id(request))
                return
        if self.flaky is None:
            return
        before, after, rng, path, method = self.flaky
        if request.method != method.upper() or not fnmatch.fnmatchcase(request.path, path):
            return
        roll = rng.random()
        if roll < before:
            self.injected["before"] += 1
            raise HTTPError(500, "An internal server error occurred.")
        if roll < before + after:
            self.injected["after"] += 1
            self._fail_after.add(id(request))

    def after_response(self, request: RecordedRequest, response: Response) -> None:
        self.answers.append((request.timestamp, request.method, request.path, response.status))
        if id(request) in self._fail_after:
            self._fail_after.discard(id(request))
            if response.status < 400:  # the write happened; the answer is lost
                response.status, response.body = 500, {"message": "An internal server error occurred."}
                response.headers.pop("Content-Type", None)
        headers = self._rate_headers.pop(id(request), None) or self._rate_snapshot(self.rate_limit)
        for key, value in headers.items():
            response.headers.setdefault(key, value)

    def _user(self, req: Request) -> str:
        username = req.params["username"]
        if username not in self.state.users:
            raise HTTPError(404, "User does not exist or may have been deleted.")
        return username

    def _require_auth(self) -> Auth:
        if self._auth is None:
            raise HTTPError(401, AUTH_REQUIRED, headers={"WWW-Authenticate": 'OAuth realm="https://api.discogs.com"'})
        return self._auth

    def _require_owner(self, username: str) -> None:
        auth = self._require_auth()
        if auth.username != username:
            raise HTTPError(403, NO_PERMISSION)

    def _is_owner(self, username: str) -> bool:
        return self._auth is not None and self._auth.username == username

    def _paginate(self, req: Request, items: list[Any], key: str) -> Response:
        page = req.int_arg("page", 1) or 1
        per_page = min(max(req.int_arg("per_page", 50) or 50, 1), 100)
        if page < 1:
            raise HTTPError(400, "Invalid page.")
        pages = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        urls: dict[str, str] = {}
        params = {k: v[0] for k, v in req.query.items() if k not in ("page", "token")}

        def url_for(n: int) -> str:
            return f"{self.url}{req.path}?{urlencode({**params, 'page': n, 'per_page': per_page})}"

        if pages > 1:
            if page > 1:
                urls["first"], urls["prev"] = url_for(1), url_for(page - 1)
            if page < pages:
                urls["next"], urls["last"] = url_for(page + 1), url_for(pages)
        body = {"pagination": {"page": page, "pages": pages, "per_page": per_page, "items": len(items),
                               "urls": urls}, key: chunk}
        link = ", ".join(f'<{u}>; rel="{rel}"' for rel, u in urls.items())
        return Response(200, self.rewrite_urls(body), {"Link": link} if link else {})

    # ------------------------------------------------------------------ routes
    def setup_routes(self) -> None:
        r = self.route
        r("POST", "/oauth/request_token", self.request_token)
        r("GET", "/oauth/request_token", self.request_token)
        r("GET", "/oauth/authorize", self.authorize_page)
        r("POST", "/oauth/access_token", self.access_token)
        r("GET", "/oauth/identity", self.identity)
        u = "/users/{username}"
        r("GET", u, self.get_user)
        r("GET", f"{u}/collection/folders", self.list_folders)
        r("POST", f"{u}/collection/folders", self.create_folder)
        r("GET", f"{u}/collection/folders/{{folder_id:int}}", self.get_folder)
        r("GET", f"{u}/collection/folders/{{folder_id:int}}/releases", self.folder_releases)
        r("POST", f"{u}/collection/folders/{{folder_id:int}}/releases/{{release_id:int}}", self.add_to_folder)
        inst = (f"{u}/collection/folders/{{folder_id:int}}/releases/{{release_id:int}}"
                "/instances/{instance_id:int}")
        r("POST", inst, self.edit_instance)
        r("DELETE", inst, self.delete_instance)
        r("POST", f"{inst}/fields/{{field_id:int}}", self.set_field)
        r("GET", f"{u}/collection/releases/{{release_id:int}}", self.release_instances)
        r("GET", f"{u}/collection/fields", self.collection_fields)
        r("GET", f"{u}/collection/value", self.collection_value)
        r("GET", f"{u}/wants", self.list_wants)
        r("PUT", f"{u}/wants/{{release_id:int}}", self.put_want)
        r("POST", f"{u}/wants/{{release_id:int}}", self.edit_want)
        r("DELETE", f"{u}/wants/{{release_id:int}}", self.delete_want)
        r("GET", f"{u}/inventory", self.inventory)
        r("POST", "/marketplace/listings", self.create_listing)
        r("GET", "/marketplace/listings/{listing_id:int}", self.get_listing)
        r("POST", "/marketplace/listings/{listing_id:int}", self.edit_listing)
        r("DELETE", "/marketplace/listings/{listing_id:int}", self.delete_listing)
        r("GET", "/marketplace/price_suggestions/{release_id:int}", self.price_suggestions)
        r("GET", "/marketplace/stats/{release_id:int}", self.stats)
        r("GET", "/database/search", self.search)
        r("GET", "/releases/{release_id:int}", self.get_release)
        r("GET", "/{rest:path}", self.fixture_fallback)

    # OAuth ----------------------------------------------------------------
    def request_token(self, req: Request) -> Response:
        oauth = self._verify_oauth(req.recorded, "request_token")
        consumer = self.consumers[oauth["oauth_consumer_key"]]
        callback = oauth.get("oauth_callback") or consumer.callback_url
        rt = RequestToken(secrets.token_hex(16), secrets.token_hex(20), consumer.key, callback,
                          time.monotonic())
        self.state.request_tokens[rt.token] = rt
        body = urlencode({"oauth_token": rt.token, "oauth_token_secret": rt.secret,
                          "oauth_callback_confirmed": "true"})
        return Response(200, body.encode(), {"Content-Type": "application/x-www-form-urlencoded"})

    def authorize_page(self, req: Request) -> Response:
        token = req.arg("oauth_token") or ""
        rt = self.state.request_tokens.get(token)
        if rt is None or time.monotonic() - rt.created > self.request_token_ttl:
            return Response(400, "Invalid or expired request token.", {"Content-Type": "text/plain"})
        verifier = self.approve(token)
        if rt.callback and rt.callback != "oob":
            sep = "&" if "?" in rt.callback else "?"
            location = f"{rt.callback}{sep}{urlencode({'oauth_token': token, 'oauth_verifier': verifier})}"
            return Response(302, b"", {"Location": location})
        page = (f"<html><body><p>{CONSUMER_NAME} is now authorized. Your verification code is:</p>"
                f'<p><code id="verifier">{verifier}</code></p></body></html>')
        return Response(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def access_token(self, req: Request) -> Response:
        oauth = self._verify_oauth(req.recorded, "access_token")
        rt = self.state.request_tokens[oauth["oauth_token"]]

        def bad(message: str) -> HTTPError:
            return HTTPError(400, message, body=message.encode(), headers={"Content-Type": "text/plain"})

        if time.monotonic() - rt.created > self.request_token_ttl:
            del self.state.request_tokens[rt.token]
            raise bad("Invalid or expired request token.")
        if rt.verifier is None or not hmac.compare_digest(oauth.get("oauth_verifier", ""), rt.verifier):
            raise bad("Invalid oauth_verifier.")
        del self.state.request_tokens[rt.token]  # one-time use
        at = AccessToken(secrets.token_hex(20), secrets.token_hex(20), rt.consumer_key, rt.username or "")
        self.state.access_tokens[at.token] = at
        body = urlencode({"oauth_token": at.token, "oauth_token_secret": at.secret})
        return Response(200, body.encode(), {"Content-Type": "application/x-www-form-urlencoded"})

    def identity(self, req: Request) -> dict[str, Any]:
        auth = self._require_auth()
        if auth.username is None:
            raise HTTPError(401, AUTH_REQUIRED)
        user = self.state.users[auth.username]
        consumer = self.consumers.get(auth.consumer_key or "")
        return {"id": user["id"], "username": auth.username,
                "resource_url": f"{self.url}/users/{auth.username}",
                "consumer_name": consumer.name if consumer else CONSUMER_NAME}

    # Users & collection -----------------------------------------------------
    def get_user(self, req: Request) -> dict[str, Any]:
        return self.rewrite_urls(copy.deepcopy(self.state.users[self._user(req)]))

    def _folders_with_counts(self, username: str) -> list[dict[str, Any]]:
        instances = self.state.instances[username]
        base = f"/users/{username}/collection/folders"
        folders = [{"id": 0, "name": "All", "count": len(instances), "resource_url": f"{base}/0"}]
        for f in self.state.folders[username]:
            count = sum(1 for i in instances if i["folder_id"] == f["id"])
            folders.append({**f, "count": count, "resource_url": f"{base}/{f['id']}"})
        return folders

    def list_folders(self, req: Request) -> dict[str, Any]:
        username = self._user(req)
        folders = self._folders_with_counts(username)
        if not self._is_owner(username):
            folders = folders[:1]  # non-owners only see "All" of a public collection
        return self.rewrite_urls({"folders": folders})

    def create_folder(self, req: Request) -> Response:
        username = self._user(req)
        self._require_owner(username)
        data = self._params(req)
        if not data.get("name"):
            raise HTTPError(422, "Validation Failed: name is required.")
        folder = {"id": self.state.next_folder_id, "name": str(data["name"])}
        self.state.next_folder_id += 1
        self.state.folders[username].append(folder)
        url = f"/users/{username}/collection/folders/{folder['id']}"
        return Response(201, self.rewrite_urls({**folder, "count": 0, "resource_url": url}))

    def _folder(self, username: str, folder_id: int) -> dict[str, Any]:
        for folder in self._folders_with_counts(username):
            if folder["id"] == folder_id:
                return folder
        raise HTTPError(404, "Folder not found.")

    def get_folder(self, req: Request) -> dict[str, Any]:
        username = self._user(req)
        if req.params["folder_id"] != 0:
            self._require_owner(username)
        return self.rewrite_urls(self._folder(username, req.params["folder_id"]))

    def _instance_view(self, username: str, inst: dict[str, Any]) -> dict[str, Any]:
        view = {**copy.deepcopy(inst), "basic_information": self._basic_information(inst["id"])}
        values = self.state.field_values.get((username, inst["instance_id"]))
        if values:
            view["notes"] = [{"field_id": fid, "value": v} for fid, v in sorted(values.items())]
        return view

    def folder_releases(self, req: Request) -> Response:
        username = self._user(req)
        folder_id = req.params["folder_id"]
        if folder_id != 0:
            self._require_owner(username)
        self._folder(username, folder_id)
        items = [i for i in self.state.instances[username] if folder_id in (0, i["folder_id"])]
        sort = req.arg("sort")
        sort_keys = {"added": lambda i: i["date_added"], "rating": lambda i: i["rating"],
                     "year": lambda i: self.releases.get(i["id"], {}).get("year") or 0,
                     "title": lambda i: self.releases.get(i["id"], {}).get("title", "")}
        if sort is not None:
            if sort not in (*sort_keys, "label", "artist", "catno", "format"):
                raise HTTPError(422, f"Invalid sort: {sort}")
            if sort in sort_keys:
                items = sorted(items, key=sort_keys[sort], reverse=req.arg("sort_order") == "desc")
        return self._paginate(req, [self._instance_view(username, i) for i in items], "releases")

    def add_to_folder(self, req: Request) -> Response:
        username = self._user(req)
        self._require_owner(username)
        folder_id, release_id = req.params["folder_id"], req.params["release_id"]
        if folder_id == 0:
            raise HTTPError(422, "Validation Failed: folder_id must be non-zero (use 1 for Uncategorized).")
        self._folder(username, folder_id)
        self._release(release_id)
        inst = {"id": release_id, "instance_id": self.state.next_instance_id, "folder_id": folder_id,
                "rating": 0, "date_added": _now_iso()}
        self.state.next_instance_id += 1
        self.state.instances[username].append(inst)  # every POST is a new copy, never deduplicated
        url = (f"{self.url}/users/{username}/collection/folders/{folder_id}/releases/{release_id}"
               f"/instances/{inst['instance_id']}")
        return Response(201, {"instance_id": inst["instance_id"], "resource_url": url})

    def _instance(self, req: Request, username: str) -> dict[str, Any]:
        for inst in self.state.instances[username]:
            if (inst["instance_id"] == req.params["instance_id"] and inst["id"] == req.params["release_id"]
                    and inst["folder_id"] == req.params["folder_id"]):
                return inst
        raise HTTPError(404, "Instance not found.")

    def edit_instance(self, req: Request) -> Response:
        username = self._user(req)
        self._require_owner(username)
        inst = self._instance(req, username)
        data = self._params(req)
        if "rating" in data:
            rating = self._int(data["rating"], "rating")
            if not 0 <= rating <= 5:
                raise HTTPError(422, "Validation Failed: rating must be between 0 and 5.")
            inst["rating"] = rating
        if "folder_id" in data:
            target = self._int(data["folder_id"], "folder_id")
            if target == 0:
                raise HTTPError(422, "Validation Failed: folder_id must be non-zero.")
            self._folder(username, target)
            inst["folder_id"] = target
        return Response(204, b"")

    def delete_instance(self, req: Request) -> Response:
        username = self._user(req)
        self._require_owner(username)
        inst = self._instance(req, username)
        self.state.instances[username].remove(inst)
        return Response(204, b"")

    def collection_fields(self, req: Request) -> dict[str, Any]:
        self._user(req)
        return {"fields": [
            {"id": 1, "name": "Media", "type": "dropdown", "position": 1, "public": True,
             "options": list(MEDIA_CONDITIONS)},
            {"id": 2, "name": "Sleeve", "type": "dropdown", "position": 2, "public": True,
             "options": ["Generic", "No Cover", *MEDIA_CONDITIONS]},
            {"id": 3, "name": "Notes", "type": "textarea", "position": 3, "public": True, "lines": 3}]}

    def set_field(self, req: Request) -> Response:
        username = self._user(req)
        self._require_owner(username)
        inst = self._instance(req, username)
        value = req.arg("value")
        if value is None:
            value = self._params(req).get("value")
        if value is None:
            raise HTTPError(422, "Validation Failed: value is required.")
        fields = {f["id"]: f for f in self.collection_fields(req)["fields"]}
        fld = fields.get(req.params["field_id"])
        if fld is None:
            raise HTTPError(404, "Field not found.")
        if fld["type"] == "dropdown" and value not in fld["options"]:
            raise HTTPError(422, f"Validation Failed: value must be one of: {', '.join(fld['options'])}")
        self.state.field_values.setdefault((username, inst["instance_id"]), {})[fld["id"]] = str(value)
        return Response(204, b"")

    def release_instances(self, req: Request) -> Response:
        username = self._user(req)
        if req.params["release_id"] == 0:
            raise HTTPError(422, "Validation Failed: release_id must be non-zero.")
        items = [self._instance_view(username, i) for i in self.state.instances[username]
                 if i["id"] == req.params["release_id"]]
        return self._paginate(req, items, "releases")

    def collection_value(self, req: Request) -> dict[str, Any]:
        username = self._user(req)
        self._require_owner(username)
        return self._fixture("users/example/collection/value.json")

    # Wantlist -------------------------------------------------------------
    def _want_view(self, username: str, want: dict[str, Any]) -> dict[str, Any]:
        view = {"id": want["id"], "rating": want["rating"],
                "resource_url": f"/users/{username}/wants/{want['id']}",
                "basic_information": self._basic_information(want["id"])}
        if self._is_owner(username) or want.get("notes_public"):
            view["notes"] = want.get("notes", "")
        if self._is_owner(username):
            view["notes_public"] = want.get("notes_public", False)
        return self.rewrite_urls(view)

    def list_wants(self, req: Request) -> Response:
        username = self._user(req)
        wants = [self._want_view(username, w) for w in self.state.wants[username].values()]
        return self._paginate(req, wants, "wants")

    def _apply_want(self, req: Request, want: dict[str, Any]) -> None:
        data = self._params(req)
        if "rating" in data:
            rating = self._int(data["rating"], "rating")
            if not 0 <= rating <= 5:
                raise HTTPError(422, "Validation Failed: rating must be between 0 and 5.")
            want["rating"] = rating
        if "notes" in data:
            want["notes"] = str(data["notes"])
        if "notes_public" in data:
            want["notes_public"] = str(data["notes_public"]).lower() in ("true", "1")

    def put_want(self, req: Request) -> Response:
        username = self._user(req)
        self._require_owner(username)
        release_id = req.params["release_id"]
        self._release(release_id)
        want = self.state.wants[username].get(release_id) or {"id": release_id, "rating": 0, "notes": ""}
        self._apply_want(req, want)
        self.state.wants[username][release_id] = want  # PUT is an upsert: no duplicate wants
        return Response(201, self._want_view(username, want))

    def edit_want(self, req: Request) -> dict[str, Any]:
        username = self._user(req)
        self._require_owner(username)
        want = self.state.wants[username].get(req.params["release_id"])
        if want is None:
            raise HTTPError(404, "The requested resource was not found.")
        self._apply_want(req, want)
        return self._want_view(username, want)

    def delete_want(self, req: Request) -> Response:
        username = self._user(req)
        self._require_owner(username)
        if self.state.wants[username].pop(req.params["release_id"], None) is None:
            raise HTTPError(404, "The requested resource was not found.")
        return Response(204, b"")

    # Marketplace ----------------------------------------------------------
    @staticmethod
    def _int(value: Any, name: str) -> int:
        if isinstance(value, bool):
            raise HTTPError(422, f"Validation Failed: {name} must be a number.")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise HTTPError(422, f"Validation Failed: {name} must be a number.") from None

    @staticmethod
    def _params(req: Request) -> dict[str, Any]:
        """Parameters from a JSON body, a form body or the query string (Discogs accepts all three)."""
        data: dict[str, Any] = {k: v[0] for k, v in req.query.items() if k != "token"}
        ctype = req.header("Content-Type") or ""
        if req.body and "json" in ctype:
            body = req.json()
            if not isinstance(body, dict):
                raise HTTPError(400, "The request body must be a JSON object.")
            data.update(body)
        elif req.body and "x-www-form-urlencoded" in ctype:
            data.update({k: v for k, v in req.form().items() if not k.startswith("oauth_")})
        return data

    def _validate_listing(self, data: dict[str, Any]) -> dict[str, Any]:
        for name in ("release_id", "condition", "price", "status"):
            if data.get(name) in (None, ""):
                raise HTTPError(422, f"Validation Failed: {name} is required.")
        release_id = self._int(data["release_id"], "release_id")
        self._release(release_id)
        if data["condition"] not in MEDIA_CONDITIONS:
            raise HTTPError(422, f"Invalid condition: expected one of {', '.join(MEDIA_CONDITIONS)}.")
        sleeve = data.get("sleeve_condition")
        if sleeve is not None and sleeve not in SLEEVE_CONDITIONS:
            raise HTTPError(422, f"Invalid sleeve_condition: expected one of {', '.join(SLEEVE_CONDITIONS)}.")
        if data["status"] not in LISTING_STATUSES:
            raise HTTPError(422, f"Invalid status: expected one of {', '.join(LISTING_STATUSES)}.")
        try:
            price = float(data["price"])
        except (TypeError, ValueError):
            raise HTTPError(422, "Validation Failed: price must be a number.") from None
        if isinstance(data["price"], bool) or not price > 0 or not math.isfinite(price):
            raise HTTPError(422, "Validation Failed: price must be a positive number.")
        allow_offers = data.get("allow_offers", False)
        if isinstance(allow_offers, str):
            allow_offers = allow_offers.lower() in ("true", "1")
        out = {"release_id": release_id, "condition": data["condition"], "sleeve_condition": sleeve,
               "price": round(price, 2), "status": data["status"],
               "comments": str(data.get("comments") or ""),
               "allow_offers": bool(allow_offers)}
        for key in ("external_id", "location"):
            if data.get(key) is not None:
                out[key] = str(data[key])
        for key in ("weight", "format_quantity"):
            if data.get(key) is not None:
                if data[key] != "auto":
                    self._int(data[key], key)
                out[key] = data[key]
        return out

    def create_listing(self, req: Request) -> Response:
        auth = self._require_auth()
        if auth.username is None:
            raise HTTPError(403, NO_PERMISSION)
        listing = self._validate_listing(self._params(req))
        listing.update({"id": self.state.next_listing_id, "seller": auth.username, "currency": "USD",
                        "posted": _now_iso(), "ships_from": "United States"})
        self.state.next_listing_id += 1
        self.state.listings[listing["id"]] = listing
        return Response(201, {"listing_id": listing["id"],
                              "resource_url": f"{self.url}/marketplace/listings/{listing['id']}"})

    def _listing_view(self, listing: dict[str, Any]) -> dict[str, Any]:
        release = self.releases.get(listing["release_id"], {})
        artist = " & ".join(a.get("name", "") for a in release.get("artists", []))
        seller = self.state.users.get(listing["seller"], {})
        view = {
            "id": listing["id"], "status": listing["status"], "condition": listing["condition"],
            "sleeve_condition": listing.get("sleeve_condition"), "comments": listing.get("comments", ""),
            "allow_offers": listing.get("allow_offers", False), "posted": listing["posted"],
            "ships_from": listing.get("ships_from", ""), "audio": False,
            "price": {"currency": listing["currency"], "value": listing["price"]},
            "uri": f"https://www.discogs.com/sell/item/{listing['id']}",
            "resource_url": f"/marketplace/listings/{listing['id']}",
            "seller": {"id": seller.get("id"), "username": listing["seller"],
                       "resource_url": f"/users/{listing['seller']}"},
            "release": {"id": listing["release_id"], "title": release.get("title", ""), "artist": artist,
                        "year": release.get("year"), "resource_url": f"/releases/{listing['release_id']}",
                        "description": f"{artist} - {release.get('title', '')}",
                        "thumbnail": release.get("thumb", "")},
        }
        if self._is_owner(listing["seller"]):
            for key in ("external_id", "location", "weight", "format_quantity"):
                if key in listing:
                    view[key] = listing[key]
            view["quantity"] = 1
        if view["sleeve_condition"] is None:
            del view["sleeve_condition"]
        return self.rewrite_urls(view)

    def _listing(self, listing_id: int) -> dict[str, Any]:
        listing = self.state.listings.get(listing_id)
        if listing is None or listing["status"] == "Deleted":
            raise HTTPError(404, "The request resource was not found.")
        return listing

    def get_listing(self, req: Request) -> dict[str, Any]:
        listing = self._listing(req.params["listing_id"])
        if listing["status"] != "For Sale" and not self._is_owner(listing["seller"]):
            raise HTTPError(404, "The request resource was not found.")
        return self._listing_view(listing)

    def edit_listing(self, req: Request) -> Response:
        listing = self._listing(req.params["listing_id"])
        self._require_owner(listing["seller"])
        if listing["status"] not in ("For Sale", "Draft", "Expired"):
            raise HTTPError(403, "Only For Sale, Draft or Expired listings can be edited.")
        listing.update(self._validate_listing(self._params(req)))
        return Response(204, b"")

    def delete_listing(self, req: Request) -> Response:
        listing = self._listing(req.params["listing_id"])
        self._require_owner(listing["seller"])
        del self.state.listings[listing["id"]]
        return Response(204, b"")

    def inventory(self, req: Request) -> Response:
        username = self._user(req)
        status = req.arg("status")
        if status is not None and status not in INVENTORY_STATUSES:
            raise HTTPError(422, f"Invalid status: expected one of {', '.join(INVENTORY_STATUSES)}.")
        items = [v for v in self.state.listings.values() if v["seller"] == username]
        if not self._is_owner(username):
            items = [v for v in items if v["status"] == "For Sale"]
        if status not in (None, "All"):
            items = [v for v in items if v["status"] == status]
        return self._paginate(req, [self._listing_view(v) for v in items], "listings")

    @staticmethod
    def _rng(release_id: int, salt: str) -> random.Random:
        return random.Random(int(hashlib.sha256(f"{salt}:{release_id}".encode()).hexdigest()[:16], 16))

    def price_suggestions(self, req: Request) -> dict[str, Any]:
        auth = self._require_auth()
        if auth.username is None:
            raise HTTPError(403, NO_PERMISSION)
        release_id = req.params["release_id"]
        self._release(release_id)
        if not self.state.seller_settings_complete.get(auth.username, True):
            return {}
        if release_id in self.state.price_suggestions:
            return copy.deepcopy(self.state.price_suggestions[release_id])
        rng = self._rng(release_id, "suggest")
        if rng.random() < 0.2:
            return {}  # "If no suggestions are available, an empty object will be returned."
        top = rng.uniform(8, 80)
        factors = (1.0, 0.9, 0.72, 0.5, 0.36, 0.25, 0.15, 0.1)
        return {c: {"currency": "USD", "value": top * f * rng.uniform(0.97, 1.03)}
                for c, f in zip(MEDIA_CONDITIONS, factors, strict=True)}

    def stats(self, req: Request) -> dict[str, Any]:
        release_id = req.params["release_id"]
        self._release(release_id)
        currency = req.arg("curr_abbr") or "USD"
        if currency not in CURRENCIES:
            raise HTTPError(422, f"Invalid curr_abbr: expected one of {', '.join(CURRENCIES)}.")
        rng = self._rng(release_id, "stats")
        listed = [v for v in self.state.listings.values()
                  if v["release_id"] == release_id and v["status"] == "For Sale"]
        count = rng.randrange(0, 30) + len(listed)
        if count == 0:
            return {"lowest_price": None, "num_for_sale": None, "blocked_from_sale": False}
        return {"lowest_price": {"currency": currency, "value": round(rng.uniform(1, 40), 2)},
                "num_for_sale": count, "blocked_from_sale": False}

    # Database -------------------------------------------------------------
    def search(self, req: Request) -> Response:
        self._require_auth()  # "Authentication (as any user) is required."
        results = list(self.search_index)

        def contains(value: Any, needle: str) -> bool:
            values = value if isinstance(value, list) else [value]
            return any(needle.lower() in str(v).lower() for v in values if v is not None)

        q = req.arg("q")
        if q:
            words = q.lower().split()
            results = [r for r in results if all(
                contains([r.get("title"), *r.get("label", []), r.get("catno"), *r.get("barcode", [])], w)
                for w in words)]
        kind = req.arg("type")
        if kind:
            if kind not in ("release", "master", "artist", "label"):
                raise HTTPError(422, "Invalid type: expected one of release, master, artist, label.")
            results = [r for r in results if r["type"] == kind]
        for param, key in (("title", "title"), ("label", "label"), ("genre", "genre"), ("style", "style"),
                           ("country", "country"), ("year", "year"), ("format", "format"),
                           ("catno", "catno"), ("barcode", "barcode")):
            value = req.arg(param)
            if value:
                results = [r for r in results if contains(r.get(key), value)]
        artist = req.arg("artist")
        if artist:
            results = [r for r in results if (r["type"] == "artist" and contains(r["title"], artist))
                       or (r["type"] != "artist" and r["title"].lower().startswith(artist.lower()))]
        release_title = req.arg("release_title")
        if release_title:
            results = [r for r in results if r["type"] == "release"
                       and contains(r["title"].partition(" - ")[2], release_title)]
        return self._paginate(req, results, "results")

    def get_release(self, req: Request) -> dict[str, Any]:
        currency = req.arg("curr_abbr")
        if currency is not None and currency not in CURRENCIES:
            raise HTTPError(422, f"Invalid curr_abbr: expected one of {', '.join(CURRENCIES)}.")
        return self.rewrite_urls(copy.deepcopy(self._release(req.params["release_id"])))

    def fixture_fallback(self, req: Request) -> Any:
        path = self.fixture_files.get(req.path.rstrip("/"))
        if path is None:
            raise HTTPError(404, "Resource not found.")
        return self.rewrite_urls(json.loads(path.read_text(encoding="utf-8")))

    def describe(self) -> list[str]:
        return [
            f"  DISCOGS_API_URL={self.base_url}",
            f"  DISCOGS_AUTHORIZE_URL={self.authorize_url}",
            f"  DISCOGS_CONSUMER_KEY={CONSUMER_KEY}",
            f"  DISCOGS_CONSUMER_SECRET={CONSUMER_SECRET}",
            f"  personal token (user 'example'): {PERSONAL_TOKEN}",
            f"  rate limit {self.rate_limit}/{self.rate_window:g}s; send a User-Agent like {USER_AGENT!r}",
        ]


def main(argv: list[str] | None = None) -> None:
    def extra(parser: Any) -> None:
        parser.add_argument("--rate-limit", type=int, default=60)
        parser.add_argument("--rate-window", type=float, default=60.0)

    run_cli(lambda a: DiscogsEmulator(port=a.port, verbose=a.verbose, rate_limit=a.rate_limit,
                                      rate_window=a.rate_window),
            "Discogs API emulator", argv, extra)


if __name__ == "__main__":
    main()
