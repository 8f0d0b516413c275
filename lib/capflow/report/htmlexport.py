"""HTML with nbconvert: a full page and a code-free page for publishing, both self-contained and sanitized.

The stock ``lab`` template loads require.js, MathJax and mermaid from CDNs; published reports must open offline
and without third-party requests, so :data:`TEMPLATE` drops those scripts (figures are inline PNG) and adds the
table CSS that the sanitizer strips from cell outputs (pandas' scoped ``<style>`` blocks). Every page's body then
passes :func:`capflow.report.sanitize.sanitize_page` (a strict allowlist): whatever a parameter, catalog or data
string put into a table or a Markdown cell, no script, handler or foreign element reaches a published page.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import nbformat

TEMPLATE_NAME = "capflow_report.html.j2"
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block extra_css -%}
<style>
.jp-OutputArea-output { overflow-x: auto; }
.jp-RenderedHTMLCommon table.dataframe, .jp-RenderedHTMLCommon table { font-size: 0.86rem; }
.dataframe tbody tr th:only-of-type { vertical-align: middle; }
.dataframe tbody tr th { vertical-align: top; }
.dataframe thead th { text-align: right; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { white-space: normal; max-width: 42rem; }
.capflow-table { overflow-x: auto; max-width: 100%; margin-bottom: 0.8rem; }
.jp-RenderedHTMLCommon table.capflow { border-collapse: collapse; margin: 0; }
.jp-RenderedHTMLCommon table.capflow th, .jp-RenderedHTMLCommon table.capflow td { padding: 0.2rem 0.55rem; }
.jp-RenderedHTMLCommon table.capflow .num { text-align: right; white-space: nowrap;
  font-variant-numeric: tabular-nums; }
.jp-RenderedHTMLCommon table.capflow .txt { text-align: left; }
.jp-RenderedHTMLCommon table.capflow .date { text-align: left; white-space: nowrap; }
.jp-RenderedHTMLCommon table.capflow tbody tr:nth-child(odd) { background: #f6f6f6; }
.capflow-table-note { color: #555; font-size: 0.82rem; margin: 0.2rem 0 0 0; }
.jp-OutputArea-output img { max-width: 100%; height: auto; }
</style>
{%- endblock extra_css -%}
"""


#: Exporter settings of the code-free (publishing) view.
CODE_FREE = {"exclude_input": True, "exclude_input_prompt": True, "exclude_output_prompt": True}


def _not_alt_text_notice(record: logging.LogRecord) -> bool:
    """Drop nbconvert's per-page "Alternative text is missing on N image(s)" notice (figures have no alt)."""
    return not str(record.msg).startswith("Alternative text is missing")


@lru_cache(maxsize=1)
def _shared_exporter():
    import jinja2
    from nbconvert import HTMLExporter

    exp = HTMLExporter(template_name="lab", template_file=TEMPLATE_NAME,
                       extra_loaders=[jinja2.DictLoader({TEMPLATE_NAME: TEMPLATE})])
    if _not_alt_text_notice not in exp.log.filters:
        exp.log.addFilter(_not_alt_text_notice)
    return exp


def exporter(code: bool = True):
    """The process's one HTMLExporter on capflow's template, set for the full (``code=True``) or code-free view.

    The template environment is built once; the view is three flags read on every export. Not thread-safe:
    render from one thread at a time.
    """
    exp = _shared_exporter()
    for key in CODE_FREE:
        setattr(exp, key, not code)
    return exp


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
    import html

    from capflow.report.sanitize import sanitize_page

    resources = {"metadata": {"name": html.escape(title or "capflow report")}}
    body, _ = exporter(code).from_notebook_node(nb, resources=resources)
    return sanitize_page(body)


def export_both(nb: nbformat.NotebookNode, title: str | None = None) -> tuple[str, str]:
    """The full and the code-free page of one in-memory notebook (one exporter, no file re-read)."""
    return export_html(nb, code=True, title=title), export_html(nb, code=False, title=title)


def write_html(nb_path: Path, out_full: Path | None, out_public: Path | None, title: str) -> None:
    """Render the notebook at ``nb_path`` to the full and/or code-free HTML files given."""
    nb = nbformat.read(nb_path, as_version=4)
    for out, code in ((out_full, True), (out_public, False)):
        if out is not None:
            Path(out).write_text(export_html(nb, code=code, title=title), encoding="utf-8")
