"""Binance public market data, keyless: klines (spot, USD-M perpetual), funding rates and open interest.

Entry point: ``BinanceClient().klines(asset, start, end, freq="1d")`` and ``.derivatives(asset, start, end)``.

Where the rows come from
------------------------
History comes from the dumps at https://data.binance.vision (monthly files for finished months, daily files
for the current month; URL layout and publication rules in :mod:`capflow.data.plan`). Every zip is checked
against the sha256 in its ``.CHECKSUM`` file before it is opened: a mismatch (or a missing checksum) raises
:class:`~capflow.data.errors.ChecksumMismatchError` naming the file, and the bytes are dropped, never parsed,
cached or returned. Days not dumped yet come from the REST klines endpoints (``api.binance.com/api/v3/klines``,
``fapi.binance.com/fapi/v1/klines``); funding after the last monthly file from ``/fapi/v1/fundingRate``.
:func:`request_plan` (and :func:`capflow.data.plan.kline_plan`) list the same URLs without fetching.

``market="auto"`` takes spot and fills the bars spot lacks (before the spot listing, outages) from the USD-M
perpetual; each row keeps its ``source``: ``bn_spot`` or ``bn_perp``.

Frames
------
Klines: indexed by UTC bar open ``timestamp`` (a daily bar is labelled by its UTC date and is the close of that
day, as in the snapshot), columns ``price`` (= close), open, high, low, close, ``volume`` (quote-asset volume:
USDT, taken as USD), ``source``. Only finished bars. Derivatives: the snapshot's ``crypto_derivatives`` layout.

Timestamps: the kline CSVs hold milliseconds, except spot dumps from 2025-01-01 on, which hold microseconds;
the unit is told per row by magnitude (>= 1e14 means microseconds). CSVs with or without a header row are read.

HTTP: one limiter per host (10 requests/s by default; Binance's own limits are 6000 weight/min on
api.binance.com, where klines weigh 2, and 2400 weight/min on fapi, where 1000 bars weigh 5; the dump host
publishes none). HTTP 451 or 403 (region refused) raises :class:`~capflow.data.errors.RegionBlockedError` at
once; 429/418 honour ``Retry-After`` up to ``retry_after_cap`` seconds (longer: no sleep,
:class:`~capflow.data.errors.RateLimitedError` naming the wait asked); 5xx and network errors are retried with
backoff (:class:`capflow.data.plan.HttpFetcher`, shared with :mod:`capflow.data.edgar`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import time
import zipfile
from typing import Any, Callable

import numpy as np
import pandas as pd

from capflow.data import plan as _plan
from capflow.data.errors import ChecksumMismatchError, NoDataError, RegionBlockedError, SourceResponseError
from capflow.data.plan import FREQS, HttpFetcher, WindowLimiter, dump_url, label_range, split_periods

log = logging.getLogger(__name__)

KLINE_COLUMNS: tuple[str, ...] = ("open_time", "open", "high", "low", "close", "volume", "close_time",
                                  "quote_volume", "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore")
COLUMNS: tuple[str, ...] = ("price", "open", "high", "low", "close", "volume", "source")
DERIVATIVE_COLUMNS: tuple[str, ...] = ("timestamp_utc", "asset", "funding_rate", "open_interest_usd",
                                       "long_liquidations_usd", "short_liquidations_usd", "source")
SOURCE_TAG: dict[str, str] = {"spot": "bn_spot", "perp": "bn_perp"}
MICROS_THRESHOLD = 10 ** 14  # ms timestamps stay below this until the year 5138; microseconds are above
_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,20}(USDT|USDC|FDUSD|BUSD)$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


# ------------------------------------------------------------------------------------------------ parsing
def epoch_to_utc(values: Any) -> pd.DatetimeIndex:
    """UTC times from epoch integers, each read as microseconds when >= 1e14, else milliseconds."""
    v = np.asarray(values, dtype="int64")
    return pd.DatetimeIndex(pd.to_datetime(np.where(v >= MICROS_THRESHOLD, v * 1_000, v * 1_000_000), utc=True))


def parse_checksum(text: str | None, file: str, asset: str | None = None) -> str:
    """The sha256 (hex) from a ``.CHECKSUM`` body ``<sha256>  <file name>``; refuse a missing or foreign one."""
    parts = (text or "").split()
    if not parts or not _HEX64.match(parts[0]):
        raise ChecksumMismatchError(f"binance: no valid checksum published for {file} (expected '<sha256>  <name>' "
                                    f"in {file}.CHECKSUM); the file is refused", source="binance", asset=asset,
                                    file=file)
    name = file.rsplit("/", 1)[-1]
    if len(parts) > 1 and parts[1].lstrip("*") != name:
        raise ChecksumMismatchError(f"binance: {file}.CHECKSUM is for {parts[1]!r}, not {name!r}; the file is "
                                    "refused", source="binance", asset=asset, file=file, expected=parts[0].lower())
    return parts[0].lower()


def verify_checksum(data: bytes, expected: str, file: str, asset: str | None = None) -> None:
    """Raise :class:`ChecksumMismatchError` unless ``sha256(data) == expected``."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ChecksumMismatchError(f"binance: checksum mismatch for {file}: sha256 {actual} but the published "
                                    f"CHECKSUM says {expected}; the file is refused (retry; report it if it "
                                    "persists)", source="binance", asset=asset, file=file, expected=expected,
                                    actual=actual)


