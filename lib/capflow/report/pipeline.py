"""``capflow run``: validate every run's parameters, execute the runs in parallel, write the index and manifest."""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing as mp
import os
import queue
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import capflow
from capflow import config
from capflow.report.environment import (DataMode, Scrubber, detect_data_mode, kernel_env, path_replacements,
                                        secret_values)
from capflow.report.execute import RunJob, read_summary, render, run_in_worker
from capflow.report.fingerprint import (HASH_CACHE_NAME, HashCache, file_records, fingerprint, load_durations,
                                         save_durations, sha256_json, tree_hash)
from capflow.report.index import render_index
from capflow.report.manifest import build_manifest, notebook_inputs, package_versions
from capflow.report.runs import RunSpec
from capflow.report.staging import RUNS_SUBDIR, ReportAborted, Staging, check_output, is_disk_full

log = logging.getLogger(__name__)
RUN_RECORD = "run.json"  # a run's result and fingerprint, for skipping it when nothing changed


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
            "files": {}, "results": [], "timings": {}, "kernel_messages": []}


def _jobs(prepared, mode: DataMode, stage: Staging, timeout, html: bool, kernel: str,
          scrub: Scrubber) -> list[RunJob]:
    jobs = []
    for spec, params in prepared:
        out = stage.run_dir(spec.name)
        job_scrub = scrub.with_paths([(str(out), "."), (str(out.parent.parent), ".")])
        jobs.append(RunJob(spec.name, str(spec.notebook), params, str(out), kernel_env(mode, spec.name),
                           job_scrub, mode.note, timeout, html, kernel, defer_html=html))
    return jobs


def schedule(jobs: list[RunJob], expected: dict[str, float]) -> list[RunJob]:
    """Longest expected run first (runs without a recorded duration keep their order, after those with one).

    Starting the long runs first keeps ``--jobs N`` workers busy until the end (longest-processing-time rule);
    ``expected`` is :func:`capflow.report.fingerprint.load_durations` (the last successful duration by name).
    """
    return sorted(jobs, key=lambda j: -expected.get(j.name, -1.0))


def _crashed(job: RunJob, exc: BaseException) -> dict:
    what = f"{type(exc).__name__}: {exc}"
    res = {"name": job.name, "notebook": job.notebook, "parameters": job.parameters, "status": "failed",
           "duration_s": 0.0, "started": "", "files": {}, "results": [], "timings": {}, "kernel_messages": [],
           "error": job.scrub(f"the runner failed: {what}")}
    if is_disk_full(exc):
        res["fatal"] = job.scrub(f"disk full while writing run {job.name} ({exc.strerror}: {exc.filename or ''})")
    return res


def _render_deferred(job: RunJob, res: dict) -> dict:
    """Render a worker's deferred HTML in this process; fail the run (and say so in run.log) if it fails."""
    text = res.pop("notebook_json", None)
    if not text:
        return res
    t0, lines = time.perf_counter(), []
    try:
        ok = render(job.name, text, Path(job.out_dir), res["files"], job.scrub, lines)
    except OSError as exc:
        return _crashed(job, exc) if is_disk_full(exc) else {**res, "status": "failed", "error": job.scrub(str(exc))}
    if not ok:
        res["status"], res["error"] = "failed", res["error"] or "HTML export failed (see run.log)"
        log_path = Path(job.out_dir) / "run.log"
        log_path.write_text(log_path.read_text(encoding="utf-8") + job.scrub("\n".join(lines) + "\n"),
                            encoding="utf-8")
    res["timings"]["html_s"] = round(time.perf_counter() - t0, 3)
    res["duration_s"] = round(res["duration_s"] + res["timings"]["html_s"], 3)  # the run's work, HTML included
    return res


