"""Key findings, figure titles and method text of the divergence study, computed from its numbers.

Every function reads a finished study through these attributes (duck-typed, so this module stays below
:mod:`capflow.studies`): ``params`` (``target``, ``factors``, ``spread``, ``windows``, ``headline_assets``,
``connectedness_assets``, ``horizon``, ``connectedness_window``, ``var_max_lags``, ``var_lags``, ``max_gap``,
``max_stale_days``, ``n_breaks``, ``n_regimes``), ``window`` (:class:`~capflow.divergence.windows.PerformanceWindow`),
``perf`` (:class:`~capflow.divergence.performance.Performance`), ``sample``
(:class:`~capflow.divergence.windows.StatsSample`), ``comove`` (:class:`~capflow.divergence.stats.CoMovement`),
``conn`` (:class:`~capflow.divergence.spillover.Connectedness` or None), ``rolling_conn`` (DataFrame or None) and
``data`` (``data_as_of``, ``data_layers``, ``data_sources``). Numbers are written with :mod:`capflow.fmt`, so the
text agrees with the tables.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import pandas as pd

from capflow import assets as _assets
from capflow import fmt

#: Display names where the registry symbol is not what a reader expects.
DISPLAY = {"^GSPC": "S&P 500", "^IXIC": "Nasdaq Composite", "000660.KS": "SK Hynix", "bitcoin": "BTC",
           "ethereum": "ETH"}


def display_name(col: str) -> str:
    """A column's name for people: ``^GSPC`` -> ``S&P 500``, ``bitcoin`` -> ``BTC``, baskets as they are."""
    return DISPLAY.get(col) or _assets.symbol(col)


def names(cols: Iterable[str]) -> str:
    """``"BTC, ETH and AI tokens"``."""
    shown = [display_name(c) for c in cols]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _d(ts: Any) -> str:
    return fmt.date(ts)


def pp(x: float) -> str:
    """A difference of two shares in percentage points: ``+4.0 pp``."""
    return f"{fmt.number(100 * x, 1, signed=True)} pp"


