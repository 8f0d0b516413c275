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
from scipy import special as _special
from scipy import stats as _st


def fit(y: np.ndarray, xs: list[np.ndarray], m: np.ndarray | None, intercept: bool,
        out: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Batched masked OLS of ``y`` (n, T) on an optional intercept and the regressors ``xs`` (each (n, T)).

    ``m`` is the (n, T) 0.0/1.0 mask of valid observations (None: every cell is valid); ``y`` and every ``xs[j]``
    must already hold 0 outside it. Returns beta (n, p), inv(X'X) (n, p, p), s2, dof, resid (written into
    ``out`` when given; 0 outside the mask), T and singular. ``p = 0`` is allowed (no estimated parameter:
    residual = y). Singular designs are flagged and given an identity X'X so that the batch still solves; the
    caller drops them. Residuals are ``(y - b_0) - x_1 b_1 - ...``, cell by cell.
    """
    n, t = y.shape
    p = len(xs) + int(intercept)
    t_obs = m.sum(axis=1) if m is not None else np.full(n, float(t))
    resid = out if out is not None else np.empty_like(y, dtype=float)
    if p == 0:
        resid[...] = y
        beta, inv, singular = np.zeros((n, 0)), np.zeros((n, 0, 0)), np.zeros(n, dtype=bool)
    else:
        xtx, xty = _normal_equations(y, xs, m, intercept)
        singular = _singular(xtx)
        xtx[singular] = np.eye(p)
        inv = np.linalg.inv(xtx)
        beta = np.einsum("npq,nq->np", inv, xty)
        if intercept:
            np.subtract(y, beta[:, :1], out=resid)
            if m is not None:
                resid *= m          # back to 0 outside the mask
        else:
            resid[...] = y
        tmp = np.empty_like(resid)
        for j, x in enumerate(xs, start=int(intercept)):
            np.multiply(x, beta[:, j:j + 1], out=tmp)
            resid -= tmp
    dof = t_obs - p
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = np.square(resid).sum(axis=1) / dof
    return {"beta": beta, "inv": inv, "s2": s2, "dof": dof, "resid": resid, "T": t_obs, "singular": singular}


def _normal_equations(y: np.ndarray, xs: list[np.ndarray], m: np.ndarray | None,
                      intercept: bool) -> tuple[np.ndarray, np.ndarray]:
    """Stacked X'X (n, p, p) and X'y (n, p) from masked data (intercept column = the 0/1 mask itself).

    Every entry is one ``einsum`` dot product, as in the reference implementation, so that betas are bit for
    bit those of a plain masked OLS (degenerate fits, e.g. an asset regressed on itself, then come out alike).
    """
    cols = ([m if m is not None else np.ones_like(y)] if intercept else []) + list(xs)
    n, p = y.shape[0], len(cols)
    xtx, xty = np.empty((n, p, p)), np.empty((n, p))
    for i in range(p):
        xty[:, i] = np.einsum("nt,nt->n", cols[i], y)
        for j in range(i, p):
            xtx[:, i, j] = xtx[:, j, i] = np.einsum("nt,nt->n", cols[i], cols[j])
    return xtx, xty


def _singular(xtx: np.ndarray) -> np.ndarray:
    """True where a stack of X'X matrices is (numerically) singular, judged on the scaled determinant."""
    d = np.sqrt(np.clip(np.einsum("npp->np", xtx), 1e-300, None))
    scaled = xtx / d[:, :, None] / d[:, None, :]
    return ~(np.abs(np.linalg.det(scaled)) > 1e-10)


def leverage(x_evt: list[np.ndarray], inv: np.ndarray, intercept: bool) -> np.ndarray:
    """``x*_t'(X'X)^-1 x*_t`` for every event-window row, regressors ``x_evt`` (each (n, L)): (n, L)."""
    n, p = inv.shape[:2]
    out = np.zeros((n, x_evt[0].shape[1] if x_evt else 1))
    cols = ([None] if intercept else []) + list(x_evt)   # None = the intercept's column of ones
    for i in range(p):
        for j in range(p):
            term = inv[:, i, j, None]
            if cols[i] is not None:
                term = cols[i] * term
            if cols[j] is not None:
                term = term * cols[j]
            out += term
    return out


def car_variance(s2: np.ndarray, x_evt: list[np.ndarray], inv: np.ndarray, intercept: bool,
                 windows: np.ndarray) -> np.ndarray:
    """``Var(CAR_i(w)) = s_i^2 (L_w + g'(X'X)^-1 g)`` for windows given as (W, L) 0/1 indicator rows: (n, W).

    ``g`` stacks the window sums of the regressors (``L_w`` for the intercept); ``x_evt`` must be finite.
    """
    lengths = windows.sum(axis=1)
    if inv.shape[1] == 0:
        return s2[:, None] * lengths[None, :]
    sums = [np.broadcast_to(lengths, (s2.size, lengths.size))] if intercept else []
    g = np.stack(sums + [np.einsum("nt,wt->nw", x, windows) for x in x_evt], axis=2)
    q = np.einsum("nwp,npq,nwq->nw", g, inv, g)
    return s2[:, None] * (lengths[None, :] + q)


def uniform_ranks(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Corrado-Zivney uniform ranks ``U_it = K_it / (M_i + 1) - 1/2`` along axis 1 over the masked cells.

    ``K_it`` is the rank (1 = smallest, ties get the average rank) of cell t among the ``M_i`` valid cells of
    row i (``mask`` None: every cell is valid); invalid cells get 0. One argsort per row (the ordinal ranks
    are scattered back through it); average ranks are computed only for the rows that have ties.
    """
    filled = np.where(mask, values, np.inf) if mask is not None else values
    n, width = filled.shape
    flat = np.argsort(filled, axis=1)
    flat += (np.arange(n) * width)[:, None]          # flat positions: one take and one scatter, no 2-D fancy index
    flat = flat.ravel()
    ranks = np.empty(filled.size)
    ranks[flat] = np.tile(np.arange(1.0, width + 1.0), n)
    ranks = ranks.reshape(n, width)
    srt = filled.ravel().take(flat).reshape(n, width)
    tied = srt[:, 1:] == srt[:, :-1]
    if mask is not None:
        tied &= srt[:, 1:] < np.inf      # the masked cells (inf) sort last and do not count as ties
    tied = tied.any(axis=1)
    if tied.any():  # average ranks only where a row has ties (ordinal ranks are equal otherwise)
        ranks[tied] = _st.rankdata(filled[tied], axis=1, method="average")
    m_count = mask.sum(axis=1) if mask is not None else np.full(values.shape[0], values.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        ranks /= (m_count + 1.0)[:, None]
    ranks -= 0.5
    if mask is not None:
        ranks[~mask] = 0.0
    return ranks


def standardize(resid: np.ndarray, m: np.ndarray | None, t_obs: np.ndarray) -> np.ndarray:
    """Per-event z-scores of masked residuals with ddof 0 (so that ``z_i . z_j / T`` is a Pearson correlation).

    ``resid`` must hold 0 outside the 0.0/1.0 mask ``m`` (None: all valid); ``t_obs`` (n,) counts valid cells.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = resid.sum(axis=1) / t_obs
        dev = np.subtract(resid, mu[:, None])
        if m is not None:
            dev *= m
        sd = np.sqrt(np.einsum("nt,nt->n", dev, dev) / t_obs)
        ok = sd > 0
        dev /= np.where(ok, sd, 1.0)[:, None]
    dev[~ok] = 0.0
    return dev


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
    """Two-sided p-value of a t statistic (``scipy.stats.t.sf`` without its argument checks; NaN if dof <= 0)."""
    with np.errstate(invalid="ignore"):
        p = 2.0 * _special.stdtr(dof, -np.abs(stat))
        return np.where(np.asarray(dof) > 0, p, np.nan)[()]


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
        self._cc = np.zeros(cell_cluster.size)
        self._cc_diff = np.zeros(cell_cluster.size + 1, dtype=np.int64)  # run starts +1, run ends -1
        self.self_z = np.zeros(n_clusters)
        self.self_c = np.zeros(n_clusters)
        self.n = np.zeros(n_clusters)

    @property
    def cc(self) -> np.ndarray:
        """Number of observations per cell (events added cell by cell plus those added as runs)."""
        return self._cc + np.cumsum(self._cc_diff)[:-1]

    def add(self, z: np.ndarray, flat: np.ndarray, self_z: np.ndarray, t_obs: np.ndarray,
            cluster: np.ndarray, run: np.ndarray | None = None) -> None:
        """Add events: z-scores ``z`` (n, T, 0 outside the mask), their cell ids ``flat`` (n, T; masked cells hold
        the spare id ``cell_cluster.size``), per-event ``z.z`` and valid counts, and ``cluster`` ids (n,).

        ``run`` (n,) bool marks events whose T cells are all valid and consecutive (``flat[i, 0] ..
        flat[i, 0] + T - 1``): their observation counts go in as a run (O(1) per event) instead of cell by cell.
        """
        size, ncl = self.cell_cluster.size, self.n.size
        self.zc += np.bincount(flat.ravel(), weights=z.ravel(), minlength=size + 1)[:size]
        if run is None or not run.any():
            self._cc += np.bincount(flat.ravel(), minlength=size + 1)[:size]
        else:
            self._cc_diff += np.bincount(flat[run, 0], minlength=size + 1)
            self._cc_diff -= np.bincount(flat[run, -1] + 1, minlength=size + 1)
            if not run.all():
                self._cc += np.bincount(flat[~run].ravel(), minlength=size + 1)[:size]
        self.self_z += np.bincount(cluster, weights=self_z, minlength=ncl)
        self.self_c += np.bincount(cluster, weights=t_obs, minlength=ncl)
        self.n += np.bincount(cluster, minlength=ncl)

    def absorb(self, other: "PairCorr", cell: np.ndarray, cluster: np.ndarray) -> None:
        """Add ``other``'s accumulators: its cell c maps to our cell ``cell[c]``, its cluster k to ``cluster[k]``.

        Valid because the sums are linear (squares are only taken in :meth:`pair_sums`)."""
        size, ncl = self.cell_cluster.size, self.n.size
        self.zc += np.bincount(cell, weights=other.zc, minlength=size)
        self._cc += np.bincount(cell, weights=other.cc, minlength=size)
        self.self_z += np.bincount(cluster, weights=other.self_z, minlength=ncl)
        self.self_c += np.bincount(cluster, weights=other.self_c, minlength=ncl)
        self.n += np.bincount(cluster, weights=other.n, minlength=ncl)

    def pair_sums(self) -> np.ndarray:
        """Per cluster: r-bar times the number of ordered pairs n_c (n_c - 1) (the sum of pair correlations)."""
        ncl = self.n.size
        num = np.bincount(self.cell_cluster, weights=self.zc ** 2, minlength=ncl) - self.self_z
        den = np.bincount(self.cell_cluster, weights=self.cc ** 2, minlength=ncl) - self.self_c
        with np.errstate(invalid="ignore", divide="ignore"):
            r_c = np.where(den > 0, num / den, 0.0)
        return self.n * (self.n - 1) * r_c
