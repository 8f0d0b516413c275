"""Known answers for the extended test battery of capflow.eventstudy, from the papers' formulas (SYNTHETIC data).

Every reference number is computed here independently with plain per-event loops over a small panel of five
events (three on one date, one on another, one on an asset listed too late for a full estimation window, so
that the masked path runs), then compared with the vectorized engine to 1e-9:

* sign test and Wilcoxon signed-rank on the CARs; Corrado & Zivney (1992) sign test (multi-day form);
* Kolari & Pynnonen (2011) GRANK-T with re-standardized SCARs and unequal estimation lengths;
* Kolari-Pynnonen adjusted Patell Z; Brown & Warner crude dependence adjustment; Lamb (1995);
* Lyon, Barber & Tsai (1999) skewness-adjusted t of BHARs.

A second block follows the R package estudy2's formulas literally (its calendar-time construction: every
company's abnormal returns merged by date; ``rowMeans``, ``stats::sd``, ``rank(ties.method = "average")``) for
the statistics it publishes: ``sign_test``, ``wilcoxon_test``, ``corrado_sign_test``, ``brown_warner_1985`` /
``car_brown_warner_1985`` and ``lamb`` / ``car_lamb``. Those tests put every event on one date with one market,
where estudy2's calendar time and our event time coincide.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from capflow.eventstudy import TESTS, EventStudyError, event_study

EST, EVT = (-12, -3), (-2, 2)
WINDOWS = ((0, 0), (-1, 1), (-2, 2))
LABELS = ["[0,0]", "[-1,+1]", "[-2,+2]"]
L1 = EST[1] - EST[0] + 1


def _panel(seed: int = 11) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Synthetic: five assets on one daily calendar; A, B, C share a factor (correlated residuals) and an event
    date; D has its event later; E lists on row 25 and has its event on row 34 (7 of 10 estimation periods:
    unequal estimation lengths, the masked path and an even combined window for the median)."""
    rng = np.random.default_rng(seed)
    n = 70
    idx = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC")
    m = rng.normal(0, 0.01, n)
    common = rng.normal(0, 0.01, n)
    r = {a: 0.001 * (i + 1) + (0.5 + 0.3 * i) * m + 1.5 * common * (a in "ABC") + rng.standard_t(4, n) * 0.01
         for i, a in enumerate("ABCDE")}
    returns = pd.DataFrame(r, index=idx)
    returns.iloc[:25, 4] = np.nan
    returns.iloc[30, :3] += [0.03, 0.01, -0.005]   # some event-day effects
    events = pd.DataFrame({"event_id": ["e1", "e2", "e3", "e4", "e5"], "asset": list("ABCDE"),
                           "timestamp": idx[[30, 30, 30, 50, 34]], "group": ["x", "x", "y", "y", "x"]})
    return returns, pd.Series(m, index=idx, name="MKT"), events


def _reference(returns: pd.DataFrame, market: pd.Series, events: pd.DataFrame) -> dict:
    """Per-event market-model loops over each asset's own trading rows (MacKinlay 1997)."""
    out = {k: [] for k in ("resid", "est_rel", "ar", "car", "var", "scar", "bhar", "lev", "T", "s2")}
    x = market.to_numpy()
    for _, e in events.iterrows():
        y = returns[e["asset"]].to_numpy()
        trading = np.flatnonzero(np.isfinite(y))
        k0 = int(np.searchsorted(trading, np.searchsorted(returns.index, e["timestamp"])))
        est_local = [k0 + r for r in range(EST[0], EST[1] + 1) if 0 <= k0 + r]
        est = trading[est_local]
        evt = trading[[k0 + r for r in range(EVT[0], EVT[1] + 1)]]
        X = np.column_stack([np.ones(est.size), x[est]])
        xtx_inv = np.linalg.inv(X.T @ X)
        beta = xtx_inv @ X.T @ y[est]
        resid = y[est] - X @ beta
        s2 = resid @ resid / (est.size - 2)
        Xs = np.column_stack([np.ones(evt.size), x[evt]])
        V = s2 * (np.eye(evt.size) + Xs @ xtx_inv @ Xs.T)
        ar = y[evt] - Xs @ beta
        gammas = [np.array([1.0 if w[0] <= r <= w[1] else 0.0 for r in range(EVT[0], EVT[1] + 1)]) for w in WINDOWS]
        out["car"].append([g @ ar for g in gammas])
        out["var"].append([g @ V @ g for g in gammas])
        out["bhar"].append([np.prod(1 + y[evt][g == 1]) - np.prod(1 + (Xs @ beta)[g == 1]) for g in gammas])
        out["resid"].append(resid)
        out["est_rel"].append(np.array([r for r in range(EST[0], EST[1] + 1) if 0 <= k0 + r]))
        out["ar"].append(ar)
        out["lev"].append(np.array([1 + row @ xtx_inv @ row for row in Xs]))
        out["T"].append(est.size)
        out["s2"].append(s2)
    ref = {k: (np.array(v) if k not in ("resid", "est_rel") else v) for k, v in out.items()}
    ref["scar"] = ref["car"] / np.sqrt(ref["var"])
    return ref


