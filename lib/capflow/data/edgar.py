"""SEC EDGAR, keyless: hyperscaler capex from XBRL companyfacts, release times from the earnings 8-Ks.

Entry points: :func:`build_capex_catalog` (rows in the schema of the snapshot's ``events/capex_announcements.csv``)
and :func:`diff_catalog` (what differs from the shipped catalog). :class:`EdgarClient` fetches.

Endpoints: ``https://data.sec.gov/api/xbrl/companyfacts/CIK##########.json`` (every XBRL fact a company filed),
``https://data.sec.gov/submissions/CIK##########.json`` (its filings; older ones in ``CIK##########-submissions-
NNN.json`` pages) and, per earnings release, the filing's SGML header ``<accession>.hdr.sgml`` under
``https://www.sec.gov/Archives/edgar/data/<cik>/<accession without dashes>/``. SEC asks for at most 10 requests
per second across its hosts and a User-Agent naming the requester with a contact e-mail: taken from
``CAPFLOW_SEC_USER_AGENT`` (:func:`capflow.config.sec_user_agent`; a missing one is a one-line error).

Why plain ``requests`` and not edgartools: edgartools brings a large dependency tree (httpx, lxml, rich, pyarrow
pins, its own caching and rate layer) to parse whole filings; capflow needs two JSON documents and a 3 kB header
per release, which ``requests`` (already installed) reads in a few lines, under capflow's own limiter, retry
policy and typed errors (:class:`capflow.data.plan.HttpFetcher`).

Quarterly capex
---------------
Filings report cash capex year to date: Q1 (3 months), H1 (6), 9 months (10-Qs) and the fiscal year (10-K). A
quarter is ``YTD(q) - YTD(q-1)`` within one fiscal year (same ``start``), Q1 is the 3-month value, Q4 is the
annual 10-K value minus the 9-month YTD; where a YTD step is missing a directly tagged 3-month value is used.
Each (start, end) takes the latest filing's value (restated comparatives win; ``prefer="first"`` keeps the
originally reported one). Concepts per company are in :data:`COMPANIES` (Amazon tags its "purchases of property
and equipment" ``PaymentsToAcquireProductiveAssets``; the others ``PaymentsToAcquirePropertyPlantAndEquipment``).

Release time
------------
The release is the first 8-K with Item 2.02 filed after the quarter end (within 100 days). The
``acceptanceDateTime`` of the submissions JSON ends in ``Z`` but, for some filers, is the New York clock with a
``Z`` appended (reported by users of edgartools and datamule; the convention belongs to the filer). So the
acceptance time is read from the filing's SGML header ``<ACCEPTANCE-DATETIME>`` (always US Eastern) by default;
with ``verify_headers=False`` the JSON value is used, its clock decided per filer by :func:`json_clock`.
``timing`` compares the moment with that day's XNYS session (``before open``, ``during session``, ``after
close``; on a day without a session: before or after 16:00 New York).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from capflow import config
from capflow.data.errors import SourceResponseError
from capflow.data.plan import HttpFetcher

log = logging.getLogger(__name__)

DATA_BASE = "https://data.sec.gov"
ARCHIVES = "https://www.sec.gov/Archives/edgar/data"
NY_TZ = "America/New_York"
FORMS = frozenset({"10-Q", "10-K", "10-Q/A", "10-K/A", "10-KT"})
RELEASE_WINDOW_DAYS = 100
CATALOG_COLUMNS: tuple[str, ...] = ("company", "ticker", "announce_date", "timing", "fiscal_period", "capex_usd",
                                    "capex_definition", "guidance_text", "guidance_low_usd", "guidance_high_usd",
                                    "source")
EXTRA_COLUMNS: tuple[str, ...] = ("release_utc", "quarter_end", "accession", "capex_method")
_ACCEPT_RE = re.compile(r"<ACCEPTANCE-DATETIME>\s*(\d{14})")


@dataclass(frozen=True)
class Company:
    """A company whose capex is catalogued.

    Attributes
    ----------
    ticker, name : str
        As in the catalog (``MSFT``, ``Microsoft``).
    cik : int
        SEC Central Index Key.
    tags : tuple of str
        us-gaap concepts of cash capex, first preferred.
    definition : str
        The catalog's ``capex_definition`` text.
    """

    ticker: str
    name: str
    cik: int
    tags: tuple[str, ...]
    definition: str


_PPE = "PaymentsToAcquirePropertyPlantAndEquipment"
COMPANIES: dict[str, Company] = {
    "MSFT": Company("MSFT", "Microsoft", 789019, (_PPE,),
                    f"cash additions to property and equipment (XBRL {_PPE}); EXCLUDES finance leases"),
    "GOOGL": Company("GOOGL", "Alphabet", 1652044, (_PPE,),
                     f"purchases of property and equipment (cash; XBRL {_PPE}) = Alphabet headline capex"),
    "AMZN": Company("AMZN", "Amazon", 1018724, ("PaymentsToAcquireProductiveAssets", _PPE),
                    "purchases of property and equipment (gross cash outflow, before proceeds from sales and "
                    "incentives; XBRL PaymentsToAcquireProductiveAssets)"),
    "META": Company("META", "Meta Platforms", 1326801, (_PPE,),
                    f"cash purchases of property and equipment (XBRL {_PPE}); EXCLUDES principal payments on "
                    "finance leases, which Meta includes in its headline capex"),
    "ORCL": Company("ORCL", "Oracle", 1341439, (_PPE,), f"capital expenditures (cash; XBRL {_PPE})"),
}


def companyfacts_url(cik: int) -> str:
    """URL of a company's XBRL companyfacts JSON."""
    return f"{DATA_BASE}/api/xbrl/companyfacts/CIK{int(cik):010d}.json"