def read_zip_csv(data: bytes, file: str) -> bytes:
    """The bytes of the (first) CSV inside a dump zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith(".csv")]
            if not names:
                raise SourceResponseError(f"binance: {file} holds no CSV (members: {zf.namelist()[:3]}); report "
                                          "this dump", source="binance")
            return zf.read(names[0])
    except zipfile.BadZipFile:
        raise SourceResponseError(f"binance: {file} is not a valid zip archive; retry or report it",
                                  source="binance") from None


def _table(data: bytes | str, names: tuple[str, ...], file: str, header_first: str | None = None) -> pd.DataFrame:
    """Read a headerless or headed CSV as strings named ``names`` (header: first cell non-numeric)."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    try:
        df = pd.read_csv(io.StringIO(text), header=None, dtype=str, skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=list(names))
    first = str(df.iat[0, 0]).strip()
    has_header = first.lower() == (header_first or "") or not re.fullmatch(r"-?\d+(\.\d+)?", first)
    if header_first and has_header and first.lower() == header_first:
        df = df.iloc[1:].set_axis([str(c).strip().lower() for c in df.iloc[0]], axis=1)
        missing = [n for n in names if n not in df.columns]
        if missing:
            raise SourceResponseError(f"binance: {file} lacks column {missing[0]!r} (expected {', '.join(names)})",
                                      source="binance")
        return df[list(names)].reset_index(drop=True)
    if df.shape[1] != len(names):
        raise SourceResponseError(f"binance: {file} has {df.shape[1]} columns; expected {len(names)} "
                                  f"({', '.join(names)})", source="binance")
    return df.iloc[1 if has_header else 0:].set_axis(list(names), axis=1).reset_index(drop=True)


def _numbers(df: pd.DataFrame, cols: tuple[str, ...], file: str, dtype: str = "float64") -> pd.DataFrame:
    out = {}
    for c in cols:
        try:
            out[c] = pd.to_numeric(df[c].str.strip()).astype(dtype)
        except (ValueError, TypeError, OverflowError):
            bad = df[c][pd.to_numeric(df[c], errors="coerce").isna()].iloc[0]
            raise SourceResponseError(f"binance: {file} column {c!r} has a non-numeric value {bad!r}",
                                      source="binance") from None
    return pd.DataFrame(out)


def parse_kline_csv(data: bytes | str, file: str) -> pd.DataFrame:
    """Parse a 12-column kline CSV (header row optional; ms or µs times) into typed columns.

    Returns
    -------
    DataFrame
        Columns open_time (UTC), open, high, low, close, volume, quote_volume; RangeIndex.
    """
    raw = _table(data, KLINE_COLUMNS, file)
    times = _numbers(raw, ("open_time",), file, "int64")["open_time"]
    out = _numbers(raw, ("open", "high", "low", "close", "volume", "quote_volume"), file)
    out.insert(0, "open_time", epoch_to_utc(times.to_numpy()))
    return out


def parse_kline_rows(rows: Any, what: str) -> pd.DataFrame:
    """Parse the REST klines JSON (a list of 12-item arrays) like :func:`parse_kline_csv`."""
    if not isinstance(rows, list) or any(not isinstance(r, list) or len(r) != 12 for r in rows):
        raise SourceResponseError(f"binance: answer for {what} is not a list of 12-item klines; got "
                                  f"{str(rows)[:80]!r}", source="binance")
    text = "\n".join(",".join(str(v) for v in r) for r in rows)
    return parse_kline_csv(text, what) if rows else parse_kline_csv("", what).iloc[0:0]


