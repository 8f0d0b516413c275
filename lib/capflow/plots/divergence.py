"""Figures of the divergence study: ``plot_x(data, ax=None) -> Axes`` and figure builders for the study.

Readable at 1,400 px: at most 8 series per panel (facets by group), labels at the line ends pushed apart so they
never overlap, gaps drawn as gaps (a series is broken where consecutive prices are more than ``gap_days`` apart),
plain log ticks (100, 200, 500), units on every axis. Figure builders (``*_figure``) use
:func:`capflow.plots.new_figure` (themed, outside pyplot) and return a :class:`~matplotlib.figure.Figure`.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from capflow.divergence.prose import display_name
from capflow.plots import GROUP_COLORS, PALETTE, customize, new_figure

#: Most series drawn in one panel.
MAX_SERIES = 8
#: Figure width (inches at 100 dpi: 1,300 px, inside a 1,400 px page).
WIDTH = 13.0
#: Facet titles by registry group, in reading order (see :func:`panels`).
FACET_TITLES = {"ai_equity": "AI equities", "hyperscaler": "Hyperscalers", "semis_etf": "Semiconductor ETFs and "
                "benchmarks", "crypto_major": "Crypto majors and crypto equities", "ai_token": "AI tokens",
                "ai_token_extra": "Other AI tokens"}
#: Registry group -> facet (benchmarks share the semiconductor panel, crypto equities the crypto one).
FACET_OF = {"benchmark": "semis_etf", "crypto_equity": "crypto_major"}
#: Line colours within a panel: the colour-blind palette without its two lightest colours (pink, yellow), which
#: are hard to read as thin lines and label text on white.
LINE_COLORS = [sns.color_palette(PALETTE)[i] for i in (0, 1, 2, 3, 4, 5, 9, 7)]
#: Colours of the baskets and headline assets, stable across figures.
BASKET_COLORS = {"AI equities": GROUP_COLORS["ai_equity"], "Semis ETFs": GROUP_COLORS["semis_etf"],
                 "Hyperscalers": sns.color_palette(PALETTE)[9], "Crypto majors": GROUP_COLORS["crypto_major"],
                 "AI tokens": GROUP_COLORS["ai_token"], "bitcoin": "black", "^GSPC": GROUP_COLORS["benchmark"]}


# ----------------------------------------------------------------------------------------- helpers

def series_with_gaps(s: pd.Series, gap_days: float = 7) -> pd.Series:
    """``s`` on its own observations with a NaN inserted wherever two observations are more than ``gap_days``
    apart, so a line is broken there instead of drawn straight across the missing days."""
    s = s.dropna()
    if len(s) < 2:
        return s
    gaps = np.flatnonzero(np.diff(s.index.asi8) > pd.Timedelta(days=gap_days).value)
    if not len(gaps):
        return s
    holes = pd.Series(np.nan, index=s.index[gaps] + pd.Timedelta(hours=12))
    return pd.concat([s, holes]).sort_index()


def nice_log_ticks(lo: float, hi: float) -> list[float]:
    """Round ticks for a log axis over ``[lo, hi]``: 1-2-5 steps (10, 20, 50, 100...), finer when the range is
    narrow, 3 to 9 ticks."""
    lo, hi = max(lo, 1e-9), max(hi, lo * 1.0001)
    for steps in ((1, 2, 5), (1, 1.5, 2, 3, 5, 7), (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8)):
        ticks = [m * 10 ** k for k in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
                 for m in steps if lo <= m * 10 ** k <= hi]
        if len(ticks) >= 3:
            return ticks if len(ticks) <= 9 else ticks[:: math.ceil(len(ticks) / 9)]
    return [lo, hi]


def _tick_text(v: float, _pos=None) -> str:
    return f"{v:,.0f}" if v >= 10 else f"{v:g}"


def set_log_axis(ax, values: pd.DataFrame | pd.Series, pad: float = 1.06) -> None:
    """Log y axis with plain round ticks (``100``, ``200``, ``500``; never ``2×10²``) covering ``values``."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr) & (arr > 0)]
    lo, hi = (arr.min() / pad, arr.max() * pad) if arr.size else (50.0, 200.0)
    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    ax.yaxis.set_major_locator(FixedLocator(nice_log_ticks(lo, hi)))
    ax.yaxis.set_major_formatter(FuncFormatter(_tick_text))
    ax.yaxis.set_minor_locator(NullLocator())


