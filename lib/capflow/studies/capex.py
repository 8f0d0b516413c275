"""The capex study in the one shape: :class:`Params` -> :func:`load_inputs` -> :func:`run` -> :class:`CapexResult`.

Two questions, one page: how much do the hyperscalers (Microsoft, Alphabet, Amazon, Meta, Oracle) spend on capex
(trailing four quarters, latest guidance), and do AI tokens, crypto majors and AI equities move on their capex
news (CAR-on-surprise regressions with clustered, Driscoll-Kraay, wild-cluster-bootstrap and placebo inference)?

Composes :mod:`capflow.capex` (catalog, timing, surprises, CAR panel), :mod:`capflow.capex_spend` (what they
spend), :mod:`capflow.capex_inference` (regressions, bootstrap, placebo, leave-one-out) and
:mod:`capflow.plots.capex` (figures). Everything lost on the way (engine drops, releases without a surprise,
quarters without a capex figure, INFERRED dates, assets without prices, warnings of the layers below) becomes a
:class:`~capflow.studies.base.Notes` entry, never a printed warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from capflow import capex as _cx
from capflow import capex_inference as _ci
from capflow import capex_spend as _sp
from capflow import fmt
from capflow.capex import CapexError
from capflow.studies.base import StudyParams, Notes, Result, StudyError, Table, captured, params_from

STUDY_MODELS: tuple[str, ...] = ("constant_mean", "market_adjusted", "market")


# ----------------------------------------------------------------------------------------------------------------
# parameters
# ----------------------------------------------------------------------------------------------------------------
def _items(text: str, name: str) -> tuple[str, ...]:
    if not isinstance(text, str):
        raise StudyError(f"parameter {name}={text!r} must be a comma-separated string such as 'MSFT,META'")
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    if not items:
        raise StudyError(f"parameter {name} is empty; give at least one name")
    return items


def _windows(value: Any, name: str) -> tuple[tuple[int, int], ...]:
    try:
        out = tuple((int(a), int(b)) for a, b in value)
    except (TypeError, ValueError):
        raise StudyError(f"parameter {name}={value!r} must be pairs of integers such as [[0, 1], [0, 5]]") from None
    bad = [w for w in out if w[0] > w[1]]
    if not out or bad:
        raise StudyError(f"parameter {name}={value!r}: each window is [start, end] with start <= end, at least one")
    return out


def _integer(value: Any, name: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise StudyError(f"parameter {name}={value!r} must be an integer >= {low}")


def _choice(value: Any, name: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise StudyError(f"parameter {name}={value!r} is not valid; valid: {', '.join(valid)}")


@dataclass(frozen=True)
class Params(StudyParams):
    """Parameters of the capex study (the notebook's ``parameters`` cell), validated on construction.

    Every error is one :class:`StudyError` line naming the parameter, what was wrong and what is valid.
    """

    companies: str = "MSFT,GOOGL,AMZN,META,ORCL"
    groups: str = "ai_token,crypto_major,ai_equity,semis_etf,own"
    windows: tuple = ((0, 1), (-1, 1), (0, 5))
    measure: str = "yoy"
    include_inferred: bool = True
    market: str = "QQQ"
    model: str = "constant_mean"
    weights: str = "rademacher"
    n_boot: int = 199
    n_placebo: int = 99
    seed: int = 0
    min_events: int = 15
    alpha: float = 0.05
    headline_group: str = "pooled"
    headline_window: str = "[0,+5]"
    estimation_window: tuple = (-250, -11)
    min_estimation: int = 60

    def __post_init__(self) -> None:
        _items(self.companies, "companies")
        for g in _items(self.groups, "groups"):
            if g != "own":
                try:
                    _cx._group_assets([g])
                except CapexError:
                    from capflow.assets import GROUPS
                    raise StudyError(f"parameter groups: unknown group {g!r}; valid: own, {', '.join(GROUPS)}") \
                        from None
        object.__setattr__(self, "windows", _windows(self.windows, "windows"))
        est = _windows([self.estimation_window], "estimation_window")[0]
        object.__setattr__(self, "estimation_window", est)
        if est[1] >= min(a for a, _ in self.windows):
            raise StudyError(f"parameter estimation_window={list(est)} must end before the earliest window start")
        _choice(self.measure, "measure", _cx.MEASURES)
        _choice(self.model, "model", STUDY_MODELS)
        _choice(self.weights, "weights", _ci.WEIGHTS)
        if not isinstance(self.include_inferred, bool):
            raise StudyError(f"parameter include_inferred={self.include_inferred!r} must be True or False")
        for name, low in (("n_boot", 0), ("n_placebo", 0), ("seed", 0), ("min_events", 2), ("min_estimation", 2)):
            _integer(getattr(self, name), name, low)
        if not isinstance(self.alpha, (int, float)) or not 0 < self.alpha < 0.5:
            raise StudyError(f"parameter alpha={self.alpha!r} must be a number in (0, 0.5), e.g. 0.05")
        try:
            _cx._resolve_asset(self.market, "market")
        except CapexError as exc:
            raise StudyError(str(exc)) from None
        _choice(self.headline_group, "headline_group", ("pooled", *self.group_list))
        _choice(self.headline_window, "headline_window", tuple(_cx.windows_label(self.windows)))

    @property
    def company_list(self) -> list[str]:
        """Company tickers, upper case."""
        return [c.upper() for c in _items(self.companies, "companies")]


    @property
    def group_list(self) -> list[str]:
        """Asset groups (registry tags and ``own``)."""
        return list(_items(self.groups, "groups"))


def params(**values: Any) -> Params:
    """:class:`Params` from keyword values or a notebook's ``globals()`` (extra names ignored)."""
    return params_from(Params, values)


# ----------------------------------------------------------------------------------------------------------------
# load
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class Inputs:
    """What the study reads: the catalog (all releases of the companies, and the ones studied) and returns."""

    catalog_all: pd.DataFrame
    catalog: pd.DataFrame
    returns: pd.DataFrame
    notes: Notes = field(default_factory=Notes)


def load_inputs(params: Params) -> Inputs:
    """Read the capex catalog and the returns of every studied asset and the market (the only data reading).

    Raises
    ------
    StudyError
        An unknown company or an unreadable catalog (one line).
    """
    notes = Notes()
    with captured(notes, "load"):
        try:
            cat_all = _cx.load_announcements(companies=params.company_list, include_inferred=True)
        except CapexError as exc:
            raise StudyError(str(exc)) from None
        cat = cat_all if params.include_inferred else cat_all[~cat_all["inferred"]].reset_index(drop=True)
        events = _cx.study_events(cat, params.group_list)
        returns = _ci.load_study_returns(cat, events, params.market)
    for r in cat_all[cat_all["inferred"]].itertuples():
        if params.include_inferred:
            notes.add("caveat", "load", r.announcement_id, "release date INFERRED from a filing date, kept "
                      "(include_inferred=True)")
        else:
            notes.add("excluded", "load", r.announcement_id, "release date INFERRED from a filing date "
                      "(include_inferred=False)")
    for asset, reason in (returns.attrs.get("dropped") or {}).items():
        notes.add("dropped", "load", asset, f"no prices for the study period ({reason})")
    for msg in returns.attrs.get("messages", []):
        notes.add("data", "load", "sample", msg if len(msg) <= 200 else msg[:197] + "...")
    return Inputs(cat_all, cat, returns, notes)


# ----------------------------------------------------------------------------------------------------------------
# run
# ----------------------------------------------------------------------------------------------------------------
def _study_notes(notes: Notes, study: _ci.CapexStudy, params: Params) -> None:
    """Engine drops, releases without a surprise, placebo drops, skipped leave-one-out fits."""
    dropped = study.event_result.dropped
    for r in dropped.itertuples():
        notes.add("dropped", "event study", r.event_id, r.reason)
    sur = study.surprises.set_index("announcement_id")[params.measure]
    for aid in sur.index[sur.isna()]:
        notes.add("excluded", "regression", aid, f"no {params.measure} surprise: {_cx.MEASURE_NEEDS[params.measure]}")
    n_events = int(study.placebo.attrs.get("n_events", 0))
    for reason, count in study.placebo_dropped.items():
        notes.add("dropped", "placebo", "sample", f"distinct (asset, placebo session) events dropped by the "
                  f"event study, of {n_events:,}: {reason}", count)
    for s in study.loo_skipped:
        notes.add("excluded", "leave-one-out", s, "too few announcement dates left")


def _spend_notes(notes: Notes, quarterly: pd.DataFrame) -> None:
    for r in quarterly[quarterly["capex_usd"].isna()].itertuples():
        notes.add("caveat", "capex figures", f"{r.ticker} {r.fiscal_period}",
                  "release in the catalog without a capex figure: a gap in the figures, and no trailing-four-"
                  "quarter total until four quarters with figures follow")


def run(inputs: Inputs, params: Params) -> "CapexResult":
    """Surprises, CAR panel, regressions, bootstrap, placebo, leave-one-out and the spend tables (pure).

    Raises
    ------
    StudyError
        Too few announcement dates for the measure and companies (one line naming ``min_events``).
    """
    notes = Notes(inputs.notes.items)
    with captured(notes, "run"):
        try:
            study = _ci.run_study(inputs.catalog, measure=params.measure, groups=params.group_list,
                                  windows=params.windows, market=params.market, model=params.model,
                                  n_boot=params.n_boot, n_placebo=params.n_placebo, weights=params.weights,
                                  seed=params.seed, min_events=params.min_events, alpha=params.alpha,
                                  returns=inputs.returns, estimation_window=params.estimation_window,
                                  min_estimation=params.min_estimation)
        except CapexError as exc:
            raise StudyError(str(exc)) from None
        quarterly = _sp.quarterly_capex(inputs.catalog_all)
        spend = {"quarterly": quarterly, "latest": _sp.trailing_capex(inputs.catalog_all),
                 "total": _sp.trailing_total_series(quarterly), "guidance": _sp.latest_guidance(inputs.catalog_all)}
    _study_notes(notes, study, params)
    _spend_notes(notes, quarterly)
    n_cells = len(study.coefficients)
    notes.add("caveat", "inference", "sample", f"{n_cells} (group, window) cells are tested: about "
              f"{params.alpha * n_cells:.1f} would pass at {params.alpha:.0%} by chance alone")
    notes.add("caveat", "surprise", "sample", "no consensus (analyst) capex estimates: every surprise compares a "
              "company with its own past releases")
    return CapexResult(params, notes, study, spend, _data_facts(inputs.returns))


def _data_facts(returns: pd.DataFrame) -> dict[str, Any]:
    """``data_as_of, data_layers, data_sources`` (:func:`capflow.data.data_summary`) and ``prices_end_min``: the
    earliest last date among the one-day return series (releases after it lose that asset)."""
    from capflow.data import data_summary

    out = data_summary(returns)
    lasts = pd.to_datetime(returns.notna()[::-1].idxmax(), utc=True) if len(returns) else pd.Series(dtype=object)
    if not out.get("data_as_of") and len(lasts):
        out["data_as_of"] = str(lasts.max().date())
    out["prices_end_min"] = str(lasts.min().date()) if len(lasts) else None
    return out


# ----------------------------------------------------------------------------------------------------------------
# text: key findings, method, key numbers
# ----------------------------------------------------------------------------------------------------------------
def _cell(study: _ci.CapexStudy, group: str, window: str) -> pd.Series:
    """The coefficient row of one (group, window) with ``p_placebo`` and ``n_draws`` (NaN without placebo)."""
    coef = study.coefficients
    row = coef[(coef["group"] == group) & (coef["window"] == window)].iloc[0].copy()
    ps = study.placebo_summary
    hit = ps[(ps["group"] == group) & (ps["window"] == window)] if len(ps) else ps
    row["p_placebo"] = float(hit["p_placebo"].iloc[0]) if len(hit) else float("nan")
    row["n_draws"] = int(hit["n_draws"].iloc[0]) if len(hit) else 0
    return row


def _verdict(row: pd.Series, alpha: float) -> str:
    tests = {"clustered t": row["p_cluster"], "wild bootstrap": row["p_boot"]}
    if pd.notna(row["p_placebo"]):
        tests["placebo"] = row["p_placebo"]
    passed = [k for k, v in tests.items() if v < alpha]
    if len(passed) == len(tests):
        return f"significant at {alpha:.0%} under all {len(tests)} tests"
    if not passed:
        return f"not significant at {alpha:.0%} under any of the {len(tests)} tests"
    return f"significant at {alpha:.0%} under the {' and '.join(passed)} only"


def _both(study: _ci.CapexStudy, alpha: float) -> pd.DataFrame:
    """Cells significant under both the clustered t and the wild bootstrap."""
    c = study.coefficients
    return c[(c["p_cluster"] < alpha) & (c["p_boot"] < alpha)]


def _spend_sentence(latest: pd.DataFrame) -> str:
    tot = _sp.trailing_total(latest)
    done = latest[latest["t4q_usd"].notna()]
    out = (f"Trailing-four-quarter capex as of {fmt.date(tot['as_of'])}: {fmt.usd(tot['total_usd'])} for "
           f"{', '.join(f'{t} {fmt.usd(v)}' for t, v in zip(done['ticker'], done['t4q_usd']))}")
    for r in latest[latest["t4q_usd"].isna()].itertuples():
        out += (f"; {r.ticker} is left out ({r.missing_quarters} without a capex figure in the catalog, "
                f"{r.quarters_reported} of its last four quarters reported, {fmt.usd(r.reported_sum_usd)}; last "
                f"complete total {fmt.usd(r.last_complete_t4q_usd)} as of {fmt.date(r.last_complete_release)})")
    return out + "."


def _guidance_sentence(guidance: pd.DataFrame) -> str:
    gt = _sp.guidance_total(guidance)
    by = guidance.set_index("ticker")
    parts = [f"{t} {fmt.usd(by.loc[t, 'mid_usd'])}" for t in gt["companies"]]
    out = (f"Latest full-year capex guidance (midpoints) for {gt['period']}: {', '.join(parts)}, "
           f"{fmt.usd(gt['total_usd'])} together" if parts else "No company gives calendar-year capex guidance")
    out += "".join(f"; {t} {fmt.usd(v)} for {p}" for t, p, v in gt["other"])
    for t in gt["none"]:
        r = by.loc[t]
        latest = f"latest dollar figure {fmt.usd(r['mid_usd'])} for {r['period']}" if r["period"] else "none"
        out += f"; {t} gives no full-year dollar figure ({latest})"
    return out + "."


def headline(result: "CapexResult") -> list[str]:
    """Key findings: what they spend, the headline coefficient with its three tests, the cells, the sample."""
    p, st = result.params, result.capex
    row = _cell(st, p.headline_group, p.headline_window)
    cells, n_cells = _both(st, p.alpha), len(st.coefficients)
    cat, panel = st.catalog, st.panel.dropna(subset=["surprise", "car"])
    n_inf = int(cat["inferred"].sum())
    who = "Pooled" if p.headline_group == "pooled" else f"The {p.headline_group}"
    return [
        _spend_sentence(result.spend["latest"]),
        _guidance_sentence(result.spend["guidance"]),
        f"{who} CAR {p.headline_window} on the {p.measure} capex surprise: {fmt.pct(row['coef'], 2)} per unit "
        f"(clustered p {fmt.pval(row['p_cluster'])}, {fmt.integer(row['n_clusters'])} announcement-date clusters; "
        f"wild-bootstrap p {fmt.pval(row['p_boot'])}, {fmt.integer(p.n_boot)} draws; placebo p "
        f"{fmt.pval(row['p_placebo'])}, {fmt.integer(row['n_draws'])} random dates): {_verdict(row, p.alpha)}.",
        f"{len(cells)} of {n_cells} (group, window) cells are significant at {p.alpha:.0%} under both the clustered "
        f"t and the wild bootstrap" + (f" ({', '.join(cells['group'] + ' ' + cells['window'])})" if len(cells)
                                       else "") +
        f"; with {n_cells} cells tested about {p.alpha * n_cells:.1f} would pass by chance alone"
        + (", so a lone significant cell is weak evidence." if len(cells) else "."),
        f"Sample: {fmt.integer(len(cat))} releases of {cat['ticker'].nunique()} companies "
        f"({', '.join(sorted(cat['ticker'].unique()))}) from {fmt.date(cat['announce_date'].min())} to "
        f"{fmt.date(cat['announce_date'].max())}; {fmt.integer(panel['announce_date'].nunique())} announcement "
        f"dates with a surprise and CARs enter the regressions ({fmt.integer(row['n'])} (release, asset) rows in "
        f"the headline cell); {n_inf} INFERRED release dates {'kept' if p.include_inferred else 'excluded'}; "
        f"{fmt.integer(len(st.event_result.dropped))} (release, asset) events dropped by the event study; one-day "
        f"returns end between {fmt.date(result.data.get('prices_end_min'))} and "
        f"{fmt.date(result.data.get('data_as_of'))} (data as of).",
    ]


def key_numbers(result: "CapexResult") -> dict[str, str]:
    """2-4 short strings for the report index."""
    p = result.params
    row = _cell(result.capex, p.headline_group, p.headline_window)
    tot = _sp.trailing_total(result.spend["latest"])
    gt = _sp.guidance_total(result.spend["guidance"])
    n_all = len(result.spend["latest"])
    return {f"{p.headline_group} {p.headline_window}": f"{fmt.pct(row['coef'], 2)} per unit {p.measure}, "
                                                      f"p_boot {fmt.pval(row['p_boot'])}",
            "placebo p": fmt.pval(row["p_placebo"]),
            "T4Q capex": f"{fmt.usd(tot['total_usd'])} ({len(tot['complete'])} of {n_all} companies complete)",
            f"{gt['period']} guidance": f"{fmt.usd(gt['total_usd'])} ({', '.join(gt['companies'])})"}


def method(result: "CapexResult") -> list[str]:
    """Model, windows, surprise, tests, clocks, with their values (Markdown bullets)."""
    p, st = result.params, result.capex
    cells = len(st.coefficients)
    g = st.coefficients["n_clusters"].max() if cells else 0
    return [
        f"- **Abnormal returns:** {p.model.replace('_', ' ')} model (AR = return - the asset's mean return in its "
        f"estimation window [{p.estimation_window[0]}, {p.estimation_window[1]}] trading periods, at least "
        f"{p.min_estimation} returns); CAR windows {', '.join(_cx.windows_label(p.windows))} in each asset's own "
        "trading periods; estimation windows keep earlier releases (a quarterly release always has some).",
        f"- **Regression:** CAR = a + b x surprise + c x market return + company fixed effects (+ group fixed "
        f"effects when pooled); the control is {p.market}'s compounded return over each CAR window's dates.",
        f"- **Surprise ({p.measure}):** {_cx.MEASURE_DEFINITIONS[p.measure]}. No consensus (analyst) capex "
        "estimates are available to capflow, and none is invented: every measure compares a company with its "
        "own past releases, so a 'surprise' is unusual growth, not a miss against expectations.",
        f"- **Standard errors:** clustered by announcement date (CRV1, t with G-1 degrees of freedom; up to {g} "
        "clusters: same-day releases share one); Driscoll-Kraay HAC with Bartlett lags = window length in NYSE "
        "sessions (in the CSV).",
        f"- **Wild-cluster bootstrap:** restricted (b = 0 imposed), {p.weights} weights per cluster, "
        f"{fmt.integer(p.n_boot)} draws per cell, bootstrap-t p of |t| and a symmetric bootstrap-t 95% interval; "
        "computed on cluster sums (same draws as the textbook algorithm).",
        f"- **Placebo dates:** {fmt.integer(p.n_placebo)} draws; each moves every release to a random NYSE session "
        "between the first and last release and more than 5 sessions from any real release, keeping company, "
        "timing and surprise; p = (1 + #|b placebo| >= |b|) / (1 + draws).",
        "- **Timing (one anchor rule, capflow.calendars.anchor):** a release is placed at 16:05 New York (after "
        "close) or 08:00 (before open); equities and ETFs take the first session whose close is at or after it "
        "(after close -> next session); daily crypto takes the UTC day holding it.",
        f"- **Multiple testing:** {cells} (group, window) cells; read single-cell significance against the "
        f"{p.alpha * cells:.1f} expected by chance. Leave-one-company-out fits are in the table below the "
        "coefficients.",
        f"- **Trailing four quarters:** a release's quarter plus the company's three previous releases, only when "
        f"they are consecutive quarters and all four have a capex figure (cash purchases of property and "
        f"equipment, definitions per company in the catalog); seed {p.seed} for all randomness.",
    ]


# ----------------------------------------------------------------------------------------------------------------
# tables
# ----------------------------------------------------------------------------------------------------------------
_USD_NOTE = "Cash capex (purchases of property and equipment) as defined per company in the catalog, in US dollars."


def _t4q_table(latest: pd.DataFrame) -> Table:
    tot = _sp.trailing_total(latest)
    total = {"latest_release": tot["as_of"], "t4q_usd": tot["total_usd"]}
    total["ticker"] = f"total of {len(tot['complete'])}"
    frame = pd.concat([latest, pd.DataFrame([total])], ignore_index=True).drop(columns=["reported_sum_usd",
                                                                                        "company"])
    return Table("capex_t4q", "Trailing-four-quarter (T4Q) capex by company, as of each company's latest release",
                 frame, formats={"ticker": "text", "latest_release": "date", "fiscal_period": "text",
                                 "latest_quarter_usd": "usd", "t4q_usd": "usd", "quarters_reported": "int",
                                 "missing_quarters": "text", "last_complete_t4q_usd": "usd",
                                 "last_complete_release": "date"},
                 labels={"ticker": "company", "latest_release": "latest release", "fiscal_period": "quarter",
                         "latest_quarter_usd": "quarter capex", "t4q_usd": "T4Q capex",
                         "quarters_reported": "quarters with a figure", "missing_quarters": "without a figure",
                         "last_complete_t4q_usd": "last complete T4Q", "last_complete_release": "as of"},
                 note=_USD_NOTE + " A quarter without a figure leaves the company's total blank rather than "
                                  "understating it; the total row sums the complete companies only.")


def _t4q_series_table(quarterly: pd.DataFrame) -> Table:
    dates = pd.date_range(quarterly["announce_date"].min(), quarterly["announce_date"].max(), freq="QE")
    dates = dates.append(pd.DatetimeIndex([quarterly["announce_date"].max()])).unique()
    frame = _sp.trailing_total_series(quarterly, dates).drop(columns="companies_complete")
    frame = frame.dropna(subset=[c for c in frame.columns if c != "date"], how="all").reset_index(drop=True)
    tickers = [c for c in frame.columns if c not in ("date", "total_usd")]
    return Table("capex_t4q_series", "Trailing-four-quarter capex over time (as of each calendar quarter end and "
                 "the latest release)", frame, formats={"date": "date", "total_usd": "usd",
                                                         **{t: "usd" for t in tickers}},
                 labels={"date": "as of", "total_usd": "all companies"},
                 note="Each company's total as of its latest release on or before the date; blank where a quarter "
                      "is missing or fewer than four quarters are in the catalog; the all-company total only when "
                      "every company's is known.")


def _guidance_table(guidance: pd.DataFrame) -> Table:
    frame = guidance.drop(columns="full_year")
    return Table("capex_guidance", "Latest capex guidance with a dollar figure, by company", frame,
                 formats={"company": "text", "ticker": "text", "period": "text", "low_usd": "usd", "high_usd": "usd",
                          "mid_usd": "usd", "release": "date", "guidance": "text", "later_statement": "text"},
                 labels={"low_usd": "low", "high_usd": "high", "mid_usd": "midpoint", "release": "from the release of",
                         "later_statement": "later statement without a figure"},
                 note="Period: calendar year (2026), fiscal year (FY2026) or a quarter; the midpoint is the mean of "
                      "low and high, or the one figure given.")


def _coef_table(st: _ci.CapexStudy) -> Table:
    cols = ["group", "window", "coef", "p_cluster", "p_hac", "p_boot", "lo_boot", "hi_boot", "n", "n_clusters"]
    frame = st.coefficients[cols].copy()
    ps = st.placebo_summary
    frame.insert(6, "p_placebo", frame.merge(ps[["group", "window", "p_placebo"]], on=["group", "window"],
                                             how="left")["p_placebo"].to_numpy() if len(ps) else float("nan"))
    pct2 = {c: "pct2" for c in ("coef", "lo_boot", "hi_boot")}
    return Table("coefficients", "CAR on capex surprise: coefficient per (group, window)", frame,
                 formats={**pct2, "group": "text", "window": "text", "p_cluster": "p", "p_hac": "p", "p_boot": "p",
                          "p_placebo": "p", "n": "int", "n_clusters": "int"},
                 labels={"coef": "coefficient", "p_cluster": "p (clustered)", "p_hac": "p (D-K)",
                         "p_boot": "p (bootstrap)", "p_placebo": "p (placebo)", "lo_boot": "95% low (boot)",
                         "hi_boot": "95% high (boot)", "n": "rows", "n_clusters": "clusters"},
                 note="Coefficient: CAR (as a % return) per unit of surprise, controlling for the market's return and "
                      "company (and group) fixed effects. D-K: Driscoll-Kraay HAC; boot: wild-cluster bootstrap; "
                      "clusters: announcement dates. Standard errors and every interval are in the CSV of the run.")


def _caar_table(st: _ci.CapexStudy) -> Table:
    res = st.event_result
    kp = res.stats[res.stats["test"] == "kp"][["group", "window", "p_value"]]
    frame = res.caar.merge(kp, on=["group", "window"], how="left")
    frame = frame[["group", "window", "caar", "boot_lo", "boot_hi", "p_value", "n"]]
    return Table("caar", "Average cumulative abnormal return around the releases, by asset group", frame,
                 formats={"group": "text", "window": "text", "caar": "pct2", "boot_lo": "pct2", "boot_hi": "pct2",
                          "p_value": "p", "n": "int"},
                 labels={"caar": "CAAR", "boot_lo": "bootstrap 95% low", "boot_hi": "bootstrap 95% high",
                         "p_value": "p (KP-adjusted BMP)", "n": "events"},
                 note="All releases pooled regardless of the surprise; the Kolari-Pynnonen-adjusted BMP test allows "
                      "for cross-correlation of same-day events.")


def _loo_table(st: _ci.CapexStudy, group: str) -> Table:
    loo = st.leave_one_out[st.leave_one_out["group"] == group]
    frame = loo.pivot(index="dropped", columns="window", values="coef")
    frame = frame[[w for w in pd.unique(loo["window"])]].reset_index()
    return Table("leave_one_out", f"Leave one company out: {group} coefficient per window without each company",
                 frame, formats={"dropped": "text", **{w: "pct2" for w in frame.columns if w != "dropped"}},
                 labels={"dropped": "company left out"},
                 note="Coefficient (CAR per unit of surprise) re-estimated without each company's releases; p-values "
                      "and cluster counts in leave_one_out.csv.")


def _release_table(st: _ci.CapexStudy, measure: str) -> Table:
    cat = st.catalog
    frame = cat[["ticker", "announce_date", "timing", "fiscal_period", "capex_usd"]].copy()
    frame[measure] = st.surprises[measure].reindex(cat.index).to_numpy()
    frame["inferred"] = cat["inferred"].map({True: "INFERRED", False: "reported"})
    fm = "pct" if measure in ("qoq", "yoy", "guidance_revision") else "num"
    return Table("releases", "The releases studied", frame,
                 formats={"ticker": "text", "announce_date": "date", "timing": "text", "fiscal_period": "text",
                          "capex_usd": "usd", measure: fm, "inferred": "text"},
                 labels={"announce_date": "release (New York date)", "fiscal_period": "quarter",
                         "capex_usd": "capex in the quarter", measure: f"surprise ({measure})",
                         "inferred": "release date"},
                 note=f"Surprise: {_cx.MEASURE_DEFINITIONS[measure]}; blank when the release lacks the history it "
                      "needs (it is then left out of the regressions).")


def _data_table(st: _ci.CapexStudy) -> Table:
    prov = st.provenance
    if not len(prov):
        return Table("data_sources", "Price data", pd.DataFrame({"asset": []}))
    frame = prov[["symbol", "layer", "sources", "first", "last", "rows"]].copy()
    for c in ("first", "last"):
        frame[c] = pd.to_datetime(frame[c], utc=True, errors="coerce")
    return Table("data_sources", "Price data: every series used, with its sources", frame,
                 formats={"symbol": "text", "layer": "text", "sources": "text", "first": "date",
                          "last": "date", "rows": "int"},
                 note="Daily closes (crypto: UTC days; equities: session adjusted closes); sources with the number "
                      "of rows each gave.")


def tables(result: "CapexResult") -> dict[str, Table]:
    """Spend tables, inference tables, then the releases and the data."""
    st, p = result.capex, result.params
    out = [_t4q_table(result.spend["latest"]), _t4q_series_table(result.spend["quarterly"]),
           _guidance_table(result.spend["guidance"]), _coef_table(st), _caar_table(st),
           _loo_table(st, p.headline_group), _release_table(st, p.measure), _data_table(st)]
    return {t.name: t for t in out}


# ----------------------------------------------------------------------------------------------------------------
# figures (titles state the finding; composition in capflow.plots.capex)
# ----------------------------------------------------------------------------------------------------------------
def figures(result: "CapexResult") -> dict[str, Any]:
    """Spend (quarterly and trailing four quarters), reactions by group, coefficients, the headline cell."""
    from capflow.plots import capex as cplots

    st, p, sp = result.capex, result.params, result.spend
    row = result.headline_cell()
    n_both, n_cells = len(_both(st, p.alpha)), len(st.coefficients)
    who = "Pooled" if p.headline_group == "pooled" else p.headline_group
    pl = st.placebo[(st.placebo["group"] == p.headline_group) & (st.placebo["window"] == p.headline_window)]
    exceed = int((pl["coef"].abs() >= abs(row["coef"])).sum())
    partial = _ci.cell_partial(st.panel, p.headline_group, p.headline_window, p.group_list)
    return {
        "spend": cplots.figure_spend(sp["quarterly"], sp["total"], cplots.spend_titles(sp["quarterly"], sp["latest"])),
        "reactions": cplots.figure_reactions(st.event_result.aar, cplots.reaction_title(st.event_result)),
        "coefficients": cplots.figure_coefficients(
            st.coefficients, f"{n_both} of {n_cells} cells significant at {p.alpha:.0%} under both the clustered t "
                             "and the wild bootstrap"),
        "headline_cell": cplots.figure_headline_cell(
            partial, st.placebo, float(row["coef"]), p.headline_group, p.headline_window,
            (f"{who} CAR {p.headline_window} vs {p.measure} surprise, net of controls: {fmt.pct(row['coef'], 2)} "
             f"per unit (clustered p {fmt.pval(row['p_cluster'])})",
             f"Placebo dates: {exceed} of {len(pl)} random-date coefficients are at least as large "
             f"(p {fmt.pval(row['p_placebo'])})")),
    }


# ----------------------------------------------------------------------------------------------------------------
# result
# ----------------------------------------------------------------------------------------------------------------
class CapexResult(Result):
    """The capex study's result: headline, tables, figures, method, key numbers (see :class:`Result`)."""

    study = "capex"

    def __init__(self, params: Params, notes: Notes, capex_study: _ci.CapexStudy, spend: dict[str, pd.DataFrame],
                 data: dict[str, Any]):
        super().__init__(params, notes)
        self.capex = capex_study
        self.spend = spend
        self.data = dict(data)

    # numbers ------------------------------------------------------------------------------------------------
    def headline_cell(self) -> pd.Series:
        """The coefficient row of (headline_group, headline_window), with ``p_placebo`` and ``n_draws``."""
        return _cell(self.capex, self.params.headline_group, self.params.headline_window)

    # hooks --------------------------------------------------------------------------------------------------
    def headline(self) -> list[str]:
        return headline(self)

    def tables(self) -> dict[str, Table]:
        return tables(self)

    def figures(self) -> dict[str, Any]:
        return figures(self)

    def method(self) -> list[str]:
        return method(self)

    def key_numbers(self) -> dict[str, Any]:
        return key_numbers(self)

    def data_summary(self) -> dict[str, Any]:
        cat = self.capex.catalog
        return {**self.data, "catalog_as_of": str(cat["announce_date"].max().date()) if len(cat) else None}

    def save(self, folder: str | Path) -> list[Path]:
        """Tables, notes and ``summary.json`` (see :meth:`Result.save`) plus the CAR panel behind the fits."""
        written = super().save(folder)
        path = Path(folder) / "car_panel.csv"
        self.capex.panel.to_csv(path, index=False)
        return written + [path]
