"""Hyperscaler capex announcements: the catalog, event timing, surprise measures and the CAR panel.

Layer 4 of capflow (see DESIGN.md). Frames in, frames out. The other capex modules: :mod:`capflow.capex_spend`
(trailing-four-quarter capex, latest guidance), :mod:`capflow.capex_inference` (regressions, wild-cluster
bootstrap, placebo dates, leave-one-company-out; machinery in :mod:`capflow.capex_design` and
:mod:`capflow.capex_placebo`), :mod:`capflow.capex_yahoo` (catalog refresh from yfinance); the study composing
them is :mod:`capflow.studies.capex`.

The catalog
-----------
One row per earnings release (``events/capex_announcements.csv`` in the snapshot, or any file of that schema),
with the ``source`` of every row kept. Rows whose date the catalog marks ``INFERRED`` (estimated from a filing
date, not read from a dated press release) carry ``inferred=True`` and can be excluded.

Event timing (the rules, also returned by :func:`timing_rules`)
----------------------------------------------------------------
A release is placed at a moment in New York time: ``after close`` at 16:05, ``before open`` at 08:00 (converted
to UTC with the daylight-saving rules of America/New_York). Then:

the bar holding that moment, by the one anchor rule of :func:`capflow.calendars.anchor`:

* equities/ETFs: the first session of the asset's exchange whose **close** is at or after the release moment.
  After close on Monday -> Tuesday; after close on Friday -> Monday; a release on or before a holiday -> the
  next session; before open on a session day -> that session.
* 24/7 crypto, hourly data: the hourly bar holding the release moment (20:05 UTC -> the 20:00 bar).
* 24/7 crypto, daily data (bars are UTC days): the UTC day of the release (after close falls at 20:05 or 21:05
  UTC, late in that day's bar: windows starting at day 0 and running to +1 or later hold the whole reaction).

Surprise measures
-----------------
No consensus capex estimates are available to capflow (no analyst-estimate source in the snapshot, and none is
faked): every measure compares the company with its own past. See :func:`surprise_table`.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from capflow import calendars as _cal
from capflow import assets as _assets
from capflow import config
from capflow.data import snapshot
from capflow.data.snapshot import read_csv_checked

log = logging.getLogger(__name__)

REQUIRED_COLUMNS: tuple[str, ...] = snapshot.FILES["capex_announcements"][1]
TIMINGS: tuple[str, ...] = ("after close", "before open")
#: Release moment assumed for each timing, New York local time.
RELEASE_CLOCK: dict[str, str] = {"after close": "16:05", "before open": "08:00"}
NY_TZ = "America/New_York"
MEASURES: tuple[str, ...] = ("qoq", "yoy", "growth_change", "zscore", "guidance_revision")
#: One line per surprise measure: its definition (for reports) and what a release needs to have one.
MEASURE_DEFINITIONS: dict[str, str] = {
    "qoq": "capex of the quarter / capex of the previous quarter - 1",
    "yoy": "capex of the quarter / capex of the same quarter a year earlier - 1 (one unit = +100 percentage "
           "points of year-on-year growth)",
    "growth_change": "year-on-year growth of the quarter - year-on-year growth of the previous quarter",
    "zscore": "year-on-year growth standardized by the mean and SD of the company's own past year-on-year growth",
    "guidance_revision": "new capex guidance midpoint / the previous midpoint for the same period - 1",
}
MEASURE_NEEDS: dict[str, str] = {
    "qoq": "needs the previous quarter's capex (60-130 days earlier)",
    "yoy": "needs the capex of the release four quarters earlier (300-430 days earlier)",
    "growth_change": "needs year-on-year growth for this and the previous quarter",
    "zscore": "needs year-on-year growth and four earlier year-on-year values",
    "guidance_revision": "needs guidance with a dollar figure and an earlier one for the same period",
}
#: Default asset groups whose reactions are studied; ``own`` is the reporting company itself.
DEFAULT_GROUPS: tuple[str, ...] = ("ai_token", "crypto_major", "ai_equity", "semis_etf", "own")
DEFAULT_WINDOWS: tuple[tuple[int, int], ...] = ((0, 1), (-1, 1), (0, 5))


class CapexError(ValueError):
    """Bad input to the capex study (one line naming the parameter or file, what was wrong, what is valid)."""


class UnknownTickerError(CapexError):
    """A company ticker or asset that the registry or the catalog does not know."""


# ----------------------------------------------------------------------------------------------------------------
# catalog
# ----------------------------------------------------------------------------------------------------------------
def _read_catalog_file(path: Path) -> pd.DataFrame:
    return read_csv_checked(path, tuple(REQUIRED_COLUMNS), CapexError, "capex catalog (parameter path)",
                            dtype={"source": "string", "ticker": "string"})


def _guidance_year(text: object) -> str | None:
    """The period a guidance sentence refers to: ``FY2026``, ``2025`` or ``FY2026 Q1`` (first mention)."""
    if not isinstance(text, str):
        return None
    m = re.search(r"\b(FY\s?)?(20\d{2})(\s?Q[1-4])?\b", text)
    if not m:
        return None
    return f"{'FY' if m.group(1) else ''}{m.group(2)}{(' ' + m.group(3).strip()) if m.group(3) else ''}"


def finalize_catalog(df: pd.DataFrame, origin: str = "catalog") -> pd.DataFrame:
    """Validate and type a raw catalog frame; add ``announcement_id``, ``inferred``, guidance midpoint and year.

    Parameters
    ----------
    df : DataFrame
        Columns :data:`REQUIRED_COLUMNS` (extra columns kept).
    origin : str
        Name used in error messages (the file path).

    Returns
    -------
    DataFrame
        RangeIndex, sorted by ``announce_date, ticker``. ``announce_date`` is the New York calendar date
        (tz-naive, midnight); added columns ``announcement_id`` (``TICKER_YYYY-MM-DD``), ``inferred`` (bool),
        ``guidance_mid_usd`` (mean of low/high, or the one given), ``guidance_period`` (``2025``, ``FY2026``).
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise CapexError(f"capex catalog {origin}: missing column {missing[0]!r} "
                         f"(expected columns: {', '.join(REQUIRED_COLUMNS)})")
    out = df.copy()
    dates = pd.to_datetime(out["announce_date"], errors="coerce", format="ISO8601")
    if dates.isna().any():
        bad = out.loc[dates.isna(), "announce_date"].iloc[0]
        raise CapexError(f"capex catalog {origin}: column 'announce_date' has a value that is not a date: {bad!r}")
    out["announce_date"] = (dates.dt.tz_localize(None) if dates.dt.tz is not None else dates).dt.normalize()
    out["timing"] = out["timing"].astype("string").str.strip().str.lower()
    bad_timing = ~out["timing"].isin(TIMINGS)
    if bad_timing.any():
        raise CapexError(f"capex catalog {origin}: column 'timing' has {out.loc[bad_timing, 'timing'].iloc[0]!r}; "
                         f"valid: {', '.join(TIMINGS)}")
    out["ticker"] = out["ticker"].astype("string").str.strip().str.upper()
    for col in ("capex_usd", "guidance_low_usd", "guidance_high_usd"):
        out[col] = pd.to_numeric(out[col], errors="coerce")
    out["source"] = out["source"].astype("string").fillna("")
    out["inferred"] = out["source"].str.contains("INFERRED", regex=False).astype(bool)
    out["guidance_mid_usd"] = out[["guidance_low_usd", "guidance_high_usd"]].mean(axis=1, skipna=True)
    out["guidance_period"] = out["guidance_text"].map(_guidance_year).where(out["guidance_mid_usd"].notna())
    out["announcement_id"] = out["ticker"] + "_" + out["announce_date"].dt.strftime("%Y-%m-%d")
    out = out.sort_values(["announce_date", "ticker"], kind="stable").reset_index(drop=True)
    return out.drop_duplicates("announcement_id", keep="first").reset_index(drop=True)


