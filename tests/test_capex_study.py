"""capflow.studies.capex: the study shape end to end on the embedded snapshot, known answers for the spend tables
(hand-built catalogs), a planted effect in SYNTHETIC returns recovered through run(), one-line parameter errors."""

from __future__ import annotations

import json
import logging
import warnings

import numpy as np
import pandas as pd
import pytest

from capflow import capex, fmt
from capflow import capex_spend as sp
from capflow.studies import StudyError, Table
from capflow.studies import capex as study
from capflow.studies.base import captured


def _catalog(rows: list[tuple]) -> pd.DataFrame:
    """A hand-built catalog: (ticker, date, capex $B or None, guidance text, low $B, high $B)."""
    return capex.finalize_catalog(pd.DataFrame({
        "company": [r[0] + " Inc" for r in rows], "ticker": [r[0] for r in rows], "announce_date": [r[1] for r in rows],
        "timing": "after close", "fiscal_period": [f"Q{i}" for i in range(len(rows))],
        "capex_usd": [np.nan if r[2] is None else r[2] * 1e9 for r in rows], "capex_definition": "d",
        "guidance_text": [r[3] for r in rows],
        "guidance_low_usd": [np.nan if r[4] is None else r[4] * 1e9 for r in rows],
        "guidance_high_usd": [np.nan if r[5] is None else r[5] * 1e9 for r in rows], "source": "hand-built"}))


QUARTERS = ["2024-01-30", "2024-04-30", "2024-07-30", "2024-10-30", "2025-01-30", "2025-04-30"]


# ------------------------------------------------------------------------------------------------- spend tables
def test_trailing_four_quarters_sum_known_answer_and_missing_quarter_leaves_a_gap():
    cat = _catalog([("AAA", d, float(i + 1), None, None, None) for i, d in enumerate(QUARTERS)] +
                   [("BBB", d, None if i == 4 else 10.0, None, None, None) for i, d in enumerate(QUARTERS)])
    latest = sp.trailing_capex(cat).set_index("ticker")
    assert latest.loc["AAA", "t4q_usd"] == pytest.approx((3 + 4 + 5 + 6) * 1e9)       # last four quarters
    assert np.isnan(latest.loc["BBB", "t4q_usd"]) and latest.loc["BBB", "quarters_reported"] == 3
    assert latest.loc["BBB", "reported_sum_usd"] == pytest.approx(30e9)
    assert latest.loc["BBB", "missing_quarters"] == "Q10"                     # the 5th BBB row (fiscal Q10)
    assert latest.loc["BBB", "last_complete_t4q_usd"] == pytest.approx(40e9)  # as of the 4th quarter
    tot = sp.trailing_total(latest.reset_index())
    assert tot["total_usd"] == pytest.approx(18e9) and tot["incomplete"] == ["BBB"]
    series = sp.trailing_total_series(sp.quarterly_capex(cat)).set_index("date")
    assert series.loc[pd.Timestamp("2024-10-30"), "total_usd"] == pytest.approx((1 + 2 + 3 + 4 + 40) * 1e9)
    assert np.isnan(series.loc[pd.Timestamp("2025-01-30"), "total_usd"])     # BBB's quarter is missing


def test_trailing_four_quarters_need_consecutive_quarters():
    dates = ["2024-01-30", "2024-04-30", "2024-10-30", "2025-01-30"]          # a skipped quarter (184 days)
    latest = sp.trailing_capex(_catalog([("AAA", d, 1.0, None, None, None) for d in dates]))
    assert np.isnan(latest["t4q_usd"].iloc[0]) and latest["quarters_reported"].iloc[0] == 2


