"""Resolution of a price request across layers (cache, live, snapshot).

Each layer function in :data:`LAYERS` returns the rows of one asset clipped to the request as a frame
``[value, source]`` (``source``: the original source tag of each row), or raises :class:`LayerUnavailable` so the
next layer is tried. ``from_cache``/``from_live``/``from_snapshot`` wrap them as ``(series, {source: rows})``.

Layers
------
cache
    Parquet files of earlier live fetches (source ``coingecko`` for crypto, ``yahoo`` otherwise). Served only
    when the file's ``spans`` (ranges it is known complete for) contain the whole request; otherwise a miss.
live
    CoinGecko for crypto (``1d``, ``1h``), Yahoo for equities (``1d``, all equities of one request in one
    batch). Results are merged into the cache. Skipped in offline mode (``CAPFLOW_OFFLINE`` or a
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

from capflow import config
from capflow.assets import Asset
from capflow.data import cache, snapshot
from capflow.data.request import warn_fallback
from capflow.data.validate import InvalidDataError, check_values

log = logging.getLogger(__name__)


class LayerUnavailable(RuntimeError):
    """A layer cannot serve this asset (no cache file, offline, not in the snapshot...)."""


class LiveOffline(LayerUnavailable):
    """The live layer was skipped because capflow is offline (env or unreachable network)."""


_DAILY_CRYPTO_FIELD = {"price": "price_usd", "close": "price_usd", "adj_close": "price_usd",
                       "market_cap": "market_cap_usd", "volume": "volume_usd"}
_EQUITY_FIELD = {"price": "adj_close", "close": "close", "adj_close": "adj_close", "open": "open", "high": "high",
                 "low": "low", "volume": "volume"}
#: Crypto fields served by the ``price`` column when a frame has no column of that name.
_CRYPTO_ALIASES = {"close": "price", "adj_close": "price"}
_STEP = cache.STEPS


def end_inclusive(req) -> pd.Timestamp:
    """Last bar time the request asks for: ``end`` itself for daily bars, the last bar of that day otherwise."""
    return req.end + (pd.Timedelta(days=1) - _STEP[req.freq]) if req.freq != "1d" else req.end


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


def live_source(asset: Asset) -> str:
    """Name of the live source (and its cache folder) for an asset: ``coingecko`` or ``yahoo``."""
    return "coingecko" if asset.is_crypto else "yahoo"


def from_cache(asset: Asset, req) -> tuple[pd.Series, dict[str, int]]:
    """Serve one asset from the parquet cache of live fetches when it covers the whole request."""
    return _series(cache_range(asset, req), asset)


def cache_range(asset: Asset, req) -> pd.DataFrame:
    """Cached live rows ``[value, source]`` of one asset clipped to the request, when the cache covers it.

    Raises
    ------
    LayerUnavailable
        No file, a corrupt file (moved aside), or spans that do not contain ``[start, end]``.
    """
    src = live_source(asset)
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


# ----------------------------------------------------------------------------------------- live

_NETWORK_DOWN: str | None = None  # set once per process when a NetworkError is seen
_BATCH: dict[str, object] = {}  # per-request Yahoo batch results: ticker -> frame or exception


def offline_reason() -> str | None:
    """Why the live layer is skipped (``CAPFLOW_OFFLINE`` or an unreachable network), or None when online."""
    if config.offline():
        return "CAPFLOW_OFFLINE is set"
    return _NETWORK_DOWN


def reset_network_state() -> None:
    """Forget an earlier network failure (the next live request tries the network again)."""
    global _NETWORK_DOWN
    _NETWORK_DOWN = None


def _mark_network_down(exc: Exception) -> None:
    global _NETWORK_DOWN
    _NETWORK_DOWN = f"network unreachable ({exc})"
    log.warning("live sources unreachable, offline for the rest of this process: %s", exc)


def _live_span(req) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The range a live fetch is complete for: the request, cut at the last finished bar."""
    step = _STEP[req.freq]
    last_done = pd.Timestamp.now(tz="UTC").floor(step) - step
    return req.start, min(end_inclusive(req), last_done)


def _crypto_live(asset: Asset, req) -> pd.DataFrame:
    if req.freq not in ("1d", "1h"):
        raise LayerUnavailable(f"CoinGecko serves 1d and 1h bars, not {req.freq}")
    from capflow.data import coingecko

    frame = coingecko.CoinGeckoClient().history(asset.coingecko_id, req.start, end_inclusive(req), freq=req.freq)
    frame = frame[["price", "market_cap", "volume"]].astype(float)
    frame["source"] = pd.array(["coingecko"] * len(frame), dtype="string")
    return frame


def _yahoo_frame(raw: pd.DataFrame) -> pd.DataFrame:
    frame = raw[[c for c in ("open", "high", "low", "close", "adj_close", "volume") if c in raw.columns]].astype(float)
    frame.insert(0, "price", frame["adj_close"])
    frame["source"] = pd.array(["yahoo"] * len(frame), dtype="string")
    return frame


def _equity_live(asset: Asset, req) -> pd.DataFrame:
    if req.freq != "1d":
        raise LayerUnavailable(f"Yahoo is used for daily bars only, not {req.freq}")
    hit = _BATCH.get(asset.yahoo)
    if isinstance(hit, Exception):
        raise hit
    if hit is None:
        from capflow.data import yahoo

        hit = yahoo.download([asset.yahoo], req.start, req.end, interval="1d")[asset.yahoo]
    return _yahoo_frame(hit)


