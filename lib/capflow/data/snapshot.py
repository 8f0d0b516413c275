"""Reader for the offline market-data snapshot (schema: the snapshot's ``README.md``).

The default snapshot is the one embedded in the repository (``data/snapshot``, every CSV gzip-compressed: see
:mod:`capflow.data.embed`); ``CAPFLOW_SNAPSHOT`` points at any other folder in the schema. Each file may be
plain or ``.gz``.

Every reader validates the file's columns, parses times as UTC and keeps the ``source`` of every value. Reads
are memoised per (path, mtime, size) so several notebooks cells share one parse.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from capflow import config


class SnapshotError(ValueError):
    """The snapshot folder or one of its files is missing or malformed (message names the file and column)."""


# file -> (relative path, required columns, time column)
FILES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "crypto_daily": ("market/crypto_daily.csv",
                     ("date", "asset", "price_usd", "market_cap_usd", "volume_usd", "source"), "date"),
    "crypto_hourly": ("market/crypto_hourly.csv.gz",
                      ("timestamp_utc", "asset", "open", "high", "low", "close", "volume", "source"), "timestamp_utc"),
    "crypto_4h": ("market/crypto_4h.csv",
                  ("timestamp_utc", "asset", "open", "high", "low", "close", "volume", "source"), "timestamp_utc"),
    "crypto_derivatives": ("market/crypto_derivatives.csv",
                           ("timestamp_utc", "asset", "funding_rate", "open_interest_usd", "long_liquidations_usd",
                            "short_liquidations_usd", "source"), "timestamp_utc"),
    "equity_daily": ("market/equity_daily.csv",
                     ("date", "ticker", "open", "high", "low", "close", "adj_close", "volume", "source"), "date"),
    "liquidation_events": ("events/liquidation_events.csv",
                           ("date", "description", "liquidations_usd", "btc_move_pct", "source"), "date"),
    "capex_announcements": ("events/capex_announcements.csv",
                            ("company", "ticker", "announce_date", "timing", "fiscal_period", "capex_usd",
                             "capex_definition", "guidance_text", "guidance_low_usd", "guidance_high_usd", "source"),
                            "announce_date"),
}

#: Daily crypto source precedence from the snapshot README: Binance closes at 00:00 UTC before snapshots.
DAILY_PRECEDENCE: tuple[str, ...] = ("bn_spot_ry", "bn_spot_dj", "bn_spot_mis", "bn_spot_rb", "bn_perp_nt",
                                     "cg_hist_p17o", "cg_snap_zeke", "cg_snap_cw", "cmc_monthly_sbq")

#: Sources whose daily value is a close of the UTC day (the others are intraday snapshots).
CLOSE_SOURCES: frozenset[str] = frozenset({"bn_spot_ry", "bn_spot_dj", "bn_spot_mis", "bn_spot_rb", "bn_perp_nt",
                                           "cg_hist_p17o", "cmc_monthly_sbq"})


def clock_of(source: str) -> str:
    """Return ``"close"`` for a source that gives a UTC-day close, ``"snapshot"`` for an intraday observation."""
    return "close" if str(source) in CLOSE_SOURCES or not str(source).startswith("cg_snap") else "snapshot"


def path_of(name: str, root: Path | None = None) -> Path:
    """Absolute path of a snapshot file by its short name (``crypto_daily``...), checked to exist."""
    if name not in FILES:
        raise SnapshotError(f"unknown snapshot file {name!r}; valid: {', '.join(FILES)}")
    root = Path(root) if root is not None else config.snapshot_dir(required=True)
    if not root.is_dir():
        raise SnapshotError(f"snapshot folder {root} does not exist; set CAPFLOW_SNAPSHOT to the folder holding "
                            "market/ and events/")
    rel = FILES[name][0]
    for cand in (rel, rel + ".gz", rel.removesuffix(".gz")):
        path = root / cand
        if path.is_file():
            return path
    raise SnapshotError(f"snapshot file {root / rel} is missing (expected {rel} or {rel}.gz under {root})")


def read(name: str, root: Path | None = None) -> pd.DataFrame:
    """Read one snapshot file, validated, with its time column parsed to UTC timestamps.

    Parameters
    ----------
    name : str
        Short name, one of :data:`FILES`.
    root : Path, optional
        Snapshot folder; default from :func:`capflow.config.snapshot_dir`.

    Returns
    -------
    DataFrame
        The file as a long frame (a fresh copy: callers may mutate it).

    Raises
    ------
    SnapshotError
        Missing folder or file, or a missing column (the message names the file and the column).
    """
    path = path_of(name, root)
    stat = path.stat()
    return _read_cached(str(path), name, stat.st_mtime_ns, stat.st_size).copy()


def read_csv_checked(path: str | Path, required: tuple[str, ...], error: type[Exception] = SnapshotError,
                     label: str = "snapshot file", dtype: dict | None = None) -> pd.DataFrame:
    """Read a CSV and check its columns; every failure is one line naming the file (and the column).

    Parameters
    ----------
    path : str or Path
        The CSV (``.gz`` is read transparently).
    required : tuple of str
        Columns that must be present.
    error : type of Exception
        Error class to raise (each module raises its own ``ValueError`` subclass).
    label : str
        What the file is, for the message (``"capex catalog"``...).
    dtype : dict, optional
        Column dtypes for :func:`pandas.read_csv` (text columns default to pandas' ``string``).
    """
    if not Path(path).is_file():
        raise error(f"{label} {path}: file not found (expected a CSV with columns {', '.join(required)})")
    try:
        df = pd.read_csv(path, dtype=dtype or {c: "string" for c in ("source", "asset", "ticker")})
    except Exception as exc:  # pandas' parse errors do not name the file
        raise error(f"{label} {path} could not be parsed: {exc}") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise error(f"{label} {path}: missing column {missing[0]!r} (expected columns: {', '.join(required)})")
    return df


@lru_cache(maxsize=16)
def _read_cached(path: str, name: str, _mtime: int, _size: int) -> pd.DataFrame:
    from capflow.data.validate import InvalidDataError, check_values

    _, required, time_col = FILES[name]
    df = read_csv_checked(path, required)
    try:
        df = check_values(df, "snapshot", file=str(path), line_offset=2,
                          key_col="asset" if "asset" in df.columns else "ticker")
    except InvalidDataError as exc:
        raise SnapshotError(str(exc)) from None
    try:
        df[time_col] = pd.to_datetime(df[time_col], utc=True, format="ISO8601")
    except Exception as exc:
        raise SnapshotError(f"snapshot file {path}: column {time_col!r} has values that are not dates: {exc}") from exc
    return df


def crypto_daily_best(root: Path | None = None, fields: tuple[str, ...] = ("price_usd", "market_cap_usd",
                                                                            "volume_usd")) -> pd.DataFrame:
    """One row per (date, asset): the first non-missing value of each field in :data:`DAILY_PRECEDENCE` order.

    Each field keeps the source it came from in ``<field>_source`` (``price_usd_source`` etc.), and
    ``clock`` says whether the price is a UTC close or an intraday snapshot.

    Returns
    -------
    DataFrame
        Columns ``date, asset`` then for each field the value and its source, then ``clock``.
    """
    raw = read("crypto_daily", root)
    rank = {s: i for i, s in enumerate(DAILY_PRECEDENCE)}
    raw["_rank"] = raw["source"].map(rank).fillna(len(rank)).astype(int)
    raw = raw.sort_values(["asset", "date", "_rank"], kind="stable")
    out = None
    for f in fields:
        part = raw.loc[raw[f].notna(), ["date", "asset", f, "source"]]
        part = part.drop_duplicates(["asset", "date"], keep="first").rename(columns={"source": f"{f}_source"})
        out = part if out is None else out.merge(part, on=["date", "asset"], how="outer")
    out = out.sort_values(["asset", "date"], kind="stable").reset_index(drop=True)
    out["clock"] = np.where(out["price_usd_source"].fillna("").str.startswith("cg_snap"), "snapshot", "close")
    return out


def coverage(name: str, key: str, root: Path | None = None) -> pd.DataFrame:
    """First and last timestamp and row count per asset/ticker in one snapshot file."""
    df = read(name, root)
    time_col = FILES[name][2]
    return df.groupby(key)[time_col].agg(first="min", last="max", rows="size")
