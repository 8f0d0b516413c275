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
* Ranks along each row (:func:`rank_stats` per cell, :func:`rank_sums` as group sums): average ranks for ties,
  Corrado-Zivney uniform ranks ``K / (M + 1) - 1/2``, signs about the row median, ranks of the estimation cells
  among themselves (GRANK); one argsort per row.
* Cross-sectional kernels: Wilcoxon signed-rank z (:func:`wilcoxon_z`), Johnson's skewness-adjusted t
  (:func:`skew_adjusted_t`), two-sided p-values, the moving-block bootstrap, the pooled pairwise correlation
  of residuals (:class:`PairCorr`).
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
        if p == 2:
            singular, inv = _inverse_2x2(xtx)
        else:
            singular = _singular(xtx)
            xtx[singular] = np.eye(p)
            inv = np.linalg.inv(xtx)
        beta = np.einsum("npq,nq->np", inv, xty)
        residuals(y, xs, m, beta, intercept, resid)
    dof = t_obs - p
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = np.einsum("nt,nt->n", resid, resid) / dof
    return {"beta": beta, "inv": inv, "s2": s2, "dof": dof, "resid": resid, "T": t_obs, "singular": singular}


def residuals(y: np.ndarray, xs: list[np.ndarray], m: np.ndarray | None, beta: np.ndarray, intercept: bool,
              out: np.ndarray) -> np.ndarray:
    """``(y - b_0) - x_1 b_1 - ...`` cell by cell into ``out`` (0 outside the mask ``m``; inputs as in :func:`fit`).

    The one residual formula of the engine: refits from stored coefficients give the same bits."""
    if intercept:
        np.subtract(y, beta[:, :1], out=out)
        if m is not None:
            out *= m          # back to 0 outside the mask
    else:
        out[...] = y
    tmp = np.empty_like(out)
    for j, x in enumerate(xs, start=int(intercept)):
        np.multiply(x, beta[:, j:j + 1], out=tmp)
        out -= tmp
    return out


def _normal_equations(y: np.ndarray, xs: list[np.ndarray], m: np.ndarray | None,
                      intercept: bool) -> tuple[np.ndarray, np.ndarray]:
    """Stacked X'X (n, p, p) and X'y (n, p) from masked data (y and x already 0 outside the mask).

    Every entry is one ``einsum`` reduction per row: dot products for the regressors, plain row sums for the
    intercept's column (the 0/1 mask, which the masked data need not be multiplied by).
    """
    n, k = y.shape[0], len(xs)
    p = k + int(intercept)
    xtx, xty = np.empty((n, p, p)), np.empty((n, p))
    if intercept:
        xtx[:, 0, 0] = m.sum(axis=1) if m is not None else y.shape[1]
        xty[:, 0] = np.einsum("nt->n", y)
        for j, x in enumerate(xs, start=1):
            xtx[:, 0, j] = xtx[:, j, 0] = np.einsum("nt->n", x)
    for i, xi in enumerate(xs, start=int(intercept)):
        xty[:, i] = np.einsum("nt,nt->n", xi, y)
        for j, xj in enumerate(xs[i - int(intercept):], start=i):
            xtx[:, i, j] = xtx[:, j, i] = np.einsum("nt,nt->n", xi, xj)
    return xtx, xty


