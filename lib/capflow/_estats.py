"""Numerical kernels of :mod:`capflow.eventstudy` (private).

Every function works on stacked per-event arrays: axis 0 is the event, axis 1 the relative period (or the
estimation observation), so one call handles all events at once. Missing cells are carried by boolean masks;
masked cells hold 0 in the data arrays so that sums ignore them.

Formulas (``n`` events, ``T_i`` valid estimation observations of event ``i``, ``p`` estimated parameters):

* OLS per event on the masked estimation window: ``beta_i = (X_i'X_i)^-1 X_i'y_i``,
  ``s_i^2 = e_i'e_i / (T_i - p)``; with ``p = 0`` (market-adjusted) ``s_i^2 = e_i'e_i / T_i``.
* Prediction-error variance (MacKinlay 1997, eq. 7 and 12): ``V_i = s_i^2 (I + X*_i (X_i'X_i)^-1 X*_i')``, so
  ``Var(AR_it) = s_i^2 (1 + x*_t'(X'X)^-1 x*_t)`` (market model: ``s^2 (1 + 1/T + (Rm_t - mean)^2 / Sxx)``) and
  ``Var(CAR_i(w)) = gamma'V_i gamma = s_i^2 (L + g'(X'X)^-1 g)`` with ``g = X*'gamma`` (the window sums of the
  event-window regressors).
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st


def fit(y: np.ndarray, x: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Batched masked OLS of ``y`` (n, T) on ``x`` (n, T, p); returns beta, inv(X'X), s2, dof, resid, T, singular.

    ``p = 0`` is allowed (no estimated parameter: residual = y). Singular designs are flagged and given an
    identity X'X so that the batch still solves; the caller drops them.
    """
    n, _, p = x.shape
    m = mask.astype(float)
    ym = np.where(mask, y, 0.0)
    t_obs = m.sum(axis=1)
    if p == 0:
        beta = np.zeros((n, 0))
        inv = np.zeros((n, 0, 0))
        singular = np.zeros(n, dtype=bool)
        resid = ym
    else:
        xm = x * m[:, :, None]
        xtx = np.empty((n, p, p))
        xty = np.empty((n, p))
        for i in range(p):
            xty[:, i] = np.einsum("nt,nt->n", xm[:, :, i], ym)
            for j in range(i, p):
                xtx[:, i, j] = xtx[:, j, i] = np.einsum("nt,nt->n", xm[:, :, i], xm[:, :, j])
        singular = _singular(xtx)
        xtx[singular] = np.eye(p)
        inv = np.linalg.inv(xtx)
        beta = np.einsum("npq,nq->np", inv, xty)
        resid = ym.copy()
        for i in range(p):
            resid -= xm[:, :, i] * beta[:, i:i + 1]
    dof = t_obs - p
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = (resid * resid).sum(axis=1) / dof
    return {"beta": beta, "inv": inv, "s2": s2, "dof": dof, "resid": resid, "T": t_obs, "singular": singular}


def _singular(xtx: np.ndarray) -> np.ndarray:
    """True where a stack of X'X matrices is (numerically) singular, judged on the scaled determinant."""
    d = np.sqrt(np.clip(np.einsum("npp->np", xtx), 1e-300, None))
    scaled = xtx / d[:, :, None] / d[:, None, :]
    return ~(np.abs(np.linalg.det(scaled)) > 1e-10)


def leverage(x_evt: np.ndarray, inv: np.ndarray) -> np.ndarray:
    """``x*_t'(X'X)^-1 x*_t`` for every event-window row: (n, L)."""
    if inv.shape[1] == 0:
        return np.zeros(x_evt.shape[:2])
    p = inv.shape[1]
    out = np.zeros(x_evt.shape[:2])
    for i in range(p):
        for j in range(p):
            out += x_evt[:, :, i] * inv[:, i, j, None] * x_evt[:, :, j]
    return out


