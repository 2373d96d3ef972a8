"""Benchmark: our own work per card in a full catalogue sync (issue 14: ≤ 1 ms per card, so a sync is bound
by the API's rate limit, not by us).

Writes a pokemontcg.io-shaped data folder of `--sets` sets × `--cards` cards (each a copy of a real fixture
card with its own id and number; the emulator prices it), serves it from the pokemontcg emulator of tests/emulators/
over loopback HTTP, and runs `sync_pokemon` into a fresh SQLite database (`--pages` of 250 per set: the
default 80 sets × 250 cards is 20,000 cards in 80 pages). Our client runs without the rate limiter or waits.

Prints the total time, the time spent waiting on HTTP (inside the client's requests, which includes the
emulator building its answers) and the rest, our own work, per card, with the CPU time of the syncing
thread outside the requests (what our work costs whatever the machine's load; the emulator runs in other
threads); then a second, forced sync of the same catalogue (every card and price already stored: the daily
refresh). Numbers only: the machine may be shared.

    python bench/sync_cards.py [--sets 80] [--cards 250]

bench/scale.py prints the same lines in its report (its `sync` section).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.config import load_settings  # noqa: E402
from services.http import RetryPolicy, ServiceClient, pokemontcg_client  # noqa: E402
from services.integrations.pokemontcg.sync import sync_pokemon  # noqa: E402
from services.store.db import create_configured_engine, init_db  # noqa: E402
from tests.emulators.pokemontcg import DEMO_API_KEY, PokemonTcgEmulator  # noqa: E402
from tests.fixture_files import pokemon_data  # noqa: E402


def write_catalogue(folder: Path, sets: int, cards: int) -> None:
    """`sets` × `cards` cards in the data files' layout, modelled on the fixtures' first card with prices."""
    fixture_sets, by_set = pokemon_data()
    template_set = fixture_sets[0]
    template_card = next(card for cards_of_set in by_set.values() for card in cards_of_set)
    (folder / "sets").mkdir(parents=True)
    (folder / "cards" / "en").mkdir(parents=True)
    set_rows = []
    for s in range(sets):
        set_id = f"bench{s:03d}"
        set_rows.append(template_set | {"id": set_id, "name": f"Bench Set {s}", "total": cards,
                                        "printedTotal": cards, "releaseDate": f"20{s % 25:02d}/01/01"})  # fmt: skip
        rows = []
        for n in range(1, cards + 1):
            card: dict[str, Any] = copy.deepcopy(template_card)
            card.update(id=f"{set_id}-{n}", number=str(n), name=f"Bench Card {s}-{n}")
            card.pop("set", None)
            rows.append(card)
        (folder / "cards" / "en" / f"{set_id}.json").write_text(json.dumps(rows))
    (folder / "sets" / "en.json").write_text(json.dumps(set_rows))


class TimedClient:
    """Our HTTP client, with the time spent inside its requests added up."""

    def __init__(self, client: ServiceClient) -> None:
        self.client, self.waiting, self.waiting_cpu = client, 0.0, 0.0

    def get_json(self, *args: Any, **kwargs: Any) -> Any:
        started, started_cpu = time.perf_counter(), time.thread_time()
        try:
            return self.client.get_json(*args, **kwargs)
        finally:
            self.waiting += time.perf_counter() - started
            self.waiting_cpu += time.thread_time() - started_cpu


def run(engine: Any, client: TimedClient, *, force: bool) -> tuple[float, float, float, int]:
    """(wall seconds, wall seconds inside HTTP requests, CPU seconds of our thread outside them, cards)."""
    client.waiting = client.waiting_cpu = 0.0
    started, started_cpu = time.perf_counter(), time.thread_time()
    report = sync_pokemon(engine, client, force=force)  # type: ignore[arg-type]
    total, cpu = time.perf_counter() - started, time.thread_time() - started_cpu
    if not report.complete:
        raise SystemExit(f"sync incomplete: {report.errors[:3]}")
    return total, client.waiting, cpu - client.waiting_cpu, report.cards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=80)
    parser.add_argument("--cards", type=int, default=250)
    args = parser.parse_args()
    report(args.sets, args.cards)


def report(sets: int, cards: int) -> None:
    """Print the first and the forced sync of `sets` × `cards` cards: time waiting on HTTP and our own work."""
    print(f"load average {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="vitrine-sync-") as folder:
        data = Path(folder) / "data"
        write_catalogue(data, sets, cards)
        engine = create_configured_engine(f"sqlite:///{Path(folder) / 'sync.db'}")
        init_db(engine)
        with PokemonTcgEmulator(data_dir=data, anonymous_per_minute=None, anonymous_per_day=None,
                                key_per_day=None) as emulator:  # fmt: skip
            settings = load_settings({"POKEMONTCG_API_URL": emulator.base_url})
            http = pokemontcg_client(settings, api_key=DEMO_API_KEY, limiter=False, sleep=lambda _s: None,
                                     retry=RetryPolicy(max_retries=1))  # fmt: skip
            client = TimedClient(http)
            print(f"{sets} sets × {cards} cards, SQLite")
            for name, force in (("first sync", False), ("forced re-sync", True)):
                total, waiting, cpu, synced = run(engine, client, force=force)
                ours = total - waiting
                print(f"  {name:<15} {synced:>7,} cards in {total:6.1f} s: {waiting:6.1f} s waiting on HTTP, "
                      f"{ours:6.1f} s our own work = {ours / synced * 1000:.2f} ms per card "
                      f"({cpu / synced * 1000:.2f} ms of CPU; target ≤ 1 ms)", flush=True)  # fmt: skip
        engine.dispose()


if __name__ == "__main__":
    main()
