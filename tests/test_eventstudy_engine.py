"""capflow.eventstudy engine paths added for speed must not change a number (SYNTHETIC data).

Each test pits one optimised path against an independent or slower route to the same answer:

* the calendar keeps only a start row for assets traded in one unbroken run and lists the rows of the others:
  every asset's trading rows and event anchors equal a brute-force ``np.flatnonzero(np.isfinite(...))``;
* memory layout of ``returns`` (C order, Fortran order, mixed dtype blocks) does not change any output;
* the all-valid fast path of the chunk kernel and the masked path give the same ARs/CARs for the same event;
* chunk boundaries (events split across many chunks, drops inside chunks) do not change any output;
* the tidy frames infer the event-column dtypes as pandas would from the events;
* the Kolari-Pynnonen r-bar of group "all" with named and unnamed events (folded accumulators) equals the mean
  pairwise correlation of the estimation residuals computed by hand;
* the t p-value shortcut equals ``scipy.stats.t.sf``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import capflow.eventstudy as es
from capflow import _estats
from capflow.eventstudy import event_study

KW = dict(estimation_window=(-40, -6), event_window=(-5, 5), car_windows=((0, 0), (-1, 1), (-5, 5)),
          min_estimation=20, n_boot=100)


def _panel(n: int = 260, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Synthetic: 6 assets; 'EQ*' trade weekdays only, 'LATE' lists on day 60, 'GAP' has a 5-day halt."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2023-01-02", periods=n, freq="D", tz="UTC")
    m = pd.Series(rng.normal(0, 0.01, n), index=idx, name="MKT")
    r = pd.DataFrame(rng.normal(0, 0.02, (n, 6)) + m.to_numpy()[:, None],
                     index=idx, columns=["C1", "C2", "EQ1", "EQ2", "LATE", "GAP"])
    r.loc[idx.dayofweek >= 5, ["EQ1", "EQ2"]] = np.nan
    r.iloc[:60, 4] = np.nan
    r.iloc[150:155, 5] = np.nan
    r.iloc[100, 1] = np.inf            # a non-finite return is "no trading period", like NaN
    return r, m


def _events(r: pd.DataFrame, n: int = 40, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"event_id": np.arange(n), "asset": rng.choice(r.columns, n),
                         "timestamp": r.index[rng.integers(70, 250, n)] + pd.Timedelta(hours=5),
                         "group": rng.choice(["x", "y", "all"], n)})


def _assert_same(a, b, rtol=1e-12):
    for name in ("ar", "car", "aar", "caar", "stats", "dropped"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=False, rtol=rtol,
                                      atol=1e-14, obj=name)
    assert a.params["rbar"].keys() == b.params["rbar"].keys()
    np.testing.assert_allclose(list(a.params["rbar"].values()), list(b.params["rbar"].values()), rtol=1e-9)


@pytest.mark.parametrize("order", ["C", "F"])
def test_calendar_rows_and_anchors_match_brute_force(order):
    r, _ = _panel()
    r = pd.DataFrame(np.asarray(r.to_numpy(), order=order), index=r.index, columns=r.columns)
    cal = es._Calendar.build(r, r.index)
    assert cal.gapped.tolist() == [False, True, True, True, False, True]  # C2: the inf is a gap
    for j, col in enumerate(r.columns):
        want = np.flatnonzero(np.isfinite(r[col].to_numpy()))
        assert cal.counts[j] == want.size
        got = cal.row_at(np.array([j]), np.arange(want.size)[None, :])[0]
        np.testing.assert_array_equal(got, want)
        ts = r.index[[0, 59, 60, 61, 151, 200, 259]]
        k0 = cal.anchor(np.full(ts.size, j), pd.DatetimeIndex(ts))
        np.testing.assert_array_equal(k0, np.searchsorted(want, np.searchsorted(r.index, ts)))


def test_memory_layout_of_returns_changes_nothing():
    r, m = _panel()
    ev = _events(r)
    base = event_study(r, ev, market=m, overlap="keep", **KW)
    f_order = pd.DataFrame(np.asfortranarray(r.to_numpy()), index=r.index, columns=r.columns)
    c_order = pd.DataFrame(np.ascontiguousarray(r.to_numpy()), index=r.index, columns=r.columns)
    mixed = r.assign(ZZ=np.arange(len(r)))   # an extra int column: a second dtype block
    for other in (f_order, c_order, mixed):
        _assert_same(base, event_study(other, ev, market=m, overlap="keep", **KW))
    assert len(base.dropped) < len(ev) and len(base.car) > 0


def test_fast_path_equals_masked_path():
    """Event 'a' alone runs the all-valid fast path; with event 'b' (asset listed 25 days before its event, so
    15 of its 35 estimation periods do not exist) in the same chunk the masked path runs. Event 'a' must
    come out the same, and 'b' as if fitted on its 20 existing periods alone."""
    r, m = _panel()
    ev_a = pd.DataFrame({"event_id": ["a"], "asset": ["C1"], "timestamp": [r.index[200]]})
    ev_b = pd.DataFrame({"event_id": ["b"], "asset": ["LATE"], "timestamp": [r.index[85]]})
    ev_ab = pd.concat([ev_a, ev_b])
    alone = event_study(r, ev_a, market=m, **KW)
    both = event_study(r, ev_ab, market=m, **KW)
    for name in ("ar", "car"):
        x = getattr(alone, name)
        y = getattr(both, name)
        y = y[y.event_id == "a"].reset_index(drop=True)
        pd.testing.assert_frame_equal(x, y, check_exact=False, rtol=1e-12, atol=1e-15)
    assert (both.ar.event_id == "b").sum() == 11
    rows = np.arange(60, 80)                     # b's 20 existing estimation periods
    X = np.column_stack([np.ones(rows.size), m.to_numpy()[rows]])
    y = r["LATE"].to_numpy()[rows]
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    s2 = np.sum((y - X @ beta) ** 2) / (rows.size - 2)
    car_b = both.car[(both.car.event_id == "b") & (both.car.window == "[0,0]")].iloc[0]
    x0 = np.array([1.0, m.iloc[85]])
    assert car_b["car"] == pytest.approx(r["LATE"].iloc[85] - x0 @ beta, rel=1e-10)
    assert car_b["car_se"] ** 2 == pytest.approx(s2 * (1 + x0 @ np.linalg.inv(X.T @ X) @ x0), rel=1e-10)


def test_chunking_changes_nothing(monkeypatch):
    r, m = _panel()
    ev = _events(r, n=60)
    whole = event_study(r, ev, market=m, overlap="keep", **KW)
    monkeypatch.setattr(es, "_CHUNK", 7)
    pieces = event_study(r, ev, market=m, overlap="keep", **KW)
    _assert_same(whole, pieces)
    assert 0 < len(whole.dropped) and whole.params["n_kept"] > 7


def test_event_column_dtypes_as_pandas_infers_them():
    r, m = _panel()
    ev = _events(r, n=12)
    stamps = pd.Series([pd.Timestamp("2020-01-01", tz="UTC") + pd.Timedelta(days=i) for i in range(12)],
                       dtype=object)
    for ids in (ev["event_id"], ev["event_id"].map("e{}".format), stamps):
        res = event_study(r, ev.assign(event_id=ids), market=m, overlap="keep", **KW)
        want = pd.DataFrame({"event_id": ids.to_numpy()}).dtypes["event_id"]
        assert res.ar["event_id"].dtype == want and res.car["event_id"].dtype == want
        assert res.ar["asset"].dtype == object and res.car["group"].dtype == object
    assert str(want) == "datetime64[ns, UTC]"


def test_rbar_all_with_named_and_unnamed_events_by_hand():
    """Events of named groups and of no group on one date: r-bar of "all" is the mean pairwise Pearson
    correlation of their estimation residuals (the engine accumulates named events per (group, date) and
    folds them into the date's cells)."""
    rng = np.random.default_rng(4)
    n = 80
    idx = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC")
    m = rng.normal(0, 0.01, n)
    common = rng.normal(0, 0.01, n)
    r = pd.DataFrame({a: 0.001 * i + (0.6 + 0.2 * i) * m + common + rng.normal(0, 0.01, n)
                      for i, a in enumerate("ABCDE")}, index=idx)
    ev = pd.DataFrame({"event_id": list("abcde"), "asset": list("ABCDE"),
                       "timestamp": idx[[50, 50, 50, 50, 70]], "group": ["x", None, "x", "y", "y"]})
    est = (-30, -6)
    res = event_study(r, ev, market=pd.Series(m, index=idx), estimation_window=est, event_window=(-5, 5),
                      car_windows=((0, 0),), min_estimation=20, n_boot=0)
    resid = {}
    for e in ev.itertuples():
        k0 = idx.get_loc(e.timestamp)
        rows = np.arange(k0 + est[0], k0 + est[1] + 1)
        X = np.column_stack([np.ones(rows.size), m[rows]])
        y = r[e.asset].to_numpy()[rows]
        resid[e.event_id] = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    same_day = "abcd"
    pairs = [np.corrcoef(resid[i], resid[j])[0, 1] for i in same_day for j in same_day if i != j]
    want_all = sum(pairs) / (5 * 4)          # 'e' is in another date cluster: its pairs count as 0
    assert res.params["rbar"]["all"] == pytest.approx(want_all, rel=1e-9)
    assert res.params["rbar"]["x"] == pytest.approx(np.corrcoef(resid["a"], resid["c"])[0, 1], rel=1e-9)
    assert res.params["rbar"]["y"] == pytest.approx(0.0, abs=1e-15)   # d and e: different dates


def test_two_sided_t_equals_scipy():
    x = np.r_[np.random.default_rng(0).normal(0, 3, 2000), np.nan, np.inf, -np.inf, 0.0]
    for df in (1, 3.0, 238.0, np.full(x.size, 17.0)):
        np.testing.assert_array_equal(_estats.two_sided_t(x, df), 2 * stats.t.sf(np.abs(x), df))
    assert np.isnan(_estats.two_sided_t(np.array([1.0]), 0.0)).all()


def test_exact_fit_standardizes_to_zero_not_nan():
    """A halted asset (returns exactly 0) under the constant-mean model: AR = 0 with zero variance. SAR and
    SCAR are 0 (no abnormal return), not 0/0, so the event does not turn its groups' statistics into NaN."""
    r, m = _panel()
    r["HALT"] = 0.0
    ev = pd.DataFrame({"event_id": ["h", "c"], "asset": ["HALT", "C1"], "timestamp": r.index[[200, 200]]})
    res = event_study(r, ev, model="constant_mean", **KW)
    h_ar, h_car = res.ar[res.ar.event_id == "h"], res.car[res.car.event_id == "h"]
    assert (h_ar.ar == 0).all() and (h_ar.sar == 0).all()
    assert (h_car.car_se == 0).all() and (h_car.scar == 0).all() and (h_car.p == 1).all()
    assert np.isfinite(res.stats.loc[res.stats.test.isin(["patell", "bmp"]), "statistic"]).all()
    c_car = res.car[res.car.event_id == "c"]
    assert (c_car.car_se > 0).all() and np.isfinite(c_car.scar).all()
