"""Inference for the capex study: CAR-on-surprise regressions that fit ~100 clustered events.

Model (one row per release x asset x window): ``car = a + b * surprise + c * market_ret + FE + e`` with company
fixed effects (and asset-group fixed effects when groups are pooled). Standard errors:

* ``cluster``: cluster-robust (CRV1) by announcement date: every asset reacting to one release shares the date,
  and two companies reporting on the same day share the same crypto/equity moves, so they form one cluster.
  statsmodels' small-sample factor ``G/(G-1) * (N-1)/(N-K)`` and t(G-1) reference distribution.
* ``hac``: Driscoll-Kraay: scores summed per NYSE session of the release, Newey-West (Bartlett) across
  sessions on the dense session grid (sessions without releases contribute zero) with ``lags`` = the window
  length, so releases whose CAR windows overlap are allowed to be correlated.
* wild-cluster bootstrap (Cameron, Gelbach & Miller 2008): restricted (null imposed, b = 0) residuals, Rademacher
  or Webb weights per cluster, bootstrap-t p-value of |t|; the interval is ``b +/- q*(|t*|) * se`` (symmetric
  bootstrap-t using the null-imposed |t*| quantile).
* placebo dates: the same releases moved to random non-release sessions through the same pipeline; the empirical
  distribution of ``b`` and the share of |b_placebo| >= |b|. All draws share ONE event-study call over the
  distinct (asset, placebo session) pairs; the per-draw regressions are solved together as batched normal
  equations (:func:`placebo_study`).
* leave-one-company-out: every fit repeated without each company.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm

from capflow import capex as _cx
from capflow.capex import CapexError

log = logging.getLogger(__name__)

WEIGHTS = ("rademacher", "webb")
COVS = ("cluster", "hac", "hc1")


# ----------------------------------------------------------------------------------------------------------------
# design and covariance
# ----------------------------------------------------------------------------------------------------------------
def design(panel: pd.DataFrame, x: str = "surprise", controls: Sequence[str] = ("market_ret",),
           fixed_effects: Sequence[str] = ("company",)) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Response, design matrix and the kept rows of a panel (rows with any missing value dropped).

    Returns
    -------
    (y, X, rows)
        ``y`` ndarray (n,); ``X`` DataFrame with ``const, x, controls`` then fixed-effect dummies (first level
        dropped, constant columns removed); ``rows`` the kept panel rows (same order).
    """
    need = ["car", x, *controls, *fixed_effects]
    missing = [c for c in need if c not in panel.columns]
    if missing:
        raise CapexError(f"parameter panel: missing column {missing[0]!r} (needs {', '.join(need)})")
    rows = panel.dropna(subset=need).reset_index(drop=True)
    X = pd.concat([pd.Series(1.0, index=rows.index, name="const"), rows[[x, *controls]].astype(float)], axis=1)
    for fe in fixed_effects:
        d = pd.get_dummies(rows[fe].astype(str), prefix=fe, drop_first=True, dtype=float)
        X = pd.concat([X, d.loc[:, d.std() > 0]], axis=1)
    return rows["car"].to_numpy(float), X, rows


def cluster_codes(rows: pd.DataFrame, cluster: str = "announce_date") -> np.ndarray:
    """Integer cluster codes (0..G-1) of a panel's rows."""
    return pd.factorize(rows[cluster])[0]


