"""Dimson (1979) lead/lag market model of capflow.eventstudy (SYNTHETIC data).

* A planted lagged response (the asset reacts to the market with a one-period delay, as an asset on a later
  clock than its benchmark does): OLS beta is biased towards the contemporaneous slope, the Dimson beta (sum of
  the lead, contemporaneous and lag slopes) recovers the true summed beta.
* Known answers by hand: the lead/lag OLS on the estimation window, AR_t = r_t - alpha - beta_sum m_t and the
  prediction-error corrected Var(CAR) = s^2 (L + G'(X'X)^-1 G), G = window sums of (1, m_t, m_t, m_t).
* Lags are counted in the asset's own trading periods (a weekday asset's lag of Monday is Friday).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capflow.eventstudy import EventStudyError, event_study

EST, EVT, WINDOWS = (-200, -11), (-5, 5), ((0, 0), (-1, 1), (-5, 5))


def _lagged_panel(seed: int = 3, n: int = 320, weekdays: bool = False):
    """r_t = 0.0002 + 0.4 m_t + 0.6 m_{t-1} + e_t: true summed beta 1.0 (e sd 0.002, m sd 0.01)."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2023-01-02", periods=n, freq="D", tz="UTC")
    m = rng.normal(0.0, 0.01, n)
    trading = np.flatnonzero(idx.dayofweek < 5) if weekdays else np.arange(n)
    r = np.full(n, np.nan)
    mt = m[trading]
    lagged = np.concatenate([[0.0], mt[:-1]])          # the market on the asset's previous trading period
    r[trading] = 0.0002 + 0.4 * mt + 0.6 * lagged + rng.normal(0, 0.002, trading.size)
    return pd.DataFrame({"LAG": r}, index=idx), pd.Series(m, index=idx, name="MKT"), trading


def _event(returns: pd.DataFrame, row: int) -> pd.DataFrame:
    return pd.DataFrame({"event_id": ["ev"], "asset": ["LAG"], "timestamp": [returns.index[row]]})


def test_ols_beta_biased_dimson_recovers_summed_beta():
    returns, m, _ = _lagged_panel()
    ev = _event(returns, 280)
    kw = dict(estimation_window=EST, event_window=EVT, car_windows=WINDOWS, min_estimation=150, n_boot=0)
    ols = event_study(returns, ev, market=m, model="market", **kw).fit.iloc[0]
    dim = event_study(returns, ev, market=m, model="dimson", dimson_lags=1, **kw).fit.iloc[0]
    assert ols["beta"] == pytest.approx(0.4, abs=0.05)          # the lagged half is missed
    assert dim["beta"] == pytest.approx(1.0, abs=0.03)          # 0.4 + 0.6 recovered
    assert dim["beta_lag-1"] == pytest.approx(0.6, abs=0.03) and dim["beta_lag+1"] == pytest.approx(0.0, abs=0.03)
    assert dim["beta"] == pytest.approx(dim[["beta_lag-1", "beta_lag0", "beta_lag+1"]].sum(), rel=1e-12)


def _dimson_by_hand(y: np.ndarray, m: np.ndarray, trading: np.ndarray, k0: int, lags: int = 1):
    """Lead/lag OLS on the estimation window of the asset's own trading periods; AR and Var(CAR) per window."""
    est = k0 + np.arange(EST[0], EST[1] + 1)                   # local positions
    X = np.column_stack([np.ones(est.size)] + [m[trading[est + j]] for j in range(-lags, lags + 1)])
    yy = y[trading[est]]
    xtx_inv = np.linalg.inv(X.T @ X)
    coef = xtx_inv @ X.T @ yy
    resid = yy - X @ coef
    s2 = resid @ resid / (est.size - X.shape[1])
    evt = trading[k0 + np.arange(EVT[0], EVT[1] + 1)]
    g_rows = np.column_stack([np.ones(evt.size)] + [m[evt]] * (2 * lags + 1))   # (1, m_t, .., m_t)
    ar = y[evt] - (coef[0] + coef[1:].sum() * m[evt])
    out = []
    for lo, hi in WINDOWS:
        gamma = ((np.arange(EVT[0], EVT[1] + 1) >= lo) & (np.arange(EVT[0], EVT[1] + 1) <= hi)).astype(float)
        g = g_rows.T @ gamma
        out.append((gamma @ ar, s2 * (gamma.sum() + g @ xtx_inv @ g)))
    return coef, s2, ar, out


