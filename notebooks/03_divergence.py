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
# # 03 Divergence: AI equities vs crypto since January 2024
#
# **Question.** Since the base date, did memory and chip stocks and the AI-equity basket pull away from Bitcoin
# and the AI tokens, when did the gap open, and do AI tokens trade like AI (the equity basket) or like crypto
# (Bitcoin)? Everything below is computed by `capflow.divergence` on the data loaded here; the prose numbers
# are computed, not typed.

# %% tags=["parameters"]
base_date = "2024-01-02"
end_date = None  # None: decided by `clock` (an explicit date always wins)
clock = "close_only"  # "close_only": no crypto return mixes a UTC close with an intraday snapshot; "any": no cut
short_series = "truncate"  # close_only: "truncate" each crypto series at its own close end, the sample runs to
#                            Bitcoin's last close (or the equities' last date); "cut": everyone ends at the earliest
min_basket_share = 0.5  # without end_date: end at the last session every basket keeps at least this share of its largest
#                         membership (None: no rule; a thin tail is then reported)
assets = "ai_equity,semis_etf,hyperscaler,crypto_major,ai_token"
baskets = {"AI equities": "ai_equity", "Semis ETFs": "semis_etf", "Hyperscalers": "hyperscaler",
           "Crypto majors": "crypto_major", "AI tokens": "ai_token"}
windows = [30, 90, 180]
n_regimes = 2
n_breaks = 3
chow_dates = ["2025-01-01"]
calendar_policy = "equity_sessions"  # or "crypto_clock"; "crypto_at_equity_close" needs hourly data (short windows)
late_start = "own_start"  # assets listed after base_date start at their first price ("raise" to refuse)
output_dir = "."

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from capflow import divergence as D
from capflow.assets import symbol
from capflow.data import data_summary, provenance_table
from capflow.plots import divergence as P

out = Path(output_dir)
out.mkdir(parents=True, exist_ok=True)
(prices, caps), notes = D.call_with_notes(D.load_inputs, assets, base_date, end_date, clock=clock,
                                          short_series=short_series)
hourly = D.load_hourly(prices, base_date, end_date) if calendar_policy == "crypto_at_equity_close" else None
study, study_notes = D.call_with_notes(
    D.run_study, prices, caps, baskets=baskets, base=base_date, end=end_date, windows=windows,
    policy=calendar_policy, n_regimes=n_regimes, n_breaks=n_breaks, chow_dates=chow_dates, late_start=late_start,
    hourly=hourly, short_series=short_series, min_basket_share=min_basket_share)
exits = D.basket_exits(study.truncated, study.members.get("AI tokens", []))
display(Markdown(f"**Sample:** {study.base.date()} to {study.end.date()} (end set by: {study.end_rule}; clock = "
                 f"`{clock}`, short_series = `{study.short_series}`). **Calendar policy:** {study.policy_text}. "
                 "Crypto caps (cap-weighted baskets) are sparse; each day uses the last cap known before it, and a "
                 "member with no cap known yet is left out of the cap weights (named in the notes). Equities have "
                 "no caps in the snapshot, so their baskets are equal-weighted only. SK Hynix (000660.KS) returns "
                 "are in KRW.\n\n"
                 + D.notes_markdown(notes + study_notes)))

# %% [markdown]
# ## Data caveats
#
# Computed by `capflow.data.quality` for every asset in the study: where the crypto daily series change clock
# (a UTC close followed by intraday snapshots) and where they have gaps, relative to this sample (for a truncated
# asset: up to its own end).

# %%
caveats = D.data_caveats(prices, study.base, study.end, truncated=study.truncated)
caveats.to_csv(out / "data_caveats.csv")
display(Markdown("\n".join(D.caveat_lines(caveats, study.clock, study.base, study.end))))
flagged = caveats[(caveats.clock_switches > 0) | (caveats.gaps_in_study > 0) | (caveats.longest_gap_missing > 0)]
flagged[["symbol", "coverage_pct", "first_snapshot", "snapshot_in_study", "longest_gap", "longest_gap_missing",
         "gaps_in_study", "sources"]]

