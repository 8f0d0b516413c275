"""Benchmark: the whole capex study on the snapshot with 999 placebo draws and 999 bootstrap draws.

Run: ``CAPFLOW_SNAPSHOT=/path/to/data CAPFLOW_OFFLINE=1 CAPFLOW_SOURCES=snapshot python benchmarks/bench_capex.py``
Prints wall time per stage and peak memory (tracemalloc peak of Python/numpy allocations, and the process's
maximum resident set size). The placebo stage makes ONE event-study call for all draws.
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
import tracemalloc
import warnings

from capflow import capex
from capflow import capex_inference as ci


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-boot", type=int, default=999)
    ap.add_argument("--n-placebo", type=int, default=999)
    ap.add_argument("--measure", default="yoy")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    catalog = capex.load_announcements()
    tracemalloc.start()
    t0 = time.perf_counter()
    study = ci.run_study(catalog, measure=args.measure, n_boot=args.n_boot, n_placebo=args.n_placebo, seed=0)
    wall = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"capex study: {len(catalog)} releases, {study.panel['event_id'].nunique()} (release, asset) events, "
          f"{len(study.coefficients)} (group, window) cells")
    print(f"n_boot={args.n_boot} n_placebo={args.n_placebo}: placebo coefficients {len(study.placebo)}")
    print(f"wall time: {wall:.1f} s")
    print(f"peak traced memory: {peak / 2**20:.0f} MiB; max RSS: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
