"""The command line at its boundary: bad input is one line and exit 2 (an `{"error"}` document with --json),
an unexpected error is one line and exit 3 with the traceback in the log file, never on the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from services.collection import list_items
from services.context import open_context
from tests.discogs_support import discogs_csv
from tests.opennumismat_support import write_collection

ROOT = Path(__file__).resolve().parents[1]
HEADER = "Quantity,Name,Simple Name,Set,Card Number,Printing,Condition,Language,Rarity,SKU\n"
GOOD = "1,Charizard,Charizard,Base Set,4/102,Holofoil,Near Mint,English,Holo Rare,{sku}\n"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services", *args],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})}, timeout=180,
    )  # fmt: skip


def refused(*args: str, code: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run twice (summary, --json): exit 2, one line on stderr, no traceback; the error document's code."""
    result = run(*args, env=env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    document = json.loads(run(*args, "--json", env=env).stdout)
    if code:
        assert document["error"]["code"] == code, document
    return result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--quantity", "99999999999999999999999"), ("--quantity", str(2**63 - 1)), ("--quantity", "0"),
        ("--price", "1e300"), ("--price", "Infinity"), ("--price", "NaN"), ("--price", "-1"),
        ("--year", "99999"), ("--year", str(-(2**63))),
    ],
)  # fmt: skip
def test_items_add_refuses_out_of_range_values(app_env: str, args: tuple[str, str]) -> None:
    refused("items", "add", "coin", "A coin", *args)
    assert json.loads(run("items", "list", "--json").stdout) == []


@pytest.mark.parametrize(("price", "said"), [("1,50", "has a comma: use a dot"), ("12.345", "use digits and a dot")])
def test_items_add_reads_a_price_by_the_pages_rule(app_env: str, price: str, said: str) -> None:
    """The rule of services.validation.parse_money, as the Collection and Catalog pages read a typed price."""
    assert said in refused("items", "add", "coin", "A coin", "--price", price, code="INVALID_PRICE")
    assert json.loads(run("items", "list", "--json").stdout) == []
    run("items", "add", "coin", "A coin", "--price", "1.5")
    with open_context().session() as session:
        assert [item.acquired_price for item in list_items(session, 1)] == [Decimal("1.50")]


def test_items_add_refuses_a_title_longer_than_its_column(app_env: str) -> None:
    """A title holds 400 characters (SQLite would have kept 500; PostgreSQL would have failed on the insert)."""
    assert "title is 401 characters long" in refused("items", "add", "coin", "x" * 401, code="INVALID_TEXT")
    refused("items", "add", "coin", "   ", code="INVALID_TITLE")
    assert json.loads(run("items", "list", "--json").stdout) == []
    run("items", "add", "coin", "x" * 400)
    assert [len(item["title"]) for item in json.loads(run("items", "list", "--json").stdout)] == [400]


@pytest.mark.parametrize("command", [("import", "cards-csv"), ("import", "opennumismat"), ("import", "discogs-csv")])
def test_a_folder_named_as_the_import_file_is_one_line(app_env: str, tmp_path: Path, command: tuple[str, ...]) -> None:
    assert "is a folder" in refused(*command, str(tmp_path), code="FILE_NOT_FOUND")
    assert "no such file" in refused(*command, str(tmp_path / "missing.csv"), code="FILE_NOT_FOUND")


def test_card_csv_files_that_are_not_exports(app_env: str, tmp_path: Path) -> None:
    utf16 = tmp_path / "utf16.csv"
    utf16.write_text(HEADER + GOOD.format(sku=1), encoding="utf-16")
    assert "UTF-16" in refused("import", "cards-csv", str(utf16), code="UTF16_FILE")
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(4096))
    refused("import", "cards-csv", str(binary), code="BINARY_FILE")
    field = tmp_path / "field.csv"
    with field.open("w", encoding="utf-8") as out:
        out.write(HEADER + '1,"')
        for _ in range(50):
            out.write("x" * 1024 * 1024)  # one 50 MB field
        out.write('",Charizard,Base Set,4,Holofoil,Near Mint,English,Holo Rare,1\n')
    refused("import", "cards-csv", str(field), code="FIELD_TOO_LARGE")
    many = tmp_path / "many.csv"
    many.write_text(HEADER + "".join(GOOD.format(sku=n) for n in range(3)), encoding="utf-8")
    refused("import", "cards-csv", str(many), code="TOO_MANY_ROWS", env={"VITRINE_IMPORT_MAX_ROWS": "2"})
    assert json.loads(run("items", "list", "--json").stdout) == []
    bad_rows = tmp_path / "bad_rows.csv"
    bad_rows.write_text(HEADER + GOOD.format(sku=1) + GOOD.format(sku=2).replace("1,", "1e23,", 1), encoding="utf-8")
    result = run("import", "cards-csv", str(bad_rows), "--json")
    assert result.returncode == 1 and json.loads(result.stdout)["errors"][0]["row"] == 3
    assert run("value").returncode == 0


