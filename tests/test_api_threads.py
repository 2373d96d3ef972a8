"""The API runs at most API_THREADS handlers at once (services/api/framework.py): more threads only take turns
on one interpreter, spending CPU on the turns; the other requests wait their turn, in order, and all answer."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from pydantic import BaseModel
from starlette.applications import Starlette

from services.api.framework import API_THREADS, Api, Call, Operation
from services.context import open_context


class Answer(BaseModel):
    n: int


def test_at_most_api_threads_handlers_run_at_once(app_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITRINE_API_PUBLIC_CATALOGUE", "true")  # no token needed: only the handlers matter here
    context = open_context()
    threads = API_THREADS[context.engine.dialect.name]
    lock = threading.Lock()
    running, most = 0, 0

    def slow(_call: Call) -> Answer:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return Answer(n=most)

    operation = Operation("GET", "/api/slow", slow, "slow", Answer, "catalogue", "test")
    app = Starlette(routes=Api([operation], lambda: context).routes())

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await asyncio.gather(*(client.get("/api/slow") for _ in range(4 * threads)))

    answers = asyncio.run(burst())
    assert [answer.status_code for answer in answers] == [200] * (4 * threads)
    assert most == threads
