"""capflow.returns on hand-computed frames (synthetic numbers, no market data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capflow import returns as R


def _days(start: str, n: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="D", tz="UTC", name="timestamp")


# ------------------------------------------------------------------ simple / log returns

def test_simple_returns_bridge_weekend_per_column():
    idx = _days("2024-07-05", 4)  # Fri, Sat, Sun, Mon
    prices = pd.DataFrame({"bitcoin": [100.0, 110.0, 99.0, 108.9], "NVDA": [50.0, np.nan, np.nan, 55.0]}, idx)
    r = R.simple_returns(prices)
    assert np.isnan(r.iloc[0]).all()
    assert r["bitcoin"].iloc[1:].tolist() == pytest.approx([0.10, -0.10, 0.10])
    assert np.isnan(r["NVDA"].iloc[1]) and np.isnan(r["NVDA"].iloc[2])
    assert r["NVDA"].iloc[3] == pytest.approx(0.10)  # Friday -> Monday lands on Monday
    lr = R.log_returns(prices)
    assert lr["NVDA"].iloc[3] == pytest.approx(np.log(1.1))


def test_simple_returns_max_gap_does_not_bridge_long_gaps():
    idx = _days("2024-01-01", 7)
    prices = pd.DataFrame({"x": [1.0, np.nan, np.nan, 2.0, np.nan, np.nan, np.nan]}, idx)
    prices.iloc[6, 0] = 4.0  # gap of 3 rows then gap of 3 rows
    assert R.simple_returns(prices, max_gap=3)["x"].iloc[[3, 6]].tolist() == pytest.approx([1.0, 1.0])
    r2 = R.simple_returns(prices, max_gap=2)["x"]
    assert r2.isna().all()


def test_bar_returns_never_bridge_a_crypto_gap_but_bridge_an_equity_weekend():
    """A 24/7 column's return spans exactly one bar: after a missing day it is NaN, not a two-day move;
    an equity's Friday-to-Monday return still lands on Monday; the union index may itself miss a day."""
    idx = _days("2024-07-05", 5).delete(3)  # Fri, Sat, Sun, (Mon missing from the index), Tue
    prices = pd.DataFrame({"bitcoin": [100.0, 110.0, np.nan, 121.0], "NVDA": [50.0, np.nan, np.nan, 55.0]}, idx)
    r = R.bar_returns(prices, "1d")
    assert r["bitcoin"].iloc[1] == pytest.approx(0.10)
    assert np.isnan(r["bitcoin"].iloc[2]) and np.isnan(r["bitcoin"].iloc[3])  # Sat -> Tue is no one-day return
    assert r["NVDA"].iloc[3] == pytest.approx(0.10)  # Friday -> Tuesday: the equity's previous bar
    assert R.simple_returns(prices)["bitcoin"].iloc[3] == pytest.approx(0.10)  # the bridging this avoids
    hourly = pd.DataFrame({"a": [1.0, 2.0, 4.0]}, pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 01:00",
                                                                     "2024-01-01 03:00"], tz="UTC"))
    rh = R.bar_returns(hourly, "1h", crypto=["a"])["a"]
    assert rh.iloc[1] == pytest.approx(1.0) and np.isnan(rh.iloc[2])
    with pytest.raises(R.ReturnsError, match="parameter freq='daily'"):
        R.bar_returns(prices, "daily")
    with pytest.raises(R.ReturnsError, match="column 'a' is not a registry asset"):
        R.bar_returns(hourly, "1h")


def test_simple_returns_rejects_non_positive_prices():
    prices = pd.DataFrame({"x": [1.0, 0.0]}, _days("2024-01-01", 2))
    with pytest.raises(R.ReturnsError, match="column 'x' has 1 value.*not positive"):
        R.simple_returns(prices)


# ------------------------------------------------------------------ cumulative returns and drawdowns

