"""Benchmark: all rolling statistics of capflow.divergence for 30 assets x ~3 years daily x 3 windows, the
Diebold-Yilmaz connectedness (full sample and rolling), the crypto-at-equity-close sampling, and the whole study
(load + run + figures) on its defaults.

Data: the embedded snapshot, offline, with a private cache (the 30 assets with the most daily rows,
2023-06-01..2026-05-31, equity-session clock); without a snapshot, synthetic returns of the same shape
(labelled SYNTHETIC). Timings are untraced (median of ``--repeat`` runs after a warm-up; rolling connectedness half as many); peak memory comes
from one extra run under tracemalloc. Target: the rolling statistics < 1 s; the rest is informational.

Run: ``python benchmarks/bench_divergence.py [--repeat 5] [--quick]``.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
import warnings

import _rows
from _rows import Row, check, info, mib, ms, secs

AREA = "divergence"
WINDOWS = (30, 90, 180)
TARGET_S = 1.0


def inputs():
    """Daily returns of the 30 assets with the most rows (snapshot), or synthetic ones of the same shape."""
    import numpy as np
    import pandas as pd

    from capflow import returns as R

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


def all_rolling(rets) -> dict:
    """Rolling betas, every pair's rolling correlation and the rolling two-factor regressions, for every window."""
    import pandas as pd

    from capflow import divergence as D

    bench, eq = rets.iloc[:, 0], rets.iloc[:, 1:6].mean(axis=1)
    f = pd.DataFrame({"f1": bench, "f2": eq})
    pairs = [(a, b) for i, a in enumerate(rets.columns) for b in rets.columns[i + 1:]]
    return {"betas": D.rolling_betas(rets, bench, WINDOWS),
            "pair_corr": D.rolling_correlations(rets, pairs, WINDOWS),
            "two_factor": {w: D.rolling_two_factor(rets, f, w) for w in WINDOWS}}


def timed(fn, repeat: int) -> tuple[list[float], float, object]:
    """Wall times of ``repeat`` untraced calls after one warm-up, then the peak traced memory of one more call."""
    fn()
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    tracemalloc.start()
    out = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return walls, peak, out


def bench_rolling(rets, origin: str, repeat: int) -> list[Row]:
    """The target figure: every rolling statistic, 30 assets x 3 windows."""
    walls, peak, res = timed(lambda: all_rolling(rets), repeat)
    what = (f"{rets.shape[1]} assets x {rets.shape[0]} sessions x {len(WINDOWS)} windows; "
            f"{res['pair_corr'].shape[1]} correlations, {res['betas']['beta'].shape[1]} betas, "
            f"{len(WINDOWS) * rets.shape[1]} two-factor fits")
    print(f"rolling statistics ({origin}: {what}): walls " + " ".join(f"{w:.3f}" for w in walls))
    med = statistics.median(walls)
    return [check(AREA, f"rolling statistics, {origin} {rets.shape[1]} assets x {rets.shape[0]} sessions x "
                        f"{len(WINDOWS)} windows (median of {len(walls)})", f"{secs(med)} (min {secs(min(walls))})", f"< {TARGET_S:g} s",
                  med < TARGET_S),
            info(AREA, "  peak traced memory", mib(peak))]


def bench_connectedness(rets, origin: str, repeat: int, window: int = 200, horizon: int = 10) -> list[Row]:
    """Connectedness of 6 series (the study's default size): lag choice, full-sample table, rolling windows."""
    from capflow import divergence as D

    data = rets.iloc[:, :6]
    D.var_connectedness(data.iloc[:300], 1, horizon)  # warm-up (imports)
    lags = D.select_lags(data, 5, "bic")
    t_lag, _, _ = timed(lambda: D.select_lags(data, 5, "bic"), repeat)
    t_full, _, full = timed(lambda: D.var_connectedness(data, lags, horizon), repeat)
    t_roll, _, roll = timed(lambda: D.rolling_connectedness(data, window, lags, horizon), max(1, repeat // 2))
    roll_s = statistics.median(t_roll)
    shape = f"{data.shape[1]} series x {full.n} rows, VAR({lags}), H={horizon}"
    return [info(AREA, f"connectedness, {shape}: lag choice / full sample",
                 f"{ms(statistics.median(t_lag))} / {ms(statistics.median(t_full))}"),
            info(AREA, f"  rolling connectedness, {len(roll)} windows of {window}",
                 f"{secs(roll_s)} ({1e3 * roll_s / max(len(roll), 1):.2f} ms per window)")]


def bench_equity_close(repeat: int) -> list[Row]:
    """crypto_at_equity_close sampling: 30 columns x 3 years of hourly bars (SYNTHETIC prices, shape only)."""
    import numpy as np
    import pandas as pd

    from capflow import returns as R

    rng = np.random.default_rng(1)
    idx = pd.date_range("2023-06-01", "2026-05-31 23:00", freq="h", tz="UTC")
    hourly = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.003, (len(idx), 30)), axis=0)), idx,
                          [f"s{i}" for i in range(30)])
    walls, peak, out = timed(lambda: R.session_close_returns(hourly), repeat)
    return [info(AREA, f"crypto_at_equity_close, SYNTHETIC hourly 30 x {len(hourly):,} bars -> {len(out)} sessions",
                 f"{secs(statistics.median(walls))} (peak {mib(peak)})")]


def bench_study() -> list[Row]:
    """The whole study on its defaults (load_inputs + run, then figures), once, on the offline snapshot."""
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
        return [info(AREA, "study on its defaults", f"skipped ({type(exc).__name__}: {str(exc)[:60]})")]
    return [info(AREA, "study on its defaults: load_inputs / run / figures (once)",
                 f"{secs(t1 - t0)} / {secs(t2 - t1)} / {secs(t3 - t2)}")]


def main() -> None:
    ap = _rows.parser(__doc__)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs of each figure (default 5; --quick: 2)")
    args = ap.parse_args()
    _rows.isolate()
    repeat = 2 if args.quick else args.repeat
    rets, origin = inputs()
    rows = bench_rolling(rets, origin, repeat)
    rows += bench_connectedness(rets, origin, repeat)
    rows += bench_equity_close(repeat)
    rows += bench_study()
    _rows.emit(rows, "divergence: rolling statistics, connectedness, study")


if __name__ == "__main__":
    main()
