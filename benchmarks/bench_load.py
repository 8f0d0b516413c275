"""Benchmark: load every registry asset, daily 2023-01-01..2026-12-31, cold (snapshot) and warm (cache).

Each phase runs in a fresh Python process (no in-memory memo survives) against a private, initially empty cache
folder, offline (``CAPFLOW_OFFLINE=1``) with the default resolution order:

- cold: empty cache, so every asset is parsed from the snapshot CSVs (and its rows written to the cache);
- warm: the same request again in a new process, served from the parquet cache;
- warm (same process): a second call right after the warm one.

Prints wall time of the ``load_prices`` call, the import time, the peak traced Python memory (tracemalloc, in
separate runs because tracing slows pandas several-fold) and the process peak RSS (``ru_maxrss``). Goal: warm load of everything < 0.5 s.

Usage: ``python benchmarks/bench_load.py [--repeat 3]`` (needs the snapshot: ``CAPFLOW_SNAPSHOT``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

START, END = "2023-01-01", "2026-12-31"


def _phase(trace: bool) -> dict:
    """Run two loads in this process and return the measurements (tracemalloc on only when ``trace``)."""
    import resource
    import tracemalloc
    import warnings

    t0 = time.perf_counter()
    from capflow import assets
    from capflow.data import load_prices

    t_import = time.perf_counter() - t0
    ids = [a.id for a in assets.REGISTRY]
    out = {"import_s": t_import}
    for label in ("first", "again"):
        if trace:
            tracemalloc.start()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = load_prices(ids, START, END, missing="drop")
        wall = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] if trace else float("nan")
        tracemalloc.stop()
        layers = sorted({p["layer"] for p in df.attrs["provenance"].values()})
        out[label] = {"wall_s": wall, "peak_traced_mb": peak / 2**20, "shape": list(df.shape), "layers": layers,
                      "dropped": len(df.attrs["dropped"])}
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _run(cache: str, trace: bool = False) -> dict:
    env = dict(os.environ, CAPFLOW_CACHE=cache, CAPFLOW_OFFLINE="1")
    env.pop("CAPFLOW_SOURCES", None)
    cmd = [sys.executable, __file__, "--phase"] + (["--trace"] if trace else [])
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _with_memory(timed: dict, traced: dict) -> dict:
    """Timings from the untraced run, peak traced memory from the traced run of the same phase."""
    for key in ("first", "again"):
        timed[key]["peak_traced_mb"] = traced[key]["peak_traced_mb"]
    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=3, help="cold/warm pairs to run (best is reported)")
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(_phase(args.trace)))
        return
    colds, warms = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="capflow-bench-") as cache:
            colds.append(_run(cache))
            warms.append(_run(cache))
    with tempfile.TemporaryDirectory(prefix="capflow-bench-") as cache:  # memory: tracemalloc slows pandas down
        cold_mem, warm_mem = _run(cache, trace=True), _run(cache, trace=True)
    colds = [_with_memory(c, cold_mem) for c in colds]
    warms = [_with_memory(w, warm_mem) for w in warms]
    print(f"load_prices(all {len(colds[0]['first']['shape']) and colds[0]['first']['shape'][1]} registry assets, "
          f"{START}..{END}, 1d, missing='drop'), offline, best of {args.repeat}:")
    rows = [("cold: snapshot CSV -> cache", min(colds, key=lambda r: r["first"]["wall_s"]), "first"),
            ("warm: new process, cache", min(warms, key=lambda r: r["first"]["wall_s"]), "first"),
            ("warm: same process, 2nd call", min(warms, key=lambda r: r["again"]["wall_s"]), "again")]
    print(f"{'phase':<32}{'wall s':>8}{'import s':>10}{'peak traced MB':>16}{'maxrss MB':>11}  layers / shape")
    for name, r, key in rows:
        m = r[key]
        print(f"{name:<32}{m['wall_s']:>8.3f}{r['import_s']:>10.2f}{m['peak_traced_mb']:>16.1f}{r['maxrss_mb']:>11.0f}"
              f"  {','.join(m['layers'])} {m['shape']} dropped={m['dropped']}")
    warm = rows[1][1]["first"]["wall_s"]
    print(f"goal warm < 0.5 s: {'met' if warm < 0.5 else 'NOT met'} ({warm:.3f} s)")


if __name__ == "__main__":
    main()
