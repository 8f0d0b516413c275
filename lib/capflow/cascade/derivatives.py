"""Derivatives context around an event: funding, open interest, liquidations (with notes on every gap)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from capflow import assets as _assets

log = logging.getLogger(__name__)
from capflow.cascade._base import CascadeError, _ts

_DERIV_FIELDS = {"funding_rate": "funding rates", "open_interest_usd": "open interest",
                 "long_liquidations_usd": "liquidation totals"}


@dataclass
class DerivativesContext:
    """Funding, open interest and liquidations around an event, as far as the snapshot has them.

    Attributes
    ----------
    data : DataFrame
        Long rows of ``crypto_derivatives`` in the window (``timestamp_utc, asset, funding_rate,
        open_interest_usd, long_liquidations_usd, short_liquidations_usd, source``).
    summary : DataFrame
        One row per (asset, source): mean funding before and on the event day, open interest before the event
        and its lowest value after (change in %), long and short liquidations on the event day and in the window.
    notes : list of str
        One note per (asset, quantity) the snapshot does not have in the window, plus source caveats.
    """

    data: pd.DataFrame
    summary: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _deriv_summary(data: pd.DataFrame, t0: pd.Timestamp) -> pd.DataFrame:
    pre, day = data["timestamp_utc"] < t0, data["timestamp_utc"].between(t0, t0 + pd.Timedelta("1D"),
                                                                           inclusive="left")
    post = data["timestamp_utc"] >= t0
    g = data.assign(pre_f=data["funding_rate"].where(pre), day_f=data["funding_rate"].where(day),
                    oi_post=data["open_interest_usd"].where(post),
                    oi_pre=data["open_interest_usd"].where(pre),
                    long_day=data["long_liquidations_usd"].where(day),
                    short_day=data["short_liquidations_usd"].where(day)).groupby(["asset", "source"])
    out = pd.DataFrame({"funding_pre_mean": g["pre_f"].mean(), "funding_event_day_mean": g["day_f"].mean(),
                        "oi_pre_usd": g["oi_pre"].last(), "oi_post_min_usd": g["oi_post"].min(),
                        "long_liq_event_day_usd": g["long_day"].sum(min_count=1),
                        "short_liq_event_day_usd": g["short_day"].sum(min_count=1),
                        "long_liq_window_usd": g["long_liquidations_usd"].sum(min_count=1),
                        "short_liq_window_usd": g["short_liquidations_usd"].sum(min_count=1)})
    out["oi_change_pct"] = 100 * (out["oi_post_min_usd"] / out["oi_pre_usd"] - 1)
    return out.reset_index()


def _live_rows(ids: list[str], have: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
               notes: list[str]) -> pd.DataFrame:
    """Funding and open interest from Binance's public dumps for the assets the snapshot lacks (online only)."""
    from capflow.data import binance, errors, live

    if live.offline_reason():
        return pd.DataFrame()
    lacking = [a for a in ids if a not in set(have.loc[have["funding_rate"].notna(), "asset"])
               and _assets.resolve(a).binance_perp]
    rows = []
    client = binance.BinanceClient()
    for a in lacking:
        try:
            rows.append(client.derivatives(a, start, end - pd.Timedelta(seconds=1)))
        except errors.NetworkError as exc:
            notes.append(f"Binance derivatives not fetched (network: {exc})")
            break
        except (errors.SourceError, ValueError) as exc:
            notes.append(f"Binance derivatives for {_assets.symbol(a)}: {exc}")
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def derivatives_context(date: object, assets: str | Iterable[str] = "crypto_major",
                        window: int | tuple[int, int] = 3, root: Path | None = None,
                        live: bool = True) -> DerivativesContext:
    """Derivatives data around an event date from the snapshot's ``crypto_derivatives``, with notes on gaps.

    Parameters
    ----------
    date : date-like
        Event date (UTC day start) or timestamp.
    assets : str or iterable of str
        Asset ids, symbols or group tags.
    window : int or (int, int)
        Days before and after the event (``3`` means ``(-3, +3)``).
    root : Path, optional
        Snapshot folder.
    live : bool
        Online, add Binance funding and open interest (public dumps) for assets the snapshot lacks.

    Returns
    -------
    DerivativesContext
        Values only where the snapshot has them; each missing quantity is named in ``notes`` (for example "no
        liquidation totals for February 2026 in the snapshot (BTC, ETH)").
    """
    from capflow.data import snapshot

    t0 = _ts(date, "date")
    lo, hi = (-window, window) if isinstance(window, (int, np.integer)) else window
    if lo > 0 or hi < 0:
        raise CascadeError(f"parameter window={window!r} must span the event: (days before <= 0, days after >= 0)")
    ids = [a for a in _assets.ids(assets) if _assets.resolve(a).is_crypto]  # derivatives: crypto only
    raw = snapshot.read("crypto_derivatives", root)
    start, end = t0 + pd.Timedelta(days=lo), t0 + pd.Timedelta(days=hi + 1)
    data = raw.loc[raw["asset"].isin(ids) & (raw["timestamp_utc"] >= start) & (raw["timestamp_utc"] < end)]
    extra: list[str] = []
    if live:
        more = _live_rows(ids, data, start, end, extra)
        if len(more):
            data = pd.concat([data, more[data.columns]], ignore_index=True)
    data = data.sort_values(["asset", "source", "timestamp_utc"]).reset_index(drop=True)
    summary = _deriv_summary(data, t0) if len(data) else pd.DataFrame()
    return DerivativesContext(data, summary, _deriv_notes(data, ids, t0) + extra)


def _deriv_notes(data: pd.DataFrame, ids: list[str], t0: pd.Timestamp) -> list[str]:
    month = t0.strftime("%B %Y")
    notes = []
    for col, what in _DERIV_FIELDS.items():
        have = set(data.loc[data[col].notna(), "asset"])
        lacking = [_assets.symbol(a) for a in ids if a not in have]
        if lacking:
            notes.append(f"no {what} for {month} in the snapshot ({', '.join(lacking)})")
    srcs = set(data["source"].dropna())
    if "coinglass_flr" in srcs and data["long_liquidations_usd"].notna().any():
        notes.append("liquidations are CoinGlass Binance-only 4h bars (Binance's feed is throttled): they "
                     "undercount the all-exchange totals reported in the news (see the event catalog)")
    if "cz_coinm_sbq" in srcs:
        notes.append("Coinalyze open interest for BTC/ETH/SOL/BNB is Binance COIN-M inverse perps, not the larger "
                     "USDT-M books")
    return notes


