"""Raw moves around a crash, beside the abnormal ones: what each asset actually did.

Definitions (per asset, on its own bars; day 0 is the bar holding the event by :func:`capflow.calendars.anchor`)
-----------------------------------------------------------------------------------------------------------
- ``ret0``: day-0 close-to-close return, with both prices (``prev_close`` -> ``close0``). A 24/7 asset's
  previous close is the one exactly a day earlier (NaN when that bar is missing, never an older close).
- ``open_to_low``: from the day-0 open to the lowest low of day 0 and day +1. Crypto days open at 00:00 UTC, so
  the open is the previous UTC close; the low comes from intraday bars, spot before perpetual (perpetual wicks run
  deeper), the finest available; equities use the sessions' own open and low.
- ``move_5``: the return over the 5 trading periods ending at day 0 (``close0 / close[-5] - 1``).
- ``move_7d``: the return over the 7 calendar days ending at day 0's close (from the last close at or before
  day 0 minus 7 days).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from capflow.cascade._base import CascadeError

MOVE_COLUMNS = ("asset", "day0", "prev_close", "close0", "ret0", "open0", "low", "low_time", "low_source",
                "open_to_low", "move_5", "move_7d")


def _close_moves(p: pd.Series, day0: pd.Timestamp, daily: bool) -> dict:
    """Day-0 close moves; a 24/7 asset (``daily``) compares with the close exactly 1, 5 and 7 days earlier
    (NaN where that bar is missing: a gap never poses as a one-day move), an exchange-traded one with its
    previous sessions."""
    s = p.dropna()
    if day0 not in s.index:
        return {}
    c0 = s.loc[day0]
    if daily:
        prev, c5, c7 = (s.get(day0 - pd.Timedelta(days=k), np.nan) for k in (1, 5, 7))
    else:
        i = s.index.get_loc(day0)
        prev = s.iloc[i - 1] if i >= 1 else np.nan
        c5 = s.iloc[i - 5] if i >= 5 else np.nan
        before = s.loc[:day0 - pd.Timedelta(days=7)]
        c7 = before.iloc[-1] if len(before) else np.nan
    return {"prev_close": prev, "close0": c0, "ret0": c0 / prev - 1, "move_5": c0 / c5 - 1, "move_7d": c0 / c7 - 1}


def _intraday_low(lows: Mapping[str, pd.DataFrame], asset: str, lo: pd.Timestamp, hi: pd.Timestamp):
    """Lowest low in [lo, hi) from the first frame (in the mapping's order) holding bars of the asset there."""
    for tag, frame in lows.items():
        if asset not in frame.columns:
            continue
        w = frame[asset].loc[(frame.index >= lo) & (frame.index < hi)].dropna()
        if len(w):
            return float(w.min()), w.idxmin(), tag
    return np.nan, pd.NaT, ""


def raw_moves(close: pd.DataFrame, day0: Mapping[str, pd.Timestamp], intraday_lows: Mapping[str, pd.DataFrame],
              session_open: pd.DataFrame | None = None, session_low: pd.DataFrame | None = None,
              crypto: set[str] | None = None) -> pd.DataFrame:
    """Raw moves of every asset around its day 0 (see the module docstring for the definitions).

    Parameters
    ----------
    close : DataFrame
        Daily closes (UTC index labelled by date or session, one column per asset id; NaN = no bar).
    day0 : mapping
        Asset id -> its day-0 label.
    intraday_lows : mapping
        ``{label: wide frame of intraday lows}`` in order of preference (e.g. ``{"spot 4h": ..., "perp 1h": ...}``).
    session_open, session_low : DataFrame, optional
        Daily open and low of exchange-traded assets (same index as ``close``).
    crypto : set of str, optional
        Asset ids that trade 24/7 (their open is the previous UTC close and their low comes from intraday bars).

    Returns
    -------
    DataFrame
        :data:`MOVE_COLUMNS`, one row per asset of ``day0`` (NaN where the data lack a value).
    """
    if not isinstance(close, pd.DataFrame) or not isinstance(close.index, pd.DatetimeIndex):
        raise CascadeError("parameter close must be a DataFrame of daily closes indexed by UTC dates")
    crypto = crypto or set()
    rows = []
    for asset, d0 in day0.items():
        row = {"asset": asset, "day0": d0}
        if asset in close.columns:
            row.update(_close_moves(close[asset], d0, asset in crypto))
        if asset in crypto:
            row["open0"] = row.get("prev_close", np.nan)
            low, when, tag = _intraday_low(intraday_lows, asset, d0, d0 + pd.Timedelta(days=2))
            row.update(low=low, low_time=when, low_source=tag)
        elif session_open is not None and session_low is not None and asset in session_low.columns:
            o, lw = session_open[asset].dropna(), session_low[asset].dropna()
            row["open0"] = o.get(d0, np.nan)
            after = lw.loc[d0:].iloc[:2]
            if len(after):
                row.update(low=float(after.min()), low_time=after.idxmin(), low_source="session low")
        if pd.notna(row.get("open0")) and pd.notna(row.get("low")):
            row["open_to_low"] = row["low"] / row["open0"] - 1
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=list(MOVE_COLUMNS))