def execute_jobs(jobs: list[RunJob], n_jobs: int = 1, progress: bool = True, isolate: bool = False) -> dict[str, dict]:
    """Execute runs ``n_jobs`` at a time; ``{name: result}``. HTML is rendered here while the next run executes.

    By default on a warm kernel pool (:mod:`capflow.report.pool`): ``n_jobs`` kernels, each started once, with
    the heavy modules pre-imported, reset between runs. ``isolate=True``: each run in a worker process with a
    fresh kernel of its own.
    """
    if not jobs:
        return {}
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc="capflow run", unit="run", file=sys.stderr, disable=not progress)
    finished = (_isolated if isolate else _pooled)(jobs, max(1, min(n_jobs, len(jobs))))  # pool kernels start now
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="capflow-html") as html_pool:
        if any(j.html and j.defer_html for j in jobs):  # build nbconvert's exporter while the first kernels run
            from capflow.report.htmlexport import exporter

            html_pool.submit(exporter)
        rendered = {}
        for job, res in finished:
            rendered[job.name] = html_pool.submit(_render_deferred, job, res)
            bar.set_postfix_str(f"{job.name}: {res['status']}")
            bar.update(1)
        out = {}
        for name, fut in rendered.items():
            out[name] = fut.result()
            log.info("run %s: %s in %.1f s", name, out[name]["status"], out[name]["duration_s"])
    bar.close()
    return out


def _isolated(jobs: list[RunJob], workers: int):
    """Yield ``(job, result)`` as runs finish, each run in a spawned worker process with its own fresh kernel."""
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(run_in_worker, j): j for j in jobs}
        for fut in as_completed(futures):
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - a crashed worker fails its run only
                res = _crashed(futures[fut], exc)
            yield futures[fut], res


def _pooled(jobs: list[RunJob], workers: int):
    """Start ``workers`` warm kernels (one thread each) taking the runs in order; return an iterator of
    ``(job, result)`` as runs finish."""
    from capflow.report.pool import KernelSlot, launch_env, warm_modules

    todo, done = queue.SimpleQueue(), queue.SimpleQueue()
    for j in jobs:
        todo.put(j)
    modules = warm_modules(j.notebook for j in jobs)
    slots = [KernelSlot(jobs[0].kernel, launch_env(jobs[0].env), modules, str(Path(jobs[0].out_dir).parent))
             for _ in range(workers)]
    threads = [threading.Thread(target=_slot_loop, args=(s, todo, done), name=f"capflow-kernel-{i}", daemon=True)
               for i, s in enumerate(slots)]
    pm_log = logging.getLogger("papermill")
    level = pm_log.level
    pm_log.setLevel(logging.WARNING)  # papermill's per-run INFO lines (the worker processes did the same)
    for t in threads:
        t.start()

    def results():
        try:
            for _ in jobs:
                yield done.get()
            for t in threads:
                t.join()
        finally:
            pm_log.setLevel(level)

    return results()


def _slot_loop(slot, todo: queue.SimpleQueue, done: queue.SimpleQueue) -> None:
    """One pool thread: warm its kernel at once, then take queued runs until none is left; stop the kernel."""
    from capflow.report.execute import execute_run

    try:
        try:
            slot.ensure()  # start and warm before the first run is taken (a failure is retried by that run)
        except Exception as exc:  # noqa: BLE001
            log.warning("pool kernel failed to start: %s", exc)
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                break
            try:
                res = execute_run(job, slot=slot).to_dict()
            except BaseException as exc:  # noqa: BLE001 - fails this run only; the main thread must hear of it
                res = _crashed(job, exc)
            done.put((job, res))
    finally:
        slot.close()


@dataclass
class _Context:
    """What every run of one ``capflow run`` shares: hashes computed once."""

    cache: HashCache
    packages: dict
    snapshot: list[dict]
    data: str | None
    library: str
    environment: dict


def _context(mode: DataMode, output: Path, html: bool, kernel: str) -> _Context:
    cache = HashCache(output / HASH_CACHE_NAME)
    packages = package_versions()
    snapshot = file_records(mode.snapshot, cache) if mode.snapshot else []
    data = None  # online: the live data are not known in advance, so no run is ever skipped
    if mode.mode == "offline":
        cached = file_records(config.cache_dir(), cache) if "cache" in config.source_order() else []
        data = sha256_json([[r["path"], r["sha256"]] for r in snapshot + cached])
    env = {"packages": packages, "python": sys.version.split()[0], "kernel": kernel, "html": html,
           "data_note": mode.note}
    return _Context(cache, packages, snapshot, data, tree_hash(Path(capflow.__file__).parent, cache), env)


