"""CoinGecko client: retries, rate limit, plan limits, chunking, bar labelling. No network: fakes only.

Fixture payloads in tests/fixtures are SYNTHETIC numbers in CoinGecko's response shapes.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import pandas as pd
import pytest
import requests

from capflow.data import coingecko as cg
from capflow.data.errors import (NetworkError, PlanHistoryLimitError, RateLimitedError, ServerError, SourceError,
                                 UnknownCoinError)

FIX = Path(__file__).parent / "fixtures"
DAY = pd.Timedelta(days=1)


def fixture(name: str) -> dict:
    return json.loads((FIX / name).read_text())


class FakeClock:
    """Clock whose sleep advances time and records each duration."""

    def __init__(self, now: str) -> None:
        self.t = pd.Timestamp(now, tz="UTC").timestamp()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


class FakeAPI:
    """Stands in for pycoingecko: answers from a script (payloads, exceptions, or callables of the call)."""

    def __init__(self, *script) -> None:
        self.script, self.calls = list(script), []

    def get_coin_market_chart_range_by_id(self, id, vs_currency, from_timestamp, to_timestamp):
        self.calls.append((id, pd.Timestamp(from_timestamp, unit="s", tz="UTC"),
                           pd.Timestamp(to_timestamp, unit="s", tz="UTC")))
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if callable(item):
            item = item(from_timestamp, to_timestamp)
        if isinstance(item, BaseException):
            raise item
        return item


def daily_payload(frm: int, to: int) -> dict:
    """SYNTHETIC: one point per 00:00 UTC in [frm, to], price = days since 2020-01-01."""
    ts = pd.date_range(pd.Timestamp(frm, unit="s", tz="UTC").ceil("D"), pd.Timestamp(to, unit="s", tz="UTC"),
                       freq="D")
    ms = [t.value // 10**6 for t in ts]
    price = [(t - pd.Timestamp("2020-01-01", tz="UTC")).days for t in ts]
    return {"prices": [[m, float(p)] for m, p in zip(ms, price)], "market_caps": [[m, 1.0] for m in ms],
            "total_volumes": [[m, 2.0] for m in ms]}


def http_error(status: int, headers: dict | None = None, body: bytes = b"<html>busy</html>") -> requests.HTTPError:
    resp = requests.Response()
    resp.status_code, resp._content, resp.url = status, body, "https://api.coingecko.com/api/v3/x"
    resp.headers.update(headers or {})
    return requests.HTTPError(f"{status} error", response=resp)


def client(api, clock, plan="demo", **kw) -> cg.CoinGeckoClient:
    return cg.CoinGeckoClient(plan=plan, api=api, clock=clock, sleep=clock.sleep, rng=random.Random(0), **kw)


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    for var in (cg.ENV_PRO, cg.ENV_DEMO, cg.ENV_ANY):
        monkeypatch.delenv(var, raising=False)


# ------------------------------------------------------------------------------------------ parsing, labels
def test_daily_fixture_labels_close_of_previous_day_and_drops_live_point():
    clock = FakeClock("2024-03-04 13:00:01.234")
    api = FakeAPI(fixture("coingecko_range_daily.json"))
    out = client(api, clock).history("bitcoin", "2024-02-29", "2024-03-04")
    # 00:00 points of Mar 1..4 are the closes of Feb 29..Mar 3; the 13:00 live point and the unfinished
    # Mar 4 are not rows.
    expected = pd.DatetimeIndex(["2024-02-29", "2024-03-01", "2024-03-02", "2024-03-03"], tz="UTC", name="timestamp")
    pd.testing.assert_index_equal(out.index, expected)
    assert out["price"].tolist() == [100.0, 101.0, 102.0, 103.0]
    assert out["market_cap"].tolist() == [1000.0, 1010.0, 1020.0, 1030.0]
    assert out["volume"].tolist() == [50.0, 51.0, 52.0, 53.0]
    assert list(out.columns) == ["price", "market_cap", "volume"]
    assert out.attrs["source"] == "coingecko" and out.attrs["fetched_at"].startswith("2024-03-04T13:00")


def test_hourly_points_snap_to_the_hour_and_unfinished_hour_dropped():
    clock = FakeClock("2024-03-01 05:41")
    out = client(FakeAPI(fixture("coingecko_range_hourly.json")), clock).history(
        "bitcoin", "2024-02-29 23:00", "2024-03-01 05:00", freq="1h")
    # points at 00:00, 01:02, 02:00, 03:02, 04:00, 05:02 close the bars opening an hour earlier; the 05:40 live
    # point lies in the unfinished 05:00 hour.
    expected = pd.date_range("2024-02-29 23:00", periods=6, freq="h", tz="UTC", name="timestamp")
    pd.testing.assert_index_equal(out.index, expected)
    assert out["price"].tolist() == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]


def test_live_point_dropped_but_exact_midnight_kept():
    now = pd.Timestamp("2024-03-04 00:20", tz="UTC")
    raw = pd.DataFrame({"price": [1.0, 2.0]}, index=pd.DatetimeIndex(["2024-03-04 00:00", "2024-03-04 00:19"],
                                                                      tz="UTC"))
    assert cg.drop_live_point(raw, now, now, "1d")["price"].tolist() == [1.0]
    assert cg.drop_live_point(raw.iloc[:1], now, now, "1d")["price"].tolist() == [1.0]
    assert len(cg.drop_live_point(raw, now - pd.Timedelta(hours=2), now, "1d")) == 2  # range did not reach now


def test_overlapping_chunks_dedupe_keeps_point_nearest_the_boundary():
    raw = pd.DataFrame({"price": [1.0, 2.0, 3.0], "market_cap": 0.0, "volume": 0.0},
                       index=pd.DatetimeIndex(["2024-03-02 00:40", "2024-03-02 00:00", "2024-03-02 12:00"], tz="UTC"))
    out = cg.to_bars(raw.sort_index(), "1d", pd.Timestamp("2024-03-05", tz="UTC"))
    assert out.index.tolist() == [pd.Timestamp("2024-03-01", tz="UTC")] and out["price"].tolist() == [2.0]


# ------------------------------------------------------------------------------------------- retries, 429
def test_429_then_success_honours_retry_after_header():
    clock = FakeClock("2024-03-04 13:00:01.234")
    api = FakeAPI(http_error(429, {"Retry-After": "12"}), fixture("coingecko_range_daily.json"))
    out = client(api, clock).history("bitcoin", "2024-03-01", "2024-03-03")
    assert clock.sleeps == [12.0] and len(api.calls) == 2 and len(out) == 3


def test_429_json_body_retry_after_in_body_is_honoured():
    clock = FakeClock("2024-03-04 13:00:01.234")
    body = {**fixture("coingecko_error_429.json"), "retry_after": 30}
    api = FakeAPI(ValueError(body), fixture("coingecko_range_daily.json"))
    client(api, clock).history("bitcoin", "2024-03-01", "2024-03-03")
    assert clock.sleeps == [30.0]


def test_429_without_retry_after_backs_off_with_jitter_then_raises_typed_error():
    clock = FakeClock("2024-03-04 13:00")
    api = FakeAPI(ValueError(fixture("coingecko_error_429.json")))
    c = client(api, clock, plan="pro", max_retries=3, backoff_base=2.0)
    with pytest.raises(RateLimitedError, match="'bitcoin'.*wait a minute"):
        c.history("bitcoin", "2024-03-01", "2024-03-03")
    assert len(api.calls) == 4
    assert len(clock.sleeps) == 3
    for k, s in enumerate(clock.sleeps):  # jitter factor in [0.5, 1] of 2 * 2**k
        assert 0.5 * 2 * 2 ** k <= s <= 2 * 2 ** k


def test_pycoingecko_429_with_header_through_real_library(monkeypatch):
    """The real pycoingecko turns a JSON 429 into ValueError(dict) and loses the header; a non-JSON 429 stays
    an HTTPError whose Retry-After header is honoured."""
    from pycoingecko import CoinGeckoAPI

    api = CoinGeckoAPI(retries=0)
    body_429 = json.dumps(fixture("coingecko_error_429.json")).encode()
    body_ok = json.dumps(fixture("coingecko_range_daily.json")).encode()
    answers = [(429, b"<html>slow down</html>", {"Retry-After": "5"}), (429, body_429, {}), (200, body_ok, {})]

    def fake_get(url, params=None, timeout=None):
        status, body, headers = answers.pop(0)
        resp = requests.Response()
        resp.status_code, resp._content, resp.url, resp.reason = status, body, url, "x"
        resp.headers.update(headers)
        return resp

    monkeypatch.setattr(api.session, "get", fake_get)
    clock = FakeClock("2024-03-04 13:00:01.234")
    out = client(api, clock, backoff_base=4.0).history("bitcoin", "2024-03-01", "2024-03-03")
    assert clock.sleeps[0] == 5.0 and 2.0 <= clock.sleeps[1] <= 4.0 * 2 and len(out) == 3


@pytest.mark.parametrize("exc, kind", [(requests.exceptions.RetryError("too many 503"), ServerError),
                                       (http_error(502), ServerError),
                                       (requests.exceptions.ReadTimeout("read timed out"), NetworkError),
                                       (requests.exceptions.ConnectionError("refused"), NetworkError)])
def test_5xx_and_timeouts_retried_with_backoff_then_typed_error(exc, kind):
    clock = FakeClock("2024-03-04 13:00")
    api = FakeAPI(exc)
    with pytest.raises(kind) as info:
        client(api, clock, plan="pro", max_retries=4, backoff_base=1.0, backoff_cap=5.0).history(
            "bitcoin", "2024-03-01", "2024-03-03")
    assert len(api.calls) == 5 and len(clock.sleeps) == 4
    caps = [1.0, 2.0, 4.0, 5.0]
    assert all(0.5 * c <= s <= c for s, c in zip(clock.sleeps, caps))
    assert isinstance(info.value, SourceError) and "\n" not in str(info.value)


def test_transient_5xx_then_success():
    clock = FakeClock("2024-03-04 13:00:01.234")
    api = FakeAPI(requests.exceptions.RetryError("503"), fixture("coingecko_range_daily.json"))
    assert len(client(api, clock).history("bitcoin", "2024-03-01", "2024-03-03")) == 3
    assert len(clock.sleeps) == 1


def test_unknown_coin_raises_at_once():
    clock = FakeClock("2024-03-04 13:00")
    api = FakeAPI(ValueError(fixture("coingecko_error_coin_not_found.json")))
    with pytest.raises(UnknownCoinError, match="'bitensor' not found.*bittensor"):
        client(api, clock).history("bitensor", "2024-03-01", "2024-03-03")
    assert len(api.calls) == 1 and clock.sleeps == []


def test_unknown_exception_propagates_unchanged():
    clock = FakeClock("2024-03-04 13:00")
    with pytest.raises(KeyError):
        client(FakeAPI(KeyError("bug")), clock).history("bitcoin", "2024-03-01", "2024-03-03")


# ----------------------------------------------------------------------------------------- plan limit, chunks
def test_demo_three_years_raises_naming_first_served_date_without_calls():
    clock = FakeClock("2026-03-10 14:37")
    api = FakeAPI(daily_payload)
    with pytest.raises(PlanHistoryLimitError, match="before 2025-03-10 needs a paid plan") as info:
        client(api, clock).history("bittensor", "2023-03-01", "2026-02-28")
    assert api.calls == [] and info.value.earliest == pd.Timestamp("2025-03-10", tz="UTC")


def test_demo_three_years_clip_fetches_only_the_served_year():
    clock = FakeClock("2026-03-10 14:37")
    api = FakeAPI(daily_payload)
    out = client(api, clock).history("bittensor", "2023-03-01", "2026-02-28", plan_limit="clip")
    earliest = pd.Timestamp("2025-03-11", tz="UTC")  # today - 364 days: inside CoinGecko's "past 365 days"
    assert len(api.calls) == 1 and api.calls[0][1] == earliest
    assert out.index[0] == earliest - DAY and out.index[-1] == pd.Timestamp("2026-02-28", tz="UTC")
    assert len(out) == (out.index[-1] - out.index[0]).days + 1
    assert out.attrs["clipped_before"] == (earliest - DAY).isoformat()


def test_three_year_daily_chunking_number_and_bounds():
    clock = FakeClock("2026-03-10 14:37")
    api = FakeAPI(daily_payload)
    out = client(api, clock, plan="pro").history("bitcoin", "2023-03-01", "2026-02-28")
    # labels 2023-03-01..2026-02-28 need the 00:00 points 2023-03-02..2026-03-01: 1096 points, 365 per call
    bounds = [(f, t) for _, f, t in api.calls]
    hour = pd.Timedelta(hours=1)
    starts = pd.to_datetime(["2023-03-02", "2024-03-01", "2025-03-01", "2026-03-01"], utc=True)
    assert len(bounds) == 4
    assert [f for f, _ in bounds[:3]] == list(starts[:3] - hour)
    assert [t for _, t in bounds[:3]] == list(starts[1:] - DAY + hour)
    # the last chunk (one point) is stretched back to 91 days so CoinGecko answers daily, not hourly
    assert bounds[3] == (pd.Timestamp("2025-11-30", tz="UTC"), pd.Timestamp("2026-03-01 01:00", tz="UTC"))
    assert all(pd.Timedelta(days=90) < t - f <= pd.Timedelta(days=365) for f, t in bounds)
    assert len(out) == 1096 and out.index.is_unique and out.index.is_monotonic_increasing
    # price at label D is the synthetic value stamped at D+1 00:00
    assert out["price"].iloc[0] == (pd.Timestamp("2023-03-02") - pd.Timestamp("2020-01-01")).days


def test_plan_error_10012_mid_request_clips_and_continues():
    """A plan with no known limit (pro) meets a server answering 10012 for ranges older than 365 days."""
    clock = FakeClock("2026-03-10 14:37")
    limit = pd.Timestamp("2025-03-10", tz="UTC").timestamp()

    def server(frm, to):
        return ValueError(fixture("coingecko_error_10012.json")) if frm < limit else daily_payload(frm, to)

    api = FakeAPI(server)
    out = client(api, clock, plan="pro").history("bitcoin", "2024-01-01", "2026-03-01", plan_limit="clip")
    earliest = pd.Timestamp("2025-03-11", tz="UTC")  # the client's fallback: today - 364 days
    # window 1 (2024) fails and lies before the limit: dropped; window 2 (2025) fails, retried from the limit;
    # window 3 succeeds
    assert len(api.calls) == 4 and api.calls[2][1] == earliest
    assert out.index[0] == earliest - DAY and out.index[-1] == pd.Timestamp("2026-03-01", tz="UTC")
    assert out.index.is_unique and len(out) == (out.index[-1] - out.index[0]).days + 1
    assert out.attrs["clipped_before"] == (earliest - DAY).isoformat()
    api2 = FakeAPI(server)
    with pytest.raises(PlanHistoryLimitError, match="before 2025-03-10 needs a paid plan"):
        client(api2, clock, plan="pro").history("bitcoin", "2024-01-01", "2026-03-01")
    assert len(api2.calls) == 1


def test_hourly_ranges_are_two_to_ninety_days():
    now = pd.Timestamp("2026-03-10 14:37", tz="UTC")
    w = cg.request_windows(pd.Timestamp("2025-12-01", tz="UTC"), pd.Timestamp("2026-03-10 10:00", tz="UTC"), "1h", now)
    assert len(w) == 2 and w[0][0] == pd.Timestamp("2025-12-01 00:30", tz="UTC")
    assert all(pd.Timedelta(days=2) <= t - f <= pd.Timedelta(days=90) for f, t in w)
    assert w[0][1] >= w[1][0]  # contiguous: no boundary falls between two windows
    one = cg.request_windows(pd.Timestamp("2026-03-09", tz="UTC"), pd.Timestamp("2026-03-09 23:00", tz="UTC"),
                             "1h", now)
    assert len(one) == 1 and one[0][1] - one[0][0] >= pd.Timedelta(days=2)


def test_short_daily_request_extended_past_ninety_days_and_filtered():
    clock = FakeClock("2026-03-10 14:37")
    api = FakeAPI(daily_payload)
    out = client(api, clock).history("bitcoin", "2026-03-01", "2026-03-09")
    assert api.calls[0][2] - api.calls[0][1] > pd.Timedelta(days=90)
    assert out.index.tolist() == list(pd.date_range("2026-03-01", "2026-03-09", tz="UTC"))


def test_progress_callback_sees_each_chunk():
    clock = FakeClock("2026-03-10 14:37")
    seen = []
    client(FakeAPI(daily_payload), clock, plan="pro").history("bitcoin", "2023-03-01", "2026-02-28",
                                                              progress=lambda d, n: seen.append((d, n)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


@pytest.mark.parametrize("kw, msg", [({"freq": "4h"}, "freq='4h'"), ({"plan_limit": "x"}, "plan_limit"),
                                     ({"start": "nope"}, "parameter start"), ({"end": "2020-01-01"}, "before start")])
def test_bad_parameters_one_line(kw, msg):
    args = {"coin_id": "bitcoin", "start": "2024-01-01", "end": "2024-02-01", **kw}
    with pytest.raises(ValueError, match=msg):
        client(FakeAPI(daily_payload), FakeClock("2026-03-10")).history(**args)


# ------------------------------------------------------------------------------------------- token bucket
def test_token_bucket_lets_burst_through_then_delays():
    clock = FakeClock("2026-03-10")
    bucket = cg.TokenBucket(30, burst=5, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(7)]
    assert waits[:5] == [0.0] * 5 and clock.sleeps[0] == pytest.approx(60 / 25)
    assert waits[5] == pytest.approx(2.4) and waits[6] == pytest.approx(2.4)


def test_token_bucket_never_exceeds_limit_in_any_minute():
    clock = FakeClock("2026-03-10")
    bucket = cg.TokenBucket(30, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(200):
        bucket.acquire()
        stamps.append(clock())
    s = pd.Series(1, index=pd.to_datetime(stamps, unit="s"))
    assert s.rolling("60s").sum().max() <= 30
    assert s.rolling("60s").sum().max() >= 29  # and it is not needlessly slow


def test_real_time_clients_share_one_bucket_per_plan():
    a, b = cg.CoinGeckoClient(api=FakeAPI({})), cg.CoinGeckoClient(api=FakeAPI({}))
    assert a.bucket is b.bucket
    assert cg.CoinGeckoClient(api=FakeAPI({}), plan="pro").bucket is not a.bucket


def test_client_bucket_sized_by_plan():
    clock = FakeClock("2026-03-10")
    demo, pro = client(FakeAPI({}), clock), client(FakeAPI({}), clock, plan="pro")
    assert demo.bucket.capacity + demo.bucket.rate * 60 == pytest.approx(30)
    assert pro.bucket.capacity + pro.bucket.rate * 60 == pytest.approx(500)


# -------------------------------------------------------------------------------------------------- keys
def test_plan_from_environment(monkeypatch):
    monkeypatch.setenv(cg.ENV_ANY, "demo-secret-1")
    assert cg.CoinGeckoClient().plan.name == "demo"
    monkeypatch.setenv(cg.ENV_PRO, "pro-secret-2")
    c = cg.CoinGeckoClient()
    assert c.plan.name == "pro" and c._api.api_base_url.startswith("https://pro-api")
    assert c._api.extra_params is None and c._api.session.headers["x-cg-pro-api-key"] == "pro-secret-2"
    monkeypatch.delenv(cg.ENV_PRO)
    monkeypatch.delenv(cg.ENV_ANY)
    assert cg.CoinGeckoClient().plan.name == "public"
    with pytest.raises(ValueError, match="COINGECKO_PRO_API_KEY"):
        cg.CoinGeckoClient(plan="pro")


def test_key_never_in_repr_errors_or_logs(monkeypatch, caplog):
    secret = "CG-" + "FAKE" + "KEYvalue"  # a fake key, built so it is not mistaken for a committed one
    monkeypatch.setenv(cg.ENV_DEMO, secret)
    leak = requests.exceptions.ConnectionError(
        f"HTTPSConnectionPool: Max retries exceeded with url: /api/v3/coins/x?x_cg_demo_api_key={secret}")
    clock = FakeClock("2024-03-04 13:00")
    c = cg.CoinGeckoClient(api=FakeAPI(leak), clock=clock, sleep=clock.sleep, max_retries=2)
    assert secret not in repr(c) and secret not in str(vars(c).get("plan"))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(NetworkError) as info:
        c.history("bitcoin", "2024-03-01", "2024-03-03")
    err = info.value
    assert secret not in str(err) and secret not in repr(err) and secret not in caplog.text
    assert err.__cause__ is None and err.__context__ is None  # the URL-bearing exception is not chained


def test_default_api_sends_key_in_header_not_url(monkeypatch):
    secret = "CG-headeronly"
    monkeypatch.setenv(cg.ENV_DEMO, secret)
    clock = FakeClock("2024-03-04 13:00:01.234")
    c = cg.CoinGeckoClient(clock=clock, sleep=clock.sleep)
    seen = {}

    def fake_get(url, params=None, timeout=None):
        seen.update(url=url, params=dict(params), timeout=timeout)
        resp = requests.Response()
        resp.status_code, resp._content = 200, json.dumps(fixture("coingecko_range_daily.json")).encode()
        return resp

    monkeypatch.setattr(c._api.session, "get", fake_get)
    c.history("bitcoin", "2024-03-01", "2024-03-03")
    assert secret not in seen["url"] and secret not in json.dumps(seen["params"])
    assert c._api.session.headers["x-cg-demo-api-key"] == secret and seen["timeout"] == 30.0
