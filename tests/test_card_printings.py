"""The right printing: an entry gets a printing its card has (the only one, or the first in the usual order),
a printing the card does not have is refused, and the Catalog page offers only the card's printings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from services.card_printings import card_printings, suggested_printing
from services.collection import add_card, update_item
from services.context import open_context
from services.errors import InvalidInput
from services.integrations.pokemontcg.catalog import load_offline_snapshot
from services.pricing import Observation, record_observations, valuation
from services.states import CARD_PRINTINGS
from services.store.models import User
from tests.emulators.fixtures import pokemontcg_emulator  # noqa: F401
from tests.emulators.pokemontcg import DEMO_API_KEY, PokemonTcgEmulator
from tests.test_cards_valuation import observe

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
HOLO_ONLY = {"id": "base5-4", "tcgplayer": {"updatedAt": "2025/11/14", "prices": {"holofoil": {"market": 60.0}}},
             "cardmarket": {"updatedAt": "2025/11/14", "prices": {"trendPrice": 20.0}}}  # fmt: skip
SEVERAL = {"id": "sv1-20", "tcgplayer": {"prices": {"reverseHolofoil": {"market": 2.0}, "normal": {"mid": 0.25}}}}


@pytest.fixture
def catalogue(session: Session) -> None:
    load_offline_snapshot(session)
    observe(session, HOLO_ONLY)
    observe(session, SEVERAL)


def test_without_a_printing_the_card_gets_its_own(session: Session, owner: User, catalogue: None) -> None:
    holo = add_card(session, owner.id, "base5-4").item
    assert holo.printing == "holofoil"  # its only printing, not "normal"
    assert valuation(session, owner.id, "USD").value == 60  # TCGplayer holofoil, not Cardmarket
    first = add_card(session, owner.id, "sv1-20").item
    assert first.printing == "normal"  # several: the first in the usual order
    unknown = add_card(session, owner.id, "base5-10").item  # no TCGplayer block: printings unknown
    assert unknown.printing == "normal"
    assert card_printings(session, "base5-4") == ("holofoil",)
    assert card_printings(session, "sv1-20") == ("normal", "reverseHolofoil")
    assert card_printings(session, "base5-10") == CARD_PRINTINGS


def test_a_printing_the_card_does_not_have_is_refused(session: Session, owner: User, catalogue: None) -> None:
    with pytest.raises(InvalidInput) as refused:
        add_card(session, owner.id, "base5-4", printing="normal")
    assert refused.value.code == "INVALID_PRINTING" and "holofoil" in refused.value.message
    with pytest.raises(InvalidInput):
        add_card(session, owner.id, "sv1-20", printing="holofoil")
    with pytest.raises(InvalidInput):
        add_card(session, owner.id, "base5-10", printing="sparkly")  # unknown card printings: the usual list
    assert add_card(session, owner.id, "base5-10", printing="1stEditionHolofoil").item.printing == "1stEditionHolofoil"
    item = add_card(session, owner.id, "sv1-20", printing="reverseHolofoil").item
    with pytest.raises(InvalidInput):
        update_item(session, owner.id, item.id, item.version, printing="holofoil")  # an edit follows the rule
    assert update_item(session, owner.id, item.id, item.version, printing="normal").printing == "normal"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services", *args],
        capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(), timeout=120,
    )  # fmt: skip


def test_items_add_card_on_the_command_line(
    app_env: str, monkeypatch: pytest.MonkeyPatch, pokemontcg_emulator: PokemonTcgEmulator  # noqa: F811
) -> None:
    monkeypatch.setenv("POKEMONTCG_API_URL", pokemontcg_emulator.base_url)
    monkeypatch.setenv("POKEMONTCG_API_KEY", DEMO_API_KEY)
    monkeypatch.setenv("POKEMONTCG_RATE_LIMIT", "1000")
    pokemontcg_emulator.set_card_prices("base5-4", tcgplayer=HOLO_ONLY["tcgplayer"], cardmarket=HOLO_ONLY["cardmarket"])
    no_price_yet = {"prices": {"1stEditionHolofoil": {"market": None, "low": None}, "unlimitedHolofoil": {}}}
    pokemontcg_emulator.set_card_prices("base5-5", tcgplayer=no_price_yet, cardmarket=None)
    assert cli("catalog", "sync", "pokemon", "--set", "base5", "--json").returncode == 0
    refused = cli("items", "add", "card", "base5-4", "--printing", "normal", "--json")
    assert refused.returncode == 2 and json.loads(refused.stdout)["error"]["code"] == "INVALID_PRINTING"
    assert refused.stderr.count("\n") == 1
    added = cli("items", "add", "card", "base5-4", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["printing"] == "holofoil"
    value = json.loads(cli("value", "--json").stdout)
    assert value["itemsWithoutPrice"] == 0 and value["totalItems"] == 1 and value["currency"] == "EUR"
    # TCGplayer lists these printings without a price yet: still the card's printings, in the usual order.
    unpriced = cli("items", "add", "card", "base5-5", "--json")
    assert unpriced.returncode == 0 and json.loads(unpriced.stdout)["printing"] == "1stEditionHolofoil"
    assert cli("items", "add", "card", "base5-5", "--printing", "unlimitedHolofoil").returncode == 0
    assert cli("items", "add", "card", "base5-5", "--printing", "holofoil").returncode == 2


def test_the_catalog_page_offers_only_the_cards_printings(app_env: str) -> None:
    with open_context().session() as session:
        load_offline_snapshot(session)
        observe(session, HOLO_ONLY)
        observe(session, SEVERAL)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/catalog.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="catalog_set").select("base5").run()
    at.selectbox(key="add_card_id").select("base5-4").run()
    assert at.selectbox(key="add_card_printing").options == ["holofoil"]
    at.button[-1].click().run()  # add with the preselected printing
    assert not at.exception and at.success, at.exception
    at.selectbox(key="add_card_id").select("base5-10").run()  # printings unknown: the usual list
    assert at.selectbox(key="add_card_printing").options == list(CARD_PRINTINGS)


def _price(source: str, variant: str, metric: str) -> tuple[str, str, str]:
    return source, variant, metric


@pytest.mark.parametrize(
    ("printings", "prices", "offered"),
    [
        (("normal", "holofoil"), [_price("demo", "holofoil", "market")], "holofoil"),  # the demo's price
        (("normal", "reverseHolofoil"),  # Cardmarket's card-level trend prices a normal copy
         [_price("tcgplayer", "reverseHolofoil", "market"), _price("cardmarket", "", "trend")], "normal"),
        (("holofoil", "reverseHolofoil"), [_price("cardmarket", "reverseHolofoil", "trend")], "reverseHolofoil"),
        (("normal", "reverseHolofoil"), [_price("tcgplayer", "reverseHolofoil", "low")], "normal"),  # not counted
        (("normal", "holofoil"), [], "normal"),
    ],
)  # fmt: skip
def test_the_form_offers_the_first_printing_the_valuation_would_price(
    session: Session, printings: tuple[str, ...], prices: list[tuple[str, str, str]], offered: str
) -> None:
    """The Catalog's preselected printing follows the valuation's card prices (VITRINE_CARD_PRICE_ORDER's
    sources and metrics, Cardmarket's card-level price for normal and holofoil copies, the demo's market)."""
    record_observations(session, [
        Observation("pokemontcg", "base1-4", source, variant, metric, "USD", Decimal("12.50"))
        for source, variant, metric in prices
    ])  # fmt: skip
    assert suggested_printing(session, "base1-4", printings) == offered
