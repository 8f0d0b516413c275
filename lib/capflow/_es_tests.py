"""Test statistics of :mod:`capflow.eventstudy`, one group at a time (private; formulas in its docstring).

Every function takes a group's per-event arrays window by window, (W, n), or its per-period group sums, and
returns ``{test: (statistic (W,), p-value (W,))}``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from capflow import _estats
from capflow._es_grank import grank


@dataclass
class GroupInput:
    """One group's inputs to the statistics (``W`` CAR windows, ``n`` events, ``L1`` estimation periods)."""

    car: np.ndarray               # (W, n)
    scar: np.ndarray              # (W, n)
    bhar: np.ndarray              # (W, n)
    dof: np.ndarray               # (n,) residual degrees of freedom T_i - p
    pos: np.ndarray | None        # (n,) share of positive estimation residuals (generalized sign)
    rbar: float
    windows: np.ndarray           # (W, L_evt) 0/1 indicators
    n_est: int
    e_aar: np.ndarray             # (L1,) estimation-window AAR series (NaN where no event has the period)
    aar: np.ndarray               # (L_evt,) event-window AAR
    cnt: np.ndarray               # (L1 + L_evt,) events with each period of the combined window
    u_sum: np.ndarray | None      # (L1 + L_evt,) Corrado uniform-rank sums
    g_sum: np.ndarray | None      # (L1 + L_evt,) Corrado-Zivney sign sums
    lev_mean: np.ndarray | None   # (L_evt,) mean of 1 + h_t over the events (Lamb)
    grank: tuple | None           # (a_sum (L1,), b_sum (W, L1), u0_sum (W,)) for GRANK


