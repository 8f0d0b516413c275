"""The study's two windows: the performance window (prices at any clock) and the close-only statistics sample.

Performance window ``[base, end]``: ``end`` is ``end_date`` when given (it must not be after the last price in
the data), else the last date the crypto benchmark (Bitcoin) and every equity have a price. Each asset starts at
the base date, or at its first price when it lists later (``late_start="own_start"``).

Statistics sample ``[base, stats_end]``: daily returns between UTC closes only (:mod:`capflow.divergence.clocks`),
put on one clock by the calendar policy (:func:`capflow.returns.align`), baskets daily-rebalanced over the
members present each row. ``stats_end`` is the earlier of the performance end and the benchmark's last UTC
close (``short_series="truncate"``) or the earliest close end (``"cut"``); then ``min_basket_share`` (None: no
rule) moves it back to the last row at which every basket keeps that share of its largest membership, so no
statistic rests on one or two members.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import pandas as pd

from capflow import assets as _assets
from capflow import returns as R
from capflow.divergence import clocks as C
from capflow.divergence.sample import (DivergenceError, basket_membership, basket_table, last_prices,
                                       membership_cut, start_dates, uncapped_days, utc)


def _is_crypto(asset_id: str) -> bool:
    try:
        return _assets.resolve(asset_id).is_crypto
    except _assets.UnknownAssetError:
        return False


@dataclass
class PerformanceWindow:
    """``base``, ``end``, the ``rule`` that set the end, each asset's ``starts`` and the ``late`` starters."""

    base: pd.Timestamp
    end: pd.Timestamp
    rule: str
    starts: pd.Series
    late: dict = field(default_factory=dict)


def performance_end(prices: pd.DataFrame, end_date: object | None = None,
                    benchmark: str = C.BENCHMARK) -> tuple[pd.Timestamp, str]:
    """The performance end and the rule that set it (see the module docstring).

    Raises
    ------
    DivergenceError
        ``end_date`` after the last price in ``prices``.
    """
    last = last_prices(prices).dropna()
    if end_date is not None:
        e = utc(end_date, "end_date")
        if e > last.max():
            raise DivergenceError(f"parameter end_date={e.date()} is after the last price in the data "
                                  f"({last.max().date()}); use an end_date on or before it")
        return e, "end_date"
    crypto = [a for a in last.index if _is_crypto(a)]
    equity = [a for a in last.index if a not in crypto]
    cands = {}
    if crypto:
        bench = benchmark if benchmark in crypto else last[crypto].idxmax()
        cands[_assets.symbol(bench)] = last[bench]
    if equity:
        cands["every equity"] = last[equity].min()
    return min(cands.values()), f"the last date {' and '.join(cands)} have a price"


def performance_window(prices: pd.DataFrame, base: object, end_date: object | None = None,
                       late_start: str = "own_start", benchmark: str = C.BENCHMARK) -> PerformanceWindow:
    """:class:`PerformanceWindow` of ``prices`` (daily, UTC index, one column per asset id, any clock)."""
    b = utc(base, "base_date")
    e, rule = performance_end(prices, end_date, benchmark)
    if e <= b:
        raise DivergenceError(f"parameter end_date={e.date()} ({rule}) must be after base_date={b.date()}")
    starts = start_dates(prices.loc[:e], b, late_start)
    late = {a: d for a, d in starts.items() if pd.notna(d) and d > b}
    return PerformanceWindow(b, e, rule, starts, late)


@dataclass
class StatsSample:
    """The close-only statistics sample (module docstring).

    Attributes
    ----------
    base, end : Timestamp
        First and last row label.
    rule : str
        What set ``end`` (``"BTC's last UTC close"``, ``"end_date"``, ``"basket membership >= 50%"``...).
    info : ClockInfo
        The close-only decision before the membership rule (``info.end``, ``info.rule``).
    returns : DataFrame
        Aligned close-only asset returns (one column per asset id used).
    baskets : DataFrame
        Basket returns (equal-weighted, and ``"(cap)"`` cap-weighted where caps exist).
    members : dict
        Basket name -> members with close-only returns in the sample.
    membership : DataFrame
        Members present per row and basket.
    truncated : dict
        Asset id -> last date kept, for series truncated at their own close end before ``end``.
    cut : dict or None
        ``{"uncut_end", "uncut_rule", "thin", "share"}`` when ``min_basket_share`` moved the end.
    uncapped : dict
        Basket name -> Series of days without a known cap per member (cap-weighted baskets).
    policy_text : str
    """

    base: pd.Timestamp
    end: pd.Timestamp
    rule: str
    info: C.ClockInfo
    returns: pd.DataFrame
    baskets: pd.DataFrame
    members: dict
    membership: pd.DataFrame
    truncated: dict
    cut: dict | None
    uncapped: dict
    policy_text: str