def _check_companies(catalog: pd.DataFrame, companies: Iterable[str] | str | None) -> list[str]:
    known = sorted(catalog["ticker"].dropna().unique())
    if companies is None:
        return known
    items = companies.split(",") if isinstance(companies, str) else list(companies)
    out = []
    for item in (str(c).strip().upper() for c in items if str(c).strip()):
        if item not in known:
            raise UnknownTickerError(f"unknown ticker {item!r} (parameter companies); valid: {', '.join(known)}")
        out.append(item)
    if not out:
        raise CapexError(f"parameter companies is empty; valid: {', '.join(known)}")
    return out


def load_announcements(path: str | Path | None = None, include_inferred: bool = True,
                       companies: Iterable[str] | str | None = None) -> pd.DataFrame:
    """Read the capex announcement catalog.

    Parameters
    ----------
    path : str or Path, optional
        A CSV of the snapshot schema; default the snapshot's ``events/capex_announcements.csv``.
    include_inferred : bool
        Keep rows whose date is marked INFERRED in ``source`` (default True; they are flagged either way).
    companies : str or iterable of str, optional
        Tickers to keep (``"MSFT,META"``); default all.

    Returns
    -------
    DataFrame
        One row per release, see :func:`finalize_catalog`; ``attrs["origin"]`` is the file read and
        ``attrs["excluded_inferred"]`` the number of INFERRED rows removed.

    Raises
    ------
    CapexError
        Missing file or column (the message names the file and the column), bad ``timing`` or date values.
    UnknownTickerError
        A ticker in ``companies`` that the catalog does not hold.
    """
    if path is None:
        try:
            origin = snapshot.path_of("capex_announcements")
        except (snapshot.SnapshotError, config.ConfigError) as exc:
            raise CapexError(f"parameter path not given and {exc}") from exc
    else:
        origin = Path(path)
    cat = finalize_catalog(_read_catalog_file(origin), origin=str(origin))
    cat = cat[cat["ticker"].isin(_check_companies(cat, companies))].reset_index(drop=True)
    n_inf = int(cat["inferred"].sum())
    if not include_inferred and n_inf:
        log.info("excluded %d INFERRED-date releases", n_inf)
        cat = cat[~cat["inferred"]].reset_index(drop=True)
    cat.attrs.update({"origin": str(origin), "excluded_inferred": 0 if include_inferred else n_inf})
    return cat


