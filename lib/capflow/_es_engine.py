"""Chunked engine of :mod:`capflow.eventstudy` (private): fits, abnormal returns, CARs and group sums.

Events run in chunks (``eventstudy._CHUNK``, 1,024) as stacked arrays: one gather of the combined estimation +
event window, one masked OLS, one argsort per event for every rank statistic, and group sums by
``np.add.reduceat`` over the chunk's rows, which the run orders by named group (O(n T) whatever the number of
groups). Per event only the CAR-level arrays and the fitted coefficients are kept; the long AR table is rebuilt
from them on request (:func:`ar_chunk`). GRANK needs the cross-sectional sd of each group's SCARs before it can
rank, so it runs a second pass (:mod:`capflow._es_grank`) that regathers the estimation window and recomputes
the residuals from the stored coefficients (:func:`fit_chunk` with ``beta``; same bits). Before the chunk loop
:func:`warm_allocator` frees one 24 MiB block so that glibc keeps the chunk temporaries on its heap instead of
faulting fresh pages in for every chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capflow import _estats
from capflow._es_calendar import Calendar
from capflow._es_common import ASSET, BENCH, FEW, OVERLAP, SELF, SINGULAR, WINDOW
from capflow._es_design import Design


@dataclass(frozen=True)
class Needs:
    """Which optional per-chunk work the requested tests need."""

    ranks: bool       # Corrado uniform ranks
    median: bool      # Corrado-Zivney sign: signs about each event's median
    grank: bool       # GRANK: estimation-only ranks here, the threshold pass later
    pairs: bool       # Kolari-Pynnonen r-bar (kp, kp_patell)
    pos: bool         # generalized sign: share of positive estimation residuals
    lev: bool         # Lamb: mean prediction-error factor 1 + h_t

    @classmethod
    def of(cls, tests: tuple[str, ...]) -> "Needs":
        t = set(tests)
        return cls("corrado" in t, "cz_sign" in t, "grank" in t, bool(t & {"kp", "kp_patell"}), "gen_sign" in t,
                   "lamb" in t)


@dataclass
class Plan:
    """Per-event integer arrays and window geometry shared by the chunk kernel and the aggregations."""

    cal: Calendar
    design: Design
    asset: np.ndarray             # (n,) column in returns, -1 if absent
    k0: np.ndarray                # (n,) local position of period 0
    reason: np.ndarray            # (n,) index into REASONS, 0 = kept so far
    est_rels: np.ndarray
    evt_rels: np.ndarray
    windows: np.ndarray           # (W, L_evt) 0/1 indicators of the CAR windows over evt_rels
    span: np.ndarray              # (L_evt,) bool: inside the CAR span
    min_estimation: int

    @property
    def rels(self) -> np.ndarray:
        """Combined window: estimation periods, then event periods."""
        return np.concatenate([self.est_rels, self.evt_rels])


def structural_reasons(cal: Calendar, design: Design, asset: np.ndarray, k0: np.ndarray, est: tuple,
                       evt: tuple, cars: tuple, overlap: str) -> np.ndarray:
    """Reasons decidable from positions alone: absent asset, no benchmark column, CAR span outside data, overlap."""
    reason = np.zeros(asset.size, dtype=np.int8)
    if design.own is not None:
        reason[design.own] = SELF
    reason[(reason == 0) & (asset < 0)] = ASSET
    reason[(reason == 0) & design.missing] = BENCH
    count = np.where(asset >= 0, cal.counts[np.maximum(asset, 0)], 0)
    lo, hi = min(w[0] for w in cars), max(w[1] for w in cars)
    reason[(reason == 0) & ((k0 >= count) | (k0 + lo < 0) | (k0 + hi >= count))] = WINDOW
    if overlap == "drop":
        hits = _overlap_counts(asset, k0, count, est, evt)
        reason[(reason == 0) & (hits > 0)] = OVERLAP
    return reason


def _overlap_counts(asset: np.ndarray, k0: np.ndarray, count: np.ndarray, est: tuple, evt: tuple) -> np.ndarray:
    """For each event, how many other anchored events of its asset have an event window meeting its estimation
    window: other anchors k' with k' + evt[0] <= k0 + est[1] and k' + evt[1] >= k0 + est[0]."""
    anchored = (asset >= 0) & (k0 < count)
    shift = int(count.max(initial=0)) + abs(est[0]) + abs(est[1]) + abs(evt[0]) + abs(evt[1]) + 1
    stride = 4 * shift
    keys = np.sort(asset[anchored].astype(np.int64) * stride + k0[anchored] + 2 * shift)
    base = asset.astype(np.int64) * stride + k0 + 2 * shift
    first = np.searchsorted(keys, base + est[0] - evt[1], side="left")
    last = np.searchsorted(keys, base + est[1] - evt[0], side="right")
    return np.where(anchored, last - first, 0)


