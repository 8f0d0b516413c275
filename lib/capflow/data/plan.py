"""Request plans (the exact URLs a fetch would ask for, and what they cost, computed without any network) and
the HTTP policy the clients apply to them (:class:`WindowLimiter`, :class:`HttpFetcher`).

:func:`kline_plan` and :func:`derivatives_plan` list the Binance requests :class:`capflow.data.binance.
BinanceClient` makes for one symbol (the client fetches exactly these, plus the fallbacks marked
``conditional``). :func:`registry_plan` does the same for every live source and the whole registry, and
:func:`summarize` turns a plan into requests, bytes and minimum time per source.

Binance dumps (https://data.binance.vision, README of binance/binance-public-data)
-------------------------------------------------------------------------------
``data/spot/{monthly,daily}/klines/<SYM>/<interval>/<SYM>-<interval>-<YYYY-MM|YYYY-MM-DD>.zip`` (spot) and
``data/futures/um/...`` (USD-M futures), each with a ``.zip.CHECKSUM`` sidecar (``<sha256>  <file name>``);
``data/futures/um/monthly/fundingRate/<SYM>/<SYM>-fundingRate-YYYY-MM.zip`` (monthly only) and
``data/futures/um/daily/metrics/<SYM>/<SYM>-metrics-YYYY-MM-DD.zip`` (5-minute open interest).

Publication assumptions (a 404 falls back, so they only decide what is planned first): the monthly file of month
M exists from the day after the first Monday of M+1; the daily file of day D exists from D + 1 day +
:data:`DAILY_LAG_HOURS` hours. Bars after the last published file come from the REST klines endpoint
(1000 bars per request). Funding after the last monthly file comes from ``/fapi/v1/fundingRate``.

Typical sizes (:data:`TYPICAL_BYTES`)
------------------------------------
Kline CSVs hold ~135 characters per row (12 columns, prices padded to 8 decimals) and deflate to about 45 %:
a monthly 1h file (744 rows) ~45 kB, monthly 4h ~11.5 kB, monthly 1d ~2.1 kB, a daily 1h file ~1.6 kB, daily
4h ~0.5 kB, daily 1d ~0.23 kB (zip overhead included); a CHECKSUM file ~100 B; a monthly funding file
(93 rows) ~1.5 kB; a daily metrics file (288 rows of 8 columns) ~12 kB. REST klines answer ~150 B of JSON per
bar. Yahoo's chart API answers ~90 B per bar (6 series + timestamp), CoinGecko's ``market_chart/range`` ~105 B
per observation (3 series).
SEC: companyfacts ~4 MB of JSON for a large filer, submissions ~0.4 MB, an SGML header ~3 kB (uncompressed;
``requests`` asks for gzip, so the wire carries about a tenth). ``benchmarks/bench_request_plan.py`` checks the
kline figures by zipping rows formatted like Binance's.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import pandas as pd

from capflow.calendars import utc_timestamp
from capflow.data.errors import (NetworkError, RateLimitedError, RegionBlockedError, ServerError,
                                 SourceResponseError, UnknownCoinError)

DUMP_BASE = "https://data.binance.vision"
SPOT_KLINES_API = "https://api.binance.com/api/v3/klines"
PERP_KLINES_API = "https://fapi.binance.com/fapi/v1/klines"
FUNDING_API = "https://fapi.binance.com/fapi/v1/fundingRate"
MARKET_PATH: dict[str, str] = {"spot": "data/spot", "perp": "data/futures/um"}
KLINES_API: dict[str, str] = {"spot": SPOT_KLINES_API, "perp": PERP_KLINES_API}
#: Bar intervals served (Binance interval names; also capflow's freq names).
FREQS: dict[str, pd.Timedelta] = {"1d": pd.Timedelta(days=1), "4h": pd.Timedelta(hours=4),
                                  "1h": pd.Timedelta(hours=1)}
REST_LIMIT = 1000  # bars per REST klines request (spot max 1000; fapi weight 5 at 1000)
FUNDING_REST_LIMIT = 1000
DAILY_LAG_HOURS = 8
DAY = pd.Timedelta(days=1)

TYPICAL_BYTES: dict[str, int] = {
    "klines-monthly-1d": 2_100, "klines-monthly-4h": 11_500, "klines-monthly-1h": 45_000,
    "klines-daily-1d": 230, "klines-daily-4h": 520, "klines-daily-1h": 1_600,
    "fundingRate-monthly": 1_500, "metrics-daily": 12_000, "checksum": 100,
    "rest-kline-bar": 150, "rest-funding-row": 110, "yahoo-bar": 90, "coingecko-point": 105,
    "sec-companyfacts": 4_000_000, "sec-submissions": 400_000, "sec-submissions-page": 300_000,
    "sec-header": 3_000, "yahoo-session": 60_000,
}


@dataclass(frozen=True)
class PlannedRequest:
    """One HTTP request of a plan.

    Attributes
    ----------
    source : str
        ``binance_dump``, ``binance_rest``, ``yahoo``, ``coingecko`` or ``sec``.
    url : str
        Full URL (REST query parameters in ``params``).
    est_bytes : int
        Typical response size (see :data:`TYPICAL_BYTES`).
    kind : str
        ``zip``, ``checksum``, ``rest``, ``json``, ``header``.
    asset, freq, period : str
        What it serves (``period``: ``YYYY-MM``, ``YYYY-MM-DD`` or a REST range).
    conditional : bool
        Fetched only when an earlier request comes back missing (spot file absent -> perp file).
    params : tuple of (str, object)
        REST query parameters.
    """

    source: str
    url: str
    est_bytes: int
    kind: str
    asset: str = ""
    freq: str = ""
    period: str = ""
    conditional: bool = False
    params: tuple[tuple[str, Any], ...] = ()


# ------------------------------------------------------------------------------------------------ calendar
def first_monday(year: int, month: int) -> pd.Timestamp:
    """First Monday of a month, at 00:00 UTC."""
    first = pd.Timestamp(year=year, month=month, day=1, tz="UTC")
    return first + pd.Timedelta(days=(7 - first.dayofweek) % 7)


def monthly_published(month: pd.Period, now: pd.Timestamp) -> bool:
    """Whether the monthly dump of ``month`` is assumed published at ``now`` (day after the next first Monday)."""
    nxt = month + 1
    return now >= first_monday(nxt.year, nxt.month) + DAY


def daily_published(day: pd.Timestamp, now: pd.Timestamp) -> bool:
    """Whether the daily dump of UTC ``day`` is assumed published at ``now``."""
    return now >= day.floor("D") + DAY + pd.Timedelta(hours=DAILY_LAG_HOURS)


def label_range(start: Any, end: Any, freq: str, now: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last bar label (UTC bar open) wanted: ``start..end`` floored, capped at the last finished bar.

    Raises
    ------
    ValueError
        Unknown ``freq`` or ``end`` before ``start``.
    """
    if freq not in FREQS:
        raise ValueError(f"freq={freq!r} is not supported by Binance klines here; use one of {', '.join(FREQS)}")
    step = FREQS[freq]
    lo = utc_timestamp(start, "start")
    hi = now if end is None else utc_timestamp(end, "end")
    if hi < lo:
        raise ValueError(f"end={end!r} is before start={start!r}; give start <= end")
    last_done = now.floor(step) - step
    return lo.floor(step), min(hi.floor(step), last_done)


