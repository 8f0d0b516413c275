"""A tiny hand-made snapshot folder for tests (SYNTHETIC numbers, same schema as the real snapshot).

Used by the data-layer tests; never a copy of the real data.
"""

from __future__ import annotations

from pathlib import Path

CRYPTO_DAILY = """date,asset,price_usd,market_cap_usd,volume_usd,source
2024-01-01,bitcoin,100,1000,10,bn_spot_ry
2024-01-01,bitcoin,101,1010,11,cg_snap_cw
2024-01-02,bitcoin,110,,12,bn_spot_ry
2024-01-02,bitcoin,111,1111,13,cg_snap_cw
2024-01-03,bitcoin,121,1210,14,cg_snap_cw
2024-01-01,bittensor,10,,1,bn_spot_dj
2024-01-02,bittensor,11,,1,bn_spot_dj
"""

EQUITY_DAILY = """date,ticker,open,high,low,close,adj_close,volume,source
2024-01-02,NVDA,48,49,47,48.5,48.0,100,synthetic_a
2024-01-03,NVDA,48,49,47,47.5,47.0,100,synthetic_a
2024-01-04,NVDA,48,49,47,48.5,48.0,100,synthetic_b
2024-01-02,AMD,140,141,139,140,139,50,synthetic_a
"""

HOURLY_HEADER = "timestamp_utc,asset,open,high,low,close,volume,source\n"


def make(root: Path, crypto_daily: str = CRYPTO_DAILY, equity_daily: str = EQUITY_DAILY,
         hourly: str | None = None) -> Path:
    """Write the tiny snapshot under ``root`` (market/ and events/) and return ``root``."""
    market = root / "market"
    market.mkdir(parents=True, exist_ok=True)
    (root / "events").mkdir(exist_ok=True)
    (market / "crypto_daily.csv").write_text(crypto_daily)
    (market / "equity_daily.csv").write_text(equity_daily)
    if hourly is not None:
        import gzip

        with gzip.open(market / "crypto_hourly.csv.gz", "wt") as fh:
            fh.write(HOURLY_HEADER + hourly)
    return root


def use(monkeypatch, tmp_path: Path, **kwargs) -> Path:
    """Create the tiny snapshot and point ``CAPFLOW_SNAPSHOT`` (and a private ``CAPFLOW_CACHE``) at it."""
    root = make(tmp_path / "snap", **kwargs)
    monkeypatch.setenv("CAPFLOW_SNAPSHOT", str(root))
    monkeypatch.setenv("CAPFLOW_CACHE", str(tmp_path / "cache"))
    return root