def submissions_url(cik: int, page: int = 0) -> str:
    """URL of a company's submissions JSON (``page`` >= 1: the older-filings pages)."""
    return (f"{DATA_BASE}/submissions/CIK{int(cik):010d}.json" if page == 0 else
            f"{DATA_BASE}/submissions/CIK{int(cik):010d}-submissions-{page:03d}.json")


def header_url(cik: int, accession: str) -> str:
    """URL of a filing's SGML header."""
    return f"{ARCHIVES}/{int(cik)}/{accession.replace('-', '')}/{accession}.hdr.sgml"


# ------------------------------------------------------------------------------------------------ client
class EdgarClient:
    """Rate-limited SEC EDGAR reader (companyfacts, submissions, SGML headers).

    Parameters
    ----------
    user_agent : str, optional
        Default from ``CAPFLOW_SEC_USER_AGENT`` (a missing variable raises :class:`capflow.config.ConfigError`).
    session, clock, sleep :
        Injected HTTP session, epoch clock and sleep (tests).
    max_per_second : float
        Requests per second across SEC hosts (SEC's limit is 10).
    max_retries, retry_after_cap, timeout :
        See :class:`capflow.data.plan.HttpFetcher`.
    """

    def __init__(self, user_agent: str | None = None, session: Any = None, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] | None = None, max_per_second: float = 10.0, max_retries: int = 3,
                 retry_after_cap: float = 60.0, timeout: float = 30.0) -> None:
        if max_per_second > 10:
            raise ValueError(f"max_per_second={max_per_second!r} exceeds SEC's fair-access limit; use at most 10")
        ua = user_agent or config.sec_user_agent()
        hint = ("SEC refuses clients without a declared User-Agent or above 10 requests/s; check "
                f"{config.SEC_USER_AGENT_ENV} and wait 10 minutes")
        self.http = HttpFetcher("sec", session, clock, sleep, max_per_second=max_per_second, max_retries=max_retries,
                                retry_after_cap=retry_after_cap, timeout=timeout, blocked=(), hints={403: hint},
                                headers={"User-Agent": ua, "Accept-Encoding": "gzip, deflate"},
                                limit_scope="sec.gov")

    def __repr__(self) -> str:
        return f"EdgarClient({self.http.max_per_second:g} requests/s)"

    def _json(self, url: str, what: str, asset: str | None) -> Any:
        resp = self.http.get(url, what=what, asset=asset)
        try:
            return resp.json()
        except ValueError:
            raise SourceResponseError(f"sec: {url} did not return JSON ({what}); retry later", source="sec",
                                      asset=asset) from None

    def companyfacts(self, cik: int, asset: str | None = None) -> dict:
        """The companyfacts JSON of a CIK."""
        return self._json(companyfacts_url(cik), "companyfacts", asset)

    def filings(self, cik: int, since: Any = None, asset: str | None = None) -> pd.DataFrame:
        """All filings of a CIK from the submissions JSON, older pages added until ``since`` is covered."""
        doc = self._json(submissions_url(cik), "submissions", asset)
        parts = [filings_table(doc.get("filings", {}).get("recent", {}))]
        since_ts = None if since is None else pd.Timestamp(since)
        for page in doc.get("filings", {}).get("files", []) or []:
            if since_ts is not None and pd.Timestamp(page.get("filingTo", "1900-01-01")) < since_ts:
                continue
            n = int(re.search(r"-(\d{3})\.json$", page["name"]).group(1))
            parts.append(filings_table(self._json(submissions_url(cik, n), "submissions page", asset)))
        return pd.concat(parts, ignore_index=True).drop_duplicates("accession")

    def acceptance(self, cik: int, accession: str, asset: str | None = None) -> pd.Timestamp | None:
        """Acceptance time (UTC) from the filing's SGML header (US Eastern in the file); None when absent."""
        url = header_url(cik, accession)
        resp = self.http.get(url, what=f"header of {accession}", asset=asset, missing_ok=True)
        return None if resp is None else parse_sgml_acceptance(resp.text, url)


