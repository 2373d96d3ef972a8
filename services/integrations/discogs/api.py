"""The one HTTP boundary to Discogs: signed requests (OAuth 1.0a or a personal token), paging, and the
endpoints Vitrine uses. Everything goes through services.http (User-Agent, shared rate limit adapting to
X-Discogs-Ratelimit-*, retries, typed credential-free errors).

Why a thin client of our own (notes/discogs.md §4.3): the usual Python client throws away ``instance_id``
and ``listing_id``, which are exactly what an exactly-once export must record.
"""

from __future__ import annotations

import warnings
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import authlib.deprecate  # noqa: F401 - installs authlib's own "always" filter, overridden below
import httpx

from services.config import Settings
from services.http import ServiceClient, ServiceError, discogs_client
from services.states import CredentialKind, SyncService

with warnings.catch_warnings():  # authlib 1.9 warns that it prefers httpx2; the httpx integration works
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import OAuth1Auth

Page = tuple[int, int, list[dict[str, Any]]]  # (page number, page count, entries)
PER_PAGE = 100  # the API's maximum page size (notes/discogs.md §3.2)


class PersonalTokenAuth(httpx.Auth):
    """``Authorization: Discogs token=...`` (a hobbyist's personal access token)."""

    def __init__(self, token: str) -> None:
        self.token = token  # the attribute name lets services.http redact it from every message

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Discogs token={self.token}"
        yield request


@dataclass(frozen=True)
class Credentials:
    """What signs a member's requests: an OAuth access token pair, or a personal token."""

    kind: CredentialKind
    token: str
    secret: str | None = None

    def auth(self, settings: Settings) -> httpx.Auth:
        if self.kind == CredentialKind.PERSONAL:
            return PersonalTokenAuth(self.token)
        signer: httpx.Auth = oauth_auth(settings, token=self.token, token_secret=self.secret)
        return signer

    def __repr__(self) -> str:  # never print a token
        return f"Credentials(kind={str(self.kind)!r})"


def oauth_auth(settings: Settings, **kwargs: Any) -> OAuth1Auth:
    """HMAC-SHA1 signing with the app's consumer key (the J client's choice, notes §1.3).

    ``force_include_body``: without it authlib drops JSON bodies from signed requests."""
    return OAuth1Auth(
        settings.discogs_consumer_key or "", settings.discogs_consumer_secret or "", force_include_body=True, **kwargs
    )


@dataclass(frozen=True)
class Identity:
    user_id: int
    username: str


class DiscogsApi:
    """A member's Discogs calls. ``calls`` counts requests sent (benchmarks and tests read it)."""

    def __init__(self, settings: Settings, credentials: Credentials | None, *, client: ServiceClient | None = None,
                 **client_options: Any) -> None:  # fmt: skip
        self.settings = settings
        auth = credentials.auth(settings) if credentials is not None else None
        self.client = client or discogs_client(settings, auth=auth, **client_options)
        self.username: str | None = None
        self.calls = 0

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> DiscogsApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        self.calls += 1
        return self.client.request(method, path, **kwargs)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise ServiceError("Discogs answered with something that is not JSON.", service=SyncService.DISCOGS,
                               status=response.status_code, method=method) from None  # fmt: skip

    def pages(self, path: str, key: str, params: Mapping[str, Any] | None = None,
              start_page: int = 1) -> Iterator[Page]:  # fmt: skip
        """(page, pages, entries) page by page: follows page numbers, never offsets (Discogs sometimes
        returns fewer entries than per_page)."""
        page = start_page
        while True:
            data = self._json("GET", path, params={**(params or {}), "page": page, "per_page": PER_PAGE})
            pagination = data.get("pagination") or {}
            pages = int(pagination.get("pages") or 1)
            yield page, pages, list(data.get(key) or [])
            if page >= pages:
                return
            page += 1

    def _user(self) -> str:
        if self.username is None:
            self.username = self.identity().username
        return self.username

    # -- identity --------------------------------------------------------------------------------
    def identity(self) -> Identity:
        data = self._json("GET", "/oauth/identity")
        self.username = str(data["username"])
        return Identity(int(data.get("id") or 0), self.username)

    # -- collection ------------------------------------------------------------------------------
    def folders(self) -> list[dict[str, Any]]:
        return list(self._json("GET", f"/users/{self._user()}/collection/folders").get("folders") or [])

    def collection_pages(self, folder_id: int = 0, start_page: int = 1) -> Iterator[Page]:
        path = f"/users/{self._user()}/collection/folders/{folder_id}/releases"
        return self.pages(path, "releases", {"sort": "added", "sort_order": "asc"}, start_page)

    def collection_fields(self) -> list[dict[str, Any]]:
        return list(self._json("GET", f"/users/{self._user()}/collection/fields").get("fields") or [])

    def add_to_folder(self, folder_id: int, release_id: int) -> int:
        """POST: a new instance (every call is a new copy; never retried on 5xx). Returns instance_id."""
        data = self._json("POST", f"/users/{self._user()}/collection/folders/{folder_id}/releases/{release_id}")
        return int(data["instance_id"])

    def set_field(self, folder_id: int, release_id: int, instance_id: int, field_id: int, value: str) -> None:
        """Setting a field value is idempotent, so a lost answer may safely be repeated."""
        path = (f"/users/{self._user()}/collection/folders/{folder_id}/releases/{release_id}"
                f"/instances/{instance_id}/fields/{field_id}")  # fmt: skip
        self._request("POST", path, params={"value": value}, idempotent=True)

    # -- wantlist --------------------------------------------------------------------------------
    def want_pages(self) -> Iterator[Page]:
        return self.pages(f"/users/{self._user()}/wants", "wants")

    def put_want(self, release_id: int, notes: str | None = None) -> dict[str, Any]:
        """PUT is an upsert (idempotent): retried like any PUT."""
        params = {"notes": notes} if notes else None
        return dict(self._json("PUT", f"/users/{self._user()}/wants/{release_id}", params=params))

    # -- marketplace -----------------------------------------------------------------------------
    def inventory_pages(self) -> Iterator[Page]:
        return self.pages(f"/users/{self._user()}/inventory", "listings", {"status": "All"})

    def create_listing(self, body: Mapping[str, Any]) -> int:
        data = self._json("POST", "/marketplace/listings", json=dict(body))
        return int(data["listing_id"])

    def price_suggestions(self, release_id: int) -> dict[str, Any]:
        """Suggested prices per condition; ``{}`` when the account has no seller settings."""
        return dict(self._json("GET", f"/marketplace/price_suggestions/{release_id}"))

    def stats(self, release_id: int, currency: str | None = None) -> dict[str, Any]:
        params = {"curr_abbr": currency} if currency else None
        return dict(self._json("GET", f"/marketplace/stats/{release_id}", params=params))

    # -- database --------------------------------------------------------------------------------
    def search(self, **params: Any) -> list[dict[str, Any]]:
        query = {k: v for k, v in params.items() if v not in (None, "")}
        data = self._json("GET", "/database/search", params={**query, "per_page": 50, "page": 1})
        return list(data.get("results") or [])

    def release(self, release_id: int) -> dict[str, Any]:
        return dict(self._json("GET", f"/releases/{release_id}"))
