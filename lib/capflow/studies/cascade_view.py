"""What a reader sees of a cascade study: the headline, the tables, the figures and the method, all computed.

:class:`CascadeResult` holds the numbers of :func:`capflow.studies.cascade_run.run`; every sentence here is built
from them (no number is typed in), formatted by :mod:`capflow.fmt`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from capflow import assets as _assets
from capflow import fmt
from capflow.studies.base import Notes, Result, Table

GROUP_LABEL = {"ai_token": "AI tokens", "crypto_major": "crypto majors", "ai_equity": "AI equities",
               "hyperscaler": "hyperscalers", "semis_etf": "semiconductor ETFs", "benchmark": "benchmarks",
               "crypto_equity": "crypto equities", "all": "all assets"}
TEST_LABEL = {"t_cs": "t", "patell": "Patell", "bmp": "BMP", "kp": "KP", "corrado": "Corrado", "gen_sign":
              "gen. sign", "sign": "sign", "wilcoxon": "Wilcoxon", "cz_sign": "CZ sign", "grank": "GRANK",
              "kp_patell": "KP Patell", "bw_cda": "BW CDA", "lamb": "Lamb", "bhar_skew_t": "skew-adj. BHAR t"}


def _sym(a: str) -> str:
    try:
        return _assets.symbol(a)
    except KeyError:
        return str(a)


class CascadeResult(Result):
    """One cascade study's numbers and how they read (see the module docstring)."""

    study = "cascade"

    def __init__(self, params, notes: Notes, **parts: Any):
        super().__init__(params, notes)
        self.__dict__.update(parts)
        self.label = f"{params.event_date} ({'hourly' if params.freq == '1h' else 'daily'})"

    # ------------------------------------------------------------------------------------------ the numbers
    def fits(self) -> pd.DataFrame:
        """Per event: estimation observations, alpha, beta, sigma, R² (market model: beta² var(m) / var(r))."""
        parts = []
        for res, model in ((self.result, self.params.model), (self.dimson, "dimson")):
            if res is None or res.fit is None or res.fit.empty:
                continue
            f = res.fit.copy()
            f["model"] = model
            parts.append(f)
        if not parts:
            return pd.DataFrame(columns=["asset", "group", "n_obs", "alpha", "beta", "sigma", "r2", "model"])
        fit = pd.concat(parts, ignore_index=True)
        fit["r2"] = [self._r2(r) for r in fit.itertuples()]
        return fit

    def _r2(self, r) -> float:
        if "beta" not in r._fields or pd.isna(getattr(r, "beta", np.nan)):
            return np.nan
        w = self.windows.est.get(r.asset)
        ev = self.events.set_index("asset")
        if w is None or r.asset not in ev.index or ev.at[r.asset, "benchmark"] not in self.market.columns:
            return np.nan
        own = self.returns[r.asset].mask(self.excluded[r.asset])  # the estimation sample the engine used
        rets = pd.concat([own, self.market[ev.at[r.asset, "benchmark"]]], axis=1)
        rets = rets.loc[w[0]:w[1]].dropna()
        var_r = rets.iloc[:, 0].var()
        return float(r.beta ** 2 * rets.iloc[:, 1].var() / var_r) if var_r > 0 else np.nan

    def per_asset(self) -> pd.DataFrame:
        """Raw moves beside abnormal returns, one row per asset (benchmarks included, without an AR)."""
        if "_per_asset" not in self.__dict__:
            self._per_asset = self._build_per_asset()
        return self._per_asset.copy()

    def _build_per_asset(self) -> pd.DataFrame:
        mv = self.moves.copy()
        ev = self.events.set_index("asset")
        mv["group"] = mv["asset"].map(ev["group"]).fillna(mv["asset"].map(lambda a: _assets.group_of(a) or "benchmark"))
        mv["benchmark"] = mv["asset"].map(ev["benchmark"])
        fit = self.fits().set_index("asset")
        for c in ("alpha", "beta", "sigma", "r2", "model"):
            mv[c] = mv["asset"].map(fit[c]) if c in fit.columns else np.nan
        mv = mv.merge(self._period0(), on="asset", how="left").merge(self._cars(), on="asset", how="left")
        flagged = getattr(self, "flagged", {})
        mv["symbol"] = mv["asset"].map(lambda a: f"{_sym(a)} (mixed clock)" if a in flagged else _sym(a))
        mv["group_label"] = mv["group"].map(lambda g: GROUP_LABEL.get(g, g))
        order = {g: i for i, g in enumerate(GROUP_LABEL)}
        return mv.sort_values(["group", "ret0"], key=lambda s: s.map(order) if s.name == "group" else s)

    def _period0(self) -> pd.DataFrame:
        """The engine's period-0 numbers per asset (the day or the hour holding the event): raw return, the
        benchmark's return, the normal (expected) return and the abnormal return."""
        parts = []
        for r in (self.result, self.dimson):
            if r is None or r.ar.empty:
                continue
            a = r.ar.loc[r.ar["rel"] == 0, ["asset", "timestamp", "ret", "normal", "ar"]]
            parts.append(a)
        cols = ["asset", "p0", "ret_p0", "expected0", "ar0", "bench_ret0"]
        if not parts:
            return pd.DataFrame(columns=cols)
        a = pd.concat(parts, ignore_index=True).rename(columns={"timestamp": "p0", "ret": "ret_p0",
                                                                "normal": "expected0", "ar": "ar0"})
        bench = self.events.set_index("asset")["benchmark"]
        a["bench_ret0"] = [self.market.at[t, bench[x]] if t in self.market.index else np.nan
                           for x, t in zip(a["asset"], a["p0"])]
        return a[cols]

    def _cars(self) -> pd.DataFrame:
        parts = [r.car.loc[r.car["window"] == self.params.headline_window, ["asset", "car", "p"]]
                 for r in (self.result, self.dimson) if r is not None and len(r.car)]
        cols = ["asset", "car", "p"]
        return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)

    def group_stats(self) -> pd.DataFrame:
        """One row per (group, window): CAAR, bootstrap interval, n, every test's p, and the KP r̄."""
        if self.result is None:
            return pd.DataFrame()
        s = self.result.summary()
        rbar = self.result.rbar.set_index("group")["rbar"] if len(self.result.rbar) else pd.Series(dtype=float)
        s["rbar"] = s["group"].map(rbar)
        return s

    # ------------------------------------------------------------------------------------------ the reading
    def _row(self, asset: str) -> pd.Series | None:
        pa = self.moves.set_index("asset")
        return pa.loc[asset] if asset in pa.index else None

    def _btc_sentence(self) -> str:
        b = self._row("bitcoin")
        if b is None or pd.isna(b["ret0"]):
            return "BTC has no daily close on the event day in the data."
        low = (f" and {fmt.pct(b['open_to_low'])} from the day's open to the low of {fmt.price(b['low'])} "
               f"({fmt.datetime_utc(b['low_time'])}, {b['low_source']})" if pd.notna(b["open_to_low"]) else "")
        return (f"**BTC fell {fmt.pct(b['ret0'])} close to close** on {fmt.date(b['day0'])} "
                f"({fmt.price(b['prev_close'])} → {fmt.price(b['close0'])}){low}.")

    def _group_sentence(self, group: str, pa: pd.DataFrame, gs: pd.DataFrame) -> str | None:
        sub = pa.loc[(pa["group"] == group) & pa["ret0"].notna()]
        if sub.empty:
            return None
        row = gs.loc[(gs["group"] == group) & (gs["window"] == self.params.headline_window)] if len(gs) else gs
        worst = sub.nsmallest(3, "ret0")
        names = ", ".join(f"{s} {fmt.pct(r)}" for s, r in zip(worst["symbol"], worst["ret0"]) if pd.notna(r))
        name = GROUP_LABEL.get(group, group)
        text = (f"**{name[0].upper() + name[1:]}** (n={len(sub)}): median day-0 move "
                f"{fmt.pct(sub['ret0'].median())} ({names})")
        if pd.notna(sub["beta"]).any():
            text += f"; median beta {fmt.number(sub['beta'].median())} on {_sym(sub['benchmark'].dropna().iloc[0])}"
        if len(row):
            r = row.iloc[0]
            text += (f". Abnormal CAAR {self.params.headline_window} {fmt.pct(r['caar'])} "
                     f"({1 - self.params.alpha:.0%} bootstrap {fmt.pct(r['boot_lo'])} to {fmt.pct(r['boot_hi'])}, "
                     f"n={int(r['n'])}): {self._verdict(r)} (r̄ {fmt.number(r.get('rbar'), 2)})")
        return text + "."

    def _verdict(self, r) -> str:
        """Honest significance under the two tests that survive a shared date: KP and GRANK."""
        a = self.params.alpha
        kp, gr = r.get("kp_p", np.nan), r.get("grank_p", np.nan)
        both = f"KP p {fmt.pval(kp)}, GRANK p {fmt.pval(gr)}"
        if kp < a and gr < a:
            return f"significant under both KP and GRANK ({both})"
        if kp < a or gr < a:
            which = "KP" if kp < a else "GRANK"
            return f"significant under {which} only ({both})"
        return f"not significant under KP or GRANK ({both})"

    def kept(self) -> int:
        """Events the event study kept (main run and Dimson run)."""
        return sum(r.car["event_id"].nunique() for r in (self.result, self.dimson) if r is not None and len(r.car))

    def _five_session(self, pa: pd.DataFrame) -> str | None:
        eq = pa.loc[pa["group"].isin(["ai_equity", "hyperscaler"]) & pa["move_5"].notna()]
        if eq.empty:
            return None
        pick = eq.nsmallest(4, "move_5")
        return ("Into the crash, over the 5 sessions ending day 0: " +
                ", ".join(f"{s} {fmt.pct(m)}" for s, m in zip(pick["symbol"], pick["move_5"])) + ".")

    def _estimation_sentence(self) -> str:
        n = len(self.removed)
        cas = sorted({pd.Timestamp(d).strftime("%Y-%m-%d") for d in self.inputs.catalog["date"]
                      if abs((pd.Timestamp(d) - self.params.t0).days) < 400 and pd.Timestamp(d) != self.params.t0})
        rob = self.robustness
        g = "ai_token" if (len(rob) and (rob["group"] == "ai_token").any()) else (rob["group"].iloc[0] if len(rob) else None)
        tail = ""
        if g is not None:
            r = rob.loc[(rob["group"] == g) & (rob["model"] == self.params.model)].set_index("estimation")["caar"]
            if {"clean", "all days"} <= set(r.index):
                tail = (f"; {GROUP_LABEL.get(g, g)}' CAAR {self.params.headline_window} is {fmt.pct(r['clean'])} with "
                        f"the exclusions and {fmt.pct(r['all days'])} without")
        return (f"Estimation windows are clean: {n} observations removed (other cascades ±{self.params.exclude_pad} "
                f"days{': ' + ', '.join(cas[-4:]) if cas else ''}; capex-release sessions for "
                f"{self.params.exclude_capex_groups.replace(',', ', ')}){tail}.")

    def headline(self) -> list[str]:
        """Key findings from the numbers (see :class:`capflow.studies.base.Result`)."""
        pa, gs = self.per_asset(), self.group_stats()
        lines = [self._btc_sentence()]
        for g in ("ai_token", "ai_equity", "hyperscaler"):
            s = self._group_sentence(g, pa, gs)
            if s:
                lines.append(s)
        five = self._five_session(pa)
        if five:
            lines.append(five)
        lines.append(self._estimation_sentence())
        drops = self.notes.count("dropped")
        lines.append(f"Sample: {self.kept()} event assets in the tests, {drops} dropped (reasons under Method and "
                     f"caveats); {self.inputs.event_time_rule}; data as of "
                     f"{self.data_summary().get('data_as_of') or 'n/a'}.")
        return lines

    def key_numbers(self) -> dict[str, str]:
        """Short strings for the report index."""
        b = self._row("bitcoin")
        out = {}
        if b is not None:
            out["BTC day 0"] = fmt.pct(b["ret0"])
        gs = self.group_stats()
        for g in ("ai_token", "ai_equity"):
            r = gs.loc[(gs["group"] == g) & (gs["window"] == self.params.headline_window)] if len(gs) else gs
            if len(r):
                out[f"{GROUP_LABEL[g]} CAAR {self.params.headline_window}"] = (
                    f"{fmt.pct(r.iloc[0]['caar'])} (KP p {fmt.pval(r.iloc[0].get('kp_p'))})")
        return out

    def data_summary(self) -> dict[str, Any]:
        """Data as-of, layers and sources of the prices behind the study."""
        from capflow.data import data_summary

        return data_summary(self.inputs.prices)

    # ------------------------------------------------------------------------------------------ tables
    def tables(self) -> dict[str, Table]:
        """Named tables in reading order (built once)."""
        from capflow.studies.cascade_tables import build_tables

        if "_tables" not in self.__dict__:
            self._tables = build_tables(self)
        return self._tables

    def figures(self) -> dict[str, Any]:
        """Named figures in reading order."""
        from capflow.studies.cascade_figures import build_figures

        return build_figures(self)

    def method(self) -> list[str]:
        """Method with values."""
        from capflow.studies.cascade_tables import method_lines

        return method_lines(self)
