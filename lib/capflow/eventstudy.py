"""Event studies on a returns panel: abnormal returns, CAR/CAAR/BHAR and their test statistics.

One entry point, :func:`event_study`, vectorized over events with numpy (no Python loop per event: events are
processed in stacked arrays, in chunks of a few thousand to bound memory).

Conventions
-----------
* ``returns``: DataFrame indexed by a sorted, unique UTC DatetimeIndex, one column per asset id, SIMPLE returns.
  NaN means "no trading period on that row": each asset's trading periods are its own finite rows, and every
  window is counted in those periods (an equity's day -1 before a Monday event is the Friday).
* Event anchor (relative period 0): the asset's first trading period whose timestamp is >= the event timestamp.
  When the index sits on a regular grid (every label a multiple of the smallest spacing, e.g. midnight dates
  or whole hours; bars labelled by their open time as in the snapshot), event timestamps are first floored to
  that grid, so the bar containing the event is period 0 (an event at 14:30 on a daily index is that date; a
  Saturday event is Monday for an equity, Saturday for crypto; 13:30 on hourly data is the 13:00 bar).
* Windows are inclusive ``(first, last)`` relative periods. The estimation window must not overlap the event
  window (:class:`EventStudyError` otherwise); every CAR window must lie inside the event window.

Drop rules (one reason per event, checked in this order, counted in ``result.dropped`` and logged as one
warning summary):

1. ``"asset not in returns"``: the asset has no column in ``returns``.
2. ``"no benchmark returns"``: no benchmark column for the event (market models).
3. ``"missing event-window returns"``: the asset has no trading period at/after the event, or the CAR span
   (from the earliest to the latest CAR-window period) runs outside the asset's data. Rule: an event is
   dropped if any return inside the largest CAR span is missing. Inside the data a return is never
   "missing": a NaN row is, by definition, not a trading period of that asset (a Saturday for an equity).
   Event-window periods outside the CAR span and outside the data only leave those AR rows out.
4. ``"estimation overlaps event window"``: with ``overlap="drop"`` (default), the estimation window contains
   part of the event window of another event of the same asset (``overlap="keep"`` keeps it). Windows that
   overlap by construction (estimation_window meets event_window) raise :class:`EventStudyError` instead.
5. ``"no benchmark returns"``: a benchmark/factor value is missing on a trading period of the asset inside
   the CAR span. (Inside the estimation window such rows are just excluded from the fit.)
6. ``"too few estimation obs"``: fewer than ``min_estimation`` estimation periods with the return and every
   regressor present (periods before the asset's first row count as missing).
7. ``"degenerate estimation regressors"``: singular X'X (e.g. a constant benchmark).
8. ``"asset is its own benchmark"`` (checked first, market models): the event's benchmark column is the asset
   itself (bitcoin against a bitcoin market), so its AR is identically 0 and its variance degenerate.

Statistics (per group and CAR window; ``n`` events, CAR_i, SCAR_i = CAR_i / sqrt(Var(CAR_i)) with the
prediction-error corrected variance, see :mod:`capflow._estats`):

* ``t_cs``: mean(CAR) / (sd(CAR) / sqrt(n)), sd with ddof 1; t(n-1).
* ``patell`` (Patell 1976): sum_i SCAR_i / sqrt(sum_i d_i / (d_i - 2)), d_i = T_i - p the residual degrees of
  freedom of event i; N(0,1).
* ``bmp`` (Boehmer, Musumeci & Poulsen 1991): mean(SCAR) / (sd(SCAR) / sqrt(n)); t(n-1).
* ``kp`` (Kolari & Pynnonen 2010): t_BMP * sqrt((1 - rbar) / (1 + (n - 1) rbar)), rbar = mean pairwise
  correlation of estimation residuals over all pairs of the group, pairs in different date clusters counting
  as 0 (cluster = the events' ``cluster`` column if given, else the event timestamp); t(n-1).
* ``corrado`` (Corrado 1989; multi-period form of Cowan 1992 / Campbell & Wasley 1993 with the
  Corrado-Zivney 1992 uniform ranks): per event rank the ARs over the combined estimation + event window,
  U_it = K_it / (M_i + 1) - 1/2; Ubar_t = mean over events with a rank at relative period t;
  S_U = sqrt(mean_t Ubar_t^2) over the combined window; statistic sum_{t in w} Ubar_t / (sqrt(L_w) S_U); N(0,1).
  For a single period it is Corrado's (1989) test.
* ``gen_sign`` (Cowan 1992): p_hat = mean_i (share of positive estimation-window ARs of event i); w = number of
  positive CARs; (w - n p_hat) / sqrt(n p_hat (1 - p_hat)); N(0,1).
* Bootstrap CI of CAAR: moving blocks (length ``block``) of the group's demeaned estimation-window AAR series
  are resampled into ``n_boot`` sums of L_w periods (the noise of an L_w-period CAAR, cross-correlation and
  autocorrelation included); CI = [CAAR - q(1 - alpha/2), CAAR - q(alpha/2)] (basic bootstrap).

Performance (``benchmarks/bench_eventstudy.py``): events run in chunks of ``_CHUNK``; per chunk one gather of
the combined estimation + event window, one masked OLS, one argsort per event for the ranks, and group sums by
``einsum`` (not BLAS ``@``: OpenBLAS threads spin and thrash on a busy machine). Chunks whose cells are all
valid skip the masking passes. Assets traded in one unbroken run keep no per-row index. The tidy frames are
built from the result arrays without pandas' consolidation copy.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from capflow import _estats

log = logging.getLogger(__name__)

MODELS = ("constant_mean", "market_adjusted", "market", "factor")
TESTS = ("t_cs", "patell", "bmp", "kp", "corrado", "gen_sign")
REASONS = ("", "asset not in returns", "no benchmark returns", "missing event-window returns",
           "estimation overlaps event window", "too few estimation obs", "degenerate estimation regressors",
           "asset is its own benchmark")
_ASSET, _BENCH, _WINDOW, _OVERLAP, _FEW, _SINGULAR, _SELF = range(1, 8)
_CHUNK = 1024


class EventStudyError(ValueError):
    """Bad input to :func:`event_study`; the message names the parameter, what was wrong and what is valid."""


@dataclass
class EventStudyResult:
    """Tidy outputs of :func:`event_study` (see the module docstring for formulas).

    Attributes
    ----------
    ar : event_id, asset, group, rel, timestamp, ret, normal, ar, sar
    car : event_id, asset, group, window, start, end, car, car_se, scar, t, p, bhar
    aar : group, rel, aar, caar, n
    caar : group, window, caar, n, boot_lo, boot_hi
    stats : group, window, test, statistic, p_value, n
    dropped : event_id, asset, reason
    params : the inputs used
    """

    ar: pd.DataFrame
    car: pd.DataFrame
    aar: pd.DataFrame
    caar: pd.DataFrame
    stats: pd.DataFrame
    dropped: pd.DataFrame
    params: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """One row per (group, window): caar, n, bootstrap CI, and ``<test>`` / ``<test>_p`` for every test."""
        wide = self.stats.pivot_table(index=["group", "window"], columns="test", values=["statistic", "p_value"],
                                      sort=False)
        cols = {}
        for t in TESTS:
            if ("statistic", t) in wide.columns:
                cols[t] = wide[("statistic", t)]
                cols[f"{t}_p"] = wide[("p_value", t)]
        out = self.caar.set_index(["group", "window"]).join(pd.DataFrame(cols, index=wide.index))
        return out.reset_index()


# ----------------------------------------------------------------------------------------------- validation
def _window(value: object, name: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise EventStudyError(f"{name}={value!r} is not a pair of integers; use e.g. (-250, -11)") from exc
    if a > b:
        raise EventStudyError(f"{name}={value!r} starts after it ends; use (first, last) with first <= last")
    return a, b


def _check_windows(estimation_window, event_window, car_windows) -> tuple:
    est = _window(estimation_window, "estimation_window")
    evt = _window(event_window, "event_window")
    if not (est[1] < evt[0] or est[0] > evt[1]):
        raise EventStudyError(f"estimation_window={est} overlaps event_window={evt}; use disjoint windows "
                              "such as (-250, -11) and (-10, 10)")
    if isinstance(car_windows, tuple) and len(car_windows) == 2 and all(np.isscalar(v) for v in car_windows):
        car_windows = (car_windows,)
    cars = tuple(_window(w, "car_windows") for w in car_windows)
    if not cars:
        raise EventStudyError("car_windows is empty; give at least one window such as ((0, 0),)")
    bad = [w for w in cars if w[0] < evt[0] or w[1] > evt[1]]
    if bad:
        raise EventStudyError(f"car_windows {bad} fall outside event_window={evt}; widen event_window or "
                              "shrink the CAR windows")
    return est, evt, cars


def _check_scalars(model: str, overlap: str, min_estimation: int, est: tuple, n_boot: int, block: int,
                   alpha: float, n_factors: int) -> None:
    if model not in MODELS:
        raise EventStudyError(f"model={model!r} is unknown; use one of {', '.join(MODELS)}")
    if overlap not in ("drop", "keep"):
        raise EventStudyError(f"overlap={overlap!r} is unknown; use 'drop' or 'keep'")
    n_par = {"constant_mean": 1, "market_adjusted": 0, "market": 2, "factor": 1 + n_factors}[model]
    if not n_par + 3 <= min_estimation <= est[1] - est[0] + 1:
        raise EventStudyError(f"min_estimation={min_estimation} must lie in [{n_par + 3}, "
                              f"{est[1] - est[0] + 1}] (parameters + 3 .. estimation_window length)")
    if n_boot < 0 or block < 1 or block > est[1] - est[0] + 1:
        raise EventStudyError(f"n_boot={n_boot}, block={block}: use n_boot >= 0 and 1 <= block <= "
                              "the estimation_window length")
    if not 0 < alpha < 1:
        raise EventStudyError(f"alpha={alpha} must lie strictly between 0 and 1")


def _utc_index(frame: pd.DataFrame | pd.Series, name: str) -> pd.DatetimeIndex:
    idx = frame.index
    if not isinstance(idx, pd.DatetimeIndex):
        raise EventStudyError(f"{name} must be indexed by timestamps (DatetimeIndex), got {type(idx).__name__}")
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    if not (idx.is_monotonic_increasing and idx.is_unique):
        raise EventStudyError(f"{name} index must be sorted and unique; use .sort_index() and drop duplicates")
    return idx.as_unit("ns")


def _check_events(events: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(events, pd.DataFrame):
        raise EventStudyError(f"events must be a DataFrame, got {type(events).__name__}")
    missing = [c for c in ("event_id", "asset", "timestamp") if c not in events.columns]
    if missing:
        raise EventStudyError(f"events is missing columns {missing}; required: event_id, asset, timestamp "
                              "(optional: group, benchmark, cluster)")
    if events.empty:
        raise EventStudyError("events is empty; give at least one row (event_id, asset, timestamp)")
    if events["event_id"].duplicated().any():
        dup = events.loc[events["event_id"].duplicated(), "event_id"].iloc[0]
        raise EventStudyError(f"events.event_id must be unique; {dup!r} repeats")
    ev = events.reset_index(drop=True).copy()
    try:
        ev["timestamp"] = pd.to_datetime(ev["timestamp"], utc=True).dt.as_unit("ns")
    except (ValueError, TypeError) as exc:
        raise EventStudyError(f"events.timestamp is not parseable as dates: {exc}") from exc
    if ev["timestamp"].isna().any():
        raise EventStudyError("events.timestamp has missing values; every event needs a timestamp")
    ev["group"] = ev["group"].fillna("all").astype(str) if "group" in ev else "all"
    return ev


# ------------------------------------------------------------------------------------------------ calendars
@dataclass
class _Calendar:
    """Each asset's trading rows (its finite returns), in local positions 0 .. counts[j] - 1.

    An asset whose trading rows are one unbroken run (no gap between its first and last row: NaN only before
    listing or after delisting, as for most crypto) is stored as ``start[j]`` alone: local i is calendar row
    ``start[j] + i``. The rows of the other assets (``gapped``, e.g. equities with weekends) are listed in
    ``rows[offsets[j]:offsets[j] + counts[j]]``.
    """

    index: pd.DatetimeIndex
    values: np.ndarray            # (n_rows, n_assets) returns (C or F order); non-finite = no trading period
    counts: np.ndarray            # (n_assets,) number of trading rows
    start: np.ndarray             # (n_assets,) first trading row
    gapped: np.ndarray            # (n_assets,) bool: trading rows are not one unbroken run
    offsets: np.ndarray           # (n_assets,) position of a gapped asset's rows in ``rows``
    rows: np.ndarray              # int32 calendar rows of the gapped assets, asset after asset
    columns: pd.Index

    @classmethod
    def build(cls, returns: pd.DataFrame, index: pd.DatetimeIndex) -> "_Calendar":
        if not returns.columns.is_unique:
            raise EventStudyError("returns has duplicate column names; use one column per asset id")
        values = returns.to_numpy(dtype=float)  # a view of one float block: C or F order, never copied again
        if not (values.flags.c_contiguous or values.flags.f_contiguous):
            values = np.ascontiguousarray(values)
        n_rows, n_assets = values.shape
        counts, start = np.zeros(n_assets, dtype=np.int64), np.zeros(n_assets, dtype=np.int64)
        gapped = np.zeros(n_assets, dtype=bool)
        parts = []
        for j in range(0, n_assets, 256):  # asset blocks bound the temporary arrays
            valid = np.isfinite(values[:, j:j + 256])  # (n_rows, k) in the memory order of values; +-inf = missing
            counts[j:j + 256], start[j:j + 256], gapped[j:j + 256] = _runs(valid)
            gap = gapped[j:j + 256]
            if gap.any():
                parts.append(np.nonzero(valid[:, gap].T)[1].astype(np.int32))
        rows = np.concatenate(parts) if parts else np.zeros(0, np.int32)
        offsets = np.concatenate([[0], np.cumsum(np.where(gapped, counts, 0))[:-1]]).astype(np.int64)
        return cls(index, values, counts, start, gapped, offsets, rows, returns.columns)

    def anchor(self, asset: np.ndarray, ts: pd.DatetimeIndex) -> np.ndarray:
        """Local position (in the asset's own trading rows) of relative period 0 for each event."""
        r0 = np.searchsorted(self.index.asi8, _floor_to_grid(self.index, ts).asi8, side="left")
        k0 = np.clip(r0 - self.start[asset], 0, self.counts[asset])
        gap = np.flatnonzero(self.gapped[asset])
        order = gap[np.argsort(asset[gap], kind="stable")]
        bounds = np.flatnonzero(np.diff(asset[order])) + 1
        for sel in np.split(order, bounds):  # one searchsorted per gapped asset (not per event)
            if sel.size:
                a = asset[sel[0]]
                k0[sel] = np.searchsorted(self.rows[self.offsets[a]:self.offsets[a] + self.counts[a]], r0[sel])
        return k0

    def row_at(self, asset: np.ndarray, local: np.ndarray) -> np.ndarray:
        """Calendar rows of local positions ``local`` (any shape broadcasting against ``asset[:, None]`` or
        ``asset``), which must lie in 0 .. counts - 1 where they matter (others give some valid row)."""
        a = asset.reshape(asset.shape + (1,) * (local.ndim - asset.ndim))
        rows = self.start[a] + local
        gap = self.gapped[asset]
        if gap.any():
            rows[gap] = self.rows.take(self.offsets[a[gap]] + local[gap], mode="clip")
        return rows

    def gather(self, asset: np.ndarray, k0: np.ndarray, rels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calendar rows (n, L) of relative periods ``rels`` and whether each exists (inside the asset's data);
        rows of absent periods are 0."""
        local = k0[:, None] + rels[None, :]
        ok = local >= 0
        ok &= local < self.counts[asset][:, None]
        rows = self.row_at(asset, local)
        if not ok.all():
            rows[~ok] = 0
        return rows, ok

    def take(self, asset: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Returns (n, L) of each event's asset at calendar ``rows`` (read only where the asset trades: other
        cells may hold NaN or +-inf)."""
        s_row, s_asset = (st // self.values.itemsize for st in self.values.strides)
        flat = np.multiply(rows, s_row, dtype=np.int64)  # int64: rows are int32
        flat += (asset * s_asset)[:, None]
        return self.values.ravel(order="K").take(flat)


def _runs(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``valid`` (n_rows, k): number of valid rows, first valid row (exact when the valid rows
    form one run) and whether they do not form one run. Reductions along axis 0 only (fast in C or F order)."""
    cnt = np.count_nonzero(valid, axis=0)
    runs = np.count_nonzero(valid[1:] > valid[:-1], axis=0) + valid[0]    # number of False -> True starts
    row_sum = np.einsum("r,rk->k", np.arange(valid.shape[0], dtype=np.int64), valid)
    first = (row_sum - cnt * (cnt - 1) // 2) // np.maximum(cnt, 1)      # sum of first .. first + cnt - 1
    return cnt, np.where(cnt > 0, first, 0), runs > 1


def _floor_to_grid(index: pd.DatetimeIndex, ts: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Floor event timestamps to the index grid when the index is regular (see module docstring)."""
    if len(index) < 2:
        return ts
    step = int(np.diff(index.asi8).min())
    if step <= 0 or np.any(index.asi8 % step):
        return ts
    return pd.DatetimeIndex(ts.asi8 - ts.asi8 % step, tz="UTC")


# ------------------------------------------------------------------------------------------------ regressors
@dataclass
class _Design:
    """Normal-return regressors on the returns index: ``normal = offset + [1, reg[:, cols]] @ beta``."""

    reg: np.ndarray               # (n_rows, n_cols + 1): last column all NaN (= no benchmark)
    cols: np.ndarray              # (n_events, k) regressor columns of each event
    offset: np.ndarray | None     # (n_events,) column used as the normal return itself (market-adjusted)
    intercept: bool
    missing: np.ndarray           # (n_events,) no benchmark column for the event
    own: np.ndarray | None = None  # (n_events,) the benchmark column is the event's asset itself
    _reg_t: np.ndarray | None = None

    @property
    def n_par(self) -> int:
        return self.cols.shape[1] + int(self.intercept)

    def _take(self, code: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Column ``code[i]`` of ``reg`` at ``rows[i]``: (n, L)."""
        if code.size and (code == code[0]).all():  # one benchmark for the whole chunk
            return self.reg_t[code[0]].take(rows)
        return self.reg_t.ravel().take((code * self.reg.shape[0])[:, None] + rows)

    def x(self, rows: np.ndarray, sel: np.ndarray, ok: np.ndarray) -> tuple[list[np.ndarray], np.ndarray | None,
                                                                            np.ndarray]:
        """Regressors (list of (n, L), NaN kept), offset (n, L) or None, and ``ok`` & all-present (n, L)."""
        xs = [self._take(self.cols[sel, j], rows) for j in range(self.cols.shape[1])]
        off = self._take(self.offset[sel], rows) if self.offset is not None else None
        valid = ok.copy()
        for v in xs + ([off] if off is not None else []):
            valid &= np.isfinite(v)
        return xs, off, valid

    @property
    def reg_t(self) -> np.ndarray:
        if self._reg_t is None:
            self._reg_t = np.ascontiguousarray(self.reg.T)
        return self._reg_t


def _aligned(frame: pd.DataFrame | pd.Series, index: pd.DatetimeIndex, name: str) -> pd.DataFrame:
    if isinstance(frame, pd.Series):
        frame = frame.to_frame(frame.name if frame.name is not None else "market")
    if not isinstance(frame, pd.DataFrame):
        raise EventStudyError(f"{name} must be a DataFrame or Series of returns, got {type(frame).__name__}")
    out = frame.copy()
    out.index = _utc_index(frame, name)
    return out.reindex(index).astype(float)


def _benchmark_names(ev: pd.DataFrame, market: pd.DataFrame, benchmark: str | Mapping | None) -> pd.Series:
    names = ev["benchmark"] if "benchmark" in ev else pd.Series(np.nan, index=ev.index, dtype=object)
    need = names.isna()
    if not need.any():
        return names
    if isinstance(benchmark, str):
        fallback = pd.Series(benchmark, index=ev.index)
    elif isinstance(benchmark, Mapping):
        fallback = ev["asset"].map(benchmark)
    elif market.shape[1] == 1:
        fallback = pd.Series(market.columns[0], index=ev.index)
    else:
        raise EventStudyError(f"benchmark is not set and market has {market.shape[1]} columns; pass benchmark="
                              "'<column>' or {asset: column}, or an events 'benchmark' column")
    return names.where(~need, fallback)


def _design(model: str, ev: pd.DataFrame, index: pd.DatetimeIndex, market, benchmark, factors) -> _Design:
    n = len(ev)
    if model == "constant_mean":
        return _Design(np.full((len(index), 1), np.nan), np.zeros((n, 0), int), None, True, np.zeros(n, bool))
    if model == "factor":
        if factors is None:
            raise EventStudyError("factors is required for model='factor'; pass a DataFrame of factor returns")
        f = _aligned(factors, index, "factors")
        reg = np.column_stack([f.to_numpy(), np.full(len(index), np.nan)])
        cols = np.tile(np.arange(f.shape[1]), (n, 1))
        return _Design(reg, cols, None, True, np.zeros(n, bool))
    if market is None:
        raise EventStudyError(f"market is required for model={model!r}; pass benchmark returns (DataFrame or "
                              "Series) or use model='constant_mean'")
    m = _aligned(market, index, "market")
    names = _benchmark_names(ev, m, benchmark).to_numpy()
    own = names.astype(str) == ev["asset"].astype(str).to_numpy()
    code = m.columns.get_indexer(names)
    missing = code < 0
    code = np.where(missing, m.shape[1], code)
    reg = np.column_stack([m.to_numpy(), np.full(len(index), np.nan)])
    if model == "market_adjusted":
        return _Design(reg, np.zeros((n, 0), int), code, False, missing, own=own)
    return _Design(reg, code[:, None], None, True, missing, own=own)


# --------------------------------------------------------------------------------------------- event arrays
@dataclass
class _Plan:
    """Per-event integer arrays and window geometry shared by the chunk kernel and the aggregations."""

    cal: _Calendar
    design: _Design
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


def _structural_reasons(cal: _Calendar, design: _Design, asset: np.ndarray, k0: np.ndarray, est: tuple,
                        evt: tuple, cars: tuple, overlap: str) -> np.ndarray:
    """Reasons decidable from positions alone: absent asset, no benchmark column, CAR span outside data, overlap."""
    reason = np.zeros(asset.size, dtype=np.int8)
    if design.own is not None:
        reason[design.own] = _SELF
    reason[(reason == 0) & (asset < 0)] = _ASSET
    reason[(reason == 0) & design.missing] = _BENCH
    count = np.where(asset >= 0, cal.counts[np.maximum(asset, 0)], 0)
    lo, hi = min(w[0] for w in cars), max(w[1] for w in cars)
    reason[(reason == 0) & ((k0 >= count) | (k0 + lo < 0) | (k0 + hi >= count))] = _WINDOW
    if overlap == "drop":
        hits = _overlap_counts(asset, k0, count, est, evt)
        reason[(reason == 0) & (hits > 0)] = _OVERLAP
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


def _clusters(ev: pd.DataFrame, cal: _Calendar) -> np.ndarray:
    """Date-cluster code of each event: the 'cluster' column if present, else the (grid-floored) timestamp."""
    if "cluster" in ev:
        return pd.factorize(ev["cluster"].astype(str))[0]
    ts = _floor_to_grid(cal.index, pd.DatetimeIndex(ev["timestamp"]))
    return pd.factorize(ts.asi8)[0]


@dataclass
class _Layout:
    """Dense (cluster, calendar row) cells for one clustering of the events (code -1 = not clustered)."""

    code: np.ndarray              # (n_events,) cluster code
    lo: np.ndarray                # (n_clusters,) first calendar row of the cluster's estimation windows
    base: np.ndarray              # (n_clusters,) first cell of the cluster
    pairs: _estats.PairCorr


def _layout(plan: _Plan, code: np.ndarray, live: np.ndarray) -> _Layout:
    """Cell layout of the live events' estimation windows, cluster by cluster."""
    ncl = int(code.max(initial=-1)) + 1
    live = live[code[live] >= 0]
    a, k = plan.asset[live], plan.k0[live]
    last = plan.cal.counts[a] - 1
    lo_row = plan.cal.row_at(a, np.clip(k + plan.est_rels[0], 0, last))
    hi_row = plan.cal.row_at(a, np.clip(k + plan.est_rels[-1], 0, last))
    lo = np.full(ncl, np.iinfo(np.int64).max)
    hi = np.full(ncl, -1, dtype=np.int64)
    np.minimum.at(lo, code[live], lo_row)
    np.maximum.at(hi, code[live], np.maximum(hi_row, lo_row))
    lo = np.where(hi >= 0, lo, 0)
    span = np.where(hi >= 0, hi - lo + 1, 0)
    base = np.concatenate([[0], np.cumsum(span)[:-1]]).astype(np.int64)
    return _Layout(code, lo, base, _estats.PairCorr(np.repeat(np.arange(ncl), span), ncl))


def _fold(layouts: tuple[_Layout, _Layout], combo_cluster: np.ndarray) -> None:
    """Add the (named group, cluster) cells into the cluster cells of the same calendar rows (the chunk loop
    accumulates each event in one layout only; the cluster layout covers every event)."""
    cl, cb = layouts
    combo = cb.pairs.cell_cluster
    if combo.size == 0:
        return
    row = cb.lo[combo] + np.arange(combo.size) - cb.base[combo]
    dest = combo_cluster[combo]
    cl.pairs.absorb(cb.pairs, cl.base[dest] + row - cl.lo[dest], combo_cluster)


def _rbar(layouts: tuple[_Layout, _Layout], combo_group: np.ndarray, member: np.ndarray) -> np.ndarray:
    """Mean pairwise residual correlation per group over all its n(n-1) ordered pairs (cross-cluster = 0)."""
    n = member.sum(axis=0).astype(float)
    sums = np.concatenate([[layouts[0].pairs.pair_sums().sum()],
                           np.bincount(combo_group, weights=layouts[1].pairs.pair_sums(),
                                       minlength=member.shape[1])[1:]])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1, sums / (n * (n - 1)), np.nan)


# -------------------------------------------------------------------------------------------- chunk kernel
def _chunk(plan: _Plan, sel: np.ndarray) -> dict[str, np.ndarray]:
    """Fit, abnormal returns, CARs and rank/correlation inputs for the events ``sel`` (indices), all at once.

    One gather over the combined window (estimation periods, then event periods); the estimation residuals
    and the event-window ARs are written side by side into one (n, T + L) matrix that is ranked once. When
    every cell of the chunk is valid (the common case), the masking passes are skipped.
    """
    a, k, cal, des = plan.asset[sel], plan.k0[sel], plan.cal, plan.design
    n_est = plan.est_rels.size
    rows, ok = cal.gather(a, k, plan.rels)
    xs, off, mask = des.x(rows, sel, ok)
    y = cal.take(a, rows)
    full = bool(mask.all())
    mask_s, valid_e = mask[:, :n_est], mask[:, n_est:]
    m_s = None if full else mask_s.astype(float)
    with np.errstate(invalid="ignore"):
        y_s = y[:, :n_est] - off[:, :n_est] if off is not None else y[:, :n_est]
    x_s = [x[:, :n_est] for x in xs]
    if not full:
        y_s, x_s = np.where(mask_s, y_s, 0.0), [np.where(mask_s, x, 0.0) for x in x_s]
    comb = np.empty(rows.shape)   # [estimation residuals | event-window ARs]
    fitted = _estats.fit(y_s, x_s, m_s, des.intercept, out=comb[:, :n_est])
    x_e = [x[:, n_est:] for x in xs]
    normal = _normal(x_e, off[:, n_est:] if off is not None else None, fitted["beta"], des.intercept,
                     plan.evt_rels.size)
    y_e = y[:, n_est:] if full else np.where(valid_e, y[:, n_est:], np.nan)
    if not full:
        normal = np.where(valid_e, normal, np.nan)
    ar = np.subtract(y_e, normal, out=comb[:, n_est:])
    resid = fitted["resid"]
    out = {"reason": _fit_reasons(plan, valid_e, fitted), "rows": rows[:, n_est:], "valid": valid_e, "ret": y_e,
           "normal": normal, "ar": ar, "s2": fitted["s2"], "dof": fitted["dof"], "T": fitted["T"],
           "pos_frac": np.count_nonzero(resid > 0, axis=1) / np.maximum(fitted["T"], 1)}
    out.update(_abnormal(plan, out, x_e if full else [np.where(valid_e, x, 0.0) for x in x_e], fitted,
                         des.intercept, full))
    out["U"] = _estats.uniform_ranks(comb, None if full else mask)
    out.update(resid=resid, m_s=m_s, mask=None if full else mask, rows_s=rows[:, :n_est])
    return out


def _fit_reasons(plan: _Plan, valid_e: np.ndarray, fitted: dict) -> np.ndarray:
    """Drop reasons known after the fit: benchmark gap in the CAR span, too few observations, singular X'X."""
    reason = np.zeros(valid_e.shape[0], dtype=np.int8)
    reason[~valid_e[:, plan.span].all(axis=1)] = _BENCH
    reason[(reason == 0) & (fitted["T"] < plan.min_estimation)] = _FEW
    reason[(reason == 0) & fitted["singular"]] = _SINGULAR
    return reason


def _normal(x_e: list[np.ndarray], off: np.ndarray | None, beta: np.ndarray, intercept: bool,
            l_evt: int) -> np.ndarray:
    """Normal returns ``offset + [1, x] @ beta`` on the event window: (n, L)."""
    lin = np.zeros((beta.shape[0], l_evt))
    if intercept:
        lin += beta[:, :1]
    for j, x in enumerate(x_e, start=int(intercept)):
        lin += x * beta[:, j:j + 1]
    return lin if off is None else off + lin


def _standardized(x: np.ndarray, var: np.ndarray) -> np.ndarray:
    """``x / sqrt(var)``, with 0 for an exact fit (x = 0 and var = 0, e.g. an asset regressed on itself) rather
    than 0/0: such an event shows no abnormal return (its rounding-level residuals used to give 0 the same way)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = x / np.sqrt(var)
    out[(x == 0) & (var == 0)] = 0.0
    return out


def _wsum(a: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Window sums (n, L) x (W, L) -> (n, W). einsum, not BLAS: BLAS threads thrash on a busy machine."""
    return np.einsum("nt,wt->nw", a, windows)


def _abnormal(plan: _Plan, out: dict, x_e: list[np.ndarray], fitted: dict, intercept: bool,
              full: bool) -> dict[str, np.ndarray]:
    """SAR, CAR, Var(CAR) (prediction-error corrected) and BHAR per event and CAR window.

    ``x_e`` holds the event-window regressors with 0 in the invalid cells."""
    s2, inv, valid, w = fitted["s2"], fitted["inv"], out["valid"], plan.windows
    with np.errstate(invalid="ignore", divide="ignore"):
        sar = _standardized(out["ar"], s2[:, None] * (1.0 + _estats.leverage(x_e, inv, intercept)))
        car = _wsum(out["ar"] if full else np.where(valid, out["ar"], 0.0), w)
        var_car = _estats.car_variance(s2, x_e, inv, intercept, w)
        grow_r = np.exp(_wsum(np.log1p(out["ret"] if full else np.where(valid, out["ret"], 0.0)), w))
        grow_n = np.exp(_wsum(np.log1p(out["normal"] if full else np.where(valid, out["normal"], 0.0)), w))
    return {"sar": sar, "car": car, "var_car": var_car, "bhar": grow_r - grow_n}


@dataclass
class _Sums:
    """Group-level accumulators filled chunk by chunk (groups x relative periods)."""

    u_sum: np.ndarray             # Corrado: sum of U over events, combined window
    u_cnt: np.ndarray
    e_sum: np.ndarray             # estimation-window residual sums (AAR series for the bootstrap)
    e_cnt: np.ndarray
    layouts: tuple[_Layout, _Layout]   # clustering for group "all" and for (named group, cluster) pairs

    def add(self, out: dict, member: np.ndarray, sel: np.ndarray) -> None:
        """Add the kept events ``sel`` of one chunk; ``member`` (n, G) is their group membership."""
        m = member.astype(float)             # (n, G): group sums as small einsum contractions
        n_est = self.e_sum.shape[1]
        self.u_sum += np.einsum("ng,nt->gt", m, out["U"])
        self.e_sum += np.einsum("ng,nt->gt", m, out["resid"])
        if out["mask"] is None:
            cnt = m.sum(axis=0)[:, None]
        else:
            cnt = np.einsum("ng,nt->gt", m, out["mask"].astype(float))
        self.u_cnt += cnt
        self.e_cnt += cnt[:, :n_est]
        z = _estats.standardize(out["resid"], out["m_s"], out["T"])
        zz = np.einsum("nt,nt->n", z, z)
        named = self.layouts[1].code[sel] >= 0   # events of a named group go to (group, cluster) cells only;
        for lay, these in zip(self.layouts, (~named, named)):  # _rbar folds those into the cluster cells
            if these.all():
                these = slice(None)
            elif not these.any():
                continue
            code = lay.code[sel[these]]
            flat = out["rows_s"][these] + (lay.base - lay.lo)[code][:, None]
            if out["m_s"] is not None:
                flat[out["m_s"][these] == 0] = lay.pairs.cell_cluster.size  # the spare (dropped) cell
            t_obs = out["T"][these]
            run = (t_obs == n_est) & (flat[:, -1] - flat[:, 0] == n_est - 1)  # all valid, consecutive rows
            lay.pairs.add(z[these], flat, zz[these], t_obs, code, run)


# ------------------------------------------------------------------------------------------------- statistics
def _test_rows(car: np.ndarray, scar: np.ndarray, dof: np.ndarray, pos: np.ndarray, rbar: float,
               corrado: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """All six tests for one group: {test: (statistic (W,), p-value (W,))} from its events' CAR/SCAR given
    window by window, (W, n) (rows are contiguous: fast reductions)."""
    n = car.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # groups with 0 or 1 event give NaN statistics
        t_cs = car.mean(axis=1) / (car.std(axis=1, ddof=1) / np.sqrt(n))
        patell = scar.sum(axis=1) / np.sqrt((dof / (dof - 2.0)).sum())
        bmp = scar.mean(axis=1) / (scar.std(axis=1, ddof=1) / np.sqrt(n))
        kp = bmp * np.sqrt((1.0 - rbar) / (1.0 + (n - 1) * rbar))
        p_hat = pos.mean()
        sign = (np.count_nonzero(car > 0, axis=1) - n * p_hat) / np.sqrt(n * p_hat * (1.0 - p_hat))
    df = max(n - 1, 1)
    t2, z2 = _estats.two_sided_t, _estats.two_sided_norm
    return {"t_cs": (t_cs, t2(t_cs, df)), "patell": (patell, z2(patell)), "bmp": (bmp, t2(bmp, df)),
            "kp": (kp, t2(kp, df)), "corrado": (corrado, z2(corrado)), "gen_sign": (sign, z2(sign))}


def _corrado(u_sum: np.ndarray, u_cnt: np.ndarray, n_est: int, windows: np.ndarray) -> np.ndarray:
    """Multi-period Corrado rank statistic per CAR window for one group (see module docstring)."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ubar = np.where(u_cnt > 0, u_sum / u_cnt, np.nan)
        s_u = np.sqrt(np.nanmean(ubar ** 2))
        evt = np.nan_to_num(ubar[n_est:])
        return (windows @ evt) / (np.sqrt(windows.sum(axis=1)) * s_u)


def _bootstrap(e_aar: np.ndarray, caar: np.ndarray, lengths: np.ndarray, n_boot: int, block: int,
               alpha: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Basic moving-block bootstrap CI of CAAR per window from the estimation-window AAR series."""
    lo, hi = np.full(caar.size, np.nan), np.full(caar.size, np.nan)
    if n_boot == 0:
        return lo, hi
    for w, length in enumerate(lengths):
        sums = _estats.block_bootstrap_sums(e_aar, int(length), n_boot, block, rng)
        if np.isfinite(sums).all():
            q_lo, q_hi = np.quantile(sums, [alpha / 2.0, 1.0 - alpha / 2.0])
            lo[w], hi[w] = caar[w] - q_hi, caar[w] - q_lo
    return lo, hi


def _window_label(w: tuple[int, int]) -> str:
    def f(x: int) -> str:
        return "0" if x == 0 else f"{x:+d}"
    return f"[{f(w[0])},{f(w[1])}]"


# ------------------------------------------------------------------------------------------------------ frames
def _event_columns(ev: pd.DataFrame, kept: np.ndarray, repeats: int | np.ndarray) -> dict[str, object]:
    """event_id, asset and group of the kept events, each repeated ``repeats`` times (fresh arrays).

    pandas infers the column dtypes once, on the events (as a frame built from the repeated object arrays
    would, at 20x the cost); object columns are then passed as object Series so that no second inference runs.
    """
    small = pd.DataFrame({c: ev[c].to_numpy()[kept] for c in ("event_id", "asset", "group")})
    take = np.repeat(np.arange(kept.size), repeats)
    return {c: pd.Series(col.to_numpy().take(take), dtype=object, copy=False) if col.dtype == object
            else col.array.take(take) for c, col in small.items()}


def _frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """DataFrame over freshly built column arrays without the consolidation copy (every array is our own)."""
    return pd.DataFrame(columns, copy=False)


def _ar_frame(ev: pd.DataFrame, kept: np.ndarray, res: dict, plan: _Plan) -> pd.DataFrame:
    valid = res["valid"]
    if valid.all():  # every event-window cell exists: plain reshapes
        cols = _event_columns(ev, kept, valid.shape[1])
        cols.update(rel=np.tile(plan.evt_rels, valid.shape[0]), timestamp=plan.cal.index.take(res["rows"].ravel()))
        cols.update({k: res[k].ravel() for k in ("ret", "normal", "ar", "sar")})
        return _frame(cols)
    e, j = np.nonzero(valid)
    cols = _event_columns(ev, kept, np.count_nonzero(valid, axis=1))
    cols.update(rel=plan.evt_rels[j], timestamp=plan.cal.index.take(res["rows"][e, j]))
    cols.update({k: res[k][e, j] for k in ("ret", "normal", "ar", "sar")})
    return _frame(cols)


def _car_frame(ev: pd.DataFrame, kept: np.ndarray, res: dict, plan: _Plan, cars: tuple) -> pd.DataFrame:
    n, n_w = res["car"].shape
    first = np.array([np.flatnonzero(plan.evt_rels == w[0])[0] for w in cars])
    last = np.array([np.flatnonzero(plan.evt_rels == w[1])[0] for w in cars])
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(res["var_car"])
        scar = _standardized(res["car"], res["var_car"])
    idx = plan.cal.index
    cols = _event_columns(ev, kept, n_w)
    cols.update({
        "window": np.tile(np.array([_window_label(w) for w in cars], dtype=object), n),
        "start": idx.take(res["rows"][:, first].ravel()), "end": idx.take(res["rows"][:, last].ravel()),
        "car": res["car"].ravel(), "car_se": se.ravel(), "scar": scar.ravel(), "t": scar.ravel().copy(),
        "p": _estats.two_sided_t(scar, res["dof"][:, None]).ravel(), "bhar": res["bhar"].ravel()})
    return _frame(cols)


def _group_frames(res: dict, member: np.ndarray, groups: list[str], sums: _Sums, plan: _Plan, cars: tuple,
                  params: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """AAR, CAAR (with bootstrap CI) and statistics frames, one block per group."""
    labels = [_window_label(w) for w in cars]
    rbar = [params["rbar"][g] for g in groups]
    rng = np.random.default_rng(params["seed"])
    aar_rows, caar_rows, stat_rows = [], [], []
    aar_sum, aar_cnt = _group_sums(res["ar"], res["valid"], member)
    with np.errstate(invalid="ignore", divide="ignore"):
        car_t = np.ascontiguousarray(res["car"].T)                  # (W, n): window by window
        scar_t = _standardized(car_t, res["var_car"].T)
    for g, name in enumerate(groups):
        sel = member[:, g]
        n = int(sel.sum())
        cnt = aar_cnt[g]
        aar = np.where(cnt > 0, aar_sum[g] / np.maximum(cnt, 1), np.nan)
        aar_rows.append(pd.DataFrame({"group": name, "rel": plan.evt_rels, "aar": aar,
                                      "caar": np.nancumsum(aar), "n": cnt}))
        car_g = car_t[:, sel]
        caar = car_g.mean(axis=1) if n else np.full(len(cars), np.nan)
        e_aar = np.where(sums.e_cnt[g] > 0, sums.e_sum[g] / np.maximum(sums.e_cnt[g], 1), np.nan)
        lo, hi = _bootstrap(e_aar, caar, plan.windows.sum(axis=1), params["n_boot"], params["block"],
                            params["alpha"], rng)
        caar_rows.append(pd.DataFrame({"group": name, "window": labels, "caar": caar, "n": n,
                                       "boot_lo": lo, "boot_hi": hi}))
        corr = _corrado(sums.u_sum[g], sums.u_cnt[g], plan.est_rels.size, plan.windows)
        tests = _test_rows(car_g, scar_t[:, sel], res["dof"][sel], res["pos_frac"][sel], rbar[g], corr)
        for test, (stat, pval) in tests.items():
            stat_rows.append(pd.DataFrame({"group": name, "window": labels, "test": test, "statistic": stat,
                                           "p_value": pval, "n": n}))
    return (pd.concat(aar_rows, ignore_index=True), pd.concat(caar_rows, ignore_index=True),
            pd.concat(stat_rows, ignore_index=True))


def _group_sums(ar: np.ndarray, valid: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per group and relative period: sum of the valid ARs (G, L) and their count (G, L, int64)."""
    m = member.astype(float)
    if valid.all():
        return np.einsum("ng,nt->gt", m, ar), np.repeat(member.sum(axis=0)[:, None], ar.shape[1], axis=1)
    cnt = np.rint(np.einsum("ng,nt->gt", m, valid.astype(float))).astype(np.int64)
    return np.einsum("ng,nt->gt", m, np.where(valid, ar, 0.0)), cnt


# -------------------------------------------------------------------------------------------------------- API
def event_study(returns: pd.DataFrame, events: pd.DataFrame, market: pd.DataFrame | pd.Series | None = None,
                benchmark: str | Mapping[str, str] | None = None, factors: pd.DataFrame | None = None,
                model: str = "market", estimation_window: Sequence[int] = (-250, -11),
                event_window: Sequence[int] = (-10, 10),
                car_windows: Sequence[Sequence[int]] = ((0, 0), (0, 1), (-1, 1), (0, 5), (-5, 10)),
                min_estimation: int = 60, n_boot: int = 1000, block: int = 5, seed: int = 0,
                alpha: float = 0.05, overlap: str = "drop") -> EventStudyResult:
    """Abnormal returns, CAR/BHAR, AAR/CAAR and test statistics for a table of events.

    Parameters
    ----------
    returns : DataFrame indexed by a sorted unique DatetimeIndex (UTC; naive = UTC), one column per asset id,
        simple returns; NaN = no trading period of that asset on that row.
    events : DataFrame with columns event_id (unique), asset, timestamp; optional group, benchmark (a column
        of ``market``) and cluster (date-cluster label for the Kolari-Pynnonen correlation).
    market : benchmark returns (DataFrame, or a Series for one benchmark) on the same kind of index; required
        for model "market" and "market_adjusted".
    benchmark : market column for every event (str) or per asset ({asset: column}); used where events has no
        benchmark value. Not needed when ``market`` has one column.
    factors : factor returns (DataFrame) for model "factor" (regressors besides the intercept).
    model : "constant_mean" | "market_adjusted" | "market" | "factor".
    estimation_window, event_window : inclusive relative periods in each asset's own trading periods.
    car_windows : windows (inside event_window) for CAR, BHAR, CAAR and the statistics.
    min_estimation : fewer valid estimation observations drop the event.
    n_boot, block, seed, alpha : moving-block bootstrap of CAAR (n_boot=0 skips it); CI level 1 - alpha.
    overlap : "drop" (default) or "keep" events whose estimation window meets another event of the same asset.

    Returns
    -------
    EventStudyResult
        Tidy frames keyed on event_id; group "all" always present. See the module docstring for the rules.
    """
    est, evt, cars = _check_windows(estimation_window, event_window, car_windows)
    ev = _check_events(events)
    n_fac = factors.shape[1] if isinstance(factors, pd.DataFrame) and model == "factor" else 0
    _check_scalars(model, overlap, int(min_estimation), est, int(n_boot), int(block), float(alpha), n_fac)
    if not isinstance(returns, pd.DataFrame):
        raise EventStudyError(f"returns must be a DataFrame (rows: timestamps, columns: assets), "
                              f"got {type(returns).__name__}")
    params = {"model": model, "estimation_window": est, "event_window": evt, "car_windows": cars,
              "min_estimation": int(min_estimation), "n_boot": int(n_boot), "block": int(block),
              "seed": seed, "alpha": float(alpha), "overlap": overlap}
    cal = _Calendar.build(returns, _utc_index(returns, "returns"))
    plan = _make_plan(cal, ev, _design(model, ev, cal.index, market, benchmark, factors), est, evt, cars,
                      overlap, int(min_estimation))
    return _run(plan, ev, cars, params)


def _make_plan(cal: _Calendar, ev: pd.DataFrame, design: _Design, est: tuple, evt: tuple, cars: tuple,
               overlap: str, min_estimation: int) -> _Plan:
    asset = cal.columns.get_indexer(ev["asset"].to_numpy())
    k0 = np.where(asset >= 0, cal.anchor(np.maximum(asset, 0), pd.DatetimeIndex(ev["timestamp"])), 0)
    reason = _structural_reasons(cal, design, asset, k0, est, evt, cars, overlap)
    evt_rels = np.arange(evt[0], evt[1] + 1)
    windows = np.array([(evt_rels >= w[0]) & (evt_rels <= w[1]) for w in cars], dtype=float)
    span = windows.any(axis=0)
    span = (evt_rels >= evt_rels[span].min()) & (evt_rels <= evt_rels[span].max())
    return _Plan(cal, design, asset, k0, reason, np.arange(est[0], est[1] + 1), evt_rels, windows, span,
                 min_estimation)


def _run(plan: _Plan, ev: pd.DataFrame, cars: tuple, params: dict) -> EventStudyResult:
    """Chunk loop over the live events, then the tidy frames."""
    groups = ["all"] + sorted(set(ev["group"]) - {"all"})
    member = np.column_stack([np.ones(len(ev), bool)] + [(ev["group"] == g).to_numpy() for g in groups[1:]])
    cluster = _clusters(ev, plan.cal)
    live = np.flatnonzero(plan.reason == 0)
    named = ev["group"].to_numpy() != "all"
    combo, _ = pd.factorize(pd.Series(ev["group"].to_numpy() + "\x00" + cluster.astype(str)).where(named))
    combo_group = np.zeros(int(combo.max(initial=-1)) + 1, dtype=int)
    gidx = pd.Index(groups).get_indexer(ev["group"])
    combo_group[combo[named]] = gidx[named]
    combo_cluster = np.zeros_like(combo_group)
    combo_cluster[combo[named]] = cluster[named]
    layouts = (_layout(plan, cluster, live), _layout(plan, combo, live))
    n_comb, n_est = plan.est_rels.size + plan.evt_rels.size, plan.est_rels.size
    sums = _Sums(np.zeros((len(groups), n_comb)), np.zeros((len(groups), n_comb)), np.zeros((len(groups), n_est)),
                 np.zeros((len(groups), n_est)), layouts)
    res = _allocate(live.size, plan.evt_rels.size, len(cars))
    keep = np.zeros(live.size, dtype=bool)
    for start in range(0, live.size, _CHUNK):
        sel = live[start:start + _CHUNK]
        out = _chunk(plan, sel)
        plan.reason[sel] = out["reason"]
        ok = out["reason"] == 0
        keep[start:start + sel.size] = ok
        for k, v in res.items():
            v[start:start + sel.size] = out[k]
        if not ok.all():
            out = {k: (out[k][ok] if out[k] is not None else None) for k in ("U", "mask", "resid", "m_s", "T",
                                                                            "rows_s")}
        sums.add(out, member[sel[ok]], sel[ok])
    if not keep.all():
        res = {k: v[keep] for k, v in res.items()}
    kept = live[keep]  # ascending, like ``live``
    _fold(layouts, combo_cluster)
    params = {**params, "rbar": dict(zip(groups, _rbar(layouts, combo_group, member[kept]).tolist()))}
    return _result(plan, ev, kept, res, member[kept], groups, sums, cars, params)


def _allocate(n: int, l_evt: int, n_w: int) -> dict[str, np.ndarray]:
    """Per-event output arrays for ``n`` live events, filled chunk by chunk."""
    res = {"rows": np.zeros((n, l_evt), np.int32), "valid": np.zeros((n, l_evt), bool)}
    res.update({k: np.empty((n, l_evt)) for k in ("ret", "normal", "ar", "sar")})
    res.update({k: np.empty((n, n_w)) for k in ("car", "var_car", "bhar")})
    res.update({k: np.empty(n) for k in ("s2", "dof", "pos_frac")})
    return res


def _result(plan: _Plan, ev: pd.DataFrame, kept: np.ndarray, res: dict, member: np.ndarray, groups: list[str],
            sums: _Sums, cars: tuple, params: dict) -> EventStudyResult:
    dropped = ev.loc[plan.reason != 0, ["event_id", "asset"]].assign(
        reason=np.asarray(REASONS, dtype=object)[plan.reason[plan.reason != 0]]).reset_index(drop=True)
    if len(dropped):
        counts = dropped["reason"].value_counts()
        log.warning("event_study: dropped %d of %d events (%s)", len(dropped), len(ev),
                    "; ".join(f"{r}: {c}" for r, c in counts.items()))
    aar, caar, stats = _group_frames(res, member, groups, sums, plan, cars, params)
    ts = _floor_to_grid(plan.cal.index, pd.DatetimeIndex(ev["timestamp"]))[kept]
    day0 = res["rows"][:, int(np.flatnonzero(plan.evt_rels == 0)[0])] if 0 in plan.evt_rels else None
    moved = int((plan.cal.index[day0] != ts).sum()) if day0 is not None else 0
    if moved:
        log.info("event_study: %d kept events fell on a non-trading period of their asset and were anchored to "
                 "its next trading period", moved)
    params = {**params, "n_events": len(ev), "n_kept": int(kept.size), "groups": groups,
              "n_anchored_later": moved}
    return EventStudyResult(_ar_frame(ev, kept, res, plan), _car_frame(ev, kept, res, plan, cars), aar, caar,
                            stats, dropped, params)
