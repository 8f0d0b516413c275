"""Intraday anatomy of a crash: peak and trough, first crossing, lead-lag versus BTC, half recovery."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from capflow import assets as _assets

log = logging.getLogger(__name__)
from capflow.cascade._base import CascadeError, _check_frame, _ts

def _first_true(mask: pd.DataFrame) -> pd.Series:
    """Index label of the first True per column (NaT where none)."""
    first = mask.idxmax()
    return first.where(mask.any()).astype("datetime64[ns, UTC]")


def _hours(delta: pd.Series) -> pd.Series:
    return delta / pd.Timedelta("1h")


def peak_trough(high: pd.DataFrame, low: pd.DataFrame, event_time: object, lookback: str = "24h",
                horizon: str = "48h") -> pd.DataFrame:
    """Peak-to-trough depth and timing per asset around an event.

    The trough is the lowest ``low`` in ``[event_time, event_time + horizon]``; the peak is the highest ``high``
    in ``[event_time - lookback, trough time]`` (so the peak precedes the trough).

    Parameters
    ----------
    high, low : DataFrame
        Intraday bars, UTC DatetimeIndex (bar open time), one column per asset.
    event_time : timestamp-like
        Start of the event (a date means 00:00 UTC).
    lookback, horizon : str
        pandas offsets (``"24h"``, ``"2D"``).

    Returns
    -------
    DataFrame
        Indexed by asset: ``peak_time, peak, trough_time, trough, depth`` (trough/peak - 1, <= 0),
        ``hours_peak_to_trough``, ``hours_event_to_trough``.
    """
    _check_frame(high, "high")
    t0 = _ts(event_time, "event_time")
    low_w = low.loc[t0: t0 + pd.Timedelta(horizon)]
    trough_time = low_w.idxmin().where(low_w.notna().any()).astype("datetime64[ns, UTC]")
    high_w = high.loc[t0 - pd.Timedelta(lookback): t0 + pd.Timedelta(horizon)]
    before = pd.DataFrame(high_w.index.values[:, None] <= trough_time.values[None, :], index=high_w.index,
                          columns=high_w.columns)
    capped = high_w.where(before)
    peak_time = capped.idxmax().where(capped.notna().any()).astype("datetime64[ns, UTC]")
    out = pd.DataFrame({"peak_time": peak_time, "peak": capped.max(), "trough_time": trough_time,
                        "trough": low_w.min()})
    out["depth"] = out["trough"] / out["peak"] - 1
    out["hours_peak_to_trough"] = _hours(out["trough_time"] - out["peak_time"])
    out["hours_event_to_trough"] = _hours(out["trough_time"] - t0)
    out.index.name = "asset"
    return out


def half_recovery(close: pd.DataFrame, pt: pd.DataFrame, fraction: float = 0.5) -> pd.DataFrame:
    """Time to recover a fraction of the peak-to-trough loss, from the trough, on closes.

    Parameters
    ----------
    close : DataFrame
        Intraday closes, UTC DatetimeIndex, one column per asset.
    pt : DataFrame
        Output of :func:`peak_trough` (``peak``, ``trough``, ``trough_time`` per asset).
    fraction : float
        Share of the loss to win back, in (0, 1].

    Returns
    -------
    DataFrame
        Indexed by asset: ``recovery_level``, ``recovery_time`` (first bar after the trough whose close is at or
        above the level; NaT when never), ``hours_to_recover`` (NaN when not recovered within the data) and
        ``recovery_note``.
    """
    if not 0 < fraction <= 1:
        raise CascadeError(f"parameter fraction={fraction} must be in (0, 1]; 0.5 = half the loss")
    pt = pt.reindex(close.columns)
    level = pt["trough"] + fraction * (pt["peak"] - pt["trough"])
    after = close.index.values[:, None] > pt["trough_time"].values[None, :]
    hit = close.ge(level, axis=1) & after
    when = _first_true(hit)
    last = close.apply(pd.Series.last_valid_index)
    note = np.where(pt["trough_time"].isna(), "no bars in the event window",
                    np.where(when.isna(), "not recovered by the end of the data (" + last.astype(str) + ")", ""))
    out = pd.DataFrame({"recovery_level": level, "recovery_time": when,
                        "hours_to_recover": _hours(when - pt["trough_time"]), "recovery_note": note},
                       index=close.columns)
    out.index.name = "asset"
    return out


def first_crossing(low: pd.DataFrame, close: pd.DataFrame, event_time: object, threshold: float = -0.05,
                   horizon: str = "48h") -> pd.DataFrame:
    """When each asset first fell ``threshold`` below its pre-event level.

    The pre-event level is the last close of a bar opening before ``event_time``; the crossing is the first bar
    in ``[event_time, event_time + horizon]`` whose low is at or below ``level * (1 + threshold)``.

    Returns
    -------
    DataFrame
        Indexed by asset: ``pre_level``, ``cross_time`` (NaT when never), ``hours_to_cross`` (from the event);
        ``rank_cross`` (1 = fell first; ties share a rank).
    """
    if not -1 < threshold < 0:
        raise CascadeError(f"parameter threshold={threshold} must be a fraction in (-1, 0), e.g. -0.05")
    t0 = _ts(event_time, "event_time")
    pre = close.loc[: t0 - pd.Timedelta("1ns")].ffill().iloc[-1] if (close.index < t0).any() else \
        pd.Series(np.nan, index=close.columns)
    win = low.loc[t0: t0 + pd.Timedelta(horizon)]
    when = _first_true(win.le(pre * (1 + threshold), axis=1))
    out = pd.DataFrame({"pre_level": pre, "cross_time": when, "hours_to_cross": _hours(when - t0)})
    out["rank_cross"] = out["hours_to_cross"].rank(method="min")
    out.index.name = "asset"
    return out


def lead_lag(returns: pd.DataFrame, reference: str = "bitcoin", max_lag: int = 6) -> pd.DataFrame:
    """Cross-correlation of each asset's returns with a reference's returns at lags ``-max_lag..max_lag``.

    ``corr(lag) = corr(r_asset[t], r_ref[t - lag])``: a peak at ``lag > 0`` means the reference moved first
    (the asset lags by ``lag`` bars); at ``lag < 0`` the asset moved first.

    Parameters
    ----------
    returns : DataFrame
        Returns on one regular grid (e.g. hourly), one column per asset, including ``reference``.
    reference : str
        Column to correlate against.
    max_lag : int
        Largest lag in bars.

    Returns
    -------
    DataFrame
        Tidy: ``asset, lag, corr, n`` (n = overlapping pairs), reference column excluded.
    """
    if reference not in returns.columns:
        raise CascadeError(f"parameter reference={reference!r} is not a column of returns; "
                           f"valid: {', '.join(map(str, returns.columns))}")
    if max_lag < 1:
        raise CascadeError(f"parameter max_lag={max_lag} must be a positive number of bars")
    others = returns.drop(columns=reference)
    rows = []
    for lag in range(-max_lag, max_lag + 1):  # 2k+1 vectorized column correlations
        ref = returns[reference].shift(lag)
        valid = others.notna() & ref.notna().to_numpy()[:, None]
        rows.append(pd.DataFrame({"asset": others.columns, "lag": lag, "corr": others.corrwith(ref).to_numpy(),
                                  "n": valid.sum().to_numpy()}))
    return pd.concat(rows, ignore_index=True)


def lead_lag_summary(ll: pd.DataFrame) -> pd.DataFrame:
    """Per asset the lag of the highest correlation (see :func:`lead_lag` for the sign), and corr at lag 0.

    Returns
    -------
    DataFrame
        Indexed by asset: ``best_lag``, ``corr_best``, ``corr_0``, ``who_first`` (``"reference"``, ``"asset"``
        or ``"same hour"``).
    """
    ok = ll.dropna(subset=["corr"])
    if ok.empty:
        return pd.DataFrame(columns=["best_lag", "corr_best", "corr_0", "who_first"]).rename_axis("asset")
    best = ok.loc[ok.groupby("asset")["corr"].idxmax()].set_index("asset")
    zero = ok.loc[ok["lag"] == 0].set_index("asset")["corr"]
    out = pd.DataFrame({"best_lag": best["lag"], "corr_best": best["corr"], "corr_0": zero.reindex(best.index)})
    out["who_first"] = np.select([out["best_lag"] > 0, out["best_lag"] < 0], ["reference", "asset"], "same hour")
    return out


def drawdown_paths(close: pd.DataFrame, event_time: object, lookback: str = "24h",
                   horizon: str = "48h") -> pd.DataFrame:
    """Closes relative to each asset's pre-event level, ``close / pre_level - 1``, over the anatomy window.

    Returns
    -------
    DataFrame
        UTC DatetimeIndex (bar open times in ``[event_time - lookback, event_time + horizon]``), one column per
        asset; plotted by :func:`capflow.plots.eventstudy.plot_anatomy`.
    """
    t0 = _ts(event_time, "event_time")
    pre = close.loc[: t0 - pd.Timedelta("1ns")].ffill().iloc[-1]
    win = close.loc[t0 - pd.Timedelta(lookback): t0 + pd.Timedelta(horizon)]
    out = win / pre - 1
    out.attrs["event_time"] = str(t0)
    return out


@dataclass
class Anatomy:
    """Intraday anatomy of one crash.

    Attributes
    ----------
    table : DataFrame
        One row per asset: peak/trough timing and depth, first-crossing time, half-recovery, lead-lag vs the
        reference.
    lead_lag : DataFrame
        Tidy cross-correlations (:func:`lead_lag`).
    paths : DataFrame
        Drawdown paths (:func:`drawdown_paths`).
    notes : list of str
        What is missing or caveated (assets without hourly data, unrecovered losses, sources).
    params : dict
        The inputs used.
    """

    table: pd.DataFrame
    lead_lag: pd.DataFrame
    paths: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)


def crash_anatomy(high: pd.DataFrame, low: pd.DataFrame, close: pd.DataFrame, event_time: object,
                  lookback: str = "24h", horizon: str = "48h", cross_threshold: float = -0.05,
                  reference: str = "bitcoin", max_lag: int = 6, missing: Sequence[str] = ()) -> Anatomy:
    """Peak-to-trough, who fell first and half-recovery per asset from intraday bars.

    Parameters
    ----------
    high, low, close : DataFrame
        Intraday bars on one UTC index (bar open time), one column per asset.
    event_time : timestamp-like
        Event start (a date means 00:00 UTC).
    lookback, horizon : str
        Window before (for the peak) and after (for the trough and crossings) the event.
    cross_threshold : float
        Fall from the pre-event level that counts as "crossed" (-0.05 = 5%).
    reference : str
        Asset whose returns the lead-lag is measured against (skipped with a note when absent).
    max_lag : int
        Largest lead-lag in bars.
    missing : sequence of str
        Assets requested but without intraday data: reported as missing in ``table`` and ``notes``.

    Returns
    -------
    Anatomy
    """
    from capflow.returns import bar_returns

    t0 = _ts(event_time, "event_time")
    pt = peak_trough(high, low, t0, lookback, horizon)
    table = pt.join(first_crossing(low, close, t0, cross_threshold, horizon)).join(half_recovery(close, pt))
    notes = [f"{_assets.symbol(a)}: no intraday data for this window in the data sources; not shown" for a in missing]
    win = close.loc[t0 - pd.Timedelta(lookback): t0 + pd.Timedelta(horizon)]
    ll = pd.DataFrame(columns=["asset", "lag", "corr", "n"])
    if reference in win.columns:
        ll = lead_lag(bar_returns(win, "1h", crypto=win.columns), reference, max_lag)
        table = table.join(lead_lag_summary(ll))
        table.loc[reference, ["best_lag", "who_first"]] = [0, "reference itself"]
    else:
        notes.append(f"lead-lag skipped: reference {reference!r} has no intraday data in the window")
    notes += [f"{_assets.symbol(a)}: {n}" for a, n in table["recovery_note"].items() if n]
    table = pd.concat([table, pd.DataFrame(index=pd.Index(list(missing), name="asset"))])
    table.insert(0, "symbol", [_assets.symbol(a) for a in table.index])
    table["status"] = np.where(table.index.isin(list(missing)), "missing: no intraday data", "ok")
    params = {"event_time": str(t0), "lookback": lookback, "horizon": horizon, "cross_threshold": cross_threshold,
              "reference": reference, "max_lag": max_lag}
    return Anatomy(table, ll, drawdown_paths(close, t0, lookback, horizon), notes, params)


def load_hourly(assets: str | Iterable[str], event_time: object, lookback: str = "24h",
                horizon: str = "72h") -> tuple[dict[str, pd.DataFrame], list[str], list[str]]:
    """Hourly high, low and close around an event via :func:`capflow.data.load_prices` (freq ``1h``).

    Assets with no hourly bar in the window are dropped (never filled) and returned as ``missing``.

    Returns
    -------
    (dict, list, list)
        ``{"high", "low", "close"}`` wide frames on one index (``close.attrs`` carries provenance); the missing
        asset ids; notes naming each asset's hourly sources.
    """
    import warnings

    from capflow.data import load_prices

    t0 = _ts(event_time, "event_time")
    start, end = t0 - pd.Timedelta(lookback) - pd.Timedelta("1D"), t0 + pd.Timedelta(horizon)
    every = _assets.ids(assets)
    wanted = [a for a in every if _assets.resolve(a).is_crypto]
    skipped = [_assets.symbol(a) for a in every if a not in wanted]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dropped assets are reported as `missing` instead
        bars = {f: load_prices(wanted, start.normalize(), end, freq="1h", field=f, missing="drop")
                for f in ("high", "low", "close")}
    cols = [a for a in wanted if all(a in b.columns for b in bars.values())]
    index = bars["close"].index
    frames = {f: b.reindex(index=index, columns=cols).__finalize__(b) for f, b in bars.items()}
    prov = bars["close"].attrs.get("provenance", {})
    notes = [f"{_assets.symbol(a)} hourly sources: {_describe_sources(prov.get(a, {}).get('sources', {}))}"
             for a in cols]
    if skipped:
        notes.append(f"not crypto, no hourly bars in the data (left out of the anatomy): {', '.join(skipped)}")
    return frames, [a for a in wanted if a not in cols], notes


def _describe_sources(sources: dict) -> str:
    kinds = {"bn_perp": "Binance USDT-M perpetual", "bn_spot": "Binance spot"}
    return ", ".join(f"{s} ({next((v for k, v in kinds.items() if s.startswith(k)), 'see CRYPTO_SOURCES.md')}, "
                     f"{n} bars)" for s, n in sources.items())


