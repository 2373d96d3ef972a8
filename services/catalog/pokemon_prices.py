"""pokemontcg.io price blocks → (source, variant, metric) price rows, and the configurable card price order.

Kept free of database and pricing imports so `services.pricing` can read the price order without a cycle.

Conventions (README "How values are estimated"):

* TCGplayer (USD) prices are per printing: variant = the printing key (normal, holofoil, reverseHolofoil,
  1stEditionHolofoil, ...), metric = low | mid | high | market | directLow.
* Cardmarket (EUR) gives one flat block per card, plus reverse-holo fields. Its card-level fields are stored
  with variant "" (the card itself), its reverseHolo* fields with variant "reverseHolofoil"; metric names drop
  the "Price"/"reverseHolo" decoration (trendPrice → trend, reverseHoloAvg7 → avg7).
* Cardmarket reports a missing value as 0 (germanProLow, suggestedPrice, reverse fields of non-reverse cards);
  a zero or negative price is never stored: "no price" must stay distinguishable from "worth nothing".
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

log = logging.getLogger(__name__)

TCGPLAYER_METRICS = ("market", "low", "mid", "high", "directLow")
# Cardmarket field → (variant, metric).
CARDMARKET_FIELDS: dict[str, tuple[str, str]] = {
    "trendPrice": ("", "trend"),
    "averageSellPrice": ("", "averageSell"),
    "lowPrice": ("", "low"),
    "lowPriceExPlus": ("", "lowExPlus"),
    "germanProLow": ("", "germanProLow"),
    "suggestedPrice": ("", "suggested"),
    "avg1": ("", "avg1"),
    "avg7": ("", "avg7"),
    "avg30": ("", "avg30"),
    "reverseHoloTrend": ("reverseHolofoil", "trend"),
    "reverseHoloSell": ("reverseHolofoil", "averageSell"),
    "reverseHoloLow": ("reverseHolofoil", "low"),
    "reverseHoloAvg1": ("reverseHolofoil", "avg1"),
    "reverseHoloAvg7": ("reverseHolofoil", "avg7"),
    "reverseHoloAvg30": ("reverseHolofoil", "avg30"),
}
CARDMARKET_METRICS = tuple(dict.fromkeys(metric for _variant, metric in CARDMARKET_FIELDS.values()))
# Printings Cardmarket's card-level prices stand for. 1st-edition copies are excluded on purpose: they sell
# for several times the unlimited price, so an unlimited figure would undervalue them badly.
CARDMARKET_CARD_PRINTINGS = ("normal", "holofoil", "unlimitedHolofoil")
PRICE_SOURCES = {"tcgplayer": ("USD", TCGPLAYER_METRICS), "cardmarket": ("EUR", CARDMARKET_METRICS)}

PRICE_ORDER_ENV = "VITRINE_CARD_PRICE_ORDER"
DEFAULT_PRICE_ORDER: tuple[tuple[str, str], ...] = (
    ("tcgplayer", "market"),
    ("tcgplayer", "mid"),
    ("cardmarket", "trend"),
)

PriceRow = tuple[str, str, str, str, Decimal, datetime | None]  # source, variant, metric, currency, value, at


def parse_price_date(text: Any) -> datetime | None:
    """'2025/11/14' (the API's price-block format) or ISO → midnight UTC of that day; None if unreadable."""
    if not isinstance(text, str) or not text.strip():
        return None
    cleaned = text.strip().replace("/", "-")[:10]
    try:
        return datetime.strptime(cleaned, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount <= 0:
        return None
    return amount.quantize(Decimal("0.01"))


def price_rows(card: dict[str, Any]) -> list[PriceRow]:
    """Every price a card JSON carries, one row per (source, variant, metric)."""
    rows: list[PriceRow] = []
    tcgplayer = card.get("tcgplayer") or {}
    observed = parse_price_date(tcgplayer.get("updatedAt"))
    for printing, block in (tcgplayer.get("prices") or {}).items():
        if not isinstance(block, dict):
            continue
        for metric in TCGPLAYER_METRICS:
            amount = _amount(block.get(metric))
            if amount is not None:
                rows.append(("tcgplayer", str(printing)[:60], metric, "USD", amount, observed))
    cardmarket = card.get("cardmarket") or {}
    observed = parse_price_date(cardmarket.get("updatedAt"))
    for field, value in (cardmarket.get("prices") or {}).items():
        mapped = CARDMARKET_FIELDS.get(field)
        amount = _amount(value)
        if mapped is not None and amount is not None:
            rows.append(("cardmarket", mapped[0], mapped[1], "EUR", amount, observed))
    return rows


def parse_price_order(text: str | None) -> list[tuple[str, str]]:
    """'cardmarket:trend, tcgplayer:market' → [("cardmarket", "trend"), ("tcgplayer", "market")].

    Unknown entries are skipped with a warning (a typo in the environment must not take the dashboard
    down); an empty or entirely invalid value falls back to the default order.
    """
    if not text or not text.strip():
        return list(DEFAULT_PRICE_ORDER)
    order: list[tuple[str, str]] = []
    for entry in text.split(","):
        source, _, metric = entry.strip().partition(":")
        source = source.strip().lower()
        metric = metric.strip() or "market"
        known = PRICE_SOURCES.get(source)
        if known is None or metric not in known[1]:
            log.warning("%s: ignoring unknown price %r", PRICE_ORDER_ENV, entry.strip())
            continue
        if (source, metric) not in order:
            order.append((source, metric))
    return order or list(DEFAULT_PRICE_ORDER)


def card_price_order() -> list[tuple[str, str]]:
    """The catalogue prices valuation tries for a card, first found wins (after the user's own estimate)."""
    return parse_price_order(os.environ.get(PRICE_ORDER_ENV))
