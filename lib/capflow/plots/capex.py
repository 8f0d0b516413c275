"""Figures of the capex-announcement study. Each ``plot_x(data, ax=None) -> Axes``; never ``plt.show()``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from capflow.plots import GROUP_COLORS, customize


@customize
def plot_capex_timeline(catalog: pd.DataFrame, ax=None):
    """Quarterly capex (USD bn) by company over release dates; INFERRED dates drawn as hollow markers.

    Parameters
    ----------
    catalog : DataFrame
        From :func:`capflow.capex.load_announcements` (``ticker, announce_date, capex_usd, inferred``).
    """
    for ticker, rows in catalog.groupby("ticker", sort=True):
        line = ax.plot(rows["announce_date"], rows["capex_usd"] / 1e9, marker="o", label=ticker)[0]
        inf = rows[rows["inferred"]]
        ax.scatter(inf["announce_date"], inf["capex_usd"] / 1e9, s=90, facecolors="white",
                   edgecolors=line.get_color(), zorder=3)
    ax.set(title="Quarterly capex by company (hollow: INFERRED release date)", ylabel="capex, USD bn",
           xlabel="release date")
    ax.legend(ncol=5)
    return ax


@customize
def plot_group_reactions(aar: pd.DataFrame, ax=None):
    """Cumulative average abnormal return by asset group around releases (engine ``aar`` frame).

    Parameters
    ----------
    aar : DataFrame
        ``group, rel, aar, caar`` (from :class:`capflow.eventstudy.EventStudyResult`); group ``all`` ignored.
    """
    for group, rows in aar[aar["group"] != "all"].groupby("group"):
        ax.plot(rows["rel"], rows["caar"] * 100, marker="o", label=group, color=GROUP_COLORS.get(group))
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(title="Average cumulative abnormal return around capex releases", xlabel="trading periods from event",
           ylabel="CAAR, %")
    ax.legend(ncol=3)
    return ax


@customize
def plot_coefficients(table: pd.DataFrame, ax=None):
    """Coefficient of the surprise per (group, window) with cluster-robust and wild-bootstrap intervals.

    Parameters
    ----------
    table : DataFrame
        From :func:`capflow.capex_inference.regression_table`.
    """
    labels = table["group"] + " " + table["window"]
    y = np.arange(len(table))[::-1]
    ax.errorbar(table["coef"], y + 0.15, xerr=[table["coef"] - table["lo_cluster"],
                                               table["hi_cluster"] - table["coef"]],
                fmt="o", capsize=3, label="cluster-robust CI")
    ax.errorbar(table["coef"], y - 0.15, xerr=[table["coef"] - table["lo_boot"], table["hi_boot"] - table["coef"]],
                fmt="s", capsize=3, label="wild-cluster bootstrap CI")
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.set_yticks(y, labels)
    ax.set(title="CAR on capex surprise: coefficient and 95% intervals", xlabel="coefficient (CAR per unit surprise)")
    ax.legend()
    return ax


@customize
def plot_car_scatter(panel: pd.DataFrame, group: str, window: str, ax=None):
    """Scatter of CAR on surprise for one group and window, with the OLS fit line.

    Parameters
    ----------
    panel : DataFrame
        ``group, window, surprise, car`` rows (one per release x asset).
    """
    rows = panel[(panel["window"] == window) & ((panel["group"] == group) | (group == "pooled"))]
    rows = rows.dropna(subset=["surprise", "car"])
    ax.scatter(rows["surprise"], rows["car"] * 100, s=14, alpha=0.5, color=GROUP_COLORS.get(group))
    if len(rows) > 2:
        b, a = np.polyfit(rows["surprise"], rows["car"] * 100, 1)
        xs = np.linspace(rows["surprise"].min(), rows["surprise"].max(), 50)
        ax.plot(xs, a + b * xs, color="black", lw=1.5, label=f"OLS fit: slope {b:.2f} %/unit")
        ax.legend()
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(title=f"CAR {window} vs capex surprise: {group}", xlabel="surprise", ylabel="CAR, %")
    return ax


@customize
def plot_placebo(placebo: pd.DataFrame, real: float, group: str, window: str, ax=None):
    """Histogram of placebo coefficients for one (group, window) with the real estimate marked."""
    vals = placebo[(placebo["group"] == group) & (placebo["window"] == window)]["coef"].dropna()
    ax.hist(vals, bins=min(40, max(10, len(vals) // 5)), color="lightgrey", edgecolor="grey")
    ax.axvline(real, color="red", lw=2, label=f"real estimate {real:.4f}")
    ax.set(title=f"Placebo dates: {len(vals)} draws, {group} {window}", xlabel="coefficient on surprise",
           ylabel="draws")
    ax.legend()
    return ax
