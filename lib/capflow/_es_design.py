"""Normal-return models of :mod:`capflow.eventstudy`: benchmark/factor regressors on the returns index (private).

``normal = offset + [1, x] @ beta``: constant mean (intercept only), market-adjusted (offset = benchmark, no
estimated parameter), market model (intercept + benchmark), factor model (intercept + factors) and the Dimson
(1979) lead/lag market model (intercept + benchmark at t - L .. t + L in the asset's own trading periods in the
estimation window; in the event window every lag column holds the benchmark at t, so the normal return is
``alpha + (sum of the slopes) * m_t``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from capflow._es_calendar import utc_index
from capflow._es_common import EventStudyError

Shifted = Callable[[int], tuple[np.ndarray, np.ndarray]]   # lag j -> estimation rows (n, T) and whether they exist


@dataclass
class Design:
    """Normal-return regressors on the returns index: ``normal = offset + [1, reg[:, cols]] @ beta``."""

    reg: np.ndarray               # (n_rows, n_cols + 1): last column all NaN (= no benchmark)
    cols: np.ndarray              # (n_events, k) regressor columns of each event
    offset: np.ndarray | None     # (n_events,) column used as the normal return itself (market-adjusted)
    intercept: bool
    missing: np.ndarray           # (n_events,) no benchmark column for the event
    own: np.ndarray | None = None  # (n_events,) the benchmark column is the event's asset itself
    lags: int = 0                 # Dimson leads and lags (0: no lagged regressors)
    names: list[str] = field(default_factory=list)   # coefficient names, intercept first
    _reg_t: np.ndarray | None = None
    _finite: np.ndarray | None = None

    @property
    def n_par(self) -> int:
        return self.n_reg + int(self.intercept)

    @property
    def n_reg(self) -> int:
        """Number of slope regressors (2 L + 1 for the Dimson model)."""
        return self.cols.shape[1] * (2 * self.lags + 1)

    @property
    def finite(self) -> np.ndarray:
        """(n_cols + 1,) bool: the regressor column has a value on every row of the index."""
        if self._finite is None:
            self._finite = np.isfinite(self.reg).all(axis=0)
        return self._finite

    @property
    def reg_t(self) -> np.ndarray:
        if self._reg_t is None:
            self._reg_t = np.ascontiguousarray(self.reg.T)
        return self._reg_t

    def _take(self, code: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Column ``code[i]`` of ``reg`` at ``rows[i]``: (n, L)."""
        if code.size and (code == code[0]).all():  # one benchmark for the whole chunk
            return self.reg_t[code[0]].take(rows)
        return self.reg_t.ravel().take((code * self.reg.shape[0])[:, None] + rows)

    def x(self, rows: np.ndarray, sel: np.ndarray, ok: np.ndarray, n_est: int,
          shifted: Shifted | None = None) -> tuple[list[np.ndarray], np.ndarray | None, np.ndarray]:
        """Regressors (list of (n, L), NaN kept), offset (n, L) or None, and ``ok`` & all-present (n, L).

        ``rows`` covers the combined window (``n_est`` estimation periods, then the event window); ``shifted``
        gives the estimation rows of lag j (Dimson model only)."""
        xs = [self._take(self.cols[sel, j], rows) for j in range(self.cols.shape[1])]
        off = self._take(self.offset[sel], rows) if self.offset is not None else None
        valid = ok.copy()
        codes = [self.cols[sel, j] for j in range(self.cols.shape[1])]
        codes += [self.offset[sel]] if self.offset is not None else []
        for v, code in zip(xs + ([off] if off is not None else []), codes):
            if not self.finite[code].all():      # a regressor column with no missing value needs no check
                valid &= np.isfinite(v)
        if self.lags:
            xs = self._lagged(xs[0], sel, n_est, shifted, valid)
        return xs, off, valid

    def _lagged(self, m: np.ndarray, sel: np.ndarray, n_est: int, shifted: Shifted,
                valid: np.ndarray) -> list[np.ndarray]:
        """Dimson columns m(t-L) .. m(t+L) on the estimation periods, m(t) on the event window; updates
        ``valid`` (an estimation period needs every lag)."""
        code = self.cols[sel, 0]
        out = []
        for j in range(-self.lags, self.lags + 1):
            if j == 0:
                out.append(m)
                continue
            rows_j, ok_j = shifted(j)
            x = m.copy()
            est = self._take(code, rows_j)
            est[~ok_j] = np.nan
            x[:, :n_est] = est
            valid[:, :n_est] &= np.isfinite(est)
            out.append(x)
        return out


def aligned(frame: pd.DataFrame | pd.Series, index: pd.DatetimeIndex, name: str) -> pd.DataFrame:
    """``frame`` (Series: one column) reindexed on the returns index, float."""
    if isinstance(frame, pd.Series):
        frame = frame.to_frame(frame.name if frame.name is not None else "market")
    if not isinstance(frame, pd.DataFrame):
        raise EventStudyError(f"{name} must be a DataFrame or Series of returns, got {type(frame).__name__}")
    out = frame.copy()
    out.index = utc_index(frame, name)
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


def _same_name(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise ``str(a) == str(b)``; string columns are compared as they are (no conversion pass)."""
    if pd.api.types.infer_dtype(a, skipna=False) == "string" and pd.api.types.infer_dtype(b, skipna=False) == "string":
        return np.asarray(a == b, dtype=bool)
    return a.astype(str) == b.astype(str)


def design(model: str, ev: pd.DataFrame, index: pd.DatetimeIndex, market, benchmark, factors,
           lags: int = 0) -> Design:
    """The :class:`Design` of ``model`` for the events ``ev`` (see the module docstring)."""
    n = len(ev)
    if model == "constant_mean":
        return Design(np.full((len(index), 1), np.nan), np.zeros((n, 0), int), None, True, np.zeros(n, bool),
                      names=["alpha"])
    if model == "factor":
        if factors is None:
            raise EventStudyError("factors is required for model='factor'; pass a DataFrame of factor returns")
        f = aligned(factors, index, "factors")
        reg = np.column_stack([f.to_numpy(), np.full(len(index), np.nan)])
        cols = np.tile(np.arange(f.shape[1]), (n, 1))
        return Design(reg, cols, None, True, np.zeros(n, bool), names=["alpha"] + [f"beta_{c}" for c in f.columns])
    if market is None:
        raise EventStudyError(f"market is required for model={model!r}; pass benchmark returns (DataFrame or "
                              "Series) or use model='constant_mean'")
    m = aligned(market, index, "market")
    names = _benchmark_names(ev, m, benchmark).to_numpy()
    own = _same_name(names, ev["asset"].to_numpy())
    code = m.columns.get_indexer(names)
    missing = code < 0
    code = np.where(missing, m.shape[1], code)
    reg = np.column_stack([m.to_numpy(), np.full(len(index), np.nan)])
    if model == "market_adjusted":
        return Design(reg, np.zeros((n, 0), int), code, False, missing, own=own)
    if model == "dimson":
        lag_names = [f"beta_lag{j:+d}" if j else "beta_lag0" for j in range(-lags, lags + 1)]
        return Design(reg, code[:, None], None, True, missing, own=own, lags=lags, names=["alpha"] + lag_names)
    return Design(reg, code[:, None], None, True, missing, own=own, names=["alpha", "beta"])
