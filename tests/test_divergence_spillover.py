"""capflow.divergence.spillover (Diebold-Yilmaz connectedness): a hand-computed 2-variable GFEVD, a reference
element-by-element implementation, a planted one-way transmission, and the table's row sums.

Every series here is SYNTHETIC (simulated inside each test), never market data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capflow import divergence as D


def _days(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC", name="timestamp")


def _gfevd_by_loops(ma: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Pesaran-Shin GFEVD written element by element (the reference for the vectorised version)."""
    H, K, _ = ma.shape
    e = np.eye(K)
    theta = np.zeros((K, K))
    for i in range(K):
        den = sum(e[i] @ ma[h] @ sigma @ ma[h].T @ e[i] for h in range(H))
        for j in range(K):
            num = sum((e[i] @ ma[h] @ sigma @ e[j]) ** 2 for h in range(H)) / sigma[j, j]
            theta[i, j] = num / den
    return theta / theta.sum(axis=1, keepdims=True)


def test_gfevd_of_a_two_variable_var1_equals_the_hand_computation():
    """VAR(1) A = [[0.5, 0], [0.4, 0.2]], Sigma = [[1, 0.3], [0.3, 2]], horizon 2 (A_0 = I, A_1 = A).

    A Sigma = [[0.5, 0.15], [0.46, 0.52]].
    theta_11 = (1^2 + 0.5^2) / 1 / (1 + 0.25)                 = 1.25 / 1.25
    theta_12 = (0.3^2 + 0.15^2) / 2 / 1.25                    = 0.05625 / 1.25
    theta_21 = (0.3^2 + 0.46^2) / 1 / (2 + 0.4*0.46 + 0.2*0.52) = 0.3016 / 2.288
    theta_22 = (2^2 + 0.52^2) / 2 / 2.288                     = 2.1352 / 2.288
    Rows normalised: d_1 = [1.25, 0.05625] / 1.30625, d_2 = [0.3016, 2.1352] / 2.4368.
    """
    A = np.array([[0.5, 0.0], [0.4, 0.2]])
    sigma = np.array([[1.0, 0.3], [0.3, 2.0]])
    d = D.generalized_fevd(np.stack([np.eye(2), A]), sigma)
    expected = np.array([[1.25 / 1.30625, 0.05625 / 1.30625], [0.3016 / 2.4368, 2.1352 / 2.4368]])
    np.testing.assert_allclose(d, expected, atol=1e-12)
    dirs = D.directional(d)
    assert dirs["net"][0] == pytest.approx(expected[1, 0] - expected[0, 1], abs=1e-12)  # x1 -> x2 minus x2 -> x1
    assert dirs["total"] == pytest.approx((expected[0, 1] + expected[1, 0]) / 2, abs=1e-12)
    # horizon 1: only the contemporaneous correlation, rho^2 = 0.3^2 / (1 * 2) = 0.045 off the diagonal
    d1 = D.generalized_fevd(np.eye(2)[None], sigma)
    np.testing.assert_allclose(d1, [[1 / 1.045, 0.045 / 1.045], [0.045 / 1.045, 1 / 1.045]], atol=1e-12)


def test_gfevd_equals_the_element_by_element_reference_and_ignores_the_scale_of_sigma():
    rng = np.random.default_rng(0)
    ma = np.concatenate([np.eye(4)[None], rng.normal(0, 0.3, (9, 4, 4))])
    L = rng.normal(size=(4, 4))
    sigma = L @ L.T + 4 * np.eye(4)
    d = D.generalized_fevd(ma, sigma)
    np.testing.assert_allclose(d, _gfevd_by_loops(ma, sigma), atol=1e-12)
    np.testing.assert_allclose(D.generalized_fevd(ma, 1e-4 * sigma), d, atol=1e-12)
    np.testing.assert_allclose(d.sum(axis=1), 1.0, atol=1e-12)


def _planted(n: int = 2000, seed: int = 1) -> pd.DataFrame:
    """x is white noise; y_t = 0.6 x_{t-1} + e_t: x drives y with a one-day lag, y never drives x."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.02, n)
    y = np.r_[0.0, 0.6 * x[:-1]] + rng.normal(0, 0.02, n)
    z = rng.normal(0, 0.02, n)  # an unrelated third series
    return pd.DataFrame({"x": x, "y": y, "z": z}, _days(n))


def test_planted_one_way_transmission_makes_x_a_clear_net_transmitter():
    data = _planted()
    c = D.var_connectedness(data, lags=D.select_lags(data, 5, "bic"), horizon=10)
    net = c.directional["net"]
    # y's 10-step error variance due to x: 0.36 / 1.36 = 26%; x's due to y: ~0
    assert net["x"] > 0.15 and net["y"] < -0.15 and abs(net["z"]) < 0.02
    assert c.table.loc["y", "x"] == pytest.approx(0.36 / 1.36, abs=0.04)
    assert c.pairwise_net.loc["x", "y"] == pytest.approx(c.table.loc["y", "x"] - c.table.loc["x", "y"])
    assert c.lags == 1


def test_connectedness_rows_sum_to_100_percent_and_net_sums_to_zero():
    data = _planted(600, seed=5)
    c = D.var_connectedness(data, lags=2, horizon=10)
    np.testing.assert_allclose(c.table.sum(axis=1), 1.0, atol=1e-12)
    assert c.directional["net"].sum() == pytest.approx(0.0, abs=1e-12)
    assert c.total == pytest.approx(c.directional["from"].mean(), abs=1e-12)
    assert c.n == 600 and c.start == data.index[0]


def test_var_connectedness_uses_statsmodels_var_coefficients():
    from statsmodels.tsa.api import VAR

    data = _planted(400, seed=3)
    c = D.var_connectedness(data, lags=2, horizon=7)
    res = VAR(data.to_numpy()).fit(2, trend="c")
    ref = _gfevd_by_loops(res.ma_rep(6), res.sigma_u)
    np.testing.assert_allclose(c.table.to_numpy(), ref, atol=1e-12)


def test_rolling_connectedness_last_window_equals_the_full_fit_on_that_window():
    data = _planted(500, seed=7)
    data.iloc[[10, 200], 1] = np.nan  # incomplete rows are dropped before windowing
    roll = D.rolling_connectedness(data, window=150, lags=1, horizon=10)
    complete = data.dropna()
    assert len(roll) == len(complete) - 150 + 1 and roll.index[-1] == complete.index[-1]
    last = D.var_connectedness(complete.iloc[-150:], lags=1, horizon=10)
    assert roll["total"].iloc[-1] == pytest.approx(last.total, abs=1e-12)
    assert roll["net:x"].iloc[-1] == pytest.approx(last.directional.loc["x", "net"], abs=1e-12)
    assert (roll["net:x"] > 0).all()


def test_connectedness_bad_inputs_one_line():
    data = _planted(100)
    with pytest.raises(D.DivergenceError, match=r"^parameter connectedness_window=20 is not valid for 3 variables"):
        D.rolling_connectedness(data, window=20, lags=1)
    with pytest.raises(D.DivergenceError, match="needs at least"):
        D.var_connectedness(data.iloc[:20], lags=2)
    with pytest.raises(D.DivergenceError, match="criterion='aicc' is not valid"):
        D.select_lags(data, 3, "aicc")
    with pytest.raises(D.DivergenceError, match=r"shape \(H, K, K\)"):
        D.generalized_fevd(np.eye(2), np.eye(2))
