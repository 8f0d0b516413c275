"""Benchmark: the request plan for the whole registry, daily and hourly, 2023-01-01 to today. Nothing is fetched.

Prints, per frequency and for both together, the number of requests and megabytes per source (file counts times
the typical sizes of :data:`capflow.data.plan.TYPICAL_BYTES`), the minimum time at each client's rate limit,
and the time taken to compute the plan. Then it checks the kline size assumptions by zipping rows formatted like
Binance's dumps (12 columns, 8-decimal prices, realistic magnitudes) and comparing with the stated sizes.

Table rows (all informational): per source, the daily + hourly plan of the registry and the derivatives plan
(definite requests with their MB and minimum seconds at the rate limits, then the conditional ones and their MB), the time to compute the plans and the range
of measured/stated kline zip sizes.

Usage: ``python benchmarks/bench_request_plan.py [--start 2023-01-01] [--now 2026-11-28T03:17]``.
"""

from __future__ import annotations

import io
import random
import time
import zipfile

import _rows
from _rows import Row, info

AREA = "request plan"


def _zipped_kline_bytes(rows: int, step_ms: int, seed: int = 0) -> int:
    """Size of a zip holding ``rows`` kline rows shaped like BTCUSDT's: random walk, prices on the 0.01 tick and
    volumes on the 0.00001 lot written with 8 decimals (as Binance pads them), quote volumes with full digits."""
    rng = random.Random(seed)
    price, t, lines = 60000.0, 1_704_067_200_000, []
    for _ in range(rows):
        o = price
        price = round(price * (1 + rng.gauss(0, 0.004)), 2)
        h = round(max(o, price) * (1 + abs(rng.gauss(0, 0.002))), 2)
        lo = round(min(o, price) * (1 - abs(rng.gauss(0, 0.002))), 2)
        vol = round(abs(rng.gauss(1500, 400)), 5)
        lines.append(f"{t},{o:.8f},{h:.8f},{lo:.8f},{price:.8f},{vol:.8f},{t + step_ms - 1},{vol * price:.8f},"
                     f"{rng.randint(20000, 90000)},{vol / 2:.8f},{vol * price / 2:.8f},0")
        t += step_ms
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("BTCUSDT-x.csv", "\n".join(lines) + "\n")
    return len(buf.getvalue())


def check_sizes() -> list[float]:
    """Print stated vs measured kline zip sizes; return the measured/stated ratios."""
    from capflow.data.plan import TYPICAL_BYTES

    hour, day = 3_600_000, 86_400_000
    cases = [("klines-monthly-1h", 744, hour), ("klines-monthly-4h", 186, 4 * hour), ("klines-monthly-1d", 31, day),
             ("klines-daily-1h", 24, hour), ("klines-daily-4h", 6, 4 * hour), ("klines-daily-1d", 1, day)]
    print("\nkline zip sizes: stated vs measured on synthetic BTCUSDT-like rows")
    ratios = []
    for key, rows, step in cases:
        got = _zipped_kline_bytes(rows, step)
        stated = TYPICAL_BYTES[key]
        ratios.append(got / stated)
        print(f"  {key:<20} stated {stated:>7,d} B   measured {got:>7,d} B   ratio {got / stated:.2f}")
    return ratios


def source_rows(plan_name: str, summary) -> list[Row]:
    """One informational row per source of a :func:`capflow.data.plan.summarize` table (total last)."""
    out = []
    for r in summary.itertuples(index=False):
        cond = f" + {int(r.conditional):,d} conditional ({r.mb_conditional:,.1f} MB)" if r.conditional else ""
        out.append(info(AREA, f"{plan_name}: {r.source}",
                        f"{int(r.requests):,d} requests ({r.mb:,.1f} MB, >= {r.min_seconds:,.0f} s){cond}"))
    return out


def main() -> None:
    ap = _rows.parser(__doc__)
    ap.add_argument("--start", default="2023-01-01")
    ap.add_argument("--now", default=None, help="plan as of this UTC time (default: now)")
    args = ap.parse_args()
    _rows.isolate()  # offline, private cache: nothing is fetched or written

    import pandas as pd

    from capflow.data import plan

    now = pd.Timestamp(args.now, tz="UTC") if args.now else pd.Timestamp.now(tz="UTC")
    span = f"{args.start}..{now:%Y-%m-%d}"
    print(f"request plan for the whole registry, {args.start} .. {now:%Y-%m-%d %H:%M} UTC (computed, not fetched)")
    rows, took = [], {}
    with pd.option_context("display.width", 200):
        for freqs in (("1d",), ("1h",), ("1d", "1h")):
            t0 = time.perf_counter()
            reqs = plan.registry_plan(args.start, None, freqs, now=now)
            took["+".join(freqs)] = time.perf_counter() - t0
            summary = plan.summarize(reqs)
            print(f"\nfreq {'+'.join(freqs)}: {len(reqs):,d} planned requests, plan computed in "
                  f"{took['+'.join(freqs)] * 1000:.0f} ms")
            print(summary.to_string(index=False))
        rows += source_rows(f"registry 1d+1h {span}", summary)
        summary, took["derivatives"], n_perps = derivatives(args.start, now)
        rows += source_rows(f"derivatives of {n_perps} perpetuals", summary)
    rows.append(info(AREA, "time to compute the plans (1d+1h / derivatives)",
                     f"{1e3 * took['1d+1h']:.0f} ms / {1e3 * took['derivatives']:.0f} ms"))
    ratios = check_sizes()
    rows.append(info(AREA, "kline zip sizes, measured / stated (6 kinds)", f"{min(ratios):.2f}-{max(ratios):.2f}"))
    _rows.emit(rows, "request plans (computed, nothing fetched)")


def derivatives(start: str, now):
    """Print and return the summary of the perpetuals' plan, the seconds it took and the number of perpetuals:
    funding (monthly zips + REST) and open interest (daily metrics zips)."""
    from capflow import assets
    from capflow.data import plan

    t0 = time.perf_counter()
    perps = [a for a in assets.REGISTRY if a.binance_perp]
    reqs = [r for a in perps for r in plan.derivatives_plan(a.binance_perp, start, None, now, a.id)]
    took = time.perf_counter() - t0
    print(f"\nderivatives (funding + open interest) of the {len(perps)} perpetuals: {len(reqs):,d} planned "
          f"requests, computed in {took * 1000:.0f} ms")
    summary = plan.summarize(reqs)
    print(summary.to_string(index=False))
    return summary, took, len(perps)


if __name__ == "__main__":
    main()
