"""The 100,000-item mixed collection bench/scale.py measures: cards, coins and records of one member, with a
year of price observations (one per series and month) from the sources the valuation reads, in the shares
of issue 14 (60 % cards, 30 % coins, 10 % records). Written with bulk Core inserts: it is a bench fixture,
not an import (bench/import_*.py measure those).

The mix exercises every valuation rule: TCGplayer per printing and Cardmarket per card (reverse holo apart),
1st editions Cardmarket never prices, Numista per issue and grade, OpenNumismat catalogue values, Discogs
suggestions per condition and the "lowest" marketplace price, the member's own estimates in USD, GBP and in
a currency the ECB does not quote (unpriced), unpriced entries, sold items (not held) and purchase prices.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from services.accounts import create_user
from services.store.models import (
    DiscogsRelease,
    Item,
    LatestPrice,
    PokemonCard,
    PokemonSet,
    PriceObservation,
)

CARDS_PER_SET = 200
CONDITIONS = ("NM", "LP", "MP", "HP", "DMG")
PRINTINGS = ("normal", "holofoil", "reverseHolofoil", "1stEditionHolofoil")
COIN_GRADES = ("vf", "xf", "unc", "f")
RECORD_GRADES = ("Near Mint (NM or M-)", "Very Good Plus (VG+)", "Very Good (VG)")
COUNTRIES = ("France", "Germany", "Italy", "Spain", "Belgium", "Austria", "Greece", "Portugal", "Ireland", "Malta")
CHUNK = 20_000


@dataclass(frozen=True)
class ScaleCollection:
    owner_id: int
    items: int
    observations: int
    set_ids: tuple[str, ...]


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    for chunk in _chunks(rows):
        session.execute(insert(model.__table__), chunk)


def build(session: Session, items: int = 100_000, *, seed: int = 14, today: date | None = None) -> ScaleCollection:
    """Create the member `scale` and their collection; returns its size. The caller commits."""
    rng = random.Random(seed)
    today = today or datetime.now(UTC).date()
    owner = create_user(session, "scale", "scale bench password 1")
    cards, coins = items * 6 // 10, items * 3 // 10
    records = items - cards - coins
    months = [datetime(today.year, today.month, 1, 12, tzinfo=UTC) - timedelta(days=30 * back) for back in range(12)]
    series: list[tuple[tuple[str, str, str, str, str], str, Decimal]] = []  # (key, currency, base value)

    # Cards: one catalogue card per five entries (its five conditions), 200 cards per set.
    catalogue_cards = max(1, cards // len(CONDITIONS))
    set_count = max(1, -(-catalogue_cards // CARDS_PER_SET))
    set_ids = tuple(f"sc{n}" for n in range(set_count))
    _insert(session, PokemonSet, [
        {"id": set_id, "name": f"Scale set {n:03d}", "series": "Scale", "printed_total": CARDS_PER_SET - 20,
         "total": CARDS_PER_SET} for n, set_id in enumerate(set_ids)
    ])  # fmt: skip
    card_rows, item_rows = [], []
    for n in range(catalogue_cards):
        set_id, number = set_ids[n // CARDS_PER_SET], n % CARDS_PER_SET + 1
        card_id = f"{set_id}-{number}"
        printing = PRINTINGS[n % len(PRINTINGS)]
        card_rows.append({"id": card_id, "set_id": set_id, "name": f"Card {n}", "number": str(number),
                          "number_sort": f"{number:05d}", "number_value": number, "rarity": "Common",
                          "printings": [printing]})  # fmt: skip
        if n % 10 != 9:  # one card in ten has no TCGplayer price: Cardmarket (or nothing) stands in
            series.append((("pokemontcg", card_id, "tcgplayer", printing, "market"), "USD",
                           Decimal(rng.randint(10, 20_000)) / 100))  # fmt: skip
        if n % 3 == 0:
            variant = "reverseHolofoil" if printing == "reverseHolofoil" else ""
            series.append((("pokemontcg", card_id, "cardmarket", variant, "trend"), "EUR",
                           Decimal(rng.randint(10, 20_000)) / 100))  # fmt: skip
        for condition in CONDITIONS[: min(len(CONDITIONS), cards - len(item_rows))]:
            item_rows.append(_item(owner.id, "card", f"Card {n} ({condition})", rng, pokemontcg_card_id=card_id,
                                   printing=printing, grade=condition, grade_code=condition.lower()))  # fmt: skip
    _insert(session, PokemonCard, card_rows)

    # Coins: 3 coins per Numista issue and grade; a tenth valued from the OpenNumismat catalogue instead.
    for n in range(coins):
        grade = COIN_GRADES[n % len(COIN_GRADES)]
        issue = 10_000 + n // (3 * len(COIN_GRADES))
        item_rows.append(_item(owner.id, "coin", f"Coin {n}", rng, numista_type_id=issue, numista_issue_id=issue,
                               grade=grade.upper(), grade_code=grade, country=COUNTRIES[n % len(COUNTRIES)],
                               year=1950 + n % 70, series=f"Series {n % 40}"))  # fmt: skip
        if n % (3 * len(COIN_GRADES)) < len(COIN_GRADES):
            series.append((("numista_issue", str(issue), "numista", grade, "estimate"), "EUR",
                           Decimal(rng.randint(50, 50_000)) / 100))  # fmt: skip
    # Records: two copies per Discogs release; suggestions per condition for half, "lowest" for the rest.
    release_rows = []
    for n in range(records):
        release = 500_000 + n // 2
        grade = RECORD_GRADES[n % len(RECORD_GRADES)]
        if n % 2 == 0:
            release_rows.append({"id": release, "title": f"Album {n // 2}", "artist": f"Artist {n % 300}",
                                 "year": 1960 + n % 60, "formats": "Vinyl, LP"})  # fmt: skip
            if release % 2:
                for condition in RECORD_GRADES:
                    series.append((("discogs_release", str(release), "discogs", condition, "suggested"), "USD",
                                   Decimal(rng.randint(100, 30_000)) / 100))  # fmt: skip
            elif n % 10 != 4:  # a few releases have no price at all
                series.append((("discogs_release", str(release), "discogs", "", "lowest"), "EUR",
                               Decimal(rng.randint(100, 30_000)) / 100))  # fmt: skip
        item_rows.append(_item(owner.id, "record", f"Album {n // 2}", rng, discogs_release_id=release,
                               grade=grade, grade_code=grade, series=f"Label {n % 50}",
                               year=1960 + n % 60))  # fmt: skip
    _insert(session, DiscogsRelease, release_rows)
    _insert(session, Item, item_rows)

    # The member's own estimates (beat every catalogue), OpenNumismat values and demo-free extras, per item id.
    item_ids = session.execute(select(Item.id, Item.kind).where(Item.owner_id == owner.id).order_by(Item.id)).all()
    for position, (item_id, kind) in enumerate(item_ids):
        if position % 97 == 0:
            currency = ("USD", "GBP", "EUR", "ARS")[position % 4]  # ARS: no ECB rate, so unpriced
            series.append((("item", str(item_id), "manual", "", "estimate"), currency,
                           Decimal(rng.randint(100, 90_000)) / 100))  # fmt: skip
        elif kind == "coin" and position % 10 == 3:
            grade = COIN_GRADES[position % len(COIN_GRADES)]
            series.append((("item", str(item_id), "opennumismat", grade, "catalogue"), "EUR",
                           Decimal(rng.randint(50, 9_000)) / 100))  # fmt: skip

    observations = 0
    latest: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for (ref_kind, ref_id, source, variant, metric), currency, base in series:
        rows = []
        for index, month in enumerate(reversed(months)):  # oldest first; the last one is the latest price
            value = (base * Decimal(1 + (index - 6) * 0.02)).quantize(Decimal("0.01"))
            rows.append({"ref_kind": ref_kind, "ref_id": ref_id, "source": source, "variant": variant,
                         "metric": metric, "currency": currency, "value": value,
                         "observed_at": month + timedelta(days=rng.randint(0, 27), hours=rng.randint(0, 10))})
        rows.sort(key=lambda row: row["observed_at"])
        latest.append({**rows[-1]})
        pending.extend(rows)
        observations += len(rows)
        if len(pending) >= CHUNK:
            _insert(session, PriceObservation, pending)
            pending.clear()
    _insert(session, PriceObservation, pending)
    _insert(session, LatestPrice, latest)
    return ScaleCollection(owner.id, len(item_rows), observations, set_ids)


def _item(owner_id: int, kind: str, title: str, rng: random.Random, **fields: Any) -> dict[str, Any]:
    """One item row: mostly owned, some sold (not held), a third with a purchase price, some odd quantities."""
    roll = rng.random()
    row = {"owner_id": owner_id, "kind": kind, "title": title, "quantity": 1 + int(roll * 10) % 3,
           "status": "sold" if roll < 0.02 else ("wish" if roll < 0.03 else "owned"),
           "acquired_price": Decimal(rng.randint(50, 5_000)) / 100 if roll > 0.66 else None,
           "acquired_currency": ("EUR", "USD")[int(roll * 100) % 2] if roll > 0.66 else None,
           "storage_location": f"Box {int(roll * 40)}", "version": 1, **fields}  # fmt: skip
    for name in ("pokemontcg_card_id", "printing", "numista_type_id", "numista_issue_id", "discogs_release_id",
                 "country", "year", "series", "grade", "grade_code"):  # fmt: skip
        row.setdefault(name, None)
    return row
