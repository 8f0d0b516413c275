"""capflow.divergence statistics: known answers on synthetic frames, reference implementations, size under the null.

Every frame here is SYNTHETIC (built inside each test), never market data."""

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
    assert t.loc["bitcoin", "end_value"] == "UTC close" and t.loc["NVDA", "end_value"] == "session close"
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
        D.start_dates(prices, "2024-01-02", late_start="raise")
    assert "\n" not in str(e.value)
    starts = D.start_dates(prices, "2024-01-02")
    assert starts["bittensor"] == pd.Timestamp("2024-01-04", tz="UTC")
    t = D.performance_table(prices, None, "2024-01-02", "2024-01-10", starts=starts)
    assert t.loc["bittensor", "cum_return"] == pytest.approx(6.0)  # 7 / 1 from its own first price


def test_empty_basket_and_long_window_errors():
    with pytest.raises(D.DivergenceError, match="basket 'AI tokens' is empty"):
        D.resolve_baskets({"AI tokens": []}, ["NVDA"])
    with pytest.raises(D.DivergenceError, match="basket 'AI tokens' is empty: none of"):
        D.resolve_baskets({"AI tokens": "ai_token"}, ["NVDA"])
    y = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) ** 2}, _days("2024-01-01", 50))
    with pytest.raises(D.DivergenceError, match=r"windows: 180 is longer than the sample \(50 rows\)"):
        D.rolling_correlations(y, [("a", "b")], [30, 180])


# ------------------------------------------------------------------ the calendar policy inside the study


def test_two_factor_ols_equals_statsmodels_hac(panel):
    y, x = panel
    rng = np.random.default_rng(4)
    f = pd.DataFrame({"bitcoin": x, "AI eq": 0.3 * x + rng.normal(0, 0.02, len(x))}, x.index)
    target = (1.2 * f["bitcoin"] + 0.2 * f["AI eq"] + rng.normal(0, 0.02, len(x))).rename("tok")
    got = D.stats.two_factor_ols(target, f, hac_lags=5)
    ref = sm.OLS(target, sm.add_constant(f)).fit(cov_type="HAC", cov_kwds={"maxlags": 5})
    assert got["beta_bitcoin"] == pytest.approx(ref.params["bitcoin"], abs=1e-12)
    assert got["t_AI eq"] == pytest.approx(ref.tvalues["AI eq"], abs=1e-10)
    assert got["share_bitcoin"] + got["share_AI eq"] == pytest.approx(ref.rsquared, abs=1e-12)


# ------------------------------------------------------------------ performance at any end date (hand computed)

def test_ytd_is_relative_to_the_end_date_and_flags_stale_anchors():
    idx = _days("2024-12-28", 10)  # 12-28 .. 2025-01-06
    prices = pd.DataFrame({"bitcoin": [50.0, 60, 70, 80, 90, 100, 110, 120, 130, 140],
                           "NVDA": [10.0, np.nan, np.nan, 12, np.nan, 15, np.nan, np.nan, np.nan, 18],
                           "AMD": [10.0, np.nan, np.nan, np.nan, 11, np.nan, 13, np.nan, np.nan, np.nan],
                           "near": [5.0] + [np.nan] * 9}, idx)
    t = D.performance_table(prices, None, "2024-12-29", "2025-01-04", max_stale_days=3)
    assert t.loc["bitcoin", "ytd"] == pytest.approx(120 / 80 - 1)       # 2024-12-31 close = 80, 01-04 = 120
    assert t.loc["bitcoin", "cum_return"] == pytest.approx(120 / 60 - 1)  # base price 2024-12-29 = 60
    assert t.loc["NVDA", "ytd"] == pytest.approx(15 / 12 - 1)           # last row up to 01-04 is 01-02 (15)
    assert t.loc["NVDA", "end"] == pd.Timestamp("2025-01-02", tz="UTC") and t.loc["NVDA", "stale_days"] == 2
    assert t.loc["AMD", "ytd"] == pytest.approx(13 / 10 - 1)            # anchor 12-28: 3 days before 12-31
    assert np.isnan(t.loc["near", "ytd"]) and t.loc["near", "stale_days"] == 7  # no price in 2025
    strict = D.performance_table(prices, None, "2024-12-29", "2025-01-04", max_stale_days=2)
    assert np.isnan(strict.loc["AMD", "ytd"]) and strict.loc["NVDA", "ytd"] == pytest.approx(15 / 12 - 1)
    later = D.performance_table(prices, None, "2024-12-29", "2025-01-06")
    assert later.loc["NVDA", "ytd"] == pytest.approx(18 / 12 - 1) and later.loc["bitcoin", "ytd"] == pytest.approx(
        140 / 80 - 1)
