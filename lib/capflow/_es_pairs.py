"""Kolari-Pynnonen r-bar accumulators of :mod:`capflow.eventstudy` (private).

r-bar of a group is the mean pairwise Pearson correlation of the estimation residuals over all its n(n-1)
ordered pairs, pairs in different date clusters counting as 0. Events are accumulated cell by cell into dense
(cluster, calendar row) cells (see :class:`capflow._estats.PairCorr`): unnamed events into the date-cluster
layout, events of a named group into (group, cluster) cells, which are folded into the date-cluster cells at
the end for group "all".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from capflow import _estats
from capflow._es_calendar import Calendar, floor_to_grid


@dataclass
class Layout:
    """Dense (cluster, calendar row) cells for one clustering of the events (code -1 = not clustered)."""

    code: np.ndarray              # (n_events,) cluster code
    lo: np.ndarray                # (n_clusters,) first calendar row of the cluster's estimation windows
    base: np.ndarray              # (n_clusters,) first cell of the cluster
    pairs: _estats.PairCorr


def clusters(ev: pd.DataFrame, cal: Calendar) -> np.ndarray:
    """Date-cluster code of each event: the 'cluster' column if present, else the (grid-floored) timestamp."""
    if "cluster" in ev:
        return pd.factorize(ev["cluster"].astype(str))[0]
    ts = floor_to_grid(cal.index, pd.DatetimeIndex(ev["timestamp"]))
    return pd.factorize(ts.asi8)[0]


def layout(cal: Calendar, asset: np.ndarray, k0: np.ndarray, est_rels: np.ndarray, code: np.ndarray,
           live: np.ndarray) -> Layout:
    """Cell layout of the live events' estimation windows, cluster by cluster."""
    ncl = int(code.max(initial=-1)) + 1
    live = live[code[live] >= 0]
    a, k = asset[live], k0[live]
    last = cal.counts[a] - 1
    lo_row = cal.row_at(a, np.clip(k + est_rels[0], 0, last))
    hi_row = cal.row_at(a, np.clip(k + est_rels[-1], 0, last))
    lo = np.full(ncl, np.iinfo(np.int64).max)
    hi = np.full(ncl, -1, dtype=np.int64)
    np.minimum.at(lo, code[live], lo_row)
    np.maximum.at(hi, code[live], np.maximum(hi_row, lo_row))
    lo = np.where(hi >= 0, lo, 0)
    span = np.where(hi >= 0, hi - lo + 1, 0)
    base = np.concatenate([[0], np.cumsum(span)[:-1]]).astype(np.int64)
    return Layout(code, lo, base, _estats.PairCorr(np.repeat(np.arange(ncl), span), ncl))


class Pairs:
    """The two layouts of one run and the maps from (named group, cluster) combos to groups and clusters."""

    def __init__(self, cal: Calendar, asset: np.ndarray, k0: np.ndarray, est_rels: np.ndarray, ev: pd.DataFrame,
                 gidx: np.ndarray, live: np.ndarray) -> None:
        cluster = clusters(ev, cal)
        named = gidx > 0
        key = np.where(named, gidx.astype(np.int64) * (int(cluster.max(initial=0)) + 1) + cluster, -1)
        combo = np.full(key.size, -1)
        combo[named] = pd.factorize(key[named])[0]          # (named group, cluster) codes, first seen first
        self.combo_group = np.zeros(int(combo.max(initial=-1)) + 1, dtype=int)
        self.combo_group[combo[named]] = gidx[named]
        self.combo_cluster = np.zeros_like(self.combo_group)
        self.combo_cluster[combo[named]] = cluster[named]
        self.layouts = (layout(cal, asset, k0, est_rels, cluster, live),
                        layout(cal, asset, k0, est_rels, combo, live))

    def add(self, resid: np.ndarray, m_s: np.ndarray | None, t_obs: np.ndarray, rows_s: np.ndarray,
            sel: np.ndarray) -> None:
        """Add the kept events ``sel`` of one chunk (estimation residuals, float mask or None, counts, rows)."""
        n_est = resid.shape[1]
        z = _estats.standardize(resid, m_s, t_obs)
        zz = np.einsum("nt,nt->n", z, z)
        named = self.layouts[1].code[sel] >= 0   # events of a named group go to (group, cluster) cells only;
        for lay, these in zip(self.layouts, (~named, named)):  # rbar() folds those into the cluster cells
            if these.all():
                these = slice(None)
            elif not these.any():
                continue
            code = lay.code[sel[these]]
            shift = (lay.base - lay.lo)[code]
            rows = rows_s[these]
            t = t_obs[these]
            run = (t == n_est) & (rows[:, -1] - rows[:, 0] == n_est - 1)  # all valid, consecutive rows
            if run.all():                      # cells first .. first + T - 1: no per-cell index needed
                first = rows[:, 0] + shift
                lay.pairs.add(z[these], np.column_stack([first, first + n_est - 1]), zz[these], t, code, run)
                continue
            flat = rows + shift[:, None]
            if m_s is not None:
                flat[m_s[these] == 0] = lay.pairs.cell_cluster.size  # the spare (dropped) cell
            lay.pairs.add(z[these], flat, zz[these], t, code, run)

    def rbar(self, n_per_group: np.ndarray) -> np.ndarray:
        """Mean pairwise residual correlation per group over all its n(n-1) ordered pairs (cross-cluster = 0)."""
        self._fold()
        lay = self.layouts
        n = n_per_group.astype(float)
        sums = np.concatenate([[lay[0].pairs.pair_sums().sum()],
                               np.bincount(self.combo_group, weights=lay[1].pairs.pair_sums(),
                                           minlength=n.size)[1:]])
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 1, sums / (n * (n - 1)), np.nan)

    def _fold(self) -> None:
        """Add the (named group, cluster) cells into the cluster cells of the same calendar rows (the chunk loop
        accumulates each event in one layout only; the cluster layout covers every event)."""
        cl, cb = self.layouts
        combo = cb.pairs.cell_cluster
        if combo.size == 0:
            return
        row = cb.lo[combo] + np.arange(combo.size) - cb.base[combo]
        dest = self.combo_cluster[combo]
        cl.pairs.absorb(cb.pairs, cl.base[dest] + row - cl.lo[dest], self.combo_cluster)
