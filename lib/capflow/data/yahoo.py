"""Yahoo Finance daily bars on yfinance, with nothing hidden.

Entry point: ``download(tickers, start, end, interval="1d") -> {ticker: DataFrame}``.

What this wrapper guarantees over a bare ``yf.download``:

- one ``yf.download`` call for all tickers (``group_by="ticker"``, split per ticker here; a single ticker uses
  ``multi_level_index=False``), ``progress=False``, a bounded thread count;
- ``auto_adjust=False`` explicitly, so both ``close`` (split-adjusted) and ``adj_close`` (split- and
  dividend-adjusted, the one to compute returns from) are kept;
- ``end`` is inclusive here: yfinance's ``end`` is exclusive, so it is passed as ``end + 1 day``;
- errors are not swallowed: yfinance 1.x records per-ticker failures in a per-call context and only logs them
  (older versions put them in ``yf.shared._ERRORS``); both are checked and turned into typed errors
  (:mod:`capflow.data.errors`), and every requested ticker must come back with rows, else
  :class:`EmptyTickerError` names the empty ones.

Index contract: daily bars are indexed by the exchange **session date** as midnight UTC (``2024-03-01 00:00Z``
is the 2024-03-01 session, whatever the exchange's time zone), matching the snapshot's ``equity_daily.csv``.
Intraday intervals keep their bar-open instant, converted to UTC.

Crypto: ``crypto_history(assets, start, end)`` reads Yahoo's crypto tickers (``BTC-USD``, ``TAO22974-USD``: the
registry's ``yahoo_crypto``) as a daily fallback in the layout of :mod:`capflow.data.binance`: Yahoo's crypto
days are UTC days, so the row labelled D is the close of UTC day D, as in the snapshot; ``volume`` is in USD.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Iterable

import pandas as pd

from capflow.calendars import utc_timestamp
from capflow.data.errors import EmptyTickerError, NetworkError, RateLimitedError, SourceResponseError

log = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "adj_close", "volume")
_RENAME = {"open": "open", "high": "high", "low": "low", "close": "close", "adj close": "adj_close",
           "adj_close": "adj_close", "adjclose": "adj_close", "volume": "volume"}
_DAILY = {"1d", "5d", "1wk", "1mo", "3mo"}
_NETWORK_RE = re.compile(r"connection|timed? ?out|resolve|unreachable|network|curl: \(\d+\)|ssl", re.I)
_RATE_RE = re.compile(r"rate ?limit|too many requests|429", re.I)
_ERR_LINE_RE = re.compile(r"^\[(?P<syms>[^\]]*)\]: (?P<msg>.*)$", re.S)


class _ErrorCapture(logging.Handler):
    """Collect the per-ticker error lines yfinance logs (``['NVDA', 'AMD']: message``) during one call."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.errors: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        m = _ERR_LINE_RE.match(record.getMessage().strip())
        if m:
            for sym in re.findall(r"'([^']+)'", m.group("syms")):
                self.errors[sym.upper()] = m.group("msg").strip()


def _tickers(tickers: str | Iterable[str]) -> list[str]:
    """Validate and de-duplicate tickers, keeping order."""
    items = [tickers] if isinstance(tickers, str) else list(tickers)
    bad = [t for t in items if not isinstance(t, str) or not t.strip()]
    if not items or bad:
        raise ValueError(f"tickers={tickers!r} is invalid; give a non-empty list of Yahoo symbols such as ['NVDA']")
    return list(dict.fromkeys(t.strip() for t in items))