def test_guidance_table_picks_latest_release_with_a_figure_per_company():
    cat = _catalog([("AAA", "2025-01-30", 1.0, "2025 capex $10-12B", 10, 12),
                    ("AAA", "2025-04-30", 1.0, "2025 capex raised to about $14B", 14, 14),
                    ("AAA", "2025-07-30", 1.0, "2025 capex growth to slow (qualitative)", None, None),
                    ("BBB", "2025-02-10", 1.0, "FY2026 capex $20-30B", 20, 30),
                    ("CCC", "2025-02-11", 1.0, None, None, None)])
    g = sp.latest_guidance(cat).set_index("ticker")
    assert g.loc["AAA", "release"] == pd.Timestamp("2025-04-30") and g.loc["AAA", "mid_usd"] == pytest.approx(14e9)
    assert g.loc["AAA", "later_statement"] == "2025-07-30: 2025 capex growth to slow (qualitative)"
    assert g.loc["BBB", "period"] == "FY2026" and g.loc["BBB", "mid_usd"] == pytest.approx(25e9)
    assert np.isnan(g.loc["CCC", "mid_usd"]) and g.loc["CCC", "period"] == ""
    tot = sp.guidance_total(g.reset_index())
    assert tot["period"] == "2025" and tot["total_usd"] == pytest.approx(14e9)
    assert tot["other"] == [("BBB", "FY2026", 25e9)] and tot["none"] == ["CCC"]


# ------------------------------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("kwargs, name", [
    ({"measure": "consensus"}, "measure"), ({"n_boot": -1}, "n_boot"), ({"n_placebo": 1.5}, "n_placebo"),
    ({"n_boot": True}, "n_boot"), ({"windows": [[2, 1]]}, "windows"), ({"windows": "0,1"}, "windows"),
    ({"headline_window": "[0,+9]"}, "headline_window"), ({"headline_group": "ai_tokens"}, "headline_group"),
    ({"groups": "ai_token,nope"}, "groups"), ({"weights": "normal"}, "weights"), ({"alpha": 2}, "alpha"),
    ({"market": "NOPEX"}, "market"), ({"model": "factor"}, "model"), ({"companies": " , "}, "companies"),
    ({"estimation_window": (-10, 0)}, "estimation_window"), ({"include_inferred": "yes"}, "include_inferred"),
])
def test_params_errors_are_one_line_naming_the_parameter(kwargs, name):
    with pytest.raises(StudyError) as err:
        study.Params(**kwargs)
    assert name in str(err.value) and "\n" not in str(err.value)


def test_params_from_notebook_globals_ignore_other_names():
    p = study.params(n_boot=999, n_placebo=999, windows=[[0, 1], [0, 5]], out=object(), __name__="x")
    assert p.n_boot == 999 and p.windows == ((0, 1), (0, 5)) and p.headline_window == "[0,+5]"


# ------------------------------------------------------------------------------------------------- notes, not stderr
def test_captured_turns_warnings_and_log_records_into_notes(capsys):
    notes = study.Notes()
    with captured(notes, "load"):
        warnings.warn("a library warning", UserWarning)
        logging.getLogger("capflow.data.resolve").warning("live sources unreachable")
        logging.getLogger("capflow.eventstudy").warning("event_study: dropped 3 of 9 events")
        logging.getLogger("yfinance").error("['MSFT']: possibly delisted")
    reasons = [n.reason for n in notes]
    assert reasons[:2] == ["a library warning", "live sources unreachable"]  # engine drops are listed elsewhere
    assert len(reasons) == 3 and reasons[2].startswith("1 log lines of the live data sources (yfinance)")
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------------------------------------- synthetic run
def _synthetic_inputs(beta: float, seed: int) -> study.Inputs:
    """SYNTHETIC catalog (two companies) and daily returns (NVDA, bittensor, QQQ; equities NaN off-session) with a
    planted day-0 abnormal return ``beta * qoq surprise`` for every release."""
    dates = pd.bdate_range("2022-02-01", "2024-11-30", freq="32B")
    rng = np.random.default_rng(seed)
    cat = capex.finalize_catalog(pd.DataFrame({
        "company": "Synthetic", "ticker": np.array(["MSFT", "META"])[np.arange(dates.size) % 2],
        "announce_date": dates.strftime("%Y-%m-%d"), "timing": "after close", "fiscal_period": "q",
        "capex_usd": np.exp(rng.normal(0, 0.3, dates.size)) * 1e10, "capex_definition": "synthetic",
        "guidance_text": None, "guidance_low_usd": np.nan, "guidance_high_usd": np.nan, "source": "SYNTHETIC"}))
    surprise = capex.capex_surprise(cat, "qoq").set_axis(cat["announcement_id"])
    ev = capex.study_events(cat, ["ai_equity", "ai_token"])
    ev = ev[ev["asset"].isin(["NVDA", "bittensor"])]
    idx = pd.date_range("2021-01-01", "2024-12-31", freq="D", tz="UTC")
    rets = pd.DataFrame(rng.normal(0, 0.01, (idx.size, 3)), index=idx, columns=["NVDA", "bittensor", "QQQ"])
    rets.loc[~idx.isin(capex.session_opens("XNYS", "2021-01-01").index.tz_localize("UTC")), ["NVDA", "QQQ"]] = np.nan
    bump = ev.assign(b=beta * surprise.reindex(ev["announcement_id"]).to_numpy()).dropna(subset=["b"])
    for asset, rows in bump.groupby("asset"):
        rets.loc[pd.DatetimeIndex(rows["timestamp"]), asset] += rows["b"].to_numpy()
    return study.Inputs(cat, cat, rets[["NVDA", "bittensor", "QQQ"]])


