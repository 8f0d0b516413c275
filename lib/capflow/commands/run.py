"""``capflow run`` and ``capflow validate``: execute the notebooks of ``reports.yaml`` and publish HTML."""

from __future__ import annotations

import argparse
import sys

from capflow.commands import COMMANDS

RUN_EPILOG = """Examples:
  capflow run --all --jobs 2                       every run of reports.yaml on two warm kernels
  capflow run --all --isolate                      one fresh kernel per run (slower, nothing shared)
  capflow run cascade_2025_10_10                   one run
  capflow run divergence -p base_date=2025-01-02   override a parameter (values are YAML: 5, 0.1, [a, b])
  capflow validate --all                           check every run's parameters, execute nothing

Parameters are checked against each notebook's `parameters` cell before any kernel starts: unknown names,
wrong types and invalid date ranges are refused. Data: online by default; offline on the snapshot when
CAPFLOW_SNAPSHOT or CAPFLOW_OFFLINE is set, or the network is unreachable. Output: DIR/index.html,
DIR/manifest.json and DIR/runs/<name>/ (executed notebook, full and code-free HTML, results CSV/JSON, log).
Kernels: --jobs N kernels are started once, pre-import numpy, pandas, matplotlib, scipy, statsmodels, seaborn
and capflow, and run the queued notebooks one after another; before each run the kernel's namespace,
environment, working directory, warning filters, rcParams and pandas/numpy options are reset. A kernel that
dies or times out is replaced. --isolate runs every notebook in a fresh kernel instead.
Offline, a run whose notebook, parameters, capflow source, data files and environment are unchanged since its
last successful run in DIR is skipped (its previous pages are kept and linked); --force re-runs it.
Exit code: 0 all runs ok, 1 a run failed or its notebook is missing, 2 invalid arguments."""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME", help="run names from the run list")
    p.add_argument("--all", action="store_true", dest="all_runs", help="every run of the run list")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter for every selected run (repeatable; value parsed as YAML)")
    p.add_argument("--config", default=None, metavar="FILE", help="run list (default: reports.yaml)")


def register(sub: "argparse._SubParsersAction") -> None:
    """Add ``run`` and ``validate`` to the CLI parser."""
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("run", help=COMMANDS["run"][1], epilog=RUN_EPILOG,
                       formatter_class=fmt, description="Execute notebooks from reports.yaml with papermill, render "
                       "HTML with nbconvert, write an index and a run manifest.")
    _common(p)
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="runs executed in parallel (default 1)")
    p.add_argument("--output", default=None, metavar="DIR", help="output folder (default: reports/)")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S", help="per-cell timeout, seconds (600)")
    p.add_argument("--no-html", action="store_false", dest="html", help="skip the HTML pages")
    p.add_argument("--kernel", default="python3", help="Jupyter kernel name (default python3)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--isolate", action="store_true",
                   help="one fresh kernel per run (default: --jobs warm kernels, reused with their state reset)")
    p.add_argument("--force", action="store_true",
                   help="re-run every run (default: skip offline runs unchanged since their last success)")
    p.set_defaults(func=cmd_run)
    v = sub.add_parser("validate", help=COMMANDS["validate"][1],
                       epilog=RUN_EPILOG, formatter_class=fmt)
    _common(v)
    v.set_defaults(func=cmd_validate)


def _selected(args: argparse.Namespace):
    from capflow.report import load_runs, parse_assignments, select

    return select(load_runs(args.config), args.names, args.all_runs), parse_assignments(args.param)


def check_run_options(args: argparse.Namespace) -> None:
    """Refuse bad ``capflow run`` options before any work starts (one line naming the option)."""
    if args.jobs < 1:
        raise ValueError(f"--jobs {args.jobs}: must be a positive number of parallel runs, e.g. --jobs 2")
    if not (args.timeout >= 0) or args.timeout == float("inf"):
        raise ValueError(f"--timeout {args.timeout:g}: must be a positive number of seconds per cell "
                         "(0 means no limit), e.g. --timeout 600")


class Terminated(BaseException):
    """SIGTERM received: stop like Ctrl-C (nothing published, the previous report kept)."""


def _on_sigterm(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    raise Terminated()


def cmd_run(args: argparse.Namespace) -> int:
    """Execute the selected runs; print where the index is; return the exit code.

    Ctrl-C or SIGTERM before the report is published leaves the previous report whole: one line, exit 130
    (interrupt) or 1 (terminated, disk full).
    """
    import signal

    from capflow.report import run_reports
    from capflow.report.staging import ReportAborted

    check_run_options(args)
    runs, overrides = _selected(args)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        out = run_reports(runs, overrides, jobs=args.jobs, output=args.output, timeout=args.timeout or None,
                          html=args.html, kernel=args.kernel, progress=not args.quiet, force=args.force,
                          isolate=args.isolate)
    except KeyboardInterrupt:
        print("capflow run: interrupted; nothing was published and the previous report is unchanged",
              file=sys.stderr)
        return 130
    except Terminated:
        print("capflow run: terminated; nothing was published and the previous report is unchanged",
              file=sys.stderr)
        return 1
    except ReportAborted as exc:
        print(f"capflow run: error: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    m = out.manifest
    print(f"{m['data']['note']}", file=sys.stderr)
    w = max((len(r["name"]) for r in m["runs"]), default=0)
    for r in m["runs"]:
        tail = f": {r['error']}" if r["error"] else ""
        if r["status"] == "skipped":
            tail = f" (unchanged since {r['started']}; --force re-runs it)"
        print(f"{r['status']:<8} {r['name']:<{w}} {r['duration_s']:7.1f} s{tail}")
    print(f"index: {out.index}")
    return out.exit_code


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate the selected runs' parameters; print each run's effective parameters."""
    from capflow.report import notebook_parameters

    runs, overrides = _selected(args)
    w = max((len(r.name) for r in runs), default=0)
    for r in runs:
        if not r.exists:
            print(f"missing  {r.name:<{w}} {r.notebook.name} does not exist yet")
            continue
        given = r.resolve(overrides)
        specs = notebook_parameters(r.notebook)
        shown = ", ".join(f"{n}={given.get(n, s.default)!r}" for n, s in specs.items() if n != "output_dir")
        print(f"ok       {r.name:<{w}} {shown}")
    return 0
