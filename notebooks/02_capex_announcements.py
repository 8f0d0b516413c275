# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Do AI tokens and AI equities move on hyperscaler capex news?
#
# Microsoft, Alphabet, Amazon, Meta and Oracle report capital expenditure every quarter. One story says heavier
# capex spooks investors and drags AI-linked tokens and chip stocks down; another says capex is revenue for
# NVDA, MU and the other suppliers. This notebook regresses cumulative abnormal returns (CARs) around every
# release on a capex surprise measure, with inference built for a few dozen clustered events: standard errors
# clustered by announcement date, Driscoll-Kraay HAC, wild-cluster bootstrap, placebo dates and
# leave-one-company-out.
#
# **No consensus capex estimates are available** (the snapshot has none and none are invented): every surprise
# measure compares a company with its own past releases.

# %% tags=["parameters"]
companies = "MSFT,GOOGL,AMZN,META,ORCL"
groups = "ai_token,crypto_major,ai_equity,semis_etf,own"
windows = [[0, 1], [-1, 1], [0, 5]]
measure = "yoy"
include_inferred = True
market = "QQQ"
model = "constant_mean"
weights = "rademacher"
n_boot = 199
n_placebo = 99
seed = 0
min_events = 15
headline_group = "pooled"
headline_window = "[0,+5]"
output_dir = "."

# %%
import json
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from capflow import capex
from capflow import capex_inference as ci
from capflow.data import data_summary
from capflow.plots import capex as cplots

warnings.filterwarnings("ignore", category=RuntimeWarning)
out = Path(output_dir)
out.mkdir(parents=True, exist_ok=True)
group_list = [g.strip() for g in groups.split(",") if g.strip()]
window_list = [tuple(w) for w in windows]

# %% [markdown]
# ## The catalog

# %%
catalog = capex.load_announcements(companies=companies, include_inferred=include_inferred)
display(Markdown(
    f"{len(catalog)} releases of {catalog['ticker'].nunique()} companies from "
    f"{catalog['announce_date'].min():%Y-%m-%d} to {catalog['announce_date'].max():%Y-%m-%d} "
    f"(catalog: `{catalog.attrs['origin']}`); {int(catalog['inferred'].sum())} with an INFERRED date "
    f"({'kept' if include_inferred else 'excluded: ' + str(catalog.attrs['excluded_inferred'])}); "
    f"{int(catalog['guidance_mid_usd'].notna().sum())} carry capex guidance."))
cplots.plot_capex_timeline(catalog)
plt.show()

# %% [markdown]
# ## Event timing rules
# Each release is placed at an assumed New York time, then mapped to each asset's calendar:

# %%
display(capex.timing_rules())

# %% [markdown]
# ## Surprise measures (no consensus estimates: each is relative to the company's own history)

# %%
surprises = capex.surprise_table(catalog)
display(surprises.describe().T[["count", "mean", "std", "min", "max"]])

# %% [markdown]
# ## The study: one event study, regressions, bootstrap, placebo dates, leave-one-out

# %%
study = ci.run_study(catalog, measure=measure, groups=group_list, windows=window_list, market=market,
                     model=model, n_boot=n_boot, n_placebo=n_placebo, weights=weights, seed=seed,
                     min_events=min_events)
res = study.event_result
display(Markdown(f"Event study: {len(study.panel['event_id'].unique())} (release, asset) events kept, "
                 f"{len(res.dropped)} dropped ({', '.join(f'{k}: {v}' for k, v in res.dropped['reason'].value_counts().items())})."))

# %% [markdown]
# Data provenance (every price series used, with its sources):

# %%
display(study.provenance)

# %% [markdown]
# ## Average reactions by group around releases

# %%
cplots.plot_group_reactions(res.aar)
plt.show()
caar = res.caar[res.caar["group"] != "all"]
display(caar.pivot(index="group", columns="window", values="caar").style.format("{:.2%}"))

# %% [markdown]
# ## CAR on surprise: coefficients
# `se/p_cluster`: clustered by announcement date (t with G-1 df); `p_hac`: Driscoll-Kraay; `p_boot`:
# restricted wild-cluster bootstrap; controls: the market's return over the window and company fixed effects
# (plus group fixed effects when pooled).

# %%
coef = study.coefficients
display(coef[["group", "window", "coef", "se_cluster", "p_cluster", "p_hac", "p_boot", "lo_boot", "hi_boot", "n",
              "n_clusters"]].round(4))
cplots.plot_coefficients(coef, figsize="tall")
plt.show()

# %%
cplots.plot_car_scatter(study.panel, headline_group, headline_window, figsize="square")
plt.show()

# %% [markdown]
# ## Placebo dates

# %%
head = coef[(coef["group"] == headline_group) & (coef["window"] == headline_window)].iloc[0]
if len(study.placebo):
    cplots.plot_placebo(study.placebo, head["coef"], headline_group, headline_window)
    plt.show()
    display(study.placebo_summary.round(4))

# %% [markdown]
# ## Leave one company out

# %%
loo = study.leave_one_out
display(loo[loo["group"] == headline_group].pivot(index="dropped", columns="window", values="coef").round(4))

# %% [markdown]
# ## Conclusions

# %%
ps = study.placebo_summary.set_index(["group", "window"]) if len(study.placebo_summary) else None
p_plac = float(ps.loc[(headline_group, headline_window), "p_placebo"]) if ps is not None else float("nan")
hl = loo[(loo["group"] == headline_group) & (loo["window"] == headline_window)]
sig = coef[(coef["p_cluster"] < 0.05) & (coef["p_boot"] < 0.05)]
display(Markdown(
    f"**Headline ({headline_group}, {headline_window}, surprise = {measure}).** A one-unit {measure} surprise "
    f"goes with a CAR of {head['coef']:+.2%} (cluster-robust 95% CI {head['lo_cluster']:+.2%} to "
    f"{head['hi_cluster']:+.2%}, p = {head['p_cluster']:.3f}; wild-bootstrap p = {head['p_boot']:.3f}; "
    f"placebo p = {p_plac:.3f}) over {int(head['n_clusters'])} announcement dates and {int(head['n'])} "
    f"(release, asset) rows. Dropping one company moves the coefficient between {hl['coef'].min():+.2%} and "
    f"{hl['coef'].max():+.2%}.\n\n"
    f"Of {len(coef)} (group, window) cells, {len(sig)} are significant at 5% under both the clustered t and the "
    f"wild-cluster bootstrap" + (f": {', '.join(sig['group'] + ' ' + sig['window'])}." if len(sig) else ".") +
    f" With {len(coef)} cells tested, about {0.05 * len(coef):.1f} would pass by chance at 5%; "
    "read single-cell significance with that in mind."))

# %% [markdown]
# ## Saved outputs

# %%
coef.to_csv(out / "capex_coefficients.csv", index=False)
study.placebo_summary.to_csv(out / "capex_placebo_summary.csv", index=False)
loo.to_csv(out / "capex_leave_one_out.csv", index=False)
study.panel.to_csv(out / "capex_car_panel.csv", index=False)
catalog.to_csv(out / "capex_catalog.csv", index=False)
summary = {"params": study.params, "n_releases": int(len(catalog)), "n_inferred": int(catalog["inferred"].sum()),
           "headline": {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in head.items()},
           "p_placebo": p_plac, "n_significant_cells": int(len(sig)),
           "provenance": study.provenance.to_dict("records"), **data_summary(study.provenance)}
(out / "capex_summary.json").write_text(json.dumps(summary, indent=2, default=str))
display(Markdown(f"Saved tables and `capex_summary.json` to `{out.resolve()}`."))