def car_variance(s2: np.ndarray, x_evt: np.ndarray, inv: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """``Var(CAR_i(w)) = s_i^2 (L_w + g'(X'X)^-1 g)`` for windows given as (W, L) 0/1 indicator rows: (n, W)."""
    lengths = windows.sum(axis=1)
    if inv.shape[1] == 0:
        return s2[:, None] * lengths[None, :]
    g = np.einsum("wt,ntp->nwp", windows, x_evt)
    q = np.einsum("nwp,npq,nwq->nw", g, inv, g)
    return s2[:, None] * (lengths[None, :] + q)


def uniform_ranks(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Corrado-Zivney uniform ranks ``U_it = K_it / (M_i + 1) - 1/2`` along axis 1 over the masked cells.

    ``K_it`` is the rank (1 = smallest, ties get the average rank) of cell t among the ``M_i`` valid cells of
    row i; invalid cells get 0.
    """
    filled = np.where(mask, values, np.inf)
    order = np.argsort(filled, axis=1)
    ranks = np.empty(filled.shape)
    np.put_along_axis(ranks, order, np.arange(1.0, filled.shape[1] + 1.0)[None, :], axis=1)
    srt = np.take_along_axis(filled, order, axis=1)
    with np.errstate(invalid="ignore"):  # inf - inf among the masked cells
        tied = ((np.diff(srt, axis=1) == 0) & np.isfinite(srt[:, 1:])).any(axis=1)
    if tied.any():  # average ranks only where a row has ties (ordinal ranks are equal otherwise)
        ranks[tied] = _st.rankdata(filled[tied], axis=1, method="average")
    m = mask.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = ranks / (m + 1.0) - 0.5
    return np.where(mask, u, 0.0)


def standardize(resid: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-event z-scores of masked residuals with ddof 0 (so that ``z_i . z_j / T`` is a Pearson correlation)."""
    t = mask.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(mask, resid, 0.0).sum(axis=1, keepdims=True) / t
        dev = np.where(mask, resid - mu, 0.0)
        sd = np.sqrt((dev * dev).sum(axis=1, keepdims=True) / t)
        z = np.where(sd > 0, dev / sd, 0.0)
    return z


def block_bootstrap_sums(series: np.ndarray, length: int, n_boot: int, block: int,
                         rng: np.random.Generator) -> np.ndarray:
    """Moving-block bootstrap of the sum of ``length`` consecutive values of a demeaned series: (n_boot,)."""
    x = series[np.isfinite(series)]
    if x.size < block or n_boot <= 0:
        return np.full(max(n_boot, 0), np.nan)
    x = x - x.mean()
    n_blocks = -(-length // block)
    starts = rng.integers(0, x.size - block + 1, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_boot, -1)[:, :length]
    return x[idx].sum(axis=1)


def two_sided_t(stat: np.ndarray, dof: np.ndarray | float) -> np.ndarray:
    """Two-sided p-value of a t statistic."""
    return 2.0 * _st.t.sf(np.abs(stat), dof)


def two_sided_norm(stat: np.ndarray) -> np.ndarray:
    """Two-sided p-value of a standard normal statistic."""
    return 2.0 * _st.norm.sf(np.abs(stat))


class PairCorr:
    """Accumulates the mean cross-correlation of standardized residuals within clusters of events.

    Observations are keyed by a dense ``cell`` id = (cluster, calendar row). For events i != j in one cluster,
    ``sum_{i!=j} z_i.z_j = ||sum_i z_i||^2 - sum_i ||z_i||^2`` cell by cell and the common-observation count is
    ``||sum_i m_i||^2 - sum_i ||m_i||^2``: O(n T) instead of O(n^2 T). The cluster's r-bar is their ratio
    (pooled over pairs; exactly the mean pairwise Pearson correlation when the events share their estimation
    rows, as in a cascade on one calendar).
    """

    def __init__(self, cell_cluster: np.ndarray, n_clusters: int) -> None:
        self.cell_cluster = cell_cluster
        self.zc = np.zeros(cell_cluster.size)
        self.cc = np.zeros(cell_cluster.size)
        self.self_z = np.zeros(n_clusters)
        self.self_c = np.zeros(n_clusters)
        self.n = np.zeros(n_clusters)

    def add(self, z: np.ndarray, mask: np.ndarray, cell: np.ndarray, cluster: np.ndarray) -> None:
        """Add events (rows of ``z``/``mask``/``cell`` (n, T), their ``cluster`` ids (n,))."""
        size, ncl = self.cell_cluster.size, self.n.size
        flat = np.where(mask, cell, size).ravel()  # masked cells go to a spare slot, dropped below
        self.zc += np.bincount(flat, weights=np.where(mask, z, 0.0).ravel(), minlength=size + 1)[:size]
        self.cc += np.bincount(flat, minlength=size + 1)[:size]
        self.self_z += np.bincount(cluster, weights=(z * z * mask).sum(axis=1), minlength=ncl)
        self.self_c += np.bincount(cluster, weights=mask.sum(axis=1), minlength=ncl)
        self.n += np.bincount(cluster, minlength=ncl)

    def pair_sums(self) -> np.ndarray:
        """Per cluster: r-bar times the number of ordered pairs n_c (n_c - 1) (the sum of pair correlations)."""
        ncl = self.n.size
        num = np.bincount(self.cell_cluster, weights=self.zc ** 2, minlength=ncl) - self.self_z
        den = np.bincount(self.cell_cluster, weights=self.cc ** 2, minlength=ncl) - self.self_c
        with np.errstate(invalid="ignore", divide="ignore"):
            r_c = np.where(den > 0, num / den, 0.0)
        return self.n * (self.n - 1) * r_c
