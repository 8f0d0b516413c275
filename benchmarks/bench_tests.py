"""Benchmark: the wall time of the whole test suite, ``.venv/bin/python -m pytest -q`` (two workers, as configured
in pyproject.toml), run once, offline on the embedded snapshot as CI runs it (``.ci/run``), with a private data
cache and report state. Target: <= 90 s.

Slow (it is the whole suite): ``run_all.py`` runs it only with ``--with-tests``. Extra arguments after ``--`` go to
pytest (e.g. ``python benchmarks/bench_tests.py -- tests/test_fmt.py`` to try the script on one file; the row then
says it is not the whole suite and has no target).

Run: ``python benchmarks/bench_tests.py [-- PYTEST_ARGS]``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time

import _rows
from _rows import ROOT, Row, check, info, secs

AREA = "tests"
TARGET_S = 90.0


def run_pytest(extra: list[str]) -> tuple[float, int, str]:
    """Run pytest once in the project root; return wall seconds, exit code and pytest's summary line."""
    with tempfile.TemporaryDirectory(prefix="capflow-bench-") as tmp:
        env = _rows.isolated_env(tmp)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", *extra], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    summary = next((ln.strip("= ") for ln in reversed(lines) if re.search(r"\d+ (passed|failed|error)", ln)),
                   lines[-1] if lines else "no output")
    return wall, proc.returncode, summary


def rows_for(wall: float, code: int, summary: str, extra: list[str]) -> list[Row]:
    """The suite's wall time against the target (or informational when only part of it ran), and its outcome."""
    outcome = info(AREA, "  pytest outcome", f"{summary[:80]} (exit {code})")
    if extra:
        return [info(AREA, f"pytest -q {' '.join(extra)} (not the whole suite)", secs(wall)), outcome]
    return [check(AREA, "pytest -q, the whole suite on 2 workers (one run)", secs(wall), f"<= {TARGET_S:g} s",
                  wall <= TARGET_S and code == 0), outcome]


def main() -> None:
    ap = _rows.parser(__doc__)
    ap.add_argument("pytest_args", nargs="*", help="arguments for pytest (after --); default: the whole suite")
    args = ap.parse_args()
    wall, code, summary = run_pytest(args.pytest_args)
    print(f"pytest -q {' '.join(args.pytest_args)}: {wall:.1f} s, exit {code}: {summary}")
    _rows.emit(rows_for(wall, code, summary, args.pytest_args), "test suite wall time")


if __name__ == "__main__":
    main()
