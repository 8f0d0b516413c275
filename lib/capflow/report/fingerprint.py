"""Content hashes: the manifest's data hashes, and run fingerprints for skipping unchanged runs.

Like statsmodels' ``tools/nbgenerate.py`` (which skips notebooks whose hash is unchanged), a run is skipped when
the SHA-256 of everything that determines its output is the one recorded by its last successful run in the
same output folder: the notebook source, its parameters, capflow's library source, the data inputs (snapshot
and parquet-cache files) and the environment (package versions, kernel, data mode, HTML on/off).

File hashes are cached by ``(path, mtime_ns, size)`` in ``<output>/.capflow-hashes.json``, so every file is read
at most once per ``capflow run`` and not at all while it is unchanged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable

log = logging.getLogger(__name__)
DATA_SUFFIXES = (".csv", ".gz", ".parquet", ".json")
HASH_CACHE_NAME = ".capflow-hashes.json"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def sha256_json(value: Any) -> str:
    """Hex SHA-256 of a value's canonical JSON (sorted keys; non-JSON values as ``str``)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


class HashCache:
    """SHA-256 of files, cached by ``(absolute path, mtime_ns, size)``; optionally persisted as JSON.

    Parameters
    ----------
    path : path, optional
        JSON file holding the cache between runs (None: in memory only).
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self.hits = self.misses = 0
        self._data: dict[str, list] = {}
        if self.path is not None and self.path.is_file():
            try:
                self._data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                log.warning("hash cache %s is unreadable; starting a new one", self.path)

    def sha256(self, path: str | Path) -> str:
        """The file's hex SHA-256, read from disk only when its mtime or size changed."""
        p = Path(path).resolve()
        st = p.stat()
        key, stamp = str(p), [st.st_mtime_ns, st.st_size]
        got = self._data.get(key)
        if got is not None and got[:2] == stamp:
            self.hits += 1
            return got[2]
        self.misses += 1
        digest = sha256_file(p)
        self._data[key] = stamp + [digest]
        return digest

    def save(self) -> None:
        """Write the cache atomically (no-op without a path)."""
        if self.path is None:
            return
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self._data), encoding="utf-8")
        os.replace(tmp, self.path)


def data_files(root: str | Path | None, suffixes: Iterable[str] = DATA_SUFFIXES) -> list[Path]:
    """Data files under ``root`` (sorted; ``[]`` when it is None or missing)."""
    if root is None or not Path(root).is_dir():
        return []
    sfx = tuple(suffixes)
    return sorted(p for p in Path(root).rglob("*") if p.is_file() and p.name.endswith(sfx))


def file_records(root: str | Path | None, cache: HashCache) -> list[dict[str, Any]]:
    """``{"path" (relative to root), "bytes", "sha256", "modified"}`` of every data file under ``root``."""
    out = []
    for p in data_files(root):
        st = p.stat()
        out.append({"path": str(p.relative_to(root)), "bytes": st.st_size, "sha256": cache.sha256(p),
                    "modified": dt.datetime.fromtimestamp(st.st_mtime, dt.timezone.utc).isoformat()})
    return out


def tree_hash(root: str | Path, cache: HashCache, suffixes: Iterable[str] = (".py",)) -> str:
    """One SHA-256 over the relative paths and contents of the matching files under ``root``."""
    files = data_files(root, suffixes)
    return sha256_json([[str(p.relative_to(root)), cache.sha256(p)] for p in files])


def fingerprint(parts: dict[str, Any]) -> str | None:
    """The run fingerprint: SHA-256 of its parts, or None when any part is None (unknown: never skip)."""
    if any(v is None for v in parts.values()):
        return None
    return sha256_json(parts)


def state_dir() -> Path:
    """Where capflow keeps report state across output folders: ``CAPFLOW_STATE_DIR``, else
    ``$XDG_CACHE_HOME/capflow``, else ``~/.cache/capflow``."""
    env = os.environ.get("CAPFLOW_STATE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "capflow"


DURATIONS_NAME = "run-durations.json"


def load_durations() -> dict[str, float]:
    """Last measured duration (seconds) of each run name, ``{}`` when none was recorded."""
    try:
        data = json.loads((state_dir() / DURATIONS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))} if isinstance(data, dict) else {}


def save_durations(durations: dict[str, float]) -> None:
    """Merge ``{run name: seconds}`` into the recorded durations (best effort: a read-only home is fine)."""
    try:
        d = state_dir()
        d.mkdir(parents=True, exist_ok=True)
        merged = {**load_durations(), **{k: round(float(v), 3) for k, v in durations.items()}}
        tmp = d / f"{DURATIONS_NAME}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(merged, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, d / DURATIONS_NAME)
    except OSError as exc:
        log.debug("run durations not saved: %s", exc)
