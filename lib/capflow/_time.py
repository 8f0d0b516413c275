"""Time helpers shared by every layer: parse user dates into UTC timestamps with one-line errors."""

from __future__ import annotations

import pandas as pd


def utc_timestamp(value: object, name: str, error: type[Exception] = ValueError) -> pd.Timestamp:
    """Parse ``value`` as a UTC timestamp (naive values are taken as UTC).

    Parameters
    ----------
    value : date-like
        ``"2024-01-02"``, a ``datetime``, a ``Timestamp``...
    name : str
        Parameter name for the error message.
    error : type of Exception
        The error class to raise (each layer raises its own ``ValueError`` subclass).

    Raises
    ------
    error
        ``parameter start='x' is not a date; use ISO format such as 2024-01-02``.
    """
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        ts = pd.NaT
    if ts is pd.NaT:
        raise error(f"parameter {name}={value!r} is not a date; use ISO format such as 2024-01-02")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
