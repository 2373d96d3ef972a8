"""Build the data files that ship with the app from ../shared/reference (run by a developer, not at runtime).

- services/integrations/pokemontcg/data/pokemon_snapshot.json.gz: every English set and the cards of the
  reference sets, trimmed to the fields the catalogue keeps, so card search works offline.
- services/data/demo_collection.json: the demo collection (real coins, records and cards, plausible prices).

Usage: python scripts/build_reference_data.py [--reference DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sqlite3
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "services" / "data"
SNAPSHOT_OUT = ROOT / "services" / "integrations" / "pokemontcg" / "data"
CARD_FIELDS = ("id", "name", "number", "supertype", "subtypes", "types", "rarity", "artist", "images")
SET_FIELDS = ("id", "name", "series", "printedTotal", "total", "ptcgoCode", "releaseDate", "images")

# Illustrative market prices (USD) by rarity for the demo; not taken from any price source.
RARITY_PRICE = {
    "Common": 0.25, "Uncommon": 0.5, "Rare": 3.0, "Rare Holo": 45.0, "Rare Secret": 120.0,
    "Double Rare": 4.0, "Ultra Rare": 12.0, "Illustration Rare": 18.0, "Special Illustration Rare": 60.0,
    "Hyper Rare": 35.0, "Promo": 2.5,
}  # fmt: skip
DEMO_CARDS = {
    "base1": ["base1-4", "base1-2", "base1-15", "base1-58", "base1-10", "base1-44", "base1-70", "base1-97"],
    "base5": ["base5-83", "base5-4", "base5-20", "base5-50"],
    "sv1": ["sv1-1", "sv1-20", "sv1-81", "sv1-198", "sv1-229", "sv1-254"],
    "svp": ["svp-1", "svp-2", "svp-50"],
}
EURO_PRICE_BY_VALUE = {("Cent", 1): 0.1, ("Cent", 2): 0.1, ("Cent", 5): 0.15, ("Cent", 10): 0.25,
                       ("Cent", 20): 0.4, ("Cent", 50): 0.8, ("Euro", 1): 1.5, ("Euro", 2): 3.0}  # fmt: skip
GRADE_FACTOR = {"f": 0.6, "vf": 0.8, "xf": 1.0, "au": 1.3, "unc": 1.8}
MEDIA = ["Mint (M)", "Near Mint (NM or M-)", "Very Good Plus (VG+)", "Very Good (VG)"]


def build_snapshot(reference: Path) -> dict:
    sets = json.loads((reference / "pokemontcg" / "sets" / "en.json").read_text())
    cards = {}
    for path in sorted((reference / "pokemontcg" / "cards" / "en").glob("*.json")):
        cards[path.stem] = [
            {k: card[k] for k in CARD_FIELDS if k in card} for card in json.loads(path.read_text())
        ]
    return {"sets": [{k: s[k] for k in SET_FIELDS if k in s} for s in sets], "cards": cards}


def demo_coins(reference: Path, rng: random.Random) -> list[dict]:
    db = sqlite3.connect(f"file:{reference / 'opennumismat' / 'demo_en_v10.db'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    coins = []
    for row in db.execute("SELECT * FROM coins ORDER BY id"):
        grade = rng.choice(["f", "vf", "xf", "xf", "au", "unc"])
        base = EURO_PRICE_BY_VALUE.get((row["unit"], int(row["value"] or 0)), 1.0)
        if row["year"] == 2004 and row["country"] in ("Vatican City", "San Marino", "Luxembourg", "Finland"):
            base *= {"Vatican City": 60, "San Marino": 25, "Luxembourg": 4, "Finland": 5}[row["country"]]
        coins.append(
            {
                "title": row["title"],
                "country": row["country"],
                "year": row["year"] or 2002,
                "series": f"{row['value']} {row['unit']}",
                "grade": grade.upper() if grade != "unc" else "Unc",
                "numista_grade": grade,
                "material": row["material"],
                "weight": row["weight"],
                "diameter": row["diameter"],
                "acquired_price": round(base * GRADE_FACTOR[grade] * rng.uniform(0.7, 1.1), 2),
                "acquired_date": str(date(rng.randint(2015, 2025), rng.randint(1, 12), rng.randint(1, 28))),
                "estimate": round(base * GRADE_FACTOR[grade], 2),
                "source_row_id": row["id"],
            }
        )
    return coins


def demo_records(reference: Path, rng: random.Random) -> list[dict]:
    records = []
    for path in sorted((reference / "discogs" / "fixtures" / "releases").glob("*.json")):
        release = json.loads(path.read_text())
        formats = ", ".join(f.get("name", "") for f in release.get("formats", []))
        records.append(
            {
                "release_id": release["id"],
                "title": release["title"],
                "artist": ", ".join(a["name"] for a in release.get("artists", [])),
                "year": release.get("year") or None,
                "formats": formats,
                "country": release.get("country"),
                "media_condition": rng.choice(MEDIA),
                "estimate": round(rng.uniform(8, 45), 2),
            }
        )
    return records


def demo_cards(reference: Path, rng: random.Random) -> list[dict]:
    cards = []
    for set_id, ids in DEMO_CARDS.items():
        by_id = {
            c["id"]: c
            for c in json.loads((reference / "pokemontcg" / "cards" / "en" / f"{set_id}.json").read_text())
        }
        for card_id in ids:
            card = by_id[card_id]
            price = RARITY_PRICE.get(card.get("rarity", ""), 0.1)
            holo = "Holo" in (card.get("rarity") or "")
            cards.append(
                {
                    "card_id": card_id,
                    "printing": "holofoil" if holo else "normal",
                    "condition": rng.choice(["NM", "NM", "LP", "MP"]),
                    "quantity": rng.choice([1, 1, 1, 2, 3]),
                    "estimate": round(price * rng.uniform(0.8, 1.3), 2),
                    "acquired_price": round(price * rng.uniform(0.5, 1.0), 2),
                    "priced": card_id != "svp-50",  # one card without any price, as in real data
                }
            )
    return cards


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    default_ref = Path(os.environ.get("VITRINE_REFERENCE_DIR", ROOT.parent / "shared" / "reference"))
    parser.add_argument("--reference", type=Path, default=default_ref)
    args = parser.parse_args()
    needed = [args.reference / "pokemontcg" / "sets" / "en.json", args.reference / "opennumismat" / "demo_en_v10.db",
              args.reference / "discogs" / "fixtures" / "releases"]  # fmt: skip
    needed += [args.reference / "pokemontcg" / "cards" / "en" / f"{set_id}.json" for set_id in DEMO_CARDS]
    missing = [path for path in needed if not path.exists()]
    if missing:
        print(f"error: reference data not found: {missing[0]} ({len(missing)} missing); this maintainer script "
              "needs the workspace's shared reference folder: pass --reference DIR", file=sys.stderr)  # fmt: skip
        return 2
    rng = random.Random(20261121)
    OUT.mkdir(parents=True, exist_ok=True)
    SNAPSHOT_OUT.mkdir(parents=True, exist_ok=True)
    snapshot = json.dumps(build_snapshot(args.reference), separators=(",", ":"), ensure_ascii=False)
    (SNAPSHOT_OUT / "pokemon_snapshot.json.gz").write_bytes(gzip.compress(snapshot.encode(), mtime=0))
    demo = {
        "coins": demo_coins(args.reference, rng),
        "records": demo_records(args.reference, rng),
        "cards": demo_cards(args.reference, rng),
    }
    (OUT / "demo_collection.json").write_text(json.dumps(demo, indent=1, ensure_ascii=False) + "\n")
    print(f"snapshot: {len(snapshot)} bytes; demo: " + ", ".join(f"{len(v)} {k}" for k, v in demo.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
