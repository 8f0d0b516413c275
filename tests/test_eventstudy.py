"""capflow.eventstudy: contract, planted effects, calendars/anchors, drop rules and bad input (SYNTHETIC data)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from capflow.eventstudy import TESTS, EventStudyError, EventStudyResult, event_study

SMALL = dict(estimation_window=(-30, -6), event_window=(-5, 5), car_windows=((0, 0), (0, 1), (-1, 1), (-5, 5)),
             min_estimation=20, n_boot=200)


def _market_panel(n: int = 120, noise: float = 0.0, seed: int = 0, assets=("A", "B", "C")):
    """Synthetic: r = alpha + beta * m (+ noise); m random. Noise 0 makes the market model exact."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC")
    m = pd.Series(rng.normal(0, 0.01, n), index=idx, name="MKT")
    r = {a: 0.0005 * i + (0.8 + 0.2 * i) * m.to_numpy() + noise * rng.normal(size=n) for i, a in enumerate(assets)}
    return pd.DataFrame(r, index=idx), m


def _events(returns: pd.DataFrame, rows, assets, **extra) -> pd.DataFrame:
    return pd.DataFrame({"event_id": [f"ev{i}" for i in range(len(rows))], "asset": list(assets),
                         "timestamp": returns.index[list(rows)], **extra})


# ------------------------------------------------------------------------------------------------ contract
def test_contract_columns_and_types():
    returns, m = _market_panel(noise=0.01)
    ev = _events(returns, [60, 60, 90], "ABC", group=["g1", "g1", "g2"])
    res = event_study(returns, ev, market=m, **SMALL)
    assert isinstance(res, EventStudyResult)
    assert list(res.ar.columns) == ["event_id", "asset", "group", "rel", "timestamp", "ret", "normal", "ar", "sar"]
    assert list(res.car.columns) == ["event_id", "asset", "group", "window", "start", "end", "car", "car_se",
                                     "scar", "t", "p", "bhar"]
    assert list(res.aar.columns) == ["group", "rel", "aar", "caar", "n"]
    assert list(res.caar.columns) == ["group", "window", "caar", "n", "boot_lo", "boot_hi"]
    assert list(res.stats.columns) == ["group", "window", "test", "statistic", "p_value", "n"]
    assert list(res.dropped.columns) == ["event_id", "asset", "reason"]
    assert set(res.stats.test) == set(TESTS)
    assert set(res.caar.group) == {"all", "g1", "g2"}
    assert list(res.car.window.unique()) == ["[0,0]", "[0,+1]", "[-1,+1]", "[-5,+5]"]
    assert res.params["model"] == "market" and res.params["seed"] == 0
    summary = res.summary()
    assert {"caar", "kp", "kp_p", "bmp", "corrado_p"} <= set(summary.columns)
    assert len(summary) == 3 * 4
    assert res.ar.timestamp.dt.tz is not None


def test_planted_abnormal_return_recovered_exactly():
    returns, m = _market_panel(noise=0.0)
    returns.iloc[60, 0] += 0.01  # +1% abnormal return on day 0 of asset A
    returns.iloc[91, 1] += 0.02  # +2% on day +1 of asset B's event
    ev = _events(returns, [60, 90], "AB")
    res = event_study(returns, ev, market=m, **SMALL)
    car = res.car.set_index(["event_id", "window"])["car"]
    assert car[("ev0", "[0,0]")] == pytest.approx(0.01, abs=1e-12)
    assert car[("ev0", "[-5,+5]")] == pytest.approx(0.01, abs=1e-12)
    assert car[("ev1", "[0,0]")] == pytest.approx(0.0, abs=1e-12)
    assert car[("ev1", "[0,+1]")] == pytest.approx(0.02, abs=1e-12)
    ar = res.ar.set_index(["event_id", "rel"])["ar"]
    assert ar[("ev0", 0)] == pytest.approx(0.01, abs=1e-12)
    assert ar.drop(("ev0", 0)).loc["ev0"].abs().max() < 1e-12
    caar = res.caar.set_index(["group", "window"])["caar"]
    assert caar[("all", "[0,+1]")] == pytest.approx(0.015, abs=1e-12)
    aar = res.aar.set_index("rel")
    assert aar.loc[0, "aar"] == pytest.approx(0.005, abs=1e-12)
    assert aar.loc[5, "caar"] == pytest.approx(0.015, abs=1e-12)


