"""capflow.capex: the catalog, event timing, surprise measures, events and the CAR panel (known answers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capflow import capex
from capflow.capex import CapexError, UnknownTickerError


def _ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def _catalog(rows: list[tuple]) -> pd.DataFrame:
    """A hand-built catalog of the snapshot schema (SYNTHETIC numbers)."""
    cols = ["company", "ticker", "announce_date", "timing", "fiscal_period", "capex_usd", "capex_definition",
            "guidance_text", "guidance_low_usd", "guidance_high_usd", "source"]
    full = [(r + (None,) * (len(cols) - len(r)))[: len(cols)] for r in rows]
    df = pd.DataFrame(full, columns=cols)
    df["source"] = df["source"].fillna("synthetic test row")
    return capex.finalize_catalog(df, origin="test")


# --------------------------------------------------------------------------------------------- catalog
def test_snapshot_catalog_flags_inferred_and_keeps_source(snapshot_root):
    cat = capex.load_announcements()
    assert len(cat) == 75 and cat["inferred"].sum() == 5
    assert cat["source"].str.len().min() > 10
    assert cat["announcement_id"].is_unique
    no_inf = capex.load_announcements(include_inferred=False)
    assert len(no_inf) == 70 and not no_inf["inferred"].any() and no_inf.attrs["excluded_inferred"] == 5
    assert set(capex.load_announcements(companies="MSFT,META")["ticker"]) == {"MSFT", "META"}


def test_catalog_missing_column_is_one_line_naming_file_and_column(tmp_path, snapshot_root):
    src = pd.read_csv(snapshot_root / "events" / "capex_announcements.csv")
    path = tmp_path / "bad_catalog.csv"
    src.drop(columns=["capex_usd"]).to_csv(path, index=False)
    with pytest.raises(CapexError) as err:
        capex.load_announcements(path)
    msg = str(err.value)
    assert "\n" not in msg and "bad_catalog.csv" in msg and "'capex_usd'" in msg


def test_catalog_other_file_of_same_schema(tmp_path):
    cat = _catalog([("Microsoft", "MSFT", "2024-01-30", "after close", "Q", 1e9, "d", None, None, None,
                     "press; date INFERRED from filing")])
    path = tmp_path / "mine.csv"
    cat[list(capex.REQUIRED_COLUMNS)].to_csv(path, index=False)
    back = capex.load_announcements(path)
    assert back["inferred"].tolist() == [True] and back["announcement_id"].tolist() == ["MSFT_2024-01-30"]
    with pytest.raises(CapexError, match="timing"):
        capex.finalize_catalog(cat[list(capex.REQUIRED_COLUMNS)].assign(timing="at lunch"), origin="x")


def test_unknown_ticker_one_line(snapshot_root):
    with pytest.raises(UnknownTickerError) as err:
        capex.load_announcements(companies=["MSFT", "MSFTX"])
    assert "'MSFTX'" in str(err.value) and "parameter companies" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(UnknownTickerError, match="parameter asset"):
        capex.announcement_event_time({"announce_date": "2024-01-30", "timing": "after close"}, "NOPE_XYZ")


# --------------------------------------------------------------------------------------------- timing
@pytest.mark.parametrize("date,timing,asset,hourly,expected", [
    # equities: XNYS session labels at 00:00 UTC
    ("2024-01-30", "after close", "MSFT", False, "2024-01-31"),          # Tuesday after close -> Wednesday
    ("2024-01-30", "before open", "MSFT", False, "2024-01-30"),          # before open -> that session
    ("2024-03-08", "after close", "NVDA", False, "2024-03-11"),          # Friday after close -> Monday
    ("2024-11-27", "after close", "NVDA", False, "2024-11-29"),          # Thanksgiving 11-28 skipped
    ("2024-07-03", "after close", "SMH", False, "2024-07-05"),           # Independence Day 07-04 skipped
    ("2024-07-04", "before open", "NVDA", False, "2024-07-05"),          # release on a holiday -> next session
    ("2024-11-29", "after close", "000660.KS", False, "2024-12-02"),     # KRX: 06:05 KST Saturday -> Monday
    # crypto, daily UTC bars
    ("2024-01-30", "after close", "bitcoin", False, "2024-01-30"),       # 21:05 UTC: that UTC day's bar
    ("2024-03-08", "after close", "TAO", False, "2024-03-08"),           # Friday stays Friday (24/7)
    ("2024-11-28", "after close", "bitcoin", False, "2024-11-28"),       # holidays do not exist for crypto
    ("2024-01-30", "before open", "bitcoin", False, "2024-01-30"),       # that UTC day
    # crypto, hourly: the release moment in UTC, with DST
    ("2024-03-08", "after close", "bitcoin", True, "2024-03-08 21:00"),  # EST: 16:05 NY = 21:05 UTC, 21:00 bar
    ("2024-03-11", "after close", "bitcoin", True, "2024-03-11 20:00"),  # EDT (DST from 03-10): 20:05 UTC
    ("2024-11-04", "after close", "ethereum", True, "2024-11-04 21:00"),  # EST again from 11-03
    ("2024-07-03", "before open", "bitcoin", True, "2024-07-03 12:00"),  # 08:00 EDT
    ("2024-01-11", "before open", "bitcoin", True, "2024-01-11 13:00"),  # 08:00 EST
])
def test_announcement_event_time(date, timing, asset, hourly, expected):
    got = capex.announcement_event_time({"announce_date": date, "timing": timing}, asset, hourly=hourly)
    assert got == _ts(expected)


def test_event_timestamps_vectorised_matches_scalar():
    dates = pd.Series(pd.to_datetime(["2024-03-08", "2024-11-27", "2024-07-04"]))
    timing = pd.Series(["after close", "after close", "before open"])
    got = capex.event_timestamps(dates, timing, "NVDA")
    assert got.tolist() == [_ts("2024-03-11"), _ts("2024-11-29"), _ts("2024-07-05")]
    rules = capex.timing_rules()
    assert list(rules["timing"]) == ["after close", "before open"]


def test_bad_timing_value():
    with pytest.raises(CapexError, match="parameter timing"):
        capex.release_moment("2024-01-30", "at noon")


# --------------------------------------------------------------------------------------------- surprises
def _six_quarters() -> pd.DataFrame:
    capexes = [10.0, 11.0, 12.0, 13.0, 15.0, 17.0, 18.0, 20.0, 30.0]
    dates = pd.date_range("2023-01-25", periods=len(capexes), freq="91D").strftime("%Y-%m-%d")
    rows = [("Acme", "MSFT", d, "after close", f"Q{i}", c * 1e9, "def") for i, (d, c) in
            enumerate(zip(dates, capexes))]
    return _catalog(rows)


def test_growth_measures_known_answers():
    s = capex.surprise_table(_six_quarters(), min_past=2)
    assert np.isnan(s["qoq"].iloc[0]) and s["qoq"].iloc[1] == pytest.approx(0.1)
    assert s["yoy"].iloc[:4].isna().all()
    assert s["yoy"].iloc[4] == pytest.approx(15 / 10 - 1) and s["yoy"].iloc[5] == pytest.approx(17 / 11 - 1)
    assert s["growth_change"].iloc[5] == pytest.approx((17 / 11 - 1) - (15 / 10 - 1))
    # z-score at row 6 uses yoy of rows 4 and 5 only (past), not row 6 itself nor the future
    past = np.array([15 / 10 - 1, 17 / 11 - 1])
    assert s["zscore"].iloc[6] == pytest.approx((18 / 12 - 1 - past.mean()) / past.std(ddof=1))


def test_zscore_has_no_look_ahead():
    cat = _six_quarters()
    base = capex.surprise_table(cat, min_past=2)["zscore"]
    cat.loc[cat.index[-1], "capex_usd"] = 1e15           # change only the last release
    moved = capex.surprise_table(cat, min_past=2)["zscore"]
    pd.testing.assert_series_equal(base.iloc[:-1], moved.iloc[:-1])


def test_guidance_revision_same_period_only():
    cat = _catalog([
        ("M", "META", "2024-02-01", "after close", "Q4", 1e9, "d", "2024 capex $30-37B", 30e9, 37e9),
        ("M", "META", "2024-04-24", "after close", "Q1", 1e9, "d", "2024 capex raised to $35-40B", 35e9, 40e9),
        ("M", "META", "2025-01-29", "after close", "Q4", 1e9, "d", "2025 capex $60-65B", 60e9, 65e9),
        ("G", "GOOGL", "2025-02-04", "after close", "Q4", 1e9, "d", "2025 capex approximately $75B", 75e9, 75e9),
    ])
    rev = capex.capex_surprise(cat, "guidance_revision")
    assert np.isnan(rev.iloc[0]) and rev.iloc[1] == pytest.approx(37.5 / 33.5 - 1)
    assert np.isnan(rev.iloc[2]) and np.isnan(rev.iloc[3])   # new period; other company


def test_guidance_measure_without_guidance_is_one_line():
    with pytest.raises(CapexError) as err:
        capex.capex_surprise(_six_quarters(), "guidance_revision")
    assert "guidance" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(CapexError, match="valid: qoq"):
        capex.capex_surprise(_six_quarters(), "consensus")


# --------------------------------------------------------------------------------------------- yfinance refresh
class _FakeTicker:
    """Hand-built frames shaped like yfinance 1.x output (no network)."""

    def __init__(self, symbol: str):
        self.symbol = symbol
        idx = pd.DatetimeIndex(["2025-04-30 16:05", "2025-07-30 16:05", "2025-10-29 07:30", "2027-01-28 16:05"]
                               ).tz_localize("America/New_York")
        self._ed = pd.DataFrame({"EPS Estimate": [3.2, 3.4, 3.6, 3.9], "Reported EPS": [3.5, 3.6, 3.7, np.nan],
                                 "Surprise(%)": [1, 2, 3, np.nan]}, index=idx.rename("Earnings Date"))
        self.quarterly_cashflow = pd.DataFrame(
            [[-16.7e9, -17.1e9, -19.4e9], [1.0, 2.0, 3.0]], index=["Capital Expenditure", "Free Cash Flow"],
            columns=pd.to_datetime(["2025-03-31", "2025-06-30", "2025-09-30"]))

    def get_earnings_dates(self, limit: int = 12) -> pd.DataFrame:
        return self._ed.iloc[::-1].head(limit)


def test_refresh_from_yahoo_with_fake_frames():
    existing = _catalog([("Microsoft", "MSFT", "2025-04-30", "after close", "curated", 1.0, "d", None, None,
                          None, "curated press release")])
    out = capex.refresh_from_yahoo("MSFT", catalog=existing, ticker_factory=_FakeTicker)
    assert out.attrs["added"] == 2
    assert out["announce_date"].dt.strftime("%Y-%m-%d").tolist() == ["2025-04-30", "2025-07-30", "2025-10-29"]
    assert out["source"].iloc[0] == "curated press release"                   # curated row wins
    assert out["source"].iloc[1].startswith("yfinance Ticker(MSFT)")
    assert out["timing"].tolist() == ["after close", "after close", "before open"]
    assert out["capex_usd"].iloc[2] == pytest.approx(19.4e9)
    with pytest.raises(UnknownTickerError):
        capex.refresh_from_yahoo("NOPEX", ticker_factory=_FakeTicker)


# --------------------------------------------------------------------------------------------- events, panel
def test_study_events_cross_join_and_own():
    cat = _six_quarters().iloc[:2]
    ev = capex.study_events(cat, ["semis_etf", "own"])
    assert len(ev) == 2 * 2 + 2 and ev["event_id"].is_unique
    own = ev[ev["group"] == "own"]
    assert own["asset"].tolist() == ["MSFT", "MSFT"]
    with pytest.raises(CapexError, match="parameter groups"):
        capex.study_events(cat, ["not_a_group"])


def test_window_market_return_known_answer():
    idx = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-05"], tz="UTC")
    m = pd.Series([0.10, -0.05, 0.02], index=idx)
    got = capex.window_market_return(m, pd.Series([_ts("2024-01-02"), _ts("2024-01-04"), _ts("2024-01-06")]),
                                     pd.Series([_ts("2024-01-03"), _ts("2024-01-05"), _ts("2024-01-07")]))
    np.testing.assert_allclose(got, [1.10 * 0.95 - 1, 0.02, 0.0])
    assert capex.windows_label([(0, 1), (-1, 1), (0, 5)]) == ["[0,+1]", "[-1,+1]", "[0,+5]"]


def test_study_events_anchor_once_per_clock_equals_the_per_asset_rule():
    """study_events anchors each release once per clock (NYSE sessions, UTC days, UTC hours); every row equals
    event_timestamps for its own asset (Friday after close -> Monday for equities, the UTC day or hour for crypto)."""
    cat = _catalog([("Microsoft", "MSFT", "2024-11-29", "after close", "q", 1e9, "d", None, None, None, "s"),
                    ("Meta", "META", "2024-07-03", "before open", "q", 1e9, "d", None, None, None, "s"),
                    ("Amazon", "AMZN", "2024-03-08", "after close", "q", 1e9, "d", None, None, None, "s")])
    ev = capex.study_events(cat, ["ai_token", "semis_etf", "own"], hourly_assets=["bittensor"])
    for asset, rows in ev.groupby("asset"):
        want = capex.event_timestamps(rows["announce_date"], rows["timing"], asset, hourly=asset == "bittensor")
        assert (rows["timestamp"] == want).all(), asset
    own = ev[(ev["group"] == "own") & (ev["company"] == "MSFT")]
    assert str(own["timestamp"].iloc[0].date()) == "2024-12-02"
    tao = ev[(ev["asset"] == "bittensor") & (ev["company"] == "MSFT")]["timestamp"].iloc[0]
    assert tao == pd.Timestamp("2024-11-29 21:00", tz="UTC")               # 16:05 EST = 21:05 UTC -> 21:00 bar
