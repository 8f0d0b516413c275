"""Show a study :class:`~capflow.studies.base.Result` in a notebook, in the same order in every report.

``findings`` (the "Key findings" heading and the headline, first), ``figure``/``figures``, ``tables``,
``method`` (method with values, then every note: drops, exclusions, caveats). Figures are built on matplotlib's
object API (not pyplot), so nothing is drawn twice and nothing leaks between cells.
"""

from __future__ import annotations

from typing import Any

from capflow.studies.base import Result


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def _md(text: str) -> None:
    from IPython.display import Markdown

    _display(Markdown(text))


def findings(result: Result) -> None:
    """The "Key findings" section: the headline sentences, as bullets."""
    _md("## Key findings\n\n" + "\n".join(f"- {line}" for line in result.headline()))


#: PNG settings of report figures: the figure's own layout (constrained, no second "tight" pass) and fast zlib.
PNG_LEVEL = 1


class FigureLayoutWarning(UserWarning):
    """A figure's title runs past the figure's edge (the published image would cut it)."""


def cut_titles(fig) -> list[str]:
    """Titles (suptitle, axes titles) that run past the figure's left or right edge once drawn.

    Constrained layout fits axes, labels and legends but not a long left-aligned title;
    :func:`capflow.plots.set_title` wraps one. Call after the figure has been drawn.
    """
    width = fig.bbox.width
    texts = [fig._suptitle] if getattr(fig, "_suptitle", None) is not None else []
    texts += [t for ax in fig.axes for t in (ax.title, ax._left_title, ax._right_title) if t.get_text()]
    cut = []
    for t in texts:
        box = t.get_window_extent()  # positions of the last draw
        if box.x0 < -1 or box.x1 > width + 1:
            cut.append(t.get_text())
    return cut


def png(fig) -> bytes:
    """The figure as PNG bytes: one draw at the figure's dpi (its constrained layout already fits it); a title
    cut at the figure's edge raises a :class:`FigureLayoutWarning` naming it (the page test fails on it)."""
    import io
    import warnings

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, pil_kwargs={"compress_level": PNG_LEVEL})
    for text in cut_titles(fig):
        warnings.warn(f"figure title cut at the image edge (wrap it with capflow.plots.set_title): {text[:80]!r}",
                      FigureLayoutWarning, stacklevel=2)
    return buf.getvalue()


def _title(fig) -> str:
    texts = [fig._suptitle.get_text()] if getattr(fig, "_suptitle", None) is not None else []
    texts += [ax.get_title(loc) for ax in fig.axes for loc in ("left", "center") if ax.get_title(loc)]
    return next((t for t in texts if t), "figure")


def figure_html(fig) -> str:
    """An ``<img>`` of the figure with its title as the alternative text (readers, screen readers, search)."""
    import base64
    import html

    data = base64.b64encode(png(fig)).decode("ascii")
    return (f'<img class="capflow-figure" alt="{html.escape(_title(fig))}" style="max-width: 100%; height: auto" '
            f'src="data:image/png;base64,{data}">')


def figure(result: Result, name: str, figures: dict | None = None, missing_ok: bool = False) -> None:
    """One named figure of the result (``figures`` reuses an already built dict; ``missing_ok``: a figure the
    data could not give is skipped, e.g. the hourly anatomy of a day without hourly bars)."""
    from IPython.display import HTML

    figs = figures if figures is not None else result.figures()
    if name not in figs:
        if missing_ok:
            return
        raise KeyError(f"figure {name!r} is not in this result; valid: {', '.join(figs) or 'none'}")
    _display(HTML(figure_html(figs[name])))


def figures(result: Result) -> None:
    """Every figure of the result, in order."""
    from IPython.display import HTML

    for fig in result.figures().values():
        _display(HTML(figure_html(fig)))


def tables(result: Result, names: list[str] | None = None, missing_ok: bool = False) -> None:
    """The named tables (default: all), each with its title and note (``missing_ok``: skip absent ones)."""
    from IPython.display import HTML

    tabs = result.tables()
    for name in names or list(tabs):
        if name not in tabs:
            if missing_ok:
                continue
            raise KeyError(f"table {name!r} is not in this result; valid: {', '.join(tabs)}")
        t = tabs[name]
        _md(f"### {t.title}")
        _display(HTML(t.to_html()))


def method(result: Result) -> None:
    """The "Method and caveats" section: the method with its values, then every note."""
    lines = ["## Method and caveats", "", *result.method()]
    notes = result.notes.lines()
    if notes:
        lines += ["", "**What was dropped, excluded or caveated, and why**", "", *notes]
    _md("\n".join(lines))
