"""How an API operation runs: rate-limit, authenticate, validate, call the services, answer JSON.

Each endpoint is declared once as an `Operation` (method, path, query/body/response models, error codes); the
same declarations build the Starlette routes (`routes`) and the OpenAPI document (services.api.openapi), so the
documented contract and the served one are the same object. Handlers are plain synchronous functions that get
a `Call` (an open, owner-scoped session and the validated input) and return a pydantic model; they run in a
worker thread so the event loop that also serves the dashboard's websockets never waits on the database, at
most API_THREADS (per database) at a time (the others queue on the event loop, in order).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.api.forwarded import client_address
from services.api.ratelimit import ApiRateLimiter, Verdict, build_limiter
from services.api.schemas import ErrorBody, ErrorResponse, NoQuery
from services.api.tokens import TokenOwner, digest, resolve_token
from services.config import SettingsError
from services.context import AppContext
from services.errors import Conflict, InvalidInput, NotFound, StaleEdit, VitrineError
from services.store.db import session_scope

log = logging.getLogger(__name__)

# Requests handled at once, by database. The handlers are mostly Python, so one process runs one of them at a
# time (the GIL); eight threads each holding a request spent more CPU taking turns than answering (5.9 against
# 3.6 ms of server CPU per search with 8 clients, `python bench/api.py`). Two let one request's database wait
# (SQLite releases the GIL while it executes) overlap another's Python; on PostgreSQL a request spends more of
# its time waiting on round trips to the server, and four handled 10-15 % more requests a second than two
# (entries p95 48-49 against 48-55 ms).
API_THREADS = {"sqlite": 2, "postgresql": 4}

Scope = Literal["catalogue", "collection"]
JSON = "application/json"
# Service error codes that the plan names differently at this edge.
_RENAMED = {"DUPLICATE_ENTRY": "ENTRY_EXISTS", "ITEM_NOT_FOUND": "ENTRY_NOT_FOUND", "STALE_EDIT": "PRECONDITION_FAILED"}


class ApiError(Exception):
    """An answer other than success: HTTP status + the uniform error document."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details, self.headers = status, code, message, details, headers

    def response(self) -> Response:
        body = ErrorResponse(error=ErrorBody(code=self.code, message=self.message, details=self.details))
        return Response(body.model_dump_json(), status_code=self.status, media_type=JSON, headers=self.headers)


def from_service_error(error: VitrineError) -> ApiError:
    code = _RENAMED.get(error.code, error.code)
    if isinstance(error, StaleEdit):
        return ApiError(412, code, error.message)
    if isinstance(error, NotFound):
        return ApiError(404, code, error.message)
    if isinstance(error, Conflict):
        return ApiError(409, code, error.message)
    if isinstance(error, InvalidInput):
        return ApiError(400, code, error.message)
    return ApiError(400, code, error.message)


@dataclass
class Call:
    """What a handler gets: the acting member (None for an anonymous public catalogue read), an open session
    (committed when the handler returns), path parameters, validated query and body, and request headers."""

    session: Session
    member: TokenOwner | None
    path: dict[str, str]
    query: Any
    body: Any
    headers: Any
    context: AppContext

    @property
    def owner(self) -> TokenOwner:
        assert self.member is not None, "collection operations always authenticate"
        return self.member


@dataclass
class Reply:
    """A handler's answer when it needs more than a 200 with the model: a status and headers."""

    model: BaseModel
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], BaseModel | Reply]


@dataclass
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    response: type[BaseModel]
    scope: Scope
    tag: str
    query: type[BaseModel] = NoQuery
    body: type[BaseModel] | None = None
    status: int = 200
    errors: dict[int, tuple[str, ...]] = field(default_factory=dict)
    invalid_code: str = "INVALID_REQUEST"  # the code of a malformed query or body
    # A field's own error code: "quantity" -> INVALID_QUANTITY, or per pydantic error type "q:string_too_short".
    field_codes: dict[str, str] = field(default_factory=dict)
    path_params: tuple[str, ...] = ()
    extra_statuses: dict[int, tuple[type[BaseModel], str]] = field(default_factory=dict)

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    def public(self, public_catalogue: bool) -> bool:
        return self.scope == "catalogue" and public_catalogue


