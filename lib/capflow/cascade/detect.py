"""Cascade detection from prices: 24h drawdowns AND volume spikes."""

from __future__ import annotations

import logging
from typing import Iterable

import numpy as np
import pandas as pd


log = logging.getLogger(__name__)
from capflow.cascade._base import CascadeError, _check_frame

def _is_intraday(index: pd.DatetimeIndex) -> bool:
    if len(index) < 2:
        return False
    return bool(pd.Series(index).diff().median() < pd.Timedelta("1D"))


def drawdown_24h(prices: pd.DataFrame, lows: pd.DataFrame | None = None,
                 highs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Worst 24-hour drawdown per UTC day: price against the highest price of the preceding 24 hours.

    For each bar t, ``bottom_t / max(top over [t-24h, t]) - 1`` where ``top`` is ``highs`` (else ``prices``)
    and ``bottom`` is ``lows`` (else ``prices``); intraday values are reduced to the minimum per UTC day. On
    daily closes this is ``min(0, close_t / close_{t-1} - 1)``.

    Parameters
    ----------
    prices : DataFrame
        Closes, UTC DatetimeIndex (daily or intraday), one column per asset.
    lows, highs : DataFrame, optional
        Bar lows and highs aligned with ``prices`` (more precise for intraday crashes).

    Returns
    -------
    DataFrame
        Indexed by UTC day, one column per asset, values <= 0 (NaN where no bar).
    """
    _check_frame(prices, "prices")
    top = (highs if highs is not None else prices).reindex_like(prices)
    bottom = (lows if lows is not None else prices).reindex_like(prices)
    rolling_top = top.rolling("24h", closed="both").max()
    dd = (bottom / rolling_top - 1).clip(upper=0.0)
    return dd.resample("1D").min()


def volume_zscore(volumes: pd.DataFrame, window: int = 30, min_periods: int | None = None) -> pd.DataFrame:
    """Daily volume spike: z-score of log volume against the preceding ``window`` days (the day itself excluded).

    Parameters
    ----------
    volumes : DataFrame
        Volumes (any unit, consistent per asset), UTC DatetimeIndex daily or intraday; intraday bars are summed
        per UTC day.
    window : int
        Trailing days forming the baseline mean and standard deviation of log volume.
    min_periods : int, optional
        Fewest baseline days (default ``window // 2``); fewer gives NaN.

    Returns
    -------
    DataFrame
        Indexed by UTC day, one column per asset.
    """
    _check_frame(volumes, "volumes")
    if window < 3:
        raise CascadeError(f"parameter window={window} is too short; use at least 3 days (30 is typical)")
    daily = volumes.resample("1D").sum(min_count=1)
    logv = np.log(daily.where(daily > 0))
    base = logv.shift(1).rolling(window, min_periods=min_periods or max(3, window // 2))
    return (logv - base.mean()) / base.std()


def cascade_scores(prices: pd.DataFrame, volumes: pd.DataFrame, lows: pd.DataFrame | None = None,
                   highs: pd.DataFrame | None = None, volume_window: int = 30) -> pd.DataFrame:
    """Both detection scores per (UTC day, asset) as a tidy frame.

    Returns
    -------
    DataFrame
        Columns ``date, asset, drawdown_24h, volume_z`` (see :func:`drawdown_24h`, :func:`volume_zscore`).
    """
    dd = drawdown_24h(prices, lows, highs).stack().rename("drawdown_24h")
    vz = volume_zscore(volumes, volume_window).stack().rename("volume_z")
    out = pd.concat([dd, vz], axis=1, join="outer")
    out.index.names = ["date", "asset"]
    return out.reset_index().sort_values(["date", "asset"], kind="stable").reset_index(drop=True)


def detect_cascades(prices: pd.DataFrame, volumes: pd.DataFrame, drawdown_threshold: float = -0.10,
                    volume_z: float = 2.0, lows: pd.DataFrame | None = None, highs: pd.DataFrame | None = None,
                    volume_window: int = 30) -> pd.DataFrame:
    """Candidate cascade days: a 24h drawdown beyond a threshold AND a volume spike beyond a threshold.

    Parameters
    ----------
    prices : DataFrame
        Closes, UTC DatetimeIndex daily or intraday (rolling 24h window on intraday bars), one column per asset.
    volumes : DataFrame
        Volumes at any frequency (summed per UTC day).
    drawdown_threshold : float
        A day qualifies when its worst 24h drawdown is <= this (a fraction in (-1, 0); -0.10 = a 10% fall).
    volume_z : float
        ... and its log-volume z-score against the trailing ``volume_window`` days is >= this (> 0).
    lows, highs : DataFrame, optional
        Bar lows and highs for intraday precision.
    volume_window : int
        Trailing days of the volume baseline.

    Returns
    -------
    DataFrame
        One row per (date, asset) meeting both thresholds: ``date, asset, drawdown_24h, volume_z``; sorted by
        date; ``attrs["params"]`` holds the thresholds.
    """
    if not -1.0 < drawdown_threshold < 0.0:
        raise CascadeError(f"parameter drawdown_threshold={drawdown_threshold} must be a fraction in (-1, 0), "
                           "e.g. -0.10 for a 10% fall")
    if not (np.isfinite(volume_z) and volume_z > 0):
        raise CascadeError(f"parameter volume_z={volume_z} must be a positive z-score, e.g. 2.0")
    scores = cascade_scores(prices, volumes, lows, highs, volume_window)
    hit = (scores["drawdown_24h"] <= drawdown_threshold) & (scores["volume_z"] >= volume_z)
    out = scores.loc[hit].reset_index(drop=True)
    out.attrs["params"] = {"drawdown_threshold": drawdown_threshold, "volume_z": volume_z,
                           "volume_window": volume_window, "intraday": _is_intraday(prices.index)}
    return out


def load_detection_inputs(assets: str | Iterable[str], start: object, end: object,
                          freq: str = "4h") -> dict[str, pd.DataFrame]:
    """Closes, lows, highs and volumes for detection via :func:`capflow.data.load_prices` (assets without data
    are dropped with a warning).

    Returns
    -------
    dict
        ``{"prices", "lows", "highs", "volumes"}``: wide frames on one index; ``prices.attrs`` carries
        provenance.
    """
    from capflow.data import load_prices

    fields = {"prices": "close", "lows": "low", "highs": "high", "volumes": "volume"}
    out = {k: load_prices(assets, start, end, freq=freq, field=f, missing="drop") for k, f in fields.items()}
    cols = [c for c in out["prices"].columns if all(c in v.columns for v in out.values())]
    index = out["prices"].index
    return {k: v.reindex(index=index, columns=cols).__finalize__(v) for k, v in out.items()}


