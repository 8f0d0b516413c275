"""How numbers are written: known answers for every format kind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capflow import fmt


@pytest.mark.parametrize("value, kind, text", [
    (-0.1402, "pct", "-14.0%"), (0.0004, "pct", "0.0%"), (-0.00004, "pct2", "0.00%"), (0.5, "pct_plain", "50.0%"),
    (0.0001, "pct3", "+0.010%"), (0.0004, "p", "<0.001"), (0.0123, "p", "0.012"), (1.0, "p", "1.000"),
    (-2.314, "stat", "-2.31"), (1.8234, "num", "1.82"), (0.04912, "num3", "0.049"), (1204.4, "int", "1,204"),
    (2.6e9, "usd", "$2.6B"), (950e6, "usd", "$950.0M"), (1.2e12, "usd", "$1.2T"), (-3.5e9, "usd", "-$3.5B"),
    (62909.86, "price", "62,909.86"), (0.0004593, "price", "0.0004593"),
    (pd.Timestamp("2026-02-05", tz="UTC"), "date", "2026-02-05"),
    (pd.Timestamp("2025-10-10 20:50", tz="UTC"), "datetime", "2025-10-10 20:50 UTC"),
    (47.0, "hours", "47 h"), (2.5, "hours", "2.5 h"), (np.nan, "pct", "–"), (None, "p", "–"), (pd.NaT, "date", "–"),
])
def test_format_kinds(value, kind, text):
    assert fmt.FORMATTERS[kind](value) == text


def test_unknown_kind_is_one_line():
    with pytest.raises(ValueError, match="format kind 'pct4' is unknown; valid: pct"):
        fmt.column([1.0], "pct4")


def test_guess_kind_by_name_and_dtype():
    assert fmt.guess_kind("p_value", pd.Series([0.1])) == "p"
    assert fmt.guess_kind("n_events", pd.Series([1, 2])) == "int"
    assert fmt.guess_kind("capex_usd", pd.Series([1.0])) == "usd"
    assert fmt.guess_kind("when", pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02"]))) == "date"
    assert fmt.guess_kind("when", pd.Series(pd.to_datetime(["2024-01-01 10:00"]))) == "datetime"