# ----------------------------------------------------------------------------------------------------------------
# refresh through yfinance (lives in capflow.capex_yahoo)
# ----------------------------------------------------------------------------------------------------------------
def refresh_from_yahoo(tickers: Iterable[str] | str, catalog: pd.DataFrame | None = None, limit: int = 12,
                       ticker_factory: Callable[[str], object] | None = None) -> pd.DataFrame:
    """Add recent quarters from yfinance to a catalog: see :func:`capflow.capex_yahoo.refresh_from_yahoo`."""
    from capflow.capex_yahoo import refresh_from_yahoo as _refresh

    return _refresh(tickers, catalog=catalog, limit=limit, ticker_factory=ticker_factory)


# ----------------------------------------------------------------------------------------------------------------
# event timing
# ----------------------------------------------------------------------------------------------------------------
def _resolve_asset(name: str, param: str) -> _assets.Asset:
    try:
        return _assets.resolve(name)
    except _assets.UnknownAssetError as exc:
        raise UnknownTickerError(f"{exc}".replace("(parameter assets)", f"(parameter {param})")) from None


def session_opens(calendar: str, earliest: object = None) -> pd.Series:
    """Session opens (UTC) of ``calendar`` indexed by session date (tz-naive), covering ``earliest`` on."""
    try:
        sess = _cal.sessions(calendar, earliest)
    except _cal.CalendarError as exc:
        raise CapexError(str(exc)) from None
    return pd.Series(sess.opens, index=sess.labels.tz_localize(None))


def release_moment(announce_date: pd.Series | pd.Timestamp | str, timing: pd.Series | str) -> pd.Series:
    """The assumed release moment in UTC: 16:05 (after close) or 08:00 (before open) New York time.

    Parameters
    ----------
    announce_date : Series or scalar
        New York calendar dates.
    timing : Series or str
        ``after close`` or ``before open``.

    Returns
    -------
    Series of UTC timestamps (index of ``announce_date`` when it is a Series).
    """
    dates = pd.Series(pd.to_datetime(pd.Series(announce_date) if np.ndim(announce_date) else [announce_date]))
    timing = pd.Series(timing, index=dates.index) if np.ndim(timing) == 0 else pd.Series(
        np.asarray(timing), index=dates.index)
    bad = ~timing.isin(TIMINGS)
    if bad.any():
        raise CapexError(f"parameter timing={timing[bad].iloc[0]!r} is not valid; valid: {', '.join(TIMINGS)}")
    clock = pd.to_timedelta(timing.map(RELEASE_CLOCK) + ":00")
    if dates.dt.tz is not None:
        dates = dates.dt.tz_convert(NY_TZ).dt.tz_localize(None)
    local = dates.dt.normalize() + clock
    return local.dt.tz_localize(NY_TZ).dt.tz_convert("UTC")


