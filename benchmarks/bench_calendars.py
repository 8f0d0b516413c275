"""Benchmark: exchange sessions (XKRX, XNYS) through :func:`capflow.calendars.sessions`, built once, then stored.

``CAPFLOW_CALENDARS`` points at a temporary folder (the machine's stored calendars are neither read nor written):

- build, once: the first process finds the folder empty, builds both calendars with ``exchange_calendars`` and
  stores them (informational: a one-time cost per machine and library version);
- stored: every later process loads them. Measured in ``--runs`` fresh processes (median, min): the two
  ``sessions`` calls (target <= 0.5 s), the import of ``capflow.calendars`` before them and the whole process
  wall time including interpreter start (informational), and whether ``exchange_calendars`` was imported (it
  should not be: the stored sessions are read without it).

Run: ``python benchmarks/bench_calendars.py [--runs 7]``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _rows
from _rows import Row, check, info, secs

AREA = "calendars"
TARGET_S = 0.5
CODES = ("XKRX", "XNYS")
CHILD = f"""
import json, sys, time
t0 = time.perf_counter()
from capflow import calendars
t1 = time.perf_counter()
got = [calendars.sessions(code) for code in {CODES!r}]
t2 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "sessions_s": t2 - t1, "sessions": [len(s.labels) for s in got],
                  "xcals_imported": "exchange_calendars" in sys.modules}}))
"""


def one(env: dict[str, str]) -> dict:
    """One fresh process getting the sessions; its own timings plus its wall time from outside."""
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", CHILD], env=env, check=True, capture_output=True, text=True)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.perf_counter() - t0
    return out


def measure(runs: int) -> tuple[dict, list[dict], list[str]]:
    """The build (first process, empty folder) and ``runs`` processes reading the stored calendars."""
    with tempfile.TemporaryDirectory(prefix="capflow-bench-") as tmp:
        env = _rows.isolated_env(tmp)
        env["CAPFLOW_CALENDARS"] = str(Path(tmp) / "calendars")
        build = one(env)
        stored = [one(env) for _ in range(runs)]
        files = sorted(p.name for p in (Path(tmp) / "calendars").glob("*.npz"))
    return build, stored, files


def rows_for(build: dict, stored: list[dict]) -> list[Row]:
    """Target: the sessions calls of a process reading stored calendars; the rest informational."""
    def med(key: str) -> float:
        return statistics.median(r[key] for r in stored)

    def low(key: str) -> float:
        return min(r[key] for r in stored)

    n = len(stored)
    xcals = sum(r["xcals_imported"] for r in stored)
    return [
        check(AREA, f"sessions XKRX + XNYS, stored, fresh process (median of {n})",
              f"{secs(med('sessions_s'))} (min {secs(low('sessions_s'))})", f"<= {TARGET_S:g} s",
              med("sessions_s") <= TARGET_S),
        info(AREA, "  same process: import capflow.calendars first (median)", secs(med("import_s"))),
        info(AREA, "  same process: whole wall time incl. interpreter start (median)",
             f"{secs(med('wall_s'))} (min {secs(low('wall_s'))})"),
        info(AREA, "  exchange_calendars imported when stored", f"{xcals} of {n} processes"),
        info(AREA, "one-time build of XKRX + XNYS (first process, then stored)",
             f"{secs(build['sessions_s'])} (process {secs(build['wall_s'])})"),
    ]


def main() -> None:
    ap = _rows.parser(__doc__)
    ap.add_argument("--runs", type=int, default=7, help="fresh processes reading the stored calendars (default 7)")
    args = ap.parse_args()
    build, stored, files = measure(3 if args.quick else args.runs)
    print(f"stored: {', '.join(files)}; sessions per calendar: {build['sessions']}")
    print(f"build process: {json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in build.items()})}")
    _rows.emit(rows_for(build, stored), "exchange calendars: build once, then stored")


if __name__ == "__main__":
    main()
