"""Tables and the method section of the cascade study (formatted by :mod:`capflow.fmt`, nothing typed in)."""

from __future__ import annotations

import pandas as pd

from capflow import fmt
from capflow.studies.base import Table
from capflow.studies.cascade_view import GROUP_LABEL, TEST_LABEL, _sym

#: Test columns of the group table, in reading order (those the engine computed are shown).
TEST_ORDER = ("kp", "grank", "bmp", "t_cs", "patell", "kp_patell", "corrado", "cz_sign", "sign", "gen_sign",
              "wilcoxon", "bw_cda", "lamb", "bhar_skew_t")


def _window_key(label: str) -> tuple[int, int]:
    a, b = label.strip("[]").split(",")
    return int(a), int(b)


def moves_table(res) -> Table:
    pa = res.per_asset()
    cols = ["symbol", "group_label", "day0", "prev_close", "close0", "ret0", "open_to_low", "low", "low_source",
            "move_5", "move_7d"]
    return Table("raw_moves", "Raw moves: what each asset did (benchmarks included)", pa[cols],
                 {"day0": "date", "prev_close": "price", "close0": "price", "ret0": "pct", "open_to_low": "pct",
                  "low": "price", "low_source": "text", "move_5": "pct", "move_7d": "pct"},
                 {"symbol": "asset", "group_label": "group", "day0": "day 0", "prev_close": "previous close",
                  "close0": "day-0 close",
                  "ret0": "day 0", "open_to_low": "open to low", "low": "low (days 0-1)", "low_source": "low from",
                  "move_5": "5 periods into day 0", "move_7d": "7 days into day 0"},
                 "Day 0 is the bar holding the event (crypto: the UTC day; equities: the first session closing after "
                 "it). Open to low: day-0 open to the lowest low of days 0 and +1.")


def abnormal_table(res) -> Table:
    pa = res.per_asset()
    pa = pa.loc[pa["benchmark"].notna()].copy()
    pa["bench"] = pa["benchmark"].map(_sym)
    win = res.params.headline_window
    unit = "hour" if res.params.freq == "1h" else "day"
    cols = ["symbol", "group_label", "p0", "ret_p0", "bench", "bench_ret0", "beta", "alpha", "expected0", "ar0", "car",
            "p", "model"]
    return Table("abnormal_by_asset", "Why an abnormal return can be positive on a crash day", pa[cols],
                 {"p0": "datetime" if unit == "hour" else "date", "ret_p0": "pct", "bench_ret0": "pct",
                  "beta": "num", "alpha": "pct2", "expected0": "pct", "ar0": "pct", "car": "pct", "p": "p",
                  "model": "text", "bench": "text"},
                 {"symbol": "asset", "group_label": "group", "p0": f"{unit} 0", "ret_p0": f"raw {unit} 0",
                  "bench": "benchmark", "bench_ret0": f"benchmark {unit} 0", "alpha": f"alpha (per {unit})",
                  "expected0": "alpha + beta x benchmark", "ar0": f"abnormal {unit} 0",
                  "car": f"CAR {win}", "p": f"p (CAR {win})"},
                 "Abnormal = raw minus what the benchmark's move predicts from the estimation-window beta: an asset "
                 "with beta 1.8 that falls 14% while its benchmark falls 14% has a positive abnormal return.")


def group_table(res) -> Table:
    gs = res.group_stats()
    if gs.empty:
        return Table("group_tests", "Group abnormal returns and the test battery", gs)
    gs = gs.loc[gs["group"] != "all"].copy()
    gs["_k"] = gs["window"].map(_window_key)
    gs = gs.sort_values(["group", "_k"])
    tests = [t for t in TEST_ORDER if f"{t}_p" in gs.columns]
    cols = ["group", "window", "n", "caar", "boot_lo", "boot_hi", "rbar"] + [f"{t}_p" for t in tests]
    labels = {"boot_lo": f"bootstrap {1 - res.params.alpha:.0%} low", "boot_hi": "high", "rbar": "KP r̄",
              "caar": "CAAR", **{f"{t}_p": f"{TEST_LABEL[t]} p" for t in tests}}
    gs["group"] = gs["group"].map(lambda g: GROUP_LABEL.get(g, g))
    return Table("group_tests", "Group abnormal returns and the whole test battery", gs[cols],
                 {"n": "int", "caar": "pct", "boot_lo": "pct", "boot_hi": "pct", "rbar": "num3",
                  **{f"{t}_p": "p" for t in tests}}, labels,
                 "All assets share one date, so residuals are cross-correlated: KP (r̄-adjusted BMP) and GRANK are "
                 "the tests to trust; plain BMP, t and Patell over-reject under such correlation.")