def session_at_or_after(moment: pd.Series, calendar: str = "XNYS") -> pd.Series:
    """The session holding each UTC moment (first session whose close is at or after it), as a UTC-midnight label:
    :func:`capflow.calendars.anchor`."""
    try:
        labels = _cal.anchor(pd.DatetimeIndex(moment), calendar, "1d")
    except _cal.CalendarError as exc:
        raise CapexError(f"an announcement cannot be placed on calendar {calendar}: {exc}") from None
    return pd.Series(labels, index=moment.index)


def event_timestamps(announce_date: pd.Series, timing: pd.Series, asset: str, hourly: bool = False) -> pd.Series:
    """Vectorised :func:`announcement_event_time` for many releases and one asset (index kept)."""
    a = _resolve_asset(asset, "asset")
    moment = release_moment(announce_date, timing)
    if not a.is_crypto:
        return session_at_or_after(moment, a.calendar)
    return pd.Series(_cal.anchor(pd.DatetimeIndex(moment), _cal.CRYPTO, "1h" if hourly else "1d"), index=moment.index)


def announcement_event_time(row: pd.Series | dict, asset: str, hourly: bool = False) -> pd.Timestamp:
    """The event timestamp (UTC) of one release for one asset; see the module docstring for the rules.

    Parameters
    ----------
    row : Series or dict
        Needs ``announce_date`` (New York date) and ``timing`` (``after close`` / ``before open``).
    asset : str
        Asset id or symbol (``NVDA``, ``bittensor``, ``BTC``).
    hourly : bool
        For crypto: return the release moment (hourly bars) instead of a UTC day (daily bars).

    Returns
    -------
    pandas.Timestamp (UTC)
        Equities: the session label at 00:00 UTC (daily bars are labelled by session date). Crypto daily:
        the UTC date of the release; crypto hourly: the hour holding it.

    Examples
    --------
    >>> str(announcement_event_time({"announce_date": "2024-11-29", "timing": "after close"}, "NVDA").date())
    '2024-12-02'
    """
    out = event_timestamps(pd.Series([row["announce_date"]]), pd.Series([row["timing"]]), asset, hourly)
    return out.iloc[0]


def timing_rules() -> pd.DataFrame:
    """The event-timing rules as a table for reports (one row per timing x calendar)."""
    return pd.DataFrame([
        {"timing": "after close", "assumed release (New York)": "16:05",
         "equities / ETFs (daily)": "first session closing after the release: next session (Fri -> Mon, "
                                    "holiday -> next session)",
         "crypto, hourly bars": "the hourly bar holding the release (20:05 EDT -> 20:00 UTC bar)",
         "crypto, daily UTC bars": "the UTC day of the release (late in the day: day +1 holds most of it)"},
        {"timing": "before open", "assumed release (New York)": "08:00",
         "equities / ETFs (daily)": "that session (holiday/weekend -> next session)",
         "crypto, hourly bars": "the hourly bar holding the release (12:00 EDT -> 12:00 UTC bar)",
         "crypto, daily UTC bars": "that UTC day"},
    ])


# ----------------------------------------------------------------------------------------------------------------
# surprise measures
# ----------------------------------------------------------------------------------------------------------------
def _lagged(cat: pd.DataFrame, col: str, k: int, lo_days: int, hi_days: int) -> pd.Series:
    """``col`` of the same company's k-th previous release, NaN when the gap in days is outside [lo, hi]."""
    g = cat.groupby("ticker", sort=False)
    prev = g[col].shift(k)
    gap = (cat["announce_date"] - g["announce_date"].shift(k)).dt.days
    return prev.where(gap.between(lo_days, hi_days))


def _past_zscore(cat: pd.DataFrame, col: str, min_past: int) -> pd.Series:
    """z-score of ``col`` against the mean/std of the same company's strictly earlier values (no look-ahead)."""
    g = cat.groupby("ticker", sort=False)[col]
    mean = g.transform(lambda s: s.expanding(min_periods=min_past).mean().shift(1))
    std = g.transform(lambda s: s.expanding(min_periods=min_past).std().shift(1))
    return (cat[col] - mean) / std.where(std > 0)


def _guidance_revision(cat: pd.DataFrame) -> pd.Series:
    """(new guidance midpoint / the company's previous midpoint for the same period) - 1; NaN without one."""
    gd = cat[cat["guidance_mid_usd"].notna() & cat["guidance_period"].notna()]
    prev = gd.groupby(["ticker", "guidance_period"], sort=False)["guidance_mid_usd"].shift(1)
    return (gd["guidance_mid_usd"] / prev - 1.0).reindex(cat.index)


