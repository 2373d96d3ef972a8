"""Money in the right currency: ECB reference rates, each observation at its own day's rate, no 1:1 guesses,
and a refresh that really downloads (from a loopback server standing in for the ECB)."""

from __future__ import annotations

import http.server
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from services.accounts import create_user
from services.accounts.users import set_currency
from services.collection import add_item
from services.context import open_context
from services.demo import load_demo
from services.errors import InvalidInput
from services.exchange_rates import RatesSource, current_rates
from services.labels import day
from services.pricing import Observation, record_observations, unit_prices, valuation, value_history
from services.store.models import User
from tests.rates_support import last_fixing, per_euro
from tests.test_cli import run, run_json
from tests.test_pages import APP


def _manual(item_id: int, currency: str, value: str, day: date) -> Observation:
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return Observation("item", str(item_id), "manual", "", "estimate", currency, Decimal(value), at)


def test_the_demo_shown_in_yen_is_converted(session: Session, owner: User) -> None:
    load_demo(session, owner.id)
    in_euros = valuation(session, owner.id, "EUR").to_json()
    set_currency(session, owner.id, "JPY")
    in_yen = valuation(session, owner.id, "JPY").to_json()
    assert in_yen["currency"] == "JPY" and in_yen["rateDate"] == last_fixing().isoformat()
    # Conversion is linear: the yen total is the euro total at the newest EUR/JPY fixing (never 1:1).
    expected = Decimal(str(in_euros["totalEstimatedValue"])) * per_euro("JPY")
    assert in_yen["totalEstimatedValue"] == pytest.approx(float(expected), abs=1.0)
    assert in_yen["totalEstimatedValue"] > 100 * in_euros["totalEstimatedValue"]
    assert in_yen["itemsWithoutPrice"] == in_euros["itemsWithoutPrice"] and in_yen["itemsWithoutRate"] == 0
    history = [point.to_json() for point in value_history(session, owner.id, "JPY")]
    assert history[-1]["estimatedValue"] > 100 * value_history(session, owner.id, "EUR")[-1].value


def test_value_json_in_yen_through_the_command_line(app_env: str) -> None:
    run_json("demo", "load")
    euros = run_json("value")
    context = open_context()
    with context.session() as session:
        set_currency(session, 1, "JPY")
    yen = run_json("value")
    assert (yen["currency"], yen["rateDate"]) == ("JPY", last_fixing().isoformat())
    assert yen["totalEstimatedValue"] == pytest.approx(euros["totalEstimatedValue"] * float(per_euro("JPY")), abs=1.0)
    summary = run("value").stdout
    assert "JPY" in summary and f"ECB reference rates of {last_fixing().isoformat()}" in summary


def test_history_converts_each_observation_at_its_own_days_rate(session: Session, owner: User) -> None:
    coin = add_item(session, owner.id, kind="coin", title="Morgan dollar", grade_code="xf")
    friday, saturday, january = date(2024, 6, 14), date(2024, 6, 15), date(2025, 1, 15)
    record_observations(
        session,
        [
            _manual(coin.id, "USD", "100", friday),
            _manual(coin.id, "USD", "200", saturday),  # no fixing on a Saturday: Friday's rate
            _manual(coin.id, "USD", "100", january),
        ],
    )
    history = [point.to_json() for point in value_history(session, owner.id, "EUR")]
    june_rate, january_rate, latest_rate = per_euro("USD", friday), per_euro("USD", january), per_euro("USD")
    assert len({june_rate, january_rate, latest_rate}) == 3  # three different rates: the test can tell them apart
    assert history == [
        {"month": "2024-06", "estimatedValue": float(round(150 / june_rate, 2)), "entries": 1},
        {"month": "2025-01", "estimatedValue": float(round(100 / january_rate, 2)), "entries": 1},
    ]
    # Today's value: the newest observation at the newest fixing.
    assert valuation(session, owner.id, "EUR").to_json()["totalEstimatedValue"] == float(round(100 / latest_rate, 2))
    assert unit_prices(session, owner.id, [coin.id], "GBP") == {
        coin.id: pytest.approx(Decimal(100) * per_euro("GBP") / latest_rate)
    }


