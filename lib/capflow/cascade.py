"""Liquidation cascades: the sourced event catalog, detection from prices, intraday anatomy, derivatives context.

Pure functions, frames in and frames out. Price frames follow :func:`capflow.data.load_prices`: a wide frame
indexed by UTC timestamp (daily bars labelled by UTC date, intraday bars by their open time), one column per
asset id. Nothing here invents a value: where the data lacks something, the result says so in a ``notes`` list.

Sections
--------
- Catalog: :func:`read_catalog`, :func:`merge_catalogs`, :func:`load_catalog`.
- Detection: :func:`drawdown_24h`, :func:`volume_zscore`, :func:`cascade_scores`, :func:`detect_cascades`,
  :func:`load_detection_inputs`.
- Anatomy: :func:`peak_trough`, :func:`half_recovery`, :func:`first_crossing`, :func:`lead_lag`,
  :func:`lead_lag_summary`, :func:`drawdown_paths`, :func:`crash_anatomy`, :func:`load_hourly`.
- Derivatives: :func:`derivatives_context`.
- Bands: :func:`caar_path_bands` (bootstrap band of CAAR paths, resampling assets).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from capflow import assets as _assets
from capflow import config
from capflow.calendars import utc_timestamp
from capflow.data.snapshot import read_csv_checked

log = logging.getLogger(__name__)

CATALOG_COLUMNS: tuple[str, ...] = ("date", "description", "liquidations_usd", "btc_move_pct", "source")
CATALOG_PATH: Path = config.EVENTS_DIR / "liquidation_events.csv"
_NUMERIC = ("liquidations_usd", "btc_move_pct")


class CascadeError(ValueError):
    """Bad input to a cascade function; the one-line message names the parameter and what is valid."""


# ----------------------------------------------------------------------------------------------------- catalog
def read_catalog(path: str | Path = CATALOG_PATH) -> pd.DataFrame:
    """Read and validate one liquidation-event catalog CSV.

    Parameters
    ----------
    path : str or Path
        CSV with columns :data:`CATALOG_COLUMNS`; every row's ``source`` must contain an http(s) URL.

    Returns
    -------
    DataFrame
        One row per date (``date`` as a UTC-midnight Timestamp), sorted by date.

    Raises
    ------
    CascadeError
        Missing file or column, unparseable date, duplicated date, or a row without a source URL.
    """
    path = Path(path)
    df = read_csv_checked(path, tuple(CATALOG_COLUMNS), CascadeError, "liquidation catalog (parameter path)",
                          dtype={"description": "string", "source": "string"})
    df["date"] = pd.to_datetime(df["date"], utc=True, format="ISO8601").dt.normalize()
    no_url = df.loc[~df["source"].fillna("").str.contains(r"https?://", regex=True), "date"]
    if len(no_url):
        raise CascadeError(f"catalog {path.name}: row {no_url.iloc[0].date()} has no source URL; every row needs "
                           "at least one http(s) URL in column 'source'")
    dup = df.loc[df["date"].duplicated(), "date"]
    if len(dup):
        raise CascadeError(f"catalog {path.name}: date {dup.iloc[0].date()} appears twice; one row per date")
    for c in _NUMERIC:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df[list(CATALOG_COLUMNS)].sort_values("date").reset_index(drop=True)


def merge_catalogs(primary: pd.DataFrame, other: pd.DataFrame, names: tuple[str, str] = ("project", "snapshot"),
                   rtol: float = 0.01) -> pd.DataFrame:
    """Merge two catalogs by date: one row per date, each row's source kept, conflicting numbers flagged.

    Parameters
    ----------
    primary, other : DataFrame
        Catalogs as returned by :func:`read_catalog`. Where both have a date, ``primary``'s description and
        numbers are kept.
    names : (str, str)
        Labels of the two catalogs used in ``origin`` and in the combined ``source``.
    rtol : float
        Relative tolerance above which two numbers for the same date are a conflict.

    Returns
    -------
    DataFrame
        :data:`CATALOG_COLUMNS` plus ``origin`` (``"project"``, ``"snapshot"`` or ``"project+snapshot"``),
        ``conflict`` (bool) and ``conflict_detail`` (which column, both values). ``source`` is the row's source,
        or ``"project: ... | snapshot: ..."`` when the two catalogs cite different sources.
    """
    m = primary.merge(other, on="date", how="outer", suffixes=("_a", "_b"), indicator=True)
    out = pd.DataFrame({"date": m["date"]})
    for c in CATALOG_COLUMNS[1:]:
        out[c] = m[f"{c}_a"].where(m["_merge"] != "right_only", m[f"{c}_b"])
    both = m["_merge"] == "both"
    src_a, src_b = m["source_a"].fillna(""), m["source_b"].fillna("")
    differ = both & (src_a.str.strip() != src_b.str.strip())
    out.loc[differ, "source"] = names[0] + ": " + src_a[differ] + " | " + names[1] + ": " + src_b[differ]
    out["origin"] = m["_merge"].map({"left_only": names[0], "right_only": names[1],
                                     "both": f"{names[0]}+{names[1]}"}).astype(str)
    detail = pd.Series("", index=m.index)
    for c in _NUMERIC:
        a, b = m[f"{c}_a"].astype(float), m[f"{c}_b"].astype(float)
        bad = both & a.notna() & b.notna() & ~np.isclose(a, b, rtol=rtol, atol=0)
        bad |= both & (a.isna() != b.isna())
        detail[bad] += f"{c}: {names[0]}=" + a[bad].astype(str) + f" {names[1]}=" + b[bad].astype(str) + "; "
    out["conflict"] = detail != ""
    out["conflict_detail"] = detail.str.rstrip("; ")
    return out.sort_values("date").reset_index(drop=True)


def load_catalog(snapshot: bool = True, path: str | Path = CATALOG_PATH, root: Path | None = None) -> pd.DataFrame:
    """The project's liquidation-event catalog, merged with the snapshot's catalog when asked and present.

    Parameters
    ----------
    snapshot : bool
        Merge ``events/liquidation_events.csv`` of the offline snapshot (skipped with a log line when there is
        no snapshot folder).
    path : str or Path
        The project catalog (default ``data/events/liquidation_events.csv``).
    root : Path, optional
        Snapshot folder (default :func:`capflow.config.snapshot_dir`).

    Returns
    -------
    DataFrame
        See :func:`merge_catalogs`; one row per UTC date.
    """
    project = read_catalog(path)
    root = Path(root) if root is not None else (config.snapshot_dir() if snapshot else None)
    snap_path = root / "events" / "liquidation_events.csv" if root is not None else None
    if not snapshot or snap_path is None or not snap_path.is_file():
        if snapshot:
            log.info("no snapshot liquidation catalog found; using the project catalog only")
        empty = project.iloc[0:0]
        return merge_catalogs(project, empty)
    return merge_catalogs(project, read_catalog(snap_path))


# --------------------------------------------------------------------------------------------------- detection
def _check_frame(df: pd.DataFrame, name: str) -> None:
    if not isinstance(df, pd.DataFrame) or not isinstance(df.index, pd.DatetimeIndex):
        raise CascadeError(f"parameter {name}: expected a DataFrame indexed by UTC timestamps (one column per asset)")
    if df.index.tz is None:
        raise CascadeError(f"parameter {name}: index is timezone-naive; localize it to UTC (df.tz_localize('UTC'))")
    if not df.index.is_monotonic_increasing:
        raise CascadeError(f"parameter {name}: index is not sorted; sort it (df.sort_index())")


def _is_intraday(index: pd.DatetimeIndex) -> bool:
    if len(index) < 2:
        return False
    return bool(pd.Series(index).diff().median() < pd.Timedelta("1D"))


def drawdown_24h(prices: pd.DataFrame, lows: pd.DataFrame | None = None,
                 highs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Worst 24-hour drawdown per UTC day: price against the highest price of the preceding 24 hours.

    For each bar t, ``bottom_t / max(top over [t-24h, t]) - 1`` where ``top`` is ``highs`` (else ``prices``)
    and ``bottom`` is ``lows`` (else ``prices``); intraday values are reduced to the minimum per UTC day. On
    daily closes this is ``min(0, close_t / close_{t-1} - 1)``.

    Parameters
    ----------
    prices : DataFrame
        Closes, UTC DatetimeIndex (daily or intraday), one column per asset.
    lows, highs : DataFrame, optional
        Bar lows and highs aligned with ``prices`` (more precise for intraday crashes).

    Returns
    -------
    DataFrame
        Indexed by UTC day, one column per asset, values <= 0 (NaN where no bar).
    """
    _check_frame(prices, "prices")
    top = (highs if highs is not None else prices).reindex_like(prices)
    bottom = (lows if lows is not None else prices).reindex_like(prices)
    rolling_top = top.rolling("24h", closed="both").max()
    dd = (bottom / rolling_top - 1).clip(upper=0.0)
    return dd.resample("1D").min()


