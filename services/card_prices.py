"""Which catalogue prices value a card, in which order: the price sources cards are valued from (TCGplayer per
printing, Cardmarket per card) and the configurable order (``VITRINE_CARD_PRICE_ORDER``).

A generic valuation rule, not part of any integration: ``services.pricing`` reads it, and the pokemontcg.io
integration stores its observations under these source and metric names.
"""

from __future__ import annotations

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
# The Cardmarket variant that values an entry of each printing (its card-level series "", its reverse-holo one);
# a printing not listed here has no Cardmarket price.
CARDMARKET_VARIANT_OF = {**dict.fromkeys(CARDMARKET_CARD_PRINTINGS, ""), "reverseHolofoil": "reverseHolofoil"}
DEMO_CARD_PRICE = ("demo", "market")  # (source, metric) of the demo collection's sample card prices, per printing


def card_price_variant(source: str, printing: str) -> str | None:
    """The variant of a card's ``source`` price that values an entry of ``printing`` (None: none does):
    Cardmarket's by CARDMARKET_VARIANT_OF, every other source's the printing itself."""
    return CARDMARKET_VARIANT_OF.get(printing) if source == "cardmarket" else printing
PRICE_SOURCES = {"tcgplayer": ("USD", TCGPLAYER_METRICS), "cardmarket": ("EUR", CARDMARKET_METRICS)}

DEFAULT_PRICE_ORDER: tuple[tuple[str, str], ...] = (
    ("tcgplayer", "market"),
    ("tcgplayer", "mid"),
    ("cardmarket", "trend"),
)


def parse_price_order(text: str | None) -> list[tuple[str, str]]:
    """'cardmarket:trend, tcgplayer:market' → [("cardmarket", "trend"), ("tcgplayer", "market")]; empty → the
    default order. An unknown entry is a ValueError (``VITRINE_CARD_PRICE_ORDER`` is checked when the
    settings load, services.config): a typo must not silently value a collection differently."""
    if not text or not text.strip():
        return list(DEFAULT_PRICE_ORDER)
    order: list[tuple[str, str]] = []
    for entry in text.split(","):
        source, _, metric = entry.strip().partition(":")
        source = source.strip().lower()
        metric = metric.strip() or "market"
        known = PRICE_SOURCES.get(source)
        if known is None or metric not in known[1]:
            choices = "; ".join(f"{name}: {', '.join(metrics)}" for name, (_cur, metrics) in PRICE_SOURCES.items())
            raise ValueError(f"unknown price {entry.strip()!r} (known: {choices})")
        if (source, metric) not in order:
            order.append((source, metric))
    return order
