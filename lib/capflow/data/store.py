"""One entry point for prices: :func:`load_prices`.

Resolution order is configurable (default cache, then live, then snapshot). Every frame carries its provenance
in ``df.attrs["provenance"]``: per column the layer used, the original sources with row counts, and coverage.
"""

from __future__ import annotations

import re
import warnings
from typing import Callable, Iterable

import pandas as pd

from capflow import assets as _assets
from capflow.data import resolve
from capflow.data.request import (FIELDS, FREQS, DataRequestError, OfflineFallbackWarning, Request,
                                  SourceFallbackWarning, resolution_order, validate_request, warn_offline)

__all__ = ["load_prices", "load_sources", "source_spans", "provenance_table", "data_summary", "validate_request", "resolution_order", "Request",
           "DataRequestError", "OfflineFallbackWarning", "SourceFallbackWarning", "warn_offline", "FREQS", "FIELDS"]


def load_prices(assets: str | Iterable[str], start: object, end: object | None = None, freq: str = "1d",
                field: str = "price", sources: Iterable[str] | None = None, missing: str = "raise",
                progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Load one field for many assets as a wide frame.

    Parameters
    ----------
    assets : str or iterable of str
        Asset ids, symbols, names or group tags: ``["TAO", "NVDA"]``, ``"ai_token,crypto_major"``.
    start, end : date-like
        Inclusive range (UTC). ``end`` defaults to today.
    freq : {"1d", "1h", "4h"}
        Bar frequency. Daily bars are labelled by their UTC date (crypto: close of that UTC day; equities:
        the session date); intraday bars by their open time.
    field : str
        ``price`` (crypto close, equity adjusted close: the one to compute returns from), or a raw field.
    sources : iterable of str, optional
        Resolution order, default :func:`capflow.config.source_order` (cache, live, snapshot).
    missing : {"raise", "drop"}
        What to do with an asset that has no data in the range: raise :class:`DataRequestError` (default), or
        drop its column with a warning and list it in ``attrs["dropped"]`` (``{id: reason}``).
    progress : callable, optional
        Called with each asset id once it is resolved (served or dropped), e.g. to advance a progress bar.

    Returns
    -------
    DataFrame
        Indexed by UTC timestamp, one column per canonical asset id, NaN where an asset has no bar.
        ``attrs["provenance"]`` maps each column to ``{"layer", "sources", "first", "last", "rows"}``;
        ``attrs["request"]`` records the request.

    Raises
    ------
    DataRequestError
        Bad parameters, or an asset with no data at all in the range (the message states the coverage).
    """
    req = validate_request(assets, start, end, freq, field)
    if missing not in ("raise", "drop"):
        raise DataRequestError(f"parameter missing={missing!r} is not valid; use 'raise' or 'drop'")
    order = resolution_order(sources)
    frames, prov, dropped = resolve.fetch_all(req, order, drop_missing=missing == "drop", progress=progress)
    if not frames:
        raise DataRequestError(f"parameter assets: none of the requested assets has data in {req.start.date()}.."
                               f"{req.end.date()} at freq={freq}: " + "; ".join(dropped.values()))
    wide = pd.concat(frames, axis=1).sort_index()
    wide.index.name = "timestamp"
    wide = wide[[a.id for a in req.assets if a.id not in dropped]]
    for asset_id, reason in dropped.items():
        warnings.warn(f"dropped {asset_id}: {reason}", UserWarning, stacklevel=2)
    wide.attrs["provenance"] = prov
    wide.attrs["dropped"] = dropped
    wide.attrs["request"] = {"start": str(req.start.date()), "end": str(req.end.date()), "freq": freq,
                             "field": field, "assets": [a.id for a in req.assets]}
    return wide


def load_sources(assets: str | Iterable[str], start: object, end: object | None = None, freq: str = "1d",
                 field: str = "price", sources: Iterable[str] | None = None) -> pd.DataFrame:
    """The original source tag of every value :func:`load_prices` returns for the same request.

    Returns
    -------
    DataFrame
        Same index and columns as :func:`load_prices` (``missing="drop"``), string tags such as ``bn_spot_ry`` or
        ``cg_snap_zeke`` (an intraday snapshot, not a close: see :func:`capflow.data.snapshot.clock_of`), <NA>
        where there is no value.
    """
    req = validate_request(assets, start, end, freq, field)
    tags: list[pd.Series] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the price load reports drops and fallbacks
        resolve.fetch_all(req, resolution_order(sources), drop_missing=True, tags=tags)
    if not tags:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="timestamp"))
    wide = pd.concat(tags, axis=1).sort_index()
    wide.index.name = "timestamp"
    return wide


def source_spans(tags: pd.DataFrame) -> dict[str, str]:
    """Per asset, which source gave which span: ``bn_spot_ry 2023-01-01..2026-03-03 (1,158); cg_snap_zeke ...``.

    Parameters
    ----------
    tags : DataFrame
        Per-value source tags (:func:`load_sources`).
    """
    out = {}
    for col in tags.columns:
        s = tags[col].dropna().astype(str)
        if s.empty:
            continue
        parts = []
        for tag, grp in s.groupby(s, sort=False):
            idx = grp.index
            short = ", ".join(_short_source(tag))
            parts.append((idx.min(), f"{short} {idx.min():%Y-%m-%d}..{idx.max():%Y-%m-%d} ({len(grp):,})"))
        out[col] = "; ".join(text for _, text in sorted(parts))
    return out


def provenance_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Provenance of a :func:`load_prices` frame as a table (one row per column), for reports."""
    prov = frame.attrs.get("provenance", {})
    rows = []
    for col, p in prov.items():
        srcs = short_sources(p.get("sources", {}))
        rows.append({"asset": col, "symbol": _assets.symbol(col), "layer": p.get("layer"), "sources": srcs,
                     "first": p.get("first"), "last": p.get("last"), "rows": p.get("rows")})
    table = pd.DataFrame(rows)
    table.attrs["provenance"] = prov
    return table


_REPO = re.compile(r"([\w.-]+/[\w.-]+)@")


def _short_source(tag: str) -> list[str]:
    """Source tags for display: snapshot tags as they are, repository-cited equity tags as ``owner/repo``."""
    repos = _REPO.findall(tag)
    return sorted(set(repos)) if repos else [tag]


def short_sources(counts: dict[str, int]) -> str:
    """``{tag: rows}`` as one short line: repository-cited tags collapsed to ``owner/repo``, largest first.

    >>> short_sources({"ohlcv=a/b@1;adj=c/d@2": 5, "bn_spot_ry": 3})
    'a/b, c/d (5), bn_spot_ry (3)'
    """
    merged: dict[str, int] = {}
    for tag, n in counts.items():
        key = ", ".join(_short_source(str(tag)))
        merged[key] = merged.get(key, 0) + int(n)
    return ", ".join(f"{k} ({v:,})" for k, v in sorted(merged.items(), key=lambda kv: -kv[1]))


def data_summary(*frames: pd.DataFrame) -> dict:
    """Compact provenance of the data behind a result, for summaries and the report index.

    Parameters
    ----------
    *frames : DataFrame
        Frames from :func:`load_prices` or tables from :func:`provenance_table` (anything whose
        ``attrs["provenance"]`` maps asset id to ``{"layer", "sources", "last"}``).

    Returns
    -------
    dict
        ``data_as_of`` (latest date with data, ISO), ``data_layers`` (cache/live/snapshot used) and
        ``data_sources`` (original source tags, repository-cited ones shortened to ``owner/repo``).
    """
    layers, sources, lasts = set(), set(), []
    for frame in frames:
        for p in frame.attrs.get("provenance", {}).values():
            layers.add(str(p.get("layer")))
            for tag in p.get("sources", {}):
                sources.update(_short_source(str(tag)))
            if p.get("last"):
                last = pd.Timestamp(p["last"])
                lasts.append(last.tz_localize("UTC") if last.tzinfo is None else last.tz_convert("UTC"))
    return {"data_as_of": str(max(lasts).date()) if lasts else None, "data_layers": sorted(layers),
            "data_sources": sorted(sources)}