def _date_axis(ax) -> None:
    loc = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def spread_labels(y: Sequence[float], min_gap: float, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """Positions (axes fraction) for end labels at heights ``y``: sorted, at least ``min_gap`` apart, kept
    inside ``[lo, hi]`` as far as they fit, each as close to its line as the others allow."""
    y = np.asarray(y, float)
    order = np.argsort(y)
    pos = y[order].copy()
    for _ in range(50):  # a few sweeps of pairwise pushes converge for a handful of labels
        moved = False
        for i in range(1, len(pos)):
            overlap = min_gap - (pos[i] - pos[i - 1])
            if overlap > 1e-9:
                pos[i - 1] -= overlap / 2
                pos[i] += overlap / 2
                moved = True
        shift = max(0.0, lo - pos[0]) if len(pos) else 0.0
        shift -= max(0.0, pos[-1] + shift - hi) if len(pos) else 0.0
        pos += shift
        if not moved:
            break
    out = np.empty_like(pos)
    out[order] = pos
    return out


def end_labels(ax, items: Sequence[tuple[float, str, object]], fontsize: float = 9.0) -> None:
    """Label line ends at the right of ``ax``: ``items`` are ``(last y value, text, colour)``; labels that would
    overlap are pushed apart (spacing from :func:`axes_height_pt`) and joined to their line end by a thin leader.
    Figure builders call :func:`finish` once the figure is complete (final axis limits)."""
    ax._capflow_end_labels = (list(items), fontsize)
    _place_end_labels(ax)


def _place_end_labels(ax) -> None:
    items, fontsize = getattr(ax, "_capflow_end_labels", ([], 9.0))
    for old in getattr(ax, "_capflow_end_texts", []):
        old.remove()
    if not items:
        return
    lo, hi = ax.get_ylim()
    logy = ax.get_yscale() == "log"
    frac = [((math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)) if logy else (v - lo) / (hi - lo))
            for v, _, _ in items]
    pos = spread_labels(frac, 1.3 * fontsize / axes_height_pt(ax), lo=-0.02, hi=1.02)
    ax._capflow_end_texts = [
        ax.annotate(text, xy=(1.0, y0), xycoords="axes fraction", xytext=(1.02, y1), textcoords="axes fraction",
                    va="center", ha="left", fontsize=fontsize, color=color, annotation_clip=False,
                    arrowprops={"arrowstyle": "-", "color": color, "lw": 0.6, "alpha": 0.6,
                                "shrinkA": 0, "shrinkB": 0})
        for (_, text, color), y0, y1 in zip(items, frac, pos)]


def axes_height_pt(ax) -> float:
    """A conservative estimate of the final height of ``ax`` in points, without a (slow) layout pass: its share of
    the figure's grid minus room for a title, tick labels and the figure's own title or legend."""
    fig_pt = ax.figure.get_figheight() * 72
    spec = ax.get_subplotspec()
    if spec is None:
        return max(ax.get_position().height * fig_pt, 20.0)
    grid = spec.get_gridspec()
    ratios = list(grid.get_height_ratios() or [1] * grid.nrows)
    share = sum(ratios[r] for r in spec.rowspan) / sum(ratios)
    return max(share * (fig_pt - 45) - 60, 20.0)


def finish(fig):
    """Re-space every axes' end labels once the figure is complete (limits final); return ``fig``."""
    for ax in fig.axes:
        if getattr(ax, "_capflow_end_labels", None):
            _place_end_labels(ax)
    return fig


def _last(s: pd.Series) -> tuple[pd.Timestamp, float] | None:
    s = s.dropna()
    return (s.index[-1], float(s.iloc[-1])) if len(s) else None


# ----------------------------------------------------------------------------------------- plots

