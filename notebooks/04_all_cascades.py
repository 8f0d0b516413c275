# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Every cascade at once: do AI tokens and AI equities fall more than their beta predicts?
#
# One crash can mislead; the catalog holds every liquidation cascade since 2023. This page runs them as one
# multi-event study, each asset on each crash day an event, and asks whether, across cascades, AI tokens fall more
# than their BTC beta predicts and AI equities more than their market beta predicts, with tests that respect the
# shared date within each cascade.

# %% tags=["parameters"]
dates = "all"  # "all" catalogued cascades, or comma-separated catalogue dates
groups = "ai_token,crypto_major,ai_equity,hyperscaler"  # asset groups (or assets) studied
benchmarks = {"ai_token": "bitcoin", "crypto_major": "bitcoin", "ai_equity": "QQQ", "hyperscaler": "QQQ"}
model = "market"  # market, market_adjusted or constant_mean
estimation_window = None  # None: [-250, -11] trading days
event_window = None  # None: [-10, 10]
car_windows = None  # None: [0,0], [0,+1], [-1,+1], [0,+5], [-5,+10]
headline_window = None  # None: [0,+1]
min_estimation = None  # None: 120 clean observations
alpha = 0.05  # test level
n_boot = 1000  # bootstrap draws for the CAAR intervals
seed = 0  # bootstrap seed
exclude_pad = 2  # days either side of every cascade removed from estimation
exclude_capex_groups = "ai_equity,hyperscaler,semis_etf"  # groups whose capex-release sessions are removed too
output_dir = "."  # where the tables (CSV) and summary.json are written

# %%
from capflow.studies import cascades as study
from capflow.studies import show

params = study.Params.from_vars(globals())
result = study.run(study.load_inputs(params), params)
show.findings(result)

# %% [markdown]
# ## Cascade by cascade
# Each bar is the mean abnormal return of a group's assets over the headline window on one crash day.

# %%
figures = result.figures()
show.figure(result, "per_cascade", figures)
show.tables(result, ["per_cascade"])

# %% [markdown]
# ## Pooled over cascades
# The paths average every event of a group; the table gives the whole test battery per window.

# %%
show.figure(result, "pooled_paths", figures)
show.tables(result, ["pooled_tests", "cascades"])

# %%
show.method(result)

# %%
saved = result.save(output_dir)
