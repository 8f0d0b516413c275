"""Runs INSIDE a pooled report kernel: pre-import the heavy modules once, then reset state between runs.

The runner (:mod:`capflow.report.pool`) calls :func:`warm` right after the kernel starts and :func:`reset` before
every run, each as one silent expression, so that a run in a reused kernel sees what it would see in a fresh one:
an empty namespace with execution count 1, the run's own environment and working directory, the warning filters,
matplotlib settings (inline backend), pandas and numpy options, logging and ``sys.path`` as they were right after
the warm-up, and no open figure. Imported modules stay loaded (that is the point); state a notebook writes into a
library module's globals is not undone.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import os
import sys
import time
import warnings
from typing import Any

#: Modules a pooled kernel imports right after it starts when the queued notebooks use capflow (whose analyses
#: import several of them lazily); a missing one is skipped.
DEFAULT_MODULES: tuple[str, ...] = (
    "numpy", "pandas", "matplotlib", "matplotlib.pyplot", "scipy.stats", "statsmodels.api", "seaborn",
    "IPython.display", "capflow", "capflow.assets", "capflow.calendars", "capflow.data", "capflow.data.quality",
    "capflow.returns", "capflow.eventstudy", "capflow.cascade", "capflow.capex", "capflow.capex_inference",
    "capflow.divergence", "capflow.plots", "capflow.plots.cascade", "capflow.plots.capex",
    "capflow.plots.divergence", "capflow.studies", "capflow.studies.show", "capflow.studies.quality",
    "capflow.studies.cascade", "capflow.studies.cascades", "capflow.studies.capex", "capflow.studies.divergence",
)

#: State recorded by :func:`warm` and restored by :func:`reset`.
BASELINE: dict[str, Any] = {}


def _import_all(modules: list[str]) -> tuple[list[str], dict[str, str]]:
    done, failed = [], {}
    for name in modules:
        try:
            importlib.import_module(name)
            done.append(name)
        except Exception as exc:  # noqa: BLE001 - a notebook's own import error belongs to that notebook
            failed[name] = f"{type(exc).__name__}: {exc}"[:200]
    return done, failed


def _inline_config() -> dict[str, Any] | None:
    mod = sys.modules.get("matplotlib_inline.config")
    if mod is None:
        return None
    cfg = mod.InlineBackend.instance()
    return {"figure_formats": set(cfg.figure_formats), "print_figure_kwargs": dict(cfg.print_figure_kwargs),
            "close_figures": cfg.close_figures}


def snapshot() -> dict[str, Any]:
    """The interpreter state :func:`reset` restores (taken once, after the warm-up imports)."""
    state: dict[str, Any] = {"filters": list(warnings.filters), "showwarning": warnings.showwarning,
                             "sys_path": list(sys.path), "inline": _inline_config()}
    root = logging.getLogger()
    state["logging"] = (root.level, list(root.handlers), logging.root.manager.disable)
    if "matplotlib" in sys.modules:
        mpl = sys.modules["matplotlib"]
        state["rc"] = {k: v for k, v in mpl.rcParams.copy().items() if k != "backend"}
        state["interactive"] = mpl.is_interactive()
    if "numpy" in sys.modules:
        np = sys.modules["numpy"]
        state["np_print"], state["np_err"] = np.get_printoptions(), np.geterr()
    return state


def warm(modules: list[str], launch_env: dict[str, str]) -> str:
    """Import ``modules``; record the baseline state; return a JSON summary (imported, failed, seconds).

    ``launch_env`` is the environment the runner launched the kernel with: variables the launcher added on top
    of it (``JPY_*``, kernelspec ``env``) are kept in every run's environment.
    """
    t0 = time.perf_counter()
    done, failed = _import_all(list(modules))
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None and hasattr(plt, "_get_backend_mod"):  # load the (inline) backend as a notebook's first
        plt._get_backend_mod()  # figure would: its IPython integration (interactive mode) is part of the baseline
    BASELINE.clear()
    BASELINE.update(snapshot())
    BASELINE["launch_extra"] = {k: v for k, v in os.environ.items() if launch_env.get(k) != v}
    gc.collect()
    gc.freeze()  # the imported modules live as long as the kernel: later collections need not traverse them
    return json.dumps({"imported": done, "failed": failed, "seconds": round(time.perf_counter() - t0, 3),
                       "pid": os.getpid()})


def _restore_matplotlib() -> None:
    mpl = sys.modules.get("matplotlib")
    if mpl is None:
        return
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mpl.rc_file_defaults()  # what a fresh import reads (matplotlibrc); keeps the backend (style-blacklisted)
        if "rc" in BASELINE:
            mpl.rcParams.update(BASELINE["rc"])
            mpl.interactive(BASELINE["interactive"])
    inline = BASELINE.get("inline")
    if inline is not None and "matplotlib_inline.config" in sys.modules:
        cfg = sys.modules["matplotlib_inline.config"].InlineBackend.instance()
        cfg.print_figure_kwargs, cfg.close_figures = dict(inline["print_figure_kwargs"]), inline["close_figures"]
        cfg.figure_formats = set(inline["figure_formats"])  # re-selects the formatters (observer)


def _restore_libraries() -> None:
    pd = sys.modules.get("pandas")
    if pd is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated options warn when reset
            pd.reset_option("all")
    np = sys.modules.get("numpy")
    if np is not None and "np_print" in BASELINE:
        np.set_printoptions(**BASELINE["np_print"])
        np.seterr(**BASELINE["np_err"])
    level, handlers, disabled = BASELINE.get("logging", (logging.WARNING, [], logging.NOTSET))
    root = logging.getLogger()
    root.setLevel(level)
    root.handlers[:] = handlers
    logging.disable(disabled)


def reset(env: dict[str, str], cwd: str) -> None:
    """Make this kernel look fresh for the next run: see the module docstring for what is restored.

    Parameters
    ----------
    env : dict
        The run's whole environment (:func:`capflow.report.environment.kernel_env`): ``os.environ`` becomes
        exactly this plus the launcher's own variables.
    cwd : str
        The run's working directory.
    """
    _restore_matplotlib()
    ip = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
    if ip is not None:
        ip.reset(new_session=True)  # user namespace, In/Out, execution count back to 1
    os.environ.clear()
    os.environ.update({**env, **BASELINE.get("launch_extra", {})})
    warnings.resetwarnings()
    warnings.filters[:] = BASELINE.get("filters", warnings.filters)
    warnings.showwarning = BASELINE.get("showwarning", warnings.showwarning)
    warnings._filters_mutated()  # type: ignore[attr-defined] - invalidate the per-module "once" registries
    sys.path[:] = BASELINE.get("sys_path", sys.path)
    _restore_libraries()
    os.chdir(cwd)