# %% [markdown]
# ## Performance indexed to 100

# %%
fig, axes = plt.subplots(2, 1, figsize=(11, 9))
mixed_from = D.mixed_clock_start(study)  # None under clock="close_only": nothing to shade
P.plot_performance(study.levels[list(study.basket_returns.columns)], ax=axes[0], title="Baskets (base = 100, log)",
                   mixed_from=mixed_from)
P.plot_performance(study.levels[list(prices.columns)], ax=axes[1], title="Assets (base = 100, log)",
                   mixed_from=mixed_from)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Cumulative-return table
#
# Each row runs from its own start to its own `end` (a truncated asset ends at its close end; its `ytd` is in the
# year of that end). Rows marked `(cap)` weight members by the last market cap known before each day; a member
# without a known cap is left out of those weights on such days (the notes above name them and count the days).

# %%
table = study.table.sort_values(["kind", "cum_return"], ascending=[False, False])
table.to_csv(out / "divergence_table.csv")
table.style.format({"cum_return": "{:+.1%}", "ytd": "{:+.1%}", "max_drawdown": "{:.1%}"})

# %% [markdown]
# ## Basket membership
#
# A basket averages the members that have a return that session (weights renormalised over them). With
# `short_series="truncate"` a crypto asset leaves its baskets after its own UTC-close end; assets listed after the
# base date join at their first price. The table lists the runs of constant AI-token basket size.

# %%
study.membership.to_csv(out / "basket_membership.csv")
spans = D.membership_spans(study.membership["AI tokens"]) if "AI tokens" in study.membership else None
spans

# %% [markdown]
# ## Rolling correlations
#
# Rolling statistics run on the basket return series as they are: a window that spans a dotted line (an AI-token
# basket member leaving) mixes the basket before and after the change, for as many rows as the window is long.

# %%
P.plot_rolling_correlations(study.correlations, title=f"Rolling correlations ({', '.join(map(str, windows))} rows)",
                            marks=exits)
plt.show()
study.correlations.to_csv(out / "rolling_correlations.csv")

# %% [markdown]
# ## Two-factor decomposition: AI tokens on Bitcoin and the AI-equity basket