def _dates(start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    out = []
    for name, value in (("start", start), ("end", end)):
        out.append(utc_timestamp(value, name).tz_localize(None).normalize())
    if out[1] < out[0]:
        raise ValueError(f"end={end!r} is before start={start!r}; give start <= end")
    return out[0], out[1]


def _errors_from_shared(tickers: list[str]) -> dict[str, str]:
    """Return errors yfinance < 1.x left in ``yf.shared._ERRORS`` for these tickers."""
    try:
        from yfinance import shared
    except ImportError:  # pragma: no cover - yfinance is a pinned dependency
        return {}
    errs = dict(getattr(shared, "_ERRORS", {}) or {})
    wanted = {t.upper() for t in tickers}
    return {str(k).upper(): str(v) for k, v in errs.items() if str(k).upper() in wanted}


def _call(downloader: Callable[..., Any], tickers: list[str], start: pd.Timestamp, end: pd.Timestamp,
          interval: str, auto_adjust: bool, session: Any, timeout: float) -> tuple[Any, dict[str, str]]:
    """Call the downloader once for all tickers; return (frame, per-ticker errors seen)."""
    single = len(tickers) == 1
    kwargs = dict(start=start.strftime("%Y-%m-%d"), end=(end + pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
                  interval=interval, auto_adjust=auto_adjust, actions=False, progress=False,
                  threads=False if single else min(len(tickers), 4), group_by="column" if single else "ticker",
                  multi_level_index=not single, timeout=timeout)
    if session is not None:
        kwargs["session"] = session
    capture, yf_log = _ErrorCapture(), logging.getLogger("yfinance")
    yf_log.addHandler(capture)
    try:
        frame = downloader(tickers if not single else tickers[0], **kwargs)
    finally:
        yf_log.removeHandler(capture)
    errors = {**_errors_from_shared(tickers), **capture.errors}
    return frame, errors


def _split(frame: Any, tickers: list[str]) -> dict[str, pd.DataFrame]:
    """Split the downloader's frame into one raw frame per requested ticker (missing ones empty)."""
    if frame is None or not isinstance(frame, pd.DataFrame):
        return {t: pd.DataFrame() for t in tickers}
    if not isinstance(frame.columns, pd.MultiIndex):
        if len(tickers) > 1:
            raise SourceResponseError(f"yahoo: expected one column group per ticker for {tickers}, got flat "
                                      f"columns {list(frame.columns)[:6]}; report this yfinance change",
                                      source="yahoo", asset=",".join(tickers))
        return {tickers[0]: frame}
    lvl = next((i for i in range(frame.columns.nlevels)
                if {str(v).upper() for v in frame.columns.get_level_values(i)} & {t.upper() for t in tickers}), 0)
    present = {str(v).upper(): v for v in frame.columns.get_level_values(lvl).unique()}
    return {t: frame.xs(present[t.upper()], axis=1, level=lvl) if t.upper() in present else pd.DataFrame()
            for t in tickers}


def tidy(raw: pd.DataFrame, interval: str = "1d") -> pd.DataFrame:
    """Rename yfinance columns and put the index in UTC.

    Returns
    -------
    pandas.DataFrame
        Indexed by UTC timestamp ``date`` (daily intervals: the session date at midnight UTC), columns open,
        high, low, close, adj_close, volume (float; a column yfinance did not give is all NaN), rows with no
        value at all dropped, sorted, unique.
    """
    out = raw.rename(columns=lambda c: _RENAME.get(str(c).strip().lower(), str(c).strip().lower()))
    out = out.loc[:, ~out.columns.duplicated()].reindex(columns=list(COLUMNS)).astype(float)
    idx = pd.DatetimeIndex(out.index)
    if interval in _DAILY:
        idx = (idx.tz_localize(None) if idx.tz is not None else idx).normalize().tz_localize("UTC")
    else:
        idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    out.index = idx.rename("date")
    out = out.dropna(how="all").sort_index()
    return out[~out.index.duplicated(keep="last")]


def _raise_for_errors(errors: dict[str, str], frames: dict[str, pd.DataFrame]) -> None:
    """Turn yfinance's recorded per-ticker errors into one typed, one-line error."""
    if not errors:
        return
    names = sorted(errors)
    text = "; ".join(f"{t}: {errors[t]}" for t in names)[:400].replace("\n", " ")
    asset = ",".join(names)
    if any(_RATE_RE.search(m) for m in errors.values()):
        raise RateLimitedError(f"yahoo: rate limited for {names} ({text}); wait a few minutes and retry",
                               source="yahoo", asset=asset)
    if any(_NETWORK_RE.search(m) for m in errors.values()):
        raise NetworkError(f"yahoo: network failure for {names} ({text}); check the connection or set "
                           "CAPFLOW_OFFLINE=1 to use cache and snapshot", source="yahoo", asset=asset)
    empty = [t for t in frames if frames[t].empty and t.upper() in errors]
    if empty:
        raise EmptyTickerError(f"yahoo: no rows for {empty} ({text}); check the symbols (Yahoo spelling, e.g. "
                               "'000660.KS', '^GSPC') and the date range", tickers=empty)
    raise SourceResponseError(f"yahoo: yfinance reported errors for {names} ({text}); retry or check the symbols",
                              source="yahoo", asset=asset)


def download(tickers: str | Iterable[str], start: Any, end: Any, interval: str = "1d", auto_adjust: bool = False,
             session: Any = None, downloader: Callable[..., Any] | None = None,
             timeout: float = 30.0) -> dict[str, pd.DataFrame]:
    """Download bars for many Yahoo tickers in one call, raising on any failure.

    Parameters
    ----------
    tickers : list of str
        Yahoo symbols (``NVDA``, ``000660.KS``, ``^GSPC``); duplicates are dropped.
    start, end : date-like
        Inclusive session dates (naive: as given; aware: converted to UTC first).
    interval : str
        yfinance interval (``1d`` default).
    auto_adjust : bool
        Passed explicitly to yfinance. False (default) keeps ``close`` and ``adj_close``; True makes yfinance
        adjust OHLC itself and drop ``Adj Close`` (then ``adj_close`` is NaN).
    session : optional
        HTTP session handed to yfinance.
    downloader : callable, optional
        Replacement for :func:`yfinance.download` with the same signature (tests inject fakes).
    timeout : float
        Per-request timeout in seconds.

    Returns
    -------
    dict of str to pandas.DataFrame
        One frame per requested ticker (keys as given), indexed by UTC ``date`` (daily: session date at
        midnight UTC), columns open, high, low, close, adj_close, volume, rows ``start..end`` only, non-empty;
        ``attrs`` has source, ticker, interval, auto_adjust.

    Raises
    ------
    EmptyTickerError
        A ticker came back with no rows (message names all such tickers).
    NetworkError, RateLimitedError, SourceResponseError
        yfinance recorded a failure or the answer has an unexpected shape.
    """
    names = _tickers(tickers)
    lo, hi = _dates(start, end)
    if downloader is None:
        import yfinance as yf
        downloader = yf.download
    frame, errors = _call(downloader, names, lo, hi, interval, auto_adjust, session, timeout)
    frames = {t: tidy(raw, interval) if not raw.empty else pd.DataFrame(columns=list(COLUMNS))
              for t, raw in _split(frame, names).items()}
    end_excl = hi + pd.Timedelta(days=1)
    frames = {t: f.loc[(f.index >= lo.tz_localize("UTC")) & (f.index < end_excl.tz_localize("UTC"))].copy()
              if not f.empty else f for t, f in frames.items()}
    _raise_for_errors(errors, frames)
    empty = [t for t, f in frames.items() if f.empty]
    if empty:
        raise EmptyTickerError(f"yahoo: no rows for {empty} between {lo:%Y-%m-%d} and {hi:%Y-%m-%d}; check the "
                               "symbols (Yahoo spelling, e.g. '000660.KS', '^GSPC') and the date range",
                               tickers=empty)
    for t, f in frames.items():
        f.attrs = {"source": "yahoo", "ticker": t, "interval": interval, "auto_adjust": auto_adjust}
    return frames


CRYPTO_COLUMNS: tuple[str, ...] = ("price", "open", "high", "low", "close", "volume", "source")


def _crypto_tickers(assets: str | Iterable[Any]) -> dict[str, str]:
    """``{key: Yahoo ticker}``: registry assets by id (their ``yahoo_crypto``), raw ``XXX-USD`` tickers as given."""
    from capflow import assets as registry

    items = [a.strip() for a in assets.split(",")] if isinstance(assets, str) else list(assets)
    out: dict[str, str] = {}
    for item in items:
        try:
            a = registry.resolve(item)
        except registry.UnknownAssetError:
            if isinstance(item, str) and re.fullmatch(r"[A-Z0-9]{1,15}-USD", item.strip().upper()):
                out[item.strip().upper()] = item.strip().upper()
                continue
            raise
        if not a.yahoo_crypto:
            valid = ", ".join(x.symbol for x in registry.REGISTRY if x.yahoo_crypto)
            raise ValueError(f"parameter assets: {a.symbol} has no confirmed Yahoo crypto ticker; valid: {valid} "
                             "(or pass a ticker such as 'BTC-USD')")
        out[a.id] = a.yahoo_crypto
    if not out:
        raise ValueError(f"parameter assets={assets!r} is empty; give crypto assets such as 'BTC,TAO'")
    return out


def crypto_history(assets: str | Iterable[Any], start: Any, end: Any, session: Any = None,
                   downloader: Callable[..., Any] | None = None, timeout: float = 30.0) -> dict[str, pd.DataFrame]:
    """Daily USD bars of crypto assets from Yahoo's crypto tickers, in the Binance frame layout.

    Parameters
    ----------
    assets : str or iterable
        Registry assets (``"BTC,TAO"``, ``bittensor``) or Yahoo crypto tickers (``"BTC-USD"``).
    start, end : date-like
        Inclusive UTC dates.
    session, downloader, timeout :
        As in :func:`download` (tests inject a fake downloader).

    Returns
    -------
    dict of str to DataFrame
        Keyed by asset id (raw tickers: by ticker). Index ``timestamp`` (UTC midnight of the day = close of that
        UTC day), columns price (= close), open, high, low, close, volume (USD), source (``yahoo``); ``attrs``:
        source, asset, ticker, freq.

    Raises
    ------
    ValueError
        An asset without a confirmed Yahoo crypto ticker (the message lists the valid ones).
    EmptyTickerError, NetworkError, RateLimitedError, SourceResponseError
        As :func:`download`.
    """
    wanted = _crypto_tickers(assets)
    raw = download(list(wanted.values()), start, end, interval="1d", session=session, downloader=downloader,
                   timeout=timeout)
    out = {}
    for key, ticker in wanted.items():
        f = raw[ticker]
        frame = pd.DataFrame({"price": f["close"], "open": f["open"], "high": f["high"], "low": f["low"],
                              "close": f["close"], "volume": f["volume"], "source": "yahoo"}, index=f.index)
        frame.index.name = "timestamp"
        frame.attrs = {"source": "yahoo", "asset": key, "ticker": ticker, "freq": "1d"}
        out[key] = frame[list(CRYPTO_COLUMNS)]
    return out


__all__ = ["download", "tidy", "crypto_history", "COLUMNS", "CRYPTO_COLUMNS"]