@pytest.fixture(scope="module")
def case():
    returns, market, events = _panel()
    res = event_study(returns, events, market=market, estimation_window=EST, event_window=EVT,
                      car_windows=WINDOWS, min_estimation=5, n_boot=0)
    assert res.dropped.empty and res.params["n_kept"] == 5
    return res, _reference(returns, market, events), events


def _stat(res, test: str, window: str, group: str = "all") -> tuple[float, float]:
    s = res.stats
    row = s.loc[(s.group == group) & (s.window == window) & (s.test == test)].iloc[0]
    return float(row["statistic"]), float(row["p_value"])


SEL = {"all": [0, 1, 2, 3, 4], "x": [0, 1, 4], "y": [2, 3]}


def test_reference_matches_engine_cars(case):
    """The hand fit is the engine's fit (unequal estimation lengths included)."""
    res, ref, _ = case
    car = res.car.pivot(index="event_id", columns="window", values="car")[LABELS].to_numpy()
    se = res.car.pivot(index="event_id", columns="window", values="car_se")[LABELS].to_numpy()
    np.testing.assert_allclose(car, ref["car"], rtol=1e-9)
    np.testing.assert_allclose(se ** 2, ref["var"], rtol=1e-9)
    assert ref["T"].tolist() == [10, 10, 10, 10, 7]


@pytest.mark.parametrize("group", ["all", "x", "y"])
@pytest.mark.parametrize("w", range(3))
def test_sign_test(case, group, w):
    res, ref, _ = case
    c = ref["car"][SEL[group], w]
    n = c.size
    z = (sum(1 for v in c if v > 0) - n / 2) / np.sqrt(n / 4)      # normal approximation of Binomial(n, 1/2)
    got, p = _stat(res, "sign", LABELS[w], group)
    assert got == pytest.approx(z, rel=1e-9, abs=1e-12)
    assert p == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def _wilcoxon_by_hand(c: np.ndarray) -> float:
    nz = [v for v in c if v != 0]
    absv = [abs(v) for v in nz]
    ranks = [1 + sum(1 for u in absv if u < a) + (sum(1 for u in absv if u == a) - 1) / 2 for a in absv]
    w_plus = sum(r for r, v in zip(ranks, nz) if v > 0)
    n = len(nz)
    ties = sum(t ** 3 - t for t in [absv.count(a) for a in set(absv)])
    return (w_plus - n * (n + 1) / 4) / np.sqrt(n * (n + 1) * (2 * n + 1) / 24 - ties / 48)


@pytest.mark.parametrize("w", range(3))
def test_wilcoxon(case, w):
    res, ref, _ = case
    c = ref["car"][:, w]
    z = _wilcoxon_by_hand(c)
    got, p = _stat(res, "wilcoxon", LABELS[w])
    assert got == pytest.approx(z, rel=1e-9)
    scipy_p = stats.wilcoxon(c, zero_method="wilcox", correction=False, method="approx").pvalue
    assert p == pytest.approx(scipy_p, rel=1e-9)


def test_wilcoxon_ties_and_zeros():
    """Zeros dropped, ties share the average rank and shrink the variance (scipy's approx p-value)."""
    from capflow import _estats
    x = np.array([[0.0, 1.0, -1.0, 2.0, 2.0, 2.0, -3.0, 0.5, 4.0, 0.0, 5.0, -0.5]])
    z = _estats.wilcoxon_z(x)[0]
    assert z == pytest.approx(_wilcoxon_by_hand(x[0]), rel=1e-12)
    assert 2 * stats.norm.sf(abs(z)) == pytest.approx(
        stats.wilcoxon(x[0], zero_method="wilcox", correction=False, method="approx").pvalue, rel=1e-12)


