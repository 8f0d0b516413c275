"""Data-quality report: known answers on SYNTHETIC series, then the real snapshot's known defects."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import tiny_snapshot

from capflow import assets
from capflow.data import quality


def utc(*days: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(list(days)).tz_localize("UTC")


def test_gap_runs_absorb_isolated_points():
    expected = pd.date_range("2024-01-01", "2024-01-20", freq="D", tz="UTC")
    observed = expected[[0, 1, 2, 8, 15, 16, 17, 18, 19]]  # one isolated point on day 9
    gaps = quality.gap_runs(expected, observed, island=3)
    assert len(gaps) == 1
    assert gaps.iloc[0]["start"] == pd.Timestamp("2024-01-04", tz="UTC")
    assert gaps.iloc[0]["end"] == pd.Timestamp("2024-01-15", tz="UTC")
    assert gaps.iloc[0]["missing"] == 11 and gaps.iloc[0]["periods"] == 12
    assert len(quality.gap_runs(expected, observed, island=1)) == 2


def test_stale_runs_and_outliers_known_answers():
    idx = pd.date_range("2024-01-01", periods=40, freq="D", tz="UTC")
    rng = np.random.default_rng(0)
    v = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 40)))
    v[10:16] = v[10]  # 6 equal values
    v[30:] *= 3.0  # a planted x3 jump on day 30
    s = pd.Series(v, idx)
    stale = quality.stale_runs(s, periods=5)
    assert len(stale) == 1 and stale.iloc[0]["periods"] == 6 and stale.iloc[0]["start"] == idx[10]
    jumps = quality.jump_outliers(s, k=10)
    assert list(jumps["date"]) == [idx[30]]
    assert jumps.iloc[0]["log_return"] == pytest.approx(np.log(3.0) + np.log(v[30] / 3 / v[29]))


def test_clock_switches():
    tags = pd.Series(["bn_spot_ry", "bn_spot_ry", "cg_snap_cw", "bn_spot_dj", "cg_snap_zeke"],
                     index=utc("2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"))
    sw = quality.clock_switches(tags)
    assert list(sw["date"].dt.day) == [3, 4, 5]
    assert list(sw["to_clock"]) == ["snapshot", "close", "snapshot"]


def test_equity_calendar_comes_from_exchange_calendars():
    nvda, hynix = assets.resolve("NVDA"), assets.resolve("000660.KS")
    exp = quality.expected_index(nvda, "1d", pd.Timestamp("2024-07-01", tz="UTC"), pd.Timestamp("2024-07-07", tz="UTC"))
    assert list(exp.day) == [1, 2, 3, 5]  # July 4th is an XNYS holiday, 6-7 a weekend
    kr = quality.expected_index(hynix, "1d", pd.Timestamp("2024-02-08", tz="UTC"), pd.Timestamp("2024-02-13", tz="UTC"))
    assert list(kr.day) == [8, 13]  # Seollal (Feb 9-12 2024) per XKRX


def test_report_counts_planted_defects(monkeypatch, tmp_path):
    rows = ["date,asset,price_usd,market_cap_usd,volume_usd,source"]
    days = pd.date_range("2024-01-01", "2024-01-31", freq="D")
    for i, d in enumerate(days):
        if 9 <= i <= 12:  # a 4-day gap
            continue
        price = 50.0 if 20 <= i <= 24 else 100.0 + i  # a 5-day stale run
        src = "cg_snap_cw" if i >= 27 else "bn_spot_ry"  # switch to intraday snapshots on day 27
        rows.append(f"{d.date()},bitcoin,{price},,,{src}")
    rows.append("2024-01-02,bitcoin,101,,,bn_spot_ry")  # a duplicated row
    tiny_snapshot.use(monkeypatch, tmp_path, crypto_daily="\n".join(rows) + "\n")
    rep = quality.quality_report("BTC", "2024-01-01", "2024-01-31", sources=["snapshot"], k=50)
    r = rep.iloc[0]
    assert (r["rows"], r["expected"], r["missing"], r["gaps"]) == (27, 31, 4, 1)
    assert r["coverage_pct"] == pytest.approx(100 * 27 / 31)
    assert (r["longest_gap_start"].day, r["longest_gap_end"].day, r["longest_gap_missing"]) == (10, 13, 4)
    assert (r["duplicates"], r["non_positive"], r["stale_runs"], r["longest_stale"]) == (1, 0, 1, 5)
    assert r["clock_switches"] == 1 and r["first_clock_switch"] == pd.Timestamp("2024-01-28", tz="UTC")
    issues = quality.quality_issues("BTC", "2024-01-01", "2024-01-31", sources=["snapshot"], k=50)
    assert sorted(issues["kind"]) == ["clock_switch", "gap", "outlier", "outlier", "stale"]
    assert r["outliers"] == 2 and r["outlier_dates"] == "2024-01-21, 2024-01-26"  # into and out of the 50s
    quality.require_quality("BTC", "2024-01-01", "2024-01-31", min_coverage=80, sources=["snapshot"])
    with pytest.raises(quality.DataQualityError, match=r"BTC covers 87.1% .*min_coverage=90%"):
        quality.require_quality("BTC", "2024-01-01", "2024-01-31", sources=["snapshot"])


def test_a_zero_price_is_refused_at_ingestion_naming_file_column_and_line(monkeypatch, tmp_path):
    from capflow.data.store import DataRequestError
    from capflow.data.snapshot import SnapshotError

    rows = "date,asset,price_usd,market_cap_usd,volume_usd,source\n2024-01-01,bitcoin,100,,,bn_spot_ry\n" \
           "2024-01-02,bitcoin,0.0,,,bn_spot_ry\n"
    tiny_snapshot.use(monkeypatch, tmp_path, crypto_daily=rows)
    with pytest.raises((SnapshotError, DataRequestError)) as err:
        quality.quality_report("BTC", "2024-01-01", "2024-01-02", sources=["snapshot"])
    msg = str(err.value)
    assert "crypto_daily.csv" in msg and "'price_usd'" in msg and "line 3 (asset bitcoin)" in msg and "\n" not in msg


def test_asset_without_data_is_a_zero_coverage_row(monkeypatch, tmp_path):
    tiny_snapshot.use(monkeypatch, tmp_path)
    rep = quality.quality_report("BTC,TAO", "2024-01-01", "2024-01-03", sources=["snapshot"])
    assert list(rep["rows"]) == [3, 2]
    rep = quality.quality_report("BTC,SOL", "2024-01-01", "2024-01-03", sources=["snapshot"])
    assert rep.iloc[1]["rows"] == 0 and "SOL" in rep.iloc[1]["sources"]


# ------------------------------------------------------------------------------------------ real snapshot


@pytest.fixture
def real(snapshot_root, offline_env, monkeypatch):
    monkeypatch.setenv("CAPFLOW_SOURCES", "snapshot")
    warnings.simplefilter("ignore")


def test_render_gap_2024_is_flagged(real):
    r = quality.quality_report("RENDER", "2023-01-01", "2026-07-24").iloc[0]
    assert r["longest_gap_start"] <= pd.Timestamp("2024-01-02", tz="UTC")
    assert r["longest_gap_end"] == pd.Timestamp("2024-07-25", tz="UTC")
    assert r["longest_gap_missing"] > 150


def test_icp_switch_from_closes_to_snapshots_in_2026(real):
    r = quality.quality_report("ICP", "2023-01-01", "2026-07-24").iloc[0]
    assert r["first_clock_switch"].year == 2026 and r["clock_switches"] >= 1
    issues = quality.quality_issues("ICP", "2025-12-01", "2026-02-01")
    sw = issues[issues["kind"] == "clock_switch"]
    assert len(sw) == 1 and "(close) -> cg_snap" in sw.iloc[0]["detail"]


def test_equity_report_uses_sessions(real):
    r = quality.quality_report("NVDA", "2024-01-01", "2024-12-31").iloc[0]
    assert r["expected"] == 252 and r["off_calendar"] == 0  # NYSE had 252 sessions in 2024
