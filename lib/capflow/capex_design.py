"""Regression machinery of the capex study: design matrices in numpy, OLS with sandwich covariances, and the
wild-cluster bootstrap on cluster sums.

Model (one row per release x asset x window): ``car = a + b * surprise + c * market_ret + FE + e`` with company
fixed effects (and asset-group fixed effects when groups are pooled). A window's panel is turned into arrays once
(:func:`panel_arrays`); every subset (one asset group, one company left out) is a row mask on those arrays
(:func:`subset_design`), so no fit rebuilds a dummy matrix in pandas.

Standard errors of ``b``:

* ``cluster``: cluster-robust (CRV1) by announcement date: every asset reacting to one release shares the date,
  and two companies reporting on the same day share the same crypto/equity moves, so they form one cluster.
  Small-sample factor ``G/(G-1) * (N-1)/(N-K)`` and t(G-1) reference distribution (statsmodels' ``cluster``
  with ``use_t=True``; equal to it to rounding, tested).
* ``hac``: Driscoll-Kraay: scores summed per NYSE session of the release, Newey-West (Bartlett) across
  sessions on the dense session grid (sessions without releases contribute zero) with ``lags`` = the window
  length, so releases whose CAR windows overlap are allowed to be correlated. Normal reference.
* ``hc1``: heteroskedasticity-robust, normal reference (shown for comparison only).

Wild-cluster bootstrap (Cameron, Gelbach & Miller 2008), restricted (null ``b = 0`` imposed), Rademacher or Webb
weights per cluster, bootstrap-t p-value of |t|; the interval is ``b +/- q*(|t*|) * se`` (symmetric bootstrap-t
using the null-imposed |t*| quantile). It runs on cluster sums (:func:`wild_cluster_bootstrap`): with
``a = X (X'X)^-1 e_b`` and restricted residuals ``u_r``, draw ``w`` (one weight per cluster) gives

    b*(w) = a'f_r + c'w,           c_g = sum_{i in g} a_i u_r,i
    s*(w) = S w,                   S = diag(c) - (sum_g a_i x_i') (X'X)^-1 (sum_g x_i u_r,i)'

(``s*`` the per-cluster scores of the CRV1 variance), so B draws cost one (G x G) by (G x B) product instead of
the (n x B) responses, refits and residuals of the textbook algorithm; the draws are the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from capflow import capex as _cx
from capflow.capex import CapexError

WEIGHTS = ("rademacher", "webb")
COVS = ("cluster", "hac", "hc1")


# ----------------------------------------------------------------------------------------------------------------
# design matrices
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class PanelArrays:
    """One window's panel as arrays, built once; subsets are row masks (see :func:`subset_design`).

    Attributes
    ----------
    y, x : ndarray (n,)
        Response (``car``) and regressor of interest.
    controls : ndarray (n, c)
    fe : dict
        Fixed-effect column -> (integer codes (n,), level names sorted as strings).
    cluster : ndarray (n,)
        Integer cluster label of each row (global codes; a subset re-codes them in order of appearance).
    periods : ndarray (n,) or None
        Session position of each row's cluster date (Driscoll-Kraay clock).
    complete : ndarray of bool (n,)
        Rows with no missing value among the response, regressors and fixed effects.
    rows : DataFrame
        The panel (RangeIndex), for labels.
    names : list of str
        ``const, x, controls``.
    """

    y: np.ndarray
    x: np.ndarray
    controls: np.ndarray
    fe: dict[str, tuple[np.ndarray, list[str]]]
    cluster: np.ndarray
    periods: np.ndarray | None
    complete: np.ndarray
    rows: pd.DataFrame
    names: list[str]

    def column(self, name: str) -> np.ndarray:
        """The values of a panel column (e.g. ``group``, ``company``) as an array."""
        return self.rows[name].to_numpy()


@dataclass
class Design:
    """One regression in arrays: ``y``, ``X`` (columns ``names``), cluster codes (0..G-1 in order of first
    appearance), session periods (or None) and the kept panel rows (positions into the panel)."""

    y: np.ndarray
    X: np.ndarray
    names: list[str]
    clusters: np.ndarray
    periods: np.ndarray | None
    keep: np.ndarray

    @property
    def n_clusters(self) -> int:
        """Number of clusters G."""
        return int(self.clusters.max() + 1) if len(self.clusters) else 0


def panel_arrays(panel: pd.DataFrame, x: str = "surprise", controls: Sequence[str] = ("market_ret",),
                 fixed_effects: Sequence[str] = ("company",), cluster: str = "announce_date",
                 with_periods: bool = True) -> PanelArrays:
    """Turn a panel into arrays once (see :class:`PanelArrays`).

    Raises
    ------
    CapexError
        A column the model needs is missing (the message names it).
    """
    need = ["car", x, *controls, *fixed_effects]
    missing = [c for c in need + [cluster] if c not in panel.columns]
    if missing:
        raise CapexError(f"parameter panel: missing column {missing[0]!r} (needs {', '.join(need + [cluster])})")
    rows = panel.reset_index(drop=True)
    num = rows[["car", x, *controls]].to_numpy(float)
    complete = np.isfinite(num).all(axis=1)
    fe = {}
    for f in fixed_effects:
        complete &= rows[f].notna().to_numpy()
        codes, levels = pd.factorize(rows[f].astype(str), sort=True)
        fe[f] = (codes, list(levels))
    clusters = pd.factorize(rows[cluster])[0]
    periods = session_index(rows[cluster]) if with_periods and len(rows) else None
    return PanelArrays(num[:, 0], num[:, 1], num[:, 2:], fe, clusters, periods, complete, rows,
                       ["const", x, *controls])


def subset_design(arrays: PanelArrays, mask: np.ndarray | None = None,
                  fixed_effects: Sequence[str] | None = None) -> Design:
    """The regression of the complete rows of ``mask``: ``[const, x, controls, dummies]``.

    Dummies: one column per level of each fixed effect present in the subset, the first present level (sorted
    as strings) dropped, as ``pandas.get_dummies(drop_first=True)`` on the subset would build them.
    """
    keep = arrays.complete if mask is None else (arrays.complete & mask)
    idx = np.flatnonzero(keep)
    cols = [np.ones(idx.size), arrays.x[idx], *arrays.controls[idx].T]
    names = list(arrays.names)
    for f in (fixed_effects if fixed_effects is not None else arrays.fe):
        codes, levels = arrays.fe[f]
        sub = codes[idx]
        present = np.unique(sub)[1:]
        if present.size:
            cols.extend((sub[:, None] == present[None, :]).astype(float).T)
            names += [f"{f}_{levels[c]}" for c in present]
    X = np.column_stack(cols) if idx.size else np.empty((0, len(names)))
    clusters = pd.factorize(arrays.cluster[idx])[0]
    periods = arrays.periods[idx] if arrays.periods is not None else None
    return Design(arrays.y[idx], X, names, clusters, periods, idx)


def design(panel: pd.DataFrame, x: str = "surprise", controls: Sequence[str] = ("market_ret",),
           fixed_effects: Sequence[str] = ("company",), cluster: str = "announce_date"
           ) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Response, design matrix and the kept rows of a panel (rows with any missing value dropped).

    Returns
    -------
    (y, X, rows)
        ``y`` ndarray (n,); ``X`` DataFrame with ``const, x, controls`` then fixed-effect dummies (first level
        dropped); ``rows`` the kept panel rows (same order).
    """
    if cluster not in panel.columns:
        panel = panel.assign(**{cluster: 0})
    arr = panel_arrays(panel, x, controls, fixed_effects, cluster, with_periods=False)
    d = subset_design(arr)
    return d.y, pd.DataFrame(d.X, columns=d.names), arr.rows.iloc[d.keep].reset_index(drop=True)


