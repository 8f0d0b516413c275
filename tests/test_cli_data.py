"""`capflow fetch` and `capflow quality` on the tiny SYNTHETIC snapshot (offline, no network)."""

from __future__ import annotations

import pytest
import tiny_snapshot

from capflow.cli import main


@pytest.fixture
def offline(monkeypatch, tmp_path):
    tiny_snapshot.use(monkeypatch, tmp_path)
    monkeypatch.setenv("CAPFLOW_OFFLINE", "1")
    monkeypatch.delenv("CAPFLOW_SOURCES", raising=False)
    return tmp_path


def test_fetch_prints_where_each_asset_came_from(offline, capsys):
    with pytest.warns(UserWarning):
        assert main(["fetch", "--assets", "BTC,NVDA,TAO", "--start", "2024-01-01", "--end", "2024-01-04"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["asset", "layer", "rows", "span"]
    i = next(k for k, line in enumerate(lines) if line.split()[0] == "BTC")
    assert lines[i].split() == ["BTC", "snapshot", "3", "2024-01-01..2024-01-03"]
    assert lines[i + 1].strip() == "bn_spot_ry 2024-01-01..2024-01-02 (2); cg_snap_cw 2024-01-03..2024-01-03 (1)"
    assert "fetch" in err and "3/3" in err  # the tqdm bar
    assert (offline / "cache" / "snapshot" / "1d" / "bitcoin.parquet").exists()


def test_fetch_lists_dropped_assets(offline, capsys):
    with pytest.warns(UserWarning):
        assert main(["fetch", "--assets", "BTC,AMD", "--start", "2024-01-03", "--end", "2024-01-04",
                     "--no-progress"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("AMD "))
    assert "no data" in lines[i + 1]


@pytest.mark.parametrize("argv, needle", [
    (["fetch", "--assets", "TAOO", "--start", "2024-01-01"], "closest valid: TAO"),
    (["fetch", "--assets", "BTC", "--start", "2024-02-01", "--end", "2024-01-01"], "is after end"),
    (["fetch", "--assets", "BTC", "--start", "2024-01-01", "--freq", "5m"], "freq='5m'"),
    (["quality", "--assets", "BTC", "--start", "notadate"], "parameter start"),
    (["fetch", "--assets", "BTC", "--start", "2024-01-01", "--sources", "disk"], "parameter sources"),
])
def test_errors_are_one_line_and_exit_2(offline, capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and err[0].startswith(f"capflow {argv[0]}: error:")


def test_quality_prints_the_table_and_issues(offline, capsys, tmp_path):
    csv = tmp_path / "q.csv"
    assert main(["quality", "--assets", "BTC,NVDA", "--start", "2024-01-01", "--end", "2024-01-04",
                 "--issues", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[:4] == ["symbol", "layer", "first", "last"] and "clock_switches" in header
    btc = next(line for line in out.splitlines() if line.split()[0] == "BTC").split()
    assert btc[1] == "snapshot" and btc[header.index("rows") + 2] == "3"  # first/last print as date + time
    assert "clock_switch" in out and "bn_spot_ry (close) -> cg_snap_cw (snapshot)" in out
    assert csv.read_text().startswith("asset,symbol")
