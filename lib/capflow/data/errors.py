"""Typed errors raised by the live data sources (:mod:`capflow.data.coingecko`, :mod:`capflow.data.yahoo`,
:mod:`capflow.data.binance`, :mod:`capflow.data.edgar`).

Every error is a :class:`SourceError`, so a caller that falls back to another layer (cache, snapshot) can
catch one class. Messages are one line: which source, which asset, what went wrong, what to do. They never
contain an API key.

Hierarchy
---------
SourceError (RuntimeError)
    NetworkError          the source could not be reached (connection refused, DNS, timeout).
    RateLimitedError      HTTP 429/418 persisted after the bounded retries, or Retry-After exceeds the cap.
    ServerError           HTTP 5xx persisted after the bounded retries.
    PlanHistoryLimitError the plan does not serve the asked dates (CoinGecko error_code 10012).
    UnknownCoinError      the source does not know the id (also a ValueError: bad input).
    EmptyTickerError      a ticker came back with no rows (also a ValueError: bad input or no data).
    SourceResponseError   any other error response or an unparseable body.
    RegionBlockedError    the source refuses this region or network (HTTP 451, Binance's 403); try the next one.
    ChecksumMismatchError a downloaded file does not match its published checksum; it is discarded.
    NoDataError           the source holds no rows for this asset and range (before listing, delisted).
"""

from __future__ import annotations

from typing import Sequence


class SourceError(RuntimeError):
    """A live data source failed; the message says which source and asset and what to do.

    Attributes
    ----------
    source : str
        ``"coingecko"``, ``"yahoo"``, ``"binance"`` or ``"sec"``.
    asset : str or None
        The coin id or ticker(s) concerned, when known.
    """

    def __init__(self, message: str, *, source: str = "", asset: str | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.asset = asset


class NetworkError(SourceError):
    """The source could not be reached (connection down, DNS failure, timeout) after the bounded retries."""


class RateLimitedError(SourceError):
    """HTTP 429 (or Binance's 418) persisted after the bounded retries, or the server asked for a longer wait
    (``Retry-After``) than the client's cap allows; then nothing was slept.

    Attributes
    ----------
    retry_after : float or None
        Seconds the server asked to wait, when it said so.
    """

    def __init__(self, message: str, *, source: str = "", asset: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, source=source, asset=asset)
        self.retry_after = retry_after


class ServerError(SourceError):
    """The source answered HTTP 5xx after the bounded retries."""


class PlanHistoryLimitError(SourceError):
    """The API plan does not serve the requested time range (CoinGecko error_code 10012).

    Attributes
    ----------
    earliest : pandas.Timestamp or None
        The earliest UTC date the plan serves, when known.
    """

    def __init__(self, message: str, *, source: str = "", asset: str | None = None,
                 earliest: object = None) -> None:
        super().__init__(message, source=source, asset=asset)
        self.earliest = earliest


class UnknownCoinError(SourceError, ValueError):
    """The source does not know this coin id (CoinGecko: ``coin not found``)."""


class EmptyTickerError(SourceError, ValueError):
    """One or more tickers came back with no rows.

    Attributes
    ----------
    tickers : list of str
        The empty tickers.
    """

    def __init__(self, message: str, *, source: str = "yahoo", tickers: Sequence[str] = ()) -> None:
        super().__init__(message, source=source, asset=",".join(tickers) or None)
        self.tickers = list(tickers)


class SourceResponseError(SourceError):
    """The source returned an error this module does not recognise, or a body it cannot parse."""


class RegionBlockedError(SourceError):
    """The source refuses requests from this region or network (HTTP 451, or 403 from Binance's APIs).

    Not retried: the caller should move to the next source.

    Attributes
    ----------
    status : int or None
        The HTTP status received.
    url : str
        The URL refused (no query string).
    """

    def __init__(self, message: str, *, source: str = "", asset: str | None = None, status: int | None = None,
                 url: str = "") -> None:
        super().__init__(message, source=source, asset=asset)
        self.status = status
        self.url = url


class ChecksumMismatchError(SourceError):
    """A downloaded file does not match the sha256 in its published ``.CHECKSUM`` file (or that file is missing).

    The file is discarded: never parsed, cached or returned.

    Attributes
    ----------
    file : str
        URL of the refused file.
    expected, actual : str or None
        Published and computed sha256 (hex); ``expected`` is None when no checksum was published.
    """

    def __init__(self, message: str, *, source: str = "", asset: str | None = None, file: str = "",
                 expected: str | None = None, actual: str | None = None) -> None:
        super().__init__(message, source=source, asset=asset)
        self.file = file
        self.expected = expected
        self.actual = actual


class NoDataError(SourceError):
    """The source holds no rows for this asset and range (not listed yet, delisted, unknown symbol)."""


__all__ = ["SourceError", "NetworkError", "RateLimitedError", "ServerError", "PlanHistoryLimitError",
           "UnknownCoinError", "EmptyTickerError", "SourceResponseError", "RegionBlockedError",
           "ChecksumMismatchError", "NoDataError"]
