"""Benchmark: the REST API on a full-size collection, next to the same queries run directly through the services.

Builds a temporary database (SQLite by default, or --database-url for PostgreSQL): the ~20,000-card catalogue of
bench/card_search.py, TCGplayer prices for half of it, and one member with 10,000 card entries. Starts the real
server (`streamlit run app.py`, rate limits on: in the database, or in Redis with --redis) and sends, with 8
concurrent clients (threads with keep-alive `http.client` connections asking for gzip, as a browser or httpx
does: the clients share the machine's two cores with the server, and httpx cost 1.5-2 ms of CPU per request
against 0.2-0.4 ms for http.client, which left the server less of a core; the clients' CPU is printed too):

* `GET /api/cards?q=...` (names, typos and prefixes, as users type them; 24 per page), and
* `GET /api/collection/entries?page=N` (24 per page, pages across the 10,000 entries).

Then the same queries in this process with 8 threads, straight through the service functions the endpoints call
(services.api.catalogue.list_cards: the search index, card rows and prices; services.api.collection.list_entries:
count_items, list_items, unit_prices, card rows), each in its own session, without HTTP, token check, rate limit,
validation or JSON. Prints requests/s and p50/p95 latency of each side and the ratio API/direct: the API's own
cost. Targets: API p95 <= 50 ms, ratio <= 2. Numbers only, with the machine's load average (it is shared).
Latencies on a shared machine mostly measure the wait for a core, so it also prints the CPU time per request of
each side (the server process's, from /proc, against this process's for the direct calls): the API's own cost
even under contention.

    python bench/api.py [--requests 800] [--clients 8] [--redis redis://127.0.0.1:6379/0] [--database-url URL]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from card_search import synthesize, typo  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from services.accounts import create_user  # noqa: E402
from services.api.catalogue import list_cards  # noqa: E402
from services.api.collection import list_entries  # noqa: E402
from services.api.framework import Call  # noqa: E402
from services.api.schemas import CardQuery, EntryQuery  # noqa: E402
from services.api.tokens import TokenOwner, create_token  # noqa: E402
from services.context import open_context  # noqa: E402
from services.integrations.pokemontcg.catalog import upsert_cards, upsert_sets  # noqa: E402
from services.integrations.pokemontcg.search import card_index  # noqa: E402
from services.pricing import Observation, record_observations  # noqa: E402
from services.store.db import create_configured_engine, dispose_engine, init_db, session_scope  # noqa: E402
from services.store.models import Item  # noqa: E402
from tests.api_support import app_env, serve  # noqa: E402

Side = tuple[float, list[float], float, float]  # requests/s, latencies (ms), CPU ms per request, of this process
ENTRIES = 10_000
PAGE = 24
CONDITIONS = ("NM", "NM", "NM", "LP", "MP", "HP", "DMG")


def build(url: str, seed: int) -> tuple[str, list[str], int]:
    """Catalogue, prices, a member with ENTRIES entries; returns (token, search texts, owner id)."""
    rng = random.Random(seed)
    engine = create_configured_engine(url)
    init_db(engine)
    sets, cards = synthesize(seed)
    every = [card for group in cards.values() for card in group]
    with session_scope(engine) as session:
        upsert_sets(session, sets, expires_at=None)
        for set_id, group in cards.items():
            upsert_cards(session, set_id, group, expires_at=None)
        record_observations(session, [
            Observation("pokemontcg", card["id"], "tcgplayer", "normal", "market", "USD",
                        Decimal(rng.randint(10, 50_000)) / 100)
            for card in every[::2]
        ])  # fmt: skip
        owner = create_user(session, "bench", "a long enough password")
        token = create_token(session, owner.id, "bench").token
        picked = rng.sample(every, ENTRIES)
        session.execute(insert(Item), [
            {"owner_id": owner.id, "kind": "card", "title": f"{card['name']} ({card['id']})",
             "quantity": rng.randint(1, 4), "grade": (condition := rng.choice(CONDITIONS)), "grade_code": condition,
             "printing": "normal",
             "language": "en", "pokemontcg_card_id": card["id"], "acquired_date": date(2024, 1, 1)}
            for card in picked
        ])  # fmt: skip
        owner_id = owner.id
    if engine.dialect.name == "postgresql":
        # What autovacuum does soon after a bulk load: statistics for the plans, and the visibility map that lets
        # an index-only scan skip the table (without it, a page deep in the list read ~5,000 table rows).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    texts = []
    for _ in range(200):
        name = rng.choice(every)["name"]
        texts += [name, " ".join(typo(word, rng) for word in name.split()), name[: rng.randint(3, max(3, len(name)))]]
    return token, texts, owner_id


def run(clients: int, total: int, call: Callable[[int], None]) -> tuple[float, list[float]]:
    """`total` calls spread over `clients` threads; (requests per second, latencies in ms)."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        mine = []
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            start = time.perf_counter()
            call(n)
            mine.append((time.perf_counter() - start) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return total / (time.perf_counter() - started), latencies


def server_cpu(port: str) -> Callable[[], float]:
    """CPU seconds used so far by the server listening on `port` (Linux /proc), as a function to call again."""
    pid = subprocess.run(["pgrep", "-n", "-f", f"server.port {port}"], capture_output=True, text=True).stdout.split()[0]
    ticks = os.sysconf("SC_CLK_TCK")

    def used() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    return used


def timed_cpu(cpu: Callable[[], float], clients: int, total: int, call: Callable[[int], None]) -> Side:
    """`run`, plus the CPU milliseconds per call that `cpu` (a process's CPU seconds so far) rose by, and this
    process's (the HTTP clients', for the API side)."""
    before, own = cpu(), time.process_time()
    rate, latencies = run(clients, total, call)
    return rate, latencies, (cpu() - before) / total * 1000, (time.process_time() - own) / total * 1000


def quantiles(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=100)
    return q[49], q[94]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=800, help="per endpoint and per side (default 800)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--redis", help="rate-limit counters in this Redis (default: the database)")
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        started = time.perf_counter()
        token, texts, owner_id = build(url, args.seed)
        print(f"built: 20k-card catalogue, {ENTRIES:,} entries in {time.perf_counter() - started:.1f} s")
        pages = -(-ENTRIES // PAGE)
        env = app_env(url, VITRINE_API_RATE_CATALOGUE="1000000/minute", VITRINE_API_RATE_COLLECTION="1000000/minute",
                      **({"REDIS_URL": args.redis} if args.redis else {}))  # fmt: skip

        results: dict[str, dict[str, Side]] = {}
        with serve(env, Path(tmp) / "server.log") as base:
            cpu = server_cpu(base.rsplit(":", 1)[1])
            local = threading.local()

            host, port = base.removeprefix("http://").split(":")
            headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}

            def get(path: str, params: dict) -> None:
                """One GET on this thread's keep-alive connection (http.client: about a third of httpx's CPU per
                request, so the clients take less of the two cores the server also needs)."""
                if not hasattr(local, "connection"):
                    local.connection = http.client.HTTPConnection(host, int(port), timeout=60)
                local.connection.request("GET", f"{path}?{urlencode(params)}", headers=headers)
                response = local.connection.getresponse()
                body = response.read()
                if response.status != 200:
                    raise SystemExit(f"{path} answered {response.status}: {body[:200]!r}")

            for text in texts[:40]:  # warm-up: index build, first queries, connections
                get("/api/cards", {"q": text})
            get("/api/collection/entries", {"page": 1})
            def api_search(n: int) -> None:
                get("/api/cards", {"q": texts[n % len(texts)], "pageSize": PAGE})

            def api_entries(n: int) -> None:
                get("/api/collection/entries", {"page": 1 + (n * 37) % pages, "pageSize": PAGE})

            for name, call_api in (("GET /api/cards?q=", api_search), ("GET /api/collection/entries", api_entries)):
                results[name] = {"api": timed_cpu(cpu, args.clients, args.requests, call_api)}

        engine = create_configured_engine(url)

        context = open_context({"DATABASE_URL": url})
        member = TokenOwner(token_id=0, user_id=owner_id, username="bench", currency="EUR")

        def call(session: Session, query: object) -> Call:
            return Call(session, member, {}, query, None, {}, context)

        def direct_search(n: int) -> None:
            with session_scope(engine) as session:
                list_cards(call(session, CardQuery(q=texts[n % len(texts)], pageSize=PAGE)))

        def direct_entries(n: int) -> None:
            with session_scope(engine) as session:
                list_entries(call(session, EntryQuery(page=1 + (n * 37) % pages, pageSize=PAGE)))

        with session_scope(engine) as session:
            card_index(session)  # the same warm index the server had
        for name, direct in (("GET /api/cards?q=", direct_search), ("GET /api/collection/entries", direct_entries)):
            results[name]["direct"] = timed_cpu(time.process_time, args.clients, args.requests, direct)
        engine.dispose()
        dispose_engine(url)

    backend = "Redis" if args.redis else "the database"
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{args.clients} concurrent clients, {args.requests} requests each side; rate limits counted in {backend}; "
          f"load average {load} on {os.cpu_count()} cores")
    print(f"{'':30} {'API req/s':>9} {'p50':>7} {'p95':>7}   {'direct req/s':>12} {'p50':>7} {'p95':>7}   "
          f"{'ratio p50':>9} {'ratio p95':>9}")  # fmt: skip
    for name, sides in results.items():
        (api_rate, api_lat, *_), (direct_rate, direct_lat, *_) = sides["api"], sides["direct"]
        (a50, a95), (d50, d95) = quantiles(api_lat), quantiles(direct_lat)
        print(f"{name:30} {api_rate:9.0f} {a50:6.1f}ms {a95:6.1f}ms   {direct_rate:12.0f} {d50:6.1f}ms {d95:6.1f}ms   "
              f"{a50 / d50:9.2f} {a95 / d95:9.2f}")  # fmt: skip
    print(f"{'CPU time per request':30} {'API server':>12} {'direct':>9} {'ratio':>7}   {'API clients':>11}")
    for name, sides in results.items():
        api_cpu, direct_cpu, client_cpu = sides["api"][2], sides["direct"][2], sides["api"][3]
        print(f"{name:30} {api_cpu:10.1f}ms {direct_cpu:7.1f}ms {api_cpu / direct_cpu:7.2f}   {client_cpu:9.1f}ms")
    print("targets: API p95 <= 50 ms, ratio <= 2")


if __name__ == "__main__":
    main()
