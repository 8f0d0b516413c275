"""Kernels for report runs: IPC transport and a captured, filtered kernel stderr.

Over TCP every ipykernel prints "Kernel is running over TCP without encryption" on its stderr, and a graceful
shutdown (jupyter_client interrupts the kernel first) can print "KeyboardInterrupt caught in kernel". Report
kernels talk over local IPC sockets (no TCP warning) and write their stderr to a file; :func:`kernel_messages`
drops the known start/stop noise and returns every other line, which the runner keeps in ``run.log`` and logs as
a warning, so real kernel errors (crashes, C-level messages) stay visible.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Unicode
from traitlets.config import Config

#: Kernel stderr lines that are start/stop noise, never an error of the notebook.
NOISE: tuple[re.Pattern, ...] = (
    re.compile(r"Kernel is running over TCP without encryption"),
    re.compile(r"KeyboardInterrupt caught in kernel"),
    re.compile(r"^\s*$"),
)


class CapflowKernelManager(AsyncKernelManager):
    """An :class:`AsyncKernelManager` whose kernel process writes its stderr to :attr:`stderr_path`."""

    stderr_path = Unicode("", help="File receiving the kernel process's stderr ('' inherits it).").tag(config=True)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        if not self.stderr_path:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        with open(self.stderr_path, "ab") as fh:  # the child keeps its own copy of the descriptor
            kw["stderr"] = fh
            return await super()._async_launch_kernel(kernel_cmd, **kw)


def kernel_options(stderr_path: str | Path | None = None) -> dict[str, Any]:
    """Keyword arguments for ``papermill.execute_notebook`` (passed on to nbclient): IPC, captured stderr.

    Parameters
    ----------
    stderr_path : path, optional
        Where the kernel's stderr goes (default: inherited from this process).
    """
    cfg = Config({"CapflowKernelManager": {"transport": "ipc", "stderr_path": str(stderr_path or "")}})
    return {"kernel_manager_class": CapflowKernelManager, "config": cfg}


def kernel_messages(stderr_path: str | Path) -> list[str]:
    """Lines of a kernel stderr file that are not known noise (``[]`` when the file is absent)."""
    path = Path(stderr_path)
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [ln for ln in lines if not any(p.search(ln) for p in NOISE)]
