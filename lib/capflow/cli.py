"""The ``capflow`` command: ``fetch``, ``quality``, ``run``, ``validate``, ``list``, ``catalog``, ``sources``.

Each sub-command lives in a module of :mod:`capflow.commands` exposing ``register(subparsers)``; this module
only wires them and turns capflow's one-line errors into a clean exit. Only the module of the command being run
is imported (``capflow --help`` and ``capflow list`` import no data library), so the command starts fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from capflow import __version__
from capflow.commands import COMMANDS

#: Every command module (``build_parser(full=True)`` registers them all).
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(m for m, _ in COMMANDS.values()))


def _cmd_list(args: argparse.Namespace) -> int:
    from capflow import assets

    for a in assets.expand(args.group) if args.group else assets.REGISTRY:
        print(f"{a.symbol:<10} {a.id:<20} {a.kind:<7} {a.calendar:<5} {','.join(a.tags)}")
    return 0


def build_parser(command: str | None = None, full: bool = True) -> argparse.ArgumentParser:
    """The argument parser: every sub-command listed; ``full`` registers every module, else only the module of
    ``command`` (the others are stubs that only carry their help line: fast start)."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="capflow",
        description="capflow: risk-capital flows between AI equities and crypto. Data, studies and reports.",
        epilog="Examples:\n  capflow fetch --assets TAO,NVDA --start 2024-01-01\n  capflow quality --assets ai_token\n"
               "  capflow run --all --jobs 2\n  capflow list --group ai_token\n  capflow sources --plan",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"capflow {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = sub.add_parser("list", help="list registry assets (optionally one group)")
    p.add_argument("--group", help="asset names or group tags, comma separated (e.g. ai_token)")
    p.set_defaults(func=_cmd_list)
    wanted = COMMAND_MODULES if full else tuple(dict.fromkeys(m for n, (m, _) in COMMANDS.items() if n == command))
    for name in wanted:
        importlib.import_module(name).register(sub)
    for name, (_, text) in COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=text)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (the first word that is one), or None."""
    return next((a for a in argv if a in COMMANDS or a == "list"), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``capflow`` console script; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_of(argv)
    parser = build_parser(command, full=command is None and not any(a in ("-h", "--help") for a in argv))
    args = parser.parse_args(argv)
    if args.verbose or command not in (None, "list"):
        import logging

        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="%(levelname)s %(message)s")
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
