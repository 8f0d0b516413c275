"""load_prices across layers with fake live sources (never the network) and a tiny SYNTHETIC snapshot."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import tiny_snapshot

from capflow import config
from capflow.data import DataRequestError, OfflineFallbackWarning, cache, load_prices, provenance_table, resolve
from capflow.data import coingecko, errors, yahoo


class FakeCoinGecko:
    """Daily bars 1000 + day-of-year (SYNTHETIC); records calls; can be told to fail."""

    calls: list = []
    fail: Exception | None = None

    def __init__(self, *args, **kwargs):
        pass

    def history(self, coin_id, start, end, freq="1d"):
        FakeCoinGecko.calls.append((coin_id, pd.Timestamp(start), pd.Timestamp(end), freq))
        if FakeCoinGecko.fail is not None:
            raise FakeCoinGecko.fail
        idx = pd.date_range(pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize(), freq="D", name="timestamp")
        price = 1000.0 + idx.dayofyear.to_numpy()
        return pd.DataFrame({"price": price, "market_cap": price * 10, "volume": 1.0}, index=idx)


@pytest.fixture
def live(monkeypatch, tmp_path):
    """Online mode with fake CoinGecko and Yahoo, the tiny snapshot and a private cache."""
    tiny_snapshot.use(monkeypatch, tmp_path)
    monkeypatch.delenv("CAPFLOW_OFFLINE", raising=False)
    monkeypatch.setenv("CAPFLOW_LIVE_SOURCES", "coingecko,yahoo")  # these tests fake CoinGecko and Yahoo
    monkeypatch.delenv("CAPFLOW_SOURCES", raising=False)
    FakeCoinGecko.calls, FakeCoinGecko.fail = [], None
    monkeypatch.setattr(coingecko, "CoinGeckoClient", FakeCoinGecko)
    yahoo_calls = []

    def fake_download(tickers, start, end, interval="1d"):
        yahoo_calls.append(list(tickers))
        idx = pd.bdate_range(pd.Timestamp(start), pd.Timestamp(end), name="date", tz="UTC")
        return {t: pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 2.0, "adj_close": 3.0 + np.arange(len(idx)),
                                 "volume": 5.0}, index=idx) for t in tickers}

    monkeypatch.setattr(yahoo, "download", fake_download)
    resolve.reset_network_state()
    yield yahoo_calls
    resolve.reset_network_state()


@pytest.fixture
def offline(monkeypatch, tmp_path):
    tiny_snapshot.use(monkeypatch, tmp_path)
    monkeypatch.setenv("CAPFLOW_OFFLINE", "1")
    monkeypatch.delenv("CAPFLOW_SOURCES", raising=False)


# ------------------------------------------------------------------------------------------ live + cache


def test_live_result_is_cached_then_served_from_cache(live):
    a = load_prices("BTC", "2024-01-01", "2024-01-10")
    assert a.attrs["provenance"]["bitcoin"]["layer"] == "live"
    assert a.attrs["provenance"]["bitcoin"]["sources"] == {"coingecko": 10}
    assert a["bitcoin"].iloc[0] == 1001.0 and len(a) == 10
    b = load_prices("BTC", "2024-01-01", "2024-01-10")
    assert b.attrs["provenance"]["bitcoin"]["layer"] == "cache"
    assert len(FakeCoinGecko.calls) == 1
    pd.testing.assert_series_equal(a["bitcoin"], b["bitcoin"], check_freq=False)


def test_cache_not_covering_the_request_is_a_miss_and_merge_keeps_old_rows(live):
    load_prices("BTC", "2024-01-01", "2024-01-10")
    wider = load_prices("BTC", "2024-01-05", "2024-01-20")
    assert wider.attrs["provenance"]["bitcoin"]["layer"] == "live" and len(FakeCoinGecko.calls) == 2
    got, meta = cache.read("coingecko", "bitcoin", "1d")
    assert len(got) == 20 and got.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert meta["spans"] == [["2024-01-01T00:00:00+00:00", "2024-01-20T00:00:00+00:00"]]
    assert load_prices("BTC", "2024-01-02", "2024-01-19").attrs["provenance"]["bitcoin"]["layer"] == "cache"


def test_yahoo_is_batched_across_assets(live):
    df = load_prices("NVDA,AMD,BTC", "2024-01-01", "2024-01-12")
    assert live == [["NVDA", "AMD"]]
    assert {df.attrs["provenance"][a]["layer"] for a in ("NVDA", "AMD")} == {"live"}
    assert df.attrs["provenance"]["NVDA"]["sources"] == {"yahoo": 10}
    assert df["NVDA"].dropna().iloc[0] == 3.0  # price = adj_close
    assert np.isnan(df.loc["2024-01-06", "NVDA"])  # Saturday: crypto bar, no equity bar


def test_corrupt_cache_is_moved_aside_and_refetched(live):
    path = cache.path_for("coingecko", "bitcoin", "1d")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    with pytest.warns(cache.CacheCorruptWarning):
        df = load_prices("BTC", "2024-01-01", "2024-01-05")
    assert df.attrs["provenance"]["bitcoin"]["layer"] == "live"
    assert len(list(path.parent.glob("bitcoin.parquet.corrupt-*"))) == 1
    assert cache.read("coingecko", "bitcoin", "1d")[1]["rows"] == 5


# ------------------------------------------------------------------------------------------ offline


def test_network_down_falls_back_to_snapshot_with_warning(live):
    FakeCoinGecko.fail = errors.NetworkError("coingecko: connection refused", source="coingecko")
    with pytest.warns(OfflineFallbackWarning, match=r"network unreachable.*used snapshot for BTC"):
        df = load_prices("BTC", "2024-01-01", "2024-01-03")
    assert df.attrs["provenance"]["bitcoin"]["layer"] == "snapshot"
    assert list(df["bitcoin"]) == [100.0, 110.0, 121.0]
    with pytest.warns(OfflineFallbackWarning):
        load_prices("BTC", "2024-01-01", "2024-01-02")
    assert len(FakeCoinGecko.calls) == 1  # the outage is remembered for the process


def test_network_down_falls_back_to_cache_when_ordered_first(live):
    cache.write("coingecko", "bitcoin", "1d", pd.DataFrame(
        {"price": [7.0, 8.0], "source": pd.array(["coingecko"] * 2, dtype="string")},
        index=pd.DatetimeIndex(["2024-01-01", "2024-01-02"], tz="UTC")), span=("2024-01-01", "2024-01-02"))
    FakeCoinGecko.fail = errors.NetworkError("down", source="coingecko")
    with pytest.warns(OfflineFallbackWarning, match="used cache for BTC"):
        df = load_prices("BTC", "2024-01-01", "2024-01-02", sources=["live", "cache", "snapshot"])
    assert list(df["bitcoin"]) == [7.0, 8.0]


def test_offline_env_never_calls_live(live, monkeypatch):
    monkeypatch.setenv("CAPFLOW_OFFLINE", "1")
    with pytest.warns(OfflineFallbackWarning, match=r"CAPFLOW_OFFLINE.*used snapshot for BTC, NVDA"):
        df = load_prices("BTC,NVDA", "2024-01-01", "2024-01-04")
    assert FakeCoinGecko.calls == [] and live == []
    assert {p["layer"] for p in df.attrs["provenance"].values()} == {"snapshot"}


def test_other_source_errors_fall_through_without_offline_warning(live):
    FakeCoinGecko.fail = errors.RateLimitedError("coingecko: HTTP 429", source="coingecko")
    from capflow.data.request import SourceFallbackWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", OfflineFallbackWarning)
        with pytest.warns(SourceFallbackWarning, match=r"^BTC: live failed \(coingecko: HTTP 429\); served from snapshot$"):
            df = load_prices("BTC", "2024-01-01", "2024-01-02")
    assert df.attrs["provenance"]["bitcoin"]["layer"] == "snapshot"
    assert resolve.offline_reason() is None


# ------------------------------------------------------------------------------------------ order, provenance


def test_resolution_order_is_configurable(live, monkeypatch):
    load_prices("BTC", "2024-01-01", "2024-01-03")  # fills the live cache
    only_snap = load_prices("BTC", "2024-01-01", "2024-01-03", sources=["snapshot"])
    assert only_snap.attrs["provenance"]["bitcoin"]["layer"] == "snapshot"
    monkeypatch.setenv("CAPFLOW_SOURCES", "snapshot,cache")
    assert config.source_order() == ("snapshot", "cache")
    assert load_prices("BTC", "2024-01-01", "2024-01-03").attrs["provenance"]["bitcoin"]["layer"] == "snapshot"
    monkeypatch.setenv("CAPFLOW_SOURCES", "cache")
    assert load_prices("BTC", "2024-01-01", "2024-01-03").attrs["provenance"]["bitcoin"]["layer"] == "cache"
    with pytest.raises(DataRequestError, match="parameter sources"):
        load_prices("BTC", "2024-01-01", "2024-01-03", sources=["disk"])


def test_snapshot_provenance_and_precedence(offline):
    with pytest.warns(OfflineFallbackWarning):
        df = load_prices("BTC,NVDA", "2024-01-01", "2024-01-04")
    assert list(df["bitcoin"].dropna()) == [100.0, 110.0, 121.0]  # Binance close beats the snapshot
    prov = df.attrs["provenance"]
    assert prov["bitcoin"]["sources"] == {"bn_spot_ry": 2, "cg_snap_cw": 1}
    assert prov["NVDA"]["sources"] == {"synthetic_a": 2, "synthetic_b": 1}
    assert list(df["NVDA"].dropna()) == [48.0, 47.0, 48.0]  # adjusted close
    assert np.isnan(df.loc["2024-01-01", "NVDA"])
    table = provenance_table(df)
    assert list(table["symbol"]) == ["BTC", "NVDA"] and list(table["rows"]) == [3, 3]
    mc = load_prices("BTC", "2024-01-01", "2024-01-03", field="market_cap", sources=["snapshot"])
    assert list(mc["bitcoin"]) == [1000.0, 1111.0, 1210.0]
    assert mc.attrs["provenance"]["bitcoin"]["sources"] == {"bn_spot_ry": 1, "cg_snap_cw": 2}


def test_snapshot_is_cached_and_invalidated_when_the_csv_changes(offline, tmp_path):
    first = load_prices("BTC", "2024-01-01", "2024-01-03", sources=["snapshot"])
    assert cache.read_meta("snapshot", "bitcoin", "1d")["rows"] == 3
    again = load_prices("BTC", "2024-01-01", "2024-01-03", sources=["snapshot"])
    pd.testing.assert_frame_equal(first, again)
    changed = tiny_snapshot.CRYPTO_DAILY.replace("2024-01-01,bitcoin,100,", "2024-01-01,bitcoin,99,")
    (tmp_path / "snap" / "market" / "crypto_daily.csv").write_text(changed + "\n")
    assert load_prices("BTC", "2024-01-01", "2024-01-03", sources=["snapshot"])["bitcoin"].iloc[0] == 99.0


def test_missing_drop_lists_the_reason(offline):
    with pytest.warns(UserWarning, match="dropped AMD"):
        df = load_prices("BTC,AMD", "2024-01-03", "2024-01-04", missing="drop", sources=["snapshot"])
    assert list(df.columns) == ["bitcoin"]
    assert "snapshot covers 2024-01-02..2024-01-02" in df.attrs["dropped"]["AMD"]


# ------------------------------------------------------------------------------------------ bad input


def _one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


def test_unknown_asset_suggests(offline):
    with pytest.raises(KeyError) as e:
        load_prices("TAOO", "2024-01-01", "2024-01-03")
    assert "closest valid: TAO" in _one_line(e)


def test_start_after_end(offline):
    with pytest.raises(DataRequestError) as e:
        load_prices("BTC", "2024-02-01", "2024-01-01")
    assert "start=2024-02-01 is after end=2024-01-01" in _one_line(e)


def test_range_outside_data_states_coverage(offline):
    with pytest.raises(DataRequestError) as e:
        load_prices("BTC", "2020-01-01", "2020-01-31", sources=["snapshot"])
    assert "covers 2024-01-01..2024-01-03" in _one_line(e)


def test_unsupported_frequency(offline):
    with pytest.raises(DataRequestError) as e:
        load_prices("BTC", "2024-01-01", "2024-01-03", freq="5m")
    assert "freq='5m'" in _one_line(e) and "1d, 1h, 4h" in str(e.value)


def test_snapshot_folder_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("CAPFLOW_SNAPSHOT", str(tmp_path / "nowhere"))
    monkeypatch.setenv("CAPFLOW_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValueError) as e:
        load_prices("BTC", "2024-01-01", "2024-01-03", sources=["snapshot"])
    assert "CAPFLOW_SNAPSHOT" in _one_line(e) and "not a directory" in str(e.value)


def test_snapshot_file_with_wrong_column(monkeypatch, tmp_path):
    bad = tiny_snapshot.CRYPTO_DAILY.replace("price_usd", "price", 1)
    tiny_snapshot.use(monkeypatch, tmp_path, crypto_daily=bad)
    with pytest.raises(ValueError) as e:
        load_prices("BTC", "2024-01-01", "2024-01-03", sources=["snapshot"])
    msg = _one_line(e)
    assert "crypto_daily.csv" in msg and "'price_usd'" in msg


# ------------------------------------------------------------------------------------------ real snapshot


def test_btc_daily_close_is_the_binance_close(snapshot_root, offline_env, monkeypatch):
    monkeypatch.delenv("CAPFLOW_SOURCES", raising=False)
    with pytest.warns(OfflineFallbackWarning, match="used snapshot for BTC"):
        df = load_prices("BTC", "2026-02-01", "2026-02-10")
    assert df.loc["2026-02-05", "bitcoin"] == pytest.approx(62909.86, abs=1e-6)
    assert set(df.attrs["provenance"]["bitcoin"]["sources"]) == {"bn_spot_ry"}


def test_data_summary_reports_latest_date_layers_and_short_sources():
    import pandas as pd

    from capflow.data import data_summary, provenance_table

    frame = pd.DataFrame({"bitcoin": [1.0], "NVDA": [2.0]})
    frame.attrs["provenance"] = {
        "bitcoin": {"layer": "snapshot", "sources": {"bn_spot_ry": 3, "cg_snap_zeke": 1}, "last": "2026-03-03"},
        "NVDA": {"layer": "cache", "sources": {"ohlcv=Some-One/repo_x@34050dc;adj=other/repo-y@9509a3b": 5},
                 "last": "2026-08-21 00:00:00+00:00"}}
    out = data_summary(frame)
    assert out == {"data_as_of": "2026-08-21", "data_layers": ["cache", "snapshot"],
                   "data_sources": ["Some-One/repo_x", "bn_spot_ry", "cg_snap_zeke", "other/repo-y"]}
    assert data_summary(provenance_table(frame)) == out
