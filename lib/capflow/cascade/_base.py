"""Shared names of the cascade package: the error class and small helpers."""

from __future__ import annotations

import pandas as pd

from capflow.calendars import utc_timestamp


class CascadeError(ValueError):
    """Bad input to a cascade function; the one-line message names the parameter and what is valid."""


def _ts(value: object, name: str) -> pd.Timestamp:
    return utc_timestamp(value, name, CascadeError)


def _check_frame(df: pd.DataFrame, name: str) -> None:
    if not isinstance(df, pd.DataFrame) or not isinstance(df.index, pd.DatetimeIndex):
        raise CascadeError(f"parameter {name}: expected a DataFrame indexed by UTC timestamps (one column per asset)")
    if df.index.tz is None:
        raise CascadeError(f"parameter {name}: index is timezone-naive; localize it to UTC (df.tz_localize('UTC'))")
    if not df.index.is_monotonic_increasing:
        raise CascadeError(f"parameter {name}: index is not sorted; sort it (df.sort_index())")