def test_a_currency_without_a_rate_is_unpriced_never_one_to_one(session: Session, owner: User) -> None:
    euro_coin = add_item(session, owner.id, kind="coin", title="2 euro", grade_code="unc")
    invented = add_item(session, owner.id, kind="coin", title="token", grade_code="unc", quantity=3)
    kuna = add_item(session, owner.id, kind="coin", title="5 kuna", grade_code="unc")
    record_observations(
        session,
        [
            _manual(euro_coin.id, "EUR", "10", date(2026, 11, 2)),
            _manual(invented.id, "XYZ", "1000", date(2026, 11, 2)),
            _manual(kuna.id, "HRK", "75", date(2020, 3, 2)),  # quoted then; the ECB stopped in 2022
        ],
    )
    report = valuation(session, owner.id, "EUR").to_json()
    assert report["totalEstimatedValue"] == 10.0
    assert report["itemsWithoutPrice"] == 2 and report["itemsWithoutRate"] == 2
    assert report["currenciesWithoutRate"] == ["HRK", "XYZ"]
    assert report["byKind"]["coin"] == {"items": 5, "estimatedValue": 10.0, "itemsWithoutPrice": 2}
    assert unit_prices(session, owner.id, [euro_coin.id, invented.id, kuna.id], "EUR") == {euro_coin.id: Decimal(10)}
    history = {point.month.strftime("%Y-%m"): point.to_json() for point in value_history(session, owner.id, "EUR")}
    assert history["2020-03"]["estimatedValue"] == float(round(75 / per_euro("HRK", date(2020, 3, 2)), 2))
    assert history["2026-11"] == {"month": "2026-11", "estimatedValue": 10.0, "entries": 1}  # no XYZ in it


def test_a_stored_display_currency_without_a_rate_never_crashes(session: Session, owner: User) -> None:
    coin = add_item(session, owner.id, kind="coin", title="2 euro", grade_code="unc")
    record_observations(session, [_manual(coin.id, "EUR", "10", date(2026, 11, 2))])
    owner.currency = "XYZ"  # stored before display currencies were checked
    report = valuation(session, owner.id, owner.currency).to_json()
    assert report["totalEstimatedValue"] == 0.0 and report["itemsWithoutPrice"] == 1
    assert report["currenciesWithoutRate"] == ["XYZ"]
    assert value_history(session, owner.id, owner.currency) == []


