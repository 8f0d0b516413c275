"""Every catalogued cascade at once: one multi-event study across crash days.

``Params`` -> :func:`load_inputs` -> :func:`run` (one :func:`capflow.eventstudy.event_study` call) ->
:class:`CascadesResult`. Across cascades: do AI tokens fall more than their BTC beta predicts, and AI equities
more than theirs (QQQ)?

Design
------
- One event per (asset, cascade), ``event_id`` ``<date>:<symbol>``, placed by THE anchor rule at the cascade's
  event time (sourced in the catalog, else BTC's largest one-bar fall that day); ``cluster`` = the cascade date,
  so the Kolari-Pynnönen r̄ and GRANK account for the shared date within a cascade and not across cascades.
- Clean estimation: every catalogued cascade ± ``exclude_pad`` days and, for the groups in
  ``exclude_capex_groups``, every capex-release session leave all estimation samples (the same rule as the study of
  one cascade, so each event's AR and CAR equal that study's); overlapping windows of one asset are kept
  (``overlap="keep"``) because the crash days themselves are excluded.
- One clock per event: an event whose asset's windows hold intraday snapshots is dropped (mixed clock); an asset
  on another exchange clock than its benchmark gets a Dimson beta in its own run, outside the group tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from capflow import assets as _assets
from capflow import calendars, fmt
from capflow.cascade import clean
from capflow.studies.base import Notes, Result, StudyError, Table, quiet
from capflow.studies.cascade import DAILY, EventParams, _capex_events, _group_of, _load_wide, event_time_of
from capflow.studies.cascade_run import _engine_notes, _off_clock, _windows
from capflow.studies.cascade_view import GROUP_LABEL


@dataclass(frozen=True)
class Params(EventParams):
    """Parameters of the all-cascades study (daily bars): which cascades, and the shared event-study settings."""

    dates: str = "all"

    def __post_init__(self) -> None:
        self._check(DAILY)


@dataclass
class Inputs:
    """The catalog, each cascade's event time, daily prices with source tags, the capex releases."""

    params: Params
    catalog: pd.DataFrame
    times: pd.DataFrame      # date, event_time, rule
    prices: pd.DataFrame
    sources: pd.DataFrame
    capex_events: pd.DataFrame
    notes: Notes


def _dates(params: Params, catalog: pd.DataFrame) -> list[pd.Timestamp]:
    if str(params.dates).strip().lower() == "all":
        return list(pd.DatetimeIndex(catalog["date"]))
    got = [calendars.utc_timestamp(d.strip(), "dates", StudyError).normalize()
           for d in str(params.dates).split(",") if d.strip()]
    unknown = [d for d in got if d not in set(catalog["date"])]
    if unknown:
        raise StudyError(f"parameter dates: {unknown[0].date()} is not a catalogued cascade; valid: "
                         f"{', '.join(f'{d:%Y-%m-%d}' for d in catalog['date'])} or 'all'")
    return got


def load_inputs(params: Params) -> Inputs:
    """Load the catalog, place each cascade in time, and load every asset's daily prices over the whole span."""
    from capflow import cascade
    from capflow.data import load_sources

    notes = Notes()
    catalog = cascade.load_catalog(snapshot=True)
    dates = _dates(params, catalog)
    rows = []
    for d in dates:
        t, rule = event_time_of(d, catalog.loc[catalog["date"] == d], notes)
        rows.append({"date": d, "event_time": t, "rule": rule})
    ids = _assets.ids(params.groups)
    bench = [_assets.resolve(b).id for b in params.benchmarks.values()]
    everyone = list(dict.fromkeys(ids + bench))
    start = min(dates) - pd.Timedelta(days=int(abs(params.estimation_window[0]) * 7 / 5) + 30)
    end = max(dates) + pd.Timedelta(days=int(params.event_window[1] * 7 / 5) + 10)
    prices = _load_wide(everyone, start, end, "1d", "price", notes)
    with quiet():
        sources = load_sources(list(prices.columns), start, end, "1d")
    return Inputs(params, catalog, pd.DataFrame(rows), prices, sources, _capex_events(list(prices.columns), notes),
                  notes)


