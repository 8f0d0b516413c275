"""Engine paths of capflow.eventstudy added for speed and memory must not change a number (SYNTHETIC data).

* the calendar flags assets by their column sums: a column whose finite values overflow its sum is still
  fully traded, a column with +-inf is not;
* the one-pass gather of unbroken-run assets equals the general gather;
* group sums over rows ordered by group (segments) equal per-group sums, with many groups;
* GRANK's second pass recomputes the estimation residuals from the stored coefficients bit for bit;
* the per-event tables built on first access equal the numbers the statistics used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import capflow.eventstudy as es
from capflow import _es_engine
from capflow.eventstudy import event_study


def test_calendar_column_sum_overflow_and_inf():
    idx = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    r = pd.DataFrame({"BIG": [1e308, 1e308, -1e308, 0.0, 1.0, 2.0], "INF": [0.1, np.inf, 0.2, 0.3, 0.4, 0.5],
                      "NAN": [np.nan, 0.1, 0.2, np.nan, 0.3, 0.4], "OK": np.arange(6.0)}, index=idx)
    cal = es._Calendar.build(r, r.index)
    assert cal.counts.tolist() == [6, 5, 4, 6]
    assert cal.gapped.tolist() == [False, True, True, False]
    assert cal.start.tolist() == [0, 0, 1, 0]
    for j, col in enumerate(r.columns):
        want = np.flatnonzero(np.isfinite(r[col].to_numpy()))
        np.testing.assert_array_equal(cal.row_at(np.array([j]), np.arange(want.size)[None, :])[0], want)


def test_fast_gather_equals_general_gather():
    rng = np.random.default_rng(0)
    idx = pd.date_range("2024-01-01", periods=80, freq="D", tz="UTC")
    r = pd.DataFrame(rng.normal(size=(80, 3)), index=idx, columns=list("ABC"))
    r.iloc[:10, 1] = np.nan                                   # B lists late: still one unbroken run
    cal = es._Calendar.build(r, r.index)
    asset, k0, rels = np.array([0, 1, 2, 0]), np.array([40, 30, 50, 70]), np.arange(-20, 6)
    rows, ok = cal.gather(asset, k0, rels)                    # all inside: the one-pass path
    assert ok.all()
    np.testing.assert_array_equal(rows, cal.start[asset][:, None] + k0[:, None] + rels)
    rows2, ok2 = cal.gather(asset, k0, np.arange(-20, 12))    # event 4 runs past the data: general path
    assert not ok2[3].all() and ok2[:3].all()
    np.testing.assert_array_equal(rows2[:3, :26], rows[:3])


def test_segment_sums_with_many_groups_equal_direct_group_means():
    rng = np.random.default_rng(5)
    idx = pd.date_range("2024-01-01", periods=150, freq="D", tz="UTC")
    m = pd.Series(rng.normal(0, 0.01, 150), index=idx)
    r = pd.DataFrame(rng.normal(0, 0.02, (150, 60)) + m.to_numpy()[:, None], index=idx,
                     columns=[f"a{i}" for i in range(60)])
    ev = pd.DataFrame({"event_id": range(60), "asset": r.columns, "timestamp": idx[rng.integers(100, 140, 60)],
                       "group": [f"g{i % 17}" if i % 5 else "all" for i in range(60)]})
    res = event_study(r, ev, market=m, estimation_window=(-60, -6), event_window=(-5, 5),
                      car_windows=((0, 0), (-2, 2)), min_estimation=40, n_boot=0)
    direct = res.ar.groupby(["group", "rel"])["ar"].mean()
    aar = res.aar.set_index(["group", "rel"])["aar"]
    for (g, rel), v in direct.drop("all", level="group").items():   # "all" in res.ar = events of no group
        assert aar[(g, rel)] == pytest.approx(v, rel=1e-10, abs=1e-16)
    assert aar.loc["all"].to_numpy() == pytest.approx(res.ar.groupby("rel")["ar"].mean().to_numpy(), rel=1e-10)
    caar = res.caar.set_index(["group", "window"])["caar"]
    direct_car = res.car.groupby(["group", "window"])["car"].mean().drop("all", level="group")
    assert len(direct_car) == 17 * 2
    for key, v in direct_car.items():
        assert caar[key] == pytest.approx(v, rel=1e-12, abs=1e-16)


@pytest.mark.parametrize("model", ["market", "constant_mean", "market_adjusted", "dimson"])
def test_second_pass_residuals_are_bit_identical(model):
    rng = np.random.default_rng(2)
    idx = pd.date_range("2024-01-01", periods=200, freq="D", tz="UTC")
    m = pd.Series(rng.normal(0, 0.01, 200), index=idx)
    r = pd.DataFrame(rng.normal(0, 0.02, (200, 4)) + m.to_numpy()[:, None], index=idx, columns=list("ABCD"))
    r.iloc[:90, 3] = np.nan                                   # D: a partly missing estimation window (masked)
    r.loc[idx.dayofweek >= 5, "C"] = np.nan                   # C: weekdays only (gapped)
    ev = pd.DataFrame({"event_id": range(4), "asset": list("ABCD"), "timestamp": idx[[150, 160, 170, 130]]})
    cal = es._Calendar.build(r, es.utc_index(r, "returns"))
    design = es._design(model, ev, cal.index, m, None, None, 1 if model == "dimson" else 0)
    plan = es._make_plan(cal, ev, design, (-60, -6), (-5, 5), ((0, 0),), "drop", 20)
    sel = np.arange(4)
    first = _es_engine.fit_chunk(plan, sel, plan.rels)
    again = _es_engine.fit_chunk(plan, sel, plan.est_rels, beta=first.fitted["beta"])
    np.testing.assert_array_equal(again.fitted["resid"], first.fitted["resid"])
    assert not first.full


def test_tables_on_first_access_match_statistics_inputs():
    rng = np.random.default_rng(9)
    idx = pd.date_range("2024-01-01", periods=160, freq="D", tz="UTC")
    m = pd.Series(rng.normal(0, 0.01, 160), index=idx)
    r = pd.DataFrame(rng.normal(0, 0.02, (160, 8)) + m.to_numpy()[:, None], index=idx,
                     columns=[f"s{i}" for i in range(8)])
    ev = pd.DataFrame({"event_id": range(8), "asset": r.columns, "timestamp": idx[120]})
    res = event_study(r, ev, market=m, estimation_window=(-80, -6), event_window=(-5, 5),
                      car_windows=((0, 0), (-5, 5)), min_estimation=50, n_boot=0)
    car = res.car[res.car.window == "[-5,+5]"]["car"].to_numpy()
    assert res.caar.set_index(["group", "window"]).loc[("all", "[-5,+5]"), "caar"] == pytest.approx(car.mean(),
                                                                                                   rel=1e-12)
    t_cs = res.stats.set_index(["group", "window", "test"]).loc[("all", "[-5,+5]", "t_cs"), "statistic"]
    assert t_cs == pytest.approx(car.mean() / (car.std(ddof=1) / np.sqrt(8)), rel=1e-12)
    from_ar = res.ar.groupby("event_id")["ar"].sum().to_numpy()
    np.testing.assert_allclose(from_ar, car, rtol=1e-12, atol=1e-16)
    assert "EventStudyResult(model='market'" in repr(res)


@pytest.mark.parametrize("width", [13, 14])
def test_rank_sums_pattern_path_equals_per_cell_ranks(width):
    """Full tie-free rows add position patterns; masked and tied rows go cell by cell: same segment sums as
    summing rank_stats' per-cell arrays (U, signs about the median, estimation-only ranks / (T + 2))."""
    from capflow import _estats
    rng = np.random.default_rng(width)
    n, n_est = 40, width - 4
    values = rng.normal(size=(n, width))
    values[3, 5] = values[3, 2]                               # a tie
    values[7] = np.round(values[7], 0)                        # many ties
    values[20, 1] = values[20, 0] * (1 + 1e-12)               # distinct values, equal in float32: no tie
    mask = np.ones((n, width), bool)
    mask[10, :3] = False                                      # masked estimation cells
    mask[11, -1] = False                                      # a masked event cell
    seg = np.repeat([0, 1, 2], [15, 15, 10])
    t_obs = mask[:, :n_est].sum(axis=1).astype(float)
    got = _estats.rank_sums(values, mask, n_est, seg, 3, t_obs, u=True, g=True, a=True)
    rk = _estats.rank_stats(values, mask, n_est, est_rank=True, median=True)
    sign = np.where(mask, np.sign(values - rk["median"][:, None]), 0.0)
    want = {"u": rk["U"], "g": sign, "a": rk["est_rank"] / (t_obs + 2.0)[:, None]}
    for name, cells in want.items():
        for s in range(3):
            np.testing.assert_allclose(got[name][s], cells[seg == s].sum(axis=0), rtol=1e-12, atol=1e-13)