# ------------------------------------------------------------------------------------------------ chunk kernel
@dataclass
class Fit:
    """One chunk's gathered data and OLS fit; ``comb`` = [estimation residuals | event-window ARs]."""

    rows: np.ndarray              # (n, L) calendar rows of the gathered periods
    mask: np.ndarray              # (n, L) return and every regressor present
    full: bool                    # every cell valid (the masking passes are skipped)
    xs: list[np.ndarray]          # regressors (n, L), NaN kept
    off: np.ndarray | None        # offset (market-adjusted benchmark) or None
    y: np.ndarray                 # returns (n, L)
    m_s: np.ndarray | None        # float mask of the estimation cells (None: full)
    fitted: dict                  # see capflow._estats.fit (only "resid" when refitted from stored beta)
    comb: np.ndarray


def fit_chunk(plan: Plan, sel: np.ndarray, rels: np.ndarray, beta: np.ndarray | None = None) -> Fit:
    """Gather ``rels`` (estimation periods first) for the events ``sel`` and fit the estimation window; with
    ``beta`` the residuals are recomputed from those coefficients instead (no normal equations)."""
    a, k, des = plan.asset[sel], plan.k0[sel], plan.design
    n_est = plan.est_rels.size
    rows, ok = plan.cal.gather(a, k, rels)
    shifted = (lambda j: plan.cal.gather(a, k, plan.est_rels + j)) if des.lags else None
    xs, off, mask = des.x(rows, sel, ok, n_est, shifted)
    excl = plan.cal.excluded(a, rows[:, :n_est])
    if excl is not None and excl.any():  # excluded observations leave the estimation sample, not the calendar
        mask = mask.copy()
        mask[:, :n_est] &= ~excl
    y = plan.cal.take(a, rows)
    full = bool(mask.all())
    mask_s = mask[:, :n_est]
    m_s = None if full else mask_s.astype(float)
    with np.errstate(invalid="ignore"):
        y_s = y[:, :n_est] - off[:, :n_est] if off is not None else y[:, :n_est]
    x_s = [x[:, :n_est] for x in xs]
    if not full:
        y_s, x_s = np.where(mask_s, y_s, 0.0), [np.where(mask_s, x, 0.0) for x in x_s]
    comb = np.empty(rows.shape)
    if beta is None:
        fitted = _estats.fit(y_s, x_s, m_s, des.intercept, out=comb[:, :n_est])
    else:
        fitted = {"resid": _estats.residuals(y_s, x_s, m_s, beta, des.intercept, comb[:, :n_est])}
    return Fit(rows, mask, full, xs, off, y, m_s, fitted, comb)


