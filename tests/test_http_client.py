"""The HTTP layer over real loopback HTTP, against the Numista and pokemontcg.io emulators.

Retries and backoff are proven by counting the requests each emulator recorded; the rate limiter by
the emulator's own arrival timestamps. Sleeps are injected (and recorded) unless real waiting is the
point of the test, so the module runs in a few seconds.
"""

from __future__ import annotations

import logging
import random
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth1Auth

from services.config import Settings, load_settings
from services.http import (
    AuthError,
    BadRequestError,
    NotFoundError,
    QuotaExceededError,
    RateLimitedError,
    RetryPolicy,
    ServiceClient,
    ServiceError,
    ServiceUnavailableError,
    SlidingWindowLimiter,
    create_client,
    discogs_client,
    numista_client,
    pokemontcg_client,
    reset_limiters,
    user_agent,
)
from services.http.ratelimit import DISCOGS_HEADERS
from tests.emulators.base import Emulator, HTTPError, RecordedRequest, Request, Response
from tests.emulators.discogs import CONSUMER_KEY, CONSUMER_SECRET, DiscogsEmulator
from tests.emulators.numista import DEMO_API_KEY, DEMO_USER_ID, NumistaEmulator
from tests.emulators.pokemontcg import PokemonTcgEmulator

FAST = RetryPolicy(max_retries=3, base_delay=0.2, max_sleep=5.0)
UA_RE = re.compile(r"^Vitrine/\d+\.\d+\.\d+\S* \+https?://\S+$")


# ---------------------------------------------------------------------------------------------- fixtures
class EchoEmulator(Emulator):
    """A hostile server for redaction tests: echoes credentials back in its error bodies."""

    name = "echo"

    def __init__(self, **kwargs: Any) -> None:
        self.rate_headers: dict[str, str] = {}
        super().__init__(**kwargs)

    def setup_routes(self) -> None:
        self.route("GET", "/echo", self.echo)
        self.route("POST", "/echo", self.echo)
        self.route("GET", "/ok", lambda req: {"ok": True})

    def echo(self, req: Request) -> Any:
        raise HTTPError(
            401,
            f"Invalid signature. Authorization was {req.header('Authorization')}; "
            f"key {req.header('Numista-API-Key')} {req.header('X-Api-Key')}; "
            f"you asked {req.recorded.raw_path}",
        )

    def after_response(self, request: RecordedRequest, response: Response) -> None:
        response.headers.update(self.rate_headers)


@pytest.fixture(scope="module")
def numista_emu() -> Iterator[NumistaEmulator]:
    with NumistaEmulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def pokemon_emu() -> Iterator[PokemonTcgEmulator]:
    with PokemonTcgEmulator(anonymous_per_minute=None) as emu:
        yield emu


@pytest.fixture(scope="module")
def echo_emu() -> Iterator[EchoEmulator]:
    with EchoEmulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def discogs_emu() -> Iterator[DiscogsEmulator]:
    with DiscogsEmulator(rate_limit=5, unauthenticated_rate_limit=3, rate_window=1.0) as emu:
        yield emu


@pytest.fixture
def discogs(discogs_emu: DiscogsEmulator) -> DiscogsEmulator:
    discogs_emu.reset()
    return discogs_emu


@pytest.fixture
def numista(numista_emu: NumistaEmulator) -> NumistaEmulator:
    numista_emu.reset()
    return numista_emu


@pytest.fixture
def pokemon(pokemon_emu: PokemonTcgEmulator) -> PokemonTcgEmulator:
    pokemon_emu.reset()
    return pokemon_emu


@pytest.fixture
def echo(echo_emu: EchoEmulator) -> EchoEmulator:
    echo_emu.reset()
    echo_emu.rate_headers = {}
    return echo_emu


@pytest.fixture
def settings() -> Settings:
    return load_settings()