def split_periods(lo: pd.Timestamp, hi: pd.Timestamp, now: pd.Timestamp
                  ) -> tuple[list[pd.Period], list[pd.Timestamp], pd.Timestamp | None]:
    """Split labels ``lo..hi`` into published months, published days and the first instant left for REST.

    Returns
    -------
    (months, days, rest_from)
        Months whose monthly file is published, days (UTC midnight) whose daily file is published among the
        other months, and the first UTC day not covered by either (None when dumps cover everything).
    """
    if hi < lo:
        return [], [], None
    months, days, rest_from = [], [], None
    for month in pd.period_range(lo.tz_localize(None), hi.tz_localize(None), freq="M"):
        if monthly_published(month, now):
            months.append(month)
            continue
        first = max(lo.floor("D"), pd.Timestamp(month.start_time, tz="UTC"))
        last = min(hi.floor("D"), pd.Timestamp(month.end_time.normalize(), tz="UTC"))
        for day in pd.date_range(first, last, freq="D"):
            if rest_from is None and daily_published(day, now):
                days.append(day)
            elif rest_from is None:
                rest_from = day
    return months, days, rest_from


# ------------------------------------------------------------------------------------------------ URLs
def dump_url(market: str, dataset: str, symbol: str, period: str, interval: str = "") -> str:
    """URL of one Binance dump file.

    Parameters
    ----------
    market : {"spot", "perp"}
    dataset : {"klines", "fundingRate", "metrics"}
    symbol : str
        ``BTCUSDT``.
    period : str
        ``YYYY-MM`` (monthly file) or ``YYYY-MM-DD`` (daily file).
    interval : str
        Kline interval (``1d``, ``1h``); klines only.
    """
    if market not in MARKET_PATH:
        raise ValueError(f"market={market!r} is invalid; use 'spot' or 'perp'")
    cadence = "monthly" if len(period) == 7 else "daily"
    root = f"{DUMP_BASE}/{MARKET_PATH[market]}/{cadence}/{dataset}/{symbol}"
    if dataset == "klines":
        return f"{root}/{interval}/{symbol}-{interval}-{period}.zip"
    return f"{root}/{symbol}-{dataset}-{period}.zip"


