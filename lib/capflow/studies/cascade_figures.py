"""Figures of the cascade study, each titled with its finding (computed), built outside pyplot."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from capflow import assets as _assets
from capflow import fmt
from capflow.plots import cascade as cplots
from capflow.plots import new_figure, set_title
from capflow.studies.cascade_view import GROUP_LABEL

PANEL_ORDER = ("crypto_major", "ai_token", "ai_equity", "hyperscaler", "benchmark", "semis_etf")


def _panels(res) -> list[tuple[str, list[str]]]:
    """(title, asset ids) per panel: one group each, at most 8 lines (a larger group is split evenly)."""
    pa = res.per_asset()
    cols = [c for c in pa["asset"] if c in res.inputs.prices.columns]
    by = {g: [a for a, gg in zip(pa["asset"], pa["group"]) if gg == g and a in cols] for g in pa["group"].unique()}
    out = []
    for g in sorted(by, key=lambda g: PANEL_ORDER.index(g) if g in PANEL_ORDER else 99):
        parts = cplots.chunks(by[g]) if by[g] else []
        for i, part in enumerate(parts):
            suffix = f" ({i + 1}/{len(parts)})" if len(parts) > 1 else ""
            out.append((GROUP_LABEL.get(g, g) + suffix, part))
    return out


def prices_figure(res):
    p = res.params
    hourly = p.freq == "1h"
    unit = pd.Timedelta(hours=1) if hourly else pd.Timedelta(days=1)
    t_line = res.inputs.event_time if hourly else p.t0
    lo, hi = p.t0 + p.event_window[0] * unit, p.t0 + (p.event_window[1] + 1) * unit
    prices = res.inputs.prices.loc[lo:hi]
    hour0 = t_line.floor("h") if hourly else p.t0  # the base is the last close before the bar holding the event
    base = res.inputs.prices.loc[res.inputs.prices.index < hour0].ffill().iloc[-1]
    idx = 100 * prices / base
    panels = _panels(res)
    ncols = 2
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = new_figure((13, 3.6 * nrows), nrows, ncols, squeeze=False)
    crypto = {a for a in idx.columns if _assets.resolve(a).is_crypto}
    for ax, (title, ids) in zip(axes.flat, panels):
        cplots.plot_price_panel(idx[[a for a in ids if a in idx.columns]], t_line, ax, title, hourly, crypto)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    b = res._row("bitcoin")
    head = f"BTC {fmt.pct(b['ret0'])} on {fmt.date(b['day0'])}" if b is not None else f"{p.event_date}"
    fig.suptitle(f"{head}: prices indexed to 100 at the last {'hourly' if hourly else 'daily'} bar before the "
                 "event (dashed line)", fontsize=12, fontweight="bold")
    return fig


def raw_vs_abnormal_figure(res):
    pa = res.per_asset()
    pa = pa.loc[pa["ar0"].notna()].assign(ret0=lambda d: d["ret_p0"])
    unit = "hour" if res.params.freq == "1h" else "day"
    fig, ax = new_figure((11, 0.32 * max(len(pa), 8) + 1.7))
    cplots.plot_raw_vs_abnormal(pa, ax, f"{unit} 0")
    fell_pos = int(((pa["ret0"] < 0) & (pa["ar0"] > 0)).sum())
    set_title(ax, f"Raw {unit}-0 moves and abnormal returns: {fell_pos} of {len(pa)} assets fell yet have a "
                 "positive abnormal return (their betas predicted larger falls)")
    return fig


def caar_figure(res):
    from capflow.cascade import caar_path_bands

    p = res.params
    if res.result is None or res.result.ar.empty:
        return None
    bands = caar_path_bands(res.result.ar, n_boot=min(int(p.n_boot), 1000) or 200, alpha=p.alpha, seed=p.seed)
    fig, ax = new_figure((11, 4.6))
    cplots.plot_caar_paths(bands, ax, "hours" if p.freq == "1h" else "trading days", GROUP_LABEL)
    gs = res.group_stats()
    row = gs.loc[(gs["group"] == "ai_token") & (gs["window"] == p.headline_window)] if len(gs) else gs
    find = (f"AI tokens {fmt.pct(row.iloc[0]['caar'])} over {p.headline_window} (KP p {fmt.pval(row.iloc[0]['kp_p'])})"
            if len(row) else "CAAR by group")
    set_title(ax, f"Cumulative average abnormal return by group: {find}; bands: bootstrap over assets", 90)
    return fig


def anatomy_figure(res):
    an = res.anatomy
    if an is None or an.paths.empty:
        return None
    paths = an.paths
    groups = {}
    for a in paths.columns:
        groups.setdefault(_assets.group_of(a) or "other", []).append(a)
    panels = [(GROUP_LABEL.get(g, g), part) for g, ids in groups.items() for part in cplots.chunks(ids)]
    fig, axes = new_figure((13, 3.8 * int(np.ceil(len(panels) / 2))), int(np.ceil(len(panels) / 2)), 2,
                           squeeze=False)
    for ax, (title, ids) in zip(axes.flat, panels):
        cplots.plot_drawdown_panel(paths[ids], an.table, res.inputs.event_time, ax, title)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    ok = an.table.loc[an.table["status"] == "ok"]
    deepest = ok["depth"].idxmin() if len(ok) and ok["depth"].notna().any() else None
    text = (f"deepest fall {ok.loc[deepest, 'symbol']} {fmt.pct(ok.loc[deepest, 'depth'])}" if deepest is not None
            else "hourly closes")
    fig.suptitle(f"Hourly anatomy from the pre-event level: {text}", fontsize=12, fontweight="bold")
    return fig


def build_figures(res) -> dict[str, Any]:
    """Named figures in reading order (absent data: the figure is left out)."""
    figs = {"prices": prices_figure(res), "raw_vs_abnormal": raw_vs_abnormal_figure(res), "caar": caar_figure(res),
            "anatomy": anatomy_figure(res)}
    return {k: v for k, v in figs.items() if v is not None}
