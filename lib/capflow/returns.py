"""Returns, cumulative returns, drawdowns, baskets and cross-asset calendar alignment (DESIGN.md layer 3).

Frame contract
--------------
Every frame here is indexed by a UTC :class:`~pandas.DatetimeIndex` (daily bars labelled by their UTC date, as
:func:`capflow.data.load_prices` returns them) with one column per asset id. NaN means *no bar* (an equity on a
weekend), never a zero return. Returns are simple unless a function says log.

Calendar policies
-----------------
Crypto trades 24/7 (daily bars close at 00:00 UTC); US equities trade on exchange sessions. Every cross-asset
comparison needs one explicit policy, applied by :func:`align`:

``"equity_sessions"``
    The output index is the sessions of an exchange calendar (default ``XNYS``, from ``exchange_calendars``).
    Each column's returns on the days after the previous session up to and including a session are compounded
    into that session: a crypto asset's Saturday, Sunday and Monday returns become Monday's return
    ``(1+r_sat)(1+r_sun)(1+r_mon)-1``; a holiday (2024-07-04) is compounded into the next session (07-05). An
    equity of the same exchange is unchanged; an equity of another exchange (SK Hynix on XKRX) is compounded
    the same way as crypto.
``"crypto_clock"``
    The output index is every calendar day (the 24/7 daily clock). Crypto returns are unchanged; equities keep
    their returns on their session days (a Monday return spans Friday's close to Monday's close) and are NaN
    (``equity_fill="nan"``, default) or 0 (``equity_fill="zero"``) on the other days.
``"crypto_at_equity_close"``
    The output index is the sessions of ``calendar``. Crypto is *sampled at the session close* from hourly bars
    (:func:`prices_at_session_close`: the bar whose close, open + 1 h, is at or just before the exchange close,
    16:00 New York = 20:00 UTC in summer and 21:00 UTC in winter, 13:00 on early-close days, from
    ``exchange_calendars``), and its return is close-to-close between consecutive sessions, the same instants
    as the equities' returns. Equities are as in ``equity_sessions``. Only available where hourly data exists
    (in the offline snapshot: a few weeks around the liquidation cascades); otherwise :func:`align` raises a
    one-line error naming the coverage.

:func:`event_anchor` gives the matching event-date rule: a Saturday event belongs to Monday's session for an
equity and to Saturday for a crypto asset.
"""

from __future__ import annotations

import logging
from typing import Iterable, NamedTuple

import numpy as np
import pandas as pd

from capflow import calendars as _cal
from capflow import assets as _assets

log = logging.getLogger(__name__)

POLICIES: tuple[str, ...] = ("equity_sessions", "crypto_clock", "crypto_at_equity_close")
POLICY_TEXT = {
    "equity_sessions": "equity sessions ({calendar}): crypto and off-calendar returns compounded onto each "
                       "session (weekends and holidays into the next session)",
    "crypto_clock": "crypto clock (24/7 daily, 00:00 UTC bars): equities' returns on their session days, "
                    "{fill} on other days",
    "crypto_at_equity_close": "crypto sampled at the {calendar} close from hourly bars (the bar closing at or "
                              "just before each session's close, DST-aware): crypto and equity returns both run "
                              "from one session close to the next",
}


class ReturnsError(ValueError):
    """Bad input to a returns function (one line: parameter, what was wrong, what is valid)."""


# --------------------------------------------------------------------------------------------- returns

def _check_frame(frame: pd.DataFrame | pd.Series, name: str) -> pd.DataFrame:
    from capflow.checks import check_frame

    return check_frame(frame, name, ReturnsError)


def _last_observed(prices: pd.DataFrame, max_gap: int | None) -> pd.DataFrame:
    """Previous observed value of each column at each row (NaN when the gap exceeds ``max_gap`` rows)."""
    prev = prices.ffill().shift(1)
    if max_gap is not None:
        if int(max_gap) < 1:
            raise ReturnsError(f"parameter max_gap={max_gap!r} must be a positive number of periods or None")
        pos = np.arange(len(prices), dtype=float)[:, None]
        seen = pd.DataFrame(np.where(prices.notna(), pos, np.nan), index=prices.index, columns=prices.columns)
        gap = pos - seen.ffill().shift(1).to_numpy()
        prev = prev.where(gap <= int(max_gap))
    return prev