@pytest.mark.parametrize("weekdays", [False, True])
def test_dimson_known_answers(weekdays):
    returns, m, trading = _lagged_panel(weekdays=weekdays)
    row = int(trading[210])
    res = event_study(returns, _event(returns, row), market=m, model="dimson", estimation_window=EST,
                      event_window=EVT, car_windows=WINDOWS, min_estimation=150, n_boot=0)
    coef, s2, ar, cars = _dimson_by_hand(returns["LAG"].to_numpy(), m.to_numpy(), trading, 210)
    fit = res.fit.iloc[0]
    np.testing.assert_allclose(fit[["alpha", "beta_lag-1", "beta_lag0", "beta_lag+1"]].to_numpy(float), coef,
                               rtol=1e-9)
    assert fit["sigma"] ** 2 == pytest.approx(s2, rel=1e-9) and fit["dof"] == 190 - 4
    np.testing.assert_allclose(res.ar["ar"].to_numpy(), ar, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(res.car["car"].to_numpy(), [c for c, _ in cars], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(res.car["car_se"].to_numpy() ** 2, [v for _, v in cars], rtol=1e-9)
    if weekdays:   # the by-hand lags are the asset's own trading periods: a Monday's lag is the Friday market
        mondays = [k for k in range(10, 200) if returns.index[trading[k]].dayofweek == 0]
        assert mondays and all(returns.index[trading[k - 1]].dayofweek == 4 for k in mondays)


def test_dimson_two_lags_and_bad_lags():
    returns, m, trading = _lagged_panel()
    res = event_study(returns, _event(returns, 280), market=m, model="dimson", dimson_lags=2,
                      estimation_window=EST, event_window=EVT, car_windows=WINDOWS, min_estimation=150, n_boot=0)
    coef, _, ar, _ = _dimson_by_hand(returns["LAG"].to_numpy(), m.to_numpy(), trading, 280, lags=2)
    assert [c for c in res.fit.columns if c.startswith("beta_lag")] == ["beta_lag-2", "beta_lag-1", "beta_lag0",
                                                                        "beta_lag+1", "beta_lag+2"]
    np.testing.assert_allclose(res.fit.iloc[0][["alpha", "beta_lag-2", "beta_lag-1", "beta_lag0", "beta_lag+1",
                                                "beta_lag+2"]].to_numpy(float), coef, rtol=1e-9)
    np.testing.assert_allclose(res.ar["ar"].to_numpy(), ar, rtol=1e-9, atol=1e-15)
    with pytest.raises(EventStudyError, match=r"dimson_lags=0 is invalid"):
        event_study(returns, _event(returns, 280), market=m, model="dimson", dimson_lags=0)


def test_dimson_missing_lagged_market_leaves_the_period_out_of_the_fit():
    """A missing market value at t-1 removes estimation period t (the lag regressor is absent) but not period
    t-1 itself... which loses its lead instead: two periods leave the fit."""
    returns, m, trading = _lagged_panel()
    m2 = m.copy()
    m2.iloc[150] = np.nan
    kw = dict(estimation_window=EST, event_window=EVT, car_windows=WINDOWS, min_estimation=150, n_boot=0)
    res = event_study(returns, _event(returns, 280), market=m2, model="dimson", **kw)
    assert res.fit.iloc[0]["n_obs"] == 190 - 3            # rows 149 (lead), 150 (itself), 151 (lag)