def _inverse_2x2(xtx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Singular flags and inverses of a stack of symmetric 2x2 X'X (the market model), in closed form: the
    same test as :func:`_singular` (|det| of the unit-diagonal scaling <= 1e-10, i.e. |1 - b^2 / (a d)|) and
    [[d, -b], [-b, a]] / (a d - b^2); singular ones get the identity."""
    a, b, d = xtx[:, 0, 0], xtx[:, 0, 1], xtx[:, 1, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = 1.0 - b * b / (np.clip(a, 1e-300, None) * np.clip(d, 1e-300, None))
        singular = ~(np.abs(scaled) > 1e-10)
        det = np.where(singular, 1.0, a * d - b * b)
    inv = np.empty_like(xtx)
    inv[:, 0, 0] = np.where(singular, 1.0, d / det)
    inv[:, 1, 1] = np.where(singular, 1.0, a / det)
    inv[:, 0, 1] = inv[:, 1, 0] = np.where(singular, 0.0, -b / det)
    return singular, inv


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
    g = ([np.broadcast_to(lengths, (s2.size, lengths.size))] if intercept else []) + \
        [np.einsum("nt,wt->nw", x, windows) for x in x_evt]
    q = np.zeros((s2.size, lengths.size))
    for i, gi in enumerate(g):              # g'(X'X)^-1 g term by term: p is small, (n, W) arrays
        q += gi * gi * inv[:, i, i, None]
        for j in range(i + 1, len(g)):
            q += 2.0 * gi * g[j] * inv[:, i, j, None]
    return s2[:, None] * (lengths[None, :] + q)


def uniform_ranks(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Corrado-Zivney uniform ranks ``U_it = K_it / (M_i + 1) - 1/2`` along axis 1 over the masked cells.

    ``K_it`` is the rank (1 = smallest, ties get the average rank) of cell t among the ``M_i`` valid cells of
    row i (``mask`` None: every cell is valid); invalid cells get 0. See :func:`rank_stats`.
    """
    return rank_stats(values, mask)["U"]


def rank_stats(values: np.ndarray, mask: np.ndarray | None, n_est: int = 0, est_rank: bool = False,
               median: bool = False) -> dict[str, np.ndarray]:
    """Row-wise rank statistics from ONE argsort per row: uniform ranks ``U`` (see :func:`uniform_ranks`),
    optionally the ranks of the first ``n_est`` cells among themselves (``est_rank``: average ranks, 0 outside
    the mask) and the median of each row's valid cells (``median``, as ``np.median``).

    The ordinal ranks are scattered back through the sort order; average ranks are computed only for the rows
    that have ties. The ranks among the first ``n_est`` cells are the sorted positions minus the number of
    later cells (``>= n_est``) sorted before them (a cumulative count along the sort order).
    """
    filled = np.where(mask, values, np.inf) if mask is not None else values
    n, width = filled.shape
    order = np.argsort(filled, axis=1)
    flat = order + (np.arange(n) * width)[:, None]   # flat positions: one take and one scatter, no 2-D fancy index
    flat = flat.ravel()
    ranks = np.empty(filled.size)
    ranks[flat] = np.tile(np.arange(1.0, width + 1.0), n)
    ranks = ranks.reshape(n, width)
    srt = filled.ravel().take(flat).reshape(n, width)
    tied = srt[:, 1:] == srt[:, :-1]
    if mask is not None:
        tied &= srt[:, 1:] < np.inf      # the masked cells (inf) sort last and do not count as ties
    tied = tied.any(axis=1)
    m_count = mask.sum(axis=1) if mask is not None else np.full(n, width)
    out = {}
    if est_rank:
        out["est_rank"] = _est_ranks(filled, order, flat, n_est, tied, mask)
    if median:
        r = np.arange(n)
        out["median"] = 0.5 * (srt[r, (m_count - 1) // 2] + srt[r, m_count // 2])
    if tied.any():  # average ranks only where a row has ties (ordinal ranks are equal otherwise)
        ranks[tied] = _st.rankdata(filled[tied], axis=1, method="average")
    with np.errstate(invalid="ignore", divide="ignore"):
        ranks /= (m_count + 1.0)[:, None]
    ranks -= 0.5
    if mask is not None:
        ranks[~mask] = 0.0
    out["U"] = ranks
    return out


def rank_sums(values: np.ndarray, mask: np.ndarray | None, n_est: int, seg: np.ndarray, n_seg: int,
              t_obs: np.ndarray, u: bool = True, g: bool = False, a: bool = False) -> dict[str, np.ndarray]:
    """Sums over the rows of each segment (``seg`` (n,) in 0 .. n_seg - 1) of the uniform ranks ``u`` (width),
    the signs about each row's median ``g`` (width) and the first ``n_est`` cells' ranks among themselves
    divided by (T_i + 2) ``a`` (n_est): the group sums of the Corrado, Corrado-Zivney and GRANK statistics.

    One argsort per row. A row whose cells are all valid and distinct (the common case) adds the same values by
    sorted position whatever its data (rank k, sign of k against the middle position), so all such rows add
    their position patterns through one ``bincount`` over their sort order, with no scatter of per-cell
    arrays; other rows (masked or tied) go through :func:`rank_stats`.
    """
    filled = np.where(mask, values, np.inf) if mask is not None else values
    n, width = filled.shape
    order = np.argsort(filled, axis=1)
    simple = ~_has_ties(filled, order)
    if mask is not None:
        simple &= mask.all(axis=1)
    if g and width % 2 == 0:         # the two middle values must average strictly between them
        r = np.arange(n)
        lo, hi = filled[r, order[:, width // 2 - 1]], filled[r, order[:, width // 2]]
        mid = 0.5 * (lo + hi)
        simple &= (mid > lo) & (mid < hi)
    out = _pattern_sums(order if simple.all() else order[simple], seg[simple], n_seg, n_est, u, g, a)
    if not simple.all():
        rest = ~simple
        _add_cell_sums(out, values[rest], None if mask is None else mask[rest], n_est, seg[rest], n_seg,
                       t_obs[rest], u, g, a)
    return out


def _has_ties(filled: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rows with two equal values, from the row sort ``order``: compared in float32 first (rounding is
    monotone, so equal float64 values are equal neighbours in float32 too, and distinct float32 neighbours are
    distinct values), then in float64 on the few rows with equal float32 neighbours."""
    n, width = filled.shape
    flat = (order + (np.arange(n) * width)[:, None]).ravel()
    with np.errstate(over="ignore"):
        srt = filled.astype(np.float32).ravel().take(flat).reshape(n, width)
    maybe = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
    tied = np.zeros(n, dtype=bool)
    if maybe.size:
        exact = np.take_along_axis(filled[maybe], order[maybe], axis=1)
        tied[maybe] = (exact[:, 1:] == exact[:, :-1]).any(axis=1)
    return tied


def _pattern_sums(order: np.ndarray, seg: np.ndarray, n_seg: int, n_est: int, u: bool, g: bool,
                  a: bool) -> dict[str, np.ndarray]:
    """Segment sums of full, tie-free rows from their sort order alone (see :func:`rank_sums`)."""
    k, width = order.shape
    size = n_seg * width
    if k == 0:
        return {name: np.zeros((n_seg, n_est if name == "a" else width)) for name, on in
                (("u", u), ("g", g), ("a", a)) if on}
    key = (order + (seg * width)[:, None]).ravel()
    out = {}
    if u:
        out["u"] = np.bincount(key, weights=_tiled("u", width, k), minlength=size).reshape(n_seg, width)
    if g:
        out["g"] = np.bincount(key, weights=_tiled("g", width, k), minlength=size).reshape(n_seg, width)
    if a:
        small = np.int16 if width < 2 ** 15 else np.int64
        is_est = order < n_est
        later = np.cumsum(~is_est, axis=1, dtype=small)       # later cells sorted at or before each position
        rank = np.where(is_est, np.arange(1, width + 1, dtype=small) - later, 0)
        weights = rank.ravel() / (n_est + 2.0)
        out["a"] = np.bincount(key, weights=weights, minlength=size).reshape(n_seg, width)[:, :n_est].copy()
    return out


_TILED: dict[tuple[str, int, int], np.ndarray] = {}


def _tiled(kind: str, width: int, k: int) -> np.ndarray:
    """The position pattern of ``kind`` ("u": uniform rank, "g": sign against the middle) repeated for k rows,
    kept for the next chunk of the same shape (read only; at most 4 kept, ~2 MiB each at 1,024 rows)."""
    key = (kind, width, k)
    arr = _TILED.get(key)
    if arr is None:
        pos = np.arange(width, dtype=float)
        pattern = (pos + 1.0) / (width + 1.0) - 0.5 if kind == "u" else np.sign(pos - (width - 1) / 2.0)
        arr = np.tile(pattern, k)
        arr.flags.writeable = False
        if len(_TILED) >= 4:
            _TILED.clear()
        _TILED[key] = arr
    return arr


def _add_cell_sums(out: dict, values: np.ndarray, mask: np.ndarray | None, n_est: int, seg: np.ndarray,
                   n_seg: int, t_obs: np.ndarray, u: bool, g: bool, a: bool) -> None:
    """Add the segment sums of masked or tied rows, from their per-cell arrays (:func:`rank_stats`)."""
    rk = rank_stats(values, mask, n_est, est_rank=a, median=g)
    cells = {}
    if u:
        cells["u"] = rk["U"]
    if g:
        sign = np.sign(values - rk["median"][:, None])
        if mask is not None:
            sign[~mask] = 0.0
        cells["g"] = sign
    if a:
        cells["a"] = rk["est_rank"] / (t_obs + 2.0)[:, None]
    for name, arr in cells.items():
        t = arr.shape[1]
        key = ((seg * t)[:, None] + np.arange(t)).ravel()
        out[name] += np.bincount(key, weights=arr.ravel(), minlength=n_seg * t).reshape(n_seg, t)


def _est_ranks(filled: np.ndarray, order: np.ndarray, flat: np.ndarray, n_est: int, tied: np.ndarray,
               mask: np.ndarray | None) -> np.ndarray:
    """Ranks of the first ``n_est`` cells of each row among themselves, from the row sort of all cells."""
    n, width = filled.shape
    small = np.int16 if width < 2 ** 15 else np.int64
    later = np.cumsum(order >= n_est, axis=1, dtype=small)  # cells >= n_est sorted at or before each position
    pos = np.arange(1, width + 1, dtype=small) - later       # for a cell < n_est: its rank among cells < n_est
    est = np.empty(filled.size)
    est[flat] = pos.ravel()
    est = est.reshape(n, width)[:, :n_est]
    if tied.any():
        est[tied] = _st.rankdata(filled[tied, :n_est], axis=1, method="average")
    if mask is not None:
        est[~mask[:, :n_est]] = 0.0
    return est


def standardized(x: np.ndarray, var: np.ndarray) -> np.ndarray:
    """``x / sqrt(var)``, with 0 for an exact fit (x = 0 and var = 0, e.g. a halted asset under the constant-mean
    model) rather than 0/0: such an event shows no abnormal return."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = x / np.sqrt(var)
    out[(x == 0) & (var == 0)] = 0.0
    return out


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
    return 2.0 * _special.ndtr(-np.abs(stat))


def wilcoxon_z(x: np.ndarray) -> np.ndarray:
    """Wilcoxon signed-rank z per row of ``x`` (W, n): zeros dropped, average ranks of ``|x|`` (as estudy2's
    ``wilcoxon_test``), ``W+`` = sum of the ranks of the positive values, z = (W+ - N(N+1)/4) / sqrt(N(N+1)(2N+1)/24
    - sum(t^3 - t)/48) (tie-corrected, no continuity correction; N = non-zero values, t = tie-group sizes).

    Row by row (W is small). One argsort per row; rows with ties take average ranks, and the tie term uses
    sum_k k^2 - sum r^2 = sum(t^3 - t)/12 over those ranks."""
    out = np.empty(x.shape[0])
    for w, row in enumerate(x):
        a = np.abs(row)
        nz = a > 0
        if not nz.all():
            a, row = a[nz], row[nz]
        n = float(a.size)
        order = np.argsort(a)
        srt = a[order]
        base = n * (n + 1) * (2 * n + 1) / 24.0
        if (srt[1:] == srt[:-1]).any():
            r = _st.rankdata(a)
            var = base - (4.0 * base - np.dot(r, r)) / 4.0
        else:
            r = np.empty(a.size)
            r[order] = np.arange(1.0, n + 1.0)
            var = base
        w_plus = r[row > 0].sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            out[w] = (w_plus - n * (n + 1) / 4.0) / np.sqrt(var)
    return out


def skew_adjusted_t(x: np.ndarray) -> np.ndarray:
    """Johnson (1978) skewness-adjusted t per row of ``x`` (W, n), as in Lyon, Barber & Tsai (1999, eq. 5):
    sqrt(n) (S + g S^2 / 3 + g / (6 n)), S = mean / sd, g = sum (x - mean)^3 / (n sd^3), sd with ddof 1."""
    n = x.shape[-1]
    out = np.empty(x.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        for w, row in enumerate(x):
            mean = row.mean()
            d = row - mean
            sd = np.sqrt(np.dot(d, d) / (n - 1))
            s = mean / sd
            d3 = d * d
            d3 *= d
            g = d3.sum() / (n * sd ** 3)
            out[w] = np.sqrt(n) * (s + g * s * s / 3.0 + g / (6.0 * n))
    return out


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
        When every event is a run, ``flat`` may hold just the first and last cells, (n, 2).
        """
        size, ncl = self.cell_cluster.size, self.n.size
        if not self._add_runs(z, flat, run):
            if flat.shape != z.shape:           # first/last cells only: expand the runs
                flat = flat[:, :1] + np.arange(z.shape[1])
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

    def _add_runs(self, z: np.ndarray, flat: np.ndarray, run: np.ndarray | None) -> bool:
        """Fast path for ``zc``: every event a run and consecutive events sharing their first cell (one date,
        one calendar: a cascade, or a chunk of one date's events) add as segment sums. False: not applicable."""
        if run is None or not run.all() or not z.shape[0]:
            return False
        first = flat[:, 0]
        starts = np.flatnonzero(np.concatenate([[True], first[1:] != first[:-1]]))
        if starts.size > 64:
            return False
        t = z.shape[1]
        for s, part in zip(starts, np.add.reduceat(z, starts, axis=0)):
            self.zc[first[s]:first[s] + t] += part
        return True

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