def panel_subsets(panel: pd.DataFrame, groups: Sequence[str] | None
                  ) -> list[tuple[str, pd.DataFrame, tuple[str, ...]]]:
    """The regression cells of one window: ("pooled", rows of all ``groups``, company + group fixed effects),
    then one cell per group (company fixed effects). ``groups`` default: the panel's groups in order."""
    groups = list(groups) if groups is not None else list(pd.unique(panel["group"]))
    out = [("pooled", panel[panel["group"].isin(groups)], ("company", "group"))]
    return out + [(g, panel[panel["group"] == g], ("company",)) for g in groups]


def subset_masks(arrays: PanelArrays, groups: Sequence[str] | None
                 ) -> list[tuple[str, np.ndarray, tuple[str, ...]]]:
    """:func:`panel_subsets` as row masks on a window's arrays (same cells, same order)."""
    group = arrays.column("group")
    groups = list(groups) if groups is not None else list(pd.unique(group))
    out = [("pooled", np.isin(group, groups), ("company", "group"))]
    return out + [(g, group == g, ("company",)) for g in groups]


def cluster_codes(rows: pd.DataFrame, cluster: str = "announce_date") -> np.ndarray:
    """Integer cluster codes (0..G-1, in order of first appearance) of a panel's rows."""
    return pd.factorize(rows[cluster])[0]


