"""Divergence between AI equities and crypto: performance tables, rolling co-movement, spreads, breaks, regimes.

Pure functions, frames in and frames out (DESIGN.md layer 4). Frame contract: UTC DatetimeIndex, one column per
asset id or basket name; returns are simple unless a name says log. Cross-asset returns are first put on one clock
with :func:`capflow.returns.align` (the policy travels in ``attrs["calendar_policy"]``).

Rolling statistics are vectorised: window sums come from cumulative sums over the whole sample (one numpy pass
per window length, no Python loop per window). A window is the last ``w`` rows; a row enters a window's
statistics only when every series involved has a value there (pairwise/listwise complete), and a window needs
``min_periods`` such rows (default ``w``: complete windows).

Clocks and short series (:func:`load_inputs`, :func:`clock_info`, :func:`study_window`): with
``clock="close_only"`` no crypto return mixes a UTC-day close with an intraday snapshot. ``short_series="truncate"``
(default) runs the sample to Bitcoin's last UTC close (or the equities' shared last date, if earlier) and sets
every crypto series whose closes end earlier to NaN after its own close end; ``"cut"`` ends everyone at the
earliest close end. Baskets average the members present each row, so a truncated member simply leaves them
(:func:`basket_membership` counts members per row). Rolling statistics and the rolling two-factor model are computed
on those basket return series unchanged: a window that spans a membership change mixes the basket before and after
it (the notebook marks the dates); the statistics themselves never fill or bridge a missing member.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from capflow import assets as _assets
from capflow import returns as R

log = logging.getLogger(__name__)

#: Default baskets: display name -> registry group tag (or a list of asset ids).
DEFAULT_BASKETS: dict[str, str | list[str]] = {
    "AI equities": "ai_equity", "Semis ETFs": "semis_etf", "Hyperscalers": "hyperscaler",
    "Crypto majors": "crypto_major", "AI tokens": "ai_token"}
DEFAULT_BASE = "2024-01-02"


class DivergenceError(ValueError):
    """Bad input to a divergence function (one line: parameter, what was wrong, what is valid)."""


class LateStartWarning(UserWarning):
    """Assets listed after the base date start at their own first price (an expected, reportable notice)."""


class TruncationWarning(UserWarning):
    """Crypto series ending before the sample's end are truncated at their own close end (a reportable notice)."""


class CapCoverageWarning(UserWarning):
    """Members of a cap-weighted basket without a known market cap on some days (left out of the weights there)."""


class EndRuleWarning(UserWarning):
    """The study end was cut by ``min_basket_share`` (a basket would end with too few members; reportable)."""


# ---------------------------------------------------------------------------------------- inputs

def resolve_baskets(baskets: Mapping[str, str | Sequence[str]], available: Iterable[str]) -> dict[str, list[str]]:
    """Members of each basket that exist in ``available`` (asset ids), in registry order.

    Raises
    ------
    DivergenceError
        When a basket is empty or none of its members has data.
    """
    avail = list(available)
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


def first_prices(prices: pd.DataFrame) -> pd.Series:
    """First observed timestamp of each column."""
    return prices.apply(lambda c: c.first_valid_index())


def check_base_date(prices: pd.DataFrame, base: object, late_start: str = "raise") -> pd.Series:
    """Start date of each asset's cumulative return: ``base``, or its first price if later and allowed.

    Parameters
    ----------
    prices : DataFrame
        Prices (UTC DatetimeIndex, one column per asset), loaded from on or before ``base``.
    base : date-like
        Base date.
    late_start : {"raise", "own_start"}
        An asset whose first price is after ``base``: raise (default), or start it at its own first price
        (with a warning naming it).
    """
    b = R._utc(base, "base_date")
    first = first_prices(prices)
    late = first[first.isna() | (first > b)]
    if len(late) and late_start == "raise":
        a, d = late.index[0], late.iloc[0]
        raise DivergenceError(f"parameter base_date={b.date()} is before the first price of {a} "
                              f"(first {'none' if pd.isna(d) else d.date()}); use a later base_date, drop the "
                              "asset, or late_start='own_start'")
    if late_start not in ("raise", "own_start"):
        raise DivergenceError(f"parameter late_start={late_start!r} is not valid; use 'raise' or 'own_start'")
    if len(late):
        warnings.warn(f"assets starting after base_date {b.date()} use their own first price: "
                      + ", ".join(f"{a} ({d.date()})" for a, d in late.items()), LateStartWarning, stacklevel=2)
    return first.where(first > b, b)


def default_end(prices: pd.DataFrame) -> pd.Timestamp:
    """The latest date all columns share: the minimum over columns of their last observed timestamp."""
    return prices.apply(lambda c: c.last_valid_index()).min()


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


# ---------------------------------------------------------------------------------------- clocks

#: Values of the ``clock`` option: cut the default sample where crypto closes end, or keep every row.
CLOCKS: tuple[str, ...] = ("close_only", "any")


def price_clocks(assets: str | Iterable[str], start: object, end: object | None = None,
                 sources: Iterable[str] | None = None) -> pd.DataFrame:
    """The clock of every daily price row: ``"close"`` (a UTC-day close) or ``"snapshot"`` (intraday).

    Rows are resolved exactly as :func:`capflow.data.load_prices` resolves them (same layers, same daily
    source precedence); each row's ``source`` tag is mapped by :func:`capflow.data.snapshot.clock_of`
    (``cg_snap_*`` rows are snapshots; Binance, CoinGecko history, monthly CMC and live rows are closes).

    Returns
    -------
    DataFrame
        UTC DatetimeIndex, one column per asset id (assets without data are left out), values ``"close"`` or
        ``"snapshot"``, NaN where the asset has no row.
    """
    from capflow.data import resolve, snapshot
    from capflow.data.store import resolution_order, validate_request

    req = validate_request(assets, start, end, "1d", "price")
    order = resolution_order(sources)
    cols = {}
    for asset in req.assets:  # one resolution per asset (memoised snapshot reads), not per row
        got = resolve.resolve_long(asset, req, order, drop_missing=True)
        if not isinstance(got, str):
            tags = got[0]["source"].fillna("unknown").astype(str)
            cols[asset.id] = tags.map({t: snapshot.clock_of(t) for t in tags.unique()})
    frame = pd.DataFrame(cols)
    frame.index.name = "timestamp"
    return frame


def close_clock_ends(clocks: pd.DataFrame) -> pd.DataFrame:
    """Per column: the last close-clock row before the series turns to snapshots, and the first snapshot.

    Parameters
    ----------
    clocks : DataFrame
        From :func:`price_clocks` (UTC DatetimeIndex, one column per asset, ``"close"``/``"snapshot"``/NaN).

    Returns
    -------
    DataFrame
        Indexed by column: ``close_end`` (the last ``"close"`` row before the column's first snapshot row that
        follows a close; its last close row when it never switches; NaT when it has no close row) and
        ``first_snapshot`` (that first snapshot row after a close, NaT if none). Returns up to ``close_end``
        never mix the two clocks (snapshots before the first close, e.g. pre-listing, are ignored).
    """
    is_close = clocks.eq("close").to_numpy(dtype=bool)
    after = clocks.eq("snapshot").to_numpy(dtype=bool) & np.logical_or.accumulate(is_close, axis=0)
    switched = np.logical_or.accumulate(after, axis=0)
    pos = np.arange(len(clocks))[:, None]
    last_close = np.where(is_close & ~switched, pos, -1).max(axis=0, initial=-1)
    first_snap = np.where(after, pos, len(clocks)).min(axis=0, initial=len(clocks))
    idx = clocks.index
    pick = lambda p, ok: pd.DatetimeIndex([idx[i] if k else pd.NaT for i, k in zip(p, ok)], tz="UTC")
    return pd.DataFrame({"close_end": pick(last_close, last_close >= 0),
                         "first_snapshot": pick(first_snap, first_snap < len(clocks))}, index=clocks.columns)


def close_clock_end(clocks: pd.DataFrame) -> pd.Timestamp:
    """The last date every column still has close-clock data: the minimum of :func:`close_clock_ends`.

    Raises
    ------
    DivergenceError
        When ``clocks`` has no column, or a column has no close row at all (named).
    """
    ends = close_clock_ends(clocks)["close_end"]
    if ends.empty:
        raise DivergenceError("parameter clocks has no columns; give the clocks of at least one crypto asset")
    if ends.isna().any():
        raise DivergenceError(f"parameter clocks: {ends[ends.isna()].index.tolist()} have no close-clock rows; "
                              "drop them or use clock='any'")
    return ends.min()


