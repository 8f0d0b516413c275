"""Figures of the capex-announcement study. Each ``plot_x(data, ax=None, title=None) -> Axes``; never ``plt.show()``.

Legends sit outside the axes (right of them), so they never cover a point; dollar axes are in $B; a quarter the
catalog holds without a capex figure is a gap in its line, marked with an ``x`` on the axis floor.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from capflow.plots import GROUP_COLORS, PALETTE, customize

_OTHER = "0.45"


def company_colors(tickers) -> dict[str, object]:
    """One colour per company ticker (sorted), stable across the study's figures."""
    names = sorted(dict.fromkeys(str(t) for t in tickers))
    return dict(zip(names, sns.color_palette(PALETTE, max(len(names), 1))))


def _legend_outside(ax, handles=None, title: str | None = None) -> None:
    """Legend to the right of the axes (never over the data)."""
    kw = {"handles": handles} if handles is not None else {}
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small", title=title,
              **kw)


def _percent(axis) -> None:
    """Show fractions on an axis as percentages (0.02 -> 2%): the data stay fractions."""
    axis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))


def _wrap(title: str | None, width: int = 100) -> str | None:
    """A long title on two lines, so it never runs past the figure at 1,400 px."""
    return textwrap.fill(title, width) if title else title


def _left_title(ax) -> None:
    """Align the title with the axes' left edge: a long title then runs over the legend column, never off the
    figure."""
    title = ax.get_title()
    if title:
        ax.set_title("")
        ax.set_title(title, loc="left")


def _billions(values) -> np.ndarray:
    return np.asarray(values, dtype=float) / 1e9


@customize
def plot_quarterly_capex(quarterly: pd.DataFrame, ax=None, title: str | None = None):
    """Quarterly capex ($B) per company at each release date; missing quarters are gaps marked ``x``.

    Parameters
    ----------
    quarterly : DataFrame
        From :func:`capflow.capex_spend.quarterly_capex` (``ticker, announce_date, capex_usd, inferred``).
    """
    colors = company_colors(quarterly["ticker"])
    for ticker, rows in quarterly.groupby("ticker", sort=True):
        c = colors[ticker]
        ax.plot(rows["announce_date"], _billions(rows["capex_usd"]), marker="o", ms=4, color=c, label=ticker)
        inf = rows[rows.get("inferred", pd.Series(False, index=rows.index)).astype(bool)]
        ax.scatter(inf["announce_date"], _billions(inf["capex_usd"]), s=80, facecolors="white", edgecolors=c,
                   zorder=3)
        gone = rows[rows["capex_usd"].isna()]
        ax.scatter(gone["announce_date"], np.zeros(len(gone)), marker="x", s=70, color=c, zorder=4, clip_on=False)
    ax.set_ylim(bottom=0)
    handles = [Line2D([], [], color=colors[t], marker="o", ms=4, label=t) for t in colors]
    handles += [Line2D([], [], ls="", marker="x", color="0.3", label="quarter without a figure"),
                Line2D([], [], ls="", marker="o", mfc="white", mec="0.3", ms=8, label="INFERRED release date")]
    _legend_outside(ax, handles)
    ax.set(title=_wrap(title) or "Quarterly capex per company", ylabel="capex in the quarter, $B", xlabel="release date")
    _left_title(ax)
    return ax


@customize
def plot_trailing_capex(quarterly: pd.DataFrame, total: pd.DataFrame | None = None, ax=None,
                        title: str | None = None):
    """Trailing-four-quarter capex ($B) per company at each release, and optionally the all-company total.

    Parameters
    ----------
    quarterly : DataFrame
        From :func:`capflow.capex_spend.quarterly_capex` (``ticker, announce_date, t4q_usd``).
    total : DataFrame, optional
        From :func:`capflow.capex_spend.trailing_total_series` (``date, total_usd``), drawn in black.
    """
    colors = company_colors(quarterly["ticker"])
    for ticker, rows in quarterly.groupby("ticker", sort=True):
        ax.plot(rows["announce_date"], _billions(rows["t4q_usd"]), marker="o", ms=3, color=colors[ticker],
                label=ticker)
    if total is not None and len(total):
        vals = _billions(total["total_usd"])
        ax.plot(total["date"], vals, color="black", lw=2.2, drawstyle="steps-post", label="all companies")
        known = np.flatnonzero(np.isfinite(vals))
        if known.size and known[-1] < len(vals) - 1:
            ax.annotate("total stops: a company's\nquarter has no figure", (total["date"].iloc[known[-1]],
                        vals[known[-1]]), xytext=(0.74, 0.45), textcoords="axes fraction", ha="left", va="center",
                        fontsize="small", arrowprops={"arrowstyle": "->", "color": "0.3"})
    ax.set_ylim(bottom=0)
    _legend_outside(ax)
    ax.set(title=_wrap(title) or "Trailing-four-quarter capex", ylabel="capex over four quarters, $B",
           xlabel="release date")
    _left_title(ax)
    return ax


