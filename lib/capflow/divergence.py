"""Divergence between AI equities and crypto: performance tables, rolling co-movement, spreads, breaks, regimes.

Pure functions, frames in and frames out (DESIGN.md layer 4). Frame contract: UTC DatetimeIndex, one column per
asset id or basket name; returns are simple unless a name says log. Cross-asset returns are first put on one clock
with :func:`capflow.returns.align` (the policy travels in ``attrs["calendar_policy"]``).

Rolling statistics are vectorised: window sums come from cumulative sums over the whole sample (one numpy pass
per window length, no Python loop per window). A window is the last ``w`` rows; a row enters a window's
statistics only when every series involved has a value there (pairwise/listwise complete), and a window needs
``min_periods`` such rows (default ``w``: complete windows).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from capflow import assets as _assets
from capflow import returns as R

log = logging.getLogger(__name__)

#: Default baskets: display name -> registry group tag (or a list of asset ids).
DEFAULT_BASKETS: dict[str, str | list[str]] = {
    "AI equities": "ai_equity", "Semis ETFs": "semis_etf", "Hyperscalers": "hyperscaler",
    "Crypto majors": "crypto_major", "AI tokens": "ai_token"}
DEFAULT_BASE = "2024-01-02"


class DivergenceError(ValueError):
    """Bad input to a divergence function (one line: parameter, what was wrong, what is valid)."""


# ---------------------------------------------------------------------------------------- inputs

def resolve_baskets(baskets: Mapping[str, str | Sequence[str]], available: Iterable[str]) -> dict[str, list[str]]:
    """Members of each basket that exist in ``available`` (asset ids), in registry order.

    Raises
    ------
    DivergenceError
        When a basket is empty or none of its members has data.
    """
    avail = list(available)
    out = {}
    for name, spec in baskets.items():
        if isinstance(spec, str) and not spec.strip() or not isinstance(spec, str) and len(spec) == 0:
            raise DivergenceError(f"parameter baskets: basket {name!r} is empty; give a group tag "
                                  f"({', '.join(_assets.GROUPS)}) or a list of assets")
        members = [a for a in _assets.ids(spec) if a in avail]
        if not members:
            raise DivergenceError(f"parameter baskets: basket {name!r} is empty: none of {_assets.ids(spec)} "
                                  "has data in the loaded prices")
        out[name] = members
    return out


def first_prices(prices: pd.DataFrame) -> pd.Series:
    """First observed timestamp of each column."""
    return prices.apply(lambda c: c.first_valid_index())


def check_base_date(prices: pd.DataFrame, base: object, late_start: str = "raise") -> pd.Series:
    """Start date of each asset's cumulative return: ``base``, or its first price if later and allowed.

    Parameters
    ----------
    prices : DataFrame
        Prices (UTC DatetimeIndex, one column per asset), loaded from on or before ``base``.
    base : date-like
        Base date.
    late_start : {"raise", "own_start"}
        An asset whose first price is after ``base``: raise (default), or start it at its own first price
        (with a warning naming it).
    """
    b = R._utc(base, "base_date")
    first = first_prices(prices)
    late = first[first.isna() | (first > b)]
    if len(late) and late_start == "raise":
        a, d = late.index[0], late.iloc[0]
        raise DivergenceError(f"parameter base_date={b.date()} is before the first price of {a} "
                              f"(first {'none' if pd.isna(d) else d.date()}); use a later base_date, drop the "
                              "asset, or late_start='own_start'")
    if late_start not in ("raise", "own_start"):
        raise DivergenceError(f"parameter late_start={late_start!r} is not valid; use 'raise' or 'own_start'")
    if len(late):
        warnings.warn(f"assets starting after base_date {b.date()} use their own first price: "
                      + ", ".join(f"{a} ({d.date()})" for a, d in late.items()), UserWarning, stacklevel=2)
    return first.where(first > b, b)


def default_end(prices: pd.DataFrame) -> pd.Timestamp:
    """The latest date all columns share: the minimum over columns of their last observed timestamp."""
    return prices.apply(lambda c: c.last_valid_index()).min()


def check_windows(windows: Iterable[int], n_rows: int) -> list[int]:
    """Validate rolling windows against the sample length (``3 <= w <= n_rows``)."""
    ws = [int(w) for w in windows]
    if not ws:
        raise DivergenceError("parameter windows is empty; give e.g. [30, 90, 180]")
    for w in ws:
        if w > n_rows:
            raise DivergenceError(f"parameter windows: {w} is longer than the sample ({n_rows} rows); "
                                  f"use windows between 3 and {n_rows}")
        if w < 3:
            raise DivergenceError(f"parameter windows: {w} is too short; use windows of at least 3 rows")
    return ws


# ---------------------------------------------------------------------------------------- baskets and levels

def basket_table(returns: pd.DataFrame, baskets: Mapping[str, list[str]],
                 caps: pd.DataFrame | None = None) -> pd.DataFrame:
    """Daily-rebalanced basket returns: ``"<name>"`` equal-weighted and ``"<name> (cap)"`` cap-weighted.

    Cap-weighted columns exist for baskets whose every member has a column in ``caps`` (crypto market caps:
    sparse, the last known cap before each day is used, see :func:`capflow.returns.basket_returns`).
    """
    out = {}
    for name, members in baskets.items():
        out[name] = R.basket_returns(returns[members])
        if caps is not None and all(m in caps.columns and caps[m].notna().any() for m in members):
            out[f"{name} (cap)"] = R.basket_returns(returns[members], weights=caps[members])
    frame = pd.DataFrame(out)
    frame.attrs.update({k: v for k, v in returns.attrs.items() if k.startswith("calendar")})
    return frame


def levels(returns: pd.DataFrame, base: object, start: float = 100.0) -> pd.DataFrame:
    """Performance indexed to ``start`` at ``base`` (``start * (1 + cumulative return)``)."""
    return start * (1.0 + R.cumulative_returns(returns, base=base))


# ---------------------------------------------------------------------------------------- performance table

def _asset_row(p: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> dict:
    obs = p.loc[:end].dropna()
    p0 = obs.loc[:start]
    path = obs.loc[p0.index[-1]:] if len(p0) else obs.loc[start:]
    ye = obs.loc[:pd.Timestamp(year=end.year - 1, month=12, day=31, tz="UTC")]
    ye_price = ye.iloc[-1] if len(ye) else path.iloc[0]
    return {"start": path.index[0], "end": path.index[-1], "cum_return": path.iloc[-1] / path.iloc[0] - 1,
            "ytd": path.iloc[-1] / ye_price - 1, "max_drawdown": R.drawdowns(path).max_drawdown}


def _basket_row(r: pd.Series, base: pd.Timestamp, end: pd.Timestamp) -> dict:
    lvl = 1.0 + R.cumulative_returns(r.loc[:end], base=base)
    lvl = lvl.dropna()
    ye = lvl.loc[:pd.Timestamp(year=end.year - 1, month=12, day=31, tz="UTC")]
    ye_lvl = ye.iloc[-1] if len(ye) else 1.0
    return {"start": lvl.index[0], "end": lvl.index[-1], "cum_return": lvl.iloc[-1] - 1,
            "ytd": lvl.iloc[-1] / ye_lvl - 1, "max_drawdown": R.drawdowns(lvl).max_drawdown}


def performance_table(prices: pd.DataFrame, basket_returns: pd.DataFrame | None, base: object = DEFAULT_BASE,
                      end: object | None = None, late_start: str = "raise") -> pd.DataFrame:
    """Cumulative return, year-to-date return and maximum drawdown since ``base`` for assets and baskets.

    Parameters
    ----------
    prices : DataFrame
        Asset prices (UTC DatetimeIndex, one column per asset id), loaded from on or before ``base``. Asset rows
        use prices directly: ``P_end / P_base - 1`` with ``P_base`` the last price at or before the start.
    basket_returns : DataFrame or None
        Basket returns (from :func:`basket_table`), compounded from ``base``.
    base, end : date-like
        Base date (default 2024-01-02) and end date (default :func:`default_end` of ``prices``).
    late_start : {"raise", "own_start"}
        See :func:`check_base_date`.

    Returns
    -------
    DataFrame
        Indexed by asset id / basket name: ``kind`` (asset/basket), ``symbol``, ``group``, ``start``, ``end``,
        ``cum_return``, ``ytd`` (from the last price of the previous calendar year, or the first price if later;
        baskets only exist from ``base``, so their YTD starts at ``base`` when ``base`` is in the end's year),
        ``max_drawdown`` (over start..end, negative).
    """
    b = R._utc(base, "base_date")
    e = default_end(prices) if end is None else R._utc(end, "end_date")
    if e <= b:
        raise DivergenceError(f"parameter end_date={e.date()} must be after base_date={b.date()}")
    starts = check_base_date(prices, b, late_start)
    rows = {a: {"kind": "asset", "symbol": _assets.symbol(a), "group": _assets.group_of(a),
                **_asset_row(prices[a], starts[a], e)} for a in prices.columns}
    for name in ([] if basket_returns is None else basket_returns.columns):
        rows[name] = {"kind": "basket", "symbol": name, "group": "basket", **_basket_row(basket_returns[name], b, e)}
    return pd.DataFrame.from_dict(rows, orient="index")


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

    d = R._utc(break_date, "break_date")
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


# ---------------------------------------------------------------------------------------- the whole study

def load_inputs(assets: str | Iterable[str], base: object = DEFAULT_BASE, end: object | None = None,
                lookback_days: int = 10, cap_lookback_days: int = 62) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Daily prices (from ``lookback_days`` before ``base``) and crypto market caps (sparse) for a study.

    Market caps come from ``load_prices(field="market_cap")`` for the crypto assets only (the snapshot has no
    equity caps); they start ``cap_lookback_days`` earlier so a cap is known at the base date. Returns
    ``(prices, caps or None)``; both carry ``attrs["provenance"]``.
    """
    from capflow.data import load_prices

    b = R._utc(base, "base_date")
    prices = load_prices(assets, b - pd.Timedelta(days=lookback_days), end)
    crypto = [a for a in prices.columns if _assets.resolve(a).is_crypto]
    caps = None
    if crypto:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            caps = load_prices(crypto, b - pd.Timedelta(days=cap_lookback_days), end, field="market_cap",
                               missing="drop")
    return prices, caps


@dataclass
class Study:
    """Everything :func:`run_study` computed (frames indexed by UTC timestamp)."""

    base: pd.Timestamp
    end: pd.Timestamp
    policy: str
    policy_text: str
    members: dict
    returns: pd.DataFrame
    basket_returns: pd.DataFrame
    levels: pd.DataFrame
    table: pd.DataFrame
    correlations: pd.DataFrame
    betas: dict
    two_factor: dict
    spread: pd.Series
    cointegration: dict
    breaks: pd.DatetimeIndex
    chow: pd.DataFrame
    regimes: Regimes | None


def _default_pairs(cols: Sequence[str]) -> list[tuple[str, str]]:
    cand = [("AI tokens", "Crypto majors"), ("AI tokens", "AI equities"), ("Crypto majors", "AI equities"),
            ("bitcoin", "NVDA")]
    return [p for p in cand if p[0] in cols and p[1] in cols]


def _study_returns(prices, caps, members, base, end, policy, calendar, max_gap):
    rets = R.align(R.simple_returns(prices.loc[:end], max_gap=max_gap), policy=policy, calendar=calendar)
    rets = rets.loc[base:end]
    baskets = basket_table(rets, members, caps)
    return rets, baskets


def run_study(prices: pd.DataFrame, caps: pd.DataFrame | None = None,
              baskets: Mapping[str, str | Sequence[str]] = DEFAULT_BASKETS, base: object = DEFAULT_BASE,
              end: object | None = None, windows: Iterable[int] = (30, 90, 180), policy: str = "equity_sessions",
              calendar: str = "XNYS", n_regimes: int = 2, n_breaks: int = 3, chow_dates: Iterable = (),
              late_start: str = "raise", max_gap: int | None = 7, spread: tuple[str, str] = ("AI tokens",
              "AI equities"), factors: tuple[str, str] = ("bitcoin", "AI equities"), target: str = "AI tokens",
              pairs: Sequence[tuple[str, str]] | None = None) -> Study:
    """Run the divergence study on loaded prices (see the module docstring and ``notebooks/03_divergence``).

    Returns are simple returns over each asset's own bars not bridging gaps longer than ``max_gap`` rows (sparse
    snapshot stretches do not become one giant return), put on one clock by ``policy``
    (:func:`capflow.returns.align`), cut to ``[base, end]``. Baskets are daily-rebalanced (equal, and cap-weighted
    where caps exist). The performance table uses prices directly. Rolling statistics use ``windows`` rows;
    the two-factor model explains ``target`` by ``factors``; the spread is ``log level a - log level b``;
    breaks are searched on the spread, Chow tests run on the two-factor regression at ``chow_dates``; the
    Markov model is fitted to the spread's daily changes.
    """
    b = R._utc(base, "base_date")
    e = default_end(prices) if end is None else R._utc(end, "end_date")
    members = resolve_baskets(baskets, prices.columns)
    table_prices = prices.loc[:e]
    rets, bask = _study_returns(prices, caps, members, b, e, policy, calendar, max_gap)
    ws = check_windows(windows, len(rets))
    table = performance_table(table_prices, bask, b, e, late_start)
    both = pd.concat([rets, bask], axis=1)
    lvl = levels(both, b)
    corr = rolling_correlations(both, pairs if pairs is not None else _default_pairs(both.columns), ws)
    betas = rolling_betas(bask, both[factors[0]], ws)
    two = {w: rolling_two_factor(both[target], both[list(factors)], w) for w in ws}
    spr = log_spread(lvl, *spread)
    chow = pd.DataFrame([chow_test(both[target], d, both[list(factors)]) for d in chow_dates])
    regimes = markov_regimes(spr.diff(), n_regimes) if n_regimes else None
    return Study(b, e, policy, R.policy_text(rets), members, rets, bask, lvl, table, corr, betas, two, spr,
                 cointegration(np.log(lvl[spread[0]]), np.log(lvl[spread[1]])),
                 change_points(spr, n_breaks) if n_breaks else pd.DatetimeIndex([]), chow, regimes)


def summary(study: Study) -> dict:
    """JSON-ready summary of a :class:`Study` (numbers computed, never typed in)."""
    t = study.table
    last_corr = study.correlations.ffill().iloc[-1]
    shares = {w: f.filter(like="share_").mean().round(4).to_dict() for w, f in study.two_factor.items()}
    return {"base_date": str(study.base.date()), "end_date": str(study.end.date()),
            "calendar_policy": study.policy, "calendar_policy_text": study.policy_text,
            "baskets": study.members,
            "cum_return": t["cum_return"].round(6).to_dict(), "max_drawdown": t["max_drawdown"].round(6).to_dict(),
            "latest_rolling_correlation": {f"{w}|{p}": round(float(v), 4) for (w, p), v in last_corr.items()},
            "mean_variance_shares": {str(k): v for k, v in shares.items()},
            "cointegration": study.cointegration, "breaks": [str(d.date()) for d in study.breaks],
            "chow": study.chow.astype({"date": str}).to_dict(orient="records") if len(study.chow) else [],
            "regimes": None if study.regimes is None else study.regimes.summary.round(6).to_dict(orient="index")}
