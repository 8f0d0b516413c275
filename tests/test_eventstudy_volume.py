"""Abnormal trading volume (capflow.eventstudy.abnormal_volume): log-volume mean-adjusted model of Campbell &
Wasley (1996), known answers by hand (SYNTHETIC data).

v_it = log(V_it + 1); AV_it = v_it - mean of v_i over the estimation window; CAV over each window with the
prediction-error variance s^2 (L + L^2 / T), s^2 = sum (v - mean)^2 / (T - 1); the portfolio test is
mean AV summed over the window / (sqrt(L) sd of the estimation-window mean AV series). Same anchor and
trading-period conventions as event_study (a weekday asset's Saturday event is its Monday).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from capflow.eventstudy import EventStudyError, abnormal_volume

EST, EVT, WINDOWS = (-40, -6), (-5, 5), ((0, 0), (0, 2), (-5, 5))


def _volumes(seed: int = 2, n: int = 120):
    """Synthetic lognormal daily volumes of 6 assets; 'W*' trade on weekdays only; events on row 90 triple the
    day-0 volume of the first three assets."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC")
    names = ["A", "B", "C", "D", "W1", "W2"]
    vol = pd.DataFrame(np.exp(rng.normal(10, 0.4, (n, len(names)))), index=idx, columns=names)
    vol.loc[idx.dayofweek >= 5, ["W1", "W2"]] = np.nan
    vol.iloc[90, :3] *= 3.0
    events = pd.DataFrame({"event_id": range(6), "asset": names, "timestamp": idx[[90, 90, 90, 90, 96, 97]]})
    return vol, events


def _by_hand(vol: pd.DataFrame, events: pd.DataFrame) -> dict:
    out = {"av": [], "cav": [], "var": [], "T": [], "est_mean": []}
    for _, e in events.iterrows():
        v = np.log(vol[e["asset"]].to_numpy() + 1.0)
        trading = np.flatnonzero(np.isfinite(v))
        k0 = int(np.searchsorted(trading, np.searchsorted(vol.index, e["timestamp"])))
        est = v[trading[k0 + EST[0]:k0 + EST[1] + 1]]
        av = v[trading[k0 + EVT[0]:k0 + EVT[1] + 1]] - est.mean()
        s2 = ((est - est.mean()) ** 2).sum() / (est.size - 1)
        lengths = [hi - lo + 1 for lo, hi in WINDOWS]
        out["av"].append(av)
        out["cav"].append([av[lo - EVT[0]:hi - EVT[0] + 1].sum() for lo, hi in WINDOWS])
        out["var"].append([s2 * (n + n * n / est.size) for n in lengths])
        out["T"].append(est.size)
        out["est_mean"].append(est - est.mean())
    return {k: np.array(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def case():
    vol, events = _volumes()
    res = abnormal_volume(vol, events, estimation_window=EST, event_window=EVT, car_windows=WINDOWS,
                          min_estimation=30)
    return res, _by_hand(vol, events), vol, events


def test_av_cav_and_t_by_hand(case):
    res, ref, _, _ = case
    assert list(res.av.columns) == ["event_id", "asset", "group", "rel", "timestamp", "log_volume", "normal", "av",
                                    "sav"]
    assert list(res.cav.columns) == ["event_id", "asset", "group", "window", "start", "end", "cav", "cav_se", "t",
                                     "p"]
    av = res.av.pivot(index="event_id", columns="rel", values="av").to_numpy()
    np.testing.assert_allclose(av, ref["av"], rtol=1e-9, atol=1e-12)
    cav = res.cav.pivot(index="event_id", columns="window", values="cav")[["[0,0]", "[0,+2]", "[-5,+5]"]]
    np.testing.assert_allclose(cav.to_numpy(), ref["cav"], rtol=1e-9, atol=1e-12)
    t = res.cav.pivot(index="event_id", columns="window", values="t")[["[0,0]", "[0,+2]", "[-5,+5]"]].to_numpy()
    np.testing.assert_allclose(t, ref["cav"] / np.sqrt(ref["var"]), rtol=1e-9)
    p = res.cav.loc[res.cav.event_id == 0, "p"].iloc[0]
    assert p == pytest.approx(2 * stats.t.sf(abs(t[0, 0]), ref["T"][0] - 1), rel=1e-9)
    # the planted tripling: day-0 abnormal log volume of A, B, C is about log 3
    aav0 = res.aav.loc[(res.aav.group == "all") & (res.aav.rel == 0), "aav"].iloc[0]
    assert np.all(ref["av"][:3, 5] > 0.5) and aav0 > 0.2


def test_portfolio_test_and_cross_section_by_hand(case):
    res, ref, _, _ = case
    s = res.stats.set_index(["group", "window", "test"])
    # Campbell-Wasley portfolio t: mean AV over the window / (sqrt(L) sd of the estimation mean-AV series)
    series = ref["est_mean"].mean(axis=0)          # every event has all 35 estimation periods
    for w, label in zip(WINDOWS, ["[0,0]", "[0,+2]", "[-5,+5]"]):
        length = w[1] - w[0] + 1
        z = ref["cav"][:, WINDOWS.index(w)].mean() / (np.sqrt(length) * series.std(ddof=1))
        assert s.loc[("all", label, "bw_cda"), "statistic"] == pytest.approx(z, rel=1e-9)
        c = ref["cav"][:, WINDOWS.index(w)]
        assert s.loc[("all", label, "t_cs"), "statistic"] == pytest.approx(
            c.mean() / (c.std(ddof=1) / np.sqrt(c.size)), rel=1e-9)
    assert "bhar_skew_t" not in set(res.stats.test)


def test_weekday_volume_anchors_like_returns(case):
    res, _, vol, _ = case
    day0 = res.av[res.av.rel == 0].set_index("asset")["timestamp"]
    sat = vol.index[96]
    assert sat.dayofweek == 5 and day0["W1"] == vol.index[98]      # Saturday event -> Monday
    assert day0["W2"] == vol.index[98]                              # Sunday event -> Monday
    assert res.av.loc[res.av.asset == "W1", "timestamp"].dt.dayofweek.max() < 5


def test_bad_volume_input():
    vol, events = _volumes()
    with pytest.raises(EventStudyError, match="volumes has negative values"):
        abnormal_volume(-vol, events)
    with pytest.raises(EventStudyError, match="offset=0"):
        abnormal_volume(vol, events, offset=0)
    with pytest.raises(EventStudyError, match="tests=.*bhar_skew_t"):
        abnormal_volume(vol, events, tests=["bhar_skew_t"])
    with pytest.raises(EventStudyError, match="volumes must be a DataFrame"):
        abnormal_volume(vol["A"], events)
