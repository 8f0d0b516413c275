"""Time helpers shared by every layer: parse user dates into UTC timestamps with one-line errors."""

from __future__ import annotations

from functools import lru_cache

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


#: First year of the exchange calendars built by default. Building XKRX costs about a second of lunar-calendar
#: arithmetic, so every module shares one calendar per exchange (see :func:`exchange_calendar`).
CALENDAR_FIRST_YEAR = 2020


@lru_cache(maxsize=16)
def _build_calendar(code: str, first_year: int, last_year: int):
    import exchange_calendars as xcals

    return xcals.get_calendar(code, start=f"{first_year}-01-01", end=f"{last_year}-12-31")


def exchange_calendar(code: str, start: object = None, end: object = None, error: type[Exception] = ValueError):
    """The shared, cached ``exchange_calendars`` calendar of an exchange, covering ``start``..``end``.

    All callers get the same instance (2020 to next year) unless they ask for dates outside it, so an exchange's
    calendar is built once per process.

    Parameters
    ----------
    code : str
        exchange_calendars code (``XNYS``, ``XKRX``...).
    start, end : date-like, optional
        Dates the calendar must cover.
    error : type of Exception
        Error class for an unknown code.
    """
    first, last = CALENDAR_FIRST_YEAR, pd.Timestamp.now(tz="UTC").year + 1
    if start is not None and not pd.isna(start):
        first = min(first, utc_timestamp(start, "start", error).year - 2)
    if end is not None and not pd.isna(end):
        last = max(last, utc_timestamp(end, "end", error).year + 1)
    from exchange_calendars.errors import InvalidCalendarName

    try:
        return _build_calendar(str(code), first, last)
    except InvalidCalendarName:
        raise error(f"parameter calendar={code!r} is not an exchange_calendars code; use e.g. 'XNYS', 'XKRX'") from None
