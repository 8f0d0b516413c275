"""`capflow sources` and `capflow catalog capex` with fakes: no network (EDGAR answers come from tests/fixtures/edgar,
the shipped catalog is a small hand-written CSV)."""

from __future__ import annotations

import functools

import pandas as pd
import pytest
from test_edgar import UA, FakeClock, FakeSession

from capflow import capex
from capflow.cli import main
from capflow.data import edgar, plan

SHIPPED_ROWS = [
    ("Microsoft", "MSFT", "2023-04-25", "after close", "FY2023 Q3 (Jan-Mar 2023)", 6607000000, "d",
     "FY2023 capex up", 3.0e10, 3.2e10, "hand-written test row"),
    ("Microsoft", "MSFT", "2023-07-25", "after close", "FY2023 Q4 (Apr-Jun 2023)", 8900000000, "d", None, None, None,
     "hand-written test row"),
    ("Microsoft", "MSFT", "2024-01-30", "after close", "FY2024 Q2 (Oct-Dec 2023)", 9735000000, "d", None, None, None,
     "hand-written test row"),
]


@pytest.fixture
def shipped(tmp_path):
    path = tmp_path / "shipped.csv"
    pd.DataFrame(SHIPPED_ROWS, columns=list(edgar.CATALOG_COLUMNS)).to_csv(path, index=False)
    return path


@pytest.fixture
def fake_edgar(monkeypatch, tmp_path):
    """EdgarClient() builds a client on the fixture session; the cache (default --out) is private."""
    monkeypatch.setenv("CAPFLOW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CAPFLOW_SEC_USER_AGENT", UA)
    real = edgar.EdgarClient
    clock = FakeClock()
    sessions = []

    def factory(*args, **kw):
        sessions.append(FakeSession(clock))
        return real(user_agent=UA, session=sessions[-1], clock=clock, sleep=clock.sleep)
    monkeypatch.setattr(edgar, "EdgarClient", factory)
    return sessions


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"capflow {command}: error:"), err
    return err[0]


