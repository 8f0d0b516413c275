"""Events and inputs of an event study of one cascade date (used by :mod:`capflow.studies.cascade`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from capflow import assets as _assets

log = logging.getLogger(__name__)
from capflow.cascade._base import CascadeError, _ts

# ------------------------------------------------------------------------------------------------------- study
@dataclass
class CascadeStudyInputs:
    """Everything an event study of one cascade date needs, loaded from :func:`capflow.data.load_prices`.

    Attributes
    ----------
    prices : DataFrame
        Prices of the event assets and benchmarks (UTC DatetimeIndex, one column per asset; ``attrs`` carry
        provenance).
    returns : DataFrame
        Simple returns of ``prices`` (each asset over its own bars; NaN where no bar).
    market : DataFrame
        Returns of the benchmark columns.
    events : DataFrame
        ``event_id, asset, timestamp, group, benchmark`` (one row per asset).
    notes : list of str
        Assets dropped for lack of data, benchmarks excluded from the events, frequency caveats.
    """

    prices: pd.DataFrame
    returns: pd.DataFrame
    market: pd.DataFrame
    events: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _span(freq: str, periods: int) -> pd.Timedelta:
    """Calendar span covering ``periods`` trading periods of the slowest calendar (equity sessions)."""
    if freq == "1d":
        return pd.Timedelta(days=int(np.ceil(abs(periods) * 7 / 5)) + 15)
    return pd.Timedelta(hours=abs(periods) + 48)


def cascade_events(event_date: object, groups: str | Iterable[str], benchmarks: dict[str, str],
                   exclude_benchmarks: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """One event row per asset of the requested groups, each with its group and benchmark.

    Parameters
    ----------
    event_date : date-like
        Event start (UTC).
    groups : str or iterable of str
        Group tags and/or assets (``"ai_token,crypto_major,ai_equity"``).
    benchmarks : dict
        ``{group: benchmark asset id}``; every group of the events needs one.
    exclude_benchmarks : bool
        Leave out an asset that is its own benchmark (its market-adjusted AR is 0 by construction).

    Returns
    -------
    (DataFrame, list of str)
        ``event_id, asset, timestamp, group, benchmark`` and notes on excluded assets.
    """
    t0 = _ts(event_date, "event_date")
    ids = _assets.ids(groups)
    grp = {a: next((g for g in _assets.resolve(a).tags if g in benchmarks), _assets.group_of(a)) for a in ids}
    lacking = sorted({g for g in grp.values() if g not in benchmarks})
    if lacking:
        raise CascadeError(f"parameter benchmarks has no entry for group {lacking[0]!r}; give "
                           f"{{'{lacking[0]}': <benchmark asset id>}}")
    bench = {a: _assets.resolve(benchmarks[grp[a]]).id for a in ids}
    selfb = [a for a in ids if bench[a] == a]
    keep = [a for a in ids if not (exclude_benchmarks and a in selfb)]
    events = pd.DataFrame({"event_id": [f"{t0.date()}:{_assets.symbol(a)}" for a in keep], "asset": keep,
                           "timestamp": t0, "group": [grp[a] for a in keep], "benchmark": [bench[a] for a in keep]})
    notes = [f"{_assets.symbol(a)} is the benchmark of its group ({grp[a]}): excluded from the abnormal-return "
             "tests (its market-adjusted AR is 0 by construction); shown in prices and anatomy" for a in selfb
             if exclude_benchmarks]
    return events, notes


def load_cascade_study(event_date: object, groups: str | Iterable[str], benchmarks: dict[str, str],
                       freq: str = "1d", estimation_window: Sequence[int] = (-250, -11),
                       event_window: Sequence[int] = (-10, 10)) -> CascadeStudyInputs:
    """Load prices and returns for an event study of one cascade date and build its events table.

    Assets without data (or, at ``freq="1h"``, equities, which have no hourly bars) are dropped and named in
    ``notes``; events whose asset has no data are removed.

    Returns
    -------
    CascadeStudyInputs
    """
    import warnings

    from capflow.data import load_prices
    from capflow.returns import bar_returns

    if freq not in ("1d", "1h"):
        raise CascadeError(f"parameter freq={freq!r} is not supported; valid: '1d', '1h'")
    events, notes = cascade_events(event_date, groups, benchmarks)
    if freq == "1h":
        eq = events["asset"].map(lambda a: not _assets.resolve(a).is_crypto)
        notes += [f"{_assets.symbol(a)}: no hourly equity bars in the data; left out at freq='1h'"
                  for a in events.loc[eq, "asset"]]
        events = events.loc[~eq]
    t0 = _ts(event_date, "event_date")
    wanted = list(dict.fromkeys(list(events["asset"]) + list(events["benchmark"])))
    start, end = t0 - _span(freq, estimation_window[0]), t0 + _span(freq, event_window[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dropped assets are reported in notes instead
        prices = load_prices(wanted, start, end, freq=freq, missing="drop")
    notes += [f"{_assets.symbol(a)}: dropped, {why}" for a, why in prices.attrs.get("dropped", {}).items()]
    events = events.loc[events["asset"].isin(prices.columns) & events["benchmark"].isin(prices.columns)]
    rets = bar_returns(prices, freq)
    rets.attrs = dict(prices.attrs)
    market = rets[sorted(set(events["benchmark"]))]
    return CascadeStudyInputs(prices, rets, market, events.reset_index(drop=True), notes)


