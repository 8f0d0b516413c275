"""Data quality of price series: coverage, gaps, duplicates, bad values, stale runs, jumps, clock switches.

Gaps are measured against each asset's own calendar: every period for 24/7 crypto (daily bars at 00:00 UTC,
hourly, 4-hourly), the exchange sessions of ``exchange_calendars`` for equities (``XNYS``, ``XKRX``...). A
*gap* is a stretch of missing periods; isolated observations inside it (fewer than ``island`` in a row, e.g.
one monthly point) do not end it, so a series kept alive by sparse points still shows its hole.

A *clock switch* is a change between a daily close (Binance, 00:00 UTC) and an intraday snapshot
(``cg_snap_*``, taken around 09:00-18:00 UTC): returns across it mix two clocks.

Examples
--------
>>> quality_report("RENDER,ICP", "2023-01-01", "2026-07-31")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from capflow import calendars
from capflow import assets as _assets
from capflow.data import resolve, snapshot
from capflow.data.store import DataRequestError, resolution_order, short_sources, validate_request

MAX_LISTED_DATES = 5


class DataQualityError(ValueError):
    """The data cannot support the requested analysis (message names the assets and the failing measure)."""


# --------------------------------------------------------------------------------------------- calendars


def expected_index(asset: _assets.Asset, freq: str, first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    """Periods an asset should have a bar for between ``first`` and ``last`` (inclusive), UTC.

    Crypto: every period of ``freq``. Equities (daily): the sessions of the asset's exchange calendar, labelled
    at 00:00 UTC of the session date. Equities intraday: not modelled (empty index).
    """
    if last < first:
        return pd.DatetimeIndex([], tz="UTC")
    if asset.is_crypto:
        step = resolve.cache.STEPS[freq]
        return pd.date_range(first.ceil(step), last.floor(step), freq=step, tz="UTC")
    if freq != "1d":
        return pd.DatetimeIndex([], tz="UTC")
    return calendars.sessions(asset.calendar, first, last).in_range(first, last)


# --------------------------------------------------------------------------------------------- run helpers


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end positions (inclusive) of the runs of True in a boolean array."""
    m = np.concatenate(([False], np.asarray(mask, bool), [False]))
    d = np.diff(m.astype(np.int8))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1


def gap_runs(expected: pd.DatetimeIndex, observed: pd.DatetimeIndex, island: int = 3) -> pd.DataFrame:
    """Stretches of missing expected periods.

    Parameters
    ----------
    expected, observed : DatetimeIndex
        The calendar's periods and the timestamps that have a value.
    island : int
        Runs of fewer than ``island`` observed periods between two missing ones are absorbed into the gap.

    Returns
    -------
    DataFrame
        ``start, end`` (first and last missing period), ``missing`` (periods without a value), ``periods``
        (length of the stretch), sorted by start.
    """
    missing = ~expected.isin(observed)
    if not missing.any():
        return pd.DataFrame(columns=["start", "end", "missing", "periods"])
    s_obs, e_obs = _runs(~missing)
    short = (e_obs - s_obs + 1 < island) & (s_obs > 0) & (e_obs < len(missing) - 1)
    stretch = missing.copy()
    for a, b in zip(s_obs[short], e_obs[short]):  # one slice per island, not per period
        stretch[a:b + 1] = True
    s, e = _runs(stretch)
    csum = np.concatenate(([0], np.cumsum(missing)))
    return pd.DataFrame({"start": expected[s], "end": expected[e], "missing": csum[e + 1] - csum[s],
                         "periods": e - s + 1})


def stale_runs(values: pd.Series, periods: int = 5) -> pd.DataFrame:
    """Runs of at least ``periods`` consecutive observations with the same value: ``start, end, periods, value``."""
    v = values.to_numpy(float)
    same = np.concatenate(([False], v[1:] == v[:-1]))
    s, e = _runs(same)
    s = s - 1  # the run starts at the first of the equal values
    keep = e - s + 1 >= periods
    s, e = s[keep], e[keep]
    return pd.DataFrame({"start": values.index[s], "end": values.index[e], "periods": e - s + 1, "value": v[s]})