def fake_sleep_client(
    service: str, base_url: str, settings: Settings, sleeps: list[float], **kwargs: Any
) -> ServiceClient:
    """A client whose sleeps are recorded instead of slept, without the shared limiter."""
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("limiter", False)
    return create_client(
        service, settings, base_url=base_url, sleep=sleeps.append, rng=random.Random(3), **kwargs
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------- basics
def test_user_agent_and_default_headers_on_every_request(
    numista: NumistaEmulator, pokemon: PokemonTcgEmulator, settings: Settings
) -> None:
    sleeps: list[float] = []
    numista.faults.fail_next(1, 503)
    numista.faults.rate_limit_next(1, retry_after=0)
    with numista_client(
        settings,
        api_key=DEMO_API_KEY,
        base_url=numista.base_url,
        limiter=False,
        sleep=sleeps.append,
        retry=FAST,
    ) as api:
        assert api.get_json("/types", params={"q": "dupondius"})["count"] >= 0
        with pytest.raises(NotFoundError):
            api.get("/types/999999999")
        api.get("/catalogues", headers={"User-Agent": "curl/8.0"})  # cannot replace ours
        with pytest.raises(AuthError):
            api.get(f"/users/{DEMO_USER_ID}/collected_items")  # no bearer token
    with pokemontcg_client(settings, base_url=pokemon.base_url, limiter=False) as api:
        assert api.get_json("/types")["data"]
    recorded = numista.requests + pokemon.requests
    assert len(recorded) == 7  # numista: 3 for /types (503, 429, 200) + 3; pokemontcg: 1
    assert {r.header("User-Agent") for r in recorded} == {user_agent()}
    assert UA_RE.match(user_agent())
    assert all(r.header("Numista-API-Key") == DEMO_API_KEY for r in numista.requests)
    assert all(r.header("Accept") == "application/json" for r in recorded)


def test_pokemontcg_key_header_and_error_shape(pokemon: PokemonTcgEmulator) -> None:
    keyed = load_settings({"POKEMONTCG_API_KEY": "not-a-valid-key-123"})
    with (
        pokemontcg_client(keyed, base_url=pokemon.base_url, limiter=False) as api,
        pytest.raises(AuthError) as info,
    ):
        api.get("/cards/base1-4")
    assert pokemon.last_request().header("X-Api-Key") == "not-a-valid-key-123"
    assert info.value.status == 403 and "The API key is invalid" in info.value.message
    assert "not-a-valid-key-123" not in info.value.message
    with pokemontcg_client(load_settings(), base_url=pokemon.base_url, limiter=False) as api:
        with pytest.raises(NotFoundError) as missing:
            api.get("/cards/nope-0")
        assert api.get_json("/cards/base1-4")["data"]["name"] == "Charizard"
    assert missing.value.service == "pokemontcg" and missing.value.server_message
    assert pokemon.last_request().header("X-Api-Key") is None


def test_per_call_auth_headers(numista: NumistaEmulator, settings: Settings) -> None:
    token = numista.issue_token()
    with numista_client(settings, base_url=numista.base_url, limiter=False) as api:  # no key: per call
        per_user = {"Numista-API-Key": DEMO_API_KEY, "Authorization": f"Bearer {token}"}
        items = api.get_json(f"/users/{DEMO_USER_ID}/collected_items", headers=per_user)
        assert "items" in items
    assert numista.last_request().header("Authorization") == f"Bearer {token}"


def test_refuses_to_send_credentials_to_another_origin(numista: NumistaEmulator, settings: Settings) -> None:
    with (
        numista_client(settings, api_key=DEMO_API_KEY, base_url=numista.base_url, limiter=False) as api,
        pytest.raises(ValueError, match="refusing"),
    ):
        api.get("http://127.0.0.2:1/v3/types?api_key=x")
    assert numista.count() == 0


def test_malformed_success_body_is_a_service_error(pokemon: PokemonTcgEmulator, settings: Settings) -> None:
    pokemon.faults.malformed_next(1)
    with (
        pokemontcg_client(settings, base_url=pokemon.base_url, limiter=False) as api,
        pytest.raises(ServiceError, match="not JSON"),
    ):
        api.get_json("/cards")


class _BrokenAuth(httpx.Auth):
    def auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("signing failed")
        yield request  # pragma: no cover - makes this a generator, as httpx expects


def test_limiter_slot_released_even_when_auth_raises(echo: EchoEmulator, settings: Settings) -> None:
    limiter = SlidingWindowLimiter(5, 60.0)
    with create_client("discogs", settings, base_url=echo.url, limiter=limiter) as api:
        with pytest.raises(RuntimeError):
            api.get("/ok", auth=_BrokenAuth())
        assert limiter._in_flight == 0  # the failed attempt no longer blocks a slot as "in flight"
        api.get("/ok")
    assert echo.count() == 1


# ---------------------------------------------------------------------------------------------- retries
def test_5xx_retried_with_full_jitter_backoff(pokemon: PokemonTcgEmulator, settings: Settings) -> None:
    sleeps: list[float] = []
    pokemon.faults.fail_next(2, status=503)
    with fake_sleep_client("pokemontcg", pokemon.base_url, settings, sleeps) as api:
        assert api.get_json("/types")["data"]
    assert pokemon.count("GET", "/v2/types") == 3
    assert len(sleeps) == 2 and all(0 <= s <= 0.2 * 2**i for i, s in enumerate(sleeps))


def test_retries_are_capped(pokemon: PokemonTcgEmulator, settings: Settings) -> None:
    sleeps: list[float] = []
    pokemon.faults.fail_next(10, status=502)
    with (
        fake_sleep_client("pokemontcg", pokemon.base_url, settings, sleeps) as api,
        pytest.raises(ServiceUnavailableError) as info,
    ):
        api.get("/types")
    assert pokemon.count() == FAST.max_retries + 1 == info.value.attempts
    assert info.value.status == 502 and "after 4 attempts" in info.value.message
    assert len(sleeps) == FAST.max_retries


def test_post_not_retried_on_5xx_or_dropped_connection(numista: NumistaEmulator, settings: Settings) -> None:
    sleeps: list[float] = []
    token = numista.issue_token()
    before = len(numista.collected_items_for(DEMO_USER_ID))
    numista.faults.fail_next(1, status=500, method="POST")
    with fake_sleep_client(
        "numista", numista.base_url, settings, sleeps, api_key=DEMO_API_KEY, access_token=token
    ) as api:
        path = f"/users/{DEMO_USER_ID}/collected_items"
        with pytest.raises(ServiceUnavailableError):
            api.post(path, json={"type": 420})
        assert numista.count("POST") == 1
        numista.faults.drop_next(1, method="POST")
        with pytest.raises(ServiceUnavailableError) as dropped:
            api.post(path, json={"type": 420})
        assert numista.count("POST") == 2 and dropped.value.status is None
        numista.faults.drop_next(1, method="PATCH")
        with pytest.raises(ServiceUnavailableError):
            api.patch(f"{path}/1", json={"quantity": 2})
        assert numista.count("PATCH") == 1
        # The same drop on a GET is retried.
        numista.faults.drop_next(1, method="GET")
        assert "items" in api.get_json(path)
        assert numista.count("GET") == 2
        # A caller that knows its POST is safe can opt in.
        numista.faults.fail_next(1, status=503, method="POST")
        api.post(path, json={"type": 420}, idempotent=True)
    assert numista.count("POST") == 4
    assert len(numista.collected_items_for(DEMO_USER_ID)) == before + 1  # only the opted-in POST created one
    assert sleeps and not any(s > FAST.max_sleep for s in sleeps)


def test_post_retried_on_429_creates_exactly_once(numista: NumistaEmulator, settings: Settings) -> None:
    sleeps: list[float] = []
    token = numista.issue_token()
    before = len(numista.collected_items_for(DEMO_USER_ID))
    numista.faults.rate_limit_next(2, retry_after=None, method="POST")
    with fake_sleep_client(
        "numista", numista.base_url, settings, sleeps, api_key=DEMO_API_KEY, access_token=token
    ) as api:
        created = api.post(f"/users/{DEMO_USER_ID}/collected_items", json={"type": 420})
    assert created.status_code == 201
    assert numista.count("POST") == 3 and len(numista.collected_items_for(DEMO_USER_ID)) == before + 1
    assert len(sleeps) == 2  # no Retry-After: backoff


def test_connect_errors_retried_even_for_post(settings: Settings) -> None:
    sleeps: list[float] = []
    base = f"http://127.0.0.1:{free_port()}/v3"  # nothing listens there
    with (
        fake_sleep_client("numista", base, settings, sleeps) as api,
        pytest.raises(ServiceUnavailableError) as info,
    ):
        api.post("/users/1/collected_items", json={"type": 1})
    assert len(sleeps) == FAST.max_retries and info.value.attempts == FAST.max_retries + 1
    assert "could not be reached" in info.value.message


def test_read_timeout_retried_for_get_not_post(pokemon: PokemonTcgEmulator, settings: Settings) -> None:
    sleeps: list[float] = []
    timeout = httpx.Timeout(0.3, connect=1.0)
    with fake_sleep_client("pokemontcg", pokemon.base_url, settings, sleeps, timeout=timeout) as api:
        pokemon.faults.delay_next(1, seconds=1.0)
        assert api.get_json("/types")["data"]
        assert pokemon.count("GET") == 2
        pokemon.faults.delay_next(1, seconds=1.0, method="POST")
        with pytest.raises(ServiceUnavailableError, match="did not answer in time"):
            api.post("/types", json={})
    assert pokemon.count("POST") == 1


def test_retry_after_seconds_is_honoured_in_real_time(
    pokemon: PokemonTcgEmulator, settings: Settings
) -> None:
    pokemon.faults.rate_limit_next(1, retry_after=1)
    with pokemontcg_client(settings, base_url=pokemon.base_url, limiter=False, retry=FAST) as api:
        assert api.get_json("/types")["data"]
    first, second = pokemon.requests
    assert first.fault == "rate_limit" and second.fault is None
    assert second.timestamp - first.timestamp >= 1.0


def test_retry_after_http_date_and_cap(pokemon: PokemonTcgEmulator, settings: Settings) -> None:
    sleeps: list[float] = []
    started = time.monotonic()
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=4), usegmt=True)
    pokemon.faults.fail_next(1, status=503, headers={"Retry-After": when})
    with fake_sleep_client("pokemontcg", pokemon.base_url, settings, sleeps) as api:
        assert api.get_json("/types")["data"]
        elapsed = time.monotonic() - started  # a loaded machine may take a while to get there
        assert len(sleeps) == 1 and 3.0 - elapsed <= sleeps[0] <= 4.0  # HTTP dates have 1 s resolution
        # Longer than max_sleep (5 s): no retry, no sleep, the caller gets retry_after to reschedule.
        pokemon.faults.rate_limit_next(1, retry_after=120)
        with pytest.raises(RateLimitedError) as info:
            api.get("/types")
    assert info.value.retry_after == 120 and "120 s" in info.value.message
    assert len(sleeps) == 1 and pokemon.count() == 3