def surprise_table(catalog: pd.DataFrame, min_past: int = 4) -> pd.DataFrame:
    """Every surprise measure for every release.

    No consensus (analyst) capex estimates are available to capflow, so no measure is "actual minus
    consensus"; each compares the company with its own history, using only releases dated before it.

    Measures (columns):

    * ``qoq``: capex_t / capex of the previous release - 1 (previous release 60-130 days earlier, else NaN).
    * ``yoy``: capex_t / capex four releases earlier - 1 (that release 300-430 days earlier, else NaN).
    * ``growth_change``: yoy_t - yoy of the previous release (acceleration of year-on-year growth).
    * ``zscore``: (yoy_t - mean of the company's PAST yoy) / std of its past yoy, needing ``min_past`` past
      values; a within-company standardized surprise without look-ahead.
    * ``guidance_revision``: new guidance midpoint / the company's previous midpoint for the same period
      (``2025``, ``FY2026``) - 1; NaN where there is no earlier guidance for that period.

    Parameters
    ----------
    catalog : DataFrame
        From :func:`load_announcements` (one company's releases in date order).
    min_past : int
        Past yoy values required for ``zscore``.

    Returns
    -------
    DataFrame
        Indexed like ``catalog``: ``announcement_id``, ``ticker`` and the five measures.
    """
    cat = catalog.sort_values(["ticker", "announce_date"], kind="stable")
    out = pd.DataFrame({"announcement_id": cat["announcement_id"], "ticker": cat["ticker"]}, index=cat.index)
    out["qoq"] = cat["capex_usd"] / _lagged(cat, "capex_usd", 1, 60, 130) - 1.0
    out["yoy"] = cat["capex_usd"] / _lagged(cat, "capex_usd", 4, 300, 430) - 1.0
    cat = cat.assign(yoy=out["yoy"])
    out["growth_change"] = out["yoy"] - _lagged(cat, "yoy", 1, 60, 130)
    out["zscore"] = _past_zscore(cat, "yoy", min_past)
    out["guidance_revision"] = _guidance_revision(cat)
    return out.reindex(catalog.index)


def capex_surprise(catalog: pd.DataFrame, measure: str = "yoy", min_past: int = 4) -> pd.Series:
    """One surprise measure (see :func:`surprise_table`) as a Series indexed like ``catalog``.

    Raises
    ------
    CapexError
        Unknown measure, or ``guidance_revision`` when no row of the catalog has guidance.
    """
    if measure not in MEASURES:
        raise CapexError(f"parameter measure={measure!r} is not a surprise measure; valid: {', '.join(MEASURES)}")
    if measure == "guidance_revision" and not catalog[["guidance_low_usd", "guidance_high_usd"]].notna().any(
            axis=None):
        raise CapexError("parameter measure='guidance_revision' needs guidance, but no row of the catalog has "
                         "guidance_low_usd/guidance_high_usd; use one of qoq, yoy, growth_change, zscore")
    return surprise_table(catalog, min_past)[measure].rename(measure)


# ----------------------------------------------------------------------------------------------------------------
# events and the CAR panel
# ----------------------------------------------------------------------------------------------------------------
def _group_assets(groups: Sequence[str]) -> list[tuple[str, str]]:
    """(asset id, group) pairs for the named registry groups (``own`` is handled per release)."""
    pairs = []
    for g in groups:
        if g == "own":
            continue
        try:
            pairs += [(a.id, g) for a in _assets.group(g)]
        except _assets.UnknownAssetError as exc:
            raise CapexError(f"parameter groups: {exc}") from None
    return pairs


def _clock(asset: _assets.Asset, hourly: bool) -> tuple[str, str]:
    """The (calendar, bar) an asset's events are anchored on: every asset sharing it shares the anchor."""
    if not asset.is_crypto:
        return asset.calendar, "1d"
    return _cal.CRYPTO, "1h" if hourly else "1d"


def _anchor_clock(moment: pd.DatetimeIndex, clock: tuple[str, str]) -> pd.DatetimeIndex:
    """Anchor the release moments on one clock (:func:`capflow.calendars.anchor`), as UTC labels."""
    calendar, bar = clock
    try:
        return pd.DatetimeIndex(_cal.anchor(moment, calendar, bar))
    except _cal.CalendarError as exc:
        raise CapexError(f"an announcement cannot be placed on calendar {calendar}: {exc}") from None