def event_window(plan: Plan, f: Fit) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Valid cells, returns, normal returns, ARs (written into ``f.comb``) and the event-window regressors with
    0 in the invalid cells, each (n, L_evt)."""
    n_est, l_evt = plan.est_rels.size, plan.evt_rels.size
    valid = f.mask[:, n_est:]
    x_e = [x[:, n_est:] for x in f.xs]
    normal = _normal(x_e, f.off[:, n_est:] if f.off is not None else None, f.fitted["beta"],
                     plan.design.intercept, l_evt)
    y_e = f.y[:, n_est:] if f.full else np.where(valid, f.y[:, n_est:], np.nan)
    if not f.full:
        normal = np.where(valid, normal, np.nan)
        x_e = [np.where(valid, x, 0.0) for x in x_e]
    ar = np.subtract(y_e, normal, out=f.comb[:, n_est:])
    return valid, y_e, normal, ar, x_e


def _normal(x_e: list[np.ndarray], off: np.ndarray | None, beta: np.ndarray, intercept: bool,
            l_evt: int) -> np.ndarray:
    """Normal returns ``offset + [1, x] @ beta`` on the event window: (n, L)."""
    lin = np.zeros((beta.shape[0], l_evt))
    if intercept:
        lin += beta[:, :1]
    for j, x in enumerate(x_e, start=int(intercept)):
        lin += x * beta[:, j:j + 1]
    return lin if off is None else off + lin


def _wsum(a: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Window sums (n, L) x (W, L) -> (n, W). einsum, not BLAS: BLAS threads thrash on a busy machine."""
    return np.einsum("nt,wt->nw", a, windows)


def _fit_reasons(plan: Plan, valid_e: np.ndarray, fitted: dict) -> np.ndarray:
    """Drop reasons known after the fit: benchmark gap in the CAR span, too few observations, singular X'X."""
    reason = np.zeros(valid_e.shape[0], dtype=np.int8)
    reason[~valid_e[:, plan.span].all(axis=1)] = BENCH
    reason[(reason == 0) & (fitted["T"] < plan.min_estimation)] = FEW
    reason[(reason == 0) & fitted["singular"]] = SINGULAR
    return reason


