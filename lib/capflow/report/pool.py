"""A warm kernel pool: ``--jobs N`` kernels, each started once, pre-importing the heavy modules, reused run after run.

Each :class:`KernelSlot` owns one kernel and is driven by one thread of the runner (jupyter_client's asyncio
calls run on that thread's own event loop). Right after the kernel starts, :func:`capflow.report.kernelside.warm`
imports numpy, pandas, matplotlib (inline backend), scipy.stats, statsmodels, seaborn, capflow and every module
the queued notebooks import; before each run :func:`capflow.report.kernelside.reset` clears the namespace and
restores the run's environment, working directory, warning filters, rcParams and library options. papermill then
executes the notebook on the slot's kernel manager (``km=``; nbclient neither starts nor shuts down a kernel it
does not own). A kernel that died or was left busy by a timed-out cell is replaced before the slot's next run.

The kernels are launched with the runs' scrubbed environment (:func:`capflow.report.environment.kernel_env`),
never this process's: credentials stay out of them as with one kernel per run.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import queue
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from jupyter_client.session import Session
from jupyter_core.utils import run_sync

from capflow.report.kernel import CapflowKernelManager, NOISE
from capflow.report.kernelside import DEFAULT_MODULES

log = logging.getLogger(__name__)
RUN_VARIABLES = ("CAPFLOW_RUN_NAME",)  # differ between runs: set by reset, not at launch
HISTORY_ARG = "--HistoryManager.hist_file=:memory:"  # as nbclient launches its kernels: no history database


class KernelSlotError(RuntimeError):
    """A pooled kernel failed to start, warm up or reset (one line)."""


def notebook_imports(paths: Iterable[str]) -> list[str]:
    """Absolute module names imported at top level of code cells of the notebooks (``from a import b``: ``a``
    and ``a.b``, which may be a module); unreadable notebooks and cells that do not parse are skipped."""
    from capflow.report.params import notebook_cells

    names: dict[str, None] = {}
    for path in dict.fromkeys(paths):
        try:
            cells = notebook_cells(path)
        except Exception:  # noqa: BLE001 - the run itself reports an unreadable notebook
            continue
        for cell in cells:
            src = "\n".join(ln for ln in cell["source"].splitlines() if not ln.lstrip().startswith(("%", "!")))
            try:
                tree = ast.parse(src) if cell["cell_type"] == "code" else None
            except SyntaxError:
                continue
            for node in tree.body if tree else []:
                if isinstance(node, ast.Import):
                    names.update(dict.fromkeys(a.name for a in node.names))
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names[node.module] = None
                    names.update(dict.fromkeys(f"{node.module}.{a.name}" for a in node.names if a.name != "*"))
    return list(names)


class _PoolKernelManager(CapflowKernelManager):
    """Records the clients nbclient creates for a run, so the slot can close their channels afterwards."""

    def client(self, **kwargs: Any):
        kc = super().client(**kwargs)
        self.__dict__.setdefault("run_clients", []).append(kc)
        return kc


class KernelSlot:
    """One pooled kernel: start and warm it, reset it before a run, execute, replace it when it broke.

    Parameters
    ----------
    kernel : str
        Kernel name.
    launch_env : dict
        Environment the kernel process starts with (already free of credentials).
    modules : list of str
        Modules to pre-import.
    cwd : str
        Working directory the kernel starts in.
    start_timeout : float
        Seconds allowed for start plus warm-up, and for a reset.
    """

    def __init__(self, kernel: str, launch_env: dict[str, str], modules: list[str], cwd: str,
                 start_timeout: float = 120.0):
        self.kernel, self.launch_env, self.modules, self.cwd = kernel, dict(launch_env), list(modules), cwd
        self.start_timeout = start_timeout
        self.km: _PoolKernelManager | None = None
        self.control = None  # shell-only client for warm-up and resets
        self.broken = False
        self.info: dict[str, Any] = {}
        self.starts = 0
        self.run_offset: int | None = None
        self.tmp = tempfile.mkdtemp(prefix="capflow-pool-")  # private: kernel stderr and IPC sockets
        self.stderr_path = os.path.join(self.tmp, "kernel.stderr")
        Path(self.stderr_path).touch()

    # ------------------------------------------------------------------------------------- lifecycle
    def ensure(self) -> None:
        """Have a live, warm kernel (start one, or replace a dead or broken one)."""
        if self.km is not None and not self.broken and run_sync(self.km.is_alive)():
            return
        if self.km is not None:
            log.info("pool kernel %s is %s: starting a new one", self.info.get("pid"),
                     "broken" if self.broken else "dead")
            self.stop(now=True)
        run_sync(self._start)()

    async def _start(self) -> None:
        self.broken, self.starts = True, self.starts + 1
        # an absolute IPC path: the default ("kernel-ipc") is relative to each process's working directory
        km = _PoolKernelManager(kernel_name=self.kernel, transport="ipc", stderr_path=self.stderr_path,
                                ip=os.path.join(self.tmp, f"ipc{self.starts}"))
        self.km = km
        await km.start_kernel(env=dict(self.launch_env), cwd=self.cwd, extra_arguments=[HISTORY_ARG])
        # a session of its own: a client's shell socket identity is its session id, and nbclient's clients use the
        # manager's session; sharing it would let the kernel route the control client's replies to a closed socket
        self.control = km.client(session=Session(key=km.session.key, signature_scheme=km.session.signature_scheme))
        km.__dict__["run_clients"] = []
        self.control.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        expr = (f"__import__('capflow.report.kernelside', fromlist=['warm']).warm({self.modules!r}, "
                f"{self.launch_env!r})")
        self.info = json.loads(await self._call("", self.start_timeout, expr))
        if self.info["failed"]:
            log.debug("pool kernel %s could not pre-import %s", self.info["pid"], self.info["failed"])
        log.info("pool kernel %s warm in %.1f s", self.info["pid"], self.info["seconds"])
        self.broken = False

    async def _call(self, code: str, timeout: float, expr: str | None = None) -> str | None:
        """Execute ``code`` silently, then evaluate ``expr``; return its value (a str) or None."""
        kc = self.control
        msg_id = kc.execute(code, silent=True, store_history=False, allow_stdin=False,
                            user_expressions={"r": expr} if expr else {})
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise KernelSlotError(f"pool kernel did not answer within {timeout:.0f} s (start_timeout)")
            try:
                reply = await kc.get_shell_msg(timeout=min(1.0, left))
            except queue.Empty:
                if not await self.km.is_alive():
                    raise KernelSlotError("pool kernel died while starting or resetting") from None
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        content = reply["content"]
        result = (content.get("user_expressions") or {}).get("r", {})
        if content["status"] != "ok" or result.get("status", "ok") != "ok":
            err = content if content["status"] != "ok" else result
            raise KernelSlotError(f"pool kernel: {err.get('ename')}: {err.get('evalue')}")
        return ast.literal_eval(result["data"]["text/plain"]) if expr else None

    def reset(self, env: dict[str, str], cwd: str) -> None:
        """Make the kernel fresh for a run with environment ``env`` in directory ``cwd``."""
        code = (f"__import__('capflow.report.kernelside', fromlist=['reset']).reset({dict(env)!r}, "
                f"{str(cwd)!r})")
        try:
            run_sync(self._call)(code, self.start_timeout)
        except Exception:
            self.broken = True
            raise

    def stop(self, now: bool = False) -> None:
        """Shut the kernel down and close every client (idempotent)."""
        km, self.km = self.km, None
        if km is None:
            return
        for kc in [self.control, *km.__dict__.get("run_clients", [])]:
            if kc is not None:
                kc.stop_channels()
        self.control = None
        try:
            run_sync(km.shutdown_kernel)(now=now)
        except Exception as exc:  # noqa: BLE001 - a kernel that is already gone
            log.debug("pool kernel shutdown: %s", exc)

    def close(self) -> None:
        """Stop the kernel (at once if it is broken: a timed-out cell may still run) and delete its folder."""
        self.stop(now=self.broken)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------------------------------- one run
    def stderr_offset(self) -> int:
        """Current size of the kernel stderr file (a run's messages are what follows)."""
        try:
            return os.path.getsize(self.stderr_path)
        except OSError:
            return 0

    def run_messages(self) -> list[str]:
        """Kernel stderr lines of the last run (none when it never reached the kernel), noise dropped."""
        return [] if self.run_offset is None else self.stderr_since(self.run_offset)

    def stderr_since(self, offset: int) -> list[str]:
        """Kernel stderr lines written after ``offset``, known noise dropped."""
        try:
            with open(self.stderr_path, "rb") as fh:
                fh.seek(offset)
                text = fh.read().decode("utf-8", errors="replace")
        except OSError:
            return []
        return [ln for ln in text.splitlines() if not any(p.search(ln) for p in NOISE)]

    def execute(self, run: Callable[..., Any], env: dict[str, str], cwd: str, **kwargs: Any) -> Any:
        """Reset the kernel, then ``run(km=<this kernel's manager>, **kwargs)`` (papermill.execute_notebook).

        A run that ends with the kernel dead or interrupted by a timeout marks the slot broken: the next
        :meth:`ensure` replaces the kernel.
        """
        self.run_offset = None
        self.ensure()
        self.reset(env, cwd)
        self.run_offset = self.stderr_offset()
        try:
            return run(km=self.km, **kwargs)
        except Exception as exc:
            if type(exc).__name__ in ("DeadKernelError", "CellTimeoutError") or not run_sync(self.km.is_alive)():
                self.broken = True
            raise
        finally:
            clients = self.km.__dict__.get("run_clients", []) if self.km is not None else []
            while clients:
                clients.pop().stop_channels()


def launch_env(run_env: dict[str, str]) -> dict[str, str]:
    """The pool kernels' start environment: a run's scrubbed environment without its per-run variables."""
    return {k: v for k, v in run_env.items() if k not in RUN_VARIABLES}


def warm_modules(notebooks: Iterable[str], extra: Iterable[str] = ()) -> list[str]:
    """What the pool kernels pre-import: the queued notebooks' own imports, preceded by
    :data:`~capflow.report.kernelside.DEFAULT_MODULES` (numpy, pandas, matplotlib, scipy.stats, statsmodels,
    seaborn, capflow's analyses and studies) when any of them runs a study (imports ``capflow.studies``).
    Other notebooks (small tools, test fixtures) get only their own imports: a warm-up they would not use costs
    seconds."""
    own = notebook_imports(notebooks)
    heavy = DEFAULT_MODULES if any(m.startswith("capflow.studies") for m in own) else ()
    return list(dict.fromkeys([*heavy, *extra, *own]))
