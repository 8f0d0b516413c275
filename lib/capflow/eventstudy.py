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
           "estimation overlaps event window", "too few estimation obs", "degenerate estimation regressors")
_ASSET, _BENCH, _WINDOW, _OVERLAP, _FEW, _SINGULAR = range(1, 7)
_CHUNK = 2048


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
    """Each asset's trading rows, concatenated: ``rows[offsets[j]:offsets[j] + counts[j]]`` for asset j."""

    index: pd.DatetimeIndex
    values: np.ndarray            # (n_rows, n_assets) returns, NaN = no trading period
    rows: np.ndarray
    offsets: np.ndarray
    counts: np.ndarray
    columns: pd.Index

    @classmethod
    def build(cls, returns: pd.DataFrame, index: pd.DatetimeIndex) -> "_Calendar":
        if not returns.columns.is_unique:
            raise EventStudyError("returns has duplicate column names; use one column per asset id")
        values = returns.to_numpy(dtype=float)
        if np.isinf(values).any():
            values = np.where(np.isfinite(values), values, np.nan)
        n_rows, n_assets = values.shape
        counts = np.zeros(n_assets, dtype=np.int64)
        parts = []
        for j in range(0, n_assets, 256):  # asset blocks bound the temporary index arrays
            valid = ~np.isnan(values[:, j:j + 256].T)
            counts[j:j + 256] = valid.sum(axis=1)
            parts.append((np.flatnonzero(valid) % n_rows).astype(np.int32))
        rows = np.concatenate(parts) if parts else np.zeros(0, np.int32)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        return cls(index, values, rows, offsets, counts, returns.columns)

    def anchor(self, asset: np.ndarray, ts: pd.DatetimeIndex) -> np.ndarray:
        """Local position (in the asset's own trading rows) of relative period 0 for each event."""
        r0 = np.searchsorted(self.index.asi8, _floor_to_grid(self.index, ts).asi8, side="left")
        k0 = np.zeros(asset.size, dtype=np.int64)
        order = np.argsort(asset, kind="stable")
        bounds = np.flatnonzero(np.diff(asset[order])) + 1
        for sel in np.split(order, bounds):  # one searchsorted per asset (not per event)
            if sel.size:
                a = asset[sel[0]]
                k0[sel] = np.searchsorted(self.rows[self.offsets[a]:self.offsets[a] + self.counts[a]], r0[sel])
        return k0

    def gather(self, asset: np.ndarray, k0: np.ndarray, rels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calendar rows (n, L) of relative periods ``rels`` and whether each exists (inside the asset's data)."""
        local = k0[:, None] + rels[None, :]
        ok = (local >= 0) & (local < self.counts[asset][:, None])
        flat = self.offsets[asset][:, None] + np.clip(local, 0, None)
        flat = np.minimum(flat, self.rows.size - 1)
        return np.where(ok, self.rows[flat], 0), ok


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

    @property
    def n_par(self) -> int:
        return self.cols.shape[1] + int(self.intercept)

    def x(self, rows: np.ndarray, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Design (n, L, p), offset (n, L) and all-regressors-present mask (n, L) at calendar ``rows``."""
        xs = self.reg[rows[:, :, None], self.cols[sel][:, None, :]]
        off = self.reg[rows, self.offset[sel][:, None]] if self.offset is not None else np.zeros(rows.shape)
        finite = np.isfinite(xs).all(axis=2) & np.isfinite(off)
        if self.intercept:
            xs = np.concatenate([np.ones(rows.shape + (1,)), xs], axis=2)
        return np.where(finite[:, :, None], xs, 0.0), np.where(finite, off, 0.0), finite


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
    code = m.columns.get_indexer(_benchmark_names(ev, m, benchmark).to_numpy())
    missing = code < 0
    code = np.where(missing, m.shape[1], code)
    reg = np.column_stack([m.to_numpy(), np.full(len(index), np.nan)])
    if model == "market_adjusted":
        return _Design(reg, np.zeros((n, 0), int), code, False, missing)
    return _Design(reg, code[:, None], None, True, missing)


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


def _structural_reasons(cal: _Calendar, design: _Design, asset: np.ndarray, k0: np.ndarray, est: tuple,
                        evt: tuple, cars: tuple, overlap: str) -> np.ndarray:
    """Reasons decidable from positions alone: absent asset, no benchmark column, CAR span outside data, overlap."""
    reason = np.zeros(asset.size, dtype=np.int8)
    reason[asset < 0] = _ASSET
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

    def cells(self, sel: np.ndarray, rows_s: np.ndarray) -> np.ndarray:
        code = self.code[sel]
        return self.base[code][:, None] + rows_s - self.lo[code][:, None]


def _layout(plan: _Plan, code: np.ndarray, live: np.ndarray) -> _Layout:
    """Cell layout of the live events' estimation windows, cluster by cluster."""
    ncl = int(code.max(initial=-1)) + 1
    live = live[code[live] >= 0]
    a, k = plan.asset[live], plan.k0[live]
    last = plan.cal.offsets[a] + plan.cal.counts[a] - 1
    first_flat = np.clip(plan.cal.offsets[a] + k + plan.est_rels[0], plan.cal.offsets[a], last)
    last_flat = np.clip(plan.cal.offsets[a] + k + plan.est_rels[-1], plan.cal.offsets[a], last)
    lo_row, hi_row = plan.cal.rows[first_flat], plan.cal.rows[last_flat]
    lo = np.full(ncl, np.iinfo(np.int64).max)
    hi = np.full(ncl, -1, dtype=np.int64)
    np.minimum.at(lo, code[live], lo_row)
    np.maximum.at(hi, code[live], np.maximum(hi_row, lo_row))
    lo = np.where(hi >= 0, lo, 0)
    span = np.where(hi >= 0, hi - lo + 1, 0)
    base = np.concatenate([[0], np.cumsum(span)[:-1]]).astype(np.int64)
    return _Layout(code, lo, base, _estats.PairCorr(np.repeat(np.arange(ncl), span), ncl))


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
    """Fit, abnormal returns, CARs and rank/correlation inputs for the events ``sel`` (indices), all at once."""
    a, k, cal = plan.asset[sel], plan.k0[sel], plan.cal
    rows_e, ok_e = cal.gather(a, k, plan.evt_rels)
    x_e, off_e, fin_e = plan.design.x(rows_e, sel)
    valid_e = ok_e & fin_e
    rows_s, ok_s = cal.gather(a, k, plan.est_rels)
    x_s, off_s, fin_s = plan.design.x(rows_s, sel)
    y_s = np.nan_to_num(cal.values[rows_s, a[:, None]])
    mask_s = ok_s & fin_s
    fitted = _estats.fit(y_s - off_s, x_s, mask_s)
    reason = np.zeros(sel.size, dtype=np.int8)
    reason[~valid_e[:, plan.span].all(axis=1)] = _BENCH
    reason[(reason == 0) & (fitted["T"] < plan.min_estimation)] = _FEW
    reason[(reason == 0) & fitted["singular"]] = _SINGULAR
    y_e = np.where(valid_e, cal.values[rows_e, a[:, None]], np.nan)
    normal = np.where(valid_e, off_e + np.einsum("ntp,np->nt", x_e, fitted["beta"]), np.nan)
    out = {"reason": reason, "rows": rows_e, "valid": valid_e, "ret": y_e, "normal": normal, "ar": y_e - normal,
           "s2": fitted["s2"], "dof": fitted["dof"]}
    out.update(_abnormal(plan, out, x_e, fitted))
    resid = fitted["resid"]
    out["pos_frac"] = ((resid > 0) & mask_s).sum(axis=1) / np.maximum(fitted["T"], 1)
    out["U"] = _estats.uniform_ranks(np.concatenate([resid, out["ar"]], axis=1),
                                     np.concatenate([mask_s, valid_e], axis=1))
    out.update(resid=resid, mask_s=mask_s, rows_s=rows_s)
    return out


def _abnormal(plan: _Plan, out: dict, x_e: np.ndarray, fitted: dict) -> dict[str, np.ndarray]:
    """SAR, CAR, Var(CAR) (prediction-error corrected) and BHAR per event and CAR window."""
    s2, inv = fitted["s2"], fitted["inv"]
    with np.errstate(invalid="ignore", divide="ignore"):
        sar = out["ar"] / np.sqrt(s2[:, None] * (1.0 + _estats.leverage(x_e, inv)))
        ar0 = np.where(out["valid"], out["ar"], 0.0)
        car = ar0 @ plan.windows.T
        var_car = _estats.car_variance(s2, x_e, inv, plan.windows)
        grow_r = np.exp(np.log1p(np.where(out["valid"], out["ret"], 0.0)) @ plan.windows.T)
        grow_n = np.exp(np.log1p(np.where(out["valid"], out["normal"], 0.0)) @ plan.windows.T)
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
        m = member.astype(float)
        n_est = out["mask_s"].shape[1]
        self.u_sum += (out["U"].T @ m).T        # (A.T @ m).T: BLAS-friendly shape for a skinny m
        est_cnt = (out["mask_s"].astype(float).T @ m).T
        self.u_cnt[:, :n_est] += est_cnt
        self.u_cnt[:, n_est:] += (out["valid"].astype(float).T @ m).T
        self.e_sum += (out["resid"].T @ m).T
        self.e_cnt += est_cnt
        z = _estats.standardize(out["resid"], out["mask_s"])
        for lay in self.layouts:
            ok = lay.code[sel] >= 0
            if ok.all():
                cell = np.where(out["mask_s"], lay.cells(sel, out["rows_s"]), 0)
                lay.pairs.add(z, out["mask_s"], cell, lay.code[sel])
            elif ok.any():
                cell = np.where(out["mask_s"][ok], lay.cells(sel[ok], out["rows_s"][ok]), 0)
                lay.pairs.add(z[ok], out["mask_s"][ok], cell, lay.code[sel[ok]])


# ------------------------------------------------------------------------------------------------- statistics
def _test_rows(car: np.ndarray, scar: np.ndarray, dof: np.ndarray, pos: np.ndarray, rbar: float,
               corrado: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """All six tests for one group: {test: (statistic (W,), p-value (W,))} from its events' (n, W) CAR/SCAR."""
    n = car.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # groups with 0 or 1 event give NaN statistics
        t_cs = car.mean(axis=0) / (car.std(axis=0, ddof=1) / np.sqrt(n))
        patell = scar.sum(axis=0) / np.sqrt((dof / (dof - 2.0)).sum())
        bmp = scar.mean(axis=0) / (scar.std(axis=0, ddof=1) / np.sqrt(n))
        kp = bmp * np.sqrt((1.0 - rbar) / (1.0 + (n - 1) * rbar))
        p_hat = pos.mean()
        sign = ((car > 0).sum(axis=0) - n * p_hat) / np.sqrt(n * p_hat * (1.0 - p_hat))
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
def _ar_frame(ev: pd.DataFrame, kept: np.ndarray, res: dict, plan: _Plan) -> pd.DataFrame:
    e, j = np.nonzero(res["valid"])
    src = kept[e]
    return pd.DataFrame({
        "event_id": ev["event_id"].to_numpy()[src], "asset": ev["asset"].to_numpy()[src],
        "group": ev["group"].to_numpy()[src], "rel": plan.evt_rels[j],
        "timestamp": plan.cal.index[res["rows"][e, j]], "ret": res["ret"][e, j],
        "normal": res["normal"][e, j], "ar": res["ar"][e, j], "sar": res["sar"][e, j]})


def _car_frame(ev: pd.DataFrame, kept: np.ndarray, res: dict, plan: _Plan, cars: tuple) -> pd.DataFrame:
    n, n_w = res["car"].shape
    first = np.array([np.flatnonzero(plan.evt_rels == w[0])[0] for w in cars])
    last = np.array([np.flatnonzero(plan.evt_rels == w[1])[0] for w in cars])
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(res["var_car"])
        scar = res["car"] / se
    src = np.repeat(kept, n_w)
    idx = plan.cal.index
    return pd.DataFrame({
        "event_id": ev["event_id"].to_numpy()[src], "asset": ev["asset"].to_numpy()[src],
        "group": ev["group"].to_numpy()[src], "window": np.tile([_window_label(w) for w in cars], n),
        "start": idx[res["rows"][:, first].ravel()], "end": idx[res["rows"][:, last].ravel()],
        "car": res["car"].ravel(), "car_se": se.ravel(), "scar": scar.ravel(), "t": scar.ravel(),
        "p": _estats.two_sided_t(scar, res["dof"][:, None]).ravel(), "bhar": res["bhar"].ravel()})


def _group_frames(res: dict, member: np.ndarray, groups: list[str], sums: _Sums, plan: _Plan, cars: tuple,
                  params: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """AAR, CAAR (with bootstrap CI) and statistics frames, one block per group."""
    labels = [_window_label(w) for w in cars]
    rbar = [params["rbar"][g] for g in groups]
    rng = np.random.default_rng(params["seed"])
    aar_rows, caar_rows, stat_rows = [], [], []
    with np.errstate(invalid="ignore", divide="ignore"):
        scar = res["car"] / np.sqrt(res["var_car"])
    for g, name in enumerate(groups):
        sel = member[:, g]
        n = int(sel.sum())
        cnt = res["valid"][sel].sum(axis=0)
        aar = np.where(cnt > 0, np.where(res["valid"][sel], res["ar"][sel], 0.0).sum(axis=0) / np.maximum(cnt, 1),
                       np.nan)
        aar_rows.append(pd.DataFrame({"group": name, "rel": plan.evt_rels, "aar": aar,
                                      "caar": np.nancumsum(aar), "n": cnt}))
        caar = res["car"][sel].mean(axis=0) if n else np.full(len(cars), np.nan)
        e_aar = np.where(sums.e_cnt[g] > 0, sums.e_sum[g] / np.maximum(sums.e_cnt[g], 1), np.nan)
        lo, hi = _bootstrap(e_aar, caar, plan.windows.sum(axis=1), params["n_boot"], params["block"],
                            params["alpha"], rng)
        caar_rows.append(pd.DataFrame({"group": name, "window": labels, "caar": caar, "n": n,
                                       "boot_lo": lo, "boot_hi": hi}))
        corr = _corrado(sums.u_sum[g], sums.u_cnt[g], plan.est_rels.size, plan.windows)
        tests = _test_rows(res["car"][sel], scar[sel], res["dof"][sel], res["pos_frac"][sel], rbar[g], corr)
        for test, (stat, pval) in tests.items():
            stat_rows.append(pd.DataFrame({"group": name, "window": labels, "test": test, "statistic": stat,
                                           "p_value": pval, "n": n}))
    return (pd.concat(aar_rows, ignore_index=True), pd.concat(caar_rows, ignore_index=True),
            pd.concat(stat_rows, ignore_index=True))


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
    layouts = (_layout(plan, cluster, live), _layout(plan, combo, live))
    n_comb, n_est = plan.est_rels.size + plan.evt_rels.size, plan.est_rels.size
    sums = _Sums(np.zeros((len(groups), n_comb)), np.zeros((len(groups), n_comb)), np.zeros((len(groups), n_est)),
                 np.zeros((len(groups), n_est)), layouts)
    keys = ("rows", "valid", "ret", "normal", "ar", "sar", "car", "var_car", "bhar", "s2", "dof", "pos_frac")
    parts: dict[str, list] = {k: [] for k in keys}
    kept_parts = []
    for start in range(0, live.size, _CHUNK):
        sel = live[start:start + _CHUNK]
        out = _chunk(plan, sel)
        plan.reason[sel] = out["reason"]
        ok = out["reason"] == 0
        sub = {k: v[ok] for k, v in out.items() if k not in ("reason",)}
        sums.add(sub, member[sel[ok]], sel[ok])
        for k in keys:
            parts[k].append(sub[k])
        kept_parts.append(sel[ok])
    kept = np.concatenate(kept_parts) if kept_parts else np.zeros(0, int)
    res = _stack(parts, plan, len(cars))
    params = {**params, "rbar": dict(zip(groups, _rbar(layouts, combo_group, member[kept]).tolist()))}
    return _result(plan, ev, kept, res, member[kept], groups, sums, cars, params)


def _stack(parts: dict[str, list], plan: _Plan, n_w: int) -> dict[str, np.ndarray]:
    """Concatenate chunk outputs (empty arrays of the right shape when nothing survived)."""
    l_evt = plan.evt_rels.size
    empty = {"rows": (0, l_evt), "valid": (0, l_evt), "car": (0, n_w), "var_car": (0, n_w), "bhar": (0, n_w)}
    res = {}
    for k, v in parts.items():
        if v:
            res[k] = np.concatenate(v)
        else:
            res[k] = np.zeros(empty.get(k, (0, l_evt) if k in ("ret", "normal", "ar", "sar") else (0,)),
                              dtype=bool if k == "valid" else (int if k == "rows" else float))
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
    order = np.argsort(kept, kind="stable")
    res = {k: v[order] for k, v in res.items()}
    kept = kept[order]
    return EventStudyResult(_ar_frame(ev, kept, res, plan), _car_frame(ev, kept, res, plan, cars), aar, caar,
                            stats, dropped, params)
