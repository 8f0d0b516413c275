"""What every benchmark reports: rows of (area, figure, value, target, met), and the environment it runs in.

A benchmark script builds :class:`Row` objects and hands them to :func:`emit`, which prints them as the script's
own table and, when ``CAPFLOW_BENCH_JSON`` names a file, also writes them there as JSON (``benchmarks/run_all.py``
sets it and joins every script's rows into one table). ``value`` and ``target`` are text, already formatted with
their unit; ``met`` is ``yes``, ``no`` or ``-`` (no target: the figure is informational).

Benchmarks run offline on the embedded snapshot (``data/snapshot``) with a private, temporary data cache and
report state (:func:`isolated_env`, :func:`isolate`): nothing is written outside temporary folders except the
stored exchange calendars (``data/cache/calendars``), which every process shares by design.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

#: Environment variable naming the JSON file a script writes its rows to (set by run_all.py).
JSON_ENV = "CAPFLOW_BENCH_JSON"
MET_VALUES = ("yes", "no", "-")
COLUMNS = ("area", "figure", "value", "target", "met")
ROOT = Path(__file__).resolve().parents[1]
_JSON_PATH: str | None = None  # kept here by isolate()


@dataclass(frozen=True)
class Row:
    """One reported figure: ``value`` and ``target`` as text with their units; ``met`` yes / no / -."""

    area: str
    figure: str
    value: str
    target: str = "-"
    met: str = "-"

    def __post_init__(self) -> None:
        if self.met not in MET_VALUES:
            raise ValueError(f"met={self.met!r}: use one of {', '.join(MET_VALUES)}")


def met(ok: bool | None) -> str:
    """``yes``/``no`` for a checked target, ``-`` when there is none (``ok`` is None)."""
    return "-" if ok is None else ("yes" if ok else "no")


def info(area: str, figure: str, value: str) -> Row:
    """An informational row (no target)."""
    return Row(area, figure, value)


def check(area: str, figure: str, value: str, target: str, ok: bool) -> Row:
    """A row with a target and whether this run met it."""
    return Row(area, figure, value, target, met(bool(ok)))


# --------------------------------------------------------------------------------------------- formatting
def secs(x: float) -> str:
    """Seconds with 3 significant-ish decimals: ``0.123 s``, ``12.3 s``, ``123 s``."""
    return f"{x:.3f} s" if x < 10 else (f"{x:.1f} s" if x < 100 else f"{x:.0f} s")


def ms(x: float) -> str:
    """Seconds written as milliseconds: ``1.23 ms``."""
    return f"{1e3 * x:.2f} ms" if x < 0.1 else f"{1e3 * x:.0f} ms"


def mib(n_bytes: float) -> str:
    """Bytes as MiB: ``221 MiB``."""
    return f"{n_bytes / 2**20:.0f} MiB" if n_bytes >= 10 * 2**20 else f"{n_bytes / 2**20:.1f} MiB"


def times(x: float) -> str:
    """A ratio: ``1.23x`` (``24.5x`` from 10 on)."""
    return f"{x:.2f}x" if x < 10 else f"{x:.1f}x"


# ------------------------------------------------------------------------------------------------ output
def table(rows: list[Row], title: str | None = None) -> str:
    """The rows as one fixed-width table (columns area, figure, value, target, met)."""
    cells = [COLUMNS] + [tuple(getattr(r, c) for c in COLUMNS) for r in rows]
    width = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, width)).rstrip() for r in cells]
    rule = "-" * max(len(x) for x in lines)
    return "\n".join(([title] if title else []) + [lines[0], rule, *lines[1:]])


def summary(rows: list[Row]) -> str:
    """One line: how many targets were met, and how many rows are informational."""
    judged = [r for r in rows if r.met != "-"]
    hit = sum(r.met == "yes" for r in judged)
    line = f"targets met: {hit} of {len(judged)} ({len(rows) - len(judged)} informational rows)"
    return line + (f"; not met: {len(judged) - hit}" if hit < len(judged) else "")


def emit(rows: list[Row], title: str | None = None) -> None:
    """Print the rows as this script's table; also write them as JSON to ``$CAPFLOW_BENCH_JSON`` when set."""
    print()
    print(table(rows, title))
    print(summary(rows))
    path = os.environ.get(JSON_ENV) or _JSON_PATH
    if path:
        Path(path).write_text(json.dumps([asdict(r) for r in rows], indent=1), encoding="utf-8")


def load(path: str | Path) -> list[Row]:
    """Rows written by :func:`emit` (raises ``ValueError`` when the file is not a list of rows)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of rows")
    return [Row(**{c: str(d.get(c, "-")) for c in COLUMNS}) for d in data]


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark takes (``--quick``)."""
    ap = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    ap.add_argument("--quick", action="store_true",
                    help="smaller sizes / fewer repeats where the script has them (targets stay as stated)")
    return ap


# ------------------------------------------------------------------------------------------- environment
def isolated_env(tmp: str | Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment for a capflow process: offline, the embedded snapshot, a private data cache and report
    state under ``tmp``; the stored calendars (``CAPFLOW_CALENDARS``, default ``data/cache/calendars``) are kept.
    ``CAPFLOW_BENCH_JSON`` is removed so that helper processes never write a script's rows."""
    env = dict(os.environ if base is None else base)
    for key in ("CAPFLOW_SNAPSHOT", "CAPFLOW_SOURCES", JSON_ENV):
        env.pop(key, None)
    env.update(CAPFLOW_OFFLINE="1", CAPFLOW_CACHE=str(Path(tmp) / "cache"), CAPFLOW_STATE_DIR=str(Path(tmp) / "state"),
               MPLBACKEND="Agg")
    return env


def isolate() -> Path:
    """Apply :func:`isolated_env` to this process (call it before capflow reads any setting); the temporary
    folder is removed at exit. ``CAPFLOW_BENCH_JSON`` is kept for :func:`emit` but leaves ``os.environ``, so
    that processes started from here never write this script's rows. Returns the folder."""
    global _JSON_PATH
    tmp = Path(tempfile.mkdtemp(prefix="capflow-bench-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    _JSON_PATH = os.environ.get(JSON_ENV) or _JSON_PATH
    env = isolated_env(tmp)
    for key in set(os.environ) - set(env):
        del os.environ[key]
    os.environ.update(env)
    return tmp
