"""The card commands as users and scripts see them (a subprocess, its JSON, its exit status), with the
pokemontcg.io emulator over loopback: sync, search, `value --json` against a hand computation, CSV import."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.emulators.fixtures import pokemontcg_emulator  # noqa: F401
from tests.emulators.pokemontcg import DEMO_API_KEY, PokemonTcgEmulator
from tests.rates_support import per_euro
from tests.test_cards_import import TCGPLAYER

ROOT = Path(__file__).resolve().parents[1]
USD_TO_EUR = 1 / per_euro("USD")  # today's values use the newest ECB fixing


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services", *args],
        capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(), timeout=120,
    )  # fmt: skip


def run_json(*args: str, status: int = 0) -> Any:
    result = run(*args, "--json")
    assert result.returncode == status, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def api(app_env: str, monkeypatch: pytest.MonkeyPatch, pokemontcg_emulator: PokemonTcgEmulator) -> PokemonTcgEmulator:  # noqa: F811
    monkeypatch.setenv("POKEMONTCG_API_URL", pokemontcg_emulator.base_url)
    monkeypatch.setenv("POKEMONTCG_API_KEY", DEMO_API_KEY)
    monkeypatch.setenv("POKEMONTCG_RATE_LIMIT", "1000")
    monkeypatch.setenv("HTTP_MAX_RETRIES", "1")
    monkeypatch.setenv("HTTP_BACKOFF_BASE", "0.01")
    return pokemontcg_emulator


def test_search_works_offline(app_env: str) -> None:
    found = run_json("catalog", "search", "pokemon", "charzard", "--limit", "3")
    assert [r["id"] for r in found["results"]] == ["base1-4", "base4-4", "svp-56"] and found["total"] > 3
    in_set = run_json("catalog", "search", "pokemon", "", "--set", "base5", "--sort", "number", "--limit", "100")
    assert [r["number"] for r in in_set["results"]][:11] == [str(n) for n in range(1, 12)] and in_set["total"] == 83
    assert run("catalog", "search", "pokemon", "x", "--limit", "500").returncode == 2
    unknown = run("catalog", "search", "pokemon", "x", "--set", "nope", "--json")
    assert unknown.returncode == 2 and json.loads(unknown.stdout)["error"]["code"] == "SET_NOT_FOUND"


def expected_unit(prices: dict[str, Any], printing: str) -> tuple[Decimal, str] | None:
    """By hand: TCGplayer market, then mid, of the printing; then Cardmarket trend (reverse-holo trend for a
    reverse holo; nothing for 1st editions); zero means no price."""
    block = ((prices.get("tcgplayer") or {}).get("prices") or {}).get(printing) or {}
    for metric in ("market", "mid"):
        if block.get(metric):
            return Decimal(str(block[metric])), "USD"
    cardmarket = (prices.get("cardmarket") or {}).get("prices") or {}
    field = {"normal": "trendPrice", "holofoil": "trendPrice", "reverseHolofoil": "reverseHoloTrend"}.get(printing)
    if field and cardmarket.get(field):
        return Decimal(str(cardmarket[field])), "EUR"
    return None


def test_value_of_a_synced_set_agrees_with_a_hand_computation(api: PokemonTcgEmulator) -> None:
    api.set_card_prices("base5-4", tcgplayer={"updatedAt": "2025/11/14", "prices": {
        "holofoil": {"market": 60.0, "mid": 70.0}}})  # fmt: skip
    api.set_card_prices("base5-83", tcgplayer=None, cardmarket={"updatedAt": "2025/11/14", "prices": {
        "trendPrice": 80.0}})  # fmt: skip
    api.set_card_prices("base5-20", tcgplayer={"prices": {"normal": {"market": None, "mid": 1.5}}}, cardmarket=None)
    api.set_card_prices("base5-50", tcgplayer=None, cardmarket=None)
    api.set_card_prices("base5-10", tcgplayer={"prices": {"holofoil": {"market": 20.0}}},
                        cardmarket={"prices": {"trendPrice": 30.0}})  # fmt: skip
    synced = run_json("catalog", "sync", "pokemon", "--set", "base5")
    assert synced["complete"] and synced["syncedSets"] == ["base5"] and synced["cards"] == 83

    holdings = [("base5-4", "holofoil", 2), ("base5-83", "holofoil", 1), ("base5-20", "normal", 1),
                ("base5-50", "normal", 3), ("base5-10", "1stEditionHolofoil", 1)]  # fmt: skip
    for card_id in ("base5-1", "base5-5", "base5-60", "base5-70"):  # prices as the emulator generates them
        printings = list((api.prices_for(card_id).get("tcgplayer") or {}).get("prices") or {"normal": {}})
        holdings.append((card_id, printings[0], 2))
    usd = eur = Decimal(0)
    unpriced = 0
    for card_id, printing, quantity in holdings:
        run_json("items", "add", "card", card_id, "--printing", printing, "--quantity", str(quantity))
        unit = expected_unit(api.prices_for(card_id), printing)
        if unit is None:
            unpriced += 1
        elif unit[1] == "USD":
            usd += unit[0] * quantity
        else:
            eur += unit[0] * quantity
    expected = float((usd * USD_TO_EUR + eur).quantize(Decimal("0.01")))

    value = run_json("value")
    assert value["currency"] == "EUR"
    assert value["totalEstimatedValue"] == pytest.approx(expected, abs=0.01)
    assert value["itemsWithoutPrice"] == unpriced >= 2  # base5-50 (no price), base5-10 (1st edition)
    assert value["totalItems"] == sum(q for _c, _p, q in holdings)
    (rocket,) = value["bySet"]
    assert rocket == {
        "set": {"id": "base5", "name": "Team Rocket"},
        "uniqueCards": 9,
        "totalQuantity": sum(q for _c, _p, q in holdings),
        "estimatedValue": pytest.approx(expected, abs=0.01),
        "printedTotal": 82,
        "setTotal": 83,
        "baseCompletion": round(8 / 82, 4),  # base5-83 is a secret rare
        "completion": round(9 / 83, 4),
    }


def test_sync_with_the_api_down_is_a_clear_message(app_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setenv("POKEMONTCG_API_URL", f"http://127.0.0.1:{sock.getsockname()[1]}/v2")
    monkeypatch.setenv("HTTP_MAX_RETRIES", "0")
    result = run("catalog", "sync", "pokemon", "--set", "base1")
    assert result.returncode == 1
    assert "could not be reached" in result.stdout and "continue where it stopped" in result.stdout
    assert "Traceback" not in result.stderr
    document = run_json("catalog", "sync", "pokemon", status=1)
    assert document["complete"] is False and document["errors"][0]["set"] == "sets"


def test_import_cards_csv(app_env: str, tmp_path: Path) -> None:
    export = tmp_path / "tcgplayer.csv"
    export.write_text(TCGPLAYER, encoding="utf-8")
    preview = run_json("import", "cards-csv", str(export), "--dry-run", status=1)  # rows with errors: status 1
    assert {k: preview[k] for k in ("created", "updated", "unchanged", "skipped")} == {
        "created": 4, "updated": 0, "unchanged": 0, "skipped": 1
    }  # fmt: skip
    assert [e["row"] for e in preview["errors"]] == [4, 5, 8]
    assert run_json("items", "list") == []  # a dry run writes nothing
    done = run_json("import", "cards-csv", str(export), status=1)
    assert done["created"] == 4 and done["matching"]["ambiguous"] == 1
    imported = {i["refs"]["pokemontcg"] for i in run_json("items", "list")}
    assert imported == {"base1-4", "base5-83", "base1-2", "base1-15"}
    again = run_json("import", "cards-csv", str(export), status=1)
    assert (again["created"], again["unchanged"]) == (0, 4)
    summary = run("import", "cards-csv", str(export))
    assert "row 4: ambiguous" in summary.stdout and "sv1-181" in summary.stdout
    missing = run("import", "cards-csv", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    bad = tmp_path / "other.csv"
    bad.write_text("a,b\n1,2\n")
    assert json.loads(run("import", "cards-csv", str(bad), "--json").stdout)["error"]["code"] == "UNKNOWN_CSV_FORMAT"