def _zip_pair(market: str, dataset: str, symbol: str, period: str, interval: str, size_key: str,
              asset: str, conditional: bool) -> list[PlannedRequest]:
    url = dump_url(market, dataset, symbol, period, interval)
    kw = dict(asset=asset, freq=interval, period=period, conditional=conditional)
    return [PlannedRequest("binance_dump", url, TYPICAL_BYTES[size_key], "zip", **kw),
            PlannedRequest("binance_dump", url + ".CHECKSUM", TYPICAL_BYTES["checksum"], "checksum", **kw)]


def rest_kline_requests(market: str, symbol: str, frm: pd.Timestamp, hi: pd.Timestamp, freq: str,
                        asset: str = "", conditional: bool = False) -> list[PlannedRequest]:
    """REST klines requests covering bar labels ``frm..hi`` (chunks of :data:`REST_LIMIT` bars)."""
    step, out = FREQS[freq], []
    for a in pd.date_range(frm, hi, freq=step * REST_LIMIT):
        b = min(a + step * (REST_LIMIT - 1), hi)
        n = int((b - a) / step) + 1
        params = (("symbol", symbol), ("interval", freq), ("startTime", int(a.timestamp() * 1000)),
                  ("endTime", int((b + step).timestamp() * 1000) - 1), ("limit", REST_LIMIT))
        out.append(PlannedRequest("binance_rest", KLINES_API[market], n * TYPICAL_BYTES["rest-kline-bar"], "rest",
                                  asset, freq, f"{a:%Y-%m-%dT%H:%M}..{b:%Y-%m-%dT%H:%M}", conditional, params))
    return out


