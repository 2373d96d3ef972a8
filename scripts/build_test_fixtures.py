"""Rebuild tests/fixtures/ from the workspace's reference folder (run by a maintainer, never by the tests).

Why: the test suite must run from a clone of this repository alone, so the few reference files the tests and
emulators read are kept in tests/fixtures/. Most are byte-for-byte copies; the OpenNumismat collection files
are slimmed (every image BLOB replaced by a 1x1 image of the same format, then VACUUM) so ten schema
versions cost well under a megabyte instead of 17 MB, while every table, row and non-image value stays as
OpenNumismat wrote it. The pokemontcg.io JSON files are stored gzip-compressed (their bytes unchanged).
Writes tests/fixtures/SHA256SUMS; tests/fixtures/README.md names each file's source and licence.

Usage: python scripts/build_test_fixtures.py [--reference DIR]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import shutil
import sqlite3
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.importers.opennumismat_schema import sniff_image_mime  # noqa: E402

OUT = ROOT / "tests" / "fixtures"
OPENNUMISMAT_FILES = (
    "demo_en_v1.db", "demo_en_v2.db", "demo_en_v3.db", "demo_en_v5.db", "demo_en_v6.db", "demo_en_v8.db",
    "demo_en_v9.db", "demo_en_v10.db", "demo_en_v10_upgraded_20260129.db", "SYNTHETIC_edgecases_v10.db",
)  # fmt: skip
POKEMON_FILES = ("sets/en.json", *(f"cards/en/{s}.json" for s in ("base1", "base2", "base3", "base4", "base5",
                                                                   "sv1", "svp")))  # fmt: skip
HAND_WRITTEN = ("README.md", "opennumismat/COPYING")  # kept as they are, not listed in SHA256SUMS
PIL_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


def tiny_image(mime: str, serial: int) -> bytes:
    """A valid 1x1 image of ``mime``, distinct per ``serial`` (so distinct originals stay distinct)."""
    colour = (serial % 256, (serial // 256) % 256, 128)
    buffer = io.BytesIO()
    image = Image.new("RGB", (1, 1), colour)
    if mime == "image/jpeg":
        image.save(buffer, "JPEG", quality=95, comment=f"vitrine fixture {serial}".encode())
    elif mime == "image/webp":
        image.save(buffer, "WEBP", lossless=True)
    else:
        image.save(buffer, PIL_FORMAT[mime])
    data = buffer.getvalue()
    assert sniff_image_mime(data) == mime, mime
    return data


def slim_collection(source: Path, target: Path) -> tuple[int, int]:
    """Copy ``source`` to ``target`` with every JPEG/PNG/WebP BLOB replaced; returns (replaced, kept BLOBs)."""
    shutil.copyfile(source, target)
    os.chmod(target, 0o644)
    db = sqlite3.connect(target)
    replacements: dict[bytes, bytes] = {}  # sha256 of an original -> its stand-in: equal stays equal
    replaced = kept = 0
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                          " AND name NOT LIKE 'sqlite_%'")]  # fmt: skip
    for table in tables:
        columns = [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]
        for column in columns:
            rows = db.execute(f'SELECT rowid, "{column}" FROM "{table}" WHERE typeof("{column}") = \'blob\'').fetchall()
            for rowid, blob in rows:
                mime = sniff_image_mime(blob)
                if mime not in PIL_FORMAT:
                    kept += 1
                    continue
                digest = hashlib.sha256(blob).digest()
                stand_in = replacements.setdefault(digest, tiny_image(mime, len(replacements) + 1))
                db.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?', (stand_in, rowid))
                replaced += 1
    db.commit()
    db.execute("VACUUM")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    return replaced, kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("VITRINE_REFERENCE_DIR", ROOT.parent / "shared" / "reference"))
    parser.add_argument("--reference", type=Path, default=default, help=f"default: {default}")
    args = parser.parse_args()
    reference: Path = args.reference
    needed = [reference / "opennumismat" / name for name in OPENNUMISMAT_FILES]
    needed += [reference / "pokemontcg" / name for name in POKEMON_FILES]
    needed.append(reference / "discogs" / "fixtures" / "LICENSE.joalla-discogs_client.txt")
    missing = [path for path in needed if not path.is_file()]
    if missing:
        print(f"error: reference data not found: {missing[0]} ({len(missing)} file(s) missing); "
              "pass --reference DIR (the workspace's shared reference folder)", file=sys.stderr)  # fmt: skip
        return 2

    for name in OPENNUMISMAT_FILES:
        (OUT / "opennumismat").mkdir(parents=True, exist_ok=True)
        replaced, kept = slim_collection(reference / "opennumismat" / name, OUT / "opennumismat" / name)
        print(f"opennumismat/{name}: {replaced} images replaced, {kept} other BLOBs kept")
    for name in POKEMON_FILES:
        target = OUT / "pokemontcg" / f"{name}.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.compress((reference / "pokemontcg" / name).read_bytes(), 9, mtime=0))
    discogs = OUT / "discogs"
    shutil.rmtree(discogs, ignore_errors=True)
    shutil.copytree(reference / "discogs" / "fixtures", discogs)

    sums = []
    for path in sorted(p for p in OUT.rglob("*") if p.is_file()):
        relative = path.relative_to(OUT).as_posix()
        if relative not in HAND_WRITTEN and relative != "SHA256SUMS":
            sums.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {relative}")
    (OUT / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{len(sums)} fixture files, {total / 1024:.0f} KiB in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
