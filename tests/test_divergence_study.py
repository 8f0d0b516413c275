"""capflow.studies.divergence: params errors (one line each), the whole study on SYNTHETIC inputs (hand-built,
labelled), the end-date answer and a default run on the embedded real snapshot, and readable figures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from capflow import fmt
from capflow.studies import divergence as S
from capflow.studies.base import StudyError

CLOSE, SNAP = "bn_spot_ry", "cg_snap_cw"


def _day(d: str) -> pd.Timestamp:
    return pd.Timestamp(d, tz="UTC")


# ------------------------------------------------------------------ params: one-line errors

@pytest.mark.parametrize("kw, match", [
    ({"base_date": "2024-13-01"}, r"^parameter base_date='2024-13-01' is not a date"),
    ({"end_date": "2023-06-01"}, r"^parameter end_date=2023-06-01 must be after base_date=2024-01-02$"),
    ({"windows": [30, 2]}, r"^parameter windows=\[30, 2\] must be a list of whole numbers of sessions, each >= 3$"),
    ({"calendar_policy": "utc"}, r"^parameter calendar_policy='utc' is not valid; use one of equity_sessions"),
    ({"min_basket_share": 1.5}, r"^parameter min_basket_share=1.5 is not valid; use a number in \(0, 1\]"),
    ({"connectedness_assets": ["BTC"]}, r"^parameter connectedness_assets must name at least 2 series"),
    ({"target": "AI tokenz"}, r"^parameter target: 'AI tokenz' is neither a basket \(AI equities, .*\) nor an asset"),
    ({"var_lags": -1}, r"^parameter var_lags=-1 must be a whole number >= 0$"),
    ({"n_regimes": 1}, r"^parameter n_regimes=1 must be 0 \(no regime model\) or a whole number >= 2$"),
    ({"short_series": "trim"}, r"^parameter short_series='trim' is not valid; use one of truncate, cut$"),
    ({"assets": "NVDAA"}, r"unknown asset 'NVDAA' \(parameter assets\); closest valid: NVDA"),
])
def test_params_errors_are_one_line_and_name_the_parameter(kw, match):
    with pytest.raises(StudyError, match=match) as e:
        S.Params(**kw)
    assert "\n" not in str(e.value)


def test_params_normalise_names_and_ignore_other_variables():
    p = S.Params.from_vars({"connectedness_assets": ["BTC", "eth", "AI tokens"], "windows": 60, "output_dir": ".",
                            "factors": ["btc", "AI equities"], "unrelated": 1})
    assert p.connectedness_assets == ("bitcoin", "ethereum", "AI tokens") and p.windows == (60,)
    assert p.factors == ("bitcoin", "AI equities") and p.base_date == "2024-01-02" and p.end_date is None
    assert "^GSPC" in p.asset_ids() and "SPY" in p.asset_ids()  # benchmarks join by default (assets="all")


# ------------------------------------------------------------------ the whole study on SYNTHETIC inputs

def _synthetic_inputs() -> S.Inputs:
    """SYNTHETIC prices (seeded random walks, not market data): BTC and TAO with closes to the end, FET's closes
    end on 2024-05-15 and continue on snapshots, NVDA and SMH on weekdays; NVDA also drives BTC a little."""
    idx = pd.date_range("2024-01-01", periods=300, freq="D", tz="UTC", name="timestamp")
    rng = np.random.default_rng(11)
    eq = rng.normal(0, 0.02, 300)
    rets = {"NVDA": eq, "SMH": 0.8 * eq + rng.normal(0, 0.01, 300),
            "bitcoin": 0.3 * np.r_[0, eq[:-1]] + rng.normal(0, 0.03, 300)}
    rets.update({a: 1.2 * rets["bitcoin"] + rng.normal(0, 0.03, 300) for a in ("bittensor", "fetch-ai")})
    prices = pd.DataFrame({a: 100 * np.exp(np.cumsum(r)) for a, r in rets.items()}, idx)
    for eq_col in ("NVDA", "SMH"):
        prices[eq_col] = prices[eq_col].where(idx.dayofweek < 5)
    sources = pd.DataFrame(CLOSE, index=idx, columns=["bitcoin", "bittensor", "fetch-ai"])
    sources.loc["2024-05-16":, "fetch-ai"] = SNAP
    return S.Inputs(prices, sources)


def _synthetic_params(**kw) -> S.Params:
    return S.Params(**{"baskets": {"AI tokens": ["bittensor", "fetch-ai"], "AI equities": ["NVDA"]},
                       "headline_assets": ["AI equities", "bitcoin", "AI tokens"], "windows": [20, 40],
                       "factors": ["bitcoin", "AI equities"], "spread": ["AI tokens", "AI equities"],
                       "pairs": [["AI tokens", "AI equities"], ["bitcoin", "NVDA"]], "n_breaks": 1,
                       "n_regimes": 0, "chow_dates": ["2024-06-03"],
                       "connectedness_assets": ["bitcoin", "AI tokens", "NVDA", "SMH"],
                       "connectedness_window": 100, **kw})


def test_synthetic_study_runs_end_to_end_with_notes_instead_of_warnings(recwarn):
    r = S.run(_synthetic_inputs(), _synthetic_params(min_basket_share=None))
    assert r.window.end == _day("2024-10-25") and r.sample.truncated == {"fetch-ai": _day("2024-05-15")}
    assert r.perf.table.loc["fetch-ai", "end_value"] == "intraday snapshot"
    net = r.conn.directional["net"]
    assert net["NVDA"] > 0  # NVDA leads BTC by a day in the planted data
    assert len(r.headline()) >= 5 and all(isinstance(x, str) and x for x in r.headline())
    notes = "\n".join(r.notes.lines())
    assert "FET (after 2024-05-15)" in notes and "intraday CoinGecko snapshot" in notes
    assert not [w for w in recwarn if "capflow" in str(w.filename)]


def test_synthetic_study_tables_are_formatted_without_index_or_nan():
    r = S.run(_synthetic_inputs(), _synthetic_params())
    for name, t in r.tables().items():
        shown = t.formatted()
        assert not shown.isin(["nan", "NaN", "None", "NaT"]).any().any(), name
        assert "index" not in shown.columns and t.name == name
    perf = r.tables()["performance"].formatted()
    assert perf.columns.tolist()[:2] == ["series", "group"] and perf["since start"].str.endswith("%").all()


# ------------------------------------------------------------------ figures readable at 1,400 px

def _text_box(t, renderer):
    """The box of a label's text (an annotation's own extent also covers its leader line)."""
    from matplotlib.text import Annotation, Text

    if isinstance(t, Annotation):
        t.update_positions(renderer)
    return Text.get_window_extent(t, renderer)


def test_figures_have_few_series_per_panel_and_labels_that_do_not_collide():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.lines import Line2D

    r = S.run(_synthetic_inputs(), _synthetic_params())
    for name, fig in r.figures().items():
        assert fig.get_figwidth() * fig.dpi <= 1400, name
        canvas = FigureCanvasAgg(fig)  # a real renderer (studies build figures outside pyplot)
        canvas.draw()
        renderer = canvas.get_renderer()
        for ax in fig.axes:
            data_lines = [ln for ln in ax.get_lines() if isinstance(ln, Line2D) and len(ln.get_xdata()) > 2
                          and ln.get_linestyle() in ("-", "--")]
            assert len(data_lines) <= 8, (name, ax.get_title())
            labels = [_text_box(t, renderer) for t in ax.texts if t.get_text()]
            for i, a in enumerate(labels):
                assert not any(a.overlaps(b) for b in labels[i + 1:]), (name, ax.get_title())
            if ax.get_yscale() == "log":
                ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
                assert ticks and not any("times" in t or "^" in t or "e+" in t for t in ticks), ticks


def test_series_with_gaps_breaks_lines_and_log_ticks_are_plain():
    from capflow.plots import divergence as P

    idx = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-03-01", "2024-03-02"], utc=True)
    s = P.series_with_gaps(pd.Series([1.0, 2.0, 3.0, 4.0], idx), gap_days=7)
    assert s.isna().sum() == 1 and s.index[2] == _day("2024-01-02") + pd.Timedelta(hours=12)
    assert P.nice_log_ticks(60, 900) == [100, 200, 500]
    assert P.nice_log_ticks(90, 260) == [100, 150, 200]
    assert P._tick_text(2000.0) == "2,000" and P._tick_text(0.5) == "0.5"
    pos = P.spread_labels([0.50, 0.51, 0.52, 0.9], 0.05)
    assert np.all(np.diff(np.sort(pos)) >= 0.05 - 1e-9) and pos[3] == pytest.approx(0.9)


# ------------------------------------------------------------------ the embedded real snapshot

@pytest.fixture
def snapshot_only(snapshot_root, offline_env, monkeypatch):
    monkeypatch.setenv("CAPFLOW_SNAPSHOT", str(snapshot_root))
    monkeypatch.setenv("CAPFLOW_SOURCES", "snapshot")


def _price_on_or_before(asset: str, day: str) -> float:
    from capflow.data import load_prices

    p = load_prices(asset, "2025-12-01", day)[asset].dropna()
    return float(p.iloc[-1])


def test_end_date_gives_btc_and_sp500_ytd_to_that_date(snapshot_only):
    p = S.Params(end_date="2026-06-01")
    r = S.run(S.load_inputs(p), p)
    t = r.perf.table
    assert r.window.end == _day("2026-06-01") and r.window.rule == "end_date"
    for asset in ("bitcoin", "^GSPC", "SPY"):
        assert t.loc[asset, "end"] == _day("2026-06-01")
        expected = _price_on_or_before(asset, "2026-06-01") / _price_on_or_before(asset, "2025-12-31") - 1
        assert t.loc[asset, "ytd"] == pytest.approx(expected, rel=1e-12)
    assert t.loc["bitcoin", "end_value"] == "intraday snapshot" and t.loc["^GSPC", "end_value"] == "session close"
    ytd = next(line for line in r.headline() if line.startswith("**Year to date**"))
    assert f"BTC {fmt.pct(t.loc['bitcoin', 'ytd'])}" in ytd and f"S&P 500 {fmt.pct(t.loc['^GSPC', 'ytd'])}" in ytd
    assert t.loc["bitcoin", "ytd"] < 0 < t.loc["^GSPC", "ytd"]  # what the snapshot says (BTC -19%, S&P +11%)
    # statistics stay close-only: they end at or before BTC's last UTC close
    assert r.sample.end <= _day("2026-03-03")
    since = r.tables()["since_base"].frame
    assert len(since) == len(t[t["kind"] == "asset"]) >= 38  # every registry asset with data


def test_default_run_on_the_embedded_snapshot(snapshot_only, tmp_path):
    p = S.Params()
    r = S.run(S.load_inputs(p), p)
    assert r.window.end == _day("2026-07-24") and r.sample.end == _day("2026-02-27")
    assert r.sample.cut["uncut_end"] == _day("2026-03-03")
    head = r.headline()
    assert 3 <= len(head) <= 7 and head[0].startswith("**Since 2024-01-02, to 2026-07-24:**")
    assert 2 <= len(r.key_numbers()) <= 4 and all(isinstance(v, str) for v in r.key_numbers().values())
    assert r.conn is not None and r.conn.table.shape == (6, 6) and r.rolling_conn is not None
    method = "\n".join(r.method())
    assert "VAR(" in method and "BIC" in method and "2024-01-02" in method
    written = r.save(tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["data_as_of"] == "2026-07-24" and summary["headline"] == head
    assert (tmp_path / "performance.csv").is_file() and len(written) >= 10


def test_snapshot_clocks_from_source_tags(snapshot_only):
    from capflow import divergence as D
    from capflow.divergence import sources

    clocks = D.clocks_of(sources.price_sources("bitcoin", "2026-02-28", "2026-03-06"))
    assert clocks.loc["2026-03-03", "bitcoin"] == "close" and clocks.loc["2026-03-04", "bitcoin"] == "snapshot"
    fet = D.close_clock_ends(D.clocks_of(sources.price_sources("fetch-ai", "2025-10-01", "2025-12-31")))
    assert fet.loc["fetch-ai", "close_end"] == _day("2025-10-22")  # then sparse snapshots
    assert fet.loc["fetch-ai", "first_snapshot"] == _day("2025-11-08")


def test_snapshot_crypto_at_equity_close_in_the_hourly_window(snapshot_only):
    from capflow import divergence as D
    from capflow import returns as R
    from capflow.data import load_prices
    from capflow.divergence import sources

    prices = load_prices("bitcoin,NVDA", "2025-05-20", "2025-10-20")
    tags = sources.price_sources("bitcoin", prices.index[0], prices.index[-1])
    hourly = sources.load_hourly(["bitcoin"], "2025-09-29", "2025-10-20")
    window = D.performance_window(prices, "2025-09-29", "2025-10-20")
    members = {"Crypto majors": ["bitcoin"], "AI equities": ["NVDA"]}
    st = D.statistics_sample(prices, tags, None, members, window, ["bitcoin", "NVDA"],
                             policy="crypto_at_equity_close", hourly=hourly)
    closes = R.prices_at_session_close(hourly)["bitcoin"]
    assert closes.loc["2025-10-01"] == hourly.loc["2025-10-01 19:00", "bitcoin"]  # 16:00 EDT = 20:00 UTC close
    rets = st.returns.loc["2025-09-30":, "bitcoin"]
    assert rets.to_numpy() == pytest.approx((closes / closes.shift() - 1).loc["2025-09-30":].to_numpy())
    assert "sampled at the XNYS close" in st.policy_text
    tao = load_prices("bittensor,NVDA", "2024-02-20", "2024-06-01")  # TAO's hourly bars start 2024-04-11
    tao_tags = sources.price_sources("bittensor", tao.index[0], tao.index[-1])
    with pytest.raises(R.ReturnsError, match="does not cover the XNYS closes 2024-03-04"):
        D.statistics_sample(tao, tao_tags, None, {"AI tokens": ["bittensor"], "AI equities": ["NVDA"]},
                            D.performance_window(tao, "2024-03-04", "2024-06-01"), ["bittensor", "NVDA"],
                            policy="crypto_at_equity_close",
                            hourly=sources.load_hourly(["bittensor"], "2024-03-04", "2024-06-01"))


def test_chow_dates_outside_the_sample_become_notes(snapshot_only):
    p = S.Params(base_date="2025-01-02", chow_dates=["2025-01-01", "2025-06-02"], n_regimes=0)
    r = S.run(S.load_inputs(p), p)
    assert r.comove.chow["date"].tolist() == [_day("2025-06-02")]
    assert any("2025-01-01" in line and "not tested" in line for line in r.notes.lines())