def test_planted_effect_recovered_through_run_on_synthetic_returns():
    p = study.Params(companies="MSFT,META", groups="ai_equity,ai_token", windows=((0, 0), (0, 1)), measure="qoq",
                     headline_window="[0,0]", n_boot=199, n_placebo=30, min_events=10)
    inputs = _synthetic_inputs(beta=0.05, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                        # nothing may warn
        result = study.run(inputs, p)
    row = result.headline_cell()
    assert row["lo_cluster"] < 0.05 < row["hi_cluster"] and row["p_cluster"] < 0.01
    assert row["lo_boot"] < 0.05 < row["hi_boot"] and row["p_boot"] < 0.01
    assert row["p_placebo"] == pytest.approx(1 / 31)                          # no placebo draw is as large
    assert "significant at 5% under all 3 tests" in result.headline()[2]


# ------------------------------------------------------------------------------------------------- the snapshot
@pytest.fixture(scope="module")
def snapshot_result(snapshot_root):
    p = study.Params(n_boot=49, n_placebo=19)
    return study.run(study.load_inputs(p), p)


def test_study_runs_end_to_end_on_the_snapshot(snapshot_result, snapshot_root, tmp_path):
    r = snapshot_result
    assert 3 <= len(r.headline()) <= 6 and 2 <= len(r.key_numbers()) <= 4
    tables = r.tables()
    assert {"capex_t4q", "capex_guidance", "coefficients", "caar", "leave_one_out"} <= set(tables)
    for t in tables.values():
        assert isinstance(t, Table) and t.formats and set(t.formats) == set(t.frame.columns)
        assert "Unnamed" not in "".join(map(str, t.frame.columns)) and len(t.to_html()) > 0
    figs = r.figures()
    assert list(figs) == ["spend", "reactions", "coefficients", "headline_cell"]
    assert all(f.axes and f.axes[0].get_title(loc="left") for f in figs.values())
    assert r.method() and r.notes.count("dropped", "event study") > 0
    written = {p.name for p in r.save(tmp_path)}
    assert {"summary.json", "capex_t4q.csv", "notes.csv", "car_panel.csv"} <= written
    text = (tmp_path / "summary.json").read_text()
    summary = json.loads(text)
    assert summary["data_as_of"] and summary["params"]["n_boot"] == 49
    assert str(snapshot_root) not in text and str(snapshot_root) not in " ".join(r.notes.lines())


def test_headline_numbers_are_formatted_by_fmt(snapshot_result):
    r = snapshot_result
    row = r.headline_cell()
    text = " ".join(r.headline())
    tot = sp.trailing_total(r.spend["latest"])
    for s in (fmt.pct(row["coef"], 2), fmt.pval(row["p_cluster"]), fmt.pval(row["p_boot"]),
              fmt.pval(row["p_placebo"]), fmt.usd(tot["total_usd"]), fmt.date(tot["as_of"])):
        assert s in text
    assert "AMZN is left out" in text                                         # two quarters without a figure


def test_unknown_company_is_a_one_line_study_error(snapshot_root):
    with pytest.raises(StudyError) as err:
        study.load_inputs(study.Params(companies="MSFT,NOPE"))
    assert "companies" in str(err.value) and "\n" not in str(err.value)
