"""GRANK-T of Kolari & Pynnonen (2011) for :mod:`capflow.eventstudy` (private).

Per group and CAR window (n events, ``T_i`` valid estimation periods of event i, L1 = estimation window length):

* SAR_it = e_it / s_i on the estimation periods (s_i the OLS residual sd, divisor T_i - p; an exact fit gives 0),
  SCAR_i = CAR_i / sd(CAR_i) (prediction-error corrected), SCAR*_i = SCAR_i / S_SCAR with S_SCAR the
  cross-sectional sd (ddof 1) of the group's SCARs (robust to event-induced volatility);
* the generalized SARs of event i are its estimation SARs plus SCAR*_i as one period "0" (the CAR window
  collapsed into one period); U_it = K_it / (T_i + 2) - 1/2, K_it the average rank among those T_i + 1 values;
* Ubar_t = mean of U_it over the n_t events with period t; S_U = sqrt(sum_t (n_t / n) Ubar_t^2 / T) over the
  T = L1 + 1 periods; Z = Ubar_0 / S_U; t_grank = Z sqrt((T - 2) / (T - 1 - Z^2)), t(T - 2).

The rank of an estimation SAR among the T_i + 1 values is its rank among the estimation SARs (pass 1, from the
engine's one argsort) plus [SCAR*_i < SAR_it] (+ 1/2 on a tie); SCAR*_i's rank is 1 + T_i - (the sum of those
indicators). S_SCAR is known only once every event has been fitted, so the indicators come from a second pass
(:func:`threshold_sums`) that regathers the estimation window and recomputes the residuals from the stored
coefficients. Cross-correlation: Ubar_t varies with the common part of the events' ranks on each date, and
S_U measures that variation over time, so clustered events (one date for all) are allowed for.
"""

from __future__ import annotations

import numpy as np

from capflow import _estats
from capflow._es_engine import Plan, Segments, fit_chunk


def scar_sd(scar_t: np.ndarray, members: list) -> np.ndarray:
    """Cross-sectional sd (ddof 1) of SCAR per group and window from ``scar_t`` (W, n) and each group's rows
    (``members[g]``; group 0 = all): (G, W)."""
    out = np.full((len(members), scar_t.shape[0]), np.nan)
    for g, rows in enumerate(members):
        x = scar_t[:, rows]
        if x.shape[1] > 1:
            out[g] = x.std(axis=1, ddof=1)
    return out