def test_planted_effect_each_model():
    returns, m = _market_panel(noise=0.0)
    returns["A"] = 0.001  # constant mean model is exact for a constant return
    returns.iloc[60, 0] += 0.01
    ev = _events(returns, [60], "A")
    for model in ("constant_mean", "market", "factor"):
        res = event_study(returns, ev, market=m, factors=m.to_frame(), model=model, **SMALL)
        assert res.car.loc[res.car.window == "[0,0]", "car"].iloc[0] == pytest.approx(0.01, abs=1e-12), model
    returns2, m2 = _market_panel(noise=0.0)
    returns2["A"] = m2.to_numpy()
    returns2.iloc[60, 0] += 0.01
    res = event_study(returns2, ev, market=m2, model="market_adjusted", **SMALL)
    assert res.car.loc[res.car.window == "[0,0]", "car"].iloc[0] == pytest.approx(0.01, abs=1e-12)


def test_bhar_compounds():
    returns, m = _market_panel(noise=0.0)
    returns["A"] = 0.0
    returns.iloc[60:62, 0] = 0.10  # +10% on days 0 and +1, zero normal return
    res = event_study(returns, _events(returns, [60], "A"), model="constant_mean", **SMALL)
    row = res.car[res.car.window == "[0,+1]"].iloc[0]
    assert row["car"] == pytest.approx(0.20)
    assert row["bhar"] == pytest.approx(1.1 * 1.1 - 1)


# ------------------------------------------------------------------------------------------- calendars
def _weekday_panel():
    """Synthetic: a 24/7 asset 'CRY' and a weekday-only 'EQ' (NaN on weekends) on one daily index."""
    rng = np.random.default_rng(3)
    idx = pd.date_range("2024-01-01", periods=200, freq="D", tz="UTC")
    cry = rng.normal(0, 0.02, 200)
    eq = np.where(idx.dayofweek < 5, rng.normal(0, 0.01, 200), np.nan)
    return pd.DataFrame({"CRY": cry, "EQ": eq}, index=idx)


def test_saturday_event_anchors_monday_for_equity_saturday_for_crypto():
    returns = _weekday_panel()
    sat = pd.Timestamp("2024-06-01", tz="UTC")  # a Saturday
    assert sat.dayofweek == 5
    ev = pd.DataFrame({"event_id": [1, 2], "asset": ["CRY", "EQ"], "timestamp": [sat, sat]})
    res = event_study(returns, ev, model="constant_mean", **SMALL)
    day0 = res.ar[res.ar.rel == 0].set_index("asset")["timestamp"]
    assert day0["CRY"] == sat
    assert day0["EQ"] == pd.Timestamp("2024-06-03", tz="UTC")  # Monday
    # the equity's own trading periods: day -1 is the Friday, day +5 the next Monday
    eq = res.ar[res.ar.asset == "EQ"].set_index("rel")["timestamp"]
    assert eq[-1] == pd.Timestamp("2024-05-31", tz="UTC")
    assert eq[5] == pd.Timestamp("2024-06-10", tz="UTC")
    # estimation window counted in trading periods: 25 weekday observations, not calendar days
    assert res.car.loc[res.car.asset == "EQ", "start"].iloc[-1] == pd.Timestamp("2024-05-27", tz="UTC")


def test_intraday_timestamp_on_daily_index_is_that_date_and_naive_is_utc():
    returns = _weekday_panel()
    ev = pd.DataFrame({"event_id": [1, 2], "asset": ["CRY", "CRY"],
                       "timestamp": ["2024-05-10 14:30", "2024-07-10 00:00"]})
    res = event_study(returns, ev, model="constant_mean", **SMALL)
    day0 = res.ar[res.ar.rel == 0].set_index("event_id")["timestamp"]
    assert day0[1] == pd.Timestamp("2024-05-10", tz="UTC")
    assert day0[2] == pd.Timestamp("2024-07-10", tz="UTC")


def test_hourly_index_bar_containing_event():
    rng = np.random.default_rng(5)
    idx = pd.date_range("2025-10-01", periods=300, freq="h", tz="UTC")
    returns = pd.DataFrame({"X": rng.normal(0, 0.01, 300)}, index=idx)
    ev = pd.DataFrame({"event_id": ["h"], "asset": ["X"],
                       "timestamp": [pd.Timestamp("2025-10-08 13:30", tz="Europe/Paris")]})  # 11:30 UTC
    res = event_study(returns, ev, model="constant_mean", **SMALL)
    assert res.ar.loc[res.ar.rel == 0, "timestamp"].iloc[0] == pd.Timestamp("2025-10-08 11:00", tz="UTC")


