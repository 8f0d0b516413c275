"""Resolution of a price request across layers (cache, live, snapshot).

Each layer function in :data:`LAYERS` returns the rows of one asset clipped to the request as a frame
``[value, source]`` (``source``: the original source tag of each row), or raises :class:`LayerUnavailable` so the
next layer is tried. ``from_cache``/``from_live``/``from_snapshot`` wrap them as ``(series, {source: rows})``.

Layers
------
cache
    Parquet files of earlier live fetches, one per (live source, asset, frequency). Served only when a file's
    ``spans`` (ranges it is known complete for) contain the whole request; otherwise a miss.
live
    :mod:`capflow.data.live`: for crypto prices Binance public data (full history), then CoinGecko, then Yahoo's
    crypto tickers (daily); CoinGecko for market caps; Yahoo for equities (one batch per request). Results are
    merged into the cache. Skipped in offline mode (``CAPFLOW_OFFLINE`` or a
    :class:`~capflow.data.errors.NetworkError` seen once in this process); the layer that then serves is named
    in an :class:`~capflow.data.request.OfflineFallbackWarning`.
snapshot
    The offline CSV snapshot. Each asset's parsed rows are also cached under source ``snapshot`` (per-row
    source tags kept, keyed by the CSV's fingerprint) so a warm load skips the CSV parse.
"""

from __future__ import annotations

import logging
from collections import Counter

import pandas as pd

from capflow.assets import Asset
from capflow.data import cache, live, snapshot
from capflow.data.request import warn_fallback

log = logging.getLogger(__name__)


from capflow.data.live import LayerUnavailable, LiveOffline, end_inclusive  # noqa: E402  (one hierarchy)


_DAILY_CRYPTO_FIELD = {"price": "price_usd", "close": "price_usd", "adj_close": "price_usd",
                       "market_cap": "market_cap_usd", "volume": "volume_usd"}
_EQUITY_FIELD = {"price": "adj_close", "close": "close", "adj_close": "adj_close", "open": "open", "high": "high",
                 "low": "low", "volume": "volume"}
#: Crypto fields served by the ``price`` column when a frame has no column of that name.
_CRYPTO_ALIASES = {"close": "price", "adj_close": "price"}
_STEP = cache.STEPS


def _clip(s: pd.Series | pd.DataFrame, req):
    end = req.end + (pd.Timedelta(days=1) - pd.Timedelta(microseconds=1))
    return s.loc[(s.index >= req.start) & (s.index <= end)]


# ----------------------------------------------------------------------------------------- snapshot


def snapshot_file(asset: Asset, freq: str) -> str:
    """Short name of the snapshot file that holds ``asset`` at ``freq``."""
    if not asset.is_crypto:
        return "equity_daily"
    return {"1d": "crypto_daily", "1h": "crypto_hourly", "4h": "crypto_4h"}[freq]


def snapshot_frame(asset: Asset, freq: str) -> pd.DataFrame:
    """Every snapshot field of one asset at ``freq`` in cache layout (parsed from the CSV).

    Returns
    -------
    DataFrame
        Indexed by UTC timestamp (unique, sorted): float columns (``price`` plus the raw fields) and ``source``
        (the price's original source per row; ``<field>_source`` where a field came from another source).

    Raises
    ------
    LayerUnavailable
        When the snapshot has no such asset at that frequency.
    """
    if not asset.is_crypto and freq != "1d":
        raise LayerUnavailable(f"the snapshot has no {freq} bars for {asset.symbol}; equities are daily")
    if asset.is_crypto and freq == "1d":
        best = _crypto_daily_best()
        rows = best.loc[best["asset"] == asset.id]
        out = pd.DataFrame({"price": rows["price_usd"].to_numpy(float),
                            "market_cap": rows["market_cap_usd"].to_numpy(float),
                            "volume": rows["volume_usd"].to_numpy(float),
                            "source": rows["price_usd_source"].astype("string").to_numpy(),
                            "market_cap_source": rows["market_cap_usd_source"].astype("string").to_numpy(),
                            "volume_source": rows["volume_usd_source"].astype("string").to_numpy()},
                           index=pd.DatetimeIndex(rows["date"]))
    else:
        name, key = snapshot_file(asset, freq), ("asset" if asset.is_crypto else "ticker")
        raw = _by_asset(name, key).get(asset.id if asset.is_crypto else asset.yahoo)
        if raw is None:
            raise LayerUnavailable(f"{asset.symbol} is not in snapshot {name}")
        time_col = snapshot.FILES[name][2]
        price_col = "close" if asset.is_crypto else "adj_close"
        fields = [c for c in ("open", "high", "low", "close", "adj_close", "volume") if c in raw.columns]
        out = pd.DataFrame({"price": raw[price_col].to_numpy(float),
                            **{c: raw[c].to_numpy(float) for c in fields},
                            "source": raw["source"].astype("string").to_numpy()},
                           index=pd.DatetimeIndex(raw[time_col]))
    if out.empty:
        raise LayerUnavailable(f"{asset.symbol} is not in the {freq} snapshot")
    out.index.name = cache.INDEX_COL
    return out[~out.index.duplicated(keep="first")].sort_index()


