"""Rate limits of the REST API on live servers: 429 with Retry-After, a budget per category shared by every
server process of the instance (two servers on one database), anonymous public catalogue reads counted per
client IP; and the Redis backend shared by two limiters."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
from limits.storage import RedisStorage

from services.api.ratelimit import ApiRateLimiter
from tests.api_support import app_env, cli, new_token, serve

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[str], str]]:
    data = tmp_path_factory.mktemp("api-limits")
    env = app_env(
        f"sqlite:///{data / 'vitrine.db'}",
        VITRINE_API_RATE_CATALOGUE="5/minute",
        VITRINE_API_RATE_COLLECTION="4/minute",
        VITRINE_API_PUBLIC_CATALOGUE="true",
        VITRINE_TRUSTED_PROXIES="127.0.0.6",
    )
    cli(env, "demo", "load")
    token = new_token(env)
    with ExitStack() as stack:
        urls = [stack.enter_context(serve(env, data / f"server{i}.log")) for i in (1, 2)]
        yield urls, token


def inside_one_window() -> None:
    """The sliding-window counter weighs the previous minute by the share of it still inside the window (then
    floors), so a burst straddling a minute boundary may get one request more: start bursts well inside one."""
    left = 60 - time.time() % 60
    if left < 15:
        time.sleep(left + 0.5)


def from_address(address: str) -> httpx.Client:
    """A client whose requests come from `address` (any 127.x.y.z is this machine): another client IP."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def test_a_tokens_budget_is_shared_by_two_server_processes_and_any_address(two_servers: tuple[list[str], str]) -> None:
    (first, second), token = two_servers
    headers = {"Authorization": f"Bearer {token}"}
    inside_one_window()
    with from_address("127.0.0.2") as here, from_address("127.0.0.3") as there:
        statuses = [client.get(f"{url}/api/collection/value", headers=headers).status_code
                    for client, url in ((here, first), (there, second), (here, second), (there, first))]  # fmt: skip
        assert statuses == [200, 200, 200, 200]
        refused = here.get(f"{first}/api/collection/value", headers=headers)
        assert refused.status_code == 429, refused.text
        error = refused.json()["error"]
        assert error["code"] == "RATE_LIMITED" and error["message"]
        assert error["details"] == {"scope": "collection", "per": "token", "limit": 4, "windowSeconds": 60}
        assert 1 <= int(refused.headers["retry-after"]) <= 120
        assert there.get(f"{second}/api/collection/value", headers=headers).status_code == 429  # everywhere
        assert here.get(f"{first}/api/card-conditions", headers=headers).status_code == 200  # other category


def test_public_catalogue_reads_are_limited_per_client_ip(two_servers: tuple[list[str], str]) -> None:
    (first, second), _token = two_servers
    with from_address("127.0.0.4") as anonymous, from_address("127.0.0.5") as neighbour:
        assert anonymous.get(f"{first}/api/collection/value").status_code == 401  # only the catalogue is public
        inside_one_window()
        statuses = [anonymous.get(f"{url}/api/card-conditions").status_code for url in (first, second) * 3]
        assert statuses == [200] * 5 + [429], statuses
        refused = anonymous.get(f"{second}/api/cards")
        assert refused.status_code == 429 and refused.json()["error"]["details"]["per"] == "ip"
        assert int(refused.headers["retry-after"]) >= 1
        assert neighbour.get(f"{first}/api/card-conditions").status_code == 200  # another address, its own budget


def test_x_forwarded_for_is_believed_from_a_trusted_proxy_only(two_servers: tuple[list[str], str]) -> None:
    """VITRINE_TRUSTED_PROXIES=127.0.0.6: behind it, each forwarded client has its own budget (the right-most
    address the proxy appended; what the client wrote further left is ignored); any other peer's header is not
    believed, so rotating invented addresses does not escape its limit."""
    (first, second), _token = two_servers
    inside_one_window()
    with from_address("127.0.0.7") as spoofer:
        statuses = [
            spoofer.get(f"{url}/api/card-conditions", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
            for n, url in enumerate((first, second) * 3)
        ]
        assert statuses == [200] * 5 + [429], statuses
    with from_address("127.0.0.6") as proxy:

        def through_proxy(forwarded_for: str, url: str = first) -> httpx.Response:
            return proxy.get(f"{url}/api/card-conditions", headers={"X-Forwarded-For": forwarded_for})

        statuses = [through_proxy("198.51.100.1", url).status_code for url in (first, second) * 3]
        assert statuses == [200] * 5 + [429], statuses
        refused = through_proxy("6.6.6.6, 198.51.100.1")  # the client's own left part changes nothing
        assert refused.status_code == 429 and refused.json()["error"]["details"]["per"] == "ip"
        assert through_proxy("198.51.100.2").status_code == 200  # another client behind the proxy
        assert through_proxy("198.51.100.1, 127.0.0.6").status_code == 429  # trusted hops are skipped


def test_redis_backend_shares_one_budget_between_limiters() -> None:
    storage_a, storage_b = RedisStorage(REDIS_URL), RedisStorage(REDIS_URL)
    if not storage_a.check():
        pytest.fail(f"Redis is not reachable at {REDIS_URL}")
    budgets = {"catalogue": "3/minute", "collection": "2/minute"}
    first, second = ApiRateLimiter(storage_a, budgets), ApiRateLimiter(storage_b, budgets)
    identity = f"token:test-{time.time_ns()}"  # a key of this run only
    verdicts = [limiter.hit("collection", [identity]) for limiter in (first, second, first)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert 1 <= verdicts[-1].retry_after <= 120


def test_redis_counts_a_request_against_none_of_its_identities_when_one_refuses() -> None:
    """As in the database: a request refused by its token's spent budget is not counted against its address."""
    storage = RedisStorage(REDIS_URL)
    if not storage.check():
        pytest.fail(f"Redis is not reachable at {REDIS_URL}")
    limiter = ApiRateLimiter(storage, {"catalogue": "2/minute", "collection": "2/minute"})
    run = time.time_ns()
    address, token, neighbour = f"ip:a{run}", f"token:t{run}", f"ip:b{run}"
    assert limiter.hit("catalogue", [neighbour, token]).allowed and limiter.hit("catalogue", [neighbour, token]).allowed
    refused = limiter.hit("catalogue", [address, token])
    assert not refused.allowed and refused.identity == token and refused.retry_after >= 1
    assert limiter.hit("catalogue", [address]).allowed and limiter.hit("catalogue", [address]).allowed  # 2 left