def _events(inputs: Inputs, notes: Notes) -> pd.DataFrame:
    p = inputs.params
    rows = []
    for a in _assets.ids(p.groups):
        g = _group_of(a, p.benchmarks)
        if g not in p.benchmarks:
            raise StudyError(f"parameter benchmarks has no entry for group {g!r}")
        b = _assets.resolve(p.benchmarks[g]).id
        if b == a or a not in inputs.prices.columns or b not in inputs.prices.columns:
            continue
        cal = _assets.resolve(a).calendar
        for r in inputs.times.itertuples():
            rows.append({"event_id": f"{r.date:%Y-%m-%d}:{_assets.symbol(a)}", "asset": a, "group": g,
                         "benchmark": b, "calendar": cal, "cluster": f"{r.date:%Y-%m-%d}", "cascade": r.date,
                         "timestamp": calendars.anchor_one(r.event_time, cal, "1d")})
    return pd.DataFrame(rows)


def _mixed(inputs: Inputs, events: pd.DataFrame, returns: pd.DataFrame, notes: Notes) -> pd.DataFrame:
    """Drop the events whose windows hold intraday snapshots (one clock per series), one note each."""
    keep = np.ones(len(events), bool)
    for i, r in enumerate(events.itertuples()):
        win = _windows(returns, pd.DataFrame([r._asdict()]), inputs.params)
        if r.asset not in win.est:
            continue
        got = clean.mixed_clock(inputs.sources, {r.asset: (win.est[r.asset][0], win.evt[r.asset][1])})
        if got:
            keep[i] = False
            notes.add("dropped", "clock", f"{r.event_id} ({got[r.asset]})", clean.MIXED_CLOCK)
    return events.loc[keep].reset_index(drop=True)


def run(inputs: Inputs, params: Params | None = None) -> "CascadesResult":
    """One multi-event study over every cascade (pure)."""
    from capflow.eventstudy import event_study
    from capflow.returns import bar_returns

    p = params or inputs.params
    notes = Notes(inputs.notes.items)
    returns = bar_returns(inputs.prices, "1d")
    events = _mixed(inputs, _events(inputs, notes), returns, notes)
    cascades = clean.exclusion_days(inputs.catalog["date"], int(p.exclude_pad))
    capex_groups = {g.strip() for g in p.exclude_capex_groups.split(",") if g.strip()}
    cx = inputs.capex_events
    excl_days = {a: cascades.union(pd.DatetimeIndex(cx.loc[cx["asset"] == a, "timestamp"]).normalize())
                 if g in capex_groups else cascades for a, g in events[["asset", "group"]].drop_duplicates().values}
    excluded, removed = clean.exclusion_frame(returns, excl_days)
    market = returns[sorted(set(events["benchmark"]))]
    off = _off_clock(events)
    kw = dict(market=market, estimation_window=tuple(p.estimation_window), event_window=tuple(p.event_window),
              car_windows=tuple(map(tuple, p.car_windows)), min_estimation=int(p.min_estimation), seed=p.seed,
              alpha=p.alpha, overlap="keep", estimation_exclude=excluded)
    with quiet():
        res = event_study(returns, events.loc[~off], model=p.model, n_boot=int(p.n_boot), **kw)
        dims = event_study(returns, events.loc[off], model="dimson", dimson_lags=1, n_boot=0, **kw) \
            if off.any() else None
    _engine_notes(res, notes, "event study", by_event=True)
    _engine_notes(dims, notes, "event study (Dimson)", by_event=True)
    return CascadesResult(p, notes, inputs=inputs, events=events, result=res, dimson=dims, removed=removed)


