"""The data-reading helpers of the divergence study (called only by its ``load_inputs``).

:func:`price_sources` gives the source tag of every daily crypto row, resolved exactly as
:func:`capflow.data.load_prices` resolves them (same layers, same daily source precedence);
:func:`quality_inputs` the data-quality report and issue list of the assets; :func:`load_hourly` hourly crypto
prices for ``calendar_policy="crypto_at_equity_close"``. :func:`data_caveats` (pure) places the quality issues
relative to the study's windows.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import pandas as pd

from capflow import assets as _assets
from capflow.divergence.sample import DivergenceError, utc


def price_sources(assets: str | Iterable[str], start: object, end: object | None = None,
                  sources: Iterable[str] | None = None) -> pd.DataFrame:
    """The source tag of every daily price row (``bn_spot_ry``, ``cg_snap_cw``...).

    Returns
    -------
    DataFrame
        UTC DatetimeIndex, one column per asset id (assets without data are left out), the row's source tag,
        NaN where the asset has no row. :func:`capflow.divergence.clocks.clocks_of` maps tags to clocks.
    """
    from capflow.data import resolve
    from capflow.data.store import resolution_order, validate_request

    req = validate_request(assets, start, end, "1d", "price")
    order = resolution_order(sources)
    cols = {}
    for asset in req.assets:  # one resolution per asset (memoised snapshot reads), not per row
        got = resolve.resolve_long(asset, req, order, drop_missing=True)
        if not isinstance(got, str):
            cols[asset.id] = got[0]["source"].fillna("unknown").astype(str)
    frame = pd.DataFrame(cols)
    frame.index.name = "timestamp"
    return frame


def quality_inputs(assets: Iterable[str], start: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`capflow.data.quality.quality_report` (indexed by asset) and ``quality_issues`` from ``start`` on."""
    from capflow.data import quality

    ids = list(assets)
    rep = quality.quality_report(ids, start, None).set_index("asset")
    return rep, quality.quality_issues(ids, start, None)


def load_hourly(assets: Iterable[str], base: object, end: object) -> pd.DataFrame:
    """Hourly prices of the crypto ``assets`` from the day before ``base`` to ``end`` (inclusive).

    For ``calendar_policy="crypto_at_equity_close"``. Hourly bars exist only where the source has them (the
    offline snapshot: a few weeks around the 2025-10 and 2026-02 cascades); the policy raises a one-line error
    naming the coverage when they do not span the sample.
    """
    from capflow.data import load_prices

    crypto = [a for a in assets if _assets.resolve(a).is_crypto]
    if not crypto:
        raise DivergenceError("parameter assets has no crypto asset; hourly prices are only needed for crypto")
    return load_prices(crypto, utc(base, "base_date") - pd.Timedelta(days=1), end, freq="1h", missing="drop")


def data_caveats(report: pd.DataFrame, issues: pd.DataFrame, base: object,
                 ends: Mapping[str, pd.Timestamp]) -> pd.DataFrame:
    """Data-quality caveats of the assets, relative to each asset's window ``[base, ends[asset]]``.

    Parameters
    ----------
    report, issues : DataFrame
        From :func:`quality_inputs`.
    base : date-like
        Start of every window.
    ends : mapping
        Asset id -> the end of its window (the performance end, or an earlier close end).

    Returns
    -------
    DataFrame
        Indexed by asset id (the assets of ``ends``): ``symbol``, ``coverage_pct``, ``first_snapshot`` (first
        switch from a close to an intraday snapshot, NaT if none), ``snapshot_in_window``, ``gaps_in_window``
        (gaps overlapping the window), ``gap_days_in_window`` (calendar days those gaps span inside the window),
        ``longest_gap`` (``"start..end"`` of the longest such gap, or "") and ``sources``.
    """
    b = utc(base, "base_date")
    ids = [a for a in ends if a in report.index]
    own_end = pd.Series({a: utc(ends[a], "end") for a in ids}, dtype="datetime64[ns, UTC]")
    gaps = issues[(issues["kind"] == "gap") & issues["asset"].isin(ids)].copy()
    gaps = gaps[(gaps["start"] <= gaps["asset"].map(own_end)) & (gaps["end"] >= b)]
    clip_s = gaps["start"].where(gaps["start"] > b, b)
    clip_e = gaps["end"].where(gaps["end"] < gaps["asset"].map(own_end), gaps["asset"].map(own_end))
    gaps["_days"] = (clip_e - clip_s).dt.days + 1
    gaps = gaps.sort_values(["asset", "_days"], ascending=[True, False])
    rep = report.loc[ids]
    out = pd.DataFrame({"symbol": rep["symbol"], "coverage_pct": rep["coverage_pct"].astype(float),
                        "first_snapshot": pd.to_datetime(rep["first_clock_switch"], utc=True)}, index=ids)
    out["snapshot_in_window"] = out["first_snapshot"].notna() & (out["first_snapshot"] <= own_end)
    grouped = gaps.groupby("asset")
    out["gaps_in_window"] = grouped.size().reindex(ids, fill_value=0).astype(int)
    out["gap_days_in_window"] = grouped["_days"].sum().reindex(ids, fill_value=0).astype(int)
    first = grouped.head(1).set_index("asset")
    out["longest_gap"] = [f"{first.at[a, 'start']:%Y-%m-%d}..{first.at[a, 'end']:%Y-%m-%d}" if a in first.index
                          else "" for a in ids]
    out["sources"] = rep["sources"].astype(str)
    return out
