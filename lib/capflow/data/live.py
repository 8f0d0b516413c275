"""The live layer: which live source serves which request, in which order, and what the cache may record.

Sources, in preference order (:func:`live_sources`)
---------------------------------------------------
- crypto prices (``price``, ``close``, OHLC, ``volume``): **Binance** public data (keyless, full history from
  listing: checksum-verified dump files, REST for the newest days; spot, perpetual where spot is missing;
  :mod:`capflow.data.binance`), then **CoinGecko** (within its plan's window; ``1d``, ``1h``), then Yahoo's crypto
  tickers (``1d``; :func:`capflow.data.yahoo.crypto_history`);
- crypto market caps: CoinGecko only (cap-weighted baskets);
- equities, ETFs, indices: Yahoo (one batch per request, daily).

A source that fails (refused region HTTP 451/403, rate limit beyond the wait cap, unknown symbol, no data) hands
over to the next one; the reasons travel to the caller, which says in one line why live failed when another layer
serves. A :class:`~capflow.data.errors.NetworkError` switches the process offline (remembered).

Every answer is validated (:mod:`capflow.data.validate`) and merged into the cache of its own source, marking as
covered only the runs of expected bars it really returned (:func:`covered_spans`).
"""

from __future__ import annotations

import logging
from typing import Callable

import pandas as pd

from capflow import config
from capflow.assets import Asset
from capflow.data import cache
from capflow.data.validate import InvalidDataError, check_values

log = logging.getLogger(__name__)
_STEP = cache.STEPS


class LayerUnavailable(RuntimeError):
    """A layer cannot serve this asset (no cache file, offline, not in the snapshot...)."""


class LiveOffline(LayerUnavailable):
    """The live layer was skipped because capflow is offline (env or unreachable network)."""


def end_inclusive(req) -> pd.Timestamp:
    """Last bar time the request asks for: ``end`` itself for daily bars, the last bar of that day otherwise."""
    return req.end + (pd.Timedelta(days=1) - _STEP[req.freq]) if req.freq != "1d" else req.end


def _clip(s: pd.Series | pd.DataFrame, req):
    end = req.end + (pd.Timedelta(days=1) - pd.Timedelta(microseconds=1))
    return s.loc[(s.index >= req.start) & (s.index <= end)]


# ------------------------------------------------------------------------------------------------ state
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


def clear_batch() -> None:
    """Forget the Yahoo batch of the last request."""
    _BATCH.clear()