class Api:
    """The operations of the API bound to one app context (built lazily: the engine migrates on first use)."""

    def __init__(self, operations: list[Operation], context_provider: Callable[[], AppContext]) -> None:
        self.operations = operations
        self._context_provider = context_provider
        self._context: AppContext | None = None
        self._limiter: ApiRateLimiter | None = None
        self._routes: list[Route] = []
        self._threads: anyio.CapacityLimiter | None = None  # sized by the database, on the first request

    @property
    def context(self) -> AppContext:
        """The process's context, asked for once (the provider may be a cached Streamlit resource: not free)."""
        if self._context is None:
            self._context = self._context_provider()
        return self._context

    @property
    def limiter(self) -> ApiRateLimiter:
        if self._limiter is None:
            settings = self.context.settings
            self._limiter = build_limiter(
                self.context.engine, settings.redis_url, settings.api_rate_catalogue, settings.api_rate_collection
            )
        return self._limiter

    def routes(self) -> list[Route]:
        by_path: dict[str, list[Operation]] = {}
        for operation in self.operations:
            by_path.setdefault(operation.path, []).append(operation)
        self._routes = [
            Route(path, self._endpoint({op.method: op for op in ops}), methods=[op.method for op in ops])
            for path, ops in by_path.items()
        ]
        routes = list(self._routes)
        every_method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
        routes.append(Route("/api/{rest:path}", self._unknown, methods=every_method))
        return routes

    def _endpoint(self, by_method: dict[str, Operation]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            operation = by_method[request.method if request.method != "HEAD" else "GET"]
            try:
                raw_body = await request.body() if operation.body is not None else b""
                threads = self._threads or await self._handlers()
                return await anyio.to_thread.run_sync(self._run, operation, request, raw_body, limiter=threads)
            except ApiError as error:
                return error.response()
            except SettingsError as error:  # a malformed setting: one line naming the key (never a secret's value)
                log.error("API %s %s: %s", request.method, request.url.path, error.message)
                return ApiError(503, error.code, error.message).response()
            except Exception:  # a bug: logged here, never shown to the caller
                log.exception("API %s %s failed", request.method, request.url.path)
                return ApiError(500, "INTERNAL_ERROR", "The server failed to answer; the error was logged.").response()

        return endpoint

    async def _handlers(self) -> anyio.CapacityLimiter:
        """The handler threads' limiter, sized by the database (the context is made in a thread: the first one
        may migrate the database, which the event loop must not wait for)."""
        context = await anyio.to_thread.run_sync(lambda: self.context)
        self._threads = self._threads or anyio.CapacityLimiter(API_THREADS.get(context.engine.dialect.name, 2))
        return self._threads

    async def _unknown(self, request: Request) -> Response:
        path = request.url.path
        for route in self._routes:
            match, _ = route.matches({"type": "http", "path": path, "method": "OPTIONS"})
            if match.name != "NONE":
                allowed = ", ".join(sorted(route.methods or ()))
                return ApiError(
                    405,
                    "METHOD_NOT_ALLOWED",
                    f"{request.method} is not allowed here; use {allowed}.",
                    headers={"Allow": allowed},
                ).response()
        return ApiError(404, "NOT_FOUND", f"No API endpoint at {path}; see /api/openapi.json.").response()

    # -- one request, in a worker thread ---------------------------------------------------------------------
    def _run(self, operation: Operation, request: Request, raw_body: bytes) -> Response:
        """Count the request against its address and the presented token, and resolve the token, in one short
        transaction (429 when a budget is spent, even for a bad token; 401 for a bad token once counted); then
        validate and call the handler in a second transaction on the same connection (one checkout per request:
        on PostgreSQL each checkout, BEGIN and COMMIT is a round trip to the server)."""
        context = self.context
        settings = context.settings
        peer = request.client.host if request.client else None
        address = client_address(peer, request.headers.getlist("x-forwarded-for"), settings.trusted_proxies)
        token = _bearer_token(request.headers.get("authorization"))
        identities = [f"ip:{address}"] + ([f"token:{digest(token)[:16]}"] if token else [])
        anonymous = request.headers.get("authorization") is None and operation.public(settings.api_public_catalogue)
        with context.engine.connect() as connection:
            # Counted first: a write before any read, so SQLite's transaction never has to upgrade a stale snapshot.
            with self.limiter.turn(), _session(connection) as session:
                verdict = self.limiter.hit(operation.scope, identities, session.connection())
                member = None
                if not verdict.allowed:
                    session.rollback()  # the counts go; Retry-After is read below, out of SQLite's writer turn
                elif not anonymous and token is not None:
                    member = resolve_token(session, token)
            if not verdict.allowed:
                raise _rate_limited(operation.scope, self.limiter.timed(verdict))
            if member is None and not anonymous:
                message = (
                    "Send a valid API token as 'Authorization: Bearer <token>' (create one in Settings or with "
                    "'python -m services tokens create')."
                )
                raise ApiError(401, "UNAUTHENTICATED", message, headers={"WWW-Authenticate": 'Bearer realm="vitrine"'})
            query = _validate(operation, operation.query, dict(request.query_params), "query")
            body = _parse_body(operation, raw_body) if operation.body is not None else None
            with _session(connection) as session:
                call = Call(session, member, dict(request.path_params), query, body, request.headers, context)
                result = operation.handler(call)
        reply = result if isinstance(result, Reply) else Reply(result, operation.status)
        return Response(reply.model.model_dump_json(), status_code=reply.status, media_type=JSON, headers=reply.headers)


def _bearer_token(header: str | None) -> str | None:
    """The token of an 'Authorization: Bearer <token>' header, else None."""
    scheme, _, token = (header or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _rate_limited(scope: Scope, verdict: Verdict) -> ApiError:
    identity = verdict.identity or ""
    who = "this token" if identity.startswith("token:") else "your address"
    return ApiError(
        429,
        "RATE_LIMITED",
        f"Too many {scope} requests from {who} (limit {verdict.limit.amount} per "
        f"{verdict.limit.get_expiry()} s); retry in {verdict.retry_after} s.",
        details={
            "scope": scope,
            "per": identity.split(":", 1)[0],
            "limit": verdict.limit.amount,
            "windowSeconds": verdict.limit.get_expiry(),
        },
        headers={"Retry-After": str(verdict.retry_after)},
    )


@contextmanager
def _session(connection: Connection) -> Iterator[Session]:
    """One transaction on the request's connection (session_scope: commit on success, roll back on an error)."""
    try:
        with session_scope(connection) as session:
            yield session
    except VitrineError as error:
        raise from_service_error(error) from None


def _validate(operation: Operation, model: type[BaseModel], data: Any, where: str, *, from_json: bool = False) -> Any:
    try:
        return model.model_validate_json(data) if from_json else model.model_validate(data)
    except ValidationError as error:
        found = error.errors(include_url=False, include_input=False, include_context=False)
        problems = [
            {"field": ".".join(str(part) for part in problem["loc"]) or where, "problem": problem["msg"]}
            for problem in found
        ]
        code = operation.invalid_code
        for problem, raw in zip(problems, found, strict=True):
            name = problem["field"].split(".")[0]
            own = operation.field_codes.get(f"{name}:{raw['type']}") or operation.field_codes.get(name)
            if own:
                code = own
                break
        first = problems[0]
        raise ApiError(
            400, code, f"Invalid {where} field {first['field']!r}: {first['problem']}.", {"fields": problems}
        ) from None


def _parse_body(operation: Operation, raw: bytes) -> Any:
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "INVALID_JSON", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, operation.invalid_code, "The request body must be a JSON object.")
    assert operation.body is not None
    return _validate(operation, operation.body, raw, "body", from_json=True)
