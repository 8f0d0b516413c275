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
# # Data quality: what the studies stand on
#
# Before any cascade, capex or divergence number means anything, we need to know which prices exist, where they
# came from, and where they are thin. This report answers: **for each asset the studies use, how much of its own
# calendar is covered, from which sources, and what gaps, jumps or clock switches should a reader keep in mind?**
# Crypto is measured against every UTC day, equities against their exchange's sessions.

# %% tags=["parameters"]
assets = "crypto_major,ai_token,ai_equity,hyperscaler,semis_etf,benchmark,crypto_equity"  # ids, symbols or groups
start = "2023-01-01"  # first date of the checked range (UTC)
end = ""  # last date of the checked range; empty means today
freq = "1d"  # bar frequency: 1d, 1h or 4h
output_dir = "."  # where the CSV tables and summary.json are written

# %%
import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from capflow import assets as registry
from capflow import plots
from capflow.data import data_summary, load_prices, provenance_table
from capflow.data.quality import expected_index, quality_issues, quality_report

out = Path(output_dir)
out.mkdir(parents=True, exist_ok=True)
data_note = os.environ.get("CAPFLOW_DATA_NOTE", "Interactive session: data resolved through cache, live, snapshot.")
display(Markdown(f"**Data:** {data_note}"))

# %% [markdown]
# ## Where each series comes from
# The resolved price series, one column per asset, and the layer and original sources of every value.

# %%
prices = load_prices(assets, start, end or None, freq=freq, missing="drop")
provenance = provenance_table(prices)
provenance

# %% [markdown]
# ## Coverage and issues per asset

# %%
report = quality_report(assets, start, end or None, freq=freq)
issues = quality_issues(assets, start, end or None, freq=freq)
shown = ["symbol", "calendar", "first", "last", "rows", "expected", "coverage_pct", "gaps", "longest_gap_missing",
         "outliers", "clock_switches"]
report[shown].style.format({"coverage_pct": "{:.1f}", "first": "{:%Y-%m-%d}", "last": "{:%Y-%m-%d}"},
                           na_rep="").background_gradient(subset=["coverage_pct"], cmap="RdYlGn", vmin=50, vmax=100)

# %%
issue_counts = issues.pivot_table(index="asset", columns="kind", values="detail", aggfunc="count", fill_value=0)
issue_counts

# %% [markdown]
# ## Monthly coverage
# Share of each asset's expected bars (its own calendar) present in each month.

# %%
observed = prices.notna().groupby(prices.index.tz_convert(None).to_period("M")).sum()
expected = pd.DataFrame({a: pd.Series(1, index=expected_index(registry.resolve(a), freq, prices.index[0],
                                                                 prices.index[-1])) for a in prices.columns})
expected = expected.groupby(expected.index.tz_convert(None).to_period("M")).count()
monthly = (observed / expected.replace(0, pd.NA)).astype(float).clip(upper=1.0)
fig, ax = plt.subplots(figsize=plots.FIGSIZE["tall"])
plots.set_theme()
im = ax.imshow(monthly.T.to_numpy(), aspect="auto", cmap="RdYlGn", vmin=0, vmax=1, interpolation="nearest")
ax.set_yticks(range(len(monthly.columns)), [registry.symbol(a) for a in monthly.columns], fontsize=8)
ticks = list(range(0, len(monthly.index), 3))
ax.set_xticks(ticks, [str(monthly.index[i]) for i in ticks], rotation=60, fontsize=8)
ax.grid(False)
ax.set_title("Share of expected bars present, per month")
fig.colorbar(im, ax=ax, fraction=0.025, pad=0.01)
plt.show()

# %% [markdown]
# ## What this means for the studies

# %%
full = report[report["coverage_pct"] >= 95]
worst = report.sort_values("coverage_pct").iloc[0]
have = report[report["rows"] > 0]
as_of, common_as_of = have["last"].max(), have["last"].min()
switched = report[report["clock_switches"] > 0]
layers = provenance["layer"].value_counts().to_dict()
display(Markdown(
    f"- {len(report)} assets checked from {start} to {end or 'today'} at {freq}; {len(full)} cover at least 95% "
    f"of their own calendar between their first and last bar.\n"
    f"- Thinnest series: **{worst['symbol']}** with {worst['coverage_pct']:.1f}% coverage "
    f"({int(worst['missing'])} missing bars, longest gap {int(worst['longest_gap_missing'])} bars).\n"
    f"- Latest bar of any asset: {as_of:%Y-%m-%d}; every asset has data up to {common_as_of:%Y-%m-%d}.\n"
    f"- {len(switched)} series switch from daily closes to intraday snapshots "
    f"({', '.join(switched['symbol'].head(8))}{'...' if len(switched) > 8 else ''}): returns across the switch mix "
    f"two clocks.\n"
    f"- Layers used: {', '.join(f'{k} ({v} assets)' for k, v in layers.items())}; "
    f"{len(prices.attrs.get('dropped', {}))} requested assets dropped for lack of data."))

# %%
report.to_csv(out / "coverage.csv", index=False)
issues.to_csv(out / "issues.csv", index=False)
provenance.to_csv(out / "provenance.csv", index=False)
summary = {"notebook": "00_data_quality", **data_summary(prices), "common_as_of": f"{common_as_of:%Y-%m-%d}", "data_mode": os.environ.get("CAPFLOW_DATA_MODE", "interactive"),
           "assets": int(len(report)), "assets_95pct": int(len(full)), "issues": int(len(issues)),
           "parameters": {"assets": assets, "start": start, "end": end, "freq": freq}}
(out / "summary.json").write_text(json.dumps(summary, indent=2))
summary
