"""Paths and environment variables: the one place that knows where things live.

Every other module asks here for a directory or a setting; nothing else builds paths by hand.

Environment variables
---------------------
CAPFLOW_SNAPSHOT
    Directory of an offline market-data snapshot (schema: ``data/snapshot/README.md``); default: the snapshot
    embedded in the repository, ``data/snapshot`` (:data:`EMBEDDED_SNAPSHOT`).
CAPFLOW_CACHE
    Directory of the parquet cache (default ``<project>/data/cache``).
CAPFLOW_LIVE_SOURCES
    Live sources allowed, comma separated, in their fixed preference order (default all: ``binance,coingecko,
    yahoo_crypto,yahoo``); e.g. ``coingecko,yahoo`` where Binance is refused.
CAPFLOW_CALENDARS
    Directory where exchange session calendars are stored once built (default ``<project>/data/cache/calendars``,
    independent of ``CAPFLOW_CACHE`` so that tests with a private cache do not rebuild them).
CAPFLOW_OFFLINE
    ``1``/``true``: never touch the network; use cache then snapshot.
CAPFLOW_SOURCES
    Resolution order for :func:`capflow.data.load_prices`, comma separated (default ``cache,live,snapshot``).
COINGECKO_API_KEY / COINGECKO_DEMO_API_KEY / COINGECKO_PRO_API_KEY
    CoinGecko keys, read from the environment only.
CAPFLOW_SEC_USER_AGENT
    User-Agent sent to SEC EDGAR (:mod:`capflow.data.edgar`), which requires one naming the requester with a
    contact e-mail, e.g. ``capflow research jane.doe@example.org``; read by :func:`sec_user_agent`.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJ_ROOT: Path = Path(__file__).resolve().parents[2]
DATA_DIR: Path = PROJ_ROOT / "data"
EVENTS_DIR: Path = DATA_DIR / "events"
#: The real-data snapshot shipped with the repository (gzip CSV, same values and source tags as its origin).
EMBEDDED_SNAPSHOT: Path = DATA_DIR / "snapshot"
NOTEBOOKS_DIR: Path = PROJ_ROOT / "notebooks"
REPORTS_DIR: Path = PROJ_ROOT / "reports"
REPORTS_YAML: Path = PROJ_ROOT / "reports.yaml"

_TRUE = {"1", "true", "yes", "on"}


class ConfigError(ValueError):
    """A setting (environment variable or parameter) has an invalid value."""


def snapshot_dir(required: bool = False) -> Path | None:
    """Return the snapshot directory: ``CAPFLOW_SNAPSHOT`` when set, else the embedded ``data/snapshot``.

    Parameters
    ----------
    required : bool
        Raise :class:`ConfigError` when no snapshot directory exists.

    Returns
    -------
    pathlib.Path or None
        The directory, or None when there is none and ``required`` is False.
    """
    env = os.environ.get("CAPFLOW_SNAPSHOT")
    if env:
        path = Path(env).expanduser().resolve()
        if not path.is_dir():
            raise ConfigError(f"CAPFLOW_SNAPSHOT={env!r} is not a directory; point it at the snapshot folder "
                              "(the one holding market/ and events/), or unset it to use data/snapshot")
        return path
    if (EMBEDDED_SNAPSHOT / "market").is_dir():
        return EMBEDDED_SNAPSHOT
    if required:
        raise ConfigError(f"no snapshot folder: {EMBEDDED_SNAPSHOT} is missing (a partial checkout?); restore it "
                          "with git, or set CAPFLOW_SNAPSHOT to a folder holding market/ and events/")
    return None


def cache_dir() -> Path:
    """Return the parquet cache directory (``CAPFLOW_CACHE`` or ``data/cache``)."""
    return Path(os.environ.get("CAPFLOW_CACHE") or DATA_DIR / "cache").expanduser().resolve()


LIVE_SOURCES = ("binance", "coingecko", "yahoo_crypto", "yahoo")


def live_sources() -> tuple[str, ...]:
    """The live sources allowed by ``CAPFLOW_LIVE_SOURCES`` (default: all of :data:`LIVE_SOURCES`)."""
    raw = os.environ.get("CAPFLOW_LIVE_SOURCES", "").strip()
    if not raw:
        return LIVE_SOURCES
    got = tuple(s.strip().lower() for s in raw.split(",") if s.strip())
    bad = [s for s in got if s not in LIVE_SOURCES]
    if bad or not got:
        raise ConfigError(f"CAPFLOW_LIVE_SOURCES={raw!r}: each entry must be one of {', '.join(LIVE_SOURCES)}")
    return got


def calendar_dir() -> Path:
    """Return the folder of stored exchange calendars (``CAPFLOW_CALENDARS`` or ``data/cache/calendars``)."""
    return Path(os.environ.get("CAPFLOW_CALENDARS") or DATA_DIR / "cache" / "calendars").expanduser().resolve()


def offline() -> bool:
    """Return True when ``CAPFLOW_OFFLINE`` asks to never use the network."""
    return os.environ.get("CAPFLOW_OFFLINE", "").strip().lower() in _TRUE


VALID_SOURCES = ("cache", "live", "snapshot")


def source_order() -> tuple[str, ...]:
    """Return the resolution order for prices from ``CAPFLOW_SOURCES`` (default cache, live, snapshot)."""
    raw = os.environ.get("CAPFLOW_SOURCES", "cache,live,snapshot")
    order = tuple(s.strip().lower() for s in raw.split(",") if s.strip())
    bad = [s for s in order if s not in VALID_SOURCES]
    if bad or not order:
        raise ConfigError(f"CAPFLOW_SOURCES={raw!r}: each entry must be one of {', '.join(VALID_SOURCES)}")
    return order


SEC_USER_AGENT_ENV = "CAPFLOW_SEC_USER_AGENT"


def sec_user_agent(required: bool = True) -> str | None:
    """Return the User-Agent for SEC EDGAR from ``CAPFLOW_SEC_USER_AGENT``.

    Parameters
    ----------
    required : bool
        Raise :class:`ConfigError` when the variable is unset (else return None).

    Raises
    ------
    ConfigError
        One line naming the variable: unset, or without an e-mail contact (SEC's fair-access rule).
    """
    raw = os.environ.get(SEC_USER_AGENT_ENV, "").strip()
    example = f"{SEC_USER_AGENT_ENV}='capflow research jane.doe@example.org'"
    if not raw:
        if not required:
            return None
        raise ConfigError(f"{SEC_USER_AGENT_ENV} is not set; SEC EDGAR requires a User-Agent with a contact "
                          f"e-mail, e.g. {example}")
    if "@" not in raw or "\n" in raw or "\r" in raw:
        raise ConfigError(f"{SEC_USER_AGENT_ENV}={raw!r} is not valid; give a name and a contact e-mail on one line, "
                          f"e.g. {example}")
    return raw
