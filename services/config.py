"""Typed settings built from the environment (or a mapping such as st.secrets).

One place reads configuration so every layer (pages, CLI, worker, tests) agrees on it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"

DEFAULTS: dict[str, str] = {
    "DATABASE_URL": f"sqlite:///{DATA_DIR / 'vitrine.db'}",
    "VITRINE_MODE": "local",
    "VITRINE_CURRENCY": "EUR",
    "NUMISTA_API_URL": "https://api.numista.com/v3",
    "DISCOGS_API_URL": "https://api.discogs.com",
    "DISCOGS_AUTHORIZE_URL": "https://www.discogs.com/oauth/authorize",
    "POKEMONTCG_API_URL": "https://api.pokemontcg.io/v2",
    "DISCOGS_RATE_LIMIT": "60",
    "DISCOGS_RATE_WINDOW": "60",
    "HTTP_TIMEOUT": "20",
    "HTTP_MAX_RETRIES": "4",
    "HTTP_CONNECT_TIMEOUT": "5",
    "HTTP_BACKOFF_BASE": "0.5",
    "HTTP_MAX_SLEEP": "30",
    "NUMISTA_RATE_LIMIT": "45",
    "NUMISTA_RATE_WINDOW": "60",
    "NUMISTA_MAX_CONCURRENCY": "1",
    "POKEMONTCG_RATE_WINDOW": "60",
    "IMAGE_CACHE_DIR": str(DATA_DIR / "images"),
    "IMAGE_CACHE_MB": "200",
}


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with DESIGN.md's names and defaults."""

    database_url: str
    mode: str
    currency: str
    secret_key: str | None
    numista_api_url: str
    discogs_api_url: str
    discogs_authorize_url: str
    discogs_consumer_key: str | None
    discogs_consumer_secret: str | None
    pokemontcg_api_url: str
    pokemontcg_api_key: str | None
    discogs_rate_limit: int
    discogs_rate_window: float
    http_timeout: float
    http_max_retries: int
    # Added for services/http (defaults keep older callers that build Settings by hand working).
    http_connect_timeout: float = 5.0
    http_backoff_base: float = 0.5
    http_max_sleep: float = 30.0
    numista_rate_limit: int = 45
    numista_rate_window: float = 60.0
    numista_max_concurrency: int = 1
    pokemontcg_rate_limit: int = 30
    pokemontcg_rate_window: float = 60.0
    image_cache_dir: str = str(DATA_DIR / "images")
    image_cache_mb: int = 200

    @property
    def club_mode(self) -> bool:
        return self.mode == "club"

    def __repr__(self) -> str:  # never print secrets
        return f"Settings(database_url={_redact_url(self.database_url)!r}, mode={self.mode!r})"


def _redact_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def load_settings(overrides: Mapping[str, object] | None = None) -> Settings:
    """Build settings from defaults < environment < overrides (e.g. root keys of st.secrets)."""
    values: dict[str, str] = dict(DEFAULTS)
    for key in [
        *DEFAULTS,
        "VITRINE_SECRET_KEY",
        "DISCOGS_CONSUMER_KEY",
        "DISCOGS_CONSUMER_SECRET",
        "POKEMONTCG_API_KEY",
        "POKEMONTCG_RATE_LIMIT",
    ]:
        if os.environ.get(key):
            values[key] = os.environ[key]
        if overrides and overrides.get(key) not in (None, ""):
            values[key] = str(overrides[key])
    mode = values["VITRINE_MODE"].strip().lower()
    if mode not in {"local", "club"}:
        raise ValueError(f"VITRINE_MODE must be 'local' or 'club', not {mode!r}")
    return Settings(
        database_url=values["DATABASE_URL"],
        mode=mode,
        currency=values["VITRINE_CURRENCY"].upper(),
        secret_key=values.get("VITRINE_SECRET_KEY"),
        numista_api_url=values["NUMISTA_API_URL"].rstrip("/"),
        discogs_api_url=values["DISCOGS_API_URL"].rstrip("/"),
        discogs_authorize_url=values["DISCOGS_AUTHORIZE_URL"],
        discogs_consumer_key=values.get("DISCOGS_CONSUMER_KEY"),
        discogs_consumer_secret=values.get("DISCOGS_CONSUMER_SECRET"),
        pokemontcg_api_url=values["POKEMONTCG_API_URL"].rstrip("/"),
        pokemontcg_api_key=values.get("POKEMONTCG_API_KEY"),
        discogs_rate_limit=int(values["DISCOGS_RATE_LIMIT"]),
        discogs_rate_window=float(values["DISCOGS_RATE_WINDOW"]),
        http_timeout=float(values["HTTP_TIMEOUT"]),
        http_max_retries=int(values["HTTP_MAX_RETRIES"]),
        http_connect_timeout=float(values["HTTP_CONNECT_TIMEOUT"]),
        http_backoff_base=float(values["HTTP_BACKOFF_BASE"]),
        http_max_sleep=float(values["HTTP_MAX_SLEEP"]),
        numista_rate_limit=int(values["NUMISTA_RATE_LIMIT"]),
        numista_rate_window=float(values["NUMISTA_RATE_WINDOW"]),
        numista_max_concurrency=int(values["NUMISTA_MAX_CONCURRENCY"]),
        # pokemontcg.io: 30/min is the documented cap without a key; a key lifts it (20,000/day).
        pokemontcg_rate_limit=int(
            values.get("POKEMONTCG_RATE_LIMIT") or (60 if values.get("POKEMONTCG_API_KEY") else 30)
        ),
        pokemontcg_rate_window=float(values["POKEMONTCG_RATE_WINDOW"]),
        image_cache_dir=values["IMAGE_CACHE_DIR"],
        image_cache_mb=int(values["IMAGE_CACHE_MB"]),
    )
