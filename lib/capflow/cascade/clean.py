"""What a cascade event study must clean before it estimates: the event hour, contaminated estimation days,
series on another clock, and confounding events inside the event window.

Rules (stated in every report's method section)
-----------------------------------------------
- **Event hour**: the catalog's sourced ``event_time_utc`` when it has one; otherwise the bar of BTC's largest
  one-bar fall on that UTC day, from the finest BTC bars the data hold (hourly, else 4-hourly): the start of that
  bar is hour 0 (:func:`event_hour_from_prices`).
- **Clean estimation windows**: the days of other catalogued cascades (± ``pad`` days) and, for the groups a study
  names, the capex-release sessions are removed from estimation samples (:func:`exclusion_days`,
  :func:`exclusion_frame`, passed to the engine as ``estimation_exclude``): the observation leaves the fit, no
  window moves, and the event window is never touched.
- **One clock per series**: a daily series whose estimation or event window holds a value that is not a close of
  the UTC day (a ``cg_snap_*`` intraday snapshot) is dropped as "mixed clock" (:func:`mixed_clock`).
- **Confounders**: catalogued capex releases and other cascades inside an asset's event window are listed per
  asset (:func:`confounders`); a study parameter can drop those assets.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from capflow.cascade._base import CascadeError, _ts
from capflow.data.snapshot import clock_of


# ----------------------------------------------------------------------------------------------- event hour
def event_hour_from_prices(close: pd.Series, date: object) -> tuple[pd.Timestamp, float]:
    """The start of the bar with the largest one-bar fall (close to close) on a UTC day.

    Parameters
    ----------
    close : Series
        Intraday closes of the reference asset (UTC index, bars labelled by their open time), covering the day
        and the bar before it.
    date : date-like
        The UTC day.

    Returns
    -------
    (Timestamp, float)
        The bar's open time and its return.

    Raises
    ------
    CascadeError
        No bar on that day.
    """
    day = _ts(date, "date").normalize()
    r = close.dropna().pct_change()
    r = r.loc[(r.index >= day) & (r.index < day + pd.Timedelta(days=1))].dropna()
    if r.empty:
        raise CascadeError(f"no intraday bars of {close.name or 'the reference'} on {day.date()} to place the "
                           "event hour; add event_time_utc to the catalog row")
    return r.idxmin(), float(r.min())


# ----------------------------------------------------------------------------------------------- exclusions
def exclusion_days(cascades: Iterable[object], pad: int, skip: object | None = None) -> pd.DatetimeIndex:
    """UTC days within ``pad`` days of each cascade date (``skip``: the studied cascade, left out)."""
    if not isinstance(pad, (int, np.integer)) or pad < 0:
        raise CascadeError(f"parameter exclude_pad={pad!r} must be a whole number of days >= 0, e.g. 2")
    days = []
    skip_day = _ts(skip, "skip").normalize() if skip is not None else None
    for d in cascades:
        d = _ts(d, "cascade").normalize()
        if skip_day is not None and d == skip_day:
            continue
        days.extend(d + pd.Timedelta(days=k) for k in range(-pad, pad + 1))
    return pd.DatetimeIndex(sorted(set(days))) if days else pd.DatetimeIndex([], tz="UTC")


def exclusion_frame(returns: pd.DataFrame, exclude: Mapping[str, pd.DatetimeIndex],
                    event_start: Mapping[str, pd.Timestamp] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The observations to keep out of each asset's estimation sample, never inside its event window.

    Parameters
    ----------
    returns : DataFrame
        Simple returns (UTC index, one column per asset).
    exclude : mapping
        Asset id -> days to exclude (bars whose UTC date is in the set).
    event_start : mapping, optional
        Asset id -> the first bar of its event window (nothing at or after it is listed). None: no cut (several
        events per asset: the engine never applies an exclusion inside an event window anyway).

    Returns
    -------
    (DataFrame, DataFrame)
        A boolean frame on the returns' index and columns for
        :func:`capflow.eventstudy.event_study` (``estimation_exclude``: the observation leaves the fit, the
        calendar keeps it, so no window moves), and one row per excluded observation: ``asset, timestamp``.
    """
    out = pd.DataFrame(False, index=returns.index, columns=returns.columns)
    removed = []
    days = returns.index.normalize()
    for asset, excl in exclude.items():
        if asset not in out.columns or not len(excl) or (event_start is not None and asset not in event_start):
            continue
        hit = days.isin(pd.DatetimeIndex(excl)) & returns[asset].notna().to_numpy()
        if event_start is not None:
            hit &= returns.index < event_start[asset]
        if hit.any():
            out.loc[hit, asset] = True
            removed.append(pd.DataFrame({"asset": asset, "timestamp": returns.index[hit]}))
    table = pd.concat(removed, ignore_index=True) if removed else pd.DataFrame(columns=["asset", "timestamp"])
    return out, table


