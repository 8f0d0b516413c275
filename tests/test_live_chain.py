"""The live source chain: Binance before CoinGecko for price history, CoinGecko for market caps, Yahoo's crypto
tickers last; a refused region or a plan limit hands over to the next source. Fakes only, never the network;
every price here is SYNTHETIC."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import tiny_snapshot

from capflow.data import binance, cache, coingecko, errors, load_prices, resolve, yahoo


def _frame(first: str, last: str, source: str, base: float = 100.0, caps: bool = False) -> pd.DataFrame:
    idx = pd.date_range(first, last, freq="D", tz="UTC", name="timestamp")
    f = pd.DataFrame({"price": base + np.arange(len(idx)), "volume": 1e6}, index=idx)
    if caps:
        f["market_cap"] = 1e9
    if source:
        f["source"] = source
    return f


class Script:
    """Per source: a list of answers (frames or exceptions) and the calls made."""

    def __init__(self):
        self.binance, self.coingecko, self.yahoo, self.calls = [], [], [], []

    def next(self, name):
        self.calls.append(name)
        queue = getattr(self, name)
        item = queue.pop(0) if queue else errors.NoDataError(f"{name}: nothing scripted", source=name)
        if isinstance(item, BaseException):
            raise item
        return item


@pytest.fixture
def chain(monkeypatch, tmp_path):
    tiny_snapshot.use(monkeypatch, tmp_path)
    monkeypatch.delenv("CAPFLOW_OFFLINE", raising=False)
    monkeypatch.delenv("CAPFLOW_LIVE_SOURCES", raising=False)
    monkeypatch.setenv("CAPFLOW_SOURCES", "cache,live,snapshot")
    s = Script()

    class FakeBinance:
        def __init__(self, *a, **k):
            pass

        def klines(self, asset, start, end=None, freq="1d", **k):
            return s.next("binance")

    class FakeCG:
        def __init__(self, *a, **k):
            pass

        def history(self, coin_id, start, end, freq="1d"):
            return s.next("coingecko")

    monkeypatch.setattr(binance, "BinanceClient", FakeBinance)
    monkeypatch.setattr(coingecko, "CoinGeckoClient", FakeCG)
    monkeypatch.setattr(yahoo, "crypto_history", lambda assets, start, end, **k: {assets[0]: s.next("yahoo")})
    resolve.reset_network_state()
    yield s
    resolve.reset_network_state()


def test_binance_serves_history_before_coingecko(chain):
    chain.binance = [_frame("2023-01-01", "2023-01-10", "bn_spot")]
    got = load_prices("BTC", "2023-01-01", "2023-01-10")
    assert chain.calls == ["binance"]
    p = got.attrs["provenance"]["bitcoin"]
    assert p["layer"] == "live" and p["sources"] == {"bn_spot": 10}
    assert cache.read_meta("binance", "bitcoin", "1d")["spans"][0][0].startswith("2023-01-01")
    again = load_prices("BTC", "2023-01-01", "2023-01-10")  # now from the binance cache, no call
    assert chain.calls == ["binance"] and again.attrs["provenance"]["bitcoin"]["layer"] == "cache"


def test_market_caps_come_from_coingecko(chain):
    chain.coingecko = [_frame("2024-01-01", "2024-01-05", "", caps=True)]
    got = load_prices("BTC", "2024-01-01", "2024-01-05", field="market_cap")
    assert chain.calls == ["coingecko"] and got.attrs["provenance"]["bitcoin"]["sources"] == {"coingecko": 5}


def test_refused_region_hands_over_to_coingecko(chain):
    chain.binance = [errors.RegionBlockedError("binance: HTTP 451 from api.binance.com: this region is refused",
                                               source="binance")]
    chain.coingecko = [_frame("2024-01-01", "2024-01-05", "", caps=True)]
    got = load_prices("BTC", "2024-01-01", "2024-01-05")
    assert chain.calls == ["binance", "coingecko"]
    assert got.attrs["provenance"]["bitcoin"]["sources"] == {"coingecko": 5}


def test_yahoo_crypto_is_the_last_daily_fallback(chain):
    chain.binance = [errors.RegionBlockedError("binance: HTTP 451", source="binance")]
    chain.coingecko = [errors.PlanHistoryLimitError("coingecko: the plan serves 365 days", source="coingecko")]
    chain.yahoo = [_frame("2023-03-01", "2023-03-04", "yahoo")]
    got = load_prices("TAO", "2023-03-01", "2023-03-04")
    assert chain.calls == ["binance", "coingecko", "yahoo"]
    assert got.attrs["provenance"]["bittensor"]["sources"] == {"yahoo": 4}


def test_every_live_source_failing_falls_back_to_the_snapshot_saying_why(chain):
    from capflow.data.request import SourceFallbackWarning

    chain.binance = [errors.RegionBlockedError("binance: HTTP 451", source="binance")]
    chain.coingecko = [errors.RateLimitedError("coingecko: asked to wait 86,400 s", source="coingecko")]
    chain.yahoo = [errors.EmptyTickerError("yahoo: BTC-USD came back empty", tickers=["BTC-USD"])]
    with pytest.warns(SourceFallbackWarning) as rec:
        got = load_prices("BTC", "2024-01-01", "2024-01-02")
    msg = str(rec[0].message)
    assert "\n" not in msg and "binance: HTTP 451" in msg and "86,400 s" in msg and "BTC-USD came back empty" in msg
    assert got.attrs["provenance"]["bitcoin"]["layer"] == "snapshot"


def test_live_sources_can_be_restricted(chain, monkeypatch):
    from capflow.config import ConfigError

    monkeypatch.setenv("CAPFLOW_LIVE_SOURCES", "coingecko")
    chain.coingecko = [_frame("2024-01-01", "2024-01-02", "", caps=True)]
    load_prices("BTC", "2024-01-01", "2024-01-02")
    assert chain.calls == ["coingecko"]
    monkeypatch.setenv("CAPFLOW_LIVE_SOURCES", "kraken")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ConfigError, match="CAPFLOW_LIVE_SOURCES='kraken'"):
            load_prices("BTC", "2024-01-01", "2024-01-02")


def test_binance_funding_feeds_the_cascade_derivatives_table_online(chain, monkeypatch):
    from capflow.cascade import derivatives_context

    calls = []

    def fake_derivatives(self, asset, start, end=None, freq="8h"):
        calls.append(asset)
        ts = pd.date_range("2024-01-01", periods=6, freq="8h", tz="UTC")
        return pd.DataFrame({"timestamp_utc": ts, "asset": asset, "funding_rate": 0.0001,
                             "open_interest_usd": [5e9, 5e9, 4.8e9, 4.0e9, 4.1e9, 4.2e9],
                             "long_liquidations_usd": np.nan, "short_liquidations_usd": np.nan,
                             "source": "bn_perp"})

    monkeypatch.setattr(binance.BinanceClient, "derivatives", fake_derivatives, raising=False)
    import os
    from pathlib import Path

    root = Path(os.environ["CAPFLOW_SNAPSHOT"])  # the tiny snapshot of the fixture, with no derivatives rows
    (root / "market" / "crypto_derivatives.csv").write_text(
        "timestamp_utc,asset,funding_rate,open_interest_usd,long_liquidations_usd,short_liquidations_usd,source\n")
    ctx = derivatives_context("2024-01-02", "BTC", window=1, root=root)
    assert calls == ["bitcoin"] and set(ctx.data["source"]) == {"bn_perp"}
    assert ctx.summary.iloc[0]["oi_change_pct"] == pytest.approx(100 * (4.0e9 / 4.8e9 - 1))  # last before, low after
    monkeypatch.setenv("CAPFLOW_OFFLINE", "1")
    calls.clear()
    derivatives_context("2024-01-02", "BTC", window=1, root=root)
    assert calls == []  # offline: the snapshot only