def test_numista_quota_stops_at_once(numista: NumistaEmulator, settings: Settings) -> None:
    sleeps: list[float] = []
    numista.faults.exhaust_quota()
    with (
        fake_sleep_client("numista", numista.base_url, settings, sleeps, api_key=DEMO_API_KEY) as api,
        pytest.raises(QuotaExceededError) as info,
    ):
        api.get("/types", params={"q": "euro"})
    assert numista.count() == 1 and sleeps == []
    assert info.value.status == 429 and "quota" in info.value.message.lower()


def test_numista_bad_request_carries_server_message(numista: NumistaEmulator, settings: Settings) -> None:
    with (
        numista_client(settings, api_key=DEMO_API_KEY, base_url=numista.base_url, limiter=False) as api,
        pytest.raises(BadRequestError) as info,
    ):
        api.get("/types")  # needs at least one filter
    assert info.value.status == 400 and info.value.server_message
    assert info.value.server_message in info.value.message


# ---------------------------------------------------------------------------------------------- rate limiting
def test_burst_of_30_never_exceeds_10_per_second(pokemon: PokemonTcgEmulator) -> None:
    """3 threads x 10 requests, 3 separate clients sharing the process-wide limiter (limit 10 per 1 s)."""
    reset_limiters()
    settings = load_settings({"POKEMONTCG_RATE_LIMIT": "10", "POKEMONTCG_RATE_WINDOW": "1"})
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with pokemontcg_client(settings, base_url=pokemon.base_url) as api:
                for _ in range(10):
                    api.get("/types")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    elapsed = time.monotonic() - started
    reset_limiters()
    assert not errors
    stamps = sorted(r.timestamp for r in pokemon.requests)
    assert len(stamps) == 30
    worst = max(sum(1 for t in stamps if s <= t < s + 1.0) for s in stamps)
    min_gap = min(stamps[i + 10] - stamps[i] for i in range(len(stamps) - 10))
    print(
        f"\nburst: 30 requests in {elapsed:.2f} s; max in any 1 s window {worst}; "
        f"min 11-request span {min_gap:.3f} s"
    )
    assert worst <= 10 and min_gap >= 1.0
    assert elapsed < 6.0  # the limiter does not over-throttle either (ideal: just over 2 s)


