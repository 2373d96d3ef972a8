"""Benchmark: value a large collection and its history in three currencies with the ECB rates.

Generates coins, each with monthly manual estimates in EUR, USD or GBP (dates spread over two years, weekends
included), in a temporary SQLite database (or DATABASE_URL), then prints the time of `valuation` and
`value_history` (whose query returns one row per day and currency, not per item) and the one-off cost of
loading the ECB file. Prints numbers only; no timing asserts (the machine is shared).

    python bench/valuation.py [--items 20000] [--months 12] [--currency JPY]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from services.accounts import create_user  # noqa: E402
from services.exchange_rates import current_rates  # noqa: E402
from services.pricing import Observation, record_observations, valuation, value_history  # noqa: E402
from services.store.db import create_configured_engine, init_db, session_scope  # noqa: E402
from services.store.models import Item  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--currency", default="JPY")
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()

    started = time.perf_counter()
    rates = current_rates()
    print(f"load ECB rates: {time.perf_counter() - started:.2f} s ({rates.description})")

    with tempfile.TemporaryDirectory() as folder:
        engine = create_configured_engine(args.database_url or f"sqlite:///{folder}/bench.db")
        init_db(engine)
        rng = random.Random(9)
        with session_scope(engine) as session:
            owner = create_user(session, "bench", "bench password 1")
            session.execute(
                insert(Item),
                [{"owner_id": owner.id, "kind": "coin", "title": f"coin {n}", "quantity": 1 + n % 3,
                  "grade_code": "xf", "status": "owned"} for n in range(args.items)],
            )  # fmt: skip
            item_ids = [row[0] for row in session.execute(Item.__table__.select().with_only_columns(Item.id))]
            start_day = datetime(2024, 11, 1, 12, tzinfo=UTC)
            observations = [
                Observation("item", str(item_id), "manual", "", "estimate", rng.choice(("EUR", "USD", "GBP")),
                            Decimal(rng.randint(100, 50_000)) / 100,
                            start_day + timedelta(days=30 * month + rng.randint(0, 29)))
                for item_id in item_ids for month in range(args.months)
            ]  # fmt: skip
            record_observations(session, observations)
        print(f"generated {args.items:,} items, {len(observations):,} observations")

        with session_scope(engine) as session:
            for name, run in (
                ("valuation (latest rates)", lambda: valuation(session, owner.id, args.currency, rates)),
                ("value_history (each day's rate)", lambda: value_history(session, owner.id, args.currency, rates)),
            ):
                timings = []
                for _ in range(3):
                    started = time.perf_counter()
                    run()
                    timings.append(time.perf_counter() - started)
                print(f"{name}: best of 3 {min(timings):.2f} s")
            history = value_history(session, owner.id, args.currency, rates)
            print(f"history: {len(history)} months, last {history[-1].value:,.2f} {args.currency} "
                  f"for {history[-1].entries:,} entries")  # fmt: skip
            report = valuation(session, owner.id, args.currency, rates)
            print(f"valuation: {report.value:,.2f} {args.currency} at the rates of {report.rate_date}")
        engine.dispose()


if __name__ == "__main__":
    main()
