"""The API's Starlette routes, mounted beside the dashboard by app.py (`st.App(..., routes=api_routes(...))`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from services.api import catalogue, collection, items, status
from services.api.framework import Api, Operation
from services.api.openapi import build_document, docs_page
from services.context import AppContext

OPERATIONS: list[Operation] = [*catalogue.OPERATIONS, *collection.OPERATIONS, *items.OPERATIONS, *status.OPERATIONS]


def api_routes(context_provider: Callable[[], AppContext]) -> list[BaseRoute]:
    """Every /api route; `context_provider` opens the process's app context (settings, migrated engine): called
    once, on the first request."""
    api = Api(OPERATIONS, context_provider)

    @cache
    def document() -> dict[str, Any]:
        """Built once per process (~80 ms of CPU), in a worker thread: never on the event loop that also serves
        the dashboard's websockets."""
        return build_document(OPERATIONS, public_catalogue=api.context.settings.api_public_catalogue)

    async def openapi(_request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(document))

    async def docs(_request: Request) -> Response:
        return HTMLResponse(docs_page(await run_in_threadpool(document)))

    return [Route("/api/openapi.json", openapi), Route("/api/docs", docs), *api.routes()]
