"""event_study uses THE anchor rule for assets with an exchange calendar, and drops excluded observations from
estimation samples without moving any window. Returns are SYNTHETIC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capflow.eventstudy import EventStudyError, event_study


def _panel(cols, start="2024-01-01", days=200, seed=0):
    idx = pd.date_range(start, periods=days, freq="D", tz="UTC")
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(0, 0.01, (days, len(cols))), index=idx, columns=cols)


def test_an_event_after_the_close_is_the_next_session_for_event_study_and_the_rule():
    from capflow import calendars
    from capflow.returns import event_anchor

    rets = _panel(["NVDA", "bitcoin"], days=220)
    sess = calendars.sessions("XNYS", rets.index[0], rets.index[-1]).in_range(rets.index[0], rets.index[-1])
    rets.loc[~rets.index.isin(sess), "NVDA"] = np.nan  # an equity trades on sessions only
    t = pd.Timestamp("2024-06-04 23:00", tz="UTC")  # after the New York close
    ev = pd.DataFrame({"event_id": ["n", "b"], "asset": ["NVDA", "bitcoin"], "timestamp": [t, t]})
    res = event_study(rets, ev, model="constant_mean", estimation_window=(-60, -11), event_window=(-2, 2),
                      car_windows=[(0, 0)], min_estimation=30, n_boot=0)
    day0 = res.ar.loc[res.ar["rel"] == 0].set_index("asset")["timestamp"]
    assert day0["NVDA"] == pd.Timestamp("2024-06-05", tz="UTC") == event_anchor(t, "NVDA")
    assert day0["bitcoin"] == pd.Timestamp("2024-06-04", tz="UTC") == event_anchor(t, "bitcoin")


def test_excluded_estimation_days_leave_the_fit_not_the_windows():
    rets = _panel(["x"], days=300, seed=3)
    m = _panel(["m"], days=300, seed=4)
    rets["x"] = m["m"] + np.random.default_rng(5).normal(0, 0.002, 300)
    crash, day0 = 150, 280
    m.iloc[crash, 0], rets.iloc[crash, 0] = -0.10, -0.30  # a contaminating crash inside the estimation window
    m.iloc[day0, 0] = -0.10
    rets.iloc[day0, 0] = -0.10 + 0.05  # planted abnormal return +5%
    ev = pd.DataFrame({"event_id": ["e"], "asset": ["x"], "timestamp": [rets.index[day0]]})
    kw = dict(market=m["m"], model="market", estimation_window=(-250, -11), event_window=(-5, 5),
              car_windows=[(0, 0)], n_boot=0, min_estimation=100)
    dirty = event_study(rets, ev, **kw)
    excl = pd.DataFrame(False, index=rets.index, columns=["x"])
    excl.iloc[crash, 0] = True
    excl.iloc[day0, 0] = True  # inside the event window: never removed from it
    clean = event_study(rets, ev, estimation_exclude=excl, **kw)
    assert dirty.fit["beta"].iloc[0] > 1.3 and clean.fit["beta"].iloc[0] == pytest.approx(1.0, abs=0.03)
    assert clean.fit["n_obs"].iloc[0] == dirty.fit["n_obs"].iloc[0] - 1  # one observation fewer, same window
    assert clean.car["car"].iloc[0] == pytest.approx(0.05, abs=0.006)
    est = rets.iloc[day0 - 250: day0 - 10].drop(rets.index[crash])  # the same fit by hand
    X = np.column_stack([np.ones(len(est)), m.loc[est.index, "m"]])
    coef = np.linalg.lstsq(X, est["x"].to_numpy(), rcond=None)[0]
    assert clean.fit["alpha"].iloc[0] == pytest.approx(coef[0], abs=1e-12)
    assert clean.fit["beta"].iloc[0] == pytest.approx(coef[1], abs=1e-12)
    with pytest.raises(EventStudyError, match="estimation_exclude must be a boolean DataFrame"):
        event_study(rets, ev, estimation_exclude=[True], **kw)


def test_price_levels_passed_as_returns_are_refused_in_one_line():
    prices = 100 * (1 + _panel(["x"], days=120)).cumprod()
    ev = pd.DataFrame({"event_id": ["e"], "asset": ["x"], "timestamp": [prices.index[100]]})
    with pytest.raises(EventStudyError) as err:
        event_study(prices, ev, model="constant_mean", estimation_window=(-60, -11), event_window=(0, 0),
                    car_windows=[(0, 0)], n_boot=0, min_estimation=30)
    assert "look like price levels" in str(err.value) and "\n" not in str(err.value)


def test_abnormal_volume_reports_the_log_volumes_themselves():
    from capflow.eventstudy import abnormal_volume

    rng = np.random.default_rng(1)
    idx = pd.date_range("2024-01-01", periods=120, freq="D", tz="UTC")
    vol = pd.DataFrame({"x": np.exp(rng.normal(15, 0.3, 120))}, index=idx)  # SYNTHETIC volumes
    ev = pd.DataFrame({"event_id": ["e"], "asset": ["x"], "timestamp": [idx[100]]})
    res = abnormal_volume(vol, ev, estimation_window=(-60, -11), event_window=(0, 2), car_windows=[(0, 0)],
                          min_estimation=30)
    av = res.av.set_index("timestamp")
    assert av["log_volume"].to_numpy() == pytest.approx(np.log(vol.loc[av.index, "x"] + 1.0).to_numpy())
    assert (av["log_volume"] - av["normal"]).to_numpy() == pytest.approx(av["av"].to_numpy())
