"""``capflow run``: validate every run's parameters, execute the runs in parallel, write the index and manifest."""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing as mp
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from capflow import config
from capflow.report.environment import DataMode, detect_data_mode, kernel_env, redact, secret_values
from capflow.report.execute import RunJob, read_summary, run_in_worker
from capflow.report.index import render_index
from capflow.report.manifest import build_manifest, notebook_inputs
from capflow.report.runs import RunSpec

log = logging.getLogger(__name__)
RUNS_SUBDIR = "runs"


@dataclass
class ReportOutcome:
    """What :func:`run_reports` produced: the manifest, the index path and the process exit code."""

    manifest: dict[str, Any]
    index: Path
    exit_code: int


def prepare(runs: list[RunSpec], overrides: dict[str, Any] | None = None) -> list[tuple[RunSpec, dict | None]]:
    """Validate every run's parameters before any kernel starts; ``None`` marks a run whose notebook is missing.

    Raises
    ------
    capflow.report.params.ParameterError
        The first invalid parameter of any run (one line naming the run and the parameter).
    """
    return [(r, r.resolve(overrides) if r.exists else None) for r in runs]


def _missing(spec: RunSpec) -> dict:
    return {"name": spec.name, "notebook": str(spec.notebook), "parameters": spec.parameters, "status": "missing",
            "duration_s": 0.0, "started": "", "error": f"notebook {spec.notebook.name} does not exist yet",
            "files": {}, "results": []}


def _jobs(prepared, mode: DataMode, output: Path, timeout, html: bool, kernel: str, secrets) -> list[RunJob]:
    jobs = []
    for spec, params in prepared:
        if params is None:
            continue
        out = output / RUNS_SUBDIR / spec.name
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        jobs.append(RunJob(spec.name, str(spec.notebook), params, str(out), kernel_env(mode, spec.name), secrets,
                           mode.note, timeout, html, kernel))
    return jobs


def execute_jobs(jobs: list[RunJob], n_jobs: int = 1, progress: bool = True) -> dict[str, dict]:
    """Execute runs, each in a worker process with its own kernel, ``n_jobs`` at a time; ``{name: result}``."""
    from tqdm.auto import tqdm

    out: dict[str, dict] = {}
    if not jobs:
        return out
    ctx = mp.get_context("spawn")
    bar = tqdm(total=len(jobs), desc="capflow run", unit="run", file=sys.stderr, disable=not progress)
    with ProcessPoolExecutor(max_workers=max(1, min(n_jobs, len(jobs))), mp_context=ctx) as pool:
        futures = {pool.submit(run_in_worker, j): j for j in jobs}
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - a crashed worker fails its run only
                res = {"name": job.name, "notebook": job.notebook, "parameters": job.parameters,
                       "status": "failed", "duration_s": 0.0, "started": "", "files": {}, "results": [],
                       "error": redact(f"worker crashed: {type(exc).__name__}: {exc}", job.secrets)}
            out[job.name] = res
            bar.set_postfix_str(f"{job.name}: {res['status']}")
            bar.update(1)
            log.info("run %s: %s in %.1f s", job.name, res["status"], res["duration_s"])
    bar.close()
    return out


def run_reports(runs: list[RunSpec], overrides: dict[str, Any] | None = None, jobs: int = 1,
                output: str | Path | None = None, timeout: float | None = 600.0, html: bool = True,
                kernel: str = "python3", data_mode: DataMode | None = None, argv: list[str] | None = None,
                progress: bool = True) -> ReportOutcome:
    """Validate, execute and publish runs; a failed notebook fails its row and the exit code, not the others.

    Parameters
    ----------
    runs : list of RunSpec
        From :func:`capflow.report.runs.load_runs` / :func:`~capflow.report.runs.select`.
    overrides : dict, optional
        Parameter values applied to every run (``-p``), validated against each notebook.
    jobs : int
        Runs executed at once (each in its own process and kernel).
    output : path, optional
        Output root (default ``reports/``): ``index.html``, ``manifest.json``, ``runs/<name>/``.
    timeout : float or None
        Per-cell execution timeout in seconds.
    html : bool
        Render the full and code-free HTML pages.
    data_mode : DataMode, optional
        Default :func:`capflow.report.environment.detect_data_mode`.

    Returns
    -------
    ReportOutcome
        ``exit_code`` is 0 when every run succeeded, 1 when any failed or its notebook is missing.
    """
    t0, started = time.perf_counter(), dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    prepared = prepare(runs, overrides)  # raises before any kernel starts
    mode = data_mode or detect_data_mode()
    secrets = secret_values(os.environ)
    output = Path(output or config.REPORTS_DIR).resolve()
    output.mkdir(parents=True, exist_ok=True)
    done = execute_jobs(_jobs(prepared, mode, output, timeout, html, kernel, secrets), jobs, progress)
    results = []
    for spec, params in prepared:
        r = done[spec.name] if params is not None else _missing(spec)
        r["summary"] = read_summary(output / RUNS_SUBDIR / spec.name / "results") if params is not None else {}
        r["inputs"] = notebook_inputs(spec.notebook) if spec.exists else {}
        results.append(r)
    argv = [redact(a, secrets) for a in (argv if argv is not None else sys.argv)]
    manifest = build_manifest(results, mode.to_dict(), started, time.perf_counter() - t0, argv, jobs, output)
    (output / "manifest.json").write_text(redact(json.dumps(manifest, indent=2, default=str), secrets), "utf-8")
    index = output / "index.html"
    prefix = {r["name"]: f"{RUNS_SUBDIR}/{r['name']}" for r in results}
    index.write_text(redact(render_index(manifest, prefix), secrets), encoding="utf-8")
    return ReportOutcome(manifest, index, 0 if manifest["status"] == "ok" else 1)
