"""The study's sample: baskets, base and end dates, windows, basket membership and levels.

Frame contract: UTC DatetimeIndex (daily bars labelled by their UTC date, or exchange sessions after
:func:`capflow.returns.align`), one column per asset id or basket name. Returns are simple. Nothing here reads
data or warns: every decision is returned (late starts, uncapped days, membership cuts) for the caller's notes.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from capflow import assets as _assets
from capflow import returns as R

#: Default baskets: display name -> registry group tag (or a list of asset ids).
DEFAULT_BASKETS: dict[str, str | list[str]] = {
    "AI equities": "ai_equity", "Semis ETFs": "semis_etf", "Hyperscalers": "hyperscaler",
    "Crypto majors": "crypto_major", "AI tokens": "ai_token"}
DEFAULT_BASE = "2024-01-02"


class DivergenceError(ValueError):
    """Bad input to a divergence function (one line: parameter, what was wrong, what is valid)."""


def check_choice(name: str, value: object, valid: Sequence[str]) -> None:
    """Raise :class:`DivergenceError` when ``value`` is not one of ``valid`` (one line naming ``name``)."""
    if value not in valid:
        raise DivergenceError(f"parameter {name}={value!r} is not valid; use one of {', '.join(valid)}")


def utc(value: object, name: str) -> pd.Timestamp:
    """A date-like value as a UTC Timestamp; one-line :class:`DivergenceError` naming ``name`` otherwise."""
    try:
        return R._utc(value, name)
    except R.ReturnsError as exc:
        raise DivergenceError(str(exc)) from None


# ---------------------------------------------------------------------------------------- baskets

def resolve_baskets(baskets: Mapping[str, str | Sequence[str]], available: Iterable[str]) -> dict[str, list[str]]:
    """Members of each basket that exist in ``available`` (asset ids), in registry order.

    Raises
    ------
    DivergenceError
        When a basket is empty or none of its members has data.
    """
    avail = set(available)
    out = {}
    for name, spec in baskets.items():
        if isinstance(spec, str) and not spec.strip() or not isinstance(spec, str) and len(spec) == 0:
            raise DivergenceError(f"parameter baskets: basket {name!r} is empty; give a group tag "
                                  f"({', '.join(_assets.GROUPS)}) or a list of assets")
        members = [a for a in _assets.ids(spec) if a in avail]
        if not members:
            raise DivergenceError(f"parameter baskets: basket {name!r} is empty: none of {_assets.ids(spec)} "
                                  "has data in the loaded prices")
        out[name] = members
    return out


def basket_table(returns: pd.DataFrame, baskets: Mapping[str, list[str]],
                 caps: pd.DataFrame | None = None) -> pd.DataFrame:
    """Daily-rebalanced basket returns: ``"<name>"`` equal-weighted and ``"<name> (cap)"`` cap-weighted.

    Each row averages the members that have a return there (weights renormalised over them, see
    :func:`capflow.returns.basket_returns`): a member with no bar, or truncated, is out of the basket that row.
    A cap-weighted column exists for baskets where at least one member has a market cap in ``caps`` (crypto
    caps: sparse, the last cap known before each day is used); members without a known cap on a day are left
    out of the cap weights that day (:func:`uncapped_days` counts them).

    Returns
    -------
    DataFrame
        Same index as ``returns``, one column per basket (and cap-weighted basket).
    """
    out = {}
    for name, members in baskets.items():
        out[name] = R.basket_returns(returns[members])
        if caps is not None and caps.reindex(columns=members).notna().any().any():
            out[f"{name} (cap)"] = R.basket_returns(returns[members], weights=caps.reindex(columns=members))
    frame = pd.DataFrame(out, index=returns.index)
    frame.attrs.update({k: v for k, v in returns.attrs.items() if k.startswith("calendar")})
    return frame


def uncapped_days(returns: pd.DataFrame, caps: pd.DataFrame) -> pd.Series:
    """Per member: rows with a return but no market cap known before that row (out of the cap weights)."""
    known = R._cap_weights(returns, caps.reindex(columns=returns.columns))
    return (returns.notna() & known.isna()).sum()


def basket_membership(returns: pd.DataFrame, baskets: Mapping[str, list[str]]) -> pd.DataFrame:
    """Members with a return on each row, per basket (the equal-weighted basket's size that row).

    Returns
    -------
    DataFrame
        Same index as ``returns``, one integer column per basket name.
    """
    return pd.DataFrame({name: returns[members].notna().sum(axis=1) for name, members in baskets.items()})


def membership_spans(size: pd.Series) -> pd.DataFrame:
    """Runs of constant basket size: ``start``, ``end`` (first and last row of the run), ``rows``, ``members``.

    Parameters
    ----------
    size : Series
        One column of :func:`basket_membership` (UTC DatetimeIndex).
    """
    run = size.ne(size.shift()).cumsum()
    ts = size.index.to_series()
    out = pd.DataFrame({"start": ts.groupby(run).first(), "end": ts.groupby(run).last(),
                        "rows": size.groupby(run).size(), "members": size.groupby(run).first().astype(int)})
    return out.reset_index(drop=True)


def thin_tail(level: pd.Series, size: pd.Series, min_share: float = 0.5) -> dict | None:
    """How much of a basket's result comes from its final rows with few members (after truncations).

    Parameters
    ----------
    level : Series
        The basket's level from its base row (100 at the base), UTC index.
    size : Series
        Its :func:`basket_membership` column (same index).
    min_share : float
        A row is *thin* when fewer than ``min_share`` x the basket's largest membership are present.

    Returns
    -------
    dict or None
        None when the last row is not thin; else ``last_full`` (last row before the thin tail), ``rows`` (thin
        rows at the end), ``members`` (at the last row), ``cum_return_full`` (from the first row to
        ``last_full``) and ``tail_return`` (over the thin tail).
    """
    full = size >= min_share * size.max()
    if full.iloc[-1] or not full.any():
        return None
    last_full = full[full].index[-1]
    lv = level.ffill()
    return {"last_full": last_full, "rows": int((size.index > last_full).sum()), "members": int(size.iloc[-1]),
            "cum_return_full": float(lv.loc[last_full] / lv.iloc[0] - 1.0),
            "tail_return": float(lv.iloc[-1] / lv.loc[last_full] - 1.0)}


def membership_end(size: pd.DataFrame, min_share: float) -> pd.Timestamp | None:
    """Last row at which every basket has at least ``min_share`` x its largest membership.

    Parameters
    ----------
    size : DataFrame
        :func:`basket_membership` (UTC DatetimeIndex, one integer column per basket).
    min_share : float
        In (0, 1].

    Returns
    -------
    Timestamp or None
        That row's label (None: no row qualifies). A row where a basket has no member at all, before the
        basket's last row with members, is a non-session for it (equities on weekends under ``crypto_clock``)
        and does not count against it; trailing member-less rows (every member gone) do.
    """
    s = size.to_numpy()
    n = len(s)
    present = s > 0
    last = np.where(present.any(axis=0), n - 1 - np.argmax(present[::-1], axis=0), -1)
    gap = ~present & (np.arange(n)[:, None] < last[None, :])
    ok = ((s >= min_share * s.max(axis=0, initial=0)) | gap).all(axis=1)
    return size.index[np.flatnonzero(ok)[-1]] if ok.any() else None


def membership_cut(returns: pd.DataFrame, members: Mapping[str, list[str]], base: pd.Timestamp,
                   end: pd.Timestamp, share: float | None) -> tuple[pd.Timestamp, list[str]] | None:
    """``(new end, baskets thin at end)`` when ``min_basket_share=share`` cuts the end before ``end``; else None."""
    if share is None:
        return None
    size = basket_membership(returns, members)
    cut = membership_end(size, share)
    if cut is None or cut >= end or cut <= base:
        return None
    thin = size.columns[size.iloc[-1] < share * size.max()].tolist()
    return cut, thin


def basket_exits(truncated: Mapping[str, pd.Timestamp], members: Iterable[str]) -> dict[pd.Timestamp, list[str]]:
    """Truncation dates of a basket's members: ``{last date kept: [asset ids]}``, in date order."""
    members = list(members)
    ser = pd.Series({a: d for a, d in truncated.items() if a in members}, dtype=object)
    return {pd.Timestamp(d): list(g.index) for d, g in ser.groupby(ser)} if len(ser) else {}


# ---------------------------------------------------------------------------------------- dates and windows

def first_prices(prices: pd.DataFrame) -> pd.Series:
    """First observed timestamp of each column (NaT for an empty column)."""
    return prices.apply(lambda c: c.first_valid_index()).astype("datetime64[ns, UTC]")


def last_prices(prices: pd.DataFrame) -> pd.Series:
    """Last observed timestamp of each column (NaT for an empty column)."""
    return prices.apply(lambda c: c.last_valid_index()).astype("datetime64[ns, UTC]")


def start_dates(prices: pd.DataFrame, base: object, late_start: str = "own_start") -> pd.Series:
    """Start date of each asset's cumulative return: ``base``, or its first price when that is later.

    Parameters
    ----------
    prices : DataFrame
        Prices (UTC DatetimeIndex, one column per asset), loaded from on or before ``base``.
    base : date-like
        Base date.
    late_start : {"raise", "own_start"}
        An asset whose first price is after ``base``: raise, or start it at its own first price (the caller
        notes the assets for which ``start > base``).
    """
    check_choice("late_start", late_start, ("raise", "own_start"))
    b = utc(base, "base_date")
    first = first_prices(prices)
    late = first[first.isna() | (first > b)]
    if len(late) and late_start == "raise":
        a, d = late.index[0], late.iloc[0]
        raise DivergenceError(f"parameter base_date={b.date()} is before the first price of {a} "
                              f"(first {'none' if pd.isna(d) else d.date()}); use a later base_date, drop the "
                              "asset, or late_start='own_start'")
    return first.where(first > b, b)


def default_end(prices: pd.DataFrame) -> pd.Timestamp:
    """The latest date all columns share: the minimum over columns of their last observed timestamp."""
    return last_prices(prices).min()


def check_windows(windows: Iterable[int], n_rows: int) -> list[int]:
    """Validate rolling windows against the sample length (``3 <= w <= n_rows``)."""
    ws = [int(w) for w in windows]
    if not ws:
        raise DivergenceError("parameter windows is empty; give e.g. [30, 90, 180]")
    for w in ws:
        if w > n_rows:
            raise DivergenceError(f"parameter windows: {w} is longer than the sample ({n_rows} rows); "
                                  f"use windows between 3 and {n_rows}")
        if w < 3:
            raise DivergenceError(f"parameter windows: {w} is too short; use windows of at least 3 rows")
    return ws


def levels(returns: pd.DataFrame, base: object, start: float = 100.0) -> pd.DataFrame:
    """Performance indexed to ``start`` at ``base`` (``start * (1 + cumulative return)``)."""
    return start * (1.0 + R.cumulative_returns(returns, base=base))


def levels_to_last(returns: pd.DataFrame, base: pd.Timestamp) -> pd.DataFrame:
    """:func:`levels` masked after each column's last return (a truncated series' line stops, not flat)."""
    lvl = levels(returns, base)
    last = returns.apply(lambda c: c.last_valid_index()).reindex(lvl.columns)
    ns = last.fillna(lvl.index[-1]).map(lambda t: pd.Timestamp(t).value).to_numpy()
    return lvl.mask(lvl.index.asi8[:, None] > ns[None, :])
