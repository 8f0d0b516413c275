"""Run every benchmark and print ONE table: area, figure, value, target, met; then how many targets were met.

Each ``benchmarks/bench_*.py`` runs as its own process with ``CAPFLOW_BENCH_JSON`` pointing at a temporary file,
where the script writes its rows (``benchmarks/_rows.py``). A script that fails, times out or writes no rows
becomes one row saying so (its last error line), not a traceback. The scripts' own output is kept out of the
way (``-v`` shows it). ``bench_tests.py`` (the whole test suite, slow) runs only with ``--with-tests``.

Usage: ``python benchmarks/run_all.py [--quick] [--only NAME ...] [--with-tests] [--timeout S] [-v]``
(``make bench`` runs it; ``make bench BENCH_ARGS=--quick``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rows import JSON_ENV, Row, load, summary, table  # noqa: E402

HERE = Path(__file__).resolve().parent
SLOW = {"tests": "pytest -q, the whole suite on 2 workers"}   # run only when asked (--with-tests)
SLOW_TARGETS = {"tests": "<= 90 s"}


def short(path: Path) -> str:
    """``bench_capex.py`` -> ``capex``."""
    return path.stem.removeprefix("bench_")


def scripts(only: list[str] | None) -> list[Path]:
    """The benchmark scripts, sorted; ``only`` keeps the named ones (``capex``, ``bench_capex``, ``bench_capex.py``).

    Raises
    ------
    SystemExit
        A name in ``only`` that matches no script (one line listing the valid names).
    """
    found = sorted(HERE.glob("bench_*.py"))
    if not only:
        return found
    wanted = {short(Path(n if n.endswith(".py") else f"{n}.py")) for x in only for n in x.split(",") if n}
    unknown = wanted - {short(p) for p in found}
    if unknown:
        sys.exit(f"run_all.py: unknown benchmark {sorted(unknown)[0]!r}; valid: {', '.join(short(p) for p in found)}")
    return [p for p in found if short(p) in wanted]


def last_error_line(text: str) -> str:
    """The last non-empty line of a script's output (the exception line of a traceback), shortened."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[-1] if lines else "no output")[:160]


def run_one(script: Path, quick: bool, timeout: float, verbose: bool, tmp: Path) -> tuple[list[Row], float]:
    """Run one script; return its rows (or one failure row) and its wall time."""
    out = tmp / f"{script.stem}.json"
    env = dict(os.environ, **{JSON_ENV: str(out)}, MPLBACKEND="Agg")
    cmd = [sys.executable, str(script)] + (["--quick"] if quick else [])
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, cwd=HERE.parent, timeout=timeout, text=True,
                              stdout=None if verbose else subprocess.PIPE, stderr=None if verbose else subprocess.PIPE)
    except subprocess.TimeoutExpired:
        wall = time.perf_counter() - t0
        return [Row(short(script), f"{script.name} did not finish", f"timed out after {timeout:.0f} s", "finishes",
                    "no")], wall
    wall = time.perf_counter() - t0
    if proc.returncode == 0 and out.is_file():
        try:
            return load(out), wall
        except (ValueError, TypeError) as exc:
            return [Row(short(script), f"{script.name} wrote unreadable rows", str(exc)[:160], "rows", "no")], wall
    why = "see the output above" if verbose else last_error_line(proc.stderr or proc.stdout or "")
    what = f"exit {proc.returncode}: {why}" if proc.returncode else f"no rows written: {why}"
    return [Row(short(script), f"{script.name} failed", what, "exit 0", "no")], wall


def skipped_row(name: str) -> Row:
    """The row of a slow benchmark that was not asked for."""
    return Row(name, SLOW[name], "skipped (run_all.py --with-tests)", SLOW_TARGETS[name], "-")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes / fewer repeats where a script has them")
    ap.add_argument("--only", action="append", metavar="NAME",
                    help="run only this benchmark (capex, eventstudy, ...; repeatable or comma separated)")
    ap.add_argument("--with-tests", action="store_true", help="also time the whole test suite (bench_tests.py)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed per script (default 3600)")
    ap.add_argument("-v", "--verbose", action="store_true", help="show each script's own output")
    args = ap.parse_args()
    chosen = scripts(args.only)
    rows: list[Row] = []
    t_all, load0 = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="capflow-bench-all-") as tmp:
        for i, script in enumerate(chosen, 1):
            name = short(script)
            if name in SLOW and not args.with_tests and not args.only:
                rows.append(skipped_row(name))
                continue
            print(f"[{i}/{len(chosen)}] {script.name} ...", end=" ", file=sys.stderr, flush=True)
            got, wall = run_one(script, args.quick, args.timeout, args.verbose, Path(tmp))
            failed = any(r.figure.startswith(script.name) for r in got)
            print(f"{'FAILED' if failed else 'ok'} ({wall:.0f} s, {len(got)} rows)", file=sys.stderr, flush=True)
            rows.extend(got)
    mode = "quick" if args.quick else "full"
    print()
    print(table(rows, f"capflow benchmarks ({mode} sizes; {time.perf_counter() - t_all:.0f} s; load average "
                      f"{load0:.2f} before, {os.getloadavg()[0]:.2f} after, {os.cpu_count()} CPUs)"))
    print(summary(rows))
    return 1 if any(r.figure.endswith(("failed", "did not finish", "unreadable rows")) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