def _naive_dates(dates: pd.Series) -> pd.DatetimeIndex:
    datetimes = pd.api.types.is_datetime64_any_dtype(getattr(dates, "dtype", None))
    d = pd.DatetimeIndex(dates if datetimes else pd.to_datetime(dates))
    return (d.tz_localize(None) if d.tz is not None else d).normalize()


def session_index(dates: pd.Series, calendar: str = "XNYS", opens: pd.Series | None = None) -> np.ndarray:
    """Integer position of each date's first session at or after it (a dense trading-day clock).

    Positions count sessions of ``opens`` (default: :func:`capflow.capex.session_opens` covering the dates);
    only differences between positions from the same ``opens`` are meaningful.
    """
    d = _naive_dates(dates)
    if opens is None:
        opens = _cx.session_opens(calendar, d.min() if len(d) else None)
    return np.searchsorted(opens.index.to_numpy(), d.to_numpy(), side="left")


# ----------------------------------------------------------------------------------------------------------------
# covariances
# ----------------------------------------------------------------------------------------------------------------
def _group_sum(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Rows of ``values`` (n, k) summed per integer code: (n_groups, k)."""
    out = np.zeros((n_groups, values.shape[1]))
    np.add.at(out, codes, values)
    return out


def cluster_cov(X: np.ndarray, resid: np.ndarray, codes: np.ndarray, bread: np.ndarray | None = None
                ) -> np.ndarray:
    """CRV1 cluster-robust covariance with statsmodels' factor ``G/(G-1)*(N-1)/(N-K)``.

    ``bread @ (sum_g s_g s_g') @ bread`` with ``s_g = X_g' u_g`` and ``bread = (X'X)^-1`` (pseudo-inverse).
    """
    n, k = X.shape
    g = int(codes.max() + 1)
    bread = np.linalg.pinv(X.T @ X) if bread is None else bread
    scores = _group_sum(codes, X * resid[:, None], g)
    return g / (g - 1) * (n - 1) / (n - k) * bread @ (scores.T @ scores) @ bread


def driscoll_kraay_cov(X: np.ndarray, resid: np.ndarray, period: np.ndarray, lags: int,
                       bread: np.ndarray | None = None) -> np.ndarray:
    """Driscoll-Kraay covariance: scores summed per integer ``period`` on the dense grid min..max, Bartlett lags.

    Periods with no rows contribute zero scores, so lags are in real periods (sessions), not in releases.
    Small-sample factor ``T/(T-1)*(N-1)/(N-K)`` with T the number of periods holding rows (equals statsmodels'
    ``hac-groupsum`` with ``use_correction='cluster'`` when every period of the grid holds rows).
    """
    n, k = X.shape
    p = period - period.min()
    h = _group_sum(p, X * resid[:, None], int(p.max() + 1))
    s = h.T @ h
    for lag in range(1, lags + 1):
        gamma = h[lag:].T @ h[:-lag]
        s += (1 - lag / (lags + 1)) * (gamma + gamma.T)
    t = len(np.unique(p))
    bread = np.linalg.pinv(X.T @ X) if bread is None else bread
    return t / (t - 1) * (n - 1) / (n - k) * bread @ s @ bread


def hc1_cov(X: np.ndarray, resid: np.ndarray, bread: np.ndarray | None = None) -> np.ndarray:
    """HC1 covariance ``n/(n-k) * bread @ X' diag(u^2) X @ bread``."""
    n, k = X.shape
    bread = np.linalg.pinv(X.T @ X) if bread is None else bread
    xu = X * resid[:, None]
    return n / (n - k) * bread @ (xu.T @ xu) @ bread


# ----------------------------------------------------------------------------------------------------------------
# one regression
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class Fit:
    """One CAR-on-surprise regression: the coefficient of ``x`` under several covariance estimators."""

    coef: float
    se: dict[str, float]
    p: dict[str, float]
    ci: dict[str, tuple[float, float]]
    n: int
    n_clusters: int
    names: list[str]
    results: object = field(repr=False, default=None)

    def row(self) -> dict:
        """Flat dict for tables."""
        out = {"coef": self.coef, "n": self.n, "n_clusters": self.n_clusters}
        for k in self.se:
            out.update({f"se_{k}": self.se[k], f"p_{k}": self.p[k], f"lo_{k}": self.ci[k][0],
                        f"hi_{k}": self.ci[k][1]})
        return out


def check_min(n_clusters: int, min_events: int, what: str) -> None:
    """Raise :class:`CapexError` when fewer than ``min_events`` announcement dates (clusters) remain."""
    if n_clusters < min_events:
        raise CapexError(f"only {n_clusters} announcement dates in {what} (parameter min_events={min_events}); "
                         "include more companies or INFERRED dates, or use a surprise measure needing less "
                         "history (qoq)")


def fit_design(d: Design, col: int = 1, hac_lags: int = 1, alpha: float = 0.05) -> Fit:
    """OLS of ``d.y`` on ``d.X`` in numpy: coefficient ``col`` with CRV1, Driscoll-Kraay and HC1 errors.

    ``se/p/ci`` keyed ``cluster`` (t(G-1)), ``hac`` (normal; NaN without periods) and ``hc1`` (normal).
    """
    X, y, g = d.X, d.y, d.n_clusters
    bread = np.linalg.pinv(X.T @ X)
    beta = bread @ (X.T @ y)
    resid = y - X @ beta
    b = float(beta[col])
    se = {"cluster": float(np.sqrt(cluster_cov(X, resid, d.clusters, bread)[col, col]))}
    se["hac"] = (float(np.sqrt(driscoll_kraay_cov(X, resid, d.periods, max(hac_lags, 0), bread)[col, col]))
                 if d.periods is not None else float("nan"))
    se["hc1"] = float(np.sqrt(hc1_cov(X, resid, bread)[col, col]))
    z = stats.norm.ppf(1 - alpha / 2)
    crit = {"cluster": stats.t.ppf(1 - alpha / 2, g - 1), "hac": z, "hc1": z}
    p = {"cluster": float(2 * stats.t.sf(abs(b / se["cluster"]), g - 1)),
         "hac": float(2 * stats.norm.sf(abs(b / se["hac"]))), "hc1": float(2 * stats.norm.sf(abs(b / se["hc1"])))}
    ci = {k: (b - crit[k] * se[k], b + crit[k] * se[k]) for k in se}
    return Fit(b, se, p, ci, len(y), g, list(d.names))


def fit_regression(panel: pd.DataFrame, x: str = "surprise", controls: Sequence[str] = ("market_ret",),
                   fixed_effects: Sequence[str] = ("company",), cluster: str = "announce_date", hac_lags: int = 1,
                   alpha: float = 0.05, min_events: int = 10, what: str = "the panel") -> Fit:
    """OLS of ``car`` on ``x`` + controls + fixed effects with cluster-robust and Driscoll-Kraay HAC errors.

    Parameters
    ----------
    panel : DataFrame
        One row per (release, asset) for ONE window: ``car``, ``x``, controls, fixed-effect columns, ``cluster``.
    hac_lags : int
        Bartlett lags (in sessions) of the Driscoll-Kraay covariance; use the window length.
    min_events : int
        Fewer clusters -> :class:`CapexError`.

    Returns
    -------
    Fit
        ``se/p/ci`` keyed ``cluster`` (CRV1, t(G-1)), ``hac`` (Driscoll-Kraay, normal) and ``hc1``.
    """
    d = subset_design(panel_arrays(panel, x, controls, fixed_effects, cluster))
    check_min(d.n_clusters, min_events, what)
    return fit_design(d, d.names.index(x), hac_lags, alpha)


def partial_out(d: Design, col: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Frisch-Waugh-Lovell residuals: column ``col`` and ``y``, each net of the other columns of ``X``.

    The OLS slope of the second on the first (no intercept) is exactly ``beta[col]``: the added-variable plot of
    the coefficient, controls and fixed effects included.
    """
    others = np.delete(d.X, col, axis=1)

    def resid(v: np.ndarray) -> np.ndarray:
        return v - others @ np.linalg.lstsq(others, v, rcond=None)[0]

    return resid(d.X[:, col]), resid(d.y)


# ----------------------------------------------------------------------------------------------------------------
# wild cluster bootstrap (restricted, CGM 2008), on cluster sums
# ----------------------------------------------------------------------------------------------------------------
def cluster_weights(n_clusters: int, n_boot: int, kind: str = "rademacher", seed: int = 0) -> np.ndarray:
    """Wild-bootstrap weights, shape (n_clusters, n_boot): Rademacher (+-1) or Webb's six-point distribution."""
    if kind not in WEIGHTS:
        raise CapexError(f"parameter weights={kind!r} is not valid; valid: {', '.join(WEIGHTS)}")
    rng = np.random.default_rng(seed)
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=(n_clusters, n_boot))
    pts = np.sqrt(np.array([0.5, 1.0, 1.5]))
    return rng.choice(np.concatenate([-pts, pts]), size=(n_clusters, n_boot))


def bootstrap_parts(y: np.ndarray, X: np.ndarray, codes: np.ndarray, col: int = 1
                    ) -> tuple[float, np.ndarray, np.ndarray, float]:
    """The cluster-level pieces of the restricted wild bootstrap (see the module docstring).

    Returns
    -------
    (b0, c, S, factor)
        ``b*(w) = b0 + c @ w`` and CRV1 scores ``S @ w`` of a weight vector ``w`` (one per cluster);
        ``se*(w) = sqrt(factor * |S w|^2)``.
    """
    n, k = X.shape
    g = int(codes.max() + 1)
    xtx_inv = np.linalg.pinv(X.T @ X)
    a = X @ xtx_inv[:, col]                                       # beta_col = a'y
    xr = np.delete(X, col, axis=1)
    fit_r = xr @ np.linalg.lstsq(xr, y, rcond=None)[0]
    u_r = y - fit_r
    c = np.bincount(codes, weights=a * u_r, minlength=g)
    ax = _group_sum(codes, a[:, None] * X, g)                     # sum_g a_i x_i'
    xu = _group_sum(codes, X * u_r[:, None], g)                   # sum_g x_i u_r,i
    s = np.diag(c) - ax @ xtx_inv @ xu.T
    return float(a @ fit_r), c, s, g / (g - 1) * (n - 1) / (n - k)


def wild_cluster_bootstrap(y: np.ndarray, X: np.ndarray, codes: np.ndarray, col: int = 1, n_boot: int = 999,
                           weights: str = "rademacher", seed: int = 0, alpha: float = 0.05) -> dict[str, object]:
    """Restricted wild-cluster bootstrap-t test of ``beta[col] = 0`` (Cameron, Gelbach & Miller 2008).

    Works on cluster sums (:func:`bootstrap_parts`): the B draws are one (G x G) @ (G x B) product; the weights
    are :func:`cluster_weights` ``(G, B)`` with row g the weight of cluster code g, so a draw equals the one of
    the textbook (n x B) algorithm with the same weights.

    Returns
    -------
    dict
        ``t`` (observed CRV1 t), ``p`` (share of |t*| >= |t|), ``lo``, ``hi`` (symmetric bootstrap-t interval
        ``b +/- q_{1-alpha}(|t*|) * se``), ``t_star`` (ndarray of the B draws).
    """
    b0, c, s, factor = bootstrap_parts(y, X, codes, col)
    w = cluster_weights(len(c), n_boot, weights, seed)
    w = np.concatenate([np.ones((len(c), 1)), w], axis=1)        # column 0: w = 1 reproduces the data
    beta = b0 + c @ w
    se = np.sqrt(factor * ((s @ w) ** 2).sum(axis=0))
    t = beta / se
    t_obs, t_star = float(t[0]), t[1:]
    q = np.quantile(np.abs(t_star), 1 - alpha) if n_boot else float("nan")
    return {"t": t_obs, "p": float(np.mean(np.abs(t_star) >= abs(t_obs))) if n_boot else float("nan"),
            "lo": float(beta[0] - q * se[0]), "hi": float(beta[0] + q * se[0]), "t_star": t_star}
