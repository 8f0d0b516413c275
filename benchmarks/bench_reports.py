"""Benchmark ``capflow run --all`` on the snapshot: wall time and peak memory with --jobs 1 and --jobs 2, against
the floor: the same notebooks' code run as plain Python in one interpreter (no kernels, no HTML).

Peak memory is the largest *sum* of resident memory over the whole process tree (runner, workers, kernels),
sampled from /proc every 0.1 s, so parallel kernels count together.

The runner's recorded run durations (longest run first with ``--jobs 2``) live in a temporary
``CAPFLOW_STATE_DIR``, warmed by the ``--jobs 1`` pass. A last pass repeats ``--jobs 2`` in the same output folder:
nothing changed, so every run is skipped. Per-run phase timings (kernel execution, HTML export in the parent) are
read from each manifest.

A second floor, "floor + figures/tables", also renders every figure to PNG and the last expression of each
cell to HTML, as a kernel does for the report (the plain floor never draws a figure). ``--isolate`` adds rows
for one fresh kernel per run (the runner before the warm kernel pool).

Usage: ``CAPFLOW_SNAPSHOT=../shared/data python benchmarks/bench_reports.py [--skip-floor] [--isolate]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from capflow import config
from capflow.report import load_runs

PAGE = os.sysconf("SC_PAGE_SIZE")


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
    keep, frontier = {root}, [root]
    children: dict[int, list[int]] = {}
    for pid, pp in parent.items():
        children.setdefault(pp, []).append(pid)
    while frontier:
        for c in children.get(frontier.pop(), []):
            if c not in keep:
                keep.add(c)
                frontier.append(c)
    return sum(rss.get(p, 0) for p in keep)


def measure(cmd: list[str], env: dict[str, str]) -> dict:
    """Run ``cmd``; return wall seconds, CPU seconds of the whole tree, peak tree RSS (MiB) and the exit code.

    CPU seconds (user + system of every waited-for descendant) are much less sensitive than wall time to other
    load on the machine.
    """
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, done = [0], threading.Event()

    def sample():
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
    return {"wall_s": round(time.perf_counter() - t0, 2), "cpu_s": round(cpu, 1), "peak_mib": round(peak[0] / 2**20, 1),
            "exit": proc.returncode, "tail": out.strip().splitlines()[-8:]}


def floor_script(out_root: Path, outputs: bool = False) -> str:
    """One Python program running every existing run's notebook code in sequence (parameters applied).

    ``outputs=True``: also produce what a kernel produces for the report, cell by cell: every open figure
    rendered to PNG (``bbox_inches="tight"``, as the inline backend does) and the last expression's HTML repr.
    """
    import jupytext

    parts = []
    for run in load_runs():
        if not run.exists:
            continue
        nb = jupytext.read(run.notebook)
        params = {**run.resolve(), "output_dir": str(out_root / run.name)}
        code = []
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            src = "\n".join(ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!")))
            code.append(src)
            if "parameters" in cell.metadata.get("tags", []):
                code.append("\n".join(f"{k} = {v!r}" for k, v in params.items()))
        parts.append((run.name, code if outputs else ["\n\n".join(code)]))
    return textwrap.dedent(f"""
        import ast, io, json, os, time, traceback
        os.environ["MPLBACKEND"] = "Agg"
        parts = {parts!r}
        OUTPUTS = {outputs!r}

        def run_cell(src, name, ns):
            tree = ast.parse(src)
            last = tree.body.pop() if OUTPUTS and tree.body and isinstance(tree.body[-1], ast.Expr) else None
            exec(compile(tree, name, "exec"), ns)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), name, "eval"), ns)
                getattr(value, "_repr_html_", lambda: repr(value))()
            if OUTPUTS:
                import matplotlib.pyplot as plt
                for num in plt.get_fignums():
                    plt.figure(num).savefig(io.BytesIO(), format="png", bbox_inches="tight")
                plt.close("all")

        times = {{}}
        for name, code in parts:
            os.makedirs({str(out_root)!r} + "/" + name, exist_ok=True)
            t0 = time.perf_counter()
            try:
                ns = {{"__name__": "__main__"}}
                for cell in code:
                    run_cell(cell, name, ns)
                status = "ok"
            except Exception as exc:
                status = f"failed: {{type(exc).__name__}}: {{str(exc)[:120]}}"
            times[name] = (round(time.perf_counter() - t0, 2), status)
            import matplotlib.pyplot as plt; plt.close("all")
        print(json.dumps(times))
    """)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-floor", action="store_true")
    ap.add_argument("--isolate", action="store_true",
                    help="also measure --isolate (one fresh kernel per run, the runner before the kernel pool)")
    args = ap.parse_args()
    env = dict(os.environ)
    if not env.get("CAPFLOW_SNAPSHOT") and config.snapshot_dir():
        env["CAPFLOW_SNAPSHOT"] = str(config.snapshot_dir())
    env.setdefault("CAPFLOW_OFFLINE", "1")
    capflow = str(Path(sys.executable).with_name("capflow"))
    rows, load0 = {}, " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not args.skip_floor:  # also warms the OS file cache and the data cache
            script = tmp / "floor.py"
            script.write_text(floor_script(tmp / "floor"))
            rows["floor (1 process)"] = measure([sys.executable, str(script)], env)
            script.write_text(floor_script(tmp / "floor", outputs=True))
            rows["floor + figures/tables"] = measure([sys.executable, str(script)], env)
        env["CAPFLOW_STATE_DIR"] = str(tmp / "state")
        for jobs in (1, 2):
            rows[f"capflow run --jobs {jobs}"] = measure(
                [capflow, "run", "--all", "--jobs", str(jobs), "--output", str(tmp / f"j{jobs}"), "--quiet"], env)
            if args.isolate:
                rows[f"capflow run --jobs {jobs} --isolate"] = measure(
                    [capflow, "run", "--all", "--jobs", str(jobs), "--output", str(tmp / f"i{jobs}"), "--quiet",
                     "--isolate"], env)
        phases = {j: _phases(tmp / f"j{j}" / "manifest.json") for j in (1, 2)}
        rows["capflow run --jobs 2 (unchanged)"] = measure(
            [capflow, "run", "--all", "--jobs", "2", "--output", str(tmp / "j2"), "--quiet"], env)
    print(f"load average before: {load0}")
    print(f"{'what':<32} {'wall s':>8} {'cpu s':>7} {'peak MiB':>9} {'exit':>5}")
    for name, r in rows.items():
        print(f"{name:<32} {r['wall_s']:>8.1f} {r['cpu_s']:>7.1f} {r['peak_mib']:>9.1f} {r['exit']:>5}")
    floor = rows.get("floor (1 process)")
    if floor:
        print("floor per notebook:", floor["tail"][-1])
        print("floor + figures/tables per notebook:", rows["floor + figures/tables"]["tail"][-1])
        for name, run in rows.items():
            if not name.startswith("capflow") or "unchanged" in name:
                continue
            print(f"overhead {name[12:]}: {run['wall_s'] / floor['wall_s']:.2f}x the floor's wall time (goal <= 1.5x), "
                  f"{run['wall_s'] / rows['floor + figures/tables']['wall_s']:.2f}x the floor + figures/tables; "
                  f"CPU {run['cpu_s'] / max(floor['cpu_s'], 1e-9):.2f}x the floor's CPU")
    for name, r in rows.items():
        if name.startswith("capflow") and "isolate" not in name:
            print(f"{name}:\n  " + "\n  ".join(r["tail"]))
    for jobs, ph in phases.items():
        print(f"phases --jobs {jobs} (s): " + "; ".join(f"{n} {v}" for n, v in ph.items()))
    return 0


def _phases(manifest: Path) -> dict[str, str]:
    """``{run: "total (execute + html)"}`` from a manifest's per-run timings."""
    if not manifest.is_file():
        return {}
    out = {}
    for r in json.loads(manifest.read_text())["runs"]:
        t = r.get("timings") or {}
        out[r["name"]] = f"{r['duration_s']:.1f} (exec {t.get('execute_s', 0):.1f} + html {t.get('html_s', 0):.1f})"
    return out


if __name__ == "__main__":
    sys.exit(main())
