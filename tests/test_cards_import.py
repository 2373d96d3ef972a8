"""TCGplayer app and Collectr CSV exports: matched / ambiguous / unmatched preview, the user's picks, commit in
the caller's one transaction, re-import, and the values the rows bring (paid price, own estimate, wishlist)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from services.errors import InvalidInput
from services.importers.cards_csv import import_cards_csv, read_cards_csv
from services.integrations.pokemontcg.catalog import load_offline_snapshot
from services.pricing import valuation
from services.store.db import session_scope
from services.store.models import Item, User

TCGPLAYER = """\ufeffQuantity,Name,Simple Name,Set,Card Number,Set Code,External ID,Printing,Condition,Language,Rarity,\
Product ID,SKU,Price,Price Each
2,Charizard,Charizard,Base Set,4/102,BS,,Holofoil,Near Mint,English,Holo Rare,42382,1001,$700.00,$350.00
1,Dark Raichu,Dark Raichu,Team Rocket,83/82,TR,,Holofoil,Lightly Played Holofoil,English,Secret Rare,1,1002,,
1,Nest Ball,Nest Ball,SV01: Scarlet & Violet Base Set,,SVI,,Normal,Near Mint,English,Uncommon,2,1003,$0.25,$0.25
3,Pikachu,Pikachu,SV01: Scarlet & Violet Base Set,999/198,SVI,,Normal,Near Mint,English,Common,3,1004,,
1,Blastoise,Blastoise,Base Set,002/102,BS,,Normal,Near Mint Foil,English,Holo Rare,4,1005,,
1,Venusaur (Shadowless),Venusaur,Base Set,15/102,BS,,Holofoil,Damaged,Japanese,Holo Rare,5,1006,,
lots,Bulbasaur,Bulbasaur,Base Set,44/102,BS,,Normal,Near Mint,English,Common,6,1007,,
1,Base Set Booster Box,Base Set Booster Box,Base Set,,,,Normal,Unopened,English,,7,1008,,
"""
COLLECTR = """Portfolio Name,Category,Set,Product Name,Card Number,Rarity,Variance,Grade,Card Condition,\
Average Cost Paid,Quantity,Market Price (As of 2025-11-14),Price Override,Watchlist,Date Added,Notes
Main,Pokemon,Team Rocket,Dark Charizard,4/82,Holo Rare,Holofoil,Ungraded,Near Mint,$45.00,1,$120.00,,false,\
2024-03-02,first pack at the café
Main,Pokemon,Scarlet & Violet Black Star Promos,Pikachu,027,Promo,Holofoil,PSA 10,,,1,$30.00,$500.00,false,\
2024-05-01,slabbed
Main,Pokemon,Scarlet & Violet,Charizard ex,999/198,Special Illustration Rare,Holofoil,Ungraded,Near Mint,,1,,,false,,
Main,Magic: The Gathering,Alpha,Black Lotus,232,Rare,Normal,Ungraded,Near Mint,,1,,,false,,
Main,Pokemon,Scarlet & Violet,Scarlet & Violet Booster Box,,,Normal,Ungraded,,,1,$150.00,,false,,
Wants,Pokemon,Base,Charizard,4/102,Holo Rare,Holofoil,Ungraded,Near Mint,,0,$350.00,,true,,
Main,Pokemon,SV: Scarlet & Violet Promo Cards,Pikachu,088,Promo,Holofoil,Ungraded,Lightly Played,"1,50",2,,,false,\
11/20/2024,
"""


@pytest.fixture
def catalogue(session: Session) -> Session:
    load_offline_snapshot(session)
    return session


def outcome(report, row: int):  # type: ignore[no-untyped-def]
    return next(o for o in report.rows if o.row.row == row)


def test_tcgplayer_preview_sorts_rows_into_matched_ambiguous_unmatched(catalogue: Session, owner: User) -> None:
    preview = import_cards_csv(catalogue, owner.id, TCGPLAYER.encode(), dry_run=True)
    assert preview.format == "tcgplayer"
    statuses = {o.row.row: (o.status, o.card_id) for o in preview.rows}
    assert statuses == {
        2: ("matched", "base1-4"),  # "Base Set" is pokemontcg.io's "Base"
        3: ("matched", "base5-83"),  # a secret rare numbered above the printed total
        4: ("ambiguous", None),  # two Nest Balls in sv1 and no number
        5: ("unmatched", None),
        6: ("matched", "base1-2"),  # "002" is 2
        7: ("matched", "base1-15"),  # variant text in Name, Simple Name is the card
        8: ("invalid", None),
        9: ("skipped", None),  # sealed
    }
    assert outcome(preview, 4).candidates == ["sv1-181", "sv1-255"]
    assert (outcome(preview, 3).row.condition, outcome(preview, 3).printing) == ("LP", "holofoil")
    assert outcome(preview, 6).printing == "holofoil"  # "Near Mint Foil" on a holo rare
    assert (outcome(preview, 7).row.condition, outcome(preview, 7).row.language) == ("DMG", "ja")
    document = preview.to_json()
    assert {k: document[k] for k in ("created", "updated", "unchanged", "skipped")} == {
        "created": 4, "updated": 0, "unchanged": 0, "skipped": 1
    }  # fmt: skip
    assert [e["row"] for e in document["errors"]] == [4, 5, 8]
    assert "sv1-181" in document["errors"][0]["reason"] and "quantity" in document["errors"][2]["reason"]
    assert document["matching"] == {"matched": 4, "ambiguous": 1, "unmatched": 1, "skipped": 1, "invalid": 1}
    assert catalogue.scalar(select(func.count()).select_from(Item)) == 0  # a preview writes nothing


def test_commit_with_the_users_pick_then_reimport(catalogue: Session, owner: User) -> None:
    report = import_cards_csv(catalogue, owner.id, TCGPLAYER, choices={4: "sv1-255", 5: None})
    assert (report.created, report.skipped, [e["row"] for e in report.errors]) == (5, 2, [8])
    items = {i.pokemontcg_card_id: i for i in catalogue.scalars(select(Item).where(Item.owner_id == owner.id))}
    assert set(items) == {"base1-4", "base5-83", "sv1-255", "base1-2", "base1-15"}
    charizard = items["base1-4"]
    assert (charizard.quantity, charizard.grade, charizard.printing, charizard.origin_source) == (
        2, "NM", "holofoil", "tcgplayer"
    )  # fmt: skip
    assert charizard.title == "Charizard (Base 4)" and charizard.details["source"]["Price Each"] == "$350.00"
    assert items["sv1-255"].printing == "normal"

    again = import_cards_csv(catalogue, owner.id, TCGPLAYER, choices={4: "sv1-255", 5: None})
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    charizard.notes = "my own note"  # a user's edit survives a re-import of a changed file
    changed = TCGPLAYER.replace("2,Charizard,Charizard,Base Set", "3,Charizard,Charizard,Base Set")
    third = import_cards_csv(catalogue, owner.id, changed, choices={4: "sv1-255", 5: None})
    assert (third.created, third.updated, third.unchanged) == (0, 1, 4)
    assert (charizard.quantity, charizard.notes) == (3, "my own note")


def test_an_import_is_one_transaction_of_the_caller(engine: Engine, owner: User, session: Session) -> None:
    load_offline_snapshot(session)
    session.commit()
    with pytest.raises(RuntimeError), session_scope(engine) as importing:
        report = import_cards_csv(importing, owner.id, TCGPLAYER)
        assert report.created == 4
        raise RuntimeError("the user closed the tab")  # the caller's transaction fails after the import
    with session_scope(engine) as check:
        assert check.scalar(select(func.count()).select_from(Item)) == 0


def test_progress_is_told_the_rows_read_after_each_batch(
    catalogue: Session, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    import services.importers.cards_csv as cards_csv

    monkeypatch.setattr(cards_csv, "BATCH_ROWS", 3)
    told: list[int] = []
    report = import_cards_csv(catalogue, owner.id, TCGPLAYER, progress=told.append)
    rows = sum(report.matching.values())
    assert rows > 3 and told == [*range(3, rows, 3), rows]


def test_collectr_rows_bring_paid_price_estimate_and_wishlist(catalogue: Session, owner: User) -> None:
    report = import_cards_csv(catalogue, owner.id, COLLECTR.encode("cp1252"), currency="USD")
    assert report.format == "collectr"
    statuses = {o.row.row: (o.status, o.card_id) for o in report.rows}
    assert statuses == {
        2: ("matched", "base5-4"),
        3: ("matched", "svp-27"),  # "027" is 27
        4: ("unmatched", None),
        5: ("skipped", None),  # not Pokémon
        6: ("skipped", None),  # sealed
        7: ("matched", "base1-4"),  # a watchlist row
        8: ("matched", "svp-88"),  # unknown set name, but one Pikachu 88 in a set sharing its words
    }
    items = {i.pokemontcg_card_id: i for i in catalogue.scalars(select(Item).where(Item.owner_id == owner.id))}
    dark = items["base5-4"]
    assert (str(dark.acquired_price), dark.acquired_currency, str(dark.acquired_date), dark.notes) == (
        "45.00", "USD", "2024-03-02", "first pack at the café"
    )  # fmt: skip  (the file is cp1252, as Excel saves it)
    assert items["base1-4"].status == "wish" and items["base1-4"].quantity == 1
    assert (items["svp-88"].grade, items["svp-88"].quantity, str(items["svp-88"].acquired_price)) == ("LP", 2, "1.50")
    assert items["svp-27"].details["source"]["Grade"] == "PSA 10"
    value = valuation(catalogue, owner.id, "USD").to_json()
    assert value["totalEstimatedValue"] == 500.0  # the override is the user's own estimate; nothing else priced
    assert value["itemsWithoutPrice"] == 2 and value["totalItems"] == 1 + 1 + 2  # the wish is not held


def test_a_reimport_clears_what_the_file_cleared_and_keeps_the_members_edits(catalogue: Session, owner: User) -> None:
    """The one re-import rule (services/importers/merge.py), as OpenNumismat and Discogs imports apply it."""
    import_cards_csv(catalogue, owner.id, COLLECTR, currency="USD")
    items = {i.pokemontcg_card_id: i for i in catalogue.scalars(select(Item).where(Item.owner_id == owner.id))}
    items["base5-4"].storage_location = "binder 2"  # the member's own edit, a field the file never gives
    assert valuation(catalogue, owner.id, "USD").value == 500
    cleared = (COLLECTR.replace("2024-03-02,first pack at the café", "2024-03-02,")  # notes cleared
               .replace("PSA 10,,,1,$30.00,$500.00,false", "PSA 10,,,1,$30.00,,false"))  # override withdrawn
    again = import_cards_csv(catalogue, owner.id, cleared, currency="USD")
    assert (again.created, again.updated) == (0, 2)
    refreshed = {i.pokemontcg_card_id: i for i in catalogue.scalars(select(Item).where(Item.owner_id == owner.id))}
    dark = refreshed["base5-4"]
    assert (dark.notes, dark.storage_location, str(dark.acquired_price)) == (None, "binder 2", "45.00")
    assert dark.details["_imported"]["notes"] is None and dark.details["source"]["Notes"] == ""
    assert valuation(catalogue, owner.id, "USD").value == 0  # the own estimate is withdrawn
    third = import_cards_csv(catalogue, owner.id, cleared, currency="USD")
    assert (third.created, third.updated, third.unchanged) == (0, 0, 4)


def test_files_that_are_not_exports_are_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        read_cards_csv("a,b,c\n1,2,3\n")
    assert refused.value.code == "UNKNOWN_CSV_FORMAT"
    with pytest.raises(InvalidInput):
        read_cards_csv(b"")
    kind, rows = read_cards_csv("Quantity;Simple Name;Set;Card Number;Printing;Condition\n1;Mew;Base;1;Holo;NM\n")
    assert kind == "tcgplayer" and rows[0].name == "Mew" and rows[0].printing == "holofoil"
