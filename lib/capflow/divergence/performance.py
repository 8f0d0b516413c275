"""Performance at any end date: cumulative return, year-to-date return and drawdown of assets and baskets.

Asset rows use prices directly: ``P_end / P_start - 1`` with ``P_start`` the last price at or before the row's
start (the base date, or the asset's first price when it lists later) and ``P_end`` its last price at or before
the end date, whatever its clock: a crypto value from an intraday snapshot (``cg_snap_*``) serves a cumulative
return over months (hours of clock error against months of return) and the row says so (``end_value``). A row
whose last price is more than ``max_stale_days`` before the end is kept, ends at its own last price and is
flagged (``stale_days``).

Year to date is relative to the end date: from the last price at or before 31 December of the year before the
end date's year (the first price if the asset lists later) to the row's end; NaN when the row has no price in
the end date's year, or when that anchor price is more than ``max_stale_days`` older than 31 December. Baskets
are daily-rebalanced (:func:`capflow.divergence.sample.basket_table`) and compounded from the base date, so their
YTD starts at the base date when the base date is in the end's year.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from capflow import assets as _assets
from capflow import returns as R
from capflow.divergence.sample import DivergenceError, utc

#: ``end_value`` text per clock.
END_VALUE = {"close": "UTC close", "snapshot": "intraday snapshot", "session": "session close"}


def _registry(asset_id: str) -> _assets.Asset | None:
    try:
        return _assets.resolve(asset_id)
    except _assets.UnknownAssetError:
        return None


def year_end_before(end: pd.Timestamp) -> pd.Timestamp:
    """31 December of the year before ``end``'s year (UTC): the anchor of year-to-date returns."""
    return pd.Timestamp(year=end.year - 1, month=12, day=31, tz="UTC")


def _asset_row(p: pd.Series, start: pd.Timestamp, end: pd.Timestamp, max_stale_days: int) -> dict | None:
    obs = p.loc[:end].dropna()
    p0 = obs.loc[:start]
    path = obs.loc[p0.index[-1]:] if len(p0) else obs.loc[start:]
    if path.empty:
        return None
    own_end, ye = path.index[-1], year_end_before(end)
    before = obs.loc[:ye]
    anchor = before.index[-1] if len(before) else path.index[0]
    fresh = own_end > ye and (ye - anchor).days <= max_stale_days
    return {"start": path.index[0], "end": own_end, "cum_return": path.iloc[-1] / path.iloc[0] - 1,
            "ytd": path.iloc[-1] / obs.loc[anchor] - 1 if fresh else np.nan, "ytd_from": anchor,
            "max_drawdown": R.drawdowns(path).max_drawdown, "stale_days": int((end - own_end).days)}


def _basket_row(r: pd.Series, base: pd.Timestamp, end: pd.Timestamp) -> dict | None:
    last = r.loc[:end].last_valid_index()
    if last is None:
        return None
    lvl = (1.0 + R.cumulative_returns(r.loc[:end], base=base)).loc[:last].dropna()
    ye = year_end_before(end)
    before = lvl.loc[:ye]
    anchor = before.index[-1] if len(before) else lvl.index[0]
    return {"start": lvl.index[0], "end": lvl.index[-1], "cum_return": lvl.iloc[-1] - 1,
            "ytd": lvl.iloc[-1] / lvl.loc[anchor] - 1 if lvl.index[-1] > ye else np.nan, "ytd_from": anchor,
            "max_drawdown": R.drawdowns(lvl).max_drawdown, "stale_days": int((end - lvl.index[-1]).days)}


def end_values(prices: pd.DataFrame, sources: pd.DataFrame | None, end: pd.Timestamp) -> pd.DataFrame:
    """The clock and source of each asset's last price at or before ``end``.

    Parameters
    ----------
    prices : DataFrame
        Daily prices (UTC DatetimeIndex, one column per asset id).
    sources : DataFrame or None
        Source tag of each crypto row (:func:`capflow.divergence.sources.price_sources`); equities need none.

    Returns
    -------
    DataFrame
        Indexed by asset id: ``end_value`` (``"UTC close"``, ``"intraday snapshot"`` or ``"session close"``)
        and ``end_source`` (the row's source tag; ``""`` for equities).
    """
    from capflow.data.snapshot import clock_of

    rows = {}
    for a in prices.columns:
        last = prices[a].loc[:end].last_valid_index()
        info = _registry(a)
        crypto = bool(info and info.is_crypto)
        tag = ""
        if crypto and sources is not None and a in sources.columns and last is not None:
            tag = sources.at[last, a] if last in sources.index else ""
            tag = tag if isinstance(tag, str) else ""
        clock = (clock_of(tag) if tag else "close") if crypto else "session"
        rows[a] = {"end_value": END_VALUE[clock], "end_source": tag}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["end_value", "end_source"])


