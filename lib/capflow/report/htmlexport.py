"""HTML with nbconvert: a full page and a code-free page for publishing, both self-contained.

The stock ``lab`` template loads require.js, MathJax and mermaid from CDNs; published reports must open offline
and without third-party requests, so :data:`TEMPLATE` drops those scripts (figures are inline PNG).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import nbformat

TEMPLATE_NAME = "capflow_report.html.j2"
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""


@lru_cache(maxsize=2)
def exporter(code: bool = True):
    """An HTMLExporter on capflow's template; ``code=False`` hides inputs and prompts (the publishing view)."""
    import jinja2
    from nbconvert import HTMLExporter

    kw = {} if code else {"exclude_input": True, "exclude_input_prompt": True, "exclude_output_prompt": True}
    return HTMLExporter(template_name="lab", template_file=TEMPLATE_NAME,
                        extra_loaders=[jinja2.DictLoader({TEMPLATE_NAME: TEMPLATE})], **kw)


def export_html(nb: nbformat.NotebookNode, code: bool = True, title: str | None = None) -> str:
    """Render an (executed) notebook to one HTML page.

    Parameters
    ----------
    nb : NotebookNode
    code : bool
        Keep code cells (True) or show only prose and outputs (False).
    title : str, optional
        Page title (default: the notebook's name).
    """
    resources = {"metadata": {"name": title or "capflow report"}}
    body, _ = exporter(code).from_notebook_node(nb, resources=resources)
    return body


def write_html(nb_path: Path, out_full: Path | None, out_public: Path | None, title: str) -> None:
    """Render the notebook at ``nb_path`` to the full and/or code-free HTML files given."""
    nb = nbformat.read(nb_path, as_version=4)
    for out, code in ((out_full, True), (out_public, False)):
        if out is not None:
            Path(out).write_text(export_html(nb, code=code, title=title), encoding="utf-8")
