"""Typed errors raised by the live data sources (:mod:`capflow.data.coingecko`, :mod:`capflow.data.yahoo`).

Every error is a :class:`SourceError`, so a caller that falls back to another layer (cache, snapshot) can
catch one class. Messages are one line: which source, which asset, what went wrong, what to do. They never
contain an API key.

Hierarchy
---------
SourceError (RuntimeError)
    NetworkError          the source could not be reached (connection refused, DNS, timeout).
    RateLimitedError      HTTP 429 persisted after the bounded retries.
    ServerError           HTTP 5xx persisted after the bounded retries.
    PlanHistoryLimitError the plan does not serve the asked dates (CoinGecko error_code 10012).
    UnknownCoinError      the source does not know the id (also a ValueError: bad input).
    EmptyTickerError      a ticker came back with no rows (also a ValueError: bad input or no data).
    SourceResponseError   any other error response or an unparseable body.
"""

from __future__ import annotations

from typing import Sequence


class SourceError(RuntimeError):
    """A live data source failed; the message says which source and asset and what to do.

    Attributes
    ----------
    source : str
        ``"coingecko"`` or ``"yahoo"``.
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
    """HTTP 429 persisted after the bounded retries.

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


__all__ = ["SourceError", "NetworkError", "RateLimitedError", "ServerError", "PlanHistoryLimitError",
           "UnknownCoinError", "EmptyTickerError", "SourceResponseError"]