def klines_frame(raw: pd.DataFrame, market: str) -> pd.DataFrame:
    """Turn parsed klines into the module's frame (index ``timestamp``, :data:`COLUMNS`)."""
    idx = pd.DatetimeIndex(raw["open_time"] if len(raw) else pd.DatetimeIndex([], tz="UTC"), name="timestamp")
    out = pd.DataFrame({"price": raw["close"].to_numpy(float), "open": raw["open"].to_numpy(float),
                        "high": raw["high"].to_numpy(float), "low": raw["low"].to_numpy(float),
                        "close": raw["close"].to_numpy(float), "volume": raw["quote_volume"].to_numpy(float),
                        "source": SOURCE_TAG[market]}, index=idx)
    return out[list(COLUMNS)]


def parse_funding_csv(data: bytes | str, file: str) -> pd.DataFrame:
    """Parse a fundingRate dump CSV (``calc_time,funding_interval_hours,last_funding_rate``).

    Returns
    -------
    DataFrame
        Columns timestamp_utc (settlement time, floored to the second), funding_rate (decimal per interval).
    """
    raw = _table(data, ("calc_time", "funding_interval_hours", "last_funding_rate"), file, "calc_time")
    times = _numbers(raw, ("calc_time",), file, "int64")["calc_time"].to_numpy()
    rate = _numbers(raw, ("last_funding_rate",), file)["last_funding_rate"].to_numpy()
    return pd.DataFrame({"timestamp_utc": epoch_to_utc(times).floor("s"), "funding_rate": rate})


def parse_metrics_csv(data: bytes | str, file: str) -> pd.DataFrame:
    """Parse a futures ``metrics`` dump CSV (5-minute samples; header ``create_time,symbol,...``).

    Returns
    -------
    DataFrame
        Columns time (UTC sample time), open_interest_usd (``sum_open_interest_value``).
    """
    raw = _table(data, ("create_time", "sum_open_interest_value"), file, "create_time")
    stamp = raw["create_time"].str.strip()
    if stamp.str.fullmatch(r"\d+").all():
        times = epoch_to_utc(stamp.astype("int64").to_numpy())
    else:
        times = pd.DatetimeIndex(pd.to_datetime(stamp, utc=True, errors="coerce", format="mixed"))
        if times.isna().any():
            raise SourceResponseError(f"binance: {file} column 'create_time' has a value that is not a time: "
                                      f"{stamp[times.isna()].iloc[0]!r}", source="binance")
    oi = _numbers(raw, ("sum_open_interest_value",), file)["sum_open_interest_value"].to_numpy()
    return pd.DataFrame({"time": times, "open_interest_usd": oi})


