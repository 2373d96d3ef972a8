"""The test suite stands on the project alone: every data file it reads is in tests/fixtures/ (listed, licensed
and intact), nothing reaches outside the repository, and a missing fixture is a loud error naming the file —
in a test, in an emulator (which then refuses to start instead of answering 500) and in a bench."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from services.integrations.numista.item_mapping import SWAGGER_FILE
from tests.emulators.base import run_cli
from tests.emulators.discogs import FIXTURE_DIR as DISCOGS_FIXTURES
from tests.emulators.discogs import REQUIRED_FIXTURES, DiscogsEmulator
from tests.emulators.numista import NumistaEmulator
from tests.emulators.pokemontcg import PokemonTcgEmulator
from tests.fixture_files import FIXTURES, FixtureMissing, fixture_path, opennumismat_file, pokemon_data

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("tests", "services", "bench", "pages", "ui", "app.py")
# Spelled in pieces so this file does not match itself.
FORBIDDEN = re.compile(
    "|".join((
        re.escape("shared/" + "reference"), re.escape("../" + "shared"), re.escape("VITRINE_" + "REFERENCE"),
        r"""['"]shared['"]\s*[/,]\s*['"]reference['"]""",  # the two folder names joined as a Path
    ))
)
BINARY_SUFFIXES = {".db", ".gz", ".png", ".jpg", ".jpeg", ".webp", ".pyc", ".ico"}
# Numista's OpenAPI document 3.30.0 as published (sha1 b794ce7097e84f63e09dc8bb1a39ad0f8f61168b, recorded in
# tests/fixtures/README.md) with one line changed: its example OAuth answer's access token, a 40-hex string that
# reads as a committed credential, replaced by a placeholder (examples are read by neither the app nor the
# emulator). This is the shipped file's sha1.
NUMISTA_SWAGGER_SHA1 = "ad879ae8477453d6f747a65247f2245bb03d786e"
NUMISTA_EXAMPLE_TOKEN = "EXAMPLE-ACCESS-TOKEN-REDACTED"


def _manifest() -> dict[str, str]:
    lines = fixture_path("SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines if line)}


def test_no_source_reaches_outside_the_repository() -> None:
    offenders = []
    for top in SCANNED:
        start = ROOT / top
        files = [start] if start.is_file() else sorted(p for p in start.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix in BINARY_SUFFIXES:
                continue
            text = path.read_bytes().decode("utf-8", errors="replace")
            for number, line in enumerate(text.splitlines(), 1):
                if FORBIDDEN.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert offenders == [], "data outside the repository:\n" + "\n".join(offenders)


def test_every_fixture_is_listed_intact_and_documented() -> None:
    manifest = _manifest()
    readme = fixture_path("README.md").read_text(encoding="utf-8")
    on_disk = {p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*") if p.is_file()}
    assert on_disk - set(manifest) == {"README.md", "SHA256SUMS", "opennumismat/COPYING"}
    for name, digest in manifest.items():
        assert hashlib.sha256(fixture_path(*name.split("/")).read_bytes()).hexdigest() == digest, name
        assert f"`{name}`" in readme, f"{name} is not described in tests/fixtures/README.md"
    total = sum((FIXTURES / name).stat().st_size for name in on_disk)
    assert total < 2_000_000, f"tests/fixtures has grown to {total} bytes: generate big files in code"


def test_a_missing_fixture_is_an_error_naming_the_file() -> None:
    with pytest.raises(FixtureMissing, match=r"tests/fixtures/opennumismat/demo_en_v4\.db") as missing:
        opennumismat_file("demo_en_v4.db")
    assert isinstance(missing.value, FileNotFoundError)
    assert "\n" not in str(missing.value)


def test_the_pokemon_data_needs_its_card_files(tmp_path: Path) -> None:
    sets, cards = pokemon_data()
    assert len(sets) == 170 and sorted(cards) == ["base1", "base2", "base3", "base4", "base5", "sv1", "svp"]
    (tmp_path / "sets").mkdir()
    (tmp_path / "sets" / "en.json").write_text("[]", encoding="utf-8")
    with pytest.raises(FixtureMissing, match="cards"):
        pokemon_data(tmp_path)


def test_numista_emulator_refuses_to_start_without_its_spec(tmp_path: Path) -> None:
    with pytest.raises(FixtureMissing, match=r"swagger\.yaml"):
        NumistaEmulator(swagger_file=tmp_path / "swagger.yaml")


def test_discogs_emulator_refuses_to_start_without_a_response_file(tmp_path: Path) -> None:
    with pytest.raises(FixtureMissing, match=re.escape(REQUIRED_FIXTURES[0])):
        DiscogsEmulator(fixture_dir=tmp_path)
    for rel in REQUIRED_FIXTURES[:-1]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes((DISCOGS_FIXTURES / rel).read_bytes())
    with pytest.raises(FixtureMissing, match=re.escape(REQUIRED_FIXTURES[-1])):
        DiscogsEmulator(fixture_dir=tmp_path)


def test_pokemontcg_emulator_refuses_to_start_without_its_data(tmp_path: Path) -> None:
    with pytest.raises(FixtureMissing, match=r"en\.json"):
        PokemonTcgEmulator(data_dir=tmp_path)


def test_an_emulator_run_by_hand_says_which_fixture_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        run_cli(lambda _: NumistaEmulator(swagger_file=tmp_path / "swagger.yaml"), "numista", argv=[])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: test fixture missing:") and "swagger.yaml" in error
    assert error.count("\n") == 1


def test_the_numista_spec_is_numistas_published_file() -> None:
    """The emulator and the app validate against the same swagger: it must be Numista's, byte for byte but for
    the redacted example token."""
    assert hashlib.sha1(SWAGGER_FILE.read_bytes()).hexdigest() == NUMISTA_SWAGGER_SHA1
    example = yaml.safe_load(SWAGGER_FILE.read_text(encoding="utf-8"))["paths"]["/oauth_token"]["get"]
    answer = example["responses"]["200"]["content"]["application/json"]["example"]
    assert answer["access_token"] == NUMISTA_EXAMPLE_TOKEN
    assert yaml.safe_load(SWAGGER_FILE.read_text(encoding="utf-8"))["info"]["version"] == "3.30.0"


def test_push_bench_fails_loudly_when_nothing_was_pushed() -> None:
    run = subprocess.run(
        [sys.executable, "bench/push_numista.py", "--items", "2", "--fail-before", "1.0"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    assert "pushed              0 of 2 coins" in run.stdout
    assert run.stderr.startswith("error: nothing was pushed") and "Traceback" not in run.stderr
