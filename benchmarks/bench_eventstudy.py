"""Benchmark of capflow.eventstudy on SYNTHETIC returns (no market data is used or shown).

Market model plus every statistic on 1,000 assets x 50 events (50,000 asset-events, daily, 250-day estimation
window), then the GPL ``eventstudy`` package (optional; t-test only) on 1,000 asset-events, and the speed ratio
at equal work (per asset-event). Each timing is ``--repeat`` runs (min and median of wall and process CPU time;
CPU time is the steadier figure on a shared machine); peak memory from one extra run under tracemalloc.
Run: ``python benchmarks/bench_eventstudy.py [--assets 1000 --events 50 --repeat 5]``.
"""

from __future__ import annotations

import argparse
import logging
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from capflow.eventstudy import event_study


def synthetic_panel(n_assets: int, n_days: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Synthetic daily returns: r_it = 0.0002 + beta_i m_t + e_it (labelled synthetic)."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2000-01-03", periods=n_days, freq="D", tz="UTC", name="synthetic_day")
    m = rng.normal(0.0003, 0.01, n_days)
    beta = rng.uniform(0.5, 1.5, n_assets)
    r = 0.0002 + m[:, None] * beta[None, :] + rng.normal(0, 0.02, (n_days, n_assets))
    cols = [f"synthetic_{i:04d}" for i in range(n_assets)]
    return pd.DataFrame(r, index=idx, columns=cols), pd.Series(m, index=idx, name="synthetic_market")


def synthetic_events(returns: pd.DataFrame, n_events: int, spacing: int = 280, first: int = 260) -> pd.DataFrame:
    """Every asset has ``n_events`` events, ``spacing`` days apart, shared dates across assets (clusters)."""
    dates = returns.index[first + spacing * np.arange(n_events)]
    assets = np.tile(returns.columns.to_numpy(), n_events)
    ts = np.repeat(dates.to_numpy(), returns.shape[1])
    return pd.DataFrame({"event_id": np.arange(assets.size), "asset": assets, "timestamp": ts,
                         "group": np.where(np.arange(assets.size) % 2, "odd", "even")})


def timed(fn, repeat: int = 5):
    """Run ``fn`` ``repeat`` times untraced (wall and process CPU time of each run), then once under tracemalloc
    for the peak memory (tracing slows numpy allocations, so that run is not timed)."""
    walls, cpus = [], []
    for _ in range(max(repeat, 1)):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, np.array(walls), np.array(cpus), peak


def _fmt(walls: np.ndarray, cpus: np.ndarray) -> str:
    return (f"wall min {walls.min():.2f} s / median {np.median(walls):.2f} s, CPU min {cpus.min():.2f} s / median "
            f"{np.median(cpus):.2f} s ({walls.size} runs)")


def bench_capflow(n_assets: int, n_events: int, repeat: int) -> float:
    spacing = 280
    returns, market = synthetic_panel(n_assets, 260 + spacing * n_events + 20)
    events = synthetic_events(returns, n_events, spacing)
    res, walls, cpus, peak = timed(lambda: event_study(returns, events, market=market, model="market"), repeat)
    n = len(events)
    print(f"capflow.event_study (synthetic): {n:,} asset-events, market model, all 6 tests + bootstrap "
          f"(n_boot=1000): {_fmt(walls, cpus)}; peak traced memory {peak / 2**20:.0f} MiB, "
          f"kept {len(res.car) // 5:,}")
    return float(np.median(walls)) / n


def bench_reference(n_events: int, repeat: int) -> float | None:
    """The GPL ``eventstudy`` package (only called, never copied): market model + its t-test on ``n_events``
    asset-events, versus capflow on the same events (all statistics, bootstrap included)."""
    try:
        import eventstudy as es  # GPL-3, optional
    except ImportError:
        print("eventstudy package not installed: reference benchmark skipped")
        return
    n_days = 600
    returns, market = synthetic_panel(n_events, n_days, seed=1)
    day0 = 300
    events = pd.DataFrame({"event_id": returns.columns, "asset": returns.columns,
                           "timestamp": returns.index[day0]})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic_returns.csv"
        frame = returns.copy()
        frame.insert(0, "synthetic_market", market)
        frame.index = frame.index.strftime("%Y-%m-%d")
        frame.rename_axis("date").to_csv(path)
        es.Single.import_returns(str(path))
    date = np.datetime64(returns.index[day0].strftime("%Y-%m-%d"))

    def run_reference():
        singles = [es.Single.market_model(security_ticker=a, market_ticker="synthetic_market", event_date=date,
                                          event_window=(-10, 10), estimation_size=240, buffer_size=0)
                   for a in returns.columns]
        return es.Multiple(singles)

    agg, walls_ref, cpus_ref, peak_ref = timed(run_reference, repeat)
    windows = ((0, 0), (0, 1), (-1, 1), (0, 5), (-5, 10), (-10, 10))
    res, walls_cf, cpus_cf, peak_cf = timed(lambda: event_study(returns, events, market=market, model="market",
                                                                estimation_window=(-250, -11),
                                                                car_windows=windows), repeat)
    wall_ref, wall_cf = float(np.median(walls_ref)), float(np.median(walls_cf))
    caar_cf = res.caar.set_index(["group", "window"]).loc[("all", "[-10,+10]"), "caar"]
    print(f"eventstudy package (synthetic): {n_events:,} asset-events, market model + t-test: "
          f"{_fmt(walls_ref, cpus_ref)}; peak traced memory {peak_ref / 2**20:.0f} MiB")
    print(f"capflow on the same {n_events:,} asset-events (all 6 tests + bootstrap): wall median {wall_cf:.3f} s, "
          f"peak {peak_cf / 2**20:.0f} MiB; speed ratio (medians) {wall_ref / wall_cf:.0f}x")
    print(f"check, CAAR[-10,+10]: package {agg.CAAR[-1]:.8f}, capflow {caar_cf:.8f}")
    return wall_ref / n_events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--assets", type=int, default=1000)
    ap.add_argument("--events", type=int, default=50)
    ap.add_argument("--ref-events", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs of each (min and median reported)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    per_event = bench_capflow(args.assets, args.events, args.repeat)
    print(f"per asset-event: {per_event * 1e6:.1f} us; process max RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (includes the input panel)")
    ref_per_event = bench_reference(args.ref_events, args.repeat)
    if ref_per_event:
        print(f"speed ratio at equal work per asset-event (package t-test only vs capflow all tests, "
              f"{args.assets * args.events:,}-event run, medians): {ref_per_event / per_event:.0f}x")


if __name__ == "__main__":
    main()