def test_cumulative_returns_from_base_by_hand():
    idx = _days("2024-01-01", 4)
    r = pd.DataFrame({"a": [0.5, 0.10, -0.20, 0.05], "b": [np.nan, np.nan, 0.10, np.nan]}, idx)
    c = R.cumulative_returns(r, base="2024-01-02")
    assert c.index[0] == idx[1]
    assert c["a"].tolist() == pytest.approx([0.0, 0.8 - 1, 0.8 * 1.05 - 1])
    assert c["b"].tolist() == pytest.approx([0.0, 0.10, 0.10])  # no bar = no change
    full = R.cumulative_returns(r["a"])
    assert isinstance(full, pd.Series) and full.iloc[-1] == pytest.approx(1.5 * 1.1 * 0.8 * 1.05 - 1)


def test_drawdown_100_90_75_is_minus_25_percent():
    idx = _days("2024-01-01", 4)
    prices = pd.Series([100.0, 90.0, 75.0, 80.0], idx)
    dd = R.drawdowns(prices)
    assert dd.drawdown.tolist() == pytest.approx([0.0, -0.10, -0.25, -0.20])
    assert dd.max_drawdown == pytest.approx(-0.25)
    via_returns = R.drawdowns(R.simple_returns(prices).iloc[:, 0], kind="returns")
    assert via_returns.max_drawdown == pytest.approx(-0.25)
    frame = R.drawdowns(pd.DataFrame({"p": prices, "q": [10.0, 11.0, 12.0, 13.0]}, idx))
    assert frame.max_drawdown.to_dict() == pytest.approx({"p": -0.25, "q": 0.0})


# ------------------------------------------------------------------ baskets

def test_equal_basket_member_missing_a_day_is_renormalised():
    idx = _days("2024-01-01", 3)
    r = pd.DataFrame({"a": [0.01, 0.02, 0.03], "b": [0.03, np.nan, -0.01], "c": [np.nan, np.nan, np.nan]}, idx)
    b = R.basket_returns(r)
    assert b.tolist() == pytest.approx([0.02, 0.02, 0.01])
    assert R.basket_returns(r, min_members=2).isna().tolist() == [False, True, False]


def test_cap_weighted_basket_uses_last_known_cap_before_the_day():
    idx = _days("2024-01-01", 4)
    r = pd.DataFrame({"a": [0.00, 0.10, 0.10, 0.10], "b": [0.00, -0.10, np.nan, -0.10]}, idx)
    caps = pd.DataFrame({"a": [300.0, 100.0], "b": [100.0, 100.0]},
                        pd.DatetimeIndex(["2023-12-01", "2024-01-03"], tz="UTC"))
    b = R.basket_returns(r, weights=caps)
    # day 2 and 3 use the 2023-12-01 caps (3:1); day 3 has b missing -> a alone; day 4 uses 01-03 caps (1:1)
    assert b.iloc[1] == pytest.approx(0.75 * 0.10 + 0.25 * -0.10)
    assert b.iloc[2] == pytest.approx(0.10)
    assert b.iloc[3] == pytest.approx(0.0)


def test_basket_bad_inputs():
    r = pd.DataFrame(index=_days("2024-01-01", 3))
    with pytest.raises(R.ReturnsError, match=r"is empty \(3 rows x 0 columns\)"):
        R.basket_returns(r)
    r = pd.DataFrame({"a": [0.1, 0.2, 0.3]}, _days("2024-01-01", 3))
    with pytest.raises(R.ReturnsError, match="rebalance"):
        R.basket_returns(r, rebalance="monthly")
    with pytest.raises(R.ReturnsError, match="lacks columns"):
        R.basket_returns(r, weights=pd.DataFrame({"z": [1.0]}, _days("2024-01-01", 1)))


# ------------------------------------------------------------------ calendar policies

def _week_returns() -> pd.DataFrame:
    idx = _days("2024-06-28", 11)  # Fri 06-28 .. Mon 07-08, with 07-04 a US holiday
    btc = [np.nan, 0.01, 0.02, -0.03, 0.01, 0.02, 0.05, -0.01, 0.03, 0.04, -0.02]
    nvda = [np.nan, np.nan, np.nan, 0.01, 0.02, 0.03, np.nan, 0.04, np.nan, np.nan, 0.05]
    return pd.DataFrame({"bitcoin": btc, "NVDA": nvda}, idx)


