"""``reports/index.html``: one row per run (name, parameters, data as-of and sources, status, duration, links).

Rendered with Jinja2 with autoescape on: run names, parameter values and notebook-provided summaries are text,
never markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

INDEX_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>capflow reports</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #1b1b1b; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.45rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.status-ok { color: #0a6b2d; font-weight: 600; }
.status-failed, .status-missing { color: #b00020; font-weight: 600; }
.banner { padding: 0.6rem 0.9rem; border-left: 4px solid #0072b2; background: #eef5fb; margin-bottom: 1rem; }
.banner.offline { border-color: #e69f00; background: #fdf6e8; }
code, .params { font-family: ui-monospace, monospace; font-size: 0.85rem; }
.error { color: #b00020; font-size: 0.85rem; }
footer { margin-top: 1.5rem; color: #555; font-size: 0.85rem; }
</style>
</head>
<body>
<h1>capflow reports</h1>
<p class="banner {{ data.mode }}" id="data-mode"><strong>Data mode: {{ data.mode }}.</strong> {{ data.note }}</p>
<p>{{ counts.ok }} ok, {{ counts.failed }} failed, {{ counts.missing }} missing; generated {{ generated_at }}
 in {{ "%.1f"|format(wall_seconds) }} s with {{ jobs }} job(s).</p>
<table id="runs">
<thead><tr><th>Run</th><th>Notebook</th><th>Parameters</th><th>Data as-of</th><th>Sources</th>
<th>Status</th><th>Duration</th><th>Links</th></tr></thead>
<tbody>
{% for r in runs %}
<tr class="run" data-run="{{ r.name }}" data-status="{{ r.status }}">
<td>{{ r.name }}</td>
<td><code>{{ r.notebook_name }}</code></td>
<td class="params">{% for k, v in r.parameters.items() %}{{ k }} = {{ v }}<br>{% else %}defaults{% endfor %}</td>
<td>{{ r.as_of or "n/a" }}</td>
<td>{{ r.sources or data.mode }}</td>
<td class="status-{{ r.status }}">{{ r.status }}{% if r.error %}<div class="error">{{ r.error }}</div>{% endif %}</td>
<td>{{ "%.1f"|format(r.duration_s) }} s</td>
<td>{% for label, href in r.links %}<a href="{{ href }}">{{ label }}</a>{% if not loop.last %} | {% endif %}{% endfor %}</td>
</tr>
{% endfor %}
</tbody>
</table>
<footer>capflow {{ capflow_version }}{% if git.commit %}, commit <code>{{ git.commit[:12] }}</code>{% if git.dirty %}
 (uncommitted changes){% endif %}{% endif %}; python {{ python }}.
 Full provenance, package versions and data hashes: <a href="manifest.json">manifest.json</a>.</footer>
</body>
</html>
"""

AS_OF_KEYS = ("data_as_of", "as_of", "asof", "data_end", "end")
SOURCE_KEYS = ("data_sources", "sources", "source", "provenance")


def _first(summary: dict, keys: tuple[str, ...]) -> Any:
    for k in keys:
        if summary.get(k) not in (None, "", [], {}):
            return summary[k]
    return None


def _text(value: Any, limit: int = 300) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        value = ", ".join(f"{k}: {v}" for k, v in value.items()) if len(value) < 12 else ", ".join(map(str, value))
    elif isinstance(value, (list, tuple, set)):
        value = ", ".join(map(str, value))
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def index_row(r: dict, prefix: str) -> dict:
    """Display fields of one run result: as-of and sources from its summary, links relative to the index."""
    links = [(label, f"{prefix}/{r['files'][key]}") for label, key in
             (("report", "html"), ("code-free", "public_html"), ("notebook", "ipynb"), ("log", "log"))
             if key in r.get("files", {})]
    links += [(Path(p).name, f"{prefix}/{p}") for p in r.get("results", []) if p.endswith((".csv", ".json"))]
    summary = r.get("summary") or {}
    return {**r, "notebook_name": Path(r["notebook"]).name, "links": links,
            "as_of": _text(_first(summary, AS_OF_KEYS)), "sources": _text(_first(summary, SOURCE_KEYS))}


def render_index(manifest: dict, run_prefix: dict[str, str]) -> str:
    """HTML of the index page from a manifest (see :func:`capflow.report.manifest.build_manifest`).

    Parameters
    ----------
    manifest : dict
    run_prefix : dict
        ``{run name: folder of its files relative to the index}``.
    """
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    rows = [index_row(r, run_prefix[r["name"]]) for r in manifest["runs"]]
    return env.from_string(INDEX_TEMPLATE).render(**{**manifest, "runs": rows})