def test_result_pickles_with_its_tables():
    import pickle
    rng = np.random.default_rng(1)
    idx = pd.date_range("2024-01-01", periods=120, freq="D", tz="UTC")
    r = pd.DataFrame(rng.normal(0, 0.01, (120, 2)), index=idx, columns=list("AB"))
    ev = pd.DataFrame({"event_id": [1, 2], "asset": ["A", "B"], "timestamp": idx[[100, 100]]})
    res = event_study(r, ev, model="constant_mean", estimation_window=(-60, -6), event_window=(-5, 5),
                      car_windows=((0, 0),), min_estimation=40, n_boot=0)
    back = pickle.loads(pickle.dumps(res))
    pd.testing.assert_frame_equal(back.ar, res.ar)
    pd.testing.assert_frame_equal(back.car, res.car)
    pd.testing.assert_frame_equal(back.stats, res.stats)


def test_singular_regressors_dropped_closed_form_and_general():
    """A constant benchmark over the estimation window (market model: the closed-form 2x2 inverse) and two
    identical factors (the batched general inverse) are "degenerate estimation regressors"."""
    rng = np.random.default_rng(4)
    idx = pd.date_range("2024-01-01", periods=120, freq="D", tz="UTC")
    r = pd.DataFrame(rng.normal(0, 0.01, (120, 2)), index=idx, columns=["A", "B"])
    flat = pd.Series(0.001, index=idx, name="FLAT")
    live = pd.Series(rng.normal(0, 0.01, 120), index=idx, name="LIVE")
    ev = pd.DataFrame({"event_id": ["a", "b"], "asset": ["A", "B"], "timestamp": idx[[100, 100]],
                       "benchmark": ["FLAT", "LIVE"]})
    kw = dict(estimation_window=(-60, -6), event_window=(-5, 5), car_windows=((0, 0),), min_estimation=40, n_boot=0)
    res = event_study(r, ev, market=pd.concat([flat, live], axis=1), **kw)
    assert res.dropped.set_index("event_id")["reason"].to_dict() == {"a": "degenerate estimation regressors"}
    res_f = event_study(r, ev.drop(columns="benchmark"), factors=pd.DataFrame({"f1": live, "f2": live}),
                        model="factor", **kw)
    assert set(res_f.dropped["reason"]) == {"degenerate estimation regressors"} and len(res_f.dropped) == 2