def _combined(ref, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Event i's ARs over the combined window and their relative periods (missing estimation periods absent)."""
    return (np.concatenate([ref["resid"][i], ref["ar"][i]]),
            np.concatenate([ref["est_rel"][i], np.arange(EVT[0], EVT[1] + 1)]))


@pytest.mark.parametrize("group", ["all", "x"])
@pytest.mark.parametrize("w", range(3))
def test_corrado_zivney_sign(case, group, w):
    res, ref, _ = case
    periods = list(range(EST[0], EST[1] + 1)) + list(range(EVT[0], EVT[1] + 1))
    signs = {t: [] for t in periods}
    m_counts = []
    for i in SEL[group]:
        values, rels = _combined(ref, i)
        med = np.median(values)                             # median of the combined estimation + event window
        for v, t in zip(values, rels):
            signs[t].append(np.sign(v - med))
        m_counts.append(values.size)
    s_t = {t: sum(g) / np.sqrt(len(g)) for t, g in signs.items() if g}
    s_g = np.sqrt(sum(v ** 2 for v in s_t.values()) / np.mean(m_counts))
    lo, hi = WINDOWS[w]
    z = sum(s_t[t] for t in range(lo, hi + 1)) / (np.sqrt(hi - lo + 1) * s_g)
    got, p = _stat(res, "cz_sign", LABELS[w], group)
    assert got == pytest.approx(z, rel=1e-9, abs=1e-12)
    assert p == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def _grank_by_hand(ref, sel: list[int], w: int) -> float:
    """Kolari & Pynnonen (2011): ranks of the estimation SARs and the re-standardized SCAR as one period."""
    scar = ref["scar"][sel, w]
    scar_star = scar / scar.std(ddof=1)
    u = {t: [] for t in list(range(EST[0], EST[1] + 1)) + [0]}
    for j, i in enumerate(sel):
        sar = ref["resid"][i] / np.sqrt(ref["s2"][i])
        gsar = np.concatenate([sar, [scar_star[j]]])
        k = stats.rankdata(gsar)
        for kk, t in zip(k[:-1], ref["est_rel"][i]):
            u[t].append(kk / (gsar.size + 1) - 0.5)
        u[0].append(k[-1] / (gsar.size + 1) - 0.5)
    n, big_t = len(sel), L1 + 1
    s_u = np.sqrt(sum(len(v) / n * np.mean(v) ** 2 for v in u.values() if v) / big_t)
    z = np.mean(u[0]) / s_u
    return z * np.sqrt((big_t - 2) / (big_t - 1 - z ** 2))


@pytest.mark.parametrize("group", ["all", "x", "y"])
@pytest.mark.parametrize("w", range(3))
def test_grank(case, group, w):
    res, ref, _ = case
    t = _grank_by_hand(ref, SEL[group], w)
    got, p = _stat(res, "grank", LABELS[w], group)
    assert got == pytest.approx(t, rel=1e-9, abs=1e-12)
    assert p == pytest.approx(2 * stats.t.sf(abs(t), L1 + 1 - 2), rel=1e-9)


def _rbar_by_hand(ref) -> float:
    """e1, e2, e3 share a date (and all 10 estimation rows); every pair with e4 or e5 counts as 0."""
    total = sum(np.corrcoef(ref["resid"][i], ref["resid"][j])[0, 1] for i in range(3) for j in range(3) if i != j)
    return total / (5 * 4)


@pytest.mark.parametrize("w", range(3))
def test_kp_adjusted_patell(case, w):
    res, ref, _ = case
    patell = ref["scar"][:, w].sum() / np.sqrt(sum((t - 2) / (t - 4) for t in ref["T"]))
    rbar = _rbar_by_hand(ref)
    z = patell * np.sqrt((1 - rbar) / (1 + 4 * rbar))
    got, p = _stat(res, "kp_patell", LABELS[w])
    assert rbar > 0.05
    assert got == pytest.approx(z, rel=1e-9)
    assert p == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
    rb = res.rbar.set_index("group")
    assert rb.loc["all", "rbar"] == pytest.approx(rbar, rel=1e-9) and rb.loc["all", "n"] == 5
    assert list(res.rbar.columns) == ["group", "rbar", "n"]


def _estimation_aar(ref, sel: list[int]) -> np.ndarray:
    """Mean estimation residual per relative period over the events that have it (event time)."""
    out = []
    for t in range(EST[0], EST[1] + 1):
        vals = [ref["resid"][i][list(ref["est_rel"][i]).index(t)] for i in sel if t in ref["est_rel"][i]]
        out.append(np.mean(vals))
    return np.array(out)


@pytest.mark.parametrize("group", ["all", "x"])
@pytest.mark.parametrize("w", range(3))
def test_brown_warner_crude_dependence(case, group, w):
    res, ref, _ = case
    sd = _estimation_aar(ref, SEL[group]).std(ddof=1)
    caar = ref["car"][SEL[group], w].mean()
    length = WINDOWS[w][1] - WINDOWS[w][0] + 1
    z = caar / (np.sqrt(length) * sd)
    got, p = _stat(res, "bw_cda", LABELS[w], group)
    assert got == pytest.approx(z, rel=1e-9)
    assert p == pytest.approx(2 * stats.t.sf(abs(z), L1 - 1), rel=1e-9)


@pytest.mark.parametrize("group", ["all", "x"])
@pytest.mark.parametrize("w", range(3))
def test_lamb(case, group, w):
    """Lamb (1995): daily AAR_t / (sd(AAR_est) sqrt(mean_i (1 + x*_t'(X'X)^-1 x*_t))), summed / sqrt(L)."""
    res, ref, _ = case
    sel = SEL[group]
    sd = _estimation_aar(ref, sel).std(ddof=1)
    aar = ref["ar"][sel].mean(axis=0)
    factor = ref["lev"][sel].mean(axis=0)
    daily = aar / (sd * np.sqrt(factor))
    lo, hi = WINDOWS[w]
    cols = [r - EVT[0] for r in range(lo, hi + 1)]
    z = daily[cols].sum() / np.sqrt(len(cols))
    got, p = _stat(res, "lamb", LABELS[w], group)
    assert got == pytest.approx(z, rel=1e-9)
    assert p == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


@pytest.mark.parametrize("group", ["all", "x"])
@pytest.mark.parametrize("w", range(3))
def test_bhar_skewness_adjusted_t(case, group, w):
    res, ref, _ = case
    b = ref["bhar"][SEL[group], w]
    n = b.size
    sd = np.sqrt(sum((v - b.mean()) ** 2 for v in b) / (n - 1))
    s = b.mean() / sd
    g = sum((v - b.mean()) ** 3 for v in b) / (n * sd ** 3)
    t = np.sqrt(n) * (s + g * s ** 2 / 3 + g / (6 * n))
    got, p = _stat(res, "bhar_skew_t", LABELS[w], group)
    assert abs(g) > 0.01
    assert got == pytest.approx(t, rel=1e-9)
    assert p == pytest.approx(2 * stats.t.sf(abs(t), n - 1), rel=1e-9)


def test_tests_selection_computes_only_those_and_the_same_numbers(case):
    res_all, _, _ = case
    returns, market, events = _panel()
    res = event_study(returns, events, market=market, estimation_window=EST, event_window=EVT,
                      car_windows=WINDOWS, min_estimation=5, n_boot=0, tests=["grank", "sign", "t_cs"])
    assert res.stats["test"].unique().tolist() == ["t_cs", "sign", "grank"]      # in TESTS order
    merged = res.stats.merge(res_all.stats, on=["group", "window", "test"], suffixes=("", "_all"))
    assert len(merged) == len(res.stats)
    np.testing.assert_allclose(merged["statistic"], merged["statistic_all"], rtol=1e-12)
    assert res.rbar["rbar"].isna().all()               # no kp test asked: no r-bar pass
    assert set(TESTS) == set(res_all.stats["test"])
    with pytest.raises(EventStudyError, match=r"tests=\['nope'\] has unknown"):
        event_study(returns, events, market=market, tests=["nope"])


def test_lazy_tables_are_built_once_and_match(case):
    res, ref, _ = case
    first = res.ar
    assert res.ar is first                           # cached
    ar = first.pivot(index="event_id", columns="rel", values="ar").to_numpy()
    np.testing.assert_allclose(ar, ref["ar"], rtol=1e-9, atol=1e-15)
    fit = res.fit.set_index("event_id")
    assert fit["n_obs"].tolist() == [10, 10, 10, 10, 7]
    np.testing.assert_allclose(fit["sigma"] ** 2, ref["s2"], rtol=1e-9)


# ------------------------------------------------------------------------------------- estudy2, literally
def _estudy2_panel(seed: int = 5, n_assets: int = 12):
    """Synthetic: every event on one date with one market (estudy2's calendar time = our event time)."""
    rng = np.random.default_rng(seed)
    n = 80
    idx = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC")
    m = rng.normal(0, 0.01, n)
    names = [f"S{i}" for i in range(n_assets)]
    r = pd.DataFrame({a: 0.0005 * i + (0.6 + 0.1 * i) * m + rng.standard_t(5, n) * 0.012
                      for i, a in enumerate(names)}, index=idx)
    r.iloc[60] += rng.normal(0.004, 0.01, n_assets)
    events = pd.DataFrame({"event_id": names, "asset": names, "timestamp": idx[60]})
    return r, pd.Series(m, index=idx, name="MKT"), events


def _estudy2_abnormal(r: pd.DataFrame, market: pd.Series, day0: int):
    """What estudy2's apply_market_model(market_model = "sim", estimation_method = "ols") yields: per company a
    date-indexed series of abnormal returns over the estimation and event periods, and the regressor."""
    est = r.index[day0 + EST[0]:day0 + EST[1] + 1]
    evt = r.index[day0 + EVT[0]:day0 + EVT[1] + 1]
    abnormal = {}
    for a in r.columns:
        X = np.column_stack([np.ones(est.size), market[est]])
        beta = np.linalg.lstsq(X, r.loc[est, a].to_numpy(), rcond=None)[0]
        both = est.append(evt)
        abnormal[a] = r.loc[both, a] - (beta[0] + beta[1] * market[both])
    return pd.DataFrame(abnormal), est, evt


@pytest.fixture(scope="module")
def estudy2_case():
    r, market, events = _estudy2_panel()
    res = event_study(r, events, market=market, estimation_window=EST, event_window=EVT, car_windows=WINDOWS,
                      min_estimation=8, n_boot=0)
    abnormal, est, evt = _estudy2_abnormal(r, market, 60)
    return res, abnormal, est, evt, market


def test_estudy2_sign_test_literal(estudy2_case):
    res, abnormal, est, evt, _ = estudy2_case
    binary = (abnormal.loc[evt] > 0).astype(float)                    # as.numeric(abnormal > 0)
    n_comp = binary.notna().sum(axis=1)
    sums = binary.mean(axis=1) * binary.shape[1]                       # rowMeans * ncol
    statistic = (sums - n_comp * 0.5) / np.sqrt(n_comp * 0.25)
    assert _stat(res, "sign", "[0,0]")[0] == pytest.approx(statistic.iloc[2], rel=1e-12)


def test_estudy2_wilcoxon_test_literal(estudy2_case):
    """estudy2 reports W+ (rowMeans of the ranks of |AR| with negatives zeroed, times ncol); we report its z."""
    res, abnormal, est, evt, _ = estudy2_case
    event_abs = abnormal.loc[evt].abs().replace(0, np.nan)
    event_rank = event_abs.rank(axis=1, method="average")             # rank(ties.method = "average")
    event_rank[abnormal.loc[evt] < 0] = 0
    n = event_abs.notna().sum(axis=1).astype(float)
    w_plus = event_rank.mean(axis=1) * event_rank.shape[1]
    z = (w_plus - n * (n + 1) / 4) / np.sqrt(n * (n + 1) * (2 * n + 1) / 24)   # no ties in continuous data
    assert _stat(res, "wilcoxon", "[0,0]")[0] == pytest.approx(z.iloc[2], rel=1e-12)


def test_estudy2_corrado_sign_test_literal(estudy2_case):
    res, abnormal, est, evt, _ = estudy2_case
    full = abnormal.loc[est.append(evt)]
    median = full.median(axis=0)                                       # stats::median per company
    full_sign = np.sign(full - median)
    event_sign = np.sign(abnormal.loc[evt] - median)
    delta_full = full.notna().sum(axis=0)
    n_full = full_sign.notna().sum(axis=1)
    full_sums = full_sign.mean(axis=1) * full_sign.shape[1]
    sd_full = np.sqrt(1 / delta_full.mean() * ((1 / np.sqrt(n_full) * full_sums) ** 2).sum())
    n_event = event_sign.notna().sum(axis=1)
    event_sums = event_sign.mean(axis=1) * event_sign.shape[1]
    statistic = 1 / np.sqrt(n_event) * event_sums / sd_full
    assert _stat(res, "cz_sign", "[0,0]")[0] == pytest.approx(statistic.iloc[2], rel=1e-12)
    # the multi-day form sums the daily statistics / sqrt(L), like car_* in estudy2
    assert _stat(res, "cz_sign", "[-1,+1]")[0] == pytest.approx(statistic.iloc[1:4].sum() / np.sqrt(3), rel=1e-12)


def test_estudy2_brown_warner_1985_and_car_literal(estudy2_case):
    res, abnormal, est, evt, _ = estudy2_case
    event_means = abnormal.loc[evt].mean(axis=1)
    sd_estimation = np.sqrt(abnormal.loc[est].mean(axis=1).var(ddof=1))   # sqrt(stats::var(rowMeans(...)))
    daily = event_means / sd_estimation
    assert _stat(res, "bw_cda", "[0,0]")[0] == pytest.approx(daily.iloc[2], rel=1e-12)
    for w, label in zip(WINDOWS, LABELS):
        car = daily.iloc[w[0] - EVT[0]:w[1] - EVT[0] + 1].sum() / np.sqrt(w[1] - w[0] + 1)   # car_brown_warner_1985
        assert _stat(res, "bw_cda", label)[0] == pytest.approx(car, rel=1e-12)


def test_estudy2_lamb_and_car_lamb_literal(estudy2_case):
    res, abnormal, est, evt, market = estudy2_case
    event_means = abnormal.loc[evt].mean(axis=1)
    estimation_means = abnormal.loc[est].mean(axis=1)
    mean_delta = est.size
    m_mean = market[est].mean()
    sum_m = ((market[est] - m_mean) ** 2).sum()
    sd = estimation_means.std(ddof=1) * np.sqrt(1 + 1 / mean_delta + (market[evt] - m_mean) ** 2 / sum_m)
    daily = event_means / sd
    for w, label in zip(WINDOWS, LABELS):
        car = daily.iloc[w[0] - EVT[0]:w[1] - EVT[0] + 1].sum() / np.sqrt(w[1] - w[0] + 1)   # car_lamb
        assert _stat(res, "lamb", label)[0] == pytest.approx(car, rel=1e-12)


def test_grank_with_ties_exact_fit_and_discrete_returns():
    """A halted asset (returns exactly 0: SARs and SCAR all 0, every generalized SAR tied) and returns rounded
    to 0.1% (ties among the SARs): average ranks, as scipy's rankdata (constant-mean model)."""
    rng = np.random.default_rng(8)
    n = 60
    idx = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC")
    r = pd.DataFrame(np.round(rng.normal(0, 0.01, (n, 5)), 3), index=idx, columns=list("ABCDE"))
    r["H"] = 0.0
    events = pd.DataFrame({"event_id": range(6), "asset": list("ABCDEH"), "timestamp": idx[40]})
    res = event_study(r, events, model="constant_mean", estimation_window=EST, event_window=EVT,
                      car_windows=WINDOWS, min_estimation=8, n_boot=0, tests=["grank"])
    sars, scars = [], []
    for a in "ABCDEH":
        y = r[a].to_numpy()
        est, evt = y[40 + EST[0]:40 + EST[1] + 1], y[40 + EVT[0]:40 + EVT[1] + 1]
        e = est - est.mean()
        s2 = e @ e / (e.size - 1)
        sars.append(np.zeros_like(e) if s2 == 0 else e / np.sqrt(s2))
        row = []
        for lo, hi in WINDOWS:
            length = hi - lo + 1
            car = (evt[lo - EVT[0]:hi - EVT[0] + 1] - est.mean()).sum()
            var = s2 * (length + length ** 2 / e.size)
            row.append(0.0 if var == 0 else car / np.sqrt(var))
        scars.append(row)
    ref = {"resid": sars, "s2": np.ones(6), "scar": np.array(scars), "est_rel": [np.arange(EST[0], EST[1] + 1)] * 6}
    assert len(set(np.round(sars[0], 12))) < L1                 # ties among the SARs
    for w in range(3):
        got, _ = _stat(res, "grank", LABELS[w])
        assert got == pytest.approx(_grank_by_hand(ref, list(range(6)), w), rel=1e-9, abs=1e-12)
