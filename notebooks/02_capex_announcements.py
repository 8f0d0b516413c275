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
# # How much do the hyperscalers spend on capex, and do AI tokens and AI equities move on the news?
#
# Microsoft, Alphabet, Amazon, Meta and Oracle report capital expenditure every quarter and guide for the year
# ahead. This page first makes the spending claims checkable (trailing four quarters per company and in total,
# the latest guidance with the release it came from), then asks whether unusually strong capex growth moves AI
# tokens, crypto majors, AI equities, chip ETFs and the companies' own stocks: cumulative abnormal returns (CARs)
# around every release regressed on a capex surprise, with inference built for a few dozen clustered events.
#
# **No consensus capex estimates are available** (none are invented): every surprise compares a company with its
# own past releases.

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
from capflow.studies import capex as study
from capflow.studies import show

params = study.Params.from_vars(globals())
result = study.run(study.load_inputs(params), params)
figures = result.figures()
show.findings(result)

# %% [markdown]
# ## What they spend
# Top: each company's capex in each quarter, at its release date; a quarter the catalog holds without a figure is
# a gap in the line, marked with an x on the axis floor; hollow markers are release dates inferred from filings.
# Bottom: the trailing four quarters per company and, in black, the total of all companies, drawn only where
# every company's four quarters are known.

# %%
show.figure(result, "spend", figures)

# %% [markdown]
# ## Reactions around the releases
# The average cumulative abnormal return of each asset group, from the day before the release to five trading
# periods after it, over all releases regardless of their surprise.

# %%
show.figure(result, "reactions", figures)

# %% [markdown]
# ## CAR on capex surprise
# One row per asset group and window (pooled: all groups together, with group fixed effects): the coefficient of
# the surprise, with the 95% interval from standard errors clustered by announcement date and the one from the
# wild-cluster bootstrap. An interval that crosses zero is not significant at 5%.

# %%
show.figure(result, "coefficients", figures)

# %% [markdown]
# The headline cell in detail. Top: every (release, asset) CAR against its surprise, both net of the market
# control and the fixed effects, so the line's slope is the regression coefficient itself. Bottom: the same
# regression on placebo dates, where every release is moved to a random session away from any real release; the
# red line is the estimate on the real dates.

# %%
show.figure(result, "headline_cell", figures)

# %% [markdown]
# ## Tables
# What the companies spend and guide:

# %%
show.tables(result, ["capex_t4q", "capex_t4q_series", "capex_guidance"])

# %% [markdown]
# The regressions, the average reactions and how much the headline coefficients depend on one company:

# %%
show.tables(result, ["coefficients", "caar", "leave_one_out"])

# %% [markdown]
# The releases and the price data behind them:

# %%
show.tables(result, ["releases", "data_sources"])

# %%
show.method(result)

# %%
saved = result.save(output_dir)