def run_fingerprint(spec: RunSpec, params: dict, ctx: _Context) -> dict[str, Any]:
    """``{"fingerprint", "parts"}``: what determines a run's output (fingerprint None online: never skipped)."""
    parts = {"notebook": ctx.cache.sha256(spec.notebook), "parameters": sha256_json(params),
             "library": ctx.library, "data": ctx.data, "environment": sha256_json(ctx.environment)}
    return {"fingerprint": fingerprint(parts), "parts": parts}


def previous_run(output: Path, name: str) -> dict | None:
    """The record of the last successful run ``name`` in ``output`` whose files all still exist, or None."""
    path = output / RUNS_SUBDIR / name / RUN_RECORD
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = list(rec.get("files", {}).values()) + rec.get("results", [])
    if rec.get("status") not in ("ok", "skipped") or not all((path.parent / f).is_file() for f in files):
        return None
    return rec


def skipped(prev: dict) -> dict:
    """A run result reusing the previous successful run's files (status ``skipped``)."""
    return {**prev, "status": "skipped", "reason": "unchanged", "duration_s": 0.0,
            "previous_duration_s": prev.get("previous_duration_s", prev.get("duration_s", 0.0)),
            "timings": {}, "kernel_messages": []}


def run_reports(runs: list[RunSpec], overrides: dict[str, Any] | None = None, jobs: int = 1,
                output: str | Path | None = None, timeout: float | None = 600.0, html: bool = True,
                kernel: str = "python3", data_mode: DataMode | None = None, argv: list[str] | None = None,
                progress: bool = True, force: bool = False, isolate: bool = False) -> ReportOutcome:
    """Validate, execute and publish runs; a failed notebook fails its row and the exit code, not the others.

    Parameters
    ----------
    runs : list of RunSpec
        From :func:`capflow.report.runs.load_runs` / :func:`~capflow.report.runs.select`.
    overrides : dict, optional
        Parameter values applied to every run (``-p``), validated against each notebook.
    jobs : int
        Runs executed at once: the number of warm kernels of the pool (or of worker processes with
        ``isolate``).
    output : path, optional
        Output root (default ``reports/``): ``index.html``, ``manifest.json``, ``runs/<name>/``.
    timeout : float or None
        Per-cell execution timeout in seconds.
    html : bool
        Render the full and code-free HTML pages.
    data_mode : DataMode, optional
        Default :func:`capflow.report.environment.detect_data_mode`.
    progress : bool
        Show a progress bar on stderr.
    force : bool
        Re-run every run; by default an offline run whose notebook, parameters, capflow library source, data
        files and environment are unchanged since its last successful run in ``output`` is skipped
        (status ``skipped``, the previous run's files and links kept).
    isolate : bool
        One fresh kernel per run (in its own worker process) instead of the warm kernel pool, whose kernels
        are reused run after run with their state reset in between (:mod:`capflow.report.pool`).

    Returns
    -------
    ReportOutcome
        ``exit_code`` is 0 when every run succeeded or was skipped, 1 when any failed or its notebook is missing.
    """
    t0, started = time.perf_counter(), dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    if timeout is not None and not 0 < timeout < float("inf"):
        raise ValueError(f"timeout={timeout!r}: must be a positive number of seconds per cell (None: no limit)")
    prepared = prepare(runs, overrides)  # raises before any kernel starts
    check_kernel(kernel)
    output = check_output(output or config.REPORTS_DIR)
    mode = data_mode or detect_data_mode()
    scrub = Scrubber(tuple(secret_values(os.environ)), tuple(path_replacements(output)))
    opts = _Options(jobs, timeout, html, kernel, progress, force, isolate)
    with Staging(output) as stage:
        manifest, done = _execute_and_stage(prepared, mode, output, stage, scrub, opts, started, t0, argv)
        stage.publish(list(done))
    return ReportOutcome(manifest, output / "index.html", 0 if manifest["status"] == "ok" else 1)


