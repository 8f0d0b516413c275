"""Time and calendars: UTC parsing, exchange sessions (stored once), and THE event-anchor rule.

Every study places an event on an asset's bars with :func:`anchor`; nothing else decides which bar holds an
event (tested against ``event_study`` and the cascade and capex studies).

The anchor rule
---------------
A return labelled by a bar covers the interval between the previous bar's close and this bar's close; an event
belongs to the bar whose return interval contains it:

- crypto (``24/7``), daily bars labelled by their UTC date (the close at the end of that day): the event's UTC
  date (``2025-10-10 21:00 UTC`` -> ``2025-10-10``). A bare date is that date;
- crypto, hourly bars labelled by their open time: the hour holding the event (``13:30`` -> ``13:00``);
- equities (an exchange calendar), daily bars labelled by the session date: the first session whose close is at
  or after the event. Before the open or during the session: that session; after the close, on a weekend or a
  holiday: the next session (``2024-06-04 23:00 UTC`` for NVDA -> ``2024-06-05``; a 21:00 UTC crash is after the
  New York close; on the Korean exchange, which closes at 06:30 UTC, the same crash lands on the next KRX
  session).

Sessions
--------
``exchange_calendars`` builds a calendar in seconds (XKRX's lunar holidays take ~4 s). :func:`sessions` builds
each calendar once per machine and stores its session dates, opens and closes (a small ``.npz`` keyed by the
calendar code, the library's version and the year range) in :func:`capflow.config.calendar_dir`; later processes
load it in milliseconds without importing the library.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from capflow import config

log = logging.getLogger(__name__)

#: Years covered by the stored calendars unless a caller asks for earlier or later dates.
FIRST_YEAR = 2018
CRYPTO = "24/7"


class CalendarError(ValueError):
    """An unknown calendar code or an unusable date (one line)."""


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


# ------------------------------------------------------------------------------------------------ sessions
@dataclass(frozen=True)
class Sessions:
    """The sessions of one exchange: dates (labels), open and close instants (UTC), sorted.

    Attributes
    ----------
    code : str
        exchange_calendars code (``XNYS``...).
    labels : DatetimeIndex
        Session dates at 00:00 UTC (the label of a daily bar).
    opens, closes : DatetimeIndex
        UTC open and close of each session (DST and early closes included).
    """

    code: str
    labels: pd.DatetimeIndex
    opens: pd.DatetimeIndex
    closes: pd.DatetimeIndex

    def in_range(self, start: object, end: object) -> pd.DatetimeIndex:
        """Session labels with dates in ``[start, end]`` (dates, inclusive)."""
        lo = utc_timestamp(start, "start", CalendarError).normalize()
        hi = utc_timestamp(end, "end", CalendarError).normalize()
        i, j = self.labels.searchsorted(lo, "left"), self.labels.searchsorted(hi, "right")
        return self.labels[i:j]

    def close_of(self, labels: pd.DatetimeIndex) -> pd.DatetimeIndex:
        """Close instants of the given session labels (each must be a session)."""
        pos = self.labels.get_indexer(pd.DatetimeIndex(labels))
        if (pos < 0).any():
            raise CalendarError(f"{self.code}: {pd.DatetimeIndex(labels)[pos < 0][0].date()} is not a session")
        return self.closes[pos]

    def open_of(self, labels: pd.DatetimeIndex) -> pd.DatetimeIndex:
        """Open instants of the given session labels (each must be a session)."""
        pos = self.labels.get_indexer(pd.DatetimeIndex(labels))
        if (pos < 0).any():
            raise CalendarError(f"{self.code}: {pd.DatetimeIndex(labels)[pos < 0][0].date()} is not a session")
        return self.opens[pos]

    def is_session(self, day: object) -> bool:
        """True when the date of ``day`` is a session."""
        return utc_timestamp(day, "day", CalendarError).normalize() in self.labels

    def session_at_or_after(self, moments: pd.DatetimeIndex, by: str = "close") -> pd.DatetimeIndex:
        """For each instant, the label of the first session whose ``by`` (close or open) is at or after it.

        Raises
        ------
        CalendarError
            An instant after the last stored session.
        """
        edge = self.closes if by == "close" else self.opens
        pos = edge.searchsorted(pd.DatetimeIndex(moments), "left")
        if (pos >= len(edge)).any():
            raise CalendarError(f"{self.code}: a time after the last stored session {self.labels[-1].date()}")
        return self.labels[pos]


def _version() -> str:
    try:
        return importlib.metadata.version("exchange_calendars")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


def _store_path(code: str, first: int, last: int) -> Path:
    return config.calendar_dir() / f"{code}-{_version()}-{first}-{last}.npz"


def _build(code: str, first: int, last: int) -> Sessions:
    import exchange_calendars as xcals
    from exchange_calendars.errors import InvalidCalendarName

    try:
        cal = xcals.get_calendar(code, start=f"{first}-01-01", end=f"{last}-12-31")
    except InvalidCalendarName:
        raise CalendarError(f"parameter calendar={code!r} is not an exchange_calendars code; use e.g. 'XNYS', 'XKRX' "
                            f"(or '{CRYPTO}' for crypto)") from None
    labels = pd.DatetimeIndex(cal.sessions).tz_localize(None).tz_localize("UTC")
    opens = pd.DatetimeIndex(cal.opens.loc[cal.sessions])
    closes = pd.DatetimeIndex(cal.closes.loc[cal.sessions])
    utc = (lambda x: x.tz_localize("UTC") if x.tz is None else x.tz_convert("UTC"))
    return Sessions(code, labels.rename(None), utc(opens).rename(None), utc(closes).rename(None))


def _save(path: Path, s: Sessions) -> None:
    """Store atomically (temp file + rename); a read-only folder only costs the next process a rebuild."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, labels=s.labels.asi8, opens=s.opens.asi8, closes=s.closes.asi8)
        os.replace(tmp, path)
    except OSError as exc:
        log.info("could not store calendar %s: %s", path.name, exc)
        with contextlib.suppress(Exception):
            os.unlink(tmp)


