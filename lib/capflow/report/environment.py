"""What the kernels see: the data mode (online or offline on a snapshot), a scrubbed environment, redaction.

API keys (any variable whose name contains ``API_KEY``, ``TOKEN``, ``SECRET``, ``PASSWORD``...) never reach a
kernel unless capflow's live data layer needs them (CoinGecko keys, online mode only), and every file the runner
writes is scanned for their values as a second line of defence.
"""

from __future__ import annotations

import html
import json
import os
import re
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Mapping

from capflow import config

SECRET_NAME = re.compile(r"API_?KEY|TOKEN|SECRET|PASSW(OR)?D|CREDENTIAL|PRIVATE_KEY", re.IGNORECASE)
#: Secrets the live data layer reads (passed to kernels in online mode only).
LIVE_KEYS: tuple[str, ...] = ("COINGECKO_API_KEY", "COINGECKO_DEMO_API_KEY", "COINGECKO_PRO_API_KEY")
PROBE_HOST: tuple[str, int] = ("api.coingecko.com", 443)
REDACTED = "[REDACTED]"
#: Kernels draw figures inline (an inherited ``MPLBACKEND=Agg`` would drop every figure from the reports).
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
MIN_SECRET_LEN = 4


@dataclass(frozen=True)
class DataMode:
    """Where the runs take their data from.

    Attributes
    ----------
    mode : {"online", "offline"}
    reason : str
        Why (``CAPFLOW_SNAPSHOT is set``, ``network unreachable``...).
    snapshot : str or None
        The snapshot folder used offline.
    """

    mode: str
    reason: str
    snapshot: str | None = None

    @property
    def note(self) -> str:
        """One sentence for the index and each report."""
        if self.mode == "online":
            return f"Online: live data (cache, then CoinGecko/Yahoo, then snapshot) - {self.reason}."
        return f"Offline: data from the snapshot at {self.snapshot or '(none found)'} - {self.reason}."

    def to_dict(self) -> dict:
        """Plain dict for the manifest (with the note)."""
        return asdict(self) | {"note": self.note}


def network_reachable(host: tuple[str, int] = PROBE_HOST, timeout: float = 2.0) -> bool:
    """True when a TCP connection to ``host`` opens within ``timeout`` seconds."""
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False


def detect_data_mode(probe: bool = True) -> DataMode:
    """Online by default; offline when ``CAPFLOW_OFFLINE``/``CAPFLOW_SNAPSHOT`` is set or the network is down."""
    snap = config.snapshot_dir()
    snap_s = str(snap) if snap else None
    if config.offline():
        return DataMode("offline", "CAPFLOW_OFFLINE is set", snap_s)
    if os.environ.get("CAPFLOW_SNAPSHOT"):
        return DataMode("offline", "CAPFLOW_SNAPSHOT is set", snap_s)
    if probe and not network_reachable():
        return DataMode("offline", f"network unreachable ({PROBE_HOST[0]})", snap_s)
    return DataMode("online", "network reachable", snap_s)


def is_secret_name(name: str) -> bool:
    """True for environment variable names that hold credentials."""
    return bool(SECRET_NAME.search(name))


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """Values of the credential variables of ``env`` (default ``os.environ``), longest first."""
    env = os.environ if env is None else env
    vals = {v for k, v in env.items() if is_secret_name(k) and v and len(v) >= MIN_SECRET_LEN}
    return sorted(vals, key=len, reverse=True)


def kernel_env(mode: DataMode, run_name: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a run's kernel gets: no credentials except live-data keys online, data-mode variables.

    Parameters
    ----------
    mode : DataMode
    run_name : str
    base : mapping, optional
        Starting environment (default ``os.environ``).
    """
    base = os.environ if base is None else base
    keep = set(LIVE_KEYS) if mode.mode == "online" else set()
    env = {k: v for k, v in base.items() if not is_secret_name(k) or k in keep}
    env.update({"CAPFLOW_DATA_MODE": mode.mode, "CAPFLOW_DATA_NOTE": mode.note, "CAPFLOW_RUN_NAME": run_name,
                "MPLBACKEND": INLINE_BACKEND, "PYTHONHASHSEED": env.get("PYTHONHASHSEED", "0")})
    if mode.mode == "offline":
        env["CAPFLOW_OFFLINE"] = "1"
        if mode.snapshot:
            env["CAPFLOW_SNAPSHOT"] = mode.snapshot
    return env


def _variants(secret: str) -> set[str]:
    return {secret, json.dumps(secret)[1:-1], html.escape(secret), html.escape(secret, quote=False)}


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value (raw, JSON-escaped and HTML-escaped forms) by ``[REDACTED]``."""
    for s in secrets:
        for v in sorted(_variants(s), key=len, reverse=True):
            if v:
                text = text.replace(v, REDACTED)
    return text


TEXT_SUFFIXES = (".ipynb", ".html", ".json", ".csv", ".txt", ".md", ".log", ".tsv", ".svg")


def redact_tree(root: Path, secrets: list[str]) -> int:
    """Redact secrets in place in every text file under ``root``; return how many files changed."""
    changed = 0
    if not secrets:
        return 0
    for path in Path(root).rglob("*"):
        if not path.is_file() or path.suffix.lower() not in TEXT_SUFFIXES:
            continue
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        new = redact(text, secrets)
        if new != text:
            path.write_text(new, encoding="utf-8", errors="surrogateescape")
            changed += 1
    return changed
