"""The sourced liquidation-event catalog: read, validate, merge with the snapshot's."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from capflow import config

log = logging.getLogger(__name__)
from capflow.cascade._base import CascadeError
from capflow.data.snapshot import read_csv_checked

log = logging.getLogger(__name__)

CATALOG_COLUMNS: tuple[str, ...] = ("date", "description", "liquidations_usd", "btc_move_pct", "source")
CATALOG_PATH: Path = config.EVENTS_DIR / "liquidation_events.csv"
_NUMERIC = ("liquidations_usd", "btc_move_pct")
#: Optional columns: the sourced start of the cascade (UTC) and what says so. Empty: the event hour comes from
#: prices (:func:`capflow.cascade.clean.event_hour_from_prices`).
TIME_COLUMNS: tuple[str, ...] = ("event_time_utc", "event_time_source")


# ----------------------------------------------------------------------------------------------------- catalog
def read_catalog(path: str | Path = CATALOG_PATH) -> pd.DataFrame:
    """Read and validate one liquidation-event catalog CSV.

    Parameters
    ----------
    path : str or Path
        CSV with columns :data:`CATALOG_COLUMNS`; every row's ``source`` must contain an http(s) URL.

    Returns
    -------
    DataFrame
        One row per date (``date`` as a UTC-midnight Timestamp), sorted by date.

    Raises
    ------
    CascadeError
        Missing file or column, unparseable date, duplicated date, or a row without a source URL.
    """
    path = Path(path)
    df = read_csv_checked(path, tuple(CATALOG_COLUMNS), CascadeError, "liquidation catalog (parameter path)",
                          dtype={"description": "string", "source": "string", "event_time_source": "string"})
    df["date"] = pd.to_datetime(df["date"], utc=True, format="ISO8601").dt.normalize()
    df = _event_times(df, path)
    no_url = df.loc[~df["source"].fillna("").str.contains(r"https?://", regex=True), "date"]
    if len(no_url):
        raise CascadeError(f"catalog {path.name}: row {no_url.iloc[0].date()} has no source URL; every row needs "
                           "at least one http(s) URL in column 'source'")
    dup = df.loc[df["date"].duplicated(), "date"]
    if len(dup):
        raise CascadeError(f"catalog {path.name}: date {dup.iloc[0].date()} appears twice; one row per date")
    for c in _NUMERIC:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df[list(CATALOG_COLUMNS + TIME_COLUMNS)].sort_values("date").reset_index(drop=True)


def _event_times(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Parse the optional ``event_time_utc`` (on the row's UTC date, with a source) or add empty columns."""
    if "event_time_utc" not in df.columns:
        return df.assign(event_time_utc=pd.NaT, event_time_source=pd.array([pd.NA] * len(df), dtype="string"))
    try:
        t = pd.to_datetime(df["event_time_utc"], utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise CascadeError(f"catalog {path.name}: column 'event_time_utc' has a value that is not an ISO time "
                           f"({exc}); use e.g. 2025-10-10T20:50:00Z") from None
    off = t.notna() & (t.dt.normalize() != df["date"])
    if off.any():
        raise CascadeError(f"catalog {path.name}: row {df.loc[off, 'date'].iloc[0].date()} has event_time_utc "
                           f"{t[off].iloc[0]} on another UTC date; the time must fall on the row's date")
    src = df.get("event_time_source", pd.Series(pd.NA, index=df.index)).astype("string")
    if (t.notna() & src.fillna("").str.strip().eq("")).any():
        bad = df.loc[t.notna() & src.fillna("").str.strip().eq(""), "date"].iloc[0]
        raise CascadeError(f"catalog {path.name}: row {bad.date()} has an event_time_utc without "
                           "event_time_source; say where the time comes from")
    return df.assign(event_time_utc=t, event_time_source=src)


def merge_catalogs(primary: pd.DataFrame, other: pd.DataFrame, names: tuple[str, str] = ("project", "snapshot"),
                   rtol: float = 0.01) -> pd.DataFrame:
    """Merge two catalogs by date: one row per date, each row's source kept, conflicting numbers flagged.

    Parameters
    ----------
    primary, other : DataFrame
        Catalogs as returned by :func:`read_catalog`. Where both have a date, ``primary``'s description and
        numbers are kept.
    names : (str, str)
        Labels of the two catalogs used in ``origin`` and in the combined ``source``.
    rtol : float
        Relative tolerance above which two numbers for the same date are a conflict.

    Returns
    -------
    DataFrame
        :data:`CATALOG_COLUMNS` plus ``origin`` (``"project"``, ``"snapshot"`` or ``"project+snapshot"``),
        ``conflict`` (bool) and ``conflict_detail`` (which column, both values). ``source`` is the row's source,
        or ``"project: ... | snapshot: ..."`` when the two catalogs cite different sources.
    """
    m = primary.merge(other, on="date", how="outer", suffixes=("_a", "_b"), indicator=True)
    out = pd.DataFrame({"date": m["date"]})
    for c in CATALOG_COLUMNS[1:] + TIME_COLUMNS:
        if f"{c}_a" in m.columns:
            a, b = m[f"{c}_a"], m[f"{c}_b"]
            out[c] = a.where(m["_merge"] != "right_only", b).where(a.notna() | (m["_merge"] != "both"), b)
    both = m["_merge"] == "both"
    src_a, src_b = m["source_a"].fillna(""), m["source_b"].fillna("")
    differ = both & (src_a.str.strip() != src_b.str.strip())
    out.loc[differ, "source"] = names[0] + ": " + src_a[differ] + " | " + names[1] + ": " + src_b[differ]
    out["origin"] = m["_merge"].map({"left_only": names[0], "right_only": names[1],
                                     "both": f"{names[0]}+{names[1]}"}).astype(str)
    detail = pd.Series("", index=m.index)
    for c in _NUMERIC:
        a, b = m[f"{c}_a"].astype(float), m[f"{c}_b"].astype(float)
        bad = both & a.notna() & b.notna() & ~np.isclose(a, b, rtol=rtol, atol=0)
        bad |= both & (a.isna() != b.isna())
        detail[bad] += f"{c}: {names[0]}=" + a[bad].astype(str) + f" {names[1]}=" + b[bad].astype(str) + "; "
    out["conflict"] = detail != ""
    out["conflict_detail"] = detail.str.rstrip("; ")
    return out.sort_values("date").reset_index(drop=True)


def load_catalog(snapshot: bool = True, path: str | Path = CATALOG_PATH, root: Path | None = None) -> pd.DataFrame:
    """The project's liquidation-event catalog, merged with the snapshot's catalog when asked and present.

    Parameters
    ----------
    snapshot : bool
        Merge ``events/liquidation_events.csv`` of the offline snapshot (skipped with a log line when there is
        no snapshot folder).
    path : str or Path
        The project catalog (default ``data/events/liquidation_events.csv``).
    root : Path, optional
        Snapshot folder (default :func:`capflow.config.snapshot_dir`).

    Returns
    -------
    DataFrame
        See :func:`merge_catalogs`; one row per UTC date.
    """
    project = read_catalog(path)
    root = Path(root) if root is not None else (config.snapshot_dir() if snapshot else None)
    snap_path = root / "events" / "liquidation_events.csv" if root is not None else None
    if not snapshot or snap_path is None or not snap_path.is_file():
        if snapshot:
            log.info("no snapshot liquidation catalog found; using the project catalog only")
        empty = project.iloc[0:0]
        return merge_catalogs(project, empty)
    return merge_catalogs(project, read_catalog(snap_path))


