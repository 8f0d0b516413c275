"""Trading calendars of the assets of a returns panel, for :mod:`capflow.eventstudy` (private).

Each asset's trading periods are its own finite rows; every event window is counted in them. See the
conventions in the module docstring of :mod:`capflow.eventstudy`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from capflow._es_common import EventStudyError

_BLOCK = 256   # assets per block when scanning the panel (bounds the temporary boolean arrays)


def utc_index(frame: pd.DataFrame | pd.Series, name: str) -> pd.DatetimeIndex:
    """The frame's index as a sorted, unique UTC DatetimeIndex in ns (naive = UTC)."""
    idx = frame.index
    if not isinstance(idx, pd.DatetimeIndex):
        raise EventStudyError(f"{name} must be indexed by timestamps (DatetimeIndex), got {type(idx).__name__}")
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    if not (idx.is_monotonic_increasing and idx.is_unique):
        raise EventStudyError(f"{name} index must be sorted and unique; use .sort_index() and drop duplicates")
    return idx.as_unit("ns")


@dataclass
class Calendar:
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
    exclude: np.ndarray | None = None  # (n_rows, n_assets) bool: never in an estimation sample (None: nothing)

    @classmethod
    def build(cls, returns: pd.DataFrame, index: pd.DatetimeIndex) -> "Calendar":
        """Column sums flag the assets with a non-finite row (one pass over the panel); only those are scanned
        row by row, block of assets by block, for their runs of trading rows."""
        if not returns.columns.is_unique:
            raise EventStudyError("returns has duplicate column names; use one column per asset id")
        values = returns.to_numpy(dtype=float)  # a view of one float block: C or F order, never copied again
        if not (values.flags.c_contiguous or values.flags.f_contiguous):
            values = np.ascontiguousarray(values)
        n_rows, n_assets = values.shape
        counts = np.full(n_assets, n_rows, dtype=np.int64)
        start = np.zeros(n_assets, dtype=np.int64)
        gapped = np.zeros(n_assets, dtype=bool)
        parts = []
        with np.errstate(over="ignore", invalid="ignore"):
            suspect = np.flatnonzero(~np.isfinite(values.sum(axis=0)))  # a finite column sum: every row finite
        for j in range(0, suspect.size, _BLOCK):
            cols = suspect[j:j + _BLOCK]
            valid = np.isfinite(values[:, cols])               # (n_rows, k) for the suspect columns only
            some = np.flatnonzero(~valid.all(axis=0))          # (a finite column can overflow its sum)
            if some.size:
                some_cols = cols[some]
                sub = valid[:, some]
                cnt, first, gap = _runs(sub)
                counts[some_cols], start[some_cols], gapped[some_cols] = cnt, first, gap
                if gap.any():
                    parts.append(np.nonzero(sub[:, gap].T)[1].astype(np.int32))
        rows = np.concatenate(parts) if parts else np.zeros(0, np.int32)
        offsets = np.concatenate([[0], np.cumsum(np.where(gapped, counts, 0))[:-1]]).astype(np.int64)
        return cls(index, values, counts, start, gapped, offsets, rows, returns.columns)

    def anchor(self, asset: np.ndarray, ts: pd.DatetimeIndex) -> np.ndarray:
        """Local position (in the asset's own trading rows) of relative period 0 for each event."""
        r0 = np.searchsorted(self.index.asi8, floor_to_grid(self.index, ts).asi8, side="left")
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
        rows of absent periods are 0. Events of unbroken-run assets whose periods all exist (the common case)
        take one pass: ``start + k0 + rel``."""
        if rels.size and not self.gapped[asset].any():
            inside = (k0 + rels.min() >= 0) & (k0 + rels.max() < self.counts[asset])
            if inside.all():
                return (self.start[asset] + k0)[:, None] + rels[None, :], np.ones((k0.size, rels.size), bool)
        local = k0[:, None] + rels[None, :]
        ok = local >= 0
        ok &= local < self.counts[asset][:, None]
        rows = self.row_at(asset, local)
        if not ok.all():
            rows[~ok] = 0
        return rows, ok

    def excluded(self, asset: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
        """Whether each (event, calendar row) cell is excluded from estimation (None when nothing is)."""
        if self.exclude is None:
            return None
        return self.exclude[rows, asset[:, None]]

    def take(self, asset: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Returns (n, L) of each event's asset at calendar ``rows`` (read only where the asset trades: other
        cells may hold NaN or +-inf)."""
        s_row, s_asset = (st // self.values.itemsize for st in self.values.strides)
        flat = np.multiply(rows, s_row, dtype=np.int64)  # int64: rows may be int32
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


def floor_to_grid(index: pd.DatetimeIndex, ts: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Floor event timestamps to the index grid when the index is regular (see the eventstudy docstring)."""
    if len(index) < 2:
        return ts
    step = int(np.diff(index.asi8).min())
    if step <= 0 or np.any(index.asi8 % step):
        return ts
    return pd.DatetimeIndex(ts.asi8 - ts.asi8 % step, tz="UTC")
