"""CoinGecko history on pycoingecko, rate limited, retried, chunked, with typed errors.

Entry point: ``CoinGeckoClient().history(coin_id, start, end, freq="1d")``.

Keys come only from the environment: ``COINGECKO_PRO_API_KEY`` selects the pro plan, ``COINGECKO_DEMO_API_KEY``
or ``COINGECKO_API_KEY`` the demo plan, none the public (keyless) endpoint with demo limits. The key is sent as
an HTTP header (``x-cg-pro-api-key`` / ``x-cg-demo-api-key``), not as a URL parameter as pycoingecko does by
default, so it cannot leak through urllib3's retry logs or exception messages (which quote the URL); messages
are redacted as well, and no repr shows it.

Timestamp convention (matches the snapshot, ``../shared/data/README.md``)
-------------------------------------------------------------------------
CoinGecko's ``market_chart/range`` returns observations ``[ms, value]``. Each observation at time ``t`` is
snapped to the nearest boundary ``b`` of the frequency (00:00 UTC for ``1d``, the hour for ``1h``) and kept
only when ``|t - b|`` is within the tolerance (1 hour for ``1d``, 30 minutes for ``1h``). The row is labelled
``b - freq``: the price observed at ``b`` is the **close** of the bar that opens at the label. So CoinGecko's
daily point at 2024-03-02 00:00 UTC becomes the row labelled 2024-03-01 (the close of UTC day 2024-03-01), just
like a Binance daily kline in the snapshot. Rows whose bar has not finished at fetch time (``b`` later than the
last boundary before the fetch) are dropped, and so is CoinGecko's live "now" point (the last point of a range
reaching the present, unless it sits exactly on a boundary). Duplicate labels (overlapping chunks) keep the
observation nearest its boundary. ``volume`` is CoinGecko's rolling 24-hour volume at ``b``; ``market_cap``
likewise a point value.

Granularity: CoinGecko picks it from the range length (up to 1 day: 5-minutely; 2-90 days: hourly; more than
90 days: daily). Daily requests ask for chunks of at most ``history_chunk_days`` (365) and at least 91 days;
hourly requests ask for chunks of 2-90 days. The boundary rule above makes both robust to a finer answer.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from capflow.calendars import utc_timestamp
from capflow.data.coingecko_errors import _RETRYABLE, _Failure, classify, parse_retry_after  # noqa: F401
from capflow.data.errors import (NetworkError, PlanHistoryLimitError, RateLimitedError, ServerError,
                                 SourceError, SourceResponseError, UnknownCoinError)

log = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = ("price", "market_cap", "volume")
FREQS: dict[str, pd.Timedelta] = {"1d": pd.Timedelta(days=1), "1h": pd.Timedelta(hours=1)}
#: How far an observation may sit from its boundary (00:00 UTC / the hour) and still count as that close.
TOLERANCE: dict[str, pd.Timedelta] = {"1d": pd.Timedelta(hours=1), "1h": pd.Timedelta(minutes=30)}
ENV_PRO, ENV_DEMO, ENV_ANY = "COINGECKO_PRO_API_KEY", "COINGECKO_DEMO_API_KEY", "COINGECKO_API_KEY"


@dataclass(frozen=True)
class Plan:
    """Limits of a CoinGecko plan.

    Attributes
    ----------
    name : str
        ``public``, ``demo`` or ``pro``.
    calls_per_minute : int
        Rate limit; the token bucket never exceeds it in any 60-second window.
    history_days : int or None
        How far back the plan serves data (None: no limit known).
    """

    name: str
    calls_per_minute: int
    history_days: int | None


PLANS: dict[str, Plan] = {
    "public": Plan("public", 30, 365),
    "demo": Plan("demo", 30, 365),
    "pro": Plan("pro", 500, None),
}


class TokenBucket:
    """Token-bucket rate limiter with an injectable clock and sleep.

    Up to ``burst`` calls pass at once; tokens refill at ``(calls_per_minute - burst) / 60`` per second, so no
    60-second window ever holds more than ``calls_per_minute`` calls.

    Parameters
    ----------
    calls_per_minute : int
        The limit to respect.
    burst : int, optional
        Bucket capacity (default: a sixth of the limit, at least 1, below the limit).
    clock, sleep : callable, optional
        ``clock() -> seconds`` and ``sleep(seconds)``; default :func:`time.monotonic` and :func:`time.sleep`.
    """

    def __init__(self, calls_per_minute: int, burst: int | None = None, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        if calls_per_minute < 2:
            raise ValueError(f"calls_per_minute={calls_per_minute!r} is too small; use an integer >= 2")
        cap = burst if burst is not None else max(1, calls_per_minute // 6)
        if not 1 <= cap < calls_per_minute:
            raise ValueError(f"burst={burst!r} is invalid; use 1 <= burst < calls_per_minute ({calls_per_minute})")
        self.capacity = float(cap)
        self.rate = (calls_per_minute - cap) / 60.0
        self._clock = clock or time.monotonic
        self._sleep = sleep or time.sleep
        self._tokens = self.capacity
        self._stamp = self._clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + max(0.0, now - self._stamp) * self.rate)
        self._stamp = now

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; return the seconds slept."""
        self._refill()
        waited = 0.0
        if self._tokens < 1.0:
            waited = (1.0 - self._tokens) / self.rate
            self._sleep(waited)
            self._refill()
            self._tokens = max(self._tokens, 1.0)  # a sleep that returned early must not stall the caller
        self._tokens -= 1.0
        return waited

    def __repr__(self) -> str:
        return f"TokenBucket(capacity={self.capacity:g}, rate={self.rate:.4g}/s)"