@customize
def plot_levels(levels: pd.DataFrame, ax=None, title: str = "", colors: Mapping[str, object] | None = None,
                snapshot_from: Mapping[str, pd.Timestamp] | None = None, gap_days: float = 7,
                styles: Mapping[str, dict] | None = None, end: pd.Timestamp | None = None):
    """Levels indexed to 100 (UTC index, one column per asset or basket) on a log axis with plain ticks.

    Each line is broken where its observations are more than ``gap_days`` apart, drawn dotted from
    ``snapshot_from[col]`` on (values from intraday snapshots), and labelled at its end with its name and last
    value. ``end``: the right edge of the date axis (default: the last row).
    """
    if levels.shape[1] > MAX_SERIES:
        raise ValueError(f"plot_levels draws at most {MAX_SERIES} series per panel; got {levels.shape[1]}: "
                         "split them into facets")
    palette = LINE_COLORS
    right = end or levels.index[-1]
    items = []
    for i, col in enumerate(levels.columns):
        s = series_with_gaps(levels[col], gap_days)
        if s.dropna().empty:
            continue
        color = (colors or {}).get(col, palette[i % MAX_SERIES])
        sparse = {"marker": "o", "ms": 2.5} if s.notna().sum() < 100 else {}
        style = {"lw": 1.6, **sparse, **(styles or {}).get(col, {})}
        cut = (snapshot_from or {}).get(col)
        solid = s if cut is None else s.loc[:cut]
        ax.plot(solid.index, solid, color=color, **style)
        if cut is not None:
            ax.plot(s.loc[cut - pd.Timedelta(days=1):].index, s.loc[cut - pd.Timedelta(days=1):], color=color,
                    **{**style, "ls": ":"})
        when, value = _last(s)
        early = f" (to {when:%b %Y})" if (right - when).days > gap_days else ""
        items.append((value, f"{display_name(col)} {value:,.0f}{early}", color))
    set_log_axis(ax, levels)
    ax.axhline(100, color="grey", lw=0.8, ls="--", zorder=0)
    ax.set_xlim(levels.index[0], right)
    _date_axis(ax)
    ax.set(title=title, ylabel="index, start = 100 (log scale)")
    end_labels(ax, items)
    return ax


@customize
def plot_rolling_correlation(corr: pd.DataFrame, ax=None, title: str = "", marks=()):
    """Rolling correlations of one pair, one column per window length (rows: UTC dates); ``marks``: dates drawn
    as dotted lines (basket membership changes)."""
    widths = {w: 0.9 + 0.6 * i for i, w in enumerate(sorted(corr.columns))}
    for i, w in enumerate(sorted(corr.columns)):
        ax.plot(corr.index, corr[w], lw=widths[w], color=LINE_COLORS[i % len(LINE_COLORS)], label=f"{w} sessions")
    for j, d in enumerate(sorted(set(pd.DatetimeIndex(list(marks or []))))):
        ax.axvline(d, color="black", ls=":", lw=1.0, label="basket loses members" if j == 0 else None)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(title=title, ylabel="correlation of daily returns", ylim=(-0.4, 1.0))
    _date_axis(ax)
    ax.legend(loc="lower left", fontsize=9, ncol=4)
    return ax


@customize
def plot_variance_shares(two_factor: pd.DataFrame, ax=None, title: str = "", marks=()):
    """Stacked shares of daily variance (columns ``share_*`` of the rolling two-factor model), in percent."""
    shares = two_factor.filter(like="share_").dropna() * 100
    if shares.empty:
        ax.text(0.5, 0.5, "no window with enough complete rows", transform=ax.transAxes, ha="center")
        ax.set(title=title)
        return ax
    labels = [display_name(c.replace("share_", "")) if c != "share_residual" else "unexplained"
              for c in shares.columns]
    colors = [BASKET_COLORS.get(c.replace("share_", ""), "lightgrey") for c in shares.columns]
    ax.stackplot(shares.index, shares.T.to_numpy(), labels=labels, colors=colors, alpha=0.85)
    for j, d in enumerate(sorted(set(pd.DatetimeIndex(list(marks or []))))):
        ax.axvline(d, color="black", ls=":", lw=1.0, label="basket loses members" if j == 0 else None)
    ax.set(title=title, ylabel="share of daily variance (%)", ylim=(0, 100))
    ax.set_xlim(shares.index[0], shares.index[-1])
    _date_axis(ax)
    ax.legend(loc="upper left", fontsize=9, ncol=4, frameon=True)
    return ax


@customize
def plot_spread(spread: pd.Series, breaks=(), ax=None, title: str = ""):
    """The log spread (in log points) with detected break dates as dashed vertical lines."""
    ax.plot(spread.index, spread, color="black", lw=1.3, label=spread.name)
    for i, d in enumerate(breaks):
        ax.axvline(d, color="tab:red", ls="--", lw=1, label="detected break" if i == 0 else None)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(title=title, ylabel="log spread (log points)")
    _date_axis(ax)
    ax.legend(fontsize=9, loc="lower left")
    return ax