#: Values of the ``short_series`` option (``clock="close_only"``): what to do with crypto series whose UTC closes
#: end before the benchmark's.
SHORT_SERIES: tuple[str, ...] = ("truncate", "cut")
#: The crypto benchmark whose close clock ends the default ``short_series="truncate"`` sample.
BENCHMARK = "bitcoin"


def _check_choice(name: str, value: object, valid: Sequence[str]) -> None:
    if value not in valid:
        raise DivergenceError(f"parameter {name}={value!r} is not valid; use one of {', '.join(valid)}")


@dataclass
class ClockInfo:
    """What the ``clock`` option decided: per-asset close ends, the cut, truncations, and mixed clocks.

    ``cut`` is the end date imposed on the sample (None: no cut); ``binding`` the crypto assets whose close data
    ends at the cut; ``end`` the end the sample will have; ``mixed`` maps the assets whose series turn to
    snapshots on or before ``end`` (and are not truncated) to their first snapshot date; ``truncated`` maps the
    assets set to NaN after their own close end (``short_series="truncate"``) to that date.
    """

    clock: str
    ends: pd.DataFrame
    cut: pd.Timestamp | None
    binding: list[str]
    end: pd.Timestamp | None
    mixed: dict
    short_series: str = "cut"
    truncated: dict = field(default_factory=dict)
    benchmark: str | None = None

    def as_dict(self) -> dict:
        """JSON-ready form (ISO dates) for ``attrs`` and summaries."""
        iso = lambda t: None if t is None or pd.isna(t) else str(pd.Timestamp(t).date())
        return {"clock": self.clock, "short_series": self.short_series, "benchmark": self.benchmark,
                "cut": iso(self.cut), "binding": self.binding, "end": iso(self.end),
                "close_end": {a: iso(t) for a, t in self.ends["close_end"].items()},
                "first_snapshot": {a: iso(t) for a, t in self.ends["first_snapshot"].items()},
                "mixed": {a: iso(t) for a, t in self.mixed.items()},
                "truncated": {a: iso(t) for a, t in self.truncated.items()}}


def _truncation_end(ends: pd.DataFrame, benchmark: str, others_end: pd.Timestamp | None) -> tuple[pd.Timestamp, str]:
    """Default ``truncate`` end: min(benchmark's close end, ``others_end``), and the benchmark actually used.

    Without ``benchmark`` among the columns, the latest close end of any column stands in for it.
    """
    close = ends["close_end"]
    bench = benchmark if benchmark in close.index else close.idxmax()
    end = close[bench]
    return (end if others_end is None else min(end, others_end)), bench


def _check_after_base(close: pd.Series, limit: pd.Timestamp, base: pd.Timestamp | None) -> None:
    """Raise when a column's close data ends on or before ``base`` (it would have no return in the study)."""
    late = close.index[close <= base].tolist() if base is not None else []
    if late and limit <= base:
        raise DivergenceError(f"parameter clock='close_only': the close-clock data of {late} ends "
                              f"{close.min().date()}, on or before base_date={base.date()}; drop them or use "
                              "clock='any'")
    if late:
        raise DivergenceError(f"parameter short_series='truncate': the close-clock data of {late} ends "
                              f"{close[late].max().date()}, on or before base_date={base.date()}; drop them, "
                              "use a later base_date or clock='any'")


def clock_info(clocks: pd.DataFrame, clock: str = "close_only", end: pd.Timestamp | None = None,
               base: pd.Timestamp | None = None, short_series: str = "truncate", benchmark: str = BENCHMARK,
               others_end: pd.Timestamp | None = None) -> ClockInfo:
    """Apply the ``clock`` and ``short_series`` options to the crypto columns' clocks (see :func:`load_inputs`).

    ``clock="close_only"`` keeps every crypto return between UTC closes:

    - ``short_series="truncate"`` (default): without an explicit ``end`` the sample ends at
      min(``benchmark``'s close end, ``others_end``: the equities' shared last date); every column whose close
      data ends earlier (also with an explicit ``end``) is listed in ``truncated`` with its own close end.
    - ``short_series="cut"``: without ``end`` everyone ends at :func:`close_clock_end` (must be after ``base``);
      an explicit ``end`` is kept, and the assets whose snapshots start on or before it are listed in ``mixed``.

    ``clock="any"``: nothing is cut or truncated; ``mixed`` is measured against ``end`` or, when None, against
    the last date all columns have a row.
    """
    _check_choice("clock", clock, CLOCKS)
    _check_choice("short_series", short_series, SHORT_SERIES)
    ends = close_clock_ends(clocks)
    truncate = clock == "close_only" and short_series == "truncate" and clocks.shape[1] > 0
    cut, bench, truncated = None, None, {}
    if truncate:
        close_clock_end(clocks)  # one-line error for columns without any close row
        cut, bench = _truncation_end(ends, benchmark, others_end) if end is None else (None, benchmark)
        limit = cut if cut is not None else end
        truncated = {a: t for a, t in ends["close_end"].items() if t < limit}
        _check_after_base(ends["close_end"], limit, base)
    elif clock == "close_only" and end is None and clocks.shape[1]:
        cut = close_clock_end(clocks)
        _check_after_base(ends["close_end"], cut, base)
    binding = ends.index[ends["close_end"] == cut].tolist() if cut is not None else []
    study_end = cut if cut is not None else end
    if study_end is None and clocks.shape[1]:
        study_end = clocks.apply(lambda c: c.last_valid_index()).min()
    snap = ends["first_snapshot"].dropna()
    mixed = {a: t for a, t in snap.items() if study_end is not None and t <= study_end and a not in truncated}
    return ClockInfo(clock, ends, cut, binding, study_end, mixed, short_series if clock == "close_only" else "cut",
                     truncated, bench)


def truncate_short_series(frame: pd.DataFrame, truncated: Mapping[str, object]) -> pd.DataFrame:
    """Set each column in ``truncated`` to NaN after its date (never filled); other columns unchanged.

    Parameters
    ----------
    frame : DataFrame
        Prices or returns (UTC DatetimeIndex, one column per asset id); ``attrs`` are kept.
    truncated : mapping
        Asset id -> last date kept (date-like, e.g. :attr:`ClockInfo.truncated`); ids not in ``frame`` are
        ignored. On a session index a row labelled after the date is dropped, so an asset whose data ends on a
        weekend leaves with the last session it completes.
    """
    cols = [a for a in truncated if a in frame.columns]
    if not cols:
        return frame
    last = np.array([R._utc(truncated[a], f"truncated[{a!r}]").value for a in cols])
    after = frame.index.asi8[:, None] > last[None, :]
    out = frame.copy()
    out[cols] = out[cols].mask(after)
    out.attrs = dict(frame.attrs)
    return out


# ---------------------------------------------------------------------------------------- data caveats

