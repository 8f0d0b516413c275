"""Formatting numbers for people: signed percentages, p-values, dollars with units, dates, integers.

One place decides how every number a report shows is written, so tables and prose agree ("-14.0%" in the text is
"-14.0%" in the table). Bottom layer: pure functions on scalars and columns, numpy and pandas only.

Kinds (:data:`KINDS`) name a column's format in :class:`capflow.studies.base.Table`:

=========  ====================================  ===================
kind       meaning                               example
=========  ====================================  ===================
pct        a fraction as a signed percentage     ``-14.0%``
pct_plain  a fraction as an unsigned percentage  ``37.5%``
pct2       signed percentage, two decimals       ``+0.42%``
pct3       signed percentage, three decimals     ``+0.010%`` (funding rates)
p          a p-value                             ``0.012``, ``<0.001``
stat       a test statistic                      ``-2.31``
num        a plain number, two decimals          ``1.82``
num3       three decimals                        ``0.049``
int        an integer with thousands separators  ``1,204``
usd        dollars with a unit                   ``$2.6B``, ``$950M``
price      a price                               ``62,909.86``
date       a date                                ``2026-02-05``
datetime   a UTC time to the minute              ``2026-02-05 21:00 UTC``
hours      a duration in hours                   ``47 h``
text       as it is (escaped when shown)
=========  ====================================  ===================
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd

MISSING = "–"


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def pct(x: Any, digits: int = 1, signed: bool = True) -> str:
    """A fraction as a percentage: ``pct(-0.1402) == "-14.0%"``; missing values as an en dash."""
    v = _num(x)
    if v is None:
        return MISSING
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if round(100 * v, digits) == 0:  # never "-0.00%" or "+0.0%"
        return f"{0:.{digits}f}%"
    return f"{100 * v:+,.{digits}f}%" if signed else f"{100 * v:,.{digits}f}%"


def pval(p: Any) -> str:
    """A p-value: three decimals, ``<0.001`` below that (never ``0.000``)."""
    v = _num(p)
    if v is None:
        return MISSING
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def number(x: Any, digits: int = 2, signed: bool = False) -> str:
    """A plain number with thousands separators."""
    v = _num(x)
    if v is None:
        return MISSING
    return f"{v:+,.{digits}f}" if signed else f"{v:,.{digits}f}"


def integer(x: Any) -> str:
    """An integer with thousands separators (rounded)."""
    v = _num(x)
    return MISSING if v is None else f"{int(round(v)):,}"


def usd(x: Any, digits: int = 1) -> str:
    """Dollars with a unit: ``$2.6B``, ``$950M``, ``$12.3K``, ``$1.2T``."""
    v = _num(x)
    if v is None:
        return MISSING
    sign, a = ("-" if v < 0 else ""), abs(v)
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if a >= size:
            return f"{sign}${a / size:,.{digits}f}{unit}"
    return f"{sign}${a:,.0f}"


def price(x: Any) -> str:
    """A price: two decimals above 1, four significant figures below."""
    v = _num(x)
    if v is None:
        return MISSING
    return f"{v:,.2f}" if abs(v) >= 1 else f"{v:.4g}"


def date(x: Any) -> str:
    """A date as ``YYYY-MM-DD``."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NaT:
        return MISSING
    try:
        return pd.Timestamp(x).strftime("%Y-%m-%d")
    except (TypeError, ValueError):
        return str(x)


def datetime_utc(x: Any) -> str:
    """A UTC time to the minute: ``2026-02-05 21:00 UTC``."""
    if x is None or x is pd.NaT or (isinstance(x, float) and math.isnan(x)):
        return MISSING
    try:
        ts = pd.Timestamp(x)
    except (TypeError, ValueError):
        return str(x)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.strftime("%Y-%m-%d %H:%M UTC")


def hours(x: Any) -> str:
    """A duration in hours: ``47 h`` (one decimal below 10 h)."""
    v = _num(x)
    if v is None:
        return MISSING
    return f"{v:.1f} h" if abs(v) < 10 and v != int(v) else f"{v:,.0f} h"


def text(x: Any) -> str:
    """A value as text (missing as an en dash)."""
    if x is None or x is pd.NaT or (isinstance(x, float) and math.isnan(x)):
        return MISSING
    return str(x)


FORMATTERS: dict[str, Callable[[Any], str]] = {
    "pct": pct, "pct_plain": lambda x: pct(x, signed=False), "pct2": lambda x: pct(x, 2),
    "pct3": lambda x: pct(x, 3), "p": pval, "stat": lambda x: number(x, 2, signed=True), "num": number, "num3": lambda x: number(x, 3),
    "int": integer, "usd": usd, "price": price, "date": date, "datetime": datetime_utc, "hours": hours,
    "text": text,
}
KINDS = tuple(FORMATTERS)
#: Kinds whose cells are right-aligned (numbers).
NUMERIC_KINDS = frozenset({"pct", "pct_plain", "pct2", "pct3", "p", "stat", "num", "num3", "int", "usd", "price", "hours"})


def column(values: pd.Series | np.ndarray | list, kind: str) -> list[str]:
    """Format every value of a column with the formatter of ``kind``.

    Raises
    ------
    ValueError
        Unknown ``kind`` (the message lists the valid ones).
    """
    if kind not in FORMATTERS:
        raise ValueError(f"format kind {kind!r} is unknown; valid: {', '.join(KINDS)}")
    f = FORMATTERS[kind]
    return [f(v) for v in (values.tolist() if hasattr(values, "tolist") else list(values))]


def guess_kind(name: str, values: pd.Series) -> str:
    """A sensible default kind for a column by its name and dtype (used where a table names no kind)."""
    low = name.lower()
    if pd.api.types.is_datetime64_any_dtype(values):
        ts = pd.DatetimeIndex(values.dropna())
        return "date" if len(ts) == 0 or ((ts - ts.normalize()) == pd.Timedelta(0)).all() else "datetime"
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "text"
    if low in ("p", "p_value", "pvalue") or low.startswith("p_") or low.endswith("_p"):
        return "p"
    if pd.api.types.is_integer_dtype(values) or low in ("n", "rows", "count") or low.startswith("n_"):
        return "int"
    if low.endswith("_usd") or low.startswith("usd"):
        return "usd"
    return "num"