#: Real-time buckets shared by every client of a plan in this process, so that creating one client per asset
#: (as the store does) still respects the plan's limit.
_SHARED_BUCKETS: dict[str, TokenBucket] = {}


# ---------------------------------------------------------------------------------------------- key and plan
ENV_MAX_WAIT = "CAPFLOW_MAX_RETRY_WAIT"
DEFAULT_MAX_WAIT = 60.0


def max_retry_wait() -> float:
    """Longest server-requested wait (seconds) a live client sleeps: ``CAPFLOW_MAX_RETRY_WAIT``, default 60."""
    raw = os.environ.get(ENV_MAX_WAIT, "").strip()
    if not raw:
        return DEFAULT_MAX_WAIT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ValueError(f"{ENV_MAX_WAIT}={raw!r}: must be a number of seconds >= 0, e.g. 60")
    return value


def _env_keys() -> tuple[str | None, str | None]:
    """Return (pro_key, demo_key) from the environment, blanks as None."""
    pro = (os.environ.get(ENV_PRO) or "").strip() or None
    demo = (os.environ.get(ENV_DEMO) or os.environ.get(ENV_ANY) or "").strip() or None
    return pro, demo


def _make_api(pro: str | None, demo: str | None, timeout: float) -> Any:
    """Build a pycoingecko client with the key moved from URL parameters to headers and no internal retry."""
    from pycoingecko import CoinGeckoAPI

    api = CoinGeckoAPI(api_key=pro or "", retries=0, demo_api_key="" if pro else (demo or ""))
    api.extra_params = None  # pycoingecko would put the key in the query string (and so in logged URLs)
    if pro:
        api.session.headers["x-cg-pro-api-key"] = pro
    elif demo:
        api.session.headers["x-cg-demo-api-key"] = demo
    api.request_timeout = timeout
    _remember_retry_after(api.session)
    return api


def _remember_retry_after(session: Any) -> None:
    """Keep the Retry-After header of the session's last 429/5xx answer on ``session.capflow_retry_after``.

    pycoingecko turns a JSON error body into ``ValueError(body)`` and drops the response, headers included; the
    hook keeps the server's wait so it is honoured whatever the body.
    """
    def hook(resp: Any, *args: Any, **kwargs: Any) -> Any:
        status = getattr(resp, "status_code", 200)
        session.capflow_retry_after = resp.headers.get("Retry-After") if status == 429 or status >= 500 else None
        return resp

    session.capflow_retry_after = None
    session.hooks.setdefault("response", []).append(hook)


