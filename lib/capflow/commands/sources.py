"""``capflow sources``: the resolution order, each source's limits, and (``--plan``) the request plan."""

from __future__ import annotations

import argparse

from capflow.commands import COMMANDS

EPILOG = """Examples:
  capflow sources                                   resolution order and limits of every source
  capflow sources --plan                            requests and bytes to fetch the registry, 2023-01-01 to today
  capflow sources --plan --assets TAO --freq 1h --urls   every URL of one asset's hourly plan

The plan is computed, never fetched: dump file counts times the typical sizes stated in capflow.data.plan.
'conditional' requests are fallbacks (perpetual bars where spot has none) made only when the first choice is
missing. min_seconds is the definite requests at each client's rate limit."""

#: What the live layer asks today (capflow.data.resolve); Binance and SEC are available as modules.
LIVE_CHAIN = "crypto: coingecko (1d, 1h); equities: yahoo (1d)"


def register(sub: "argparse._SubParsersAction") -> None:
    """Add ``sources`` to the CLI parser."""
    p = sub.add_parser("sources", help=COMMANDS["sources"][1],
                       description="Print the resolution order (CAPFLOW_SOURCES), what each source serves and its "
                                   "limits (history depth, rate limit, key), and with --plan the requests a full "
                                   "fetch would make.", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--plan", action="store_true", help="also print the request plan (computed, not fetched)")
    p.add_argument("--assets", default=None, help="asset symbols or group tags (default: the whole registry)")
    p.add_argument("--start", default="2023-01-01", help="first date of the plan, UTC (default 2023-01-01)")
    p.add_argument("--end", default=None, help="last date of the plan, UTC (default: today)")
    p.add_argument("--freq", default="1d,1h", help="bar frequencies of the plan, comma separated from 1d,4h,1h "
                                                    "(default 1d,1h)")
    p.add_argument("--urls", action="store_true", help="with --plan: also print every planned URL")
    p.set_defaults(func=cmd_sources)


def source_table() -> list[dict[str, str]]:
    """One row per source: layer, what it serves, history depth, rate limit, what it needs, status."""
    import os

    from capflow import config

    cg = "pro key set" if os.environ.get("COINGECKO_PRO_API_KEY") else (
        "demo key set" if os.environ.get("COINGECKO_DEMO_API_KEY") or os.environ.get("COINGECKO_API_KEY")
        else "no key (public)")
    ua = "set" if config.sec_user_agent(required=False) else "NOT SET"
    snap = config.snapshot_dir()
    return [
        dict(source="cache", layer="cache", serves="parquet copies of earlier fetches", history="what was fetched",
             rate="-", needs="-", status=str(config.cache_dir())),
        dict(source="coingecko", layer="live", serves="crypto 1d, 1h (price, market cap, volume)",
             history="public/demo: past 365 days; pro: full", rate="30/min (public, demo), 500/min (pro)",
             needs="optional COINGECKO_DEMO_API_KEY / COINGECKO_PRO_API_KEY", status=cg),
        dict(source="yahoo", layer="live", serves="equities 1d; crypto 1d via BTC-USD-style tickers",
             history="daily: full; hourly: past 730 days", rate="unpublished (one batch call per request)",
             needs="-", status="ok"),
        dict(source="binance dumps", layer="module", serves="crypto spot/perp 1d, 4h, 1h; funding, open interest",
             history="full, from each listing (monthly files; daily for the current month)",
             rate="unpublished (capflow: 10 req/s)", needs="-", status="sha256-checked"),
        dict(source="binance REST", layer="module", serves="days not dumped yet (1000 bars per request)",
             history="full", rate="api 6000 weight/min (klines 2), fapi 2400/min (1000 bars: 5)",
             needs="not a refused region (HTTP 451 e.g. from the US)", status="capflow: 10 req/s"),
        dict(source="sec edgar", layer="module", serves="hyperscaler capex (XBRL), earnings 8-K times",
             history="full filing history", rate="10 req/s across sec.gov hosts",
             needs="CAPFLOW_SEC_USER_AGENT (name + e-mail)", status=ua),
        dict(source="snapshot", layer="snapshot", serves="crypto, equities, derivatives, catalogs (CSV)",
             history="2023-01 to 2026 (see its README)", rate="-", needs="nothing: embedded data/snapshot (CAPFLOW_SNAPSHOT for another)",
             status=str(snap) if snap else "not found"),
    ]


def _freqs(text: str) -> list[str]:
    from capflow.data.plan import FREQS

    out = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in out if f not in FREQS]
    if bad or not out:
        raise ValueError(f"--freq {text!r} is invalid; use one or more of {', '.join(FREQS)}, comma separated")
    return out


def cmd_sources(args: argparse.Namespace) -> int:
    """Run ``capflow sources``."""
    import pandas as pd

    from capflow import config

    order = config.source_order()
    if args.plan:  # check every input before printing anything
        from capflow import assets
        from capflow.calendars import utc_timestamp

        args.freqs = _freqs(args.freq)
        lo = utc_timestamp(args.start, "start")
        if args.end is not None and utc_timestamp(args.end, "end") < lo:
            raise ValueError(f"parameter end={args.end!r} is before start={args.start!r}; give start <= end")
        args.pool = assets.expand(args.assets) if args.assets else None
    offline = " (offline: live skipped)" if config.offline() else ""
    print(f"resolution order (CAPFLOW_SOURCES): {' -> '.join(order)}{offline}")
    print(f"live layer asks: {LIVE_CHAIN}; 'module' sources are called directly (capflow.data.binance, "
          "capflow.data.edgar)")
    for r in source_table():
        print(f"{r['source']:<14} [{r['layer']}] {r['serves']}")
        print(f"{'':<14} history: {r['history']}; rate limit: {r['rate']}; needs: {r['needs']}; status: "
              f"{r['status']}")
    if args.plan:
        with pd.option_context("display.width", 200):
            _print_plan(args)
    return 0


def _print_plan(args: argparse.Namespace) -> None:
    from capflow.data import plan

    pool = args.pool
    reqs = plan.registry_plan(args.start, args.end, args.freqs, pool)
    print()
    print(f"request plan {args.start} .. {args.end or 'today'}, freq {args.freq}, "
          f"{'all registry assets' if pool is None else ', '.join(a.symbol for a in pool)} (computed, not fetched):")
    print(plan.summarize(reqs).to_string(index=False))
    if args.urls:
        for r in reqs:
            query = "&".join(f"{k}={v}" for k, v in r.params)
            kind = "conditional" if r.conditional else "definite"
            print(f"{r.source}\t{kind}\t{r.url}{'?' + query if query else ''}")
