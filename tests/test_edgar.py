"""SEC EDGAR: YTD capex differenced into quarters, 8-K Item 2.02 release times, User-Agent, 10 requests/s.

No network: a fake session serves tests/fixtures/edgar (companyfacts, submissions and SGML headers in EDGAR's
formats; capex values shaped like Microsoft's and Amazon's filings, everything else SYNTHETIC)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import requests

from capflow import config
from capflow.data import edgar
from capflow.data.errors import RateLimitedError, SourceError
from capflow.data.plan import WindowLimiter

FIX = Path(__file__).parent / "fixtures" / "edgar"
UA = "capflow tests tests@example.org"


class FakeClock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t, self.sleeps = t, []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def ok(body: str | bytes, status: int = 200, headers: dict | None = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code, resp._content = status, body if isinstance(body, bytes) else body.encode()
    resp.headers.update(headers or {})
    return resp


class FakeSession:
    """Serves fixture files by URL; records (url, headers, clock time) of every call."""

    def __init__(self, clock: FakeClock | None = None, extra: dict | None = None) -> None:
        self.clock, self.calls, self.extra = clock, [], dict(extra or {})

    def get(self, url, params=None, headers=None, timeout=None):
        self.calls.append((url, dict(headers or {}), self.clock() if self.clock else None))
        if url in self.extra:
            item = self.extra[url]
            return item.pop(0) if isinstance(item, list) else item
        name = url.rsplit("/", 1)[-1]
        if "/companyfacts/" in url:
            name = "companyfacts_" + name
        elif "/submissions/" in url:
            name = "submissions_" + name
        path = FIX / name
        return ok(path.read_bytes()) if path.is_file() else ok("<html>Not Found</html>", 404)


def client(session: FakeSession, clock: FakeClock | None = None) -> edgar.EdgarClient:
    clock = clock or session.clock or FakeClock()
    return edgar.EdgarClient(user_agent=UA, session=session, clock=clock, sleep=clock.sleep)


def facts(cik: str) -> dict:
    return json.loads((FIX / f"companyfacts_CIK{cik}.json").read_text())


# ------------------------------------------------------------------------------------------------ capex
def test_ytd_values_differenced_into_quarters_with_q4_from_the_annual_value():
    q = edgar.quarterly_from_ytd(edgar.capex_facts(facts("0000789019"), edgar.COMPANIES["MSFT"].tags))
    fy23 = q[q["fiscal_year"] == 2023].set_index("fiscal_q")
    assert fy23["capex_usd"].tolist() == [6283e6, 6274e6, 6607e6, 8943e6]
    assert fy23["method"].tolist() == ["q1", "ytd-diff", "ytd-diff", "fy-minus-9m"]
    assert fy23.loc[4, "quarter_start"] == pd.Timestamp("2023-04-01")
    assert fy23.loc[4, "quarter_end"] == pd.Timestamp("2023-06-30")
    labels = [edgar.fiscal_period_label(r) for r in q.itertuples()]
    assert labels[-5:] == ["FY2023 Q1 (Jul-Sep 2022)", "FY2023 Q2 (Oct-Dec 2022)", "FY2023 Q3 (Jan-Mar 2023)",
                           "FY2023 Q4 (Apr-Jun 2023)", "FY2024 Q1 (Jul-Sep 2023)"]


def test_company_specific_concept_and_calendar_year_q4():
    f = edgar.capex_facts(facts("0001018724"), edgar.COMPANIES["AMZN"].tags)
    assert set(f["tag"]) == {"PaymentsToAcquireProductiveAssets", "PaymentsToAcquirePropertyPlantAndEquipment"}
    q = edgar.quarterly_from_ytd(f)
    q = q[q["quarter_end"] >= "2022-10-01"]
    assert [edgar.fiscal_period_label(r) for r in q.itertuples()] == ["Q4 2022", "Q1 2023", "Q2 2023", "Q3 2023",
                                                                    "Q4 2023"]
    assert q["capex_usd"].tolist() == [16592e6, 14207e6, 11455e6, 12479e6, 14588e6]
    assert q["method"].iloc[0] == "fy-minus-9m"  # Q4 2022: annual 10-K minus the 9-month YTD


def test_latest_filing_wins_unless_first_is_asked():
    doc = {"facts": {"us-gaap": {"X": {"units": {"USD": [
        {"start": "2023-01-01", "end": "2023-03-31", "val": 10, "accn": "a", "form": "10-Q", "filed": "2023-04-30"},
        {"start": "2023-01-01", "end": "2023-03-31", "val": 12, "accn": "b", "form": "10-Q", "filed": "2024-04-30"},
        {"start": "2023-01-01", "end": "2023-03-31", "val": 99, "accn": "c", "form": "8-K", "filed": "2024-05-01"},
    ]}}}}}
    assert edgar.capex_facts(doc, ["X"])["val"].tolist() == [12]
    assert edgar.capex_facts(doc, ["X"], prefer="first")["val"].tolist() == [10]


# ------------------------------------------------------------------------------------------------ releases
def test_8k_202_acceptance_becomes_the_release_time_after_close():
    session = FakeSession(FakeClock())
    c = client(session)
    filings = c.filings(789019, since="2022-10-01")
    assert any(u.endswith("CIK0000789019-submissions-001.json") for u, _, _ in session.calls)
    assert not any(u.endswith("-002.json") for u, _, _ in session.calls)  # ends before `since`: not fetched
    assert edgar.json_clock(filings["acceptance_raw"]) == "UTC"
    rows = edgar.company_rows(edgar.COMPANIES["MSFT"], facts("0000789019"), filings, "2022-10-01")
    first = rows.iloc[0]
    assert first["fiscal_period"] == "FY2023 Q2 (Oct-Dec 2022)" and first["capex_usd"] == 6274000000
    assert first["announce_date"] == "2023-01-24" and first["release_utc"] == "2023-01-24T21:05:40Z"
    assert first["timing"] == "after close"
    assert rows["announce_date"].tolist() == ["2023-01-24", "2023-04-25", "2023-07-25", "2023-10-24"]
    assert "https://data.sec.gov/api/xbrl/companyfacts/CIK0000789019.json" in first["source"]
    assert "https://data.sec.gov/submissions/CIK0000789019.json" in first["source"]
    assert list(rows.columns[:11]) == list(edgar.CATALOG_COLUMNS)


def test_new_york_clock_with_z_is_detected_per_filer():
    doc = json.loads((FIX / "submissions_CIK0001018724.json").read_text())
    filings = edgar.filings_table(doc["filings"]["recent"])
    assert edgar.json_clock(filings["acceptance_raw"]) == "America/New_York"
    naive = edgar.parse_acceptance("2023-02-02T16:02:11.000Z", None)
    assert edgar.release_timing(naive) == "during session"  # what trusting the Z would say
    rows = edgar.company_rows(edgar.COMPANIES["AMZN"], facts("0001018724"), filings, "2022-10-01")
    assert rows["release_utc"].iloc[0] == "2023-02-02T21:02:11Z" and set(rows["timing"]) == {"after close"}
    assert rows["capex_usd"].tolist() == [16592000000, 14207000000, 11455000000, 12479000000, 14588000000]


def test_sgml_header_gives_the_release_time_when_verifying():
    session = FakeSession(FakeClock())
    out = edgar.build_capex_catalog("MSFT", client=client(session))
    assert out["release_utc"].tolist() == ["2023-01-24T21:05:40Z", "2023-04-25T20:06:05Z", "2023-07-25T20:04:13Z",
                                           "2023-10-24T20:05:30Z"]
    assert sum(u.endswith(".hdr.sgml") for u, _, _ in session.calls) == 4
    assert "SGML header https://www.sec.gov/Archives/edgar/data/789019/000119312523016868/" in out["source"].iloc[0]
    assert edgar.parse_sgml_acceptance("<ACCEPTANCE-DATETIME>20231106083000") == pd.Timestamp("2023-11-06 13:30Z")


@pytest.mark.parametrize("moment, expected", [
    ("2024-05-01 13:29:59Z", "before open"),      # 09:29:59 EDT
    ("2024-05-01 13:30:00Z", "during session"),   # the open
    ("2024-05-01 20:00:00Z", "after close"),      # 16:00 EDT
    ("2024-11-29 18:05:00Z", "after close"),      # day after Thanksgiving: 13:00 close
    ("2024-05-04 14:00:00Z", "before open"),      # Saturday, before 16:00 New York
    ("2024-05-04 21:00:00Z", "after close"),
])
def test_timing_against_the_xnys_session(moment, expected):
    assert edgar.release_timing(pd.Timestamp(moment)) == expected


# ------------------------------------------------------------------------------------------------ diff
def test_diff_lists_new_changed_and_missing_releases():
    session = FakeSession(FakeClock())
    new = edgar.build_capex_catalog("MSFT", client=client(session), verify_headers=False)
    shipped = new[list(edgar.CATALOG_COLUMNS)].copy()
    shipped.loc[1, "capex_usd"] = 6600000000
    shipped.loc[2, "announce_date"] = "2023-07-26"
    shipped.loc[3, "timing"] = "before open"
    shipped = shipped.drop(index=0)
    shipped.loc[9] = ["Microsoft", "MSFT", "2024-01-30", "after close", "FY2024 Q2 (Oct-Dec 2023)", 9735000000,
                      "x", pd.NA, None, None, "y"]
    shipped.loc[10] = ["Oracle", "ORCL", "2023-03-09", "after close", "FY2023 Q3 (Dec 2022-Feb 2023)", 1, "x",
                       pd.NA, None, None, "y"]  # a ticker not rebuilt: ignored
    d = edgar.diff_catalog(new, shipped)
    got = {(r.fiscal_period, r.change) for r in d.itertuples()}
    assert got == {("FY2023 Q2 (Oct-Dec 2022)", "new release"), ("FY2023 Q3 (Jan-Mar 2023)", "capex"),
                   ("FY2023 Q4 (Apr-Jun 2023)", "date"), ("FY2024 Q1 (Jul-Sep 2023)", "timing"),
                   ("FY2024 Q2 (Oct-Dec 2023)", "not in EDGAR")}
    capex = d[d["change"] == "capex"].iloc[0]
    assert capex["shipped"] == "6.600B" and capex["edgar"] == "6.607B"


def test_guidance_carried_from_the_shipped_catalog():
    session = FakeSession(FakeClock())
    new = edgar.build_capex_catalog("MSFT", client=client(session), verify_headers=False)
    shipped = new[list(edgar.CATALOG_COLUMNS)].copy()
    shipped.loc[0, ["guidance_text", "guidance_low_usd", "guidance_high_usd"]] = ["FY2024 capex up", 5e10, 6e10]
    out = edgar.carry_guidance(new, shipped)
    assert out.loc[0, "guidance_low_usd"] == 5e10 and "carried from the shipped catalog" in out.loc[0, "source"]
    assert pd.isna(out.loc[1, "guidance_low_usd"])


# ------------------------------------------------------------------------------------------------ HTTP rules
def test_missing_user_agent_is_a_one_line_error_naming_the_variable(monkeypatch):
    monkeypatch.delenv("CAPFLOW_SEC_USER_AGENT", raising=False)
    with pytest.raises(config.ConfigError) as err:
        edgar.EdgarClient(session=FakeSession())
    msg = str(err.value)
    assert "CAPFLOW_SEC_USER_AGENT" in msg and "is not set" in msg and "\n" not in msg
    monkeypatch.setenv("CAPFLOW_SEC_USER_AGENT", "capflow")
    with pytest.raises(config.ConfigError, match="CAPFLOW_SEC_USER_AGENT='capflow' is not valid"):
        edgar.EdgarClient(session=FakeSession())


def test_user_agent_from_the_environment_is_sent(monkeypatch):
    monkeypatch.setenv("CAPFLOW_SEC_USER_AGENT", UA)
    session, clock = FakeSession(), FakeClock()
    edgar.EdgarClient(session=session, clock=clock, sleep=clock.sleep).companyfacts(789019)
    assert session.calls[0][1]["User-Agent"] == UA


def test_at_most_ten_requests_in_any_second_across_sec_hosts():
    clock = FakeClock()
    session = FakeSession(clock)
    c = client(session, clock)
    for i in range(25):
        if i % 2:
            c.companyfacts(789019)
        else:
            c.acceptance(789019, "0001193125-23-115611")
    times = sorted(t for _, _, t in session.calls)
    assert len(times) == 25
    assert max(sum(1 for u in times if t <= u < t + 1.0) for t in times) == 10
    assert times[-1] - times[0] == pytest.approx(2.0)


def test_window_limiter_with_injected_clock():
    clock = FakeClock(0.0)
    lim = WindowLimiter(10, 1.0, clock, clock.sleep)
    stamps = []
    for _ in range(31):
        lim.acquire()
        stamps.append(clock())
    assert max(sum(1 for u in stamps if t <= u < t + 1.0) for t in stamps) <= 10
    assert stamps[:10] == [0.0] * 10 and stamps[10] == 1.0 and stamps[-1] == 3.0
    with pytest.raises(ValueError, match="max_calls=0"):
        WindowLimiter(0)
    with pytest.raises(ValueError, match="at most 10"):
        edgar.EdgarClient(user_agent=UA, session=FakeSession(), max_per_second=20)


def test_sec_403_and_rate_limit_are_typed_one_line_errors():
    url = edgar.companyfacts_url(789019)
    session = FakeSession(extra={url: ok("<html>Undeclared Automated Tool</html>", 403)})
    with pytest.raises(SourceError, match="HTTP 403.*CAPFLOW_SEC_USER_AGENT") as err:
        client(session).companyfacts(789019)
    assert "\n" not in str(err.value)
    session = FakeSession(extra={url: ok("", 429, {"Retry-After": "600"})})
    clock = FakeClock()
    with pytest.raises(RateLimitedError, match="wait 600 s"):
        client(session, clock).companyfacts(789019)
    assert clock.sleeps == []


def test_unknown_ticker_one_line():
    with pytest.raises(ValueError, match="tickers='NVDA' is not catalogued; valid: MSFT, GOOGL, AMZN, META, ORCL"):
        edgar.build_capex_catalog("NVDA", client=client(FakeSession()))


def test_missing_sgml_header_falls_back_to_the_json_time_and_says_so():
    url = edgar.header_url(789019, "0001193125-23-115611")
    session = FakeSession(FakeClock(), extra={url: ok("Not Found", 404)})
    out = edgar.build_capex_catalog("MSFT", client=client(session))
    row = out[out["accession"] == "0001193125-23-115611"].iloc[0]
    assert row["release_utc"] == "2023-04-25T20:06:05Z" and "not checked against the SGML header" in row["source"]
    assert "SGML header https://" in out["source"].iloc[0]
