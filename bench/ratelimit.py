"""Benchmark: what one request's rate limiting costs (acquire + release), process-local against the
installation-wide budget in SQLite, PostgreSQL and Redis, with a budget far above what the run sends (the
cost of counting, never of waiting). Prints microseconds per request, best of ``--repeat``, and the ratio to
the process-local limiter. Numbers only; no asserts (the machine is shared).

    python bench/ratelimit.py [--calls 2000] [--repeat 3] [--database-url postgresql+psycopg://...] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, delete  # noqa: E402

from services.http.ratelimit import Budget, SlidingWindowLimiter  # noqa: E402
from services.http.shared_ratelimit import DatabaseWindowLimiter, RedisWindowLimiter  # noqa: E402
from services.store.db import create_configured_engine, init_db  # noqa: E402
from services.store.models_http import RateSlot  # noqa: E402

BUDGET = Budget(10**6, 60.0, max_concurrency=1)  # Numista's shape: a window and one request in flight
SERVICE = "bench"


def per_call(limiter: SlidingWindowLimiter, calls: int) -> float:
    """One run of ``calls`` acquire + release pairs, in microseconds per pair."""
    started = time.perf_counter()
    for _ in range(calls):
        limiter.acquire()
        limiter.release()
    return (time.perf_counter() - started) / calls * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/vitrine_bench",
        help="PostgreSQL to measure too (its rate_slots rows of service 'bench' are deleted)",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    args = parser.parse_args()

    contenders: list[tuple[str, SlidingWindowLimiter, Callable[[], object]]] = []
    local = SlidingWindowLimiter(BUDGET.limit, BUDGET.window, max_concurrency=BUDGET.max_concurrency)
    contenders.append(("process-local", local, lambda: None))
    folder = tempfile.mkdtemp(prefix="vitrine-bench-ratelimit-")
    for name, url in (("SQLite", f"sqlite:///{folder}/bench.db"), ("PostgreSQL", args.database_url)):
        try:
            engine = create_configured_engine(url)
            init_db(engine)
        except Exception as error:  # a missing server is reported, not a traceback
            print(f"{name}: skipped ({type(error).__name__})", file=sys.stderr)
            continue

        def empty(engine: Engine = engine) -> None:
            with engine.begin() as connection:
                connection.execute(delete(RateSlot).where(RateSlot.service == SERVICE))

        contenders.append((f"{name} shared", DatabaseWindowLimiter(engine, SERVICE, BUDGET), empty))
    try:
        import redis

        client = redis.Redis.from_url(args.redis_url)
        client.ping()
        in_redis = RedisWindowLimiter(client, SERVICE, BUDGET, key_prefix=f"vitrine-bench:{uuid.uuid4().hex}")
        contenders.append(("Redis shared", in_redis, lambda: client.delete(in_redis.key)))
    except Exception as error:  # Redis not installed or not running: reported, not a traceback
        print(f"Redis: skipped ({type(error).__name__})", file=sys.stderr)

    best = {name: float("inf") for name, _, _ in contenders}
    for _ in range(args.repeat):  # round robin: a burst of load elsewhere hits every contender alike
        for name, limiter, empty in contenders:
            empty()
            best[name] = min(best[name], per_call(limiter, args.calls))
    for _, _, empty in contenders:
        empty()
    shutil.rmtree(folder)
    results = list(best.items())
    print(f"load average {os.getloadavg()[0]:.1f}; {args.calls} requests, best of {args.repeat}")
    print(f"{'limiter':<18}{'us/request':>12}{'ratio':>10}")
    for name, micros in results:
        print(f"{name:<18}{micros:>12.1f}{micros / results[0][1]:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