def robustness_table(res) -> Table:
    rob = res.robustness
    if rob.empty:
        return Table("robustness", "Robustness", rob)
    wide = rob.pivot_table(index=["group", "model"], columns="estimation", values=["caar", "kp_p", "grank_p"],
                           aggfunc="first", sort=False)
    wide.columns = [f"{v}_{'clean' if e == 'clean' else 'all'}" for v, e in wide.columns]
    wide = wide.reset_index()
    wide["group"] = wide["group"].map(lambda g: GROUP_LABEL.get(g, g))
    wide["model"] = wide["model"].str.replace("_", " ")
    cols = [c for c in ("group", "model", "caar_clean", "caar_all", "kp_p_clean", "grank_p_clean", "kp_p_all",
                        "grank_p_all") if c in wide.columns]
    return Table("robustness", f"Robustness of CAAR {res.params.headline_window}: model and estimation sample",
                 wide[cols], {"caar_clean": "pct", "caar_all": "pct", "kp_p_clean": "p", "grank_p_clean": "p",
                              "kp_p_all": "p", "grank_p_all": "p", "model": "text"},
                 {"caar_clean": "CAAR (clean)", "caar_all": "CAAR (all days)", "kp_p_clean": "KP p (clean)",
                  "grank_p_clean": "GRANK p (clean)", "kp_p_all": "KP p (all days)", "grank_p_all": "GRANK p (all days)"},
                 "clean: estimation without other cascades and capex sessions; all days: nothing removed.")


def estimation_table(res) -> Table:
    fit = res.fits()
    removed = res.removed.groupby("asset").size() if len(res.removed) else pd.Series(dtype=int)
    fit["excluded"] = fit["asset"].map(removed).fillna(0).astype(int)
    fit["symbol"] = fit["asset"].map(_sym)
    fit["group"] = fit["group"].map(lambda g: GROUP_LABEL.get(g, g))
    cols = [c for c in ("symbol", "group", "model", "n_obs", "alpha", "beta", "sigma", "r2", "excluded")
            if c in fit.columns]
    return Table("estimation", "Estimation: alpha, beta, sigma and R² per asset", fit[cols],
                 {"n_obs": "int", "alpha": "pct2", "beta": "num", "sigma": "pct2", "r2": "num", "excluded": "int",
                  "model": "text"},
                 {"symbol": "asset", "n_obs": "observations", "alpha": "alpha (per period)", "sigma":
                  "residual sd", "r2": "R²", "excluded": "days removed"})


def exclusions_table(res) -> Table:
    if not len(res.removed):
        return Table("exclusions", "Days removed from estimation samples", pd.DataFrame(columns=["date", "why", "assets"]))
    cas = pd.DatetimeIndex(res.inputs.catalog["date"])
    cx = res.inputs.capex_events
    rows = []
    for day, grp in res.removed.assign(day=pd.DatetimeIndex(res.removed["timestamp"]).normalize()).groupby("day"):
        near = [c for c in cas if abs((c - day).days) <= res.params.exclude_pad]
        why = [f"cascade {c:%Y-%m-%d}" for c in near]
        caps = cx.loc[pd.DatetimeIndex(cx["timestamp"]).normalize() == day, "label"].unique() if len(cx) else []
        why += [f"capex {c}" for c in caps]
        rows.append({"date": day, "why": "; ".join(why) or "excluded", "assets": grp["asset"].nunique()})
    return Table("exclusions", "Days removed from estimation samples, and why", pd.DataFrame(rows),
                 {"date": "date", "why": "text", "assets": "int"}, {"assets": "assets affected"})


