"""The command line as users and scripts see it: a subprocess, its stdout JSON and its exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services", *args],
        input=stdin, capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(), timeout=120,
    )  # fmt: skip


def run_json(*args: str, stdin: str = "") -> Any:
    result = run(*args, "--json", stdin=stdin)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_help_lists_the_commands(app_env: str) -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("users", "items", "value", "demo"):
        assert command in result.stdout


def test_demo_then_items_list_and_value(app_env: str) -> None:
    assert run_json("demo", "load") == {"created": 47, "unchanged": 0}
    assert run_json("demo", "load") == {"created": 0, "unchanged": 47}
    items = run_json("items", "list")
    assert len(items) == 47
    keys = {"id", "kind", "title", "quantity", "grade", "status", "notes", "refs", "sync"}
    assert all(keys <= set(item) for item in items)
    card = next(i for i in items if i["refs"]["pokemontcg"] == "base1-4")
    assert card["kind"] == "card" and card["sync"] == {"numista": None, "discogs": None}
    coin = next(i for i in items if i["kind"] == "coin")
    assert coin["sync"] == {"numista": "NOT_SYNCED", "discogs": None} and coin["syncTargets"] == {"discogs": None}
    record = next(i for i in items if i["kind"] == "record")
    assert record["sync"] == {"numista": None, "discogs": "NOT_SYNCED"}
    assert record["syncTargets"] == {"discogs": dict.fromkeys(("collection", "wantlist", "marketplace"), "NOT_SYNCED")}
    assert set(coin["refs"]) == {"pokemontcg", "numistaType", "numistaIssue", "discogsRelease"}
    assert {i["kind"] for i in run_json("items", "list", "--kind", "record")} == {"record"}
    assert len(run_json("items", "list", "--sync-status", "NOT_SYNCED")) == 26  # 21 coins + 5 records

    value = run_json("value")
    assert value["totalItems"] == sum(i["quantity"] for i in items)
    assert value["itemsWithoutPrice"] == 1  # the demo's one unpriced card
    by_kind_total = sum(v["estimatedValue"] for v in value["byKind"].values())
    assert value["totalEstimatedValue"] == round(by_kind_total, 2)
    assert {s["set"]["id"] for s in value["bySet"]} == {"base1", "base5", "sv1", "svp"}


def test_items_add_card_strategies(app_env: str) -> None:
    run_json("demo", "load")  # brings the offline catalogue
    first = run_json("items", "add", "card", "base2-1", "--quantity", "2", "--condition", "lp")
    assert (first["created"], first["quantity"], first["grade"]) == (True, 2, "LP")
    again = run_json("items", "add", "card", "base2-1", "--condition", "LP")
    assert (again["created"], again["quantity"], again["id"]) == (False, 3, first["id"])
    refused = run("items", "add", "card", "base2-1", "--condition", "LP", "--strategy", "separate", "--json")
    assert refused.returncode == 2
    error = json.loads(refused.stdout)["error"]
    assert error["code"] == "DUPLICATE_ENTRY" and error["message"].endswith("(--strategy increment)")


WISHES = """Portfolio Name,Category,Set,Product Name,Card Number,Rarity,Variance,Grade,Card Condition,\
Average Cost Paid,Quantity,Market Price (As of 2025-11-14),Price Override,Watchlist,Date Added,Notes
Wants,Pokemon,Base,Gyarados,6/102,Holo Rare,Holofoil,Ungraded,Near Mint,,0,$20.00,,true,,
"""


def test_items_add_card_never_adds_to_a_wish_and_keeps_a_new_price(app_env: str, tmp_path: Path) -> None:
    """A Collectr watchlist row is a wish: adding the card makes an owned entry beside it. Copies bought at
    another price than the held entry's get an entry of their own, and the answer says so."""
    run_json("demo", "load")
    wishes = tmp_path / "collectr.csv"
    wishes.write_text(WISHES, encoding="utf-8")
    assert run_json("import", "cards-csv", str(wishes))["created"] == 1
    added = run("items", "add", "card", "base1-6", "--printing", "holofoil", "--price", "10", "--currency", "usd")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().startswith("Added Gyarados (Base 6) to your collection. It is also on your wish list")
    gyarados = [item for item in run_json("items", "list", "--kind", "card") if item["refs"]["pokemontcg"] == "base1-6"]
    assert sorted((item["status"], item["quantity"]) for item in gyarados) == [("owned", 1), ("wish", 1)]

    cheaper = run_json("items", "add", "card", "base1-6", "--printing", "holofoil", "--price", "3")
    owned = next(item["id"] for item in gyarados if item["status"] == "owned")
    assert (cheaper["created"], cheaper["keptApartFrom"], cheaper["quantity"]) == (True, owned, 1)
    assert f"keeping the price paid you gave apart from your entry #{owned}" in cheaper["message"]
    same = run_json("items", "add", "card", "base1-6", "--printing", "holofoil", "--price", "3")
    assert (same["created"], same["id"], same["quantity"], same["keptApartFrom"]) == (False, cheaper["id"], 2, None)


