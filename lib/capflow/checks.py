"""Input checks shared by the library's entry points: one-line errors for wrong types, empty or implausible data.

Bottom layer (beside :mod:`capflow.config` and :mod:`capflow.assets`): every analysis may use it, it imports only
numpy and pandas. Each check raises the caller's own ``ValueError`` subclass (``error=``) with a message naming the
parameter, what was wrong and what is valid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: A daily or hourly simple return below -100% is impossible; one of this size is a price level, not a return.
MAX_ABS_RETURN = 10.0


def check_frame(frame: object, name: str, error: type[Exception] = ValueError, *, allow_series: bool = True,
                datetime_index: bool = True) -> pd.DataFrame:
    """``frame`` as a non-empty DataFrame with a sorted, unique DatetimeIndex (a Series becomes one column).

    Raises
    ------
    error
        Wrong type (None, a number, a list...), no rows or columns, or a bad index.
    """
    if allow_series and isinstance(frame, pd.Series):
        frame = frame.to_frame()
    if not isinstance(frame, pd.DataFrame):
        raise error(f"parameter {name} must be a DataFrame (rows: UTC timestamps, columns: asset ids); got "
                    f"{type(frame).__name__}")
    if frame.empty:
        raise error(f"parameter {name} is empty ({frame.shape[0]} rows x {frame.shape[1]} columns); pass data for "
                    "at least one asset and date")
    if datetime_index:
        if not isinstance(frame.index, pd.DatetimeIndex):
            raise error(f"parameter {name} must be indexed by timestamps (a DatetimeIndex); got "
                        f"{type(frame.index).__name__}")
        if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
            raise error(f"parameter {name} index must be sorted and unique (use sort_index() and drop duplicates)")
    return frame


def _numeric(frame: pd.DataFrame, name: str, error: type[Exception]) -> np.ndarray:
    dtypes = frame.dtypes
    ok = dtypes.map(lambda d: pd.api.types.is_numeric_dtype(d) and not pd.api.types.is_bool_dtype(d)) \
        if dtypes.nunique() > 1 else pd.Series(pd.api.types.is_numeric_dtype(dtypes.iloc[0])
                                               and not pd.api.types.is_bool_dtype(dtypes.iloc[0]), index=dtypes.index)
    if not ok.all():
        bad = ok.index[~ok.to_numpy()][0]
        raise error(f"parameter {name}: column {bad!r} is not numeric ({frame[bad].dtype}); pass numbers")
    return frame.to_numpy(dtype=float)


def check_prices(frame: object, name: str = "prices", error: type[Exception] = ValueError) -> pd.DataFrame:
    """A price frame: :func:`check_frame`, numeric, finite and > 0 where present (NaN = no bar)."""
    frame = check_frame(frame, name, error)
    v = _numeric(frame, name, error)
    with np.errstate(invalid="ignore"):
        bad = np.isinf(v) | (v <= 0)
    if bad.any():
        col = frame.columns[np.flatnonzero(bad.any(axis=0))[0]]
        raise error(f"parameter {name}: column {col!r} has {int(bad.sum())} value(s) that are not positive finite "
                    "prices (<= 0 or infinite); prices must be > 0")
    return frame


#: The level check reads at most this many cells (evenly spaced rows): a median needs no more, and a large panel
#: is never copied whole.
LEVEL_SAMPLE = 200_000


def _sample(v: np.ndarray) -> np.ndarray:
    step = max(1, int(np.ceil(v.size / LEVEL_SAMPLE)))
    rows = v[:: max(1, step // max(v.shape[1], 1) or 1)] if v.ndim == 2 and step > 1 else v
    flat = rows.ravel()
    return flat[:: max(1, int(np.ceil(flat.size / LEVEL_SAMPLE)))]


def looks_like_levels(v: np.ndarray) -> bool:
    """True when values look like price levels rather than returns: their median absolute size is 1 or more
    (a typical daily return is a few percent; one extreme day, +1,000% on a new listing, does not trip it).
    Reads a bounded, evenly spaced sample of the cells."""
    s = _sample(v)
    s = np.abs(s[np.isfinite(s)])
    return bool(s.size) and float(np.median(s)) >= 1.0


def check_returns(frame: object, name: str = "returns", error: type[Exception] = ValueError,
                  strict: bool = True) -> pd.DataFrame:
    """A simple-return frame: :func:`check_frame`, numeric, not price levels; with ``strict`` also finite,
    > -100% and every value below :data:`MAX_ABS_RETURN`.

    Raises
    ------
    error
        Price levels passed as returns (compute them with :func:`capflow.returns.simple_returns`); with
        ``strict``: infinite values, a return <= -100%, or a value as large as a price.
    """
    frame = check_frame(frame, name, error, datetime_index=strict)
    v = _numeric(frame, name, error)
    if looks_like_levels(v):
        s = _sample(v)
        raise error(f"parameter {name}: values have a median size of {np.median(np.abs(s[np.isfinite(s)])):,.4g}: "
                    "these look like price levels, not simple returns; pass capflow.returns.simple_returns(prices)")
    if not strict:
        return frame
    if np.isinf(v).any():
        col = frame.columns[np.flatnonzero(np.isinf(v).any(axis=0))[0]]
        raise error(f"parameter {name}: column {col!r} has infinite values; returns must be finite")
    with np.errstate(invalid="ignore"):
        levels = np.abs(v) >= MAX_ABS_RETURN
        ruin = v <= -1.0
    if levels.any():
        col = frame.columns[np.flatnonzero(levels.any(axis=0))[0]]
        raise error(f"parameter {name}: column {col!r} has values like {np.nanmax(np.abs(v[:, levels.any(axis=0)])):,.4g}"
                    f" (>= {MAX_ABS_RETURN:g}, i.e. {100 * MAX_ABS_RETURN:,.0f}%): these look like price levels, not "
                    "simple returns; pass capflow.returns.simple_returns(prices)")
    if ruin.any():
        col = frame.columns[np.flatnonzero(ruin.any(axis=0))[0]]
        raise error(f"parameter {name}: column {col!r} has a return <= -100%; simple returns must be > -1")
    return frame
