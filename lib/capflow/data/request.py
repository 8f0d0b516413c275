"""A price request: its parameters checked once, the layer order, and the errors and warnings of the data layer.

The bottom of :mod:`capflow.data`: :mod:`capflow.data.resolve` (the layers) and :mod:`capflow.data.store`
(:func:`~capflow.data.store.load_prices`) both build on it, and it imports neither.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable

import pandas as pd

from capflow import assets as _assets
from capflow import config
from capflow.calendars import utc_timestamp

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
    return Request(tuple(_assets.expand(_check_assets(assets))), s, e, freq, field)


def _check_assets(assets: object) -> str | list[str]:
    """``assets`` as given when it is a non-empty string or list of strings; else a one-line error."""
    items = assets.split(",") if isinstance(assets, str) else list(assets) if isinstance(
        assets, (list, tuple, set, frozenset)) else None
    if items is None or not all(isinstance(a, str) for a in items):
        raise DataRequestError(f"parameter assets={assets!r}: give asset names or group tags as a string "
                               "('TAO,NVDA', 'ai_token') or a list of strings")
    if not [a for a in items if a.strip()]:
        raise DataRequestError(f"parameter assets={assets!r} is empty; name at least one asset or group "
                               "(e.g. 'bitcoin', 'ai_token'; `capflow list` shows them)")
    return assets  # type: ignore[return-value]


def resolution_order(sources: Iterable[str] | None = None) -> tuple[str, ...]:
    """The layer order to use: ``sources`` checked, or :func:`capflow.config.source_order` when None."""
    if sources is None:
        return config.source_order()
    order = tuple(str(s).strip().lower() for s in sources)
    if not order or any(s not in config.VALID_SOURCES for s in order):
        raise DataRequestError(f"parameter sources={list(sources)!r} is not valid; give a non-empty order of "
                               f"{', '.join(config.VALID_SOURCES)}")
    return order


class SourceFallbackWarning(UserWarning):
    """A live source failed (rate limit, bad answer, refused region...) and a later layer served instead; the
    message says why, in one line."""


def warn_offline(what: str) -> None:
    """Emit the visible offline warning (a :class:`OfflineFallbackWarning`) naming what is used instead."""
    warnings.warn(f"capflow is offline: {what}", OfflineFallbackWarning, stacklevel=3)


def warn_fallback(symbol: str, failed: list[tuple[str, str]], layer: str) -> None:
    """One line: why the earlier layers failed for ``symbol`` and which layer served it instead."""
    why = "; ".join(f"{name} failed ({reason})" for name, reason in failed)
    warnings.warn(f"{symbol}: {why}; served from {layer}", SourceFallbackWarning, stacklevel=3)
