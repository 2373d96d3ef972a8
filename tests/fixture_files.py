"""The test data kept in tests/fixtures/: one place that finds a fixture file or fails loudly.

Why: the suite must run from a clone of the repository alone, and a missing fixture must be an error that
names the file, never a silent skip, an empty parameter list or an emulator answering 500. Every test,
emulator and bench reads its data files through these helpers. tests/fixtures/README.md says where each
file comes from and under which licence; scripts/build_test_fixtures.py rebuilds them.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# The OpenNumismat collection files, one per schema version (slimmed copies of the upstream demo files).
OPENNUMISMAT_FILES = (
    "demo_en_v1.db", "demo_en_v2.db", "demo_en_v3.db", "demo_en_v5.db", "demo_en_v6.db", "demo_en_v8.db",
    "demo_en_v9.db", "demo_en_v10.db", "demo_en_v10_upgraded_20260129.db", "SYNTHETIC_edgecases_v10.db",
)  # fmt: skip
OPENNUMISMAT_EDGE_CASES = "SYNTHETIC_edgecases_v10.db"


class FixtureMissing(FileNotFoundError):
    """A file the tests need is not in tests/fixtures/ (a broken checkout, or a fixture never added)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            shown = path.relative_to(FIXTURES.parent.parent).as_posix()
        except ValueError:
            shown = str(path)
        super().__init__(f"test fixture missing: {shown} (see tests/fixtures/README.md)")


def fixture_path(*parts: str) -> Path:
    """``tests/fixtures/<parts>``, which must exist (else :class:`FixtureMissing` naming it)."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        raise FixtureMissing(path)
    return path


def opennumismat_file(name: str = OPENNUMISMAT_EDGE_CASES) -> Path:
    """One of the OpenNumismat collection files (default: the synthetic edge-case collection)."""
    return fixture_path("opennumismat", name)


def read_json(path: Path) -> Any:
    """A JSON fixture, gzip-compressed (``*.json.gz``) or not; missing -> :class:`FixtureMissing`."""
    if not path.is_file():
        raise FixtureMissing(path)
    data = path.read_bytes()
    return json.loads(gzip.decompress(data) if path.suffix == ".gz" else data)


def pokemon_data(root: Path | None = None) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """(the set list, cards by set id) from pokemontcg.io data files (``sets/en.json[.gz]``,
    ``cards/en/<set>.json[.gz]``) under ``root``, by default the fixtures' pokemontcg folder."""
    base = root or FIXTURES / "pokemontcg"
    sets_file = next((p for p in (base / "sets" / "en.json.gz", base / "sets" / "en.json") if p.is_file()),
                     base / "sets" / "en.json.gz")  # fmt: skip
    sets = read_json(sets_file)
    card_files = sorted((base / "cards" / "en").glob("*.json*"))
    if not card_files:
        raise FixtureMissing(base / "cards" / "en" / "*.json.gz")
    cards = {path.name.split(".", 1)[0]: read_json(path) for path in card_files}
    return sets, cards