@customize
def plot_regimes(changes: pd.Series, probabilities: pd.DataFrame, ax=None, regime: str | None = None,
                 title: str = ""):
    """Daily changes of a series (percent), shaded where the smoothed probability of one regime (default the
    most volatile) is above one half."""
    regime = regime or probabilities.columns[-1]
    p = probabilities[regime].reindex(changes.index).fillna(0)
    ax.fill_between(p.index, 0, 1, where=(p > 0.5).to_numpy(), transform=ax.get_xaxis_transform(),
                    color="tab:orange", alpha=0.35, lw=0, step="mid", label="volatile regime more likely than not"
                    if regime == probabilities.columns[-1] else f"{regime.replace('_', ' ')} more likely than not")
    ax.plot(changes.index, changes * 100, color="black", lw=0.7, label="daily change")
    ax.set(title=title, ylabel="daily change of the spread (%)")
    ax.legend(fontsize=9, loc="lower left")
    _date_axis(ax)
    return ax


@customize
def plot_net_connectedness(directional: pd.DataFrame, ax=None, title: str = ""):
    """TO, FROM and NET connectedness per variable (fractions shown in percent), variables sorted by NET."""
    d = directional.sort_values("net") * 100
    y = np.arange(len(d))
    ax.barh(y - 0.2, d["to"], height=0.4, color="tab:blue", alpha=0.45, label="TO others")
    ax.barh(y + 0.2, d["from"], height=0.4, color="tab:grey", alpha=0.45, label="FROM others")
    ax.scatter(d["net"], y, color=["tab:green" if v > 0 else "tab:red" for v in d["net"]], zorder=3, s=40,
               label="NET = TO - FROM")
    for yi, v in zip(y, d["net"]):
        ax.annotate(f"{v:+.1f}", (v, yi), xytext=(4, 6), textcoords="offset points", fontsize=9)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, [display_name(i) for i in d.index])
    ax.set(title=title, xlabel="% of forecast-error variance")
    ax.legend(fontsize=9, loc="lower right")
    return ax


@customize
def plot_rolling_connectedness(rolling: pd.DataFrame, ax=None, title: str = "", what: str = "net"):
    """Rolling connectedness (percent): ``what="total"`` the total index, ``"net"`` NET per variable."""
    if what == "total":
        ax.plot(rolling.index, rolling["total"] * 100, color="black", lw=1.4)
        ax.set(ylabel="total connectedness (%)")
    else:
        cols = [c for c in rolling.columns if c.startswith("net:")]
        pal = [LINE_COLORS[i % len(LINE_COLORS)] for i in range(len(cols))]
        items = []
        for c, color in zip(cols, pal):
            ax.plot(rolling.index, rolling[c] * 100, lw=1.2, color=color)
            items.append((float(rolling[c].iloc[-1] * 100), display_name(c[4:]), color))
        ax.axhline(0, color="grey", lw=0.8)
        ax.set(ylabel="NET (percentage points)")
        end_labels(ax, items)
    ax.set_title(title)
    ax.set_xlim(rolling.index[0], rolling.index[-1])
    _date_axis(ax)
    return ax


# ----------------------------------------------------------------------------------------- figures

def panels(columns: Sequence[str], groups: Mapping[str, str], titles: Mapping[str, str],
           max_series: int = 7) -> list[tuple[str, list[str]]]:
    """Facets: columns grouped by ``groups[col]`` (in ``titles`` order); a group with more than ``max_series``
    columns is split evenly into numbered panels."""
    out = []
    for g, title in titles.items():
        cols = [c for c in columns if groups.get(c) == g]
        if not cols:
            continue
        k = math.ceil(len(cols) / max_series)
        size = math.ceil(len(cols) / k)
        for i in range(k):
            out.append((title if k == 1 else f"{title} ({i + 1}/{k})", cols[i * size:(i + 1) * size]))
    return out


def performance_figure(levels: pd.DataFrame, title: str, snapshot_from: Mapping | None = None,
                       shade_from: pd.Timestamp | None = None, shade_label: str = ""):
    """One panel of baskets and headline assets (at most 8), coloured as :data:`BASKET_COLORS`; shaded from
    ``shade_from`` to the end, explained by ``shade_label`` under the axis."""
    fig, ax = new_figure((WIDTH, 6.0))
    styles = {c: {"lw": 2.4} for c in levels.columns if c in ("AI equities", "AI tokens")}
    styles.update({c: {"lw": 1.8, "ls": "--"} for c in ("bitcoin", "^GSPC") if c in levels.columns})
    if shade_from is not None and shade_from < levels.index[-1]:
        ax.axvspan(shade_from, levels.index[-1], color="grey", alpha=0.12, lw=0)
    plot_levels(levels, ax=ax, title=title, colors=BASKET_COLORS, styles=styles, snapshot_from=snapshot_from)
    ax.set_xlabel(shade_label, fontsize=10, color="dimgrey")
    return finish(fig)


