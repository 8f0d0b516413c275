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
# # Liquidation cascade: who fell abnormally, relative to what, and for how long?
#
# On a crash day leveraged crypto positions are liquidated in a cascade. This notebook asks, with honest
# statistics: which assets fell **abnormally** (beyond what their benchmark explains), for how long, and did AI
# tokens and AI equities behave like crypto or like AI? Abnormal returns come from `capflow.eventstudy`; the
# intraday anatomy, the event catalog and the derivatives context from `capflow.cascade`. Every asset shares one
# event date, so the residuals are cross-correlated: the Kolari-Pynnönen (KP) adjusted BMP test is the one to
# trust, and it is shown next to the plain BMP test.
#
# Change only the parameters cell (e.g. `event_date = "2025-10-10"`) to study another cascade.

# %% tags=["parameters"]
event_date = "2026-02-05"
groups = "ai_token,crypto_major,ai_equity"
benchmarks = {"ai_token": "bitcoin", "crypto_major": "bitcoin", "ai_equity": "QQQ"}
freq = "1d"
model = "market"
estimation_window = [-250, -11]
event_window = [-10, 10]
car_windows = [[0, 0], [0, 1], [-1, 1], [0, 5], [-5, 10]]
headline_window = "[0,+1]"
alpha = 0.05
n_boot = 1000
seed = 0
anatomy_lookback = "24h"
anatomy_horizon = "72h"
cross_threshold = -0.05
drawdown_threshold = -0.10
volume_z = 2.0
output_dir = "."

# %%
# %matplotlib inline
import json
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from capflow import assets, cascade
from capflow.data import data_summary, provenance_table
from capflow.eventstudy import event_study
from capflow.plots import eventstudy as esplots

warnings.filterwarnings("ignore", category=UserWarning, module="capflow")
out = Path(output_dir)
out.mkdir(parents=True, exist_ok=True)
pd.set_option("display.float_format", lambda v: f"{v:,.4f}")
t0 = pd.Timestamp(event_date, tz="UTC")

# %% [markdown]
# ## The event in the catalog
# The committed catalog (`data/events/liquidation_events.csv`, every row with its public sources) merged with
# the snapshot's catalog; then the candidate cascade days that prices alone flag for BTC and ETH (a 24h drawdown
# beyond the threshold AND a volume spike), in the 60 days around the event.

# %%
catalog = cascade.load_catalog(snapshot=True)
row = catalog.loc[catalog["date"] == t0.normalize()]
display(row if len(row) else Markdown(f"**{event_date} is not in the catalog.**"))
det_in = cascade.load_detection_inputs("bitcoin,ethereum", t0 - pd.Timedelta("60D"), t0 + pd.Timedelta("5D"))
candidates = cascade.detect_cascades(det_in["prices"], det_in["volumes"], drawdown_threshold, volume_z,
                                     lows=det_in["lows"], highs=det_in["highs"])
candidates["in_catalog"] = candidates["date"].isin(catalog["date"])
candidates

# %% [markdown]
# ## Data and benchmarks

# %%
study = cascade.load_cascade_study(event_date, groups, benchmarks, freq, estimation_window, event_window)
display(Markdown("\n".join(f"- {n}" for n in study.notes) or "- every requested asset has data"))
study.events

# %%
fig, ax = plt.subplots(figsize=(11, 5))
unit = pd.Timedelta("1D") if freq == "1d" else pd.Timedelta("1h")
window_prices = study.prices.loc[t0 + event_window[0] * unit: t0 + event_window[1] * unit]
esplots.plot_indexed_prices(window_prices, t0, ax=ax)
ax.set_title(f"Prices indexed to 100 at the last {freq} bar before {event_date}")
plt.show()

# %% [markdown]
# ## Abnormal returns
# Model `model` with each group's benchmark (`benchmarks`), estimated over the estimation window in each asset's
# own trading periods; relative period 0 is the first bar at or after the event (crypto: the UTC day's close;
# equities: that day's session).

# %%
res = event_study(study.returns, study.events, market=study.market, model=model,
                  estimation_window=tuple(estimation_window), event_window=tuple(event_window),
                  car_windows=tuple(map(tuple, car_windows)), n_boot=n_boot, seed=seed, alpha=alpha)
display(Markdown(f"Events studied: **{res.car['event_id'].nunique()}**; dropped: **{len(res.dropped)}**"))
res.dropped