# ------------------------------------------------------------------------------------------------ parsing
def filings_table(recent: dict) -> pd.DataFrame:
    """The columnar ``filings.recent`` block (or an older page) as a frame of the fields used here."""
    cols = {"accessionNumber": "accession", "form": "form", "filingDate": "filing_date", "items": "items",
            "acceptanceDateTime": "acceptance_raw", "primaryDocument": "primary_document"}
    n = len(recent.get("accessionNumber", []))
    return pd.DataFrame({new: list(recent.get(old, [""] * n)) for old, new in cols.items()})


def parse_sgml_acceptance(text: str, where: str = "header") -> pd.Timestamp:
    """UTC time of ``<ACCEPTANCE-DATETIME>YYYYMMDDHHMMSS`` (US Eastern) in an SGML header."""
    m = _ACCEPT_RE.search(text or "")
    if not m:
        raise SourceResponseError(f"sec: {where} has no <ACCEPTANCE-DATETIME> line; retry or pass "
                                  "verify_headers=False", source="sec")
    return pd.Timestamp(m.group(1)).tz_localize(NY_TZ).tz_convert("UTC")


def json_clock(raw: Iterable[str]) -> str | None:
    """Which clock a filer's ``acceptanceDateTime`` values use: ``"UTC"``, ``"America/New_York"`` or None.

    EDGAR accepts filings from 06:00 to 22:00 New York time. A value that, read as UTC, falls between 23:00 and
    05:00 New York time cannot be UTC; one whose own clock reads 23:00-05:00 cannot be New York time. The
    clock with no impossible value wins; None when both or neither have one.
    """
    naive = pd.to_datetime(pd.Series(list(raw), dtype="string").str.replace("Z", "", regex=False),
                           errors="coerce", format="ISO8601").dropna()
    if naive.empty:
        return None
    as_utc = naive.dt.tz_localize("UTC").dt.tz_convert(NY_TZ).dt.hour
    bad_utc = int(((as_utc >= 23) | (as_utc < 5)).sum())
    bad_ny = int(((naive.dt.hour >= 23) | (naive.dt.hour < 5)).sum())
    if bad_utc and not bad_ny:
        return NY_TZ
    if bad_ny and not bad_utc:
        return "UTC"
    return None


def parse_acceptance(raw: str, clock: str | None) -> pd.Timestamp:
    """UTC time of a submissions-JSON ``acceptanceDateTime`` read in ``clock`` (None: trust the ``Z``)."""
    naive = pd.Timestamp(str(raw).replace("Z", "")).tz_localize(None)
    return naive.tz_localize(clock or "UTC").tz_convert("UTC")