def _stats_members(returns: pd.DataFrame, members: Mapping[str, Sequence[str]], base, end) -> dict[str, list[str]]:
    have = set(returns.columns[returns.notna().any()])
    out = {name: [m for m in ids if m in have] for name, ids in members.items()}
    empty = [name for name, ids in out.items() if not ids]
    if empty:
        raise DivergenceError(f"parameter baskets: {empty} have no close-only daily returns in {base.date()}.."
                              f"{end.date()}; use a later base_date or other members")
    return out


def _aligned_returns(prices: pd.DataFrame, info: C.ClockInfo, base: pd.Timestamp, policy: str, calendar: str,
                     max_gap: int | None, hourly: pd.DataFrame | None) -> pd.DataFrame:
    rets = R.simple_returns(prices, max_gap=max_gap)
    if policy == "crypto_at_equity_close":  # crypto comes from hourly closes: only the sample needs them
        rets = rets.loc[base:]
    rets = R.align(rets, policy=policy, calendar=calendar, hourly=hourly)
    return C.truncate_short_series(rets.loc[base:info.end], info.truncated)  # no partial session after a close end


def statistics_sample(prices: pd.DataFrame, sources: pd.DataFrame | None, caps: pd.DataFrame | None,
                      members: Mapping[str, Sequence[str]], window: PerformanceWindow, used: Iterable[str], *,
                      short_series: str = "truncate", min_basket_share: float | None = 0.5,
                      policy: str = "equity_sessions", calendar: str = "XNYS", max_gap: int | None = 7,
                      hourly: pd.DataFrame | None = None) -> StatsSample:
    """The close-only statistics sample of the assets ``used`` (basket members and named series).

    Parameters
    ----------
    prices : DataFrame
        Daily prices, any clock (UTC index, one column per asset id).
    sources : DataFrame or None
        Source tag of every crypto row (:func:`capflow.divergence.sources.price_sources`); None: all closes.
    caps : DataFrame or None
        Crypto market caps (sparse) for the cap-weighted baskets.
    members : mapping
        Basket name -> member ids (:func:`capflow.divergence.sample.resolve_baskets`).
    window : PerformanceWindow
        The performance window; the statistics never run past its end.
    used : iterable of str
        Asset ids the statistics use.
    short_series, min_basket_share, policy, calendar, max_gap, hourly
        See the module docstring and :func:`capflow.returns.align`.
    """
    used = [a for a in dict.fromkeys(used) if a in prices.columns]
    crypto = [a for a in used if _is_crypto(a) and sources is not None and a in sources.columns]
    clocks = C.clocks_of(sources[crypto]) if crypto else pd.DataFrame(index=prices.index)
    info = C.clock_info(clocks, window.end, window.rule, short_series)
    if info.end <= window.base:
        raise DivergenceError(f"parameter base_date={window.base.date()}: the close-only data ends {info.end.date()} "
                              f"({info.rule}), on or before it; use an earlier base_date")
    rets = _aligned_returns(C.close_only_prices(prices[used], clocks, info), info, window.base, policy, calendar,
                            max_gap, hourly)
    mem = _stats_members(rets, members, window.base, info.end)
    bask = basket_table(rets, mem, caps)
    end, rule, cut = info.end, info.rule, None
    got = membership_cut(rets, mem, window.base, end, min_basket_share)
    if got is not None:
        cut = {"uncut_end": end, "uncut_rule": rule, "thin": got[1], "share": min_basket_share}
        end, rule = got[0], f"basket membership >= {min_basket_share:.0%}"
        rets, bask = rets.loc[:end], bask.loc[:end]
    truncated = {a: d for a, d in info.truncated.items() if a in used and (pd.isna(d) or d < end)}
    uncapped = {} if caps is None else {n: uncapped_days(rets[m], caps) for n, m in mem.items()
                                        if f"{n} (cap)" in bask.columns}
    return StatsSample(window.base, end, rule, info, rets, bask, mem, basket_membership(rets, mem), truncated, cut,
                       uncapped, R.policy_text(rets))