@pytest.mark.parametrize("code", ["XYZ", "HRK", "BGN", "jpyy", ""])
def test_a_display_currency_needs_an_ecb_rate(session: Session, owner: User, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        set_currency(session, owner.id, code)
    assert refused.value.code == "INVALID_CURRENCY" and "\n" not in refused.value.message
    with pytest.raises(InvalidInput):
        create_user(session, "zed", "long enough password", currency=code)
    set_currency(session, owner.id, "JPY")
    assert session.get(User, owner.id).currency == "JPY"


def test_settings_page_offers_only_currencies_with_a_rate(app_env: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/settings.py").run()
    assert not at.exception, at.exception
    options = at.selectbox(key="settings_currency").options
    assert "JPY" in options and "USD" in options and "EUR" in options
    assert not {"XYZ", "HRK", "RUB", "BGN"} & set(options)
    assert any(f"ECB reference rates of {day(last_fixing())}" in c.value for c in at.caption)
    at.selectbox(key="settings_currency").select("JPY").run()
    at.button(key="save_currency").click().run()
    assert not at.exception, at.exception
    with open_context().session() as session:
        assert session.get(User, 1).currency == "JPY"
    at.switch_page("pages/overview.py").run()
    at.button(key="load_demo").click().run()
    assert not at.exception, at.exception
    shown = {metric.label: metric.value for metric in at.metric}["Estimated value"]
    assert shown.endswith(" JPY") and float(shown.split()[0].replace(",", "")) > 100_000  # not 1,560.24 JPY
    assert any(f"to JPY at the ECB reference rates of {day(last_fixing())}" in c.value for c in at.caption)


# -- refresh from the ECB (a loopback server serving a small history file) ---------------------------------

SMALL_HISTORY = (
    "Date,USD,JPY,GBP,\n"
    "2026-11-27,1.2500,180.00,0.8000,\n"
    "2026-11-26,1.2000,179.00,0.7900,\n"
)


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("eurofxref-hist.csv", text)
    return buffer.getvalue()


class FakeEcb:
    def __init__(self) -> None:
        self.body = _zip(SMALL_HISTORY)
        self.requests: list[dict[str, str]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append({"path": self.path, "user-agent": self.headers.get("User-Agent", "")})
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(fake.body)))
                self.end_headers()
                self.wfile.write(fake.body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stats/eurofxref/eurofxref-hist.zip"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_ecb(app_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEcb]:
    server = FakeEcb()
    monkeypatch.setenv("ECB_RATES_URL", server.url)
    monkeypatch.setenv("VITRINE_RATES_FILE", str(tmp_path / "data" / "eurofxref-hist.zip"))
    monkeypatch.setenv("HTTP_MAX_RETRIES", "0")
    yield server
    server.stop()


def test_refresh_downloads_the_ecb_file_and_uses_it(fake_ecb: FakeEcb, tmp_path: Path) -> None:
    coin_value = 100  # USD
    run_json("items", "add", "coin", "Morgan dollar", "--grade", "XF")
    with open_context().session() as session:
        record_observations(session, [_manual(1, "USD", str(coin_value), date(2026, 11, 27))])
    before = run_json("value")
    assert before["rateDate"] == last_fixing().isoformat()

    refreshed = run("prices", "rates", "--refresh", "--json")
    assert refreshed.returncode == 0, refreshed.stderr
    document = json.loads(refreshed.stdout)
    assert document["refreshed"] is True and document["rateDate"] == "2026-11-27"
    assert document["source"] == "downloaded" and document["currencies"] == ["EUR", "GBP", "JPY", "USD"]
    assert fake_ecb.requests[0]["path"] == "/stats/eurofxref/eurofxref-hist.zip"
    assert fake_ecb.requests[0]["user-agent"].startswith("Vitrine/")
    assert (tmp_path / "data" / "eurofxref-hist.zip").read_bytes() == fake_ecb.body

    after = run_json("value")
    assert after["rateDate"] == "2026-11-27" and after["totalEstimatedValue"] == 80.0  # 100 USD at 1.25
    summary = run("prices", "rates").stdout
    assert "ECB reference rates of 27 Nov 2026 (downloaded from the ECB)" in summary


def test_refresh_offline_keeps_the_rates_in_one_line(fake_ecb: FakeEcb, tmp_path: Path) -> None:
    fake_ecb.stop()  # nobody answers any more
    offline = run("prices", "rates", "--refresh")
    assert offline.returncode == 1
    assert offline.stdout.strip().count("\n") == 0 and "Traceback" not in offline.stdout + offline.stderr
    assert offline.stdout.startswith("Offline: The ECB could not be reached")
    assert f"Keeping the ECB reference rates of {day(last_fixing())} (shipped with" in offline.stdout
    assert not (tmp_path / "data" / "eurofxref-hist.zip").exists()


def test_a_bad_answer_keeps_the_downloaded_rates(fake_ecb: FakeEcb, tmp_path: Path) -> None:
    assert run_json("prices", "rates", "--refresh")["refreshed"] is True
    good = fake_ecb.body
    for body in (b"<html>maintenance</html>", _zip("not,a,rates,file\n1,2,3,4\n")):
        fake_ecb.body = body
        refused = run("prices", "rates", "--refresh", "--json")
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        document = json.loads(refused.stdout)
        assert document["refreshed"] is False and document["rateDate"] == "2026-11-27"
        assert "is not a rates file" in document["message"]
    assert (tmp_path / "data" / "eurofxref-hist.zip").read_bytes() == good
    assert not list((tmp_path / "data").glob(".rates-*"))  # no temporary file left behind


def test_current_rates_falls_back_to_the_shipped_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    monkeypatch.setenv("VITRINE_RATES_FILE", str(broken))
    rates = current_rates()
    assert rates.source is RatesSource.SHIPPED and rates.rate_date == last_fixing()