def prefetch_yahoo(req, order: tuple[str, ...]) -> None:
    """Download every equity of a request that will need the live layer in one Yahoo batch (kept in ``_BATCH``).

    A batch failure other than a network error leaves ``_BATCH`` empty: each asset is then tried on its own.
    """
    _BATCH.clear()
    if "live" not in order or req.freq != "1d" or offline_reason():
        return
    need = [a for a in req.assets if not a.is_crypto]
    if "cache" in order[:order.index("live")]:
        need = [a for a in need if not _cache_covers(a, req)]
    if len(need) < 2:
        return
    from capflow.data import errors, yahoo

    try:
        got = yahoo.download([a.yahoo for a in need], req.start, req.end, interval="1d")
    except errors.NetworkError as exc:
        _mark_network_down(exc)
        return
    except errors.SourceError as exc:
        log.info("Yahoo batch failed (%s); fetching tickers one by one", exc)
        return
    _BATCH.update(got)


def _cache_covers(asset: Asset, req) -> bool:
    meta = cache.read_meta(live_source(asset), asset.id, req.freq)
    return meta is not None and cache.spans_cover(meta["spans"], req.start, end_inclusive(req))


def from_live(asset: Asset, req) -> tuple[pd.Series, dict[str, int]]:
    """Serve one asset from the live APIs (CoinGecko, Yahoo) and merge the result into the cache."""
    return _series(live_range(asset, req), asset)


def live_range(asset: Asset, req) -> pd.DataFrame:
    """Live rows ``[value, source]`` of one asset clipped to the request; merged into the cache first.

    Raises
    ------
    LiveOffline
        Offline mode, or the network is unreachable (remembered for the rest of the process).
    LayerUnavailable
        Any other source failure (rate limit, unknown id...), with the source's one-line message.
    """
    reason = offline_reason()
    if reason:
        raise LiveOffline(reason)
    from capflow.data import errors

    try:
        frame = _crypto_live(asset, req) if asset.is_crypto else _equity_live(asset, req)
    except errors.NetworkError as exc:
        _mark_network_down(exc)
        raise LiveOffline(_NETWORK_DOWN) from exc
    except errors.SourceError as exc:
        msg = str(exc)
        raise LayerUnavailable(msg if msg.startswith(live_source(asset)) else f"{live_source(asset)}: {msg}") from exc
    frame.index = pd.DatetimeIndex(frame.index).tz_convert("UTC") if frame.index.tz is not None \
        else pd.DatetimeIndex(frame.index).tz_localize("UTC")
    frame.index.name = cache.INDEX_COL
    try:
        frame = check_values(frame, live_source(asset), asset.id)
    except InvalidDataError as exc:
        raise LayerUnavailable(str(exc)) from None
    _live_cache_write(asset, req, frame)
    long = _clip(_as_long(frame, asset, req.field), req)
    if long.empty:
        raise LayerUnavailable(f"{live_source(asset)} returned no {req.field} for {asset.symbol} "
                               f"in {req.start.date()}..{req.end.date()}")
    return long


def expected_bars(asset: Asset, req) -> pd.DatetimeIndex:
    """The bars a complete answer to ``req`` holds: every step for crypto, every exchange session for equities
    (daily), each cut at the last finished bar."""
    lo, hi = _live_span(req)
    if hi < lo:
        return pd.DatetimeIndex([], tz="UTC")
    if asset.is_crypto or req.freq != "1d":
        return pd.date_range(lo.ceil(_STEP[req.freq]), hi, freq=_STEP[req.freq])
    from capflow import calendars

    return calendars.sessions(asset.calendar, lo, hi).in_range(lo, hi)


def covered_spans(asset: Asset, req, got: pd.DatetimeIndex) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The closed ranges a live answer is known complete for: runs of expected bars the source really returned.

    A gap (an empty or short answer, a missing day) is never recorded as covered, so it is refetched next time;
    non-trading days between two returned sessions belong to the run that surrounds them.
    """
    exp = expected_bars(asset, req)
    if not len(exp) or not len(got):
        return []
    have = exp.isin(pd.DatetimeIndex(got).normalize() if req.freq == "1d" else got)
    lo, hi = _live_span(req)
    spans, i, n = [], 0, len(exp)
    while i < n:
        if not have[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and have[j + 1]:
            j += 1
        start = lo if i == 0 else exp[i - 1] + _STEP[req.freq]
        end = hi if j == n - 1 else exp[j + 1] - _STEP[req.freq]
        spans.append((max(start, lo), min(end, hi)))
        i = j + 1
    return spans


def _live_cache_write(asset: Asset, req, frame: pd.DataFrame) -> None:
    spans = covered_spans(asset, req, frame.index)
    try:
        if not spans:  # nothing complete: the rows are kept, no range is marked covered
            if len(frame):
                cache.write(live_source(asset), asset.id, req.freq, frame, span=None, record_span=False)
            return
        for k, span in enumerate(spans):
            cache.write(live_source(asset), asset.id, req.freq, frame if k == 0 else frame.iloc[:0], span=span)
    except OSError as exc:
        log.warning("could not write the cache for %s: %s", asset.id, exc)


#: Layer name -> function ``(asset, req) -> DataFrame[value, source]`` clipped to the request.
LAYERS = {"cache": cache_range, "live": live_range, "snapshot": snapshot_range}


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
        prefetch_yahoo(req, order)
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
        _BATCH.clear()
    if fallbacks:
        from capflow.data.request import warn_offline

        used = "; ".join(f"used {layer} for {', '.join(syms)}" for layer, syms in fallbacks.items())
        warn_offline(f"live data skipped ({offline_reason()}); {used}")
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
