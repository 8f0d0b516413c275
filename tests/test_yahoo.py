"""Yahoo wrapper: one call, explicit arguments, errors surfaced. No network: hand-built SYNTHETIC frames."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from capflow.data import yahoo
from capflow.data.errors import EmptyTickerError, NetworkError, SourceError

FIELDS = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]


def bars(dates, base: float, tz: str | None = None) -> pd.DataFrame:
    """SYNTHETIC bars: close = base + i, adj close = close - 1, open/high/low around it."""
    idx = pd.DatetimeIndex(pd.to_datetime(dates), name="Date")
    idx = idx.tz_localize(tz) if tz else idx
    c = base + np.arange(len(idx), dtype=float)
    return pd.DataFrame({"Open": c - 0.5, "High": c + 1, "Low": c - 1, "Close": c, "Adj Close": c - 1,
                         "Volume": 1000.0 * (1 + np.arange(len(idx)))}, index=idx)


class FakeDownloader:
    """Records calls; returns frames shaped like yf.download (group_by='ticker' MultiIndex, or flat)."""

    def __init__(self, frames: dict, log_errors: dict | None = None) -> None:
        self.frames, self.log_errors, self.calls = frames, log_errors or {}, []

    def __call__(self, tickers, **kw):
        self.calls.append((tickers, kw))
        for sym, msg in self.log_errors.items():  # what yfinance 1.x does with per-ticker failures
            logging.getLogger("yfinance").error(f"['{sym}']: {msg}")
        if isinstance(tickers, str):
            return self.frames[tickers]
        idx = None
        for f in self.frames.values():
            idx = f.index if idx is None else idx.union(f.index)
        parts = {t.upper(): self.frames.get(t, pd.DataFrame(columns=FIELDS)).reindex(idx) for t in tickers}
        return pd.concat(parts.values(), axis=1, keys=parts.keys(), names=["Ticker", "Price"])


def test_many_tickers_one_call_with_explicit_arguments():
    days = ["2024-03-01", "2024-03-04", "2024-03-05"]
    fake = FakeDownloader({"NVDA": bars(days, 100), "000660.KS": bars(days[:2], 50), "^GSPC": bars(days, 5000)})
    out = yahoo.download(["NVDA", "000660.KS", "^GSPC", "NVDA"], "2024-03-01", "2024-03-05", downloader=fake)
    assert len(fake.calls) == 1
    tickers, kw = fake.calls[0]
    assert tickers == ["NVDA", "000660.KS", "^GSPC"]
    assert kw["start"] == "2024-03-01" and kw["end"] == "2024-03-06"  # yfinance's end is exclusive
    assert kw["auto_adjust"] is False and kw["progress"] is False and kw["group_by"] == "ticker"
    assert kw["multi_level_index"] is True and 1 < kw["threads"] <= 4
    assert list(out) == ["NVDA", "000660.KS", "^GSPC"]
    nv = out["NVDA"]
    assert list(nv.columns) == ["open", "high", "low", "close", "adj_close", "volume"]
    assert nv["close"].tolist() == [100.0, 101.0, 102.0] and nv["adj_close"].tolist() == [99.0, 100.0, 101.0]
    # the union index gave 000660.KS a NaN row on 2024-03-05: it is dropped, not kept as a bar
    assert out["000660.KS"].index.tolist() == list(pd.to_datetime(days[:2], utc=True))
    assert str(nv.index.tz) == "UTC" and nv.index.name == "date"


def test_single_ticker_uses_flat_columns():
    fake = FakeDownloader({"NVDA": bars(["2024-03-01"], 100)})
    out = yahoo.download(["NVDA"], "2024-03-01", "2024-03-01", downloader=fake)
    tickers, kw = fake.calls[0]
    assert tickers == "NVDA" and kw["multi_level_index"] is False and kw["threads"] is False
    assert kw["end"] == "2024-03-02"
    assert out["NVDA"].loc[pd.Timestamp("2024-03-01", tz="UTC"), "adj_close"] == 99.0


def test_tz_aware_index_normalised_to_session_date():
    raw = bars(["2024-03-01 00:00", "2024-03-04 00:00"], 10, tz="Asia/Seoul")  # 2024-02-29 15:00 UTC
    out = yahoo.tidy(raw)
    assert out.index.tolist() == list(pd.to_datetime(["2024-03-01", "2024-03-04"], utc=True))


def test_rows_outside_inclusive_range_dropped():
    fake = FakeDownloader({"SPY": bars(["2024-02-29", "2024-03-01", "2024-03-04"], 1)})
    out = yahoo.download(["SPY"], "2024-03-01", "2024-03-01", downloader=fake)
    assert out["SPY"].index.tolist() == [pd.Timestamp("2024-03-01", tz="UTC")]


def test_empty_ticker_named():
    days = ["2024-03-01", "2024-03-04"]
    fake = FakeDownloader({"NVDA": bars(days, 100)})
    with pytest.raises(EmptyTickerError, match=r"\['BADX'\]") as info:
        yahoo.download(["NVDA", "BADX"], "2024-03-01", "2024-03-04", downloader=fake)
    assert info.value.tickers == ["BADX"] and isinstance(info.value, ValueError)


def test_yfinance_logged_error_surfaced():
    days = ["2024-03-01", "2024-03-04"]
    fake = FakeDownloader({"NVDA": bars(days, 100)},
                          log_errors={"BADX": "YFTzMissingError('possibly delisted; no timezone found')"})
    with pytest.raises(EmptyTickerError, match="possibly delisted"):
        yahoo.download(["NVDA", "BADX"], "2024-03-01", "2024-03-04", downloader=fake)


def test_yfinance_network_error_surfaced_even_with_rows():
    days = ["2024-03-01", "2024-03-04"]
    fake = FakeDownloader({"NVDA": bars(days, 100), "AMD": bars(days, 5)},
                          log_errors={"AMD": "ConnectionError('Failed to perform, curl: (6) Could not resolve host')"})
    with pytest.raises(NetworkError, match="AMD"):
        yahoo.download(["NVDA", "AMD"], "2024-03-01", "2024-03-04", downloader=fake)


def test_shared_errors_dict_checked(monkeypatch):
    import yfinance.shared as shared

    monkeypatch.setattr(shared, "_ERRORS", {"AMD": "YFPricesMissingError('no price data found')"})
    days = ["2024-03-01", "2024-03-04"]
    fake = FakeDownloader({"NVDA": bars(days, 100), "AMD": bars(days, 5)})
    with pytest.raises(SourceError, match="AMD.*no price data"):
        yahoo.download(["NVDA", "AMD"], "2024-03-01", "2024-03-04", downloader=fake)


def test_downloader_exception_not_hidden():
    def boom(tickers, **kw):
        raise RuntimeError("yahoo changed its API")

    with pytest.raises(RuntimeError, match="changed its API"):
        yahoo.download(["NVDA"], "2024-03-01", "2024-03-04", downloader=boom)


def test_auto_adjust_true_is_passed_and_adj_close_missing_is_nan():
    raw = bars(["2024-03-01"], 100).drop(columns="Adj Close")
    fake = FakeDownloader({"NVDA": raw})
    out = yahoo.download(["NVDA"], "2024-03-01", "2024-03-01", auto_adjust=True, downloader=fake)
    assert fake.calls[0][1]["auto_adjust"] is True and out["NVDA"]["adj_close"].isna().all()


@pytest.mark.parametrize("tickers, start, end, msg", [([], "2024-01-01", "2024-01-02", "tickers="),
                                                     (["NVDA", ""], "2024-01-01", "2024-01-02", "tickers="),
                                                     (["NVDA"], "soon", "2024-01-02", "parameter start"),
                                                     (["NVDA"], "2024-01-03", "2024-01-02", "before start")])
def test_bad_parameters_one_line(tickers, start, end, msg):
    with pytest.raises(ValueError, match=msg):
        yahoo.download(tickers, start, end, downloader=FakeDownloader({}))


def test_arguments_match_the_installed_yfinance_signature():
    yf = pytest.importorskip("yfinance")
    import inspect

    fake = FakeDownloader({"NVDA": bars(["2024-03-01"], 1), "AMD": bars(["2024-03-01"], 2)})
    yahoo.download(["NVDA", "AMD"], "2024-03-01", "2024-03-01", downloader=fake)
    params = inspect.signature(yf.download).parameters
    assert set(fake.calls[0][1]) <= set(params)


# ------------------------------------------------------------------------------------------------ crypto tickers
def crypto_bars(dates, base: float) -> pd.DataFrame:
    """SYNTHETIC crypto bars as yfinance returns them for BTC-USD: UTC-midnight index, USD volume."""
    out = bars(dates, base, tz="UTC")
    out["Adj Close"] = out["Close"]
    return out


def test_crypto_tickers_give_the_binance_frame_layout():
    days = ["2024-03-01", "2024-03-02", "2024-03-03"]  # weekends included: crypto trades every UTC day
    fake = FakeDownloader({"BTC-USD": crypto_bars(days, 60000), "TAO22974-USD": crypto_bars(days, 500)})
    out = yahoo.crypto_history("BTC,TAO", "2024-03-01", "2024-03-03", downloader=fake)
    assert fake.calls[0][0] == ["BTC-USD", "TAO22974-USD"] and list(out) == ["bitcoin", "bittensor"]
    tao = out["bittensor"]
    assert list(tao.columns) == ["price", "open", "high", "low", "close", "volume", "source"]
    assert tao.index.name == "timestamp" and list(tao.index) == list(pd.to_datetime(days, utc=True))
    assert tao["price"].tolist() == [500.0, 501.0, 502.0] and (tao["price"] == tao["close"]).all()
    assert set(tao["source"]) == {"yahoo"} and tao.attrs["ticker"] == "TAO22974-USD"


def test_crypto_raw_ticker_and_unconfirmed_asset():
    fake = FakeDownloader({"DOGE-USD": crypto_bars(["2024-03-01"], 0.1), "SOL-USD": crypto_bars(["2024-03-01"], 1)})
    out = yahoo.crypto_history(["DOGE-USD", "SOL-USD"], "2024-03-01", "2024-03-01", downloader=fake)
    assert list(out) == ["DOGE-USD", "solana"]  # a registry ticker is keyed by its asset id
    with pytest.raises(ValueError, match="AKT has no confirmed Yahoo crypto ticker; valid: BTC") as err:
        yahoo.crypto_history("AKT", "2024-03-01", "2024-03-01", downloader=fake)
    assert "\n" not in str(err.value)


def test_registry_yahoo_crypto_tickers():
    from capflow import assets

    assert assets.resolve("TAO").yahoo_crypto == "TAO22974-USD"
    assert assets.resolve("GRT").yahoo_crypto == "GRT6719-USD"
    assert assets.resolve("BTC").yahoo_crypto == "BTC-USD" and assets.resolve("NVDA").yahoo_crypto is None
    assert assets.resolve("TAO22974-USD").id == "bittensor"