def confounders_table(res) -> Table:
    c = res.confounded.copy()
    c.insert(0, "symbol", c["asset"].map(_sym))
    return Table("confounders", "Other events inside each asset's event window",
                 c[["symbol", "capex_releases", "other_cascades"]], {"capex_releases": "text",
                                                                    "other_cascades": "text"},
                 {"symbol": "asset", "capex_releases": "capex releases", "other_cascades": "other cascades"},
                 "Kept unless drop_confounded=True; read their CARs with these events in mind.")


def anatomy_table(res) -> Table | None:
    if res.anatomy is None:
        return None
    t = res.anatomy.table.reset_index().rename(columns={"index": "asset"})
    cols = [c for c in ("symbol", "status", "peak_time", "trough_time", "depth", "hours_peak_to_trough",
                        "cross_time", "hours_to_cross", "best_lag", "corr_best", "who_first", "hours_to_recover")
            if c in t.columns]
    return Table("anatomy", "Hourly anatomy: peak, trough, first crossing, who moved first, recovery", t[cols],
                 {"peak_time": "datetime", "trough_time": "datetime", "depth": "pct", "hours_peak_to_trough": "hours",
                  "cross_time": "datetime", "hours_to_cross": "hours", "best_lag": "int", "corr_best": "num",
                  "hours_to_recover": "hours", "status": "text", "who_first": "text"},
                 {"symbol": "asset", "peak_time": "peak", "trough_time": "trough", "who_first": "who moved first",
                  "hours_peak_to_trough": "peak to trough", "cross_time":
                  f"first {fmt.pct(res.params.cross_threshold)} below", "hours_to_cross": "hours to cross",
                  "best_lag": "best lag (h)", "corr_best": "corr at lag", "hours_to_recover": "to half recovery"},
                 "Best lag > 0: BTC moved first (cross-correlation of hourly returns, lags -6..+6 h).")


def derivatives_table(res) -> Table | None:
    d = res.inputs.derivatives.summary
    if d is None or not len(d):
        return None
    d = d.copy()
    d.insert(0, "symbol", d["asset"].map(_sym))
    d["oi_change"] = d["oi_change_pct"] / 100
    cols = ["symbol", "source", "funding_pre_mean", "funding_event_day_mean", "oi_pre_usd", "oi_post_min_usd",
            "oi_change", "long_liq_event_day_usd", "short_liq_event_day_usd"]
    return Table("derivatives", "Derivatives around the event (3 days either side)", d[cols],
                 {"funding_pre_mean": "pct3", "funding_event_day_mean": "pct3", "oi_pre_usd": "usd",
                  "oi_post_min_usd": "usd", "oi_change": "pct", "long_liq_event_day_usd": "usd",
                  "short_liq_event_day_usd": "usd", "source": "text"},
                 {"symbol": "asset", "funding_pre_mean": "funding before (per period)", "funding_event_day_mean":
                  "funding on day 0", "oi_pre_usd": "open interest before", "oi_post_min_usd": "lowest after",
                  "oi_change": "OI change", "long_liq_event_day_usd": "long liquidations day 0",
                  "short_liq_event_day_usd": "short liquidations day 0"})


def catalog_table(res) -> Table | None:
    row = res.inputs.catalog_row
    if row is None or row.empty:
        return None
    r = row[["date", "event_time_utc", "description", "liquidations_usd", "btc_move_pct", "source"]].copy()
    r["btc_move_pct"] = r["btc_move_pct"] / 100
    return Table("catalog", "The event in the catalog (sourced; reported figures, not recomputed)", r,
                 {"date": "date", "event_time_utc": "datetime", "description": "text", "liquidations_usd": "usd",
                  "btc_move_pct": "pct", "source": "text"},
                 {"event_time_utc": "event time", "liquidations_usd": "liquidations (reported)",
                  "btc_move_pct": "BTC move (reported)"})