def jump_outliers(values: pd.Series, k: float = 10.0) -> pd.DataFrame:
    """Jumps whose log return is more than ``k`` robust sigmas (1.4826 MAD) from the median.

    Returns
    -------
    DataFrame
        ``date`` (the bar after the jump), ``log_return``, ``sigmas``.
    """
    v = values[values > 0].to_numpy(float)
    if len(v) < 3:
        return pd.DataFrame(columns=["date", "log_return", "sigmas"])
    r = np.diff(np.log(v))
    med = np.median(r)
    sigma = 1.4826 * np.median(np.abs(r - med))
    z = np.abs(r - med) / sigma if sigma > 0 else np.zeros_like(r)
    hit = np.flatnonzero(z > k)
    idx = values[values > 0].index[1:]
    return pd.DataFrame({"date": idx[hit], "log_return": r[hit], "sigmas": z[hit]})


def clock_switches(tags: pd.Series) -> pd.DataFrame:
    """Changes between close and intraday-snapshot clocks in a per-row source tag series.

    Returns
    -------
    DataFrame
        ``date, from_source, to_source, from_clock, to_clock`` for each bar whose clock differs from the previous
        bar's (see :func:`capflow.data.snapshot.clock_of`).
    """
    tags = tags.fillna("unknown").astype(str)
    clocks = tags.map({t: snapshot.clock_of(t) for t in tags.unique()})
    change = (clocks != clocks.shift()).to_numpy()
    change[:1] = False
    pos = np.flatnonzero(change)
    return pd.DataFrame({"date": tags.index[pos], "from_source": tags.to_numpy()[pos - 1],
                         "to_source": tags.to_numpy()[pos], "from_clock": clocks.to_numpy()[pos - 1],
                         "to_clock": clocks.to_numpy()[pos]})


# --------------------------------------------------------------------------------------------- per asset


def _duplicates(asset: _assets.Asset, freq: str, layer: str) -> int:
    """Duplicated rows in the raw source: same (time, asset, source) in the snapshot; the cache is unique."""
    if layer != "snapshot":
        return 0
    name = resolve.snapshot_file(asset, freq)
    if name == "crypto_daily":
        raw = snapshot.read(name)
        raw = raw.loc[raw["asset"] == asset.id]
        return int(raw.duplicated(["date", "source"]).sum())
    raw = resolve._by_asset(name, "asset" if asset.is_crypto else "ticker").get(asset.id if asset.is_crypto
                                                                                 else asset.yahoo)
    return 0 if raw is None else int(raw.duplicated(snapshot.FILES[name][2]).sum())


def _assess(asset: _assets.Asset, long: pd.DataFrame, layer: str, req, opts: dict) -> tuple[dict, list[dict]]:
    """One report row and the issue rows of one asset's ``[value, source]`` frame."""
    values = long["value"]
    first, last = long.index[0], long.index[-1]
    expected = expected_index(asset, req.freq, first, last)
    now = pd.Timestamp.now(tz="UTC").floor(resolve.cache.STEPS[req.freq])
    asked = expected_index(asset, req.freq, req.start, min(resolve.end_inclusive(req), now))
    on_cal = int(long.index.isin(expected).sum()) if len(expected) else len(long)
    gaps = gap_runs(expected, long.index, opts["island"]) if len(expected) else gap_runs(long.index, long.index)
    stale = stale_runs(values, opts["stale_periods"])
    jumps = jump_outliers(values, opts["k"])
    clocks = clock_switches(long["source"])
    to_snap = clocks.loc[clocks["to_clock"] == "snapshot", "date"]
    longest = gaps.loc[gaps["missing"].idxmax()] if len(gaps) else None
    tags = long["source"].fillna("unknown").astype(str)
    row = {"asset": asset.id, "symbol": asset.symbol, "calendar": asset.calendar, "layer": layer,
           "sources": short_sources(tags.value_counts().to_dict()),
           "first": first, "last": last, "rows": len(long), "expected": len(expected),
           "coverage_pct": 100.0 * on_cal / len(expected) if len(expected) else np.nan,
           "request_coverage_pct": 100.0 * long.index.isin(asked).sum() / len(asked) if len(asked) else np.nan,
           "missing": int(gaps["missing"].sum()) if len(gaps) else 0, "gaps": len(gaps),
           "longest_gap_start": longest["start"] if longest is not None else pd.NaT,
           "longest_gap_end": longest["end"] if longest is not None else pd.NaT,
           "longest_gap_missing": int(longest["missing"]) if longest is not None else 0,
           "duplicates": _duplicates(asset, req.freq, layer),
           "off_calendar": len(long) - on_cal, "non_positive": int((values <= 0).sum()),
           "stale_runs": len(stale), "longest_stale": int(stale["periods"].max()) if len(stale) else 0,
           "outliers": len(jumps), "outlier_dates": _dates(jumps["date"]),
           "source_switches": int((tags != tags.shift()).iloc[1:].sum()),
           "clock_switches": len(clocks), "first_clock_switch": to_snap.iloc[0] if len(to_snap) else pd.NaT}
    return row, _issue_rows(asset, gaps, stale, jumps, clocks, values)


