"""Hand-computed known answers for every event-study statistic, from the papers' formulas.

The reference numbers are computed here independently, with plain per-event Python loops over a small
SYNTHETIC panel (4 events, 10-period estimation window, 5-period event window), and compared with the
vectorized engine:

* market model OLS, AR, SAR and Var(CAR) with the prediction-error correction: MacKinlay (1997), eq. (7)-(12),
  using the explicit matrix V = s^2 (I + X* (X'X)^-1 X*') built per event;
* Patell (1976) Z; Boehmer, Musumeci & Poulsen (1991) standardized cross-sectional t;
* Kolari & Pynnonen (2010) adjustment with r-bar = mean pairwise Pearson correlation of estimation residuals
  (pairs in different date clusters count as 0);
* Corrado (1989) rank test (single day) and its multi-day form (Cowan 1992) with U = K / (M + 1) - 1/2;
* Cowan (1992) generalized sign test; cross-sectional t; BHAR.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from capflow.eventstudy import event_study

EST, EVT = (-12, -3), (-2, 2)
WINDOWS = ((0, 0), (-1, 1), (-2, 2))


def _panel(seed: int = 7) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Synthetic: 4 assets on one calendar, a common factor so residuals of A, B, C are correlated."""
    rng = np.random.default_rng(seed)
    n = 60
    idx = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC")
    m = rng.normal(0, 0.01, n)
    common = rng.normal(0, 0.01, n)
    r = {a: 0.001 * (i + 1) + (0.5 + 0.3 * i) * m + 2.0 * common * (a != "D") + rng.normal(0, 0.01, n)
         for i, a in enumerate("ABCD")}
    returns = pd.DataFrame(r, index=idx)
    events = pd.DataFrame({"event_id": ["e1", "e2", "e3", "e4"], "asset": list("ABCD"),
                           "timestamp": [idx[30], idx[30], idx[30], idx[45]]})
    return returns, pd.Series(m, index=idx, name="MKT"), events


