"""One factory per service: base URL, timeouts, headers and the shared limiter all come from Settings.

Integrations never build httpx clients themselves; they call ``numista_client``, ``discogs_client``
or ``pokemontcg_client`` so the User-Agent, retries and the rate budget cannot be
forgotten. Per-user credentials (a Numista key and token, a Discogs OAuth1Auth) are passed in
here or per call, because one process serves many users.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from services import PROJECT_URL, __version__
from services.config import Settings, load_settings
from services.http.client import ServiceClient
from services.http.ratelimit import DISCOGS_HEADERS, Budget, SlidingWindowLimiter, limiter_for
from services.http.retry import RetryPolicy

if TYPE_CHECKING:
    from sqlalchemy import Engine

SERVICES = ("numista", "discogs", "pokemontcg")
JSON = "application/json"
DISCOGS_ACCEPT = "application/vnd.discogs.v2.discogs+json"


def user_agent() -> str:
    """RFC 1945 style product token + contact URL, as Discogs asks ("unique ... or we silently block")."""
    return f"Vitrine/{__version__} +{PROJECT_URL}"


def timeout_from(settings: Settings) -> httpx.Timeout:
    """Short connect timeout (fail over fast), longer read/write/pool timeout for slow catalogue answers."""
    connect = min(settings.http_connect_timeout, settings.http_timeout)
    return httpx.Timeout(settings.http_timeout, connect=connect)


def budget_of(service: str, settings: Settings) -> Budget:
    """A service's request budget as configured in Settings (one home for every limiter of the service)."""
    if service == "discogs":
        return Budget(settings.discogs_rate_limit, settings.discogs_rate_window, headers=DISCOGS_HEADERS)
    if service == "numista":
        # Numista answers 429 to "too many simultaneous requests": serialize by default.
        return Budget(settings.numista_rate_limit, settings.numista_rate_window,
                      max_concurrency=settings.numista_max_concurrency or None)  # fmt: skip
    if service == "pokemontcg":
        return Budget(settings.pokemontcg_rate_limit, settings.pokemontcg_rate_window)
    raise ValueError(f"unknown service {service!r}; expected one of {SERVICES}")


def shared_limiter(service: str, settings: Settings, engine: Engine | None = None) -> SlidingWindowLimiter:
    """The limiter of a service, sized from Settings. With the installation's ``engine`` it is the budget
    every process of the installation shares (in that database, or in Redis when REDIS_URL is set): what
    Discogs (counting per IP) and Numista (per key) need once two servers or workers run. Without one, the
    budget of this process only."""
    budget = budget_of(service, settings)
    if engine is not None:
        # Imported here: the shared budget needs the ORM models, which a process-local client never loads.
        from services.http.shared_ratelimit import installation_limiter

        return installation_limiter(engine, service, budget, redis_url=settings.redis_url,
                                    in_flight_cap=settings.http_timeout + 5)  # fmt: skip
    return limiter_for(service, limit=budget.limit, window=budget.window, max_concurrency=budget.max_concurrency,
                       headers=budget.headers)  # fmt: skip


def _build(
    service: str,
    settings: Settings | None,
    base_url: str,
    defaults: dict[str, str],
    *,
    auth: httpx.Auth | None = None,
    headers: Mapping[str, str] | None = None,
    limiter: SlidingWindowLimiter | bool | None = True,
    retry: RetryPolicy | None = None,
    timeout: httpx.Timeout | float | None = None,
    sleep: Callable[[float], None] | None = None,
    rng: random.Random | None = None,
    transport: httpx.BaseTransport | None = None,
) -> ServiceClient:
    settings = settings or load_settings()
    if limiter is True:
        chosen: SlidingWindowLimiter | None = shared_limiter(service, settings)
    elif limiter is False:
        chosen = None
    else:
        chosen = limiter
    options: dict[str, Any] = {} if sleep is None else {"sleep": sleep}
    return ServiceClient(
        service,
        base_url,
        user_agent=user_agent(),
        headers={**defaults, **(headers or {})},
        auth=auth,
        timeout=timeout if timeout is not None else timeout_from(settings),
        retry=retry or RetryPolicy.from_settings(settings),
        limiter=chosen,
        rng=rng,
        transport=transport,
        **options,
    )


def numista_client(
    settings: Settings | None = None,
    *,
    api_key: str | None = None,
    access_token: str | None = None,
    base_url: str | None = None,
    **options: Any,
) -> ServiceClient:
    """Numista v3. ``api_key`` is the user's (sent as Numista-API-Key); ``access_token`` adds the Bearer
    header needed by /users/{id}/collections and collected_items. Either may also be given per call."""
    settings = settings or load_settings()
    headers = {"Accept": JSON}
    if api_key:
        headers["Numista-API-Key"] = api_key
    if access_token:
        headers["Authorization"] = f"Bearer {access_token}"
    return _build("numista", settings, base_url or settings.numista_api_url, headers, **options)


def discogs_client(
    settings: Settings | None = None,
    *,
    auth: httpx.Auth | None = None,
    base_url: str | None = None,
    **options: Any,
) -> ServiceClient:
    """Discogs. Pass authlib's ``OAuth1Auth`` as ``auth`` (here or per call) to sign user requests."""
    settings = settings or load_settings()
    headers = {"Accept": DISCOGS_ACCEPT}
    return _build("discogs", settings, base_url or settings.discogs_api_url, headers, auth=auth, **options)


def pokemontcg_client(
    settings: Settings | None = None,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    **options: Any,
) -> ServiceClient:
    """pokemontcg.io v2. Sends X-Api-Key when a key is configured (keyless works at a lower limit)."""
    settings = settings or load_settings()
    headers = {"Accept": JSON}
    key = api_key or settings.pokemontcg_api_key
    if key:
        headers["X-Api-Key"] = key
    return _build("pokemontcg", settings, base_url or settings.pokemontcg_api_url, headers, **options)


def ecb_client(settings: Settings | None = None, **options: Any) -> ServiceClient:
    """The European Central Bank's rates file: one GET now and then, so no shared limiter."""
    settings = settings or load_settings()
    return _build("ecb", settings, settings.ecb_rates_url, {"Accept": "application/zip"}, limiter=False, **options)


def create_client(service: str, settings: Settings | None = None, **kwargs: Any) -> ServiceClient:
    """Dispatch by service key ("numista", "discogs", "pokemontcg"), for code that loops over services."""
    factories: dict[str, Callable[..., ServiceClient]] = {
        "numista": numista_client,
        "discogs": discogs_client,
        "pokemontcg": pokemontcg_client,
    }
    if service not in factories:
        raise ValueError(f"unknown service {service!r}; expected one of {SERVICES}")
    return factories[service](settings, **kwargs)
