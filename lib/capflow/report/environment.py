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
#: The project's own secret variables: redacted whenever set (values of at least MIN_PROJECT_SECRET_LEN chars).
PROJECT_SECRETS: tuple[str, ...] = LIVE_KEYS + ("GITHUB_TOKEN", "GH_TOKEN", "CAPFLOW_API_TOKEN")
MIN_PROJECT_SECRET_LEN = 8
#: Other credential-named variables are redacted when their value is at least this long (API keys are).
MIN_KEY_LEN = 16
#: Values that are never keys: numbers, dates, times and punctuation only.
NOT_A_KEY = re.compile(r"^[\d\s.,:;+\-/TZ]*$")
#: Kernels draw figures inline (an inherited ``MPLBACKEND=Agg`` would drop every figure from the reports).
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


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
        where = display_path(self.snapshot) if self.snapshot else "(none found)"
        return f"Offline: data from the snapshot {where} - {self.reason}."

    def to_dict(self) -> dict:
        """Plain dict for the manifest (with the note)."""
        return asdict(self) | {"note": self.note}


def display_path(path: str | Path) -> str:
    """A path for published text: relative to the project when inside it, else its last two parts.

    Published pages never show a machine's absolute paths (user names, CI workspace layout).
    """
    p = Path(path)
    try:
        return p.resolve().relative_to(config.PROJ_ROOT).as_posix()
    except ValueError:
        return ".../" + "/".join(p.parts[-2:]) if len(p.parts) > 2 else p.name


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


def _key_like(value: str, min_len: int) -> bool:
    """True for a value that can be a credential: long enough and not a number, a date or a plain word list."""
    v = value.strip()
    return len(v) >= min_len and not NOT_A_KEY.match(v)


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """The credential values to redact from ``env`` (default ``os.environ``), longest first.

    Redacted: the project's own secret variables (:data:`PROJECT_SECRETS`, values of at least
    :data:`MIN_PROJECT_SECRET_LEN` characters) and any other variable whose name looks like a credential
    (:data:`SECRET_NAME`) when its value is long enough to be a key (:data:`MIN_KEY_LEN`). Values made only of
    digits, dates and punctuation are never secrets: ``GITHUB_TOKEN=2026`` must not erase every year in a report.
    """
    env = os.environ if env is None else env
    vals = {v.strip() for k, v in env.items() if v and (
        (k in PROJECT_SECRETS and _key_like(v, MIN_PROJECT_SECRET_LEN))
        or (is_secret_name(k) and _key_like(v, MIN_KEY_LEN)))}
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


def _pattern(secrets: tuple[str, ...]) -> re.Pattern | None:
    forms = sorted({v for s in secrets for v in _variants(s) if v}, key=len, reverse=True)
    if not forms:
        return None
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(map(re.escape, forms)) + r")(?![A-Za-z0-9])")


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value (raw, JSON-escaped and HTML-escaped forms) by ``[REDACTED]``.

    A value is replaced only as a whole token (not preceded or followed by a letter or digit), so a secret
    never eats part of a longer number, date or word.
    """
    pat = _pattern(tuple(secrets))
    return text if pat is None else pat.sub(REDACTED, text)


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


def path_replacements(output: str | Path | None = None) -> list[tuple[str, str]]:
    """``(absolute prefix, shown as)`` pairs for published text, most specific first.

    The output folder reads ``.``, the project ``capflow``, installed packages ``site-packages``, the Python
    installation ``python`` and the home folder ``~``: no page shows where a machine keeps its files.
    """
    import site
    import sys
    import sysconfig

    pairs: list[tuple[str, str]] = []
    if output is not None:
        pairs.append((str(Path(output).resolve()), "."))
    pkgs = {sysconfig.get_paths().get("purelib"), sysconfig.get_paths().get("platlib"), *site.getsitepackages()}
    pairs += [(str(Path(p)), "site-packages") for p in pkgs if p]
    pairs += [(str(config.PROJ_ROOT), "capflow"), (sys.base_prefix, "python"), (sys.prefix, "python"),
              (str(Path.home()), "~")]
    seen, out = set(), []
    for prefix, shown in sorted(pairs, key=lambda kv: len(kv[0]), reverse=True):
        if prefix and prefix != "/" and prefix not in seen:
            seen.add(prefix)
            out.append((prefix, shown))
    return out


@dataclass(frozen=True)
class Scrubber:
    """What every published file passes through: secrets redacted, absolute paths shortened.

    Attributes
    ----------
    secrets : tuple of str
        Values from :func:`secret_values`.
    paths : tuple of (str, str)
        From :func:`path_replacements`, most specific first.
    """

    secrets: tuple[str, ...] = ()
    paths: tuple[tuple[str, str], ...] = ()

    def __call__(self, text: str) -> str:
        """``text`` with every secret redacted and every known absolute path prefix replaced."""
        text = redact(text, self.secrets)
        for prefix, shown in self.paths:
            if prefix in text:
                text = re.sub(re.escape(prefix) + r"(?![\w.-])", lambda _m, s=shown: s, text)
        return text

    def with_paths(self, extra: Iterable[tuple[str, str]]) -> "Scrubber":
        """A copy with more path prefixes (e.g. one run's folder), kept most specific first."""
        pairs = sorted({*self.paths, *extra}, key=lambda kv: len(kv[0]), reverse=True)
        return Scrubber(self.secrets, tuple(pairs))

    def tree(self, root: Path) -> int:
        """Scrub every text file under ``root`` in place; return how many files changed."""
        changed = 0
        for path in Path(root).rglob("*"):
            if not path.is_file() or path.suffix.lower() not in TEXT_SUFFIXES:
                continue
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            new = self(text)
            if new != text:
                path.write_text(new, encoding="utf-8", errors="surrogateescape")
                changed += 1
        return changed
