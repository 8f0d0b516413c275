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
# # Liquidation cascade: what fell, by how much, and was it more than beta?
#
# On a crash day leveraged crypto positions are liquidated in a cascade. This page answers, for one crash: how
# far did each asset actually fall, did AI tokens and AI equities fall **more than their market beta predicts**
# (abnormal returns), and is that robust to the model, to contaminated estimation windows and to the fact that
# every asset shares one date? Change only the parameters cell (another crash day, or hourly bars) to study
# another crash.

# %% tags=["parameters"]
event_date = "2026-02-05"  # the crash day (UTC date); its hour comes from the catalog or from BTC's prices
groups = "ai_token,crypto_major,ai_equity,hyperscaler"  # asset groups (or assets) studied
benchmarks = {"ai_token": "bitcoin", "crypto_major": "bitcoin", "ai_equity": "QQQ", "hyperscaler": "QQQ"}
extra_moves = "SPY"  # assets shown in the raw-moves table only
freq = "1d"  # 1d (daily closes) or 1h (hourly bars; crypto only)
model = "market"  # market, market_adjusted or constant_mean
estimation_window = None  # None: [-250, -11] days or [-336, -49] hours
event_window = None  # None: [-10, 10] days or [-24, 48] hours
car_windows = None  # None: the defaults of freq
headline_window = None  # None: [0,+1] daily, [0,+24] hourly
min_estimation = None  # None: 120 clean observations
alpha = 0.05  # test level
n_boot = 1000  # bootstrap draws for the CAAR intervals
seed = 0  # bootstrap seed
exclude_pad = 2  # days either side of other catalogued cascades removed from estimation
exclude_capex_groups = "ai_equity,hyperscaler,semis_etf"  # groups whose capex-release sessions are removed too
drop_confounded = False  # drop assets with a capex release or another cascade inside their event window
keep_mixed_clock = False  # keep series whose windows hold intraday snapshots (flagged)
anatomy_lookback = "24h"  # hourly anatomy: time before the event
anatomy_horizon = "72h"  # hourly anatomy: time after the event
cross_threshold = -0.05  # hourly anatomy: the fall that counts as "crossed"
output_dir = "."  # where the tables (CSV) and summary.json are written

# %%
from capflow.studies import cascade as study
from capflow.studies import show

params = study.Params.from_vars(globals())
result = study.run(study.load_inputs(params), params)
show.findings(result)

# %% [markdown]
# ## Prices around the crash
# Each panel holds one group (at most eight lines), prices indexed to 100 at the last bar before the event; the
# dashed line marks the event.

# %%
figures = result.figures()
show.figure(result, "prices", figures)

# %% [markdown]
# ## Raw moves, and why an abnormal return can be positive on a crash day
# The abnormal return is the raw return minus what the asset's estimated beta times its benchmark's move predicts.

# %%
show.figure(result, "raw_vs_abnormal", figures)
show.tables(result, ["raw_moves", "abnormal_by_asset"])

# %% [markdown]
# ## Group abnormal returns and the test battery
# With one shared date the residuals are cross-correlated: the Kolari-Pynnönen (KP) adjusted BMP test and GRANK
# are the ones to trust. The robustness table repeats the headline under three models, with and without the
# estimation exclusions.

# %%
show.figure(result, "caar", figures)
show.tables(result, ["group_tests", "robustness"])

# %% [markdown]
# ## Hourly anatomy
# From hourly bars where the data have them: the peak before the trough, the depth, the first crossing of the
# threshold, who moved before BTC, and the time to win back half the loss.

# %%
show.figure(result, "anatomy", figures, missing_ok=True)
show.tables(result, ["anatomy", "derivatives"], missing_ok=True)

# %% [markdown]
# ## Estimation, exclusions, confounders and sources

# %%
show.tables(result, ["estimation", "exclusions", "confounders", "catalog", "provenance"], missing_ok=True)

# %%
show.method(result)

# %%
saved = result.save(output_dir)
