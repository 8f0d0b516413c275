"""The parquet cache: one file per (source, asset, frequency) under :func:`capflow.config.cache_dir`.

File layout: ``<cache_dir>/<source>/<freq>/<asset>.parquet`` (the asset id percent-encoded, so ``^GSPC`` is
``%5EGSPC.parquet``). Each file holds one frame indexed by UTC timestamp (stored as the ``timestamp`` column),
float value columns (``price``, ``open``, ``market_cap``...), a per-row ``source`` tag (the original source of
the row, e.g. ``bn_spot_ry``; kept so provenance survives caching) and optionally ``<field>_source`` columns
overriding the tag for one field.

Guarantees
----------
- Writes are atomic: a temp file in the same folder, flushed and fsynced, then ``os.replace``; a crash leaves
  the previous file intact and no temp file behind. Concurrent writers never produce a half-written file (and an
  advisory lock, where the OS has one, serialises read-merge-write so no writer's rows are lost).
- Merges never drop rows: the union of timestamps; on a shared timestamp the newer fetch wins for each value it
  has, the older value is kept where the newer one is missing.
- Metadata lives in the parquet schema (key ``capflow``): source, asset, freq, fetched_at, coverage first/last,
  rows, ``spans`` (the request ranges the file is known complete for), capflow version, and free ``extra`` keys.
- A file that cannot be read, or whose metadata disagrees with its rows, is moved aside to
  ``<name>.corrupt-<UTC timestamp>`` with a :class:`CacheCorruptWarning` and reported as a miss.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import quote

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from capflow import __version__, config

log = logging.getLogger(__name__)

META_KEY = b"capflow"
#: Bar length per frequency: two spans this far apart are contiguous.
STEPS: dict[str, pd.Timedelta] = {"1d": pd.Timedelta(days=1), "1h": pd.Timedelta(hours=1), "4h": pd.Timedelta(hours=4)}
INDEX_COL = "timestamp"


class CacheCorruptWarning(UserWarning):
    """A cache file was unreadable or inconsistent; it was moved aside and will be refetched."""


def path_for(source: str, asset_id: str, freq: str) -> Path:
    """Path of the cache file for one (source, asset, frequency) (the file need not exist)."""
    return config.cache_dir() / quote(source, safe="-_.") / quote(freq, safe="") / f"{quote(asset_id, safe='-_.')}.parquet"


# ---------------------------------------------------------------------------------------------- merge


def merge(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """Union of two cache frames by timestamp; the newer frame wins where it has a value.

    Parameters
    ----------
    old, new : DataFrame
        Indexed by UTC timestamp (unique), any columns. ``old`` may be None.

    Returns
    -------
    DataFrame
        Every timestamp of either frame, sorted; each cell from ``new`` unless ``new`` lacks it (missing row,
        column or NaN), then from ``old``. No row of either input is lost.
    """
    new = _dedupe(new)
    if old is None or old.empty:
        return new.sort_index()
    old = _dedupe(old)
    if new.empty:
        return old.sort_index()
    out = new.combine_first(old)
    cols = list(new.columns) + [c for c in old.columns if c not in new.columns]
    return out[cols].sort_index()


def _dedupe(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the last row of a duplicated timestamp (the later row of one fetch is the newer value)."""
    return frame[~frame.index.duplicated(keep="last")]


def merge_spans(spans: Iterable[Iterable[str]], step: pd.Timedelta = pd.Timedelta(days=1)) -> list[list[str]]:
    """Union of closed ``[start, end]`` ranges (naive means UTC), merging overlapping ones and ones ``step`` apart.

    Returns
    -------
    list of [str, str]
        Sorted, disjoint UTC ISO ranges.
    """
    items = sorted((_utc(a), _utc(b)) for a, b in spans)
    out: list[list[pd.Timestamp]] = []
    for a, b in items:
        if out and a <= out[-1][1] + step:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [[a.isoformat(), b.isoformat()] for a, b in out]


def spans_cover(spans: Iterable[Iterable[str]], start: pd.Timestamp, end: pd.Timestamp) -> bool:
    """True when one span contains the whole closed range ``[start, end]``."""
    start, end = _utc(start), _utc(end)
    return any(_utc(a) <= start and end <= _utc(b) for a, b in spans)


