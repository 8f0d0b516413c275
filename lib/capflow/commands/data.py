"""``capflow fetch`` and ``capflow quality``: fill the cache, and check the data before an analysis."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import TYPE_CHECKING

from capflow.commands import COMMANDS

if TYPE_CHECKING:  # pandas is imported by the commands that need it: `capflow --help` starts fast
    import pandas as pd

_ASSETS_HELP = "asset symbols, ids or group tags, comma separated (e.g. TAO,NVDA or ai_token,hyperscaler)"
_FREQS = ("1d", "1h", "4h")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--assets", required=True, help=_ASSETS_HELP)
    p.add_argument("--start", required=True, help="first date, inclusive, UTC (YYYY-MM-DD)")
    p.add_argument("--end", default=None, help="last date, inclusive, UTC (default: today)")
    p.add_argument("--freq", default="1d", help=f"bar frequency: {', '.join(_FREQS)} (default 1d)")
    p.add_argument("--sources", default=None,
                   help="resolution order, comma separated from cache,live,snapshot (default: CAPFLOW_SOURCES "
                        "or cache,live,snapshot)")


def register(sub: "argparse._SubParsersAction") -> None:
    """Add ``fetch`` and ``quality`` to the CLI parser."""
    p = sub.add_parser(
        "fetch", help=COMMANDS["fetch"][1],
        description="Resolve each asset through cache, live sources (Binance, CoinGecko, Yahoo) and the snapshot, "
                    "write live results to the parquet cache, and print a table of layer, original sources, rows "
                    "and which source gave which span per asset. Offline (CAPFLOW_OFFLINE=1 or no network) it says what it used.",
        epilog="Examples:\n  capflow fetch --assets TAO,NVDA --start 2024-01-01\n"
               "  capflow fetch --assets BTC,ETH --start 2025-09-25 --end 2025-10-23 --freq 1h",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_fetch)
    q = sub.add_parser(
        "quality", help=COMMANDS["quality"][1],
        description="One row per asset: coverage against its own calendar (24/7 for crypto, exchange sessions "
                    "for equities), the longest gap, duplicates, non-positive values, stale runs, outlier jumps "
                    "and switches between daily closes and intraday snapshots.",
        epilog="Example:\n  capflow quality --assets ai_token --start 2023-01-01 --issues",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(q)
    q.add_argument("--issues", action="store_true", help="also list every issue (gaps, jumps, switches...)")
    q.add_argument("--csv", default=None, help="also write the quality table to this CSV file")
    q.set_defaults(func=cmd_quality)


def _sources(arg: str | None) -> list[str] | None:
    return [s for s in arg.split(",") if s.strip()] if arg else None


def fetch_summary(frame: pd.DataFrame, spans: dict[str, str] | None = None) -> pd.DataFrame:
    """Per asset: layer, which source gave which span (or the original sources), rows, first, last; or the reason
    it was dropped."""
    import pandas as pd

    from capflow import assets
    from capflow.data import provenance_table

    table = provenance_table(frame)
    table["sources"] = table["sources"].map(_short_sources)
    if spans:
        table["sources"] = [spans.get(a, s) for a, s in zip(table["asset"], table["sources"])]
    for c in ("first", "last"):
        table[c] = table[c].astype(str).str[:19]
    drops = [{"asset": a, "symbol": assets.symbol(a), "layer": "-", "sources": f"no data: {why}", "rows": 0}
             for a, why in frame.attrs.get("dropped", {}).items()]
    return pd.concat([table, pd.DataFrame(drops)], ignore_index=True) if drops else table


def format_fetch(table: pd.DataFrame) -> str:
    """One line per asset (symbol, layer, rows, first..last), then which source gave which span, indented."""
    import pandas as pd

    lines = [f"{'asset':<10} {'layer':<9} {'rows':>6}  span"]
    for r in table.itertuples():
        span = f"{str(r.first)[:10]}..{str(r.last)[:10]}" if isinstance(r.first, str) and r.first else "-"
        rows = int(r.rows) if pd.notna(r.rows) else 0
        lines.append(f"{r.symbol:<10} {r.layer:<9} {rows:>6}  {span}")
        lines.append(f"{'':<10} {r.sources}")
    return "\n".join(lines)


def _short_sources(text: str, width: int = 28) -> str:
    """Shorten long source tags (equity tags name whole repositories) for a terminal table."""
    parts = [p if len(p) <= width + 8 else p[:width] + "..." + p[p.rfind(" ("):] for p in str(text).split("), ")]
    return "), ".join(parts)


def cmd_fetch(args: argparse.Namespace) -> int:
    """Run ``capflow fetch``: resolve, cache, print the provenance summary."""
    from tqdm import tqdm

    from capflow.data import load_prices, validate_request
    from capflow.data.store import resolution_order

    req = validate_request(args.assets, args.start, args.end, args.freq)
    resolution_order(_sources(args.sources))
    with tqdm(total=len(req.assets), desc="fetch", unit="asset", disable=args.no_progress, file=sys.stderr) as bar:
        def step(asset_id: str) -> None:
            bar.set_postfix_str(asset_id)
            bar.update(1)

        frame = load_prices([a.id for a in req.assets], args.start, args.end, freq=args.freq,
                            sources=_sources(args.sources), missing="drop", progress=step)
    from capflow.data.store import load_sources, source_spans

    spans = source_spans(load_sources(list(frame.columns), args.start, args.end, args.freq,
                                      sources=_sources(args.sources)))
    print(format_fetch(fetch_summary(frame, spans)))
    return 0


QUALITY_COLUMNS = ("symbol", "layer", "first", "last", "rows", "expected", "coverage_pct", "request_coverage_pct",
                   "gaps", "longest_gap_start", "longest_gap_end", "longest_gap_missing", "duplicates",
                   "non_positive", "stale_runs", "outliers", "clock_switches", "first_clock_switch")


def cmd_quality(args: argparse.Namespace) -> int:
    """Run ``capflow quality``: print the quality table (and the issues with ``--issues``)."""
    import pandas as pd

    from capflow.data import quality

    report = quality.quality_report(args.assets, args.start, args.end, args.freq, sources=_sources(args.sources))
    if args.csv:
        report.to_csv(args.csv, index=False)
    show = report[list(QUALITY_COLUMNS)].copy()
    for c in ("first", "last", "longest_gap_start", "longest_gap_end", "first_clock_switch"):
        show[c] = show[c].astype(str).str[:16].replace({"NaT": "-", "nan": "-"})
    with pd.option_context("display.width", 250, "display.max_columns", 40, "display.float_format", "{:.1f}".format):
        print(show.to_string(index=False))
        if args.issues:
            issues = quality.quality_issues(args.assets, args.start, args.end, args.freq, sources=_sources(args.sources))
            print()
            print(issues.to_string(index=False) if len(issues) else "no issues found")
    return 0


def _quiet_warnings() -> None:  # pragma: no cover - kept for interactive use
    warnings.simplefilter("default")