def mid_window(windows: Iterable[int]) -> int:
    """The middle rolling window (the one the findings quote)."""
    ws = sorted(int(w) for w in windows)
    return ws[len(ws) // 2]


# ----------------------------------------------------------------------------------------- key findings

def _values(table: pd.DataFrame, rows: Iterable[str], col: str) -> str:
    return ", ".join(f"{display_name(r)} {fmt.pct(table.at[r, col])}" for r in rows if r in table.index)


def _snapshot_ends(table: pd.DataFrame, rows: Iterable[str]) -> list[str]:
    return [r for r in rows if r in table.index and table.at[r, "end_value"] == "intraday snapshot"]


def performance_sentence(r) -> str:
    """Cumulative returns of the headline rows since the base date, to the end date."""
    t, w, rows = r.perf.table, r.window, list(r.params.headline_assets)
    snaps = _snapshot_ends(t, rows)
    flag = (f"; {names(snaps)} {'ends' if len(snaps) == 1 else 'end'} on an intraday CoinGecko snapshot, "
            "hours off a close against a multi-month return") if snaps else ""
    bsnap = {b: d for b, d in r.perf.basket_snapshot_from.items() if b in rows}
    if bsnap:
        flag += "; " + "; ".join(f"from {_d(d)} the {b} basket compounds some members' returns between intraday "
                                 "snapshots, sparse for a few" for b, d in bsnap.items())
    return (f"**Since {_d(w.base)}, to {_d(w.end)}:** {_values(t, rows, 'cum_return')} (baskets equal-weighted, "
            f"rebalanced daily{flag}).")


def ytd_sentence(r) -> str:
    """Year-to-date returns of the headline rows (from 31 December of the year before the end date)."""
    from capflow.divergence.performance import year_end_before

    t, w, rows = r.perf.table, r.window, list(r.params.headline_assets)
    return f"**Year to date** ({_d(year_end_before(w.end))} to {_d(w.end)}): {_values(t, rows, 'ytd')}."


def comovement_sentence(r) -> str:
    """Do AI tokens trade like crypto or like AI: variance shares of the two-factor model."""
    p, full = r.params, r.comove.two_factor_full
    f1, f2 = p.factors
    w = mid_window(p.windows)
    shares = r.comove.two_factor[w][[f"share_{f1}", f"share_{f2}"]].dropna()
    mean, last = shares.mean(), shares.iloc[-1]
    like = "crypto" if mean.iloc[0] > mean.iloc[1] else "AI equities"
    return (f"**{display_name(p.target)} trade more like {like}:** over {w}-session windows "
            f"{display_name(f1)} explains on average {fmt.pct(mean.iloc[0], signed=False)} of their daily variance "
            f"and {display_name(f2)} {fmt.pct(mean.iloc[1], signed=False)} (latest window "
            f"{fmt.pct(last.iloc[0], signed=False)} vs {fmt.pct(last.iloc[1], signed=False)}). Full sample "
            f"({full['n']} sessions, Newey-West t): beta on {display_name(f1)} {fmt.number(full[f'beta_{f1}'])} "
            f"(t = {fmt.number(full[f't_{f1}'])}), on {display_name(f2)} {fmt.number(full[f'beta_{f2}'])} "
            f"(t = {fmt.number(full[f't_{f2}'])}, p = {fmt.pval(full[f'p_{f2}'])}).")


def cointegration_sentence(r) -> str:
    """Cointegration of the spread's two log levels, with its p-value."""
    a, b = r.params.spread
    c = r.comove.cointegration
    verdict = "cointegrated" if c["eg_pvalue"] < 0.05 else "not cointegrated"
    pull = "the gap tends to close" if c["eg_pvalue"] < 0.05 else "no detectable pull that closes the gap"
    when = (f" The spread's largest shifts start {', '.join(_d(d) for d in r.comove.breaks)} (binary segmentation)"
            if len(r.comove.breaks) else "")
    chow = "".join(f"; a Chow test of the two-factor model at {_d(x.date)} gives F = {fmt.number(x.F)}, "
                   f"p = {fmt.pval(x.pvalue)}" for x in r.comove.chow.itertuples())
    return (f"**Long run:** the log levels of {display_name(a)} and {display_name(b)} are {verdict} "
            f"(Engle-Granger p = {fmt.pval(c['eg_pvalue'])}, Johansen rank {c['johansen_rank']} at 5%, "
            f"{c['n']} sessions): {pull}.{when}{chow}" + ("." if when or chow else ""))


def connectedness_sentence(r) -> str:
    """Total connectedness, the largest net transmitter and receiver, and the rolling range."""
    c = r.conn
    if c is None:
        return ""
    net = c.directional["net"].sort_values()
    top, low = net.index[-1], net.index[0]
    size = ("small next to the total, so no series clearly leads" if net.abs().max() < 0.25 * c.total
            else "large next to the total")
    rng = ""
    if r.rolling_conn is not None and len(r.rolling_conn):
        tot = r.rolling_conn["total"]
        rng = (f"; over rolling {r.params.connectedness_window}-session windows the total ranges "
               f"{fmt.pct(tot.min(), signed=False)} to {fmt.pct(tot.max(), signed=False)}")
    return (f"**Who transmits shocks:** {fmt.pct(c.total, signed=False)} of the {c.horizon}-session forecast-error "
            f"variance of {names(c.table.index)} comes from shocks to the others (VAR({c.lags}), generalized FEVD); "
            f"the largest net transmitter is {display_name(top)} (NET {pp(net[top])}), the largest net "
            f"receiver {display_name(low)} ({pp(net[low])}): differences {size}{rng} (point estimates, no "
            "confidence interval).")


def sample_sentence(r) -> str:
    """The sample, the clock policy and the data as-of."""
    w, s = r.window, r.sample
    return (f"**Sample and clocks:** performance from prices at any clock, {_d(w.base)} to {_d(w.end)} "
            f"({w.rule}); daily-return statistics on UTC closes only, {_d(s.base)} to {_d(s.end)} ({s.rule}), "
            f"{s.policy_text.split(':')[0]}; data as of {r.data.get('data_as_of')} "
            f"({', '.join(r.data.get('data_layers', [])) or 'unknown layer'}).")


def headline(r) -> list[str]:
    """Key findings: 5-7 sentences with numbers, units and significance (module docstring for ``r``)."""
    lines = [performance_sentence(r), ytd_sentence(r), comovement_sentence(r), cointegration_sentence(r),
             connectedness_sentence(r), sample_sentence(r)]
    return [line for line in lines if line]


def key_numbers(r) -> dict[str, str]:
    """Three or four formatted numbers for the report index."""
    t, w, p = r.perf.table, r.window, r.params
    out = {}
    for row in p.headline_assets[:2]:
        if row in t.index:
            out[f"{display_name(row)} since {_d(w.base)}"] = fmt.pct(t.at[row, "cum_return"])
    btc = "bitcoin" if "bitcoin" in t.index else None
    if btc:
        out[f"BTC YTD to {_d(w.end)}"] = fmt.pct(t.at[btc, "ytd"])
    if r.conn is not None:
        net = r.conn.directional["net"]
        out["Net transmitter"] = f"{display_name(net.idxmax())} (NET {pp(net.max())})"
    return out


# ----------------------------------------------------------------------------------------- figure titles

def performance_title(r) -> str:
    t = r.perf.table
    rows = sorted((x for x in r.params.headline_assets if x in t.index), key=lambda x: -t.at[x, "cum_return"])
    return (f"{_d(r.window.base)} to {_d(r.window.end)}: "
            + ", ".join(f"{display_name(x)} {fmt.pct(t.at[x, 'cum_return'])}" for x in rows))


def correlation_title(r) -> str:
    w = mid_window(r.params.windows)
    last = r.comove.correlations[w].ffill().iloc[-1]
    hi, lo = last.idxmax(), last.idxmin()
    return (f"{w}-session correlation now: {_pair(hi)} {fmt.number(last[hi])} (highest), {_pair(lo)} "
            f"{fmt.number(last[lo])} (lowest)")


def shares_title(r) -> str:
    f1, f2 = r.params.factors
    w = mid_window(r.params.windows)
    m = r.comove.two_factor[w][[f"share_{f1}", f"share_{f2}"]].mean()
    return (f"{display_name(f1)} explains {fmt.pct(m.iloc[0], 0, signed=False)} of {display_name(r.params.target)}' "
            f"daily variance on average, {display_name(f2)} {fmt.pct(m.iloc[1], 0, signed=False)} "
            f"({w}-session windows)")


def spread_title(r) -> str:
    s = r.comove.spread.dropna()
    move = float(s.iloc[-1] - s.iloc[0])
    a, b = r.params.spread
    return (f"{display_name(a)} relative to {display_name(b)}: {fmt.pct(math.exp(move) - 1)} from {_d(s.index[0])} "
            f"to {_d(s.index[-1])} (log spread {fmt.number(move, signed=True)})")


def connectedness_title(r) -> str:
    net = r.conn.directional["net"]
    return (f"Total connectedness {fmt.pct(r.conn.total, signed=False)}; largest net transmitter "
            f"{display_name(net.idxmax())} ({pp(net.max())}), largest net receiver {display_name(net.idxmin())} "
            f"({pp(net.min())})")


# ----------------------------------------------------------------------------------------- method

def _pair(label: str) -> str:
    a, b = label.split(" ~ ")
    return f"{display_name(a)} with {display_name(b)}"


def _members(members: dict) -> str:
    return "; ".join(f"{name}: {names(ids)}" for name, ids in members.items())


def method_lines(r) -> list[str]:
    """Method with values: Markdown bullets (sample, end rule, clocks, windows, baskets, tests, VAR)."""
    p, w, s, cm = r.params, r.window, r.sample, r.comove
    trunc = "; ".join(f"{display_name(a)} after {_d(d)}" for a, d in s.truncated.items()) or "none"
    lines = [
        f"- **Sample.** Base date {_d(w.base)}; end {_d(w.end)} ({w.rule}). An asset listed later starts at its "
        "first price. Asset rows compare two prices (the last at or before the start and the last at or before "
        f"the end); a row whose last price is more than {p.max_stale_days} days before the end keeps its own "
        "end date and is flagged. Year to date runs from the last price at or before 31 December of the year "
        "before the end date.",
        "- **Clocks.** Crypto daily rows are UTC-day closes (00:00 UTC, mostly Binance) until a series switches to "
        "intraday CoinGecko snapshots (`cg_snap_*`, 09:00-18:00 UTC). End values may be snapshots (the "
        "`end value` column says which); every daily-return statistic uses closes only: snapshot rows are "
        f"removed, and series whose closes end early are truncated there ({trunc}). The statistics end on "
        f"{_d(s.end)} ({s.rule}" + (f"; without the membership rule {_d(s.cut['uncut_end'])}, "
                                     f"{s.cut['uncut_rule']}" if s.cut else "") + ").",
        f"- **Calendar.** {s.policy_text}. Returns do not bridge gaps longer than {p.max_gap} rows.",
        "- **Baskets** (equal-weighted, rebalanced daily over the members with a return that session; crypto "
        "baskets also cap-weighted by the last CoinGecko market cap known before each day): "
        f"{_members(r.perf.members)}.",
        f"- **Rolling statistics.** Windows of {', '.join(map(str, cm.windows))} sessions, complete windows only; "
        f"correlations of {'; '.join(_pair(c) for c in cm.correlations[cm.windows[0]].columns)}; betas of the "
        f"baskets on {display_name(p.factors[0])}. Two-factor model: {display_name(p.target)} on {names(p.factors)} "
        "(OLS with a constant), R² split between the factors by the Shapley rule; full sample with Newey-West "
        f"errors ({cm.two_factor_full['hac_lags']} lags).",
        f"- **Long run and breaks.** Log spread {display_name(p.spread[0])} - {display_name(p.spread[1])}; "
        "Engle-Granger (constant) and Johansen (1 lagged difference) tests on the two log levels; "
        f"{p.n_breaks} change points by binary segmentation (L2 cost, segments of at least 20 sessions); Chow "
        f"tests of the two-factor regression at {', '.join(p.chow_dates) or 'no date'}; a {p.n_regimes}-regime "
        "Markov-switching mean/variance model (Hamilton 1989) of the spread's daily changes.",
    ]
    if r.conn is not None:
        c = r.conn
        lag_rule = (f"chosen by BIC among 1..{p.var_max_lags}" if not p.var_lags else "fixed by var_lags")
        lines.append(
            f"- **Connectedness** (Diebold-Yilmaz 2012). VAR({c.lags}) with a constant ({lag_rule}) on the daily "
            f"close-only returns of {names(c.table.index)}, {c.n} complete sessions {_d(c.start)} to {_d(c.end)}; "
            f"generalized FEVD (Pesaran-Shin 1998) at {c.horizon} sessions, rows normalised to 100%; TO = column "
            "sum off the diagonal, FROM = row sum off the diagonal, NET = TO - FROM, total = mean FROM. Rolling: "
            f"{p.connectedness_window}-session windows, same lag. Crypto closes at 00:00 UTC, 3-4 hours after "
            "the New York close, so a US shock after 16:00 ET reaches crypto the same day and equities the next: "
            "read directions between crypto and equities with that in mind.")
    data = r.data
    lines.append(f"- **Data.** As of {data.get('data_as_of')}; layers {', '.join(data.get('data_layers', []))}; "
                 f"sources {', '.join(data.get('data_sources', [])[:8])}"
                 + (f" and {len(data.get('data_sources', [])) - 8} more" if len(data.get('data_sources', [])) > 8
                    else "") + ". SK Hynix (000660.KS) returns are in KRW.")
    return lines