def _dates(index: Iterable) -> str:
    d = [str(pd.Timestamp(x).date()) if pd.Timestamp(x) == pd.Timestamp(x).normalize() else str(x) for x in index]
    return ", ".join(d[:MAX_LISTED_DATES]) + (f" (+{len(d) - MAX_LISTED_DATES} more)" if len(d) > MAX_LISTED_DATES
                                              else "")


def _issue_rows(asset, gaps, stale, jumps, clocks, values) -> list[dict]:
    out = [{"asset": asset.id, "kind": "gap", "start": g.start, "end": g.end,
            "detail": f"{g.missing} of {g.periods} periods missing"} for g in gaps.itertuples()]
    out += [{"asset": asset.id, "kind": "stale", "start": s.start, "end": s.end,
             "detail": f"value {s.value:g} repeated {s.periods} periods"} for s in stale.itertuples()]
    out += [{"asset": asset.id, "kind": "outlier", "start": j.date, "end": j.date,
             "detail": f"log return {j.log_return:+.3f} ({j.sigmas:.1f} robust sigmas)"} for j in jumps.itertuples()]
    out += [{"asset": asset.id, "kind": "clock_switch", "start": c.date, "end": c.date,
             "detail": f"{c.from_source} ({c.from_clock}) -> {c.to_source} ({c.to_clock})"} for c in clocks.itertuples()]
    bad = values[values <= 0]
    out += [{"asset": asset.id, "kind": "non_positive", "start": t, "end": t, "detail": f"value {v:g}"}
            for t, v in bad.items()]
    return out


# --------------------------------------------------------------------------------------------- public


REPORT_COLUMNS = ("asset", "symbol", "calendar", "layer", "sources", "first", "last", "rows", "expected",
                  "coverage_pct", "request_coverage_pct", "missing", "gaps", "longest_gap_start", "longest_gap_end",
                  "longest_gap_missing", "duplicates", "off_calendar", "non_positive", "stale_runs", "longest_stale",
                  "outliers", "outlier_dates", "source_switches", "clock_switches", "first_clock_switch")
ISSUE_COLUMNS = ("asset", "kind", "start", "end", "detail")


def _evaluate(assets, start, end, freq, field, sources, island, stale_periods, k):
    req = validate_request(assets, start, end, freq, field)
    order = resolution_order(sources)
    opts = {"island": island, "stale_periods": stale_periods, "k": k}
    rows, issues = [], []
    for asset in req.assets:
        got = resolve.resolve_long(asset, req, order, drop_missing=True)
        if isinstance(got, str):
            rows.append({"asset": asset.id, "symbol": asset.symbol, "calendar": asset.calendar, "rows": 0,
                         "coverage_pct": 0.0, "request_coverage_pct": 0.0, "sources": got})
            issues.append({"asset": asset.id, "kind": "no_data", "start": req.start, "end": req.end, "detail": got})
            continue
        row, found = _assess(asset, got[0], got[1], req, opts)
        rows.append(row)
        issues += found
    report = pd.DataFrame(rows).reindex(columns=list(REPORT_COLUMNS))
    return report, pd.DataFrame(issues).reindex(columns=list(ISSUE_COLUMNS))