def study_events(catalog: pd.DataFrame, groups: Sequence[str] = DEFAULT_GROUPS,
                 hourly_assets: Iterable[str] = ()) -> pd.DataFrame:
    """Events for the event-study engine: one row per (release, asset), timestamps by the timing rules.

    Release moments are computed once per release and anchored once per clock (exchange calendar, or 24/7 daily
    or hourly bars), then gathered for every asset on that clock.

    Parameters
    ----------
    catalog : DataFrame
        From :func:`load_announcements` (needs ``announcement_id, ticker, announce_date, timing``).
    groups : sequence of str
        Registry groups; ``own`` adds the reporting company's own stock.
    hourly_assets : iterable of str
        Crypto assets studied on hourly bars (their event time is the release moment).

    Returns
    -------
    DataFrame
        Columns ``event_id`` (``<announcement_id>|<asset>``, unique), ``announcement_id, company, asset,
        group, timestamp`` (UTC), ``announce_date, timing``; RangeIndex.
    """
    pairs = pd.DataFrame(_group_assets(groups), columns=["asset", "group"])
    cat = catalog[["announcement_id", "ticker", "announce_date", "timing"]].rename(
        columns={"ticker": "company"}).reset_index(drop=True)
    cat["_pos"] = np.arange(len(cat))
    ev = cat.merge(pairs, how="cross") if len(pairs) else cat.iloc[:0].assign(asset="", group="")
    if "own" in groups:
        ev = pd.concat([ev, cat.assign(asset=cat["company"], group="own")], ignore_index=True)
    hourly = {_resolve_asset(h, "hourly_assets").id for h in hourly_assets}
    moment = pd.DatetimeIndex(release_moment(cat["announce_date"], cat["timing"])) if len(cat) else \
        pd.DatetimeIndex([], tz="UTC")
    asset_ids = pd.unique(ev["asset"])
    clocks = {a: _clock(_resolve_asset(a, "asset"), a in hourly) for a in asset_ids}
    anchored = {c: _anchor_clock(moment, c).as_unit("ns").asi8 for c in set(clocks.values())}
    stamps = np.zeros(len(ev), dtype=np.int64)
    codes, uniq = pd.factorize(ev["asset"])
    pos = ev["_pos"].to_numpy()
    for i, a in enumerate(uniq):
        rows = codes == i
        stamps[rows] = anchored[clocks[a]][pos[rows]]
    ev["timestamp"] = pd.to_datetime(stamps, utc=True).as_unit("ns") if len(ev) else pd.Series(
        dtype="datetime64[ns, UTC]")
    ev["event_id"] = ev["announcement_id"] + "|" + ev["asset"]
    cols = ["event_id", "announcement_id", "company", "asset", "group", "timestamp", "announce_date", "timing"]
    return ev[cols].reset_index(drop=True)


def study_returns(asset_ids: Iterable[str], start: object, end: object, freq: str = "1d") -> pd.DataFrame:
    """Simple returns of the assets from :func:`capflow.data.load_prices` (assets without data dropped).

    Nothing is printed: the data layer's warnings are collected into ``attrs["messages"]`` (one string each) and
    the assets without data are listed in ``attrs["dropped"]`` (``{asset id: reason}``), for the caller's notes.

    Returns
    -------
    DataFrame
        UTC index, one column per asset id, NaN where the asset has no bar; ``attrs["provenance"]``,
        ``attrs["dropped"]``, ``attrs["request"]`` carried over from the prices, plus ``attrs["messages"]``.
    """
    from capflow.data import load_prices
    from capflow.returns import bar_returns

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prices = load_prices(sorted(set(asset_ids)), start, end, freq=freq, missing="drop")
    rets = bar_returns(prices, freq)
    rets.attrs.update({k: prices.attrs.get(k) for k in ("provenance", "dropped", "request")})
    dropped = prices.attrs.get("dropped") or {}
    rets.attrs["messages"] = list(dict.fromkeys(
        str(w.message) for w in caught if not any(str(w.message).startswith(f"dropped {a}:") for a in dropped)))
    if dropped:
        log.info("capex study: no prices for %s", ", ".join(dropped))
    return rets