def test_numista_concurrency_cap_avoids_simultaneous_429(numista: NumistaEmulator) -> None:
    """The emulator answers 429 to overlapping requests; max_concurrency=1 serializes 6 threads."""
    numista.faults.limit_concurrency(1)

    def run(limiter: SlidingWindowLimiter | bool) -> list[BaseException]:
        errors: list[BaseException] = []
        numista.faults.delay_next(6, seconds=0.15)
        barrier = threading.Barrier(6)

        def worker() -> None:
            with numista_client(
                load_settings(),
                api_key=DEMO_API_KEY,
                base_url=numista.base_url,
                limiter=limiter,
                retry=RetryPolicy(max_retries=0),
            ) as api:
                barrier.wait(5)
                try:
                    api.get("/catalogues")
                except ServiceError as exc:
                    errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        return errors

    control = run(False)
    assert control and all(isinstance(e, RateLimitedError) for e in control), "control run should collide"
    numista.faults.clear()
    assert run(SlidingWindowLimiter(45, 60.0, max_concurrency=1)) == []


def test_server_rate_headers_remaining_zero_makes_us_wait(echo: EchoEmulator, settings: Settings) -> None:
    limiter = SlidingWindowLimiter(60, 1.0, headers=DISCOGS_HEADERS)
    echo.rate_headers = {"X-Discogs-Ratelimit": "5", "X-Discogs-Ratelimit-Remaining": "0"}
    with create_client("discogs", settings, base_url=echo.url, limiter=limiter) as api:
        api.get("/ok")
        assert limiter.limit == 5
        echo.rate_headers = {}
        api.get("/ok")
    first, second = echo.requests
    assert second.timestamp - first.timestamp >= 0.95  # waited for the window to free


