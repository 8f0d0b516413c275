"""The data-quality study: what the other studies stand on (coverage, sources, gaps, jumps, clock switches).

``Params`` -> :func:`load_inputs` (coverage report, issues, prices with provenance) -> :func:`run` (monthly
coverage, pure) -> :class:`QualityResult`. Crypto is measured against every UTC day (or hour), equities against
their exchange's sessions (:func:`capflow.data.quality.expected_index`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from capflow import assets as _assets
from capflow import calendars, fmt
from capflow.studies.base import StudyParams, Notes, Result, StudyError, Table, quiet

FREQS = ("1d", "1h", "4h")


@dataclass(frozen=True)
class Params(StudyParams):
    """Which assets, which range, which bars."""

    assets: str = "crypto_major,ai_token,ai_equity,hyperscaler,semis_etf,benchmark,crypto_equity"
    start: str = "2023-01-01"
    end: str = ""
    freq: str = "1d"

    def __post_init__(self) -> None:
        if self.freq not in FREQS:
            raise StudyError(f"parameter freq={self.freq!r} is not supported; valid: {', '.join(FREQS)}")
        s = calendars.utc_timestamp(self.start, "start", StudyError)
        if self.end and calendars.utc_timestamp(self.end, "end", StudyError) < s:
            raise StudyError(f"parameters start={self.start} and end={self.end}: start must be on or before end")



@dataclass
class Inputs:
    """The coverage report, the issue list and the prices (with provenance) of the requested assets."""

    params: Params
    prices: pd.DataFrame
    report: pd.DataFrame
    issues: pd.DataFrame
    notes: Notes


def load_inputs(params: Params) -> Inputs:
    """Load prices and assess them (the only code that reads data)."""
    from capflow.data import load_prices
    from capflow.data.quality import quality_issues, quality_report

    notes = Notes()
    end = params.end or None
    with quiet():
        prices = load_prices(params.assets, params.start, end, freq=params.freq, missing="drop")
        report = quality_report(params.assets, params.start, end, freq=params.freq)
        issues = quality_issues(params.assets, params.start, end, freq=params.freq)
    for a, why in prices.attrs.get("dropped", {}).items():
        notes.add("dropped", "load", _assets.symbol(a), f"no {params.freq} prices in the range")
    return Inputs(params, prices, report, issues, notes)


def monthly_coverage(prices: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Share of each asset's expected bars (its own calendar) present per month (months x assets)."""
    from capflow.data.quality import expected_index

    naive = prices.index.tz_convert(None).to_period("M")
    observed = prices.notna().groupby(naive).sum()
    exp = {}
    for a in prices.columns:
        s = prices[a].dropna()
        if s.empty:
            continue
        idx = expected_index(_assets.resolve(a), freq, s.index[0], s.index[-1])  # the asset's own life
        exp[a] = pd.Series(1, index=idx.tz_convert(None).to_period("M")).groupby(level=0).count()
    expected = pd.DataFrame(exp).reindex(index=observed.index, columns=prices.columns)
    return (observed / expected).astype(float).clip(upper=1.0)  # NaN: before listing or after the last bar


def run(inputs: Inputs, params: Params | None = None) -> "QualityResult":
    """Compute the monthly coverage and wrap everything in a :class:`QualityResult` (pure)."""
    p = params or inputs.params
    return QualityResult(p, Notes(inputs.notes.items), inputs, monthly_coverage(inputs.prices, p.freq))