def test_equity_sessions_compounds_weekend_into_monday_exactly():
    out = R.align(_week_returns(), policy="equity_sessions", calendar="XNYS")
    assert out.attrs["calendar_policy"] == "equity_sessions"
    assert list(out.index.strftime("%m-%d")) == ["06-28", "07-01", "07-02", "07-03", "07-05", "07-08"]
    mon = out.loc["2024-07-01", "bitcoin"]
    assert mon == pytest.approx(1.01 * 1.02 * 0.97 - 1, abs=1e-15)  # Sat + Sun + Mon
    assert out.loc["2024-07-08", "bitcoin"] == pytest.approx(1.03 * 1.04 * 0.98 - 1, abs=1e-15)
    assert out.loc["2024-07-01", "NVDA"] == 0.01 and out.loc["2024-07-08", "NVDA"] == 0.05  # unchanged


def test_equity_sessions_compounds_holiday_into_next_session():
    out = R.align(_week_returns(), policy="equity_sessions")
    assert pd.Timestamp("2024-07-04", tz="UTC") not in out.index
    assert out.loc["2024-07-05", "bitcoin"] == pytest.approx(1.05 * 0.99 - 1, abs=1e-15)
    assert out.loc["2024-07-05", "NVDA"] == pytest.approx(0.04)


def test_crypto_clock_keeps_equity_session_returns_only():
    raw = _week_returns()
    out = R.align(raw, policy="crypto_clock")
    assert out.attrs["calendar_policy"] == "crypto_clock" and len(out) == 11
    pd.testing.assert_series_equal(out["bitcoin"], raw["bitcoin"], check_freq=False)
    assert np.isnan(out.loc["2024-07-06", "NVDA"])
    zero = R.align(raw, policy="crypto_clock", equity_fill="zero")
    assert zero.loc["2024-07-06", "NVDA"] == 0.0 and np.isnan(zero.loc["2024-06-28", "NVDA"])
    assert "NaN" in R.policy_text(out) and "0" in R.policy_text(zero)


def test_align_bad_inputs():
    with pytest.raises(R.ReturnsError, match="policy='weekly'"):
        R.align(_week_returns(), policy="weekly")
    with pytest.raises(R.ReturnsError, match="calendar='NOPE'"):
        R.align(_week_returns(), calendar="NOPE")
    with pytest.raises(R.ReturnsError, match="crypto="):
        R.align(_week_returns().rename(columns={"NVDA": "mystery"}), policy="crypto_clock", equity_fill="zero")


@pytest.mark.parametrize("ts, asset, expected", [
    ("2024-07-06 14:00", "NVDA", "2024-07-08"),       # Saturday -> Monday session
    ("2024-07-06 14:00", "bitcoin", "2024-07-06"),    # Saturday -> Saturday for crypto
    ("2024-07-06 14:00", "TAO", "2024-07-06"),
    ("2024-07-03 21:30", "NVDA", "2024-07-05"),       # after the (early) close, then the 07-04 holiday
    ("2024-07-03 15:00", "NVDA", "2024-07-03"),       # during the session
    ("2024-07-04", "NVDA", "2024-07-05"),             # holiday
    ("2024-07-09 01:00", "000660.KS", "2024-07-09"),  # 10:00 in Seoul: that day's XKRX session
])
def test_event_anchor(ts, asset, expected):
    assert R.event_anchor(ts, asset) == pd.Timestamp(expected, tz="UTC")


def test_event_anchor_unknown_asset_needs_calendar():
    with pytest.raises(R.ReturnsError, match="calendar="):
        R.event_anchor("2024-07-06", "mystery")
    assert R.event_anchor("2024-07-06", "mystery", calendar="XNYS") == pd.Timestamp("2024-07-08", tz="UTC")


# ------------------------------------------------------------------ crypto sampled at the equity close (hourly)

def _hourly(start: str, end: str) -> pd.DataFrame:
    """Synthetic hourly bars (open times): the price of the k-th bar is 1000 + k, so each bar is identifiable."""
    idx = pd.date_range(start, end, freq="h", tz="UTC", name="timestamp")
    return pd.DataFrame({"bitcoin": 1000.0 + np.arange(len(idx))}, idx)