def data_caveats(prices: pd.DataFrame, base: object, end: object, sources: Iterable[str] | None = None,
                 truncated: Mapping[str, object] | None = None) -> pd.DataFrame:
    """Data-quality caveats of a study's assets, from :mod:`capflow.data.quality`, relative to ``[base, end]``.

    The quality report covers each asset from the first row of ``prices`` to the end of its data (so switches
    after the study's end are listed too); gaps and clock switches are then placed relative to the window,
    which for an asset in ``truncated`` (``Study.truncated``: asset -> last date kept) ends at that date.

    Returns
    -------
    DataFrame
        Indexed by asset id: ``symbol``, ``sources`` (source tags with row counts), ``coverage_pct``,
        ``longest_gap`` (``"start..end"`` of the longest gap in the data, or ""), ``longest_gap_missing``,
        ``clock_switches``, ``first_snapshot`` (first switch from a close to an intraday snapshot, NaT if
        none), ``snapshot_in_study`` (that switch is on or before the asset's end), ``gaps_in_study`` (gaps
        overlapping the asset's window) and ``study_gaps`` (their ``start..end (detail)``, longest first,
        ``"; "``-joined).
    """
    from capflow.data import quality

    b, e = R._utc(base, "base_date"), R._utc(end, "end_date")
    ids = list(prices.columns)
    rep = quality.quality_report(ids, prices.index[0], None, sources=sources).set_index("asset")
    iss = quality.quality_issues(ids, prices.index[0], None, sources=sources)
    own_end = pd.Series({a: R._utc((truncated or {}).get(a, e), "truncated") for a in ids})
    gaps = iss[(iss["kind"] == "gap") & (iss["start"] <= iss["asset"].map(own_end)) & (iss["end"] >= b)]
    gaps = gaps.assign(_len=gaps["end"] - gaps["start"]).sort_values(["asset", "_len"], ascending=[True, False])
    day = lambda t: str(pd.Timestamp(t).date())
    span = lambda g: f"{day(g.start)}..{day(g.end)} ({g.detail})"
    out = pd.DataFrame({
        "symbol": rep["symbol"], "sources": rep["sources"], "coverage_pct": rep["coverage_pct"].round(1),
        "longest_gap": [f"{day(a)}..{day(z)}" if pd.notna(a) else "" for a, z in
                        zip(rep["longest_gap_start"], rep["longest_gap_end"])],
        "longest_gap_missing": rep["longest_gap_missing"], "clock_switches": rep["clock_switches"],
        "first_snapshot": pd.to_datetime(rep["first_clock_switch"], utc=True)})
    ends = own_end.reindex(out.index)
    out["snapshot_in_study"] = out["first_snapshot"].notna() & (out["first_snapshot"] <= ends)
    out["gaps_in_study"] = gaps.groupby("asset").size().reindex(out.index, fill_value=0)
    joined = {a: "; ".join(span(r) for r in g.itertuples()) for a, g in gaps.groupby("asset")}  # few assets
    out["study_gaps"] = pd.Series(joined, dtype=object).reindex(out.index).fillna("")
    return out.loc[ids]


def _syms(ids: Iterable[str]) -> str:
    return ", ".join(_assets.symbol(a) for a in ids)


def _by_date(dates: Mapping[str, object], word: str) -> str:
    """``"AKT from 2025-10-26; BTC, ETH from 2026-03-04"``: assets grouped by date, dates in order."""
    ser = pd.Series({a: str(pd.Timestamp(d).date()) for a, d in dates.items() if d is not None and pd.notna(d)})
    groups = ser.groupby(ser).apply(lambda g: _syms(g.index)).sort_index()
    return "; ".join(f"{names} {word} {d}" for d, names in groups.items())


def caveat_lines(caveats: pd.DataFrame, clock: Mapping, base: object, end: object, max_gap: int | None = 7
                 ) -> list[str]:
    """Markdown bullet lines stating the study's data caveats (numbers and dates computed, never typed).

    Parameters
    ----------
    caveats : DataFrame
        From :func:`data_caveats`.
    clock : mapping
        ``prices.attrs["clock"]`` (:meth:`ClockInfo.as_dict`) from :func:`load_inputs`.
    base, end : date-like
        The study's window.
    max_gap : int or None
        The study's ``max_gap`` (returns do not bridge longer gaps).
    """
    b, e = R._utc(base, "base_date").date(), R._utc(end, "end_date").date()
    snaps = caveats["first_snapshot"].dropna()
    lines = []
    if len(snaps):
        lines.append("- **Clocks.** Crypto daily prices are UTC-day closes (00:00 UTC bars, mostly Binance) until "
                     "the series switch to sparse intraday CoinGecko snapshots (`cg_snap_*`, taken around "
                     f"09:00-18:00 UTC): {_by_date(snaps.to_dict(), 'from')}.")
    lines.append(_clock_line(clock, e))
    inside = caveats[caveats["gaps_in_study"] > 0]
    if len(inside):
        lines.append(f"- **Gaps inside {b}..{e}** (longest first). " + "; ".join(
                         f"{r.symbol}: {_first(r.study_gaps.split('; '), 2)}" for r in inside.itertuples()) + ". "
                     + (f"Returns do not bridge gaps longer than {max_gap} rows (a basket skips the member "
                        "there); " if max_gap else "Returns bridge every gap; ")
                     + "the table's asset rows compare the prices at the two ends of the window.")
    return lines


def _first(items: list[str], n: int) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n} shorter)" if len(items) > n else "")


def _clock_line(clock: Mapping, end) -> str:
    mixed = {a: d for a, d in clock.get("mixed", {}).items() if d is not None}
    cut = clock.get("membership_cut")
    if cut:
        return (f"- **Like with like, enough members (clock='{clock.get('clock')}', min_basket_share="
                f"{cut['min_basket_share']}).** Without an end date the sample would end on {cut['uncut_end']} "
                f"({cut['uncut_rule']}), but {_by_date(cut['exits'], 'have their last UTC close on')}, which "
                f"would leave {cut['thin']} with fewer than {cut['min_basket_share']:.0%} of their members; the "
                f"sample ends on {end}, the last session every basket keeps at least that share. Set `end_date` "
                "to keep the thin tail (it is then reported), or min_basket_share=None.")
    if clock.get("clock") == "close_only" and clock.get("short_series") == "truncate" and any(
            clock.get("truncated", {}).values()):
        first = min(d for d in clock["truncated"].values() if d)
        return (f"- **Like with like (clock='close_only', short_series='truncate').** {truncation_note(clock, end)}"
                f" Set short_series='cut' to end everyone on {first}, or clock='any' to keep the snapshots.")
    if clock.get("cut"):
        ends = sorted({d for a, d in clock["close_end"].items() if d and a not in clock["binding"]})
        later = f" Without them the close-clock sample could run to {ends[0]}." if ends else ""
        return (f"- **Like with like (clock='close_only').** The sample ends on {clock['cut']}, the last date "
                f"{_syms(clock['binding'])} still have UTC closes, so no crypto return here mixes a close with a "
                f"snapshot.{later} Set `end_date` (or `clock='any'`) to extend it.")
    if mixed:
        return (f"- **Mixed clocks in this sample (clock='{clock.get('clock')}').** Up to {end}, the returns of "
                f"{_by_date(mixed, 'from')} on run from a close to an intraday snapshot or between sparse snapshots "
                "(flat stretches in the charts, several days' moves bunched into one return); read those segments "
                "with care, or use clock='close_only' without end_date.")
    return f"- **Clocks.** Every crypto return up to {end} runs between UTC closes."


# ---------------------------------------------------------------------------------------- expected warnings

def expected_warnings() -> tuple[type[Warning], ...]:
    """Warning classes a report shows as notes rather than as warnings: offline fallback, late start,
    truncated short series, basket members without market caps, an end cut by ``min_basket_share``."""
    from capflow.data import OfflineFallbackWarning

    return (OfflineFallbackWarning, LateStartWarning, TruncationWarning, CapCoverageWarning, EndRuleWarning)


def call_with_notes(fn, *args, expected: tuple[type[Warning], ...] | None = None, **kwargs):
    """Call ``fn(*args, **kwargs)`` and return ``(result, notes)``: expected warnings become note strings.

    Warnings of the ``expected`` classes (default :func:`expected_warnings`) are captured with
    ``warnings.catch_warnings(record=True)`` and returned as their messages (deduplicated, in order); any
    other warning is re-emitted unchanged, so nothing unexpected is hidden.
    """
    expected = expected_warnings() if expected is None else tuple(expected)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    notes = []
    for w in caught:
        if issubclass(w.category, expected):
            if str(w.message) not in notes:
                notes.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result, notes


def notes_markdown(notes: Iterable[str], title: str = "Notes") -> str:
    """Notes as a Markdown block (``""`` when there are none)."""
    notes = list(notes)
    return f"**{title}.**\n\n" + "\n".join(f"- {n}" for n in notes) if notes else ""


# ---------------------------------------------------------------------------------------- baskets and levels

