"""Benchmark: how long the command line takes to start, against the interpreter alone.

``capflow --help`` and ``capflow list`` (the console script of this venv) against ``python -c pass`` with the same
interpreter: each run in a fresh process, the three commands interleaved (a load on the shared machine hits all
alike), ``--runs`` times each; min and median wall time; target: each command's median <= 3x the interpreter's.
Then the import time of ``capflow.eventstudy``, ``capflow.capex_inference`` and ``capflow.plots`` in a fresh
process (median of 7 runs, 3 with ``--quick``; informational; measured inside the process, so interpreter start
is not in it).

Offline, on a private data cache (nothing is fetched or written). Run: ``python benchmarks/bench_startup.py [--runs 15]``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _rows
from _rows import Row, check, info, secs, times

AREA = "startup"
TARGET = 3.0
MODULES = ("capflow.eventstudy", "capflow.capex_inference", "capflow.plots")
IMPORT_CODE = ("import sys, time; t = time.perf_counter(); import importlib; importlib.import_module(sys.argv[1]); "
               "print(time.perf_counter() - t)")


def wall(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run of ``cmd`` (its output discarded); raises when it fails."""
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def interleaved(cmds: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    """``runs`` wall times of each command, run in turn A, B, C, A, B, C... after one untimed warm-up each."""
    for cmd in cmds.values():
        wall(cmd, env)
    out: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(runs):
        for k, cmd in cmds.items():
            out[k].append(wall(cmd, env))
    return out


def import_times(runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    """In-process import time of each of :data:`MODULES`, each in a fresh interpreter, interleaved."""
    out: dict[str, list[float]] = {m: [] for m in MODULES}
    for _ in range(runs):
        for m in MODULES:
            res = subprocess.run([sys.executable, "-c", IMPORT_CODE, m], env=env, check=True, capture_output=True,
                                 text=True)
            out[m].append(float(res.stdout.strip().splitlines()[-1]))
    return out


def rows_for(walls: dict[str, list[float]], imports: dict[str, list[float]]) -> list[Row]:
    """Table rows: the interpreter alone, each command's ratio (target), each import (informational)."""
    base = walls["python -c pass"]
    b_med, b_min = statistics.median(base), min(base)
    rows = [info(AREA, f"python -c pass ({len(base)} runs)", f"{secs(b_med)} (min {secs(b_min)})")]
    for name, w in walls.items():
        if name == "python -c pass":
            continue
        med, lo = statistics.median(w), min(w)
        rows.append(check(AREA, f"{name} / python -c pass (median; {len(w)} runs)",
                          f"{times(med / b_med)} ({secs(med)}; min {times(lo / b_min)})", f"<= {TARGET:g}x",
                          med / b_med <= TARGET))
    for m, t in imports.items():
        rows.append(info(AREA, f"import {m} (fresh process, median)", f"{secs(statistics.median(t))}"))
    return rows


def main() -> None:
    ap = _rows.parser(__doc__)
    ap.add_argument("--runs", type=int, default=15, help="timed runs of each command (at least 15)")
    args = ap.parse_args()
    runs = max(args.runs, 15)
    capflow = str(Path(sys.executable).with_name("capflow"))
    with tempfile.TemporaryDirectory(prefix="capflow-bench-") as tmp:
        env = _rows.isolated_env(tmp)
        cmds = {"python -c pass": [sys.executable, "-c", "pass"], "capflow --help": [capflow, "--help"],
                "capflow list": [capflow, "list"]}
        walls = interleaved(cmds, runs, env)
        imports = import_times(3 if args.quick else 7, env)
    for name, w in {**walls, **imports}.items():
        print(f"{name}: {len(w)} runs, s: " + " ".join(f"{x:.3f}" for x in w))
    _rows.emit(rows_for(walls, imports), f"command-line start-up ({sys.executable})")


if __name__ == "__main__":
    main()
