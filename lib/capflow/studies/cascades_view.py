"""Tables, figures and the method of the all-cascades study (computed from its numbers)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from capflow import fmt
from capflow.plots import cascade as cplots
from capflow.plots import new_figure, set_title
from capflow.studies.base import Table
from capflow.studies.cascade_tables import TEST_ORDER, _window_key
from capflow.studies.cascade_view import GROUP_LABEL, TEST_LABEL


def _label(g: str) -> str:
    return GROUP_LABEL.get(g, g)


def build_tables(res) -> dict[str, Table]:
    """Per-cascade CAARs, the pooled test battery, the cascades with their event times."""
    per = res.per_cascade()
    wide = per.pivot_table(index="cascade", columns="group", values="caar", aggfunc="first").reset_index()
    wide.columns = [str(c) for c in wide.columns]
    groups = [c for c in wide.columns if c != "cascade"]
    t1 = Table("per_cascade", f"CAAR {res.params.headline_window} by cascade and group", wide,
               {"cascade": "date", **{g: "pct" for g in groups}}, {g: _label(g) for g in groups},
               "Mean abnormal CAR of each group's assets on each cascade (Dimson-beta assets left out).")
    pooled = res.pooled()
    pooled = pooled.loc[pooled["group"] != "all"].copy()
    pooled["_k"] = pooled["window"].map(_window_key)
    pooled = pooled.sort_values(["group", "_k"])
    tests = [t for t in TEST_ORDER if f"{t}_p" in pooled.columns]
    pooled["group"] = pooled["group"].map(_label)
    cols = ["group", "window", "n", "caar", "boot_lo", "boot_hi", "rbar"] + [f"{t}_p" for t in tests]
    t2 = Table("pooled_tests", "Pooled over cascades: CAAR and the whole test battery", pooled[cols],
               {"n": "int", "caar": "pct", "boot_lo": "pct", "boot_hi": "pct", "rbar": "num3",
                **{f"{t}_p": "p" for t in tests}},
               {"caar": "CAAR", "boot_lo": "bootstrap low", "boot_hi": "high", "rbar": "KP r̄",
                **{f"{t}_p": f"{TEST_LABEL[t]} p" for t in tests}},
               "KP r̄ is the mean cross-correlation of estimation residuals within a cascade (events of different "
               "cascades count as uncorrelated).")
    times = res.inputs.times.copy()
    counts = res.result.car.assign(c=res.result.car["event_id"].str[:10]).groupby("c")["event_id"].nunique()
    times["events"] = times["date"].dt.strftime("%Y-%m-%d").map(counts).fillna(0).astype(int)
    t3 = Table("cascades", "The cascades and where hour 0 was placed", times[["date", "event_time", "events", "rule"]],
               {"date": "date", "event_time": "datetime", "events": "int", "rule": "text"},
               {"event_time": "event time", "events": "events kept", "rule": "how the time was set"})
    return {t.name: t for t in (t1, t2, t3)}


def build_figures(res) -> dict[str, Any]:
    """Per-cascade CAAR by group (dots), and the pooled CAAR paths with bands."""
    from capflow.cascade import caar_path_bands

    per = res.per_cascade()
    groups = list(dict.fromkeys(per["group"]))
    pal = dict(zip(groups, cplots.colors(len(groups))))
    fig, ax = new_figure((12, 4.6))
    dates = sorted(per["cascade"].unique())
    x = {d: i for i, d in enumerate(dates)}
    width = 0.8 / max(len(groups), 1)
    for k, g in enumerate(groups):
        sub = per.loc[per["group"] == g]
        ax.bar([x[d] - 0.4 + width * (k + 0.5) for d in sub["cascade"]], 100 * sub["caar"], width=width,
               color=pal[g], label=_label(g))
    ax.set_xticks(range(len(dates)), dates, rotation=30, ha="right", fontsize=9)
    ax.axhline(0, color="0.4", lw=0.8)
    ax.set_ylabel(f"CAAR {res.params.headline_window} (%)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    neg = per.loc[per["group"] == "ai_token", "caar"]
    set_title(ax, f"Abnormal returns by cascade: AI tokens below their BTC-beta prediction in {int((neg < 0).sum())} "
                 f"of {len(neg)} cascades")
    bands = caar_path_bands(res.result.ar, n_boot=min(int(res.params.n_boot), 1000) or 200,
                            alpha=res.params.alpha, seed=res.params.seed)
    fig2, ax2 = new_figure((11, 4.4))
    cplots.plot_caar_paths(bands, ax2, "trading days", GROUP_LABEL)
    set_title(ax2, "Pooled CAAR paths across cascades (bands: bootstrap over events)")
    return {"per_cascade": fig, "pooled_paths": fig2}


def method_lines(res) -> list[str]:
    p = res.params
    rbar = res.result.rbar
    r_txt = ", ".join(f"{_label(r.group)} {fmt.number(r.rbar, 3)}" for r in rbar.itertuples()
                      if r.group != "all" and pd.notna(r.rbar)) or "n/a"
    bench = ", ".join(f"{_label(g)}: {b}" for g, b in p.benchmarks.items())
    return [
        f"- **Events**: every (asset, cascade) pair of {len(res.inputs.times)} cascades; period 0 is the bar holding "
        "the cascade's event time on the asset's own calendar (capflow.calendars.anchor); cluster = cascade date.",
        f"- **Normal returns**: {p.model.replace('_', ' ')} model, benchmarks {bench}; estimation "
        f"[{p.estimation_window[0]}, {p.estimation_window[1]}] trading days (at least {p.min_estimation} clean "
        f"observations); event window [{p.event_window[0]}, {p.event_window[1]}]; headline {p.headline_window}.",
        f"- **Clean estimation**: every catalogued cascade ±{p.exclude_pad} days and, for "
        f"{p.exclude_capex_groups.replace(',', ', ')}, every capex-release session leave every estimation sample "
        f"({len(res.removed):,} observations); overlapping windows of one asset are kept.",
        f"- **Tests**: the whole battery per group, pooled over cascades; KP r̄: {r_txt}. Moving-block bootstrap "
        f"({p.n_boot} draws, seed {p.seed}).",
        "- **Equal to the one-cascade study**: each event's AR and CAR are those of the study of its cascade (same "
        "anchor, same exclusions, same clock rules).",
    ]


__all__ = ["build_tables", "build_figures", "method_lines"]