# %%
per_asset = res.car.loc[res.car["window"] == headline_window].copy()
per_asset.insert(1, "symbol", per_asset["asset"].map(assets.symbol))
ar0 = res.ar.loc[res.ar["rel"] == 0, ["event_id", "ar", "sar"]].rename(columns={"ar": "ar_day0", "sar": "sar_day0"})
per_asset = per_asset.merge(ar0, on="event_id", how="left").sort_values(["group", "car"])
per_asset[["symbol", "group", "window", "ar_day0", "sar_day0", "car", "car_se", "scar", "t", "p", "bhar"]]

# %%
fig, ax = plt.subplots(figsize=(11, 6))
esplots.plot_car_bars(res.car, window=headline_window, alpha=alpha, ax=ax)
plt.show()

# %% [markdown]
# ## CAAR by group
# Solid lines: cumulative average abnormal return per group. Bands: bootstrap over the group's assets
# (cross-sectional dispersion only; a shared-date shock is judged by the KP test below). The table gives, per
# window, the moving-block bootstrap interval of `capflow.eventstudy`.

# %%
bands = cascade.caar_path_bands(res.ar, n_boot=n_boot, alpha=alpha, seed=seed)
fig, ax = plt.subplots(figsize=(11, 5))
esplots.plot_caar(bands, ax=ax)
ax.set_title(f"CAAR around {event_date} ({model} model)")
plt.show()
res.caar

# %% [markdown]
# ## Test statistics: KP next to BMP

# %%
stats_wide = res.stats.pivot_table(index=["group", "window"], columns="test", values=["statistic", "p_value"],
                                   aggfunc="first")
order = [t for t in ("t_cs", "patell", "bmp", "kp", "corrado", "gen_sign") if t in res.stats["test"].unique()]
stats_wide = stats_wide.reindex(columns=pd.MultiIndex.from_product([["statistic", "p_value"], order]))
stats_wide

# %%
headline = cascade.study_summary(res.stats, res.caar, headline_window, alpha)
headline

# %% [markdown]
# ## Hourly anatomy of the crash
# From hourly bars (high/low/close): the peak before the trough, the depth, when each asset first fell
# `cross_threshold` below its pre-event level, who moved first versus BTC (cross-correlation of hourly returns at
# lags −6..+6 h; a positive best lag means BTC moved first), and the hours to win back half the loss.

# %%
hourly, missing_hourly, hourly_notes = cascade.load_hourly(groups, t0, anatomy_lookback, anatomy_horizon)
anatomy = cascade.crash_anatomy(hourly["high"], hourly["low"], hourly["close"], t0, anatomy_lookback,
                                anatomy_horizon, cross_threshold, reference="bitcoin", missing=missing_hourly)
display(Markdown("\n".join(f"- {n}" for n in anatomy.notes + hourly_notes)))
anatomy_cols = ["symbol", "status", "peak_time", "trough_time", "depth", "hours_peak_to_trough", "cross_time",
                "hours_to_cross", "rank_cross", "best_lag", "corr_best", "who_first", "hours_to_recover"]
anatomy.table[[c for c in anatomy_cols if c in anatomy.table.columns]]

# %%
fig, ax = plt.subplots(figsize=(11, 5))
esplots.plot_anatomy(anatomy.paths, anatomy.table, ax=ax)
ax.set_title(f"Hourly closes vs pre-event level around {event_date}")
plt.show()

# %% [markdown]
# ## Derivatives context
# Funding, open interest and liquidations from the snapshot's `crypto_derivatives` (3 days either side).

# %%
deriv = cascade.derivatives_context(event_date, groups, window=3)
display(Markdown("\n".join(f"- {n}" for n in deriv.notes) or "- all quantities present"))
deriv.summary

# %% [markdown]
# ## Provenance

# %%
provenance = provenance_table(study.prices)
provenance

# %% [markdown]
# ## Conclusions

# %%
def _pct(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:+.1f}%"


def _group_sentence(g: str, r: pd.Series) -> str:
    kp = r.get("kp_p", float("nan"))
    bmp = r.get("bmp_p", float("nan"))
    verdict = ("significant at the {:.0%} level under KP".format(alpha) if kp < alpha
               else "**not** significant under KP" if pd.notna(kp) else "KP unavailable")
    plain = (" although the plain BMP test alone would call it significant" if (bmp < alpha and not kp < alpha)
             else "")
    return (f"- **{g}** (n={int(r['n'])}): CAAR {headline_window} = {_pct(r['caar'])} "
            f"(bootstrap {1 - alpha:.0%} interval {_pct(r['boot_lo'])} to {_pct(r['boot_hi'])}); "
            f"KP p = {kp:.3f}, BMP p = {bmp:.3f}: {verdict}{plain}.")