def volume_zscore(volumes: pd.DataFrame, window: int = 30, min_periods: int | None = None) -> pd.DataFrame:
    """Daily volume spike: z-score of log volume against the preceding ``window`` days (the day itself excluded).

    Parameters
    ----------
    volumes : DataFrame
        Volumes (any unit, consistent per asset), UTC DatetimeIndex daily or intraday; intraday bars are summed
        per UTC day.
    window : int
        Trailing days forming the baseline mean and standard deviation of log volume.
    min_periods : int, optional
        Fewest baseline days (default ``window // 2``); fewer gives NaN.

    Returns
    -------
    DataFrame
        Indexed by UTC day, one column per asset.
    """
    _check_frame(volumes, "volumes")
    if window < 3:
        raise CascadeError(f"parameter window={window} is too short; use at least 3 days (30 is typical)")
    daily = volumes.resample("1D").sum(min_count=1)
    logv = np.log(daily.where(daily > 0))
    base = logv.shift(1).rolling(window, min_periods=min_periods or max(3, window // 2))
    return (logv - base.mean()) / base.std()


def cascade_scores(prices: pd.DataFrame, volumes: pd.DataFrame, lows: pd.DataFrame | None = None,
                   highs: pd.DataFrame | None = None, volume_window: int = 30) -> pd.DataFrame:
    """Both detection scores per (UTC day, asset) as a tidy frame.

    Returns
    -------
    DataFrame
        Columns ``date, asset, drawdown_24h, volume_z`` (see :func:`drawdown_24h`, :func:`volume_zscore`).
    """
    dd = drawdown_24h(prices, lows, highs).stack().rename("drawdown_24h")
    vz = volume_zscore(volumes, volume_window).stack().rename("volume_z")
    out = pd.concat([dd, vz], axis=1, join="outer")
    out.index.names = ["date", "asset"]
    return out.reset_index().sort_values(["date", "asset"], kind="stable").reset_index(drop=True)


def detect_cascades(prices: pd.DataFrame, volumes: pd.DataFrame, drawdown_threshold: float = -0.10,
                    volume_z: float = 2.0, lows: pd.DataFrame | None = None, highs: pd.DataFrame | None = None,
                    volume_window: int = 30) -> pd.DataFrame:
    """Candidate cascade days: a 24h drawdown beyond a threshold AND a volume spike beyond a threshold.

    Parameters
    ----------
    prices : DataFrame
        Closes, UTC DatetimeIndex daily or intraday (rolling 24h window on intraday bars), one column per asset.
    volumes : DataFrame
        Volumes at any frequency (summed per UTC day).
    drawdown_threshold : float
        A day qualifies when its worst 24h drawdown is <= this (a fraction in (-1, 0); -0.10 = a 10% fall).
    volume_z : float
        ... and its log-volume z-score against the trailing ``volume_window`` days is >= this (> 0).
    lows, highs : DataFrame, optional
        Bar lows and highs for intraday precision.
    volume_window : int
        Trailing days of the volume baseline.

    Returns
    -------
    DataFrame
        One row per (date, asset) meeting both thresholds: ``date, asset, drawdown_24h, volume_z``; sorted by
        date; ``attrs["params"]`` holds the thresholds.
    """
    if not -1.0 < drawdown_threshold < 0.0:
        raise CascadeError(f"parameter drawdown_threshold={drawdown_threshold} must be a fraction in (-1, 0), "
                           "e.g. -0.10 for a 10% fall")
    if not (np.isfinite(volume_z) and volume_z > 0):
        raise CascadeError(f"parameter volume_z={volume_z} must be a positive z-score, e.g. 2.0")
    scores = cascade_scores(prices, volumes, lows, highs, volume_window)
    hit = (scores["drawdown_24h"] <= drawdown_threshold) & (scores["volume_z"] >= volume_z)
    out = scores.loc[hit].reset_index(drop=True)
    out.attrs["params"] = {"drawdown_threshold": drawdown_threshold, "volume_z": volume_z,
                           "volume_window": volume_window, "intraday": _is_intraday(prices.index)}
    return out


def load_detection_inputs(assets: str | Iterable[str], start: object, end: object,
                          freq: str = "4h") -> dict[str, pd.DataFrame]:
    """Closes, lows, highs and volumes for detection via :func:`capflow.data.load_prices` (assets without data
    are dropped with a warning).

    Returns
    -------
    dict
        ``{"prices", "lows", "highs", "volumes"}``: wide frames on one index; ``prices.attrs`` carries
        provenance.
    """
    from capflow.data import load_prices

    fields = {"prices": "close", "lows": "low", "highs": "high", "volumes": "volume"}
    out = {k: load_prices(assets, start, end, freq=freq, field=f, missing="drop") for k, f in fields.items()}
    cols = [c for c in out["prices"].columns if all(c in v.columns for v in out.values())]
    index = out["prices"].index
    return {k: v.reindex(index=index, columns=cols).__finalize__(v) for k, v in out.items()}


# ----------------------------------------------------------------------------------------------------- anatomy
def _ts(value: object, name: str) -> pd.Timestamp:
    return utc_timestamp(value, name, CascadeError)


def _first_true(mask: pd.DataFrame) -> pd.Series:
    """Index label of the first True per column (NaT where none)."""
    first = mask.idxmax()
    return first.where(mask.any()).astype("datetime64[ns, UTC]")


def _hours(delta: pd.Series) -> pd.Series:
    return delta / pd.Timedelta("1h")


def peak_trough(high: pd.DataFrame, low: pd.DataFrame, event_time: object, lookback: str = "24h",
                horizon: str = "48h") -> pd.DataFrame:
    """Peak-to-trough depth and timing per asset around an event.

    The trough is the lowest ``low`` in ``[event_time, event_time + horizon]``; the peak is the highest ``high``
    in ``[event_time - lookback, trough time]`` (so the peak precedes the trough).

    Parameters
    ----------
    high, low : DataFrame
        Intraday bars, UTC DatetimeIndex (bar open time), one column per asset.
    event_time : timestamp-like
        Start of the event (a date means 00:00 UTC).
    lookback, horizon : str
        pandas offsets (``"24h"``, ``"2D"``).

    Returns
    -------
    DataFrame
        Indexed by asset: ``peak_time, peak, trough_time, trough, depth`` (trough/peak - 1, <= 0),
        ``hours_peak_to_trough``, ``hours_event_to_trough``.
    """
    _check_frame(high, "high")
    t0 = _ts(event_time, "event_time")
    low_w = low.loc[t0: t0 + pd.Timedelta(horizon)]
    trough_time = low_w.idxmin().where(low_w.notna().any()).astype("datetime64[ns, UTC]")
    high_w = high.loc[t0 - pd.Timedelta(lookback): t0 + pd.Timedelta(horizon)]
    before = pd.DataFrame(high_w.index.values[:, None] <= trough_time.values[None, :], index=high_w.index,
                          columns=high_w.columns)
    capped = high_w.where(before)
    peak_time = capped.idxmax().where(capped.notna().any()).astype("datetime64[ns, UTC]")
    out = pd.DataFrame({"peak_time": peak_time, "peak": capped.max(), "trough_time": trough_time,
                        "trough": low_w.min()})
    out["depth"] = out["trough"] / out["peak"] - 1
    out["hours_peak_to_trough"] = _hours(out["trough_time"] - out["peak_time"])
    out["hours_event_to_trough"] = _hours(out["trough_time"] - t0)
    out.index.name = "asset"
    return out


def half_recovery(close: pd.DataFrame, pt: pd.DataFrame, fraction: float = 0.5) -> pd.DataFrame:
    """Time to recover a fraction of the peak-to-trough loss, from the trough, on closes.

    Parameters
    ----------
    close : DataFrame
        Intraday closes, UTC DatetimeIndex, one column per asset.
    pt : DataFrame
        Output of :func:`peak_trough` (``peak``, ``trough``, ``trough_time`` per asset).
    fraction : float
        Share of the loss to win back, in (0, 1].

    Returns
    -------
    DataFrame
        Indexed by asset: ``recovery_level``, ``recovery_time`` (first bar after the trough whose close is at or
        above the level; NaT when never), ``hours_to_recover`` (NaN when not recovered within the data) and
        ``recovery_note``.
    """
    if not 0 < fraction <= 1:
        raise CascadeError(f"parameter fraction={fraction} must be in (0, 1]; 0.5 = half the loss")
    pt = pt.reindex(close.columns)
    level = pt["trough"] + fraction * (pt["peak"] - pt["trough"])
    after = close.index.values[:, None] > pt["trough_time"].values[None, :]
    hit = close.ge(level, axis=1) & after
    when = _first_true(hit)
    last = close.apply(pd.Series.last_valid_index)
    note = np.where(pt["trough_time"].isna(), "no bars in the event window",
                    np.where(when.isna(), "not recovered by the end of the data (" + last.astype(str) + ")", ""))
    out = pd.DataFrame({"recovery_level": level, "recovery_time": when,
                        "hours_to_recover": _hours(when - pt["trough_time"]), "recovery_note": note},
                       index=close.columns)
    out.index.name = "asset"
    return out


def first_crossing(low: pd.DataFrame, close: pd.DataFrame, event_time: object, threshold: float = -0.05,
                   horizon: str = "48h") -> pd.DataFrame:
    """When each asset first fell ``threshold`` below its pre-event level.

    The pre-event level is the last close of a bar opening before ``event_time``; the crossing is the first bar
    in ``[event_time, event_time + horizon]`` whose low is at or below ``level * (1 + threshold)``.

    Returns
    -------
    DataFrame
        Indexed by asset: ``pre_level``, ``cross_time`` (NaT when never), ``hours_to_cross`` (from the event);
        ``rank_cross`` (1 = fell first; ties share a rank).
    """
    if not -1 < threshold < 0:
        raise CascadeError(f"parameter threshold={threshold} must be a fraction in (-1, 0), e.g. -0.05")
    t0 = _ts(event_time, "event_time")
    pre = close.loc[: t0 - pd.Timedelta("1ns")].ffill().iloc[-1] if (close.index < t0).any() else \
        pd.Series(np.nan, index=close.columns)
    win = low.loc[t0: t0 + pd.Timedelta(horizon)]
    when = _first_true(win.le(pre * (1 + threshold), axis=1))
    out = pd.DataFrame({"pre_level": pre, "cross_time": when, "hours_to_cross": _hours(when - t0)})
    out["rank_cross"] = out["hours_to_cross"].rank(method="min")
    out.index.name = "asset"
    return out


def lead_lag(returns: pd.DataFrame, reference: str = "bitcoin", max_lag: int = 6) -> pd.DataFrame:
    """Cross-correlation of each asset's returns with a reference's returns at lags ``-max_lag..max_lag``.

    ``corr(lag) = corr(r_asset[t], r_ref[t - lag])``: a peak at ``lag > 0`` means the reference moved first
    (the asset lags by ``lag`` bars); at ``lag < 0`` the asset moved first.

    Parameters
    ----------
    returns : DataFrame
        Returns on one regular grid (e.g. hourly), one column per asset, including ``reference``.
    reference : str
        Column to correlate against.
    max_lag : int
        Largest lag in bars.

    Returns
    -------
    DataFrame
        Tidy: ``asset, lag, corr, n`` (n = overlapping pairs), reference column excluded.
    """
    if reference not in returns.columns:
        raise CascadeError(f"parameter reference={reference!r} is not a column of returns; "
                           f"valid: {', '.join(map(str, returns.columns))}")
    if max_lag < 1:
        raise CascadeError(f"parameter max_lag={max_lag} must be a positive number of bars")
    others = returns.drop(columns=reference)
    rows = []
    for lag in range(-max_lag, max_lag + 1):  # 2k+1 vectorized column correlations
        ref = returns[reference].shift(lag)
        valid = others.notna() & ref.notna().to_numpy()[:, None]
        rows.append(pd.DataFrame({"asset": others.columns, "lag": lag, "corr": others.corrwith(ref).to_numpy(),
                                  "n": valid.sum().to_numpy()}))
    return pd.concat(rows, ignore_index=True)


def lead_lag_summary(ll: pd.DataFrame) -> pd.DataFrame:
    """Per asset the lag of the highest correlation (see :func:`lead_lag` for the sign), and corr at lag 0.

    Returns
    -------
    DataFrame
        Indexed by asset: ``best_lag``, ``corr_best``, ``corr_0``, ``who_first`` (``"reference"``, ``"asset"``
        or ``"same hour"``).
    """
    ok = ll.dropna(subset=["corr"])
    if ok.empty:
        return pd.DataFrame(columns=["best_lag", "corr_best", "corr_0", "who_first"]).rename_axis("asset")
    best = ok.loc[ok.groupby("asset")["corr"].idxmax()].set_index("asset")
    zero = ok.loc[ok["lag"] == 0].set_index("asset")["corr"]
    out = pd.DataFrame({"best_lag": best["lag"], "corr_best": best["corr"], "corr_0": zero.reindex(best.index)})
    out["who_first"] = np.select([out["best_lag"] > 0, out["best_lag"] < 0], ["reference", "asset"], "same hour")
    return out


def drawdown_paths(close: pd.DataFrame, event_time: object, lookback: str = "24h",
                   horizon: str = "48h") -> pd.DataFrame:
    """Closes relative to each asset's pre-event level, ``close / pre_level - 1``, over the anatomy window.

    Returns
    -------
    DataFrame
        UTC DatetimeIndex (bar open times in ``[event_time - lookback, event_time + horizon]``), one column per
        asset; plotted by :func:`capflow.plots.eventstudy.plot_anatomy`.
    """
    t0 = _ts(event_time, "event_time")
    pre = close.loc[: t0 - pd.Timedelta("1ns")].ffill().iloc[-1]
    win = close.loc[t0 - pd.Timedelta(lookback): t0 + pd.Timedelta(horizon)]
    out = win / pre - 1
    out.attrs["event_time"] = str(t0)
    return out


@dataclass
class Anatomy:
    """Intraday anatomy of one crash.

    Attributes
    ----------
    table : DataFrame
        One row per asset: peak/trough timing and depth, first-crossing time, half-recovery, lead-lag vs the
        reference.
    lead_lag : DataFrame
        Tidy cross-correlations (:func:`lead_lag`).
    paths : DataFrame
        Drawdown paths (:func:`drawdown_paths`).
    notes : list of str
        What is missing or caveated (assets without hourly data, unrecovered losses, sources).
    params : dict
        The inputs used.
    """

    table: pd.DataFrame
    lead_lag: pd.DataFrame
    paths: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)


def crash_anatomy(high: pd.DataFrame, low: pd.DataFrame, close: pd.DataFrame, event_time: object,
                  lookback: str = "24h", horizon: str = "48h", cross_threshold: float = -0.05,
                  reference: str = "bitcoin", max_lag: int = 6, missing: Sequence[str] = ()) -> Anatomy:
    """Peak-to-trough, who fell first and half-recovery per asset from intraday bars.

    Parameters
    ----------
    high, low, close : DataFrame
        Intraday bars on one UTC index (bar open time), one column per asset.
    event_time : timestamp-like
        Event start (a date means 00:00 UTC).
    lookback, horizon : str
        Window before (for the peak) and after (for the trough and crossings) the event.
    cross_threshold : float
        Fall from the pre-event level that counts as "crossed" (-0.05 = 5%).
    reference : str
        Asset whose returns the lead-lag is measured against (skipped with a note when absent).
    max_lag : int
        Largest lead-lag in bars.
    missing : sequence of str
        Assets requested but without intraday data: reported as missing in ``table`` and ``notes``.

    Returns
    -------
    Anatomy
    """
    from capflow.returns import simple_returns

    t0 = _ts(event_time, "event_time")
    pt = peak_trough(high, low, t0, lookback, horizon)
    table = pt.join(first_crossing(low, close, t0, cross_threshold, horizon)).join(half_recovery(close, pt))
    notes = [f"{_assets.symbol(a)}: no intraday data for this window in the data sources; not shown" for a in missing]
    win = close.loc[t0 - pd.Timedelta(lookback): t0 + pd.Timedelta(horizon)]
    ll = pd.DataFrame(columns=["asset", "lag", "corr", "n"])
    if reference in win.columns:
        ll = lead_lag(simple_returns(win), reference, max_lag)
        table = table.join(lead_lag_summary(ll))
        table.loc[reference, ["best_lag", "who_first"]] = [0, "reference itself"]
    else:
        notes.append(f"lead-lag skipped: reference {reference!r} has no intraday data in the window")
    notes += [f"{_assets.symbol(a)}: {n}" for a, n in table["recovery_note"].items() if n]
    table = pd.concat([table, pd.DataFrame(index=pd.Index(list(missing), name="asset"))])
    table.insert(0, "symbol", [_assets.symbol(a) for a in table.index])
    table["status"] = np.where(table.index.isin(list(missing)), "missing: no intraday data", "ok")
    params = {"event_time": str(t0), "lookback": lookback, "horizon": horizon, "cross_threshold": cross_threshold,
              "reference": reference, "max_lag": max_lag}
    return Anatomy(table, ll, drawdown_paths(close, t0, lookback, horizon), notes, params)


def load_hourly(assets: str | Iterable[str], event_time: object, lookback: str = "24h",
                horizon: str = "72h") -> tuple[dict[str, pd.DataFrame], list[str], list[str]]:
    """Hourly high, low and close around an event via :func:`capflow.data.load_prices` (freq ``1h``).

    Assets with no hourly bar in the window are dropped (never filled) and returned as ``missing``.

    Returns
    -------
    (dict, list, list)
        ``{"high", "low", "close"}`` wide frames on one index (``close.attrs`` carries provenance); the missing
        asset ids; notes naming each asset's hourly sources.
    """
    import warnings

    from capflow.data import load_prices

    t0 = _ts(event_time, "event_time")
    start, end = t0 - pd.Timedelta(lookback) - pd.Timedelta("1D"), t0 + pd.Timedelta(horizon)
    every = _assets.ids(assets)
    wanted = [a for a in every if _assets.resolve(a).is_crypto]
    skipped = [_assets.symbol(a) for a in every if a not in wanted]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dropped assets are reported as `missing` instead
        bars = {f: load_prices(wanted, start.normalize(), end, freq="1h", field=f, missing="drop")
                for f in ("high", "low", "close")}
    cols = [a for a in wanted if all(a in b.columns for b in bars.values())]
    index = bars["close"].index
    frames = {f: b.reindex(index=index, columns=cols).__finalize__(b) for f, b in bars.items()}
    prov = bars["close"].attrs.get("provenance", {})
    notes = [f"{_assets.symbol(a)} hourly sources: {_describe_sources(prov.get(a, {}).get('sources', {}))}"
             for a in cols]
    if skipped:
        notes.append(f"not crypto, no hourly bars in the data (left out of the anatomy): {', '.join(skipped)}")
    return frames, [a for a in wanted if a not in cols], notes


def _describe_sources(sources: dict) -> str:
    kinds = {"bn_perp": "Binance USDT-M perpetual", "bn_spot": "Binance spot"}
    return ", ".join(f"{s} ({next((v for k, v in kinds.items() if s.startswith(k)), 'see CRYPTO_SOURCES.md')}, "
                     f"{n} bars)" for s, n in sources.items())


# ------------------------------------------------------------------------------------------------- derivatives
_DERIV_FIELDS = {"funding_rate": "funding rates", "open_interest_usd": "open interest",
                 "long_liquidations_usd": "liquidation totals"}


@dataclass
class DerivativesContext:
    """Funding, open interest and liquidations around an event, as far as the snapshot has them.

    Attributes
    ----------
    data : DataFrame
        Long rows of ``crypto_derivatives`` in the window (``timestamp_utc, asset, funding_rate,
        open_interest_usd, long_liquidations_usd, short_liquidations_usd, source``).
    summary : DataFrame
        One row per (asset, source): mean funding before and on the event day, open interest before the event
        and its lowest value after (change in %), long and short liquidations on the event day and in the window.
    notes : list of str
        One note per (asset, quantity) the snapshot does not have in the window, plus source caveats.
    """

    data: pd.DataFrame
    summary: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _deriv_summary(data: pd.DataFrame, t0: pd.Timestamp) -> pd.DataFrame:
    pre, day = data["timestamp_utc"] < t0, data["timestamp_utc"].between(t0, t0 + pd.Timedelta("1D"),
                                                                           inclusive="left")
    post = data["timestamp_utc"] >= t0
    g = data.assign(pre_f=data["funding_rate"].where(pre), day_f=data["funding_rate"].where(day),
                    oi_post=data["open_interest_usd"].where(post),
                    oi_pre=data["open_interest_usd"].where(pre),
                    long_day=data["long_liquidations_usd"].where(day),
                    short_day=data["short_liquidations_usd"].where(day)).groupby(["asset", "source"])
    out = pd.DataFrame({"funding_pre_mean": g["pre_f"].mean(), "funding_event_day_mean": g["day_f"].mean(),
                        "oi_pre_usd": g["oi_pre"].last(), "oi_post_min_usd": g["oi_post"].min(),
                        "long_liq_event_day_usd": g["long_day"].sum(min_count=1),
                        "short_liq_event_day_usd": g["short_day"].sum(min_count=1),
                        "long_liq_window_usd": g["long_liquidations_usd"].sum(min_count=1),
                        "short_liq_window_usd": g["short_liquidations_usd"].sum(min_count=1)})
    out["oi_change_pct"] = 100 * (out["oi_post_min_usd"] / out["oi_pre_usd"] - 1)
    return out.reset_index()


def derivatives_context(date: object, assets: str | Iterable[str] = "crypto_major",
                        window: int | tuple[int, int] = 3, root: Path | None = None) -> DerivativesContext:
    """Derivatives data around an event date from the snapshot's ``crypto_derivatives``, with notes on gaps.

    Parameters
    ----------
    date : date-like
        Event date (UTC day start) or timestamp.
    assets : str or iterable of str
        Asset ids, symbols or group tags.
    window : int or (int, int)
        Days before and after the event (``3`` means ``(-3, +3)``).
    root : Path, optional
        Snapshot folder.

    Returns
    -------
    DerivativesContext
        Values only where the snapshot has them; each missing quantity is named in ``notes`` (for example "no
        liquidation totals for February 2026 in the snapshot (BTC, ETH)").
    """
    from capflow.data import snapshot

    t0 = _ts(date, "date")
    lo, hi = (-window, window) if isinstance(window, (int, np.integer)) else window
    if lo > 0 or hi < 0:
        raise CascadeError(f"parameter window={window!r} must span the event: (days before <= 0, days after >= 0)")
    ids = [a for a in _assets.ids(assets) if _assets.resolve(a).is_crypto]  # derivatives: crypto only
    raw = snapshot.read("crypto_derivatives", root)
    start, end = t0 + pd.Timedelta(days=lo), t0 + pd.Timedelta(days=hi + 1)
    data = raw.loc[raw["asset"].isin(ids) & (raw["timestamp_utc"] >= start) & (raw["timestamp_utc"] < end)]
    data = data.sort_values(["asset", "source", "timestamp_utc"]).reset_index(drop=True)
    summary = _deriv_summary(data, t0) if len(data) else pd.DataFrame()
    return DerivativesContext(data, summary, _deriv_notes(data, ids, t0))


def _deriv_notes(data: pd.DataFrame, ids: list[str], t0: pd.Timestamp) -> list[str]:
    month = t0.strftime("%B %Y")
    notes = []
    for col, what in _DERIV_FIELDS.items():
        have = set(data.loc[data[col].notna(), "asset"])
        lacking = [_assets.symbol(a) for a in ids if a not in have]
        if lacking:
            notes.append(f"no {what} for {month} in the snapshot ({', '.join(lacking)})")
    srcs = set(data["source"].dropna())
    if "coinglass_flr" in srcs and data["long_liquidations_usd"].notna().any():
        notes.append("liquidations are CoinGlass Binance-only 4h bars (Binance's feed is throttled): they "
                     "undercount the all-exchange totals reported in the news (see the event catalog)")
    if "cz_coinm_sbq" in srcs:
        notes.append("Coinalyze open interest for BTC/ETH/SOL/BNB is Binance COIN-M inverse perps, not the larger "
                     "USDT-M books")
    return notes


# ------------------------------------------------------------------------------------------------------- bands
def caar_path_bands(ar: pd.DataFrame, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """Bootstrap band of the CAAR path per group, resampling assets (events) with replacement.

    Parameters
    ----------
    ar : DataFrame
        Tidy abnormal returns with columns ``event_id, group, rel, ar`` (the ``ar`` frame of
        :func:`capflow.eventstudy.event_study`).
    n_boot, alpha, seed : int, float, int
        Replicates, two-sided level and seed.

    Returns
    -------
    DataFrame
        ``group, rel, caar, lo, hi, n``. The band reflects cross-sectional dispersion only: in a cascade all
        assets share one date, so it does not widen for cross-correlation (compare the KP test).
    """
    rng = np.random.default_rng(seed)
    out = []
    for grp, sub in ar.groupby("group", sort=True):  # one matrix per group; replicates are vectorized
        wide = sub.pivot_table(index="event_id", columns="rel", values="ar", aggfunc="first")
        paths = wide.fillna(0.0).cumsum(axis=1).to_numpy()
        idx = rng.integers(0, len(paths), size=(n_boot, len(paths)))
        boot = paths[idx].mean(axis=1)
        lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
        out.append(pd.DataFrame({"group": grp, "rel": wide.columns, "caar": paths.mean(axis=0), "lo": lo, "hi": hi,
                                 "n": len(paths)}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["group", "rel", "caar", "lo", "hi",
                                                                               "n"])


# ------------------------------------------------------------------------------------------------------- study
@dataclass
class CascadeStudyInputs:
    """Everything an event study of one cascade date needs, loaded from :func:`capflow.data.load_prices`.

    Attributes
    ----------
    prices : DataFrame
        Prices of the event assets and benchmarks (UTC DatetimeIndex, one column per asset; ``attrs`` carry
        provenance).
    returns : DataFrame
        Simple returns of ``prices`` (each asset over its own bars; NaN where no bar).
    market : DataFrame
        Returns of the benchmark columns.
    events : DataFrame
        ``event_id, asset, timestamp, group, benchmark`` (one row per asset).
    notes : list of str
        Assets dropped for lack of data, benchmarks excluded from the events, frequency caveats.
    """

    prices: pd.DataFrame
    returns: pd.DataFrame
    market: pd.DataFrame
    events: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _span(freq: str, periods: int) -> pd.Timedelta:
    """Calendar span covering ``periods`` trading periods of the slowest calendar (equity sessions)."""
    if freq == "1d":
        return pd.Timedelta(days=int(np.ceil(abs(periods) * 7 / 5)) + 15)
    return pd.Timedelta(hours=abs(periods) + 48)


def cascade_events(event_date: object, groups: str | Iterable[str], benchmarks: dict[str, str],
                   exclude_benchmarks: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """One event row per asset of the requested groups, each with its group and benchmark.

    Parameters
    ----------
    event_date : date-like
        Event start (UTC).
    groups : str or iterable of str
        Group tags and/or assets (``"ai_token,crypto_major,ai_equity"``).
    benchmarks : dict
        ``{group: benchmark asset id}``; every group of the events needs one.
    exclude_benchmarks : bool
        Leave out an asset that is its own benchmark (its market-adjusted AR is 0 by construction).

    Returns
    -------
    (DataFrame, list of str)
        ``event_id, asset, timestamp, group, benchmark`` and notes on excluded assets.
    """
    t0 = _ts(event_date, "event_date")
    ids = _assets.ids(groups)
    grp = {a: next((g for g in _assets.resolve(a).tags if g in benchmarks), _assets.group_of(a)) for a in ids}
    lacking = sorted({g for g in grp.values() if g not in benchmarks})
    if lacking:
        raise CascadeError(f"parameter benchmarks has no entry for group {lacking[0]!r}; give "
                           f"{{'{lacking[0]}': <benchmark asset id>}}")
    bench = {a: _assets.resolve(benchmarks[grp[a]]).id for a in ids}
    selfb = [a for a in ids if bench[a] == a]
    keep = [a for a in ids if not (exclude_benchmarks and a in selfb)]
    events = pd.DataFrame({"event_id": [f"{t0.date()}:{_assets.symbol(a)}" for a in keep], "asset": keep,
                           "timestamp": t0, "group": [grp[a] for a in keep], "benchmark": [bench[a] for a in keep]})
    notes = [f"{_assets.symbol(a)} is the benchmark of its group ({grp[a]}): excluded from the abnormal-return "
             "tests (its market-adjusted AR is 0 by construction); shown in prices and anatomy" for a in selfb
             if exclude_benchmarks]
    return events, notes


def load_cascade_study(event_date: object, groups: str | Iterable[str], benchmarks: dict[str, str],
                       freq: str = "1d", estimation_window: Sequence[int] = (-250, -11),
                       event_window: Sequence[int] = (-10, 10)) -> CascadeStudyInputs:
    """Load prices and returns for an event study of one cascade date and build its events table.

    Assets without data (or, at ``freq="1h"``, equities, which have no hourly bars) are dropped and named in
    ``notes``; events whose asset has no data are removed.

    Returns
    -------
    CascadeStudyInputs
    """
    import warnings

    from capflow.data import load_prices
    from capflow.returns import simple_returns

    if freq not in ("1d", "1h"):
        raise CascadeError(f"parameter freq={freq!r} is not supported; valid: '1d', '1h'")
    events, notes = cascade_events(event_date, groups, benchmarks)
    if freq == "1h":
        eq = events["asset"].map(lambda a: not _assets.resolve(a).is_crypto)
        notes += [f"{_assets.symbol(a)}: no hourly equity bars in the data; left out at freq='1h'"
                  for a in events.loc[eq, "asset"]]
        events = events.loc[~eq]
    t0 = _ts(event_date, "event_date")
    wanted = list(dict.fromkeys(list(events["asset"]) + list(events["benchmark"])))
    start, end = t0 - _span(freq, estimation_window[0]), t0 + _span(freq, event_window[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dropped assets are reported in notes instead
        prices = load_prices(wanted, start, end, freq=freq, missing="drop")
    notes += [f"{_assets.symbol(a)}: dropped, {why}" for a, why in prices.attrs.get("dropped", {}).items()]
    events = events.loc[events["asset"].isin(prices.columns) & events["benchmark"].isin(prices.columns)]
    rets = simple_returns(prices)
    rets.attrs = dict(prices.attrs)
    market = rets[sorted(set(events["benchmark"]))]
    return CascadeStudyInputs(prices, rets, market, events.reset_index(drop=True), notes)


def study_summary(stats: pd.DataFrame, caar: pd.DataFrame, window: str, alpha: float = 0.05) -> pd.DataFrame:
    """One row per group for one CAR window: CAAR, bootstrap interval, BMP and KP (and other tests) side by side.

    Parameters
    ----------
    stats, caar : DataFrame
        The ``stats`` and ``caar`` frames of :func:`capflow.eventstudy.event_study`.
    window : str
        Window label as in those frames (e.g. ``"[0,+1]"``).
    alpha : float
        Level for the ``significant_*`` flags.

    Returns
    -------
    DataFrame
        Indexed by group: ``caar, boot_lo, boot_hi, n`` then ``<test>_stat`` and ``<test>_p`` per test, and
        ``significant_bmp``, ``significant_kp``.
    """
    s = stats.loc[stats["window"] == window]
    wide = s.pivot_table(index="group", columns="test", values=["statistic", "p_value"], aggfunc="first")
    wide.columns = [f"{t}_{'stat' if v == 'statistic' else 'p'}" for v, t in wide.columns]
    c = caar.loc[caar["window"] == window].set_index("group")[["caar", "boot_lo", "boot_hi", "n"]]
    out = c.join(wide, how="left")
    for t in ("bmp", "kp"):
        if f"{t}_p" in out.columns:
            out[f"significant_{t}"] = out[f"{t}_p"] < alpha
    return out