# %%
w_mid = sorted(windows)[len(windows) // 2]
two = study.two_factor[w_mid]
P.plot_variance_shares(two, title=f"AI tokens: share of variance explained ({w_mid}-row window)", marks=exits)
plt.show()
two.to_csv(out / f"two_factor_{w_mid}.csv")

# %% [markdown]
# ## Spread, breaks and regimes

# %%
fig, axes = plt.subplots(2, 1, figsize=(11, 8))
P.plot_spread(study.spread, study.breaks, ax=axes[0])
if study.regimes is not None:
    P.plot_regimes(study.spread, study.regimes.probabilities, ax=axes[1])
plt.tight_layout()
plt.show()
display(study.chow)
if study.regimes is not None:
    display(study.regimes.summary)

# %% [markdown]
# ## Provenance

# %%
provenance_table(prices)

# %% [markdown]
# ## Conclusions

# %%
t, c = study.table, study.cointegration
summary = {**data_summary(prices), **D.summary(study)}
summary["data_as_of"] = str(study.end.date())  # the study's end, not the snapshot's latest date
(out / "divergence_summary.json").write_text(json.dumps(summary, indent=2, default=str))
gap = t.loc["AI equities", "cum_return"] - t.loc["AI tokens", "cum_return"]
shares = two.filter(like="share_").dropna()
first_half, second_half = shares.iloc[: len(shares) // 2].mean(), shares.iloc[len(shares) // 2:].mean()
top = t[t.kind == "asset"].sort_values("cum_return")
lines = [
    f"- From {study.base.date()} to {study.end.date()} the equal-weighted AI-equity basket returned "
    f"{t.loc['AI equities', 'cum_return']:+.0%}, crypto majors {t.loc['Crypto majors', 'cum_return']:+.0%} and "
    f"AI tokens {t.loc['AI tokens', 'cum_return']:+.0%}: a gap of {gap * 100:+.0f} percentage points between AI "
    "equities and AI tokens (equal-weighted, rebalanced daily)."
    + "".join(f" Cap-weighted {k.replace(' (cap)', '')}: {t.loc[k, 'cum_return']:+.0%}."
              for k in t.index if k.endswith("(cap)")),
    f"- Best asset: {top.symbol.iloc[-1]} ({top.cum_return.iloc[-1]:+.0%}); worst: {top.symbol.iloc[0]} "
    f"({top.cum_return.iloc[0]:+.0%}). Deepest basket drawdown: "
    f"{t[t.kind == 'basket'].max_drawdown.idxmin()} ({t[t.kind == 'basket'].max_drawdown.min():.0%}).",
    f"- Over {w_mid}-row windows, Bitcoin explains on average {shares.iloc[:, 0].mean():.0%} of AI-token variance "
    f"and the AI-equity basket {shares.iloc[:, 1].mean():.0%} (first half {first_half.iloc[0]:.0%} / "
    f"{first_half.iloc[1]:.0%}, second half {second_half.iloc[0]:.0%} / {second_half.iloc[1]:.0%}): AI tokens "
    f"trade {'more like crypto' if shares.iloc[:, 0].mean() > shares.iloc[:, 1].mean() else 'more like AI equities'}.",
    f"- Cointegration of the log levels ({c['n']} rows): Engle-Granger p = {c['eg_pvalue']:.2f}, Johansen rank "
    f"{c['johansen_rank']} at 5%: {'evidence of' if c['eg_pvalue'] < 0.05 else 'no evidence of'} a stable "
    "long-run relation between the two baskets.",
    f"- Change points of the spread: {', '.join(str(d.date()) for d in study.breaks) or 'none searched'}."
    + "".join(f" Chow test at {r.date.date()}: F = {r.F:.2f}, p = {r.pvalue:.3f}." for r in study.chow.itertuples()),
]
if study.regimes is not None:
    s = study.regimes.summary
    lines.append(f"- The Markov model finds a calm regime (daily spread volatility {s.volatility.iloc[0]:.1%}, "
                 f"{s.share_of_rows.iloc[0]:.0%} of days) and a turbulent one ({s.volatility.iloc[-1]:.1%}, "
                 f"{s.share_of_rows.iloc[-1]:.0%} of days).")
cut = study.clock.get("membership_cut")
if cut:
    lines.append(
        f"- **End rule.** Without an end date the sample would run to {cut['uncut_end']} ({cut['uncut_rule']}); it "
        f"ends on {study.end.date()} instead ({study.end_rule}), the last session on which every basket keeps at "
        f"least {cut['min_basket_share']:.0%} of its largest membership, so no headline number rests on one or two "
        f"members ({cut['thin']} would fall below that after it). Set `end_date` to see the thin tail.")
else:
    lines.append(f"- **End rule.** The sample ends on {study.end.date()}: {study.end_rule}.")
if study.truncated:
    last = spans.iloc[-1]
    by_date = D.basket_exits(study.truncated, study.truncated)
    lines.append(
        f"- Like with like: {len(study.truncated)} crypto series end before {study.end.date()} and are truncated at "
        "their own UTC-close end: " + "; ".join(f"{', '.join(map(symbol, ids))} on {d.date()}"
                                                for d, ids in by_date.items())
        + f". Their table rows end there. From {last.start.date()} to {last.end.date()} ({last.rows} sessions) the "
        f"AI-token basket holds {last.members} member(s).")
for name, tail in summary["thin_tail"].items():
    lines.append(
        f"- **Thin tail.** After {tail['last_full']} the {name} basket has fewer than half of its members (down to "
        f"{tail['members']}) for its last {tail['rows']} sessions, which move it by {tail['tail_return']:+.0%}: to "
        f"{tail['last_full']} it returned {tail['cum_return_full']:+.0%}, against "
        f"{t.loc[name, 'cum_return']:+.0%} at {study.end.date()}. Read the end of the {name} line with that in mind "
        "(or set `end_date` to the last full session).")
display(Markdown("\n".join(lines)))