def test_429_retry_after_pauses_other_threads_too(pokemon: PokemonTcgEmulator, settings: Settings) -> None:
    """Thread A gets 429 + Retry-After: 1; thread B, starting during the pause, must not hit the server."""
    limiter = SlidingWindowLimiter(100, 1.0)
    pokemon.faults.rate_limit_next(1, retry_after=1, path="/v2/types")

    def thread_b() -> None:
        with pokemontcg_client(settings, base_url=pokemon.base_url, limiter=limiter, retry=FAST) as api:
            api.get("/supertypes")

    with pokemontcg_client(settings, base_url=pokemon.base_url, limiter=limiter, retry=FAST) as api:
        other = threading.Thread(target=thread_b)
        timer = threading.Timer(0.2, other.start)
        timer.start()
        api.get("/types")
        timer.join()
        other.join(5)
    throttled = pokemon.requests[0]
    assert throttled.fault == "rate_limit" and pokemon.count() == 3
    b_request = pokemon.last_request("/v2/supertypes")
    assert b_request is not None and b_request.timestamp - throttled.timestamp >= 0.95


def _oauth(discogs: DiscogsEmulator, **kwargs: Any) -> OAuth1Auth:
    token, secret = discogs.issue_access_token("example")
    return OAuth1Auth(CONSUMER_KEY, client_secret=CONSUMER_SECRET, token=token, token_secret=secret, **kwargs)


@pytest.mark.parametrize("method", ["HMAC-SHA1", "PLAINTEXT"])
def test_discogs_oauth1_auth_is_signed_and_resigned_on_retry(
    discogs: DiscogsEmulator, settings: Settings, method: str
) -> None:
    sleeps: list[float] = []
    discogs.faults.fail_next(1, status=503, path="/oauth/identity")
    with discogs_client(
        settings,
        auth=_oauth(discogs, signature_method=method),
        base_url=discogs.base_url,
        limiter=False,
        sleep=sleeps.append,
        retry=FAST,
    ) as api:
        assert api.get_json("/oauth/identity")["username"] == "example"  # the emulator verified the signature
    first, second = discogs.requests
    assert first.fault == "fail" and second.fault is None
    assert first.header("Authorization") != second.header("Authorization")  # fresh nonce per attempt
    assert second.header("User-Agent") == user_agent()
    assert second.header("Accept") == "application/vnd.discogs.v2.discogs+json"


def test_discogs_lower_server_limit_is_adopted_without_a_single_429(discogs: DiscogsEmulator) -> None:
    """We believe 60/s; the emulator allows 5/s and says so in X-Discogs-Ratelimit: we slow down at once."""
    reset_limiters()
    settings = load_settings({"DISCOGS_RATE_LIMIT": "60", "DISCOGS_RATE_WINDOW": "1"})
    with discogs_client(settings, auth=_oauth(discogs), base_url=discogs.base_url, retry=FAST) as api:
        for _ in range(8):
            api.get("/oauth/identity")
        assert api.limiter is not None and api.limiter.limit == 5
    reset_limiters()
    stamps = sorted(r.timestamp for r in discogs.requests)
    assert len(stamps) == 8  # any 429 would have shown up as an extra (retried) request
    assert max(sum(1 for t in stamps if s <= t < s + 1.0) for s in stamps) <= 5


