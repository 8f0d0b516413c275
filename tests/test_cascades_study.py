"""Every cascade at once: one multi-event call whose events equal the one-cascade study's, on the embedded
snapshot (real data)."""

from __future__ import annotations

import pandas as pd
import pytest

from capflow.studies import cascade as one
from capflow.studies import cascades as many
from capflow.studies.base import StudyError


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("CAPFLOW_OFFLINE", "1")
    mp.setenv("CAPFLOW_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def all_cascades(env):
    return many.run(many.load_inputs(many.Params(n_boot=0)))


def test_one_call_covers_every_catalogued_cascade_clustered_by_date(all_cascades):
    res = all_cascades
    dates = set(res.result.car["event_id"].str[:10])
    assert len(dates) == 11 and {"2025-10-10", "2026-02-05"} <= dates
    ev = res.events.set_index("event_id")
    assert (ev["cluster"] == ev.index.str[:10]).all()
    assert res.result.rbar.set_index("group")["rbar"].notna().all()
    assert {"grank", "kp"} <= set(res.result.stats["test"])


@pytest.mark.parametrize("date", ["2026-02-05", "2025-10-10"])
def test_each_event_equals_the_one_cascade_study(all_cascades, env, date):
    single = one.run(one.load_inputs(one.Params(event_date=date, n_boot=0)))
    a = all_cascades.result.car
    a = a.loc[a["event_id"].str.startswith(date)].set_index(["event_id", "window"])
    b = single.result.car.set_index(["event_id", "window"])
    assert set(a.index) == set(b.index) and len(a) > 50
    pd.testing.assert_series_equal(a["car"].sort_index(), b["car"].sort_index(), rtol=0, atol=1e-13)
    pd.testing.assert_series_equal(a["car_se"].sort_index(), b["car_se"].sort_index(), rtol=0, atol=1e-13)


def test_headline_is_honest_about_significance(all_cascades):
    text = " ".join(all_cascades.headline())
    assert "11 catalogued cascades" in text and "GRANK p" in text and "KP p" in text
    pooled = all_cascades.pooled()
    tok = pooled.loc[(pooled["group"] == "ai_token") & (pooled["window"] == "[0,+1]")].iloc[0]
    if tok["kp_p"] >= 0.05 and tok["grank_p"] >= 0.05:
        assert "AI tokens** fell about as much as" in text


def test_unknown_date_is_a_one_line_error(env):
    with pytest.raises(StudyError, match="2024-01-01 is not a catalogued cascade"):
        many.load_inputs(many.Params(dates="2024-01-01"))