def _field_column(frame_columns, asset: Asset, field: str) -> str:
    if field in frame_columns:
        return field
    if asset.is_crypto and field in _CRYPTO_ALIASES and _CRYPTO_ALIASES[field] in frame_columns:
        return _CRYPTO_ALIASES[field]
    raise LayerUnavailable(f"field {field!r} is not available for {asset.symbol}")


def _as_long(frame: pd.DataFrame, asset: Asset, field: str) -> pd.DataFrame:
    """``[value, source]`` rows of one field (missing values dropped) from a cache-layout frame."""
    col = _field_column(frame.columns, asset, field)
    tag_col = f"{col}_source" if f"{col}_source" in frame.columns else "source"
    out = pd.DataFrame({"value": frame[col].astype(float), "source": frame[tag_col]}, index=frame.index)
    return out.dropna(subset=["value"])


def snapshot_long(asset: Asset, req) -> pd.DataFrame:
    """All snapshot rows of one asset for the request's frequency, as ``[value, source]`` indexed by UTC time.

    Served from the parquet copy under cache source ``snapshot`` when it matches the CSV's fingerprint.

    Raises
    ------
    LayerUnavailable
        When the snapshot has no such asset or field at that frequency.
    """
    if not asset.is_crypto and req.freq != "1d":
        raise LayerUnavailable(f"the snapshot has no {req.freq} bars for {asset.symbol}; equities are daily")
    key = _fingerprint(snapshot_file(asset, req.freq))
    hit = _snapshot_cache_read(asset, req, key)
    if hit is None:
        frame = snapshot_frame(asset, req.freq)
        _snapshot_cache_write(asset, req.freq, frame, key)
        hit = _as_long(frame, asset, req.field)
    if hit.empty:
        raise LayerUnavailable(f"snapshot has no {req.field} for {asset.symbol} at {req.freq}")
    return hit


def _snapshot_cache_read(asset: Asset, req, key: str) -> pd.DataFrame | None:
    meta = cache.read_meta("snapshot", asset.id, req.freq)
    if meta is None or meta.get("extra", {}).get("snapshot_key") != key:
        return None
    col = _CRYPTO_ALIASES.get(req.field, req.field) if asset.is_crypto else req.field
    got = cache.read("snapshot", asset.id, req.freq, columns=[req.field, col, f"{col}_source", "source"])
    if got is None:
        return None
    return _as_long(got[0], asset, req.field)


def _snapshot_cache_write(asset: Asset, freq: str, frame: pd.DataFrame, key: str) -> None:
    try:
        cache.write("snapshot", asset.id, freq, frame, span=(frame.index[0], frame.index[-1]),
                    extra={"snapshot_key": key}, replace=True)
    except OSError as exc:  # a read-only cache must not stop the snapshot from serving
        log.warning("could not cache snapshot rows of %s: %s", asset.id, exc)


def _fingerprint(name: str) -> str:
    path = snapshot.path_of(name)
    st = path.stat()
    return f"{path}:{st.st_mtime_ns}:{st.st_size}"


_MEMO: dict[tuple, object] = {}


def _memo_key(name: str) -> tuple:
    path = snapshot.path_of(name)
    st = path.stat()
    return (name, str(path), st.st_mtime_ns, st.st_size)


def _crypto_daily_best() -> pd.DataFrame:
    key = ("best",) + _memo_key("crypto_daily")
    if key not in _MEMO:
        _MEMO[key] = snapshot.crypto_daily_best()
    return _MEMO[key]  # type: ignore[return-value]


