"""pokemontcg.io price blocks → (source, variant, metric) price rows (the sources and metrics themselves are
the generic valuation rules of ``services.card_prices``).

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
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from services.card_prices import CARDMARKET_FIELDS, TCGPLAYER_METRICS

log = logging.getLogger(__name__)

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