@dataclass(frozen=True)
class _Options:
    """The execution options of one ``capflow run``."""

    jobs: int
    timeout: float | None
    html: bool
    kernel: str
    progress: bool
    force: bool
    isolate: bool


def _execute_and_stage(prepared, mode: DataMode, output: Path, stage: Staging, scrub: Scrubber, o: _Options,
                       started: str, t0: float, argv) -> tuple[dict, dict]:
    """Skip unchanged runs, execute the others into ``stage``, write the manifest and index there (unpublished).

    Raises
    ------
    ReportAborted
        A run hit a full disk: nothing is published.
    """
    ctx = _context(mode, output, o.html, o.kernel)
    fps = {s.name: run_fingerprint(s, p, ctx) for s, p in prepared if p is not None}
    reuse = {} if o.force else {n: previous_run(output, n) for n, fp in fps.items() if fp["fingerprint"]}
    reuse = {n: skipped(r) for n, r in reuse.items() if r and r.get("fingerprint") == fps[n]["fingerprint"]}
    todo = [(s, p) for s, p in prepared if p is not None and s.name not in reuse]
    done = execute_jobs(schedule(_jobs(todo, mode, stage, o.timeout, o.html, o.kernel, scrub), load_durations()),
                        o.jobs, o.progress, o.isolate)
    fatal = [r["fatal"] for r in done.values() if r.get("fatal")]
    if fatal:
        raise ReportAborted(f"{fatal[0]}; nothing was published, the previous report in {output.name}/ is unchanged")
    save_durations({n: r["timings"].get("execute_s", r["duration_s"]) for n, r in done.items() if r["status"] == "ok"})
    folders = {n: (stage.runs if n in done else output / RUNS_SUBDIR) / n for n in fps}
    results = [_result(spec, params, done, reuse, fps, folders, ctx, scrub) for spec, params in prepared]
    ctx.cache.save()
    argv = [scrub(a) for a in (argv if argv is not None else sys.argv)]
    manifest = build_manifest(results, mode.to_dict(), started, time.perf_counter() - t0, argv, o.jobs, output,
                              snapshot=ctx.snapshot, packages=ctx.packages)
    manifest["kernels"] = ("none: every run skipped" if not todo else "isolated: a fresh kernel per run"
                           if o.isolate else f"pool: {min(o.jobs, len(todo))} warm kernel(s) reused, state reset "
                           "between runs")
    (stage.root / "manifest.json").write_text(scrub(json.dumps(manifest, indent=2, default=str)), "utf-8")
    prefix = {r["name"]: f"{RUNS_SUBDIR}/{r['name']}" for r in results}
    (stage.root / "index.html").write_text(scrub(render_index(manifest, prefix)), encoding="utf-8")
    return manifest, done


def check_kernel(kernel: str) -> None:
    """Refuse an unknown Jupyter kernel name before anything starts (one line listing the installed ones)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ksm = KernelSpecManager()
    try:
        ksm.get_kernel_spec(kernel)
    except NoSuchKernel:
        names = ", ".join(sorted(ksm.find_kernel_specs())) or "none installed"
        raise ValueError(f"--kernel {kernel!r} is not an installed Jupyter kernel; installed: {names}") from None


def _result(spec: RunSpec, params, done: dict, reuse: dict, fps: dict, folders: dict[str, Path], ctx: _Context,
            scrub: Scrubber) -> dict:
    """One run's manifest record; a run that just succeeded gets its ``run.json`` for later skipping."""
    if params is None:
        return {**_missing(spec), "summary": {}, "inputs": {}}
    folder = folders[spec.name]
    r = reuse.get(spec.name) or done[spec.name]
    r.update(fps[spec.name])
    r["notebook"] = scrub(str(r["notebook"]))
    r["summary"] = read_summary(folder / "results")
    r["inputs"] = notebook_inputs(spec.notebook, ctx.cache)
    if spec.name not in reuse and r["status"] == "ok" and r["fingerprint"]:
        (folder / RUN_RECORD).write_text(scrub(json.dumps(r, indent=1, default=str)), encoding="utf-8")
    return r
