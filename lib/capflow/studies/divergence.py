"""The divergence study: where risk capital flowed between AI equities and crypto, and who transmits shocks.

``Params`` -> :func:`load_inputs` (the only code that reads data) -> :func:`run` (pure) -> :class:`DivergenceResult`
(headline, tables, figures, method, notes). What it does, in order (each rule is stated in the method section):

1. **Performance window** (:func:`capflow.divergence.performance_window`): base date to ``end_date`` (default: the
   last date BTC and every equity have a price). Every asset's cumulative and year-to-date return to that date,
   from prices at any clock: a crypto end value may be an intraday snapshot, and the table says which.
2. **Statistics sample** (:func:`capflow.divergence.statistics_sample`): daily returns between UTC closes only,
   on one calendar; baskets daily-rebalanced; ends at BTC's last close or earlier (basket membership rule).
3. **Co-movement** (:func:`capflow.divergence.co_movement`): rolling correlations and betas, the two-factor
   decomposition of the AI-token basket on BTC and the AI-equity basket, the log spread, cointegration, breaks,
   Markov regimes.
4. **Connectedness** (:mod:`capflow.divergence.spillover`): Diebold-Yilmaz total, directional, net and pairwise
   spillovers from a VAR's generalized FEVD, full sample and rolling.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator

import pandas as pd

from capflow import assets as _assets
from capflow import divergence as D
from capflow import returns as R
from capflow.divergence import prose
from capflow.studies.base import StudyParams, Notes, Result, StudyError, Table

LOOKBACK_DAYS = 10        # prices start this many days before the base date (a price at or before it exists)
CAP_LOOKBACK_DAYS = 62    # market caps start earlier (a cap is known at the base date)
CHOW_MIN_ROWS = 20       # sessions needed on each side of a Chow date
CRYPTO_CLOCK_COMPLETE = 0.6  # on the 24/7 clock a window of w days holds ~5w/7 equity rows: 60% must be complete
DEFAULT_PAIRS = (("AI tokens", "Crypto majors"), ("AI tokens", "AI equities"), ("Crypto majors", "AI equities"),
                 ("bitcoin", "NVDA"))


def _series_name(value: Any, baskets: dict, name: str) -> str:
    """A basket name as it is, else the registry id of an asset (one-line error naming the parameter)."""
    if value in baskets:
        return value
    try:
        return _assets.resolve(str(value)).id
    except _assets.UnknownAssetError as exc:
        raise StudyError(f"parameter {name}: {value!r} is neither a basket ({', '.join(baskets)}) nor an asset; "
                         f"{str(exc).split('; ', 1)[-1]}") from None


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise StudyError(message)


@dataclass(frozen=True)
class Params(StudyParams):
    """Parameters of the divergence study (defaults: the notebook's; ``assets="all"``: every registry asset)."""

    base_date: str = D.DEFAULT_BASE
    end_date: str | None = None
    assets: str = "all"
    baskets: dict = field(default_factory=lambda: dict(D.DEFAULT_BASKETS))
    headline_assets: tuple = ("AI equities", "bitcoin", "AI tokens", "^GSPC")
    windows: tuple = (30, 90, 180)
    calendar_policy: str = "equity_sessions"
    calendar: str = "XNYS"
    short_series: str = "truncate"
    min_basket_share: float | None = 0.5
    late_start: str = "own_start"
    max_gap: int | None = 7
    max_stale_days: int = 7
    target: str = "AI tokens"
    factors: tuple = ("bitcoin", "AI equities")
    spread: tuple = ("AI tokens", "AI equities")
    pairs: tuple = DEFAULT_PAIRS
    n_regimes: int = 2
    n_breaks: int = 3
    chow_dates: tuple = ("2025-01-01",)
    connectedness_assets: tuple = ("bitcoin", "ethereum", "AI tokens", "AI equities", "SMH", "QQQ")
    var_lags: int = 0
    var_max_lags: int = 5
    horizon: int = 10
    connectedness_window: int = 200

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 - frozen dataclass normalisation
        base = self._date("base_date", self.base_date)
        if self.end_date is not None:
            _check(self._date("end_date", self.end_date) > base, f"parameter end_date={self.end_date} must be "
                   f"after base_date={self.base_date}")
        _check(isinstance(self.baskets, dict) and len(self.baskets) > 0, f"parameter baskets={self.baskets!r} "
               "must map basket names to group tags or asset lists, e.g. {'AI tokens': 'ai_token'}")
        self._check_choices()
        self._check_numbers()
        windows = [self.windows] if isinstance(self.windows, int) else list(self.windows)
        _check(len(windows) > 0 and all(isinstance(w, int) and w >= 3 for w in windows),
               f"parameter windows={self.windows!r} must be a list of whole numbers of sessions, each >= 3")
        set_("windows", tuple(windows))
        set_("chow_dates", tuple(str(d) for d in self.chow_dates))
        for d in self.chow_dates:
            self._date("chow_dates", d)
        b = self.baskets
        set_("target", _series_name(self.target, b, "target"))
        for name in ("factors", "spread"):
            vals = tuple(_series_name(v, b, name) for v in getattr(self, name))
            _check(len(vals) == 2, f"parameter {name}={getattr(self, name)!r} must name exactly 2 series")
            set_(name, vals)
        set_("pairs", tuple((_series_name(a, b, "pairs"), _series_name(c, b, "pairs")) for a, c in self.pairs))
        set_("headline_assets", tuple(_series_name(v, b, "headline_assets") for v in self.headline_assets))
        conn = tuple(_series_name(v, b, "connectedness_assets") for v in self.connectedness_assets)
        _check(len(conn) == 0 or len(conn) >= 2, "parameter connectedness_assets must name at least 2 series "
               "(or none: no connectedness)")
        set_("connectedness_assets", conn)
        if self.assets != "all":
            try:
                _assets.expand(self.assets)
            except _assets.UnknownAssetError as exc:
                raise StudyError(str(exc)) from None

    @staticmethod
    def _date(name: str, value: Any) -> pd.Timestamp:
        try:
            return D.sample.utc(value, name)
        except D.DivergenceError as exc:
            raise StudyError(str(exc)) from None

    def _check_choices(self) -> None:
        for name, valid in (("calendar_policy", R.POLICIES), ("short_series", D.SHORT_SERIES),
                            ("late_start", ("raise", "own_start"))):
            _check(getattr(self, name) in valid, f"parameter {name}={getattr(self, name)!r} is not valid; use one "
                   f"of {', '.join(valid)}")

    def _check_numbers(self) -> None:
        share = self.min_basket_share
        _check(share is None or (isinstance(share, (int, float)) and 0 < share <= 1),
               f"parameter min_basket_share={share!r} is not valid; use a number in (0, 1] or None (no rule)")
        for name, low in (("max_stale_days", 0), ("n_breaks", 0), ("var_lags", 0), ("var_max_lags", 1),
                          ("horizon", 1), ("connectedness_window", 30)):
            v = getattr(self, name)
            _check(isinstance(v, int) and v >= low, f"parameter {name}={v!r} must be a whole number >= {low}")
        _check(self.n_regimes == 0 or (isinstance(self.n_regimes, int) and self.n_regimes >= 2),
               f"parameter n_regimes={self.n_regimes!r} must be 0 (no regime model) or a whole number >= 2")
        _check(self.max_gap is None or (isinstance(self.max_gap, int) and self.max_gap >= 1),
               f"parameter max_gap={self.max_gap!r} must be a whole number of rows >= 1 or None")


    def asset_ids(self) -> list[str]:
        """Every asset id the study loads: ``assets``, the basket members and the named series."""
        ids = [a.id for a in _assets.REGISTRY] if self.assets == "all" else _assets.ids(self.assets)
        for spec in self.baskets.values():
            ids += _assets.ids(spec)
        named = [*self.factors, *self.spread, self.target, *self.connectedness_assets, *self.headline_assets,
                 *(x for p in self.pairs for x in p)]
        return list(dict.fromkeys(ids + [n for n in named if n not in self.baskets]))

    def stats_assets(self, members: dict) -> list[str]:
        """Asset ids the daily-return statistics use: basket members and the named series that are assets."""
        named = [*self.factors, *self.spread, self.target, *self.connectedness_assets,
                 *(x for p in self.pairs for x in p)]
        return list(dict.fromkeys([m for ids in members.values() for m in ids]
                                  + [n for n in named if n not in self.baskets]))


# ----------------------------------------------------------------------------------------------- loading

@dataclass
class Inputs:
    """Everything :func:`run` needs (all UTC-indexed; daily rows labelled by their UTC date).

    ``prices``: daily prices of every asset, any clock, one column per asset id; ``sources``: the source tag of
    every crypto row (``bn_spot_ry``, ``cg_snap_cw``...; None: every row a close); ``caps``: crypto market caps
    (sparse); ``hourly``: hourly crypto prices (``calendar_policy="crypto_at_equity_close"`` only); ``quality``:
    ``(report, issues)`` from :func:`capflow.divergence.sources.quality_inputs`; ``notes``: what loading lost.
    """

    prices: pd.DataFrame
    sources: pd.DataFrame | None = None
    caps: pd.DataFrame | None = None
    hourly: pd.DataFrame | None = None
    quality: tuple | None = None
    notes: Notes = field(default_factory=Notes)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _captured() -> Iterator[tuple[list, _Records]]:
    """Collect Python warnings and capflow log warnings (they become notes, never a stderr box)."""
    logger, handler = logging.getLogger("capflow"), _Records()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield caught, handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _load_notes(caught: list, logged: list[str], prices: pd.DataFrame) -> Notes:
    from capflow.data import OfflineFallbackWarning

    notes = Notes()
    for asset, reason in prices.attrs.get("dropped", {}).items():
        notes.add("dropped", "load", _assets.symbol(asset), f"no daily price in the requested range ({reason})")
    seen: set = set()
    for w in caught:
        msg, offline = str(w.message), issubclass(w.category, OfflineFallbackWarning)
        key = "offline" if offline else msg  # one offline note (prices, caps and hourly each warn)
        if key in seen or msg.startswith("dropped "):
            continue
        seen.add(key)
        notes.add("data" if offline else "caveat", "load", "sample", msg)
    for msg in dict.fromkeys(logged):
        notes.add("data", "load", "sample", msg)
    return notes


def load_inputs(params: Params) -> Inputs:
    """Load everything the study reads: daily prices and their source tags, crypto caps, hourly bars (only for
    ``crypto_at_equity_close``) and the data-quality report. The only function of the study that reads data."""
    from capflow.data import load_prices
    from capflow.divergence import sources as S

    base = D.sample.utc(params.base_date, "base_date")
    with _captured() as (caught, handler):
        prices = load_prices(params.asset_ids(), base - pd.Timedelta(days=LOOKBACK_DAYS), params.end_date,
                             missing="drop")
        crypto = [a for a in prices.columns if _assets.resolve(a).is_crypto]
        sources = S.price_sources(crypto, prices.index[0], prices.index[-1]) if crypto else None
        caps = load_prices(crypto, base - pd.Timedelta(days=CAP_LOOKBACK_DAYS), params.end_date,
                           field="market_cap", missing="drop") if crypto else None
        hourly = (S.load_hourly(crypto, base, params.end_date or prices.index[-1])
                  if params.calendar_policy == "crypto_at_equity_close" else None)
        quality = S.quality_inputs(prices.columns, prices.index[0])
    return Inputs(prices, sources, caps, hourly, quality, _load_notes(caught, handler.messages, prices))


# ----------------------------------------------------------------------------------------------- running

def _min_complete(params: Params) -> float:
    return CRYPTO_CLOCK_COMPLETE if params.calendar_policy == "crypto_clock" else 1.0


def _chow_dates(index: pd.DatetimeIndex, params: Params, notes: Notes) -> list[str]:
    """The Chow dates with at least :data:`CHOW_MIN_ROWS` sample rows on each side; the others are noted."""
    keep = []
    for d in params.chow_dates:
        t = D.sample.utc(d, "chow_dates")
        if (index < t).sum() >= CHOW_MIN_ROWS and (index >= t).sum() >= CHOW_MIN_ROWS:
            keep.append(d)
        else:
            notes.add("excluded", "statistics", d, f"Chow date with fewer than {CHOW_MIN_ROWS} sessions of the "
                      f"statistics sample ({index[0].date()} to {index[-1].date()}) on one side: not tested")
    return keep


def _connectedness(returns: pd.DataFrame, params: Params, notes: Notes):
    cols = list(params.connectedness_assets)
    if not cols:
        return None, None
    missing = [c for c in cols if c not in returns.columns]
    _check(not missing, f"parameter connectedness_assets: {missing} are not in the statistics sample; valid: "
           f"{', '.join(returns.columns)}")
    data = returns[cols]
    lags = params.var_lags or D.select_lags(data, params.var_max_lags, "bic")
    conn = D.var_connectedness(data, lags, params.horizon)
    if len(data) > conn.n:
        notes.add("excluded", "connectedness", "sample", "sessions without a close-only return for every series "
                  "(the VAR uses complete sessions only)", len(data) - conn.n)
    if params.connectedness_window > conn.n:
        notes.add("caveat", "connectedness", "sample", f"no rolling connectedness: connectedness_window="
                  f"{params.connectedness_window} is longer than the {conn.n} complete sessions")
        return conn, None
    return conn, D.rolling_connectedness(data, params.connectedness_window, lags, params.horizon)


def _sample_notes(notes: Notes, window: D.PerformanceWindow, perf: D.Performance, sample: D.StatsSample,
                  params: Params) -> None:
    t = perf.table
    for a, d in window.late.items():
        notes.add("caveat", "performance", f"{_assets.symbol(a)} ({d.date()})", "listed after the base date: its "
                  "row starts at its first price")
    for a in t.index[(t["kind"] == "asset") & (t["stale_days"] > params.max_stale_days)]:
        notes.add("caveat", "performance", f"{_assets.symbol(a)} ({t.at[a, 'end'].date()})", "last price more than "
                  f"{params.max_stale_days} days before the end date: the row ends at its own last price")
    snaps = t.index[t["end_value"] == "intraday snapshot"]
    if len(snaps):
        notes.add("caveat", "performance", ", ".join(prose.display_name(a) for a in snaps), "end value is an "
                  "intraday CoinGecko snapshot (hours off a UTC close, against a multi-month return)")
    for a, d in sample.truncated.items():
        kept = "no UTC close in the sample" if pd.isna(d) else f"after {d.date()}"
        notes.add("excluded", "statistics", f"{_assets.symbol(a)} ({kept})", "daily returns after the series' "
                  "last UTC close are not used (statistics on closes only)")
    if sample.cut:
        c = sample.cut
        notes.add("caveat", "statistics", "sample", f"min_basket_share={c['share']}: the statistics end on "
                  f"{sample.end.date()} instead of {c['uncut_end'].date()} ({c['uncut_rule']}), where "
                  f"{', '.join(c['thin'])} would keep fewer than {c['share']:.0%} of their members")
    for name, miss in sample.uncapped.items():
        for a, n in miss[miss > 0].items():
            notes.add("caveat", "statistics", f"{_assets.symbol(a)} in {name} ({int(n)} days)", "no market cap "
                      "known yet: left out of the cap weights on those days (kept equal-weighted)")


def _thin_notes(notes: Notes, sample: D.StatsSample, levels: pd.DataFrame) -> None:
    for name in sample.membership.columns:
        tail = D.thin_tail(levels[name], sample.membership[name])
        if tail:
            notes.add("caveat", "statistics", name, f"fewer than half of its members for its last {tail['rows']} "
                      f"sessions (after {tail['last_full'].date()}), which move it by {tail['tail_return']:+.1%}")


def _gap_notes(notes: Notes, caveats: pd.DataFrame, params: Params) -> None:
    for a, row in caveats[caveats["gaps_in_window"] > 0].iterrows():
        days = row["gap_days_in_window"]
        notes.add("data", "quality", f"{row['symbol']} ({days} day{'s' if days != 1 else ''}, longest "
                  f"{row['longest_gap']})", f"gaps inside the window: returns do not bridge gaps longer than "
                  f"{params.max_gap} rows; table rows compare the prices at the two ends")


def run(inputs: Inputs, params: Params) -> "DivergenceResult":
    """The whole study on loaded inputs (pure: frames in, a :class:`DivergenceResult` out)."""
    from capflow.data import data_summary
    from capflow.divergence.sources import data_caveats

    notes = Notes(inputs.notes)
    prices = inputs.prices.copy(deep=False)
    prices.attrs = {}  # provenance stays in inputs: pandas deep-copies attrs on every operation (slow)
    try:
        window = D.performance_window(prices, params.base_date, params.end_date, params.late_start)
        perf = D.performance(prices, inputs.sources, inputs.caps, params.baskets, window,
                             policy=params.calendar_policy, calendar=params.calendar, max_gap=params.max_gap,
                             max_stale_days=params.max_stale_days)
        sample = D.statistics_sample(prices, inputs.sources, inputs.caps, perf.members, window,
                                     params.stats_assets(perf.members), short_series=params.short_series,
                                     min_basket_share=params.min_basket_share, policy=params.calendar_policy,
                                     calendar=params.calendar, max_gap=params.max_gap, hourly=inputs.hourly)
        both = pd.concat([sample.returns, sample.baskets], axis=1)
        comove = D.co_movement(both, sample.base, windows=params.windows, pairs=params.pairs,
                               factors=params.factors, target=params.target, spread=params.spread,
                               beta_of=list(sample.members), n_breaks=params.n_breaks, n_regimes=params.n_regimes,
                               chow_dates=_chow_dates(both.index, params, notes),
                               min_complete=_min_complete(params))
        conn, rolling = _connectedness(both, params, notes)
    except D.DivergenceError as exc:
        raise StudyError(str(exc)) from None
    _sample_notes(notes, window, perf, sample, params)
    _thin_notes(notes, sample, comove.levels)
    caveats = None
    if inputs.quality is not None:
        ends = {a: sample.truncated.get(a, window.end) for a in perf.table.index[perf.table["kind"] == "asset"]}
        caveats = data_caveats(*inputs.quality, window.base, {a: window.end if pd.isna(d) else d
                                                               for a, d in ends.items()})
        _gap_notes(notes, caveats, params)
    data = {**data_summary(inputs.prices), "data_as_of": str(window.end.date())}
    return DivergenceResult(params, notes, window=window, perf=perf, sample=sample, comove=comove, conn=conn,
                            rolling_conn=rolling, caveats=caveats, data=data,
                            provenance=inputs.prices.attrs.get("provenance", {}))


# ----------------------------------------------------------------------------------------------- result

PERF_FORMATS = {"start": "date", "end": "date", "cum_return": "pct", "ytd": "pct", "max_drawdown": "pct"}
PERF_LABELS = {"name": "series", "symbol": "symbol", "group": "group", "start": "start", "end": "end",
               "end_value": "end value", "cum_return": "since start", "ytd": "YTD", "max_drawdown": "max drawdown",
               "note": "note"}


class DivergenceResult(Result):
    """The divergence study's result: see :func:`run`; attributes are the analysis containers."""

    study = "divergence"

    def __init__(self, params: Params, notes: Notes, **parts: Any) -> None:
        super().__init__(params, notes)
        self.window: D.PerformanceWindow = parts["window"]
        self.perf: D.Performance = parts["perf"]
        self.sample: D.StatsSample = parts["sample"]
        self.comove: D.CoMovement = parts["comove"]
        self.conn: D.Connectedness | None = parts["conn"]
        self.rolling_conn: pd.DataFrame | None = parts["rolling_conn"]
        self.caveats: pd.DataFrame | None = parts["caveats"]
        self.data: dict = parts["data"]
        self.provenance: dict = parts["provenance"]

    # ----------------------------------------------------------------------------------------- text
    def headline(self) -> list[str]:
        return prose.headline(self)

    def key_numbers(self) -> dict[str, str]:
        return prose.key_numbers(self)

    def method(self) -> list[str]:
        return prose.method_lines(self)

    def data_summary(self) -> dict[str, Any]:
        return dict(self.data)

    # ----------------------------------------------------------------------------------------- tables
    def _row_notes(self) -> pd.Series:
        t, p, w = self.perf.table, self.params, self.window
        ye = D.year_end_before(w.end).date()
        out = {}
        for a, r in t.iterrows():
            bits = []
            if a in w.late:
                bits.append(f"listed {w.late[a].date()}")
            if r["stale_days"] > p.max_stale_days:
                bits.append(f"last price {r['stale_days']} days before the end")
            if pd.isna(r["ytd"]) and r["end"] > pd.Timestamp(ye, tz="UTC"):
                bits.append(f"no price within {p.max_stale_days} days before {ye}")
            if r["kind"] == "basket":
                ids = self.perf.members.get(a.replace(" (cap)", ""), [])
                fresh = sum(t.at[m, "stale_days"] <= p.max_stale_days for m in ids if m in t.index)
                bits.append(f"{fresh} of {len(ids)} members priced at the end")
                snap = self.perf.basket_snapshot_from.get(a.replace(" (cap)", ""))
                if snap is not None:
                    bits.append(f"snapshot values from {snap.date()}")
            if r["end_source"]:
                bits.append(f"source {r['end_source']}")
            out[a] = "; ".join(bits)
        return pd.Series(out, dtype=object)

    def _perf_table(self, rows: list[str], name: str, title: str, note: str) -> Table:
        t = self.perf.table.loc[rows].assign(note=self._row_notes().reindex(rows))
        t["name"] = [prose.display_name(a) if k == "asset" else a for a, k in zip(rows, t["kind"])]
        t["group"] = t["group"].str.replace("_", " ")
        cols = ["name", "group", "start", "end", "end_value", "cum_return", "ytd", "max_drawdown", "note"]
        return Table(name, title, t[cols].reset_index(drop=True), PERF_FORMATS, PERF_LABELS, note)

    def _performance_tables(self) -> dict[str, Table]:
        t, w = self.perf.table, self.window
        head = [*t.index[t["kind"] == "basket"], *[a for a in self.params.headline_assets if a in t.index
                                                     and t.at[a, "kind"] == "asset"],
                *[a for a in t.index if t.at[a, "group"] == "benchmark" and a not in self.params.headline_assets]]
        order = t[t["kind"] == "asset"].assign(_g=lambda x: x["group"].map(
            {g: i for i, g in enumerate(_assets.GROUPS)})).sort_values(["_g", "cum_return"], ascending=[True, False])
        span = f"{w.base.date()} to {w.end.date()}"
        ytd = f"YTD from {D.year_end_before(w.end).date()}"
        return {
            "performance": self._perf_table(list(dict.fromkeys(head)), "performance", f"Baskets and benchmarks, "
                                            f"{span}", f"Cumulative return since each row's start; {ytd}; baskets "
                                            "equal-weighted (cap: market-cap weighted), rebalanced daily."),
            "since_base": self._perf_table(list(order.index), "since_base", f"Every asset since {w.base.date()}",
                                           f"To {w.end.date()} ({w.rule}); `end value` gives the clock of the last "
                                           f"price (UTC close, intraday snapshot, session close); {ytd}."),
        }

    def _comovement_tables(self) -> dict[str, Table]:
        cm, p = self.comove, self.params
        rows = []
        for (w, pair), s in cm.correlations.items():
            a, b = pair.split(" ~ ")
            s = s.dropna()
            rows.append({"pair": f"{prose.display_name(a)} with {prose.display_name(b)}", "window": w,
                         "mean": s.mean(), "min": s.min(), "max": s.max(), "latest": s.iloc[-1] if len(s) else None})
        corr = pd.DataFrame(rows).sort_values(["pair", "window"])
        full = cm.two_factor_full
        fac = pd.DataFrame([{"factor": prose.display_name(f), "beta": full[f"beta_{f}"], "t (Newey-West)":
                             full[f"t_{f}"], "p": full[f"p_{f}"], "share of variance": full[f"share_{f}"]}
                            for f in p.factors])
        return {
            "correlations": Table("correlations", "Rolling correlations of daily returns", corr,
                                  {"window": "int", "mean": "num", "min": "num", "max": "num", "latest": "num"},
                                  {"window": "window (sessions)"}, f"Close-only sample {self.sample.base.date()} to "
                                  f"{self.sample.end.date()}."),
            "two_factor": Table("two_factor", f"{prose.display_name(p.target)} on {prose.names(p.factors)}, full "
                                "sample", fac, {"beta": "num", "t (Newey-West)": "stat", "p": "p",
                                                "share of variance": "pct_plain"}, {},
                                f"OLS with a constant, {full['n']} sessions, R² {full['r2']:.2f}; shares split R² "
                                "by the Shapley rule."),
        }

    def _tests_table(self) -> Table:
        cm, rows = self.comove, []
        c = cm.cointegration
        rows.append({"test": "Engle-Granger (log levels)", "statistic": c["eg_stat"], "p": c["eg_pvalue"],
                     "detail": f"5% critical value {c['eg_crit_5pct']:.2f}; {c['n']} sessions"})
        for r_, (tr, cv) in enumerate(zip(c["johansen_trace"], c["johansen_crit_5pct"])):
            rows.append({"test": f"Johansen trace, rank <= {r_}", "statistic": tr, "p": None,
                         "detail": f"5% critical value {cv:.2f}"})
        for r in cm.chow.itertuples():
            rows.append({"test": f"Chow break at {r.date.date()}", "statistic": r.F, "p": r.pvalue,
                         "detail": f"F({r.df_num}, {r.df_den}); {r.n_before} sessions before, {r.n_after} after"})
        if len(cm.breaks):
            rows.append({"test": "Change points of the spread", "statistic": None, "p": None,
                         "detail": ", ".join(str(d.date()) for d in cm.breaks)})
        if cm.regimes is not None:
            k = len(cm.regimes.summary)
            for i, (name, r) in enumerate(cm.regimes.summary.iterrows()):
                label = ("calm regime", "volatile regime")[i] if k == 2 else f"regime {i + 1} of {k} (by volatility)"
                rows.append({"test": f"Markov {label}", "statistic": None, "p": None,
                             "detail": f"daily volatility {r['volatility']:.2%}, {r['share_of_rows']:.0%} of "
                                       f"sessions, expected duration {r['expected_duration']:.0f} sessions"})
        return Table("tests", "Long run, breaks and regimes", pd.DataFrame(rows), {"statistic": "stat", "p": "p"},
                     {}, f"Spread {prose.display_name(self.params.spread[0])} - "
                     f"{prose.display_name(self.params.spread[1])} (log levels).")

    def _connectedness_tables(self) -> dict[str, Table]:
        c = self.conn
        if c is None:
            return {}
        mat = (c.table.rename(index=prose.display_name, columns=prose.display_name)
               .assign(**{"from others": c.directional["from"].to_numpy()}).reset_index(names="variance of"))
        dirs = c.directional.reset_index(names="series").assign(series=lambda x: x["series"].map(prose.display_name))
        pair = c.pairwise_net.stack().rename("net").reset_index()
        pair.columns = ["from", "to", "net"]
        pair = pair[pair["net"] > 0].sort_values("net", ascending=False).head(8)
        pair[["from", "to"]] = pair[["from", "to"]].apply(lambda s: s.map(prose.display_name))
        span = f"VAR({c.lags}), {c.horizon}-session horizon, {c.n} sessions {c.start.date()} to {c.end.date()}"
        return {
            "connectedness": Table("connectedness", "Connectedness table (share of forecast-error variance)", mat,
                                   {col: "pct_plain" for col in mat.columns[1:]}, {},
                                   f"Row: the series whose variance is explained; column: the shocked series; rows "
                                   f"sum to 100%. {span}."),
            "directional": Table("directional", "Directional connectedness", dirs[["series", "to", "from", "net",
                                                                                   "own"]],
                                 {"to": "pct_plain", "from": "pct_plain", "net": "pct", "own": "pct_plain"},
                                 {"to": "TO others", "from": "FROM others", "net": "NET", "own": "own share"},
                                 f"Total connectedness {c.total:.1%}. NET > 0: a net transmitter."),
            "pairwise": Table("pairwise", "Largest pairwise net transmissions", pair, {"net": "pct_plain"},
                              {"net": "net share"}, "d(to, from) - d(from, to): how much more of the receiver's "
                              "variance the sender explains than the reverse."),
        }

    def _data_tables(self) -> dict[str, Table]:
        out = {}
        spans = D.membership_spans(self.sample.membership[self.params.target]) \
            if self.params.target in self.sample.membership else None
        if spans is not None:
            out["membership"] = Table("membership", f"{self.params.target} basket size in the statistics sample",
                                      spans, {"start": "date", "end": "date", "rows": "int", "members": "int"},
                                      {"rows": "sessions"}, "Members with a close-only return each session.")
        if self.caveats is not None:
            cav = self.caveats
            flag = cav[(cav["gaps_in_window"] > 0) | cav["snapshot_in_window"]].drop(columns="sources")
            flag = flag.assign(snapshot_in_window=flag["snapshot_in_window"].map({True: "yes", False: "no"}))
            out["data_caveats"] = Table("data_caveats", "Data caveats inside the window", flag.reset_index(drop=True),
                                        {"coverage_pct": "num", "first_snapshot": "date", "gaps_in_window": "int",
                                         "gap_days_in_window": "int"},
                                        {"coverage_pct": "coverage %", "first_snapshot": "first snapshot",
                                         "snapshot_in_window": "snapshots in window", "gaps_in_window": "gaps",
                                         "gap_days_in_window": "gap days", "longest_gap": "longest gap"},
                                        "From capflow.data.quality, relative to each asset's window.")
        from capflow.data import provenance_table

        holder = pd.DataFrame()
        holder.attrs["provenance"] = self.provenance
        prov = provenance_table(holder) if self.provenance else None
        if prov is not None and len(prov):
            out["provenance"] = Table("provenance", "Provenance", prov.drop(columns="asset"),
                                      {"rows": "int", "first": "date", "last": "date"}, {},
                                      "Layer and original sources (rows per source) of every price series.")
        return out

    def tables(self) -> dict[str, Table]:
        return {**self._performance_tables(), **self._comovement_tables(), "tests": self._tests_table(),
                **self._connectedness_tables(), **self._data_tables()}

    # ----------------------------------------------------------------------------------------- figures
    def figures(self) -> dict[str, Any]:
        from capflow.plots import divergence as P

        perf, s, p = self.perf, self.sample, self.params
        head = [a for a in p.headline_assets if a in perf.asset_levels.columns]
        baskets = [b for b in perf.basket_levels.columns if "(cap)" not in b]
        top = pd.concat([perf.basket_levels[baskets], perf.asset_levels[head]], axis=1).sort_index()
        snaps = {**perf.snapshot_from, **perf.basket_snapshot_from}
        groups = {a: P.FACET_OF.get(_assets.group_of(a), _assets.group_of(a)) for a in perf.asset_levels.columns}
        facets = P.panels(list(perf.table.index[perf.table["kind"] == "asset"]), groups, P.FACET_TITLES)
        exits = D.basket_exits(s.truncated, s.members.get(p.target, []))
        figs = {
            "performance": P.performance_figure(top, prose.performance_title(self), snaps, s.end,
                                                f"Shaded: after the end of the close-only statistics ({s.end.date()}). "
                                                "Dotted: values from intraday snapshots."),
            "assets": P.assets_figure(perf.asset_levels, facets, snaps, "Every asset, indexed to 100 at its start "
                                      "(dotted: intraday snapshot values; breaks: missing days)"),
            "correlations": P.correlations_figure(self.comove.correlations, prose.correlation_title(self), exits),
            "variance_shares": P.shares_figure(self.comove.two_factor[prose.mid_window(p.windows)],
                                               prose.shares_title(self), exits),
            "spread": P.spread_figure(self.comove.spread, self.comove.breaks, self.comove.regimes,
                                      prose.spread_title(self)),
        }
        if self.conn is not None:
            figs["connectedness"] = P.connectedness_figure(self.conn.directional, self.rolling_conn,
                                                           prose.connectedness_title(self), p.connectedness_window)
        return figs