def _by_asset(name: str, key_col: str) -> dict[str, pd.DataFrame]:
    key = ("by",) + _memo_key(name)
    if key not in _MEMO:
        df = snapshot.read(name)
        _MEMO[key] = {str(k): g for k, g in df.groupby(key_col, sort=False)}
    return _MEMO[key]  # type: ignore[return-value]


def snapshot_range(asset: Asset, req) -> pd.DataFrame:
    """Snapshot rows ``[value, source]`` of one asset clipped to the request (DataRequestError when none)."""
    long = snapshot_long(asset, req)
    cov_first, cov_last = long.index[0], long.index[-1]
    long = _clip(long, req)
    if long.empty:
        from capflow.data.request import DataRequestError
        raise DataRequestError(
            f"parameter start/end: {asset.symbol} has no {req.freq} {req.field} in {req.start.date()}.."
            f"{req.end.date()}; the snapshot covers {cov_first.date()}..{cov_last.date()}")
    return long


def from_snapshot(asset: Asset, req) -> tuple[pd.Series, dict[str, int]]:
    """Serve one asset from the snapshot, clipped to the request's range."""
    return _series(snapshot_range(asset, req), asset)


def _series(long: pd.DataFrame, asset: Asset) -> tuple[pd.Series, dict[str, int]]:
    return long["value"].astype(float).rename(asset.id), _count(long["source"])


def _count(tags: pd.Series) -> dict[str, int]:
    return dict(Counter(tags.fillna("unknown").astype(str)))


# ----------------------------------------------------------------------------------------- cache


def from_cache(asset: Asset, req) -> tuple[pd.Series, dict[str, int]]:
    """Serve one asset from the parquet cache of live fetches when it covers the whole request."""
    return _series(cache_range(asset, req), asset)


def cache_range(asset: Asset, req) -> pd.DataFrame:
    """Cached live rows ``[value, source]`` of one asset clipped to the request, from the first live source (in
    :func:`capflow.data.live.live_sources` order) whose cache file covers the whole request.

    Raises
    ------
    LayerUnavailable
        No file, a corrupt file (moved aside), or spans that do not contain ``[start, end]``, for every source.
    """
    reasons = []
    for src in live.live_sources(asset, req):
        try:
            return _cache_of(src, asset, req)
        except LayerUnavailable as exc:
            reasons.append(str(exc))
    raise LayerUnavailable("; ".join(reasons) or f"no live source serves {asset.symbol} {req.field} at {req.freq}")


def _cache_of(src: str, asset: Asset, req) -> pd.DataFrame:
    meta = cache.read_meta(src, asset.id, req.freq)
    if meta is None:
        raise LayerUnavailable(f"no {src} cache for {asset.symbol} at {req.freq}")
    if not cache.spans_cover(meta["spans"], req.start, end_inclusive(req)):
        spans = ", ".join(f"{a[:10]}..{b[:10]}" for a, b in meta["spans"]) or "nothing"
        raise LayerUnavailable(f"{src} cache of {asset.symbol} covers {spans}, not {req.start.date()}..{req.end.date()}")
    col = _CRYPTO_ALIASES.get(req.field, req.field) if asset.is_crypto else req.field
    got = cache.read(src, asset.id, req.freq, columns=[req.field, col, f"{col}_source", "source"])
    if got is None:
        raise LayerUnavailable(f"{src} cache of {asset.symbol} was corrupt (moved aside)")
    long = _clip(_as_long(got[0], asset, req.field), req)
    if long.empty:
        raise LayerUnavailable(f"{src} cache of {asset.symbol} has no {req.field} in {req.start.date()}..{req.end.date()}")
    return long


def _cache_covers(asset: Asset, req) -> bool:
    for src in live.live_sources(asset, req):
        meta = cache.read_meta(src, asset.id, req.freq)
        if meta is not None and cache.spans_cover(meta["spans"], req.start, end_inclusive(req)):
            return True
    return False


def from_live(asset: Asset, req) -> tuple[pd.Series, dict[str, int]]:
    """Serve one asset from the live sources and merge the result into the cache."""
    return _series(live.live_range(asset, req), asset)


