"""Binance client: dumps verified by CHECKSUM, ms/µs kline CSVs, REST fallback, region and rate errors, funding and
open interest. No network: a fake session serves the SYNTHETIC files of tests/fixtures/binance (numbers invented,
formats as published on data.binance.vision and by the REST API)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from capflow.data import binance as bn
from capflow.data import plan
from capflow.data.errors import (ChecksumMismatchError, NoDataError, RateLimitedError, RegionBlockedError,
                                 ServerError, SourceError)

FIX = Path(__file__).parent / "fixtures" / "binance"
SPOT = "https://data.binance.vision/data/spot"
PERP = "https://data.binance.vision/data/futures/um"


class FakeClock:
    """Epoch clock whose sleep advances time and records each duration."""

    def __init__(self, now: str) -> None:
        self.t = pd.Timestamp(now, tz="UTC").timestamp()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def response(status: int, body: bytes | str | object = b"", headers: dict | None = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = body if isinstance(body, bytes) else (body.encode() if isinstance(body, str)
                                                          else json.dumps(body).encode())
    resp.headers.update(headers or {})
    return resp


class FakeSession:
    """Answers from a route table ``url -> item`` (item: response, list of responses served in turn, exception,
    or callable of params); unknown URLs answer 404 like the dump host."""

    def __init__(self, routes: dict | None = None) -> None:
        self.routes, self.calls = dict(routes or {}), []

    def get(self, url, params=None, headers=None, timeout=None):
        self.calls.append((url, dict(params or {})))
        item = self.routes.get(url, response(404, "<Error><Code>NoSuchKey</Code></Error>"))
        if callable(item):
            item = item(params)
        if isinstance(item, list):
            item = item.pop(0) if len(item) > 1 else item[0]
        if isinstance(item, BaseException):
            raise item
        return item


def dump_routes(*names: str, checksum: dict | None = None, prefix: str = SPOT) -> dict:
    """Routes serving fixture zips and their CHECKSUM files under the right dump URLs."""
    out = {}
    for name in names:
        sym, rest = name.split("-", 1)
        if "fundingRate" in name:
            url = f"{PERP}/monthly/fundingRate/{sym}/{name}"
        elif "metrics" in name:
            url = f"{PERP}/daily/metrics/{sym}/{name}"
        else:
            interval, period = rest.split("-", 1)
            cadence = "monthly" if len(period[:-4]) == 7 else "daily"
            url = f"{prefix}/{cadence}/klines/{sym}/{interval}/{name}"
        out[url] = response(200, (FIX / name).read_bytes())
        chk = (checksum or {}).get(name, name + ".CHECKSUM")
        if chk is not None:
            out[url + ".CHECKSUM"] = response(200, (FIX / chk).read_text())
    return out


def client(routes: dict, now: str, **kw) -> tuple[bn.BinanceClient, FakeSession, FakeClock]:
    session, clock = FakeSession(routes), FakeClock(now)
    return bn.BinanceClient(session=session, clock=clock, sleep=clock.sleep, **kw), session, clock


# ------------------------------------------------------------------------------------------------ parsing
def test_kline_csv_milliseconds_without_header():
    out = bn.parse_kline_csv((FIX / "BTCUSDT-1d-2024-12.csv").read_bytes(), "BTCUSDT-1d-2024-12.csv")
    assert list(out["open_time"]) == list(pd.date_range("2024-12-27", periods=5, freq="D", tz="UTC"))
    assert out["close"].tolist() == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert out["quote_volume"].iloc[0] == pytest.approx(1000.0)


def test_kline_csv_microseconds_and_header_told_per_row():
    spot_2025 = bn.parse_kline_csv((FIX / "BTCUSDT-1d-2025-01.csv").read_bytes(), "x.csv")
    assert list(spot_2025["open_time"]) == list(pd.date_range("2025-01-01", periods=3, freq="D", tz="UTC"))
    mixed = bn.parse_kline_csv((FIX / "BTCUSDT-1h-2024-01-01.csv").read_bytes(), "y.csv")  # header, ms + µs rows
    assert list(mixed["open_time"]) == list(pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC"))
    assert mixed["close"].tolist() == [50.0, 51.0, 52.0]


def test_kline_csv_with_wrong_column_count_names_the_file():
    with pytest.raises(SourceError, match=r"bad\.csv has 3 columns; expected 12") as err:
        bn.parse_kline_csv("1,2,3\n", "bad.csv")
    assert "\n" not in str(err.value)


def test_checksum_parsing_refuses_garbage_and_foreign_names():
    with pytest.raises(ChecksumMismatchError, match="no valid checksum"):
        bn.parse_checksum("<html>", "https://h/a.zip")
    with pytest.raises(ChecksumMismatchError, match="is for 'b.zip'"):
        bn.parse_checksum("0" * 64 + "  b.zip", "https://h/a.zip")


# ------------------------------------------------------------------------------------------------ dumps
def test_monthly_dumps_verified_and_framed_like_the_snapshot():
    routes = dump_routes("BTCUSDT-1d-2024-12.zip", "BTCUSDT-1d-2025-01.zip")
    c, session, _ = client(routes, "2025-02-10 03:00")
    out = c.klines("BTC", "2024-12-29", "2025-01-03", market="spot")
    assert list(out.columns) == ["price", "open", "high", "low", "close", "volume", "source"]
    assert out.index.name == "timestamp" and str(out.index.tz) == "UTC"
    assert list(out.index) == list(pd.date_range("2024-12-29", "2025-01-03", freq="D", tz="UTC"))
    assert out["price"].tolist() == [102.0, 103.0, 104.0, 105.0, 106.0, 107.0]
    assert (out["price"] == out["close"]).all() and (out["source"] == "bn_spot").all()
    assert out["volume"].iloc[0] == pytest.approx(12.0 * 102.0)  # quote volume, not base volume
    fetched = [u for u, _ in session.calls]
    assert fetched == [p.url for p in c.plan("BTC", "2024-12-29", "2025-01-03", market="spot")]
    assert all(u.endswith((".zip", ".CHECKSUM")) for u in fetched)


def test_checksum_mismatch_refused_and_nothing_returned():
    routes = dump_routes("BTCUSDT-1d-2024-12.zip", "BTCUSDT-1d-2025-01.zip",
                         checksum={"BTCUSDT-1d-2025-01.zip": "BTCUSDT-1d-2025-01.zip.CHECKSUM.mismatch"})
    c, _, _ = client(routes, "2025-02-10 03:00")
    with pytest.raises(ChecksumMismatchError, match=r"checksum mismatch for \S+BTCUSDT-1d-2025-01\.zip") as err:
        c.klines("BTC", "2024-12-29", "2025-01-03", market="spot")
    assert isinstance(err.value, SourceError) and "\n" not in str(err.value)
    assert err.value.file.endswith("BTCUSDT-1d-2025-01.zip") and err.value.expected == "0" * 64
    assert err.value.actual == bn.hashlib.sha256((FIX / "BTCUSDT-1d-2025-01.zip").read_bytes()).hexdigest()


def test_missing_checksum_refused():
    routes = dump_routes("BTCUSDT-1d-2024-12.zip", checksum={"BTCUSDT-1d-2024-12.zip": None})
    c, _, _ = client(routes, "2025-02-10 03:00")
    with pytest.raises(ChecksumMismatchError, match="no valid checksum published"):
        c.klines("BTC", "2024-12-29", "2024-12-31", market="spot")


def test_missing_recent_monthly_file_falls_back_to_daily_files():
    routes = dump_routes("BTCUSDT-1h-2024-01-01.zip", prefix=SPOT)
    c, session, _ = client(routes, "2024-02-06 12:00")  # Jan monthly assumed published, but it is a 404
    out = c.klines("BTCUSDT", "2024-01-01 00:00", "2024-01-01 02:00", freq="1h", market="spot")
    assert out["close"].tolist() == [50.0, 51.0, 52.0]
    assert session.calls[0][0].endswith("/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01.zip")


# ------------------------------------------------------------------------------------------------ REST
def rest_klines(rows_file: str = "rest_klines_spot_1h.json"):
    rows = json.loads((FIX / rows_file).read_text())

    def answer(params):
        lo, hi = params["startTime"], params["endTime"]
        return response(200, [r for r in rows if lo <= r[0] <= hi])
    return answer


def test_rest_serves_days_not_dumped_and_drops_the_unfinished_bar():
    c, session, _ = client({plan.SPOT_KLINES_API: rest_klines()}, "2025-01-01 02:30")
    out = c.klines("BTC", "2025-01-01", "2025-01-01 23:00", freq="1h", market="spot")
    assert list(out.index) == list(pd.date_range("2025-01-01 00:00", periods=2, freq="h", tz="UTC"))  # 02:00 open
    assert out["close"].tolist() == [201.0, 202.0] and out["volume"].tolist() == [1005.0, 1212.0]
    url, params = session.calls[-1]
    assert url == plan.SPOT_KLINES_API and params["symbol"] == "BTCUSDT" and params["interval"] == "1h"
    assert params["limit"] == 1000


def test_region_refusal_451_is_typed_and_not_retried():
    body = (FIX / "error_451.json").read_text()
    c, session, clock = client({plan.SPOT_KLINES_API: response(451, body)}, "2025-01-01 02:30")
    with pytest.raises(RegionBlockedError, match="HTTP 451") as err:
        c.klines("BTC", "2025-01-01", freq="1h", market="spot")
    assert isinstance(err.value, SourceError) and err.value.status == 451 and "\n" not in str(err.value)
    assert "next source" in str(err.value)
    assert sum(u == plan.SPOT_KLINES_API for u, _ in session.calls) == 1 and clock.sleeps == []


def test_region_refusal_partial_keeps_dump_rows():
    routes = dump_routes("BTCUSDT-1d-2024-12.zip")
    routes[plan.SPOT_KLINES_API] = response(403, "Forbidden")
    c, _, _ = client(routes, "2025-01-08 12:00")  # Jan 5-7 not dumped (404) -> REST -> 403
    out = c.klines("BTC", "2024-12-30", market="spot", on_blocked="partial")
    assert out["close"].tolist() == [103.0, 104.0] and out.attrs["incomplete_from"].startswith("2025-01-05")


def test_retry_after_over_the_cap_is_not_slept():
    c, _, clock = client({plan.SPOT_KLINES_API: response(429, "", {"Retry-After": "120"})}, "2025-01-01 02:30")
    with pytest.raises(RateLimitedError, match=r"wait 120 s, more than retry_after_cap=60 s") as err:
        c.klines("BTC", "2025-01-01", freq="1h", market="spot")
    assert err.value.retry_after == 120 and clock.sleeps == []


def test_retry_after_within_the_cap_is_honoured_and_418_counts():
    answers = [response(429, "", {"Retry-After": "5"}), response(418, "", {"Retry-After": "7"}),
               rest_klines()(dict(startTime=0, endTime=2 ** 62))]
    c, _, clock = client({plan.SPOT_KLINES_API: answers}, "2025-01-01 02:30", retry_after_cap=10)
    out = c.klines("BTC", "2025-01-01", freq="1h", market="spot")
    assert len(out) == 2 and clock.sleeps == [5.0, 7.0]


def test_server_errors_retried_then_typed():
    c, session, clock = client({plan.SPOT_KLINES_API: response(502, "bad gateway")}, "2025-01-01 02:30",
                               max_retries=2)
    with pytest.raises(ServerError, match="HTTP 502.*after 3 attempts"):
        c.klines("BTC", "2025-01-01", freq="1h", market="spot")
    assert clock.sleeps == [1.0, 2.0]


# ------------------------------------------------------------------------------------------------ spot + perp
def test_auto_takes_perp_bars_where_spot_has_none():
    routes = dump_routes("BTCUSDT-1h-2024-01-01.zip", prefix=PERP)
    routes[plan.SPOT_KLINES_API] = response(200, [])  # spot not listed yet: REST answers no rows
    c, session, _ = client(routes, "2024-01-03 00:00")
    out = c.klines("BTC", "2024-01-01 00:00", "2024-01-01 02:00", freq="1h")
    assert out["close"].tolist() == [50.0, 51.0, 52.0] and (out["source"] == "bn_perp").all()
    assert any("/futures/um/daily/klines/BTCUSDT/1h/" in u for u, _ in session.calls)


def test_no_rows_anywhere_is_a_typed_no_data_error():
    c, _, _ = client({plan.SPOT_KLINES_API: response(200, []), plan.PERP_KLINES_API: response(200, [])},
                     "2024-01-03 00:00")
    with pytest.raises(NoDataError, match="no 1h bars for bitcoin"):
        c.klines("BTC", "2024-01-01 00:00", "2024-01-01 02:00", freq="1h")


def test_plan_lists_urls_without_fetching():
    c, session, _ = client({}, "2026-11-28 03:17")
    reqs = c.plan("TAO", "2026-09-30", None, "1d")
    assert session.calls == []
    spot = [r for r in reqs if not r.conditional]
    assert spot[0].url == f"{SPOT}/monthly/klines/TAOUSDT/1d/TAOUSDT-1d-2026-09.zip"
    assert spot[1].url == spot[0].url + ".CHECKSUM"
    assert f"{SPOT}/daily/klines/TAOUSDT/1d/TAOUSDT-1d-2026-11-26.zip" in {r.url for r in spot}
    assert spot[-1].source == "binance_rest" and dict(spot[-1].params)["startTime"] == int(
        pd.Timestamp("2026-11-27", tz="UTC").timestamp() * 1000)
    assert all("/futures/um/" in r.url or r.url == plan.PERP_KLINES_API for r in reqs if r.conditional)


@pytest.mark.parametrize("asset, needle", [("NVDA", "has no Binance market"), ("nothing here", "neither")])
def test_bad_assets_one_line(asset, needle):
    c, _, _ = client({}, "2025-01-01")
    with pytest.raises(ValueError, match=needle) as err:
        c.klines(asset, "2024-01-01")
    assert "\n" not in str(err.value)


def test_bad_parameters_one_line():
    c, _, _ = client({}, "2025-01-01")
    for kw, needle in (({"freq": "5m"}, "freq='5m'"), ({"market": "margin"}, "market='margin'"),
                       ({"end": "2023-01-01"}, "before start")):
        with pytest.raises(ValueError, match=needle):
            c.klines("BTC", "2024-01-01", **kw)


# ------------------------------------------------------------------------------------------------ derivatives
def test_funding_and_metrics_dumps_become_the_derivatives_schema():
    routes = dump_routes("BTCUSDT-fundingRate-2024-01.zip", "BTCUSDT-metrics-2024-01-01.zip")
    c, _, _ = client(routes, "2024-02-10 00:00")
    out = c.derivatives("BTC", "2024-01-01", "2024-01-01 23:00", freq="8h")
    assert list(out.columns) == ["timestamp_utc", "asset", "funding_rate", "open_interest_usd",
                                 "long_liquidations_usd", "short_liquidations_usd", "source"]
    assert list(out["timestamp_utc"]) == list(pd.date_range("2024-01-01", periods=3, freq="8h", tz="UTC"))
    assert out["funding_rate"].tolist() == [0.0001, -0.000025, 0.000375]  # the 3 ms jitter is floored away
    assert out["open_interest_usd"].tolist() == [1600.0, 2000.0, 2500.0]  # last sample at or before each close
    assert out["long_liquidations_usd"].isna().all() and set(out["source"]) == {"bn_perp"}
    assert set(out["asset"]) == {"bitcoin"}


def test_funding_of_the_current_month_comes_from_rest():
    rows = json.loads((FIX / "rest_funding.json").read_text())
    c, session, _ = client({plan.FUNDING_API: response(200, rows)}, "2024-01-02 12:00")
    out = c.funding("BTC", "2024-01-01")
    assert list(out["timestamp_utc"]) == list(pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 08:00"], tz="UTC"))
    assert out["funding_rate"].tolist() == [0.0001, 0.0002211]
    assert session.calls[-1][1]["symbol"] == "BTCUSDT"


def test_open_interest_bars_label_by_open_with_close_value():
    samples = pd.DataFrame({"time": pd.DatetimeIndex(["2024-01-01 00:05", "2024-01-01 01:00", "2024-01-01 01:05"],
                                                     tz="UTC"), "open_interest_usd": [1.0, 2.0, 3.0]})
    out = bn.open_interest_bars(samples, "1h")
    assert out["open_interest_usd"].tolist() == [2.0, 3.0]
    assert list(out["timestamp_utc"]) == list(pd.date_range("2024-01-01", periods=2, freq="h", tz="UTC"))


def test_epoch_units_by_magnitude():
    t = bn.epoch_to_utc(np.array([1735689600000, 1735689600000000]))
    assert t[0] == t[1] == pd.Timestamp("2025-01-01", tz="UTC")


def test_spot_asked_for_a_perp_only_asset_is_refused():
    c, session, _ = client({}, "2025-01-01")
    with pytest.raises(ValueError, match="akash-network has no Binance spot market"):
        c.klines("AKT", "2024-12-01", market="spot")
    assert session.calls == [] and [r.url for r in c.plan("AKT", "2024-12-01", "2024-12-01")][0].startswith(PERP)


def test_a_403_from_the_dump_host_is_not_a_region_refusal():
    url = f"{SPOT}/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2024-12.zip"
    c, _, _ = client({url: response(403, "<Error><Code>AccessDenied</Code></Error>")}, "2025-02-10 03:00")
    with pytest.raises(SourceError, match="HTTP 403") as err:
        c.klines("BTC", "2024-12-30", "2024-12-31", market="spot")
    assert not isinstance(err.value, RegionBlockedError)


def test_derivatives_plan_lists_funding_months_metrics_days_and_rest():
    reqs = plan.derivatives_plan("TAOUSDT", "2026-10-30", None, now="2026-11-28 03:17")
    urls = [r.url for r in reqs]
    assert urls[0] == f"{PERP}/monthly/fundingRate/TAOUSDT/TAOUSDT-fundingRate-2026-10.zip"
    assert plan.FUNDING_API in urls and f"{PERP}/daily/metrics/TAOUSDT/TAOUSDT-metrics-2026-11-26.zip" in urls
    assert f"{PERP}/daily/metrics/TAOUSDT/TAOUSDT-metrics-2026-11-27.zip" not in urls  # not published yet


def test_module_level_plan_needs_no_client():
    reqs = bn.request_plan("BTC", "2024-12-01", "2024-12-31", "1d", now="2025-02-10")
    assert [r.url for r in reqs if not r.conditional] == [
        f"{SPOT}/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2024-12.zip",
        f"{SPOT}/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2024-12.zip.CHECKSUM"]
    assert [r.url for r in reqs if r.conditional][0].startswith(f"{PERP}/monthly/klines/BTCUSDT/1d/")
