"""Benchmark: load every registry asset, daily 2023-01-01..2026-12-31, cold (snapshot) and warm (cache).

The data is the EMBEDDED snapshot (``data/snapshot``; ``CAPFLOW_SNAPSHOT`` is unset for these processes). Each
phase runs in a fresh Python process (no in-memory memo survives) against a private, initially empty cache
folder, offline (``CAPFLOW_OFFLINE=1``) with the default resolution order:

- cold: empty cache, so every asset is parsed from the snapshot CSVs (and its rows written to the cache);
- warm: the same request again in a new process, served from the parquet cache (target < 0.5 s, median of the
  ``--repeat`` cold/warm pairs);
- warm (same process): a second call right after the warm one.

Also: the import time, the peak traced Python memory (tracemalloc, in separate runs because tracing slows pandas
several-fold; skipped with ``--quick``), the process peak RSS (``ru_maxrss``), and the repository size the
embedded snapshot adds (its files' bytes and ``du``; target 5-10 MB).

Usage: ``python benchmarks/bench_load.py [--repeat 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

import _rows
from _rows import ROOT, Row, check, info, mib, secs

AREA = "load"
START, END = "2023-01-01", "2026-12-31"
WARM_TARGET_S = 0.5
SNAPSHOT = ROOT / "data" / "snapshot"


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
        out[label] = {"wall_s": wall, "peak_traced": peak, "shape": list(df.shape), "layers": layers,
                      "dropped": len(df.attrs["dropped"])}
    out["maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def _run(tmp: str, trace: bool = False) -> dict:
    """One phase in a fresh process whose cache is ``tmp/cache`` (offline, embedded snapshot)."""
    cmd = [sys.executable, __file__, "--phase"] + (["--trace"] if trace else [])
    res = subprocess.run(cmd, env=_rows.isolated_env(tmp), capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def measure(repeat: int, trace: bool) -> tuple[list[dict], list[dict], tuple[dict, dict] | None]:
    """``repeat`` cold/warm pairs (each pair on a new empty cache), then one traced pair when ``trace``."""
    colds, warms = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="capflow-bench-") as tmp:
            colds.append(_run(tmp))
            warms.append(_run(tmp))
    mem = None
    if trace:
        with tempfile.TemporaryDirectory(prefix="capflow-bench-") as tmp:
            mem = (_run(tmp, trace=True), _run(tmp, trace=True))
    return colds, warms, mem


def snapshot_size() -> tuple[int, int, int]:
    """Bytes of the embedded snapshot's files, ``du`` of its folder (bytes) and its file count."""
    files = [p for p in SNAPSHOT.rglob("*") if p.is_file()]
    du = subprocess.run(["du", "-sk", str(SNAPSHOT)], capture_output=True, text=True, check=True)
    return sum(p.stat().st_size for p in files), int(du.stdout.split()[0]) * 1024, len(files)


def _wall(phases: list[dict], key: str) -> tuple[float, float]:
    walls = [p[key]["wall_s"] for p in phases]
    return statistics.median(walls), min(walls)


def rows_for(colds: list[dict], warms: list[dict], mem: tuple[dict, dict] | None) -> list[Row]:
    """Cold and warm loads (the warm new-process median against its target), memory, the snapshot's size."""
    n = len(colds)
    shape = colds[0]["first"]["shape"]
    what = f"{shape[1]} assets x {shape[0]} days"
    (c_med, c_min), (w_med, w_min), (a_med, a_min) = (_wall(colds, "first"), _wall(warms, "first"),
                                                     _wall(warms, "again"))
    rows = [info(AREA, f"cold: snapshot CSV -> cache, new process ({what}; median of {n})",
                 f"{secs(c_med)} (min {secs(c_min)})"),
            check(AREA, f"warm: cache, new process (median of {n})", f"{secs(w_med)} (min {secs(w_min)})",
                  f"< {WARM_TARGET_S:g} s", w_med < WARM_TARGET_S),
            info(AREA, "warm: same process, 2nd call (median)", f"{secs(a_med)} (min {secs(a_min)})"),
            info(AREA, "  import capflow.data (new process, median)",
                 secs(statistics.median(p["import_s"] for p in warms))),
            info(AREA, "  peak RSS, cold / warm process (max)",
                 f"{mib(max(p['maxrss'] for p in colds))} / {mib(max(p['maxrss'] for p in warms))}")]
    if mem:
        rows.append(info(AREA, "  peak traced memory, cold / warm load",
                         f"{mib(mem[0]['first']['peak_traced'])} / {mib(mem[1]['first']['peak_traced'])}"))
    size, du, n_files = snapshot_size()
    rows.append(check(AREA, f"repository size of the embedded snapshot ({n_files} files; du {du / 1e6:.1f} MB)",
                      f"{size / 1e6:.1f} MB", "5-10 MB", 5e6 <= size <= 10e6))
    return rows


def main() -> None:
    ap = _rows.parser(__doc__)
    ap.add_argument("--phase", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=3, help="cold/warm pairs to run (default 3; --quick: 1)")
    args = ap.parse_args()
    if args.phase:
        print(json.dumps(_phase(args.trace)))
        return
    colds, warms, mem = measure(1 if args.quick else args.repeat, trace=not args.quick)
    for name, phases in (("cold", colds), ("warm", warms)):
        for p in phases:
            print(f"{name}: import {p['import_s']:.2f} s, first {p['first']['wall_s']:.3f} s "
                  f"({','.join(p['first']['layers'])}, shape {p['first']['shape']}, dropped {p['first']['dropped']}), "
                  f"again {p['again']['wall_s']:.3f} s")
    _rows.emit(rows_for(colds, warms, mem), f"load_prices(every registry asset, {START}..{END}, 1d), offline, "
                                            "embedded snapshot")


if __name__ == "__main__":
    main()
