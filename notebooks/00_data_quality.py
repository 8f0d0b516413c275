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
# # Data quality: what the studies stand on
#
# Before any cascade, capex or divergence number means anything, we need to know which prices exist, where they
# came from, and where they are thin: **for each asset the studies use, how much of its own calendar is covered,
# from which sources, and which gaps, jumps or clock switches should a reader keep in mind?**

# %% tags=["parameters"]
assets = "crypto_major,ai_token,ai_equity,hyperscaler,semis_etf,benchmark,crypto_equity"  # ids, symbols or groups
start = "2023-01-01"  # first date of the checked range (UTC)
end = ""  # last date of the checked range; empty means today
freq = "1d"  # bar frequency: 1d, 1h or 4h
output_dir = "."  # where the CSV tables and summary.json are written

# %%
from capflow.studies import quality as study
from capflow.studies import show

params = study.Params.from_vars(globals())
result = study.run(study.load_inputs(params), params)
show.findings(result)

# %% [markdown]
# ## Monthly coverage
# Share of each asset's expected bars (its own calendar) present in each month: red is thin, green complete.

# %%
show.figures(result)

# %% [markdown]
# ## Coverage, issues and sources per asset

# %%
show.tables(result)

# %%
show.method(result)

# %%
saved = result.save(output_dir)