def capex_facts(facts: dict, tags: Sequence[str], prefer: str = "latest") -> pd.DataFrame:
    """Duration facts of the capex concepts from 10-Q/10-K filings, one value per (start, end).

    Returns
    -------
    DataFrame
        Columns tag, start, end, months (3/6/9/12), val, accn, form, filed; a period tagged under several
        concepts keeps the first concept of ``tags``, then the latest (or first) filing.
    """
    if prefer not in ("latest", "first"):
        raise ValueError(f"prefer={prefer!r} is invalid; use 'latest' or 'first'")
    gaap = (facts or {}).get("facts", {}).get("us-gaap", {})
    rows = [dict(tag=tag, rank=rank, **{k: f.get(k) for k in ("start", "end", "val", "accn", "form", "filed")})
            for rank, tag in enumerate(tags) for f in gaap.get(tag, {}).get("units", {}).get("USD", [])
            if f.get("form") in FORMS and f.get("start") and f.get("val") is not None]
    cols = ["tag", "start", "end", "months", "val", "accn", "form", "filed"]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows)
    for c in ("start", "end", "filed"):
        df[c] = pd.to_datetime(df[c])
    df["months"] = ((df["end"] - df["start"]).dt.days + 1).div(30.4375).round().astype(int)
    df = df[df["months"].isin([3, 6, 9, 12])]
    df = df.sort_values(["start", "end", "rank", "filed"], ascending=[True, True, True, prefer == "first"])
    return df.drop_duplicates(["start", "end"], keep="first")[cols].reset_index(drop=True)


def _fiscal_starts(facts: pd.DataFrame) -> list[pd.Timestamp]:
    """Fiscal-year starts: starts of 6/9/12-month facts, and the day after each fiscal year's end."""
    long = facts[facts["months"] > 3]
    starts = set(long["start"]) | set(long.loc[long["months"] == 12, "end"] + pd.Timedelta(days=1))
    return sorted(starts)


def quarterly_from_ytd(facts: pd.DataFrame) -> pd.DataFrame:
    """Quarterly values from year-to-date facts (see the module docstring).

    Returns
    -------
    DataFrame
        Columns quarter_start, quarter_end, fiscal_q (1-4), fiscal_year (calendar year of the fiscal year's
        end), calendar_fy (bool), capex_usd, method (``q1``, ``ytd-diff``, ``fy-minus-9m``, ``direct``), accn,
        tag; sorted by quarter_end.
    """
    ytd = {(r.start, r.months): r for r in facts.itertuples()}
    direct = {r.start: r for r in facts[facts["months"] == 3].itertuples()}
    rows = []
    for fy_start in _fiscal_starts(facts):
        year = ytd.get((fy_start, 12))
        fy_end = year.end if year is not None else fy_start + pd.DateOffset(years=1) - pd.Timedelta(days=1)
        for q in range(1, 5):
            cur, prev = ytd.get((fy_start, 3 * q)), ytd.get((fy_start, 3 * q - 3))
            q_start = fy_start if q == 1 else (None if prev is None else prev.end + pd.Timedelta(days=1))
            if cur is not None and (q == 1 or prev is not None):
                value, src = cur.val - (prev.val if q > 1 else 0.0), cur
                method = ("q1", "ytd-diff", "ytd-diff", "fy-minus-9m")[q - 1]
            elif q_start is not None and q_start in direct:
                src = direct[q_start]
                value, method = src.val, "direct"
            else:
                continue
            rows.append(dict(quarter_start=q_start, quarter_end=src.end, fiscal_q=q, fiscal_year=fy_end.year,
                             calendar_fy=fy_start.month == 1, capex_usd=float(value), method=method,
                             accn=src.accn, tag=src.tag))
    cols = ["quarter_start", "quarter_end", "fiscal_q", "fiscal_year", "calendar_fy", "capex_usd", "method", "accn",
            "tag"]
    out = pd.DataFrame(rows, columns=cols)
    return out.drop_duplicates(["quarter_start", "quarter_end"]).sort_values("quarter_end", ignore_index=True)


def fiscal_period_label(q: Any) -> str:
    """The catalog's ``fiscal_period`` text: ``Q4 2022`` or ``FY2023 Q3 (Dec 2022-Feb 2023)``."""
    if q.calendar_fy:
        return f"Q{q.fiscal_q} {q.fiscal_year}"
    a, b = pd.Timestamp(q.quarter_start), pd.Timestamp(q.quarter_end)
    span = f"{a:%b}-{b:%b} {b.year}" if a.year == b.year else f"{a:%b} {a.year}-{b:%b} {b.year}"
    return f"FY{q.fiscal_year} Q{q.fiscal_q} ({span})"