def performance_table(prices: pd.DataFrame, basket_returns: pd.DataFrame | None, base: object, end: object,
                      starts: pd.Series | None = None, sources: pd.DataFrame | None = None,
                      max_stale_days: int = 7) -> pd.DataFrame:
    """Cumulative return, year-to-date return and maximum drawdown from ``base`` to ``end`` (module docstring).

    Parameters
    ----------
    prices : DataFrame
        Asset prices (UTC DatetimeIndex, one column per asset id), from on or before ``base``, any clock.
    basket_returns : DataFrame or None
        Daily basket returns (from :func:`capflow.divergence.sample.basket_table`), compounded from ``base``.
    base, end : date-like
        Base and end date.
    starts : Series, optional
        Start date per asset (:func:`capflow.divergence.sample.start_dates`); default ``base`` for every asset.
    sources : DataFrame, optional
        Source tags of the crypto rows, for ``end_value``/``end_source``.
    max_stale_days : int
        An asset's YTD is NaN when its last price at or before 31 December is older than this (calendar days).

    Returns
    -------
    DataFrame
        Indexed by asset id / basket name: ``kind`` (asset/basket), ``symbol``, ``name``, ``group``, ``start``,
        ``end`` (the row's last date at or before ``end``), ``end_value``, ``end_source``, ``cum_return``,
        ``ytd``, ``ytd_from`` (the date of the YTD anchor value), ``max_drawdown`` (negative), ``stale_days``
        (days from the row's end to ``end``). Assets
        without any price in the window are left out.
    """
    b, e = utc(base, "base_date"), utc(end, "end_date")
    if e <= b:
        raise DivergenceError(f"parameter end_date={e.date()} must be after base_date={b.date()}")
    starts = pd.Series(b, index=prices.columns) if starts is None else starts
    ev = end_values(prices, sources, e)
    rows = {}
    for a in prices.columns:
        row = _asset_row(prices[a], starts[a], e, max_stale_days)
        if row is not None:
            info = _registry(a)
            rows[a] = {"kind": "asset", "symbol": _assets.symbol(a), "name": info.name if info else a,
                       "group": _assets.group_of(a) or "", **ev.loc[a].to_dict(), **row}
    for name in ([] if basket_returns is None else basket_returns.columns):
        row = _basket_row(basket_returns[name], b, e)
        if row is not None:
            rows[name] = {"kind": "basket", "symbol": name, "name": name, "group": "basket",
                          "end_value": "basket (daily)", "end_source": "", **row}
    return pd.DataFrame.from_dict(rows, orient="index")


def asset_levels(prices: pd.DataFrame, starts: pd.Series, end: object, start: float = 100.0) -> pd.DataFrame:
    """Prices indexed to ``start`` at each asset's start (the last price at or before it), NaN outside
    ``[start, end]`` and wherever the asset has no price (gaps stay gaps).

    Returns
    -------
    DataFrame
        Same index (cut at ``end``) and columns as ``prices``.
    """
    e = utc(end, "end_date")
    p = prices.loc[:e]
    out = {}
    for a in p.columns:
        obs = p[a].dropna()
        s = utc(starts[a], "start")
        p0 = obs.loc[:s]
        first = p0.index[-1] if len(p0) else s
        base_price = p0.iloc[-1] if len(p0) else (obs.loc[s:].iloc[0] if len(obs.loc[s:]) else np.nan)
        out[a] = (start * p[a] / base_price).where(p.index >= first)
    return pd.DataFrame(out, index=p.index)


@dataclass
class Performance:
    """Everything the performance window gives (see :func:`performance`).

    Attributes
    ----------
    table : DataFrame
        :func:`performance_table` of every asset and basket.
    asset_levels : DataFrame
        :func:`asset_levels` (daily UTC index, one column per asset; NaN where an asset has no price).
    basket_levels : DataFrame
        Basket levels (100 at the base, calendar-policy index), NaN after a basket's last return.
    members : dict
        Basket name -> members with a price in the window.
    snapshot_from : dict
        Crypto asset id -> first intraday-snapshot row after its UTC closes end (its values from then on are
        snapshots), for the assets whose switch is inside the window.
    basket_snapshot_from : dict
        Basket name -> the earliest ``snapshot_from`` of its members (from then on a member's returns run between
        intraday snapshots).
    """

    table: pd.DataFrame
    asset_levels: pd.DataFrame
    basket_levels: pd.DataFrame
    members: dict
    snapshot_from: dict
    basket_snapshot_from: dict


def performance(prices: pd.DataFrame, sources: pd.DataFrame | None, caps: pd.DataFrame | None,
                baskets: Mapping[str, str | Sequence[str]], window, *, policy: str = "equity_sessions",
                calendar: str = "XNYS", max_gap: int | None = 7, max_stale_days: int = 7) -> Performance:
    """Performance of every asset and basket over ``window`` (a :class:`~capflow.divergence.windows.PerformanceWindow`).

    Basket returns are daily simple returns of the prices at any clock (a crypto member's later returns run
    between intraday snapshots), not bridging gaps longer than ``max_gap`` rows, put on one clock by ``policy``
    (``"crypto_at_equity_close"`` needs hourly bars over the whole window, so ``"equity_sessions"`` stands in for
    it here) and compounded from the base date.
    """
    from capflow.divergence.clocks import clocks_of, close_clock_ends
    from capflow.divergence.sample import basket_table, levels_to_last, resolve_baskets

    b, e = window.base, window.end
    inside = prices.loc[b:e]
    members = resolve_baskets(baskets, inside.columns[inside.notna().any()])
    rets = R.simple_returns(prices.loc[:e], max_gap=max_gap)
    pol = "equity_sessions" if policy == "crypto_at_equity_close" else policy
    rets = R.align(rets, policy=pol, calendar=calendar).loc[b:e]
    bask = basket_table(rets, members, caps)
    table = performance_table(prices.loc[:e], bask, b, e, window.starts, sources, max_stale_days)
    snaps = {}
    if sources is not None and sources.shape[1]:
        first = close_clock_ends(clocks_of(sources.loc[:e]))["first_snapshot"].dropna()
        snaps = {a: d for a, d in first.items() if b < d <= e}
    bsnaps = {name: min(snaps[m] for m in ids if m in snaps) for name, ids in members.items()
              if any(m in snaps for m in ids)}
    return Performance(table, asset_levels(prices, window.starts, e), levels_to_last(bask, b), members, snaps, bsnaps)