def basket_table(returns: pd.DataFrame, baskets: Mapping[str, list[str]],
                 caps: pd.DataFrame | None = None) -> pd.DataFrame:
    """Daily-rebalanced basket returns: ``"<name>"`` equal-weighted and ``"<name> (cap)"`` cap-weighted.

    Each row averages the members that have a return there (weights renormalised over them, see
    :func:`capflow.returns.basket_returns`): a member with no bar, or truncated, is out of the basket that row.
    A cap-weighted column exists for baskets where at least one member has a market cap in ``caps`` (crypto
    caps: sparse, the last cap known before each day is used); members without a known cap on a day are left
    out of the cap weights that day, and a :class:`CapCoverageWarning` names them with the days concerned.
    """
    out = {}
    for name, members in baskets.items():
        out[name] = R.basket_returns(returns[members])
        if caps is not None and caps.reindex(columns=members).notna().any().any():
            weights = caps.reindex(columns=members)
            _warn_uncapped(name, returns[members], weights)
            out[f"{name} (cap)"] = R.basket_returns(returns[members], weights=weights)
    frame = pd.DataFrame(out)
    frame.attrs.update({k: v for k, v in returns.attrs.items() if k.startswith("calendar")})
    return frame


def uncapped_days(returns: pd.DataFrame, caps: pd.DataFrame) -> pd.Series:
    """Per member: rows with a return but no market cap known before that row (out of the cap weights)."""
    known = R._cap_weights(returns, caps.reindex(columns=returns.columns))
    return (returns.notna() & known.isna()).sum()


def _warn_uncapped(name: str, returns: pd.DataFrame, caps: pd.DataFrame) -> None:
    miss, have = uncapped_days(returns, caps), returns.notna().sum()
    miss = miss[miss > 0]
    if len(miss):
        warnings.warn(f"cap-weighted basket {name!r}: no market cap known on " + ", ".join(
            f"{m} of {have[a]} days for {_assets.symbol(a)}" for a, m in miss.items()) + "; those members are left"
            " out of the cap weights on those days (the equal-weighted basket keeps them)",
            CapCoverageWarning, stacklevel=3)


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
        The basket's level from its base row (e.g. ``Study.levels[name]``, 100 at the base), UTC index.
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


def basket_exits(truncated: Mapping[str, pd.Timestamp], members: Iterable[str]) -> dict[pd.Timestamp, list[str]]:
    """Truncation dates of a basket's members: ``{last date kept: [asset ids]}``, in date order."""
    members = list(members)
    ser = pd.Series({a: d for a, d in truncated.items() if a in members}, dtype=object)
    return {pd.Timestamp(d): list(g.index) for d, g in ser.groupby(ser)} if len(ser) else {}


def levels(returns: pd.DataFrame, base: object, start: float = 100.0) -> pd.DataFrame:
    """Performance indexed to ``start`` at ``base`` (``start * (1 + cumulative return)``)."""
    return start * (1.0 + R.cumulative_returns(returns, base=base))


# ---------------------------------------------------------------------------------------- performance table

