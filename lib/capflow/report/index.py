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
.status-skipped { color: #555; font-weight: 600; }
.note { color: #555; font-size: 0.85rem; }
.badge { display: inline-block; padding: 0 0.4rem; margin: 0 0.2rem 0.15rem 0; border-radius: 0.6rem;
  font-size: 0.78rem; background: #e8e8e8; color: #333; }
.badge.layer-snapshot { background: #fdf0d5; color: #7a4d00; }
.badge.layer-cache { background: #e3effa; color: #0b4f8a; }
.badge.layer-live { background: #e2f4e8; color: #0a6b2d; }
.banner { padding: 0.6rem 0.9rem; border-left: 4px solid #0072b2; background: #eef5fb; margin-bottom: 1rem; }
.banner.offline { border-color: #e69f00; background: #fdf6e8; }
code, .params { font-family: ui-monospace, monospace; font-size: 0.85rem; }
.error { color: #b00020; font-size: 0.85rem; }
.key-numbers { font-size: 0.88rem; min-width: 16rem; }
.as-of { white-space: nowrap; }
.links details { margin-top: 0.3rem; font-size: 0.85rem; }
.links summary { cursor: pointer; color: #0b4f8a; }
.table-wrap { overflow-x: auto; }
footer { margin-top: 1.5rem; color: #555; font-size: 0.85rem; }
</style>
</head>
<body>
<h1>capflow reports</h1>
<p class="banner {{ data.mode }}" id="data-mode"><strong>Data mode: {{ data.mode }}.</strong> {{ data.note }}</p>
<p>{{ counts.ok }} ok, {{ counts.skipped }} skipped (unchanged), {{ counts.failed }} failed,
 {{ counts.missing }} missing;
 generated {{ generated_at }}
 in {{ "%.1f"|format(wall_seconds) }} s with {{ jobs }} job(s).</p>
<div class="table-wrap"><table id="runs">
<thead><tr><th>Run</th><th>Key numbers</th><th>Parameters</th><th>Data as-of</th><th>Sources</th>
<th>Status</th><th>Duration</th><th>Links</th></tr></thead>
<tbody>
{% for r in runs %}
<tr class="run" data-run="{{ r.name }}" data-status="{{ r.status }}">
<td>{{ r.name }}<div class="note"><code>{{ r.notebook_name }}</code></div></td>
<td class="key-numbers">{% for k, v in r.key_numbers %}<div><span class="note">{{ k }}:</span> <strong>{{ v }}</strong></div>
{% else %}<span class="note">n/a</span>{% endfor %}</td>
<td class="params">{% for k, v in r.parameters.items() %}{{ k }} = {{ v }}<br>{% else %}defaults{% endfor %}</td>
<td class="as-of">{{ r.as_of or "n/a" }}</td>
<td class="sources">{% for layer in r.layers %}<span class="badge layer-{{ layer }}">{{ layer }}</span>{% endfor %}
{% if r.layers %}<br>{% endif %}<span title="{{ r.sources_all }}">{{ r.sources or data.mode }}</span></td>
<td class="status-{{ r.status }}">{% if r.status == "skipped" %}skipped (unchanged)<div class="note">previous run
 {{ r.started }}</div>{% else %}{{ r.status }}{% endif %}
{%- if r.error %}<div class="error">{{ r.error }}</div>{% endif %}</td>
<td>{% if r.status == "skipped" %}<span class="note">{{ "%.1f"|format(r.previous_duration_s or 0) }} s (previous)</span>
{%- else %}{{ "%.1f"|format(r.duration_s) }} s{% endif %}</td>
<td class="links">{% for label, href in r.links %}<a href="{{ href }}">{{ label }}</a>{% if not loop.last %} | {% endif %}{% endfor %}
{%- if r.result_links %}<details><summary>{{ r.result_links|length }} result files (CSV, JSON)</summary>
{% for label, href in r.result_links %}<a href="{{ href }}">{{ label }}</a><br>{% endfor %}</details>{% endif %}</td>
</tr>
{% endfor %}
</tbody>
</table></div>
<footer>capflow {{ capflow_version }}{% if git.commit %}, commit <code>{{ git.commit[:12] }}</code>{% if git.dirty %}
 (uncommitted changes){% endif %}{% endif %}; python {{ python }}.
 Full provenance, package versions and data hashes: <a href="manifest.json">manifest.json</a>.</footer>
</body>
</html>
"""

AS_OF_KEYS = ("data_as_of", "as_of", "asof", "data_end", "end")
SOURCE_KEYS = ("data_sources", "sources", "source", "provenance")
LAYER_KEYS = ("data_layers", "layers")
#: Sources shown in the index cell before "+N more" (all of them are in the cell's tooltip).
MAX_SOURCES = 4


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


def _items(value: Any) -> list[str]:
    """A summary value as a list of short strings (lists kept, a comma string split, anything else one item)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple, set)):
        return [str(v) for v in value if v not in (None, "")]
    return [_text(value)]


def short_list(items: list[str], limit: int = MAX_SOURCES, width: int = 40) -> str:
    """``"a, b, c +2 more"``: at most ``limit`` items, each cut to ``width`` characters."""
    shown = [i if len(i) <= width else i[: width - 3] + "..." for i in items[:limit]]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" +{more} more" if more > 0 else "")


def index_row(r: dict, prefix: str) -> dict:
    """Display fields of one run result: as-of, sources and layers from its summary, links relative to the index.

    A skipped run keeps the previous run's files, so its links are the same as after that run.
    """
    links = [(label, f"{prefix}/{r['files'][key]}") for label, key in
             (("report", "html"), ("code-free", "public_html"), ("notebook", "ipynb"), ("log", "log"))
             if key in r.get("files", {})]
    results = [(Path(p).name, f"{prefix}/{p}") for p in r.get("results", []) if p.endswith((".csv", ".json"))]
    summary = r.get("summary") or {}
    sources = _items(_first(summary, SOURCE_KEYS))
    layers = [v for v in _items(_first(summary, LAYER_KEYS)) if v != "None"]
    numbers = summary.get("key_numbers") if isinstance(summary.get("key_numbers"), dict) else {}
    return {"previous_duration_s": None, **r, "notebook_name": Path(r["notebook"]).name, "links": links,
            "result_links": results,
            "key_numbers": [(_text(k, 60), _text(v, 80)) for k, v in list(numbers.items())[:4]],
            "as_of": _text(_first(summary, AS_OF_KEYS), 40), "sources": short_list(sources),
            "sources_all": _text(sources, 1000), "layers": [_text(v, 20) for v in layers]}


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
