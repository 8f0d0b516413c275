"""Tidy frames of :mod:`capflow.eventstudy` (private): group frames now, per-event tables on request.

The per-event tables (``ar``: one row per event and period, ``car``: per event and window, ``fit``: per event)
are built from the run's arrays only when first read: the engine keeps CAR-level arrays and coefficients, and
the AR table is recomputed chunk by chunk from them (same fit, same numbers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capflow import _estats
from capflow._es_common import window_label
from capflow._es_engine import Plan, Run, ar_chunk
from capflow._es_tests import GroupInput, bootstrap, group_tests


def event_columns(ev: pd.DataFrame, kept: np.ndarray, repeats: int | np.ndarray) -> dict[str, object]:
    """event_id, asset and group of the kept events, each repeated ``repeats`` times (fresh arrays).

    pandas infers the column dtypes once, on the events (as a frame built from the repeated object arrays
    would, at 20x the cost); object columns are then passed as object Series so that no second inference runs.
    """
    small = pd.DataFrame({c: ev[c].to_numpy()[kept] for c in ("event_id", "asset", "group")})
    take = np.repeat(np.arange(kept.size), repeats)
    return {c: pd.Series(col.to_numpy().take(take), dtype=object, copy=False) if col.dtype == object
            else col.array.take(take) for c, col in small.items()}


def frame(columns: dict[str, object]) -> pd.DataFrame:
    """DataFrame over freshly built column arrays without the consolidation copy (every array is our own)."""
    return pd.DataFrame(columns, copy=False)


# ----------------------------------------------------------------------------------------- per-event tables
def ar_table(plan: Plan, ev: pd.DataFrame, kept: np.ndarray, chunk_size: int) -> pd.DataFrame:
    """event_id, asset, group, rel, timestamp, ret, normal, ar, sar: one row per kept event and existing
    event-window period."""
    parts = [ar_chunk(plan, kept[s:s + chunk_size]) for s in range(0, kept.size, chunk_size)]
    cols5 = ("ret", "normal", "ar", "sar")
    if parts:
        res = {k: np.concatenate([p[k] for p in parts]) for k in ("rows", "valid") + cols5}
    else:
        res = {"rows": np.zeros((0, plan.evt_rels.size), int), "valid": np.zeros((0, plan.evt_rels.size), bool)}
        res.update({k: np.zeros((0, plan.evt_rels.size)) for k in cols5})
    valid = res["valid"]
    if valid.all():  # every event-window cell exists: plain reshapes
        cols = event_columns(ev, kept, valid.shape[1])
        cols.update(rel=np.tile(plan.evt_rels, valid.shape[0]), timestamp=plan.cal.index.take(res["rows"].ravel()))
        cols.update({k: res[k].ravel() for k in cols5})
        return frame(cols)
    e, j = np.nonzero(valid)
    cols = event_columns(ev, kept, np.count_nonzero(valid, axis=1))
    cols.update(rel=plan.evt_rels[j], timestamp=plan.cal.index.take(res["rows"][e, j]))
    cols.update({k: res[k][e, j] for k in cols5})
    return frame(cols)


def car_table(plan: Plan, ev: pd.DataFrame, kept: np.ndarray, res: dict, cars: tuple) -> pd.DataFrame:
    """event_id, asset, group, window, start, end, car, car_se, scar, t, p, bhar: one row per kept event and
    CAR window."""
    n, n_w = res["car"].shape
    bounds = np.array(cars, dtype=np.int64)                      # (W, 2) relative periods
    a, k = plan.asset[kept], plan.k0[kept]
    first = plan.cal.row_at(a, k[:, None] + bounds[None, :, 0])
    last = plan.cal.row_at(a, k[:, None] + bounds[None, :, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(res["var_car"])
    scar = res["scar"]
    idx = plan.cal.index
    cols = event_columns(ev, kept, n_w)
    cols.update({
        "window": np.tile(np.array([window_label(w) for w in cars], dtype=object), n),
        "start": idx.take(first.ravel()), "end": idx.take(last.ravel()),
        "car": res["car"].ravel(), "car_se": se.ravel(), "scar": scar.ravel(), "t": scar.ravel().copy(),
        "p": _estats.two_sided_t(scar, res["dof"][:, None]).ravel(), "bhar": res["bhar"].ravel()})
    return frame(cols)


def fit_table(plan: Plan, ev: pd.DataFrame, kept: np.ndarray, res: dict) -> pd.DataFrame:
    """event_id, asset, group, n_obs, dof, sigma and the coefficients (``alpha``, ``beta`` or ``beta_<factor>``;
    Dimson: ``beta_lag-1`` .. ``beta_lag+1`` and ``beta`` = their sum): one row per kept event."""
    cols = event_columns(ev, kept, 1)
    cols.update(n_obs=res["T"].astype(np.int64), dof=res["dof"], sigma=np.sqrt(res["s2"]))
    names = plan.design.names
    for j, name in enumerate(names):
        cols[name] = res["beta"][:, j].copy()
    if plan.design.lags:
        cols["beta"] = res["beta"][:, 1:].sum(axis=1)
    return frame(cols)


# ---------------------------------------------------------------------------------------------- group frames
def members_of(gid_kept: np.ndarray, n_groups: int) -> list[np.ndarray | slice]:
    """Rows of the kept events of each group (ascending); group 0 = all (a slice: no copy of its arrays)."""
    out: list[np.ndarray | slice] = [slice(None)]
    if n_groups <= 8:
        return out + [np.flatnonzero(gid_kept == g) for g in range(1, n_groups)]
    order = np.argsort(gid_kept, kind="stable")
    bounds = np.searchsorted(gid_kept[order], np.arange(n_groups + 1))
    return out + [order[bounds[g]:bounds[g + 1]] for g in range(1, n_groups)]


def group_frames(run: Run, plan: Plan, groups: list[str], members: list, scar_t: np.ndarray, tests: tuple[str, ...],
                 cars: tuple, params: dict, grank_sums: tuple | None) -> tuple[pd.DataFrame, ...]:
    """AAR, CAAR (with bootstrap CI), statistics and r-bar frames, one block per group (``members``: rows of
    each group, see :func:`members_of`; ``scar_t``: the SCARs window by window, (W, n))."""
    labels = np.array([window_label(w) for w in cars], dtype=object)
    rng = np.random.default_rng(params["seed"])
    res, sums, n_est = run.res, run.sums, plan.est_rels.size
    car_t = np.ascontiguousarray(res["car"].T)                   # (W, n): window by window
    bhar_t = np.ascontiguousarray(res["bhar"].T)
    blocks = {"aar": [], "caar": [], "stats": []}
    for g, name in enumerate(groups):
        sel = members[g]
        n = run.kept.size if g == 0 else sel.size
        cnt = sums.cnt[g]
        with np.errstate(invalid="ignore", divide="ignore"):
            aar = np.where(cnt[n_est:] > 0, sums.ar[g] / np.maximum(cnt[n_est:], 1), np.nan)
            e_aar = np.where(cnt[:n_est] > 0, sums.e[g] / np.maximum(cnt[:n_est], 1), np.nan)
        blocks["aar"].append((name, aar, np.rint(cnt[n_est:]).astype(np.int64)))
        car_g = car_t[:, sel]
        caar = car_g.mean(axis=1) if n else np.full(len(cars), np.nan)
        lo, hi = bootstrap(e_aar, caar, plan.windows.sum(axis=1), params["n_boot"], params["block"],
                           params["alpha"], rng)
        blocks["caar"].append((name, caar, n, lo, hi))
        x = _group_input(run, plan, g, sel, car_g, scar_t, bhar_t, e_aar, aar, grank_sums)
        blocks["stats"].append((name, n, group_tests(tests, x)))
    return (_aar_frame(blocks["aar"], plan.evt_rels), _caar_frame(blocks["caar"], labels),
            _stats_frame(blocks["stats"], labels),
            pd.DataFrame({"group": groups, "rbar": run.rbar, "n": run.n_group.astype(np.int64)}))


def _group_input(run: Run, plan: Plan, g: int, sel: np.ndarray, car_g: np.ndarray, scar_t: np.ndarray,
                 bhar_t: np.ndarray, e_aar: np.ndarray, aar: np.ndarray, grank_sums: tuple | None) -> GroupInput:
    s, res, n_est = run.sums, run.res, plan.est_rels.size
    with np.errstate(invalid="ignore", divide="ignore"):
        lev = s.lev[g] / s.cnt[g, n_est:] if s.lev is not None else None
    gr = None
    if grank_sums is not None:
        gr = (s.a[g], grank_sums[0][g], grank_sums[1][g])
    return GroupInput(car_g, scar_t[:, sel], bhar_t[:, sel], res["dof"][sel],
                      res["pos_frac"][sel] if "pos_frac" in res else None, float(run.rbar[g]), plan.windows,
                      n_est, e_aar, aar, s.cnt[g], s.u[g] if s.u is not None else None,
                      s.g[g] if s.g is not None else None, lev, gr)


def _aar_frame(blocks: list, rels: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "group": np.repeat(np.array([b[0] for b in blocks], dtype=object), rels.size),
        "rel": np.tile(rels, len(blocks)), "aar": np.concatenate([b[1] for b in blocks]),
        "caar": np.concatenate([np.nancumsum(b[1]) for b in blocks]),
        "n": np.concatenate([b[2] for b in blocks])})


def _caar_frame(blocks: list, labels: np.ndarray) -> pd.DataFrame:
    w = labels.size
    return pd.DataFrame({
        "group": np.repeat(np.array([b[0] for b in blocks], dtype=object), w), "window": np.tile(labels, len(blocks)),
        "caar": np.concatenate([b[1] for b in blocks]), "n": np.repeat([b[2] for b in blocks], w).astype(np.int64),
        "boot_lo": np.concatenate([b[3] for b in blocks]), "boot_hi": np.concatenate([b[4] for b in blocks])})


def _stats_frame(blocks: list, labels: np.ndarray) -> pd.DataFrame:
    w = labels.size
    group, test, stat, pval, n = [], [], [], [], []
    for name, n_g, tests in blocks:
        for t, (s, p) in tests.items():
            group.append(name)
            test.append(t)
            stat.append(np.broadcast_to(np.asarray(s, dtype=float), (w,)))
            pval.append(np.broadcast_to(np.asarray(p, dtype=float), (w,)))
            n.append(n_g)
    k = len(group)
    return pd.DataFrame({
        "group": np.repeat(np.array(group, dtype=object), w), "window": np.tile(labels, k),
        "test": np.repeat(np.array(test, dtype=object), w),
        "statistic": np.concatenate(stat) if stat else np.zeros(0),
        "p_value": np.concatenate(pval) if pval else np.zeros(0),
        "n": np.repeat(np.array(n, dtype=np.int64), w)})