def test_discogs_429_without_retry_after_waits_for_the_window(discogs: DiscogsEmulator) -> None:
    reset_limiters()
    settings = load_settings({"DISCOGS_RATE_LIMIT": "5", "DISCOGS_RATE_WINDOW": "1"})
    discogs.faults.exhaust_rate_limit()
    with discogs_client(settings, auth=_oauth(discogs), base_url=discogs.base_url, retry=FAST) as api:
        assert api.get_json("/oauth/identity")["username"] == "example"
    reset_limiters()
    first, second = discogs.requests
    assert second.timestamp - first.timestamp >= 0.9  # remaining=0 on the 429: waited for the window
    assert discogs.count() == 2


# ---------------------------------------------------------------------------------------------- secrets
SECRETS = {
    "api_key": "SECRET-apikey-7f3a9c",
    "token": "SECRET-token-b81d44",
    "consumer_secret": "SECRET-csecret-5e21",
    "token_secret": "SECRET-tsecret-99ab",
    "query": "SECRET-query-0c0ffee",
}


def _all_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc)]
    if isinstance(exc, ServiceError):
        texts += [exc.message, exc.server_message or "", exc.url or ""]
    if exc.__cause__ is not None:
        texts += [str(exc.__cause__), repr(exc.__cause__)]
    return texts


def test_no_secret_in_any_error_message_or_log_record(
    echo: EchoEmulator, numista: NumistaEmulator, caplog: pytest.LogCaptureFixture, settings: Settings
) -> None:
    caplog.set_level(logging.DEBUG)  # root, httpx and httpcore included
    caught: list[BaseException] = []
    oauth = OAuth1Auth(
        "consumer-key-1234",
        client_secret=SECRETS["consumer_secret"],
        token=SECRETS["token"],
        token_secret=SECRETS["token_secret"],
        signature_method="PLAINTEXT",
    )
    sleeps: list[float] = []
    query = {"access_token": SECRETS["query"], "client_secret": SECRETS["query"], "q": "x"}
    with fake_sleep_client("discogs", echo.url, settings, sleeps, auth=oauth) as discogs:
        for method in ("GET", "POST"):
            with pytest.raises(AuthError) as info:
                discogs.request(method, "/echo", params=query)
            caught.append(info.value)
    assert echo.last_request().header("Authorization").startswith("OAuth ")  # httpx auth= is honoured
    assert "PLAINTEXT" in echo.last_request().header("Authorization")
    with fake_sleep_client(
        "numista", echo.url, settings, sleeps, api_key=SECRETS["api_key"], access_token=SECRETS["token"]
    ) as api:
        with pytest.raises(AuthError) as info:
            api.get("/echo", params={"oauth_signature": SECRETS["query"], "oauth_verifier": SECRETS["query"]})
        caught.append(info.value)
        # 5xx retried, then failing: log lines with URLs on every retry.
        echo.faults.fail_next(10, status=503, body={"message": f"down; your key {SECRETS['api_key']}"})
        with pytest.raises(ServiceUnavailableError) as info:
            api.get("/ok", params={"api_key": SECRETS["query"]})
        caught.append(info.value)
    # Numista itself: a wrong key and a wrong token, and the OAuth token exchange with secrets in the query.
    with numista_client(
        settings, api_key=SECRETS["api_key"], base_url=numista.base_url, limiter=False
    ) as api:
        for path, params in [
            ("/types", {"q": "x"}),
            (
                "/oauth_token",
                {
                    "grant_type": "authorization_code",
                    "code": SECRETS["query"],
                    "client_secret": SECRETS["api_key"],
                },
            ),
        ]:
            with pytest.raises(AuthError) as info:
                api.get(path, params=params)
            caught.append(info.value)
    with numista_client(settings, base_url=numista.base_url, limiter=False) as api:
        with pytest.raises(AuthError) as info:
            api.get(
                f"/users/{DEMO_USER_ID}/collected_items",
                headers={"Numista-API-Key": DEMO_API_KEY, "Authorization": f"Bearer {SECRETS['token']}"},
            )
        caught.append(info.value)
    assert len(caught) == 7
    assert any("Invalid signature" in e.message for e in caught)  # the server's text is kept...
    texts = [t for exc in caught for t in _all_texts(exc)]
    logs = [r.getMessage() for r in caplog.records]
    assert any("retry" in line for line in logs) and any("HTTP Request" in line for line in logs)
    for secret in [*SECRETS.values(), DEMO_API_KEY]:
        for text in texts + logs:
            assert secret not in text, (secret, text)  # ...but never a credential
