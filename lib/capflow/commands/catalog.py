"""``capflow catalog capex``: show the shipped capex catalog, or rebuild it from SEC EDGAR and show what changed."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from capflow.commands import COMMANDS

EPILOG = """Examples:
  capflow catalog capex                                   summary of the shipped catalog
  capflow catalog capex --refresh                         rebuild all five from EDGAR, print the differences
  capflow catalog capex --refresh --tickers MSFT,META --out capex_edgar.csv

--refresh needs CAPFLOW_SEC_USER_AGENT (a name and contact e-mail; SEC requires it) and the network. Capex is
the quarter's cash purchases of property and equipment from XBRL companyfacts (YTD values differenced; Q4 =
annual minus nine months); the release date and timing come from the earnings 8-K (Item 2.02), its acceptance
time read from the filing's SGML header. Guidance is not in XBRL: it is carried over from the shipped catalog.
The rebuilt file is written atomically to --out or to the default below; the shipped catalog (the snapshot's
events/capex_announcements.csv) is never written. Releases during the session are listed but not written (the
catalog's timing rules need before open / after close). Exit code: 0 ok, 1 a source failed, 2 invalid input."""


def default_out() -> Path:
    """Where ``--refresh`` writes when ``--out`` is not given (inside the git-ignored cache folder)."""
    from capflow import config

    return config.cache_dir() / "catalogs" / "capex_announcements.edgar.csv"


def register(sub: "argparse._SubParsersAction") -> None:
    """Add ``catalog`` (sub-command ``capex``) to the CLI parser."""
    p = sub.add_parser("catalog", help=COMMANDS["catalog"][1],
                       description="Event catalogs that the studies key on.")
    csub = p.add_subparsers(dest="catalog", metavar="CATALOG", required=True)
    c = csub.add_parser("capex", help="hyperscaler capex releases: show, or rebuild from SEC EDGAR (--refresh)",
                        description="Show the shipped capex catalog, or rebuild it from SEC EDGAR and print the "
                                    "differences (new releases, changed capex, dates, timing).",
                        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("--refresh", action="store_true", help="rebuild from SEC EDGAR (network, CAPFLOW_SEC_USER_AGENT)")
    c.add_argument("--out", default=None, metavar="FILE",
                   help="write the rebuilt catalog here (default: <cache>/catalogs/capex_announcements.edgar.csv)")
    c.add_argument("--force", action="store_true", help="replace an existing --out file")
    c.add_argument("--tickers", default=None, help="companies, comma separated (default MSFT,GOOGL,AMZN,META,ORCL)")
    c.add_argument("--since", default="2022-10-01", help="first fiscal quarter end kept (default 2022-10-01)")
    c.add_argument("--catalog", default=None, metavar="FILE",
                   help="shipped catalog to compare with (default: the snapshot's events/capex_announcements.csv)")
    c.add_argument("--no-verify-headers", action="store_false", dest="verify_headers",
                   help="trust the submissions JSON acceptance times instead of one SGML header per release")
    c.set_defaults(func=cmd_capex)


def _summary(cat) -> None:
    import pandas as pd

    g = cat.groupby("ticker")
    table = pd.DataFrame({"releases": g.size(), "first": g["announce_date"].min().dt.strftime("%Y-%m-%d"),
                          "last": g["announce_date"].max().dt.strftime("%Y-%m-%d"),
                          "with_capex": g["capex_usd"].count(), "inferred_dates": g["inferred"].sum(),
                          "with_guidance": g["guidance_mid_usd"].count()})
    print(f"capex catalog {cat.attrs.get('origin')}: {len(cat)} releases")
    print(table.to_string())
    print("rebuild from SEC EDGAR and compare: capflow catalog capex --refresh")


def check_out(path: Path, shipped_origin: str | None, force: bool) -> Path:
    """Validate the output path: never the shipped catalog or the snapshot folder; existing files need --force.

    Raises
    ------
    ValueError
        One line naming ``--out`` and what is valid.
    """
    from capflow import config

    path = Path(path).expanduser().resolve()
    snap = config.snapshot_dir()
    if shipped_origin and path == Path(shipped_origin).resolve():
        raise ValueError(f"--out {path} is the shipped catalog, which is never overwritten; write elsewhere and "
                         "pass that file to capex.load_announcements(path=...)")
    if snap is not None and (path == snap or snap in path.parents):
        raise ValueError(f"--out {path} is inside the snapshot folder {snap}, which is read-only input; write "
                         "elsewhere")
    if path.suffix.lower() != ".csv":
        raise ValueError(f"--out {path} must be a .csv file")
    if path.exists() and not force and path != default_out().resolve():
        raise ValueError(f"--out {path} exists; pass --force to replace it or choose another file")
    return path


def write_atomic(frame, path: Path) -> None:
    """Write a CSV next to ``path`` and move it into place in one step (no half-written file is ever seen)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            frame.to_csv(fh, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _print_diff(diff, during, unmatched: dict) -> None:
    import pandas as pd

    if diff is None:
        print("no shipped catalog: differences not computed")
    else:
        with pd.option_context("display.width", 200, "display.max_colwidth", 60):
            print(diff.to_string(index=False) if len(diff) else "no differences with the shipped catalog")
    for r in during.itertuples():
        print(f"not written (released during the session): {r.ticker} {r.fiscal_period} {r.release_utc}")
    for t, periods in unmatched.items():
        if periods:
            print(f"no 8-K Item 2.02 release found for {t}: {', '.join(periods)}")


def cmd_capex(args: argparse.Namespace) -> int:
    """Run ``capflow catalog capex``."""
    from capflow import capex
    from capflow.data import edgar
    from capflow.data.errors import SourceError

    if not args.refresh or args.catalog:
        shipped = capex.load_announcements(args.catalog)
    else:
        try:
            shipped = capex.load_announcements()
        except capex.CapexError as exc:  # no snapshot: rebuild anyway, nothing to compare with
            print(f"capflow catalog: note: nothing to compare with ({exc})", file=sys.stderr)
            shipped = None
    if not args.refresh:
        _summary(shipped)
        return 0
    origin = None if shipped is None else shipped.attrs.get("origin")
    out = check_out(Path(args.out) if args.out else default_out(), origin, args.force)
    try:
        new = edgar.build_capex_catalog(args.tickers, since=args.since, shipped=shipped,
                                        verify_headers=args.verify_headers)
    except SourceError as exc:
        print(f"capflow catalog: error: {exc}", file=sys.stderr)
        return 1
    diff = edgar.diff_catalog(new, shipped) if shipped is not None else None
    during = new[new["timing"] == "during session"]
    _print_diff(diff, during, new.attrs.get("unmatched", {}))
    keep = new[new["timing"] != "during session"]
    write_atomic(keep[list(edgar.CATALOG_COLUMNS + edgar.EXTRA_COLUMNS)], out)
    n_diff = "not compared" if diff is None else f"{len(diff)} differences"
    print(f"wrote {len(keep)} releases to {out} ({n_diff}); read it with "
          f"capflow.capex.load_announcements(path='{out}')")
    return 0
