"""Figures of the divergence study (``plot_x(data, ax=None) -> Axes``, themed by :func:`capflow.plots.customize`)."""

from __future__ import annotations

import pandas as pd

from capflow import assets as _assets
from capflow.plots import GROUP_COLORS, customize


def _label(col: str) -> str:
    return _assets.symbol(col)


def _mark_dates(ax, marks, label: str = "basket membership changes"):
    """Dotted vertical lines at ``marks`` (dates), one legend entry."""
    for i, d in enumerate(sorted(set(pd.DatetimeIndex(list(marks or []))))):
        ax.axvline(d, color="black", ls=":", lw=1.2, zorder=5, label=label if i == 0 else None)


@customize
def plot_performance(levels: pd.DataFrame, ax=None, title: str = "Performance indexed to 100 (log scale)",
                     mixed_from: pd.Timestamp | None = None):
    """Levels indexed to 100 (UTC index, one column per asset/basket) on a log axis; registry assets are
    coloured by group, other columns (baskets) drawn thick; a line that ends before the last row (an asset
    truncated at its own close end) ends with an ``x``. ``mixed_from``: shade from that date to the end
    (crypto prices there include intraday snapshots, see ``divergence.mixed_clock_start``)."""
    if mixed_from is not None and mixed_from <= levels.index[-1]:
        ax.axvspan(mixed_from, levels.index[-1], color="grey", alpha=0.15, lw=0,
                   label=f"mixed clocks from {mixed_from:%Y-%m-%d}")
    for col in levels.columns:
        grp = _assets.group_of(col)
        style = {"color": GROUP_COLORS[grp], "lw": 0.8, "alpha": 0.6} if grp else {"lw": 2.2}
        line, = ax.plot(levels.index, levels[col], label=_label(col), **style)
        last = levels[col].last_valid_index()
        if last is not None and last < levels.index[-1]:  # a series that ends early (truncated): mark its end
            ax.plot([last], [levels.at[last, col]], marker="x", ms=5, color=line.get_color(), ls="none")
    ax.set_yscale("log")
    ax.axhline(100, color="grey", lw=0.8, ls=":")
    ax.set(title=title, ylabel="index (base = 100)")
    ax.legend(ncol=4, fontsize=7, loc="upper left")
    return ax


@customize
def plot_rolling_correlations(corr: pd.DataFrame, ax=None, title: str = "Rolling correlations", marks=()):
    """Rolling correlations with columns ``(window, pair)`` (from ``divergence.rolling_correlations``);
    ``marks``: dates drawn as dotted lines (e.g. where a basket loses members)."""
    _mark_dates(ax, marks)
    for (w, pair), s in corr.items():
        ax.plot(s.index, s, label=f"{pair} ({w})", lw=1.0 if w == corr.columns.levels[0].max() else 0.6)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(title=title, ylabel="correlation", ylim=(-1, 1))
    ax.legend(ncol=2, fontsize=7)
    return ax


@customize
def plot_variance_shares(two_factor: pd.DataFrame, ax=None, title: str = "Share of variance explained",
                         marks=()):
    """Stacked shares of variance (columns ``share_*`` of ``divergence.rolling_two_factor``); ``marks``:
    dates drawn as dotted lines (e.g. where the target basket loses members)."""
    shares = two_factor.filter(like="share_").dropna()
    ax.stackplot(shares.index, shares.T.to_numpy(), labels=[c.replace("share_", "") for c in shares.columns],
                 alpha=0.8)
    _mark_dates(ax, marks)
    ax.set(title=title, ylabel="share of variance", ylim=(0, 1))
    ax.legend(loc="upper left", fontsize=8)
    return ax


@customize
def plot_spread(spread: pd.Series, breaks=(), ax=None, title: str | None = None):
    """The log spread with detected break dates as vertical lines."""
    ax.plot(spread.index, spread, color="black", lw=1.2, label=spread.name)
    for i, d in enumerate(breaks):
        ax.axvline(d, color="red", ls="--", lw=1, label="detected break" if i == 0 else None)
    ax.set(title=title or f"Log spread: {spread.name}", ylabel="log ratio")
    ax.legend(fontsize=8)
    return ax


@customize
def plot_regimes(series: pd.Series, probabilities: pd.DataFrame, ax=None, regime: str | None = None,
                 title: str | None = None):
    """A series with the smoothed probability of one regime (default the most volatile) shaded behind it."""
    regime = regime or probabilities.columns[-1]
    ax.plot(series.index, series, color="black", lw=1.0, label=series.name)
    ax2 = ax.twinx()
    p = probabilities[regime].reindex(series.index)
    ax2.fill_between(p.index, 0, p.fillna(0), color="tab:orange", alpha=0.3, step="mid", label=f"P({regime})")
    ax2.set(ylim=(0, 1), ylabel=f"P({regime})")
    ax2.grid(False)
    ax.set(title=title or f"Regimes: smoothed probability of {regime}")
    return ax
