"""capflow.cascade: known answers on synthetic data (planted crashes, hand-built hourly paths), catalog merge,
and truths of the real snapshot (skipped without it). All synthetic series here are test fixtures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capflow import cascade

UTC = "UTC"


def _calm_daily(n: int = 200, seed: int = 1, assets=("calm_a", "calm_b")) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-01-01", periods=n, freq="D", tz=UTC)
    rets = rng.normal(0, 0.01, size=(n, len(assets)))
    prices = pd.DataFrame(100 * np.cumprod(1 + rets, axis=0), index=idx, columns=list(assets))
    vols = pd.DataFrame(np.exp(rng.normal(10, 0.2, size=(n, len(assets)))), index=idx, columns=list(assets))
    return prices, vols


# ------------------------------------------------------------------------------------------------- detection
def test_planted_crash_found_on_exact_day_and_nowhere_else():
    prices, vols = _calm_daily()
    day = prices.index[150]
    prices.loc[day:, "calm_a"] *= 0.80  # planted: -20% on the day
    vols.loc[day, "calm_a"] *= 6.0      # and a 6x volume spike
    found = cascade.detect_cascades(prices, vols, drawdown_threshold=-0.10, volume_z=2.0)
    assert list(zip(found["date"], found["asset"])) == [(day, "calm_a")]
    assert found["drawdown_24h"].iloc[0] == pytest.approx(prices["calm_a"].iloc[150] / prices["calm_a"].iloc[149] - 1)


def test_calm_series_has_no_candidates_and_both_conditions_are_required():
    prices, vols = _calm_daily(seed=7)
    assert cascade.detect_cascades(prices, vols).empty
    drop_only, spike_only = prices.copy(), vols.copy()
    drop_only.loc[drop_only.index[120]:, "calm_a"] *= 0.8   # big fall, normal volume
    spike_only.loc[spike_only.index[90], "calm_b"] *= 8.0    # volume spike, no fall
    assert cascade.detect_cascades(drop_only, vols).empty
    assert cascade.detect_cascades(prices, spike_only).empty


def test_hourly_rolling_24h_drawdown_spans_midnight():
    idx = pd.date_range("2024-03-01", periods=24 * 60, freq="h", tz=UTC)
    rng = np.random.default_rng(3)
    close = pd.Series(100 * np.cumprod(1 + rng.normal(0, 0.001, len(idx))), index=idx)
    crash = (idx >= "2024-04-10 20:00") & (idx < "2024-04-11 04:00")  # 8 hourly falls of 2% across midnight
    close = close * np.cumprod(np.where(crash, 0.98, 1.0))
    vol = pd.Series(np.exp(rng.normal(5, 0.2, len(idx))), index=idx) * np.where(crash, 10.0, 1.0)
    found = cascade.detect_cascades(close.to_frame("x"), vol.to_frame("x"), drawdown_threshold=-0.12, volume_z=2.0)
    assert list(found["date"]) == [pd.Timestamp("2024-04-11", tz=UTC)]
    assert found["drawdown_24h"].iloc[0] == pytest.approx(0.98 ** 8 - 1, abs=0.01)
    assert cascade.detect_cascades(close.to_frame("x"), vol.to_frame("x"), drawdown_threshold=-0.20).empty


@pytest.mark.parametrize("kw", [{"drawdown_threshold": 0.1}, {"drawdown_threshold": -1.5}, {"volume_z": 0}])
def test_detect_rejects_bad_thresholds(kw):
    prices, vols = _calm_daily(n=40)
    with pytest.raises(cascade.CascadeError, match=next(iter(kw))):
        cascade.detect_cascades(prices, vols, **kw)


# --------------------------------------------------------------------------------------------------- anatomy
def _hand_hourly() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two assets, 36 hours from 2026-01-01 00:00 UTC; the event starts at 12:00."""
    idx = pd.date_range("2026-01-01", periods=36, freq="h", tz=UTC)
    a = [100.0] * 10 + [102, 100, 98, 95, 90, 85, 88, 92, 93.5] + [94.0] * 17
    b = [50.0] * 14 + [49, 47, 45, 43, 42.5] + [42.5] * 17       # falls later, never wins back half
    close = pd.DataFrame({"a": a, "b": b}, index=idx)
    high, low = close + 0.5, close - 0.5
    high.loc[idx[10], "a"], low.loc[idx[15], "a"] = 103.0, 84.0
    return high, low, close


