"""Loopback emulator of the Numista REST API v3 (spec: Numista's swagger.yaml 3.30.0, the verbatim copy the
app ships as ``services/integrations/numista/data/numista_swagger.yaml``).

Why: Vitrine pushes coins to Numista collections and reads catalogue prices; this emulator lets tests do
that over real HTTP, with Numista's auth rules (API key on every route, OAuth 2 bearer tokens with
scopes and expiry), monthly quota, and request bodies validated against the official swagger schema.

Configure the app with ``NUMISTA_API_URL = emulator.base_url`` (``http://127.0.0.1:<port>/v3``).

Credentials (defaults; override with ``api_keys=``/``client_ids=``):

* ``DEMO_API_KEY`` ("vitrine-demo-key") belongs to user 2104 "demo" (client id "vitrine-demo-client");
* ``OTHER_API_KEY`` ("vitrine-other-key") belongs to user 4242;
* ``NO_USER_API_KEY`` ("vitrine-nouser-key") has no user: client_credentials answers 501.

Routes (all under ``/v3``): ``GET /oauth_token``, ``GET /types``, ``/types/{id}``, ``/types/{id}/issues``,
``/types/{id}/issues/{iid}/prices``, ``/issuers``, ``/catalogues``, ``/users/{id}``,
``/users/{id}/collections``, ``GET|POST /users/{id}/collected_items``,
``GET|PATCH|DELETE /users/{id}/collected_items/{item_id}``; and the authorization-code page
``GET /api/oauth_authorize.php`` at the server root (``emulator.authorize_url``), which approves at once
as ``emulator.authorize_as`` (default user 2104) and redirects to ``redirect_uri?code=...&state=...``.

Numista-specific faults and helpers::

    emu.faults.exhaust_quota()               # every key (or exhaust_quota("vitrine-demo-key")) -> 429
    emu.faults.short_lived_tokens(1)         # tokens issued from now on expire after 1 s
    emu.faults.expire_tokens()               # every token issued so far is expired now
    emu.faults.limit_concurrency(1)          # >1 simultaneous request -> 429 "too many simultaneous"
    emu.issue_token(user_id=2104, scopes=("view_collection",))  # a token without the HTTP dance
    emu.authorize(client_id, redirect_uri, scope)  # -> code, like approving the authorize page
    emu.collected_items_for(2104)            # server-side items (response shape), to assert "exactly once"
    emu.quota_used("vitrine-demo-key")

Run by hand: ``python -m tests.emulators.numista --port 8765``.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jsonschema
import yaml

from services.integrations.numista.item_mapping import SWAGGER_FILE
from tests.emulators.base import (
    Emulator,
    Faults,
    HTTPError,
    RecordedRequest,
    Request,
    Response,
    run_cli,
)
from tests.fixture_files import FixtureMissing

DEMO_API_KEY = "vitrine-demo-key"
DEMO_CLIENT_ID = "vitrine-demo-client"
DEMO_USER_ID = 2104
OTHER_API_KEY = "vitrine-other-key"
OTHER_USER_ID = 4242
NO_USER_API_KEY = "vitrine-nouser-key"

SCOPES = ("view_collection", "edit_collection")
GRADES = ("g", "vg", "f", "vf", "xf", "au", "unc")
CATEGORIES = ("coin", "banknote", "exonumia")
SEED_FILE = Path(__file__).with_name("data") / "numista_seed.json"
# Fixed EUR conversion rates so prices in other currencies are deterministic.
RATES_FROM_EUR = {"EUR": 1.0, "USD": 1.08, "GBP": 0.85, "CHF": 0.95, "CAD": 1.47, "AUD": 1.65, "JPY": 160.0,
                  "SEK": 11.4, "NOK": 11.6, "DKK": 7.46, "PLN": 4.3, "CZK": 25.0, "HUF": 390.0, "RUB": 100.0}
GRADING_COMPANIES = {1: "NGC", 2: "NGC Ancient"}  # the two IDs named in the spec's examples


# ---------------------------------------------------------------------------- swagger -> JSON Schema
@functools.lru_cache(maxsize=4)
def _load_swagger(path: str) -> dict[str, Any]:
    if not Path(path).is_file():
        raise FixtureMissing(Path(path))
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def openapi_to_jsonschema(node: Any, components: dict[str, Any], depth: int = 0) -> Any:
    """Convert an OpenAPI 3.0 schema to JSON Schema: inline ``$ref``, map ``nullable``, drop doc keys.

    Objects described only by ``properties`` get ``type: object`` (OpenAPI tools imply it; JSON Schema
    would otherwise accept a string where an object is required).
    """
    if depth > 20:
        raise ValueError("schema nesting too deep (recursive $ref?)")
    if isinstance(node, list):
        return [openapi_to_jsonschema(n, components, depth + 1) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return openapi_to_jsonschema(components[name], components, depth + 1)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("example", "examples", "description", "deprecated", "nullable", "default", "xml"):
            continue
        if key == "properties":
            out[key] = {k: openapi_to_jsonschema(v, components, depth + 1) for k, v in value.items()}
        else:
            out[key] = openapi_to_jsonschema(value, components, depth + 1)
    if "properties" in out and "type" not in out:
        out["type"] = "object"
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


@functools.lru_cache(maxsize=8)
def request_body_schema(path: str, method: str, swagger_file: str | None = None) -> dict[str, Any]:
    """The JSON Schema of an operation's JSON request body, taken from the official swagger file."""
    spec = _load_swagger(swagger_file or str(SWAGGER_FILE))
    operation = spec["paths"][path][method.lower()]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    converted = openapi_to_jsonschema(schema, spec["components"]["schemas"])
    jsonschema.Draft7Validator.check_schema(converted)
    return converted