def window_market_return(market: pd.Series, start: pd.Series, end: pd.Series) -> np.ndarray:
    """Compounded market return over each [start, end] (inclusive, by timestamp), vectorised.

    Parameters
    ----------
    market : Series
        Simple returns of the market proxy, UTC DatetimeIndex (NaN rows ignored).
    start, end : Series of UTC timestamps
        Window bounds (from the engine's CAR table).

    Returns
    -------
    ndarray
        ``prod(1 + r) - 1`` over the market's bars inside each window; 0 when none (crypto weekend windows).
    """
    m = market.dropna().sort_index()
    cum = np.concatenate([[0.0], np.cumsum(np.log1p(m.to_numpy()))])
    idx = pd.DatetimeIndex(m.index).tz_convert("UTC").as_unit("ns").asi8       # int64 ns: no Timestamp objects
    lo = np.searchsorted(idx, pd.DatetimeIndex(start).tz_convert("UTC").as_unit("ns").asi8, side="left")
    hi = np.searchsorted(idx, pd.DatetimeIndex(end).tz_convert("UTC").as_unit("ns").asi8, side="right")
    return np.expm1(cum[hi] - cum[lo])


def windows_label(windows: Sequence[tuple[int, int]]) -> list[str]:
    """The engine's window labels, ``(0, 1) -> "[0,+1]"``, ``(-1, 1) -> "[-1,+1]"``."""
    def f(k: int) -> str:
        return f"+{k}" if k > 0 else str(k)
    return [f"[{f(a)},{f(b)}]" for a, b in windows]


def car_panel(events: pd.DataFrame, returns: pd.DataFrame, windows: Sequence[tuple[int, int]] = DEFAULT_WINDOWS,
              market: str = "QQQ", model: str = "constant_mean", estimation_window: tuple[int, int] = (-250, -11),
              min_estimation: int = 60, event_window: tuple[int, int] | None = None, n_boot: int = 0,
              seed: int = 0, tests: Sequence[str] | None = None) -> tuple[pd.DataFrame, object]:
    """CARs of every (release, asset) from ONE vectorised :func:`capflow.eventstudy.event_study` call.

    Parameters
    ----------
    events : DataFrame
        From :func:`study_events` (``event_id`` unique).
    returns : DataFrame
        Simple returns, UTC index, one column per asset id; must include ``market``.
    windows : sequence of (int, int)
        CAR windows in the asset's trading periods.
    market : str
        Market proxy column: its compounded return over each CAR window's dates is the regression control
        ``market_ret`` (and the benchmark when ``model`` is ``market``/``market_adjusted``).
    model, estimation_window, min_estimation, n_boot, seed
        Passed to the engine, with ``overlap="keep"``: a quarterly release always has earlier releases of the
        same asset inside its 250-period estimation window, and dropping them would drop every event.
        Same-day releases share an engine ``cluster`` (the announcement date) for the Kolari-Pynnonen test.
    tests : sequence of str, optional
        Engine tests to compute (default all; the CARs do not depend on it, the cost does).

    Returns
    -------
    (DataFrame, EventStudyResult)
        The panel: ``event_id, announcement_id, company, asset, group, window, start, end, car, market_ret``
        (one row per event and window; events the engine dropped are absent, see ``result.dropped``).
    """
    from capflow.eventstudy import event_study

    if market not in returns.columns:
        raise CapexError(f"parameter market={market!r} is not a column of returns; load it with the assets")
    lo = min(a for a, _ in windows)
    hi = max(b for _, b in windows)
    ew = event_window or (min(lo, -1), max(hi, 1))
    bench = market if model in ("market", "market_adjusted") else None
    cols = ["event_id", "asset", "timestamp", "group"]
    ev = events[cols].assign(cluster=events["announce_date"].astype(str)) if "announce_date" in events else \
        events[cols]
    res = event_study(returns, ev,
                      market=returns[market] if bench else None, model=model,
                      estimation_window=estimation_window, event_window=ew, car_windows=tuple(windows),
                      min_estimation=min_estimation, n_boot=n_boot, seed=seed, overlap="keep", tests=tests)
    car = res.car[["event_id", "window", "start", "end", "car"]]
    car = car[car["window"].isin(windows_label(windows))]
    panel = events.drop(columns=["timestamp"]).merge(car, on="event_id", how="inner")
    panel["market_ret"] = window_market_return(returns[market], panel["start"], panel["end"])
    return panel, res
