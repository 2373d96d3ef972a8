"""Benchmark (issue 14): valuation and every page aggregate on a big mixed collection, against hand-written SQL.

Builds a collection of --items entries (60 % cards, 30 % coins, 10 % records, a year of monthly price
observations; bench/scale_fixture.py) in SQLite and PostgreSQL, then prints for each database the time of
the product's answer next to one hand-written SQL statement giving the same answer (checked equal), and
their ratio (target ≤ 1.5; Overview ≤ 300 ms, Collection page ≤ 100 ms). Best of --repeat runs. For the
Overview: the warm view (remembered), the first one (cold: computed), and after a write the page's answer
(the remembered figures, stale, shown at once) with the recompute its background task then does. Prints
numbers only, never asserts (the machine may be shared).

    python bench/scale.py [--items 100000] [--database-url URL ...] [--repeat 3]
                          [--sections aggregates,import,sync,cli,memory]

Without --database-url it measures a temporary SQLite file and, when reachable,
postgresql+psycopg://postgres@127.0.0.1:5432/vitrine_bench (created if missing, emptied first).

--sections picks the parts of the report, in this order (default: all of them; each can take minutes at
100,000 items):
- aggregates: the answers above, per database;
- import: `import cards-csv` rows/s of a CSV of the collection's cards (60 % of --items rows; preview,
  commit and a bare sqlite3 executemany, each in its own process: bench/import_cards_csv.py);
- sync: our own work per card in a full catalogue sync of the collection's catalogue (one card per five
  entries, in sets of 250) from the pokemontcg emulator over loopback (bench/sync_cards.py);
- cli: command line start, `--help`, `value --json` and `items list --json` on an empty database
  (bench/cli_start.py, median of 15 processes);
- memory: the Streamlit server's resident memory after opening every page in Chromium over the collection
  of --items in SQLite (target ≤ 500 MB; bench/serve_memory.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, make_url, select, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.scale_fixture import build  # noqa: E402
from services import overview, pricing, sets_view  # noqa: E402
from services.collection import ItemFilter, page_of_items, sync_statuses  # noqa: E402
from services.collection_table import collection_page  # noqa: E402
from services.config import load_settings, use_settings  # noqa: E402
from services.exchange_rates import ExchangeRates, current_rates  # noqa: E402
from services.integrations.pokemontcg.values import unpriced_entries  # noqa: E402
from services.pricing import set_own_estimate, unit_prices  # noqa: E402
from services.store.db import create_configured_engine, init_db  # noqa: E402
from services.store.models import Item  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/vitrine_bench"
CURRENCY = "EUR"
TARGETS = {"overview (whole page)": 0.300, "collection page (coins, 1st page)": 0.100}

# ---------------------------------------------------------------- hand-written SQL giving the same answers
# The default price order (tcgplayer market, tcgplayer mid, cardmarket trend), written out by hand: the
# member's own estimate first, then per kind its catalogue sources. No range checks and no demo source: the
# fixture has neither an out-of-range price nor demo prices, so the answers are the same.
PRICE_CASE = """CASE WHEN own.value IS NOT NULL THEN own.{c}
      WHEN i.kind = 'card' THEN CASE WHEN tm.value IS NOT NULL THEN tm.{c} WHEN td.value IS NOT NULL THEN td.{c}
                                     ELSE cm.{c} END
      WHEN i.kind = 'coin' THEN CASE WHEN ni.value IS NOT NULL THEN ni.{c} ELSE onm.{c} END
      ELSE CASE WHEN ds.value IS NOT NULL THEN ds.{c} ELSE dl.{c} END END AS {c}"""
CHOSEN = """
WITH chosen AS (
  SELECT i.id, i.kind, i.title, i.quantity, i.country, i.acquired_price, i.acquired_currency, pc.set_id,
    {prices}
  FROM items i
  LEFT JOIN pokemon_cards pc ON pc.id = i.pokemontcg_card_id
  LEFT JOIN latest_prices own ON own.ref_kind = 'item' AND own.ref_id = CAST(i.id AS VARCHAR(20))
       AND own.source = 'manual' AND own.variant = '' AND own.metric = 'estimate'
  LEFT JOIN latest_prices tm ON i.kind = 'card' AND tm.ref_kind = 'pokemontcg' AND tm.ref_id = i.pokemontcg_card_id
       AND tm.source = 'tcgplayer' AND tm.variant = COALESCE(i.printing, 'normal') AND tm.metric = 'market'
  LEFT JOIN latest_prices td ON i.kind = 'card' AND td.ref_kind = 'pokemontcg' AND td.ref_id = i.pokemontcg_card_id
       AND td.source = 'tcgplayer' AND td.variant = COALESCE(i.printing, 'normal') AND td.metric = 'mid'
  LEFT JOIN latest_prices cm ON i.kind = 'card' AND cm.ref_kind = 'pokemontcg' AND cm.ref_id = i.pokemontcg_card_id
       AND cm.source = 'cardmarket' AND cm.metric = 'trend'
       AND cm.variant = CASE WHEN i.printing = 'reverseHolofoil' THEN 'reverseHolofoil'
                             WHEN COALESCE(i.printing, 'normal') IN ('normal', 'holofoil', 'unlimitedHolofoil') THEN ''
                             ELSE '-' END
  LEFT JOIN latest_prices ni ON i.kind = 'coin' AND ni.ref_kind = 'numista_issue'
       AND ni.ref_id = CAST(i.numista_issue_id AS VARCHAR(20)) AND ni.source = 'numista'
       AND ni.variant = COALESCE(i.grade_code, '') AND ni.metric = 'estimate'
  LEFT JOIN latest_prices onm ON i.kind = 'coin' AND onm.ref_kind = 'item' AND onm.ref_id = CAST(i.id AS VARCHAR(20))
       AND onm.source = 'opennumismat' AND onm.variant = COALESCE(i.grade_code, '') AND onm.metric = 'catalogue'
  LEFT JOIN latest_prices ds ON i.kind = 'record' AND ds.ref_kind = 'discogs_release'
       AND ds.ref_id = CAST(i.discogs_release_id AS VARCHAR(20)) AND ds.source = 'discogs'
       AND ds.variant = COALESCE(i.grade_code, '') AND ds.metric = 'suggested'
  LEFT JOIN latest_prices dl ON i.kind = 'record' AND dl.ref_kind = 'discogs_release'
       AND dl.ref_id = CAST(i.discogs_release_id AS VARCHAR(20)) AND dl.source = 'discogs'
       AND dl.variant = '' AND dl.metric = 'lowest'
  WHERE i.owner_id = :owner AND i.status NOT IN ('wish', 'sold', 'pass', 'demo', 'bidding'){where}
)
"""


def chosen(columns: tuple[str, ...] = ("value", "currency"), where: str = "") -> str:
    """The CTE `chosen`: each held item with the listed columns of its winning latest price."""
    prices = ",\n    ".join(PRICE_CASE.replace("{c}", name) for name in columns)
    return CHOSEN.replace("{prices}", prices).replace("{where}", where)


def month_day(dialect: str) -> tuple[str, str]:
    if dialect == "postgresql":
        return "to_char(po.observed_at, 'YYYY-MM')", "to_char(po.observed_at, 'YYYY-MM-DD')"
    return "strftime('%Y-%m', po.observed_at)", "strftime('%Y-%m-%d', po.observed_at)"


def hand_valuation(session: Session, owner: int, rates: ExchangeRates) -> Decimal:
    rows = session.execute(text(chosen() + """
        SELECT kind, currency, count(*), sum(quantity), sum(quantity * value) FROM chosen GROUP BY kind, currency
    """), {"owner": owner}).all()  # fmt: skip
    per_kind: dict[str, Decimal] = {}  # the total is the sum of the kinds, each rounded (services.validation.cents)
    for kind, row_currency, _entries, _copies, value in rows:
        if value is not None:
            converted = rates.convert(Decimal(value), row_currency, CURRENCY) or Decimal(0)
            per_kind[kind] = per_kind.get(kind, Decimal(0)) + converted
    return sum((_cents(value) for value in per_kind.values()), Decimal(0))


def hand_history(session: Session, owner: int, rates: ExchangeRates) -> Decimal:
    month, day = month_day(session.get_bind().dialect.name)
    key = ("ref_kind", "ref_id", "source", "variant", "metric")
    rows = session.execute(text(chosen(("value", "currency", *key)) + f"""
        SELECT m, d, cur, kind, sum(line / n) FROM (
          SELECT {month} AS m, {day} AS d, po.currency AS cur, c.kind, c.quantity * po.value AS line,
                 count(*) OVER (PARTITION BY c.id, {month}, po.currency) AS n
          FROM chosen c JOIN price_observations po ON po.ref_kind = c.ref_kind AND po.ref_id = c.ref_id
               AND po.source = c.source AND po.variant = c.variant AND po.metric = c.metric) o
        GROUP BY m, d, cur, kind
    """), {"owner": owner}).all()  # fmt: skip
    last = max(row[0] for row in rows)
    return _cents(sum((rates.convert(Decimal(v), c, CURRENCY, on=date.fromisoformat(d)) or Decimal(0)
                       for m, d, c, _k, v in rows if m == last), Decimal(0)))  # fmt: skip


def hand_overview_totals(session: Session, owner: int, rates: ExchangeRates) -> Decimal:
    rows = session.execute(text(chosen() + """
        SELECT kind, currency, acquired_currency, value IS NOT NULL, acquired_price IS NOT NULL, count(*),
               sum(quantity), sum(quantity * value), sum(quantity * acquired_price)
        FROM chosen GROUP BY kind, currency, acquired_currency, value IS NOT NULL, acquired_price IS NOT NULL
    """), {"owner": owner}).all()  # fmt: skip
    per_kind: dict[str, Decimal] = {}
    for row in rows:
        if row[7] is not None:
            per_kind[row[0]] = per_kind.get(row[0], Decimal(0)) + (rates.convert(Decimal(row[7]), row[1], CURRENCY)
                                                                   or Decimal(0))  # fmt: skip
    return sum((_cents(value) for value in per_kind.values()), Decimal(0))


def hand_sets(session: Session, owner: int, rates: ExchangeRates) -> int:
    rows = session.execute(text(chosen() + """
        SELECT v.set_id, s.name, u.cards, v.currency, v.copies, v.value FROM (
          SELECT set_id, currency, sum(quantity) AS copies, sum(quantity * value) AS value
          FROM chosen WHERE set_id IS NOT NULL GROUP BY set_id, currency) v
        JOIN (SELECT pc.set_id, count(DISTINCT pc.id) AS cards FROM items i
              JOIN pokemon_cards pc ON pc.id = i.pokemontcg_card_id
              WHERE i.owner_id = :owner AND i.kind = 'card'
                AND i.status NOT IN ('wish', 'sold', 'pass', 'demo', 'bidding') GROUP BY pc.set_id) u
          ON u.set_id = v.set_id
        JOIN pokemon_sets s ON s.id = v.set_id
    """), {"owner": owner}).all()  # fmt: skip
    return len({row[0] for row in rows})


def hand_groups(session: Session, owner: int, rates: ExchangeRates) -> int:
    rows = session.execute(text(chosen(where=" AND i.kind = 'coin'") + """
        SELECT country, currency, sum(quantity), sum(quantity * value) FROM chosen GROUP BY country, currency
    """), {"owner": owner}).all()  # fmt: skip
    return len({row[0] for row in rows})


def hand_unpriced(session: Session, owner: int, rates: ExchangeRates) -> list[int]:
    """The entries the Sets page lists as unpriced: their facts and set name, in its order (kind, set name,
    card number, title)."""
    rows = session.execute(text(chosen() + """
        SELECT i.id, i.kind, i.title, i.quantity, i.grade, i.printing, i.pokemontcg_card_id, ps.id, ps.name
        FROM chosen c JOIN items i ON i.id = c.id
        LEFT JOIN pokemon_cards pc ON pc.id = i.pokemontcg_card_id
        LEFT JOIN pokemon_sets ps ON ps.id = pc.set_id
        WHERE c.value IS NULL
        ORDER BY i.kind, ps.name, pc.number_sort, i.title, i.id
    """), {"owner": owner}).all()  # fmt: skip
    return [row[0] for row in rows]


PAGE = "SELECT id FROM items WHERE owner_id = :owner AND kind = 'coin' ORDER BY title, id LIMIT 50"


def hand_page(session: Session, owner: int, rates: ExchangeRates) -> tuple[int, list[int]]:
    """The Collection page's data: the first 50 coins with their chosen price and Numista sync state, and the
    count of coins."""
    rows = session.execute(text(chosen(where=f" AND i.id IN ({PAGE})") + f"""
        SELECT p.*, c.value, c.currency, sl.status,
               (SELECT count(*) FROM items WHERE owner_id = :owner AND kind = 'coin')
        FROM items p LEFT JOIN chosen c ON c.id = p.id
        LEFT JOIN sync_ledger sl ON sl.item_id = p.id AND sl.service = 'numista'
        WHERE p.id IN ({PAGE})
        ORDER BY p.title, p.id
    """), {"owner": owner}).all()  # fmt: skip
    return (int(rows[0][-1]) if rows else 0), [row[0] for row in rows]


# ---------------------------------------------------------------- the product's answers
def product_valuation(session: Session, owner: int, rates: ExchangeRates) -> Decimal:
    return pricing.valuation(session, owner, CURRENCY, rates, sets=False).value


def product_history(session: Session, owner: int, rates: ExchangeRates) -> Decimal:
    return pricing.value_history(session, owner, CURRENCY, rates)[-1].value


def product_overview_totals(session: Session, owner: int, rates: ExchangeRates) -> Decimal:
    return overview.totals(session, owner, CURRENCY).value


def product_sets(session: Session, owner: int, rates: ExchangeRates) -> int:
    return len(pricing.set_values(session, owner, CURRENCY, rates))


def product_groups(session: Session, owner: int, rates: ExchangeRates) -> int:
    return len(sets_view.group_values(session, owner, "coin", "country", CURRENCY))


def product_unpriced(session: Session, owner: int, rates: ExchangeRates) -> list[int]:
    return [entry.item_id for entry in unpriced_entries(session, owner)]


def product_page(session: Session, owner: int, rates: ExchangeRates) -> tuple[int, list[int]]:
    page = collection_page(session, owner, ItemFilter(kind="coin"), page=1, page_size=50, currency=CURRENCY)
    return page.total, [row.id for row in page.rows]


def product_page_data(session: Session, owner: int, rates: ExchangeRates) -> tuple[int, list[int]]:
    """What the Collection page reads for its rows (items and count, prices, sync states), without making the
    rows' display texts (money, labels, dates: about 20 µs a row in Python)."""
    items, total = page_of_items(session, owner, ItemFilter(kind="coin"), limit=50, offset=0)
    ids = [item.id for item in items]
    unit_prices(session, owner, ids, CURRENCY, rates, kinds={"coin"})
    sync_statuses(session, ids)
    return total, ids