def kline_plan(market: str, symbol: str, start: Any, end: Any, freq: str, now: Any = None, asset: str = "",
               conditional: bool = False) -> list[PlannedRequest]:
    """The requests that fetch one symbol's klines, without fetching anything.

    Monthly zips (each followed by its CHECKSUM) for published months, daily zips for published days of the
    other months, then REST klines for the rest up to the last finished bar.

    Parameters
    ----------
    market : {"spot", "perp"}
    symbol : str
        Binance symbol (``BTCUSDT``).
    start, end : date-like
        Inclusive label range (UTC); ``end`` None means now.
    freq : {"1d", "4h", "1h"}
    now : date-like, optional
        The moment the plan is for (default: the current time).
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else utc_timestamp(now, "now")
    lo, hi = label_range(start, end, freq, now)
    months, days, rest_from = split_periods(lo, hi, now)
    out: list[PlannedRequest] = []
    for m in months:
        out += _zip_pair(market, "klines", symbol, m.strftime("%Y-%m"), freq, f"klines-monthly-{freq}", asset,
                         conditional)
    for d in days:
        out += _zip_pair(market, "klines", symbol, f"{d:%Y-%m-%d}", freq, f"klines-daily-{freq}", asset,
                         conditional)
    if rest_from is not None:
        out += rest_kline_requests(market, symbol, max(rest_from, lo), hi, freq, asset, conditional)
    return out


def derivatives_plan(symbol: str, start: Any, end: Any = None, now: Any = None, asset: str = "",
                     ) -> list[PlannedRequest]:
    """Requests for funding (monthly zips, then REST) and open interest (daily metrics zips) of one perp."""
    now = pd.Timestamp.now(tz="UTC") if now is None else utc_timestamp(now, "now")
    lo, hi = label_range(start, end, "1h", now)
    out: list[PlannedRequest] = []
    months = [m for m in pd.period_range(lo.tz_localize(None), hi.tz_localize(None), freq="M")]
    published = [m for m in months if monthly_published(m, now)]
    for m in published:
        out += _zip_pair("perp", "fundingRate", symbol, m.strftime("%Y-%m"), "", "fundingRate-monthly", asset, False)
    if len(published) < len(months):
        frm = max(lo, pd.Timestamp(months[len(published)].start_time, tz="UTC"))
        n_rows = int((hi - frm) / pd.Timedelta(hours=8)) + 1
        for k in range(0, n_rows, FUNDING_REST_LIMIT):
            a = frm + pd.Timedelta(hours=8) * k
            params = (("symbol", symbol), ("startTime", int(a.timestamp() * 1000)),
                      ("endTime", int((hi + pd.Timedelta(hours=1)).timestamp() * 1000) - 1),
                      ("limit", FUNDING_REST_LIMIT))
            rows = min(FUNDING_REST_LIMIT, n_rows - k)
            out.append(PlannedRequest("binance_rest", FUNDING_API, rows * TYPICAL_BYTES["rest-funding-row"], "rest",
                                      asset, "8h", f"{a:%Y-%m-%d}..{hi:%Y-%m-%d}", False, params))
    for d in pd.date_range(lo.floor("D"), hi.floor("D"), freq="D"):
        if daily_published(d, now):
            out += _zip_pair("perp", "metrics", symbol, f"{d:%Y-%m-%d}", "", "metrics-daily", asset, False)
    return out


# ------------------------------------------------------------------------------------------ whole registry
def _binance_asset(a: Any, start: Any, end: Any, freq: str, now: pd.Timestamp) -> list[PlannedRequest]:
    """Spot plan (perp fill-ins marked conditional), or the perp plan when Binance has no spot market."""
    if a.binance_spot:
        out = kline_plan("spot", a.binance_spot, start, end, freq, now, a.id)
        if a.binance_perp:
            out += kline_plan("perp", a.binance_perp, start, end, freq, now, a.id, conditional=True)
        return out
    return kline_plan("perp", a.binance_perp, start, end, freq, now, a.id) if a.binance_perp else []


def _yahoo(tickers: list[tuple[str, str]], start: pd.Timestamp, end: pd.Timestamp, freq: str,
           now: pd.Timestamp) -> list[PlannedRequest]:
    """One chart request per ticker (yfinance), plus the cookie/crumb handshake; hourly: last 730 days only."""
    if freq == "1h":
        start = max(start, now.floor("D") - pd.Timedelta(days=729))
    out = [PlannedRequest("yahoo", "https://fc.yahoo.com", TYPICAL_BYTES["yahoo-session"], "json", freq=freq),
           PlannedRequest("yahoo", "https://query1.finance.yahoo.com/v1/test/getcrumb", 50, "json", freq=freq)]
    for asset_id, ticker in tickers:
        bars_per_day = 24 if freq == "1h" else 1
        n = max(0, (end - start).days + 1) * bars_per_day
        out.append(PlannedRequest("yahoo", f"https://query2.finance.yahoo.com/v8/finance/chart/{ticker}",
                                  n * TYPICAL_BYTES["yahoo-bar"], "json", asset_id, freq,
                                  f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"))
    return out


def _coingecko(ids: list[str], start: pd.Timestamp, end: pd.Timestamp, freq: str,
               now: pd.Timestamp) -> list[PlannedRequest]:
    """CoinGecko ``market_chart/range`` windows (pro plan: the public/demo plans serve the last 365 days only)."""
    from capflow.data.coingecko import request_windows

    if freq not in ("1d", "1h"):
        return []
    out = []
    for cid in ids:
        for frm, to in request_windows(start, end, freq, now):
            points = int((to - frm) / FREQS[freq]) + 1
            out.append(PlannedRequest("coingecko", f"https://api.coingecko.com/api/v3/coins/{cid}/market_chart/range",
                                      points * TYPICAL_BYTES["coingecko-point"], "json", cid, freq,
                                      f"{frm:%Y-%m-%d}..{to:%Y-%m-%d}"))
    return out


def _sec(tickers: Iterable[str], start: pd.Timestamp, now: pd.Timestamp) -> list[PlannedRequest]:
    """Companyfacts and submissions per hyperscaler, one older submissions page (conditional) and one SGML
    header per quarterly release since ``start``."""
    from capflow.data.edgar import COMPANIES, companyfacts_url, submissions_url

    quarters = max(1, int((now - start).days / 91.3))
    out = []
    for t in tickers:
        cik = COMPANIES[t].cik
        out += [PlannedRequest("sec", companyfacts_url(cik), TYPICAL_BYTES["sec-companyfacts"], "json", t),
                PlannedRequest("sec", submissions_url(cik), TYPICAL_BYTES["sec-submissions"], "json", t),
                PlannedRequest("sec", submissions_url(cik, page=1), TYPICAL_BYTES["sec-submissions-page"], "json",
                               t, conditional=True)]
        out += [PlannedRequest("sec", f"https://www.sec.gov/Archives/edgar/data/{cik}/<accession>.hdr.sgml",
                               TYPICAL_BYTES["sec-header"], "header", t, period=f"release {i + 1}")
                for i in range(quarters)]
    return out


def registry_plan(start: Any = "2023-01-01", end: Any = None, freqs: Iterable[str] = ("1d", "1h"),
                  assets: Iterable[Any] | None = None, now: Any = None) -> list[PlannedRequest]:
    """The requests every live source would need for the registry, without fetching.

    Crypto: Binance (spot, perp fill-ins conditional), Yahoo crypto tickers (daily fallback) and CoinGecko (for
    comparison); equities: Yahoo (daily only: one batch per frequency); SEC EDGAR for the hyperscalers' capex.

    Parameters
    ----------
    start, end : date-like
        Inclusive UTC dates (``end`` default: now).
    freqs : iterable of {"1d", "4h", "1h"}
    assets : iterable of Asset or str, optional
        Default: the whole registry.
    now : date-like, optional
        Plan as of this moment (default: the current time).
    """
    from capflow import assets as registry
    from capflow.data.edgar import COMPANIES

    now = pd.Timestamp.now(tz="UTC") if now is None else utc_timestamp(now, "now")
    pool = list(registry.REGISTRY) if assets is None else [registry.resolve(a) for a in assets]
    lo = utc_timestamp(start, "start")
    hi = now if end is None else min(utc_timestamp(end, "end"), now)
    out: list[PlannedRequest] = []
    for freq in freqs:
        crypto = [a for a in pool if a.is_crypto]
        for a in crypto:
            out += _binance_asset(a, lo, hi, freq, now)
        out += _yahoo([(a.id, a.yahoo_crypto) for a in crypto if a.yahoo_crypto], lo, hi, freq, now)
        if freq == "1d":
            out += _yahoo([(a.id, a.yahoo) for a in pool if not a.is_crypto and a.yahoo], lo, hi, freq, now)[2:]
        out += _coingecko([a.coingecko_id for a in crypto if a.coingecko_id], lo, hi, freq, now)
    hyperscalers = [a.id for a in pool if a.id in COMPANIES]
    return out + _sec(hyperscalers, lo, now)


#: Requests per second each source is driven at (the clients' limiters; CoinGecko: 500/min pro plan).
RATES: dict[str, float] = {"binance_dump": 10.0, "binance_rest": 10.0, "yahoo": 2.0, "coingecko": 500 / 60,
                           "sec": 10.0}


def summarize(plan: Iterable[PlannedRequest]) -> pd.DataFrame:
    """Requests, megabytes and minimum duration per source (and conditional requests apart).

    Returns
    -------
    DataFrame
        Columns source, requests, conditional, mb, mb_conditional, min_seconds (definite requests at
        :data:`RATES`), one row per source plus ``total``.
    """
    rows = pd.DataFrame([(r.source, r.conditional, r.est_bytes) for r in plan],
                        columns=["source", "conditional", "bytes"])
    if rows.empty:
        return pd.DataFrame(columns=["source", "requests", "conditional", "mb", "mb_conditional", "min_seconds"])
    g = rows.groupby("source", sort=False)
    out = pd.DataFrame({
        "requests": g["conditional"].apply(lambda c: int((~c).sum())),
        "conditional": g["conditional"].apply(lambda c: int(c.sum())),
        "mb": g.apply(lambda d: d.loc[~d["conditional"], "bytes"].sum() / 1e6, include_groups=False),
        "mb_conditional": g.apply(lambda d: d.loc[d["conditional"], "bytes"].sum() / 1e6, include_groups=False),
    })
    out["min_seconds"] = [out.loc[s, "requests"] / RATES.get(s, 1.0) for s in out.index]
    total = out.sum(numeric_only=True).to_frame("total").T
    out = pd.concat([out, total]).rename_axis("source").reset_index()
    out = out.astype({"requests": int, "conditional": int})
    return out.round({"mb": 2, "mb_conditional": 2, "min_seconds": 1})


# ------------------------------------------------------------------------------------------------ HTTP
class WindowLimiter:
    """At most ``max_calls`` calls in any ``period``-second sliding window; injectable clock and sleep.

    Parameters
    ----------
    max_calls : int
        Calls allowed per window (10 for SEC EDGAR's 10 requests per second).
    period : float
        Window length in seconds.
    clock, sleep : callable, optional
        ``clock() -> seconds`` and ``sleep(seconds)``; default :func:`time.monotonic` and :func:`time.sleep`.
    """

    def __init__(self, max_calls: int, period: float = 1.0, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        if int(max_calls) < 1 or period <= 0:
            raise ValueError(f"max_calls={max_calls!r}, period={period!r} are invalid; use max_calls >= 1 and "
                             "period > 0 seconds")
        self.max_calls, self.period = int(max_calls), float(period)
        self._clock = clock or time.monotonic
        self._sleep = sleep or time.sleep
        self._stamps: deque[float] = deque()

    def acquire(self) -> float:
        """Wait until a call is allowed, record it and return the seconds slept."""
        now = self._clock()
        while self._stamps and now - self._stamps[0] >= self.period:
            self._stamps.popleft()
        waited = 0.0
        if len(self._stamps) >= self.max_calls:
            waited = self._stamps[0] + self.period - now
            self._sleep(waited)
            now = max(self._clock(), self._stamps[0] + self.period)  # an early wake-up must not break the limit
            while self._stamps and now - self._stamps[0] >= self.period:
                self._stamps.popleft()
        self._stamps.append(now)
        return waited

    def __repr__(self) -> str:
        return f"WindowLimiter({self.max_calls} per {self.period:g} s)"


#: Real-time limiters shared by every client of a host in this process.
_SHARED: dict[str, WindowLimiter] = {}


def _host(url: str) -> str:
    return url.split("/")[2] if "://" in url else url


class HttpFetcher:
    """GET with a rate limiter, bounded retries and one-line typed errors.

    Parameters
    ----------
    source : str
        Name used in messages and errors (``binance``, ``sec``).
    session : object, optional
        Has ``get(url, params=, headers=, timeout=)`` returning a ``requests.Response``; default a new
        ``requests.Session``. Tests inject fakes.
    clock, sleep : callable, optional
        ``clock() -> epoch seconds`` and ``sleep(seconds)``; when either is given the limiters use them too.
    max_per_second : float
        Requests per second per host.
    max_retries : int
        Retries after the first attempt (429/418 without a long Retry-After, 5xx, network errors).
    retry_after_cap : float
        Longest ``Retry-After`` honoured by sleeping; a longer one raises :class:`RateLimitedError` at once.
    backoff_base, backoff_cap : float
        Wait ``base * 2**attempt`` seconds (capped) when the server gives no Retry-After.
    blocked : tuple of int
        Statuses meaning "region refused" (:class:`RegionBlockedError`, no retry).
    hints : dict of int to str
        Advice appended to the message of an error with that status.
    headers : dict, optional
        Sent with every request (EDGAR's User-Agent).
    limit_scope : str, optional
        One limiter for every host under this name (SEC's 10 requests/s cover www.sec.gov and data.sec.gov
        together); default one limiter per host.
    """

    def __init__(self, source: str, session: Any = None, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] | None = None, *, max_per_second: float = 10.0,
                 max_retries: int = 3, retry_after_cap: float = 60.0, backoff_base: float = 1.0,
                 backoff_cap: float = 30.0, timeout: float = 30.0, blocked: tuple[int, ...] = (451,),
                 hints: dict[int, str] | None = None, headers: dict[str, str] | None = None,
                 limit_scope: str | None = None) -> None:
        if retry_after_cap < 0 or max_retries < 0:
            raise ValueError(f"retry_after_cap={retry_after_cap!r}, max_retries={max_retries!r} are invalid; use "
                             "numbers >= 0")
        if session is None:
            import requests

            session = requests.Session()
        self.source, self.session = source, session
        self._clock, self._sleep = clock or time.time, sleep or time.sleep
        self._injected = clock is not None or sleep is not None
        self.max_per_second = max_per_second
        self.max_retries, self.retry_after_cap = max_retries, float(retry_after_cap)
        self.backoff_base, self.backoff_cap, self.timeout = backoff_base, backoff_cap, timeout
        self.blocked, self.hints, self.headers = tuple(blocked), dict(hints or {}), dict(headers or {})
        self._limiters: dict[str, WindowLimiter] = {}
        self.limit_scope = limit_scope

    def limiter(self, url: str) -> WindowLimiter:
        """The limiter of ``url``'s host or scope (shared process-wide when real time is used)."""
        host = self.limit_scope or _host(url)
        if host not in self._limiters:
            n = max(1, int(self.max_per_second))
            self._limiters[host] = (WindowLimiter(n, n / self.max_per_second, self._clock, self._sleep)
                                    if self._injected else
                                    _SHARED.setdefault(f"{host}/{n}", WindowLimiter(n, n / self.max_per_second)))
        return self._limiters[host]

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_cap, self.backoff_base * 2 ** attempt)

    def get(self, url: str, params: dict | None = None, *, what: str, asset: str | None = None,
            missing_ok: bool = False) -> Any:
        """GET ``url``; return the response (2xx), None for 404 when ``missing_ok``, else raise a typed error.

        Raises
        ------
        RegionBlockedError, RateLimitedError, ServerError, NetworkError, UnknownCoinError, SourceResponseError
        """
        import requests

        kw = {"source": self.source, "asset": asset}
        problem = ""
        for attempt in range(self.max_retries + 1):
            self.limiter(url).acquire()
            try:
                resp = self.session.get(url, params=params, headers=self.headers or None, timeout=self.timeout)
            except (requests.exceptions.Timeout, requests.exceptions.ConnectionError, ConnectionError,
                    TimeoutError) as exc:
                problem = f"network unreachable ({type(exc).__name__})"
                if attempt < self.max_retries:
                    self._sleep(self._backoff(attempt))
                    continue
                raise NetworkError(f"{self.source}: {problem} fetching {what} ({url}) after {attempt + 1} attempts; "
                                   "check the connection or set CAPFLOW_OFFLINE=1", **kw) from None
            status = int(resp.status_code)
            if 200 <= status < 300:
                return resp
            if status == 404 and missing_ok:
                return None
            wait = self._retry_wait(resp, status, url, what, attempt, kw)
            if wait is None:
                raise self._error(resp, status, url, what, kw)
            problem = f"HTTP {status}"
            self._sleep(wait)
        raise AssertionError(problem)  # pragma: no cover - _retry_wait raises on the last attempt

    def _retry_wait(self, resp: Any, status: int, url: str, what: str, attempt: int, kw: dict) -> float | None:
        """Seconds to wait before retrying, None when the status is not retried; raise when retries are over."""
        from capflow.data.coingecko import parse_retry_after

        last = attempt >= self.max_retries
        if status in (429, 418):
            after = parse_retry_after((resp.headers or {}).get("Retry-After"), self._clock())
            if after is not None and after > self.retry_after_cap:
                raise RateLimitedError(
                    f"{self.source}: HTTP {status} for {what} ({url}): the server asks to wait {after:g} s, more "
                    f"than retry_after_cap={self.retry_after_cap:g} s; retry after that wait or raise "
                    "retry_after_cap", retry_after=after, **kw)
            if last:
                raise RateLimitedError(f"{self.source}: HTTP {status} (rate limited) for {what} ({url}) after "
                                       f"{attempt + 1} attempts; wait a minute and retry", retry_after=after, **kw)
            return self._backoff(attempt) if after is None else after
        if status >= 500:
            if last:
                raise ServerError(f"{self.source}: server error HTTP {status} for {what} ({url}) after "
                                  f"{attempt + 1} attempts; retry later or use the snapshot", **kw)
            return self._backoff(attempt)
        return None

    def _error(self, resp: Any, status: int, url: str, what: str, kw: dict) -> Exception:
        """The typed error for a final, non-retried status."""
        body = " ".join(str(getattr(resp, "text", "") or "")[:160].split())
        hint = self.hints.get(status, "")
        if status in self.blocked:
            return RegionBlockedError(f"{self.source}: HTTP {status} for {what} ({url}): the service refuses this "
                                      f"region or network; use the next source{'; ' + hint if hint else ''}",
                                      status=status, url=url, **kw)
        if status == 400 and '"code":-1121' in body.replace(" ", ""):
            return UnknownCoinError(f"{self.source}: symbol in {what} is not listed ({body}); check the asset's "
                                    "binance_spot/binance_perp in capflow.assets", **kw)
        return SourceResponseError(f"{self.source}: HTTP {status} for {what} ({url}): {body or 'empty body'}"
                                   f"{'; ' + hint if hint else ''}", **kw)


__all__ = ["HttpFetcher", "WindowLimiter", "PlannedRequest", "kline_plan", "derivatives_plan", "registry_plan",
           "summarize", "dump_url", "label_range", "split_periods", "monthly_published", "daily_published",
           "rest_kline_requests", "TYPICAL_BYTES", "FREQS", "RATES", "DUMP_BASE"]
