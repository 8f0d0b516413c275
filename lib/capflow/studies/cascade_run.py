"""The pure half of the cascade study: from loaded inputs to a :class:`~capflow.studies.cascade_view.CascadeResult`.

Frames in, frames out; no data is read here (see :func:`capflow.studies.cascade.load_inputs`). The rules each
step applies are in the docstring of :mod:`capflow.studies.cascade`.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np
import pandas as pd

from capflow import assets as _assets
from capflow import calendars
from capflow.cascade import clean, moves
from capflow.studies.base import Notes

#: The statistics the robustness table reports next to each CAAR.
ROBUST_TESTS = ("bmp", "kp", "grank")


@dataclass
class Windows:
    """Each asset's window bounds as bar labels: estimation start/end, event start/end."""

    est: dict[str, tuple[pd.Timestamp, pd.Timestamp]]
    evt: dict[str, tuple[pd.Timestamp, pd.Timestamp]]


def _windows(returns: pd.DataFrame, events: pd.DataFrame, p) -> Windows:
    """Bar labels of each asset's windows, counted in its own trading periods (its non-NaN return rows)."""
    est, evt = {}, {}
    (e0, e1), (v0, v1) = p.estimation_window, p.event_window
    for r in events.itertuples():
        bars = returns.index[returns[r.asset].notna().to_numpy()] if r.asset in returns.columns else returns.index[:0]
        k = bars.searchsorted(r.timestamp)
        if k >= len(bars):
            continue
        pick = lambda j: bars[min(max(k + j, 0), len(bars) - 1)]  # noqa: E731 - clipped to the data
        est[r.asset], evt[r.asset] = (pick(e0), pick(e1)), (pick(v0), pick(v1))
    return Windows(est, evt)


def _drop(events: pd.DataFrame, assets: dict[str, str], notes: Notes, kind: str, stage: str,
          reason: str) -> pd.DataFrame:
    for a, detail in assets.items():
        notes.add(kind, stage, f"{_assets.symbol(a)} ({detail})" if detail else _assets.symbol(a), reason)
    return events.loc[~events["asset"].isin(list(assets))]


def _exclusions(p, inputs, events: pd.DataFrame) -> dict[str, pd.DatetimeIndex]:
    """Days to remove from each asset's estimation sample: other cascades (± pad) and capex sessions."""
    cascades = clean.exclusion_days(inputs.catalog["date"], int(p.exclude_pad), skip=p.t0)
    capex_groups = {g.strip() for g in str(p.exclude_capex_groups or "").split(",") if g.strip()}
    cx = inputs.capex_events
    out = {}
    for r in events.itertuples():
        days = cascades
        if r.group in capex_groups and len(cx):
            days = days.union(pd.DatetimeIndex(cx.loc[cx["asset"] == r.asset, "timestamp"]).normalize())
        out[r.asset] = days
    return out


def _study(returns, events, market, p, model: str, n_boot: int, tests=None, **kw):
    from capflow.eventstudy import event_study
    from capflow.studies.base import quiet

    if events.empty:
        return None
    with quiet():  # the engine's drop summary becomes notes, never a stderr line on a published page
        return event_study(returns, events, market=market, model=model,
                       estimation_window=tuple(p.estimation_window), event_window=tuple(p.event_window),
                       car_windows=tuple(map(tuple, p.car_windows)), min_estimation=int(p.min_estimation),
                       n_boot=n_boot, seed=p.seed, alpha=p.alpha, tests=tests, **kw)


def _robustness(returns: pd.DataFrame, excluded: pd.DataFrame, events, market, p) -> pd.DataFrame:
    """The headline CAAR by group under three models, with and without the estimation exclusions."""
    from capflow.studies.cascade import MODELS

    rows = []
    for model in MODELS:
        for clean_flag, excl in (("clean", excluded), ("all days", None)):
            res = _study(returns, events, market, p, model, 0, tests=ROBUST_TESTS, estimation_exclude=excl)
            if res is None:
                continue
            summ = res.summary()
            summ = summ.loc[summ["window"] == p.headline_window]
            for s in summ.loc[summ["group"] != "all"].itertuples():
                rows.append({"group": s.group, "model": model, "estimation": clean_flag, "caar": s.caar,
                             "n": s.n, **{f"{t}_p": getattr(s, f"{t}_p", np.nan) for t in ROBUST_TESTS}})
    return pd.DataFrame(rows)


