"""Benchmark: speed of the capex study on the embedded snapshot (figures, not pass/fail). Prints one table.

Run: ``python benchmarks/bench_capex.py`` (offline: the snapshot is the data; ``--n-boot``/``--n-placebo`` change
the draws, default 999 each as in the nightly run).

Figures (``value`` against ``target``; wall times, this machine, whatever else it is running):

* ``study run, warm``: :func:`capflow.studies.capex.run` (surprises, CAR panel, 18 regressions with clustered,
  Driscoll-Kraay and wild-bootstrap inference, placebo dates, leave-one-out, spend tables) on loaded inputs;
  median of 3 calls after one warm-up call in the same process;
* ``study load + run, cold``: a fresh Python process: imports, exchange calendars, snapshot reading,
  :func:`~capflow.studies.capex.load_inputs` and the first ``run`` (and that process's peak RSS);
* ``fit_regression``: one panel -> fit (numpy design, CRV1 / Driscoll-Kraay / HC1), the pooled [0,+5] cell;
* ``fit_design``: the same fit from a design built once (what the tables and leave-one-out do per cell);
* ``wild bootstrap, 9,999 draws x 3 pooled cells``: the cluster-level algorithm on the three pooled cells.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import subprocess
import sys
import time
import warnings

TARGETS = {"study run, warm (s)": 2.0, "study load + run, cold (s)": None, "peak RSS, cold (MiB)": None,
           "fit_regression, pooled cell (ms)": 5.0, "fit_design, pooled cell (ms)": 1.0,
           "wild bootstrap 9,999 draws x 3 pooled cells (s)": 0.2}


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
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"study load + run, cold (s)": time.perf_counter() - t0, "peak RSS, cold (MiB)": rss}))


def _timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def warm(n_boot: int, n_placebo: int) -> dict[str, float]:
    """The in-process figures (seconds or milliseconds as the names say)."""
    _quiet()
    from capflow import capex_inference as ci
    from capflow.studies import capex as study

    p = study.Params(n_boot=n_boot, n_placebo=n_placebo)
    inputs = study.load_inputs(p)
    result = study.run(inputs, p)
    out = {"study run, warm (s)": _timed(lambda: study.run(inputs, p), 3)}
    panel = result.capex.panel
    pooled = panel[panel["window"] == "[0,+5]"]
    out["fit_regression, pooled cell (ms)"] = 1e3 * _timed(
        lambda: ci.fit_regression(pooled, fixed_effects=("company", "group")), 50)
    d = ci.subset_design(ci.panel_arrays(pooled, fixed_effects=("company", "group")))
    out["fit_design, pooled cell (ms)"] = 1e3 * _timed(lambda: ci.fit_design(d, 1, 5), 200)
    designs = [ci.subset_design(ci.panel_arrays(panel[panel["window"] == w], fixed_effects=("company", "group")))
               for w in panel["window"].unique()]
    out["wild bootstrap 9,999 draws x 3 pooled cells (s)"] = _timed(
        lambda: [ci.wild_cluster_bootstrap(x.y, x.X, x.clusters, n_boot=9999, seed=0) for x in designs], 5)
    return out


def table(figures: dict[str, float]) -> str:
    """The one printed table: figure, value, target, met."""
    rows = [("figure", "value", "target", "met")]
    for name, target in TARGETS.items():
        v = figures.get(name)
        value = "-" if v is None else (f"{v:.3f}" if v < 10 else f"{v:.1f}")
        rows.append((name, value, "-" if target is None else f"<= {target:g}",
                     "n/a" if target is None or v is None else ("yes" if v <= target else "NO")))
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, width)))
             for r in rows]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-boot", type=int, default=999)
    ap.add_argument("--n-placebo", type=int, default=999)
    ap.add_argument("--cold", action="store_true", help="internal: one cold run in this process")
    args = ap.parse_args()
    if args.cold:
        cold(args.n_boot, args.n_placebo)
        return
    run = subprocess.run([sys.executable, __file__, "--cold", "--n-boot", str(args.n_boot), "--n-placebo",
                          str(args.n_placebo)], check=True, capture_output=True, text=True)
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    figures.update(warm(args.n_boot, args.n_placebo))
    print(f"capex study on the embedded snapshot, n_boot={args.n_boot}, n_placebo={args.n_placebo}")
    print(table(figures))


if __name__ == "__main__":
    main()
