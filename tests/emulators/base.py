"""A small stdlib harness for loopback HTTP emulators, with request recording and fault injection.

Why: every integration (Numista, Discogs, pokemontcg.io) must be tested over real HTTP without the
network, and retry/timeout/rate-limit code must be provoked on demand. This module has no
dependency beyond the standard library so it can be reused by any test.

Usage (tests normally use the pytest fixtures in ``tests/emulators/fixtures.py``)::

    from tests.emulators.numista import NumistaEmulator

    with NumistaEmulator() as emu:          # binds 127.0.0.1 on a free port, serves in a daemon thread
        emu.url                             # "http://127.0.0.1:54321"   (server root)
        emu.base_url                        # "http://127.0.0.1:54321/v3" (what the app is configured with)

        emu.faults.fail_next(2, status=503)          # next 2 matching requests -> 503
        emu.faults.rate_limit_next(1, retry_after=1) # next request -> 429 + "Retry-After: 1"
        emu.faults.delay_next(1, seconds=2.0)        # next request sleeps 2 s before being handled
        emu.faults.drop_next(1)                      # next request: connection closed, no response
        emu.faults.malformed_next(1)                 # next request: 200 with a body that is not JSON
        emu.faults.fail_next(1, status=500, path="/v3/types*", method="GET")  # only matching requests
        emu.faults.clear(); emu.faults.pending       # drop queued faults / how many are queued

        emu.requests                        # list[RecordedRequest], oldest first (a copy)
        emu.requests_to("/v3/types/*", method="GET")  # filtered by fnmatch path pattern
        emu.last_request()                  # most recent RecordedRequest (or None)
        emu.count("POST", "/v3/users/*/collected_items")
        emu.clear_requests()
        emu.reset()                         # faults + request log + emulator state back to fresh

Each queued fault applies to the next ``n`` requests that match its optional ``path`` (an fnmatch
pattern on the URL path, e.g. ``"/v2/cards*"``) and ``method``; faults are consumed in the order they
were queued, one fault per request. Faulted requests are recorded too, with ``RecordedRequest.fault``
naming the fault that was applied.

Other helpers: ``emu.in_flight`` (requests being handled right now), ``run_cli`` (the ``python -m``
entry points). Emulators read their data files from ``tests/fixtures/`` through ``tests.fixture_files`` and
load them when constructed: a missing file raises ``FixtureMissing`` naming it, before any port is bound.
The service emulators add their own faults and state helpers: see ``numista.py``,
``discogs.py`` and ``pokemontcg.py``; pytest fixtures are in ``fixtures.py``; ``oauth_clients.py``
re-exports authlib's httpx OAuth clients without authlib's "httpx is deprecated" warning.

Writing an emulator: subclass :class:`Emulator`, set ``api_prefix``, register routes in
``setup_routes`` with ``self.route("GET", "/v3/types/{type_id:int}", self.get_type)``; a handler takes a
:class:`Request` and returns a :class:`Response`, or any JSON-serialisable value (-> 200), or raises
:class:`HTTPError`. Override ``error_body`` to shape error JSON like the real service,
``before_request`` for checks common to all routes (auth, quota), ``after_response`` to add headers,
and ``reset_state`` to restore seed data, ``make_faults`` to return a :class:`Faults` subclass. Handlers
run one at a time under ``self.lock``, so emulator state needs no further locking (injected delays
happen outside the lock).
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from tests.fixture_files import FixtureMissing

__all__ = [
    "Emulator",
    "Faults",
    "HTTPError",
    "RecordedRequest",
    "Request",
    "Response",
    "json_response",
    "run_cli",
]


class CaseInsensitiveDict(dict[str, str]):
    """Header mapping keyed by lower-cased name, because HTTP header names are case-insensitive."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__()
        for key, value in dict(items).items():
            self[key] = value

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key.lower(), value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator received it (recorded before faults or handlers run)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: CaseInsensitiveDict
    body: bytes
    timestamp: float
    raw_path: str = ""
    fault: str | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        """Case-insensitive header lookup."""
        return self.headers.get(name, default)

    def param(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        """Body decoded as JSON (raises ValueError if it is not JSON)."""
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        """Body decoded as application/x-www-form-urlencoded (first value per key)."""
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items()}


