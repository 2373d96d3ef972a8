"""Benchmark: how long a club sign-in attempt takes for each kind of answer.

The sign-in form must not tell a stranger which usernames exist: a right password, a wrong one, a name nobody
has, a disabled member and a locked name should all cost about the same (one scrypt each). Prints the median
and p90 per kind and the ratio of each median to the right-password median. Numbers only; no asserts.

    python bench/signin_timing.py [--rounds 30] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.accounts import members, signin
from services.store.db import create_configured_engine, init_db, session_scope


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = create_configured_engine(args.database_url or f"sqlite:///{folder}/bench.db")
        init_db(engine)
        with session_scope(engine) as session:
            members.add_member(session, "bench_ann", "ann's long password", admin=True)
            bob, _ = members.add_member(session, "bench_bob", "bob's long password")
            members.set_active(session, bob.id, False)
            for _ in range(signin.MAX_FAILURES):
                signin.sign_in(session, "bench_locked", "wrong")
        kinds = {
            "right password": ("bench_ann", "ann's long password"),
            "wrong password": ("bench_ann", "not the password"),
            "unknown name": ("bench_nobody", "not the password"),
            "disabled member": ("bench_bob", "bob's long password"),
            "locked name": ("bench_locked", "not the password"),
        }
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(args.rounds):
            for kind, (name, password) in kinds.items():  # interleaved, so machine load hits every kind alike
                with session_scope(engine) as session:
                    started = time.perf_counter()
                    signin.sign_in(session, name, password)
                    session.flush()
                    times[kind].append((time.perf_counter() - started) * 1000)
                    session.rollback()  # leave the throttles as they were: every round measures the same state
        base = statistics.median(times["right password"])
        print(f"{'answer':<16} {'median ms':>10} {'p90 ms':>8} {'vs right':>9}")
        for kind, samples in times.items():
            median = statistics.median(samples)
            p90 = statistics.quantiles(samples, n=10)[-1]
            print(f"{kind:<16} {median:>10.1f} {p90:>8.1f} {median / base:>9.2f}")
        engine.dispose()


if __name__ == "__main__":
    main()
