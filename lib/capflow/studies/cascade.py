"""The liquidation-cascade study of one crash: raw moves, clean abnormal returns, the full test battery, anatomy.

``Params`` -> :func:`load_inputs` (the only code that reads data) -> :func:`run` (pure) -> :class:`CascadeResult`
(headline, tables, figures, method, notes: :mod:`capflow.studies.cascade_view`).

What it does, in order (each rule stated in the report's method section):

1. **Event hour**: the catalog's sourced ``event_time_utc``, else BTC's largest one-bar fall that UTC day
   (:func:`capflow.cascade.clean.event_hour_from_prices`). Each asset's day (or hour) 0 is the bar holding that
   instant by THE anchor rule (:func:`capflow.calendars.anchor`): a crash after the New York close is the next
   session for US equities.
2. **Raw moves** of every asset and benchmark (:func:`capflow.cascade.moves.raw_moves`).
3. **One clock per series**: daily series holding intraday snapshots in their windows are dropped ("mixed
   clock"); an asset on another exchange clock than its benchmark (SK Hynix on KRX against QQQ) gets a Dimson
   (1979) lead/lag beta in its own run and is kept out of the group tests, which assume one clock.
4. **Clean estimation windows**: other catalogued cascades ± ``exclude_pad`` days, and for the groups named in
   ``exclude_capex_groups`` the hyperscalers' capex-release sessions, are removed from estimation samples.
5. **Event study** (:func:`capflow.eventstudy.event_study`) with the whole test battery, and a robustness table of
   the headline CAAR under three models, with and without the exclusions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from capflow import assets as _assets
from capflow import calendars
from capflow.studies.base import StudyParams, Notes, StudyError

DAILY = {"estimation_window": [-250, -11], "event_window": [-10, 10],
         "car_windows": [[0, 0], [0, 1], [-1, 1], [0, 5], [-5, 10]], "headline_window": "[0,+1]",
         "min_estimation": 120}
HOURLY = {"estimation_window": [-336, -49], "event_window": [-24, 48],
          "car_windows": [[0, 0], [0, 3], [0, 6], [0, 24], [-24, 48]], "headline_window": "[0,+24]",
          "min_estimation": 120}
MODELS = ("market", "market_adjusted", "constant_mean")
FREQS = ("1d", "1h")


def _default_benchmarks() -> dict:
    return {"ai_token": "bitcoin", "crypto_major": "bitcoin", "ai_equity": "QQQ", "hyperscaler": "QQQ"}


@dataclass(frozen=True)
class EventParams(StudyParams):
    """The event-study settings both cascade studies share (``None`` windows: the defaults of the frequency)."""

    groups: str = "ai_token,crypto_major,ai_equity,hyperscaler"
    benchmarks: dict = field(default_factory=_default_benchmarks)
    model: str = "market"
    estimation_window: Any = None
    event_window: Any = None
    car_windows: Any = None
    headline_window: Any = None
    min_estimation: Any = None
    alpha: float = 0.05
    n_boot: int = 1000
    seed: int = 0
    exclude_pad: int = 2
    exclude_capex_groups: str = "ai_equity,hyperscaler,semis_etf"

    def _check(self, defaults: dict) -> None:
        """Validate the shared settings and fill the windows left as None from ``defaults``."""
        if self.model not in MODELS:
            raise StudyError(f"parameter model={self.model!r} is not valid; valid: {', '.join(MODELS)}")
        if not 0 < self.alpha < 1:
            raise StudyError(f"parameter alpha={self.alpha!r} must be between 0 and 1, e.g. 0.05")
        if not isinstance(self.benchmarks, dict) or not self.benchmarks:
            raise StudyError(f"parameter benchmarks={self.benchmarks!r} must map each group to a benchmark asset, "
                             "e.g. {'ai_token': 'bitcoin'}")
        for k, v in defaults.items():
            if getattr(self, k) is None:
                object.__setattr__(self, k, v)

    def window_label(self, w) -> str:
        """The label of a window as the engine writes it (``[0,0]``, ``[0,+1]``, ``[-1,+1]``)."""
        from capflow._es_common import window_label

        return window_label((int(w[0]), int(w[1])))


@dataclass(frozen=True)
class Params(EventParams):
    """Parameters of one cascade study (``None`` windows take the defaults of ``freq``: :data:`DAILY`,
    :data:`HOURLY`)."""

    event_date: str = "2026-02-05"
    extra_moves: str = "SPY"
    freq: str = "1d"
    drop_confounded: bool = False
    keep_mixed_clock: bool = False
    anatomy_lookback: str = "24h"
    anatomy_horizon: str = "72h"
    cross_threshold: float = -0.05

    def __post_init__(self) -> None:
        if self.freq not in FREQS:
            raise StudyError(f"parameter freq={self.freq!r} is not supported; valid: {', '.join(FREQS)}")
        calendars.utc_timestamp(self.event_date, "event_date", StudyError)
        self._check(DAILY if self.freq == "1d" else HOURLY)

    @property
    def t0(self) -> pd.Timestamp:
        """The event date (UTC midnight)."""
        return calendars.utc_timestamp(self.event_date, "event_date", StudyError).normalize()



@dataclass
class Inputs:
    """Everything :func:`run` needs, loaded by :func:`load_inputs`."""

    params: Params
    event_time: pd.Timestamp
    event_time_rule: str
    catalog: pd.DataFrame
    catalog_row: pd.DataFrame
    events: pd.DataFrame          # event_id, asset, timestamp (anchor), group, benchmark, calendar
    prices: pd.DataFrame          # at params.freq (price field), every event asset and benchmark
    sources: pd.DataFrame         # per-value source tags of ``prices`` (daily) or empty
    daily_close: pd.DataFrame     # daily prices for the raw moves
    session_open: pd.DataFrame
    session_low: pd.DataFrame
    intraday_lows: dict
    capex_events: pd.DataFrame    # asset, timestamp (anchored), label
    hourly: dict                  # {"high", "low", "close"} for the anatomy
    missing_hourly: list
    derivatives: Any
    notes: Notes = field(default_factory=Notes)


# ------------------------------------------------------------------------------------------------ loading
def _event_time(params: Params, row: pd.DataFrame, notes: Notes) -> tuple[pd.Timestamp, str]:
    return event_time_of(params.t0, row, notes)


def event_time_of(day: pd.Timestamp, row: pd.DataFrame, notes: Notes) -> tuple[pd.Timestamp, str]:
    """The event instant of a catalogued crash day and the rule that placed it (catalog time, else BTC's largest
    one-bar fall that UTC day from the finest bars the data hold)."""
    from capflow.cascade import clean
    from capflow.data import load_prices

    if len(row) and pd.notna(row["event_time_utc"].iloc[0]):
        t = pd.Timestamp(row["event_time_utc"].iloc[0])
        return t, f"catalog time {t:%Y-%m-%d %H:%M} UTC ({row['event_time_source'].iloc[0]})"
    for freq in ("1h", "4h"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                close = load_prices("bitcoin", day - pd.Timedelta(days=1), day, freq=freq, field="close")["bitcoin"]
            t, r = clean.event_hour_from_prices(close, day)
        except (ValueError, KeyError):
            continue
        label = "hourly" if freq == "1h" else "4-hour"
        return t, (f"no sourced time in the catalog: hour 0 is the start of BTC's largest {label} fall that UTC "
                   f"day, the {t:%H:%M} UTC bar ({100 * r:+.1f}%)")
    notes.add("caveat", "load", f"{day:%Y-%m-%d}", "no intraday BTC bars on the day: hour 0 is 00:00 UTC")
    return day, "no sourced time and no intraday BTC bars: 00:00 UTC of the event date"


def _group_of(asset: str, benchmarks: dict) -> str:
    tags = _assets.resolve(asset).tags
    return next((g for g in tags if g in benchmarks), _assets.group_of(asset))


def _events(params: Params, t_event: pd.Timestamp, notes: Notes) -> pd.DataFrame:
    ids = _assets.ids(params.groups)
    group = {a: _group_of(a, params.benchmarks) for a in ids}
    lacking = sorted({g for g in group.values() if g not in params.benchmarks})
    if lacking:
        raise StudyError(f"parameter benchmarks has no entry for group {lacking[0]!r}; add "
                         f"{{'{lacking[0]}': <benchmark asset id>}}")
    bench = {a: _assets.resolve(params.benchmarks[group[a]]).id for a in ids}
    rows = []
    for a in ids:
        if bench[a] == a:
            notes.add("excluded", "design", _assets.symbol(a), "the benchmark of its own group (its market-model "
                      "AR is 0 by construction): raw moves shown, no abnormal return")
            continue
        cal = _assets.resolve(a).calendar
        if params.freq == "1h" and cal != calendars.CRYPTO:
            notes.add("dropped", "load", _assets.symbol(a), "no hourly bars for exchange-traded assets in the data")
            continue
        rows.append({"event_id": f"{params.t0.date()}:{_assets.symbol(a)}", "asset": a, "group": group[a],
                     "benchmark": bench[a], "calendar": cal,
                     "timestamp": calendars.anchor_one(t_event, cal, params.freq)})
    return pd.DataFrame(rows, columns=["event_id", "asset", "group", "benchmark", "calendar", "timestamp"])


def _span(params: Params) -> tuple[pd.Timestamp, pd.Timestamp]:
    est, evt = params.estimation_window, params.event_window
    if params.freq == "1d":
        return (params.t0 - pd.Timedelta(days=int(abs(est[0]) * 7 / 5) + 30),
                params.t0 + pd.Timedelta(days=int(evt[1] * 7 / 5) + 10))
    return params.t0 - pd.Timedelta(hours=abs(est[0]) + 48), params.t0 + pd.Timedelta(hours=evt[1] + 48)


def _load_wide(assets, start, end, freq, field, notes: Notes | None, stage: str = "load") -> pd.DataFrame:
    from capflow.data import load_prices

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # drops are notes, fallbacks are in provenance
        try:
            frame = load_prices(list(assets), start, end, freq=freq, field=field, missing="drop")
        except ValueError as exc:
            if notes is not None:
                notes.add("data", stage, ", ".join(_assets.symbol(a) for a in assets), f"no {freq} {field}: {exc}")
            return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC"))
    if notes is not None:
        for a, why in frame.attrs.get("dropped", {}).items():
            notes.add("dropped", stage, _assets.symbol(a), f"no {freq} {field} in the data sources")
    return frame


def _intraday_lows(crypto: list[str], t0: pd.Timestamp) -> dict:
    """Intraday lows for the open-to-low move, spot before perpetual, finest first."""
    lo, hi = t0 - pd.Timedelta(days=1), t0 + pd.Timedelta(days=2)
    out = {}
    four = _load_wide(crypto, lo, hi, "4h", "low", None)
    hour = _load_wide(crypto, lo, hi, "1h", "low", None)
    prov = hour.attrs.get("provenance", {})
    spot_h = [a for a in hour.columns if all(str(s).startswith("bn_spot") for s in prov.get(a, {}).get("sources", {}))]
    if spot_h:
        out["Binance spot 1h"] = hour[spot_h]
    if len(four.columns):
        out["Binance spot 4h"] = four
    perp = [a for a in hour.columns if a not in spot_h]
    if perp:
        out["Binance perpetual 1h"] = hour[perp]
    return out


def _capex_events(ids: list[str], notes: Notes) -> pd.DataFrame:
    """Every catalogued capex release anchored on each asset's bars (daily)."""
    from capflow import capex

    try:
        cat = capex.load_announcements()
    except ValueError as exc:
        notes.add("caveat", "load", "capex catalog", f"not available ({exc}); no capex exclusions or confounders")
        return pd.DataFrame(columns=["asset", "timestamp", "label"])
    moment = capex.release_moment(cat["announce_date"], cat["timing"])
    labels = cat["ticker"].astype(str) + " " + cat["fiscal_period"].astype(str)
    rows = []
    for a in ids:
        cal = _assets.resolve(a).calendar
        stamps = calendars.anchor(pd.DatetimeIndex(moment), cal, "1d")
        rows.append(pd.DataFrame({"asset": a, "timestamp": stamps, "label": labels.to_numpy()}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["asset", "timestamp", "label"])


def load_inputs(params: Params) -> Inputs:
    """Load everything one cascade study needs; every asset lost on the way is a note (stage ``load``)."""
    from capflow import cascade
    from capflow.data import load_sources

    notes = Notes()
    catalog = cascade.load_catalog(snapshot=True)
    row = catalog.loc[catalog["date"] == params.t0]
    if row.empty:
        notes.add("caveat", "load", params.event_date, "not in the cascade catalog: no sourced description")
    t_event, rule = _event_time(params, row, notes)
    events = _events(params, t_event, notes)
    extra = [_assets.resolve(a).id for a in _assets.ids(params.extra_moves)] if params.extra_moves else []
    everyone = list(dict.fromkeys(list(events["asset"]) + list(events["benchmark"]) + extra))
    start, end = _span(params)
    prices = _load_wide(everyone, start, end, params.freq, "price", notes)
    sources = load_sources(list(prices.columns), start, end, params.freq) if params.freq == "1d" else pd.DataFrame()
    everyone_daily = list(dict.fromkeys(everyone + [a for a in _assets.ids(params.groups)]))
    d_lo, d_hi = params.t0 - pd.Timedelta(days=40), params.t0 + pd.Timedelta(days=10)
    daily = prices if params.freq == "1d" else _load_wide(everyone_daily, d_lo, d_hi, "1d", "price", None)
    equities = [a for a in everyone_daily if not _assets.resolve(a).is_crypto]
    crypto = [a for a in everyone_daily if _assets.resolve(a).is_crypto]
    session_open = _load_wide(equities, d_lo, d_hi, "1d", "open", None) if equities else pd.DataFrame()
    session_low = _load_wide(equities, d_lo, d_hi, "1d", "low", None) if equities else pd.DataFrame()
    hourly, missing_hourly, _ = cascade.load_hourly(",".join(crypto), t_event, params.anatomy_lookback,
                                                    params.anatomy_horizon)
    deriv = cascade.derivatives_context(params.t0, ",".join(crypto), window=3)
    return Inputs(params, t_event, rule, catalog, row, events, prices, sources, daily, session_open, session_low,
                  _intraday_lows(crypto, params.t0), _capex_events(list(prices.columns), notes), hourly,
                  missing_hourly, deriv, notes)


# ------------------------------------------------------------------------------------------------ running
from capflow.studies.cascade_run import run  # noqa: E402  (the pure half lives in its own module)
from capflow.studies.cascade_view import CascadeResult  # noqa: E402

__all__ = ["Params", "Inputs", "load_inputs", "run", "CascadeResult", "DAILY", "HOURLY"]