def test_several_events_one_asset_keyed_by_event_id():
    returns, m = _market_panel(n=250, noise=0.0)
    returns.iloc[[60, 150, 220], 0] += [0.01, -0.02, 0.03]
    ev = _events(returns, [60, 150, 220, 150], "AAAB")
    res = event_study(returns, ev, market=m, **SMALL)
    c = res.car[res.car.window == "[0,0]"].set_index("event_id")["car"]
    np.testing.assert_allclose(c[["ev0", "ev1", "ev2", "ev3"]], [0.01, -0.02, 0.03, 0.0], atol=1e-12)
    assert res.dropped.empty


# ------------------------------------------------------------------------------------------- drop rules
def test_drop_rules_each_reason_counted(caplog):
    returns, m = _market_panel(n=200, noise=0.01, assets=("A", "B", "C", "D", "E", "F"))
    returns.loc[returns.index[:80], "C"] = np.nan        # C starts late: too few estimation obs for day 90
    m2 = pd.DataFrame({"MKT": m, "OTHER": m})
    m2.iloc[100, 1] = np.nan                              # OTHER missing inside F's CAR span
    ev = pd.DataFrame({
        "event_id": ["ok", "nope", "few", "late", "early", "nobench", "gapbench", "ok2", "few2"],
        "asset": ["A", "ZZZ", "C", "D", "E", "B", "F", "A", "B"],
        "timestamp": returns.index[[150, 150, 90, 197, 3, 150, 100, 25, 24]],
        "benchmark": ["MKT", "MKT", "MKT", "MKT", "MKT", "NOPE", "OTHER", "MKT", "MKT"]})
    with caplog.at_level(logging.WARNING, logger="capflow.eventstudy"):
        res = event_study(returns, ev, market=m2, **{**SMALL, "min_estimation": 20})
    reasons = res.dropped.set_index("event_id")["reason"].to_dict()
    assert reasons == {"nope": "asset not in returns", "few": "too few estimation obs",
                       "late": "missing event-window returns", "early": "missing event-window returns",
                       "nobench": "no benchmark returns", "gapbench": "no benchmark returns",
                       "few2": "too few estimation obs"}  # 19 obs; ok2 has exactly min_estimation = 20
    assert set(res.car.event_id) == {"ok", "ok2"}
    assert "dropped 7 of 9 events" in caplog.text and "too few estimation obs: 2" in caplog.text


@pytest.mark.parametrize("model", ["market", "market_adjusted"])
def test_asset_that_is_its_own_benchmark_is_dropped(model):
    returns, m = _market_panel(n=200, noise=0.01, assets=("A", "MKT"))
    returns["MKT"] = m                                     # the benchmark is also an asset of the panel
    ev = _events(returns, [150, 150], ["A", "MKT"], benchmark=["MKT", "MKT"])
    res = event_study(returns, ev, market=m.to_frame(), model=model, **SMALL)
    assert res.dropped.set_index("event_id")["reason"].to_dict() == {"ev1": "asset is its own benchmark"}
    assert set(res.car.event_id) == {"ev0"}
    assert res.stats.loc[res.stats["test"] == "patell", "statistic"].notna().all()  # one event: no cross-section


def test_event_window_beyond_car_span_keeps_event():
    returns, m = _market_panel(n=120, noise=0.01)
    ev = _events(returns, [117], "A")  # days +3.. +5 missing, but CAR windows stop at +2
    res = event_study(returns, ev, market=m, estimation_window=(-30, -6), event_window=(-5, 5),
                      car_windows=((0, 0), (-1, 2)), min_estimation=20, n_boot=0)
    assert res.dropped.empty
    assert res.ar.rel.max() == 2
    res2 = event_study(returns, ev, market=m, **SMALL)
    assert res2.dropped.reason.tolist() == ["missing event-window returns"]


def test_overlap_drop_and_keep():
    returns, m = _market_panel(n=200, noise=0.01)
    ev = _events(returns, [100, 120, 180], "AAA")  # ev1's estimation window [90, 114] holds ev0's window
    res = event_study(returns, ev, market=m, **SMALL)
    assert res.dropped.set_index("event_id")["reason"].to_dict() == {"ev1": "estimation overlaps event window"}
    res_keep = event_study(returns, ev, market=m, overlap="keep", **SMALL)
    assert res_keep.dropped.empty and set(res_keep.car.event_id) == {"ev0", "ev1", "ev2"}
    # the same dates on different assets never overlap
    res_other = event_study(returns, _events(returns, [100, 120], "AB"), market=m, **SMALL)
    assert res_other.dropped.empty