def _asset_row(p: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> dict:
    obs = p.loc[:end].dropna()
    p0 = obs.loc[:start]
    path = obs.loc[p0.index[-1]:] if len(p0) else obs.loc[start:]
    own_end = path.index[-1]  # earlier than ``end`` for a truncated (or delisted) asset: YTD of its own year
    ye = obs.loc[:pd.Timestamp(year=own_end.year - 1, month=12, day=31, tz="UTC")]
    ye_price = ye.iloc[-1] if len(ye) else path.iloc[0]
    return {"start": path.index[0], "end": path.index[-1], "cum_return": path.iloc[-1] / path.iloc[0] - 1,
            "ytd": path.iloc[-1] / ye_price - 1, "max_drawdown": R.drawdowns(path).max_drawdown}


def _basket_row(r: pd.Series, base: pd.Timestamp, end: pd.Timestamp) -> dict:
    lvl = 1.0 + R.cumulative_returns(r.loc[:end], base=base)
    lvl = lvl.loc[:r.last_valid_index()].dropna()  # a basket whose members all ended stops there
    ye = lvl.loc[:pd.Timestamp(year=lvl.index[-1].year - 1, month=12, day=31, tz="UTC")]
    ye_lvl = ye.iloc[-1] if len(ye) else 1.0
    return {"start": lvl.index[0], "end": lvl.index[-1], "cum_return": lvl.iloc[-1] - 1,
            "ytd": lvl.iloc[-1] / ye_lvl - 1, "max_drawdown": R.drawdowns(lvl).max_drawdown}


def performance_table(prices: pd.DataFrame, basket_returns: pd.DataFrame | None, base: object = DEFAULT_BASE,
                      end: object | None = None, late_start: str = "raise") -> pd.DataFrame:
    """Cumulative return, year-to-date return and maximum drawdown since ``base`` for assets and baskets.

    Parameters
    ----------
    prices : DataFrame
        Asset prices (UTC DatetimeIndex, one column per asset id), loaded from on or before ``base``. Asset rows
        use prices directly: ``P_end / P_base - 1`` with ``P_base`` the last price at or before the start.
    basket_returns : DataFrame or None
        Basket returns (from :func:`basket_table`), compounded from ``base``.
    base, end : date-like
        Base date (default 2024-01-02) and end date (default :func:`default_end` of ``prices``).
    late_start : {"raise", "own_start"}
        See :func:`check_base_date`.

    Returns
    -------
    DataFrame
        Indexed by asset id / basket name: ``kind`` (asset/basket), ``symbol``, ``group``, ``start``, ``end``
        (the row's own last date: earlier than ``end`` for an asset truncated by ``short_series="truncate"``,
        whose prices are NaN after its close end), ``cum_return`` (to the row's own end), ``ytd`` (in the year
        of the row's own end, from the last price of the previous calendar year, or the first price if later;
        baskets only exist from ``base``, so their YTD starts at ``base`` when ``base`` is in that year),
        ``max_drawdown`` (over start..own end, negative).
    """
    b = R._utc(base, "base_date")
    e = default_end(prices) if end is None else R._utc(end, "end_date")
    if e <= b:
        raise DivergenceError(f"parameter end_date={e.date()} must be after base_date={b.date()}")
    starts = check_base_date(prices, b, late_start)
    rows = {a: {"kind": "asset", "symbol": _assets.symbol(a), "group": _assets.group_of(a),
                **_asset_row(prices[a], starts[a], e)} for a in prices.columns}
    for name in ([] if basket_returns is None else basket_returns.columns):
        rows[name] = {"kind": "basket", "symbol": name, "group": "basket", **_basket_row(basket_returns[name], b, e)}
    return pd.DataFrame.from_dict(rows, orient="index")


# ---------------------------------------------------------------------------------------- rolling moments

def _rsum(a: np.ndarray, w: int) -> np.ndarray:
    """Sum over the trailing ``w`` rows of a 2-D array (cumulative-sum differences; partial for the first w-1)."""
    c = np.cumsum(a, axis=0)
    out = c.copy()
    out[w:] = c[w:] - c[:-w]
    return out


def _moments(series: list[np.ndarray], w: int) -> tuple[np.ndarray, list[np.ndarray], dict]:
    """Listwise-complete rolling count, means and centred cross-products of 2-D arrays of one shape.

    Each series is shifted by its full-sample mean before the cumulative sums (moments are shift-invariant;
    this keeps the sums small and the differences accurate).
    """
    mask = np.logical_and.reduce([np.isfinite(s) for s in series])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        centre = [np.nan_to_num(np.nanmean(np.where(mask, s, np.nan), axis=0)) for s in series]
    z = [np.where(mask, s - m, 0.0) for s, m in zip(series, centre)]
    n = _rsum(mask.astype(float), w)
    sums = [_rsum(x, w) for x in z]
    cross = {}
    for i in range(len(z)):
        for j in range(i, len(z)):
            with np.errstate(invalid="ignore", divide="ignore"):
                cross[i, j] = _rsum(z[i] * z[j], w) - sums[i] * sums[j] / n
    with np.errstate(invalid="ignore", divide="ignore"):
        means = [sm / n + m for sm, m in zip(sums, centre)]
    return n, means, cross


def _frame(values: np.ndarray, index, columns) -> pd.DataFrame:
    return pd.DataFrame(values, index=index, columns=columns)


def rolling_corr_beta(y: pd.DataFrame, x: pd.DataFrame | pd.Series, window: int,
                      min_periods: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rolling correlation and beta (OLS slope of ``y`` on ``x`` with intercept) over trailing windows.

    Parameters
    ----------
    y : DataFrame
        Returns, one column per series (UTC DatetimeIndex).
    x : Series or DataFrame
        The regressor: a Series (one benchmark for every column) or a DataFrame of y's shape (pairwise).
    window, min_periods : int
        Window length in rows; rows where y or x is missing are left out, and a window needs ``min_periods``
        complete rows (default ``window``).

    Returns
    -------
    (DataFrame, DataFrame)
        Correlation and beta, same index and columns as ``y``, NaN where a window is not filled.
    """
    xv = x.to_numpy(float)[:, None] * np.ones((1, y.shape[1])) if isinstance(x, pd.Series) else x.to_numpy(float)
    n, _, c = _moments([y.to_numpy(float), xv], window)
    ok = (n >= (min_periods or window)) & (c[1, 1] > 0) & (c[0, 0] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = np.where(ok, c[0, 1] / c[1, 1], np.nan)
        corr = np.where(ok, c[0, 1] / np.sqrt(c[0, 0] * c[1, 1]), np.nan)
    return _frame(corr, y.index, y.columns), _frame(beta, y.index, y.columns)


def rolling_two_factor(y: pd.DataFrame | pd.Series, factors: pd.DataFrame, window: int,
                       min_periods: int | None = None) -> pd.DataFrame:
    """Rolling OLS ``y = a + b1 f1 + b2 f2 + e`` and the share of variance each factor explains.

    Parameters
    ----------
    y : Series or DataFrame
        Returns to explain (e.g. the AI-token basket), UTC DatetimeIndex.
    factors : DataFrame
        Exactly two factor return columns (e.g. bitcoin and the AI-equity basket), same index.
    window, min_periods : int
        As in :func:`rolling_corr_beta` (listwise-complete rows).

    Returns
    -------
    DataFrame
        Columns ``alpha, beta_<f1>, beta_<f2>, r2, share_<f1>, share_<f2>, share_residual`` (for a DataFrame
        ``y``: a column MultiIndex ``(statistic, series)``). Shares split R² between the two factors by the
        Shapley (LMG) rule, ``share_1 = (R² - r2_2 + r2_1) / 2`` with ``r2_k`` the one-factor R²: non-negative,
        they add up to R², and ``share_residual = 1 - R²``.
    """
    if factors.shape[1] != 2:
        raise DivergenceError(f"parameter factors must have exactly 2 columns; got {list(factors.columns)}")
    frame = y.to_frame() if isinstance(y, pd.Series) else y
    ones = np.ones((1, frame.shape[1]))
    f1, f2 = (factors.iloc[:, k].to_numpy(float)[:, None] * ones for k in range(2))
    n, means, c = _moments([frame.to_numpy(float), f1, f2], window)
    with np.errstate(invalid="ignore", divide="ignore"):
        det = c[1, 1] * c[2, 2] - c[1, 2] ** 2
        b1 = (c[2, 2] * c[0, 1] - c[1, 2] * c[0, 2]) / det
        b2 = (c[1, 1] * c[0, 2] - c[1, 2] * c[0, 1]) / det
        r2 = (b1 * c[0, 1] + b2 * c[0, 2]) / c[0, 0]
        r2_1, r2_2 = c[0, 1] ** 2 / (c[1, 1] * c[0, 0]), c[0, 2] ** 2 / (c[2, 2] * c[0, 0])
        alpha = means[0] - b1 * means[1] - b2 * means[2]
    ok = (n >= (min_periods or window)) & (det > 0) & (c[0, 0] > 0)
    names = [str(c_) for c_ in factors.columns]
    stats = {"alpha": alpha, f"beta_{names[0]}": b1, f"beta_{names[1]}": b2,
             "r2": r2, f"share_{names[0]}": (r2 - r2_2 + r2_1) / 2, f"share_{names[1]}": (r2 - r2_1 + r2_2) / 2,
             "share_residual": 1 - r2}
    out = pd.concat({k: _frame(np.where(ok, v, np.nan), frame.index, frame.columns) for k, v in stats.items()},
                    axis=1)
    return out.droplevel(1, axis=1) if isinstance(y, pd.Series) else out


def rolling_correlations(returns: pd.DataFrame, pairs: Sequence[tuple[str, str]], windows: Iterable[int],
                         min_periods: int | None = None) -> pd.DataFrame:
    """Rolling correlations of column pairs for several windows: columns ``(window, "A ~ B")``."""
    ws = check_windows(windows, len(returns))
    missing = sorted({c for p in pairs for c in p} - set(returns.columns))
    if missing:
        raise DivergenceError(f"parameter pairs names columns not in the returns: {missing}; valid: "
                              f"{list(returns.columns)}")
    y = returns[[a for a, _ in pairs]].set_axis([f"{a} ~ {b}" for a, b in pairs], axis=1)
    x = returns[[b for _, b in pairs]].set_axis(y.columns, axis=1)
    mp = None if min_periods is None else int(min_periods)
    return pd.concat({w: rolling_corr_beta(y, x, w, mp and min(mp, w))[0] for w in ws}, axis=1,
                     names=["window", "pair"])


def rolling_betas(returns: pd.DataFrame, benchmark: pd.Series, windows: Iterable[int],
                  min_periods: int | None = None) -> dict[str, pd.DataFrame]:
    """Rolling correlation and beta of every column on one benchmark: ``{"corr", "beta"}``, columns
    ``(window, asset)``."""
    ws = check_windows(windows, len(returns))
    res = {w: rolling_corr_beta(returns, benchmark, w, min_periods and min(min_periods, w)) for w in ws}
    return {k: pd.concat({w: res[w][i] for w in ws}, axis=1, names=["window", "asset"])
            for i, k in enumerate(("corr", "beta"))}


# ---------------------------------------------------------------------------------------- spread, cointegration

def log_spread(level: pd.DataFrame, a: str, b: str) -> pd.Series:
    """``log(level_a) - log(level_b)`` of two basket (or asset) levels; the name is ``"a - b"``."""
    for name in (a, b):
        if name not in level.columns:
            raise DivergenceError(f"parameter {name!r} is not a column of the levels; valid: {list(level.columns)}")
    return (np.log(level[a]) - np.log(level[b])).rename(f"{a} - {b}")


def cointegration(y: pd.Series, x: pd.Series, k_ar_diff: int = 1) -> dict:
    """Engle-Granger (``statsmodels.tsa.stattools.coint``) and Johansen (``coint_johansen``) tests on two
    log-level series (rows where either is missing are dropped).

    Returns
    -------
    dict
        ``eg_stat, eg_pvalue, eg_crit_5pct``; ``johansen_trace`` (r=0, r<=1), ``johansen_crit_5pct``,
        ``johansen_rank`` (number of trace statistics above their 5% critical values, in order), ``n``.
    """
    from statsmodels.tsa.stattools import coint
    from statsmodels.tsa.vector_ar.vecm import coint_johansen

    both = pd.concat([y, x], axis=1).dropna()
    if len(both) < 30:
        raise DivergenceError(f"cointegration needs at least 30 common rows; got {len(both)}")
    stat, pval, crit = coint(both.iloc[:, 0], both.iloc[:, 1], trend="c")
    jo = coint_johansen(both.to_numpy(), det_order=0, k_ar_diff=k_ar_diff)
    above = jo.lr1 > jo.cvt[:, 1]
    rank = int(np.argmin(above)) if not above.all() else len(above)
    return {"eg_stat": float(stat), "eg_pvalue": float(pval), "eg_crit_5pct": float(crit[1]),
            "johansen_trace": jo.lr1.tolist(), "johansen_crit_5pct": jo.cvt[:, 1].tolist(),
            "johansen_rank": rank, "n": len(both)}


# ---------------------------------------------------------------------------------------- breaks and regimes

def chow_test(y: pd.Series, break_date: object, X: pd.DataFrame | None = None) -> dict:
    """Chow test of equal coefficients before and after ``break_date`` in ``y = X b + e`` (X gets a constant;
    ``X=None`` tests a shift in the mean). Rows at/after the date form the second sample.

    Returns
    -------
    dict
        ``date, F, pvalue, df_num, df_den, n_before, n_after``.
    """
    from scipy import stats

    d = R._utc(break_date, "break_date")
    data = pd.concat([y.rename("_y"), X], axis=1).dropna() if X is not None else y.rename("_y").dropna().to_frame()
    Z = np.column_stack([np.ones(len(data)), data.drop(columns="_y").to_numpy(float)])
    yy, k = data["_y"].to_numpy(float), Z.shape[1]
    after = (data.index >= d)
    if min(after.sum(), (~after).sum()) <= k:
        raise DivergenceError(f"parameter break_date={d.date()} leaves fewer than {k + 1} rows on one side "
                              f"(sample {data.index[0].date()}..{data.index[-1].date()})")

    def ssr(rows):
        resid = yy[rows] - Z[rows] @ np.linalg.lstsq(Z[rows], yy[rows], rcond=None)[0]
        return float(resid @ resid)

    s_all, s_split = ssr(np.ones(len(yy), bool)), ssr(~after) + ssr(after)
    df_den = len(yy) - 2 * k
    F = ((s_all - s_split) / k) / (s_split / df_den)
    return {"date": d, "F": F, "pvalue": float(stats.f.sf(F, k, df_den)), "df_num": k, "df_den": df_den,
            "n_before": int((~after).sum()), "n_after": int(after.sum())}


def change_points(series: pd.Series, n_breaks: int = 3, model: str = "l2", min_size: int = 20,
                  jump: int = 1) -> pd.DatetimeIndex:
    """Change points of a series by binary segmentation (``ruptures.Binseg``).

    Parameters
    ----------
    series : Series
        E.g. the log spread (``model="l2"``: shifts in level; ``"clinear"``: changes of trend) or returns.
    n_breaks : int
        Number of breaks to place.
    model, min_size, jump
        ruptures cost model, minimum segment length (rows) and grid step.

    Returns
    -------
    DatetimeIndex
        The first timestamp of each new segment.
    """
    import ruptures as rpt

    s = series.dropna()
    if len(s) < (n_breaks + 1) * min_size:
        raise DivergenceError(f"parameter n_breaks={n_breaks} with min_size={min_size} needs at least "
                              f"{(n_breaks + 1) * min_size} rows; the series has {len(s)}")
    algo = rpt.Binseg(model=model, min_size=min_size, jump=jump).fit(s.to_numpy(float).reshape(-1, 1))
    bkps = algo.predict(n_bkps=n_breaks)[:-1]
    return pd.DatetimeIndex(s.index[bkps], name=s.index.name)


@dataclass
class Regimes:
    """Markov-switching result: smoothed probabilities (one column per regime, ordered by volatility, low
    first), a per-regime summary, and the most likely regime per row."""

    probabilities: pd.DataFrame
    summary: pd.DataFrame
    most_likely: pd.Series
    params: dict = field(default_factory=dict)


def markov_regimes(series: pd.Series, k_regimes: int = 2, switching_variance: bool = True,
                   scale: float = 100.0) -> Regimes:
    """Markov-switching mean/variance model (``statsmodels`` ``MarkovRegression``, Hamilton 1989).

    Parameters
    ----------
    series : Series
        E.g. daily changes of the log spread, or a rolling correlation; missing rows are dropped.
    k_regimes : int
        Number of regimes (>= 2).
    switching_variance : bool
        Let the variance switch with the regime.
    scale : float
        The series is multiplied by ``scale`` before fitting (numerical conditioning); the summary is in the
        series' own units.

    Returns
    -------
    Regimes
        ``probabilities`` (smoothed), ``summary`` (mean, volatility, expected duration in rows, share of rows
        most likely in the regime), ``most_likely``.
    """
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    s = series.dropna()
    if k_regimes < 2 or len(s) < 20 * k_regimes:
        raise DivergenceError(f"parameter n_regimes={k_regimes} needs k >= 2 and at least {20 * k_regimes} rows; "
                              f"the series has {len(s)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = MarkovRegression(s.to_numpy(float) * scale, k_regimes=k_regimes, trend="c",
                               switching_variance=switching_variance).fit(disp=False)
    probs = pd.DataFrame(res.smoothed_marginal_probabilities, index=s.index)
    p = dict(zip(res.model.param_names, res.params))
    mean = np.array([p[f"const[{i}]"] for i in range(k_regimes)]) / scale
    var = np.array([p.get(f"sigma2[{i}]", p.get("sigma2")) for i in range(k_regimes)]) / scale ** 2
    order = np.argsort(var, kind="stable")
    probs = probs[order].set_axis([f"regime_{j}" for j in range(k_regimes)], axis=1)
    dur = np.asarray(res.expected_durations, float)[order]
    likely = probs.to_numpy().argmax(axis=1)
    summary = pd.DataFrame({"mean": mean[order], "volatility": np.sqrt(var[order]), "expected_duration": dur,
                            "share_of_rows": np.bincount(likely, minlength=k_regimes) / len(s)},
                           index=probs.columns)
    return Regimes(probs, summary, pd.Series(likely, index=s.index, name="regime"), {"llf": float(res.llf)})


# ---------------------------------------------------------------------------------------- the whole study

def load_inputs(assets: str | Iterable[str], base: object = DEFAULT_BASE, end: object | None = None,
                lookback_days: int = 10, cap_lookback_days: int = 62, clock: str = "close_only",
                short_series: str = "truncate", benchmark: str = BENCHMARK
                ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Daily prices (from ``lookback_days`` before ``base``) and crypto market caps (sparse) for a study.

    Parameters
    ----------
    assets : str or iterable of str
        Asset ids, symbols or group tags (see :func:`capflow.data.load_prices`).
    base, end : date-like
        Base date; end date (None: decided by ``clock``, see below). An explicit ``end`` always wins.
    lookback_days, cap_lookback_days : int
        Prices start ``lookback_days`` before ``base`` (a price at or before the base date exists); market caps
        ``cap_lookback_days`` before it (a cap is known at the base date).
    clock : {"close_only", "any"}
        ``"close_only"`` (default): no crypto return mixes a UTC close with an intraday snapshot; how the
        series whose closes end early are handled is ``short_series``. ``"any"``: no cut, no truncation (the
        study's default end is the last date all assets share).
    short_series : {"truncate", "cut"}
        With ``clock="close_only"``. ``"truncate"`` (default): the sample ends at min(``benchmark``'s last UTC
        close, the equities' shared last date) (or at ``end``); every crypto asset whose closes end earlier is
        NaN after its own close end (never filled): it leaves its baskets from then on. ``"cut"``: everyone ends
        at :func:`close_clock_end`, the last date every crypto asset still has UTC closes.
    benchmark : str
        The crypto benchmark of ``"truncate"`` (default bitcoin; the latest-ending crypto column without it).

    Returns
    -------
    (DataFrame, DataFrame or None)
        Prices (UTC DatetimeIndex, one column per asset id) and crypto market caps (None without crypto; the
        snapshot has no equity caps); both carry ``attrs["provenance"]``. ``prices.attrs["clock"]`` is the
        :meth:`ClockInfo.as_dict` of the crypto columns' clocks (close ends, first snapshot, cut end,
        truncated assets). A :class:`TruncationWarning` names the truncated assets and their end dates.
    """
    from capflow.data import load_prices

    _check_choice("clock", clock, CLOCKS)
    _check_choice("short_series", short_series, SHORT_SERIES)
    b = R._utc(base, "base_date")
    prices = load_prices(assets, b - pd.Timedelta(days=lookback_days), end)
    crypto = [a for a in prices.columns if _assets.resolve(a).is_crypto]
    clocks = price_clocks(crypto, prices.index[0], prices.index[-1]) if crypto else pd.DataFrame(
        index=prices.index[:0])
    e = None if end is None else R._utc(end, "end_date")
    others = prices.drop(columns=crypto)
    others_end = default_end(others) if others.shape[1] else None
    info = clock_info(clocks, clock, e if e is not None or clock == "close_only" else default_end(prices), b,
                      short_series, benchmark, others_end)
    prices = apply_clock(prices, info)
    if info.truncated:
        warnings.warn(truncation_note(info.as_dict()), TruncationWarning, stacklevel=2)
    caps = None
    if crypto:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            caps = load_prices(crypto, b - pd.Timedelta(days=cap_lookback_days), info.cut or end,
                               field="market_cap", missing="drop")
    return prices, caps


def apply_clock(prices: pd.DataFrame, info: ClockInfo) -> pd.DataFrame:
    """Prices as :func:`clock_info` decided: cut at ``info.cut``, truncated columns NaN after their close end,
    ``attrs["clock"] = info.as_dict()`` (read by :func:`run_study`). Other ``attrs`` are kept."""
    out = _keep_attrs(prices, prices.loc[:info.cut] if info.cut is not None else prices)
    out = truncate_short_series(out, info.truncated)
    out.attrs["clock"] = info.as_dict()
    return out


def truncation_note(clock: Mapping, end: object | None = None) -> str:
    """One sentence naming the truncated assets (``clock["truncated"]``) and their end dates.

    ``clock`` is :meth:`ClockInfo.as_dict`; ``end`` the study's end (default ``clock["end"]``).
    """
    trunc = {a: d for a, d in clock.get("truncated", {}).items() if d}
    bench, cut = clock.get("benchmark"), clock.get("cut")
    why = ("end_date" if not cut else f"the last UTC close of {_syms([bench])}"
           if bench and clock.get("close_end", {}).get(bench) == cut else "the equities' shared last date")
    e = clock.get("end") if end is None else str(R._utc(end, "end_date").date())
    return (f"With short_series='truncate' the sample ends on {e} ({why}). Truncated at their own, earlier "
            f"UTC-close end: {_by_date(trunc, 'on')}. Each is NaN after that date (its later intraday snapshots "
            "are not used), leaves its baskets from then on, and its table row ends there.")


def _keep_attrs(src: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    out = out.copy()
    out.attrs = dict(src.attrs)
    return out


def load_hourly(prices: pd.DataFrame, base: object, end: object | None = None) -> pd.DataFrame:
    """Hourly prices of the crypto columns of ``prices`` from the day before ``base`` to ``end`` (inclusive).

    For ``policy="crypto_at_equity_close"`` (:func:`capflow.returns.align`). Hourly bars exist only where the
    source has them (the offline snapshot: a few weeks around the 2025-10 and 2026-02 cascades); the policy
    raises a one-line error naming the coverage when they do not span the sample.
    """
    from capflow.data import load_prices

    crypto = [a for a in prices.columns if _assets.resolve(a).is_crypto]
    if not crypto:
        raise DivergenceError("parameter prices has no crypto columns; hourly prices are only needed for crypto")
    b = R._utc(base, "base_date") - pd.Timedelta(days=1)
    e = default_end(prices) if end is None else R._utc(end, "end_date")  # the whole end day is loaded
    return load_prices(crypto, b, e, freq="1h", missing="drop")


@dataclass
class Study:
    """Everything :func:`run_study` computed (frames indexed by UTC timestamp)."""

    base: pd.Timestamp
    end: pd.Timestamp
    policy: str
    policy_text: str
    members: dict
    returns: pd.DataFrame
    basket_returns: pd.DataFrame
    levels: pd.DataFrame
    table: pd.DataFrame
    correlations: pd.DataFrame
    betas: dict
    two_factor: dict
    spread: pd.Series
    cointegration: dict
    breaks: pd.DatetimeIndex
    chow: pd.DataFrame
    regimes: Regimes | None
    clock: dict = field(default_factory=dict)
    short_series: str | None = None
    truncated: dict = field(default_factory=dict)
    membership: pd.DataFrame | None = None
    end_rule: str = ""


def _default_pairs(cols: Sequence[str]) -> list[tuple[str, str]]:
    cand = [("AI tokens", "Crypto majors"), ("AI tokens", "AI equities"), ("Crypto majors", "AI equities"),
            ("bitcoin", "NVDA")]
    return [p for p in cand if p[0] in cols and p[1] in cols]


def _study_returns(prices, caps, members, base, end, policy, calendar, max_gap, hourly=None, truncated=None):
    rets = R.simple_returns(prices.loc[:end], max_gap=max_gap)
    if policy == "crypto_at_equity_close":  # crypto comes from hourly closes: only the sample needs them
        rets = rets.loc[base:]
    rets = R.align(rets, policy=policy, calendar=calendar, hourly=hourly)
    rets = truncate_short_series(rets.loc[base:end], truncated or {})  # no partial session after a close end
    baskets = basket_table(rets, members, caps)
    return rets, baskets


def study_window(prices: pd.DataFrame, end: object | None = None, short_series: str | None = None
                 ) -> tuple[pd.Timestamp, dict, str | None]:
    """End date, truncated assets and effective ``short_series`` of a study on ``prices``.

    Reads ``prices.attrs["clock"]`` (from :func:`load_inputs`/:func:`apply_clock`); without it (hand-built
    frames) nothing is truncated and the end is :func:`default_end`. ``short_series=None`` means as loaded.
    ``"truncate"``: the end is the latest date all *non-truncated* columns share. ``"cut"`` (close_only
    clock): the end is the latest date all columns share up to the crypto columns' common close end, so
    everyone ends together. An explicit ``end`` always wins.

    Returns
    -------
    (Timestamp, dict, str or None)
        End (UTC), ``{asset: last date kept}`` for the assets truncated before that end, and the mode (None
        when the prices were not loaded with ``clock="close_only"``).
    """
    clk = prices.attrs.get("clock", {})
    mode = short_series or clk.get("short_series")
    if mode is not None:
        _check_choice("short_series", mode, SHORT_SERIES)
    close_only = clk.get("clock") == "close_only"
    if close_only and mode == "truncate" and clk.get("short_series") == "cut":
        raise DivergenceError(f"parameter short_series='truncate': the prices were loaded with short_series='cut' "
                              f"(cut at {clk.get('cut')}); load them with load_inputs(..., short_series='truncate')")
    trunc = {a: R._utc(d, "truncated") for a, d in clk.get("truncated", {}).items()
             if d and a in prices.columns} if close_only and mode == "truncate" else {}
    if end is not None:
        e = R._utc(end, "end_date")
    elif close_only and mode == "cut" and clk.get("close_end"):
        common = min(R._utc(d, "close_end") for a, d in clk["close_end"].items() if d and a in prices.columns)
        e = default_end(prices.loc[:common])
    else:
        kept = prices.drop(columns=list(trunc))
        e = default_end(kept if kept.shape[1] else prices)
    return e, {a: d for a, d in trunc.items() if d < e}, mode if close_only else None


def end_rule(prices: pd.DataFrame, end: object | None, mode: str | None, e: pd.Timestamp) -> str:
    """Which rule set the study end ``e`` of :func:`study_window` (before ``min_basket_share``).

    ``"user end_date"``, ``"<benchmark> close end"`` (``short_series="truncate"``, e.g. ``"bitcoin close end"``),
    ``"common close end"`` (``short_series="cut"``) or ``"latest shared date"`` (the equities' shared last date,
    or any frame without a close-only clock).
    """
    if end is not None:
        return "user end_date"
    clk = prices.attrs.get("clock", {})
    if mode == "cut" and clk.get("close_end"):
        return "common close end"
    bench = clk.get("benchmark")
    if mode == "truncate" and bench and clk.get("close_end", {}).get(bench) == str(e.date()):
        return f"{bench} close end"
    return "latest shared date"


def _check_share(min_basket_share: float | None) -> None:
    if min_basket_share is not None and not (isinstance(min_basket_share, (int, float))
                                             and 0 < min_basket_share <= 1):
        raise DivergenceError(f"parameter min_basket_share={min_basket_share!r} is not valid; use a number in "
                              "(0, 1] or None (no rule)")


def _membership_cut(rets: pd.DataFrame, members: Mapping[str, list[str]], base: pd.Timestamp, e: pd.Timestamp,
                    share: float) -> tuple[pd.Timestamp, list[str]] | None:
    """``(new end, baskets thin at e)`` when ``min_basket_share`` cuts the end before ``e``; else None."""
    size = basket_membership(rets, members)
    cut = membership_end(size, share)
    if cut is None or cut >= e or cut <= base:
        return None
    thin = size.columns[size.iloc[-1] < share * size.max()].tolist()
    return cut, thin


def _note_cut(clock: dict, e0: pd.Timestamp, rule0: str, cut: pd.Timestamp, thin: list[str], share: float,
              exits: Mapping[str, pd.Timestamp], truncated: Mapping[str, pd.Timestamp]) -> dict:
    """Warn about the cut (:class:`EndRuleWarning`) and return the study's clock dict updated to the new end."""
    iso = {a: str(d.date()) for a, d in exits.items() if d >= cut}
    warnings.warn(f"min_basket_share={share}: the study ends on {cut.date()} instead of {e0.date()} ({rule0}), the "
                  f"last session on which every basket keeps at least {share:.0%} of its largest membership; after "
                  f"it {', '.join(thin)} would fall below that (last UTC closes: {_by_date(iso, 'on')}). Set "
                  "end_date to keep the thin tail (reported) or min_basket_share=None.", EndRuleWarning, stacklevel=3)
    return {**clock, "end": str(cut.date()), "truncated": {a: str(d.date()) for a, d in truncated.items()},
            "membership_cut": {"min_basket_share": share, "uncut_end": str(e0.date()), "uncut_rule": rule0,
                               "thin": ", ".join(thin), "exits": iso}}


def _levels_to_last(returns: pd.DataFrame, base: pd.Timestamp) -> pd.DataFrame:
    """:func:`levels` masked after each column's last return (a truncated asset's line stops, not flat)."""
    lvl = levels(returns, base)
    last = returns.apply(lambda c: c.last_valid_index()).reindex(lvl.columns)
    ns = last.fillna(lvl.index[-1]).map(lambda t: pd.Timestamp(t).value).to_numpy()
    return lvl.mask(lvl.index.asi8[:, None] > ns[None, :])


def run_study(prices: pd.DataFrame, caps: pd.DataFrame | None = None,
              baskets: Mapping[str, str | Sequence[str]] = DEFAULT_BASKETS, base: object = DEFAULT_BASE,
              end: object | None = None, windows: Iterable[int] = (30, 90, 180), policy: str = "equity_sessions",
              calendar: str = "XNYS", n_regimes: int = 2, n_breaks: int = 3, chow_dates: Iterable = (),
              late_start: str = "raise", max_gap: int | None = 7, spread: tuple[str, str] = ("AI tokens",
              "AI equities"), factors: tuple[str, str] = ("bitcoin", "AI equities"), target: str = "AI tokens",
              pairs: Sequence[tuple[str, str]] | None = None, hourly: pd.DataFrame | None = None,
              short_series: str | None = None, min_basket_share: float | None = 0.5) -> Study:
    """Run the divergence study on loaded prices (see the module docstring and ``notebooks/03_divergence``).

    Returns are simple returns over each asset's own bars not bridging gaps longer than ``max_gap`` rows (sparse
    snapshot stretches do not become one giant return), put on one clock by ``policy``
    (:func:`capflow.returns.align`), cut to ``[base, end]``. Baskets are daily-rebalanced (equal, and cap-weighted
    where caps exist). The performance table uses prices directly. Rolling statistics use ``windows`` rows;
    the two-factor model explains ``target`` by ``factors``; the spread is ``log level a - log level b``;
    breaks are searched on the spread, Chow tests run on the two-factor regression at ``chow_dates``; the
    Markov model is fitted to the spread's daily changes. ``hourly`` (crypto hourly prices, e.g. from
    :func:`load_hourly`) is needed by ``policy="crypto_at_equity_close"`` only. ``prices.attrs["clock"]``
    (from :func:`load_inputs`) is kept in ``Study.clock``.

    ``short_series`` (None: as loaded, see :func:`study_window`) decides the end and the truncated assets.
    A truncated asset's returns are NaN after its close end (on a session clock: after the last session it
    completes), so from then on it is out of every basket, whose weights renormalise over the remaining members
    (``Study.membership`` counts them per row). Rolling statistics and the two-factor model run on the basket
    return series as they are: a window that spans a truncation date mixes the basket before and after it.

    ``min_basket_share`` (default 0.5; None: no rule) applies only without an explicit ``end``: the end is cut
    to the last row at which every basket still has at least that share of its largest membership
    (:func:`membership_end`), with an :class:`EndRuleWarning`; ``Study.end_rule`` names the rule that set the
    end (``"basket membership >= 50%"``, or :func:`end_rule`). With an explicit ``end`` nothing is cut (a thin
    tail is reported by :func:`summary`).
    """
    b = R._utc(base, "base_date")
    _check_share(min_basket_share)
    e, truncated, mode = study_window(prices, end, short_series)
    rule = end_rule(prices, end, mode, e)
    clock = dict(prices.attrs.get("clock", {}))
    prices = truncate_short_series(prices, truncated)
    members = resolve_baskets(baskets, prices.columns)
    rets, bask = _study_returns(prices, caps, members, b, e, policy, calendar, max_gap, hourly, truncated)
    cut = _membership_cut(rets, members, b, e, min_basket_share) if end is None and min_basket_share else None
    if cut is not None:
        exits, truncated = truncated, {a: d for a, d in truncated.items() if d < cut[0]}
        clock = _note_cut(clock, e, rule, *cut, min_basket_share, exits, truncated)
        e, rule = cut[0], f"basket membership >= {min_basket_share:.0%}"
        rets, bask = _study_returns(prices, caps, members, b, e, policy, calendar, max_gap, hourly, truncated)
    table_prices = prices.loc[:e]
    ws = check_windows(windows, len(rets))
    table = performance_table(table_prices, bask, b, e, late_start)
    both = pd.concat([rets, bask], axis=1)
    lvl = _levels_to_last(both, b)
    corr = rolling_correlations(both, pairs if pairs is not None else _default_pairs(both.columns), ws)
    betas = rolling_betas(bask, both[factors[0]], ws)
    two = {w: rolling_two_factor(both[target], both[list(factors)], w) for w in ws}
    spr = log_spread(lvl, *spread)
    chow = pd.DataFrame([chow_test(both[target], d, both[list(factors)]) for d in chow_dates])
    regimes = markov_regimes(spr.diff(), n_regimes) if n_regimes else None
    return Study(b, e, policy, R.policy_text(rets), members, rets, bask, lvl, table, corr, betas, two, spr,
                 cointegration(np.log(lvl[spread[0]]), np.log(lvl[spread[1]])),
                 change_points(spr, n_breaks) if n_breaks else pd.DatetimeIndex([]), chow, regimes,
                 clock, mode, truncated, basket_membership(rets, members), rule)


def mixed_clock_start(study: Study) -> pd.Timestamp | None:
    """First date on which a crypto series in the study turns to intraday snapshots (None: no mixing)."""
    dates = [pd.Timestamp(d, tz="UTC") for d in study.clock.get("mixed", {}).values() if d]
    return min(dates) if dates else None


def _thin_tails(study: Study) -> dict:
    """:func:`thin_tail` of every equal-weighted basket that ends thin (JSON-ready)."""
    if study.membership is None:
        return {}
    out = {}
    for name in study.membership.columns:
        t = thin_tail(study.levels[name], study.membership[name])
        if t:
            out[name] = {**t, "last_full": str(t["last_full"].date()),
                         "cum_return_full": round(t["cum_return_full"], 6), "tail_return": round(t["tail_return"], 6)}
    return out


def summary(study: Study) -> dict:
    """JSON-ready summary of a :class:`Study` (numbers computed, never typed in)."""
    t = study.table
    last_corr = study.correlations.ffill().iloc[-1]
    shares = {w: f.filter(like="share_").mean().round(4).to_dict() for w, f in study.two_factor.items()}
    size = {} if study.membership is None else study.membership.iloc[-1].astype(int).to_dict()
    return {"base_date": str(study.base.date()), "end_date": str(study.end.date()),
            "data_as_of": str(study.end.date()), "end_rule": study.end_rule,
            "end_without_rule": (study.clock.get("membership_cut") or {}).get("uncut_end"),
            "calendar_policy": study.policy, "calendar_policy_text": study.policy_text,
            "clock": study.clock.get("clock"), "short_series": study.short_series,
            "truncated": {a: str(d.date()) for a, d in study.truncated.items()}, "basket_size_at_end": size,
            "thin_tail": _thin_tails(study),
            "clock_cut": study.clock.get("cut"),
            "clock_binding": study.clock.get("binding", []), "mixed_clocks": study.clock.get("mixed", {}),
            "baskets": study.members,
            "cum_return": t["cum_return"].round(6).to_dict(), "max_drawdown": t["max_drawdown"].round(6).to_dict(),
            "latest_rolling_correlation": {f"{w}|{p}": round(float(v), 4) for (w, p), v in last_corr.items()},
            "mean_variance_shares": {str(k): v for k, v in shares.items()},
            "cointegration": study.cointegration, "breaks": [str(d.date()) for d in study.breaks],
            "chow": study.chow.astype({"date": str}).to_dict(orient="records") if len(study.chow) else [],
            "regimes": None if study.regimes is None else study.regimes.summary.round(6).to_dict(orient="index")}