def group_tests(tests: tuple[str, ...], x: GroupInput) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The requested statistics for one group, in the order of ``tests``."""
    n = x.car.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # groups with 0 or 1 event give NaN statistics
        out = _parametric(x, n)
        out.update(_signs(x, n, tests))
        out.update(_ranks(x, n, tests))
        out.update(_portfolio(x, tests))
        if "bhar_skew_t" in tests:
            t = _estats.skew_adjusted_t(x.bhar)
            out["bhar_skew_t"] = (t, _estats.two_sided_t(t, max(n - 1, 1)))
    return {t: out[t] for t in tests}


def _parametric(x: GroupInput, n: int) -> dict:
    """t_cs, Patell, BMP, Kolari-Pynnonen and the KP-adjusted Patell."""
    car, scar, dof, rbar = x.car, x.scar, x.dof, x.rbar
    t_cs = car.mean(axis=1) / (car.std(axis=1, ddof=1) / np.sqrt(n))
    patell = scar.sum(axis=1) / np.sqrt((dof / (dof - 2.0)).sum())
    bmp = scar.mean(axis=1) / (scar.std(axis=1, ddof=1) / np.sqrt(n))
    adj = np.sqrt((1.0 - rbar) / (1.0 + (n - 1) * rbar))
    df = max(n - 1, 1)
    t2, z2 = _estats.two_sided_t, _estats.two_sided_norm
    return {"t_cs": (t_cs, t2(t_cs, df)), "patell": (patell, z2(patell)), "bmp": (bmp, t2(bmp, df)),
            "kp": (bmp * adj, t2(bmp * adj, df)), "kp_patell": (patell * adj, z2(patell * adj))}


def _signs(x: GroupInput, n: int, tests: tuple[str, ...]) -> dict:
    """Generalized sign (Cowan 1992), sign test and Wilcoxon signed-rank on the CARs."""
    out = {}
    pos = np.count_nonzero(x.car > 0, axis=1)
    if "gen_sign" in tests:
        p_hat = x.pos.mean()
        z = (pos - n * p_hat) / np.sqrt(n * p_hat * (1.0 - p_hat))
        out["gen_sign"] = (z, _estats.two_sided_norm(z))
    if "sign" in tests:
        z = (pos - 0.5 * n) / np.sqrt(0.25 * n)
        out["sign"] = (z, _estats.two_sided_norm(z))
    if "wilcoxon" in tests:
        z = _estats.wilcoxon_z(x.car) if n else np.full(x.car.shape[0], np.nan)
        out["wilcoxon"] = (z, _estats.two_sided_norm(z))
    return out


def _ranks(x: GroupInput, n: int, tests: tuple[str, ...]) -> dict:
    """Corrado (multi-period), Corrado-Zivney sign (multi-period) and GRANK-T."""
    out = {}
    if "corrado" in tests:
        z = corrado(x.u_sum, x.cnt, x.n_est, x.windows)
        out["corrado"] = (z, _estats.two_sided_norm(z))
    if "cz_sign" in tests:
        z = cz_sign(x.g_sum, x.cnt, n, x.windows, x.n_est)
        out["cz_sign"] = (z, _estats.two_sided_norm(z))
    if "grank" in tests:
        a_sum, b_sum, u0_sum = x.grank
        out["grank"] = grank(a_sum, b_sum, u0_sum, x.cnt[:x.n_est], n, x.n_est) if n > 1 else \
            (np.full(x.car.shape[0], np.nan),) * 2        # S_SCAR needs two events
    return out


def _portfolio(x: GroupInput, tests: tuple[str, ...]) -> dict:
    """Brown-Warner crude dependence adjustment and Lamb (1995), both scaled by the sd of the estimation-window
    AAR series (ddof 1)."""
    out = {}
    if not {"bw_cda", "lamb"} & set(tests):
        return out
    series = x.e_aar[np.isfinite(x.e_aar)]
    sd = series.std(ddof=1) if series.size > 1 else np.nan
    lengths = x.windows.sum(axis=1)
    if "bw_cda" in tests:
        z = (x.windows @ np.nan_to_num(x.aar)) / (np.sqrt(lengths) * sd)
        out["bw_cda"] = (z, _estats.two_sided_t(z, float(max(series.size - 1, 0))))
    if "lamb" in tests:
        daily = x.aar / (sd * np.sqrt(x.lev_mean))
        z = (x.windows @ np.nan_to_num(daily)) / np.sqrt(lengths)
        out["lamb"] = (z, _estats.two_sided_norm(z))
    return out


def corrado(u_sum: np.ndarray, u_cnt: np.ndarray, n_est: int, windows: np.ndarray) -> np.ndarray:
    """Multi-period Corrado rank statistic per CAR window for one group (see the eventstudy docstring)."""
    ubar = np.where(u_cnt > 0, u_sum / np.where(u_cnt > 0, u_cnt, 1.0), np.nan)
    s_u = np.sqrt(np.nanmean(ubar ** 2))
    evt = np.nan_to_num(ubar[n_est:])
    return (windows @ evt) / (np.sqrt(windows.sum(axis=1)) * s_u)


def cz_sign(g_sum: np.ndarray, cnt: np.ndarray, n: int, windows: np.ndarray, n_est: int) -> np.ndarray:
    """Multi-period Corrado-Zivney (1992) sign statistic per CAR window (estudy2's ``corrado_sign_test``
    summed over the window): S_t = sum_i G_it / sqrt(n_t); S_G = sqrt(sum_t S_t^2 / Mbar), Mbar = mean number
    of valid periods per event over the combined window; Z = sum_{t in w} S_t / (sqrt(L_w) S_G)."""
    s_t = np.where(cnt > 0, g_sum / np.sqrt(np.where(cnt > 0, cnt, 1.0)), 0.0)
    m_bar = cnt.sum() / n
    s_g = np.sqrt((s_t ** 2).sum() / m_bar)
    return (windows @ s_t[n_est:]) / (np.sqrt(windows.sum(axis=1)) * s_g)


def bootstrap(e_aar: np.ndarray, caar: np.ndarray, lengths: np.ndarray, n_boot: int, block: int, alpha: float,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Basic moving-block bootstrap CI of CAAR per window from the estimation-window AAR series."""
    lo, hi = np.full(caar.size, np.nan), np.full(caar.size, np.nan)
    if n_boot == 0:
        return lo, hi
    for w, length in enumerate(lengths):
        sums = _estats.block_bootstrap_sums(e_aar, int(length), n_boot, block, rng)
        if np.isfinite(sums).all():
            q_lo, q_hi = np.quantile(sums, [alpha / 2.0, 1.0 - alpha / 2.0])
            lo[w], hi[w] = caar[w] - q_hi, caar[w] - q_lo
    return lo, hi