def _validation_message(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "body"
    return f"Invalid value for {where}: {error.message}"


# ---------------------------------------------------------------------------- state
@dataclass
class ApiKey:
    key: str
    user_id: int | None
    client_id: str | None
    used: int = 0


@dataclass
class Token:
    value: str
    key: str
    user_id: int
    scopes: frozenset[str]
    expires_at: float


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    user_id: int
    scopes: frozenset[str]
    expires_at: float


@dataclass
class NumistaState:
    types: dict[int, dict[str, Any]] = field(default_factory=dict)
    issues: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    prices_eur: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    collections: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    items: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # user -> stored (request-shaped)
    tokens: dict[str, Token] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    next_item_id: int = 48527092


class NumistaFaults(Faults):
    """Generic faults plus Numista's quota and token-lifetime ones."""

    def __init__(self, emulator: NumistaEmulator) -> None:
        super().__init__()
        self._emulator = emulator

    def exhaust_quota(self, key: str | None = None) -> None:
        """Use up the monthly quota of ``key`` (default: every key) so requests get 429 Quota exceeded."""
        emu = self._emulator
        with emu.lock:
            for api_key in emu.keys.values():
                if key is None or api_key.key == key:
                    api_key.used = emu.monthly_quota

    def short_lived_tokens(self, seconds: float = 1.0) -> None:
        """Tokens issued from now on expire after ``seconds`` (``expires_in`` is rounded up)."""
        with self._emulator.lock:
            self._emulator.token_lifetime = seconds

    def expire_tokens(self) -> None:
        """Expire every access token issued so far (the next user call gets 401)."""
        with self._emulator.lock:
            for token in self._emulator.state.tokens.values():
                token.expires_at = 0.0

    def limit_concurrency(self, limit: int | None = 1) -> None:
        """Answer 429 "too many simultaneous requests" when more than ``limit`` are in flight."""
        with self._emulator.lock:
            self._emulator.concurrency_limit = limit


class NumistaEmulator(Emulator):
    """Numista API v3 over loopback. See the module docstring for credentials and helpers."""

    api_prefix = "/v3"
    name = "numista"
    faults: NumistaFaults  # set by the base class through make_faults()

    def __init__(
        self,
        *,
        api_keys: dict[str, int | None] | None = None,
        client_ids: dict[str, str] | None = None,
        monthly_quota: int = 2000,
        token_lifetime: float = 600,
        accept_string_type_id: bool = True,
        concurrency_limit: int | None = None,
        authorize_as: int = DEMO_USER_ID,
        seed_file: Path | None = None,
        swagger_file: Path = SWAGGER_FILE,
        **kwargs: Any,
    ) -> None:
        """``api_keys`` maps each valid key to its Numista user id (None: a key with no user); request bodies
        are validated against ``swagger_file``."""
        self.key_users = dict(api_keys) if api_keys is not None else {
            DEMO_API_KEY: DEMO_USER_ID, OTHER_API_KEY: OTHER_USER_ID, NO_USER_API_KEY: None}
        self.client_ids = dict(client_ids) if client_ids is not None else {
            DEMO_API_KEY: DEMO_CLIENT_ID, OTHER_API_KEY: "vitrine-other-client"}
        self.monthly_quota = monthly_quota
        self.default_token_lifetime = token_lifetime
        self.token_lifetime = token_lifetime
        self.accept_string_type_id = accept_string_type_id
        self.default_concurrency_limit = concurrency_limit
        self.concurrency_limit = concurrency_limit
        self.authorize_as = authorize_as
        self.seed_file = seed_file or SEED_FILE
        self.keys: dict[str, ApiKey] = {}
        self.state = NumistaState()
        # Parsed now, not on the first POST: without its spec the emulator refuses to start (FixtureMissing)
        # rather than answer every write with 500.
        self.body_schemas = {
            "POST": request_body_schema("/users/{user_id}/collected_items", "POST", str(swagger_file)),
            "PATCH": request_body_schema("/users/{user_id}/collected_items/{item_id}", "PATCH", str(swagger_file)),
        }
        super().__init__(**kwargs)

    def make_faults(self) -> NumistaFaults:
        return NumistaFaults(self)

    # ------------------------------------------------------------------ state
    def reset_state(self) -> None:
        self.token_lifetime = self.default_token_lifetime
        self.concurrency_limit = self.default_concurrency_limit
        self.keys = {k: ApiKey(k, uid, self.client_ids.get(k)) for k, uid in self.key_users.items()}
        seed = json.loads(self.seed_file.read_text(encoding="utf-8"))
        st = NumistaState()
        st.types = {t["id"]: t for t in seed["types"]}
        st.issues = {int(k): v for k, v in seed["issues"].items()}
        st.prices_eur = {int(k): v for k, v in seed["prices_eur"].items()}
        self.issuers = seed["issuers"]
        self.catalogues = seed["catalogues"]
        for user in seed["users"]:
            st.users[user["id"]] = {"username": user["username"], "avatar": user["avatar"]}
            st.collections[user["id"]] = list(user["collections"])
            st.items[user["id"]] = []
        self.state = st
        for item in seed["collected_items"]:
            body = {k: v for k, v in item.items() if k != "user_id"}
            self._store_item(item["user_id"], body)

    def _store_item(self, user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        stored = {"id": self.state.next_item_id, "quantity": 1, "for_swap": False, **body}
        self.state.next_item_id += 1
        self.state.items.setdefault(user_id, []).append(stored)
        return stored

    def collected_items_for(self, user_id: int = DEMO_USER_ID) -> list[dict[str, Any]]:
        """Server-side items of a user, in response shape (a deep copy): assert pushes happened once."""
        with self.lock:
            return [self._expand_item(user_id, i) for i in self.state.items.get(user_id, [])]

    def add_collected_item(self, user_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """Seed an item directly (``body`` in request shape, e.g. ``{"type": 420, "grade": "vf"}``)."""
        with self.lock:
            return self._expand_item(user_id, self._store_item(user_id, dict(body)))

    def clear_collected_items(self, user_id: int | None = None) -> None:
        """Empty one user's collection (or everyone's)."""
        with self.lock:
            for uid in list(self.state.items):
                if user_id is None or uid == user_id:
                    self.state.items[uid] = []

    def quota_used(self, key: str = DEMO_API_KEY) -> int:
        with self.lock:
            return self.keys[key].used

    def issue_token(self, user_id: int = DEMO_USER_ID, scopes: tuple[str, ...] | list[str] = SCOPES,
                    key: str = DEMO_API_KEY, lifetime: float | None = None) -> str:
        """Create an access token directly (tests that are not about the OAuth dance)."""
        with self.lock:
            return self._new_token(key, user_id, frozenset(scopes), lifetime)["access_token"]

    def _new_token(self, key: str, user_id: int, scopes: frozenset[str],
                   lifetime: float | None = None) -> dict[str, Any]:
        lifetime = self.token_lifetime if lifetime is None else lifetime
        value = secrets.token_hex(20)
        self.state.tokens[value] = Token(value, key, user_id, scopes, time.monotonic() + lifetime)
        return {"access_token": value, "token_type": "bearer", "expires_in": max(1, int(-(-lifetime // 1))),
                "user_id": user_id}

    @property
    def authorize_url(self) -> str:
        """The authorization-code page (Numista hosts it on the website, not under /v3)."""
        return self.url + "/api/oauth_authorize.php"

    def authorize(self, client_id: str = DEMO_CLIENT_ID, redirect_uri: str = "http://127.0.0.1/callback",
                  scope: str = "view_collection,edit_collection", user_id: int | None = None) -> str:
        """Approve an authorization request as ``user_id`` and return the one-time code (valid 10 min)."""
        with self.lock:
            if client_id not in self.client_ids.values():
                raise HTTPError(400, "Invalid client_id")
            scopes = self._parse_scopes(scope)
            code = secrets.token_hex(16)
            self.state.codes[code] = AuthCode(code, client_id, redirect_uri, user_id or self.authorize_as,
                                              scopes, time.monotonic() + 600)
            return code

    # ------------------------------------------------------------------ hooks
    def error_body(self, status: int, message: str) -> Any:
        return {"error_message": message}

    def before_request(self, request: RecordedRequest) -> Response | None:
        if not request.path.startswith(self.api_prefix + "/"):
            return None  # the authorize page is a website page, not an API route
        key = request.header("Numista-API-Key")
        api_key = self.keys.get(key or "")
        if api_key is None:
            raise HTTPError(401, "Invalid or missing API key")
        if api_key.used >= self.monthly_quota:
            raise HTTPError(429, "Quota exceeded")
        api_key.used += 1
        if self.concurrency_limit is not None and self.in_flight > self.concurrency_limit:
            raise HTTPError(429, "You sent too many simultaneous requests")
        return None

    def setup_routes(self) -> None:
        p = self.api_prefix
        self.route("GET", "/api/oauth_authorize.php", self.authorize_page)
        self.route("GET", f"{p}/oauth_token", self.oauth_token)
        self.route("GET", f"{p}/types", self.search_types)
        self.route("GET", f"{p}/types/{{type_id:int}}", self.get_type)
        self.route("GET", f"{p}/types/{{type_id:int}}/issues", self.get_issues)
        self.route("GET", f"{p}/types/{{type_id:int}}/issues/{{issue_id:int}}/prices", self.get_prices)
        self.route("GET", f"{p}/issuers", lambda r: {"count": len(self.issuers), "issuers": self.issuers})
        self.route("GET", f"{p}/catalogues",
                   lambda r: {"count": len(self.catalogues), "catalogues": self.catalogues})
        self.route("GET", f"{p}/users/{{user_id:int}}", self.get_user)
        self.route("GET", f"{p}/users/{{user_id:int}}/collections", self.get_collections)
        self.route("GET", f"{p}/users/{{user_id:int}}/collected_items", self.list_items)
        self.route("POST", f"{p}/users/{{user_id:int}}/collected_items", self.add_item)
        self.route("GET", f"{p}/users/{{user_id:int}}/collected_items/{{item_id:int}}", self.get_item)
        self.route("PATCH", f"{p}/users/{{user_id:int}}/collected_items/{{item_id:int}}", self.edit_item)
        self.route("DELETE", f"{p}/users/{{user_id:int}}/collected_items/{{item_id:int}}", self.delete_item)

    # ------------------------------------------------------------------ OAuth
    @staticmethod
    def _parse_scopes(raw: str | None) -> frozenset[str]:
        scopes = frozenset(s.strip() for s in (raw or "").split(",") if s.strip())
        unknown = scopes - set(SCOPES)
        if unknown:
            raise HTTPError(400, f"Invalid scope: {', '.join(sorted(unknown))}")
        return scopes

    def authorize_page(self, req: Request) -> Response:
        if req.arg("response_type") != "code":
            raise HTTPError(400, "response_type must be 'code'")
        redirect_uri = req.arg("redirect_uri") or ""
        if not urlsplit(redirect_uri).scheme:
            raise HTTPError(400, "Invalid redirect_uri")
        code = self.authorize(req.arg("client_id") or "", redirect_uri, req.arg("scope") or "")
        params = {"code": code}
        if req.arg("state") is not None:
            params["state"] = req.arg("state") or ""
        sep = "&" if "?" in redirect_uri else "?"
        return Response(302, b"", {"Location": f"{redirect_uri}{sep}{urlencode(params)}"})

    def oauth_token(self, req: Request) -> dict[str, Any]:
        key = req.header("Numista-API-Key") or ""
        grant = req.arg("grant_type") or "authorization_code"
        if grant == "client_credentials":
            scopes = self._parse_scopes(req.arg("scope"))
            if not scopes:
                # Real Numista answers a missing scope with a (misleading) 401, per client notes.
                raise HTTPError(401, "Missing scope")
            user_id = self.keys[key].user_id
            if user_id is None:
                raise HTTPError(501, "No user associated to your API key")
            return self._new_token(key, user_id, scopes)
        if grant != "authorization_code":
            raise HTTPError(400, f"Invalid value for parameter grant_type: {grant!r}")
        for name in ("code", "client_id", "client_secret", "redirect_uri"):
            if not req.arg(name):
                raise HTTPError(400, f"Missing mandatory parameter {name}")
        if req.arg("client_secret") != key or self.client_ids.get(key) != req.arg("client_id"):
            raise HTTPError(401, "Invalid client credentials")
        code = self.state.codes.pop(req.arg("code") or "", None)  # one-time use
        if code is None or code.expires_at < time.monotonic() or code.client_id != req.arg("client_id"):
            raise HTTPError(400, "Invalid or expired authorization code")
        if code.redirect_uri != req.arg("redirect_uri"):
            raise HTTPError(400, "redirect_uri does not match the one used to get the code")
        return self._new_token(key, code.user_id, code.scopes)

    def _require_user(self, req: Request, scope: str | None) -> int:
        """Check the bearer token for a /users/{id}/... route; returns the user id."""
        user_id = int(req.params["user_id"])
        if user_id not in self.state.users:
            raise HTTPError(404, "The user with given ID does not exist.")
        if scope is None:
            return user_id
        auth = req.header("Authorization") or ""
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise HTTPError(401, "Missing OAuth access token")
        token = self.state.tokens.get(value.strip())
        if token is None or token.key != req.header("Numista-API-Key"):
            raise HTTPError(401, "Invalid access token")
        if token.expires_at <= time.monotonic():
            raise HTTPError(401, "The access token has expired")
        if token.user_id != user_id:
            raise HTTPError(401, "The access token does not give access to this user's data")
        if scope not in token.scopes:
            raise HTTPError(401, f"Insufficient permission: scope {scope} is required")
        return user_id

    # ------------------------------------------------------------------ catalogue
    @staticmethod
    def _range(raw: str, name: str, cast: type = int) -> tuple[float, float]:
        m = re.fullmatch(r"\s*(-?[\d.]+)\s*(?:-\s*(-?[\d.]+)\s*)?", raw)
        if not m:
            raise HTTPError(400, f"Invalid value for parameter {name}: {raw!r}")
        try:
            low = cast(m.group(1))
            high = cast(m.group(2)) if m.group(2) else low
        except ValueError:
            raise HTTPError(400, f"Invalid value for parameter {name}: {raw!r}") from None
        return low, high

    def search_types(self, req: Request) -> dict[str, Any]:
        if not any(req.arg(p) for p in ("q", "issuer", "catalogue", "date", "year")):
            raise HTTPError(400, "At least one of q, issuer, catalogue, date or year is required")
        page = req.int_arg("page", 1)
        count = req.int_arg("count", 50)
        if page is None or count is None or page < 1 or count < 1:
            raise HTTPError(400, "Invalid value for parameter page or count")
        count = min(count, 50)
        results = list(self.state.types.values())
        if req.arg("q"):
            words = (req.arg("q") or "").lower().split()
            results = [t for t in results if all(w in f"{t['title']} {t['issuer']['name']}".lower()
                                                 for w in words)]
        if req.arg("issuer"):
            code = req.arg("issuer")
            if code not in {i["code"] for i in self.issuers}:
                raise HTTPError(400, f"Invalid value for parameter issuer: {code!r}")
            results = [t for t in results if t["issuer"]["code"] == code]
        if req.arg("category"):
            if req.arg("category") not in CATEGORIES:
                raise HTTPError(400, "Invalid value for parameter category")
            results = [t for t in results if t.get("category") == req.arg("category")]
        object_type = req.int_arg("object_type")
        if object_type is not None:
            results = [t for t in results if int(t["object_type"]["id"]) == object_type]
        catalogue = req.int_arg("catalogue")
        if catalogue is not None:
            number = req.arg("number")
            results = [t for t in results if any(
                r["catalogue"]["id"] == catalogue and (number is None or r["number"] == number)
                for r in t.get("references", []))]
        if req.arg("date"):
            low, high = self._range(req.arg("date") or "", "date")
            results = [t for t in results if t["min_year"] <= high and t["max_year"] >= low]
        if req.arg("year"):
            low, high = self._range(req.arg("year") or "", "year")
            results = [t for t in results if any(i.get("year") is not None and low <= i["year"] <= high
                                                 for i in self.state.issues.get(t["id"], []))]
        for name, key in (("size", "size"), ("weight", "weight")):
            if req.arg(name):
                low, high = self._range(req.arg(name) or "", name, float)
                results = [t for t in results if t.get(key) is not None and low <= t[key] <= high]
        page_items = results[(page - 1) * count: page * count]
        return {"count": len(results), "types": [self._summary(t) for t in page_items]}

    @staticmethod
    def _summary(t: dict[str, Any]) -> dict[str, Any]:
        keys = ("id", "title", "category", "object_type", "issuer", "min_year", "max_year",
                "obverse_thumbnail", "reverse_thumbnail")
        return {k: copy.deepcopy(t[k]) for k in keys if k in t}

    def _type(self, type_id: int) -> dict[str, Any]:
        t = self.state.types.get(type_id)
        if t is None:
            raise HTTPError(404, "The type with given ID does not exist.")
        return t

    def get_type(self, req: Request) -> dict[str, Any]:
        t = copy.deepcopy(self._type(req.params["type_id"]))
        for side in ("obverse", "reverse"):
            thumb = t.pop(f"{side}_thumbnail", None)
            if thumb:
                t[side] = {"thumbnail": thumb, "picture": thumb.replace("-180.", "-original.")}
        return t

    def get_issues(self, req: Request) -> list[dict[str, Any]]:
        self._type(req.params["type_id"])
        return copy.deepcopy(self.state.issues.get(req.params["type_id"], []))

    def _issue(self, type_id: int, issue_id: int) -> dict[str, Any] | None:
        return next((i for i in self.state.issues.get(type_id, []) if i["id"] == issue_id), None)

    def get_prices(self, req: Request) -> dict[str, Any]:
        self._type(req.params["type_id"])
        if self._issue(req.params["type_id"], req.params["issue_id"]) is None:
            raise HTTPError(404, "The issue with given ID does not exist.")
        currency = (req.arg("currency") or "EUR").upper()
        if currency not in RATES_FROM_EUR:
            raise HTTPError(400, f"Invalid value for parameter currency: {currency!r}")
        rate = RATES_FROM_EUR[currency]
        prices = [{"grade": p["grade"], "price": round(p["price"] * rate, 2)}
                  for p in self.state.prices_eur.get(req.params["issue_id"], [])]
        return {"currency": currency, "prices": prices}

    # ------------------------------------------------------------------ users & collections
    def get_user(self, req: Request) -> dict[str, Any]:
        return dict(self.state.users[self._require_user(req, None)])

    def get_collections(self, req: Request) -> dict[str, Any]:
        user_id = self._require_user(req, "view_collection")
        cols = copy.deepcopy(self.state.collections.get(user_id, []))
        return {"count": len(cols), "collections": cols}

    def _expand_item(self, user_id: int, stored: dict[str, Any]) -> dict[str, Any]:
        """Request-shaped stored item -> response shape (type/issue/collection as objects)."""
        item = copy.deepcopy(stored)
        t = self.state.types[item["type"]]
        item["type"] = {"id": t["id"], "title": t["title"], "category": t.get("category", "coin"),
                        "issuer": dict(t["issuer"])}
        if item.get("issue") is not None:
            item["issue"] = copy.deepcopy(self._issue(t["id"], item["issue"]))
        if item.get("collection") is not None:
            col = next(c for c in self.state.collections.get(user_id, []) if c["id"] == item["collection"])
            item["collection"] = dict(col)
        gd = item.get("grading_details")
        if gd:
            out: dict[str, Any] = {}
            for k, v in gd.items():
                if k == "grading_company":
                    out[k] = {"id": v, **({"name": GRADING_COMPANIES[v]} if v in GRADING_COMPANIES else {})}
                elif k in ("slab_grade", "grading_strike", "grading_surface"):
                    out[k] = {"id": v}
                elif k == "grading_designations":
                    out[k] = [{"id": d} for d in v]
                else:
                    out[k] = v
            item["grading_details"] = out
        return {k: v for k, v in item.items() if v is not None}

    def _find_item(self, user_id: int, item_id: int) -> dict[str, Any]:
        for item in self.state.items.get(user_id, []):
            if item["id"] == item_id:
                return item
        raise HTTPError(404, "The user or item with given ID does not exist.")

    def list_items(self, req: Request) -> dict[str, Any]:
        user_id = self._require_user(req, "view_collection")
        items = self.state.items.get(user_id, [])
        category = req.arg("category")
        if category is not None:
            if category not in CATEGORIES:
                raise HTTPError(400, "Invalid value for parameter category")
            items = [i for i in items if self.state.types[i["type"]].get("category", "coin") == category]
        type_id = req.int_arg("type")
        if type_id is not None:
            items = [i for i in items if i["type"] == type_id]
        collection = req.int_arg("collection")
        if collection is not None:
            items = [i for i in items if i.get("collection") == collection]
        swap = [i for i in items if i.get("for_swap")]
        return {
            "item_count": sum(i["quantity"] for i in items),
            "item_for_swap_count": sum(i["quantity"] for i in swap),
            "item_type_count": len({i["type"] for i in items}),
            "item_type_for_swap_count": len({i["type"] for i in swap}),
            "items": [self._expand_item(user_id, i) for i in items],
        }

    def get_item(self, req: Request) -> dict[str, Any]:
        user_id = self._require_user(req, "view_collection")
        return self._expand_item(user_id, self._find_item(user_id, req.params["item_id"]))

    def _validated_body(self, req: Request, method: str, user_id: int,
                        current: dict[str, Any] | None = None) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict):
            raise HTTPError(400, "The request body must be a JSON object")
        if (self.accept_string_type_id and isinstance(body.get("type"), str)
                and re.fullmatch(r"\d+", body["type"])):
            body["type"] = int(body["type"])  # real clients report Numista accepts "44" too (notes 3.9)
        validator = jsonschema.Draft7Validator(self.body_schemas[method], format_checker=jsonschema.FormatChecker())
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            raise HTTPError(400, _validation_message(errors[0]))
        # Constraints the spec states in prose rather than in the schema.
        if "axis" in body and not 1 <= body["axis"] <= 12:
            raise HTTPError(400, "Invalid value for axis: integers from 1 to 12")
        if "quantity" in body and body["quantity"] < 1:
            raise HTTPError(400, "Invalid value for quantity: must be at least 1")
        price = body.get("price")
        if price is not None and not re.fullmatch(r"[A-Z]{3}", price["currency"]):
            raise HTTPError(400, "Invalid value for price.currency: 3-letter ISO 4217 code expected")
        cac = (body.get("grading_details") or {}).get("cac_sticker")
        if cac is not None and cac not in ("Green", "Gold"):
            raise HTTPError(400, "Invalid value for grading_details.cac_sticker: 'Green' or 'Gold'")
        type_id = body.get("type", current["type"] if current else None)
        if type_id not in self.state.types:
            raise HTTPError(400, f"Invalid value for type: type {type_id} does not exist")
        issue_id = body.get("issue", current.get("issue") if current and "type" not in body else None)
        if issue_id is not None and self._issue(type_id, issue_id) is None:
            raise HTTPError(400, f"Invalid value for issue: {issue_id} is not an issue of type {type_id}")
        if body.get("collection") is not None and body["collection"] not in {
                c["id"] for c in self.state.collections.get(user_id, [])}:
            raise HTTPError(400, f"Invalid value for collection: {body['collection']}")
        return body

    def add_item(self, req: Request) -> Response:
        user_id = self._require_user(req, "edit_collection")
        body = self._validated_body(req, "POST", user_id)
        stored = self._store_item(user_id, body)  # never deduplicates, like the real service
        return Response(201, self._expand_item(user_id, stored))

    def edit_item(self, req: Request) -> dict[str, Any]:
        user_id = self._require_user(req, "edit_collection")
        stored = self._find_item(user_id, req.params["item_id"])
        body = self._validated_body(req, "PATCH", user_id, stored)
        if "type" in body and body["type"] != stored["type"] and "issue" not in body:
            stored.pop("issue", None)  # the old issue belongs to the old type
        for key, value in body.items():
            if value is None:
                stored.pop(key, None)  # null clears issue / grade / price
            else:
                stored[key] = value
        return self._expand_item(user_id, stored)

    def delete_item(self, req: Request) -> Response:
        user_id = self._require_user(req, "edit_collection")
        stored = self._find_item(user_id, req.params["item_id"])
        self.state.items[user_id].remove(stored)
        return Response(204, b"", {"Content-Type": "application/json"})

    def describe(self) -> list[str]:
        return [
            f"  NUMISTA_API_URL={self.base_url}",
            f"  API key (user {DEMO_USER_ID} 'demo'): {DEMO_API_KEY}   client_id: {DEMO_CLIENT_ID}",
            f"  API key without user: {NO_USER_API_KEY}",
            f"  OAuth authorize page: {self.authorize_url}",
            f"  token lifetime {self.token_lifetime:g}s, monthly quota {self.monthly_quota}/key",
        ]


def main(argv: list[str] | None = None) -> None:
    def extra(parser: Any) -> None:
        parser.add_argument("--quota", type=int, default=2000, help="monthly quota per key")
        parser.add_argument("--token-lifetime", type=float, default=600, help="seconds")

    run_cli(lambda a: NumistaEmulator(port=a.port, verbose=a.verbose, monthly_quota=a.quota,
                                      token_lifetime=a.token_lifetime),
            "Numista API v3 emulator", argv, extra)


if __name__ == "__main__":
    main()
