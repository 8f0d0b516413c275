"""Benchmark: all rolling statistics of capflow.divergence for 30 assets x ~3 years daily x 3 windows.

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
    bench_equity_close()


if __name__ == "__main__":
    main()