def earnings_releases(filings: pd.DataFrame) -> pd.DataFrame:
    """8-K filings reporting Item 2.02 (results of operations), sorted by acceptance."""
    items = filings["items"].fillna("").astype(str).str.split(",")
    is_202 = items.map(lambda xs: "2.02" in {x.strip() for x in xs})
    out = filings[(filings["form"] == "8-K") & is_202].copy()
    return out.sort_values("acceptance_raw", ignore_index=True)


def release_timing(moment: pd.Timestamp, calendar: str = "XNYS") -> str:
    """``before open``, ``during session`` or ``after close`` of the exchange session on the release's local date."""
    from capflow import calendars

    local = moment.tz_convert(NY_TZ)
    day = pd.Timestamp(local.date(), tz="UTC")
    cal = calendars.sessions(calendar, day, day)
    if not cal.is_session(day):
        return "before open" if local.hour < 16 else "after close"
    label = pd.DatetimeIndex([day])
    if moment < cal.open_of(label)[0]:
        return "before open"
    return "after close" if moment >= cal.close_of(label)[0] else "during session"


# ------------------------------------------------------------------------------------------------ catalog
def match_releases(quarters: pd.DataFrame, releases: pd.DataFrame, moments: pd.Series) -> pd.DataFrame:
    """Each quarter -> the first release (by ``moments``, UTC) on a New York date after its end, within
    :data:`RELEASE_WINDOW_DAYS`; each release used once. Quarters without one are dropped."""
    rel = releases.assign(moment=moments.to_numpy()).sort_values("moment", ignore_index=True)
    local = pd.DatetimeIndex(rel["moment"]).tz_convert(NY_TZ).tz_localize(None).normalize()
    used, rows = set(), []
    for q in quarters.itertuples():
        ok = (local > q.quarter_end) & (local <= q.quarter_end + pd.Timedelta(days=RELEASE_WINDOW_DAYS))
        pick = next((i for i in np.flatnonzero(ok) if i not in used), None)
        if pick is not None:
            used.add(pick)
            rows.append({**q._asdict(), "accession": rel.at[pick, "accession"], "release_utc": rel.at[pick, "moment"]})
    return pd.DataFrame(rows).drop(columns="Index", errors="ignore")


def _source(company: Company, row: Any, verified: bool, clock: str | None) -> str:
    """The row's ``source``: the EDGAR URLs and how each number was obtained (one line)."""
    how = {"q1": "Q1 = 3-month YTD", "ytd-diff": "quarter = YTD difference", "fy-minus-9m": "Q4 = FY (10-K) - 9M YTD",
           "direct": "quarter tagged directly"}[row.capex_method]
    when = (f"acceptance from SGML header {header_url(company.cik, row.accession)}" if verified else
            f"acceptanceDateTime of the submissions JSON read as {clock or 'UTC'}, not checked against the SGML "
            "header")
    return (f"SEC EDGAR {companyfacts_url(company.cik)} ({row.tag}, accn {row.accn}; {how}); release: 8-K Item 2.02 "
            f"accession {row.accession} in {submissions_url(company.cik)} accepted {row.release_utc:%Y-%m-%dT%H:%M:%SZ}"
            f" ({when})")


