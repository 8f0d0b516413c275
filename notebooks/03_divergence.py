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
# # 03 Divergence: AI equities vs crypto
#
# **Question.** Since the base date, how far have AI equities pulled away from Bitcoin and the AI tokens (to any
# end date), do AI tokens trade like AI (the AI-equity basket) or like crypto (Bitcoin), is there a long-run
# relation, and who transmits shocks to whom? Every number on this page is computed by
# `capflow.studies.divergence` from the data loaded here.

# %% tags=["parameters"]
base_date = "2024-01-02"
end_date = None  # None: the last date BTC and every equity have a price; a date gives every asset's return to it
assets = "all"  # assets in the since-base table and the asset figure: "all" (the registry) or tags/symbols
baskets = {"AI equities": "ai_equity", "Semis ETFs": "semis_etf", "Hyperscalers": "hyperscaler",
           "Crypto majors": "crypto_major", "AI tokens": "ai_token"}
windows = [30, 90, 180]  # rolling windows, sessions
calendar_policy = "equity_sessions"  # or "crypto_clock"; "crypto_at_equity_close" needs hourly bars
short_series = "truncate"  # crypto series whose UTC closes end early: "truncate" each at its close end, or "cut"
min_basket_share = 0.5  # statistics end at the last session every basket keeps this share of its members
late_start = "own_start"  # assets listed after base_date start at their first price ("raise" to refuse)
max_stale_days = 7  # a row whose last price is older than this (days before the end) is flagged
n_regimes = 2
n_breaks = 3
chow_dates = ["2025-01-01"]
connectedness_assets = ["bitcoin", "ethereum", "AI tokens", "AI equities", "SMH", "QQQ"]
var_lags = 0  # 0: chosen by BIC among 1..5
horizon = 10  # forecast horizon of the variance decomposition, sessions
connectedness_window = 200  # rolling connectedness window, sessions
output_dir = "."

# %%
from capflow.studies import divergence as study
from capflow.studies import show

params = study.Params.from_vars(globals())
inputs = study.load_inputs(params)
result = study.run(inputs, params)
show.findings(result)

# %% [markdown]
# ## Performance since the base date

# %%
figures = result.figures()
show.figure(result, "performance", figures)

# %%
show.tables(result, ["performance"])

# %%
show.figure(result, "assets", figures)

# %% [markdown]
# ## Do AI tokens trade like AI or like crypto?

# %%
show.figure(result, "variance_shares", figures)
show.figure(result, "correlations", figures)

# %%
show.tables(result, ["two_factor", "correlations"])

# %% [markdown]
# ## The gap: long run, breaks and regimes

# %%
show.figure(result, "spread", figures)
show.tables(result, ["tests"])

# %% [markdown]
# ## Who transmits shocks to whom

# %%
show.figure(result, "connectedness", figures)
show.tables(result, ["directional", "connectedness", "pairwise"])

# %% [markdown]
# ## Every asset, basket membership and data

# %%
show.tables(result, ["since_base", "membership", "data_caveats", "provenance"])

# %%
show.method(result)

# %%
saved = result.save(output_dir)
