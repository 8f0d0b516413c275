"""capflow.divergence: known answers on synthetic frames, reference implementations, size under the null."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from capflow import divergence as D

sm = pytest.importorskip("statsmodels.api")


def _days(start: str, n: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="D", tz="UTC", name="timestamp")


# ------------------------------------------------------------------ performance table (hand computed)

def test_performance_table_by_hand():
    idx = _days("2023-12-30", 6)  # 12-30 .. 2024-01-04
    prices = pd.DataFrame({"NVDA": [np.nan, 100.0, np.nan, 90.0, 75.0, 120.0],
                           "bitcoin": [10.0, 11.0, 12.0, 12.0, 9.0, 10.0]}, idx)
    basket = pd.DataFrame({"B": [np.nan, np.nan, np.nan, 0.10, -0.50, 0.20]}, idx)
    t = D.performance_table(prices, basket, base="2024-01-01", end="2024-01-04")
    assert t.loc["NVDA", "cum_return"] == pytest.approx(0.20)       # 120 / 100 (price at/before base)
    assert t.loc["NVDA", "max_drawdown"] == pytest.approx(-0.25)    # 100 -> 90 -> 75
    assert t.loc["NVDA", "ytd"] == pytest.approx(0.20)              # 2023-12-31 close = 100
    assert t.loc["bitcoin", "cum_return"] == pytest.approx(10 / 12 - 1)
    assert t.loc["bitcoin", "ytd"] == pytest.approx(10 / 11 - 1)
    assert t.loc["bitcoin", "max_drawdown"] == pytest.approx(-0.25)
    assert t.loc["B", "cum_return"] == pytest.approx(1.1 * 0.5 * 1.2 - 1)
    assert t.loc["B", "max_drawdown"] == pytest.approx(0.55 / 1.1 - 1)


def test_basket_with_member_missing_days_by_hand():
    idx = _days("2024-01-01", 4)
    rets = pd.DataFrame({"a": [np.nan, 0.10, 0.20, -0.10], "b": [np.nan, -0.10, np.nan, 0.30]}, idx)
    bt = D.basket_table(rets, {"ab": ["a", "b"]})
    assert bt["ab"].iloc[1:].tolist() == pytest.approx([0.0, 0.20, 0.10])
    lvl = D.levels(bt, base="2024-01-01")
    assert lvl["ab"].iloc[-1] == pytest.approx(100 * 1.0 * 1.2 * 1.1)


# ------------------------------------------------------------------ rolling statistics vs references

@pytest.fixture
def panel():
    rng = np.random.default_rng(7)
    idx = _days("2024-01-01", 250)
    x = pd.Series(rng.normal(0, 0.02, 250), idx, name="bench")
    y = pd.DataFrame({f"s{i}": 0.3 * i * x + rng.normal(0, 0.01, 250) for i in range(3)}, idx)
    y.iloc[[5, 100, 101], 1] = np.nan
    return y, x


def test_rolling_corr_beta_equal_pandas_and_ols_per_window(panel):
    y, x = panel
    w = 40
    corr, beta = D.rolling_corr_beta(y, x, w, min_periods=30)
    pd.testing.assert_frame_equal(corr, y.rolling(w, min_periods=30).corr(x), atol=1e-10, check_freq=False)
    for t in (39, 120, 249):
        for col in y.columns:
            win = pd.concat([y[col], x], axis=1).iloc[t - w + 1:t + 1].dropna()
            ols = sm.OLS(win[col], sm.add_constant(win["bench"])).fit()
            assert beta[col].iloc[t] == pytest.approx(ols.params["bench"], abs=1e-10)
    assert corr.iloc[:29].isna().all().all()


def test_rolling_two_factor_equals_statsmodels_ols_per_window(panel):
    y, x = panel
    rng = np.random.default_rng(3)
    f = pd.DataFrame({"bitcoin": x, "AI eq": 0.5 * x + rng.normal(0, 0.02, len(x))}, x.index)
    target = (0.4 * f["bitcoin"] + 0.8 * f["AI eq"] + rng.normal(0, 0.02, len(x))).rename("tok")
    out = D.rolling_two_factor(target, f, 60)
    for t in (59, 150, 249):
        win = pd.concat([target, f], axis=1).iloc[t - 59:t + 1]
        ols = sm.OLS(win["tok"], sm.add_constant(win[["bitcoin", "AI eq"]])).fit()
        row = out.iloc[t]
        assert [row["alpha"], row["beta_bitcoin"], row["beta_AI eq"]] == pytest.approx(ols.params.values, abs=1e-10)
        assert row["r2"] == pytest.approx(ols.rsquared, abs=1e-10)
        r2_1 = sm.OLS(win["tok"], sm.add_constant(win["bitcoin"])).fit().rsquared
        r2_2 = sm.OLS(win["tok"], sm.add_constant(win["AI eq"])).fit().rsquared
        assert row["share_bitcoin"] == pytest.approx((ols.rsquared - r2_2 + r2_1) / 2, abs=1e-10)
        assert row["share_bitcoin"] + row["share_AI eq"] + row["share_residual"] == pytest.approx(1.0)


def test_rolling_correlations_pairs_and_windows(panel):
    y, _ = panel
    out = D.rolling_correlations(y, [("s0", "s2"), ("s1", "s2")], [20, 60])
    assert list(out.columns.get_level_values(0).unique()) == [20, 60]
    ref = y["s0"].rolling(60).corr(y["s2"])
    pd.testing.assert_series_equal(out[(60, "s0 ~ s2")], ref, atol=1e-10, check_names=False, check_freq=False)


# ------------------------------------------------------------------ cointegration: power and size

def test_cointegrated_pair_is_found():
    rng = np.random.default_rng(11)
    x = pd.Series(np.cumsum(rng.normal(0, 1, 500)), _days("2024-01-01", 500))
    y = 0.8 * x + rng.normal(0, 1, 500)
    res = D.cointegration(y, x)
    assert res["eg_pvalue"] < 0.01 and res["johansen_rank"] >= 1


def test_independent_random_walks_rejected_at_nominal_rate():
    """Seeded Monte Carlo, 200 pairs of independent random walks (T=250): Engle-Granger rejects at 5% in
    [0.02, 0.10] of them (binomial sd at p=0.05, n=200 is 0.015; the band is about +-3 sd)."""
    rng = np.random.default_rng(2024)
    idx = _days("2024-01-01", 250)
    rej = [D.cointegration(pd.Series(np.cumsum(rng.normal(size=250)), idx),
                           pd.Series(np.cumsum(rng.normal(size=250)), idx))["eg_pvalue"] < 0.05
           for _ in range(200)]
    assert 0.02 <= np.mean(rej) <= 0.10


# ------------------------------------------------------------------ breaks and regimes

def test_planted_break_is_found_near_its_date():
    rng = np.random.default_rng(5)
    idx = _days("2024-01-01", 400)
    s = pd.Series(np.r_[rng.normal(0, 1, 250), rng.normal(2.0, 1, 150)], idx)
    found = D.change_points(s, n_breaks=1)
    assert abs((found[0] - idx[250]).days) <= 5
    chow = D.chow_test(s, idx[250])
    assert chow["pvalue"] < 1e-6 and chow["n_after"] == 150
    assert D.chow_test(s.iloc[:250], idx[125])["pvalue"] > 0.001  # no break in the first part


def test_markov_regimes_separate_calm_and_wild_periods():
    rng = np.random.default_rng(9)
    idx = _days("2024-01-01", 400)
    s = pd.Series(np.r_[rng.normal(0, 0.01, 200), rng.normal(0, 0.05, 100), rng.normal(0, 0.01, 100)], idx)
    reg = D.markov_regimes(s, 2)
    assert reg.summary["volatility"].tolist() == pytest.approx([0.01, 0.05], rel=0.25)
    assert reg.probabilities["regime_1"].iloc[210:290].mean() > 0.9
    assert reg.probabilities["regime_1"].iloc[:190].mean() < 0.1


# ------------------------------------------------------------------ bad input: one line each

def test_base_date_before_first_price_names_asset_and_date():
    idx = _days("2024-01-01", 10)
    prices = pd.DataFrame({"NVDA": np.linspace(1, 2, 10), "bittensor": [np.nan] * 3 + list(range(1, 8))}, idx)
    with pytest.raises(D.DivergenceError, match=r"bittensor \(first 2024-01-04\)") as e:
        D.performance_table(prices, None, base="2024-01-02")
    assert "\n" not in str(e.value)
    with pytest.warns(UserWarning, match="bittensor"):
        t = D.performance_table(prices, None, base="2024-01-02", late_start="own_start")
    assert t.loc["bittensor", "cum_return"] == pytest.approx(6.0)


def test_empty_basket_and_long_window_errors():
    with pytest.raises(D.DivergenceError, match="basket 'AI tokens' is empty"):
        D.resolve_baskets({"AI tokens": []}, ["NVDA"])
    with pytest.raises(D.DivergenceError, match="basket 'AI tokens' is empty: none of"):
        D.resolve_baskets({"AI tokens": "ai_token"}, ["NVDA"])
    y = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) ** 2}, _days("2024-01-01", 50))
    with pytest.raises(D.DivergenceError, match=r"windows: 180 is longer than the sample \(50 rows\)"):
        D.rolling_correlations(y, [("a", "b")], [30, 180])


# ------------------------------------------------------------------ the calendar policy inside the study

def test_study_compounds_weekend_crypto_into_monday_and_names_policy():
    idx = _days("2024-01-01", 120)  # 2024-01-01 is a Monday (US holiday)
    rng = np.random.default_rng(1)
    btc = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.02, 120))), idx)
    nvda = pd.Series(50 * np.exp(np.cumsum(rng.normal(0, 0.02, 120))), idx).where(idx.dayofweek < 5)
    prices = pd.DataFrame({"bitcoin": btc, "NVDA": nvda})
    st = D.run_study(prices, baskets={"Crypto majors": ["bitcoin"], "AI equities": ["NVDA"]},
                     base="2024-01-02", windows=[20], n_regimes=0, n_breaks=1, spread=("Crypto majors", "AI equities"),
                     factors=("bitcoin", "NVDA"), target="Crypto majors", max_gap=None)
    assert st.policy == "equity_sessions" and "XNYS" in st.policy_text
    mon = pd.Timestamp("2024-01-08", tz="UTC")
    assert st.returns.loc[mon, "bitcoin"] == pytest.approx(btc.loc[mon] / btc.loc["2024-01-05"] - 1, abs=1e-14)
    assert pd.Timestamp("2024-01-06", tz="UTC") not in st.returns.index
    assert st.table.loc["bitcoin", "cum_return"] == pytest.approx(btc.iloc[-1] / btc.loc["2024-01-02"] - 1)
    summary = D.summary(st)
    assert summary["calendar_policy"] == "equity_sessions" and summary["end_date"] == "2024-04-29"


# ------------------------------------------------------------------ clocks: close-only sample end (hand-built)

def _clocks() -> pd.DataFrame:
    c, s, n = "close", "snapshot", np.nan
    return pd.DataFrame({"a": [c, c, c, s, s, s],       # closes end day 3, snapshots from day 4
                         "b": [s, c, c, c, c, n],       # a pre-listing snapshot is not a switch
                         "c": [c, c, s, c, c, c],       # a one-day blip: closes end before it
                         "d": [c, c, c, c, c, c]}, _days("2025-01-01", 6))


def test_close_clock_ends_by_hand():
    ends = D.close_clock_ends(_clocks())
    day = lambda d: pd.Timestamp(f"2025-01-0{d}", tz="UTC")
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


def test_clock_info_cut_override_and_any():
    clocks = _clocks()[["a", "b", "d"]]
    cut = D.clock_info(clocks, "close_only", short_series="cut")
    assert cut.cut == pd.Timestamp("2025-01-03", tz="UTC") and cut.binding == ["a"] and cut.mixed == {}
    assert cut.as_dict()["cut"] == "2025-01-03" and cut.as_dict()["close_end"]["b"] == "2025-01-05"
    over = D.clock_info(clocks, "close_only", end=pd.Timestamp("2025-01-05", tz="UTC"), short_series="cut")
    assert over.cut is None and over.as_dict()["mixed"] == {"a": "2025-01-04"}
    anyc = D.clock_info(clocks, "any")  # end: the last date all columns have a row (b ends day 5)
    assert anyc.cut is None and anyc.end == pd.Timestamp("2025-01-05", tz="UTC") and list(anyc.mixed) == ["a"]
    with pytest.raises(D.DivergenceError, match=r"close-clock data of \['a'\] ends 2025-01-03, on or before"):
        D.clock_info(clocks, "close_only", base=pd.Timestamp("2025-01-03", tz="UTC"), short_series="cut")
    with pytest.raises(D.DivergenceError, match="parameter clock='closes' is not valid"):
        D.clock_info(clocks, "closes")
    with pytest.raises(D.DivergenceError, match="parameter short_series='trim' is not valid; use one of truncate"):
        D.clock_info(clocks, "close_only", short_series="trim")


def test_caveat_lines_state_cut_or_mixing():
    clocks = _clocks()[["a", "b", "d"]].rename(columns={"a": "fetch-ai", "b": "bitcoin", "d": "near"})
    cav = pd.DataFrame({"symbol": ["FET", "BTC", "NEAR"], "gaps_in_study": [1, 0, 0],
                        "study_gaps": ["2025-01-02..2025-01-02 (1 of 1 periods missing)", "", ""],
                        "first_snapshot": D.close_clock_ends(clocks)["first_snapshot"].to_numpy()},
                       index=clocks.columns)
    cut = D.clock_info(clocks, "close_only", short_series="cut").as_dict()
    text = "\n".join(D.caveat_lines(cav, cut, "2025-01-01", "2025-01-03", max_gap=7))
    assert "FET from 2025-01-04" in text and "ends on 2025-01-03, the last date FET still" in text
    assert "could run to 2025-01-05" in text and "FET: 2025-01-02..2025-01-02" in text and "7 rows" in text
    mixed = D.clock_info(clocks, "any").as_dict()
    text = "\n".join(D.caveat_lines(cav, mixed, "2025-01-01", "2025-01-05"))
    assert "Mixed clocks" in text and "FET from 2025-01-04 on" in text
    trunc = D.clock_info(clocks, "close_only", others_end=pd.Timestamp("2025-01-06", tz="UTC")).as_dict()
    text = "\n".join(D.caveat_lines(cav, trunc, "2025-01-01", "2025-01-05"))
    assert "short_series='truncate' the sample ends on 2025-01-05 (the last UTC close of BTC)" in text
    assert "earlier UTC-close end: FET on 2025-01-03." in text and "end everyone on 2025-01-03" in text


# ------------------------------------------------------------------ short_series: truncate vs cut (hand-built)

def _day(d: str) -> pd.Timestamp:
    return pd.Timestamp(d, tz="UTC")


def test_clock_info_truncate_by_hand():
    clocks = _clocks()[["a", "b", "d"]].rename(columns={"d": "bitcoin"})  # close ends: a day 3, b day 5, btc day 6
    info = D.clock_info(clocks, "close_only", others_end=_day("2025-01-06"))
    assert info.end == info.cut == _day("2025-01-06") and info.binding == ["bitcoin"] and info.benchmark == "bitcoin"
    assert info.truncated == {"a": _day("2025-01-03"), "b": _day("2025-01-05")} and info.mixed == {}
    assert info.as_dict()["truncated"] == {"a": "2025-01-03", "b": "2025-01-05"}
    eq_first = D.clock_info(clocks, "close_only", others_end=_day("2025-01-05"))  # equities end first
    assert eq_first.end == _day("2025-01-05") and eq_first.truncated == {"a": _day("2025-01-03")}
    explicit = D.clock_info(clocks, "close_only", end=_day("2025-01-04"))
    assert explicit.cut is None and explicit.end == _day("2025-01-04") and list(explicit.truncated) == ["a"]
    no_btc = D.clock_info(clocks[["a", "b"]], "close_only")  # the latest-ending crypto column stands in
    assert no_btc.benchmark == "b" and no_btc.end == _day("2025-01-05") and list(no_btc.truncated) == ["a"]
    assert D.clock_info(clocks, "any").truncated == {}
    with pytest.raises(D.DivergenceError, match=r"short_series='truncate': the close-clock data of \['a'\] ends "
                                                r"2025-01-03, on or before base_date=2025-01-03"):
        D.clock_info(clocks, "close_only", base=_day("2025-01-03"))


def test_truncate_short_series_sets_nan_after_each_close_end_never_fills():
    idx = _days("2025-01-01", 6)
    prices = pd.DataFrame({"a": np.arange(1.0, 7.0), "b": np.arange(11.0, 17.0), "c": np.arange(21.0, 27.0)}, idx)
    prices.attrs["provenance"] = {"a": {}}
    out = D.truncate_short_series(prices, {"a": "2025-01-03", "b": _day("2025-01-05"), "zzz": "2025-01-01"})
    assert out["a"].tolist()[:3] == [1.0, 2.0, 3.0] and out["a"].iloc[3:].isna().all()
    assert out["b"].tolist()[:5] == [11.0, 12.0, 13.0, 14.0, 15.0] and np.isnan(out["b"].iloc[5])
    pd.testing.assert_series_equal(out["c"], prices["c"])
    assert prices["a"].notna().all() and out.attrs["provenance"] == {"a": {}}  # input untouched, attrs kept


def _truncation_panel():
    """Synthetic daily prices: BTC and TAO close to the end, FET closes end Fri 2024-03-15, NEAR Sun 2024-03-24."""
    idx = _days("2024-01-01", 120)  # to 2024-04-29 (Monday)
    rng = np.random.default_rng(3)
    walk = lambda s: pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.02, 120))), idx, name=s)
    prices = pd.concat([walk(a) for a in ("bitcoin", "bittensor", "fetch-ai", "near", "NVDA")], axis=1)
    prices["NVDA"] = prices["NVDA"].where(idx.dayofweek < 5)
    clocks = pd.DataFrame("close", index=idx, columns=["bitcoin", "bittensor", "fetch-ai", "near"])
    clocks.loc["2024-03-16":, "fetch-ai"] = "snapshot"
    clocks.loc["2024-03-25":, "near"] = "snapshot"
    return prices, clocks


def _panel_study(prices, **kw):
    return D.run_study(prices, baskets={"AI tokens": ["bittensor", "fetch-ai", "near"], "Crypto majors": ["bitcoin"],
                                        "AI equities": ["NVDA"]},
                       base="2024-01-02", windows=[20], n_regimes=0, n_breaks=0, max_gap=None,
                       factors=("bitcoin", "AI equities"), target="AI tokens", **kw)


def test_study_truncate_membership_table_and_levels_by_hand():
    raw, clocks = _truncation_panel()
    info = D.clock_info(clocks, "close_only", base=_day("2024-01-02"), others_end=D.default_end(raw[["NVDA"]]))
    prices = D.apply_clock(raw, info)
    assert prices["fetch-ai"].loc["2024-03-16":].isna().all() and prices["fetch-ai"].loc[:"2024-03-15"].notna().all()
    st = _panel_study(prices, min_basket_share=None)  # no membership rule: runs to BTC's close end
    fet, near = _day("2024-03-15"), _day("2024-03-24")
    assert st.end == _day("2024-04-29") and st.short_series == "truncate" and st.end_rule == "bitcoin close end"
    assert st.truncated == {"fetch-ai": fet, "near": near}
    # membership: 3 members through Fri 03-15, 2 for the week of 03-18, then TAO alone (NEAR's weekend to Sun
    # 03-24 is a partial Monday session: dropped, not compounded)
    size = st.membership["AI tokens"].loc["2024-01-03":]
    expected = np.select([size.index <= fet, size.index <= near], [3, 2], 1)
    assert size.tolist() == expected.tolist()
    spans = D.membership_spans(size)  # XNYS sessions: Jan 20 + Feb 20 + Mar 1-15 11 = 51; Mar 25-28 4 + Apr 21 = 25
    assert spans.values.tolist() == [[_day("2024-01-03"), fet, 51, 3], [_day("2024-03-18"), _day("2024-03-22"), 5, 2],
                                     [_day("2024-03-25"), st.end, 25, 1]]
    assert D.basket_exits(st.truncated, st.members["AI tokens"]) == {fet: ["fetch-ai"], near: ["near"]}
    assert np.isnan(st.returns.loc["2024-03-25", "near"]) and not np.isnan(st.returns.loc["2024-03-25", "bittensor"])
    r = st.returns
    both = r.loc["2024-03-20", ["bittensor", "near"]].mean()
    assert st.basket_returns.loc["2024-03-20", "AI tokens"] == pytest.approx(both)
    assert st.basket_returns.loc["2024-04-10", "AI tokens"] == pytest.approx(r.loc["2024-04-10", "bittensor"])
    t = st.table
    assert t.loc["fetch-ai", "end"] == fet and t.loc["near", "end"] == near and t.loc["bittensor", "end"] == st.end
    assert t.loc["near", "cum_return"] == pytest.approx(raw.loc[near, "near"] / raw.loc["2024-01-02", "near"] - 1)
    assert t.loc["AI tokens", "end"] == st.end
    assert st.levels.loc[:fet, "fetch-ai"].notna().all() and st.levels.loc["2024-03-18":, "fetch-ai"].isna().all()
    assert pd.notna(st.two_factor[20]["r2"].loc["2024-04-29"])  # the shrunken basket still has a model
    tail = D.thin_tail(st.levels["AI tokens"], st.membership["AI tokens"])  # 1 of 3 members < half: thin
    lv = st.levels["AI tokens"]
    assert tail["last_full"] == _day("2024-03-22") and tail["rows"] == 25 and tail["members"] == 1
    assert tail["cum_return_full"] == pytest.approx(lv.loc["2024-03-22"] / 100 - 1)
    assert tail["tail_return"] == pytest.approx(lv.iloc[-1] / lv.loc["2024-03-22"] - 1)
    assert D.thin_tail(st.levels["AI tokens"], st.membership["AI tokens"], min_share=0.3) is None
    out = D.summary(st)
    assert out["thin_tail"]["AI tokens"]["last_full"] == "2024-03-22" and "Crypto majors" not in out["thin_tail"]
    assert out["truncated"] == {"fetch-ai": "2024-03-15", "near": "2024-03-24"} and out["data_as_of"] == "2024-04-29"
    assert out["basket_size_at_end"]["AI tokens"] == 1


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


def test_min_basket_share_cuts_default_end_not_explicit_end():
    raw, clocks = _truncation_panel()
    info = D.clock_info(clocks, "close_only", base=_day("2024-01-02"), others_end=D.default_end(raw[["NVDA"]]))
    prices = D.apply_clock(raw, info)
    with pytest.warns(D.EndRuleWarning, match=r"ends on 2024-03-22 instead of 2024-04-29 \(bitcoin close end\)"):
        st = _panel_study(prices)  # default min_basket_share=0.5: FET (03-15) leaves 2 of 3, NEAR (03-24) 1 of 3
    last_two = _day("2024-03-22")  # the last session with >= 1.5 members (TAO + NEAR); NEAR's weekend is dropped
    assert st.end == last_two and st.end_rule == "basket membership >= 50%"
    assert st.truncated == {"fetch-ai": _day("2024-03-15")} and st.membership["AI tokens"].iloc[-1] == 2
    ref = _panel_study(prices, end="2024-03-22")  # the same window, asked for explicitly
    assert ref.end_rule == "user end_date"
    pd.testing.assert_frame_equal(st.table, ref.table)
    pd.testing.assert_frame_equal(st.basket_returns, ref.basket_returns)
    out = D.summary(st)
    assert out["end_rule"] == "basket membership >= 50%" and out["end_date"] == out["data_as_of"] == "2024-03-22"
    assert out["end_without_rule"] == "2024-04-29" and out["thin_tail"] == {}
    assert st.clock["end"] == "2024-03-22" and st.clock["truncated"] == {"fetch-ai": "2024-03-15"}
    line = D._clock_line(st.clock, st.end.date())
    assert "would end on 2024-04-29" in line and "ends on 2024-03-22" in line
    assert "NEAR have their last UTC close on 2024-03-24, which would leave AI tokens" in line
    _, notes = D.call_with_notes(_panel_study, prices)
    assert len(notes) == 1 and "min_basket_share=0.5" in notes[0]
    # an explicit end date is never cut: the thin tail stays and is reported
    with warnings.catch_warnings():
        warnings.simplefilter("error", D.EndRuleWarning)
        kept = _panel_study(prices, end="2024-04-29")
    assert kept.end == _day("2024-04-29") and kept.end_rule == "user end_date"
    assert D.summary(kept)["thin_tail"]["AI tokens"]["last_full"] == "2024-03-22"
    assert _panel_study(prices, min_basket_share=0.3).end == _day("2024-04-29")  # 1 of 3 >= 0.3 x 3 would fail
    for bad in (0, 1.5, "half"):
        with pytest.raises(D.DivergenceError, match=r"^parameter min_basket_share=.* in \(0, 1\] or None"):
            _panel_study(prices, min_basket_share=bad)


def test_study_cut_unchanged_everyone_ends_at_common_close_end():
    raw, clocks = _truncation_panel()
    info = D.clock_info(clocks, "close_only", short_series="cut")
    assert info.cut == _day("2024-03-15") and info.truncated == {} and info.binding == ["fetch-ai"]
    st = _panel_study(D.apply_clock(raw, info))
    old = _panel_study(raw.loc[:"2024-03-15"])  # the behaviour before short_series: a plain cut, no attrs
    assert st.end == old.end == _day("2024-03-15") and st.truncated == {}
    assert (st.table["end"] == st.end).all()
    pd.testing.assert_frame_equal(st.table, old.table)
    pd.testing.assert_frame_equal(st.basket_returns, old.basket_returns)
    trunc = D.apply_clock(raw, D.clock_info(clocks, "close_only", others_end=D.default_end(raw[["NVDA"]])))
    assert _panel_study(trunc, short_series="cut").end == _day("2024-03-15")  # cut on truncated prices
    with pytest.raises(D.DivergenceError, match="loaded with short_series='cut'"):
        _panel_study(D.apply_clock(raw, info), short_series="truncate")


def test_cap_basket_keeps_members_with_caps_and_names_the_others():
    idx = _days("2024-01-01", 4)
    rets = pd.DataFrame({"bitcoin": [np.nan, 0.10, 0.20, -0.10], "venice-token": [np.nan, 0.30, 0.10, 0.50],
                         "near": [np.nan, -0.10, 0.00, 0.10]}, idx)
    caps = pd.DataFrame({"bitcoin": [3.0, np.nan, np.nan, np.nan], "near": [1.0, np.nan, np.nan, 1.0]}, idx)
    with pytest.warns(D.CapCoverageWarning, match=r"'all': no market cap known on 3 of 3 days for VVV"):
        bt = D.basket_table(rets, {"all": ["bitcoin", "venice-token", "near"]}, caps)
    # weights 3:1 (last cap known before each day), VVV left out of the cap weights, kept equal-weighted
    assert bt["all (cap)"].iloc[1:].tolist() == pytest.approx([(0.3 - 0.1) / 4, 0.6 / 4, (-0.3 + 0.1) / 4])
    assert bt["all"].iloc[1:].tolist() == pytest.approx([0.1, 0.1, 0.5 / 3])
    none = D.basket_table(rets, {"v": ["venice-token"]}, caps)
    assert list(none.columns) == ["v"]  # no member has a cap: no cap-weighted column


# ------------------------------------------------------------------ expected warnings become notes

def test_call_with_notes_captures_expected_and_reemits_others():
    from capflow.data import OfflineFallbackWarning

    def noisy(x):
        warnings.warn("capflow is offline: used snapshot", OfflineFallbackWarning)
        warnings.warn("capflow is offline: used snapshot", OfflineFallbackWarning)
        warnings.warn("late: TAO (2024-04-11)", D.LateStartWarning)
        warnings.warn("something else", RuntimeWarning)
        return x + 1

    with pytest.warns(RuntimeWarning, match="something else"):
        result, notes = D.call_with_notes(noisy, 1)
    assert result == 2 and notes == ["capflow is offline: used snapshot", "late: TAO (2024-04-11)"]
    assert D.notes_markdown(notes).startswith("**Notes.**\n\n- capflow is offline")
    assert D.notes_markdown([]) == ""


def test_late_start_is_a_late_start_warning():
    idx = _days("2024-01-01", 5)
    prices = pd.DataFrame({"NVDA": [1.0, 2, 3, 4, 5], "bittensor": [np.nan, np.nan, 1.0, 2, 3]}, idx)
    with pytest.warns(D.LateStartWarning, match=r"bittensor \(2024-01-03\)"):
        D.check_base_date(prices, "2024-01-02", late_start="own_start")


# ------------------------------------------------------------------ the real snapshot: clocks and cut

@pytest.fixture
def snapshot_only(snapshot_root, offline_env, monkeypatch):
    monkeypatch.setenv("CAPFLOW_SNAPSHOT", str(snapshot_root))
    monkeypatch.setenv("CAPFLOW_SOURCES", "snapshot")


def test_snapshot_clocks_and_close_only_cut(snapshot_only):
    clocks = D.price_clocks("bitcoin,fetch-ai", "2026-02-28", "2026-03-06")
    assert clocks.loc["2026-03-03", "bitcoin"] == "close" and clocks.loc["2026-03-04", "bitcoin"] == "snapshot"
    (prices, caps), notes = D.call_with_notes(D.load_inputs, "bitcoin,fetch-ai,NVDA", "2024-01-02",
                                              short_series="cut")
    info = prices.attrs["clock"]
    assert info["cut"] == "2025-10-22" and info["binding"] == ["fetch-ai"] and info["mixed"] == {}
    assert prices.index[-1] == pd.Timestamp("2025-10-22", tz="UTC") and "provenance" in prices.attrs
    (trunc, tcaps), tnotes = D.call_with_notes(D.load_inputs, "bitcoin,fetch-ai,NVDA", "2024-01-02")
    tinfo = trunc.attrs["clock"]  # default: truncate FET at its close end, run to BTC's last close
    assert tinfo["cut"] == "2026-03-03" and tinfo["binding"] == ["bitcoin"] and tinfo["mixed"] == {}
    assert tinfo["truncated"] == {"fetch-ai": "2025-10-22"} and trunc.index[-1] == _day("2026-03-03")
    assert trunc["fetch-ai"].last_valid_index() == _day("2025-10-22") and tcaps.index[-1] <= _day("2026-03-03")
    assert any("FET on 2025-10-22" in n for n in tnotes)
    end = _day("2026-03-03")
    cav = D.data_caveats(trunc, "2024-01-02", end)  # FET's snapshots and their gaps lie inside 2024..2026-03
    own = D.data_caveats(trunc, "2024-01-02", end, truncated={"fetch-ai": _day("2025-10-22")})
    assert cav.loc["fetch-ai", "snapshot_in_study"] and cav.loc["fetch-ai", "gaps_in_study"] > 0
    assert not own.loc["fetch-ai", "snapshot_in_study"] and own.loc["fetch-ai", "gaps_in_study"] == 0
    (full, _), _ = D.call_with_notes(D.load_inputs, "bitcoin,fetch-ai,NVDA", "2024-01-02", clock="any")
    assert full.attrs["clock"]["mixed"]["fetch-ai"] == "2025-11-08" and full.index[-1] > prices.index[-1]


def test_snapshot_crypto_at_equity_close_in_hourly_window_only(snapshot_only):
    from capflow import returns as R

    (prices, _), _ = D.call_with_notes(D.load_inputs, "bitcoin,NVDA", "2025-09-29", end="2025-10-20")
    hourly = D.load_hourly(prices, "2025-09-29", "2025-10-20")
    daily = R.simple_returns(prices).loc["2025-09-29":]
    rets = R.align(daily, "crypto_at_equity_close", hourly=hourly).loc["2025-09-30":]
    closes = R.prices_at_session_close(hourly)["bitcoin"]
    assert closes.loc["2025-10-01"] == hourly.loc["2025-10-01 19:00", "bitcoin"]  # 16:00 EDT = 20:00 UTC close
    assert rets["bitcoin"].to_numpy() == pytest.approx((closes / closes.shift() - 1).loc["2025-09-30":].to_numpy())
    assert rets["bitcoin"].notna().all() and rets["NVDA"].notna().all()
    (long, _), _ = D.call_with_notes(D.load_inputs, "bitcoin,NVDA", "2024-01-02")
    with pytest.raises(R.ReturnsError, match="does not cover the XNYS closes 2024-01-02 21:00"):
        D.run_study(long, policy="crypto_at_equity_close", hourly=D.load_hourly(long, "2024-01-02"),
                    baskets={"Crypto majors": ["bitcoin"], "AI equities": ["NVDA"]}, n_regimes=0, n_breaks=0,
                    spread=("Crypto majors", "AI equities"), factors=("bitcoin", "NVDA"), target="Crypto majors")


def test_mixed_clock_start_and_shading():
    import matplotlib.pyplot as plt

    from capflow.plots import divergence as P

    idx = _days("2025-01-01", 10)
    st = D.Study(*([None] * 17), clock={"mixed": {"a": "2025-01-06", "b": "2025-01-04"}})
    assert D.mixed_clock_start(st) == pd.Timestamp("2025-01-04", tz="UTC")
    assert D.mixed_clock_start(D.Study(*([None] * 17))) is None
    ax = P.plot_performance(pd.DataFrame({"B": np.linspace(100, 120, 10)}, idx), mixed_from=D.mixed_clock_start(st))
    assert any("mixed clocks from 2025-01-04" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close("all")


def test_plots_mark_truncated_ends_and_membership_changes():
    import matplotlib.pyplot as plt

    from capflow.plots import divergence as P

    idx = _days("2025-01-01", 10)
    lv = pd.DataFrame({"bitcoin": np.linspace(100, 120, 10), "fetch-ai": np.r_[np.linspace(100, 90, 6), [np.nan] * 4]},
                      idx)
    ax = P.plot_performance(lv)
    ends = [ln for ln in ax.get_lines() if ln.get_marker() == "x"]
    assert len(ends) == 1 and ends[0].get_xdata()[0] == idx[5] and ends[0].get_ydata()[0] == pytest.approx(90)
    two = pd.DataFrame({"share_bitcoin": 0.5, "share_AI equities": 0.2, "share_residual": 0.3}, idx)
    ax = P.plot_variance_shares(two, marks={idx[3]: ["fetch-ai"], idx[6]: ["near"]})
    marks = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert len(marks) == 2 and "basket membership changes" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close("all")