named = headline.drop(index="all", errors="ignore")
worst = per_asset.nsmallest(3, "car")
ok = anatomy.table.loc[anatomy.table["status"] == "ok"]
first = ok.sort_values("hours_to_cross").head(3)
lines = [f"Event **{event_date}**, {model} model, {freq} bars, {len(study.events)} assets "
         f"({len(res.dropped)} dropped)."]
lines += [_group_sentence(g, r) for g, r in named.iterrows()]
lines.append("- Lowest CARs " + headline_window + ": "
             + ", ".join(f"{s} {_pct(c)} (p = {p:.3f})" for s, c, p in zip(worst["symbol"], worst["car"], worst["p"])))
if len(ok):
    deepest = ok["depth"].idxmin()
    btc = f"; BTC's was {_pct(ok.loc['bitcoin', 'depth'])}" if "bitcoin" in ok.index else ""
    crossed = first.dropna(subset=["hours_to_cross"])
    lines.append(f"- Hourly anatomy: the deepest peak-to-trough fall was {ok.loc[deepest, 'symbol']} "
                 f"({_pct(ok.loc[deepest, 'depth'])}){btc}. First to fall {_pct(cross_threshold)} below the "
                 "pre-event level: " + (", ".join(f"{s} after {h:.0f} h" for s, h in
                                                  zip(crossed["symbol"], crossed["hours_to_cross"])) or "none") + ".")
    lagged = ok.loc[ok["best_lag"].fillna(0) != 0, "symbol"].tolist() if "best_lag" in ok.columns else []
    lines.append(f"- Lead-lag vs BTC: {len(ok) - 1 - len(lagged)} of {len(ok) - 1} assets moved in the same hour "
                 f"as BTC (peak cross-correlation at lag 0)" + (f"; lagged: {', '.join(lagged)}." if lagged else "."))
    unrec = ok.loc[ok["hours_to_recover"].isna(), "symbol"].tolist()
    lines.append(f"- Half of the loss was won back by {len(ok) - len(unrec)} of {len(ok)} assets within the data"
                 + (f"; not by {', '.join(unrec)}." if unrec else "."))
for _, d in deriv.summary.iterrows() if len(deriv.summary) else []:
    parts = [f"open interest {d['oi_change_pct']:+.1f}% (pre-event to post-event low)"] if pd.notna(
        d.get("oi_change_pct")) else []
    if pd.notna(d.get("long_liq_event_day_usd")):
        parts.append(f"event-day liquidations ${d['long_liq_event_day_usd'] / 1e6:,.0f}M long / "
                     f"${d['short_liq_event_day_usd'] / 1e6:,.0f}M short")
    if parts:
        lines.append(f"- {assets.symbol(d['asset'])} derivatives ({d['source']}): " + "; ".join(parts) + ".")
lines += [f"- Data gap: {n}." for n in deriv.notes]
display(Markdown("\n".join(lines)))

# %%
per_asset.to_csv(out / "car_per_asset.csv", index=False)
res.caar.to_csv(out / "caar_by_group.csv", index=False)
res.stats.to_csv(out / "statistics.csv", index=False)
anatomy.table.to_csv(out / "anatomy.csv")
deriv.summary.to_csv(out / "derivatives_context.csv", index=False)
summary = {
    "event_date": event_date, "model": model, "freq": freq, "headline_window": headline_window, "alpha": alpha,
    "n_events": int(res.car["event_id"].nunique()), "n_dropped": int(len(res.dropped)),
    "dropped": res.dropped.to_dict(orient="records"),
    "groups": json.loads(headline.reset_index().to_json(orient="records")),
    "anatomy": json.loads(anatomy.table.reset_index().to_json(orient="records", date_format="iso")),
    "derivatives_notes": deriv.notes, "data_notes": study.notes + anatomy.notes,
    "catalog_row": json.loads(row.to_json(orient="records", date_format="iso")),
    "provenance": json.loads(provenance.to_json(orient="records")),
    **data_summary(study.prices),
}
(out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
display(Markdown(f"Saved tables and `summary.json` to `{out.resolve()}`."))
