"""Benchmark ``capflow run --all --force`` (every run of reports.yaml) with ``--jobs 1`` and ``--jobs 2`` against the
floor: the same studies' work in one plain Python process, built from the CURRENT notebooks.

The floor executes every run's notebook code cells (read with jupytext; magics dropped) in one interpreter, with
the run's parameters from reports.yaml assigned after the ``parameters`` cell (as papermill injects them;
``output_dir`` a temporary folder), so each notebook does what it does in a report: params, load, run, its
``show.*`` calls (findings, figures, tables, method) and ``result.save``. IPython's ``display`` is stubbed by
what a kernel's formatters do with the object (a figure to PNG, ``bbox_inches="tight"`` as the inline backend
does; anything else to its HTML/Markdown text), as is each cell's last expression: no kernel, no notebook, no
HTML export. The figure/table cost on its own: the same program with the notebooks' ``show.*`` helpers doing
nothing ("floor without figures/tables"; ``result.figures()`` still builds the figures where a notebook calls
it), and the time spent inside ``show.*`` and ``display`` in the floor.

Everything runs offline (``CAPFLOW_OFFLINE=1``) on the embedded snapshot with a private data cache and report
state (``CAPFLOW_CACHE``, ``CAPFLOW_STATE_DIR`` in a temporary folder); the stored calendars are shared. A
warm-up process first fills the private cache from the snapshot (every registry asset at 1d, 1h and 4h), so
that no measured process pays for parsing the snapshot. ``--quick``: one round instead of ``--repeat``, and no
unchanged re-run.

Per process: wall time, CPU time of the whole process tree, and peak memory as the largest *sum* of resident
memory over the tree (runner, workers, kernels), sampled from /proc every 0.1 s. The floors and the runner run
in interleaved rounds; targets on the median of the paired ratios: ``--jobs 1`` <= 1.3x the floor's wall time,
``--jobs 2`` <= 1.1x. A last pass repeats ``--jobs 2`` without ``--force`` in the same output folder: nothing
changed, so every run is skipped (informational).

Usage: ``python benchmarks/bench_reports.py [--repeat 3] [--quick] [--isolate]``.
"""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _rows
from _rows import Row, check, info, mib, secs, times

AREA = "reports"
TARGETS = {1: 1.3, 2: 1.1}
PAGE = os.sysconf("SC_PAGE_SIZE")

#: The program the floor runs: ``PARTS`` (run name, output folder, code cells), ``SHOW`` (the ``show.*`` helpers
#: the notebooks call) and ``PRESENT`` are prepended. The last line printed is JSON: per run, its seconds, the
#: seconds inside the ``show`` helpers and IPython's display, and its status.
FLOOR_PROGRAM = r"""
import ast, io, json, os, time
os.environ["MPLBACKEND"] = "Agg"
import IPython.display
from capflow.studies import show

SHOW_S, DEPTH = [0.0], [0]


def present(obj):
    # what a kernel's formatters do with a displayed object: a figure to PNG, anything else to its rich text
    from matplotlib.figure import Figure
    if isinstance(obj, Figure):
        obj.savefig(io.BytesIO(), format="png", bbox_inches="tight")
        return
    for name in ("_repr_html_", "_repr_markdown_"):
        if hasattr(obj, name):
            getattr(obj, name)()
            return
    repr(obj)


def timed(fn):
    def wrapper(*args, **kwargs):
        DEPTH[0] += 1
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            DEPTH[0] -= 1
            if DEPTH[0] == 0:
                SHOW_S[0] += time.perf_counter() - t0
    return wrapper


def display(*objs, **kwargs):
    for obj in objs:
        present(obj)


def nothing(*args, **kwargs):
    return None


IPython.display.display = timed(display)
for name in SHOW:
    setattr(show, name, timed(getattr(show, name)) if PRESENT else nothing)


def run_cell(src, name, ns):
    tree = ast.parse(src)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, name, "exec"), ns)
    if last is not None:
        value = eval(compile(ast.Expression(last.value), name, "eval"), ns)
        if value is not None and PRESENT:
            IPython.display.display(value)


times = {}
for name, out_dir, cells in PARTS:
    os.makedirs(out_dir, exist_ok=True)
    t0, s0 = time.perf_counter(), SHOW_S[0]
    try:
        ns = {"__name__": "__main__"}
        for cell in cells:
            run_cell(cell, name, ns)
        status = "ok"
    except Exception as exc:
        status = f"failed: {type(exc).__name__}: {str(exc)[:120]}"
    times[name] = {"s": round(time.perf_counter() - t0, 2), "show_s": round(SHOW_S[0] - s0, 2), "status": status}
print(json.dumps(times))
"""

#: The cache warm-up: every registry asset from the snapshot at each frequency (into the private cache).
WARM_PROGRAM = r'''
import warnings
warnings.simplefilter("ignore")
from capflow import assets
from capflow.data import load_prices
ids = [a.id for a in assets.REGISTRY]
for freq in ("1d", "1h", "4h"):
    try:
        load_prices(ids, "2018-01-01", "2027-12-31", freq=freq, missing="drop")
    except Exception as exc:
        print(f"warm-up {freq}: {type(exc).__name__}: {exc}")
'''


