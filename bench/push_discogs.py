"""Benchmark: push N records to the Discogs emulator's collection through the real worker(s), database,
HTTP client and the installation-wide rate limiter, with the emulator set to a short window.

Prints the achieved request rate over whole windows from the first request as a fraction of the allowed
rate (target >= 0.9), the 429s the emulator answered (target 0), the most requests any moving window held
(never above the limit), and API calls per pushed record (target <= 1.05, not counting one collection read
per 100 records already there). ``--workers 2`` runs two worker *processes* sharing the budget through the
database. Records carry no media/sleeve/notes by default (``--with-fields`` adds them: each field value is
one more call, Discogs has no bulk field write). Numbers only; no asserts (the machine is shared).

    python bench/push_discogs.py [--records 200] [--limit 30] [--window 10] [--workers 1|2] [--with-fields]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from services.accounts import create_user  # noqa: E402
from services.store.db import create_configured_engine, init_db, session_scope  # noqa: E402
from services.sync import engine as jobs  # noqa: E402
from tests.discogs_support import add_records, connected_env, queue_discogs_export, seed_releases  # noqa: E402
from tests.emulators.discogs import CONSUMER_KEY, CONSUMER_SECRET, DiscogsEmulator  # noqa: E402

ADD = "/users/example/collection/folders/1/releases/*"


def max_in_window(times: list[float], window: float) -> int:
    """The most request arrivals any moving window of ``window`` seconds held."""
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing the budget")
    parser.add_argument("--with-fields", action="store_true", help="records with media, sleeve and notes")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="vitrine-bench-discogs-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    engine = create_configured_engine(url)
    init_db(engine)
    emulator = DiscogsEmulator(rate_limit=args.limit, rate_window=args.window).start()
    secret = Fernet.generate_key()
    try:
        with session_scope(engine) as session:
            owner_id = create_user(session, "bench", "bench password 123").id
        env = connected_env(engine, emulator, owner_id)
        from services.accounts.vault import Vault
        from services.integrations.discogs.oauth import connect_personal_token
        from tests.emulators.discogs import PERSONAL_TOKEN

        env.vault = Vault(secret)  # the worker processes decrypt with this key
        with session_scope(engine) as session:
            connect_personal_token(session, env.settings, env.vault, owner_id, PERSONAL_TOKEN)
        releases = seed_releases(emulator, args.records)
        fields = {} if args.with_fields else {"grade": None, "grade_code": None, "notes": None}
        ids = add_records(env, releases, **fields)
        if not args.with_fields:
            with session_scope(engine) as session:
                from services.store.models import Item

                for item in session.query(Item).filter(Item.id.in_(ids)):
                    item.details = {}
        job_id = queue_discogs_export(env, ids, target="collection", folder_id=1)
        time.sleep(args.window)  # the set-up requests leave the window: measure from an empty budget
        emulator.clear_requests()
        emulator.answers.clear()
        environment = {
            **os.environ, "DATABASE_URL": url, "VITRINE_SECRET_KEY": secret.decode(), "VITRINE_MODE": "local",
            "DISCOGS_API_URL": emulator.base_url, "DISCOGS_CONSUMER_KEY": CONSUMER_KEY,
            "DISCOGS_CONSUMER_SECRET": CONSUMER_SECRET, "DISCOGS_RATE_LIMIT": str(args.limit),
            "DISCOGS_RATE_WINDOW": str(args.window), "VITRINE_WORKER_POLL": "0.2", "PYTHONPATH": str(ROOT),
        }  # fmt: skip
        started = time.monotonic()
        command = [sys.executable, "-m", "services", "worker", "--once"]
        workers = [subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL)
                   for _ in range(args.workers)]  # fmt: skip
        for worker in workers:
            worker.wait(3600)
        elapsed = time.monotonic() - started
        with session_scope(engine) as session:
            document = jobs.job_document(session, owner_id, job_id)
        answers = list(emulator.answers)
    finally:
        emulator.stop()
    arrivals = sorted(a[0] for a in answers)
    too_fast = sum(1 for a in answers if a[3] == 429)
    adds = sum(1 for a in answers if a[1] == "POST" and "/instances/" not in a[2] and "/releases/" in a[2])
    pushed = document["counts"]["synced"]
    reads = sum(1 for a in answers if a[1] == "GET")
    requests = answers
    allowed = args.limit / args.window
    print(f"{args.records} records, {args.workers} worker process(es), limit {args.limit}/{args.window:g} s "
          f"({allowed:.2f}/s allowed); job {document['status']}: {document['counts']}")  # fmt: skip
    print(f"requests: {len(requests)} ({adds} adds, {reads} reads), 429s: {too_fast}, elapsed {elapsed:.1f} s")
    if arrivals:
        # Over whole windows from the first request: each holds at most `limit`, so the ratio is <= 1 when
        # the limit holds, and close to 1 when the budget is used well.
        windows = int((arrivals[-1] - arrivals[0]) // args.window)
        if windows >= 1:
            held = sum(1 for t in arrivals if t < arrivals[0] + windows * args.window)
            rate = held / (windows * args.window)
            print(f"achieved rate over {windows} full window(s): {rate:.2f}/s = {rate / allowed:.3f} of the allowed "
                  "rate (target >= 0.9)")  # fmt: skip
        print(f"most requests in any {args.window:g} s window: {max_in_window(arrivals, args.window)} "
              f"(limit {args.limit})")  # fmt: skip
    existing_reads = sum(1 for a in answers if a[1] == "GET" and a[2].endswith("/collection/folders/0/releases"))
    calls = len(requests) - too_fast - existing_reads
    print(f"calls per pushed record: {calls / max(pushed, 1):.3f} (target <= 1.05; {existing_reads} read(s) of "
          f"records already in the collection not counted)")  # fmt: skip


if __name__ == "__main__":
    main()
