"""capflow.capex_inference: sandwich covariances, wild-cluster bootstrap, placebo, full pipeline (SYNTHETIC data)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from capflow import capex
from capflow import capex_inference as ci
from capflow.capex import CapexError


def _panel(n_clusters: int, per: int, beta: float, seed: int, cluster_sd: float = 0.02) -> pd.DataFrame:
    """SYNTHETIC panel: surprise and a common shock per announcement date; car = beta * surprise + noise."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2023-01-02", periods=n_clusters * 7)[::7][:n_clusters]
    g = np.repeat(np.arange(n_clusters), per)
    surprise = rng.normal(0, 1, n_clusters)[g]
    car = beta * surprise + rng.normal(0, cluster_sd, n_clusters)[g] + rng.normal(0, 0.02, g.size)
    return pd.DataFrame({"announce_date": dates[g], "company": np.array(["A", "B", "C"])[g % 3],
                         "group": np.tile(["x", "y"], g.size // 2 + 1)[: g.size], "asset": np.arange(g.size) % per,
                         "car": car, "surprise": surprise, "market_ret": rng.normal(0, 0.01, g.size),
                         "window": "[0,+1]"})


def test_cluster_se_equals_direct_numpy_sandwich():
    df = _panel(8, 4, 0.01, seed=1)
    y, X, rows = ci.design(df)
    codes = ci.cluster_codes(rows)
    Xa = X.to_numpy()
    beta = np.linalg.solve(Xa.T @ Xa, Xa.T @ y)
    u = y - Xa @ beta
    meat = sum(np.outer(Xa[codes == c].T @ u[codes == c], Xa[codes == c].T @ u[codes == c]) for c in range(8))
    bread = np.linalg.inv(Xa.T @ Xa)
    n, k, g = len(y), Xa.shape[1], 8
    direct = g / (g - 1) * (n - 1) / (n - k) * bread @ meat @ bread
    fit = ci.fit_regression(df, min_events=5)
    assert fit.se["cluster"] == pytest.approx(np.sqrt(direct[1, 1]), rel=1e-10)
    np.testing.assert_allclose(ci.cluster_cov(Xa, u, codes), direct, rtol=1e-10)


def test_driscoll_kraay_equals_statsmodels_on_dense_grid():
    rng = np.random.default_rng(3)
    t = np.repeat(np.arange(30), 3)
    X = np.column_stack([np.ones(t.size), rng.normal(size=t.size)])
    y = X @ [0.1, 0.5] + rng.normal(size=t.size)
    res = sm.OLS(y, X).fit(cov_type="hac-groupsum", cov_kwds={"time": t, "maxlags": 2})
    mine = ci.driscoll_kraay_cov(X, res.resid, t, lags=2)
    np.testing.assert_allclose(mine, res.cov_params(), rtol=1e-8)


def test_planted_coefficient_recovered_within_intervals():
    df = _panel(60, 6, 0.01, seed=7)
    fit = ci.fit_regression(df)
    assert fit.ci["cluster"][0] < 0.01 < fit.ci["cluster"][1] and fit.p["cluster"] < 0.01
    y, X, rows = ci.design(df)
    wb = ci.wild_cluster_bootstrap(y, X.to_numpy(), ci.cluster_codes(rows), n_boot=299, seed=1)
    assert wb["lo"] < 0.01 < wb["hi"] and wb["p"] < 0.02


def test_size_under_null_about_five_percent():
    """400 seeded null panels (30 clusters): rejection at 5% must lie in [2%, 9%] (about 3 binomial SDs)."""
    rej_t, rej_b = [], []
    for rep in range(400):
        df = _panel(30, 6, 0.0, seed=1000 + rep)
        y, X, rows = ci.design(df)
        wb = ci.wild_cluster_bootstrap(y, X.to_numpy(), ci.cluster_codes(rows), n_boot=99,
                                       weights="webb", seed=rep)
        rej_b.append(wb["p"] < 0.05)
        rej_t.append(ci.fit_regression(df).p["cluster"] < 0.05)
    assert 0.02 <= np.mean(rej_b) <= 0.09
    assert 0.02 <= np.mean(rej_t) <= 0.09


def test_bootstrap_seeded_and_weights():
    df = _panel(12, 3, 0.0, seed=2)
    y, X, rows = ci.design(df)
    a = ci.wild_cluster_bootstrap(y, X.to_numpy(), ci.cluster_codes(rows), n_boot=50, seed=5)
    b = ci.wild_cluster_bootstrap(y, X.to_numpy(), ci.cluster_codes(rows), n_boot=50, seed=5)
    np.testing.assert_array_equal(a["t_star"], b["t_star"])
    w = ci.cluster_weights(4, 2000, "webb", seed=0)
    assert set(np.round(np.abs(w).ravel() ** 2, 6)) == {0.5, 1.0, 1.5}
    with pytest.raises(CapexError, match="parameter weights"):
        ci.cluster_weights(4, 10, "normal")


def test_fewer_events_than_minimum_is_one_line():
    with pytest.raises(CapexError) as err:
        ci.fit_regression(_panel(6, 3, 0.0, seed=0), min_events=10)
    assert "min_events=10" in str(err.value) and "\n" not in str(err.value)


def test_batched_placebo_coefficients_equal_per_draw_ols():
    frames = []
    for d in range(4):
        p = _panel(12, 2, 0.0, seed=50 + d)
        p["surprise"] = _panel(12, 2, 0.0, seed=50)["surprise"]   # surprise fixed across draws
        frames.append(p.assign(draw=d, orig_announcement_id=p["announce_date"].astype(str) + p["company"],
                               asset=p["asset"].astype(str)))
    pp = pd.concat(frames, ignore_index=True)
    pp.loc[3, "car"] = np.nan                                   # a dropped event in draw 0
    got = ci.placebo_coefficients(pp, groups=["x", "y"]).query("group == 'pooled'")["coef"].to_numpy()
    want = [ci.fit_regression(pp[pp["draw"] == d], fixed_effects=("company", "group"), min_events=5).coef
            for d in range(4)]
    np.testing.assert_allclose(got, want, rtol=1e-8)


def test_placebo_dates_avoid_releases_and_are_seeded():
    cat = capex.finalize_catalog(pd.DataFrame({
        "company": "Acme", "ticker": ["MSFT", "MSFT", "MSFT"], "announce_date": ["2024-01-30", "2024-04-25",
                                                                                 "2024-07-30"],
        "timing": "after close", "fiscal_period": "q", "capex_usd": [1e9, 2e9, 3e9], "capex_definition": "d",
        "guidance_text": None, "guidance_low_usd": np.nan, "guidance_high_usd": np.nan, "source": "synthetic"}))
    a = ci.placebo_catalog(cat, 50, seed=3, exclude=5)
    b = ci.placebo_catalog(cat, 50, seed=3, exclude=5)
    pd.testing.assert_frame_equal(a, b)
    assert a["announcement_id"].is_unique and len(a) == 150
    real = ci.session_index(cat["announce_date"])
    fake = ci.session_index(a["announce_date"])
    assert (np.abs(fake[:, None] - real[None, :]) > 5).all()


def _synthetic_returns(events: pd.DataFrame, surprise: pd.Series, beta: float, seed: int) -> pd.DataFrame:
    """SYNTHETIC daily returns (24/7 index; equities NaN off-session) with a planted day-0 reaction
    ``beta * surprise`` for every event row given."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2022-01-01", "2024-12-31", freq="D", tz="UTC")
    cols = ["NVDA", "bittensor", "QQQ"]
    r = pd.DataFrame(rng.normal(0, 0.01, (idx.size, len(cols))), index=idx, columns=cols)
    sess = capex.session_opens("XNYS").index.tz_localize("UTC")
    r.loc[~idx.isin(sess), ["NVDA", "QQQ"]] = np.nan
    bump = events.assign(b=beta * surprise.reindex(events["announcement_id"]).to_numpy()).dropna(subset=["b"])
    for asset, rows in bump.groupby("asset"):
        r.loc[pd.DatetimeIndex(rows["timestamp"]), asset] += rows["b"].to_numpy()
    return r


def test_full_pipeline_recovers_planted_effect():
    pytest.importorskip("capflow.eventstudy")
    dates = pd.bdate_range("2022-02-01", "2024-11-30", freq="32B")
    rng = np.random.default_rng(0)
    cat = capex.finalize_catalog(pd.DataFrame({
        "company": "Acme", "ticker": np.array(["MSFT", "META"])[np.arange(dates.size) % 2],
        "announce_date": dates.strftime("%Y-%m-%d"), "timing": "after close", "fiscal_period": "q",
        "capex_usd": np.exp(rng.normal(0, 0.3, dates.size)) * 1e10, "capex_definition": "synthetic",
        "guidance_text": None, "guidance_low_usd": np.nan, "guidance_high_usd": np.nan, "source": "synthetic"}))
    surprise = capex.capex_surprise(cat, "qoq").set_axis(cat["announcement_id"])
    ev = capex.study_events(cat, ["ai_equity", "ai_token"])
    rets = _synthetic_returns(ev[ev["asset"].isin(["NVDA", "bittensor"])], surprise, 0.05, seed=1)
    study = ci.run_study(cat, measure="qoq", groups=["ai_equity", "ai_token"], windows=[(0, 0), (0, 1)],
                         n_boot=99, n_placebo=20, min_events=10, returns=rets)
    row = study.coefficients.query("group == 'pooled' and window == '[0,0]'").iloc[0]
    assert row["lo_cluster"] < 0.05 < row["hi_cluster"] and row["p_cluster"] < 0.01
    assert row["lo_boot"] < 0.05 < row["hi_boot"]
    ps = study.placebo_summary.query("group == 'pooled' and window == '[0,0]'").iloc[0]
    assert abs(ps["placebo_mean"]) < 0.02 and ps["p_placebo"] <= 1 / 21 + 1e-12
    assert set(study.leave_one_out["dropped"]) == {"MSFT", "META"}


def test_plots_draw_intervals_and_real_marker():
    import matplotlib.pyplot as plt

    from capflow.plots import capex as cplots
    from capflow.plots import mark_synthetic

    df = _panel(20, 4, 0.01, seed=9)
    table = ci.regression_table(df, groups=["x", "y"], n_boot=49, min_events=5)
    ax = cplots.plot_coefficients(table)
    mark_synthetic(ax)
    assert len(ax.containers) == 2 and len(ax.get_yticklabels()) == len(table)
    placebo = pd.DataFrame({"draw": range(30), "group": "pooled", "window": "[0,+1]",
                            "coef": np.random.default_rng(0).normal(0, 0.01, 30)})
    ax2 = cplots.plot_placebo(placebo, 0.02, "pooled", "[0,+1]")
    assert ax2.lines[0].get_xdata()[0] == pytest.approx(0.02)
    plt.close("all")


def _placebo_case() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """SYNTHETIC catalog (two companies, both timings), surprise and daily returns of NVDA, bittensor, the
    companies' own stocks and QQQ (equities NaN off-session)."""
    dates = pd.bdate_range("2023-01-10", "2024-10-31", freq="45B")
    rng = np.random.default_rng(11)
    cat = capex.finalize_catalog(pd.DataFrame({
        "company": "Acme", "ticker": np.array(["MSFT", "META"])[np.arange(dates.size) % 2],
        "announce_date": dates.strftime("%Y-%m-%d"),
        "timing": np.array(["after close", "before open"])[(np.arange(dates.size) // 2) % 2], "fiscal_period": "q",
        "capex_usd": np.exp(rng.normal(0, 0.3, dates.size)) * 1e10, "capex_definition": "synthetic",
        "guidance_text": None, "guidance_low_usd": np.nan, "guidance_high_usd": np.nan, "source": "synthetic"}))
    surprise = capex.capex_surprise(cat, "qoq").set_axis(cat["announcement_id"])
    idx = pd.date_range("2022-01-01", "2024-12-31", freq="D", tz="UTC")
    cols = ["NVDA", "bittensor", "MSFT", "META", "QQQ"]
    rets = pd.DataFrame(rng.normal(0, 0.01, (idx.size, len(cols))), index=idx, columns=cols)
    sess = capex.session_opens("XNYS").index.tz_localize("UTC")
    rets.loc[~idx.isin(sess), ["NVDA", "MSFT", "META", "QQQ"]] = np.nan
    return cat[surprise.notna().to_numpy()].reset_index(drop=True), surprise, rets


def test_fast_placebo_equals_straightforward_paths():
    """placebo_study (distinct engine events, integer gathers, batched normal equations) gives the
    coefficients of (a) the long placebo panel through placebo_coefficients and (b) one statsmodels OLS per
    draw and cell (fit_regression), on a SYNTHETIC case with own-stock, equity and crypto reactions."""
    pytest.importorskip("capflow.eventstudy")
    cat, surprise, rets = _placebo_case()
    groups, kw = ["ai_token", "ai_equity", "own"], dict(windows=[(0, 0), (0, 1)], market="QQQ",
                                                       model="constant_mean")
    fast = ci.placebo_study(cat, surprise, rets, groups, 12, seed=4, **kw)
    pp = ci.placebo_panel(cat, surprise, rets, groups, 12, seed=4, **kw)
    slow = ci.placebo_coefficients(pp, groups)
    key = ["draw", "group", "window"]
    both = fast.merge(slow, on=key, how="outer", suffixes=("_fast", "_slow"), validate="one_to_one")
    assert len(both) == len(fast) == len(slow) == 12 * 2 * 4 and both[["coef_fast", "coef_slow"]].notna().all(None)
    np.testing.assert_allclose(both["coef_fast"], both["coef_slow"], rtol=1e-10, atol=1e-14)
    for (d, name, window), coef in fast.set_index(key)["coef"].iloc[::7].items():
        sub = pp[(pp["draw"] == d) & (pp["window"] == window)]
        sub, fe = (sub, ("company", "group")) if name == "pooled" else (sub[sub["group"] == name], ("company",))
        assert coef == pytest.approx(ci.fit_regression(sub, fixed_effects=fe, min_events=1).coef, rel=1e-9, abs=1e-13)
    assert fast["coef"].std() > 0                                    # draws differ: not a constant


def test_session_calendar_covers_dates_before_default_start():
    early = capex.announcement_event_time({"announce_date": "2012-11-23", "timing": "after close"}, "NVDA")
    assert str(early.date()) == "2012-11-26"                      # Friday after close -> Monday, in 2012
    assert capex.session_opens("XNYS", "2012-11-23").index[0].year <= 2011
    from capflow import calendars

    assert capex.session_opens("XNYS").index[0].year == calendars.FIRST_YEAR


# --------------------------------------------------------------------------------------------- numpy designs and fits
def test_numpy_fit_equals_statsmodels_cluster_and_hc1():
    """fit_regression (numpy, design built once) gives statsmodels' CRV1 (use_t, G-1 df) and HC1 numbers."""
    df = _panel(25, 5, 0.01, seed=21)
    fit = ci.fit_regression(df, fixed_effects=("company", "group"), min_events=5)
    y, X, rows = ci.design(df, fixed_effects=("company", "group"))
    res = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": ci.cluster_codes(rows)}, use_t=True)
    assert fit.coef == pytest.approx(res.params["surprise"], rel=1e-12)
    assert fit.se["cluster"] == pytest.approx(res.bse["surprise"], rel=1e-10)
    assert fit.p["cluster"] == pytest.approx(res.pvalues["surprise"], rel=1e-8)
    assert fit.ci["cluster"][0] == pytest.approx(res.conf_int().loc["surprise", 0], rel=1e-10)
    hc1 = sm.OLS(y, X).fit(cov_type="HC1")
    assert fit.se["hc1"] == pytest.approx(hc1.bse["surprise"], rel=1e-10)


def test_subset_design_equals_pandas_dummies_after_dropping_the_first_level():
    """A leave-one-out subset built from the window's arrays has the matrix pandas would build for it."""
    df = _panel(20, 6, 0.0, seed=4)
    arrays = ci.panel_arrays(df, fixed_effects=("company", "group"), with_periods=False)
    keep = arrays.column("company") != "A"                                   # "A" is the first (reference) level
    d = ci.subset_design(arrays, keep, ("company", "group"))
    rows = df[df["company"] != "A"]
    want = pd.concat([pd.Series(1.0, index=rows.index, name="const"), rows[["surprise", "market_ret"]],
                      pd.get_dummies(rows["company"], prefix="company", drop_first=True, dtype=float),
                      pd.get_dummies(rows["group"], prefix="group", drop_first=True, dtype=float)], axis=1)
    assert d.names == list(want.columns)
    np.testing.assert_array_equal(d.X, want.to_numpy(float))
    np.testing.assert_array_equal(d.clusters, pd.factorize(rows["announce_date"])[0])


def test_leave_one_out_records_skipped_fits_instead_of_warning():
    df = _panel(12, 3, 0.0, seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loo = ci.leave_one_company_out(df, groups=["x", "y"], min_events=9)
    assert loo.attrs["skipped"] and all("announcement dates" in s for s in loo.attrs["skipped"])
    assert set(loo["dropped"]) <= {"A", "B", "C"}


def test_partial_out_slope_equals_the_coefficient():
    df = _panel(30, 4, 0.02, seed=5)
    d = ci.subset_design(ci.panel_arrays(df, fixed_effects=("company",), with_periods=False))
    x, y = ci.partial_out(d)
    assert (x @ y) / (x @ x) == pytest.approx(ci.fit_design(d).coef, rel=1e-10)


# --------------------------------------------------------------------------------------------- cluster-level bootstrap
def _textbook_wild_bootstrap(y, X, codes, col, w):
    """The n x B algorithm the cluster-level one replaced (reference): y* = X_r b_r + u_r * w[g], refit, CRV1 t."""
    n, k = X.shape
    g = int(codes.max() + 1)
    xtx_inv = np.linalg.pinv(X.T @ X)
    a = X @ xtx_inv[:, col]
    factor = g / (g - 1) * (n - 1) / (n - k)

    def tstats(Y):
        beta = xtx_inv @ (X.T @ Y)
        u = Y - X @ beta
        s = np.zeros((g, Y.shape[1]))
        np.add.at(s, codes, a[:, None] * u)
        return beta[col] / np.sqrt(factor * (s ** 2).sum(axis=0))

    t_obs = tstats(y[:, None])[0]
    xr = np.delete(X, col, axis=1)
    br = np.linalg.lstsq(xr, y, rcond=None)[0]
    t_star = tstats((xr @ br)[:, None] + (y - xr @ br)[:, None] * w[codes])
    return t_obs, t_star, float(np.mean(np.abs(t_star) >= abs(t_obs)))


@pytest.mark.parametrize("weights", ["rademacher", "webb"])
def test_cluster_level_bootstrap_equals_textbook_algorithm_draw_for_draw(weights):
    """SYNTHETIC seeded panel: with the same weights, every t* and the p-value equal the n x B algorithm's."""
    df = _panel(30, 6, 0.004, seed=13)
    y, X, rows = ci.design(df, fixed_effects=("company", "group"))
    codes = ci.cluster_codes(rows)
    new = ci.wild_cluster_bootstrap(y, X.to_numpy(), codes, n_boot=2000, weights=weights, seed=7)
    w = ci.cluster_weights(int(codes.max() + 1), 2000, weights, seed=7)
    t_obs, t_star, p = _textbook_wild_bootstrap(y, X.to_numpy(), codes, 1, w)
    np.testing.assert_allclose(new["t_star"], t_star, rtol=1e-9, atol=1e-12)
    assert new["t"] == pytest.approx(t_obs, rel=1e-10) and new["p"] == p


def test_cluster_level_bootstrap_p_within_monte_carlo_error_across_seeds():
    """Different draws: the two algorithms' p-values agree within 4 Monte Carlo SDs of 9,999 draws."""
    df = _panel(25, 5, 0.003, seed=17)
    y, X, rows = ci.design(df)
    codes = ci.cluster_codes(rows)
    new = ci.wild_cluster_bootstrap(y, X.to_numpy(), codes, n_boot=9999, seed=1)["p"]
    old = _textbook_wild_bootstrap(y, X.to_numpy(), codes, 1, ci.cluster_weights(25, 9999, seed=2))[2]
    assert abs(new - old) <= 4 * np.sqrt(max(old * (1 - old), 1e-4) * 2 / 9999)


def test_batched_placebo_coefficients_fall_back_when_a_company_is_absent_in_a_draw():
    """A draw where one company has no observation (a singular dummy column) still equals a per-draw fit."""
    from capflow.capex_placebo import _batched_coef

    rng = np.random.default_rng(3)
    comp = np.repeat(np.arange(3), 10)
    static = np.column_stack([np.ones(30), rng.normal(size=30), comp == 1, comp == 2]).astype(float)
    y, mr = rng.normal(size=(4, 30)), rng.normal(size=(4, 30))
    y[2, comp == 2] = np.nan                                                 # company 2 absent in draw 2
    got = _batched_coef(static, y, mr)
    for d in range(4):
        ok = np.isfinite(y[d])
        X = np.column_stack([static[ok], mr[d, ok]])
        assert got[d] == pytest.approx((np.linalg.pinv(X) @ y[d, ok])[1], rel=1e-9)