def test_opennumismat_out_of_range_rows_are_reported(app_env: str, tmp_path: Path) -> None:
    path = write_collection(tmp_path / "coins.db", [
        {"title": "Good", "quantity": 1, "status": "owned"},
        {"title": "Huge", "quantity": "99999999999999999999999", "status": "owned"},
        {"title": "Dear", "payprice": 1e300, "price1": -1, "status": "owned"},
    ])  # fmt: skip
    result = run("import", "opennumismat", str(path), "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    assert document["created"] == 1 and [e["row"] for e in document["errors"]] == [2, 3]
    assert run("value", "--json").returncode == 0


def test_discogs_csv_out_of_range_rows_are_reported(app_env: str, tmp_path: Path) -> None:
    path = tmp_path / "discogs.csv"
    path.write_text(discogs_csv([
        {"Artist": "Band", "Title": "Good", "release_id": "11", "Released": "1977"},
        {"Artist": "Band", "Title": "Huge", "release_id": "99999999999999999999999"},
        {"Artist": "Band", "Title": "Future", "release_id": "12", "Released": "9999"},
    ]), encoding="utf-8")  # fmt: skip
    result = run("import", "discogs-csv", str(path), "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr, (result.stdout, result.stderr)
    document = json.loads(result.stdout)
    assert document["created"] == 1 and [e["row"] for e in document["errors"]] == [3, 4]
    summary = run("import", "discogs-csv", str(path))
    assert "row 3: release_id" in summary.stdout and "row 4: year 9999" in summary.stdout
    listed = json.loads(run("items", "list", "--json").stdout)
    assert [(item["title"], item["refs"]["discogsRelease"]) for item in listed] == [("Band – Good", 11)]
    assert run("value", "--json").returncode == 0


def test_the_row_limit_holds_for_every_import_file(app_env: str, tmp_path: Path) -> None:
    limit = {"VITRINE_IMPORT_MAX_ROWS": "2"}
    records = tmp_path / "discogs.csv"
    records.write_text(discogs_csv([{"Artist": "A", "Title": "T", "release_id": str(n)} for n in range(1, 4)]),
                       encoding="utf-8")  # fmt: skip
    assert "2 rows" in refused("import", "discogs-csv", str(records), code="TOO_MANY_ROWS", env=limit)
    coins = write_collection(tmp_path / "coins.db", [{"title": f"Coin {n}", "status": "owned"} for n in range(3)])
    assert "2 rows" in refused("import", "opennumismat", str(coins), code="TOO_MANY_ROWS", env=limit)
    assert json.loads(run("items", "list", "--json").stdout) == []


def test_an_internal_error_is_one_line_and_logged(app_env: str, tmp_path: Path) -> None:
    log = tmp_path / "vitrine.log"
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database " * 100)  # a failure no check anticipates
    env = {"DATABASE_URL": f"sqlite:///{broken}", "VITRINE_LOG_FILE": str(log)}
    result = run("items", "list", env=env)
    assert result.returncode == 3 and "Traceback" not in result.stderr + result.stdout
    assert result.stderr.count("\n") == 1 and "internal error" in result.stderr and str(log) in result.stderr
    assert "Traceback" in log.read_text() and "DatabaseError" in log.read_text()
    document = json.loads(run("items", "list", "--json", env=env).stdout)
    assert document["error"]["code"] == "INTERNAL_ERROR"
