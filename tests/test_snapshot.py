"""Snapshot readers: schema validation on a tiny SYNTHETIC copy, then the real files' schema and known values."""

from __future__ import annotations

import pandas as pd
import pytest
import tiny_snapshot

from capflow.data import snapshot


def test_read_parses_utc_and_keeps_sources(tmp_path):
    root = tiny_snapshot.make(tmp_path)
    df = snapshot.read("crypto_daily", root)
    assert str(df["date"].dt.tz) == "UTC" and len(df) == 7
    assert set(df["source"]) == {"bn_spot_ry", "cg_snap_cw", "bn_spot_dj"}


def test_best_daily_follows_precedence_per_field(tmp_path):
    best = snapshot.crypto_daily_best(tiny_snapshot.make(tmp_path))
    btc = best[best["asset"] == "bitcoin"].set_index(best.loc[best["asset"] == "bitcoin", "date"].dt.day)
    assert list(btc["price_usd"]) == [100.0, 110.0, 121.0]
    assert list(btc["price_usd_source"]) == ["bn_spot_ry", "bn_spot_ry", "cg_snap_cw"]
    assert list(btc["market_cap_usd_source"]) == ["bn_spot_ry", "cg_snap_cw", "cg_snap_cw"]
    assert list(btc["clock"]) == ["close", "close", "snapshot"]


def test_clock_of():
    assert snapshot.clock_of("bn_spot_ry") == "close" and snapshot.clock_of("cg_snap_zeke") == "snapshot"
    assert snapshot.clock_of("cmc_monthly_sbq") == "close"


def test_missing_column_names_file_and_column(tmp_path):
    root = tiny_snapshot.make(tmp_path, equity_daily=tiny_snapshot.EQUITY_DAILY.replace("adj_close", "adjclose", 1))
    with pytest.raises(snapshot.SnapshotError) as e:
        snapshot.read("equity_daily", root)
    msg = str(e.value)
    assert "equity_daily.csv" in msg and "'adj_close'" in msg and "\n" not in msg


def test_bad_dates_and_missing_file(tmp_path):
    root = tiny_snapshot.make(tmp_path, crypto_daily=tiny_snapshot.CRYPTO_DAILY.replace("2024-01-03", "someday"))
    with pytest.raises(snapshot.SnapshotError, match="column 'date'"):
        snapshot.read("crypto_daily", root)
    with pytest.raises(snapshot.SnapshotError, match="crypto_4h.csv is missing"):
        snapshot.read("crypto_4h", root)
    with pytest.raises(snapshot.SnapshotError, match="unknown snapshot file"):
        snapshot.read("crypto_weekly", root)


def test_coverage(tmp_path):
    cov = snapshot.coverage("equity_daily", "ticker", tiny_snapshot.make(tmp_path))
    assert cov.loc["NVDA", "rows"] == 3 and cov.loc["AMD", "first"] == pd.Timestamp("2024-01-02", tz="UTC")


@pytest.mark.parametrize("name", list(snapshot.FILES))
def test_every_real_file_matches_the_schema(snapshot_root, name):
    df = snapshot.read(name, snapshot_root)
    assert len(df) > 0 and set(snapshot.FILES[name][1]) <= set(df.columns)
    assert str(df[snapshot.FILES[name][2]].dt.tz) == "UTC"


def test_real_btc_binance_close(snapshot_root):
    best = snapshot.crypto_daily_best(snapshot_root)
    row = best[(best["asset"] == "bitcoin") & (best["date"] == pd.Timestamp("2026-02-05", tz="UTC"))].iloc[0]
    assert row["price_usd"] == pytest.approx(62909.86) and row["price_usd_source"].startswith("bn_")


# ------------------------------------------------------------------------------------------ embedded copy
def test_the_embedded_snapshot_is_the_default_and_complete(monkeypatch):
    from capflow import config

    monkeypatch.delenv("CAPFLOW_SNAPSHOT", raising=False)
    root = config.snapshot_dir(required=True)
    assert root == config.EMBEDDED_SNAPSHOT and (root / "README.md").is_file()
    for name in snapshot.FILES:
        path = snapshot.path_of(name, root)
        assert path.is_file() and path.is_relative_to(config.PROJ_ROOT), name
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert 5e6 < size < 10e6  # compact: the budget of the embedded copy


UPSTREAM = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not (UPSTREAM / "market").is_dir(), reason="no upstream snapshot beside the repository")
def test_the_embedded_snapshot_equals_its_upstream_row_for_row():
    """Same text, so the same values and the same source tag on every row (compression only)."""
    from capflow import config
    from capflow.data import embed

    for path in sorted(p for p in UPSTREAM.rglob("*") if p.is_file()):
        rel = path.relative_to(UPSTREAM).as_posix()
        mine = config.EMBEDDED_SNAPSHOT / rel
        mine = mine if mine.is_file() else mine.with_name(mine.name + ".gz")
        assert mine.is_file(), rel
        assert embed._text_sha(mine) == embed._text_sha(path), rel


def test_embed_builds_a_readable_byte_faithful_copy(tmp_path):
    from capflow.data import embed

    src = tiny_snapshot.make(tmp_path / "src")
    (src / "README.md").write_text("schema")
    rows = embed.build(src, tmp_path / "dest")
    assert {r[0] for r in rows} == {"README.md", "market/crypto_daily.csv.gz", "market/equity_daily.csv.gz"}
    a = snapshot.read("crypto_daily", src)
    b = snapshot.read("crypto_daily", tmp_path / "dest")
    pd.testing.assert_frame_equal(a, b)
    again = embed.build(src, tmp_path / "dest2")
    assert [r[1:] for r in again] == [r[1:] for r in rows]  # deterministic bytes
    with pytest.raises(FileNotFoundError, match="not a snapshot folder"):
        embed.build(tmp_path / "nowhere", tmp_path / "x")