def test_anatomy_hand_computed_depth_timing_recovery():
    high, low, close = _hand_hourly()
    t0 = "2026-01-01 12:00"
    an = cascade.crash_anatomy(high, low, close, t0, lookback="24h", horizon="23h", cross_threshold=-0.05,
                               reference="a", max_lag=2)
    ta, tb = an.table.loc["a"], an.table.loc["b"]
    assert ta["peak"] == 103.0 and ta["peak_time"] == pd.Timestamp("2026-01-01 10:00", tz=UTC)
    assert ta["trough"] == 84.0 and ta["trough_time"] == pd.Timestamp("2026-01-01 15:00", tz=UTC)
    assert ta["depth"] == pytest.approx(84 / 103 - 1)
    assert ta["hours_peak_to_trough"] == 5 and ta["hours_event_to_trough"] == 3
    assert ta["recovery_level"] == pytest.approx(84 + 0.5 * (103 - 84))          # 93.5
    assert ta["hours_to_recover"] == 3                                           # close 93.5 at 18:00
    assert ta["pre_level"] == 100 and ta["hours_to_cross"] == 1                  # low 94.5 <= 95 at 13:00
    assert tb["hours_to_cross"] == 3 and tb["rank_cross"] == 2                   # low 44.5 <= 47.5 at 15:00
    assert tb["depth"] == pytest.approx(42.0 / 50.5 - 1)
    assert np.isnan(tb["hours_to_recover"]) and "not recovered" in tb["recovery_note"]
    assert any(n.startswith("b: ") or "not recovered" in n for n in an.notes)


def test_anatomy_reports_missing_assets_without_inventing():
    high, low, close = _hand_hourly()
    an = cascade.crash_anatomy(high, low, close, "2026-01-01 12:00", reference="a", missing=["internet-computer"])
    row = an.table.loc["internet-computer"]
    assert row["status"].startswith("missing") and row[["depth", "trough", "hours_to_recover"]].isna().all()
    assert any("ICP" in n and "no intraday data" in n for n in an.notes)


@pytest.mark.parametrize("shift, best, who", [(2, 2, "reference"), (-2, -2, "asset")])
def test_lead_lag_recovers_a_two_hour_lead(shift, best, who):
    rng = np.random.default_rng(11)
    idx = pd.date_range("2025-01-01", periods=400, freq="h", tz=UTC)
    ref = pd.Series(rng.normal(0, 0.01, len(idx)), index=idx)
    follower = ref.shift(shift) + rng.normal(0, 0.003, len(idx))  # shift>0: reference moves first
    rets = pd.DataFrame({"bitcoin": ref, "x": follower})
    ll = cascade.lead_lag(rets, "bitcoin", max_lag=4)
    assert set(ll["lag"]) == set(range(-4, 5))
    summ = cascade.lead_lag_summary(ll).loc["x"]
    assert summ["best_lag"] == best and summ["who_first"] == who
    assert summ["corr_best"] > 0.9 and abs(summ["corr_0"]) < 0.2


# --------------------------------------------------------------------------------------------------- catalog
def _cat(rows):
    df = pd.DataFrame(rows, columns=list(cascade.CATALOG_COLUMNS))
    df["date"] = pd.to_datetime(df["date"], utc=True)
    return df


def test_merge_catalogs_dedupes_keeps_sources_and_flags_conflicts():
    proj = _cat([("2025-10-10", "p cascade", 19.2e9, -14.5, "https://a.example/x"),
                 ("2026-02-05", "p black thursday", 2.12e9, -15.0, "https://b.example/y")])
    snap = _cat([("2025-10-10", "s cascade", 19.2e9, -14.5, "https://a.example/x"),
                 ("2026-02-05", "s black thursday", 2.6e9, -15.0, "https://c.example/z"),
                 ("2024-08-05", "s yen", 1.08e9, -15.1, "https://d.example/w")])
    m = cascade.merge_catalogs(proj, snap).set_index(pd.Index(["2024-08-05", "2025-10-10", "2026-02-05"]))
    assert len(m) == 3 and m.index.is_unique
    assert m.loc["2024-08-05", "origin"] == "snapshot" and m.loc["2024-08-05", "source"] == "https://d.example/w"
    assert m.loc["2025-10-10", "origin"] == "project+snapshot" and not m.loc["2025-10-10", "conflict"]
    assert m.loc["2025-10-10", "source"] == "https://a.example/x"
    row = m.loc["2026-02-05"]
    assert row["conflict"] and "liquidations_usd" in row["conflict_detail"] and "btc_move" not in row["conflict_detail"]
    assert "https://b.example/y" in row["source"] and "https://c.example/z" in row["source"]
    assert row["liquidations_usd"] == 2.12e9 and row["description"] == "p black thursday"


def test_read_catalog_rejects_rows_without_url(tmp_path):
    p = tmp_path / "cat.csv"
    p.write_text("date,description,liquidations_usd,btc_move_pct,source\n"
                 "2025-01-01,ok,1,2,https://x.example\n2025-01-02,bad,1,2,a newspaper\n")
    with pytest.raises(cascade.CascadeError, match="2025-01-02 has no source URL"):
        cascade.read_catalog(p)


def test_project_catalog_every_row_sourced():
    cat = cascade.read_catalog()
    assert len(cat) >= 11 and cat["source"].str.contains("https://").all()
    assert pd.Timestamp("2025-10-10", tz=UTC) in set(cat["date"])


