"""Benchmark: all rolling statistics of capflow.divergence for 30 assets x ~3 years daily x 3 windows, the
Diebold-Yilmaz connectedness (full sample and rolling), and the whole study (load + run) on its defaults.

Uses the real snapshot (the 30 assets with the most daily rows, 2023-06-01..2026-05-31, equity-session clock)
when available, else synthetic returns of the same shape (labelled SYNTHETIC). Prints wall time and peak memory.
Run: CAPFLOW_SNAPSHOT=/work/shared/data CAPFLOW_OFFLINE=1 CAPFLOW_SOURCES=snapshot python benchmarks/bench_divergence.py
"""

from __future__ import annotations

import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd

from capflow import divergence as D
from capflow import returns as R

WINDOWS = (30, 90, 180)


def inputs() -> tuple[pd.DataFrame, str]:
    try:
        from capflow.data import load_prices

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prices = load_prices("crypto,equity", "2023-06-01", "2026-05-31", missing="drop")
        keep = prices.notna().sum().sort_values(ascending=False).index[:30]
        return R.align(R.simple_returns(prices[keep], max_gap=7)), "snapshot"
    except Exception as exc:  # no snapshot: same shape, synthetic
        print(f"snapshot unavailable ({exc}); using SYNTHETIC returns")
        rng = np.random.default_rng(0)
        idx = pd.date_range("2023-06-01", periods=756, freq="B", tz="UTC")
        return pd.DataFrame(rng.normal(0, 0.02, (756, 30)), idx, [f"s{i}" for i in range(30)]), "SYNTHETIC"


def all_rolling(rets: pd.DataFrame) -> dict:
    bench, eq = rets.iloc[:, 0], rets.iloc[:, 1:6].mean(axis=1)
    f = pd.DataFrame({"f1": bench, "f2": eq})
    pairs = [(a, b) for i, a in enumerate(rets.columns) for b in rets.columns[i + 1:]]
    return {"betas": D.rolling_betas(rets, bench, WINDOWS),
            "pair_corr": D.rolling_correlations(rets, pairs, WINDOWS),
            "two_factor": {w: D.rolling_two_factor(rets, f, w) for w in WINDOWS}}


def bench_equity_close() -> None:
    """crypto_at_equity_close sampling: 30 columns x 3 years of hourly bars (SYNTHETIC prices, shape only)."""
    rng = np.random.default_rng(1)
    idx = pd.date_range("2023-06-01", "2026-05-31 23:00", freq="h", tz="UTC")
    hourly = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.003, (len(idx), 30)), axis=0)), idx,
                          [f"s{i}" for i in range(30)])
    hourly[hourly > 1e9] = np.nan  # keep the frame's dtype/NaN handling realistic
    R.session_close_returns(hourly.iloc[:500])  # warm-up (calendar)
    tracemalloc.start()
    t0 = time.perf_counter()
    out = R.session_close_returns(hourly)
    wall = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(f"crypto_at_equity_close (SYNTHETIC hourly, {hourly.shape[1]} columns x {len(hourly)} bars -> "
          f"{len(out)} XNYS sessions): wall time {wall:.3f} s; peak traced memory {peak:.1f} MiB")


def bench_connectedness(rets: pd.DataFrame, origin: str, window: int = 200, horizon: int = 10) -> None:
    """Connectedness of 6 series (the study's default size): lag choice, full-sample table, rolling windows."""
    data = rets.iloc[:, :6]
    D.var_connectedness(data.iloc[:300], 1, horizon)  # warm-up (imports)
    t0 = time.perf_counter()
    lags = D.select_lags(data, 5, "bic")
    t1 = time.perf_counter()
    full = D.var_connectedness(data, lags, horizon)
    t2 = time.perf_counter()
    roll = D.rolling_connectedness(data, window, lags, horizon)
    t3 = time.perf_counter()
    print(f"connectedness ({origin}, {data.shape[1]} series x {full.n} complete rows, VAR({lags}), H={horizon}): "
          f"lag choice {t1 - t0:.3f} s, full sample {t2 - t1:.3f} s, rolling {len(roll)} windows of {window} "
          f"{t3 - t2:.3f} s ({1000 * (t3 - t2) / max(len(roll), 1):.2f} ms per window)")


def bench_study() -> None:
    """The whole study on its defaults (load_inputs + run, then figures), on the offline snapshot."""
    try:
        from capflow.studies import divergence as S

        params = S.Params()
        t0 = time.perf_counter()
        inputs = S.load_inputs(params)
        t1 = time.perf_counter()
        result = S.run(inputs, params)
        t2 = time.perf_counter()
        result.figures()
        t3 = time.perf_counter()
    except Exception as exc:  # no snapshot
        print(f"study skipped ({exc})")
        return
    print(f"study (defaults, snapshot): load_inputs {t1 - t0:.2f} s, run {t2 - t1:.2f} s, figures {t3 - t2:.2f} s")


def main() -> None:
    rets, origin = inputs()
    all_rolling(rets)  # warm-up (imports)
    tracemalloc.start()
    t0 = time.perf_counter()
    res = all_rolling(rets)
    wall = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(f"data: {origin}, {rets.shape[1]} assets x {rets.shape[0]} rows, windows {WINDOWS}; "
          f"{res['pair_corr'].shape[1]} pair-correlation series, {res['betas']['beta'].shape[1]} betas, "
          f"{3 * rets.shape[1]} two-factor regressions")
    print(f"wall time: {wall:.3f} s (goal < 1 s); peak traced memory: {peak:.1f} MiB")
    bench_connectedness(rets, origin)
    bench_equity_close()
    bench_study()


if __name__ == "__main__":
    main()