def test_a_currency_is_checked_without_a_price(app_env: str) -> None:
    run_json("demo", "load")
    before = len(run_json("items", "list"))
    for command in (["card", "base1-6"], ["coin", "1 franc 1960"]):
        refused = run("items", "add", *command, "--currency", "XX", "--json")
        assert refused.returncode == 2, refused.stdout
        assert json.loads(refused.stdout)["error"]["code"] == "INVALID_CURRENCY"
    assert len(run_json("items", "list")) == before


def test_bad_input_exits_2_with_a_one_line_reason(app_env: str) -> None:
    result = run("items", "add", "card", "base1-4", "--quantity", "0", "--json")
    assert result.returncode == 2
    assert json.loads(result.stdout) == {
        "error": {"code": "INVALID_QUANTITY", "message": "quantity must be a whole number from 1 to 1,000,000, not 0"}
    }
    assert len(result.stderr.strip().splitlines()) == 1
    unknown = run("items", "list", "--kind", "stamp", "--json")
    assert unknown.returncode == 2 and json.loads(unknown.stdout)["error"]["code"] == "BAD_ARGUMENTS"
    missing = run("items", "add", "card", "nope-1")
    assert missing.returncode == 2 and "not in the catalogue" in missing.stderr


def test_users_add_reads_the_password_from_stdin(app_env: str) -> None:
    created = run_json("users", "add", "ann", "--admin", stdin="long enough password\n")
    assert created["username"] == "ann" and created["admin"] is True
    duplicate = run("users", "add", "ann", "--json", stdin="long enough password\n")
    assert duplicate.returncode == 2 and json.loads(duplicate.stdout)["error"]["code"] == "USER_EXISTS"
    weak = run("users", "add", "bob", stdin="short\n")
    assert weak.returncode == 2 and "at least 8" in weak.stderr
    assert run_json("items", "list", "--user", "ann") == []
    unknown = run("items", "list", "--user", "nobody")
    assert unknown.returncode == 2 and "nobody" in unknown.stderr


def test_items_add_coin_by_hand(app_env: str) -> None:
    coin = run_json("items", "add", "coin", "1 franc 1960", "--grade", "VF", "--country", "France", "--price", "2.5")
    assert (coin["kind"], coin["grade"], coin["sync"]["numista"]) == ("coin", "VF", "NOT_SYNCED")
    assert run_json("value")["itemsWithoutPrice"] == 1


def test_adding_a_card_on_a_fresh_install_loads_the_shipped_catalogue(app_env: str) -> None:
    added = run_json("items", "add", "card", "base1-4")  # the first command ever run on this database
    assert (added["created"], added["refs"]["pokemontcg"], added["title"]) == (True, "base1-4", "Charizard (Base 4)")


def test_value_of_a_collection_without_a_price_says_so_never_zero(app_env: str) -> None:
    run_json("items", "add", "coin", "Sol 1864")  # no price anywhere
    text = run("value").stdout
    assert text.startswith("Estimated value: no price for 1 copies (1 entries without a price)"), text
    assert "0.00" not in text and "no price" in text.splitlines()[2]  # the coin row too
    document = run_json("value")  # the --json contract keeps its numbers: 0.0 with itemsWithoutPrice saying why
    assert (document["totalEstimatedValue"], document["itemsWithoutPrice"]) == (0.0, 1)
