"""Cascade figures readable at 1,400 px: one panel per group (at most 8 lines), labels that do not collide,
hourly axes with hours, gaps drawn as gaps.

Every function draws on a given Axes (``plot_x(data, ..., ax) -> Axes``); a study lays the panels out with
:func:`capflow.plots.new_figure`.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import seaborn as sns

from capflow import assets as _assets

MAX_LINES = 8


def _sym(a: str) -> str:
    try:
        return _assets.symbol(a)
    except KeyError:
        return str(a)


def colors(n: int) -> list:
    """``n`` distinguishable colour-blind-safe colours (n <= 8 per panel)."""
    return sns.color_palette("colorblind", max(n, 1))[:n] if n <= 10 else sns.color_palette("husl", n)


def chunks(items: list, size: int = MAX_LINES) -> list[list]:
    """Split ``items`` into near-equal parts of at most ``size`` (9 -> 5 + 4, not 8 + 1)."""
    k = int(np.ceil(len(items) / size)) or 1
    return [list(part) for part in np.array_split(np.array(items, dtype=object), k)]


def time_axis(ax, index: pd.DatetimeIndex, hourly: bool) -> None:
    """Readable ticks: days (``02-05``) for daily data; day and hour (``02-05 18:00``) for hourly data."""
    span = (index.max() - index.min()) / pd.Timedelta(days=1) if len(index) else 1
    if hourly:
        step = 6 if span <= 3 else 12 if span <= 6 else 24
        ax.xaxis.set_major_locator(mdates.HourLocator(byhour=range(0, 24, step)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d\n%H:%M"))
        ax.set_xlabel("UTC (day and hour)")
    else:
        ax.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, int(np.ceil(span / 10)))))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
        ax.set_xlabel("UTC date")


def label_ends(ax, ends: list[tuple[str, float, float, object]], min_gap: float = 0.045) -> None:
    """Write labels at line ends, pushed apart vertically so they never overlap.

    Parameters
    ----------
    ends : list of (text, x, y, colour)
        One entry per line (x in data units, y in data units).
    min_gap : float
        Minimum vertical distance between labels, as a fraction of the axes height.
    """
    if not ends:
        return
    y0, y1 = ax.get_ylim()
    frac = sorted(((y - y0) / (y1 - y0), t, x, c) for t, x, y, c in ends)
    placed = []
    for f, t, x, c in frac:
        f = max(f, placed[-1] + min_gap) if placed else f
        placed.append(f)
    over = placed[-1] - 0.98
    if over > 0:
        placed = [p - over for p in placed]
    for (f_orig, t, x, c), f in zip(frac, placed):
        ax.annotate(t, xy=(x, y0 + f_orig * (y1 - y0)), xytext=(1.01, f), textcoords=ax.transAxes,
                    xycoords="data", fontsize=8, color=c, va="center",
                    arrowprops={"arrowstyle": "-", "color": c, "lw": 0.5, "alpha": 0.6})


def plot_price_panel(idx: pd.DataFrame, event_time: pd.Timestamp, ax, title: str = "", hourly: bool = False,
                     crypto: set[str] | None = None):
    """Prices indexed to 100, one coloured line per asset with its symbol at the end.

    Crypto series keep their missing bars as gaps (a bar between two gaps is drawn as a dot); an
    exchange-traded series is drawn over its own sessions (a weekend is not a gap).
    """
    crypto = crypto or set()
    ends = []
    for col, c in zip(idx.columns, colors(len(idx.columns))):
        s = idx[col] if col in crypto else idx[col].dropna()
        ax.plot(s.index, s.values, color=c, lw=1.5)
        lone = s.notna() & s.shift(1).isna() & s.shift(-1).isna()  # a bar between gaps: no line reaches it
        if lone.any():
            ax.plot(s.index[lone], s.values[lone], "o", color=c, ms=3.5)
        last = s.dropna()
        if len(last):
            ends.append((_sym(col), last.index[-1], float(last.iloc[-1]), c))
    ax.axhline(100, color="0.6", lw=0.8)
    ax.axvline(event_time, color="black", ls="--", lw=1)
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_ylabel("index (100 = last bar before)")
    time_axis(ax, idx.index, hourly)
    label_ends(ax, ends)
    return ax


def plot_raw_vs_abnormal(pa: pd.DataFrame, ax, label: str = "day 0"):
    """Per asset: the raw day-0 return and the abnormal return, side by side (percent)."""
    pa = pa.dropna(subset=["ret0"]).iloc[::-1]
    y = np.arange(len(pa))
    ax.barh(y + 0.2, 100 * pa["ret0"], height=0.38, color="#8da0cb", label=f"raw {label}")
    ax.barh(y - 0.2, 100 * pa["ar0"].fillna(0), height=0.38, color="#d95f02", label=f"abnormal {label}")
    ax.set_yticks(y, [f"{s}  ({g})" for s, g in zip(pa["symbol"], pa["group"].str.replace("_", " "))], fontsize=8)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel("return (%)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    return ax


def plot_caar_paths(paths: pd.DataFrame, ax, unit: str = "days", groups: dict | None = None):
    """CAAR per group with its band (percent), period 0 marked."""
    pal = dict(zip(paths["group"].unique(), colors(paths["group"].nunique())))
    for g, sub in paths.groupby("group", sort=False):
        sub = sub.sort_values("rel")
        name = (groups or {}).get(g, g)
        ax.plot(sub["rel"], 100 * sub["caar"], color=pal[g], lw=2, label=f"{name} (n={int(sub['n'].max())})")
        if {"lo", "hi"} <= set(sub.columns):
            ax.fill_between(sub["rel"], 100 * sub["lo"], 100 * sub["hi"], color=pal[g], alpha=0.15, lw=0)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.axvline(0, color="black", ls="--", lw=1)
    ax.set(xlabel=f"{unit} relative to the event (0 = the bar holding it)", ylabel="CAAR (%)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    return ax


def plot_drawdown_panel(paths: pd.DataFrame, table: pd.DataFrame | None, event_time: pd.Timestamp, ax,
                        title: str = ""):
    """Hourly closes versus the pre-event level (percent), troughs marked, labels at the troughs' right."""
    ends = []
    for col, c in zip(paths.columns, colors(len(paths.columns))):
        s = paths[col]
        ax.plot(s.index, 100 * s.values, color=c, lw=1.4)
        last = s.dropna()
        if len(last):
            ends.append((_sym(col), last.index[-1], 100 * float(last.iloc[-1]), c))
        if table is not None and col in table.index and pd.notna(table.loc[col, "trough_time"]):
            depth = table.loc[col, "trough"] / table.loc[col, "pre_level"] - 1
            ax.scatter([table.loc[col, "trough_time"]], [100 * depth], color=c, s=16, zorder=3)
    ax.axvline(event_time, color="black", ls="--", lw=1)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_ylabel("close vs pre-event level (%)\ndots: bar low at the trough")
    time_axis(ax, paths.index, hourly=True)
    label_ends(ax, ends)
    return ax