def _reference(returns: pd.DataFrame, market: pd.Series, events: pd.DataFrame) -> dict:
    """Per-event loops: everything the engine computes, the slow, obvious way."""
    out = {k: [] for k in ("car", "var", "scar", "resid", "ar", "sar", "bhar", "T")}
    for _, e in events.iterrows():
        k0 = int(np.searchsorted(returns.index, e["timestamp"]))
        est = np.arange(k0 + EST[0], k0 + EST[1] + 1)
        evt = np.arange(k0 + EVT[0], k0 + EVT[1] + 1)
        y, x = returns[e["asset"]].to_numpy(), market.to_numpy()
        X = np.column_stack([np.ones(est.size), x[est]])
        beta = np.linalg.inv(X.T @ X) @ X.T @ y[est]
        resid = y[est] - X @ beta
        s2 = resid @ resid / (est.size - 2)
        Xs = np.column_stack([np.ones(evt.size), x[evt]])
        V = s2 * (np.eye(evt.size) + Xs @ np.linalg.inv(X.T @ X) @ Xs.T)
        ar = y[evt] - Xs @ beta
        cars, vars_, bhars = [], [], []
        for w in WINDOWS:
            gamma = np.array([1.0 if w[0] <= r <= w[1] else 0.0 for r in range(EVT[0], EVT[1] + 1)])
            cars.append(gamma @ ar)
            vars_.append(gamma @ V @ gamma)
            sel = gamma == 1
            bhars.append(np.prod(1 + y[evt][sel]) - np.prod(1 + (Xs @ beta)[sel]))
        out["car"].append(cars)
        out["var"].append(vars_)
        out["scar"].append(np.array(cars) / np.sqrt(vars_))
        out["resid"].append(resid)
        out["ar"].append(ar)
        out["sar"].append(ar / np.sqrt(np.diag(V)))
        out["bhar"].append(bhars)
        out["T"].append(est.size)
    return {k: np.array(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def case():
    returns, market, events = _panel()
    res = event_study(returns, events, market=market, estimation_window=EST, event_window=EVT,
                      car_windows=WINDOWS, min_estimation=8, n_boot=0)
    return res, _reference(returns, market, events), events


def _stat(res, test: str, window: str, group: str = "all") -> float:
    s = res.stats
    return float(s.loc[(s.group == group) & (s.window == window) & (s.test == test), "statistic"].iloc[0])


def _pval(res, test: str, window: str) -> float:
    s = res.stats
    return float(s.loc[(s.group == "all") & (s.window == window) & (s.test == test), "p_value"].iloc[0])


LABELS = ["[0,0]", "[-1,+1]", "[-2,+2]"]


def test_ar_sar_match_mackinlay(case):
    res, ref, _ = case
    ar = res.ar.pivot(index="event_id", columns="rel", values="ar").to_numpy()
    sar = res.ar.pivot(index="event_id", columns="rel", values="sar").to_numpy()
    np.testing.assert_allclose(ar, ref["ar"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(sar, ref["sar"], rtol=1e-9)


def test_car_variance_is_gamma_v_gamma(case):
    res, ref, _ = case
    car = res.car.pivot(index="event_id", columns="window", values="car")[LABELS].to_numpy()
    se = res.car.pivot(index="event_id", columns="window", values="car_se")[LABELS].to_numpy()
    bhar = res.car.pivot(index="event_id", columns="window", values="bhar")[LABELS].to_numpy()
    np.testing.assert_allclose(car, ref["car"], rtol=1e-10)
    np.testing.assert_allclose(se ** 2, ref["var"], rtol=1e-9)
    np.testing.assert_allclose(bhar, ref["bhar"], rtol=1e-9, atol=1e-15)
    # the correction matters: Var(CAR) exceeds the naive L * s^2
    s2 = np.array([r @ r / (r.size - 2) for r in ref["resid"]])
    assert np.all(se[:, 2] ** 2 > 5 * s2)


def test_individual_t_and_p(case):
    res, ref, _ = case
    row = res.car[(res.car.event_id == "e2") & (res.car.window == "[-1,+1]")].iloc[0]
    t = ref["scar"][1, 1]
    assert row["t"] == pytest.approx(t, rel=1e-9)
    assert row["p"] == pytest.approx(2 * stats.t.sf(abs(t), 10 - 2), rel=1e-9)


@pytest.mark.parametrize("w", range(3))
def test_cross_sectional_t(case, w):
    res, ref, _ = case
    c = ref["car"][:, w]
    t = c.mean() / (c.std(ddof=1) / np.sqrt(c.size))
    assert _stat(res, "t_cs", LABELS[w]) == pytest.approx(t, rel=1e-9)
    assert _pval(res, "t_cs", LABELS[w]) == pytest.approx(2 * stats.t.sf(abs(t), 3), rel=1e-9)


@pytest.mark.parametrize("w", range(3))
def test_patell(case, w):
    res, ref, _ = case
    z = ref["scar"][:, w].sum() / np.sqrt(sum((T - 2) / (T - 4) for T in ref["T"]))
    assert _stat(res, "patell", LABELS[w]) == pytest.approx(z, rel=1e-9)
    assert _pval(res, "patell", LABELS[w]) == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def _rbar(ref) -> float:
    """Mean over all 4*3 ordered pairs; only e1, e2, e3 share a date, the e4 pairs count as 0."""
    total = 0.0
    for i in range(3):
        for j in range(3):
            if i != j:
                total += np.corrcoef(ref["resid"][i], ref["resid"][j])[0, 1]
    return total / (4 * 3)


@pytest.mark.parametrize("w", range(3))
def test_bmp_and_kolari_pynnonen(case, w):
    res, ref, _ = case
    s = ref["scar"][:, w]
    t_bmp = s.mean() / (s.std(ddof=1) / np.sqrt(s.size))
    rbar = _rbar(ref)
    assert rbar > 0.1  # the synthetic common factor makes the adjustment bite
    t_kp = t_bmp * np.sqrt((1 - rbar) / (1 + (4 - 1) * rbar))
    assert res.params["rbar"]["all"] == pytest.approx(rbar, rel=1e-9)
    assert _stat(res, "bmp", LABELS[w]) == pytest.approx(t_bmp, rel=1e-9)
    assert _stat(res, "kp", LABELS[w]) == pytest.approx(t_kp, rel=1e-9)
    assert _pval(res, "kp", LABELS[w]) == pytest.approx(2 * stats.t.sf(abs(t_kp), 3), rel=1e-9)


def _ranks(x: np.ndarray) -> np.ndarray:
    r = np.empty(x.size)
    for i, v in enumerate(x):
        r[i] = 1 + sum(1 for u in x if u < v)
    return r


@pytest.mark.parametrize("w", range(3))
def test_corrado_rank(case, w):
    res, ref, _ = case
    combined = [np.concatenate([ref["resid"][i], ref["ar"][i]]) for i in range(4)]
    M = combined[0].size  # 15 = 10 estimation + 5 event periods
    dev = np.array([_ranks(c) - (M + 1) / 2 for c in combined])  # Corrado (1989): K_it - (M+1)/2
    kbar = dev.mean(axis=0)
    s_k = np.sqrt(np.mean(kbar ** 2))
    lo, hi = WINDOWS[w]
    cols = [10 + r - EVT[0] for r in range(lo, hi + 1)]
    z = kbar[cols].sum() / (np.sqrt(len(cols)) * s_k)  # Cowan (1992) multi-day; L = 1 is Corrado's
    assert _stat(res, "corrado", LABELS[w]) == pytest.approx(z, rel=1e-9)


@pytest.mark.parametrize("w", range(3))
def test_generalized_sign(case, w):
    res, ref, _ = case
    p_hat = np.mean([np.mean(r > 0) for r in ref["resid"]])
    n_pos = np.sum(ref["car"][:, w] > 0)
    z = (n_pos - 4 * p_hat) / np.sqrt(4 * p_hat * (1 - p_hat))
    assert _stat(res, "gen_sign", LABELS[w]) == pytest.approx(z, rel=1e-9)


def test_groups_and_all(case):
    returns, market, events = _panel()
    events = events.assign(group=["x", "x", "y", "y"])
    res = event_study(returns, events, market=market, estimation_window=EST, event_window=EVT,
                      car_windows=WINDOWS, min_estimation=8, n_boot=0)
    _, ref, _ = case
    assert set(res.stats.group) == {"all", "x", "y"}
    # group x = e1, e2 (same date): its r-bar is their residual correlation
    r12 = np.corrcoef(ref["resid"][0], ref["resid"][1])[0, 1]
    assert res.params["rbar"]["x"] == pytest.approx(r12, rel=1e-9)
    s = ref["scar"][:2, 0]
    t_bmp = s.mean() / (s.std(ddof=1) / np.sqrt(2))
    assert _stat(res, "bmp", "[0,0]", "x") == pytest.approx(t_bmp, rel=1e-9)
    assert _stat(res, "bmp", "[0,0]", "all") == pytest.approx(_stat(case[0], "bmp", "[0,0]"), rel=1e-12)


def test_constant_mean_variance(case):
    returns, market, events = _panel()
    res = event_study(returns, events, model="constant_mean", estimation_window=EST, event_window=EVT,
                      car_windows=WINDOWS, min_estimation=8, n_boot=0)
    y = returns["A"].to_numpy()
    est = y[30 + EST[0]:30 + EST[1] + 1]
    s2 = est.var(ddof=1)
    row = res.car[(res.car.event_id == "e1") & (res.car.window == "[-1,+1]")].iloc[0]
    assert row["car"] == pytest.approx(y[29:32].sum() - 3 * est.mean(), rel=1e-10)
    assert row["car_se"] ** 2 == pytest.approx(s2 * (3 + 9 / est.size), rel=1e-10)  # L + L^2 / T


def test_market_adjusted_variance(case):
    returns, market, events = _panel()
    res = event_study(returns, events, market=market, model="market_adjusted", estimation_window=EST,
                      event_window=EVT, car_windows=WINDOWS, min_estimation=8, n_boot=0)
    e = (returns["A"] - market).to_numpy()
    est = e[30 + EST[0]:30 + EST[1] + 1]
    row = res.car[(res.car.event_id == "e1") & (res.car.window == "[-1,+1]")].iloc[0]
    assert row["car"] == pytest.approx(e[29:32].sum(), rel=1e-10)
    assert row["car_se"] ** 2 == pytest.approx(3 * (est @ est) / est.size, rel=1e-10)  # no estimated mean


def test_factor_model_with_market_factor_equals_market_model(case):
    returns, market, events = _panel()
    res_f = event_study(returns, events, factors=market.to_frame(), model="factor", estimation_window=EST,
                        event_window=EVT, car_windows=WINDOWS, min_estimation=8, n_boot=0)
    np.testing.assert_allclose(res_f.car["car_se"], case[0].car["car_se"], rtol=1e-10)
    np.testing.assert_allclose(res_f.stats["statistic"], case[0].stats["statistic"], rtol=1e-9)


def test_corrado_ties_get_average_ranks():
    """Stale prices make tied ARs (constant-mean model: AR = r - mean); tied cells share the average rank."""
    idx = pd.date_range("2024-01-01", periods=40, freq="D", tz="UTC")
    rng = np.random.default_rng(3)
    r = pd.DataFrame({"A": np.round(rng.normal(0, 0.01, 40), 3), "B": np.round(rng.normal(0, 0.01, 40), 3)},
                     index=idx)  # rounding to 0.1% creates ties
    ev = pd.DataFrame({"event_id": [1, 2], "asset": ["A", "B"], "timestamp": [idx[30], idx[30]]})
    res = event_study(r, ev, model="constant_mean", estimation_window=EST, event_window=EVT,
                      car_windows=((0, 0),), min_estimation=8, n_boot=0)
    devs = []
    for a in "AB":
        y = r[a].to_numpy()
        est, evt = y[30 + EST[0]:30 + EST[1] + 1], y[30 + EVT[0]:30 + EVT[1] + 1]
        comb = np.concatenate([est - est.mean(), evt - est.mean()])
        assert len(np.unique(np.round(comb, 12))) < comb.size  # there are ties
        devs.append(stats.rankdata(comb) / (comb.size + 1) - 0.5)
    ubar = np.mean(devs, axis=0)
    z = ubar[10 - EVT[0]] / np.sqrt(np.mean(ubar ** 2))
    assert _stat(res, "corrado", "[0,0]") == pytest.approx(z, rel=1e-9)