# ------------------------------------------------------------------------------------------------ clocks
MIXED_CLOCK = "mixed clock: daily values in its windows are intraday snapshots, not UTC closes"

def mixed_clock(sources: pd.DataFrame, windows: Mapping[str, tuple[pd.Timestamp, pd.Timestamp]]) -> dict[str, str]:
    """Assets whose values inside their (estimation start, event end) span are not all closes of the UTC day.

    Parameters
    ----------
    sources : DataFrame
        Per-value source tags (:func:`capflow.data.load_sources`).
    windows : mapping
        Asset id -> (first, last) timestamp of its estimation-through-event span.

    Returns
    -------
    dict
        Asset id -> what was found (``45 of 261 values from 2026-01-02 (cg_snap_zeke)``); the reason is
        :data:`MIXED_CLOCK`.
    """
    out = {}
    for asset, (lo, hi) in windows.items():
        if asset not in sources.columns:
            continue
        tags = sources[asset].loc[lo:hi].dropna().astype(str)
        snap = tags[tags.map(clock_of) == "snapshot"]
        if len(snap):
            out[asset] = (f"{len(snap)} of {len(tags)} values from {snap.index[0]:%Y-%m-%d}, "
                          f"{', '.join(sorted(set(snap)))}")
    return out


# ----------------------------------------------------------------------------------------------- confounders
def confounders(windows: Mapping[str, tuple[pd.Timestamp, pd.Timestamp]], capex: pd.DataFrame,
                cascades: pd.DataFrame, studied: object) -> pd.DataFrame:
    """Catalogued capex releases and other cascades inside each asset's event window.

    Parameters
    ----------
    windows : mapping
        Asset id -> (first, last) bar of its event window.
    capex : DataFrame
        ``asset, timestamp, label`` rows: each capex release anchored on each asset's bars (e.g. ``MSFT Q2 FY26``).
    cascades : DataFrame
        The cascade catalog (``date``).
    studied : date-like
        The studied cascade's date (not a confounder of itself).

    Returns
    -------
    DataFrame
        ``asset, capex_releases, other_cascades, n`` (one row per asset with at least one confounder).
    """
    day0 = _ts(studied, "event_date").normalize()
    others = pd.DatetimeIndex(cascades["date"])
    others = others[others.normalize() != day0]
    rows = []
    for asset, (lo, hi) in windows.items():
        mine = capex.loc[(capex["asset"] == asset) & capex["timestamp"].between(lo, hi)] if len(capex) else capex
        cas = [d for d in others if lo.normalize() <= d <= hi]
        if len(mine) or cas:
            rows.append({"asset": asset,
                         "capex_releases": ", ".join(f"{r.label} ({r.timestamp:%m-%d})" for r in mine.itertuples()),
                         "other_cascades": ", ".join(f"{d:%Y-%m-%d}" for d in cas), "n": len(mine) + len(cas)})
    return pd.DataFrame(rows, columns=["asset", "capex_releases", "other_cascades", "n"])
