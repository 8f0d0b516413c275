"""capflow.divergence sample, clocks and windows: close ends, truncation, basket membership, the two windows.

Every frame here is SYNTHETIC (hand-built inside each test), never market data; source tags ``bn_spot_ry`` (a UTC
close) and ``cg_snap_cw`` (an intraday snapshot) only label the clock of each synthetic row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capflow import divergence as D

CLOSE, SNAP = "bn_spot_ry", "cg_snap_cw"


def _days(start: str, n: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="D", tz="UTC", name="timestamp")


def _day(d: str) -> pd.Timestamp:
    return pd.Timestamp(d, tz="UTC")


# ------------------------------------------------------------------ clocks (hand-built)

def _clocks() -> pd.DataFrame:
    c, s, n = "close", "snapshot", np.nan
    return pd.DataFrame({"a": [c, c, c, s, s, s],       # closes end day 3, snapshots from day 4
                         "b": [s, c, c, c, c, n],       # a pre-listing snapshot is not a switch
                         "c": [c, c, s, c, c, c],       # a one-day blip: closes end before it
                         "d": [c, c, c, c, c, c]}, _days("2025-01-01", 6))


def test_clocks_of_maps_source_tags():
    tags = pd.DataFrame({"x": [CLOSE, SNAP, None], "y": ["cg_snap_zeke", "bn_perp_nt", "cmc_monthly_sbq"]},
                        _days("2025-01-01", 3))
    got = D.clocks_of(tags)
    assert got["x"].tolist()[:2] == ["close", "snapshot"] and pd.isna(got["x"].iloc[2])
    assert got["y"].tolist() == ["snapshot", "close", "close"]


def test_close_clock_ends_by_hand():
    ends = D.close_clock_ends(_clocks())
    day = lambda d: _day(f"2025-01-0{d}")
    assert ends["close_end"].tolist() == [day(3), day(5), day(2), day(6)]
    assert ends.loc["a", "first_snapshot"] == day(4) and ends.loc["c", "first_snapshot"] == day(3)
    assert ends[["first_snapshot"]].loc[["b", "d"]].isna().all().all()
    assert D.close_clock_end(_clocks()) == day(2)
    assert D.close_clock_end(_clocks()[["a", "b", "d"]]) == day(3)


def test_close_clock_end_bad_input_one_line():
    only_snap = pd.DataFrame({"x": ["snapshot", "snapshot"], "y": ["close", "close"]}, _days("2025-01-01", 2))
    with pytest.raises(D.DivergenceError, match=r"\['x'\] have no close-clock rows"):
        D.close_clock_end(only_snap)
    with pytest.raises(D.DivergenceError, match="no columns"):
        D.close_clock_end(pd.DataFrame(index=_days("2025-01-01", 2)))


def test_clock_info_truncate_and_cut_by_hand():
    clocks = _clocks()[["a", "b", "d"]].rename(columns={"d": "bitcoin"})  # close ends: a day 3, b day 5, btc day 6
    info = D.clock_info(clocks, limit=_day("2025-01-06"), limit_rule="end_date")
    assert info.end == _day("2025-01-06") and info.binding == [] and info.rule == "end_date"
    assert info.truncated == {"a": _day("2025-01-03"), "b": _day("2025-01-05")} and info.benchmark == "bitcoin"
    later = D.clock_info(clocks, limit=_day("2025-02-01"))  # BTC's closes set the end
    assert later.end == _day("2025-01-06") and later.rule == "BTC's last UTC close" and later.binding == ["bitcoin"]
    early = D.clock_info(clocks, limit=_day("2025-01-04"), limit_rule="end_date")
    assert early.end == _day("2025-01-04") and list(early.truncated) == ["a"]
    no_btc = D.clock_info(clocks[["a", "b"]], limit=_day("2025-02-01"))  # the latest-ending column stands in
    assert no_btc.benchmark == "b" and no_btc.end == _day("2025-01-05") and list(no_btc.truncated) == ["a"]
    cut = D.clock_info(clocks, limit=_day("2025-02-01"), short_series="cut")
    assert cut.end == _day("2025-01-03") and cut.truncated == {} and cut.binding == ["a"]
    with pytest.raises(D.DivergenceError, match="parameter short_series='trim' is not valid; use one of truncate"):
        D.clock_info(clocks, limit=_day("2025-02-01"), short_series="trim")


def test_truncate_short_series_sets_nan_after_each_close_end_never_fills():
    idx = _days("2025-01-01", 6)
    prices = pd.DataFrame({"a": np.arange(1.0, 7.0), "b": np.arange(11.0, 17.0), "c": np.arange(21.0, 27.0)}, idx)
    prices.attrs["provenance"] = {"a": {}}
    out = D.truncate_short_series(prices, {"a": "2025-01-03", "b": _day("2025-01-05"), "zzz": "2025-01-01"})
    assert out["a"].tolist()[:3] == [1.0, 2.0, 3.0] and out["a"].iloc[3:].isna().all()
    assert out["b"].tolist()[:5] == [11.0, 12.0, 13.0, 14.0, 15.0] and np.isnan(out["b"].iloc[5])
    pd.testing.assert_series_equal(out["c"], prices["c"])
    assert prices["a"].notna().all() and out.attrs["provenance"] == {"a": {}}  # input untouched, attrs kept


def test_close_only_prices_drop_snapshot_rows_even_before_a_close():
    idx = _days("2025-01-01", 5)
    prices = pd.DataFrame({"x": [1.0, 2, 3, 4, 5], "bitcoin": [1.0, 2, 3, 4, 5], "NVDA": [1.0, 2, 3, 4, 5]}, idx)
    clocks = pd.DataFrame({"x": ["snapshot", "close", "close", "snapshot", "close"], "bitcoin": "close"}, idx)
    info = D.clock_info(clocks, limit=idx[-1])
    assert info.end == idx[-1] and info.truncated == {"x": idx[2]}
    out = D.close_only_prices(prices, clocks, info)
    assert np.isnan(out["x"].iloc[0]) and out["x"].iloc[1:3].tolist() == [2.0, 3.0]
    assert out["x"].iloc[3:].isna().all()  # closes end on day 3 (the day-5 close comes after a snapshot)
    pd.testing.assert_frame_equal(out[["bitcoin", "NVDA"]], prices[["bitcoin", "NVDA"]], check_freq=False)


# ------------------------------------------------------------------ baskets and membership (hand-built)

def test_basket_with_member_missing_days_by_hand():
    idx = _days("2024-01-01", 4)
    rets = pd.DataFrame({"a": [np.nan, 0.10, 0.20, -0.10], "b": [np.nan, -0.10, np.nan, 0.30]}, idx)
    bt = D.basket_table(rets, {"ab": ["a", "b"]})
    assert bt["ab"].iloc[1:].tolist() == pytest.approx([0.0, 0.20, 0.10])
    lvl = D.levels(bt, base="2024-01-01")
    assert lvl["ab"].iloc[-1] == pytest.approx(100 * 1.0 * 1.2 * 1.1)


def test_cap_basket_keeps_members_with_caps_and_counts_the_others():
    idx = _days("2024-01-01", 4)
    rets = pd.DataFrame({"bitcoin": [np.nan, 0.10, 0.20, -0.10], "venice-token": [np.nan, 0.30, 0.10, 0.50],
                         "near": [np.nan, -0.10, 0.00, 0.10]}, idx)
    caps = pd.DataFrame({"bitcoin": [3.0, np.nan, np.nan, np.nan], "near": [1.0, np.nan, np.nan, 1.0]}, idx)
    bt = D.basket_table(rets, {"all": ["bitcoin", "venice-token", "near"]}, caps)
    # weights 3:1 (last cap known before each day), VVV left out of the cap weights, kept equal-weighted
    assert bt["all (cap)"].iloc[1:].tolist() == pytest.approx([(0.3 - 0.1) / 4, 0.6 / 4, (-0.3 + 0.1) / 4])
    assert bt["all"].iloc[1:].tolist() == pytest.approx([0.1, 0.1, 0.5 / 3])
    assert D.uncapped_days(rets, caps).to_dict() == {"bitcoin": 0, "venice-token": 3, "near": 0}
    assert list(D.basket_table(rets, {"v": ["venice-token"]}, caps).columns) == ["v"]  # no cap: no cap column


def test_empty_basket_errors_one_line():
    with pytest.raises(D.DivergenceError, match="basket 'AI tokens' is empty"):
        D.resolve_baskets({"AI tokens": []}, ["NVDA"])
    with pytest.raises(D.DivergenceError, match="basket 'AI tokens' is empty: none of"):
        D.resolve_baskets({"AI tokens": "ai_token"}, ["NVDA"])


def test_membership_end_by_hand():
    idx = _days("2024-01-01", 7)
    size = pd.DataFrame({"tok": [1, 4, 4, 3, 2, 2, 1], "eq": [0, 2, 2, 0, 2, 2, 2]}, idx)  # eq 0: no session
    assert D.membership_end(size, 0.5) == idx[5]  # tok 2 of 4 on row 5 is >= half; row 6 (1 of 4) is not
    assert D.membership_end(size, 0.75) == idx[3] and D.membership_end(size, 0.2) == idx[6]
    size.loc[idx[5]:, "eq"] = 0  # trailing rows without any member: the basket is gone, they count against it
    assert D.membership_end(size, 0.5) == idx[4]
    assert D.membership_end(size.assign(tok=0), 0.5) == idx[4]  # a basket never present: nothing to lose
    assert D.membership_end(pd.DataFrame({"a": [2, 1]}, idx[:2]), 0.9) == idx[0]
    assert D.membership_end(pd.DataFrame({"a": [0, 0]}, idx[:2]), 0.5) == idx[1]  # max 0: nothing to lose


# ------------------------------------------------------------------ the two windows on a hand-built panel

def _panel():
    """Daily prices: BTC and TAO close to the end, FET's closes end Fri 2024-03-15, NEAR's Sun 2024-03-24; both
    continue on snapshots. NVDA trades on weekdays."""
    idx = _days("2024-01-01", 120)  # to 2024-04-29 (Monday)
    rng = np.random.default_rng(3)
    walk = lambda s: pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.02, 120))), idx, name=s)
    prices = pd.concat([walk(a) for a in ("bitcoin", "bittensor", "fetch-ai", "near", "NVDA")], axis=1)
    prices["NVDA"] = prices["NVDA"].where(idx.dayofweek < 5)
    sources = pd.DataFrame(CLOSE, index=idx, columns=["bitcoin", "bittensor", "fetch-ai", "near"])
    sources.loc["2024-03-16":, "fetch-ai"] = SNAP
    sources.loc["2024-03-25":, "near"] = SNAP
    return prices, sources


MEMBERS = {"AI tokens": ["bittensor", "fetch-ai", "near"], "Crypto majors": ["bitcoin"], "AI equities": ["NVDA"]}


def _sample(prices, sources, window=None, **kw):
    window = window or D.performance_window(prices, "2024-01-02")
    used = [m for ids in MEMBERS.values() for m in ids]
    return D.statistics_sample(prices, sources, None, MEMBERS, window, used, max_gap=None, **kw)


def test_performance_window_default_end_and_explicit_end():
    prices, _ = _panel()
    w = D.performance_window(prices, "2024-01-02")
    assert w.end == _day("2024-04-29") and w.rule == "the last date BTC and every equity have a price"
    assert D.performance_window(prices.drop(columns="bitcoin"), "2024-01-02").rule.startswith("the last date TAO")
    assert D.performance_window(prices, "2024-01-02", "2024-03-01").rule == "end_date"
    with pytest.raises(D.DivergenceError, match=r"^parameter end_date=2024-06-01 is after the last price in the "
                                                r"data \(2024-04-29\); use an end_date on or before it$"):
        D.performance_window(prices, "2024-01-02", "2024-06-01")
    with pytest.raises(D.DivergenceError, match="must be after base_date=2024-02-01"):
        D.performance_window(prices, "2024-02-01", "2024-01-15")


def test_statistics_truncate_membership_and_levels_by_hand():
    prices, sources = _panel()
    st = _sample(prices, sources, min_basket_share=None)  # no membership rule: runs to BTC's last close
    fet, near = _day("2024-03-15"), _day("2024-03-24")
    assert st.end == _day("2024-04-29") and st.cut is None  # BTC's last close is also the last shared date
    assert st.rule == "the last date BTC and every equity have a price"
    assert st.truncated == {"fetch-ai": fet, "near": near}
    # 3 members through Fri 03-15, 2 for the week of 03-18, then TAO alone (NEAR's weekend to Sun 03-24 is a
    # partial Monday session: dropped, not compounded)
    size = st.membership["AI tokens"].loc["2024-01-03":]
    assert size.tolist() == np.select([size.index <= fet, size.index <= near], [3, 2], 1).tolist()
    spans = D.membership_spans(size)  # XNYS sessions: Jan 20 + Feb 20 + Mar 1-15 11 = 51; Mar 25-28 4 + Apr 21 = 25
    assert spans.values.tolist() == [[_day("2024-01-03"), fet, 51, 3], [_day("2024-03-18"), _day("2024-03-22"), 5, 2],
                                     [_day("2024-03-25"), st.end, 25, 1]]
    assert D.basket_exits(st.truncated, st.members["AI tokens"]) == {fet: ["fetch-ai"], near: ["near"]}
    r = st.returns
    assert np.isnan(r.loc["2024-03-25", "near"]) and not np.isnan(r.loc["2024-03-25", "bittensor"])
    assert st.baskets.loc["2024-03-20", "AI tokens"] == pytest.approx(r.loc["2024-03-20", ["bittensor", "near"]].mean())
    mon = _day("2024-01-08")  # Saturday to Monday crypto returns compounded into Monday's session
    btc = prices["bitcoin"]
    assert r.loc[mon, "bitcoin"] == pytest.approx(btc.loc[mon] / btc.loc["2024-01-05"] - 1, abs=1e-14)
    assert _day("2024-01-06") not in r.index and "XNYS" in st.policy_text


def test_min_basket_share_cuts_the_statistics_end():
    prices, sources = _panel()
    st = _sample(prices, sources)  # default 0.5: FET (03-15) leaves 2 of 3, NEAR (03-24) 1 of 3
    assert st.end == _day("2024-03-22") and st.rule == "basket membership >= 50%"
    assert st.cut["uncut_end"] == _day("2024-04-29") and st.cut["thin"] == ["AI tokens"]
    assert st.truncated == {"fetch-ai": _day("2024-03-15")} and st.membership["AI tokens"].iloc[-1] == 2
    assert _sample(prices, sources, min_basket_share=0.3).end == _day("2024-04-29")
    cut = _sample(prices, sources, short_series="cut")  # everyone ends at the earliest close end
    assert cut.end == _day("2024-03-15") and cut.truncated == {}


def test_performance_uses_snapshot_end_values_and_flags_them():
    prices, sources = _panel()
    w = D.performance_window(prices, "2024-01-02")
    perf = D.performance(prices, sources, None, MEMBERS, w, max_gap=None)
    t = perf.table
    assert t.loc["fetch-ai", "end"] == w.end and t.loc["fetch-ai", "end_value"] == "intraday snapshot"
    assert t.loc["fetch-ai", "end_source"] == SNAP and t.loc["bitcoin", "end_value"] == "UTC close"
    assert t.loc["fetch-ai", "cum_return"] == pytest.approx(prices["fetch-ai"].iloc[-1] /
                                                            prices.loc["2024-01-02", "fetch-ai"] - 1)
    assert perf.snapshot_from == {"fetch-ai": _day("2024-03-16"), "near": _day("2024-03-25")}
    assert perf.basket_snapshot_from == {"AI tokens": _day("2024-03-16")}
    assert perf.asset_levels.loc["2024-01-02", "near"] == pytest.approx(100.0)