def company_rows(company: Company, facts: dict, filings: pd.DataFrame, since: Any = "2022-10-01",
                 acceptance: Callable[[str], pd.Timestamp] | None = None, prefer: str = "latest") -> pd.DataFrame:
    """Catalog rows of one company from its companyfacts JSON and filings table.

    Parameters
    ----------
    acceptance : callable, optional
        ``accession -> UTC time`` (the SGML header reader); None: the submissions JSON's acceptanceDateTime, its
        clock decided by :func:`json_clock`.

    Returns
    -------
    DataFrame
        :data:`CATALOG_COLUMNS` then :data:`EXTRA_COLUMNS`; ``attrs["unmatched"]``: quarters with no release.
    """
    quarters = quarterly_from_ytd(capex_facts(facts, company.tags, prefer))
    quarters = quarters[quarters["quarter_end"] >= pd.Timestamp(since)].reset_index(drop=True)
    releases = earnings_releases(filings)
    clock = json_clock(filings["acceptance_raw"])
    rough = releases["acceptance_raw"].map(lambda r: parse_acceptance(r, clock))
    matched = match_releases(quarters, releases, rough)
    if matched.empty:
        out = pd.DataFrame(columns=list(CATALOG_COLUMNS + EXTRA_COLUMNS))
        out.attrs["unmatched"] = [fiscal_period_label(q) for q in quarters.itertuples()]
        return out
    header = [acceptance(a) for a in matched["accession"]] if acceptance is not None else [None] * len(matched)
    matched["verified"] = [h is not None for h in header]
    matched["release_utc"] = [h if h is not None else r for h, r in zip(header, matched["release_utc"])]
    matched = matched.rename(columns={"method": "capex_method"})
    rows = [{"company": company.name, "ticker": company.ticker,
             "announce_date": f"{r.release_utc.tz_convert(NY_TZ):%Y-%m-%d}", "timing": release_timing(r.release_utc),
             "fiscal_period": fiscal_period_label(r), "capex_usd": int(round(r.capex_usd)),
             "capex_definition": company.definition, "guidance_text": pd.NA, "guidance_low_usd": np.nan,
             "guidance_high_usd": np.nan, "source": _source(company, r, r.verified, clock),
             "release_utc": f"{r.release_utc:%Y-%m-%dT%H:%M:%SZ}", "quarter_end": f"{r.quarter_end:%Y-%m-%d}",
             "accession": r.accession, "capex_method": r.capex_method} for r in matched.itertuples()]
    out = pd.DataFrame(rows, columns=list(CATALOG_COLUMNS + EXTRA_COLUMNS))
    done = set(matched["quarter_end"])
    out.attrs["unmatched"] = [fiscal_period_label(q) for q in quarters.itertuples() if q.quarter_end not in done]
    return out


def carry_guidance(rows: pd.DataFrame, shipped: pd.DataFrame | None) -> pd.DataFrame:
    """Copy guidance columns from the shipped catalog onto rows of the same (ticker, fiscal_period)."""
    if shipped is None or rows.empty:
        return rows
    g = shipped[["ticker", "fiscal_period", "guidance_text", "guidance_low_usd", "guidance_high_usd", "source"]]
    g = g[g["guidance_text"].notna()].drop_duplicates(["ticker", "fiscal_period"])
    out = rows.merge(g, on=["ticker", "fiscal_period"], how="left", suffixes=("", "_shipped"))
    has = out["guidance_text_shipped"].notna()
    for c in ("guidance_text", "guidance_low_usd", "guidance_high_usd"):
        out[c] = out[c + "_shipped"].where(has, out[c])
    out.loc[has, "source"] = (out.loc[has, "source"] + "; guidance carried from the shipped catalog, whose source "
                              "reads: " + out.loc[has, "source_shipped"].astype(str).str.replace("\n", " "))
    return out[list(rows.columns)]