def _utc(value: object) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


# ---------------------------------------------------------------------------------------------- read


def read_meta(source: str, asset_id: str, freq: str) -> dict | None:
    """The metadata of a cache file (no rows read), or None when absent or corrupt (then moved aside)."""
    path = path_for(source, asset_id, freq)
    if not path.is_file():
        return None
    try:
        meta = _meta_of(pq.read_schema(path))
    except (OSError, pa.ArrowException, ValueError) as exc:
        quarantine(path, f"unreadable schema ({type(exc).__name__}: {exc})")
        return None
    return meta


def read(source: str, asset_id: str, freq: str, columns: Iterable[str] | None = None
         ) -> tuple[pd.DataFrame, dict] | None:
    """Read one cache file.

    Parameters
    ----------
    source, asset_id, freq : str
        The cache key.
    columns : iterable of str, optional
        Value columns to read (the timestamp is always read; absent names are ignored).

    Returns
    -------
    (DataFrame, dict) or None
        The frame indexed by UTC timestamp and the metadata; None on a miss. A corrupt file (unreadable, or
        rows/first/last not matching its metadata) is moved aside with :class:`CacheCorruptWarning` and is a miss.
    """
    path = path_for(source, asset_id, freq)
    remove_stale_temps(path, min_age=STALE_TEMP_SECONDS)
    if not path.is_file():
        return None
    try:
        frame, meta = _read_checked(path, columns)
    except (OSError, pa.ArrowException, ValueError, KeyError) as exc:
        quarantine(path, f"{type(exc).__name__}: {exc}")
        return None
    return frame, meta


def _read_checked(path: Path, columns: Iterable[str] | None) -> tuple[pd.DataFrame, dict]:
    pf = pq.ParquetFile(path)
    meta = _meta_of(pf.schema_arrow)
    names = pf.schema_arrow.names
    cols = None if columns is None else [INDEX_COL] + [c for c in dict.fromkeys(columns) if c in names and c != INDEX_COL]
    table = pf.read(columns=cols)
    if table.num_rows != meta["rows"]:
        raise ValueError(f"metadata says {meta['rows']} rows, file has {table.num_rows}")
    frame = table.to_pandas().set_index(INDEX_COL)
    if len(frame) and (str(frame.index[0]) != meta["first"] or str(frame.index[-1]) != meta["last"]):
        raise ValueError(f"coverage {frame.index[0]}..{frame.index[-1]} does not match metadata "
                         f"{meta['first']}..{meta['last']}")
    return frame, meta


