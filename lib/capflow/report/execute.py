"""Execute one run: papermill on its own kernel, a data-mode banner, HTML, redaction. Runs in a worker process.

The executed notebook is taken from papermill's return value (read back from disk only when a cell failed),
given its banner, redacted in memory and written once. HTML is rendered either here or, with
``RunJob.defer_html``, by the parent from the returned notebook text while the worker starts the next kernel.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capflow.report.environment import Scrubber

if TYPE_CHECKING:  # nbformat is imported when first needed: a pool kernel starts meanwhile
    import nbformat

BANNER_TAG = "capflow-banner"


@dataclass
class RunJob:
    """Everything a worker needs to execute one run (picklable)."""

    name: str
    notebook: str
    parameters: dict[str, Any]
    out_dir: str
    env: dict[str, str]
    scrub: Scrubber  # secrets redacted and absolute paths shortened in every file written
    data_note: str
    timeout: float | None = 600.0
    html: bool = True
    kernel: str = "python3"
    defer_html: bool = False  # return the notebook text for the parent to render instead of rendering here


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
    timings: dict[str, float] = field(default_factory=dict)
    kernel_messages: list[str] = field(default_factory=list)
    notebook_json: str | None = None  # the executed notebook (redacted) when its HTML is deferred

    def to_dict(self) -> dict:
        """Plain dict (for the manifest and the index)."""
        return asdict(self)


def banner_cell(job: RunJob, status: str, started: str, error: str = "",
                shown: bool = True) -> nbformat.NotebookNode:
    """A markdown cell stating run, data mode, parameters and status; every value HTML-escaped.

    A failed run's banner points to the error output (``shown``) or, when the notebook has none (the kernel
    died, a cell timed out), states ``error`` itself.
    """
    esc = html.escape
    params = "; ".join(f"{esc(k)} = {esc(repr(v))}" for k, v in job.parameters.items()) or "defaults"
    state = status
    if status == "failed":
        state = "**FAILED**: the error is shown below" if shown or not error else f"**FAILED**: {esc(error)}"
    text = (f"> **capflow report** - run {esc(job.name)} - executed {esc(started)} - status: {state}  \n"
            f"> **Data:** {esc(job.data_note)}  \n> **Parameters:** {params}")
    import nbformat

    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata["tags"] = [BANNER_TAG]
    return cell


def _error_text(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"
    return " ".join(str(text).split())[:500]


ENGINE = "capflow_nbclient"
_EXECUTING = threading.local()  # the notebook being executed on this thread (kept when the kernel dies)


def _engine() -> str:
    """Register (once) papermill's nbclient engine keeping a handle on the notebook it executes.

    Runs execute without papermill's save after every cell (two full notebook writes per cell, on the
    critical path between cells); a notebook whose cell failed is still written by papermill, and one whose
    kernel died or timed out is taken from :data:`_EXECUTING`.
    """
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.exceptions import PapermillException

    class KeepingEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            _EXECUTING.nb = nb_man.nb
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    try:
        papermill_engines.get_engine(ENGINE)
    except PapermillException:
        papermill_engines.register(ENGINE, KeepingEngine)
    return ENGINE


def _execute(job: RunJob, out_nb: Path, results: Path, stderr_path: Path, slot=None) -> nbformat.NotebookNode:
    import papermill as pm

    from capflow.report.kernel import kernel_options

    params = {**job.parameters, "output_dir": str(results)}
    common = dict(parameters=params, kernel_name=job.kernel, progress_bar=False, log_output=False,
                  execution_timeout=job.timeout, start_timeout=120, engine_name=_engine(),
                  request_save_on_cell_execute=False)
    _EXECUTING.nb = None
    if slot is not None:  # a warm pooled kernel: reset to the run's environment and folder, then reused
        return slot.execute(pm.execute_notebook, job.env, str(results), input_path=job.notebook,
                            output_path=str(out_nb), **common)
    return pm.execute_notebook(job.notebook, str(out_nb), cwd=str(results), **common, **kernel_options(stderr_path))


def _input_notebook(job: RunJob, out: Path) -> str:
    """Path of an .ipynb for papermill (a jupytext .py is converted into the run folder)."""
    if not job.notebook.endswith(".py"):
        return job.notebook
    import jupytext

    conv = out / f"_{job.name}.input.ipynb"
    jupytext.write(jupytext.read(job.notebook), conv)
    return str(conv)


def _has_error_output(nb: nbformat.NotebookNode) -> bool:
    return any(o.get("output_type") == "error" for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def _finish_notebook(job: RunJob, nb: nbformat.NotebookNode, out_nb: Path, status: str, started: str,
                     error: str = "") -> str:
    """Insert the banner, write the redacted notebook once; return its text."""
    first = nb.cells[0] if nb.cells else None
    at = 1 if first is not None and first.cell_type == "markdown" and first.source.lstrip().startswith("# ") else 0
    if first is not None and "papermill-error-cell-tag" in first.metadata.get("tags", []):
        at = 0
    nb.cells.insert(at, banner_cell(job, status, started, error, _has_error_output(nb)))
    import nbformat

    text = job.scrub(nbformat.writes(nb))
    out_nb.write_text(text, encoding="utf-8")
    return text


def execute_run(job: RunJob, slot=None) -> RunResult:
    """Execute one run; never raises for notebook errors (they become ``status="failed"``).

    Writes into ``job.out_dir``: ``<name>.ipynb`` (executed), ``<name>.html`` (full), ``<name>.public.html``
    (code-free), ``results/`` (the notebook's CSV/JSON) and ``run.log``; every text file is redacted.

    Parameters
    ----------
    job : RunJob
    slot : capflow.report.pool.KernelSlot, optional
        A pooled warm kernel to run on (reset first); default: a fresh kernel started with ``job.env``
        (this process's environment is swapped meanwhile, so call it from a worker process).
    """
    if slot is not None:
        return _execute_run(job, slot)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(job.env)  # the kernel inherits this scrubbed environment
    try:
        return _execute_run(job)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _run_kernel(job: RunJob, out_nb: Path, results: Path, res: RunResult, log_lines: list[str], slot=None):
    """Execute with papermill; the executed notebook (None when none was written) and the kernel's stderr."""
    stderr_name = slot.stderr_path if slot is not None else None
    if slot is None:
        fd, stderr_name = tempfile.mkstemp(prefix="capflow-kernel-", suffix=".stderr")  # outside the published tree
        os.close(fd)
    nb = None
    try:
        job = replace(job, notebook=_input_notebook(job, Path(job.out_dir)))  # the caller's job stays as given
        nb = _execute(job, out_nb, results, Path(stderr_name), slot)
    except Exception as exc:  # noqa: BLE001 - a failed notebook is a result, not a crash of the runner
        res.status, res.error = "failed", _error_text(exc)
        log_lines.append("".join(traceback.format_exception_only(type(exc), exc)).strip())
    finally:
        from capflow.report.kernel import kernel_messages

        msgs = slot.run_messages() if slot is not None else kernel_messages(stderr_name)
        res.kernel_messages = [job.scrub(m) for m in msgs]
        if slot is None:
            os.unlink(stderr_name)
    if nb is None and out_nb.is_file():  # a cell failed: papermill wrote the notebook with its error marker
        import nbformat

        nb = nbformat.read(out_nb, as_version=4)
    elif nb is None:  # the kernel died or a cell timed out: the notebook as far as it got
        nb = getattr(_EXECUTING, "nb", None)
    _EXECUTING.nb = None
    return nb


def _execute_run(job: RunJob, slot=None) -> RunResult:
    out, t0 = Path(job.out_dir), time.perf_counter()
    results = out / "results"
    results.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    out_nb = out / f"{job.name}.ipynb"
    res = RunResult(job.name, job.notebook, job.parameters, "ok", started=started)
    log_lines = [f"run {job.name}: notebook {job.notebook}", f"started {started}", f"data: {job.data_note}"]
    nb = _run_kernel(job, out_nb, results, res, log_lines, slot)
    if slot is not None:
        log_lines.append(f"kernel: warm pool kernel (pid {slot.info.get('pid')}, started {slot.starts}x by its slot)")
    res.timings["execute_s"] = round(time.perf_counter() - t0, 3)
    if res.kernel_messages:
        logging.getLogger(__name__).warning("run %s: kernel stderr:\n%s", job.name, "\n".join(res.kernel_messages))
        log_lines += ["kernel stderr:"] + [f"  {m}" for m in res.kernel_messages]
    if nb is not None:
        text = _finish_notebook(job, nb, out_nb, res.status, started, res.error)
        res.files["ipynb"] = out_nb.name
        if job.html and job.defer_html:
            res.notebook_json = text
        elif job.html:
            t1 = time.perf_counter()
            render(job.name, text, out, res.files, job.scrub, log_lines)
            res.timings["html_s"] = round(time.perf_counter() - t1, 3)
            if "html" not in res.files:
                res.status, res.error = "failed", res.error or "HTML export failed (see run.log)"
    job.scrub.tree(results)  # the notebook's own files; everything else was scrubbed in memory
    res.results = sorted(str(p.relative_to(out)) for p in results.rglob("*") if p.is_file())
    res.error = job.scrub(res.error)
    res.duration_s = round(time.perf_counter() - t0, 3)
    write_log(out, res, log_lines, job.scrub)
    return res


def write_log(out: Path, res: RunResult | dict, lines: list[str], scrub: Scrubber) -> None:
    """Write ``run.log`` (scrubbed) with a final status line; record it in the result's files."""
    get = res.get if isinstance(res, dict) else lambda k: getattr(res, k)
    err = get("error")
    tail = f"status {get('status')} in {get('duration_s'):.1f} s" + (f": {err}" if err else "")
    (out / "run.log").write_text(scrub("\n".join(lines + [tail]) + "\n"), encoding="utf-8")
    get("files")["log"] = "run.log"


def render(name: str, notebook_text: str, out: Path, files: dict, scrub: Scrubber,
           log_lines: list[str]) -> bool:
    """Write ``<name>.html`` and ``<name>.public.html`` from the notebook text (one parse, both variants).

    Adds ``html``/``public_html`` to ``files`` on success; on failure logs it, appends to ``log_lines`` and
    returns False.
    """
    import nbformat

    from capflow.report.htmlexport import export_both

    try:
        full, public = export_both(nbformat.reads(notebook_text, as_version=4), title=name)
    except Exception as exc:  # noqa: BLE001 - an export failure fails the run, not the runner
        logging.getLogger(__name__).warning("run %s: HTML export failed: %s", name, exc)
        log_lines.append(f"HTML export failed: {_error_text(exc)}")
        return False
    for fname, body, key in ((f"{name}.html", full, "html"), (f"{name}.public.html", public, "public_html")):
        (out / fname).write_text(scrub(body), encoding="utf-8")
        files[key] = fname
    return True


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
