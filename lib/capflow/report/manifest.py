"""The run manifest: versions, git commit, data provenance and hashes, timings and statuses (JSON)."""

from __future__ import annotations

import importlib.metadata as md
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from capflow import __version__, config
from capflow.report.fingerprint import HashCache, file_records, sha256_file

__all__ = ["sha256_file", "git_commit", "package_versions", "snapshot_files", "notebook_inputs", "build_manifest"]


def git_commit(root: Path = config.PROJ_ROOT) -> dict[str, Any]:
    """``{"commit", "dirty"}`` of the project's git checkout (None when git or the repository is absent)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if head.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def package_versions(requirements: Path = config.PROJ_ROOT / "requirements.txt") -> dict[str, str | None]:
    """Installed versions (importlib.metadata) of every package pinned in ``requirements.txt``, plus capflow."""
    names = ["capflow"]
    if requirements.is_file():
        for line in requirements.read_text(encoding="utf-8").splitlines():
            m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(==|>=|<=|~=|$)", line)
            if m and not line.lstrip().startswith("#"):
                names.append(m.group(1))
    out: dict[str, str | None] = {}
    for n in names:
        try:
            out[n] = md.version(n)
        except md.PackageNotFoundError:
            out[n] = None
    return out


def snapshot_files(root: Path | None, cache: HashCache | None = None) -> list[dict[str, Any]]:
    """Every snapshot data file (``market/``, ``events/``) with its size, modification time and SHA-256."""
    return file_records(root, cache or HashCache())


def notebook_inputs(notebook: Path, cache: HashCache | None = None) -> dict[str, str]:
    """SHA-256 of a notebook and its jupytext pair (the run's code inputs)."""
    cache = cache or HashCache()
    return {p.name: cache.sha256(p) for p in (notebook.with_suffix(".ipynb"), notebook.with_suffix(".py"))
            if p.is_file()}


def build_manifest(results: list[dict], data_mode: dict, started: str, wall_s: float, argv: list[str],
                   jobs: int, output: Path, snapshot: list[dict] | None = None,
                   packages: dict | None = None) -> dict[str, Any]:
    """The manifest dict for one ``capflow run`` (written as ``manifest.json`` next to the index).

    Parameters
    ----------
    results : list of dict
        :class:`capflow.report.execute.RunResult` dicts, each extended with ``inputs`` and ``summary``.
    data_mode : dict
        :meth:`capflow.report.environment.DataMode.to_dict`.
    snapshot : list of dict, optional
        The snapshot file records already hashed for this ``capflow run`` (default: hash them here).
    packages : dict, optional
        :func:`package_versions`, when already computed.
    """
    snap = Path(data_mode["snapshot"]) if data_mode.get("snapshot") else None
    used_snapshot = data_mode.get("mode") == "offline" or config.source_order()[-1] == "snapshot"
    return {
        "capflow_version": __version__, "generated_at": started, "wall_seconds": round(wall_s, 3),
        "command": argv, "jobs": jobs, "output": str(output), "git": git_commit(),
        "python": sys.version.split()[0], "platform": platform.platform(),
        "packages": packages if packages is not None else package_versions(),
        "data": {**data_mode, "snapshot_files": (snapshot if snapshot is not None else snapshot_files(snap))
                 if used_snapshot else []},
        "status": "ok" if all(r["status"] in ("ok", "skipped") for r in results) else "failed",
        "counts": {s: sum(r["status"] == s for r in results) for s in ("ok", "skipped", "failed", "missing")},
        "runs": results,
    }
