"""Event-study and cascade figures: indexed prices, CAAR paths with bands, CAR bars, intraday anatomy.

Every function has the shape ``plot_x(data, ..., ax=None) -> Axes``, applies the capflow theme through
:func:`capflow.plots.customize` and colours lines by asset group (:data:`capflow.plots.GROUP_COLORS`).
"""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from capflow import assets as _assets
from capflow.plots import GROUP_COLORS, customize

_OTHER = "0.45"  # colour for assets without a group and for the pooled "all" group


def _color(group: str | None) -> object:
    return GROUP_COLORS.get(group, _OTHER) if group else _OTHER


def _group(asset_id: str, groups: dict | None) -> str | None:
    return (groups or {}).get(asset_id) or _assets.group_of(asset_id)


def _symbol(asset_id: str) -> str:
    try:
        return _assets.symbol(asset_id)
    except KeyError:
        return str(asset_id)


def _group_legend(ax, groups: list[str], loc: str = "best") -> None:
    handles = [Line2D([], [], color=_color(g), lw=2, label=g) for g in dict.fromkeys(groups)]
    ax.legend(handles=handles, loc=loc, fontsize="small")


def indexed_to_100(prices: pd.DataFrame, event_time: object) -> pd.DataFrame:
    """Each column divided by its last observed value strictly before ``event_time``, times 100.

    Parameters
    ----------
    prices : DataFrame
        UTC DatetimeIndex, one column per asset id (NaN where no bar).
    event_time : timestamp-like
        Event start (a date means 00:00 UTC, so the base of a daily crypto series is the previous day's close).

    Returns
    -------
    DataFrame
        Same shape; 100 at each column's base.
    """
    t0 = pd.Timestamp(event_time)
    t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
    base = prices.loc[prices.index < t0].ffill().iloc[-1]
    return 100 * prices / base


@customize
def plot_indexed_prices(prices: pd.DataFrame, event_time: object, groups: dict | None = None, label: bool = True,
                        ax=None):
    """Prices indexed to 100 at the last bar before the event, one line per asset coloured by group.

    Parameters
    ----------
    prices : DataFrame
        UTC DatetimeIndex, one column per asset id; NaN rows (equity weekends) are bridged by the line.
    event_time : timestamp-like
        Event start; a dashed vertical line marks it.
    groups : dict, optional
        ``{asset_id: group}``; default the registry's first group tag.
    label : bool
        Write each asset's symbol at its last point.
    ax : Axes, optional

    Returns
    -------
    Axes
    """
    idx = indexed_to_100(prices, event_time)
    for col in idx.columns:
        s = idx[col].dropna()
        if s.empty:
            continue
        ax.plot(s.index, s.values, color=_color(_group(col, groups)), lw=1.4, alpha=0.85)
        if label:
            ax.annotate(_symbol(col), (s.index[-1], s.values[-1]), fontsize=7, xytext=(3, 0),
                        textcoords="offset points", va="center")
    ax.axhline(100, color="0.6", lw=0.8)
    ax.axvline(pd.Timestamp(event_time), color="black", ls="--", lw=1)
    _group_legend(ax, [_group(c, groups) or "other" for c in idx.columns])
    ax.set(ylabel="price (index, 100 = last bar before the event)", xlabel="UTC")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    return ax


@customize
def plot_caar(paths: pd.DataFrame, ax=None, show_all: bool = False):
    """CAAR paths by group with a shaded band.

    Parameters
    ----------
    paths : DataFrame
        Columns ``group, rel, caar`` and optionally ``lo, hi`` (band), e.g.
        :func:`capflow.cascade.caar_path_bands` or the ``aar`` frame of :func:`capflow.eventstudy.event_study`.
        Values are fractions (plotted in %).
    show_all : bool
        Include the pooled group ``"all"``.
    ax : Axes, optional

    Returns
    -------
    Axes
    """
    data = paths if show_all else paths.loc[paths["group"] != "all"]
    for grp, sub in data.groupby("group", sort=False):
        sub = sub.sort_values("rel")
        c = _color(grp)
        ax.plot(sub["rel"], 100 * sub["caar"], color=c, lw=2, marker="o", ms=3, label=f"{grp} (n={_n(sub)})")
        if {"lo", "hi"} <= set(sub.columns):
            ax.fill_between(sub["rel"], 100 * sub["lo"], 100 * sub["hi"], color=c, alpha=0.18, lw=0)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.axvline(0, color="black", ls="--", lw=1)
    start = int(data["rel"].min()) if len(data) else 0
    ax.set(xlabel="relative period (0 = event)", ylabel=f"CAAR (%), cumulated from period {start:+d}")
    ax.legend(fontsize="small")
    return ax