def simple_returns(prices: pd.DataFrame | pd.Series, max_gap: int | None = None) -> pd.DataFrame:
    """Simple returns of each column over that column's own observed rows.

    Parameters
    ----------
    prices : DataFrame or Series
        UTC DatetimeIndex, one column per asset id, NaN where the asset has no bar.
    max_gap : int, optional
        Do not bridge gaps longer than this many rows of the index (the return after such a gap is NaN).
        On a 24/7 daily index a normal equity weekend spans 3 rows (Friday to Monday), a long weekend 4.
        None (default) bridges every gap.

    Returns
    -------
    DataFrame
        Same index and columns. The return at a row is ``p_t / p_prev - 1`` where ``p_prev`` is the column's
        previous observed price: an equity's Friday-to-Monday return lands on Monday. NaN where the column has
        no bar and at its first observation.
    """
    from capflow.checks import check_prices

    prices = check_prices(prices, "prices", ReturnsError).astype(float)
    prev = _last_observed(prices, max_gap)
    return (prices / prev - 1.0).where(prices.notna())


def log_returns(prices: pd.DataFrame | pd.Series, max_gap: int | None = None) -> pd.DataFrame:
    """Log returns ``log(p_t / p_prev)``; same contract as :func:`simple_returns`."""
    return np.log1p(simple_returns(prices, max_gap=max_gap))


def bar_returns(prices: pd.DataFrame | pd.Series, freq: str = "1d",
                crypto: Iterable[str] | None = None) -> pd.DataFrame:
    """Simple returns on each asset's own clock: a 24/7 asset's return always spans exactly one bar.

    A crypto column's return at ``t`` is ``p_t / p_{t - freq} - 1`` and NaN when the bar one step earlier is
    missing, so a gap in the data never turns a multi-week move into one "day" of an estimation or event
    window. Exchange-traded columns are as in :func:`simple_returns` (weekends and holidays bridged: a Monday
    return spans Friday's close to Monday's).

    Parameters
    ----------
    prices : DataFrame or Series
        UTC DatetimeIndex on the ``freq`` grid, one column per asset id, NaN where the asset has no bar.
    freq : str
        Bar length of the 24/7 clock (``"1d"`` or ``"1h"``).
    crypto : iterable of str, optional
        Columns that trade 24/7; default: the registry's crypto assets (other names need this list).

    Returns
    -------
    DataFrame
        Same index and columns as ``prices``.
    """
    from capflow.checks import check_prices

    prices = check_prices(prices, "prices", ReturnsError).astype(float)
    try:
        step = pd.Timedelta(freq)
    except ValueError:
        raise ReturnsError(f"parameter freq={freq!r} is not a bar length; valid: '1d', '1h'") from None
    is24 = [c for c in prices.columns if _is_crypto(c, crypto)]
    out = simple_returns(prices)
    if is24:
        prev = prices[is24].shift(freq=step).reindex(prices.index)
        out[is24] = (prices[is24] / prev - 1.0).where(prices[is24].notna())
    return out


def cumulative_returns(returns: pd.DataFrame | pd.Series, base: object | None = None
                       ) -> pd.DataFrame | pd.Series:
    """Compounded cumulative simple returns, optionally from a base date.

    Parameters
    ----------
    returns : DataFrame or Series
        Simple returns (UTC DatetimeIndex, one column per asset); NaN means no bar and counts as 0.
    base : date-like, optional
        Rows before ``base`` are dropped and the return *at* ``base`` is excluded, so the value at ``base`` is 0:
        ``C_t = prod_{base < s <= t} (1 + r_s) - 1``. None: every row is compounded.

    Returns
    -------
    DataFrame or Series (as given)
        Same columns, index from ``base`` on. NaN before a column's first observed return (except the base row).
    """
    orig, returns = returns, _check_frame(returns, "returns").astype(float)
    if base is not None:
        b = _utc(base, "base")
        if b > returns.index[-1]:
            raise ReturnsError(f"parameter base={b.date()} is after the last row {returns.index[-1].date()}")
        returns = returns.loc[returns.index >= b].copy()
        if len(returns) and returns.index[0] == b:
            returns.iloc[0] = 0.0
    cum = ((1.0 + returns.fillna(0.0)).cumprod() - 1.0).where(returns.notna().cummax())
    return cum.iloc[:, 0].rename(orig.name) if isinstance(orig, pd.Series) else cum


