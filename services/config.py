"""The one settings object: every configurable key, read and validated once, for the app, the command line
and the workers alike.

Where a value comes from, later wins: the defaults below < the environment < root keys of the Streamlit
secrets files (``~/.streamlit/secrets.toml``, then ``.streamlit/secrets.toml`` in the working directory, the
two places ``streamlit run`` reads) < ``overrides`` passed by a caller (tests, benches). Why secrets over
the environment: ``streamlit run`` copies root secrets into ``os.environ``, replacing what was there, so in
the app the file always wins; reading in the same order here makes ``python -m services`` and the workers see
exactly what the app sees (a club following the README gets one database, not two).

A malformed value is a :class:`SettingsError` whose one-line message names the key and where it came from
(never the value of a secret): the command line prints it and exits 2, the app shows it and stops.
This module never imports streamlit: the secrets files are plain TOML.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from services.card_prices import DEFAULT_PRICE_ORDER, parse_price_order
from services.errors import InvalidInput

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"
SECRETS_FILE = Path(".streamlit") / "secrets.toml"


class SettingsError(InvalidInput):
    """A configuration value that cannot be used: the app and the command line refuse to start."""

    code = "INVALID_SETTING"


# ----------------------------------------------------------------------------------------- value parsers
# Each takes the raw value (a string from the environment, or any TOML value) and returns the typed value,
# or raises ValueError with what the key must be.
Parser = Callable[[Any], Any]


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError("must be text")
    return str(value).strip()


def _url(value: Any) -> str:
    text = _text(value)
    if not re.match(r"^https?://[^/\s]+", text):
        raise ValueError("must be an http:// or https:// URL")
    return text.rstrip("/")


def _database_url(value: Any) -> str:
    text = _text(value)
    try:
        make_url(text)
    except ArgumentError:
        raise ValueError("must be an SQLAlchemy database URL, e.g. sqlite:///data/vitrine.db") from None
    return text


def _mode(value: Any) -> str:
    text = _text(value).lower()
    if text not in {"local", "club"}:
        raise ValueError("must be 'local' or 'club'")
    return text


def _currency(value: Any) -> str:
    text = _text(value).upper()
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise ValueError("must be a three-letter ISO 4217 code such as EUR")
    return text


def _fernet_key(value: Any) -> str:
    text = _text(value)
    try:
        valid = len(base64.urlsafe_b64decode(text.encode())) == 32
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise ValueError("must be a Fernet key (32 url-safe base64 bytes; see README Configuration)")
    return text


def _integer(low: int, high: int) -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not re.fullmatch(r"[+-]?\d{1,12}", str(value).strip()):
            raise ValueError(f"must be a whole number from {low} to {high:,}")
        number = int(str(value).strip())
        if not low <= number <= high:
            raise ValueError(f"must be a whole number from {low} to {high:,}")
        return number

    return parse


def _seconds(low: float, high: float) -> Parser:
    def parse(value: Any) -> float:
        try:
            number = float(str(value).strip()) if not isinstance(value, bool) else math.nan
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and low <= number <= high):
            raise ValueError(f"must be a number of seconds from {low:g} to {high:g}")
        return number

    return parse


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be 1 or 0 (true/false, yes/no, on/off)")


def _rate(value: Any) -> str:
    """A `limits` rate such as "60/minute" or "10 per second"."""
    from limits import parse

    text = _text(value)
    try:
        parse(text)
    except ValueError:
        raise ValueError('must be a rate such as "60/minute"') from None
    return text


def _networks(value: Any) -> tuple[IPv4Network | IPv6Network, ...]:
    """Addresses and CIDR blocks, comma- or space-separated (a TOML list works too): 10.0.0.5, 10.1.0.0/16, ::1."""
    parts = value if isinstance(value, (list, tuple)) else re.split(r"[,\s]+", _text(value))
    try:
        return tuple(ip_network(str(part).strip(), strict=False) for part in parts if str(part).strip())
    except ValueError:
        raise ValueError("must be IP addresses or CIDR blocks such as 10.0.0.5, 10.1.0.0/16") from None


def _price_order(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple(parse_price_order(_text(value)))


@dataclass(frozen=True)
class Key:
    """One configurable key: its name, the Settings field it fills, its parser and its default."""

    name: str
    field: str
    parse: Parser
    default: Any = None  # None: unset unless configured
    secret: bool = False  # never echoed in an error


KEYS: tuple[Key, ...] = (
    Key("DATABASE_URL", "database_url", _database_url, f"sqlite:///{DATA_DIR / 'vitrine.db'}"),
    Key("VITRINE_MODE", "mode", _mode, "local"),
    Key("VITRINE_CURRENCY", "currency", _currency, "EUR"),
    Key("VITRINE_SECRET_KEY", "secret_key", _fernet_key, secret=True),
    Key("NUMISTA_API_URL", "numista_api_url", _url, "https://api.numista.com/v3"),
    Key("DISCOGS_API_URL", "discogs_api_url", _url, "https://api.discogs.com"),
    Key("DISCOGS_AUTHORIZE_URL", "discogs_authorize_url", _url, "https://www.discogs.com/oauth/authorize"),
    Key("DISCOGS_CONSUMER_KEY", "discogs_consumer_key", _text, secret=True),
    Key("DISCOGS_CONSUMER_SECRET", "discogs_consumer_secret", _text, secret=True),
    Key("POKEMONTCG_API_URL", "pokemontcg_api_url", _url, "https://api.pokemontcg.io/v2"),
    Key("POKEMONTCG_API_KEY", "pokemontcg_api_key", _text, secret=True),
    Key("DISCOGS_RATE_LIMIT", "discogs_rate_limit", _integer(1, 10_000), 60),
    Key("DISCOGS_RATE_WINDOW", "discogs_rate_window", _seconds(1, 86_400), 60.0),
    Key("NUMISTA_RATE_LIMIT", "numista_rate_limit", _integer(1, 10_000), 45),
    Key("NUMISTA_RATE_WINDOW", "numista_rate_window", _seconds(1, 86_400), 60.0),
    Key("NUMISTA_MAX_CONCURRENCY", "numista_max_concurrency", _integer(0, 64), 1),
    # pokemontcg.io: 30/min is the documented cap without a key; a key lifts it (see load_settings).
    Key("POKEMONTCG_RATE_LIMIT", "pokemontcg_rate_limit", _integer(1, 10_000)),
    Key("POKEMONTCG_RATE_WINDOW", "pokemontcg_rate_window", _seconds(1, 86_400), 60.0),
    Key("HTTP_TIMEOUT", "http_timeout", _seconds(0.1, 600), 20.0),
    Key("HTTP_CONNECT_TIMEOUT", "http_connect_timeout", _seconds(0.1, 600), 5.0),
    Key("HTTP_MAX_RETRIES", "http_max_retries", _integer(0, 20), 4),
    Key("HTTP_BACKOFF_BASE", "http_backoff_base", _seconds(0, 60), 0.5),
    Key("HTTP_MAX_SLEEP", "http_max_sleep", _seconds(0, 3_600), 30.0),
    Key("VITRINE_CARD_PRICE_ORDER", "card_price_order", _price_order, DEFAULT_PRICE_ORDER),
    Key("VITRINE_BACKGROUND_WORKER", "background_worker", _flag, True),
    Key("VITRINE_WORKER_POLL", "worker_poll", _seconds(0.01, 3_600), 1.0),
    Key("VITRINE_WORKER_HEARTBEAT", "worker_heartbeat", _seconds(0.05, 3_600), 2.0),
    Key("VITRINE_WORKER_STALE_AFTER", "worker_stale_after", _seconds(0.1, 86_400), 30.0),
    Key("VITRINE_SYNC_SETTLE", "sync_settle", _seconds(0, 3_600), 5.0),
    Key("VITRINE_SYNC_MAX_ATTEMPTS", "sync_max_attempts", _integer(1, 100), 5),
    Key("ECB_RATES_URL", "ecb_rates_url", _url, "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip"),
    Key("VITRINE_RATES_FILE", "rates_file", _text, str(DATA_DIR / "eurofxref-hist.zip")),
    Key("VITRINE_IMPORT_MAX_ROWS", "import_max_rows", _integer(1, 100_000_000), 1_000_000),
    # Club sign-in cookie (streamlit-authenticator): HS256 key and lifetime; checked by cookie_key_problem().
    Key("VITRINE_COOKIE_KEY", "cookie_key", _text, secret=True),
    Key("VITRINE_COOKIE_DAYS", "cookie_expiry_days", _seconds(0.01, 365), 7.0),
    # Optional: rate limits shared by every process through Redis (else through the database).
    Key("REDIS_URL", "redis_url", _text, secret=True),
    # REST API (services/api): anonymous catalogue reads, and rate limits per token and per client IP.
    Key("VITRINE_API_PUBLIC_CATALOGUE", "api_public_catalogue", _flag, False),
    Key("VITRINE_API_RATE_CATALOGUE", "api_rate_catalogue", _rate, "60/minute"),
    Key("VITRINE_API_RATE_COLLECTION", "api_rate_collection", _rate, "30/minute"),
    # Reverse proxies whose X-Forwarded-For is believed (the client IP of per-IP limits); none by default.
    Key("VITRINE_TRUSTED_PROXIES", "trusted_proxies", _networks, ()),
    # Pictures: a bounded on-disk cache of thumbnails (services/images.py).
    Key("IMAGE_CACHE_DIR", "image_cache_dir", _text, str(DATA_DIR / "images")),
    Key("IMAGE_CACHE_MB", "image_cache_mb", _integer(1, 100_000), 200),
)
KEY_NAMES = frozenset(key.name for key in KEYS)


@dataclass(frozen=True)
class Settings:
    """Every configurable value, typed and validated (see KEYS and README Configuration)."""

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
    numista_rate_limit: int
    numista_rate_window: float
    numista_max_concurrency: int
    pokemontcg_rate_limit: int
    pokemontcg_rate_window: float
    http_timeout: float
    http_connect_timeout: float
    http_max_retries: int
    http_backoff_base: float
    http_max_sleep: float
    card_price_order: tuple[tuple[str, str], ...]
    background_worker: bool
    worker_poll: float
    worker_heartbeat: float
    worker_stale_after: float
    sync_settle: float
    sync_max_attempts: int
    ecb_rates_url: str
    rates_file: str
    import_max_rows: int  # data rows one import file may have
    cookie_key: str | None
    cookie_expiry_days: float
    redis_url: str | None
    api_public_catalogue: bool
    api_rate_catalogue: str
    api_rate_collection: str
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...]
    image_cache_dir: str
    image_cache_mb: int

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


def secrets_files(cwd: Path | None = None) -> list[Path]:
    """Where ``streamlit run`` looks for secrets by default, in the order it merges them (later wins)."""
    files = []
    with contextlib.suppress(RuntimeError):  # no home directory (some service accounts)
        files.append(Path.home() / SECRETS_FILE)
    files.append((cwd or Path.cwd()) / SECRETS_FILE)
    return list(dict.fromkeys(files))


def read_secrets(paths: Sequence[Path]) -> dict[str, tuple[Any, str]]:
    """Root keys of the existing files among PATHS (tables such as ``[auth]`` are Streamlit's own), each
    with the file it came from; a later file overrides an earlier one, as in Streamlit."""
    found: dict[str, tuple[Any, str]] = {}
    for path in paths:
        try:
            with path.open("rb") as handle:
                document = tomllib.load(handle)
        except FileNotFoundError:
            continue
        except tomllib.TOMLDecodeError as error:
            raise SettingsError(f"{path} is not valid TOML: {error}") from None
        except (OSError, UnicodeDecodeError) as error:
            raise SettingsError(f"{path} cannot be read: {error.__class__.__name__}") from None
        for name, value in document.items():
            if not isinstance(value, dict):
                found[name] = (value, str(path))
    return found


def load_settings(
    overrides: Mapping[str, object] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    secrets: Sequence[Path] | None = None,
) -> Settings:
    """Settings from defaults < environment < secrets files < OVERRIDES; SettingsError names a bad key.

    ``environ`` and ``secrets`` default to ``os.environ`` and :func:`secrets_files`; tests pass their own.
    Empty values count as unset.
    """
    environ = os.environ if environ is None else environ
    raw: dict[str, tuple[Any, str]] = {}
    for name in KEY_NAMES:
        if environ.get(name, "").strip():
            raw[name] = (environ[name], "environment")
    raw.update(
        (name, found)
        for name, found in read_secrets(secrets_files() if secrets is None else secrets).items()
        if name in KEY_NAMES and str(found[0]).strip()
    )
    for name, value in (overrides or {}).items():
        if name in KEY_NAMES and value not in (None, ""):
            raw[name] = (value, "overrides")
    values: dict[str, Any] = {}
    for key in KEYS:
        if key.name not in raw:
            values[key.field] = key.default
            continue
        value, source = raw[key.name]
        try:
            values[key.field] = key.parse(value)
        except ValueError as error:
            shown = key.name if key.secret else f"{key.name}={_short(value)}"
            raise SettingsError(f"Invalid setting {shown} (from {source}): {error}.") from None
    if values["pokemontcg_rate_limit"] is None:
        values["pokemontcg_rate_limit"] = 60 if values["pokemontcg_api_key"] else 30
    return Settings(**values)


def _short(value: Any) -> str:
    text = repr(str(value)) if not isinstance(value, (bool, int, float)) else repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


# ---------------------------------------------------------------------------------- the process's settings
_current: Settings | None = None


def use_settings(settings: Settings) -> Settings:
    """Make SETTINGS the ones services read without a context at hand (the card price order); every entry
    point does this through services.context.open_context."""
    global _current
    _current = settings
    return settings


def forget_settings() -> None:
    """Back to reading the configuration afresh (tests that change the environment between runs)."""
    global _current
    _current = None


def current_settings() -> Settings:
    """The settings of the running app, command or worker; loaded now when no entry point set them."""
    return _current if _current is not None else load_settings()


MIN_COOKIE_KEY_LENGTH = 32
_PLACEHOLDER_WORDS = ("change", "placeholder", "example", "secret", "your", "xxxx", "some_key", "replace", "todo")


def cookie_key_problem(key: str | None) -> str | None:
    """Why a club instance must not start with this cookie key, or None when it is fit to sign cookies.

    Anyone who knows the key can mint a sign-in cookie for any member, so a missing, short or copied-from-the-
    docs key is refused (the message never repeats the key)."""
    generate = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
    if not key:
        return f"Club mode needs VITRINE_COOKIE_KEY (environment or secrets.toml); {generate}."
    if len(key) < MIN_COOKIE_KEY_LENGTH:
        return f"VITRINE_COOKIE_KEY is too short (at least {MIN_COOKIE_KEY_LENGTH} characters); {generate}."
    if any(word in key.lower() for word in _PLACEHOLDER_WORDS) or len(set(key)) < 12:
        return f"VITRINE_COOKIE_KEY looks like a placeholder; {generate}."
    return None
