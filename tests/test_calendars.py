"""The one event-anchor rule and the stored exchange sessions (capflow.calendars)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from capflow import calendars as cal


def _d(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


@pytest.mark.parametrize("time, calendar, freq, expected", [
    ("2024-06-04 23:00", "XNYS", "1d", "2024-06-05"),        # NVDA after the close -> next session
    ("2024-06-04 19:59", "XNYS", "1d", "2024-06-04"),        # during the session (16:00 EDT = 20:00 UTC close)
    ("2024-06-04 20:00", "XNYS", "1d", "2024-06-04"),        # exactly at the close: still that session
    ("2024-06-04 11:00", "XNYS", "1d", "2024-06-04"),        # before the open -> that session
    ("2024-06-08 12:00", "XNYS", "1d", "2024-06-10"),        # Saturday -> Monday
    ("2024-07-04 15:00", "XNYS", "1d", "2024-07-05"),        # Independence Day -> next session
    ("2024-11-29 18:30", "XNYS", "1d", "2024-12-02"),        # after the 13:00 NY early close (18:00 UTC)
    ("2025-10-10 21:00", "XNYS", "1d", "2025-10-13"),        # the record cascade: after the NY close, a Friday
    ("2025-10-10 21:00", "XKRX", "1d", "2025-10-13"),        # Korea closed at 06:30 UTC -> next KRX session
    ("2025-10-10 05:00", "XKRX", "1d", "2025-10-10"),        # during the KRX session
    ("2025-10-10 21:00", "24/7", "1d", "2025-10-10"),        # crypto: the UTC day holding it
    ("2026-02-05", "24/7", "1d", "2026-02-05"),              # a bare date is that date
    ("2025-10-10 21:35", "24/7", "1h", "2025-10-10 21:00"),  # crypto hourly: the hour holding it
])
def test_anchor_rule(time, calendar, freq, expected):
    assert cal.anchor_one(time, calendar, freq) == _d(expected)


def test_anchor_is_vectorised_and_keeps_order():
    got = cal.anchor(["2024-06-04 23:00", "2024-06-04 11:00", "2024-06-08 12:00"], "XNYS")
    assert list(got) == [_d("2024-06-05"), _d("2024-06-04"), _d("2024-06-10")]


def test_returns_event_anchor_is_the_same_rule():
    from capflow.returns import event_anchor

    assert event_anchor("2024-06-04 23:00", "NVDA") == _d("2024-06-05")
    assert event_anchor("2025-10-10 21:00", "000660.KS") == _d("2025-10-13")
    assert event_anchor("2025-10-10 21:00", "bitcoin") == _d("2025-10-10")


def test_capex_timing_is_the_same_rule():
    from capflow import capex

    t = capex.release_moment("2024-06-04", "after close").iloc[0]  # 16:05 New York = 20:05 UTC
    assert capex.announcement_event_time({"announce_date": "2024-06-04", "timing": "after close"}, "NVDA") == \
        cal.anchor_one(t, "XNYS")
    assert capex.announcement_event_time({"announce_date": "2024-06-04", "timing": "after close"}, "bitcoin") == \
        cal.anchor_one(t, "24/7")


def test_unknown_calendar_and_bad_freq_are_one_line():
    with pytest.raises(cal.CalendarError, match="calendar='XXXX' is not an exchange_calendars code"):
        cal.sessions("XXXX")
    with pytest.raises(cal.CalendarError, match="freq='1w'"):
        cal.anchor("2024-01-01", "XNYS", "1w")


def test_sessions_are_stored_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("CAPFLOW_CALENDARS", str(tmp_path))
    cal._sessions.cache_clear()
    try:
        s = cal.sessions("XNYS", "2024-01-01", "2024-12-31")
        stored = list(tmp_path.glob("XNYS-*.npz"))
        assert len(stored) == 1 and cal._version() in stored[0].name
        assert s.in_range("2024-07-01", "2024-07-08").strftime("%d").tolist() == ["01", "02", "03", "05", "08"]
        assert s.close_of(pd.DatetimeIndex([_d("2024-11-29")]))[0] == _d("2024-11-29 18:00")  # early close
        code = ("import sys, capflow.calendars as c; c.sessions('XNYS', '2024-01-01', '2024-12-31'); "
                "print('exchange_calendars' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={"CAPFLOW_CALENDARS": str(tmp_path), "PATH": ""})
        assert out.stdout.strip() == "False"  # a new process loads the stored sessions without the library
    finally:
        cal._sessions.cache_clear()