def cluster_cov(X: np.ndarray, resid: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """CRV1 cluster-robust covariance with statsmodels' factor ``G/(G-1)*(N-1)/(N-K)``.

    ``bread @ (sum_g s_g s_g') @ bread`` with ``s_g = X_g' u_g`` and ``bread = (X'X)^-1``.
    """
    n, k = X.shape
    g = codes.max() + 1
    bread = np.linalg.pinv(X.T @ X)
    scores = np.zeros((g, k))
    np.add.at(scores, codes, X * resid[:, None])
    return g / (g - 1) * (n - 1) / (n - k) * bread @ (scores.T @ scores) @ bread


def driscoll_kraay_cov(X: np.ndarray, resid: np.ndarray, period: np.ndarray, lags: int) -> np.ndarray:
    """Driscoll-Kraay covariance: scores summed per integer ``period`` on the dense grid min..max, Bartlett lags.

    Periods with no rows contribute zero scores, so lags are in real periods (sessions), not in releases.
    Small-sample factor ``T/(T-1)*(N-1)/(N-K)`` with T the number of periods holding rows (equals statsmodels'
    ``hac-groupsum`` with ``use_correction='cluster'`` when every period of the grid holds rows).
    """
    n, k = X.shape
    p = period - period.min()
    h = np.zeros((p.max() + 1, k))
    np.add.at(h, p, X * resid[:, None])
    s = h.T @ h
    for lag in range(1, lags + 1):
        gamma = h[lag:].T @ h[:-lag]
        s += (1 - lag / (lags + 1)) * (gamma + gamma.T)
    t = len(np.unique(p))
    bread = np.linalg.pinv(X.T @ X)
    return t / (t - 1) * (n - 1) / (n - k) * bread @ s @ bread


def _naive_dates(dates: pd.Series) -> pd.DatetimeIndex:
    d = pd.DatetimeIndex(pd.to_datetime(dates))
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


def _check_min(n_clusters: int, min_events: int, what: str) -> None:
    if n_clusters < min_events:
        raise CapexError(f"only {n_clusters} announcement dates in {what} (parameter min_events={min_events}); "
                         "include more companies or INFERRED dates, or use a surprise measure needing less "
                         "history (qoq)")


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
        ``se/p/ci`` keyed ``cluster`` (statsmodels CRV1, t(G-1)), ``hac`` (Driscoll-Kraay, normal) and ``hc1``.
    """
    y, X, rows = design(panel, x, controls, fixed_effects)
    codes = cluster_codes(rows, cluster)
    g = int(codes.max() + 1) if len(codes) else 0
    _check_min(g, min_events, what)
    res = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
    j = list(X.columns).index(x)
    b = float(res.params.iloc[j])
    dk = driscoll_kraay_cov(X.to_numpy(), res.resid.to_numpy(), session_index(rows[cluster]), max(hac_lags, 0))
    hc1 = res.get_robustcov_results(cov_type="HC1")                      # same fit, no second OLS
    se = {"cluster": float(res.bse.iloc[j]), "hac": float(np.sqrt(dk[j, j])), "hc1": float(hc1.bse[j])}
    from scipy import stats

    crit = {"cluster": stats.t.ppf(1 - alpha / 2, g - 1), "hac": stats.norm.ppf(1 - alpha / 2),
            "hc1": stats.norm.ppf(1 - alpha / 2)}
    p = {"cluster": float(res.pvalues.iloc[j]), "hac": float(2 * stats.norm.sf(abs(b / se["hac"]))),
         "hc1": float(2 * stats.norm.sf(abs(b / se["hc1"])))}
    ci = {k: (b - crit[k] * se[k], b + crit[k] * se[k]) for k in se}
    return Fit(b, se, p, ci, len(y), g, list(X.columns), res)


# ----------------------------------------------------------------------------------------------------------------
# wild cluster bootstrap (restricted, CGM 2008)
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


def wild_cluster_bootstrap(y: np.ndarray, X: np.ndarray, codes: np.ndarray, col: int = 1, n_boot: int = 999,
                           weights: str = "rademacher", seed: int = 0, alpha: float = 0.05) -> dict[str, object]:
    """Restricted wild-cluster bootstrap-t test of ``beta[col] = 0`` (Cameron, Gelbach & Miller 2008).

    Vectorised over draws: ``y* = X_r b_r + u_r * w_g`` for all draws at once (n x B), CRV1 t-statistics of
    each draw from one matrix product.

    Returns
    -------
    dict
        ``t`` (observed CRV1 t), ``p`` (share of |t*| >= |t|), ``lo``, ``hi`` (symmetric bootstrap-t interval
        ``b +/- q_{1-alpha}(|t*|) * se``), ``t_star`` (ndarray of the B draws).
    """
    n, k = X.shape
    g = int(codes.max() + 1)
    xtx_inv = np.linalg.pinv(X.T @ X)
    a = X @ xtx_inv[:, col]                                       # beta_j = a' y
    factor = g / (g - 1) * (n - 1) / (n - k)

    def tstats(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        beta = xtx_inv @ (X.T @ Y)
        u = Y - X @ beta
        s = np.zeros((g, Y.shape[1]))
        np.add.at(s, codes, a[:, None] * u)
        se = np.sqrt(factor * (s ** 2).sum(axis=0))
        return beta[col] / se, se

    t_obs, se_obs = tstats(y[:, None])
    xr = np.delete(X, col, axis=1)
    br = np.linalg.lstsq(xr, y, rcond=None)[0]
    fit_r, u_r = xr @ br, y - xr @ br
    w = cluster_weights(g, n_boot, weights, seed)
    t_star, _ = tstats(fit_r[:, None] + u_r[:, None] * w[codes])
    q = np.quantile(np.abs(t_star), 1 - alpha)
    b = float(a @ y)
    return {"t": float(t_obs[0]), "p": float(np.mean(np.abs(t_star) >= abs(t_obs[0]))),
            "lo": b - q * float(se_obs[0]), "hi": b + q * float(se_obs[0]), "t_star": t_star}


# ----------------------------------------------------------------------------------------------------------------
# tables over groups and windows
# ----------------------------------------------------------------------------------------------------------------
def _window_len(label: str) -> int:
    a, b = (int(v) for v in label.strip("[]").split(","))
    return max(b - a, 1)


def _subsets(panel: pd.DataFrame, groups: Sequence[str] | None) -> list[tuple[str, pd.DataFrame, tuple[str, ...]]]:
    """("pooled", all rows, company+group FE) then one subset per group (company FE)."""
    groups = list(groups) if groups is not None else list(pd.unique(panel["group"]))
    out = [("pooled", panel[panel["group"].isin(groups)], ("company", "group"))]
    return out + [(g, panel[panel["group"] == g], ("company",)) for g in groups]


def regression_table(panel: pd.DataFrame, groups: Sequence[str] | None = None, n_boot: int = 999,
                     weights: str = "rademacher", seed: int = 0, alpha: float = 0.05,
                     min_events: int = 10) -> pd.DataFrame:
    """Coefficient of ``surprise`` per (group, window): pooled and per group, clustered, HAC and bootstrap.

    Parameters
    ----------
    panel : DataFrame
        From :func:`capflow.capex.car_panel` plus ``surprise`` and ``announce_date``.
    n_boot, weights, seed
        Wild-cluster bootstrap draws, weight distribution, base seed (each cell gets ``seed + cell number``).

    Returns
    -------
    DataFrame
        One row per (group, window): ``coef``, ``n``, ``n_clusters``, ``se_/p_/lo_/hi_`` for ``cluster``,
        ``hac``, ``hc1`` and ``boot`` (wild-cluster bootstrap p-value and interval), plus ``t_cluster``.
    """
    rows = []
    for w_i, (window, wpanel) in enumerate(panel.groupby("window", sort=False)):
        for g_i, (name, sub, fe) in enumerate(_subsets(wpanel, groups)):
            f = fit_regression(sub, fixed_effects=fe, hac_lags=_window_len(window), alpha=alpha,
                               min_events=min_events, what=f"group {name}, window {window}")
            y, X, kept = design(sub, fixed_effects=fe)
            wb = wild_cluster_bootstrap(y, X.to_numpy(), cluster_codes(kept), col=1, n_boot=n_boot,
                                        weights=weights, seed=seed + 100 * w_i + g_i, alpha=alpha)
            rows.append({"group": name, "window": window, **f.row(), "t_cluster": wb["t"], "p_boot": wb["p"],
                         "lo_boot": wb["lo"], "hi_boot": wb["hi"]})
    return pd.DataFrame(rows)


def leave_one_company_out(panel: pd.DataFrame, groups: Sequence[str] | None = None, alpha: float = 0.05,
                          min_events: int = 5) -> pd.DataFrame:
    """Every (group, window) fit repeated without each company's releases (clustered SEs).

    Returns
    -------
    DataFrame
        ``dropped, group, window, coef, se_cluster, p_cluster, n, n_clusters``; a fit with too few clusters
        left is skipped with a warning.
    """
    rows = []
    for company in sorted(panel["company"].unique()):
        rest = panel[panel["company"] != company]
        for window, wpanel in rest.groupby("window", sort=False):
            for name, sub, fe in _subsets(wpanel, groups):
                try:
                    f = fit_regression(sub, fixed_effects=fe, hac_lags=_window_len(window), alpha=alpha,
                                       min_events=min_events)
                except CapexError as exc:
                    warnings.warn(f"leave-one-out without {company}, {name} {window}: {exc}", UserWarning,
                                  stacklevel=2)
                    continue
                rows.append({"dropped": company, "group": name, "window": window, "coef": f.coef,
                             "se_cluster": f.se["cluster"], "p_cluster": f.p["cluster"], "n": f.n,
                             "n_clusters": f.n_clusters})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------------------------
# placebo dates
# ----------------------------------------------------------------------------------------------------------------
def _placebo_draws(catalog: pd.DataFrame, n_placebo: int, seed: int = 0, exclude: int = 5,
                   calendar: str = "XNYS", avoid: pd.Series | None = None) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Candidate placebo sessions and the seeded pick, shape (n_placebo, len(catalog)), of positions into them.

    Candidates lie between the first and last real release and more than ``exclude`` sessions from every one
    (``avoid``: all release dates, default those of ``catalog``).
    """
    avoid = catalog["announce_date"] if avoid is None else avoid
    first = min(_naive_dates(avoid).min(), _naive_dates(catalog["announce_date"]).min())
    opens = _cx.session_opens(calendar, first)
    real = session_index(avoid, calendar, opens)
    pos = np.arange(real.min(), real.max() + 1)
    near = (np.abs(pos[:, None] - real[None, :]) <= exclude).any(axis=1)
    cand = opens.index[pos[~near]]
    if len(cand) == 0:
        raise CapexError(f"parameter exclude={exclude}: no non-release sessions left for placebo dates")
    rng = np.random.default_rng(seed)
    return cand, rng.integers(0, len(cand), size=(n_placebo, len(catalog)))


def placebo_catalog(catalog: pd.DataFrame, n_placebo: int, seed: int = 0, exclude: int = 5,
                    calendar: str = "XNYS", avoid: pd.Series | None = None) -> pd.DataFrame:
    """``n_placebo`` copies of the catalog with each release moved to a random non-release session.

    Candidate sessions lie between the first and last release and more than ``exclude`` sessions from every
    real release (``avoid``: all release dates, default those of ``catalog``). Timing, company and surprise
    stay with the release; only the date is random (seeded).

    Returns
    -------
    DataFrame
        Catalog columns plus ``draw`` (0..n-1) and ``orig_announcement_id``; ``announcement_id`` is
        ``P<draw>:<original id>`` (distinct across draws).
    """
    cand, pick = _placebo_draws(catalog, n_placebo, seed, exclude, calendar, avoid)
    out = catalog.iloc[np.tile(np.arange(len(catalog)), n_placebo)].reset_index(drop=True)
    out["draw"] = np.repeat(np.arange(n_placebo), len(catalog))
    out["orig_announcement_id"] = out["announcement_id"]
    out["announce_date"] = cand[pick.ravel()]
    out["announcement_id"] = "P" + out["draw"].astype(str) + ":" + out["orig_announcement_id"]
    return out


def _batched_coef(static: np.ndarray, y: np.ndarray, mr: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Coefficient of column 1 of ``[static, market_ret]`` per draw (row of ``y``); NaN cells masked out.

    ``static`` (r, k) is shared by all draws; ``y``, ``mr`` are (draws, r). Normal equations for all draws
    from matrix products: ``X_d'X_d = sum_r m_dr x_r x_r'`` is ``mask @ (x_r outer x_r)``, solved per draw
    with the pseudo-inverse (as in OLS through ``pinv``).
    """
    mask = np.isfinite(y) & np.isfinite(mr)
    m = mask.astype(float)
    y0, mr0 = np.where(mask, y, 0.0), np.where(mask, mr, 0.0)
    k = static.shape[1]
    outer = (static[:, :, None] * static[:, None, :]).reshape(len(static), k * k)
    out = np.empty(len(y))
    for s in range(0, len(y), chunk):
        sl = slice(s, s + chunk)
        xtx = np.empty((len(m[sl]), k + 1, k + 1))
        xtx[:, :k, :k] = (m[sl] @ outer).reshape(-1, k, k)
        xtx[:, :k, k] = xtx[:, k, :k] = mr0[sl] @ static
        xtx[:, k, k] = (mr0[sl] ** 2).sum(axis=1)
        xty = np.concatenate([y0[sl] @ static, (mr0[sl] * y0[sl]).sum(axis=1)[:, None]], axis=1)
        out[sl] = np.einsum("dkl,dl->dk", np.linalg.pinv(xtx), xty)[:, 1]
    return out


def _static_design(meta: pd.DataFrame, fe: Sequence[str]) -> np.ndarray:
    """``[1, surprise, fixed-effect dummies (first level dropped)]`` of the placebo regression rows."""
    static = [np.ones(len(meta)), meta["surprise"].to_numpy(float)]
    for f in fe:
        static.append(pd.get_dummies(meta[f].astype(str), drop_first=True, dtype=float).to_numpy())
    return np.column_stack(static)


def _cell_coef(meta: pd.DataFrame, y: np.ndarray, mr: np.ndarray, fe: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Placebo coefficients of one (group, window) cell: (draws kept, coef); ``y``/``mr`` (draws, rows of meta).

    Rows (release x asset) never observed and draws with no observation are left out, as in a per-draw fit.
    """
    seen = np.isfinite(y)
    cols, draws = seen.any(axis=0), np.flatnonzero(seen.any(axis=1))
    meta = meta[cols]
    coef = _batched_coef(_static_design(meta, fe), y[np.ix_(draws, cols)], mr[np.ix_(draws, cols)])
    return draws, coef


def placebo_coefficients(ppanel: pd.DataFrame, groups: Sequence[str] | None = None) -> pd.DataFrame:
    """Coefficient of ``surprise`` for every placebo draw and (group, window), batched over draws.

    The straightforward path over a long placebo panel (:func:`placebo_panel`); :func:`run_study` uses
    :func:`placebo_study`, which gives the same coefficients without building that panel.

    Parameters
    ----------
    ppanel : DataFrame
        Placebo panel: ``draw, orig_announcement_id, asset, company, group, window, car, market_ret, surprise``.

    Returns
    -------
    DataFrame
        ``draw, group, window, coef`` (same specification as :func:`regression_table`).
    """
    out = []
    for window, wpanel in ppanel.groupby("window", sort=False):
        for name, sub, fe in _subsets(wpanel, groups):
            sub = sub.dropna(subset=["surprise"])
            key = sub["orig_announcement_id"] + "|" + sub["asset"] + "|" + sub["group"]
            y = sub.assign(key=key).pivot_table(index="draw", columns="key", values="car", aggfunc="first",
                                                dropna=False)
            mr = sub.assign(key=key).pivot_table(index="draw", columns="key", values="market_ret",
                                                 aggfunc="first", dropna=False).reindex_like(y)
            meta = sub.assign(key=key).drop_duplicates("key").set_index("key").loc[y.columns]
            draws, coef = _cell_coef(meta, y.to_numpy(float), mr.to_numpy(float), fe)
            out.append(pd.DataFrame({"draw": y.index[draws], "group": name, "window": window, "coef": coef}))
    return pd.concat(out, ignore_index=True)


def placebo_summary(placebo: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Per (group, window): the real coefficient, the placebo mean/sd/2.5%/97.5% and the two-sided
    empirical p-value ``(1 + #{|b_placebo| >= |b|}) / (1 + n_draws)``."""
    real = table.set_index(["group", "window"])["coef"]
    g = placebo.dropna(subset=["coef"]).groupby(["group", "window"], sort=False)["coef"]
    s = g.agg(placebo_mean="mean", placebo_sd="std", placebo_lo=lambda v: v.quantile(0.025),
              placebo_hi=lambda v: v.quantile(0.975), n_draws="size")
    s["coef"] = real.reindex(s.index)
    exceed = placebo.merge(real.rename("real").reset_index(), on=["group", "window"])
    exceed = (exceed["coef"].abs() >= exceed["real"].abs()).groupby([exceed["group"], exceed["window"]]).sum()
    s["p_placebo"] = (1 + exceed.reindex(s.index).fillna(0)) / (1 + s["n_draws"])
    return s.reset_index()


# ----------------------------------------------------------------------------------------------------------------
# the whole study
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class CapexStudy:
    """Everything the capex notebook shows (tidy frames) plus the parameters used."""

    catalog: pd.DataFrame
    surprises: pd.DataFrame
    panel: pd.DataFrame
    event_result: object
    coefficients: pd.DataFrame
    placebo: pd.DataFrame
    placebo_summary: pd.DataFrame
    leave_one_out: pd.DataFrame
    timing: pd.DataFrame
    params: dict
    provenance: pd.DataFrame = field(default_factory=pd.DataFrame)


def _attach(panel: pd.DataFrame, surprise: pd.Series, key: str = "announcement_id") -> pd.DataFrame:
    return panel.merge(surprise.rename("surprise"), left_on=key, right_index=True, how="left")


def placebo_panel(catalog: pd.DataFrame, surprise: pd.Series, returns: pd.DataFrame, groups: Sequence[str],
                  n_placebo: int, seed: int, avoid: pd.Series | None = None, **car_kwargs) -> pd.DataFrame:
    """The long placebo panel (one row per draw, release, asset and window), with ONE event-study call.

    The straightforward path, kept for inspection and as the reference of :func:`placebo_study` (which
    :func:`run_study` uses: same draws and coefficients without this panel, ~3M rows for 999 draws of the
    snapshot study). Identical (asset, timestamp) pairs across draws are computed once and mapped back.

    Returns
    -------
    DataFrame
        ``event_id, announcement_id, company, asset, group, timestamp, announce_date, timing, draw,
        orig_announcement_id, window, car, market_ret, surprise``.
    """
    pcat = placebo_catalog(catalog, n_placebo, seed, avoid=avoid)
    pev = _cx.study_events(pcat, groups).merge(pcat[["announcement_id", "draw", "orig_announcement_id"]],
                                               on="announcement_id")
    uniq = pev.drop_duplicates(["asset", "timestamp"])[["asset", "timestamp", "group", "company"]].copy()
    uniq["event_id"] = "U" + pd.Series(np.arange(len(uniq)), index=uniq.index).astype(str)
    uniq["announcement_id"], uniq["announce_date"], uniq["timing"] = uniq["event_id"], pd.NaT, "after close"
    car, _ = _cx.car_panel(uniq, returns, **car_kwargs)
    keyed = car.merge(uniq[["event_id", "timestamp"]], on="event_id")[
        ["asset", "timestamp", "window", "car", "market_ret"]]
    out = pev.merge(keyed, on=["asset", "timestamp"], how="inner")
    return _attach(out, surprise, "orig_announcement_id")


def _unique_releases(catalog: pd.DataFrame, cand: pd.DatetimeIndex, pick: np.ndarray
                     ) -> tuple[pd.DataFrame, np.ndarray]:
    """Distinct placebo releases (session, ticker, timing) over all draws and each draw's index into them.

    Returns
    -------
    (DataFrame, ndarray)
        Catalog-like frame ``announcement_id`` (``U<i>``), ``ticker, announce_date, timing``; and ``inv``
        shaped like ``pick``: the distinct release of (draw, real release).
    """
    q, levels = pd.factorize(catalog["ticker"].astype(str) + "\x00" + catalog["timing"].astype(str))
    first = np.unique(q, return_index=True)[1]                    # a release of each (ticker, timing) profile
    code, inv = np.unique(pick * len(levels) + q[None, :], return_inverse=True)
    src = first[code % len(levels)]
    ucat = pd.DataFrame({"announcement_id": [f"U{i}" for i in range(len(code))],
                         "ticker": catalog["ticker"].to_numpy()[src], "announce_date": cand[code // len(levels)],
                         "timing": catalog["timing"].to_numpy()[src]})
    return ucat, inv.reshape(pick.shape)


def _engine_cars(ucat: pd.DataFrame, groups: Sequence[str], returns: pd.DataFrame, assets: pd.Index,
                 car_kwargs: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CAR and market return of every distinct (asset, timestamp) of the placebo releases, ONE engine call.

    Returns
    -------
    (lookup, car, market_ret)
        ``lookup`` (distinct releases, assets): engine-event index or -1; ``car``/``market_ret`` (engine events
        + 1, windows) with a last all-NaN row (so index -1 and events the engine dropped read NaN).
    """
    uev = _cx.study_events(ucat, groups)
    v, pairs = pd.MultiIndex.from_arrays([uev["asset"], uev["timestamp"]]).factorize()
    eng = pd.DataFrame({"event_id": np.arange(len(pairs)), "asset": pairs.get_level_values(0),
                        "timestamp": pairs.get_level_values(1), "group": "placebo"})
    lookup = np.full((len(ucat), len(assets)), -1)
    lookup[pd.Index(ucat["announcement_id"]).get_indexer(uev["announcement_id"]),
           assets.get_indexer(uev["asset"])] = v
    panel, _ = _cx.car_panel(eng, returns, n_boot=0, **car_kwargs)
    labels = pd.Index(_cx.windows_label(car_kwargs.get("windows", _cx.DEFAULT_WINDOWS)))
    car, mr = (np.full((len(pairs) + 1, len(labels)), np.nan) for _ in range(2))
    at = (panel["event_id"].to_numpy(int), labels.get_indexer(panel["window"]))
    car[at], mr[at] = panel["car"].to_numpy(float), panel["market_ret"].to_numpy(float)
    return lookup, car, mr


def placebo_study(catalog: pd.DataFrame, surprise: pd.Series, returns: pd.DataFrame, groups: Sequence[str],
                  n_placebo: int, seed: int, avoid: pd.Series | None = None, exclude: int = 5,
                  calendar: str = "XNYS", **car_kwargs) -> pd.DataFrame:
    """Placebo coefficients of every draw and (group, window), from ONE event-study call and matrix algebra.

    Same draws (:func:`placebo_catalog`) and coefficients as :func:`placebo_coefficients` on
    :func:`placebo_panel`, without the long panel: the CARs of the distinct (asset, timestamp) pairs of all
    draws are computed once (no bootstrap), then gathered into (draw x release-asset) arrays by integer
    indexing, and each cell's regressions are solved for all draws at once.

    Parameters
    ----------
    catalog : DataFrame
        Releases with a surprise (``announcement_id, ticker, announce_date, timing``).
    surprise : Series
        Surprise indexed by ``announcement_id``.
    car_kwargs
        ``windows, market, model`` (and other :func:`capflow.capex.car_panel` options except ``n_boot``).

    Returns
    -------
    DataFrame
        ``draw, group, window, coef``.
    """
    cand, pick = _placebo_draws(catalog, n_placebo, seed, exclude, calendar, avoid)
    ucat, inv = _unique_releases(catalog, cand, pick)
    base = _cx.study_events(catalog, groups)[["announcement_id", "company", "asset", "group"]]
    base = base.assign(surprise=surprise.reindex(base["announcement_id"]).to_numpy(float)).dropna(
        subset=["surprise"])
    base = base.iloc[np.argsort((base["announcement_id"] + "|" + base["asset"] + "|" + base["group"]).to_numpy(),
                                kind="stable")].reset_index(drop=True)
    assets = pd.Index(pd.unique(base["asset"]))
    lookup, car, mr = _engine_cars(ucat, groups, returns, assets, car_kwargs)
    rel = pd.Index(catalog["announcement_id"]).get_indexer(base["announcement_id"])
    idx = lookup[inv[:, rel], assets.get_indexer(base["asset"])[None, :]]      # (draws, rows of base)
    labels = _cx.windows_label(car_kwargs.get("windows", _cx.DEFAULT_WINDOWS))
    out = []
    for w, window in enumerate(labels):
        for name, sub, fe in _subsets(base, groups):
            cols = sub.index.to_numpy()
            draws, coef = _cell_coef(sub, car[idx[:, cols], w], mr[idx[:, cols], w], fe)
            out.append(pd.DataFrame({"draw": draws, "group": name, "window": window, "coef": coef}))
    return pd.concat(out, ignore_index=True)


def _provenance(returns: pd.DataFrame) -> pd.DataFrame:
    from capflow.data import provenance_table

    return provenance_table(returns) if returns.attrs.get("provenance") else pd.DataFrame()


def run_study(catalog: pd.DataFrame, measure: str = "yoy", groups: Sequence[str] = _cx.DEFAULT_GROUPS,
              windows: Sequence[tuple[int, int]] = _cx.DEFAULT_WINDOWS, market: str = "QQQ",
              model: str = "constant_mean", n_boot: int = 199, n_placebo: int = 99, weights: str = "rademacher",
              seed: int = 0, min_events: int = 15, alpha: float = 0.05, returns: pd.DataFrame | None = None
              ) -> CapexStudy:
    """Catalog -> surprises -> events -> ONE event study -> regressions, bootstrap, placebo, leave-one-out.

    Parameters
    ----------
    catalog : DataFrame
        From :func:`capflow.capex.load_announcements`.
    measure : str
        Surprise measure, one of :data:`capflow.capex.MEASURES`.
    groups : sequence of str
        Asset groups (registry tags) plus ``own`` (the reporting company).
    windows : sequence of (int, int)
        CAR windows in trading periods of each asset.
    market : str
        Market proxy (control ``market_ret``).
    n_boot, n_placebo, weights, seed
        Wild-cluster-bootstrap draws, placebo draws, bootstrap weights, seed of all randomness.
    min_events : int
        Fewer announcement dates with a surprise and CARs -> :class:`CapexError`.
    returns : DataFrame, optional
        Simple returns to use instead of loading them (tests pass synthetic ones).
    """
    surprise = _cx.capex_surprise(catalog, measure).set_axis(catalog["announcement_id"])
    usable = catalog[surprise.notna().to_numpy()]
    _check_min(usable["announce_date"].nunique(), min_events, f"the catalog with a {measure} surprise")
    events = _cx.study_events(catalog, groups)
    if returns is None:
        start = catalog["announce_date"].min() - pd.Timedelta(days=420)
        end = catalog["announce_date"].max() + pd.Timedelta(days=30)
        returns = _cx.study_returns([*events["asset"].unique(), market], start, end)
    kw = dict(windows=windows, market=market, model=model)
    panel, res = _cx.car_panel(events, returns, n_boot=n_boot, seed=seed, **kw)
    panel = _attach(panel, surprise)
    _check_min(panel.dropna(subset=["surprise", "car"])["announce_date"].nunique(), min_events,
               f"the CAR panel with a {measure} surprise")
    table = regression_table(panel, groups, n_boot, weights, seed, alpha, min_events=min(min_events, 10))
    placebo = pd.DataFrame(columns=["draw", "group", "window", "coef"])
    if n_placebo:
        placebo = placebo_study(usable, surprise, returns, groups, n_placebo, seed + 1,
                                avoid=catalog["announce_date"], **kw)
    loo = leave_one_company_out(panel, groups, alpha)
    params = {"measure": measure, "groups": list(groups), "windows": [list(w) for w in windows], "market": market,
              "model": model, "n_boot": n_boot, "n_placebo": n_placebo, "weights": weights, "seed": seed,
              "min_events": min_events, "alpha": alpha}
    return CapexStudy(catalog, _cx.surprise_table(catalog), panel, res, table, placebo,
                      placebo_summary(placebo, table) if len(placebo) else pd.DataFrame(), loo,
                      _cx.timing_rules(), params, _provenance(returns))