def provenance_table(res) -> Table:
    from capflow.data import provenance_table as prov

    t = prov(res.inputs.prices)
    return Table("provenance", "Where every price series came from", t.drop(columns=["asset"], errors="ignore"),
                 {"first": "date", "last": "date", "rows": "int", "sources": "text", "layer": "text"},
                 {"symbol": "asset"})


def build_tables(res) -> dict[str, Table]:
    """Every table of the cascade report, in reading order (missing ones skipped)."""
    tabs = [moves_table(res), abnormal_table(res), group_table(res), robustness_table(res), estimation_table(res),
            exclusions_table(res), confounders_table(res), anatomy_table(res), derivatives_table(res),
            catalog_table(res), provenance_table(res)]
    return {t.name: t for t in tabs if t is not None}


# ------------------------------------------------------------------------------------------------ method
def _day0_line(res) -> str:
    ev = res.events
    parts = []
    for cal, grp in ev.groupby("calendar"):
        stamp = grp["timestamp"].iloc[0]
        what = "UTC day" if cal == "24/7" else f"{cal} session"
        when = fmt.datetime_utc(stamp) if res.params.freq == "1h" else fmt.date(stamp)
        parts.append(f"{what} {when}")
    return "; ".join(parts)


def method_lines(res) -> list[str]:
    """The method section with values."""
    p = res.params
    unit = "trading days" if p.freq == "1d" else "hours"
    bench = ", ".join(f"{GROUP_LABEL.get(g, g)}: {_sym(b)}" for g, b in p.benchmarks.items())
    rbar = res.result.rbar if res.result is not None else pd.DataFrame()
    rbar_txt = ", ".join(f"{GROUP_LABEL.get(r.group, r.group)} {fmt.number(r.rbar, 3)}" for r in rbar.itertuples()
                         if r.group != "all" and pd.notna(r.rbar)) or "n/a"
    tests = [TEST_LABEL[t] for t in TEST_ORDER if res.result is not None and f"{t}_p" in res.result.summary().columns]
    return [
        f"- **Event**: {p.event_date}; {res.inputs.event_time_rule}. Period 0 is the bar holding that instant "
        f"(capflow.calendars.anchor): {_day0_line(res)}.",
        f"- **Normal returns**: {p.model.replace('_', ' ')} model; benchmarks {bench}. Estimation window "
        f"[{p.estimation_window[0]}, {p.estimation_window[1]}] {unit} (at least {p.min_estimation} clean "
        f"observations), event window [{p.event_window[0]}, {p.event_window[1]}], CAR windows "
        f"{', '.join(p.window_label(w) for w in p.car_windows)}; headline {p.headline_window}.",
        f"- **Clean estimation**: other catalogued cascades ±{p.exclude_pad} days removed for every asset; capex-"
        f"release sessions removed for {p.exclude_capex_groups.replace(',', ', ')} ({len(res.removed)} "
        "observations in all; they leave the fit, the window keeps its trading periods).",
        "- **One clock per series**: daily values that are intraday snapshots (cg_snap_*) in an asset's windows drop "
        "it (mixed clock); an asset on another exchange clock than its benchmark gets a Dimson (1979) beta (one lead, "
        "one lag) and is kept out of the group tests.",
        f"- **Tests** (per group and window): {', '.join(tests)}. Kolari-Pynnönen r̄ (mean estimation-residual "
        f"cross-correlation): {rbar_txt}. GRANK (Kolari & Pynnönen 2011) is robust to event-induced volatility and "
        "cross-correlation. Conventions and references: capflow.eventstudy.",
        f"- **Intervals**: moving-block bootstrap of the group's estimation-window AAR ({p.n_boot} draws, seed "
        f"{p.seed}), level {1 - p.alpha:.0%}.",
        "- **Raw moves**: day-0 close to close; open to low from the day-0 open to the lowest low of days 0 and +1 "
        "(crypto lows from spot bars before perpetual bars, the finest available); 5 trading periods and 7 calendar "
        "days into day 0.",
    ]