def build_capex_catalog(tickers: Iterable[str] | str | None = None, since: Any = "2022-10-01",
                        client: EdgarClient | None = None, shipped: pd.DataFrame | None = None,
                        verify_headers: bool = True, prefer: str = "latest") -> pd.DataFrame:
    """Rebuild the capex catalog from EDGAR.

    Parameters
    ----------
    tickers : str or iterable of str, optional
        Among :data:`COMPANIES` (default all five hyperscalers).
    since : date-like
        First quarter end kept (default 2022-10-01: the releases of early 2023 on).
    client : EdgarClient, optional
        Default one built from ``CAPFLOW_SEC_USER_AGENT``.
    shipped : DataFrame, optional
        The shipped catalog; its guidance columns are carried onto matching rows.
    verify_headers : bool
        Read each release's acceptance time from its SGML header (one request per release; default) instead of
        trusting the submissions JSON clock.
    prefer : {"latest", "first"}
        Which filing's value a period takes when several report it.

    Returns
    -------
    DataFrame
        :data:`CATALOG_COLUMNS` + :data:`EXTRA_COLUMNS`, sorted by announce_date and ticker; ``attrs``:
        ``unmatched`` ({ticker: [fiscal periods without a release]}), ``during_session`` (row labels).
    """
    names = list(COMPANIES) if tickers is None else [t.strip().upper() for t in (
        tickers.split(",") if isinstance(tickers, str) else tickers) if t.strip()]
    bad = [t for t in names if t not in COMPANIES]
    if bad or not names:
        raise ValueError(f"parameter tickers={bad[0] if bad else tickers!r} is not catalogued; valid: "
                         f"{', '.join(COMPANIES)}")
    client = client or EdgarClient()
    parts, unmatched = [], {}
    for t in names:
        co = COMPANIES[t]
        facts = client.companyfacts(co.cik, t)
        filings = client.filings(co.cik, since=since, asset=t)
        reader = (lambda accn, co=co, t=t: client.acceptance(co.cik, accn, t)) if verify_headers else None
        rows = company_rows(co, facts, filings, since, reader, prefer)
        unmatched[t] = rows.attrs.get("unmatched", [])
        parts.append(rows)
    out = carry_guidance(pd.concat(parts, ignore_index=True), shipped)
    out = out.sort_values(["announce_date", "ticker"], ignore_index=True)
    out.attrs = {"unmatched": unmatched, "during_session": out.index[out["timing"] == "during session"].tolist()}
    return out


def _key_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df[["ticker", "fiscal_period", "announce_date", "timing", "capex_usd"]].copy()
    out["announce_date"] = pd.to_datetime(out["announce_date"]).dt.strftime("%Y-%m-%d")
    out["capex_usd"] = pd.to_numeric(out["capex_usd"], errors="coerce")
    out["timing"] = out["timing"].astype("string").str.strip().str.lower()
    return out.drop_duplicates(["ticker", "fiscal_period"]).set_index(["ticker", "fiscal_period"])


def _fmt_usd(v: float) -> str:
    return "-" if pd.isna(v) else f"{v / 1e9:.3f}B"


def diff_catalog(new: pd.DataFrame, shipped: pd.DataFrame) -> pd.DataFrame:
    """Differences between a rebuilt catalog and the shipped one, keyed by (ticker, fiscal_period).

    Returns
    -------
    DataFrame
        Columns ticker, fiscal_period, change (``new release``, ``not in EDGAR``, ``capex``, ``date``,
        ``timing``), shipped, edgar; one row per difference, shipped rows of tickers absent from ``new`` ignored.
    """
    a, b = _key_frame(new), _key_frame(shipped)
    b = b[b.index.get_level_values(0).isin(a.index.get_level_values(0))]
    rows = []
    for key in a.index.difference(b.index):
        r = a.loc[key]
        rows.append((*key, "new release", "-", f"{r.announce_date} {r.timing}, capex {_fmt_usd(r.capex_usd)}"))
    for key in b.index.difference(a.index):
        r = b.loc[key]
        rows.append((*key, "not in EDGAR", f"{r.announce_date} {r.timing}, capex {_fmt_usd(r.capex_usd)}", "-"))
    for key in a.index.intersection(b.index):
        x, y = a.loc[key], b.loc[key]
        if (pd.isna(x.capex_usd) != pd.isna(y.capex_usd)) or abs((x.capex_usd or 0) - (y.capex_usd or 0)) >= 1:
            rows.append((*key, "capex", _fmt_usd(y.capex_usd), _fmt_usd(x.capex_usd)))
        if x.announce_date != y.announce_date:
            rows.append((*key, "date", y.announce_date, x.announce_date))
        if x.timing != y.timing:
            rows.append((*key, "timing", y.timing, x.timing))
    out = pd.DataFrame(rows, columns=["ticker", "fiscal_period", "change", "shipped", "edgar"])
    return out.sort_values(["ticker", "fiscal_period", "change"], ignore_index=True)


__all__ = ["EdgarClient", "Company", "COMPANIES", "build_capex_catalog", "diff_catalog", "company_rows",
           "capex_facts", "quarterly_from_ytd", "earnings_releases", "release_timing", "json_clock",
           "parse_acceptance", "parse_sgml_acceptance", "filings_table", "fiscal_period_label", "carry_guidance",
           "companyfacts_url", "submissions_url", "header_url", "CATALOG_COLUMNS", "EXTRA_COLUMNS"]