def open_interest_bars(samples: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Open interest per bar: the last sample in ``(open, open + freq]``, labelled by the bar open."""
    if samples.empty:
        return pd.DataFrame({"timestamp_utc": pd.DatetimeIndex([], tz="UTC"), "open_interest_usd": []})
    s = samples.sort_values("time")
    label = (pd.DatetimeIndex(s["time"]) - pd.Timedelta(1, "ns")).floor(pd.Timedelta(freq))
    out = s.assign(timestamp_utc=label).groupby("timestamp_utc", as_index=False)["open_interest_usd"].last()
    return out


def _empty() -> pd.DataFrame:
    frame = klines_frame(pd.DataFrame(columns=["open_time", "open", "high", "low", "close", "quote_volume"]),
                         "spot")
    return frame.astype({c: float for c in COLUMNS if c != "source"})


# ------------------------------------------------------------------------------------------------ client
def symbols_of(asset: Any) -> tuple[str, str | None, str | None]:
    """``(asset id, spot symbol, perp symbol)`` for a registry asset, or for a raw symbol such as ``BTCUSDT``.

    Raises
    ------
    ValueError
        The asset is not crypto, has no Binance market, or the name is neither an asset nor a symbol.
    """
    from capflow import assets

    try:
        a = assets.resolve(asset)
    except assets.UnknownAssetError:
        name = str(asset).strip().upper()
        if _SYMBOL_RE.match(name):
            return name, name, name
        raise ValueError(f"parameter asset={asset!r} is neither a registry asset nor a Binance symbol; use e.g. "
                         "'TAO', 'bitcoin' or 'BTCUSDT'") from None
    if not (a.binance_spot or a.binance_perp):
        valid = ", ".join(x.symbol for x in assets.REGISTRY if x.binance_spot or x.binance_perp)
        raise ValueError(f"parameter asset={asset!r} has no Binance market; valid: {valid}")
    return a.id, a.binance_spot, a.binance_perp


def request_plan(asset: Any, start: Any, end: Any = None, freq: str = "1d", market: str = "auto",
                 now: Any = None) -> list[_plan.PlannedRequest]:
    """The requests :meth:`BinanceClient.klines` would make, without fetching (no client, no network).

    Spot requests first (monthly zips, daily zips, each with its CHECKSUM, then REST), then the perpetual's,
    marked ``conditional`` in ``auto`` mode (fetched only for bars spot lacks).

    Parameters
    ----------
    asset : str or Asset
        Registry asset or Binance symbol.
    start, end : date-like
        Inclusive UTC label range (``end`` None: now).
    freq : {"1d", "4h", "1h"}
    market : {"auto", "spot", "perp"}
    now : date-like, optional
        Plan as of this moment (default: the current time).
    """
    aid, spot, perp = symbols_of(asset)
    out = []
    if market in ("auto", "spot") and spot:
        out += _plan.kline_plan("spot", spot, start, end, freq, now, aid)
    if perp and (market == "perp" or (market == "auto" and not spot)):
        out += _plan.kline_plan("perp", perp, start, end, freq, now, aid)
    elif perp and market == "auto":
        out += _plan.kline_plan("perp", perp, start, end, freq, now, aid, conditional=True)
    return out


class BinanceClient:
    """Binance klines, funding and open interest from the public dumps and REST endpoints, no key.

    Parameters
    ----------
    session : object, optional
        ``get(url, params=, headers=, timeout=)`` returning ``requests.Response``-like objects; tests inject fakes.
    clock, sleep : callable, optional
        ``clock() -> epoch seconds`` ("now", Retry-After dates, limiter) and ``sleep(seconds)``.
    retry_after_cap : float
        Longest Retry-After (seconds) honoured by sleeping; default 60.
    max_retries : int
        Retries for 429/418, 5xx and network errors.
    max_per_second : float
        Requests per second per host (default 10).
    timeout : float
        HTTP timeout in seconds.
    """

    def __init__(self, session: Any = None, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] | None = None, retry_after_cap: float = 60.0, max_retries: int = 3,
                 max_per_second: float = 10.0, timeout: float = 30.0) -> None:
        self._clock = clock or time.time
        kw = dict(max_per_second=max_per_second, max_retries=max_retries, retry_after_cap=retry_after_cap,
                  timeout=timeout)
        self.http = HttpFetcher("binance", session, clock, sleep, blocked=(451,), **kw)  # dumps: public files
        self.rest = HttpFetcher("binance", self.http.session, clock, sleep, blocked=(403, 451), **kw)  # APIs

    def __repr__(self) -> str:
        return f"BinanceClient(retry_after_cap={self.http.retry_after_cap:g})"

    def _now(self) -> pd.Timestamp:
        return pd.Timestamp(self._clock(), unit="s", tz="UTC")

    # ---------------------------------------------------------------------------------------- files
    def fetch_verified(self, url: str, asset: str | None = None) -> bytes | None:
        """Download a dump zip and its CHECKSUM; return the verified bytes, None when the zip does not exist.

        Raises
        ------
        ChecksumMismatchError
            The sha256 differs from the published one, or no checksum is published.
        """
        name = url.rsplit("/", 1)[-1]
        resp = self.http.get(url, what=name, asset=asset, missing_ok=True)
        if resp is None:
            return None
        data = resp.content
        chk = self.http.get(url + ".CHECKSUM", what=name + ".CHECKSUM", asset=asset, missing_ok=True)
        verify_checksum(data, parse_checksum(None if chk is None else chk.text, url, asset), url, asset)
        return data

    def _dump(self, market: str, symbol: str, period: str, freq: str, asset: str) -> pd.DataFrame | None:
        url = dump_url(market, "klines", symbol, period, freq)
        data = self.fetch_verified(url, asset)
        return None if data is None else klines_frame(parse_kline_csv(read_zip_csv(data, url), url), market)

    def _rest(self, market: str, symbol: str, frm: pd.Timestamp, hi: pd.Timestamp, freq: str,
              asset: str) -> list[pd.DataFrame]:
        out = []
        for req in _plan.rest_kline_requests(market, symbol, frm, hi, freq, asset):
            what = f"{symbol} {freq} klines {req.period}"
            resp = self.rest.get(req.url, dict(req.params), what=what, asset=asset)
            out.append(klines_frame(parse_kline_rows(resp.json(), what), market))
        return out

    def _market(self, market: str, symbol: str, lo: pd.Timestamp, hi: pd.Timestamp, freq: str,
                asset: str, now: pd.Timestamp, blocked: list | None = None) -> pd.DataFrame:
        """All finished bars ``lo..hi`` of one market: monthly, then daily dumps, then REST (404s fall back).

        With a ``blocked`` list, a region refusal of the REST API is recorded there (first label not served)
        instead of raised."""
        months, days, rest_from = split_periods(lo, hi, now)
        recent = now.floor("D") - pd.Timedelta(days=3)
        parts, missing_recent = [], []
        for m in months:
            got = self._dump(market, symbol, m.strftime("%Y-%m"), freq, asset)
            if got is None and pd.Timestamp(m.end_time, tz="UTC") >= now - pd.Timedelta(days=45):
                first = max(lo.floor("D"), pd.Timestamp(m.start_time, tz="UTC"))
                last = min(hi.floor("D"), pd.Timestamp(m.end_time.normalize(), tz="UTC"))
                days = list(pd.date_range(first, last, freq="D")) + days
            parts.append(got)
        for d in days:
            got = self._dump(market, symbol, f"{d:%Y-%m-%d}", freq, asset)
            if got is None and d >= recent:
                missing_recent.append(d)
            parts.append(got)
        starts = [t for t in (rest_from, min(missing_recent, default=None)) if t is not None]
        if starts:
            frm = max(min(starts), lo)
            try:
                parts += self._rest(market, symbol, frm, hi, freq, asset)
            except RegionBlockedError:
                if blocked is None:
                    raise
                log.warning("binance %s: REST refused (region); %s rows end before %s", asset, market, frm)
                blocked.append(frm)
        parts = [p for p in parts if p is not None and not p.empty]
        out = pd.concat(parts) if parts else _empty()
        out = out[~out.index.duplicated(keep="first")].sort_index()
        return out.loc[(out.index >= lo) & (out.index <= hi)]

    # ---------------------------------------------------------------------------------------- klines
    def plan(self, asset: Any, start: Any, end: Any = None, freq: str = "1d",
             market: str = "auto") -> list[_plan.PlannedRequest]:
        """The requests :meth:`klines` would make now (see :func:`request_plan`), without fetching."""
        return request_plan(asset, start, end, freq, market, self._now())

    def klines(self, asset: Any, start: Any, end: Any = None, freq: str = "1d", market: str = "auto",
               on_blocked: str = "raise") -> pd.DataFrame:
        """Finished bars of one asset, labelled by UTC bar open.

        Parameters
        ----------
        asset : str or Asset
            Registry asset (``TAO``, ``bitcoin``) or a Binance symbol (``BTCUSDT``).
        start, end : date-like
            Inclusive range of bar labels, UTC (naive = UTC); ``end`` default now.
        freq : {"1d", "4h", "1h"}
        market : {"auto", "spot", "perp"}
            ``auto``: spot, with the bars spot lacks taken from the USD-M perpetual.
        on_blocked : {"raise", "partial"}
            When the REST API refuses this region (HTTP 451/403): raise :class:`RegionBlockedError` (default)
            or return the dump rows with ``attrs["incomplete_from"]`` set.

        Returns
        -------
        DataFrame
            Index ``timestamp`` (UTC bar open), columns price, open, high, low, close, volume (quote, USD),
            source (``bn_spot``/``bn_perp``); ``attrs``: source, asset, freq, market, symbols, fetched_at,
            incomplete_from.

        Raises
        ------
        NoDataError, ChecksumMismatchError, RegionBlockedError, RateLimitedError, ServerError, NetworkError,
        UnknownCoinError, SourceResponseError
        """
        if market not in ("auto", "spot", "perp"):
            raise ValueError(f"market={market!r} is invalid; use 'auto', 'spot' or 'perp'")
        if on_blocked not in ("raise", "partial"):
            raise ValueError(f"on_blocked={on_blocked!r} is invalid; use 'raise' or 'partial'")
        aid, spot, perp = symbols_of(asset)
        now = self._now()
        lo, hi = label_range(start, end, freq, now)
        sym = {"spot": spot, "perp": perp}
        first = market if market != "auto" else ("spot" if spot else "perp")
        if not sym[first]:
            raise ValueError(f"parameter market={market!r}: {aid} has no Binance {first} market; use market='auto'")
        blocked: list | None = [] if on_blocked == "partial" else None
        out = self._market(first, sym[first], lo, hi, freq, aid, now, blocked) if hi >= lo else _empty()
        if market == "auto" and first == "spot" and perp and hi >= lo:
            out = self._fill_from_perp(out, perp, lo, hi, freq, aid, now, blocked)
        if out.empty:
            raise NoDataError(f"binance: no {freq} bars for {aid} ({market}: {sym[first]}) between {lo:%Y-%m-%d %H:%M} "
                              f"and {hi:%Y-%m-%d %H:%M} UTC (not listed then, delisted, or no finished bar); try "
                              "the next source", source="binance", asset=aid)
        out.attrs = {"source": "binance", "asset": aid, "freq": freq, "market": market,
                     "symbols": {"spot": spot, "perp": perp}, "fetched_at": now.isoformat(),
                     "incomplete_from": min(blocked).isoformat() if blocked else None}
        return out

    def _fill_from_perp(self, spot: pd.DataFrame, perp: str, lo: pd.Timestamp, hi: pd.Timestamp, freq: str,
                        asset: str, now: pd.Timestamp, blocked: list | None) -> pd.DataFrame:
        """Add perp bars for the labels spot lacks, fetching only the months that hold them."""
        missing = pd.date_range(lo, hi, freq=FREQS[freq]).difference(spot.index)
        if missing.empty:
            return spot
        parts = [spot]
        for month in sorted(set(missing.tz_localize(None).to_period("M"))):
            a = max(lo, pd.Timestamp(month.start_time, tz="UTC"))
            b = min(hi, pd.Timestamp(month.end_time, tz="UTC").floor(FREQS[freq]))
            got = self._market("perp", perp, a, b, freq, asset, now, blocked)
            parts.append(got.loc[got.index.isin(missing)])
        return pd.concat([p for p in parts if not p.empty] or [spot]).sort_index()

    # ---------------------------------------------------------------------------------------- derivatives
    def funding(self, asset: Any, start: Any, end: Any = None) -> pd.DataFrame:
        """Funding settlements of the USD-M perpetual: monthly dumps, then ``/fapi/v1/fundingRate``.

        Returns
        -------
        DataFrame
            Columns timestamp_utc (settlement, UTC, to the second), funding_rate (decimal per interval).
        """
        aid, _, perp = self._perp(asset)
        now = self._now()
        lo, hi = label_range(start, end, "1h", now)
        parts, rest_from = [], None
        for m in pd.period_range(lo.tz_localize(None), hi.tz_localize(None), freq="M"):
            m_start = pd.Timestamp(m.start_time, tz="UTC")
            if not _plan.monthly_published(m, now):
                rest_from = max(lo, m_start)
                break
            url = dump_url("perp", "fundingRate", perp, m.strftime("%Y-%m"))
            data = self.fetch_verified(url, aid)
            if data is None and m.end_time >= (now - pd.Timedelta(days=45)).tz_localize(None):
                rest_from = max(lo, m_start)
                break
            if data is not None:
                parts.append(parse_funding_csv(read_zip_csv(data, url), url))
        if rest_from is not None:
            parts.append(self._funding_rest(perp, rest_from, hi + pd.Timedelta(hours=1), aid))
        out = pd.concat(parts, ignore_index=True) if parts else parse_funding_csv("", "none")
        out = out.drop_duplicates("timestamp_utc").sort_values("timestamp_utc", ignore_index=True)
        return out[(out["timestamp_utc"] >= lo) & (out["timestamp_utc"] < hi + pd.Timedelta(hours=1))]

    def _funding_rest(self, perp: str, frm: pd.Timestamp, to: pd.Timestamp, asset: str) -> pd.DataFrame:
        """Page through ``/fapi/v1/fundingRate`` from ``frm`` (inclusive) to ``to`` (exclusive)."""
        rows, start_ms, end_ms = [], int(frm.timestamp() * 1000), int(to.timestamp() * 1000) - 1
        while start_ms <= end_ms:
            params = {"symbol": perp, "startTime": start_ms, "endTime": end_ms, "limit": _plan.FUNDING_REST_LIMIT}
            page = self.rest.get(_plan.FUNDING_API, params, what=f"{perp} funding rates", asset=asset).json()
            if not isinstance(page, list) or any(not isinstance(r, dict) or "fundingTime" not in r for r in page):
                raise SourceResponseError(f"binance: funding answer for {perp} is not a list of {{fundingTime, "
                                          f"fundingRate}} objects; got {str(page)[:80]!r}", source="binance",
                                          asset=asset)
            rows += page
            if len(page) < _plan.FUNDING_REST_LIMIT:
                break
            start_ms = int(page[-1]["fundingTime"]) + 1
        times = epoch_to_utc([int(r["fundingTime"]) for r in rows]).floor("s")
        return pd.DataFrame({"timestamp_utc": times, "funding_rate": [float(r["fundingRate"]) for r in rows]})

    def open_interest(self, asset: Any, start: Any, end: Any = None, freq: str = "8h") -> pd.DataFrame:
        """Open interest in USD per bar from the daily ``metrics`` dumps (published days only).

        Returns
        -------
        DataFrame
            Columns timestamp_utc (bar open), open_interest_usd (last 5-minute sample at or before the bar close).
        """
        aid, _, perp = self._perp(asset)
        now = self._now()
        lo, hi = label_range(start, end, "1h", now)
        parts = []
        for d in pd.date_range(lo.floor("D"), hi.floor("D"), freq="D"):
            if not _plan.daily_published(d, now):
                break
            url = dump_url("perp", "metrics", perp, f"{d:%Y-%m-%d}")
            data = self.fetch_verified(url, aid)
            if data is not None:
                parts.append(parse_metrics_csv(read_zip_csv(data, url), url))
        samples = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["time", "open_interest_usd"])
        bars = open_interest_bars(samples, freq)
        return bars[(bars["timestamp_utc"] >= lo) & (bars["timestamp_utc"] <= hi)].reset_index(drop=True)

    def derivatives(self, asset: Any, start: Any, end: Any = None, freq: str = "8h") -> pd.DataFrame:
        """Funding and open interest in the snapshot's ``crypto_derivatives`` layout.

        Rows are the union of funding settlement times (``funding_rate`` at the settlement instant, as the
        snapshot's ``bn_funding_*`` rows) and open-interest bars of ``freq`` (``open_interest_usd`` at the bar
        close, labelled by the bar open, as the snapshot's CoinGlass rows). Liquidation columns are empty: Binance
        publishes no liquidation history dump. ``end`` is the last timestamp included (a date means 00:00).

        Returns
        -------
        DataFrame
            Columns :data:`DERIVATIVE_COLUMNS`, ``source`` ``bn_perp``, sorted by time; RangeIndex.

        Raises
        ------
        NoDataError
            Neither funding nor open interest in the range.
        """
        aid, _, _ = self._perp(asset)
        merged = self.funding(asset, start, end).merge(self.open_interest(asset, start, end, freq),
                                                       on="timestamp_utc", how="outer")
        if merged.empty:
            raise NoDataError(f"binance: no funding or open interest for {aid} between {start} and {end or 'now'}; "
                              "try the snapshot", source="binance", asset=aid)
        merged = merged.assign(asset=aid, long_liquidations_usd=np.nan, short_liquidations_usd=np.nan,
                               source=SOURCE_TAG["perp"])
        return merged[list(DERIVATIVE_COLUMNS)].sort_values("timestamp_utc", ignore_index=True)

    def _perp(self, asset: Any) -> tuple[str, str | None, str]:
        aid, spot, perp = symbols_of(asset)
        if not perp:
            raise ValueError(f"parameter asset={asset!r} has no Binance USD-M perpetual; funding and open interest "
                             "need one")
        return aid, spot, perp


__all__ = ["BinanceClient", "request_plan", "HttpFetcher", "WindowLimiter", "parse_kline_csv", "parse_kline_rows",
           "parse_funding_csv", "parse_metrics_csv", "parse_checksum", "verify_checksum", "read_zip_csv",
           "klines_frame", "open_interest_bars", "epoch_to_utc", "symbols_of", "COLUMNS", "DERIVATIVE_COLUMNS",
           "KLINE_COLUMNS"]
