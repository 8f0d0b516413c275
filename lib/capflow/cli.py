"""The ``capflow`` command: ``fetch``, ``quality``, ``run``, ``list``, ``validate``.

Each sub-command lives in a module of :mod:`capflow.commands` exposing ``register(subparsers)``; this module
only wires them and turns capflow's one-line errors into a clean exit.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

from capflow import __version__

COMMAND_MODULES: tuple[str, ...] = ("capflow.commands.data", "capflow.commands.run", "capflow.commands.catalog",
                                    "capflow.commands.sources")


def _cmd_list(args: argparse.Namespace) -> int:
    from capflow import assets

    for a in assets.expand(args.group) if args.group else assets.REGISTRY:
        print(f"{a.symbol:<10} {a.id:<20} {a.kind:<7} {a.calendar:<5} {','.join(a.tags)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="capflow",
        description="capflow: risk-capital flows between AI equities and crypto. Data, studies and reports.",
        epilog="Examples:\n  capflow fetch --assets TAO,NVDA --start 2024-01-01\n  capflow quality --assets ai_token\n"
               "  capflow run --all --jobs 2\n  capflow list --group ai_token",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"capflow {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = sub.add_parser("list", help="list registry assets (optionally one group)")
    p.add_argument("--group", help="asset names or group tags, comma separated (e.g. ai_token)")
    p.set_defaults(func=_cmd_list)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``capflow`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, FileNotFoundError) as exc:  # capflow's errors are one line, made for people
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"capflow {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except OSError as exc:  # a fault of the machine (disk full, permissions): one line, never a traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"capflow {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
