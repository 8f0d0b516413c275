"""Benchmark: the whole capex study on the snapshot with 999 placebo draws and 999 bootstrap draws.

Run: ``CAPFLOW_SNAPSHOT=/path/to/data CAPFLOW_OFFLINE=1 CAPFLOW_SOURCES=snapshot python benchmarks/bench_capex.py``

Two cold runs, each in a fresh Python process (nothing cached, exchange calendars built inside the timed call):

* ``plain``: wall time of :func:`capflow.capex_inference.run_study` and the process's maximum resident set size;
* ``traced``: the same under tracemalloc: peak traced memory (Python/numpy allocations) and the wall time with
  tracing on (tracemalloc slows allocation-heavy Python code, e.g. the calendars' holiday arithmetic, several
  times; this is the figure the first version of this benchmark printed).

The placebo stage makes ONE event-study call for all draws. ``--mode plain|traced`` runs one mode in-process.
"""

from __future__ import annotations

import argparse
import logging
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings


def run(mode: str, n_boot: int, n_placebo: int, measure: str) -> None:
    """One cold run of the study in this process; prints the figures of ``mode``."""
    from capflow import capex
    from capflow import capex_inference as ci

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    catalog = capex.load_announcements()
    if mode == "traced":
        tracemalloc.start()
    t0 = time.perf_counter()
    study = ci.run_study(catalog, measure=measure, n_boot=n_boot, n_placebo=n_placebo, seed=0)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if mode == "traced":
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"[traced] wall time under tracemalloc: {wall:.1f} s; peak traced memory: {peak / 2**20:.0f} MiB")
        return
    print(f"capex study: {len(catalog)} releases, {study.panel['event_id'].nunique()} (release, asset) events, "
          f"{len(study.coefficients)} (group, window) cells")
    print(f"n_boot={n_boot} n_placebo={n_placebo}: placebo coefficients {len(study.placebo)}")
    print(f"[plain] wall time: {wall:.1f} s; max RSS: {rss:.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-boot", type=int, default=999)
    ap.add_argument("--n-placebo", type=int, default=999)
    ap.add_argument("--measure", default="yoy")
    ap.add_argument("--mode", choices=("both", "plain", "traced"), default="both")
    args = ap.parse_args()
    if args.mode != "both":
        run(args.mode, args.n_boot, args.n_placebo, args.measure)
        return
    for mode in ("plain", "traced"):
        subprocess.run([sys.executable, __file__, "--mode", mode, "--n-boot", str(args.n_boot),
                        "--n-placebo", str(args.n_placebo), "--measure", args.measure], check=True)


if __name__ == "__main__":
    main()