# --------------------------------------------------------------------------------------------- date windows
_utc = utc_timestamp


def request_windows(start: pd.Timestamp, end: pd.Timestamp, freq: str, now: pd.Timestamp, chunk_days: int = 365,
                    earliest: pd.Timestamp | None = None) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Return the (from, to) UTC ranges to request so that rows labelled ``start..end`` are covered.

    Rows are labelled by bar open and priced at the following boundary (see the module docstring), so the
    boundaries needed are ``start + freq .. end + freq``, capped at the last finished boundary before ``now``.
    Each range adds the boundary tolerance on both sides. Daily ranges cover at most ``chunk_days`` boundaries
    and span at least 91 days (CoinGecko returns daily points only for ranges over 90 days; a short range is
    extended backwards); hourly ranges span 2 to 90 days. No range starts before ``earliest``.

    Returns
    -------
    list of (pandas.Timestamp, pandas.Timestamp)
        In time order; consecutive ranges overlap only by the tolerance (and the backward extension of the last
        one); empty when no finished bar lies in range.
    """
    step, tol = FREQS[freq], TOLERANCE[freq]
    first, last = start.floor(step) + step, min(end.floor(step) + step, now.floor(step))
    if last < first:
        return []
    if freq == "1d":
        span, shortest = pd.Timedelta(days=chunk_days), pd.Timedelta(days=91)
    else:
        span, shortest = pd.Timedelta(days=90) - 2 * tol + step, pd.Timedelta(days=2)
    windows = []
    for a in pd.date_range(first, last, freq=span):
        b = min(a + span - step, last)
        frm = min(a - tol, b - shortest)
        windows.append((frm if earliest is None else max(frm, earliest), min(b + tol, now)))
    return windows


# ------------------------------------------------------------------------------------------------- parsing
def parse_market_chart(payload: Any, coin_id: str) -> pd.DataFrame:
    """Turn a ``market_chart/range`` JSON payload into a frame of raw observations.

    Returns
    -------
    pandas.DataFrame
        Indexed by the UTC observation time (``t``), columns price, market_cap, volume (float; NaN where a
        series lacks the point), sorted, unique times.
    """
    if not isinstance(payload, dict) or "prices" not in payload:
        raise SourceResponseError(f"coingecko: answer for {coin_id!r} has no 'prices' list; got "
                                  f"{type(payload).__name__}; retry later or report a CoinGecko API change",
                                  source="coingecko", asset=coin_id)
    series = {}
    for col, key in zip(COLUMNS, ("prices", "market_caps", "total_volumes")):
        arr = np.asarray([p[:2] for p in payload.get(key) or []], dtype=float).reshape(-1, 2)
        idx = pd.to_datetime(arr[:, 0].astype("int64"), unit="ms", utc=True)
        series[col] = pd.Series(arr[:, 1], index=idx).groupby(level=0).last()
    frame = pd.DataFrame(series).reindex(columns=list(COLUMNS)).astype(float).sort_index()
    frame.index.name = "t"
    return frame


def drop_live_point(raw: pd.DataFrame, window_to: pd.Timestamp, now: pd.Timestamp, freq: str) -> pd.DataFrame:
    """Drop CoinGecko's live "now" point: the last point of a range that reaches ``now`` (CoinGecko appends the
    current price to such ranges), unless it sits exactly on a boundary (daily closes are stamped 00:00:00.000)."""
    if raw.empty or window_to < now:
        return raw
    t = raw.index[-1]
    return raw if t == t.floor(FREQS[freq]) else raw.iloc[:-1]


def to_bars(raw: pd.DataFrame, freq: str, now: pd.Timestamp) -> pd.DataFrame:
    """Snap observations to boundaries and label each by the bar it closes (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        Indexed by UTC bar-open timestamp (``timestamp``; daily: midnight of the UTC date D, the row being
        the close of day D), columns price, market_cap, volume; unfinished bars and off-boundary points dropped,
        one row per label (nearest-to-boundary observation wins).
    """
    step = FREQS[freq]
    t = raw.index
    boundary = t.round(step)
    off = np.abs((t - boundary).asi8)
    keep = (off <= TOLERANCE[freq].value) & (boundary <= now.floor(step))
    out = raw.loc[keep].copy()
    out["_off"] = off[keep]
    out.index = boundary[keep] - step
    out = out.sort_values("_off", kind="stable")
    out = out[~out.index.duplicated(keep="first")].drop(columns="_off").sort_index()
    out.index.name = "timestamp"
    return out


def empty_history() -> pd.DataFrame:
    """Return an empty history frame with the contract's columns and a UTC index."""
    return pd.DataFrame({c: pd.Series(dtype=float) for c in COLUMNS},
                        index=pd.DatetimeIndex([], tz="UTC", name="timestamp"))


# ------------------------------------------------------------------------------------------------- client
class CoinGeckoClient:
    """CoinGecko market history with rate limiting, retries with backoff and typed errors.

    Parameters
    ----------
    plan : {"public", "demo", "pro"}, optional
        Limits to apply; default from the keys in the environment (pro key: pro; demo key: demo; none: public).
    api : object, optional
        Object with ``get_coin_market_chart_range_by_id`` (pycoingecko's ``CoinGeckoAPI``); injected in tests.
        Default: a pycoingecko client built with the environment's key.
    clock, sleep : callable, optional
        ``clock() -> epoch seconds`` (also "now" for dropping unfinished bars) and ``sleep(seconds)``.
    rng : random.Random, optional
        Source of backoff jitter.
    max_retries : int
        Retries after the first attempt for 429, 5xx, timeouts and connection errors.
    backoff_base, backoff_cap : float
        Exponential backoff ``base * 2**attempt`` seconds, capped, times a jitter factor in [0.5, 1].
    timeout : float
        HTTP timeout in seconds for the default client.
    """

    def __init__(self, plan: str | None = None, api: Any = None, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] | None = None, rng: random.Random | None = None,
                 max_retries: int = 5, backoff_base: float = 2.0, backoff_cap: float = 120.0,
                 timeout: float = 30.0, max_wait: float | None = None) -> None:
        pro, demo = _env_keys()
        default = "pro" if pro else "demo" if demo else "public"
        if plan is not None and plan not in PLANS:
            raise ValueError(f"plan={plan!r} is unknown; valid plans: {', '.join(PLANS)}")
        if plan == "pro" and api is None and not pro:
            raise ValueError(f"plan='pro' needs {ENV_PRO} set in the environment")
        self.plan = PLANS[plan or default]
        self._secrets = tuple(k for k in (pro, demo) if k)
        self._has_key = bool(pro or demo)
        self._api = api if api is not None else _make_api(pro, demo, timeout)
        self._clock = clock or time.time
        self._sleep = sleep or time.sleep
        self._rng = rng or random.Random()
        self.max_retries, self.backoff_base, self.backoff_cap = max_retries, backoff_base, backoff_cap
        self.max_wait = float(max_wait if max_wait is not None else max_retry_wait())
        if clock is None and sleep is None:  # real time: one bucket per plan for the whole process
            self.bucket = _SHARED_BUCKETS.setdefault(self.plan.name, TokenBucket(self.plan.calls_per_minute))
        else:
            self.bucket = TokenBucket(self.plan.calls_per_minute, clock=self._clock, sleep=self._sleep)

    def __repr__(self) -> str:
        return f"CoinGeckoClient(plan={self.plan.name!r}, key={'set' if self._has_key else 'none'})"

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _now(self) -> pd.Timestamp:
        return pd.Timestamp(self._clock(), unit="s", tz="UTC")

    def _delay(self, attempt: int, failure: _Failure) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): the server's Retry-After when known, else
        jittered exponential backoff; never less than the Retry-After."""
        backoff = min(self.backoff_cap, self.max_wait, self.backoff_base * 2 ** attempt) * self._rng.uniform(0.5, 1.0)
        return backoff if failure.retry_after is None else max(failure.retry_after, 0.0)

    def _server_wait(self, failure: _Failure) -> _Failure:
        """Fill a missing Retry-After from the last response's header (kept by the session hook)."""
        if failure.retry_after is not None or failure.kind not in ("rate", "server"):
            return failure
        header = getattr(getattr(self._api, "session", None), "capflow_retry_after", None)
        after = parse_retry_after(header, self._clock())
        return failure if after is None else _Failure(failure.kind, failure.detail, after)

    def _call(self, coin_id: str, frm: pd.Timestamp, to: pd.Timestamp) -> Any:
        """One rate-limited ``market_chart/range`` call with bounded retries; raise typed errors."""
        failure = None
        for attempt in range(self.max_retries + 1):
            if failure is not None:
                wait = self._delay(attempt - 1, failure)
                log.info("coingecko %s: %s; retry %d/%d in %.1f s", coin_id, failure.kind, attempt,
                         self.max_retries, wait)
                self._sleep(wait)
            self.bucket.acquire()
            failure = None
            try:
                return self._api.get_coin_market_chart_range_by_id(
                    id=coin_id, vs_currency="usd", from_timestamp=int(frm.timestamp()),
                    to_timestamp=int(math.ceil(to.timestamp())))
            except Exception as exc:  # classified below; unknown exceptions propagate unchanged
                failure = classify(exc, self._clock())
                if failure is None:
                    raise
                failure = self._server_wait(_Failure(failure.kind, self._redact(failure.detail)[:200],
                                                     failure.retry_after))
            if failure.kind not in _RETRYABLE:
                break
            if failure.retry_after is not None and failure.retry_after > self.max_wait:
                raise self._too_long(coin_id, failure)
        raise self._error(coin_id, failure, frm, to)  # outside `except`: no chained exception carries the URL

    def _too_long(self, coin_id: str, failure: _Failure) -> RateLimitedError:
        """The server asked for a wait beyond ``max_wait``: not slept; the caller moves to the next source."""
        return RateLimitedError(
            f"coingecko: {coin_id!r}: the server asked to wait {failure.retry_after:,.0f} s (Retry-After), more than "
            f"the {self.max_wait:g} s capflow waits ({ENV_MAX_WAIT}); skipped without waiting",
            source="coingecko", asset=coin_id, retry_after=failure.retry_after)

    def _error(self, coin_id: str, failure: _Failure, frm: pd.Timestamp, to: pd.Timestamp) -> SourceError:
        """Build the one-line typed error for a final failure."""
        rng = f"{frm:%Y-%m-%d %H:%M}..{to:%Y-%m-%d %H:%M} UTC"
        kw = {"source": "coingecko", "asset": coin_id}
        tries = f"after {self.max_retries + 1} attempts"
        if failure.kind == "rate":
            return RateLimitedError(f"coingecko: rate limited (HTTP 429) fetching {coin_id!r} {rng} {tries}; wait "
                                    f"a minute and retry, or set {ENV_DEMO}/{ENV_PRO} for a higher limit",
                                    retry_after=failure.retry_after, **kw)
        if failure.kind == "server":
            return ServerError(f"coingecko: server error ({failure.detail}) fetching {coin_id!r} {rng} {tries}; "
                               "retry later or use the snapshot (CAPFLOW_SOURCES=cache,snapshot)", **kw)
        if failure.kind == "network":
            return NetworkError(f"coingecko: network unreachable ({failure.detail}) fetching {coin_id!r} {tries}; "
                                "check the connection or set CAPFLOW_OFFLINE=1 to use cache and snapshot", **kw)
        if failure.kind == "unknown":
            return UnknownCoinError(f"coingecko: coin id {coin_id!r} not found; use the CoinGecko API id "
                                    "(e.g. 'bittensor', not 'TAO'; see capflow.assets)", **kw)
        if failure.kind == "plan":
            return PlanHistoryLimitError(f"coingecko: {coin_id!r} {rng} is outside the {self.plan.name} plan's "
                                         f"history ({failure.detail}); set {ENV_PRO} or ask for recent dates",
                                         **kw)
        if failure.kind == "auth":
            return SourceResponseError(f"coingecko: key or plan refused ({failure.detail}) for {coin_id!r}; check "
                                       f"{ENV_DEMO}/{ENV_PRO} (a demo key must not be set as pro)", **kw)
        return SourceResponseError(f"coingecko: error for {coin_id!r} {rng}: {failure.detail}; retry later or "
                                   "report it", **kw)

    # -------------------------------------------------------------------------------------- history
    def earliest(self, now: pd.Timestamp | None = None) -> pd.Timestamp | None:
        """Return the earliest UTC timestamp the plan lets a request start at (None: no known limit)."""
        if self.plan.history_days is None:
            return None
        now = now if now is not None else self._now()
        return now.floor("D") - pd.Timedelta(days=self.plan.history_days - 1)

    def _plan_error(self, coin_id: str, freq: str, earliest: pd.Timestamp) -> PlanHistoryLimitError:
        """The one-line error for dates the plan does not serve; ``earliest`` is the first boundary served."""
        first = earliest - FREQS[freq]
        days = self.plan.history_days or 365
        return PlanHistoryLimitError(
            f"coingecko: {coin_id!r} {freq} data before {first:%Y-%m-%d} needs a paid plan (the {self.plan.name} "
            f"plan serves the past {days} days); set {ENV_PRO}, start on or after {first:%Y-%m-%d}, or pass "
            "plan_limit='clip'", source="coingecko", asset=coin_id, earliest=first)

    def _apply_plan_limit(self, coin_id: str, lo: pd.Timestamp, freq: str, now: pd.Timestamp,
                          plan_limit: str) -> tuple[pd.Timestamp, pd.Timestamp | None]:
        """Return ``(start, clipped_before)``: raise, or move ``start`` to the first label the plan serves."""
        earliest, step = self.earliest(now), FREQS[freq]
        if earliest is None or lo.floor(step) + step >= earliest:
            return lo, None
        if plan_limit == "raise":
            raise self._plan_error(coin_id, freq, earliest)
        log.warning("coingecko %s: the %s plan serves %s rows from %s only; earlier rows are left out", coin_id,
                    self.plan.name, freq, f"{earliest - step:%Y-%m-%d %H:%M}")
        return earliest - step, earliest - step

    def _fetch_window(self, coin_id: str, window: tuple, freq: str, now: pd.Timestamp,
                      plan_limit: str) -> tuple[pd.DataFrame, pd.Timestamp | None]:
        """Fetch one window; on a plan-limit error (10012) shrink it once to the plan's earliest date (or the
        past 364 days when the plan has no known limit) and continue, or raise when ``plan_limit='raise'``."""
        frm, to = window
        try:
            payload = self._call(coin_id, frm, to)
        except PlanHistoryLimitError:
            earliest = self.earliest(now) or now.floor("D") - pd.Timedelta(days=364)
            if plan_limit == "raise" or frm >= earliest:
                raise self._plan_error(coin_id, freq, earliest) from None
            log.warning("coingecko %s: plan limit hit for %s..%s; clipping to %s", coin_id, frm, to, earliest)
            payload = {"prices": []} if to <= earliest else self._call(coin_id, earliest, to)
            return drop_live_point(parse_market_chart(payload, coin_id), to, now, freq), earliest - FREQS[freq]
        return drop_live_point(parse_market_chart(payload, coin_id), to, now, freq), None

    def history(self, coin_id: str, start: Any, end: Any = None, freq: str = "1d",
                progress: Callable[[int, int], None] | None = None, plan_limit: str = "raise",
                chunk_days: int = 365) -> pd.DataFrame:
        """Return USD price, market cap and volume of one coin, one row per finished bar.

        Parameters
        ----------
        coin_id : str
            CoinGecko API id (``bittensor``, ``bitcoin``).
        start, end : date-like
            Inclusive range of row labels (UTC; naive means UTC); ``end`` default: now.
        freq : {"1d", "1h"}
            Daily rows (close of the UTC day) or hourly rows (close of the hour).
        progress : callable, optional
            ``progress(done, total)`` after each request (for a progress bar).
        plan_limit : {"raise", "clip"}
            What to do when the plan does not serve ``start``: raise :class:`PlanHistoryLimitError` naming the
            first date served, or fetch what it serves (``attrs["clipped_before"]`` records the date).
        chunk_days : int
            Maximum days per daily request.

        Returns
        -------
        pandas.DataFrame
            Indexed by UTC bar-open timestamp ``timestamp`` (daily: midnight of date D = close of day D), columns
            price, market_cap, volume (float), sorted and unique; ``attrs`` holds source, coin_id, freq, plan,
            fetched_at, clipped_before.

        Raises
        ------
        UnknownCoinError, PlanHistoryLimitError, RateLimitedError, ServerError, NetworkError, SourceResponseError
        """
        if freq not in FREQS:
            raise ValueError(f"freq={freq!r} is not supported by CoinGecko history; use '1d' or '1h'")
        if plan_limit not in ("raise", "clip"):
            raise ValueError(f"plan_limit={plan_limit!r} is invalid; use 'raise' or 'clip'")
        if not isinstance(coin_id, str) or not coin_id.strip():
            raise ValueError(f"coin_id={coin_id!r} is invalid; use a CoinGecko id such as 'bitcoin'")
        now = self._now()
        lo, hi = _utc(start, "start"), (now if end is None else _utc(end, "end"))
        if hi < lo:
            raise ValueError(f"end={end!r} is before start={start!r}; give start <= end")
        lo, clipped = self._apply_plan_limit(coin_id, lo, freq, now, plan_limit)
        windows = request_windows(lo, hi, freq, now, chunk_days, self.earliest(now))
        raws = []
        for i, window in enumerate(windows, 1):
            raw, hit = self._fetch_window(coin_id, window, freq, now, plan_limit)
            raws.append(raw)
            clipped = hit if hit is not None and (clipped is None or hit > clipped) else clipped
            if progress is not None:
                progress(i, len(windows))
        return self._assemble(raws, coin_id, freq, now, lo, hi, clipped)

    def _assemble(self, raws: list, coin_id: str, freq: str, now: pd.Timestamp, lo: pd.Timestamp,
                  hi: pd.Timestamp, clipped: pd.Timestamp | None) -> pd.DataFrame:
        """Concatenate raw chunks, snap to bars, keep labels ``lo..hi`` and attach metadata."""
        raws = [r for r in raws if not r.empty]
        out = to_bars(pd.concat(raws).sort_index(), freq, now) if raws else empty_history()
        step = FREQS[freq]
        out = out.loc[(out.index >= lo.floor(step)) & (out.index <= hi.floor(step))]
        if out.empty:
            log.warning("coingecko %s: no %s rows between %s and %s", coin_id, freq, lo, hi)
        out.attrs = {"source": "coingecko", "coin_id": coin_id, "freq": freq, "plan": self.plan.name,
                     "fetched_at": now.isoformat(), "clipped_before": None if clipped is None else clipped.isoformat()}
        return out


__all__ = ["CoinGeckoClient", "TokenBucket", "Plan", "PLANS", "COLUMNS", "request_windows", "parse_market_chart",
           "to_bars", "drop_live_point", "classify", "parse_retry_after"]
