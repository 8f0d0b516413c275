"""Benchmark: speed of the capex study on the embedded snapshot (offline, private data cache). One table.

Run: ``python benchmarks/bench_capex.py [--quick]`` (``--n-boot``/``--n-placebo`` change the draws, default 999
each as in the nightly run; the targets are stated for 999/999).

Figures (median wall time of repeated calls, this machine, whatever else it is running):

* ``run_study warm`` (target <= 2 s): :func:`capflow.studies.capex.run` (surprises, CAR panel, 18 regressions
  with clustered, Driscoll-Kraay and wild-bootstrap inference, placebo dates, leave-one-out, spend tables) on
  loaded inputs; median of 3 calls (1 with ``--quick``) after one warm-up call in the same process;
* ``wild cluster bootstrap, 9,999 draws x 3 pooled cells`` (target <= 0.2 s): the cluster-level algorithm on
  the three pooled cells;
* ``fit_regression`` (target <= 5 ms): one panel -> fit (numpy design, CRV1 / Driscoll-Kraay / HC1), the pooled
  [0,+5] cell;
* ``fit_design`` (target <= 1 ms): the same fit from a design built once (what the tables and leave-one-out do
  per cell);
* ``load + run in a new process`` (informational): imports, exchange calendars, the data cache (filled by the
  warm figures first), :func:`~capflow.studies.capex.load_inputs` and the first ``run``, and its peak RSS.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings

import _rows
from _rows import Row, check, info, mib, ms, secs

AREA = "capex"
RUN_TARGET_S, BOOT_TARGET_S = 2.0, 0.2
FIT_TARGET_S, DESIGN_TARGET_S = 5e-3, 1e-3


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)


def cold(n_boot: int, n_placebo: int) -> None:
    """One cold load + run in this (fresh) process; prints a JSON line."""
    _quiet()
    t0 = time.perf_counter()
    from capflow.studies import capex as study

    p = study.Params(n_boot=n_boot, n_placebo=n_placebo)
    study.run(study.load_inputs(p), p)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"cold_s": time.perf_counter() - t0, "maxrss": rss}))


def _timed(fn, repeat: int) -> list[float]:
    """Wall seconds of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def warm(n_boot: int, n_placebo: int, quick: bool) -> dict[str, list[float]]:
    """The in-process figures: wall seconds of each repeated call, after one warm-up study run (which also fills
    the private data cache)."""
    _quiet()
    from capflow import capex_inference as ci
    from capflow.studies import capex as study

    p = study.Params(n_boot=n_boot, n_placebo=n_placebo)
    inputs = study.load_inputs(p)
    result = study.run(inputs, p)
    n = 1 if quick else 3
    out = {"run": _timed(lambda: study.run(inputs, p), n)}
    panel = result.capex.panel
    pooled = panel[panel["window"] == "[0,+5]"]
    out["fit_regression"] = _timed(lambda: ci.fit_regression(pooled, fixed_effects=("company", "group")), 50)
    d = ci.subset_design(ci.panel_arrays(pooled, fixed_effects=("company", "group")))
    out["fit_design"] = _timed(lambda: ci.fit_design(d, 1, 5), 200)
    designs = [ci.subset_design(ci.panel_arrays(panel[panel["window"] == w], fixed_effects=("company", "group")))
               for w in panel["window"].unique()]
    out["boot"] = _timed(
        lambda: [ci.wild_cluster_bootstrap(x.y, x.X, x.clusters, n_boot=9999, seed=0) for x in designs], 5)
    out["n_cells"] = [float(len(designs))]
    return out


def rows_for(warm_t: dict[str, list[float]], cold_run: dict | None, n_boot: int, n_placebo: int) -> list[Row]:
    """Medians against the targets; the cold process informational."""
    def med(key: str) -> float:
        return statistics.median(warm_t[key])

    def val(key: str, fmt) -> str:
        return f"{fmt(med(key))} (min {fmt(min(warm_t[key]))}; {len(warm_t[key])} runs)"

    cells = int(warm_t["n_cells"][0])
    rows = [check(AREA, f"run_study warm, n_boot={n_boot}, n_placebo={n_placebo} (median)", val("run", secs),
                  f"<= {RUN_TARGET_S:g} s", med("run") <= RUN_TARGET_S),
            check(AREA, f"wild cluster bootstrap, 9,999 draws x {cells} pooled cells (median)", val("boot", secs),
                  f"<= {BOOT_TARGET_S:g} s", med("boot") <= BOOT_TARGET_S),
            check(AREA, "fit_regression, pooled [0,+5] cell (median)", val("fit_regression", ms),
                  f"<= {1e3 * FIT_TARGET_S:g} ms", med("fit_regression") <= FIT_TARGET_S),
            check(AREA, "fit_design, pooled [0,+5] cell, design built once (median)", val("fit_design", ms),
                  f"<= {1e3 * DESIGN_TARGET_S:g} ms", med("fit_design") <= DESIGN_TARGET_S)]
    if cold_run:
        rows.append(info(AREA, "load + run in a new process (imports, calendars, data cache warm)",
                         f"{secs(cold_run['cold_s'])} (peak RSS {mib(cold_run['maxrss'])})"))
    return rows


def main() -> None:
    ap = _rows.parser(__doc__)
    ap.add_argument("--n-boot", type=int, default=999)
    ap.add_argument("--n-placebo", type=int, default=999)
    ap.add_argument("--cold", action="store_true", help="internal: one cold run in this process")
    args = ap.parse_args()
    if args.cold:
        cold(args.n_boot, args.n_placebo)
        return
    _rows.isolate()
    warm_t = warm(args.n_boot, args.n_placebo, args.quick)      # fills the private data cache first
    run = subprocess.run([sys.executable, __file__, "--cold", "--n-boot", str(args.n_boot), "--n-placebo",
                          str(args.n_placebo)], check=True, capture_output=True, text=True, env=dict(os.environ))
    cold_run = json.loads(run.stdout.strip().splitlines()[-1])
    for key, walls in warm_t.items():
        if key != "n_cells":
            print(f"{key}: median {statistics.median(walls):.4f} s, min {min(walls):.4f} s, {len(walls)} calls")
    _rows.emit(rows_for(warm_t, cold_run, args.n_boot, args.n_placebo),
               f"capex study on the embedded snapshot, n_boot={args.n_boot}, n_placebo={args.n_placebo}")


if __name__ == "__main__":
    main()
