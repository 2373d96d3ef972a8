"""Benchmark: importing a big TCGplayer card CSV — preview (dry run) and commit — against a bare executemany.

Builds a SQLite database with the offline Pokémon catalogue and one user, writes a CSV of `--rows` rows
(random catalogue cards in random conditions and printings, each line its own SKU: every row creates an
entry), then runs each phase in a fresh process so its peak RSS (resource.getrusage ru_maxrss) is its own:

- preview: `import_cards_csv(..., dry_run=True)` (what the page and `--dry-run` do);
- commit: `import_cards_csv(...)` then COMMIT, on a fresh copy of the database;
- bare: the same rows parsed with csv.DictReader and inserted into `items` by the sqlite3 module's own
  executemany (no SQLAlchemy), 2,000 rows a call, the same columns and JSON details, and a COMMIT (no
  matching, no planning): the floor the import is compared to.

Prints rows/s and peak MB per phase and commit/bare as a ratio. Numbers only (the machine is shared).

Target (issue 14): ≥ 5,000 rows/s for the commit. On a shared machine the wall clock mostly measures the
other processes; rows per CPU second is the figure to compare.

    python bench/import_cards_csv.py [--rows 100000]      # the issue's file: --rows 561000

bench/scale.py prints the same lines in its report (its `import` section).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from services.store.db import create_configured_engine, init_db, session_scope  # noqa: E402
from services.store.models import PokemonCard, PokemonSet, User  # noqa: E402

HEADER = ["Quantity", "Name", "Simple Name", "Set", "Card Number", "Set Code", "Printing", "Condition", "Language",
          "Rarity", "Product ID", "SKU", "Price Each"]  # fmt: skip
CONDITIONS = ["Near Mint", "Lightly Played", "Moderately Played", "Heavily Played", "Damaged", "Near Mint Foil"]
PRINTINGS = ["Normal", "Holofoil", "Reverse Holofoil"]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup(folder: Path, rows: int, seed: int) -> tuple[Path, Path]:
    from services.accounts import create_user
    from services.integrations.pokemontcg.catalog import load_offline_snapshot

    database = folder / "base.db"
    engine = create_configured_engine(f"sqlite:///{database}")
    init_db(engine)
    with session_scope(engine) as session:
        load_offline_snapshot(session)
        create_user(session, "bench", None)
    with session_scope(engine) as session:
        cards = session.execute(
            select(PokemonCard.name, PokemonSet.name, PokemonCard.number, PokemonCard.rarity)
            .join(PokemonSet, PokemonSet.id == PokemonCard.set_id)
        ).all()
    engine.dispose()
    chooser = random.Random(seed)
    export = folder / "export.csv"
    with export.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for sku in range(rows):
            name, set_name, number, rarity = chooser.choice(cards)
            writer.writerow([chooser.randint(1, 4), name, name, set_name, number, "", chooser.choice(PRINTINGS),
                             chooser.choice(CONDITIONS), "English", rarity or "", sku, 10_000 + sku,
                             f"${chooser.randint(1, 50000) / 100:.2f}"])  # fmt: skip
    return database, export


def _bare_insert(connection: sqlite3.Connection, owner: int, export: Path) -> int:
    """The same rows straight through sqlite3's executemany: what the import is compared to."""
    now = datetime.now(UTC).isoformat(sep=" ")
    statement = (
        "INSERT INTO items (owner_id, kind, title, quantity, grade, grade_code, printing, language, status, "
        "origin_source, origin_row_id, version, details, created_at, updated_at) "
        "VALUES (?, 'card', ?, ?, 'NM', 'NM', 'normal', 'en', 'owned', 'tcgplayer', ?, 1, ?, ?, ?)"
    )
    count = 0
    with export.open(newline="", encoding="utf-8") as source:
        lines = csv.DictReader(source)
        while batch := list(itertools.islice(lines, 2_000)):  # same batch size as the importer
            connection.executemany(statement, [
                (owner, line["Name"], int(line["Quantity"]), f"sku|{line['SKU']}",
                 json.dumps({"source": line}), now, now)
                for line in batch
            ])  # fmt: skip
            count += len(batch)
    return count


def phase(name: str, database: Path, export: Path) -> dict[str, float]:
    from services.importers.cards_csv import import_cards_csv

    engine = create_configured_engine(f"sqlite:///{database}")
    started, cpu_started = time.perf_counter(), time.process_time()
    with session_scope(engine) as session:
        owner = session.scalar(select(User.id))
        if name == "bare":
            count = _bare_insert(session.connection().connection.driver_connection, owner, export)
        else:
            report = import_cards_csv(session, owner, export, dry_run=name == "preview")
            count = sum(report.matching.values())
            if report.created + report.updated + report.unchanged != count:
                print(f"  note: {count - report.created} rows not created: {report.errors[:3]}", file=sys.stderr)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"rows": count, "seconds": seconds, "rowsPerSecond": count / seconds, "cpuSeconds": cpu,
            "rowsPerCpuSecond": count / cpu, "peakMB": _peak_mb()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--phase", choices=("preview", "commit", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--export", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.database, args.export)))
        return
    report(args.rows, args.seed)


def report(rows: int, seed: int = 7) -> None:
    """Print rows/s and peak MB of each phase, each run in its own process, and commit/bare as a ratio."""
    print(f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as folder:
        database, export = setup(Path(folder), rows, seed)
        print(f"{rows:,} rows, {export.stat().st_size / 2**20:.1f} MB CSV")
        results = {}
        for name in ("preview", "commit", "bare"):
            copy = Path(folder) / f"{name}.db"
            shutil.copyfile(database, copy)
            output = subprocess.run(
                [sys.executable, __file__, "--phase", name, "--database", str(copy), "--export", str(export)],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            results[name] = json.loads(output)
            r = results[name]
            print(f"  {name:<8} {r['rows']:>9,} rows in {r['seconds']:7.1f} s  {r['rowsPerSecond']:>9,.0f} rows/s"
                  f"  ({r['rowsPerCpuSecond']:>9,.0f} rows per CPU s)  peak {r['peakMB']:6.0f} MB")  # fmt: skip
        ratio = results["commit"]["rowsPerCpuSecond"] / results["bare"]["rowsPerCpuSecond"]
        print(f"  commit runs at {ratio:.2f}× the bare sqlite3 executemany's rows per CPU second (1.00 = no overhead);"
              " wall-clock rows/s depend on the machine's load")


if __name__ == "__main__":
    main()
