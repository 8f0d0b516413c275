"""Agreement with an independent implementation: the ``eventstudy`` PyPI package (GPL-3, optional; only called).

Same SYNTHETIC market-model events in both (a gap-free daily calendar, so the package's calendar-day
positions equal our trading periods; estimation 100 periods with a 5-period buffer = our
estimation_window (-115, -16) with event_window (-10, 10)). Conventions and how they are reconciled:

* AR: both are the OLS market-model residual over the event window -> compared exactly (1e-10).
* CAR: the package cumulates from the event-window start -> our CAR windows (-10, t) for t = -10, 0, 10.
* Variance: the package uses var_AR = SSR / T (numpy ddof 0) and Var(CAR_L) = L var_AR, with no
  prediction-error correction; ours is Var(CAR) = s^2 (L + g'(X'X)^-1 g) with s^2 = SSR / (T - 2). Converted:
  package Var(CAR) = our car_se^2 * (T - 2) / T * L / (L + q), q = g'(X'X)^-1 g = L^2 / T + (sum_w Rm - L
  mean(Rm_est))^2 / Sxx, computed here from the data.
* The package's aggregate t-test (``Multiple``): CAAR / sqrt(sum_i Var_i(CAR) / N^2); rebuilt from our CARs
  and the converted variances, it must equal the package's statistic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capflow.eventstudy import event_study

es = pytest.importorskip("eventstudy")

EST_SIZE, BUFFER, EVW = 100, 5, (-10, 10)
OUR_EST = (EVW[0] - BUFFER - EST_SIZE, EVW[0] - BUFFER - 1)
WINDOWS = ((-10, -10), (-10, 0), (-10, 10))
DAYS = [30, 60, 90]  # event positions in the package's cumulative CAR arrays: rel - (-10)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    rng = np.random.default_rng(42)
    n = 400
    dates = pd.date_range("2021-01-01", periods=n, freq="D")
    m = rng.normal(0.0004, 0.012, n)
    names = [f"SYN{i}" for i in range(6)]
    r = {a: 0.0003 * i + (0.6 + 0.15 * i) * m + rng.normal(0, 0.015, n) for i, a in enumerate(names)}
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "MKT": m, **r})
    path = tmp_path_factory.mktemp("es") / "returns.csv"
    frame.to_csv(path, index=False)
    es.Single.import_returns(str(path))
    event_rows = [150, 200, 250, 300, 330, 360]
    singles = [es.Single.market_model(security_ticker=a, market_ticker="MKT",
                                      event_date=np.datetime64(dates[k].date()), event_window=EVW,
                                      estimation_size=EST_SIZE, buffer_size=BUFFER)
               for a, k in zip(names, event_rows)]
    returns = frame.set_index(pd.DatetimeIndex(dates, tz="UTC"))[names]
    market = pd.Series(m, index=returns.index, name="MKT")
    events = pd.DataFrame({"event_id": names, "asset": names, "timestamp": returns.index[event_rows]})
    ours = event_study(returns, events, market=market, estimation_window=OUR_EST, event_window=EVW,
                       car_windows=WINDOWS, min_estimation=EST_SIZE, n_boot=0)
    return ours, singles, market.to_numpy(), event_rows


def test_abnormal_returns_identical(setup):
    ours, singles, _, _ = setup
    ar = ours.ar.pivot(index="event_id", columns="rel", values="ar")
    for i, single in enumerate(singles):
        np.testing.assert_allclose(ar.loc[f"SYN{i}"].to_numpy(), np.asarray(single.AR), rtol=0, atol=1e-10)


def test_car_identical(setup):
    ours, singles, _, _ = setup
    car = ours.car.pivot(index="event_id", columns="window", values="car")
    for i, single in enumerate(singles):
        got = car.loc[f"SYN{i}", ["[-10,-10]", "[-10,0]", "[-10,+10]"]].to_numpy()
        np.testing.assert_allclose(got, np.asarray(single.CAR)[[0, 10, 20]], rtol=0, atol=1e-10)


def _q(m: np.ndarray, k: int, lo: int, hi: int) -> float:
    """g'(X'X)^-1 g for the market model: L^2 / T + (sum of window Rm - L mean)^2 / Sxx."""
    est = m[k + OUR_EST[0]:k + OUR_EST[1] + 1]
    win = m[k + lo:k + hi + 1]
    length = win.size
    return length ** 2 / est.size + (win.sum() - length * est.mean()) ** 2 / ((est - est.mean()) ** 2).sum()


def _converted_var(ours, m, rows) -> pd.DataFrame:
    se = ours.car.pivot(index="event_id", columns="window", values="car_se")
    out = {}
    for (lo, hi) in WINDOWS:
        label = f"[{lo:+d},{'0' if hi == 0 else f'{hi:+d}'}]"
        length = hi - lo + 1
        qs = np.array([_q(m, k, lo, hi) for k in rows])
        var = se[label].to_numpy() ** 2 * (EST_SIZE - 2) / EST_SIZE * length / (length + qs)
        out[label] = var
    return pd.DataFrame(out, index=se.index)


def test_variance_after_converting_conventions(setup):
    ours, singles, m, rows = setup
    conv = _converted_var(ours, m, rows)
    for i, single in enumerate(singles):
        np.testing.assert_allclose(conv.loc[f"SYN{i}"].to_numpy(), np.asarray(single.var_CAR)[[0, 10, 20]],
                                   rtol=1e-8)
        # and our uncorrected variance is strictly larger than the package's (correction + ddof)
        assert (ours.car.loc[ours.car.event_id == f"SYN{i}", "car_se"].to_numpy() ** 2
                > np.asarray(single.var_CAR)[[0, 10, 20]]).all()


def test_aggregate_t_test_matches_multiple(setup):
    ours, singles, m, rows = setup
    agg = es.Multiple(singles)
    conv = _converted_var(ours, m, rows)
    caar = ours.caar.set_index(["group", "window"])["caar"]
    n = len(singles)
    for label, pos in zip(conv.columns, [0, 10, 20]):
        assert caar[("all", label)] == pytest.approx(agg.CAAR[pos], abs=1e-12)
        t_rebuilt = caar[("all", label)] / np.sqrt(conv[label].sum() / n ** 2)
        assert t_rebuilt == pytest.approx(agg.tstat[pos], rel=1e-8)
