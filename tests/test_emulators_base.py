"""The emulator harness itself: lifecycle, routing, request recording and every generic fault.

Why: other test suites rely on these faults to prove retry/timeout behaviour, so the faults must do
exactly what they say, to the request they target, and no more.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.emulators.base import Emulator, HTTPError, Request, Response


class EchoEmulator(Emulator):
    """Minimal emulator: echoes what it got, so the tests see the harness and nothing else."""

    api_prefix = "/api"
    name = "echo"

    def setup_routes(self) -> None:
        self.route("GET", "/api/items/{item_id:int}", lambda r: {"id": r.params["item_id"]})
        self.route("POST", "/api/items", self.create)
        self.route("GET", "/api/boom", self.boom)
        self.route("GET", "/api/teapot", self.teapot)

    def create(self, req: Request) -> Response:
        return Response(201, {"got": req.json(), "query": req.query})

    def boom(self, req: Request) -> Any:
        raise RuntimeError("bug in handler")

    def teapot(self, req: Request) -> Any:
        raise HTTPError(418, "short and stout", headers={"X-Tea": "yes"})


@pytest.fixture
def echo() -> Iterator[EchoEmulator]:
    with EchoEmulator() as emulator:
        yield emulator


@pytest.fixture
def client(echo: EchoEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=echo.base_url, timeout=2.0) as c:
        yield c


def test_binds_loopback_on_a_free_port_and_stops_cleanly() -> None:
    emulator = EchoEmulator().start()
    port = emulator.port
    assert emulator.url == f"http://127.0.0.1:{port}"
    assert emulator.base_url == f"http://127.0.0.1:{port}/api"
    assert httpx.get(emulator.base_url + "/items/1", timeout=2).json() == {"id": 1}
    emulator.stop()
    emulator.stop()  # idempotent
    with socket.socket() as sock:  # the port is released
        sock.bind(("127.0.0.1", port))


def test_routing_json_and_errors(client: httpx.Client) -> None:
    created = client.post("/items", params={"tag": "x"}, json={"a": 1})
    assert created.status_code == 201
    assert created.json() == {"got": {"a": 1}, "query": {"tag": ["x"]}}
    assert client.get("/nope").status_code == 404
    assert client.delete("/items/3").status_code == 405
    assert client.post("/items", content=b"{not json", headers={"Content-Type": "application/json"}
                       ).status_code == 400
    teapot = client.get("/teapot")
    assert (teapot.status_code, teapot.json()) == (418, {"message": "short and stout"})
    assert teapot.headers["x-tea"] == "yes"
    assert client.get("/boom").status_code == 500


def test_requests_are_recorded(echo: EchoEmulator, client: httpx.Client) -> None:
    before = time.time()
    client.post("/items", params={"q": "1"}, json={"b": 2}, headers={"X-Trace": "t1"})
    client.get("/items/7")
    assert [r.method for r in echo.requests] == ["POST", "GET"]
    post = echo.requests[0]
    assert post.path == "/api/items"
    assert post.query == {"q": ["1"]}
    assert post.param("q") == "1"
    assert post.header("x-trace") == "t1" and post.headers["X-TRACE"] == "t1"
    assert post.json() == {"b": 2}
    assert before <= post.timestamp <= time.time()
    assert echo.count("GET", "/api/items/*") == 1
    assert echo.last_request(method="GET").path == "/api/items/7"  # type: ignore[union-attr]
    assert json.loads(echo.requests_to("/api/items", method="POST")[0].body) == {"b": 2}
    echo.clear_requests()
    assert echo.requests == []


def test_fail_next_targets_matching_requests_only(echo: EchoEmulator, client: httpx.Client) -> None:
    echo.faults.fail_next(2, status=503, path="/api/items/*", method="GET")
    assert echo.faults.pending == 2
    assert client.post("/items", json={}).status_code == 201  # POST does not match
    assert client.get("/items/1").status_code == 503
    assert client.get("/items/1").status_code == 503
    assert client.get("/items/1").status_code == 200
    assert echo.faults.pending == 0
    assert [r.fault for r in echo.requests] == [None, "fail", "fail", None]


def test_fail_next_custom_body_and_headers(echo: EchoEmulator, client: httpx.Client) -> None:
    echo.faults.fail_next(1, status=502, body={"custom": True}, headers={"Retry-After": "3"})
    response = client.get("/items/1")
    assert (response.status_code, response.json()) == (502, {"custom": True})
    assert response.headers["retry-after"] == "3"


def test_rate_limit_next_sends_retry_after(echo: EchoEmulator, client: httpx.Client) -> None:
    echo.faults.rate_limit_next(1, retry_after=2)
    echo.faults.rate_limit_next(1, retry_after=None)
    first, second = client.get("/items/1"), client.get("/items/1")
    assert (first.status_code, first.headers["retry-after"]) == (429, "2")
    assert second.status_code == 429 and "retry-after" not in second.headers
    assert client.get("/items/1").status_code == 200


def test_delay_next_provokes_a_client_timeout(echo: EchoEmulator) -> None:
    echo.faults.delay_next(1, seconds=1.0)
    with httpx.Client(base_url=echo.base_url, timeout=0.2) as fast:
        with pytest.raises(httpx.ReadTimeout):
            fast.get("/items/1")
        assert fast.get("/items/1").json() == {"id": 1}


def test_drop_and_malformed_faults(echo: EchoEmulator, client: httpx.Client) -> None:
    echo.faults.drop_next(1)
    with pytest.raises(httpx.TransportError):
        client.get("/items/1")
    echo.faults.malformed_next(1)
    garbled = client.get("/items/1")
    assert garbled.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        garbled.json()
    assert client.get("/items/1").json() == {"id": 1}


def test_stop_does_not_wait_for_a_delayed_request(echo: EchoEmulator) -> None:
    echo.faults.delay_next(1, seconds=30)
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(httpx.get(echo.base_url + "/items/1", timeout=10).status_code)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    deadline = time.monotonic() + 2
    while echo.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    echo.stop()
    worker.join(timeout=5)
    assert time.monotonic() - started < 2
    assert outcome and isinstance(outcome[0], httpx.HTTPError)


def test_reset_clears_faults_and_log(echo: EchoEmulator, client: httpx.Client) -> None:
    client.get("/items/1")
    echo.faults.fail_next(5)
    echo.reset()
    assert echo.faults.pending == 0 and echo.requests == []
    assert client.get("/items/1").status_code == 200
