"""Execute one run: papermill on its own kernel, a data-mode banner, HTML, redaction. Runs in a worker process."""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from capflow.report.environment import redact, redact_tree

BANNER_TAG = "capflow-banner"


@dataclass
class RunJob:
    """Everything a worker needs to execute one run (picklable)."""

    name: str
    notebook: str
    parameters: dict[str, Any]
    out_dir: str
    env: dict[str, str]
    secrets: list[str]
    data_note: str
    timeout: float | None = 600.0
    html: bool = True
    kernel: str = "python3"


@dataclass
class RunResult:
    """Outcome of one run (paths relative to the output root)."""

    name: str
    notebook: str
    parameters: dict[str, Any]
    status: str  # ok | failed | missing
    duration_s: float = 0.0
    started: str = ""
    error: str = ""
    files: dict[str, str] = field(default_factory=dict)
    results: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain dict (for the manifest and the index)."""
        return asdict(self)


def banner_cell(job: RunJob, status: str, started: str) -> nbformat.NotebookNode:
    """A markdown cell stating run, data mode, parameters and status; every value HTML-escaped."""
    esc = html.escape
    params = "; ".join(f"{esc(k)} = {esc(repr(v))}" for k, v in job.parameters.items()) or "defaults"
    state = "**FAILED**: the error is shown below" if status == "failed" else status
    text = (f"> **capflow report** - run {esc(job.name)} - executed {esc(started)} - status: {state}  \n"
            f"> **Data:** {esc(job.data_note)}  \n> **Parameters:** {params}")
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata["tags"] = [BANNER_TAG]
    return cell


def _error_text(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"
    return " ".join(str(text).split())[:500]


def _execute(job: RunJob, out_nb: Path, results: Path) -> None:
    import papermill as pm

    params = {**job.parameters, "output_dir": str(results)}
    pm.execute_notebook(job.notebook, str(out_nb), parameters=params, kernel_name=job.kernel, progress_bar=False,
                        log_output=False, execution_timeout=job.timeout, start_timeout=120, cwd=str(results))


def _input_notebook(job: RunJob, out: Path) -> str:
    """Path of an .ipynb for papermill (a jupytext .py is converted into the run folder)."""
    if not job.notebook.endswith(".py"):
        return job.notebook
    import jupytext

    conv = out / f"_{job.name}.input.ipynb"
    jupytext.write(jupytext.read(job.notebook), conv)
    return str(conv)


def _finish_notebook(job: RunJob, out_nb: Path, status: str, started: str) -> None:
    nb = nbformat.read(out_nb, as_version=4)
    first = nb.cells[0] if nb.cells else None
    at = 1 if first is not None and first.cell_type == "markdown" and first.source.lstrip().startswith("# ") else 0
    if first is not None and "papermill-error-cell-tag" in first.metadata.get("tags", []):
        at = 0
    nb.cells.insert(at, banner_cell(job, status, started))
    out_nb.write_text(redact(nbformat.writes(nb), job.secrets), encoding="utf-8")


def execute_run(job: RunJob) -> RunResult:
    """Execute one run in this process; never raises for notebook errors (they become ``status="failed"``).

    Writes into ``job.out_dir``: ``<name>.ipynb`` (executed), ``<name>.html`` (full), ``<name>.public.html``
    (code-free), ``results/`` (the notebook's CSV/JSON) and ``run.log``; every text file is redacted.
    """
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(job.env)  # the kernel inherits this scrubbed environment
    try:
        return _execute_run(job)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _execute_run(job: RunJob) -> RunResult:
    out, t0 = Path(job.out_dir), time.perf_counter()
    results = out / "results"
    results.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    out_nb = out / f"{job.name}.ipynb"
    res = RunResult(job.name, job.notebook, job.parameters, "ok", started=started)
    log_lines = [f"run {job.name}: notebook {job.notebook}", f"started {started}", f"data: {job.data_note}"]
    try:
        job.notebook = _input_notebook(job, out)
        _execute(job, out_nb, results)
    except Exception as exc:  # noqa: BLE001 - a failed notebook is a result, not a crash of the runner
        res.status, res.error = "failed", _error_text(exc)
        log_lines.append("".join(traceback.format_exception_only(type(exc), exc)).strip())
    if out_nb.is_file():
        _finish_notebook(job, out_nb, res.status, started)
        res.files["ipynb"] = out_nb.name
        if job.html:
            _render(job, out_nb, out, res, log_lines)
    res.duration_s = round(time.perf_counter() - t0, 3)
    log_lines.append(f"status {res.status} in {res.duration_s:.1f} s" + (f": {res.error}" if res.error else ""))
    (out / "run.log").write_text(redact("\n".join(log_lines) + "\n", job.secrets), encoding="utf-8")
    res.files["log"] = "run.log"
    redact_tree(out, job.secrets)
    res.results = sorted(str(p.relative_to(out)) for p in results.rglob("*") if p.is_file())
    res.error = redact(res.error, job.secrets)
    return res


def _render(job: RunJob, out_nb: Path, out: Path, res: RunResult, log_lines: list[str]) -> None:
    from capflow.report.htmlexport import write_html

    full, public = out / f"{job.name}.html", out / f"{job.name}.public.html"
    try:
        write_html(out_nb, full, public, title=job.name)
        res.files.update({"html": full.name, "public_html": public.name})
    except Exception as exc:  # noqa: BLE001
        logging.getLogger(__name__).warning("run %s: HTML export failed: %s", job.name, exc)
        log_lines.append(f"HTML export failed: {exc}")
        res.status, res.error = "failed", res.error or f"HTML export failed: {_error_text(exc)}"


def run_in_worker(job: RunJob) -> dict:
    """Process-pool entry point: :func:`execute_run` returning a plain dict."""
    logging.getLogger("papermill").setLevel(logging.WARNING)
    return execute_run(job).to_dict()


def read_summary(results_dir: Path) -> dict:
    """The notebook's summary JSON (``summary.json`` or ``*summary*.json`` in its results folder), or {}."""
    cands = [results_dir / "summary.json"] + sorted(results_dir.glob("*summary*.json"))
    for p in cands:
        if p.is_file():
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except (ValueError, OSError):
                continue
            return data if isinstance(data, dict) else {}
    return {}