def chunk(plan: Plan, sel: np.ndarray, need: Needs) -> dict[str, np.ndarray | None]:
    """Pass 1 for the events ``sel``: fit, CAR, Var(CAR) (prediction-error corrected), BHAR, and the per-cell
    inputs of the group sums (ARs, residuals, ranks, signs, leverage) for the requested tests."""
    f = fit_chunk(plan, sel, plan.rels)
    fitted, w, n_est = f.fitted, plan.windows, plan.est_rels.size
    valid, y_e, normal, ar, x_e = event_window(plan, f)
    ar0 = ar if f.full else np.where(valid, ar, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        grow_r = np.exp(_wsum(np.log1p(y_e if f.full else np.where(valid, y_e, 0.0)), w))
        grow_n = np.exp(_wsum(np.log1p(normal if f.full else np.where(valid, normal, 0.0)), w))
    out = {"reason": _fit_reasons(plan, valid, fitted), "s2": fitted["s2"], "dof": fitted["dof"],
           "T": fitted["T"], "beta": fitted["beta"], "car": _wsum(ar0, w), "bhar": grow_r - grow_n,
           "var_car": _estats.car_variance(fitted["s2"], x_e, fitted["inv"], plan.design.intercept, w),
           "ar0": ar0, "resid": fitted["resid"], "m_s": f.m_s, "mask": None if f.full else f.mask,
           "rows_s": f.rows[:, :n_est]}
    if need.pos:
        out["pos_frac"] = np.count_nonzero(fitted["resid"] > 0, axis=1) / np.maximum(fitted["T"], 1)
    if need.lev:
        lev = 1.0 + _estats.leverage(x_e, fitted["inv"], plan.design.intercept)
        out["lev"] = lev if f.full else np.where(valid, lev, 0.0)
    if need.ranks or need.median or need.grank:
        out["comb"] = f.comb
    return out


def ar_chunk(plan: Plan, sel: np.ndarray) -> dict[str, np.ndarray]:
    """Event-window rows, validity, returns, normal returns, ARs and SARs of the events ``sel`` (the long AR
    table, rebuilt on request: the same fit as pass 1, so the same numbers)."""
    f = fit_chunk(plan, sel, plan.rels)
    n_est, fitted = plan.est_rels.size, f.fitted
    valid, y_e, normal, ar, x_e = event_window(plan, f)
    var = fitted["s2"][:, None] * (1.0 + _estats.leverage(x_e, fitted["inv"], plan.design.intercept))
    return {"rows": f.rows[:, n_est:], "valid": valid, "ret": y_e, "normal": normal, "ar": ar,
            "sar": _estats.standardized(ar, var)}


# ------------------------------------------------------------------------------------------------- group sums
class Segments:
    """Runs of equal named-group index in a chunk's rows (the run orders events by named group; 0 = none)."""

    def __init__(self, gid: np.ndarray) -> None:
        starts = np.flatnonzero(np.concatenate([[True], gid[1:] != gid[:-1]])) if gid.size else np.zeros(0, int)
        self.starts = starts
        self.gid = gid[starts]
        self.named = self.gid > 0
        self.lengths = np.diff(np.concatenate([starts, [gid.size]])).astype(float)
        self.row_seg = np.repeat(np.arange(starts.size), self.lengths.astype(np.int64))

    def add(self, target: np.ndarray, arr: np.ndarray, to_all: bool = True) -> None:
        """Add the rows of ``arr`` (n, ...) into ``target[0]`` (group "all", unless ``to_all`` is False) and into
        each row's named group ``target[g]``."""
        if not self.starts.size:
            return
        if self.starts.size == 1:
            seg = arr.sum(axis=0, keepdims=True, dtype=float)
            if to_all:
                target[0] += seg[0]
        else:
            seg = np.add.reduceat(arr, self.starts, axis=0, dtype=float)
            if to_all:
                target[0] += seg.sum(axis=0)
        if self.named.any():
            target[self.gid[self.named]] += seg[self.named]

    def add_parts(self, target: np.ndarray, parts: np.ndarray) -> None:
        """Add per-segment sums ``parts`` (segments, t) into group 0 and the segments' named groups."""
        target[0] += parts.sum(axis=0)
        if self.named.any():
            target[self.gid[self.named]] += parts[self.named]

    def add_count(self, target: np.ndarray, mask: np.ndarray | None) -> None:
        """Add the number of valid cells per column (``mask`` None: every row of the chunk counts)."""
        if mask is not None:
            self.add(target, mask.astype(float))
            return
        target[0] += self.lengths.sum()
        if self.named.any():
            target[self.gid[self.named]] += self.lengths[self.named][:, None]


class Sums:
    """Group-level accumulators filled chunk by chunk (groups x relative periods)."""

    def __init__(self, n_groups: int, n_est: int, l_evt: int, need: Needs) -> None:
        g, m = n_groups, n_est + l_evt
        self.n_est = n_est
        self.cnt = np.zeros((g, m))                  # valid cells per relative period (combined window)
        self.ar = np.zeros((g, l_evt))               # sum of event-window ARs (AAR = ar / cnt)
        self.e = np.zeros((g, n_est))                # sum of estimation residuals (estimation AAR series)
        self.u = np.zeros((g, m)) if need.ranks else None    # Corrado
        self.g = np.zeros((g, m)) if need.median else None   # Corrado-Zivney sign
        self.a = np.zeros((g, n_est)) if need.grank else None  # GRANK estimation-only ranks / (T + 2)
        self.lev = np.zeros((g, l_evt)) if need.lev else None  # Lamb: sum of 1 + h_t

    def add(self, out: dict, seg: Segments) -> None:
        """Add the kept rows of one chunk (``out`` restricted to them)."""
        seg.add_count(self.cnt, out["mask"])
        seg.add(self.ar, out["ar0"])
        seg.add(self.e, out["resid"])
        if self.lev is not None:
            seg.add(self.lev, out["lev"])
        if "comb" in out and seg.starts.size:
            parts = _estats.rank_sums(out["comb"], out["mask"], self.n_est, seg.row_seg, seg.starts.size, out["T"],
                                      u=self.u is not None, g=self.g is not None, a=self.a is not None)
            for name, part in parts.items():
                seg.add_parts(getattr(self, name), part)


# ------------------------------------------------------------------------------------------------------- run
@dataclass
class Run:
    """Pass-1 results: kept events (ascending) and their per-event arrays, the group sums and r-bar."""

    kept: np.ndarray
    res: dict[str, np.ndarray]
    sums: Sums
    n_group: np.ndarray           # (G,) kept events per group
    rbar: np.ndarray              # (G,) Kolari-Pynnonen r-bar (NaN when not requested)


def warm_allocator(nbytes: int = 24 << 20) -> None:
    """Allocate and free ``nbytes`` at once (never touched: no memory is used).

    Each chunk allocates and frees some 20 temporaries of ~2 MiB. glibc's malloc maps blocks above its mmap
    threshold (128 KiB, raised to the size of the largest block freed so far, at most 32 MiB) straight from the
    kernel and returns free heap beyond twice that threshold, so with the default state every chunk faults its
    temporaries in afresh (~100,000 minor page faults and a third of the wall time at 50,000 events). Freeing
    one 24 MiB block first raises the threshold, and the chunk temporaries are then reused from the heap
    (0 faults). Elsewhere than glibc this is one short-lived allocation and nothing more."""
    np.empty(nbytes, dtype=np.uint8)


def run(plan: Plan, gidx: np.ndarray, n_groups: int, need: Needs, chunk_size: int, pairs=None) -> Run:
    """Pass 1 over the live events in chunks, ordered by named group (see :class:`Segments`); per-event results
    are written at the events' ascending positions, so only the dropped ones are removed at the end."""
    warm_allocator()
    live = np.flatnonzero(plan.reason == 0)
    order = np.argsort(gidx[live], kind="stable")          # positions in ``live``, grouped by named group
    sums = Sums(n_groups, plan.est_rels.size, plan.evt_rels.size, need)
    res = _allocate(live.size, plan.windows.shape[0], plan.design.n_par, need)
    for start in range(0, order.size, chunk_size):
        pos = order[start:start + chunk_size]
        sel = live[pos]
        out = chunk(plan, sel, need)
        plan.reason[sel] = out["reason"]
        ok = out["reason"] == 0
        for k, v in res.items():
            v[pos] = out[k]
        if not ok.all():
            out = {k: (v[ok] if isinstance(v, np.ndarray) else v) for k, v in out.items()}
        sums.add(out, Segments(gidx[sel[ok]]))
        if pairs is not None:
            pairs.add(out["resid"], out["m_s"], out["T"], out["rows_s"], sel[ok])
    keep = plan.reason[live] == 0
    kept = live[keep]
    if not keep.all():
        for k in list(res):                                 # one array at a time: no second copy of them all
            res[k] = res[k][keep]
    res["scar"] = _estats.standardized(res["car"], res["var_car"])
    n_group = np.bincount(gidx[kept], minlength=n_groups)
    n_group[0] = kept.size
    rbar = pairs.rbar(n_group) if pairs is not None else np.full(n_groups, np.nan)
    return Run(kept, res, sums, n_group, rbar)


def _allocate(n: int, n_w: int, n_par: int, need: Needs) -> dict[str, np.ndarray]:
    """Per-event output arrays for ``n`` live events, filled chunk by chunk."""
    res = {k: np.empty((n, n_w)) for k in ("car", "var_car", "bhar")}
    res.update({k: np.empty(n) for k in ("s2", "dof", "T")})
    res["beta"] = np.empty((n, n_par))
    if need.pos:
        res["pos_frac"] = np.empty(n)
    return res