def _meta_of(schema: pa.Schema) -> dict:
    raw = (schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise ValueError("no capflow metadata in the parquet schema")
    meta = json.loads(raw)
    for key in ("source", "rows", "first", "last", "spans"):
        if key not in meta:
            raise ValueError(f"capflow metadata lacks {key!r}")
    return meta


def quarantine(path: Path, reason: str) -> Path:
    """Move a bad cache file aside to ``<name>.corrupt-<UTC timestamp>`` and warn; return the new path."""
    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%S%fZ")
    dest = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        os.replace(path, dest)
    except FileNotFoundError:  # another process moved it first
        return dest
    msg = f"cache file {path} is corrupt ({reason}); moved aside to {dest.name}, it will be refetched"
    warnings.warn(msg, CacheCorruptWarning, stacklevel=3)
    log.warning(msg)
    return dest


# ---------------------------------------------------------------------------------------------- write


def write(source: str, asset_id: str, freq: str, frame: pd.DataFrame, span: tuple[object, object] | None = None,
          extra: dict | None = None, replace: bool = False, record_span: bool = True) -> dict:
    """Merge ``frame`` into the cache file of (source, asset, freq) atomically; return the new metadata.

    Parameters
    ----------
    frame : DataFrame
        Indexed by UTC timestamp; float value columns and a ``source`` column of per-row tags.
    span : (start, end), optional
        The closed range this fetch is complete for (added to the file's ``spans``); default the frame's
        first..last timestamp.
    extra : dict, optional
        Extra metadata (e.g. the snapshot fingerprint); replaces the previous ``extra``.
    replace : bool
        Overwrite instead of merging (used when the old content is known stale, e.g. a changed snapshot).
    record_span : bool
        False: keep the rows but mark no range as covered (an answer with gaps; see
        :func:`capflow.data.resolve.covered_spans`).

    Raises
    ------
    capflow.data.validate.InvalidDataError
        A value that cannot be a price or size: nothing is written.
    """
    from capflow.data.validate import check_values

    frame = check_values(frame, source, asset_id)
    path = path_for(source, asset_id, freq)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        remove_stale_temps(path)
        old = None if replace else read(source, asset_id, freq)
        merged = merge(old[0] if old else None, frame)
        spans = [] if old is None else old[1]["spans"]
        if span is None and len(frame) and record_span:
            span = (frame.index.min(), frame.index.max())
        if span is not None:
            new_span = [_utc(span[0]).isoformat(), _utc(span[1]).isoformat()]
            spans = merge_spans(list(spans) + [new_span], step=STEPS.get(freq, pd.Timedelta(days=1)))
        meta = _build_meta(source, asset_id, freq, merged, spans, extra)
        _atomic_write(path, _to_table(merged, meta))
    return meta


def _build_meta(source: str, asset_id: str, freq: str, frame: pd.DataFrame, spans: list, extra: dict | None) -> dict:
    return {"source": source, "asset": asset_id, "freq": freq,
            "fetched_at": pd.Timestamp.now(tz="UTC").isoformat(), "rows": int(len(frame)),
            "first": str(frame.index[0]) if len(frame) else None, "last": str(frame.index[-1]) if len(frame) else None,
            "spans": spans, "capflow_version": __version__, "extra": extra or {}}


def _to_table(frame: pd.DataFrame, meta: dict) -> pa.Table:
    flat = frame.copy()
    flat.index = pd.DatetimeIndex(flat.index).tz_convert("UTC") if flat.index.tz is not None else \
        pd.DatetimeIndex(flat.index).tz_localize("UTC")
    flat.index.name = INDEX_COL
    for col in flat.columns:
        if col == "source" or col.endswith("_source"):
            flat[col] = flat[col].astype("string")
    table = pa.Table.from_pandas(flat.reset_index(), preserve_index=False)
    return table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: json.dumps(meta).encode()})


#: Permissions of cache files: readable by all like any other data file (mkstemp alone would give 0600).
FILE_MODE = 0o644


#: A temp file older than this cannot belong to a live writer (writes take seconds): removed on the next open.
STALE_TEMP_SECONDS = 3600


def remove_stale_temps(path: Path, min_age: float = 0.0) -> int:
    """Delete temp files of ``path`` left by a killed writer; returns the count.

    With the file's lock held (a write) every temp file of ``path`` is stale; without it (a read) only those older
    than ``min_age`` seconds are removed.
    """
    import time

    n, now = 0, time.time()
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if min_age and now - tmp.stat().st_mtime < min_age:
                continue
            tmp.unlink()
            n += 1
    if n:
        log.info("removed %d stale temp file(s) of %s", n, path.name)
    return n


def _atomic_write(path: Path, table: pa.Table) -> None:
    """Write ``table`` to a temp file next to ``path``, fsync, then rename over ``path`` (mode 0644)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            pq.write_table(table, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Advisory exclusive lock on ``<path>.lock`` for a read-merge-write (no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def entries() -> pd.DataFrame:
    """One row per cache file: source, asset, freq, rows, first, last, fetched_at, path."""
    root = config.cache_dir()
    rows = []
    for path in sorted(root.glob("*/*/*.parquet")) if root.is_dir() else []:
        meta = read_meta(path.parent.parent.name, _unquote(path.stem), path.parent.name)
        if meta:
            rows.append({k: meta.get(k) for k in ("source", "asset", "freq", "rows", "first", "last", "fetched_at")}
                        | {"path": str(path)})
    return pd.DataFrame(rows, columns=["source", "asset", "freq", "rows", "first", "last", "fetched_at", "path"])


def _unquote(name: str) -> str:
    from urllib.parse import unquote

    return unquote(name)
