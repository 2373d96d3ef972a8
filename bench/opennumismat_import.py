"""Benchmark: read a realistic 50,000-coin OpenNumismat (schema 10) file with our reader.

Generates the file in a temp directory (schema, settings and fields copied from the OpenNumismat demo
file tests/fixtures/opennumismat/demo_en_v10.db; coins synthesized), then prints reader throughput,
grade-report time and lazy image loading. Prints numbers only; no timing asserts (the machine is shared).

    python bench/opennumismat_import.py [--coins 50000] [--photo-fraction 0.1] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.grades import GradeMapper, grade_report  # noqa: E402
from services.importers.opennumismat import read_opennumismat  # noqa: E402
from tests.fixture_files import opennumismat_file  # noqa: E402

COUNTRIES = [
    ("Germany", "Europe", "Euro", "1999 - Eurozone"), ("France", "Europe", "Franc", "Fifth Republic"),
    ("United States", "Americas", "Cent", "Federal Republic"),
    ("United Kingdom", "Europe", "Penny", "Elizabeth II"),
    ("Japan", "Asia", "Yen", "Showa"), ("Italy", "Europe", "Lira", "Republic"),
    ("Roman Empire", "Europe", "Denarius", "Trajan"), ("Ancient Greece", "Europe", "Drachm", "Athens"),
    ("Canada", "Americas", "Dollar", "Elizabeth II"), ("Russia", "Europe", "Ruble", "Russian Federation"),
    ("Spain", "Europe", "Peseta", "Juan Carlos I"), ("Mexico", "Americas", "Peso", "United Mexican States"),
]  # fmt: skip
STATUS_WEIGHTS = {
    "owned": 55, "wish": 10, "demo": 8, "sale": 5, "duplicate": 6, "sold": 4, "ordered": 3, "missing": 2,
    "bidding": 2, "replacement": 3, "pass": 2,
}  # fmt: skip
GRADES = [
    "Unc", "AU", "XF", "VF", "F", "VG", "unc", "xf", "vf", "XF+", "VF-", "EF", "BU", "MS-63", "MS-65",
    "AU-55", "65", "PF-69", "PP", "Proof", "vz", "ss", "s", "st", "f.vz", "ss-vz", "TTB", "SUP", "SPL", "TB",
    "FDC", "qFDC", "BB", "EBC", "MBC", "SC", "gVF", "nEF", "VF/XF", "Ф", "", "", "", "", "good",
    "about 5 stars",
]  # fmt: skip
MATERIALS = ["Copper", "Brass", "Nickel", "Silver", "Gold", "Bimetallic", "Steel", "Nordic gold", "Bronze"]
STORAGES = ["Album 1", "Album 2", "Box A", "Safe", "Tray 3", ""]


def _blob(rng: random.Random, size: int, kind: str) -> bytes:
    """Image-like bytes with real magic numbers (content is noise: the reader never decodes pixels)."""
    body = rng.randbytes(size)
    if kind == "webp":
        return b"RIFF" + (size + 4).to_bytes(4, "little") + b"WEBPVP8 " + body
    if kind == "png":
        return b"\x89PNG\r\n\x1a\n" + body
    return b"\xff\xd8\xff\xe0" + body


def _numisync_note(rng: random.Random, type_id: int, user_text: str) -> str:
    block = {
        "version": "2.0",
        "basicData": {"status": "MERGED", "timestamp": "2025-05-01T10:00:00Z", "numistaId": type_id},
        "issueData": {"status": "MERGED", "issueId": rng.randint(1000, 999999)},
        "pricingData": {"status": "MERGED", "currency": "EUR", "lastPrices": {}},
    }
    prefix = f"{user_text}\n\n" if user_text else ""
    return f"{prefix}<!-- NUMISMAT_ENRICHMENT_DATA\n{json.dumps(block, indent=2)}\n-->"


def generate_collection(
    path: Path, *, coins: int = 50_000, photo_fraction: float = 0.1, seed: int = 20260129
) -> Path:
    """Write a schema-10 collection with `coins` synthetic rows to `path` and return it."""
    rng = random.Random(seed)
    template_file = opennumismat_file("demo_en_v10.db")  # schema, settings and fields only
    template = sqlite3.connect(template_file.resolve().as_uri() + "?mode=ro", uri=True)
    ddl = [
        sql
        for (sql,) in template.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
        )
    ]
    settings = template.execute("SELECT title, value FROM settings").fetchall()
    fields = template.execute("SELECT id, title, enabled FROM fields").fetchall()
    columns = [row[1] for row in template.execute("PRAGMA table_info(coins)")]
    template.close()

    if path.exists():
        path.unlink()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    for statement in ddl:
        db.execute(statement)
    db.executemany("INSERT INTO settings (title, value) VALUES (?, ?)", settings)
    db.executemany("INSERT INTO fields (id, title, enabled) VALUES (?, ?, ?)", fields)
    db.execute(
        "INSERT INTO description (id, title, description, author) VALUES (1, ?, ?, ?)",
        ("Bench 50k", "Synthetic collection for the import benchmark", "bench"),
    )
    db.executemany(
        "INSERT INTO tags (id, tag, parent_id, position) VALUES (?, ?, ?, ?)",
        [(1, "Euro", None, 0), (2, "Commemoratives", 1, 0), (3, "Ancient", None, 1), (4, "Silver", None, 2)],
    )

    statuses, weights = zip(*STATUS_WEIGHTS.items(), strict=True)
    start = datetime(2012, 1, 1, tzinfo=UTC)
    photo_id = preview_id = 0
    coin_rows, photo_rows, preview_rows, tag_rows = [], [], [], []
    placeholders = ", ".join("?" for _ in columns)
    for coin_id in range(1, coins + 1):
        country, region, unit, period = rng.choice(COUNTRIES)
        status = rng.choices(statuses, weights)[0]
        ancient = country in ("Roman Empire", "Ancient Greece")
        year = -rng.randint(1, 500) if ancient and rng.random() < 0.6 else rng.randint(1800, 2025)
        value = rng.choice([1, 2, 5, 10, 20, 50, 100, 0.5, 0.25, 0.02])
        row = dict.fromkeys(columns)
        created = start + timedelta(seconds=coin_id * 3571)
        stamp = created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z"
        type_id = rng.randint(1, 450_000)
        row.update(
            id=coin_id,
            title=f"{value} {unit} {country} {year}",
            value=value,
            unit=unit,
            country=country,
            region=region,
            year=year if rng.random() > 0.02 else "",
            period=period,
            mint=rng.choice(["", "Berlin", "Paris", "Philadelphia", "Royal Mint", "Osaka"]),
            mintmark=rng.choice(["", "A", "D", "F", "G", "J", "P", "S"]),
            type=rng.choice(["Regular issue", "Commemorative", "Bullion"]),
            series=rng.choice(["", "Definitive", "Olympics", "Wildlife"]),
            status=status,
            material=rng.choice(MATERIALS),
            diameter=round(rng.uniform(14, 40), 2),
            thickness=round(rng.uniform(1, 3), 2) if rng.random() < 0.7 else "",
            weight=round(rng.uniform(1, 31.1), 2),
            grade=rng.choice(GRADES),
            mintage=rng.randint(1000, 500_000_000) if rng.random() < 0.5 else "",
            catalognum1=f"KM# {rng.randint(1, 3000)}" if rng.random() < 0.7 else "",
            catalognum4=str(type_id) if rng.random() < 0.1 else "",
            price1=round(rng.uniform(0.1, 20), 2) if rng.random() < 0.3 else "",
            price2=round(rng.uniform(0.5, 40), 2) if rng.random() < 0.3 else "",
            price3=round(rng.uniform(1, 80), 2) if rng.random() < 0.3 else "",
            price4=round(rng.uniform(2, 150), 2) if rng.random() < 0.3 else "",
            paydate=(date(2005, 1, 1) + timedelta(days=rng.randint(0, 7000))).isoformat()
            if status != "wish" and rng.random() < 0.97
            else "2000-01-01",
            payprice=round(rng.uniform(0.5, 300), 2) if rng.random() < 0.98 else "about 5",
            payplace=rng.choice(["", "eBay", "Coin fair", "Dealer", "Bank"]),
            saller=rng.choice(["", "Dealer A", "Private"]),
            saledate=(date(2015, 1, 1) + timedelta(days=rng.randint(0, 3000))).isoformat()
            if status in ("sold", "pass")
            else "",
            saleprice=round(rng.uniform(1, 400), 2) if status in ("sold", "pass") else "",
            saleplace="Auction" if status in ("sold", "pass") else "",
            quantity=rng.choice([1, 1, 1, 1, 2, 3, "", "2 pcs"]),
            url=f"https://{rng.choice(['en', 'fr', 'de'])}.numista.com/catalogue/pieces{type_id}.html"
            if rng.random() < 0.2
            else "",
            storage=rng.choice(STORAGES),
            seat=f"p{rng.randint(1, 40)} r{rng.randint(1, 6)}" if rng.random() < 0.5 else "",
            features="Line one\nLine two" if rng.random() < 0.05 else "",
            note=_numisync_note(rng, type_id, rng.choice(["", "From grandfather"]))
            if rng.random() < 0.05
            else rng.choice(["", "", "", "Nice toning", "<html><body><p>Rich <b>text</b></p></body></html>"]),
            createdat=stamp,
            updatedat=stamp,
            sort_id=coin_id,
        )
        if rng.random() < photo_fraction:
            for column in ("obverseimg", "reverseimg"):
                photo_id += 1
                kind = "webp" if rng.random() < 0.8 else "jpeg"
                blob = _blob(rng, rng.randint(4000, 9000), kind)
                photo_rows.append((photo_id, None, blob, None, None, None))
                row[column] = photo_id
            preview_id += 1
            preview_rows.append((preview_id, _blob(rng, 2000, "webp")))
            row["image"] = preview_id
        if rng.random() < 0.2:
            for tag_id in rng.sample([1, 2, 3, 4], rng.randint(1, 2)):
                tag_rows.append((coin_id, tag_id))
        coin_rows.append(tuple(row[column] for column in columns))
        if coin_id % 5000 == 0 or coin_id == coins:  # flush in batches: keeps the bench's own RSS small
            db.executemany(f"INSERT INTO coins VALUES ({placeholders})", coin_rows)
            db.executemany("INSERT INTO photos (id, title, image, author, license, source) "
                           "VALUES (?, ?, ?, ?, ?, ?)", photo_rows)  # fmt: skip
            db.executemany("INSERT INTO images (id, image) VALUES (?, ?)", preview_rows)
            db.executemany("INSERT INTO coins_tags (coin_id, tag_id) VALUES (?, ?)", tag_rows)
            coin_rows, photo_rows, preview_rows, tag_rows = [], [], [], []
    db.commit()
    db.close()
    return path


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(path: Path, *, repeat: int = 3) -> dict[str, float]:
    """Time the reader (best of `repeat`), the grade report and lazy image loading; return the numbers."""
    results: dict[str, float] = {}
    # Baseline: SQLite alone handing every coins cell to Python (the floor under any reader keeping `raw`).
    connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro&immutable=1", uri=True)
    fetch = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _row in connection.execute("SELECT * FROM coins"):
            pass
        fetch = min(fetch, time.perf_counter() - started)
    connection.close()
    best = float("inf")
    collection = None
    for _ in range(repeat):
        collection = None
        started = time.perf_counter()
        collection = read_opennumismat(path)
        best = min(best, time.perf_counter() - started)
    assert collection is not None
    count = len(collection)
    results["coins"] = count
    results["read_seconds"] = best
    results["read_coins_per_second"] = count / best
    results["sqlite_fetch_seconds"] = fetch

    grades = [coin.grade_raw for coin in collection.coins]
    started = time.perf_counter()
    report = grade_report(grades)
    results["grade_report_seconds"] = time.perf_counter() - started
    mapper = GradeMapper()
    started = time.perf_counter()
    for grade in grades:
        mapper(grade)
    results["grade_map_per_second"] = count / max(time.perf_counter() - started, 1e-9)

    refs = [ref for coin in collection.coins for ref in (*coin.photos, coin.thumbnail) if ref is not None]
    started = time.perf_counter()
    loaded = 0
    with collection.images() as images:
        for ref in refs:
            image = images.load(ref)
            loaded += len(image.data) if image else 0
    elapsed = max(time.perf_counter() - started, 1e-9)
    results["images"] = len(refs)
    results["images_per_second"] = len(refs) / elapsed
    results["image_mb_per_second"] = loaded / 1e6 / elapsed
    results["peak_rss_mb"] = _rss_mb()
    print(f"statuses: {dict(collection.counts_by_status)}")
    print(f"byNumistaGrade: {report}")
    linked = sum(1 for coin in collection.coins if coin.numista_type_id is not None)
    print(f"coins with a Numista type id: {linked}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coins", type=int, default=50_000)
    parser.add_argument("--photo-fraction", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20260129)
    parser.add_argument("--keep", type=Path, help="write the generated file into this directory and keep it")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="vitrine-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"bench_{args.coins}_v10.db"
        started = time.perf_counter()
        generate_collection(target, coins=args.coins, photo_fraction=args.photo_fraction, seed=args.seed)
        generated = time.perf_counter() - started
        size_mb = target.stat().st_size / 1e6
        print(f"generated {target.name}: {args.coins} coins, {size_mb:.1f} MB in {generated:.1f}s")
        results = run(target, repeat=args.repeat)
        results |= time_import(target, folder)
    print(
        f"reader: {results['coins']:.0f} coins in {results['read_seconds']:.3f}s "
        f"= {results['read_coins_per_second']:,.0f} coins/s (best of {args.repeat})"
    )
    print(
        f"baseline: bare sqlite3 fetch of all coins columns {results['sqlite_fetch_seconds']:.3f}s "
        f"= {results['coins'] / results['sqlite_fetch_seconds']:,.0f} rows/s"
    )
    print(
        f"grade report: {results['grade_report_seconds'] * 1000:.1f} ms; "
        f"GradeMapper: {results['grade_map_per_second']:,.0f} grades/s"
    )
    print(
        f"lazy images: {results['images']:.0f} in {results['images'] / results['images_per_second']:.2f}s "
        f"= {results['images_per_second']:,.0f} images/s, {results['image_mb_per_second']:.0f} MB/s"
    )
    print(f"peak RSS: {results['peak_rss_mb']:.0f} MB")
    print(
        f"whole import into SQLite (read + map + insert + prices, no images, one transaction): "
        f"{results['import_seconds']:.2f}s = {args.coins / results['import_seconds']:,.0f} coins/s"
    )
    print(
        f"re-import of the same file (all unchanged): {results['reimport_seconds']:.2f}s "
        f"= {args.coins / results['reimport_seconds']:,.0f} coins/s"
    )
    return 0


def time_import(path: Path, folder: Path) -> dict[str, float]:
    """The whole import as the app runs it: reader, mapping, bulk insert and price observations."""
    from services.accounts import ensure_local_user
    from services.importers.opennumismat_import import import_opennumismat
    from services.store.db import create_configured_engine, init_db, session_scope

    engine = create_configured_engine(f"sqlite:///{folder / 'bench_vitrine.db'}")
    init_db(engine)
    timings = {}
    for label in ("import_seconds", "reimport_seconds"):
        with session_scope(engine) as session:
            owner = ensure_local_user(session)
            started = time.perf_counter()
            import_opennumismat(session, owner.id, path, with_images=False)
            session.commit()
            timings[label] = time.perf_counter() - started
    engine.dispose()
    return timings


if __name__ == "__main__":
    raise SystemExit(main())