def _utc(value: object, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ReturnsError(f"parameter {name}={value!r} is not a date ({exc}); use e.g. '2024-01-02'") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


class Drawdowns(NamedTuple):
    """Result of :func:`drawdowns`: the drawdown path and its minimum (maximum drawdown, a negative number)."""

    drawdown: pd.DataFrame
    max_drawdown: pd.Series


def drawdowns(prices_or_returns: pd.DataFrame | pd.Series, kind: str = "prices") -> Drawdowns:
    """Drawdown from the running peak and the maximum drawdown of each column.

    Parameters
    ----------
    prices_or_returns : DataFrame or Series
        Prices (or wealth/index levels), or simple returns; UTC DatetimeIndex, one column per asset.
    kind : {"prices", "returns"}
        What the input holds. Returns are compounded to a wealth index starting at 1 (the start counts as a peak).

    Returns
    -------
    Drawdowns
        ``drawdown``: ``W_t / max_{s<=t} W_s - 1`` (0 at a peak, NaN before the first observation);
        ``max_drawdown``: the minimum of that path per column. Prices 100 -> 90 -> 75 give -0.25.
        A Series input gives a Series path and a float.
    """
    frame = _check_frame(prices_or_returns, "prices_or_returns").astype(float)
    if kind == "returns":
        wealth = (1.0 + frame.fillna(0.0)).cumprod().where(frame.notna().cummax())
        peak = wealth.cummax().clip(lower=1.0)
    elif kind == "prices":
        wealth = frame.ffill()
        peak = wealth.cummax()
    else:
        raise ReturnsError(f"parameter kind={kind!r} is not valid; use 'prices' or 'returns'")
    dd = wealth / peak - 1.0
    if isinstance(prices_or_returns, pd.Series):
        return Drawdowns(dd.iloc[:, 0].rename(prices_or_returns.name), dd.iloc[:, 0].min())
    return Drawdowns(dd, dd.min())


# --------------------------------------------------------------------------------------------- baskets

def _cap_weights(returns: pd.DataFrame, caps: pd.DataFrame) -> pd.DataFrame:
    """Weights from market caps known *before* each row (last known cap, forward-filled, lagged one row)."""
    missing = [c for c in returns.columns if c not in caps.columns]
    if missing:
        raise ReturnsError(f"parameter weights (market caps) lacks columns {missing}; give a cap column per member")
    caps = _check_frame(caps, "weights")[list(returns.columns)].astype(float)
    full = caps.index.union(returns.index)
    known = caps.where(caps > 0).reindex(full).ffill().shift(1)
    return known.reindex(returns.index)


def basket_returns(returns: pd.DataFrame, weights: str | pd.DataFrame = "equal", rebalance: str = "daily",
                   min_members: int = 1) -> pd.Series:
    """Returns of a basket of assets, rebalanced every row.

    Parameters
    ----------
    returns : DataFrame
        Simple returns of the members (UTC DatetimeIndex, one column per member).
    weights : "equal" or DataFrame
        ``"equal"``: equal weights. A DataFrame of market caps (any UTC dates, one column per member) gives cap
        weights: each row uses the last cap known *before* that row (sparse caps, e.g. monthly, are
        forward-filled and lagged one row so no weight uses the same day's return).
    rebalance : {"daily"}
        Rebalancing frequency: weights are reset every row (the only supported rule).
    min_members : int
        Rows with fewer available members are NaN.

    Returns
    -------
    Series
        ``sum_i w_i r_i / sum_i w_i`` over the members *available that row*: a member with no return (no bar, or
        no known cap yet) is excluded that row and the remaining weights are renormalised to sum to 1.
        NaN when fewer than ``min_members`` members are available. ``attrs["members"]`` lists the members.
    """
    returns = _check_frame(returns, "returns").astype(float)
    if returns.shape[1] == 0:
        raise ReturnsError("parameter returns has no columns: a basket needs at least one member")
    if rebalance != "daily":
        raise ReturnsError(f"parameter rebalance={rebalance!r} is not supported; use 'daily'")
    if isinstance(weights, str):
        if weights != "equal":
            raise ReturnsError(f"parameter weights={weights!r} is not valid; use 'equal' or a market-cap DataFrame")
        w = pd.DataFrame(1.0, index=returns.index, columns=returns.columns)
    else:
        w = _cap_weights(returns, weights)
    w = w.where(returns.notna() & w.notna(), 0.0)
    total = w.sum(axis=1)
    out = (returns.fillna(0.0) * w).sum(axis=1) / total.where(total > 0)
    out = out.where((w > 0).sum(axis=1) >= min_members)
    out.attrs["members"] = list(returns.columns)
    return out


# --------------------------------------------------------------------------------------------- calendars

def _calendar(code: str, start: object = None, end: object = None) -> _cal.Sessions:
    try:
        return _cal.sessions(code, start, end)
    except _cal.CalendarError as exc:
        raise ReturnsError(str(exc)) from None


def sessions(start: object, end: object, calendar: str = "XNYS") -> pd.DatetimeIndex:
    """Sessions of an exchange calendar in ``[start, end]`` as UTC-midnight timestamps (the bar labels)."""
    s, e = _utc(start, "start").normalize(), _utc(end, "end").normalize()
    return _calendar(calendar, s, e).in_range(s, e)


def _is_crypto(col: str, crypto: Iterable[str] | None) -> bool:
    if crypto is not None:
        return col in set(crypto)
    try:
        return _assets.resolve(col).is_crypto
    except KeyError:
        raise ReturnsError(f"column {col!r} is not a registry asset; pass crypto=[...] to say which columns "
                           "trade 24/7") from None


def _to_sessions(returns: pd.DataFrame, calendar: str) -> pd.DataFrame:
    """Compound every column's returns over (previous session, session] into that session."""
    days = returns.index.normalize()
    sess = sessions(days[0], days[-1] + pd.Timedelta(days=10), calendar)
    pos = sess.searchsorted(days, side="left")  # first session at/after each row
    keep = pos < len(sess)
    label = sess[pos[keep]]
    grouped = returns.loc[keep].groupby(label)
    compounded = (1.0 + returns.loc[keep]).groupby(label).prod(min_count=1) - 1.0
    single = grouped.count() == 1  # one bar in the bucket: keep it bit-for-bit
    out = compounded.mask(single, grouped.sum(min_count=1)).reindex(sess[(sess >= days[0]) & (sess <= days[-1])])
    out.index.name = returns.index.name
    return out


def session_closes(start: object, end: object, calendar: str = "XNYS") -> pd.Series:
    """Close instant (UTC) of each session of ``calendar`` in ``[start, end]`` (session dates, inclusive).

    Returns
    -------
    Series
        Indexed by the session label (00:00 UTC of the session date, as daily bars are labelled), values the
        UTC close time from ``exchange_calendars``: DST-aware (XNYS 16:00 New York is 20:00 UTC in summer,
        21:00 UTC in winter) and with early closes (13:00 New York on 2024-11-29).
    """
    s, e = _utc(start, "start").normalize(), _utc(end, "end").normalize()
    cal = _calendar(calendar, s, e)
    sess = cal.in_range(s, e)
    return pd.Series(cal.close_of(sess), index=sess.rename("timestamp"), name="close")


def _bar(value: object, name: str) -> pd.Timedelta:
    try:
        td = pd.Timedelta(value)
    except (TypeError, ValueError):
        td = pd.NaT
    if td is pd.NaT or td <= pd.Timedelta(0):
        raise ReturnsError(f"parameter {name}={value!r} is not a positive duration; use e.g. '1h'")
    return td


def prices_at_session_close(hourly: pd.DataFrame | pd.Series, calendar: str = "XNYS", bar: object = "1h",
                            tolerance: object = "1h") -> pd.DataFrame:
    """Each column's price at each session close of ``calendar``, sampled from intraday bars.

    Parameters
    ----------
    hourly : DataFrame or Series
        Intraday prices (e.g. ``load_prices(..., freq="1h")``): UTC DatetimeIndex of bar *open* times, one
        column per asset, the value being the bar's close price; NaN where a bar is missing.
    calendar : str
        exchange_calendars code (default ``XNYS``).
    bar : duration
        Bar length (``"1h"``; ``"4h"`` for 4-hour bars): a bar opened at ``t`` closes at ``t + bar``.
    tolerance : duration
        The bar used for a session is the column's last bar closing at or before the session close, and it
        must close less than ``tolerance`` before it (default 1 h: on XNYS only the bar closing exactly at the
        close, 19:00-20:00 UTC in summer, 20:00-21:00 UTC in winter; an exchange closing off the hour, XKRX
        15:30, uses the bar closing at 15:00). Otherwise the value is NaN (a missing bar is never bridged).

    Returns
    -------
    DataFrame
        Indexed by session label (00:00 UTC of the session date), one column per asset; sessions whose close
        lies between the first bar's close and the last bar's close of the frame. ``attrs["session_close"]``
        holds the close instants.
    """
    frame = _check_frame(hourly, "hourly").astype(float)
    step, tol = _bar(bar, "bar"), _bar(tolerance, "tolerance")
    if frame.dropna(how="all").empty:
        raise ReturnsError("parameter hourly has no prices; give intraday bars (load_prices(..., freq='1h'))")
    bar_close = (frame.index + step).as_unit("ns")
    closes = session_closes(bar_close[0], bar_close[-1], calendar)
    closes = closes[(closes >= bar_close[0]) & (closes <= bar_close[-1])]
    at = pd.DatetimeIndex(closes).as_unit("ns").asi8
    stamp = np.where(frame.notna(), bar_close.asi8[:, None], np.iinfo(np.int64).min)
    stamp = np.maximum.accumulate(stamp, axis=0)  # close time of each column's last observed bar so far
    value = frame.ffill().to_numpy()
    pos = np.searchsorted(bar_close.asi8, at, side="right") - 1
    age = at[:, None] - stamp[pos]
    out = pd.DataFrame(np.where(age < tol.value, value[pos], np.nan), index=closes.index, columns=frame.columns)
    out.attrs["session_close"] = closes
    return out


def session_close_returns(hourly: pd.DataFrame | pd.Series, calendar: str = "XNYS", bar: object = "1h",
                          tolerance: object = "1h") -> pd.DataFrame:
    """Simple returns between consecutive session closes of prices sampled by :func:`prices_at_session_close`.

    A session whose close price is missing gives NaN for its own return and the next one (not bridged).
    Same index (session labels) and columns as :func:`prices_at_session_close`.
    """
    return simple_returns(prices_at_session_close(hourly, calendar, bar, tolerance), max_gap=1)


def _hourly_coverage(hourly: pd.DataFrame, cols: list[str], need: tuple[pd.Timestamp, pd.Timestamp],
                     calendar: str) -> None:
    """Raise one line naming the coverage when an hourly column does not span the sessions' closes."""
    lacking = [c for c in cols if c not in hourly.columns]
    if lacking:
        raise ReturnsError(f"parameter hourly lacks columns {lacking}: policy='crypto_at_equity_close' needs "
                           "hourly prices of every crypto column (load_prices(..., freq='1h'))")
    first = hourly[cols].apply(lambda c: c.first_valid_index())
    last = hourly[cols].apply(lambda c: c.last_valid_index())
    hour = pd.Timedelta("1h")  # a bar opened at t closes at t + 1 h
    bad = [c for c in cols if pd.isna(first[c]) or first[c] + hour > need[0] or last[c] + hour < need[1]]
    if bad:
        fmt = "%Y-%m-%d %H:%M"
        cover = "; ".join(f"{c} none" if pd.isna(first[c]) else f"{c} {first[c]:{fmt}}..{last[c]:{fmt}}" for c in bad)
        raise ReturnsError(f"parameter hourly does not cover the {calendar} closes {need[0]:%Y-%m-%d %H:%M}.."
                           f"{need[1]:%Y-%m-%d %H:%M} UTC needed by policy='crypto_at_equity_close' (hourly data: "
                           f"{cover}); shorten the sample to the hourly coverage or use 'equity_sessions'")


def _crypto_at_close(returns: pd.DataFrame, hourly: pd.DataFrame | None, calendar: str,
                     crypto: Iterable[str] | None) -> pd.DataFrame:
    """``equity_sessions`` for non-crypto columns; crypto columns from hourly prices at the session closes."""
    if hourly is None:
        raise ReturnsError("parameter hourly is required for policy='crypto_at_equity_close': give hourly crypto "
                           "prices (load_prices(..., freq='1h')); they exist only where the source has hourly bars")
    out = _to_sessions(returns, calendar)
    cols = [c for c in out.columns if _is_crypto(c, crypto)]
    if cols and len(out):
        hourly = _check_frame(hourly, "hourly")
        closes = session_closes(out.index[0], out.index[-1], calendar)
        _hourly_coverage(hourly, cols, (closes.iloc[0], closes.iloc[-1]), calendar)
        out[cols] = session_close_returns(hourly[cols], calendar).reindex(out.index)
    return out


def align(returns: pd.DataFrame, policy: str = "equity_sessions", calendar: str = "XNYS",
          crypto: Iterable[str] | None = None, equity_fill: str = "nan",
          hourly: pd.DataFrame | None = None) -> pd.DataFrame:
    """Put crypto and equity returns on one clock, by an explicit calendar policy (see the module docstring).

    Parameters
    ----------
    returns : DataFrame
        Daily simple returns (UTC-midnight labels, e.g. from :func:`simple_returns` of ``load_prices``).
    policy : {"equity_sessions", "crypto_clock", "crypto_at_equity_close"}
        ``equity_sessions``: compound each column onto the sessions of ``calendar`` (weekend and holiday crypto
        returns land on the next session). ``crypto_clock``: every calendar day; equities keep session-day
        returns and are NaN/0 elsewhere. ``crypto_at_equity_close``: sessions of ``calendar``; crypto returns
        from ``hourly`` prices at the session closes (close to close), equities as in ``equity_sessions``.
    calendar : str
        exchange_calendars code for ``equity_sessions`` (default ``XNYS``).
    crypto : iterable of str, optional
        Columns that trade 24/7; default: looked up in the asset registry.
    equity_fill : {"nan", "zero"}
        ``crypto_clock`` only: value of equity columns on days without a session.
    hourly : DataFrame, optional
        ``crypto_at_equity_close`` only (required there): hourly prices of the crypto columns (bar open times,
        UTC), covering every session close of the sample; see :func:`prices_at_session_close`.

    Returns
    -------
    DataFrame
        Aligned returns; ``attrs["calendar_policy"]`` (the policy name), ``attrs["calendar"]`` and
        ``attrs["calendar_policy_text"]`` (a sentence for reports).
    """
    returns = _check_frame(returns, "returns").astype(float)
    if policy not in POLICIES:
        raise ReturnsError(f"parameter policy={policy!r} is not valid; use one of {', '.join(POLICIES)}")
    if len(returns) == 0:
        raise ReturnsError("parameter returns is empty; give at least one row")
    if (returns.index != returns.index.normalize()).any():
        raise ReturnsError("parameter returns must be daily bars labelled at 00:00 UTC (freq='1d')")
    if policy == "equity_sessions":
        out = _to_sessions(returns, calendar)
        text = POLICY_TEXT[policy].format(calendar=calendar)
    elif policy == "crypto_at_equity_close":
        out = _crypto_at_close(returns, hourly, calendar, crypto)
        text = POLICY_TEXT[policy].format(calendar=calendar)
    else:
        if equity_fill not in ("nan", "zero"):
            raise ReturnsError(f"parameter equity_fill={equity_fill!r} is not valid; use 'nan' or 'zero'")
        days = pd.date_range(returns.index[0], returns.index[-1], freq="D", name=returns.index.name)
        out = returns.reindex(days)
        if equity_fill == "zero":
            eq = [c for c in out.columns if not _is_crypto(c, crypto)]
            out[eq] = out[eq].fillna(0.0).where(out[eq].notna().cummax())
        text = POLICY_TEXT[policy].format(fill="0" if equity_fill == "zero" else "NaN")
    out.attrs.update(calendar_policy=policy, calendar="24/7" if policy == "crypto_clock" else calendar,
                     calendar_policy_text=text)
    return out


def event_anchor(timestamp: object, asset_id: str, calendar: str | None = None, freq: str = "1d") -> pd.Timestamp:
    """The bar an event belongs to in the asset's own calendar: :func:`capflow.calendars.anchor` (THE rule).

    Parameters
    ----------
    timestamp : datetime-like
        Event time; naive values are UTC. A bare date (00:00 UTC) is treated as that instant.
    asset_id : str
        Registry id/symbol (decides crypto vs equity and the exchange calendar).
    calendar : str, optional
        Override: ``"24/7"`` for crypto, or an exchange_calendars code.
    freq : {"1d", "1h"}

    Returns
    -------
    Timestamp
        UTC bar label. Crypto daily: the UTC date of the event. Equity: the first session whose close is at or
        after the event (a Saturday event -> Monday; after the close -> the next session).
    """
    ts = _utc(timestamp, "timestamp")
    if calendar is None:
        try:
            calendar = _assets.resolve(asset_id).calendar
        except KeyError:
            raise ReturnsError(f"parameter asset_id={asset_id!r} is not a registry asset; pass calendar= "
                               "('24/7' or an exchange code such as 'XNYS')") from None
    try:
        return _cal.anchor_one(ts, calendar, freq)
    except _cal.CalendarError as exc:
        raise ReturnsError(str(exc)) from None


def policy_text(frame: pd.DataFrame) -> str:
    """The sentence naming the calendar policy a frame was aligned with (for report prose)."""
    return frame.attrs.get("calendar_policy_text", "no calendar policy applied (raw bars)")