# ------------------------------------------------------------------------------------------------ sources
def test_sources_lists_order_and_limits(monkeypatch, capsys):
    monkeypatch.setenv("CAPFLOW_SOURCES", "snapshot,cache")
    monkeypatch.delenv("CAPFLOW_SEC_USER_AGENT", raising=False)
    monkeypatch.delenv("CAPFLOW_OFFLINE", raising=False)  # CI runs offline; this line is about the order only
    assert main(["sources"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "resolution order (CAPFLOW_SOURCES): snapshot -> cache"
    for needle in ("coingecko", "binance dumps", "binance REST", "sec edgar", "10 req/s", "HTTP 451",
                   "CAPFLOW_SEC_USER_AGENT (name + e-mail); status: NOT SET"):
        assert needle in out


def test_sources_plan_is_computed_not_fetched(monkeypatch, capsys):
    fixed = functools.partial(plan.registry_plan, now="2026-11-28 03:17")
    monkeypatch.setattr(plan, "registry_plan", fixed)
    assert main(["sources", "--plan", "--assets", "TAO,MSFT", "--freq", "1d", "--start", "2026-10-01"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("request plan"):].splitlines()
    assert table[1].split() == ["source", "requests", "conditional", "mb", "mb_conditional", "min_seconds"]
    rows = {line.split()[0]: line.split() for line in table[2:]}
    # TAO spot 1d: October monthly file + 26 November daily files, each with its CHECKSUM; perp the same, conditional
    assert rows["binance_dump"][1:3] == ["54", "54"] and rows["binance_rest"][1:3] == ["1", "1"]
    assert rows["sec"][1] == "3" and set(rows) >= {"yahoo", "coingecko", "total"}  # MSFT: facts, submissions, header


def test_sources_bad_freq_is_one_line(capsys):
    assert main(["sources", "--plan", "--freq", "5m"]) == 2
    assert "--freq '5m' is invalid; use one or more of 1d, 4h, 1h" in one_line_error(capsys, "sources")


# ------------------------------------------------------------------------------------------------ catalog
def test_catalog_summary_of_the_shipped_file(shipped, capsys):
    assert main(["catalog", "capex", "--catalog", str(shipped)]) == 0
    out = capsys.readouterr().out
    assert "3 releases" in out and "--refresh" in out and "MSFT" in out


def test_refresh_prints_differences_and_writes_atomically(fake_edgar, shipped, tmp_path, capsys):
    out_file = tmp_path / "rebuilt.csv"
    assert main(["catalog", "capex", "--refresh", "--tickers", "MSFT", "--catalog", str(shipped),
                 "--out", str(out_file)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["ticker", "fiscal_period", "change", "shipped", "edgar"]
    assert any("FY2023 Q4" in x and "capex" in x and "8.900B" in x and "8.943B" in x for x in lines)
    assert any("FY2023 Q2" in x and "new release" in x for x in lines)
    assert any("FY2024 Q2" in x and "not in EDGAR" in x for x in lines)
    assert f"wrote 4 releases to {out_file}" in out
    assert sum(u.endswith(".hdr.sgml") for u, _, _ in fake_edgar[0].calls) == 4  # headers verified by default
    cat = capex.load_announcements(out_file)
    assert len(cat) == 4 and set(cat["timing"]) == {"after close"}
    q3 = cat[cat["fiscal_period"] == "FY2023 Q3 (Jan-Mar 2023)"].iloc[0]
    assert q3["guidance_low_usd"] == 3.0e10 and "data.sec.gov" in q3["source"]
    assert not list(tmp_path.glob(".rebuilt.csv.*"))  # no temporary file left behind


def test_refresh_default_out_is_in_the_cache(fake_edgar, shipped, tmp_path, capsys):
    assert main(["catalog", "capex", "--refresh", "--tickers", "MSFT", "--catalog", str(shipped),
                 "--no-verify-headers"]) == 0
    assert (tmp_path / "cache" / "catalogs" / "capex_announcements.edgar.csv").is_file()
    assert not any(u.endswith(".hdr.sgml") for u, _, _ in fake_edgar[0].calls)
    assert main(["catalog", "capex", "--refresh", "--tickers", "MSFT", "--catalog", str(shipped),
                 "--no-verify-headers"]) == 0  # the default file is ours: regenerated without --force


@pytest.mark.parametrize("extra, needle", [
    (["--out", "SHIPPED"], "is the shipped catalog, which is never overwritten"),
    (["--out", "EXISTING"], "exists; pass --force"),
    (["--out", "x.txt"], "must be a .csv file"),
    (["--tickers", "NVDA"], "tickers='NVDA' is not catalogued"),
])
def test_refresh_refuses_bad_outputs_one_line(fake_edgar, shipped, tmp_path, capsys, extra, needle):
    existing = tmp_path / "existing.csv"
    existing.write_text("keep me\n")
    extra = [str(shipped) if x == "SHIPPED" else str(existing) if x == "EXISTING" else x for x in extra]
    assert main(["catalog", "capex", "--refresh", "--catalog", str(shipped), *extra]) == 2
    assert needle in one_line_error(capsys, "catalog")
    assert existing.read_text() == "keep me\n"


def test_refresh_without_user_agent_names_the_variable(monkeypatch, shipped, tmp_path, capsys):
    monkeypatch.delenv("CAPFLOW_SEC_USER_AGENT", raising=False)
    monkeypatch.setenv("CAPFLOW_CACHE", str(tmp_path / "cache"))
    assert main(["catalog", "capex", "--refresh", "--catalog", str(shipped)]) == 2
    assert "CAPFLOW_SEC_USER_AGENT is not set" in one_line_error(capsys, "catalog")


def test_refresh_source_failure_exits_1_with_one_line(fake_edgar, shipped, tmp_path, capsys, monkeypatch):
    real = edgar.EdgarClient

    def failing(*a, **kw):
        client = real()
        client.http.session.extra[edgar.companyfacts_url(789019)] = __import__("test_edgar").ok("busy", 503)
        return client
    monkeypatch.setattr(edgar, "EdgarClient", failing)
    assert main(["catalog", "capex", "--refresh", "--tickers", "MSFT", "--catalog", str(shipped),
                 "--out", str(tmp_path / "o.csv")]) == 1
    assert "HTTP 503" in one_line_error(capsys, "catalog") and not (tmp_path / "o.csv").exists()
