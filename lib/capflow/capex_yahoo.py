"""Refresh the capex catalog from yfinance: recent earnings dates and quarterly cash-flow capex.

Split from :mod:`capflow.capex` (the catalog, timing and surprises); :func:`capflow.capex.refresh_from_yahoo`
delegates here. Rows already in a curated catalog always win; every new row's ``source`` names the yfinance calls
and the fetch time.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from capflow import assets as _assets
from capflow import config
from capflow.capex import (NY_TZ, REQUIRED_COLUMNS, TIMINGS, UnknownTickerError, _resolve_asset,
                           finalize_catalog)


def _yahoo_earnings(tk: object, limit: int) -> pd.DataFrame:
    """Past release moments (UTC) and timing from ``Ticker.get_earnings_dates``."""
    ed = tk.get_earnings_dates(limit=limit)
    if ed is None or len(ed) == 0:
        return pd.DataFrame(columns=["moment", "timing"])
    idx = pd.DatetimeIndex(ed.index)
    idx = idx.tz_localize(NY_TZ) if idx.tz is None else idx.tz_convert(NY_TZ)
    local_minutes = idx.hour * 60 + idx.minute
    timing = np.where(local_minutes >= 16 * 60, "after close",
                      np.where(local_minutes < 9 * 60 + 30, "before open", "during session"))
    out = pd.DataFrame({"moment": idx.tz_convert("UTC"), "timing": timing})
    now = pd.Timestamp.now(tz="UTC")
    return out[out["moment"] <= now].sort_values("moment").reset_index(drop=True)


def _yahoo_capex(tk: object) -> pd.Series:
    """Quarterly capex (positive USD) indexed by quarter end, from ``Ticker.quarterly_cashflow``."""
    cf = tk.quarterly_cashflow
    if cf is None or len(cf) == 0 or "Capital Expenditure" not in cf.index:
        return pd.Series(dtype=float)
    s = pd.to_numeric(cf.loc["Capital Expenditure"], errors="coerce").dropna().abs()
    s.index = pd.DatetimeIndex(pd.to_datetime(s.index)).tz_localize(None).normalize()
    return s.sort_index()


def _match_quarters(ticker: str, capex: pd.Series, earnings: pd.DataFrame, fetched: str) -> pd.DataFrame:
    """Each quarter end -> the first release within 100 days after it (vectorised ``merge_asof``)."""
    if capex.empty or earnings.empty:
        return pd.DataFrame(columns=list(REQUIRED_COLUMNS))
    q = pd.DataFrame({"quarter_end": capex.index, "capex_usd": capex.to_numpy()})
    e = earnings.assign(local_date=earnings["moment"].dt.tz_convert(NY_TZ).dt.tz_localize(None).dt.normalize())
    m = pd.merge_asof(q.sort_values("quarter_end"), e.sort_values("local_date"), left_on="quarter_end",
                      right_on="local_date", direction="forward", tolerance=pd.Timedelta(days=100)).dropna(
        subset=["local_date"])
    m = m[m["timing"].isin(TIMINGS)]
    name = _assets.resolve(ticker).name
    return pd.DataFrame({
        "company": name, "ticker": ticker, "announce_date": m["local_date"].dt.strftime("%Y-%m-%d"),
        "timing": m["timing"], "fiscal_period": "quarter ended " + m["quarter_end"].dt.strftime("%Y-%m-%d"),
        "capex_usd": m["capex_usd"], "capex_definition": "yfinance quarterly_cashflow 'Capital Expenditure' "
                                                          "(purchases of PP&E, sign flipped)",
        "guidance_text": pd.NA, "guidance_low_usd": np.nan, "guidance_high_usd": np.nan,
        "source": f"yfinance Ticker({ticker}).get_earnings_dates + quarterly_cashflow, fetched {fetched}"})


def _one_ticker(asset: _assets.Asset, factory: Callable[[str], object], limit: int, fetched: str) -> pd.DataFrame:
    tk = factory(asset.yahoo or asset.id)
    return _match_quarters(asset.id, _yahoo_capex(tk), _yahoo_earnings(tk, limit), fetched)


def refresh_from_yahoo(tickers: Iterable[str] | str, catalog: pd.DataFrame | None = None, limit: int = 12,
                       ticker_factory: Callable[[str], object] | None = None) -> pd.DataFrame:
    """Add recent quarters from yfinance (earnings dates and quarterly cash-flow capex) to a catalog.

    Rows already in ``catalog`` (same ticker and date) win: the curated catalog is never overwritten. Every new
    row's ``source`` names yfinance, the calls used and the fetch time. Releases during the session are skipped
    (the timing rules need before open / after close).

    Parameters
    ----------
    tickers : str or iterable of str
        Company tickers (``"MSFT,META"``), each a registered asset.
    catalog : DataFrame, optional
        A catalog from :func:`load_announcements` to extend; default an empty one.
    limit : int
        Number of earnings dates asked from Yahoo per ticker.
    ticker_factory : callable, optional
        ``str -> object`` with ``get_earnings_dates(limit=)`` and ``quarterly_cashflow`` (default
        ``yfinance.Ticker``; tests pass fakes).

    Returns
    -------
    DataFrame
        The merged catalog (see :func:`finalize_catalog`), ``attrs["added"]`` = number of new rows.
    """
    items = tickers.split(",") if isinstance(tickers, str) else list(tickers)
    for t in items:
        a = _resolve_asset(t, "tickers")
        if a.is_crypto:
            raise UnknownTickerError(f"parameter tickers: {t!r} is a crypto asset, not a company ticker")
    if ticker_factory is None:
        if config.offline():
            warnings.warn("capflow is offline: refresh_from_yahoo returns the catalog unchanged", UserWarning,
                          stacklevel=2)
            return catalog.copy() if catalog is not None else finalize_catalog(pd.DataFrame(
                columns=list(REQUIRED_COLUMNS)))
        import yfinance as yf

        ticker_factory = yf.Ticker
    fetched = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    new = [_one_ticker(_resolve_asset(t, "tickers"), ticker_factory, limit, fetched) for t in items]
    base = catalog[list(REQUIRED_COLUMNS)].copy() if catalog is not None else pd.DataFrame(
        columns=list(REQUIRED_COLUMNS))
    if len(base):
        base["announce_date"] = pd.to_datetime(base["announce_date"]).dt.strftime("%Y-%m-%d")
    merged = pd.concat([base, *new], ignore_index=True)
    out = finalize_catalog(merged, origin="refresh_from_yahoo")
    out.attrs["added"] = len(out) - len(base)
    return out