class CascadesResult(Result):
    """Across cascades: per-cascade and pooled abnormal returns by group."""

    study = "cascades"

    def __init__(self, params: Params, notes: Notes, **parts: Any):
        super().__init__(params, notes)
        self.__dict__.update(parts)

    def per_cascade(self) -> pd.DataFrame:
        """One row per (cascade, group): mean CAR over the headline window and n (Dimson events left out)."""
        car = self.result.car.loc[self.result.car["window"] == self.params.headline_window]
        car = car.assign(cascade=car["event_id"].str[:10])
        out = car.groupby(["cascade", "group"]).agg(caar=("car", "mean"), n=("car", "size"),
                                                     worst=("car", "min")).reset_index()
        return out

    def pooled(self) -> pd.DataFrame:
        """The pooled group statistics (every test) with r̄."""
        s = self.result.summary()
        rbar = self.result.rbar.set_index("group")["rbar"] if len(self.result.rbar) else pd.Series(dtype=float)
        return s.assign(rbar=s["group"].map(rbar))

    def _group_line(self, g: str, pooled: pd.DataFrame, bench: str) -> str | None:
        row = pooled.loc[(pooled["group"] == g) & (pooled["window"] == self.params.headline_window)]
        if row.empty:
            return None
        r = row.iloc[0]
        a = self.params.alpha
        sig = "significant under both KP and GRANK" if max(r["kp_p"], r["grank_p"]) < a else (
            "significant under one of KP and GRANK only" if min(r["kp_p"], r["grank_p"]) < a
            else "not significant under KP or GRANK")
        if max(r["kp_p"], r["grank_p"]) < a or min(r["kp_p"], r["grank_p"]) < a:
            more = "less than" if r["caar"] > 0 else "more than"
        else:
            more = "about as much as"
        per = self.per_cascade()
        worse = int((per.loc[per["group"] == g, "caar"] < 0).sum())
        total = int((per["group"] == g).sum())
        name = GROUP_LABEL.get(g, g)
        return (f"**{name[0].upper() + name[1:]}** fell {more} their {bench} beta predicts across cascades: "
                f"pooled CAAR {self.params.headline_window} {fmt.pct(r['caar'])} over {int(r['n'])} events "
                f"({1 - a:.0%} bootstrap {fmt.pct(r['boot_lo'])} to {fmt.pct(r['boot_hi'])}), {sig} (KP p "
                f"{fmt.pval(r['kp_p'])}, GRANK p {fmt.pval(r['grank_p'])}); negative in {worse} of {total} cascades.")

    def headline(self) -> list[str]:
        pooled = self.pooled()
        n_c = self.result.car["event_id"].str[:10].nunique()
        lines = [f"**{n_c} catalogued cascades** ({fmt.date(self.inputs.times['date'].min())} to "
                 f"{fmt.date(self.inputs.times['date'].max())}), {self.result.car['event_id'].nunique()} (asset, "
                 f"cascade) events in one study; {self.notes.count('dropped')} events dropped (reasons under Method)."]
        for g, b in (("ai_token", "BTC"), ("ai_equity", "QQQ"), ("hyperscaler", "QQQ"), ("crypto_major", "BTC")):
            line = self._group_line(g, pooled, b)
            if line:
                lines.append(line)
        lines.append(f"Estimation samples exclude every cascade ±{self.params.exclude_pad} days and capex-release "
                     f"sessions ({len(self.removed):,} observations); data as of "
                     f"{self.data_summary().get('data_as_of')}.")
        return lines

    def key_numbers(self) -> dict[str, str]:
        pooled = self.pooled()
        out = {"cascades": str(self.result.car["event_id"].str[:10].nunique())}
        for g in ("ai_token", "ai_equity"):
            r = pooled.loc[(pooled["group"] == g) & (pooled["window"] == self.params.headline_window)]
            if len(r):
                out[f"{GROUP_LABEL[g]} CAAR {self.params.headline_window}"] = (
                    f"{fmt.pct(r.iloc[0]['caar'])} (GRANK p {fmt.pval(r.iloc[0]['grank_p'])})")
        return out

    def data_summary(self) -> dict[str, Any]:
        from capflow.data import data_summary

        return data_summary(self.inputs.prices)

    def tables(self) -> dict[str, Table]:
        from capflow.studies.cascades_view import build_tables

        return build_tables(self)

    def figures(self) -> dict[str, Any]:
        from capflow.studies.cascades_view import build_figures

        return build_figures(self)

    def method(self) -> list[str]:
        from capflow.studies.cascades_view import method_lines

        return method_lines(self)


__all__ = ["Params", "Inputs", "load_inputs", "run", "CascadesResult"]
