"""Daily-return statistics: rolling correlation and beta, the two-factor decomposition, the log spread,
cointegration, structural breaks and Markov regimes.

Frame contract: returns on one clock (UTC DatetimeIndex of sessions or days, one column per asset id or basket
name), simple returns.

Rolling statistics are vectorised: window sums come from cumulative sums over the whole sample (one numpy pass
per window length, no Python loop per window). A window is the last ``w`` rows; a row enters a window's
statistics only when every series involved has a value there (listwise complete), and a window needs
``min_periods`` such rows (default ``w``: complete windows). The two-factor model splits R² between its two
factors by the Shapley (LMG) rule: ``share_1 = (R² - r2_2 + r2_1) / 2`` with ``r2_k`` the one-factor R².

References: Engle & Granger (1987); Johansen (1991); Chow (1960); binary segmentation (``ruptures``);
Hamilton (1989) for the Markov-switching model.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from capflow.divergence.sample import DivergenceError, check_windows, utc


# ---------------------------------------------------------------------------------------- rolling moments

def _rsum(a: np.ndarray, w: int) -> np.ndarray:
    """Sum over the trailing ``w`` rows of a 2-D array (cumulative-sum differences; partial for the first w-1)."""
    c = np.cumsum(a, axis=0)
    out = c.copy()
    out[w:] = c[w:] - c[:-w]
    return out


def _moments(series: list[np.ndarray], w: int) -> tuple[np.ndarray, list[np.ndarray], dict]:
    """Listwise-complete rolling count, means and centred cross-products of 2-D arrays of one shape.

    Each series is shifted by its full-sample mean before the cumulative sums (moments are shift-invariant;
    this keeps the sums small and the differences accurate).
    """
    mask = np.logical_and.reduce([np.isfinite(s) for s in series])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        centre = [np.nan_to_num(np.nanmean(np.where(mask, s, np.nan), axis=0)) for s in series]
    z = [np.where(mask, s - m, 0.0) for s, m in zip(series, centre)]
    n = _rsum(mask.astype(float), w)
    sums = [_rsum(x, w) for x in z]
    cross = {}
    for i in range(len(z)):
        for j in range(i, len(z)):
            with np.errstate(invalid="ignore", divide="ignore"):
                cross[i, j] = _rsum(z[i] * z[j], w) - sums[i] * sums[j] / n
    with np.errstate(invalid="ignore", divide="ignore"):
        means = [sm / n + m for sm, m in zip(sums, centre)]
    return n, means, cross


def _frame(values: np.ndarray, index, columns) -> pd.DataFrame:
    return pd.DataFrame(values, index=index, columns=columns)


def rolling_corr_beta(y: pd.DataFrame, x: pd.DataFrame | pd.Series, window: int,
                      min_periods: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rolling correlation and beta (OLS slope of ``y`` on ``x`` with intercept) over trailing windows.

    Parameters
    ----------
    y : DataFrame
        Returns, one column per series (UTC DatetimeIndex).
    x : Series or DataFrame
        The regressor: a Series (one benchmark for every column) or a DataFrame of y's shape (pairwise).
    window, min_periods : int
        Window length in rows; rows where y or x is missing are left out, and a window needs ``min_periods``
        complete rows (default ``window``).

    Returns
    -------
    (DataFrame, DataFrame)
        Correlation and beta, same index and columns as ``y``, NaN where a window is not filled.
    """
    xv = x.to_numpy(float)[:, None] * np.ones((1, y.shape[1])) if isinstance(x, pd.Series) else x.to_numpy(float)
    n, _, c = _moments([y.to_numpy(float), xv], window)
    ok = (n >= (min_periods or window)) & (c[1, 1] > 0) & (c[0, 0] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = np.where(ok, c[0, 1] / c[1, 1], np.nan)
        corr = np.where(ok, c[0, 1] / np.sqrt(c[0, 0] * c[1, 1]), np.nan)
    return _frame(corr, y.index, y.columns), _frame(beta, y.index, y.columns)


def rolling_two_factor(y: pd.DataFrame | pd.Series, factors: pd.DataFrame, window: int,
                       min_periods: int | None = None) -> pd.DataFrame:
    """Rolling OLS ``y = a + b1 f1 + b2 f2 + e`` and the share of variance each factor explains.

    Parameters
    ----------
    y : Series or DataFrame
        Returns to explain (e.g. the AI-token basket), UTC DatetimeIndex.
    factors : DataFrame
        Exactly two factor return columns (e.g. bitcoin and the AI-equity basket), same index.
    window, min_periods : int
        As in :func:`rolling_corr_beta` (listwise-complete rows).

    Returns
    -------
    DataFrame
        Columns ``alpha, beta_<f1>, beta_<f2>, r2, share_<f1>, share_<f2>, share_residual`` (for a DataFrame
        ``y``: a column MultiIndex ``(statistic, series)``). Shares split R² between the two factors by the
        Shapley (LMG) rule, ``share_1 = (R² - r2_2 + r2_1) / 2`` with ``r2_k`` the one-factor R²: non-negative,
        they add up to R², and ``share_residual = 1 - R²``.
    """
    if factors.shape[1] != 2:
        raise DivergenceError(f"parameter factors must have exactly 2 columns; got {list(factors.columns)}")
    frame = y.to_frame() if isinstance(y, pd.Series) else y
    ones = np.ones((1, frame.shape[1]))
    f1, f2 = (factors.iloc[:, k].to_numpy(float)[:, None] * ones for k in range(2))
    n, means, c = _moments([frame.to_numpy(float), f1, f2], window)
    with np.errstate(invalid="ignore", divide="ignore"):
        det = c[1, 1] * c[2, 2] - c[1, 2] ** 2
        b1 = (c[2, 2] * c[0, 1] - c[1, 2] * c[0, 2]) / det
        b2 = (c[1, 1] * c[0, 2] - c[1, 2] * c[0, 1]) / det
        r2 = (b1 * c[0, 1] + b2 * c[0, 2]) / c[0, 0]
        r2_1, r2_2 = c[0, 1] ** 2 / (c[1, 1] * c[0, 0]), c[0, 2] ** 2 / (c[2, 2] * c[0, 0])
        alpha = means[0] - b1 * means[1] - b2 * means[2]
    ok = (n >= (min_periods or window)) & (det > 0) & (c[0, 0] > 0)
    names = [str(c_) for c_ in factors.columns]
    stats = {"alpha": alpha, f"beta_{names[0]}": b1, f"beta_{names[1]}": b2,
             "r2": r2, f"share_{names[0]}": (r2 - r2_2 + r2_1) / 2, f"share_{names[1]}": (r2 - r2_1 + r2_2) / 2,
             "share_residual": 1 - r2}
    out = pd.concat({k: _frame(np.where(ok, v, np.nan), frame.index, frame.columns) for k, v in stats.items()},
                    axis=1)
    return out.droplevel(1, axis=1) if isinstance(y, pd.Series) else out


def two_factor_ols(y: pd.Series, factors: pd.DataFrame, hac_lags: int = 5) -> dict:
    """Full-sample OLS ``y = a + b1 f1 + b2 f2 + e`` with Newey-West (HAC) standard errors and Shapley shares.

    Parameters
    ----------
    y : Series
        Returns to explain; rows where ``y`` or a factor is missing are dropped.
    factors : DataFrame
        Exactly two factor return columns, same index.
    hac_lags : int
        Newey-West lags.

    Returns
    -------
    dict
        ``n, r2, hac_lags`` and per factor ``f``: ``beta_f, t_f, p_f, share_f`` (shares as in
        :func:`rolling_two_factor`, summing to ``r2``).
    """
    import statsmodels.api as sm

    if factors.shape[1] != 2:
        raise DivergenceError(f"parameter factors must have exactly 2 columns; got {list(factors.columns)}")
    data = pd.concat([y.rename("_y"), factors], axis=1).dropna()
    if len(data) < 30:
        raise DivergenceError(f"the two-factor regression needs at least 30 complete rows; got {len(data)}")
    names = [str(c) for c in factors.columns]
    res = sm.OLS(data["_y"], sm.add_constant(data[factors.columns])).fit(cov_type="HAC",
                                                                       cov_kwds={"maxlags": int(hac_lags)})
    corr = data.corr()
    r2_1, r2_2 = corr.iloc[0, 1] ** 2, corr.iloc[0, 2] ** 2
    out = {"n": len(data), "r2": float(res.rsquared), "hac_lags": int(hac_lags)}
    for f, col, own, other in ((names[0], factors.columns[0], r2_1, r2_2), (names[1], factors.columns[1], r2_2, r2_1)):
        out.update({f"beta_{f}": float(res.params[col]), f"t_{f}": float(res.tvalues[col]),
                    f"p_{f}": float(res.pvalues[col]), f"share_{f}": float((res.rsquared - other + own) / 2)})
    return out


def rolling_correlations(returns: pd.DataFrame, pairs: Sequence[tuple[str, str]], windows: Iterable[int],
                         min_periods: int | None = None) -> pd.DataFrame:
    """Rolling correlations of column pairs for several windows: columns ``(window, "A ~ B")``."""
    ws = check_windows(windows, len(returns))
    missing = sorted({c for p in pairs for c in p} - set(returns.columns))
    if missing:
        raise DivergenceError(f"parameter pairs names columns not in the returns: {missing}; valid: "
                              f"{list(returns.columns)}")
    y = returns[[a for a, _ in pairs]].set_axis([f"{a} ~ {b}" for a, b in pairs], axis=1)
    x = returns[[b for _, b in pairs]].set_axis(y.columns, axis=1)
    mp = None if min_periods is None else int(min_periods)
    return pd.concat({w: rolling_corr_beta(y, x, w, mp and min(mp, w))[0] for w in ws}, axis=1,
                     names=["window", "pair"])


def rolling_betas(returns: pd.DataFrame, benchmark: pd.Series, windows: Iterable[int],
                  min_periods: int | None = None) -> dict[str, pd.DataFrame]:
    """Rolling correlation and beta of every column on one benchmark: ``{"corr", "beta"}``, columns
    ``(window, asset)``."""
    ws = check_windows(windows, len(returns))
    res = {w: rolling_corr_beta(returns, benchmark, w, min_periods and min(min_periods, w)) for w in ws}
    return {k: pd.concat({w: res[w][i] for w in ws}, axis=1, names=["window", "asset"])
            for i, k in enumerate(("corr", "beta"))}


# ---------------------------------------------------------------------------------------- spread, cointegration

def log_spread(level: pd.DataFrame, a: str, b: str) -> pd.Series:
    """``log(level_a) - log(level_b)`` of two basket (or asset) levels; the name is ``"a - b"``."""
    for name in (a, b):
        if name not in level.columns:
            raise DivergenceError(f"parameter {name!r} is not a column of the levels; valid: {list(level.columns)}")
    return (np.log(level[a]) - np.log(level[b])).rename(f"{a} - {b}")


def cointegration(y: pd.Series, x: pd.Series, k_ar_diff: int = 1) -> dict:
    """Engle-Granger (``statsmodels.tsa.stattools.coint``) and Johansen (``coint_johansen``) tests on two
    log-level series (rows where either is missing are dropped).

    Returns
    -------
    dict
        ``eg_stat, eg_pvalue, eg_crit_5pct``; ``johansen_trace`` (r=0, r<=1), ``johansen_crit_5pct``,
        ``johansen_rank`` (number of trace statistics above their 5% critical values, in order), ``n``.
    """
    from statsmodels.tsa.stattools import coint
    from statsmodels.tsa.vector_ar.vecm import coint_johansen

    both = pd.concat([y, x], axis=1).dropna()
    if len(both) < 30:
        raise DivergenceError(f"cointegration needs at least 30 common rows; got {len(both)}")
    stat, pval, crit = coint(both.iloc[:, 0], both.iloc[:, 1], trend="c")
    jo = coint_johansen(both.to_numpy(), det_order=0, k_ar_diff=k_ar_diff)
    above = jo.lr1 > jo.cvt[:, 1]
    rank = int(np.argmin(above)) if not above.all() else len(above)
    return {"eg_stat": float(stat), "eg_pvalue": float(pval), "eg_crit_5pct": float(crit[1]),
            "johansen_trace": jo.lr1.tolist(), "johansen_crit_5pct": jo.cvt[:, 1].tolist(),
            "johansen_rank": rank, "n": len(both)}


# ---------------------------------------------------------------------------------------- breaks and regimes

def chow_test(y: pd.Series, break_date: object, X: pd.DataFrame | None = None) -> dict:
    """Chow test of equal coefficients before and after ``break_date`` in ``y = X b + e`` (X gets a constant;
    ``X=None`` tests a shift in the mean). Rows at/after the date form the second sample.

    Returns
    -------
    dict
        ``date, F, pvalue, df_num, df_den, n_before, n_after``.
    """
    from scipy import stats

    d = utc(break_date, "break_date")
    data = pd.concat([y.rename("_y"), X], axis=1).dropna() if X is not None else y.rename("_y").dropna().to_frame()
    Z = np.column_stack([np.ones(len(data)), data.drop(columns="_y").to_numpy(float)])
    yy, k = data["_y"].to_numpy(float), Z.shape[1]
    after = (data.index >= d)
    if min(after.sum(), (~after).sum()) <= k:
        raise DivergenceError(f"parameter break_date={d.date()} leaves fewer than {k + 1} rows on one side "
                              f"(sample {data.index[0].date()}..{data.index[-1].date()})")

    def ssr(rows):
        resid = yy[rows] - Z[rows] @ np.linalg.lstsq(Z[rows], yy[rows], rcond=None)[0]
        return float(resid @ resid)

    s_all, s_split = ssr(np.ones(len(yy), bool)), ssr(~after) + ssr(after)
    df_den = len(yy) - 2 * k
    F = ((s_all - s_split) / k) / (s_split / df_den)
    return {"date": d, "F": F, "pvalue": float(stats.f.sf(F, k, df_den)), "df_num": k, "df_den": df_den,
            "n_before": int((~after).sum()), "n_after": int(after.sum())}


def change_points(series: pd.Series, n_breaks: int = 3, model: str = "l2", min_size: int = 20,
                  jump: int = 1) -> pd.DatetimeIndex:
    """Change points of a series by binary segmentation (``ruptures.Binseg``).

    Parameters
    ----------
    series : Series
        E.g. the log spread (``model="l2"``: shifts in level; ``"clinear"``: changes of trend) or returns.
    n_breaks : int
        Number of breaks to place.
    model, min_size, jump
        ruptures cost model, minimum segment length (rows) and grid step.

    Returns
    -------
    DatetimeIndex
        The first timestamp of each new segment.
    """
    import ruptures as rpt

    s = series.dropna()
    if len(s) < (n_breaks + 1) * min_size:
        raise DivergenceError(f"parameter n_breaks={n_breaks} with min_size={min_size} needs at least "
                              f"{(n_breaks + 1) * min_size} rows; the series has {len(s)}")
    algo = rpt.Binseg(model=model, min_size=min_size, jump=jump).fit(s.to_numpy(float).reshape(-1, 1))
    bkps = algo.predict(n_bkps=n_breaks)[:-1]
    return pd.DatetimeIndex(s.index[bkps], name=s.index.name)


@dataclass
class Regimes:
    """Markov-switching result: smoothed probabilities (one column per regime, ordered by volatility, low
    first), a per-regime summary, and the most likely regime per row."""

    probabilities: pd.DataFrame
    summary: pd.DataFrame
    most_likely: pd.Series
    params: dict = field(default_factory=dict)


def markov_regimes(series: pd.Series, k_regimes: int = 2, switching_variance: bool = True,
                   scale: float = 100.0) -> Regimes:
    """Markov-switching mean/variance model (``statsmodels`` ``MarkovRegression``, Hamilton 1989).

    Parameters
    ----------
    series : Series
        E.g. daily changes of the log spread, or a rolling correlation; missing rows are dropped.
    k_regimes : int
        Number of regimes (>= 2).
    switching_variance : bool
        Let the variance switch with the regime.
    scale : float
        The series is multiplied by ``scale`` before fitting (numerical conditioning); the summary is in the
        series' own units.

    Returns
    -------
    Regimes
        ``probabilities`` (smoothed), ``summary`` (mean, volatility, expected duration in rows, share of rows
        most likely in the regime), ``most_likely``.
    """
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    s = series.dropna()
    if k_regimes < 2 or len(s) < 20 * k_regimes:
        raise DivergenceError(f"parameter n_regimes={k_regimes} needs k >= 2 and at least {20 * k_regimes} rows; "
                              f"the series has {len(s)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = MarkovRegression(s.to_numpy(float) * scale, k_regimes=k_regimes, trend="c",
                               switching_variance=switching_variance).fit(disp=False)
    probs = pd.DataFrame(res.smoothed_marginal_probabilities, index=s.index)
    p = dict(zip(res.model.param_names, res.params))
    mean = np.array([p[f"const[{i}]"] for i in range(k_regimes)]) / scale
    var = np.array([p.get(f"sigma2[{i}]", p.get("sigma2")) for i in range(k_regimes)]) / scale ** 2
    order = np.argsort(var, kind="stable")
    probs = probs[order].set_axis([f"regime_{j}" for j in range(k_regimes)], axis=1)
    dur = np.asarray(res.expected_durations, float)[order]
    likely = probs.to_numpy().argmax(axis=1)
    summary = pd.DataFrame({"mean": mean[order], "volatility": np.sqrt(var[order]), "expected_duration": dur,
                            "share_of_rows": np.bincount(likely, minlength=k_regimes) / len(s)},
                           index=probs.columns)
    return Regimes(probs, summary, pd.Series(likely, index=s.index, name="regime"), {"llf": float(res.llf)})


# ---------------------------------------------------------------------------------------- all co-movement statistics

@dataclass
class CoMovement:
    """The co-movement statistics of one sample (see :func:`co_movement`)."""

    windows: list
    correlations: pd.DataFrame
    betas: dict
    two_factor: dict
    two_factor_full: dict
    levels: pd.DataFrame
    spread: pd.Series
    cointegration: dict
    breaks: pd.DatetimeIndex
    chow: pd.DataFrame
    regimes: "Regimes | None"


def co_movement(returns: pd.DataFrame, base: pd.Timestamp, *, windows: Iterable[int],
                pairs: Sequence[tuple[str, str]], factors: tuple[str, str], target: str,
                spread: tuple[str, str], beta_of: Sequence[str] = (), n_breaks: int = 3, n_regimes: int = 2,
                chow_dates: Iterable = (), min_complete: float = 1.0) -> CoMovement:
    """Rolling correlations (``pairs``) and betas of ``beta_of`` (default: every column) on ``factors[0]``, the
    rolling and full-sample (HAC) two-factor model of ``target`` on ``factors``, the log spread
    ``spread[0] - spread[1]`` with its cointegration test, change points, Chow tests at ``chow_dates`` (on the
    two-factor regression) and Markov regimes of the spread's daily changes.

    Parameters
    ----------
    returns : DataFrame
        Close-only asset and basket returns on one clock (UTC index, one column per asset id / basket name).
    base : Timestamp
        The base row (levels are 100 there).
    min_complete : float
        Share of a window's rows that must be complete (1: complete windows; on the 24/7 clock, where equities
        have no weekend rows, e.g. 0.6).
    """
    from capflow.divergence.sample import levels_to_last

    missing = sorted({*factors, target, *spread, *beta_of, *(c for p in pairs for c in p)} - set(returns.columns))
    if missing:
        raise DivergenceError(f"parameters pairs/factors/target/spread name series that are not in the sample: "
                              f"{missing}; valid: {list(returns.columns)}")
    ws = check_windows(windows, len(returns))
    mp = {w: max(3, math.ceil(min_complete * w)) for w in ws}
    lvl = levels_to_last(returns, base)
    two = {w: rolling_two_factor(returns[target], returns[list(factors)], w, mp[w]) for w in ws}
    spr = log_spread(lvl, *spread)
    chow = pd.DataFrame([chow_test(returns[target], d, returns[list(factors)]) for d in chow_dates])
    y = returns[list(beta_of) or list(returns.columns)]
    per_w = {w: rolling_betas(y, returns[factors[0]], [w], mp[w]) for w in ws}
    betas = {k: pd.concat([per_w[w][k] for w in ws], axis=1) for k in ("corr", "beta")}
    corr = pd.concat([rolling_correlations(returns, pairs, [w], mp[w]) for w in ws], axis=1)
    coint = cointegration(np.log(lvl[spread[0]]), np.log(lvl[spread[1]]))
    full = two_factor_ols(returns[target], returns[list(factors)])
    return CoMovement(ws, corr, betas, two, full, lvl, spr, coint,
                      change_points(spr, n_breaks) if n_breaks else pd.DatetimeIndex([]), chow,
                      markov_regimes(spr.diff(), n_regimes) if n_regimes else None)
