"""Plotting: one seaborn theme for every figure, colour-blind palette, sizes in one place.

Every plot function has the shape ``plot_x(data, ax=None) -> Axes``, is wrapped in :func:`customize`, and never
calls ``plt.show()``. Study-specific plots live in sub-modules (``plots.eventstudy``, ``plots.capex``,
``plots.divergence``).
"""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

import matplotlib

matplotlib.use(matplotlib.get_backend())  # respect MPLBACKEND (Agg in CI)
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

PALETTE = "colorblind"
FIGSIZE = {"wide": (11, 4.5), "square": (6, 6), "tall": (11, 7), "small": (6, 3.5)}
#: One colour per asset group, stable across every figure.
GROUP_COLORS = dict(zip(("ai_token", "crypto_major", "ai_equity", "hyperscaler", "semis_etf", "benchmark",
                         "crypto_equity", "ai_token_extra", "own", "all"), sns.color_palette(PALETTE, 10)))
SYNTHETIC_LABEL = "SYNTHETIC DATA (test fixture, not market data)"

F = TypeVar("F", bound=Callable)


def set_theme() -> None:
    """Apply capflow's seaborn theme (called by every plot through :func:`customize`)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE,
                  rc={"figure.dpi": 100, "axes.titleweight": "bold", "axes.spines.top": False,
                      "axes.spines.right": False, "legend.frameon": False})


def customize(func: F) -> F:
    """Decorator: apply the theme and create ``ax`` (size from ``figsize=``) when the caller gives none."""

    @functools.wraps(func)
    def wrapper(*args, ax=None, figsize: str | tuple = "wide", **kwargs):
        set_theme()
        if ax is None:
            size = FIGSIZE.get(figsize, figsize) if isinstance(figsize, str) else figsize
            _, ax = plt.subplots(figsize=size)
        return func(*args, ax=ax, **kwargs)

    return wrapper  # type: ignore[return-value]


def new_figure(size: str | tuple = "wide", nrows: int = 1, ncols: int = 1, **kwargs):
    """A themed figure outside pyplot (``(Figure, axes)``), for studies: nothing is drawn twice in a notebook,
    nothing stays open between cells, and the figure is shown only where a study displays it.

    Parameters
    ----------
    size : str or (width, height)
        A key of :data:`FIGSIZE` or inches.
    nrows, ncols : int
        Subplot grid (``axes`` is one Axes for 1x1, else an array as ``plt.subplots`` gives).
    **kwargs
        Passed to :meth:`matplotlib.figure.Figure.subplots` (``sharex``, ``gridspec_kw``...).
    """
    from matplotlib.figure import Figure

    set_theme()
    fig = Figure(figsize=FIGSIZE.get(size, size) if isinstance(size, str) else size, layout="constrained")
    return fig, fig.subplots(nrows, ncols, **kwargs)


def set_title(ax, text: str, width: int = 100, **kwargs) -> None:
    """A left-aligned title wrapped at ``width`` characters (a finding can be a long sentence; a figure saved
    without a tight bounding box must not cut it)."""
    import textwrap

    ax.set_title("\n".join(textwrap.wrap(text, width)), loc="left", fontsize=kwargs.pop("fontsize", 11), **kwargs)


def mark_synthetic(ax) -> None:
    """Stamp an Axes as showing synthetic data (required wherever synthetic data is shown)."""
    ax.text(0.5, 0.5, SYNTHETIC_LABEL, transform=ax.transAxes, ha="center", va="center", fontsize=14,
            color="red", alpha=0.35, rotation=20)