class QualityResult(Result):
    """What data there is, from where, and where it is thin."""

    study = "data_quality"

    def __init__(self, params: Params, notes: Notes, inputs: Inputs, monthly: pd.DataFrame):
        super().__init__(params, notes)
        self.inputs, self.monthly = inputs, monthly

    def headline(self) -> list[str]:
        rep = self.inputs.report
        have = rep.loc[rep["rows"] > 0]
        full = rep.loc[rep["coverage_pct"] >= 95]
        worst = rep.sort_values("coverage_pct").iloc[0]
        switched = rep.loc[rep["clock_switches"] > 0, "symbol"].tolist()
        layers = {p.get("layer") for p in self.inputs.prices.attrs.get("provenance", {}).values()}
        return [
            f"**{len(full)} of {len(rep)} assets** cover at least 95% of their own calendar between their first and "
            f"last bar ({self.params.start} to {self.params.end or 'today'}, {self.params.freq} bars).",
            f"Thinnest series: **{worst['symbol']}**, {fmt.pct(worst['coverage_pct'] / 100, signed=False)} covered "
            f"({fmt.integer(worst['missing'])} missing bars, longest gap {fmt.integer(worst['longest_gap_missing'])}).",
            f"{len(switched)} series switch from UTC closes to intraday snapshots "
            f"({', '.join(switched[:8])}{' and more' if len(switched) > 8 else ''}): returns across a switch mix two "
            "clocks, so the studies drop or flag them.",
            f"Latest bar of any asset {fmt.date(have['last'].max())}; every asset has data to "
            f"{fmt.date(have['last'].min())}. Layers used: {', '.join(sorted(map(str, layers)))}.",
        ]

    def key_numbers(self) -> dict[str, str]:
        rep = self.inputs.report
        return {"assets ≥95% covered": f"{int((rep['coverage_pct'] >= 95).sum())} of {len(rep)}",
                "clock switches": str(int((rep["clock_switches"] > 0).sum()))}

    def data_summary(self) -> dict[str, Any]:
        from capflow.data import data_summary

        return data_summary(self.inputs.prices)

    def tables(self) -> dict[str, Table]:
        from capflow.data import provenance_table

        rep = self.inputs.report
        cols = ["symbol", "calendar", "first", "last", "rows", "expected", "coverage_pct", "gaps",
                "longest_gap_missing", "outliers", "clock_switches", "sources"]
        cov = rep[[c for c in cols if c in rep.columns]].copy()
        cov["coverage_pct"] = cov["coverage_pct"] / 100
        counts = self.inputs.issues.pivot_table(index="asset", columns="kind", values="detail", aggfunc="count",
                                                fill_value=0).reset_index() if len(self.inputs.issues) else pd.DataFrame()
        if len(counts):
            counts.insert(0, "symbol", counts.pop("asset").map(_assets.symbol))
        prov = provenance_table(self.inputs.prices).drop(columns=["asset"], errors="ignore")
        return {
            "coverage": Table("coverage", "Coverage per asset (against its own calendar)", cov,
                              {"first": "date", "last": "date", "rows": "int", "expected": "int",
                               "coverage_pct": "pct_plain", "gaps": "int", "longest_gap_missing": "int",
                               "outliers": "int", "clock_switches": "int", "sources": "text", "calendar": "text"},
                              {"symbol": "asset", "coverage_pct": "coverage", "longest_gap_missing": "longest gap (bars)",
                               "clock_switches": "clock switches"}),
            "issues": Table("issue_counts", "Issues per asset and kind", counts,
                            {c: "int" for c in counts.columns if c != "symbol"}, {"symbol": "asset"},
                            "gap: missing expected bars; stale: repeated values; outlier: jumps beyond k robust sd; "
                            "clock_switch: a close series turns into intraday snapshots."),
            "provenance": Table("provenance", "Where every series came from", prov,
                                {"first": "date", "last": "date", "rows": "int", "sources": "text", "layer": "text"},
                                {"symbol": "asset"}),
        }

    def figures(self) -> dict[str, Any]:
        from capflow.plots import new_figure, set_title

        m = self.monthly
        fig, ax = new_figure((12, 0.22 * len(m.columns) + 1.8))
        ax.set_facecolor("#e8e8e8")  # months before an asset's first bar or after its last: grey, not a gap
        im = ax.imshow(m.T.to_numpy(), aspect="auto", cmap="RdYlGn", vmin=0, vmax=1, interpolation="nearest")
        ax.set_yticks(range(len(m.columns)), [_assets.symbol(a) for a in m.columns], fontsize=8)
        ticks = list(range(0, len(m.index), 3))
        ax.set_xticks(ticks, [str(m.index[i]) for i in ticks], rotation=60, fontsize=8)
        ax.grid(False)
        full = int(((m >= 0.99) | m.isna()).all(axis=0).sum())
        set_title(ax, f"Share of expected bars present per month: {full} of {len(m.columns)} assets complete in "
                  "every month of their life (grey: before the first or after the last bar)")
        fig.colorbar(im, ax=ax, location="right", shrink=0.5, pad=0.01, label="share present")
        return {"monthly_coverage": fig}

    def method(self) -> list[str]:
        return [
            f"- Assets: `{self.params.assets}`; range {self.params.start} to {self.params.end or 'today'}; "
            f"{self.params.freq} bars resolved through cache, live sources and the snapshot (capflow.data.load_prices).",
            "- Expected bars: every UTC day (hour) for crypto; the sessions of the asset's exchange (stored "
            "exchange_calendars sessions) for equities, between the asset's first and last bar.",
            "- Gaps: runs of missing expected bars; stale: a value repeated 5 bars or more; outliers: log-return jumps "
            "beyond 10 robust standard deviations; clock switch: a daily series whose source changes from a UTC close "
            "(Binance, CoinGecko history) to an intraday snapshot (cg_snap_*).",
        ]
