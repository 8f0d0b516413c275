"""Stage a report, then publish it in one swap: an interrupted run never damages the previous report.

``capflow run`` writes every file into ``<output>/.capflow-staging-<pid>-<token>/`` (same filesystem, so
publishing is a rename). Only when every run has finished are the staged run folders swapped into
``<output>/runs/`` and ``index.html``/``manifest.json`` replaced, with SIGINT/SIGTERM held back for those few
renames. Ctrl-C, a kill, a full disk or any error before that leaves the previous report exactly as it was and
the staging folder removed; a staging folder left by a killed process (``SIGKILL``) is removed by the next run.
Nothing is ever written or removed outside ``<output>``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import signal
import threading
from pathlib import Path
from typing import Iterable, Iterator

STAGING_PREFIX = ".capflow-staging-"
RUNS_SUBDIR = "runs"
#: errno values that mean "the disk cannot take more": the whole run stops, the previous report stays.
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class OutputError(ValueError):
    """The output folder cannot be used (a file, unwritable, not creatable); one line naming it."""


class ReportAborted(RuntimeError):
    """The run stopped before publishing (disk full, interrupted); the previous report is unchanged."""


def is_disk_full(exc: BaseException) -> bool:
    """True for an OSError meaning no space (or quota) is left."""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def check_output(output: str | Path) -> Path:
    """Resolve and check ``--output``: a folder (created with its parents when missing) that can be written.

    Raises
    ------
    OutputError
        The path is a file, cannot be created, or is not writable (the message names the path).
    """
    out = Path(output).expanduser()
    if out.exists() and not out.is_dir():
        raise OutputError(f"--output {output}: is a file, not a folder; give a folder for the reports")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--output {output}: cannot create the folder ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"--output {output}: the folder is not writable; choose another with --output DIR")
    return out.resolve()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(output: Path) -> list[Path]:
    """Remove staging folders in ``output`` whose process is gone (left by a killed run); return them."""
    gone = []
    for p in output.glob(f"{STAGING_PREFIX}*"):
        try:
            pid = int(p.name[len(STAGING_PREFIX):].split("-")[0])
        except ValueError:
            continue
        if p.is_dir() and not p.is_symlink() and not _pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)
            gone.append(p)
    return gone


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM (delivered after the block) while the report is swapped in."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Staging:
    """A private folder inside ``output`` where one ``capflow run`` writes everything before publishing.

    Use as a context manager: on leaving, the staging folder is removed whether or not :meth:`publish` ran.
    """

    def __init__(self, output: Path):
        self.output = Path(output)
        remove_stale(self.output)
        self.root = self.output / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self.root.mkdir()
        self.runs = self.root / RUNS_SUBDIR
        self.runs.mkdir()
        self.published = False

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc) -> None:
        self.discard()

    def run_dir(self, name: str) -> Path:
        """The staged folder of one run (created empty)."""
        path = self.runs / name
        path.mkdir()
        return path

    def discard(self) -> None:
        """Remove the staging folder (idempotent)."""
        shutil.rmtree(self.root, ignore_errors=True)

    def publish(self, run_names: Iterable[str], files: Iterable[str] = ("manifest.json", "index.html")) -> None:
        """Swap the staged run folders into ``output/runs`` and move the staged top-level ``files`` over the old.

        Runs not named (skipped runs) keep their published folders. Signals are held during the renames.
        """
        final_runs = self.output / RUNS_SUBDIR
        trash = self.root / ".replaced"
        with held_signals():
            final_runs.mkdir(exist_ok=True)
            trash.mkdir(exist_ok=True)
            for name in run_names:
                staged, final = self.runs / name, final_runs / name
                if final.exists() or final.is_symlink():
                    os.replace(final, trash / name)
                os.replace(staged, final)
            for f in files:
                os.replace(self.root / f, self.output / f)
            self.published = True
