"""One entry point for prices: :func:`load_prices`.

Resolution order is configurable (default cache, then live, then snapshot). Every frame carries its provenance
in ``df.attrs["provenance"]``: per column the layer used, the original sources with row counts, and coverage.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Callable, Iterable

import pandas as pd

from capflow import assets as _assets
from capflow import config
from capflow._time import utc_timestamp

FREQS: tuple[str, ...] = ("1d", "1h", "4h")
#: Fields per frequency. ``price`` is the series to compute returns from: the crypto close (daily: the
#: precedence-chosen value) and the equity split- and dividend-adjusted close.
FIELDS: dict[str, tuple[str, ...]] = {
    "1d": ("price", "close", "adj_close", "open", "high", "low", "volume", "market_cap"),
    "1h": ("price", "open", "high", "low", "close", "volume"),
    "4h": ("price", "open", "high", "low", "close", "volume"),
}


class DataRequestError(ValueError):
    """A request the data cannot serve (bad parameter, range outside coverage); one line naming the parameter."""


class OfflineFallbackWarning(UserWarning):
    """Live data was wanted but the network is off or unreachable; names what was used instead."""


@dataclass(frozen=True)
class Request:
    """A validated price request."""

    assets: tuple[_assets.Asset, ...]
    start: pd.Timestamp
    end: pd.Timestamp
    freq: str
    field: str


def _ts(value: object, name: str) -> pd.Timestamp:
    return utc_timestamp(value, name, DataRequestError)


def validate_request(assets: str | Iterable[str], start: object, end: object | None = None, freq: str = "1d",
                     field: str = "price") -> Request:
    """Check a price request and resolve asset names; raise one-line errors naming the parameter.

    Parameters
    ----------
    assets : str or iterable of str
        Asset ids, symbols, names or group tags (see :func:`capflow.assets.expand`).
    start, end : date-like
        Inclusive UTC range; ``end`` defaults to today.
    freq : {"1d", "1h", "4h"}
    field : str
        One of :data:`FIELDS` for the frequency.
    """
    if freq not in FREQS:
        raise DataRequestError(f"parameter freq={freq!r} is not supported; valid: {', '.join(FREQS)}")
    if field not in FIELDS[freq]:
        raise DataRequestError(f"parameter field={field!r} is not available at freq={freq}; "
                               f"valid: {', '.join(FIELDS[freq])}")
    s = _ts(start, "start")
    e = _ts(end if end is not None else pd.Timestamp.now(tz="UTC").normalize(), "end")
    if s > e:
        raise DataRequestError(f"parameter start={s.date()} is after end={e.date()}; start must be on or before end")
    return Request(tuple(_assets.expand(assets)), s, e, freq, field)


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
    from capflow.data import resolve  # late import: resolve builds on this module's request type

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


def resolution_order(sources: Iterable[str] | None = None) -> tuple[str, ...]:
    """The layer order to use: ``sources`` checked, or :func:`capflow.config.source_order` when None."""
    if sources is None:
        return config.source_order()
    order = tuple(str(s).strip().lower() for s in sources)
    if not order or any(s not in config.VALID_SOURCES for s in order):
        raise DataRequestError(f"parameter sources={list(sources)!r} is not valid; give a non-empty order of "
                               f"{', '.join(config.VALID_SOURCES)}")
    return order


def provenance_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Provenance of a :func:`load_prices` frame as a table (one row per column), for reports."""
    prov = frame.attrs.get("provenance", {})
    rows = []
    for col, p in prov.items():
        srcs = ", ".join(f"{k} ({v})" for k, v in sorted(p.get("sources", {}).items(), key=lambda kv: -kv[1]))
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


def warn_offline(what: str) -> None:
    """Emit the visible offline warning (a :class:`OfflineFallbackWarning`) naming what is used instead."""
    warnings.warn(f"capflow is offline: {what}", OfflineFallbackWarning, stacklevel=3)