@customize
def plot_group_reactions(aar: pd.DataFrame, ax=None, title: str | None = None):
    """Cumulative average abnormal return (%) by asset group around releases (engine ``aar`` frame).

    Parameters
    ----------
    aar : DataFrame
        ``group, rel, aar, caar`` (from :class:`capflow.eventstudy.EventStudyResult`); group ``all`` ignored.
    """
    for group, rows in aar[aar["group"] != "all"].groupby("group"):
        ax.plot(rows["rel"], rows["caar"], marker="o", label=group, color=GROUP_COLORS.get(group, _OTHER))
    _percent(ax.yaxis)
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(title=_wrap(title) or "Average cumulative abnormal return around capex releases",
           xlabel="trading periods from the release (0 = first bar holding it)",
           ylabel=f"CAAR from period {int(aar['rel'].min()) if len(aar) else 0}, %")
    _legend_outside(ax, title="asset group")
    _left_title(ax)
    return ax


@customize
def plot_coefficients(table: pd.DataFrame, ax=None, title: str | None = None):
    """Coefficient of the surprise (% CAR per unit) per (group, window) with cluster-robust and wild-bootstrap
    95% intervals.

    Parameters
    ----------
    table : DataFrame
        From :func:`capflow.capex_inference.regression_table`.
    """
    labels = table["group"] + " " + table["window"]
    y = np.arange(len(table))[::-1]
    c = table["coef"].to_numpy(float)
    for lo, hi, off, mk, lab in (("lo_cluster", "hi_cluster", 0.15, "o", "cluster-robust 95% CI"),
                                 ("lo_boot", "hi_boot", -0.15, "s", "wild-cluster bootstrap 95% CI")):
        err = [c - table[lo].to_numpy(float), table[hi].to_numpy(float) - c]
        ax.errorbar(c, y + off, xerr=err, fmt=mk, capsize=3, ms=4, label=lab)
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.set_yticks(y, labels)
    _percent(ax.xaxis)
    ax.set(title=_wrap(title) or "CAR on capex surprise: coefficient and 95% intervals",
           xlabel="coefficient: CAR (%) per unit of surprise")
    _legend_outside(ax)
    _left_title(ax)
    return ax


@customize
def plot_car_scatter(panel: pd.DataFrame, group: str, window: str, ax=None, title: str | None = None):
    """CAR (%) against the surprise for one group (or ``pooled``) and window, with the OLS fit line.

    Parameters
    ----------
    panel : DataFrame
        ``group, window, surprise, car`` rows (one per release x asset).
    """
    rows = panel[(panel["window"] == window) & ((panel["group"] == group) | (group == "pooled"))]
    rows = rows.dropna(subset=["surprise", "car"])
    ax.scatter(rows["surprise"], rows["car"], s=12, alpha=0.45, color=GROUP_COLORS.get(group, _OTHER),
               label="one (release, asset)")
    if len(rows) > 2:
        b, a = np.polyfit(rows["surprise"], rows["car"], 1)
        xs = np.linspace(rows["surprise"].min(), rows["surprise"].max(), 50)
        ax.plot(xs, a + b * xs, color="black", lw=1.5, label=f"OLS line, slope {100 * b:+.2f}% per unit")
    ax.axhline(0, color="grey", lw=0.8)
    _percent(ax.yaxis)
    ax.set(title=_wrap(title) or f"CAR {window} against the capex surprise: {group}", xlabel="surprise (units)",
           ylabel=f"CAR {window}, %")
    _legend_outside(ax)
    _left_title(ax)
    return ax


@customize
def plot_added_variable(x: np.ndarray, y: np.ndarray, coef: float, ax=None, title: str | None = None,
                        xlabel: str = "surprise, net of controls and fixed effects",
                        ylabel: str = "CAR, net of controls and fixed effects"):
    """Added-variable (Frisch-Waugh-Lovell) plot: residualized CAR against the residualized surprise; the line
    through the origin has the regression's slope ``coef`` (see :func:`capflow.capex_design.partial_out`)."""
    ax.scatter(x, y, s=12, alpha=0.45, color=_OTHER, label="one (release, asset)")
    if len(x):
        xs = np.linspace(np.min(x), np.max(x), 50)
        ax.plot(xs, coef * xs, color="black", lw=1.5, label=f"slope {100 * coef:+.2f}% per unit")
    ax.axhline(0, color="grey", lw=0.8)
    _percent(ax.yaxis)
    ax.set(title=_wrap(title) or "CAR against the surprise, net of controls", xlabel=xlabel, ylabel=ylabel)
    _legend_outside(ax)
    _left_title(ax)
    return ax


