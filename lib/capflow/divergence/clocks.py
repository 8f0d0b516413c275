"""Clocks: which crypto prices are UTC-day closes, where each series' closes end, and the close-only sample.

A crypto daily row is a UTC-day close (Binance, CoinGecko history, monthly CMC) or an intraday snapshot
(``cg_snap_*``, taken around 09:00-18:00 UTC; :func:`capflow.data.snapshot.clock_of`). Daily-return statistics
(rolling correlation, beta, the two-factor decomposition, connectedness) use closes only, so no return runs
from a close to a snapshot:

- every crypto cell whose clock is not ``"close"`` is NaN (:func:`close_only_prices`);
- ``short_series="truncate"`` (default): the statistics end at the crypto benchmark's last UTC close (Bitcoin
  unless absent) or earlier at ``limit`` (the performance end, or the equities' shared last date); every crypto
  series whose closes end earlier is NaN after its own close end (never filled) and leaves its baskets then;
- ``short_series="cut"``: everyone ends at the earliest close end of the crypto columns used (or ``limit``).

The performance table may still end later on an intraday snapshot (a long-horizon cumulative return; the clock
of each end value is shown), see :mod:`capflow.divergence.performance`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from capflow import assets as _assets
from capflow.divergence.sample import DivergenceError, check_choice, utc

#: Values of the ``short_series`` option: what to do with crypto series whose UTC closes end before the benchmark's.
SHORT_SERIES: tuple[str, ...] = ("truncate", "cut")
#: The crypto benchmark whose close clock ends the default ``short_series="truncate"`` sample.
BENCHMARK = "bitcoin"


def clocks_of(sources: pd.DataFrame) -> pd.DataFrame:
    """The clock of every row from its source tag: ``"close"``, ``"snapshot"``, NaN where there is no row.

    Parameters
    ----------
    sources : DataFrame
        UTC DatetimeIndex, one column per crypto asset id, the source tag of each daily row (NaN: no row).
    """
    from capflow.data.snapshot import clock_of

    tags = pd.unique(sources.to_numpy().ravel())
    lookup = {t: clock_of(t) for t in tags if isinstance(t, str)}
    return sources.apply(lambda c: c.map(lookup))


def close_clock_ends(clocks: pd.DataFrame) -> pd.DataFrame:
    """Per column: the last close-clock row before the series turns to snapshots, and the first snapshot.

    Parameters
    ----------
    clocks : DataFrame
        From :func:`clocks_of` (UTC DatetimeIndex, one column per asset, ``"close"``/``"snapshot"``/NaN).

    Returns
    -------
    DataFrame
        Indexed by column: ``close_end`` (the last ``"close"`` row before the column's first snapshot row that
        follows a close; its last close row when it never switches; NaT when it has no close row) and
        ``first_snapshot`` (that first snapshot row after a close, NaT if none). Snapshots before the first
        close (pre-listing) are not a switch.
    """
    is_close = clocks.eq("close").to_numpy(dtype=bool)
    after = clocks.eq("snapshot").to_numpy(dtype=bool) & np.logical_or.accumulate(is_close, axis=0)
    switched = np.logical_or.accumulate(after, axis=0)
    pos = np.arange(len(clocks))[:, None]
    last_close = np.where(is_close & ~switched, pos, -1).max(axis=0, initial=-1)
    first_snap = np.where(after, pos, len(clocks)).min(axis=0, initial=len(clocks))
    idx = clocks.index

    def pick(p, ok):
        return pd.DatetimeIndex([idx[i] if k else pd.NaT for i, k in zip(p, ok)], tz="UTC")

    return pd.DataFrame({"close_end": pick(last_close, last_close >= 0),
                         "first_snapshot": pick(first_snap, first_snap < len(clocks))}, index=clocks.columns)


def close_clock_end(clocks: pd.DataFrame) -> pd.Timestamp:
    """The last date every column still has close-clock data: the minimum of :func:`close_clock_ends`.

    Raises
    ------
    DivergenceError
        When ``clocks`` has no column, or a column has no close row at all (named).
    """
    ends = close_clock_ends(clocks)["close_end"]
    if ends.empty:
        raise DivergenceError("parameter clocks has no columns; give the clocks of at least one crypto asset")
    if ends.isna().any():
        raise DivergenceError(f"parameter clocks: {ends[ends.isna()].index.tolist()} have no close-clock rows; "
                              "drop them from the baskets and connectedness_assets")
    return ends.min()


@dataclass
class ClockInfo:
    """What the close-only rule decided for the statistics sample.

    Attributes
    ----------
    ends : DataFrame
        :func:`close_clock_ends` of the crypto columns used by the statistics.
    end : Timestamp
        The statistics end (before the ``min_basket_share`` rule).
    rule : str
        What set ``end``: ``"BTC's last UTC close"``, ``"common close end"`` or the ``limit_rule`` given.
    binding : list of str
        Crypto assets whose close end is ``end`` when a close end set it.
    truncated : dict
        Asset id -> last date kept, for the columns NaN after their own close end (``"truncate"``).
    short_series : str
    benchmark : str or None
    """

    ends: pd.DataFrame
    end: pd.Timestamp
    rule: str
    binding: list = field(default_factory=list)
    truncated: dict = field(default_factory=dict)
    short_series: str = "truncate"
    benchmark: str | None = None


def clock_info(clocks: pd.DataFrame, limit: pd.Timestamp, limit_rule: str = "end date",
               short_series: str = "truncate", benchmark: str = BENCHMARK) -> ClockInfo:
    """The close-only statistics end and the truncated crypto series (see the module docstring).

    Parameters
    ----------
    clocks : DataFrame
        :func:`clocks_of` of the crypto columns the statistics use (may have no columns).
    limit : Timestamp
        The latest end allowed (the performance end, or the equities' shared last date if earlier).
    limit_rule : str
        How ``limit`` was set (shown when it is the binding end).
    short_series : {"truncate", "cut"}
    benchmark : str
        Crypto benchmark of ``"truncate"``; without it the latest close end among the columns stands in.
    """
    check_choice("short_series", short_series, SHORT_SERIES)
    ends = close_clock_ends(clocks)
    if clocks.shape[1] == 0:
        return ClockInfo(ends, limit, limit_rule, short_series=short_series)
    close = ends["close_end"]
    if close.isna().all():
        raise DivergenceError(f"parameter clocks: {close.index.tolist()} have no close-clock rows; drop them "
                              "from the baskets and connectedness_assets")
    if short_series == "cut":
        cand, rule = close.min(), "common close end"
        bench = None
    else:
        bench = benchmark if benchmark in close.index and pd.notna(close[benchmark]) else close.idxmax()
        cand, rule = close[bench], f"{_assets.symbol(bench)}'s last UTC close"
    end = min(cand, limit)
    rule = rule if cand < limit else limit_rule
    binding = close.index[close == end].tolist() if cand < limit else []
    truncated = {a: t for a, t in close.items() if pd.isna(t) or t < end} if short_series == "truncate" else {}
    return ClockInfo(ends, end, rule, binding, truncated, short_series, bench)


def truncate_short_series(frame: pd.DataFrame, truncated: Mapping[str, object]) -> pd.DataFrame:
    """Set each column in ``truncated`` to NaN after its date (never filled); other columns unchanged.

    Parameters
    ----------
    frame : DataFrame
        Prices or returns (UTC DatetimeIndex, one column per asset id); ``attrs`` are kept.
    truncated : mapping
        Asset id -> last date kept (NaT: the whole column); ids not in ``frame`` are ignored. On a session
        index a row labelled after the date is dropped, so an asset whose data ends on a weekend leaves with
        the last session it completes.
    """
    cols = [a for a in truncated if a in frame.columns]
    if not cols:
        return frame
    last = np.array([np.iinfo(np.int64).min if pd.isna(truncated[a]) else utc(truncated[a], "truncated").value
                     for a in cols])
    after = frame.index.asi8[:, None] > last[None, :]
    out = frame.copy()
    out[cols] = out[cols].mask(after)
    out.attrs = dict(frame.attrs)
    return out


def close_only_prices(prices: pd.DataFrame, clocks: pd.DataFrame, info: ClockInfo) -> pd.DataFrame:
    """Prices for the daily-return statistics: crypto cells that are not UTC closes set to NaN, truncated
    columns NaN after their close end, every column cut at ``info.end``.

    Parameters
    ----------
    prices : DataFrame
        Daily prices (UTC DatetimeIndex, one column per asset id), any clock.
    clocks : DataFrame
        :func:`clocks_of` of (some of) the crypto columns; other columns are kept as they are.
    info : ClockInfo
        From :func:`clock_info`.
    """
    cols = [c for c in clocks.columns if c in prices.columns]
    out = prices.loc[:info.end].copy()
    keep = clocks.reindex(index=out.index, columns=cols).eq("close")
    out[cols] = out[cols].where(keep)
    out.attrs = dict(prices.attrs)
    return truncate_short_series(out, info.truncated)