def test_caar_path_bands_contain_mean_and_are_seeded():
    rng = np.random.default_rng(0)
    ar = pd.DataFrame({"event_id": np.repeat(np.arange(20), 5), "group": "g", "rel": np.tile(np.arange(-2, 3), 20),
                       "ar": rng.normal(0, 0.01, 100)})
    ar.loc[ar["rel"] == 0, "ar"] -= 0.05  # planted -5% on day 0
    b1, b2 = cascade.caar_path_bands(ar, n_boot=300, seed=4), cascade.caar_path_bands(ar, n_boot=300, seed=4)
    pd.testing.assert_frame_equal(b1, b2)
    assert (b1["lo"] <= b1["caar"]).all() and (b1["caar"] <= b1["hi"]).all()
    at0 = b1.set_index("rel").loc[0]
    assert at0["hi"] < -0.03 and at0["n"] == 20


# -------------------------------------------------------------------------------------------------- snapshot
def test_snapshot_catalog_merge_has_black_thursday(snapshot_root):
    cat = cascade.load_catalog(snapshot=True, root=snapshot_root)
    row = cat.loc[cat["date"] == pd.Timestamp("2026-02-05", tz=UTC)]
    assert len(row) == 1 and row["source"].str.contains("https://").all()
    assert row["origin"].iloc[0] == "project+snapshot" and not row["conflict"].iloc[0]


def test_snapshot_derivatives_note_february_2026(snapshot_root):
    ctx = cascade.derivatives_context("2026-02-05", "BTC,ETH", window=3, root=snapshot_root)
    assert any("no liquidation totals for February 2026 in the snapshot" in n for n in ctx.notes)
    assert any("no open interest for February 2026" in n for n in ctx.notes)
    assert set(ctx.data["source"]) == {"bn_funding_btspacec"} and ctx.data["funding_rate"].notna().all()


def test_snapshot_detects_both_cascades_for_btc(snapshot_root, monkeypatch):
    monkeypatch.setenv("CAPFLOW_SNAPSHOT", str(snapshot_root))
    monkeypatch.setenv("CAPFLOW_SOURCES", "snapshot")
    inp = cascade.load_detection_inputs("bitcoin", "2025-06-01", "2026-03-01", freq="4h")
    found = cascade.detect_cascades(inp["prices"], inp["volumes"], drawdown_threshold=-0.10, volume_z=2.0,
                                    lows=inp["lows"], highs=inp["highs"])
    days = set(found["date"].dt.strftime("%Y-%m-%d"))
    assert {"2025-10-10", "2026-02-05"} <= days
    assert len(days) <= 8  # candidates stay rare: a handful of days in nine months


def test_plots_return_axes_with_one_line_per_asset():
    import matplotlib

    matplotlib.use("Agg")
    from capflow.plots import eventstudy as esplots

    high, low, close = _hand_hourly()  # synthetic fixture
    ax = esplots.plot_indexed_prices(close, "2026-01-01 12:00", groups={"a": "ai_token", "b": "crypto_major"})
    assert len([ln for ln in ax.get_lines() if len(ln.get_xdata()) > 2]) == 2
    assert esplots.indexed_to_100(close, "2026-01-01 12:00").loc["2026-01-01 11:00"].tolist() == [100.0, 100.0]
    an = cascade.crash_anatomy(high, low, close, "2026-01-01 12:00", reference="a")
    ax2 = esplots.plot_anatomy(an.paths, an.table)
    assert len(ax2.collections) == 2  # one trough marker per asset
    bands = pd.DataFrame({"group": "g", "rel": [0, 1], "caar": [0.0, -0.1], "lo": [-0.1, -0.2], "hi": [0.1, 0.0],
                          "n": 5})
    ax3 = esplots.plot_caar(bands)
    assert ax3.get_lines()[0].get_ydata().tolist() == [0.0, -10.0]


def test_price_panel_draws_a_bar_between_gaps_as_a_dot():
    """SYNTHETIC, shaped like AKT around 2026-02-05: bars on 01-27 and 02-05 only; no line can reach them, so
    each is drawn as a marker (a label with nothing beside it was what the page showed before)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from capflow.plots.cascade import plot_price_panel

    days = pd.date_range("2026-01-25", "2026-02-08", freq="D", tz="UTC")
    idx = pd.DataFrame({"a": 100.0, "b": np.nan}, index=days)
    idx.loc[pd.Timestamp("2026-01-27", tz="UTC"), "b"] = 100.0
    idx.loc[pd.Timestamp("2026-02-05", tz="UTC"), "b"] = 68.0
    fig, ax = plt.subplots()
    plot_price_panel(idx, pd.Timestamp("2026-02-05", tz="UTC"), ax, crypto={"a", "b"})
    dots = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert len(dots) == 1 and list(dots[0].get_ydata()) == [100.0, 68.0]
    plt.close(fig)