def quality_report(assets: str | Iterable[str], start: object, end: object | None = None, freq: str = "1d",
                   field: str = "price", sources: Iterable[str] | None = None, island: int = 3,
                   stale_periods: int = 5, k: float = 10.0) -> pd.DataFrame:
    """Quality of each asset's series, one row per asset.

    Parameters
    ----------
    assets, start, end, freq, field, sources
        As in :func:`capflow.data.load_prices` (data resolved through the same layers).
    island : int
        Fewer than ``island`` observations in a row inside a gap do not end it.
    stale_periods : int
        A stale run is the same value on at least this many consecutive observations.
    k : float
        A jump is an outlier when its log return is beyond ``k`` robust sigmas.

    Returns
    -------
    DataFrame
        Columns :data:`REPORT_COLUMNS`: coverage (``first, last, rows, expected``: calendar periods between
        first and last, ``coverage_pct`` of them observed, ``request_coverage_pct`` of the asked range up to now),
        gaps (count, longest start..end and missing periods), ``duplicates`` (raw source rows), ``off_calendar``
        rows, ``non_positive`` values, stale runs, outlier jumps (count and dates) and source/clock switches
        (count and the first switch from a close to a snapshot). An asset without data has ``rows`` 0.
    """
    return _evaluate(assets, start, end, freq, field, sources, island, stale_periods, k)[0]


def quality_issues(assets: str | Iterable[str], start: object, end: object | None = None, freq: str = "1d",
                   field: str = "price", sources: Iterable[str] | None = None, island: int = 3,
                   stale_periods: int = 5, k: float = 10.0) -> pd.DataFrame:
    """Every issue found by :func:`quality_report` as a long table ``asset, kind, start, end, detail``.

    ``kind`` is one of ``gap``, ``stale``, ``outlier``, ``clock_switch``, ``non_positive``, ``no_data``.
    """
    return _evaluate(assets, start, end, freq, field, sources, island, stale_periods, k)[1]


def require_quality(assets: str | Iterable[str], start: object, end: object | None = None, freq: str = "1d",
                    min_coverage: float = 90.0, max_gap: int | None = None, allow_clock_switch: bool = True,
                    allow_non_positive: bool = False, **kwargs) -> pd.DataFrame:
    """Check that the data can support an analysis; return the report or raise :class:`DataQualityError`.

    Parameters
    ----------
    min_coverage : float
        Minimum ``request_coverage_pct`` (percent of the asked calendar periods, up to now, with a value).
    max_gap : int, optional
        Maximum missing periods in the longest gap.
    allow_clock_switch : bool
        When False, a close/snapshot clock switch inside the range fails the check.
    allow_non_positive : bool
        When False, any value <= 0 fails the check.
    **kwargs
        Passed to :func:`quality_report` (``field``, ``sources``, ``island``, ``stale_periods``, ``k``).
    """
    rep = quality_report(assets, start, end, freq, **kwargs)
    fails = []
    for r in rep.itertuples():
        if not r.rows or r.request_coverage_pct < min_coverage:
            fails.append(f"{r.symbol} covers {0.0 if not r.rows else r.request_coverage_pct:.1f}% of the asked "
                         f"periods (min_coverage={min_coverage:g}%)")
        elif max_gap is not None and r.longest_gap_missing > max_gap:
            fails.append(f"{r.symbol} misses {r.longest_gap_missing} periods in {str(r.longest_gap_start)[:10]}.."
                         f"{str(r.longest_gap_end)[:10]} (max_gap={max_gap})")
        elif not allow_clock_switch and r.clock_switches:
            fails.append(f"{r.symbol} switches clock {r.clock_switches}x, first on {str(r.first_clock_switch)[:10]} "
                         "(allow_clock_switch=False)")
        elif not allow_non_positive and r.non_positive:
            fails.append(f"{r.symbol} has {r.non_positive} values <= 0 (allow_non_positive=False)")
    if fails:
        raise DataQualityError(f"data cannot support this analysis over {start}..{end} at {freq}: " + "; ".join(fails))
    return rep


__all__ = ["quality_report", "quality_issues", "require_quality", "DataQualityError", "DataRequestError",
           "expected_index", "gap_runs", "stale_runs", "jump_outliers", "clock_switches"]