def _off_clock(events: pd.DataFrame) -> pd.Series:
    """Events whose asset trades on another exchange clock than its benchmark (e.g. KRX against XNYS)."""
    bench_cal = events["benchmark"].map(lambda b: _assets.resolve(b).calendar)
    return (events["calendar"] != bench_cal) & (events["calendar"] != calendars.CRYPTO) & (
        bench_cal != calendars.CRYPTO)


def _engine_notes(res, notes: Notes, stage: str, by_event: bool = False) -> None:
    """One note per event the engine dropped (subject: the asset, or the event id with ``by_event``)."""
    if res is None:
        return
    for r in res.dropped.itertuples():
        notes.add("dropped", stage, r.event_id if by_event else _assets.symbol(r.asset), r.reason)


def _moves(inputs, p) -> pd.DataFrame:
    cols = list(inputs.daily_close.columns)
    day0 = {a: calendars.anchor_one(inputs.event_time, _assets.resolve(a).calendar, "1d") for a in cols}
    crypto = {a for a in cols if _assets.resolve(a).is_crypto}
    return moves.raw_moves(inputs.daily_close, day0, inputs.intraday_lows, inputs.session_open,
                           inputs.session_low, crypto)


def _anatomy(inputs, p):
    from capflow.cascade import crash_anatomy

    close = inputs.hourly.get("close") if inputs.hourly else None
    if close is None or close.empty or not len(close.columns):
        return None
    return crash_anatomy(inputs.hourly["high"], inputs.hourly["low"], close, inputs.event_time,
                         p.anatomy_lookback, p.anatomy_horizon, p.cross_threshold, reference="bitcoin",
                         missing=inputs.missing_hourly)


def run(inputs, params=None):
    """Run one cascade study on loaded inputs (pure); see :mod:`capflow.studies.cascade` for the rules.

    Returns
    -------
    capflow.studies.cascade_view.CascadeResult
    """
    from capflow.returns import bar_returns
    from capflow.studies.cascade_view import CascadeResult

    p = params or inputs.params
    notes = Notes(inputs.notes.items)
    returns = bar_returns(inputs.prices, p.freq)
    events = inputs.events.loc[inputs.events["asset"].isin(returns.columns)
                               & inputs.events["benchmark"].isin(returns.columns)].reset_index(drop=True)
    win = _windows(returns, events, p)
    mixed: dict[str, str] = {}
    if p.freq == "1d" and len(inputs.sources.columns):
        mixed = clean.mixed_clock(inputs.sources, {a: (lo, win.evt[a][1]) for a, (lo, _) in win.est.items()})
        if p.keep_mixed_clock:
            for a, detail in mixed.items():
                notes.add("caveat", "clock", f"{_assets.symbol(a)} ({detail})", f"kept on request: {clean.MIXED_CLOCK}")
        else:
            events = _drop(events, mixed, notes, "dropped", "clock", clean.MIXED_CLOCK)
    conf = clean.confounders(win.evt, inputs.capex_events, inputs.catalog, p.t0)
    conf = conf.loc[conf["asset"].isin(events["asset"])]
    if p.drop_confounded and len(conf):
        events = _drop(events, {a: "" for a in conf["asset"]}, notes, "dropped", "confounders",
                       "a capex release or another cascade inside its event window (drop_confounded=True)")
    excl = _exclusions(p, inputs, events)
    excluded, removed = clean.exclusion_frame(returns, excl, {a: w[0] for a, w in win.evt.items()})
    market = returns[sorted(set(events["benchmark"]))]
    off = _off_clock(events)
    main_ev, off_ev = events.loc[~off], events.loc[off]
    res = _study(returns, main_ev, market, p, p.model, int(p.n_boot), estimation_exclude=excluded)
    dims = (_study(returns, off_ev, market, p, "dimson", 0, dimson_lags=1, estimation_exclude=excluded)
            if len(off_ev) else None)
    _engine_notes(res, notes, "event study")
    _engine_notes(dims, notes, "event study (Dimson)")
    for a in off_ev["asset"]:
        notes.add("caveat", "clock", _assets.symbol(a), "trades on another exchange clock than its benchmark: "
                  "Dimson (1979) beta on one lead and one lag of the benchmark, shown per asset, not in the group tests")
    rob = _robustness(returns, excluded, main_ev, market, p)
    return CascadeResult(p, notes, inputs=inputs, events=events, windows=win, result=res, dimson=dims,
                         robustness=rob, moves=_moves(inputs, p), confounded=conf, removed=removed,
                         exclusions=excl, anatomy=_anatomy(inputs, p), returns=returns, excluded=excluded,
                         market=market, flagged={a: d for a, d in mixed.items() if p.keep_mixed_clock})


__all__ = ["run", "Windows"]