def product_overview(session: Session, owner: int, rates: ExchangeRates) -> int:
    return len(overview.overview(session, owner, CURRENCY).history)


Measure = Callable[[Session, int, ExchangeRates], Any]
PAIRS: list[tuple[str, Measure, Measure | None]] = [
    ("valuation (value --json totals)", product_valuation, hand_valuation),
    ("value history (last month)", product_history, hand_history),
    ("overview totals (value, cost)", product_overview_totals, hand_overview_totals),
    ("sets (value, completion)", product_sets, hand_sets),
    ("coins by country", product_groups, hand_groups),
    ("entries without a price", product_unpriced, hand_unpriced),
    ("collection page (coins, 1st page)", product_page, hand_page),
    ("  its data, without display texts", product_page_data, hand_page),
    ("overview (whole page)", product_overview, None),
]


def import_section(args: argparse.Namespace) -> None:
    from bench import import_cards_csv

    import_cards_csv.report(rows=max(1, args.items * 6 // 10))


def sync_section(args: argparse.Namespace) -> None:
    from bench import sync_cards

    catalogue = max(1, args.items * 6 // 10 // 5)  # bench/scale_fixture.py: one card per five entries
    sets = -(-catalogue // 250)
    sync_cards.report(sets=sets, cards=-(-catalogue // sets))


def cli_section(_args: argparse.Namespace) -> None:
    from bench import cli_start

    cli_start.report(runs=15)


def memory_section(args: argparse.Namespace) -> None:
    from bench import serve_memory

    serve_memory.report(args.items)


# The other benches' measures at this report's scale: (name for --sections, heading, callable printing its lines).
SECTIONS: list[tuple[str, str, Callable[[argparse.Namespace], None]]] = [
    ("import", "card CSV import (bench/import_cards_csv.py)", import_section),
    ("sync", "catalogue sync (bench/sync_cards.py)", sync_section),
    ("cli", "command line start (bench/cli_start.py)", cli_section),
    ("memory", "Streamlit server memory (bench/serve_memory.py)", memory_section),
]
AGGREGATES = "aggregates"


@dataclass(frozen=True)
class Timing:
    first: float  # the first run: for a remembered answer (the Overview: services/memo.py) the cold view
    best: float  # best of all runs
    again: float  # best of the runs after the first: a remembered answer's warm view
    answer: Any


def timed(run: Callable[[], Any], repeat: int) -> Timing:
    times, answer = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = run()
        times.append(time.perf_counter() - started)
    return Timing(times[0], min(times), min(times[1:] or times), answer)


def measure(url: str, items: int, repeat: int) -> None:
    engine = create_configured_engine(url)
    _empty(engine)
    init_db(engine)
    started = time.perf_counter()
    with Session(engine) as session:
        collection = build(session, items)
        session.commit()
    _analyze(engine)
    print(f"\n{engine.dialect.name}: {collection.items:,} items, {collection.observations:,} price observations "
          f"(built in {time.perf_counter() - started:.0f} s), load average {_load()}")  # fmt: skip
    rates = current_rates()
    print(f"  {'answer':<36} {'product':>9} {'first':>9} {'hand SQL':>9} {'ratio':>6}  same answer")
    with Session(engine) as session:
        for title, product, hand in PAIRS:
            ours = timed(lambda p=product: p(session, collection.owner_id, rates), repeat)  # type: ignore[misc]
            target = f"  (target ≤ {TARGETS[title] * 1000:.0f} ms)" if title in TARGETS else ""
            if hand is None:
                print(f"  {title:<36} {_ms(ours.again)} {_ms(ours.first)} {'':>9} {'':>6}"
                      f"  warm = remembered, first = cold{target}")  # fmt: skip
                continue
            theirs = timed(lambda h=hand: h(session, collection.owner_id, rates), repeat)  # type: ignore[misc]
            same = "yes" if ours.answer == theirs.answer else f"NO ({ours.answer} vs {theirs.answer})"
            print(f"  {title:<36} {_ms(ours.best)} {_ms(ours.first)} {_ms(theirs.best)} "
                  f"{ours.best / theirs.best:>6.2f}  {same}{target}")  # fmt: skip
        after_a_write(session, collection.owner_id, repeat)
        print(f"  load average {_load()}")
    engine.dispose()


def after_a_write(session: Session, owner: int, repeat: int) -> None:
    """The Overview page's answer after a write (one own estimate: a price write, as a catalogue sync's, changes
    the basis of every member's memo): the remembered figures, read without computing, shown at once while a
    background task recomputes them (pages/overview.py); and that recompute, the view the page no longer waits
    for."""
    item_id = session.scalar(select(func.min(Item.id)).where(Item.owner_id == owner))
    set_own_estimate(session, item_id, Decimal("123.45"), CURRENCY)
    session.commit()
    shown = timed(lambda: overview.remembered_overview(session, owner, CURRENCY), repeat)
    stale = "stale" if shown.answer is not None and not shown.answer.current else "NOT STALE"
    recompute = timed(lambda: product_overview(session, owner, current_rates()), 1)
    movers = timed(lambda: overview.movers_since(session, owner, CURRENCY, (7, 30)), repeat)
    target = f"  (target ≤ {TARGETS['overview (whole page)'] * 1000:.0f} ms)"
    print(f"  {'overview page after a write':<36} {_ms(shown.best)} {_ms(shown.first)} "
          f"{'':>9} {'':>6}  remembered figures ({stale}) shown at once{target}")  # fmt: skip
    print(f"  {'  its recompute (background task)':<36} {'':>9} {_ms(recompute.first)} "
          f"{'':>9} {'':>6}  cold, off the page")  # fmt: skip
    print(f"  {'  its movers alone (7 and 30 days)':<36} {_ms(movers.best)} {_ms(movers.first)}")


def _ms(seconds: float) -> str:
    """A time in 9 characters: tenths of a millisecond under 10 ms (a page's few milliseconds), else whole ones."""
    return f"{seconds * 1000:>7.1f}ms" if seconds < 0.01 else f"{seconds * 1000:>7.0f}ms"


def _load() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def _empty(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))


def _analyze(engine: Engine) -> None:
    """What autovacuum does soon after a bulk load: statistics, and on PostgreSQL the visibility map that lets
    index-only scans skip the table."""
    statement = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(statement))


def _postgres_reachable(url: str) -> bool:
    """Create the bench database when the server answers; False when there is no server."""
    import psycopg

    target = make_url(url)
    try:
        with psycopg.connect(host=target.host, port=target.port or 5432, user=target.username,
                             dbname="postgres", autocommit=True, connect_timeout=3) as connection:  # fmt: skip
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{target.database}"')
    except psycopg.OperationalError:
        return False
    return True


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000, help="collection size (default 100000)")
    parser.add_argument("--database-url", action="append", help="repeatable; default: SQLite and local PostgreSQL")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    names = [AGGREGATES, *(name for name, _title, _section in SECTIONS)]
    parser.add_argument("--sections", default=",".join(names),
                        help=f"comma-separated, of {','.join(names)} (default: all)")  # fmt: skip
    args = parser.parse_args()
    use_settings(load_settings())  # as every entry point does (services.context): not read again on each call
    chosen = {name.strip() for name in args.sections.split(",") if name.strip()}
    if chosen - set(names):
        parser.error(f"unknown section(s) {', '.join(sorted(chosen - set(names)))}; choose from {', '.join(names)}")
    if AGGREGATES in chosen:
        with tempfile.TemporaryDirectory() as folder:
            urls = args.database_url or [f"sqlite:///{folder}/scale.db"]
            if not args.database_url:
                if _postgres_reachable(DEFAULT_PG):
                    urls.append(DEFAULT_PG)
                else:
                    print(f"(no PostgreSQL at {DEFAULT_PG}: SQLite only)")
            for url in urls:
                measure(url, args.items, args.repeat)
    for name, title, section in SECTIONS:
        if name in chosen:
            print(f"\n{title}:", flush=True)
            section(args)


if __name__ == "__main__":
    main()
