"""Resolution of a price request across layers (cache, live, snapshot), one asset at a time.

Each layer function returns ``(series, sources)`` for one asset, where ``sources`` counts rows per original
source tag, or raises :class:`LayerUnavailable` so the next layer is tried.
"""

from __future__ import annotations

import logging
from collections import Counter

import pandas as pd

from capflow.assets import Asset
from capflow.data import snapshot

log = logging.getLogger(__name__)


class LayerUnavailable(RuntimeError):
    """A layer cannot serve this asset (no cache file, offline, not in the snapshot...)."""


_DAILY_CRYPTO_FIELD = {"price": "price_usd", "close": "price_usd", "adj_close": "price_usd",
                       "market_cap": "market_cap_usd", "volume": "volume_usd"}
_EQUITY_FIELD = {"price": "adj_close", "close": "close", "adj_close": "adj_close", "open": "open", "high": "high",
                 "low": "low", "volume": "volume"}


def _clip(s: pd.Series, req) -> pd.Series:
    end = req.end + (pd.Timedelta(days=1) - pd.Timedelta(microseconds=1))
    return s.loc[(s.index >= req.start) & (s.index <= end)]


def snapshot_long(asset: Asset, req) -> pd.DataFrame:
    """All snapshot rows of one asset for the request's frequency, as ``[value, source]`` indexed by UTC time.

    Raises
    ------
    LayerUnavailable
        When the snapshot has no such asset or field at that frequency.
    """
    if asset.is_crypto:
        if req.freq == "1d":
            col = _DAILY_CRYPTO_FIELD.get(req.field)
            if col is None:
                raise LayerUnavailable(f"field {req.field!r} is not in the daily crypto snapshot")
            best = _crypto_daily_best()
            rows = best.loc[best["asset"] == asset.id, ["date", col, f"{col}_source"]]
            rows = rows.dropna(subset=[col])
            out = pd.DataFrame({"value": rows[col].to_numpy(), "source": rows[f"{col}_source"].to_numpy()},
                               index=pd.DatetimeIndex(rows["date"]))
        else:
            name = "crypto_hourly" if req.freq == "1h" else "crypto_4h"
            col = "close" if req.field == "price" else req.field
            raw = _by_asset(name, "asset").get(asset.id)
            if raw is None:
                raise LayerUnavailable(f"{asset.symbol} is not in snapshot {name}")
            raw = raw.dropna(subset=[col])
            out = pd.DataFrame({"value": raw[col].to_numpy(), "source": raw["source"].to_numpy()},
                               index=pd.DatetimeIndex(raw["timestamp_utc"]))
    else:
        if req.freq != "1d":
            raise LayerUnavailable(f"the snapshot has no {req.freq} bars for {asset.symbol}; equities are daily")
        col = _EQUITY_FIELD.get(req.field)
        if col is None:
            raise LayerUnavailable(f"field {req.field!r} does not exist for equities")
        raw = _by_asset("equity_daily", "ticker").get(asset.yahoo)
        if raw is None:
            raise LayerUnavailable(f"{asset.symbol} is not in the equity snapshot")
        raw = raw.dropna(subset=[col])
        out = pd.DataFrame({"value": raw[col].to_numpy(), "source": raw["source"].to_numpy()},
                           index=pd.DatetimeIndex(raw["date"]))
    if out.empty:
        raise LayerUnavailable(f"snapshot has no {req.field} for {asset.symbol} at {req.freq}")
    out = out[~out.index.duplicated(keep="first")].sort_index()
    return out


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


def from_snapshot(asset: Asset, req) -> tuple[pd.Series, dict[str, int]]:
    """Serve one asset from the snapshot, clipped to the request's range."""
    long = snapshot_long(asset, req)
    cov_first, cov_last = long.index[0], long.index[-1]
    long = _clip(long, req)
    if long.empty:
        from capflow.data.store import DataRequestError
        raise DataRequestError(
            f"parameter start/end: {asset.symbol} has no {req.freq} {req.field} in {req.start.date()}.."
            f"{req.end.date()}; the snapshot covers {cov_first.date()}..{cov_last.date()}")
    return long["value"].astype(float).rename(asset.id), dict(Counter(long["source"].astype(str)))


def from_cache(asset: Asset, req) -> tuple[pd.Series, dict[str, int]]:
    """Serve one asset from the parquet cache (filled in by :mod:`capflow.data.cache`)."""
    raise LayerUnavailable("cache layer not configured")


def from_live(asset: Asset, req) -> tuple[pd.Series, dict[str, int]]:
    """Serve one asset from the live APIs (CoinGecko, Yahoo)."""
    raise LayerUnavailable("live layer not configured")


LAYERS = {"cache": from_cache, "live": from_live, "snapshot": from_snapshot}


def fetch_all(req, order: tuple[str, ...], drop_missing: bool = False
              ) -> tuple[list[pd.Series], dict[str, dict], dict[str, str]]:
    """Resolve every asset of a request through the layers in ``order``.

    Parameters
    ----------
    req : capflow.data.store.Request
    order : tuple of str
        Layer names, tried in order per asset.
    drop_missing : bool
        Skip (and report) an asset that no layer can serve instead of raising.

    Returns
    -------
    (list of Series, dict, dict)
        One series per served asset, the provenance mapping for ``attrs``, and ``{asset id: reason}`` for
        dropped assets.
    """
    from capflow.data.store import DataRequestError

    frames, prov, dropped = [], {}, {}
    for asset in req.assets:
        reasons = []
        for layer in order:
            try:
                s, srcs = LAYERS[layer](asset, req)
            except LayerUnavailable as exc:
                reasons.append(f"{layer}: {exc}")
                continue
            except DataRequestError as exc:
                if not drop_missing:
                    raise
                reasons.append(str(exc))
                continue
            frames.append(s)
            prov[asset.id] = {"layer": layer, "sources": srcs, "rows": int(s.notna().sum()),
                              "first": str(s.index.min()), "last": str(s.index.max())}
            break
        else:
            msg = (f"parameter assets: no data for {asset.symbol} at freq={req.freq} field={req.field} "
                   f"({'; '.join(reasons)})")
            if not drop_missing:
                raise DataRequestError(msg)
            dropped[asset.id] = msg
    return frames, prov, dropped