def _load(path: Path, code: str) -> Sessions | None:
    try:
        with np.load(path) as z:
            idx = [pd.DatetimeIndex(z[k].astype("datetime64[ns]")).tz_localize("UTC") for k in ("labels", "opens",
                                                                                               "closes")]
    except (OSError, ValueError, KeyError):
        return None
    return Sessions(code, *idx)


@lru_cache(maxsize=16)
def _sessions(code: str, first: int, last: int) -> Sessions:
    path = _store_path(code, first, last)
    got = _load(path, code) if path.is_file() else None
    if got is None:
        got = _build(code, first, last)
        _save(path, got)
    return got


def sessions(code: str, start: object = None, end: object = None) -> Sessions:
    """The stored sessions of an exchange covering ``start``..``end`` (default 2018 to next year).

    Raises
    ------
    CalendarError
        ``code`` is not an exchange_calendars code (``24/7`` has no sessions).
    """
    if code == CRYPTO:
        raise CalendarError(f"calendar {CRYPTO!r} trades every hour; it has no sessions")
    first, last = FIRST_YEAR, pd.Timestamp.now(tz="UTC").year + 1
    if start is not None and not pd.isna(start):
        first = min(first, utc_timestamp(start, "start", CalendarError).year - 1)
    if end is not None and not pd.isna(end):
        last = max(last, utc_timestamp(end, "end", CalendarError).year + 1)
    return _sessions(str(code), first, last)


# ------------------------------------------------------------------------------------------------ the rule
def anchor(times: object, calendar: str, freq: str = "1d") -> pd.DatetimeIndex:
    """The bar label holding each event time on ``calendar`` (see the module docstring for the rule).

    Parameters
    ----------
    times : date-like or sequence of them
        Event instants (naive = UTC).
    calendar : str
        ``24/7`` (crypto) or an exchange code (``XNYS``, ``XKRX``...).
    freq : {"1d", "1h"}
        Bar frequency.

    Returns
    -------
    DatetimeIndex
        UTC bar labels, one per input time.
    """
    single = not isinstance(times, (list, tuple, np.ndarray, pd.Index, pd.Series))
    idx = pd.DatetimeIndex([times] if single else list(times))
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    if freq not in ("1d", "1h"):
        raise CalendarError(f"parameter freq={freq!r} is not supported by the anchor rule; use '1d' or '1h'")
    if calendar == CRYPTO:
        return idx.floor("D" if freq == "1d" else "h")
    sess = sessions(calendar, idx.min(), idx.max())
    if freq == "1d":
        return sess.session_at_or_after(idx, by="close")
    label = sess.session_at_or_after(idx, by="close")
    opens = sess.open_of(label)
    return pd.DatetimeIndex(np.maximum(idx.floor("h").asi8, opens.floor("h").asi8)).tz_localize("UTC")


def anchor_one(time: object, calendar: str, freq: str = "1d") -> pd.Timestamp:
    """:func:`anchor` for one event time."""
    return anchor(time, calendar, freq)[0]
