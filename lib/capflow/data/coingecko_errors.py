"""Classify what went wrong with a CoinGecko call (pycoingecko raises ValueError with the JSON body, requests raises
HTTPError without one): rate limit, server error, network, plan limit, unknown coin, auth or other, with the
server's Retry-After when it gave one (header or body). Used by :class:`capflow.data.coingecko.CoinGeckoClient`.
"""

from __future__ import annotations

import ast
import email.utils
import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class _Failure:
    """What went wrong with one call: ``kind`` in rate, server, network, plan, unknown, auth, other."""

    kind: str
    detail: str
    retry_after: float | None = None


_RETRYABLE = {"rate", "server", "network"}
_AFTER_RE = re.compile(r"retry[-_ ]?after\D{0,20}?(\d+(?:\.\d+)?)", re.I)
_AFTER_KEYS = {"retry_after", "retry-after", "retryafter"}


def _find(obj: Any, keys: set[str]) -> Any:
    """Return the first value under any of ``keys`` (case-insensitive) in nested dicts/lists, else None."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if str(k).lower() in keys and v is not None and not isinstance(v, (dict, list)):
                return v
        obj = list(obj.values())
    if isinstance(obj, list):
        for v in obj:
            found = _find(v, keys)
            if found is not None:
                return found
    return None


def _body(exc: ValueError) -> Any:
    """Return the JSON body pycoingecko put in a ValueError (a dict, or its str form)."""
    arg = exc.args[0] if exc.args else None
    if isinstance(arg, str):
        for parse in (json.loads, ast.literal_eval):
            try:
                return parse(arg)
            except (ValueError, SyntaxError):
                continue
    return arg


def parse_retry_after(value: Any, now: float) -> float | None:
    """Return seconds to wait from a Retry-After value (seconds or an HTTP date), or None when unusable."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now) if when is not None and when.tzinfo else None


def _classify_body(body: Any, now: float) -> _Failure:
    """Classify CoinGecko's JSON error body (``{"status": {"error_code", "error_message"}}`` or ``{"error"}``)."""
    code = _find(body, {"error_code", "code"})
    msg = str(_find(body, {"error_message", "error", "message"}) or body)
    low = msg.lower()
    after = parse_retry_after(_find(body, _AFTER_KEYS), now)
    if after is None and (m := _AFTER_RE.search(msg)):
        after = float(m.group(1))
    code = int(code) if str(code).isdigit() else None
    if code == 429 or "rate limit" in low or "throttl" in low:
        return _Failure("rate", msg, after)
    if code == 10012 or "allowed time range" in low:
        return _Failure("plan", msg)
    if "not found" in low or code == 404:
        return _Failure("unknown", msg)
    if code is not None and 500 <= code < 600:
        return _Failure("server", msg, after)
    if code in (401, 403) or (code is not None and 10000 <= code < 10100) or "api key" in low:
        return _Failure("auth", msg)
    return _Failure("other", msg)


def _classify_http(exc: Exception, now: float) -> _Failure:
    """Classify a requests HTTPError (pycoingecko re-raises it when the body is not JSON)."""
    resp = getattr(exc, "response", None)
    status = getattr(resp, "status_code", None)
    after = parse_retry_after((getattr(resp, "headers", None) or {}).get("Retry-After"), now)
    if status == 429:
        return _Failure("rate", "HTTP 429", after)
    if status is not None and 500 <= status < 600:
        return _Failure("server", f"HTTP {status}", after)
    if status == 404:
        return _Failure("unknown", "HTTP 404")
    if status in (401, 403):
        return _Failure("auth", f"HTTP {status}")
    return _Failure("other", f"HTTP {status}: {type(exc).__name__}")


def classify(exc: BaseException, now: float) -> _Failure | None:
    """Turn an exception from pycoingecko/requests into a :class:`_Failure`; None when it is not a source error."""
    import requests

    if isinstance(exc, requests.exceptions.RetryError):  # urllib3 gave up on a 5xx
        return _Failure("server", "server errors (5xx)")
    if isinstance(exc, (requests.exceptions.Timeout, TimeoutError)):
        return _Failure("network", f"timeout ({type(exc).__name__})")
    if isinstance(exc, (requests.exceptions.ConnectionError, ConnectionError)):
        return _Failure("network", f"connection failed ({type(exc).__name__})")
    if isinstance(exc, requests.exceptions.HTTPError):
        return _classify_http(exc, now)
    if isinstance(exc, ValueError):
        return _classify_body(_body(exc), now)
    if isinstance(exc, requests.exceptions.RequestException):
        return _Failure("network", type(exc).__name__)
    return None