@dataclass
class Request:
    """What a route handler sees: the recorded request plus path parameters."""

    recorded: RecordedRequest
    params: dict[str, Any] = field(default_factory=dict)
    base: str = ""

    @property
    def method(self) -> str:
        return self.recorded.method

    @property
    def path(self) -> str:
        return self.recorded.path

    @property
    def query(self) -> dict[str, list[str]]:
        return self.recorded.query

    @property
    def headers(self) -> CaseInsensitiveDict:
        return self.recorded.headers

    @property
    def body(self) -> bytes:
        return self.recorded.body

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.recorded.header(name, default)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter."""
        return self.recorded.param(name, default)

    def int_arg(self, name: str, default: int | None = None, *, message: str | None = None) -> int | None:
        """Query parameter as int; a non-integer is a 400, like the real services."""
        raw = self.arg(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise HTTPError(400, message or f"Invalid value for parameter {name}: {raw!r}") from None

    def json(self) -> Any:
        """Body as JSON; malformed JSON is a 400."""
        if not self.body:
            raise HTTPError(400, "Request body is empty")
        try:
            return self.recorded.json()
        except (ValueError, UnicodeDecodeError):
            raise HTTPError(400, "Request body is not valid JSON") from None

    def form(self) -> dict[str, str]:
        return self.recorded.form()


@dataclass
class Response:
    """A response to send; ``body`` may be bytes, str, or a JSON-serialisable value."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        """(bytes, content type) for the body."""
        if self.body is None:
            return b"", self.headers.get("Content-Type", "application/json")
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), self.headers.get("Content-Type", "text/plain; charset=utf-8")
        return json.dumps(self.body).encode("utf-8"), "application/json"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Shorthand for a JSON response."""
    return Response(status=status, body=data, headers=dict(headers or {}))