def test_prices_at_session_close_dst_aware_by_hand():
    h = _hourly("2025-03-06 18:00", "2025-03-11 23:00")  # US clocks moved forward on Sunday 2025-03-09
    p = R.prices_at_session_close(h)
    day = lambda d: pd.Timestamp(d, tz="UTC")
    # Thu/Fri close 16:00 EST = 21:00 UTC: bar opened 20:00 (k = 2, 26); Mon/Tue 16:00 EDT = 20:00 UTC: 19:00 bar
    assert p.index.tolist() == [day("2025-03-06"), day("2025-03-07"), day("2025-03-10"), day("2025-03-11")]
    assert p["bitcoin"].tolist() == [1002.0, 1026.0, 1097.0, 1121.0]
    r = R.session_close_returns(h)["bitcoin"]
    assert np.isnan(r.iloc[0])
    # Fri -> Mon spans the weekend (and the DST change)
    assert r.iloc[1:].tolist() == pytest.approx([1026 / 1002 - 1, 1097 / 1026 - 1, 1121 / 1097 - 1])


def test_prices_at_session_close_early_close_and_missing_bar():
    h = _hourly("2024-11-27 00:00", "2024-11-29 23:00")  # Thanksgiving 11-28 closed; 11-29 closes 13:00 EST
    p = R.prices_at_session_close(h)["bitcoin"]
    assert p.loc["2024-11-27"] == 1000.0 + 20 and p.loc["2024-11-29"] == 1000.0 + 48 + 17
    h.loc["2024-11-29 17:00", "bitcoin"] = np.nan  # the bar closing at 18:00 UTC is missing: not bridged
    p = R.prices_at_session_close(h)["bitcoin"]
    assert np.isnan(p.loc["2024-11-29"])
    assert R.prices_at_session_close(h, tolerance="2h")["bitcoin"].loc["2024-11-29"] == 1000.0 + 48 + 16


def test_align_crypto_at_equity_close_by_hand():
    h = _hourly("2025-03-06 00:00", "2025-03-11 23:00")
    days = _days("2025-03-06", 6)
    daily = pd.DataFrame({"bitcoin": [np.nan, 0.01, 0.02, 0.03, 0.04, 0.05],
                          "NVDA": [np.nan, 0.10, np.nan, np.nan, 0.20, 0.30]}, days)
    out = R.align(daily, "crypto_at_equity_close", hourly=h)
    assert out.attrs["calendar_policy"] == "crypto_at_equity_close" and "XNYS close" in R.policy_text(out)
    assert out["NVDA"].iloc[1:].tolist() == pytest.approx([0.10, 0.20, 0.30])
    k = {"03-06": 20, "03-07": 44, "03-10": 24 * 4 + 19, "03-11": 24 * 5 + 19}  # open hour of the closing bar
    expected = [(1000 + k[b]) / (1000 + k[a]) - 1 for a, b in (("03-06", "03-07"), ("03-07", "03-10"),
                                                               ("03-10", "03-11"))]
    assert out["bitcoin"].iloc[1:].tolist() == pytest.approx(expected)


def test_align_crypto_at_equity_close_needs_covering_hourly_data():
    days = _days("2025-03-03", 9)
    daily = pd.DataFrame({"bitcoin": 0.01, "NVDA": 0.01}, days)
    with pytest.raises(R.ReturnsError, match="parameter hourly is required"):
        R.align(daily, "crypto_at_equity_close")
    with pytest.raises(R.ReturnsError, match=r"does not cover the XNYS closes 2025-03-03 21:00\.\.2025-03-11 20:00 "
                                             r"UTC .*bitcoin 2025-03-06 00:00\.\.2025-03-11 23:00"):
        R.align(daily, "crypto_at_equity_close", hourly=_hourly("2025-03-06 00:00", "2025-03-11 23:00"))
    with pytest.raises(R.ReturnsError, match=r"lacks columns \['bitcoin'\]"):
        R.align(daily, "crypto_at_equity_close", hourly=_hourly("2025-03-01", "2025-03-12").rename(
            columns={"bitcoin": "ethereum"}))
    with pytest.raises(R.ReturnsError, match="parameter tolerance='soon' is not a positive duration"):
        R.prices_at_session_close(_hourly("2025-03-06", "2025-03-07"), tolerance="soon")