def assets_figure(levels: pd.DataFrame, facets: list[tuple[str, list[str]]], snapshot_from: Mapping | None = None,
                  title: str = ""):
    """Facets of asset levels (2 columns), at most 7 series each; gaps broken, snapshot values dotted."""
    nrows = math.ceil(len(facets) / 2)
    fig, axes = new_figure((WIDTH, 3.6 * nrows), nrows=nrows, ncols=2, squeeze=False, sharex=True)
    for ax, (name, cols) in zip(axes.ravel(), facets):
        plot_levels(levels[cols], ax=ax, title=name, snapshot_from=snapshot_from)
        ax.set_ylabel("index, start = 100 (log)")
    _hide_unused(axes, len(facets))
    if title:
        fig.suptitle(title, fontweight="bold")
    return finish(fig)


def _hide_unused(axes: np.ndarray, used: int) -> None:
    """Hide the axes after the first ``used``; the last shown axes of each column keeps its date labels."""
    flat = axes.ravel()
    for ax in flat[used:]:
        ax.set_visible(False)
    for col in range(axes.shape[1]):
        shown = [ax for ax in axes[:, col] if ax.get_visible()]
        if shown:
            shown[-1].xaxis.set_tick_params(labelbottom=True)


def correlations_figure(corr: pd.DataFrame, title: str, marks=()):
    """One panel per pair (2 columns), each with its rolling windows; ``corr`` has columns ``(window, pair)``."""
    pairs = list(dict.fromkeys(corr.columns.get_level_values(1)))
    nrows = math.ceil(len(pairs) / 2)
    fig, axes = new_figure((WIDTH, 3.4 * nrows), nrows=nrows, ncols=2, squeeze=False, sharex=True, sharey=True)
    for ax, pair in zip(axes.ravel(), pairs):
        frame = corr.xs(pair, axis=1, level=1)
        a, b = pair.split(" ~ ")
        plot_rolling_correlation(frame, ax=ax, title=f"{display_name(a)} with {display_name(b)}",
                                 marks=marks if "AI tokens" in pair else ())
    handles = {}
    for ax in axes.ravel()[:len(pairs)]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
        ax.get_legend().remove()
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=len(handles), fontsize=10)
    _hide_unused(axes, len(pairs))
    fig.suptitle(title, fontweight="bold")
    return finish(fig)


def shares_figure(two_factor: pd.DataFrame, title: str, marks=()):
    """The stacked variance shares of the rolling two-factor model."""
    fig, ax = new_figure((WIDTH, 4.5))
    plot_variance_shares(two_factor, ax=ax, title=title, marks=marks)
    return finish(fig)


def spread_figure(spread: pd.Series, breaks, regimes, title: str):
    """The log spread with its breaks, and (when fitted) the spread's daily changes with the volatile regime."""
    n = 2 if regimes is not None else 1
    fig, axes = new_figure((WIDTH, 3.8 * n), nrows=n, ncols=1, squeeze=False, sharex=True)
    plot_spread(spread, breaks, ax=axes[0, 0], title=title)
    if regimes is not None:
        plot_regimes(spread.diff(), regimes.probabilities, ax=axes[1, 0],
                     title="Markov regimes: shaded where the volatile regime is more likely than not")
    return finish(fig)


def connectedness_figure(directional: pd.DataFrame, rolling: pd.DataFrame | None, title: str, window: int):
    """Full-sample TO/FROM/NET bars, then the rolling total and the rolling NET per series."""
    n = 3 if rolling is not None and len(rolling) else 1
    fig, axes = new_figure((WIDTH, 4.2 + 3.4 * (n - 1)), nrows=n, ncols=1, squeeze=False,
                           gridspec_kw={"height_ratios": [1.2, 0.8, 1.1][:n]})
    plot_net_connectedness(directional, ax=axes[0, 0], title="Full sample")
    if n == 3:
        plot_rolling_connectedness(rolling, ax=axes[1, 0], what="total",
                                   title=f"Total connectedness, rolling {window}-session windows")
        plot_rolling_connectedness(rolling, ax=axes[2, 0], what="net",
                                   title=f"NET per series, rolling {window}-session windows")
    fig.suptitle(title, fontweight="bold")
    return finish(fig)