@customize
def plot_placebo(placebo: pd.DataFrame, real: float, group: str, window: str, ax=None, title: str | None = None):
    """Histogram of placebo coefficients (% per unit) for one (group, window) with the real estimate marked."""
    vals = placebo[(placebo["group"] == group) & (placebo["window"] == window)]["coef"].dropna()
    ax.hist(vals, bins=min(40, max(10, len(vals) // 5)), color="lightgrey", edgecolor="grey", label="placebo dates")
    ax.axvline(real, color="red", lw=2, label=f"real releases: {100 * real:+.2f}%")
    _percent(ax.xaxis)
    ax.set(title=_wrap(title) or f"Placebo dates: {len(vals)} draws, {group} {window}",
           xlabel="coefficient: CAR (%) per unit of surprise", ylabel="placebo draws")
    _legend_outside(ax)
    _left_title(ax)
    return ax


def plot_capex_timeline(catalog: pd.DataFrame, ax=None, **kwargs):
    """Quarterly capex per company straight from a catalog (:func:`plot_quarterly_capex` of
    :func:`capflow.capex_spend.quarterly_capex`)."""
    from capflow.capex_spend import quarterly_capex

    return plot_quarterly_capex(quarterly_capex(catalog), ax=ax, **kwargs)


# ----------------------------------------------------------------------------------------------------------------
# titles that state the finding
# ----------------------------------------------------------------------------------------------------------------
def spend_titles(quarterly: pd.DataFrame, latest: pd.DataFrame) -> tuple[str, str]:
    """Titles of the two spend panels: how much quarterly capex grew, and the trailing-four-quarter total.

    Parameters
    ----------
    quarterly, latest : DataFrame
        From :func:`capflow.capex_spend.quarterly_capex` and :func:`capflow.capex_spend.trailing_capex`.
    """
    from capflow import fmt
    from capflow.capex_spend import trailing_total

    have = quarterly.dropna(subset=["capex_usd"]).groupby("ticker")["capex_usd"]
    ratio = have.last() / have.first()
    top = (f"Quarterly capex rose at {int((ratio > 1).sum())} of {len(ratio)} companies: latest quarter "
           f"{ratio.min():.1f}x to {ratio.max():.1f}x the first (since {fmt.date(quarterly['announce_date'].min())})")
    tot = trailing_total(latest)
    bottom = (f"Trailing four quarters: {fmt.usd(tot['total_usd'])} for {', '.join(tot['complete'])} as of "
              f"{fmt.date(tot['as_of'])}")
    if tot["incomplete"]:
        bottom += f" ({', '.join(tot['incomplete'])} incomplete)"
    return top, bottom


def reaction_title(res) -> str:
    """Title of the CAAR figure: the largest average move by group and window, with its KP-adjusted BMP p.

    Parameters
    ----------
    res : EventStudyResult
        ``caar`` and ``stats`` (test ``kp``) of the engine.
    """
    from capflow import fmt

    caar = res.caar[res.caar["group"] != "all"]
    if not len(caar):
        return "Average cumulative abnormal return around capex releases"
    top = caar.loc[caar["caar"].abs().idxmax()]
    kp = res.stats[(res.stats["test"] == "kp") & (res.stats["group"] == top["group"])
                   & (res.stats["window"] == top["window"])]["p_value"]
    return (f"Largest average move around releases: {top['group']} {fmt.pct(top['caar'], 2)} over {top['window']} "
            f"(KP-adjusted BMP p {fmt.pval(kp.iloc[0] if len(kp) else None)})")


# ----------------------------------------------------------------------------------------------------------------
# whole figures for the study (themed, outside pyplot: capflow.plots.new_figure)
# ----------------------------------------------------------------------------------------------------------------
def figure_spend(quarterly: pd.DataFrame, total: pd.DataFrame, titles: tuple[str, str]):
    """Two panels sharing the date axis: quarterly capex per company, and trailing-four-quarter capex with the
    all-company total. Returns the Figure."""
    from capflow.plots import new_figure

    fig, (top, bottom) = new_figure((11, 8.5), nrows=2, sharex=True)
    plot_quarterly_capex(quarterly, ax=top, title=titles[0])
    top.set_xlabel("")
    plot_trailing_capex(quarterly, total, ax=bottom, title=titles[1])
    return fig


def figure_reactions(aar: pd.DataFrame, title: str):
    """CAAR by asset group around the releases (one panel). Returns the Figure."""
    from capflow.plots import new_figure

    fig, ax = new_figure("wide")
    plot_group_reactions(aar, ax=ax, title=title)
    return fig


def figure_coefficients(table: pd.DataFrame, title: str):
    """Coefficients with both 95% intervals, one row per (group, window). Returns the Figure."""
    from capflow.plots import new_figure

    fig, ax = new_figure((11, max(4.0, 0.32 * len(table) + 1.5)))
    plot_coefficients(table, ax=ax, title=title)
    return fig


def figure_headline_cell(partial: tuple[np.ndarray, np.ndarray], placebo: pd.DataFrame, real: float, group: str,
                         window: str, titles: tuple[str, str]):
    """The headline cell: the added-variable plot of the coefficient (top; ``partial`` = residualized surprise
    and CAR) and the placebo distribution (bottom)."""
    from capflow.plots import new_figure

    fig, (top, bottom) = new_figure((11, 8.5), nrows=2)
    plot_added_variable(partial[0], partial[1], real, ax=top, title=titles[0],
                        ylabel=f"CAR {window}, net of controls")
    if len(placebo):
        plot_placebo(placebo, real, group, window, ax=bottom, title=titles[1])
    else:
        bottom.set_axis_off()
        bottom.text(0.5, 0.5, "no placebo draws (n_placebo = 0)", ha="center", va="center")
    return fig
