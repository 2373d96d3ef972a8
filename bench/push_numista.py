"""Benchmark: push N coins to the Numista emulator through the real worker, database and HTTP client.

Prints items per second, the time spent inside HTTP (the emulator's work plus loopback), our own overhead
per item (everything else: claim, mapping, schema validation, quota counting, checkpoint), and the Numista
calls per pushed item (targets: overhead < 5 ms, calls <= 1.02: one POST each, the collection read once per
job when needed, a token only on expiry), and how much of the overhead is the rate limiter: the installation's
budget in the database (the product's; ``--limiter process`` for a budget of this process only, to compare).
No artificial delay: the budget is set far above what the run sends. Numbers only; no
timing asserts (the machine is shared), but a run that pushed nothing is an error (exit 1), never a number.

    python bench/push_numista.py [--items 500] [--workers 1] [--fail-after 0.0] [--fail-before 0.0] [--limiter process]
    python bench/push_numista.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench --reset-database
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from services.accounts import create_user  # noqa: E402
from services.accounts.connections import save_secret  # noqa: E402
from services.accounts.vault import Vault  # noqa: E402
from services.http import ServiceClient, shared_limiter  # noqa: E402
from services.integrations.numista.api import NumistaApi  # noqa: E402
from services.integrations.numista.pusher import NumistaPusher  # noqa: E402
from services.integrations.numista.quota import set_monthly_limit  # noqa: E402
from services.store.db import create_configured_engine, init_db, session_scope  # noqa: E402
from services.sync import engine as jobs  # noqa: E402
from services.sync.worker import Worker, WorkerConfig  # noqa: E402
from tests.emulators.numista import DEMO_API_KEY, DEMO_USER_ID  # noqa: E402
from tests.fixture_files import FixtureMissing  # noqa: E402
from tests.sync_support import Env, add_coins, numista_settings, queue_export  # noqa: E402
from tests.test_numista_export import FlakyNumista  # noqa: E402


class TimedTransport(httpx.BaseTransport):
    """Adds up the wall time spent inside HTTP round trips (thread-safe)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.seconds = 0.0
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = self.inner.handle_request(request)
        response.read()
        with self.lock:
            self.seconds += time.perf_counter() - started
        return response

    def close(self) -> None:
        self.inner.close()


class MethodTimer:
    """Adds up the time spent in some methods (e.g. NumistaApi's per-call quota check and counter, the HTTP
    client's limiter acquire and release), to show how much of the overhead is theirs rather than the push
    engine's."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.lock = threading.Lock()

    def wrap(self, owner: type, name: str) -> None:
        original = getattr(owner, name)

        def timed(instance: object, *args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return original(instance, *args, **kwargs)
            finally:
                with self.lock:
                    self.seconds += time.perf_counter() - started

        setattr(owner, name, timed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temp directory")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--fail-after", type=float, default=0.0, help="share of POSTs answered 500 after acting")
    parser.add_argument("--fail-before", type=float, default=0.0, help="share of POSTs answered 500 before acting")
    parser.add_argument("--reset-database", action="store_true", help="PostgreSQL: drop and recreate its schema")
    parser.add_argument("--limiter", choices=("installation", "process"), default="installation",
                        help="the Numista budget every process shares (the product's), or this process's only")
    args = parser.parse_args()
    if args.database_url and not args.database_url.startswith("sqlite") and not args.reset_database:
        parser.error("the benchmark empties the database it runs on: add --reset-database to confirm")

    try:
        emulator = FlakyNumista(fail_before=args.fail_before, fail_after=args.fail_after, monthly_quota=10**9)
    except FixtureMissing as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, emulator as emu:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        engine = create_configured_engine(url)
        if engine.dialect.name == "postgresql":
            from sqlalchemy import text

            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        init_db(engine)
        vault = Vault(Fernet.generate_key())
        with session_scope(engine) as session:
            owner = create_user(session, "bench", "a long bench password")
            save_secret(session, vault, owner.id, "numista", DEMO_API_KEY)
            set_monthly_limit(session, owner.id, 10_000_000)
            owner_id = owner.id
        env = Env(engine, emu, numista_settings(emu, url), vault, owner_id)
        ids = add_coins(env, args.items)
        job_id = queue_export(env, ids)
        transport = TimedTransport()
        bookkeeping, limiting = MethodTimer(), MethodTimer()
        for name in ("_check_quota", "_count_call"):
            bookkeeping.wrap(NumistaApi, name)
        for name in ("_acquire", "_release"):
            limiting.wrap(ServiceClient, name)
        api_options: dict[str, object] = {"transport": transport}
        if args.limiter == "process":
            api_options["limiter"] = shared_limiter("numista", env.settings)
        config = WorkerConfig(poll_seconds=0.01, heartbeat_seconds=1.0, stale_after=30, settle_seconds=0.2)
        pusher = NumistaPusher(engine, env.settings, vault, settle_seconds=0.2, api_options=api_options)
        workers = [Worker(engine, {"numista": pusher}, config) for _ in range(args.workers)]
        threads = [threading.Thread(target=w.run, kwargs={"job_id": job_id}) for w in workers]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started

        with session_scope(engine) as session:
            document = jobs.job_document(session, owner_id, job_id)
        synced = document["counts"]["synced"]
        posts = emu.count("POST", "/v3/users/*/collected_items")
        reads = emu.count("GET", "/v3/users/*/collected_items")
        tokens = emu.count("GET", "/v3/oauth_token")
        calls = len(emu.requests)
        remote = sum(1 for i in emu.collected_items_for(DEMO_USER_ID) if "vitrine:" in str(i.get("internal_id")))
        overhead = (wall * args.workers - transport.seconds) / max(synced, 1)
        print(f"database            {engine.dialect.name} ({args.workers} worker(s)), load {os.getloadavg()[0]:.1f}")
        print(f"pushed              {synced} of {args.items} coins, job {document['status']}, {remote} on the server")
        print(f"wall time           {wall:.2f} s  ->  {synced / wall:.1f} items/s")
        print(f"inside HTTP         {transport.seconds * 1000 / max(synced, 1):.2f} ms per item (emulator + loopback)")
        quota_ms = bookkeeping.seconds * 1000 / max(synced, 1)
        limiter_ms = limiting.seconds * 1000 / max(synced, 1)
        print(f"our overhead        {overhead * 1000:.2f} ms per item (target < 5 ms)")
        print(f"  of which          {quota_ms:.2f} ms NumistaApi quota check + call counter (DB, per call)")
        print(f"                    {limiter_ms:.2f} ms rate limiter, {args.limiter} budget (acquire + release)")
        engine_ms = overhead * 1000 - quota_ms - limiter_ms
        print(f"  push engine       {engine_ms:.2f} ms (claim, map, validate, checkpoint)")
        print(f"API calls           {calls}: {posts} POST, {reads} collection read(s), {tokens} token(s)")
        print(f"calls per pushed    {calls / max(synced, 1):.4f} (target <= 1.02)")
        if synced == 0:
            errors = [item["error"] for item in document["items"] if item["error"]]
            reason = document["message"] or (errors[0] if errors else "no item reached Numista")
            print(f"error: nothing was pushed (job {document['status']}): {reason}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