#: Layer name -> function ``(asset, req) -> DataFrame[value, source]`` clipped to the request.
LAYERS = {"cache": cache_range, "live": lambda asset, req: live.live_range(asset, req), "snapshot": snapshot_range}

#: Re-exported from :mod:`capflow.data.live` (the live layer's state and coverage rules).
offline_reason, reset_network_state = live.offline_reason, live.reset_network_state
covered_spans, expected_bars = live.covered_spans, live.expected_bars


# ----------------------------------------------------------------------------------------- all assets


def fetch_all(req, order: tuple[str, ...], drop_missing: bool = False, progress=None,
              tags: list[pd.Series] | None = None) -> tuple[list[pd.Series], dict[str, dict], dict[str, str]]:
    """Resolve every asset of a request through the layers in ``order``.

    Parameters
    ----------
    req : capflow.data.request.Request
    order : tuple of str
        Layer names, tried in order per asset.
    drop_missing : bool
        Skip (and report) an asset that no layer can serve instead of raising.
    progress : callable, optional
        Called with each asset id after it is resolved.
    tags : list, optional
        Receives, per served asset, the original source tag of every row (a string Series named by the asset).

    Returns
    -------
    (list of Series, dict, dict)
        One series per served asset, the provenance mapping for ``attrs``, and ``{asset id: reason}`` for
        dropped assets. When live was skipped offline, one :class:`OfflineFallbackWarning` names the layer
        that served each such asset.
    """
    frames, prov, dropped, fallbacks = [], {}, {}, {}
    try:
        live.prefetch_yahoo(req, order, lambda a: _cache_covers(a, req))
        for asset in req.assets:
            failed: list[tuple[str, str]] = []
            got = resolve_long(asset, req, order, drop_missing, failed=failed)
            if progress is not None:
                progress(asset.id)
            if isinstance(got, str):
                dropped[asset.id] = got
                continue
            long, layer, skipped_live = got
            if failed:
                warn_fallback(asset.symbol, failed, layer)
            s, srcs = _series(long, asset)
            frames.append(s)
            if tags is not None:
                tags.append(long["source"].astype("string").rename(asset.id))
            p = prov[asset.id] = {"layer": layer, "sources": srcs, "rows": int(s.notna().sum()),
                                  "first": str(s.index.min()), "last": str(s.index.max())}
            if failed:
                p["fallback"] = "; ".join(f"{name} failed ({reason})" for name, reason in failed)
            if skipped_live and p["layer"] != "live":
                fallbacks.setdefault(p["layer"], []).append(asset.symbol)
    finally:
        live.clear_batch()
    if fallbacks:
        from capflow.data.request import warn_offline

        used = "; ".join(f"used {layer} for {', '.join(syms)}" for layer, syms in fallbacks.items())
        warn_offline(f"live data skipped ({live.offline_reason()}); {used}")
    return frames, prov, dropped


def resolve_long(asset: Asset, req, order: tuple[str, ...], drop_missing: bool = False,
                 failed: list[tuple[str, str]] | None = None):
    """Resolve one asset through the layers in ``order``.

    ``failed``, when given, receives ``(layer, reason)`` for each live layer that failed (not a cache miss, not
    an offline skip) before another layer served: the caller says why in one line.

    Returns
    -------
    (DataFrame, str, bool) or str
        ``(rows [value, source] indexed by UTC time, layer used, live skipped offline)``; or, with
        ``drop_missing``, the reason string when no layer could serve the asset.

    Raises
    ------
    DataRequestError
        No layer serves the asset (unless ``drop_missing``); the message lists each layer's reason.
    """
    from capflow.data.request import DataRequestError

    reasons, skipped_live = [], False
    for layer in order:
        try:
            long = LAYERS[layer](asset, req)
        except LiveOffline as exc:
            skipped_live = True
            reasons.append(f"{layer}: offline ({exc})")
            continue
        except LayerUnavailable as exc:
            reasons.append(f"{layer}: {exc}")
            if failed is not None and layer == "live":
                failed.append((layer, str(exc)))
            continue
        except DataRequestError as exc:
            if not drop_missing:
                raise
            reasons.append(str(exc))
            continue
        return long, layer, skipped_live
    msg = f"parameter assets: no data for {asset.symbol} at freq={req.freq} field={req.field} ({'; '.join(reasons)})"
    if not drop_missing:
        raise DataRequestError(msg)
    return msg