def notebook_cells(notebook: Path, params: dict) -> list[str]:
    """The notebook's code cells as plain Python: magics dropped, ``params`` assigned after the parameters cell."""
    import jupytext

    cells = []
    for cell in jupytext.read(notebook).cells:
        if cell.cell_type != "code":
            continue
        cells.append("\n".join(ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!"))))
        if "parameters" in cell.metadata.get("tags", []):
            cells.append("\n".join(f"{k} = {v!r}" for k, v in params.items()))
    return cells


def floor_program(out_root: Path, present: bool) -> tuple[str, int]:
    """The floor as one Python program over every run of reports.yaml whose notebook exists (``present``: the
    notebooks' ``show.*`` calls run, else they do nothing); and the number of runs."""
    from capflow.report import load_runs

    parts, helpers = [], set()
    for run in load_runs():
        if run.exists:
            out = str(out_root / run.name)
            cells = notebook_cells(run.notebook, {**run.resolve(), "output_dir": out})
            helpers.update(re.findall(r"\bshow\.(\w+)\(", "\n".join(cells)))
            parts.append((run.name, out, cells))
    head = f"PARTS = {parts!r}\nSHOW = {sorted(helpers)!r}\nPRESENT = {present!r}\n"
    return head + FLOOR_PROGRAM, len(parts)


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants (Linux /proc)."""
    parent, rss = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                stat = fh.read()
            with open(f"/proc/{d}/statm") as fh:
                rss[int(d)] = int(fh.read().split()[1]) * PAGE
        except OSError:
            continue
        parent[int(d)] = int(stat[stat.rfind(")") + 2:].split()[1])
    children: dict[int, list[int]] = {}
    for pid, pp in parent.items():
        children.setdefault(pp, []).append(pid)
    keep, frontier = {root}, [root]
    while frontier:
        for c in children.get(frontier.pop(), []):
            if c not in keep:
                keep.add(c)
                frontier.append(c)
    return sum(rss.get(p, 0) for p in keep)


def measure(cmd: list[str], env: dict[str, str]) -> dict:
    """Run ``cmd``; return wall seconds, CPU seconds of the whole tree (user + system of every waited-for
    descendant: steadier than wall time on a shared machine), peak tree RSS (bytes), exit code, output tail."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            done.wait(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, _ = proc.communicate()
    done.set()
    th.join()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {"wall_s": time.perf_counter() - t0, "cpu_s": cpu, "peak": peak[0], "exit": proc.returncode,
            "tail": out.strip().splitlines()[-8:]}


def floor_times(result: dict) -> dict:
    """The floor program's per-run JSON line (``{}`` when it did not print one)."""
    try:
        return json.loads(result["tail"][-1])
    except (IndexError, ValueError):
        return {}


def phases(manifest: Path) -> dict[str, str]:
    """``{run: "total (execute + html)"}`` from a manifest's per-run timings."""
    if not manifest.is_file():
        return {}
    out = {}
    for r in json.loads(manifest.read_text())["runs"]:
        t = r.get("timings") or {}
        out[r["name"]] = (f"{r.get('duration_s', 0):.1f} (exec {t.get('execute_s', 0):.1f} + html "
                          f"{t.get('html_s', 0):.1f}) {r.get('status')}")
    return out


def run_all(tmp: Path, quick: bool, isolate: bool, repeat: int) -> tuple[dict[str, list[dict]], dict, int]:
    """Every measured process: the warm-up, then ``repeat`` rounds of floor, floor without figures/tables,
    ``capflow run --jobs 1`` and ``--jobs 2`` (interleaved: a load on the shared machine hits all alike), then the
    unchanged re-run; returns the measurements by name, the last round's manifest phases and the number of runs."""
    env = _rows.isolated_env(tmp)
    capflow = str(Path(sys.executable).with_name("capflow"))
    floor_py = {}
    for name, present in (("floor", True), ("floor without figures/tables", False)):
        program, n_runs = floor_program(tmp / "floor", present)
        floor_py[name] = tmp / f"floor_{'present' if present else 'bare'}.py"
        floor_py[name].write_text(program)
    res: dict[str, list[dict]] = {"warm-up": [measure([sys.executable, "-c", WARM_PROGRAM], env)]}
    for _ in range(repeat):
        for name, path in floor_py.items():
            res.setdefault(name, []).append(measure([sys.executable, str(path)], env))
        for jobs in (1, 2):
            cmd = [capflow, "run", "--all", "--force", "--jobs", str(jobs), "--quiet", "--output", str(tmp / f"j{jobs}")]
            res.setdefault(f"jobs{jobs}", []).append(measure(cmd, env))
            if isolate:
                res.setdefault(f"jobs{jobs} --isolate", []).append(
                    measure(cmd[:-1] + [str(tmp / f"i{jobs}"), "--isolate"], env))
    ph = {j: phases(tmp / f"j{j}" / "manifest.json") for j in (1, 2)}
    if not quick:
        res["unchanged"] = [measure([capflow, "run", "--all", "--jobs", "2", "--quiet", "--output", str(tmp / "j2")],
                                    env)]
    return res, ph, n_runs


def _med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _proc(runs: list[dict]) -> str:
    """Median wall and CPU time, largest peak memory of a list of measurements."""
    n = f" (median of {len(runs)})" if len(runs) > 1 else ""
    return f"{secs(_med(runs, 'wall_s'))}, CPU {secs(_med(runs, 'cpu_s'))}, peak {mib(max(r['peak'] for r in runs))}{n}"


def paired(a: list[dict], b: list[dict], key: str = "wall_s") -> list[float]:
    """Ratios a/b of the runs measured in the same round."""
    return [x[key] / y[key] for x, y in zip(a, b)]


def rows_for(res: dict[str, list[dict]], n_runs: int) -> list[Row]:
    """The floor, the figure/table cost, each ``capflow run`` against the floor (targets) and the skip pass."""
    floor, bare = res["floor"], res["floor without figures/tables"]
    f_times = [floor_times(r) for r in floor]
    all_ok = all(r["exit"] == 0 and len(t) == n_runs and all(v.get("status") == "ok" for v in t.values())
                 for r, t in zip(floor, f_times))
    rows = [info(AREA, "data cache warm-up: every registry asset at 1d/1h/4h from the snapshot", _proc(res["warm-up"])),
            check(AREA, f"floor: the notebooks' code as plain Python, 1 process ({n_runs} runs)", _proc(floor),
                  f"{n_runs} of {n_runs} runs ok", all_ok),
            info(AREA, "floor without figures/tables (the notebooks' show.* calls do nothing)", _proc(bare))]
    cost = statistics.median(f["wall_s"] - b["wall_s"] for f, b in zip(floor, bare))
    inside = statistics.median(sum(v.get("show_s", 0.0) for v in t.values()) for t in f_times)
    rows.append(info(AREA, "  figure/table cost on its own: floor - floor without (time inside show.*)",
                     f"{secs(cost)} = {100 * cost / _med(bare, 'wall_s'):+.0f}% ({secs(inside)})"))
    for jobs, target in TARGETS.items():
        runs = res[f"jobs{jobs}"]
        failed = [r["exit"] for r in runs if r["exit"] != 0]
        ratios = paired(runs, floor)
        med = statistics.median(ratios)
        n = f"median of {len(runs)} paired runs" if len(runs) > 1 else "one run"
        value = (f"{times(med)} ({secs(_med(runs, 'wall_s'))}; min {times(min(ratios))})" if len(runs) > 1
                 else f"{times(med)} ({secs(runs[0]['wall_s'])})")
        rows.append(check(AREA, f"capflow run --all --force --jobs {jobs} / floor (wall, {n})",
                          f"failed (exit {failed[0]})" if failed else value, f"<= {target:g}x",
                          not failed and med <= target))
        rows.append(info(AREA, f"  --jobs {jobs}: CPU / floor CPU; / floor without figures/tables (wall); peak",
                         f"{times(statistics.median(paired(runs, floor, 'cpu_s')))}; "
                         f"{times(statistics.median(paired(runs, bare)))}; {mib(max(r['peak'] for r in runs))}"))
        if f"jobs{jobs} --isolate" in res:
            ri = res[f"jobs{jobs} --isolate"]
            rows.append(info(AREA, f"  --jobs {jobs} --isolate (a fresh kernel per run) / floor (wall)",
                             f"{times(statistics.median(paired(ri, floor)))} ({secs(_med(ri, 'wall_s'))})"))
    if "unchanged" in res:
        rows.append(info(AREA, "capflow run --all --jobs 2 again, nothing changed (every run skipped)",
                         _proc(res["unchanged"])))
    return rows


def main() -> int:
    ap = _rows.parser(__doc__)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of floor / runner measurements (default 3; "
                                                           "--quick: 1)")
    ap.add_argument("--isolate", action="store_true", help="also measure --isolate (one fresh kernel per run)")
    args = ap.parse_args()
    _rows.isolate()
    load0 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="capflow-bench-") as tmp:
        res, ph, n_runs = run_all(Path(tmp), args.quick, args.isolate, 1 if args.quick else args.repeat)
    print(f"load average before: {load0}")
    for name, runs in res.items():
        for r in runs:
            print(f"{name:<30} wall {r['wall_s']:7.1f} s  cpu {r['cpu_s']:7.1f} s  peak {r['peak'] / 2**20:7.0f} MiB"
                  f"  exit {r['exit']}")
    for name in ("floor", "floor without figures/tables"):
        print(f"{name}, per run (last round): {json.dumps(floor_times(res[name][-1]))}")
    for name, runs in res.items():
        for r in runs:
            if r["exit"] != 0:
                print(f"{name} output:\n  " + "\n  ".join(r["tail"]))
    for jobs, p in ph.items():
        print(f"phases --jobs {jobs} (s): " + "; ".join(f"{n} {v}" for n, v in p.items()))
    _rows.emit(rows_for(res, n_runs), "capflow run --all vs the floor (offline, embedded snapshot)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