def test_missing_market_rows_excluded_from_estimation():
    returns, m = _market_panel(n=120, noise=0.0)
    m = m.copy()
    m.iloc[40:50] = np.nan  # 10 of the 25 estimation rows lose the benchmark
    returns.iloc[60, 0] += 0.01
    res = event_study(returns, _events(returns, [60], "A"), market=m, **{**SMALL, "min_estimation": 15})
    assert res.car.loc[res.car.window == "[0,0]", "car"].iloc[0] == pytest.approx(0.01, abs=1e-12)
    res2 = event_study(returns, _events(returns, [60], "A"), market=m, **{**SMALL, "min_estimation": 16})
    assert res2.dropped.reason.tolist() == ["too few estimation obs"]


def test_all_dropped_gives_empty_frames_not_crash():
    returns, m = _market_panel(n=120, noise=0.01)
    res = event_study(returns, _events(returns, [5], "A"), market=m, **SMALL)
    assert res.car.empty and res.ar.empty and len(res.dropped) == 1
    assert (res.caar.n == 0).all()


def test_bootstrap_is_seeded_and_scales_with_noise():
    returns, m = _market_panel(n=400, noise=0.02, assets=tuple("ABCDEFGH"))
    ev = _events(returns, [300] * 8, "ABCDEFGH")
    kw = {**SMALL, "estimation_window": (-250, -11), "event_window": (-10, 10), "min_estimation": 100,
          "n_boot": 2000}
    r1 = event_study(returns, ev, market=m, seed=1, **kw).caar
    r2 = event_study(returns, ev, market=m, seed=1, **kw).caar
    r3 = event_study(returns, ev, market=m, seed=2, **kw).caar
    pd.testing.assert_frame_equal(r1, r2)
    assert not np.allclose(r1.boot_lo, r3.boot_lo)
    # iid noise: the CAAR noise sd is 0.02 / sqrt(8) * sqrt(L); a 95% CI is about +-1.96 of that
    width = (r1.boot_hi - r1.boot_lo).to_numpy()
    lengths = np.array([1, 2, 3, 11])
    expected = 2 * 1.96 * 0.02 / np.sqrt(8) * np.sqrt(lengths)
    np.testing.assert_allclose(width, expected, rtol=0.2)
    assert ((r1.boot_lo < r1.caar) & (r1.caar < r1.boot_hi)).all()


# ------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(model="capm"), r"model='capm' is unknown"),
    (dict(estimation_window=(-20, 0)), r"estimation_window=\(-20, 0\) overlaps event_window"),
    (dict(car_windows=((0, 20),)), r"car_windows .* outside event_window"),
    (dict(estimation_window=(-5, -30)), r"starts after it ends"),
    (dict(min_estimation=500), r"min_estimation=500 must lie in"),
    (dict(overlap="maybe"), r"overlap='maybe' is unknown"),
    (dict(alpha=1.5), r"alpha=1.5"),
    (dict(market=None), r"market is required for model='market'"),
    (dict(model="factor"), r"factors is required"),
])
def test_bad_parameters_one_line_errors(kwargs, match):
    returns, m = _market_panel()
    args = {**SMALL, "market": m, **kwargs}
    with pytest.raises(EventStudyError, match=match) as info:
        event_study(returns, _events(returns, [60], "A"), **args)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_events_one_line_errors():
    returns, m = _market_panel()
    with pytest.raises(EventStudyError, match=r"events is missing columns \['timestamp'\]"):
        event_study(returns, pd.DataFrame({"event_id": [1], "asset": ["A"]}), market=m)
    with pytest.raises(EventStudyError, match="events is empty"):
        event_study(returns, pd.DataFrame(columns=["event_id", "asset", "timestamp"]), market=m)
    with pytest.raises(EventStudyError, match="event_id must be unique"):
        event_study(returns, _events(returns, [60, 70], "AB").assign(event_id=[1, 1]), market=m)
    with pytest.raises(EventStudyError, match="benchmark is not set and market has 2 columns"):
        event_study(returns, _events(returns, [60], "A"), market=pd.DataFrame({"x": m, "y": m}))
    with pytest.raises(EventStudyError, match="returns must be indexed by timestamps"):
        event_study(returns.reset_index(drop=True), _events(returns, [60], "A"), market=m)


def test_non_trading_day_events_are_counted():
    returns = _weekday_panel()
    sat, mon = pd.Timestamp("2024-06-01", tz="UTC"), pd.Timestamp("2024-06-03", tz="UTC")
    ev = pd.DataFrame({"event_id": [1, 2, 3], "asset": ["CRY", "EQ", "EQ"], "timestamp": [sat, sat, mon]})
    res = event_study(returns, ev, model="constant_mean", overlap="keep", **SMALL)
    assert res.params["n_anchored_later"] == 1  # only the equity's Saturday event moved (to Monday)