class HTTPError(Exception):
    """Raise from a handler to answer with an error; the emulator shapes the body via ``error_body``."""

    def __init__(
        self, status: int, message: str, *, headers: dict[str, str] | None = None, body: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.body = body


@dataclass
class _Fault:
    kind: str
    remaining: int
    status: int = 500
    seconds: float = 0.0
    retry_after: float | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    path: str | None = None
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return not self.path or fnmatch.fnmatchcase(path, self.path)


class Faults:
    """Queue of faults to apply to upcoming requests (thread-safe). Emulators may subclass it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Fault] = []

    def _add(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("n must be >= 1")
        with self._lock:
            self._queue.append(fault)

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` (body: the emulator's error JSON)."""
        self._add(_Fault("fail", n, status=status, body=body, headers=dict(headers or {}), path=path,
                         method=method))

    def rate_limit_next(
        self, n: int = 1, retry_after: float | None = 1, *, path: str | None = None, method: str | None = None
    ) -> None:
        """Answer the next ``n`` matching requests with 429 and ``Retry-After`` (omitted if None)."""
        self._add(_Fault("rate_limit", n, status=429, retry_after=retry_after, path=path, method=method))

    def delay_next(
        self, n: int = 1, seconds: float = 1.0, *, path: str | None = None, method: str | None = None
    ) -> None:
        """Sleep ``seconds`` before handling the next ``n`` matching requests (to provoke timeouts)."""
        self._add(_Fault("delay", n, seconds=seconds, path=path, method=method))

    def drop_next(self, n: int = 1, *, path: str | None = None, method: str | None = None) -> None:
        """Close the connection without any response for the next ``n`` matching requests."""
        self._add(_Fault("drop", n, path=path, method=method))

    def malformed_next(self, n: int = 1, *, path: str | None = None, method: str | None = None) -> None:
        """Answer 200 with a truncated, non-JSON body (Content-Type still JSON) for ``n`` requests."""
        self._add(_Fault("malformed", n, path=path, method=method))

    def clear(self) -> None:
        """Forget every queued fault."""
        with self._lock:
            self._queue.clear()

    @property
    def pending(self) -> int:
        """How many fault applications are still queued."""
        with self._lock:
            return sum(f.remaining for f in self._queue)

    def _take(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._queue:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._queue.remove(fault)
                    return fault
        return None


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    converters: dict[str, Callable[[str], Any]]
    handler: Callable[[Request], Any]


_PARAM = re.compile(r"\{(\w+)(?::(int|str|path))?\}")


def _compile(template: str) -> tuple[re.Pattern[str], dict[str, Callable[[str], Any]]]:
    converters: dict[str, Callable[[str], Any]] = {}
    regex, pos = "", 0
    for m in _PARAM.finditer(template):
        regex += re.escape(template[pos:m.start()])
        name, kind = m.group(1), m.group(2) or "str"
        regex += {"int": rf"(?P<{name}>\d+)", "str": rf"(?P<{name}>[^/]+)", "path": rf"(?P<{name}>.+)"}[kind]
        converters[name] = int if kind == "int" else str
        pos = m.end()
    regex += re.escape(template[pos:])
    return re.compile(regex + "/?"), converters


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a handler sleeping in an injected delay
    allow_reuse_address = True

    emulator: Emulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients' connection pools behave as in production
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.emulator.verbose:
            super().log_message(format, *args)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        emulator = self.server.emulator
        emulator._enter(+1)
        try:
            self._dispatch_counted(emulator)
        finally:
            emulator._enter(-1)

    def _dispatch_counted(self, emulator: Emulator) -> None:
        body = self._read_body()
        split = urlsplit(self.path)
        recorded = RecordedRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=CaseInsensitiveDict(dict(self.headers.items())),
            body=body,
            timestamp=time.time(),
            raw_path=self.path,
        )
        fault = emulator.faults._take(recorded.method, recorded.path)
        if fault is not None:
            recorded = RecordedRequest(**{**recorded.__dict__, "fault": fault.kind})
        emulator._record(recorded)
        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.kind == "delay" and emulator._stopping.wait(fault.seconds):
            self.close_connection = True  # the emulator is stopping: give up on this request
            return
        response = emulator._respond(recorded, fault)
        self._send(response, head=recorded.method == "HEAD")

    def _send(self, response: Response, head: bool = False) -> None:
        payload, content_type = response.encoded()
        try:
            self.send_response(response.status)
            headers = {"Content-Type": content_type, **response.headers}
            for key, value in headers.items():
                self.send_header(key, str(value))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if not head:
                self.wfile.write(payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # client gave up (e.g. its timeout fired)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class Emulator:
    """Base class: an HTTP server on 127.0.0.1:<free port> running in a daemon thread."""

    api_prefix: str = ""
    name: str = "emulator"

    def __init__(self, *, port: int = 0, verbose: bool = False) -> None:
        self.verbose = verbose
        self.lock = threading.RLock()
        self.faults = self.make_faults()
        self._in_flight = 0
        self._requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._routes: list[_Route] = []
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = port
        self.setup_routes()
        self.reset_state()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.emulator = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name=f"{self.name}-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (wakes handlers sleeping in an injected delay)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self.name} emulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:54321`` (no API prefix)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Root plus the API prefix: the value to configure the app with (e.g. NUMISTA_API_URL)."""
        return self.url + self.api_prefix

    def reset(self) -> None:
        """Clear faults and the request log, and restore seed state (for module-scoped fixtures)."""
        self.faults.clear()
        self.clear_requests()
        with self.lock:
            self.reset_state()

    @property
    def in_flight(self) -> int:
        """Requests currently being received or handled (including ones sleeping in a delay)."""
        with self._requests_lock:
            return self._in_flight

    def _enter(self, delta: int) -> None:
        with self._requests_lock:
            self._in_flight += delta

    # ------------------------------------------------------------------ request log
    def _record(self, recorded: RecordedRequest) -> None:
        with self._requests_lock:
            self._requests.append(recorded)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._requests_lock:
            return list(self._requests)

    def requests_to(self, path: str = "*", method: str | None = None) -> list[RecordedRequest]:
        """Requests whose path matches the fnmatch pattern ``path`` (and ``method`` if given)."""
        return [
            r for r in self.requests
            if fnmatch.fnmatchcase(r.path, path) and (method is None or r.method == method.upper())
        ]

    def count(self, method: str | None = None, path: str = "*") -> int:
        """How many requests matched (see ``requests_to``)."""
        return len(self.requests_to(path, method))

    def last_request(self, path: str = "*", method: str | None = None) -> RecordedRequest | None:
        """The most recent matching request, or None."""
        matching = self.requests_to(path, method)
        return matching[-1] if matching else None

    def clear_requests(self) -> None:
        with self._requests_lock:
            self._requests.clear()

    # ------------------------------------------------------------------ routing
    def route(self, method: str, template: str, handler: Callable[[Request], Any]) -> None:
        """Register ``handler`` for ``method`` on a path template like ``/v2/cards/{card_id}``."""
        pattern, converters = _compile(template)
        self._routes.append(_Route(method.upper(), pattern, converters, handler))

    def _match(self, method: str, path: str) -> tuple[_Route | None, dict[str, Any], bool]:
        path_matched = False
        for route in self._routes:
            m = route.pattern.fullmatch(path)
            if m is None:
                continue
            path_matched = True
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, {k: route.converters[k](v) for k, v in m.groupdict().items()}, True
        return None, {}, path_matched

    def _respond(self, recorded: RecordedRequest, fault: _Fault | None) -> Response:
        if fault is not None and fault.kind in ("fail", "rate_limit"):
            headers = dict(fault.headers)
            if fault.kind == "rate_limit" and fault.retry_after is not None:
                ra = fault.retry_after
                headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
            message = "Too Many Requests" if fault.kind == "rate_limit" else "Injected fault"
            body = fault.body if fault.body is not None else self.error_body(fault.status, message)
            response = Response(fault.status, body, headers)
        elif fault is not None and fault.kind == "malformed":
            response = Response(200, b'{"data": [{"id": ', {"Content-Type": "application/json"})
        else:
            response = self._handle(recorded)
        with self.lock:
            try:
                self.after_response(recorded, response)
            except Exception as exc:  # a broken hook must not hang the client
                response = Response(500, self.error_body(500, f"Emulator hook error: {exc}"))
        return response

    def _handle(self, recorded: RecordedRequest) -> Response:
        with self.lock:
            try:
                early = self.before_request(recorded)
                if early is not None:
                    return early
                route, params, path_matched = self._match(recorded.method, recorded.path)
                if route is None:
                    if path_matched:
                        raise HTTPError(405, "Method not allowed")
                    raise HTTPError(404, "Not found")
                result = route.handler(Request(recorded, params, self.url))
                if isinstance(result, Response):
                    return result
                return Response(200, result)
            except HTTPError as exc:
                body = exc.body if exc.body is not None else self.error_body(exc.status, exc.message)
                return Response(exc.status, body, exc.headers)
            except Exception as exc:  # an emulator bug must surface as a 500, not a hang
                return Response(500, self.error_body(500, f"Emulator error: {type(exc).__name__}: {exc}"))

    # ------------------------------------------------------------------ hooks for subclasses
    def make_faults(self) -> Faults:
        """The fault queue; emulators return a subclass with service-specific faults."""
        return Faults()

    def setup_routes(self) -> None:
        """Register routes with ``self.route``."""

    def reset_state(self) -> None:
        """(Re)build server-side state from seed data."""

    def before_request(self, request: RecordedRequest) -> Response | None:
        """Checks common to every route (auth, quota); return a Response to short-circuit."""
        return None

    def after_response(self, request: RecordedRequest, response: Response) -> None:
        """Adjust every response (including injected faults), e.g. add rate-limit headers."""

    def error_body(self, status: int, message: str) -> Any:
        """JSON body for an error, shaped like the real service's."""
        return {"message": message}

    def describe(self) -> list[str]:
        """Lines printed by ``python -m`` (credentials, env vars to set)."""
        return []


def run_cli(factory: Callable[[argparse.Namespace], Emulator], description: str,
            argv: list[str] | None = None,
            extra_args: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """Run an emulator in the foreground for manual use: ``python -m tests.emulators.X --port 8765``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free port)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    if extra_args is not None:
        extra_args(parser)
    args = parser.parse_args(argv)
    try:
        emulator = factory(args)
    except FixtureMissing as missing:
        parser.exit(2, f"error: {missing}\n")
    emulator.start()
    print(f"{emulator.name} emulator listening on {emulator.url}")
    for line in emulator.describe():
        print(line)
    print("Ctrl-C to stop.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()