def threshold_sums(plan: Plan, kept: np.ndarray, res: dict, scar: np.ndarray, s_scar: np.ndarray,
                   gidx: np.ndarray, chunk_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pass 2: per group, window and estimation period, sum_i ([SCAR*_i < SAR_it] + [=]/2) / (T_i + 2), and per
    group and window sum_i U_i0. ``kept`` (ascending) indexes the events of the rows of ``res`` and ``scar``.

    Returns (B (G, W, L1), U0 (G, W))."""
    n_groups, n_w, n_est = s_scar.shape[0], scar.shape[1], plan.est_rels.size
    b_sum, u0_sum = np.zeros((n_groups, n_w, n_est)), np.zeros((n_groups, n_w))
    order = np.argsort(gidx[kept], kind="stable")           # rows grouped by named group (see Segments)
    for start in range(0, order.size, chunk_size):
        pos = order[start:start + chunk_size]
        sel = kept[pos]
        f = fit_chunk(plan, sel, plan.est_rels, beta=res["beta"][pos])
        z = _sar(f.comb, res["s2"][pos], None if f.full else f.mask)
        t_obs, gid = res["T"][pos], gidx[sel]
        seg = Segments(gid)
        weight = 1.0 / (t_obs + 2.0)
        acc = _Acc(z, t_obs, weight, f.full, seg)
        for w in range(n_w):
            acc.add(scar[pos, w] / s_scar[0, w], b_sum[:, w], u0_sum[:, w], True)
            if seg.named.any():
                acc.add(scar[pos, w] / s_scar[gid, w], b_sum[:, w], u0_sum[:, w], False)
    return b_sum, u0_sum


def _sar(resid: np.ndarray, s2: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Estimation SARs e_it / s_i (0 for an exact fit, NaN outside the mask)."""
    s = np.sqrt(s2)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = resid / s[:, None]
    exact = s == 0
    if exact.any():
        z[exact] = np.where(resid[exact] == 0, 0.0, z[exact])
    if mask is not None:
        z[~mask] = np.nan
    return z


class _Acc:
    """Adds one threshold per event (SCAR*_i) into the pass-2 sums for one chunk and window.

    The comparisons run on float32 copies (half the memory traffic): rounding to float32 is monotone, so
    z32 > c32 implies z > c and z32 < c32 implies z < c; only the cells with z32 == c32 are decided again in
    float64 (and a true tie counts 1/2)."""

    def __init__(self, z: np.ndarray, t_obs: np.ndarray, weight: np.ndarray, full: bool, seg: Segments) -> None:
        self.z, self.t_obs, self.weight, self.full, self.seg = z, t_obs, weight, full, seg
        with np.errstate(over="ignore"):
            self.z32 = z.astype(np.float32)

    def _above(self, c: np.ndarray) -> tuple[np.ndarray, bool]:
        """[z > c] + [z == c] / 2 per cell: int8 when there is no tie, else float."""
        with np.errstate(over="ignore", invalid="ignore"):
            c32 = c.astype(np.float32)[:, None]
        gt = np.greater(self.z32, c32)
        amb = np.equal(self.z32, c32)
        if not amb.any():
            return gt.view(np.int8), False
        rows = np.flatnonzero(amb.any(axis=1))
        z, cc = self.z[rows], c[rows, None]
        gt[rows] = z > cc
        eq = z == cc
        if not eq.any():
            return gt.view(np.int8), False
        above = gt.astype(float)
        above[rows] += 0.5 * eq
        return above, True

    def add(self, c: np.ndarray, b_sum: np.ndarray, u0_sum: np.ndarray, to_all: bool) -> None:
        """Into group 0 with the threshold of group "all" (``to_all``), else into the named groups."""
        above, tied = self._above(c)
        if tied or not self.full:
            n_above = above.sum(axis=1)
            cols, scale = above * self.weight[:, None], 1.0
        else:                                 # one T for every event of the chunk: weight after the sum
            n_above = np.add.reduce(above, axis=1, dtype=np.int32)
            cols, scale = above, self.weight[0]
        u0 = (1.0 + self.t_obs - n_above) * self.weight - 0.5
        if to_all:
            b_sum[0] += np.add.reduce(cols, axis=0, dtype=float) * scale
            u0_sum[0] += u0.sum()
            return
        tmp = np.zeros(b_sum.shape)
        self.seg.add(tmp, cols, to_all=False)
        b_sum += tmp * scale
        tmp = np.zeros((u0_sum.size, 1))
        self.seg.add(tmp, u0[:, None], to_all=False)
        u0_sum += tmp[:, 0]


def grank(a_sum: np.ndarray, b_sum: np.ndarray, u0_sum: np.ndarray, n_t: np.ndarray, n: int,
          n_est: int) -> tuple[np.ndarray, np.ndarray]:
    """GRANK-T and its p-value per window for one group: ``a_sum`` (L1,) pass-1 rank sums, ``b_sum`` (W, L1),
    ``u0_sum`` (W,), ``n_t`` (L1,) events with each estimation period, ``n`` events."""
    big_t = n_est + 1
    with np.errstate(invalid="ignore", divide="ignore"):
        ubar = np.where(n_t > 0, (a_sum + b_sum - n_t / 2.0) / n_t, 0.0)     # (W, L1)
        ubar0 = u0_sum / n
        s_u = np.sqrt(((n_t / n) * ubar ** 2).sum(axis=1) + ubar0 ** 2) / np.sqrt(big_t)
        z = ubar0 / s_u
        room = big_t - 1.0 - z ** 2
        t = np.where(room > 0, z * np.sqrt((big_t - 2.0) / room), np.sign(z) * np.inf)
        t = np.where(np.isfinite(z), t, np.nan)
    return t, _estats.two_sided_t(t, float(big_t - 2))