def _live_span(req) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The range a live fetch is complete for: the request, cut at the last finished bar."""
    step = _STEP[req.freq]
    last_done = pd.Timestamp.now(tz="UTC").floor(step) - step
    return req.start, min(end_inclusive(req), last_done)


# ------------------------------------------------------------------------------------------------ sources
def live_sources(asset: Asset, req) -> tuple[str, ...]:
    """The live sources that can serve ``req`` for ``asset``, in preference order (see the module docstring),
    among those ``CAPFLOW_LIVE_SOURCES`` allows."""
    allowed = config.live_sources()
    return tuple(s for s in _candidates(asset, req) if s in allowed)


def _candidates(asset: Asset, req) -> tuple[str, ...]:
    if not asset.is_crypto:
        return ("yahoo",) if req.freq == "1d" else ()
    if req.field == "market_cap":
        return ("coingecko",) if req.freq in ("1d", "1h") else ()
    out = []
    if req.freq in ("1d", "1h", "4h") and (asset.binance_spot or asset.binance_perp):
        out.append("binance")
    if req.freq in ("1d", "1h"):
        out.append("coingecko")
    if req.freq == "1d" and asset.yahoo_crypto:
        out.append("yahoo_crypto")
    return tuple(out)


def _binance(asset: Asset, req) -> pd.DataFrame:
    from capflow.data import binance

    frame = binance.BinanceClient().klines(asset, req.start, end_inclusive(req), freq=req.freq)
    return frame[[c for c in ("price", "open", "high", "low", "close", "volume", "source") if c in frame.columns]]


def _coingecko(asset: Asset, req) -> pd.DataFrame:
    from capflow.data import coingecko

    frame = coingecko.CoinGeckoClient().history(asset.coingecko_id, req.start, end_inclusive(req), freq=req.freq)
    frame = frame[["price", "market_cap", "volume"]].astype(float)
    frame["source"] = pd.array(["coingecko"] * len(frame), dtype="string")
    return frame


def _yahoo_crypto(asset: Asset, req) -> pd.DataFrame:
    from capflow.data import yahoo

    return yahoo.crypto_history([asset.id], req.start, req.end)[asset.id]


def _yahoo_frame(raw: pd.DataFrame) -> pd.DataFrame:
    frame = raw[[c for c in ("open", "high", "low", "close", "adj_close", "volume") if c in raw.columns]].astype(float)
    frame.insert(0, "price", frame["adj_close"])
    frame["source"] = pd.array(["yahoo"] * len(frame), dtype="string")
    return frame


def _yahoo(asset: Asset, req) -> pd.DataFrame:
    hit = _BATCH.get(asset.yahoo)
    if isinstance(hit, Exception):
        raise hit
    if hit is None:
        from capflow.data import yahoo

        hit = yahoo.download([asset.yahoo], req.start, req.end, interval="1d")[asset.yahoo]
    return _yahoo_frame(hit)


FETCHERS: dict[str, Callable[[Asset, object], pd.DataFrame]] = {
    "binance": _binance, "coingecko": _coingecko, "yahoo_crypto": _yahoo_crypto, "yahoo": _yahoo}


def prefetch_yahoo(req, order: tuple[str, ...], cached: Callable[[Asset], bool]) -> None:
    """Download every equity of a request that will need the live layer in one Yahoo batch (kept in ``_BATCH``).

    ``cached(asset)`` tells whether the cache already covers an asset (skipped when the cache comes first). A
    batch failure other than a network error leaves ``_BATCH`` empty: each asset is then tried on its own.
    """
    _BATCH.clear()
    if "live" not in order or req.freq != "1d" or offline_reason():
        return
    need = [a for a in req.assets if not a.is_crypto]
    if "cache" in order[:order.index("live")]:
        need = [a for a in need if not cached(a)]
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


# ------------------------------------------------------------------------------------------------ coverage
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


def _cache_write(source: str, asset: Asset, req, frame: pd.DataFrame) -> None:
    spans = covered_spans(asset, req, frame.index)
    try:
        if not spans:  # nothing complete: the rows are kept, no range is marked covered
            if len(frame):
                cache.write(source, asset.id, req.freq, frame, span=None, record_span=False)
            return
        for k, span in enumerate(spans):
            cache.write(source, asset.id, req.freq, frame if k == 0 else frame.iloc[:0], span=span)
    except OSError as exc:
        log.warning("could not write the cache for %s: %s", asset.id, exc)


# ------------------------------------------------------------------------------------------------ the layer
def _fetch(source: str, asset: Asset, req) -> pd.DataFrame:
    """One source's answer, UTC-indexed, validated and merged into its cache."""
    frame = FETCHERS[source](asset, req)
    frame.index = pd.DatetimeIndex(frame.index).tz_convert("UTC") if pd.DatetimeIndex(frame.index).tz is not None \
        else pd.DatetimeIndex(frame.index).tz_localize("UTC")
    frame.index.name = cache.INDEX_COL
    frame = check_values(frame, source, asset.id)
    _cache_write(source, asset, req, frame)
    return frame


def live_range(asset: Asset, req) -> pd.DataFrame:
    """Live rows ``[value, source]`` of one asset clipped to the request, from the first source that serves them.

    Raises
    ------
    LiveOffline
        Offline mode, or the network is unreachable (remembered for the rest of the process).
    LayerUnavailable
        Every live source failed; the message gives each one's reason.
    """
    from capflow.data import errors
    from capflow.data.resolve import _as_long

    reason = offline_reason()
    if reason:
        raise LiveOffline(reason)
    sources = live_sources(asset, req)
    if not sources:
        raise LayerUnavailable(f"no live source serves {asset.symbol} {req.field} at {req.freq}")
    reasons = []
    for source in sources:
        try:
            frame = _fetch(source, asset, req)
            long = _clip(_as_long(frame, asset, req.field), req)
        except errors.NetworkError as exc:
            _mark_network_down(exc)
            raise LiveOffline(_NETWORK_DOWN) from exc
        except (errors.SourceError, InvalidDataError, LayerUnavailable, ValueError) as exc:
            msg = str(exc)
            reasons.append(msg if msg.lower().startswith(source.split("_")[0]) else f"{source}: {msg}")
            continue
        if long.empty:
            reasons.append(f"{source} returned no {req.field} for {asset.symbol} in {req.start.date()}.."
                           f"{req.end.date()}")
            continue
        return long
    raise LayerUnavailable("; ".join(reasons))