def _n(sub: pd.DataFrame) -> str:
    return str(int(sub["n"].max())) if "n" in sub.columns and sub["n"].notna().any() else "?"


@customize
def plot_car_bars(car: pd.DataFrame, window: str | None = None, ax=None, alpha: float = 0.05):
    """Per-asset CAR for one window as horizontal bars coloured by group, with +-z*SE whiskers.

    Parameters
    ----------
    car : DataFrame
        The ``car`` frame of :func:`capflow.eventstudy.event_study` (``asset, group, window, car`` and
        optionally ``car_se, p``). Values are fractions (plotted in %).
    window : str, optional
        Which window to show (e.g. ``"[0,+1]"``); default the first one in ``car``.
    alpha : float
        Level of the whiskers and of the ``*`` marking ``p < alpha``.
    ax : Axes, optional

    Returns
    -------
    Axes
    """
    from scipy.stats import norm

    window = window or car["window"].iloc[0]
    sub = car.loc[car["window"] == window].sort_values(["group", "car"])
    y = np.arange(len(sub))
    err = norm.ppf(1 - alpha / 2) * 100 * sub["car_se"] if "car_se" in sub.columns else None
    ax.barh(y, 100 * sub["car"], xerr=err, color=[_color(g) for g in sub["group"]], alpha=0.85,
            error_kw={"lw": 0.8, "capsize": 2})
    stars = np.where(sub["p"] < alpha, " *", "") if "p" in sub.columns else [""] * len(sub)
    ax.set_yticks(y, [f"{_symbol(a)}{s}" for a, s in zip(sub["asset"], stars)], fontsize=8)
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set(xlabel=f"CAR {window} (%)", title=f"CAR {window} by asset (* p < {alpha:g}, whiskers {1 - alpha:.0%})")
    _group_legend(ax, list(sub["group"]))
    return ax


@customize
def plot_anatomy(paths: pd.DataFrame, table: pd.DataFrame | None = None, groups: dict | None = None, ax=None):
    """Intraday drawdown paths from each asset's pre-event level, troughs marked.

    Parameters
    ----------
    paths : DataFrame
        :func:`capflow.cascade.drawdown_paths` (fractions, UTC DatetimeIndex, one column per asset).
    table : DataFrame, optional
        :attr:`capflow.cascade.Anatomy.table` (``trough_time``, ``trough``, ``pre_level``): troughs marked.
    groups : dict, optional
        ``{asset_id: group}``; default the registry's group.
    ax : Axes, optional

    Returns
    -------
    Axes
    """
    for col in paths.columns:
        s = paths[col].dropna()
        c = _color(_group(col, groups))
        ax.plot(s.index, 100 * s.values, color=c, lw=1.3, alpha=0.85)
        if table is not None and col in table.index and pd.notna(table.loc[col, "trough_time"]):
            depth = table.loc[col, "trough"] / table.loc[col, "pre_level"] - 1
            ax.scatter([table.loc[col, "trough_time"]], [100 * depth], color=c, s=14, zorder=3)
            ax.annotate(_symbol(col), (table.loc[col, "trough_time"], 100 * depth), fontsize=7,
                        xytext=(3, -3), textcoords="offset points")
    if "event_time" in paths.attrs:
        ax.axvline(pd.Timestamp(paths.attrs["event_time"]), color="black", ls="--", lw=1)
    ax.axhline(0, color="0.5", lw=0.8)
    _group_legend(ax, [_group(c, groups) or "other" for c in paths.columns])
    ax.set(xlabel="UTC", ylabel="close vs pre-event level (%); dots: bar lows at trough")
    span_days = (paths.index.max() - paths.index.min()) / pd.Timedelta(days=1) if len(paths) else 0
    step = max(1, int(np.ceil(span_days / 8)))  # about eight ticks: every 12 h on short windows, else whole days
    ax.xaxis.set_major_locator(mdates.HourLocator(byhour=(0, 12)) if span_days <= 4
                               else mdates.DayLocator(interval=step))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d\n%H:%M"))
    return ax
