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


def png(fig) -> bytes:
    """The figure as PNG bytes: one draw at the figure's dpi (its constrained layout already fits it)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, pil_kwargs={"compress_level": PNG_LEVEL})
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
