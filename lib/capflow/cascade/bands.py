"""Bands and summaries of event-study results for cascades."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd


log = logging.getLogger(__name__)

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
