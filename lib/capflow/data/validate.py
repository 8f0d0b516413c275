"""Validation of market data at ingestion: every value entering capflow is numeric, finite and plausible.

Applied to every source before anything is cached or served: the snapshot files (:mod:`capflow.data.snapshot`),
live answers (:mod:`capflow.data.resolve`) and, as a last guard, every cache write (:mod:`capflow.data.cache`).
A bad value is refused with one line naming the source, the asset, the file (when there is one), the column, the
row and the value; nothing invalid reaches the cache.

Rules
-----
- price columns (``price``, ``open``, ``high``, ``low``, ``close``, ``adj_close``, ``price_usd``): finite, > 0;
- size columns (``volume``, ``market_cap``, ``*_usd`` totals, ``open_interest_usd``, liquidations): finite, >= 0;
- rate columns (``funding_rate``): finite (any sign);
- missing values (NaN) are allowed: a value no source gave is a gap, never a zero.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

PRICE_COLUMNS: frozenset[str] = frozenset({"price", "open", "high", "low", "close", "adj_close", "price_usd"})
SIZE_COLUMNS: frozenset[str] = frozenset({"volume", "market_cap", "volume_usd", "market_cap_usd",
                                          "open_interest_usd", "long_liquidations_usd", "short_liquidations_usd"})
RATE_COLUMNS: frozenset[str] = frozenset({"funding_rate"})


class InvalidDataError(ValueError):
    """A value that cannot be a price, size or rate (non-numeric, infinite, negative...); one line."""


def _where(source: str, asset: str | None, file: str | None) -> str:
    parts = [f"source {source}"] + ([f"asset {asset}"] if asset else []) + ([f"file {file}"] if file else [])
    return ", ".join(parts)


def _row_label(frame: pd.DataFrame, pos: int, line_offset: int | None, key_col: str | None = None) -> str:
    label = frame.index[pos]
    key = f" ({key_col} {frame[key_col].iloc[pos]})" if key_col and key_col in frame.columns else ""
    if line_offset is not None:
        return f"line {pos + line_offset}{key}"
    return f"row {label.isoformat() if hasattr(label, 'isoformat') else label}{key}"


def numeric_column(frame: pd.DataFrame, col: str, where: str, line_offset: int | None = None,
                   key_col: str | None = None) -> pd.Series:
    """``frame[col]`` as float; raise on the first value that is not a number (blank cells are NaN)."""
    values = frame[col]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    num = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(num.isna().to_numpy() & values.notna().to_numpy()
                         & (values.astype("string").str.strip().fillna("") != "").to_numpy())
    if len(bad):
        i = int(bad[0])
        raise InvalidDataError(f"{where}: column {col!r} {_row_label(frame, i, line_offset, key_col)} holds "
                               f"{values.iloc[i]!r}, not a number ({len(bad)} such value(s))")
    return num.astype(float)


def check_values(frame: pd.DataFrame, source: str, asset: str | None = None, file: str | None = None,
                 columns: Iterable[str] | None = None, line_offset: int | None = None,
                 key_col: str | None = None) -> pd.DataFrame:
    """Check the known numeric columns of ``frame``; return it with those columns as float.

    Parameters
    ----------
    frame : DataFrame
        Rows of one source (any index; a DatetimeIndex names rows by timestamp).
    source, asset, file : str
        What the message names.
    columns : iterable of str, optional
        Columns to check (default: every column named in the module rules).
    line_offset : int, optional
        For files: the file line of positional row 0 (2 for a CSV with one header line), to name lines.
    key_col : str, optional
        A column naming the asset of each row in a long file (``asset``, ``ticker``), quoted with the row.

    Raises
    ------
    InvalidDataError
        The first non-numeric, infinite, non-positive price or negative size, with its row and value.
    """
    where = _where(source, asset, file)
    cols = [c for c in (columns or frame.columns) if c in PRICE_COLUMNS | SIZE_COLUMNS | RATE_COLUMNS]
    if not cols:
        return frame
    out = frame.copy() if any(not pd.api.types.is_float_dtype(frame[c]) for c in cols) else frame
    for col in cols:
        x = numeric_column(frame, col, where, line_offset, key_col)
        v = x.to_numpy()
        with np.errstate(invalid="ignore"):
            bad = np.isinf(v) | ((v <= 0) if col in PRICE_COLUMNS else (v < 0) if col in SIZE_COLUMNS else False)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            rule = "a positive, finite price" if col in PRICE_COLUMNS else (
                "a finite amount >= 0" if col in SIZE_COLUMNS else "a finite rate")
            raise InvalidDataError(f"{where}: column {col!r} {_row_label(frame, i, line_offset, key_col)} holds {float(v[i])!r}; "
                                   f"expected {rule} ({int(bad.sum())} such value(s)); refused, nothing cached")
        if out is not frame:
            out[col] = x
    return out
