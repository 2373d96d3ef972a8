"""Benchmark: card search latency over a full-size (~20,000-card) Pokémon catalogue.

Builds the catalogue in a temporary SQLite database: every real set of the pokemontcg.io set list (170 sets,
`total` cards each, 19,678 in all); the seven sets whose card files are in tests/fixtures keep their real
cards, the others get cards synthesized from the real card shapes (names from the real pool with the
suffixes of their era: "ex", "V", "VMAX", "GX", "EX", "LV.X", "δ"...; numbers 1..printedTotal then secret
rares, with "TG01"/"SV001"/"H1"-style numbers in the sets that have them; real rarity and type mixes).
Then times the index build and queries of the kinds the Catalog page sends: exact names, typos, prefixes
while typing, names with filters, "name 4/102", browsing a set, and autocomplete suggestions.

Prints p50/p95/p99 per query kind: "cold" (first time that query text is seen) and "warm" (repeated, e.g.
paging), both through `search_catalogue` (including the per-query revision check against the database).
With --sync it also times a catalogue sync against the loopback pokemontcg.io emulator. Numbers only; no
timing asserts (the machine is shared).

    python bench/card_search.py [--queries 2000] [--seed 7] [--sync]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.integrations.pokemontcg.catalog import upsert_cards, upsert_sets  # noqa: E402
from services.integrations.pokemontcg.search import CardFilter, build_index, card_index, search_catalogue  # noqa: E402
from services.store.db import create_configured_engine, init_db, session_scope  # noqa: E402
from tests.fixture_files import pokemon_data  # noqa: E402

SUFFIXES = {
    "Scarlet & Violet": ["", "", "", " ex", " ex"], "Mega Evolution": ["", "", " ex"],
    "Sword & Shield": ["", "", " V", " VMAX", " VSTAR"], "Sun & Moon": ["", "", " GX", " GX"],
    "XY": ["", "", " EX", " BREAK"], "Black & White": ["", "", " EX"], "Diamond & Pearl": ["", "", " LV.X"],
    "Platinum": ["", "", " LV.X", " G", " GL"], "EX": ["", "", " ex", " δ"], "HeartGold & SoulSilver": ["", " LEGEND"],
}  # fmt: skip
PREFIXES = {
    "Gym": ["Brock's ", "Misty's ", "Blaine's ", "Sabrina's ", "Erika's "], "Base": ["Dark ", ""],
    "Neo": ["Dark ", "Light ", "Shining "], "E-Card": [""], "EX": ["Team Aqua's ", "Team Magma's ", ""],
}  # fmt: skip
SPECIES = 1025  # national Pokédex size: the real catalogue's name vocabulary is that large
TRAINER_WORDS = [
    "Ball", "Potion", "Research", "Energy", "Switch", "Stadium", "Tower", "Belt", "Capsule", "Candy", "Net", "Rod",
    "Scanner", "Catcher", "Order", "Pass", "Retrieval", "Search", "Cape", "Lure",
]  # fmt: skip
SPECIAL_NUMBERS = {"Sword & Shield": "TG", "Sun & Moon": "SV", "XY": "RC", "E-Card": "H"}


def synthesize(seed: int) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """(sets, cards by set): the real set list, real cards where the reference has them, synthetic elsewhere."""
    rng = random.Random(seed)
    sets, real = pokemon_data()  # the real set list and the seven sets kept in tests/fixtures/pokemontcg
    pool = [c for cards in real.values() for c in cards]
    names = sorted({c["name"] for c in pool if c.get("supertype") == "Pokémon"})
    trainers = sorted({c["name"] for c in pool if c.get("supertype") == "Trainer"})
    # Pad the real names with invented species built from their syllables, and invented trainer cards, so the
    # vocabulary has the real catalogue's size rather than the ~480 names of the seven reference sets.
    syllables = sorted({n[i : i + 3].lower() for n in names for i in range(0, max(len(n) - 2, 1), 3)})
    invented = set(names)
    while len(invented) < SPECIES:
        invented.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))).capitalize())
    names = sorted(invented)
    owners = [n.split()[0] for n in names[:300]]
    trainers = sorted({*trainers, *(f"{rng.choice(owners)}'s {rng.choice(TRAINER_WORDS)}" for _ in range(700))})
    rarities = [c.get("rarity") for c in pool]
    types = [c.get("types") for c in pool if c.get("types")]
    cards: dict[str, list[dict[str, Any]]] = {}
    for card_set in sets:
        set_id, series = card_set["id"], card_set["series"]
        if set_id in real:
            cards[set_id] = real[set_id]
            continue
        made = []
        special = SPECIAL_NUMBERS.get(series) if rng.random() < 0.4 else None
        for n in range(1, card_set["total"] + 1):
            number = str(n)
            if n > card_set["printedTotal"] and special:
                number = f"{special}{n - card_set['printedTotal']:02d}"
            if rng.random() < 0.2:
                name, supertype, card_types = rng.choice(trainers), "Trainer", None
            else:
                prefix, suffix = rng.choice(PREFIXES.get(series, [""])), rng.choice(SUFFIXES.get(series, [""]))
                name = prefix + rng.choice(names) + suffix
                supertype, card_types = "Pokémon", rng.choice(types)
            made.append({"id": f"{set_id}-{number}", "name": name, "number": number, "supertype": supertype,
                         "types": card_types, "rarity": rng.choice(rarities),
                         "images": {"small": f"https://images.example/{set_id}/{number}.png"}})  # fmt: skip
        cards[set_id] = made
    return sets, cards


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("drop", "swap", "replace", "double"))
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "swap":
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    if kind == "replace":
        return word[:i] + rng.choice("aeioukrst") + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


Query = tuple[str, CardFilter, str]  # text, filters, the card name the user means


def queries(sets: list[dict[str, Any]], cards: dict[str, list[dict[str, Any]]], count: int, seed: int
            ) -> dict[str, list[Query]]:  # fmt: skip
    rng = random.Random(seed + 1)
    every = [c for group in cards.values() for c in group]
    rarities = sorted({c["rarity"] for c in every if c.get("rarity")})
    per_kind = max(1, count // 7)
    names = ("exact name", "typo", "prefix (typing)", "name + set", "name + rarity", "name n/total", "browse set")
    kinds: dict[str, list[Query]] = {k: [] for k in names}
    for _ in range(per_kind):
        card = rng.choice(every)
        name = card["name"]
        card_set = next(s for s in sets if card["id"].startswith(s["id"] + "-"))
        kinds["exact name"].append((name, CardFilter(), name))
        kinds["typo"].append((" ".join(typo(w, rng) for w in name.split()), CardFilter(), name))
        kinds["prefix (typing)"].append((name[: rng.randint(2, 6)], CardFilter(), name))
        kinds["name + set"].append((name.split()[0], CardFilter(set_id=card_set["id"]), name))
        kinds["name + rarity"].append((name.split()[-1], CardFilter(rarity=rng.choice(rarities)), name))
        kinds["name n/total"].append((f"{name} {card['number']}/{card_set['printedTotal']}", CardFilter(), name))
        kinds["browse set"].append(("", CardFilter(set_id=card_set["id"]), name))
    return kinds


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return f"p50 {q[49]:6.2f}  p95 {q[94]:6.2f}  p99 {q[98]:6.2f}  max {ordered[-1]:6.2f} ms  (n={len(ordered)})"


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def bench_sync() -> None:
    from services.config import load_settings
    from services.http import pokemontcg_client
    from services.integrations.pokemontcg.sync import sync_pokemon
    from tests.emulators.pokemontcg import DEMO_API_KEY, PokemonTcgEmulator

    with tempfile.TemporaryDirectory() as folder, PokemonTcgEmulator() as emulator:
        engine = create_configured_engine(f"sqlite:///{folder}/sync.db")
        init_db(engine)
        settings = load_settings({"POKEMONTCG_API_URL": emulator.base_url})
        with pokemontcg_client(settings, api_key=DEMO_API_KEY, limiter=False) as client, session_scope(engine) as s:
            report = sync_pokemon(s, client)
        rate = report.cards / report.seconds
        print(f"sync (emulator, {len(report.synced_sets)} sets, {report.requests} requests, SQLite): "
              f"{report.cards} cards + {report.prices} price observations in {report.seconds:.2f} s = "
              f"{rate:,.0f} cards/s, {report.requests / report.seconds:,.0f} requests/s")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sync", action="store_true", help="also time a sync against the emulator")
    args = parser.parse_args(argv)

    sets, cards = synthesize(args.seed)
    total = sum(len(group) for group in cards.values())
    with tempfile.TemporaryDirectory() as folder:
        engine = create_configured_engine(f"sqlite:///{folder}/bench.db")
        init_db(engine)
        started = time.perf_counter()
        with session_scope(engine) as session:
            upsert_sets(session, sets, expires_at=None)
            for set_id, group in cards.items():
                upsert_cards(session, set_id, group, expires_at=None)
        print(f"catalogue: {len(sets)} sets, {total:,} cards stored in {time.perf_counter() - started:.1f} s")
        with session_scope(engine) as session:
            builds = [timed(lambda: build_index(session)) for _ in range(3)]
            index = card_index(session)
            print(f"index build (read {index.size:,} cards, {len(index.name_keys):,} distinct names, "
                  f"{len(index.vocab):,} words): best {min(builds):.0f} ms, "
                  f"median {statistics.median(builds):.0f} ms")  # fmt: skip
            kinds = queries(sets, cards, args.queries, args.seed)
            cold_all: list[float] = []
            warm_all: list[float] = []
            for kind, batch in kinds.items():
                cold = [timed(lambda q=q, f=f: search_catalogue(session, q, f)) for q, f, _ in batch]
                warm = [timed(lambda q=q, f=f: search_catalogue(session, q, f, offset=24)) for q, f, _ in batch]
                cold_all += cold
                warm_all += warm
                print(f"  {kind:<16} cold {percentiles(cold)}")
            print(f"all queries       cold {percentiles(cold_all)}")
            print(f"all queries       warm {percentiles(warm_all)}")
            words = [q for q, _f, _n in kinds["prefix (typing)"]]
            suggest = [timed(lambda w=w: index.suggest(w + "x")) for w in words]
            print(f"suggestions (2-7 chars, cold) {percentiles(suggest)}")
            found = sum(
                1 for q, f, meant in kinds["typo"] if meant in {h.name for h in search_catalogue(session, q, f).hits}
            )  # fmt: skip
            print(f"typo queries whose intended name is on the first page: {found}/{len(kinds['typo'])}")
    if args.sync:
        bench_sync()


if __name__ == "__main__":
    main()
