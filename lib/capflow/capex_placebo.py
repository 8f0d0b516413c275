"""Placebo dates for the capex study: the same releases moved to random non-release sessions.

Each draw moves every release to a random NYSE session between the first and last real release and more than
``exclude`` sessions from every real release (seeded), keeping its company, timing and surprise, and re-runs the
same pipeline: event times by the anchor rule, CARs from the event-study engine, the same regression per
(group, window). The empirical distribution of the coefficient gives ``p_placebo = (1 + #{|b_placebo| >= |b|}) /
(1 + n_draws)``.

:func:`placebo_study` (what :func:`capflow.capex_inference.run_study` uses) makes ONE event-study call over the
distinct (asset, placebo session) pairs of all draws, gathers the CARs into (draw x release-asset) arrays by
integer indexing and solves every draw's regression together as batched normal equations;
:func:`placebo_panel` + :func:`placebo_coefficients` is the straightforward reference path (tested equal).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from capflow import capex as _cx
from capflow.capex import CapexError
from capflow.capex_design import _naive_dates, panel_subsets as _subsets, session_index


def _placebo_draws(catalog: pd.DataFrame, n_placebo: int, seed: int = 0, exclude: int = 5,
                   calendar: str = "XNYS", avoid: pd.Series | None = None) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Candidate placebo sessions and the seeded pick, shape (n_placebo, len(catalog)), of positions into them.

    Candidates lie between the first and last real release and more than ``exclude`` sessions from every one
    (``avoid``: all release dates, default those of ``catalog``).
    """
    avoid = catalog["announce_date"] if avoid is None else avoid
    first = min(_naive_dates(avoid).min(), _naive_dates(catalog["announce_date"]).min())
    opens = _cx.session_opens(calendar, first)
    real = session_index(avoid, calendar, opens)
    pos = np.arange(real.min(), real.max() + 1)
    near = (np.abs(pos[:, None] - real[None, :]) <= exclude).any(axis=1)
    cand = opens.index[pos[~near]]
    if len(cand) == 0:
        raise CapexError(f"parameter exclude={exclude}: no non-release sessions left for placebo dates")
    rng = np.random.default_rng(seed)
    return cand, rng.integers(0, len(cand), size=(n_placebo, len(catalog)))


def placebo_catalog(catalog: pd.DataFrame, n_placebo: int, seed: int = 0, exclude: int = 5,
                    calendar: str = "XNYS", avoid: pd.Series | None = None) -> pd.DataFrame:
    """``n_placebo`` copies of the catalog with each release moved to a random non-release session.

    Candidate sessions lie between the first and last release and more than ``exclude`` sessions from every
    real release (``avoid``: all release dates, default those of ``catalog``). Timing, company and surprise
    stay with the release; only the date is random (seeded).

    Returns
    -------
    DataFrame
        Catalog columns plus ``draw`` (0..n-1) and ``orig_announcement_id``; ``announcement_id`` is
        ``P<draw>:<original id>`` (distinct across draws).
    """
    cand, pick = _placebo_draws(catalog, n_placebo, seed, exclude, calendar, avoid)
    out = catalog.iloc[np.tile(np.arange(len(catalog)), n_placebo)].reset_index(drop=True)
    out["draw"] = np.repeat(np.arange(n_placebo), len(catalog))
    out["orig_announcement_id"] = out["announcement_id"]
    out["announce_date"] = cand[pick.ravel()]
    out["announcement_id"] = "P" + out["draw"].astype(str) + ":" + out["orig_announcement_id"]
    return out


def _solve(xtx: np.ndarray, xty: np.ndarray) -> np.ndarray:
    """Batched normal equations: LU solves, or the pseudo-inverse (as OLS through ``pinv``) when a draw's
    matrix is singular (a fixed-effect level with no observation in that draw)."""
    try:
        return np.linalg.solve(xtx, xty[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return np.einsum("dkl,dl->dk", np.linalg.pinv(xtx), xty)


def _batched_coef(static: np.ndarray, y: np.ndarray, mr: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Coefficient of column 1 of ``[static, market_ret]`` per draw (row of ``y``); NaN cells masked out.

    ``static`` (r, k) is shared by all draws; ``y``, ``mr`` are (draws, r). Normal equations for all draws
    from matrix products: ``X_d'X_d = sum_r m_dr x_r x_r'``. Rows with the same static row (one release seen
    by several assets of a group) are summed first, so the products run over the distinct static rows only.
    """
    mask = np.isfinite(y) & np.isfinite(mr)
    m = mask.astype(float)
    y0, mr0 = np.where(mask, y, 0.0), np.where(mask, mr, 0.0)
    k = static.shape[1]
    uniq, inv = np.unique(static, axis=0, return_inverse=True)
    order = np.argsort(inv.ravel(), kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(inv.ravel()[order]) != 0])
    outer = (uniq[:, :, None] * uniq[:, None, :]).reshape(len(uniq), k * k)

    def summed(a: np.ndarray) -> np.ndarray:
        return np.add.reduceat(a[:, order], starts, axis=1)

    out = np.empty(len(y))
    for s in range(0, len(y), chunk):
        sl = slice(s, s + chunk)
        xtx = np.empty((len(m[sl]), k + 1, k + 1))
        xtx[:, :k, :k] = (summed(m[sl]) @ outer).reshape(-1, k, k)
        xtx[:, :k, k] = xtx[:, k, :k] = summed(mr0[sl]) @ uniq
        xtx[:, k, k] = (mr0[sl] ** 2).sum(axis=1)
        xty = np.concatenate([summed(y0[sl]) @ uniq, (mr0[sl] * y0[sl]).sum(axis=1)[:, None]], axis=1)
        out[sl] = _solve(xtx, xty)[:, 1]
    return out


def _static_design(meta: pd.DataFrame, fe: Sequence[str]) -> np.ndarray:
    """``[1, surprise, fixed-effect dummies (first level dropped)]`` of the placebo regression rows."""
    static = [np.ones(len(meta)), meta["surprise"].to_numpy(float)]
    for f in fe:
        static.append(pd.get_dummies(meta[f].astype(str), drop_first=True, dtype=float).to_numpy())
    return np.column_stack(static)


def _cell_coef(meta: pd.DataFrame, y: np.ndarray, mr: np.ndarray, fe: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Placebo coefficients of one (group, window) cell: (draws kept, coef); ``y``/``mr`` (draws, rows of meta).

    Rows (release x asset) never observed and draws with no observation are left out, as in a per-draw fit.
    """
    seen = np.isfinite(y)
    cols, draws = seen.any(axis=0), np.flatnonzero(seen.any(axis=1))
    if not (cols.all() and len(draws) == len(y)):
        meta, y, mr = meta[cols], y[np.ix_(draws, cols)], mr[np.ix_(draws, cols)]
    return draws, _batched_coef(_static_design(meta, fe), y, mr)


def placebo_coefficients(ppanel: pd.DataFrame, groups: Sequence[str] | None = None) -> pd.DataFrame:
    """Coefficient of ``surprise`` for every placebo draw and (group, window), batched over draws.

    The straightforward path over a long placebo panel (:func:`placebo_panel`); :func:`run_study` uses
    :func:`placebo_study`, which gives the same coefficients without building that panel.

    Parameters
    ----------
    ppanel : DataFrame
        Placebo panel: ``draw, orig_announcement_id, asset, company, group, window, car, market_ret, surprise``.

    Returns
    -------
    DataFrame
        ``draw, group, window, coef`` (same specification as :func:`regression_table`).
    """
    out = []
    for window, wpanel in ppanel.groupby("window", sort=False):
        for name, sub, fe in _subsets(wpanel, groups):
            sub = sub.dropna(subset=["surprise"])
            key = sub["orig_announcement_id"] + "|" + sub["asset"] + "|" + sub["group"]
            y = sub.assign(key=key).pivot_table(index="draw", columns="key", values="car", aggfunc="first",
                                                dropna=False)
            mr = sub.assign(key=key).pivot_table(index="draw", columns="key", values="market_ret",
                                                 aggfunc="first", dropna=False).reindex_like(y)
            meta = sub.assign(key=key).drop_duplicates("key").set_index("key").loc[y.columns]
            draws, coef = _cell_coef(meta, y.to_numpy(float), mr.to_numpy(float), fe)
            out.append(pd.DataFrame({"draw": y.index[draws], "group": name, "window": window, "coef": coef}))
    return pd.concat(out, ignore_index=True)


def placebo_summary(placebo: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Per (group, window): the real coefficient, the placebo mean/sd/2.5%/97.5% and the two-sided
    empirical p-value ``(1 + #{|b_placebo| >= |b|}) / (1 + n_draws)``."""
    real = table.set_index(["group", "window"])["coef"]
    g = placebo.dropna(subset=["coef"]).groupby(["group", "window"], sort=False)["coef"]
    s = g.agg(placebo_mean="mean", placebo_sd="std", placebo_lo=lambda v: v.quantile(0.025),
              placebo_hi=lambda v: v.quantile(0.975), n_draws="size")
    s["coef"] = real.reindex(s.index)
    exceed = placebo.merge(real.rename("real").reset_index(), on=["group", "window"])
    exceed = (exceed["coef"].abs() >= exceed["real"].abs()).groupby([exceed["group"], exceed["window"]]).sum()
    s["p_placebo"] = (1 + exceed.reindex(s.index).fillna(0)) / (1 + s["n_draws"])
    return s.reset_index()


def _attach(panel: pd.DataFrame, surprise: pd.Series, key: str = "announcement_id") -> pd.DataFrame:
    return panel.merge(surprise.rename("surprise"), left_on=key, right_index=True, how="left")


def placebo_panel(catalog: pd.DataFrame, surprise: pd.Series, returns: pd.DataFrame, groups: Sequence[str],
                  n_placebo: int, seed: int, avoid: pd.Series | None = None, **car_kwargs) -> pd.DataFrame:
    """The long placebo panel (one row per draw, release, asset and window), with ONE event-study call.

    The straightforward path, kept for inspection and as the reference of :func:`placebo_study` (which
    :func:`run_study` uses: same draws and coefficients without this panel, ~3M rows for 999 draws of the
    snapshot study). Identical (asset, timestamp) pairs across draws are computed once and mapped back.

    Returns
    -------
    DataFrame
        ``event_id, announcement_id, company, asset, group, timestamp, announce_date, timing, draw,
        orig_announcement_id, window, car, market_ret, surprise``.
    """
    pcat = placebo_catalog(catalog, n_placebo, seed, avoid=avoid)
    pev = _cx.study_events(pcat, groups).merge(pcat[["announcement_id", "draw", "orig_announcement_id"]],
                                               on="announcement_id")
    uniq = pev.drop_duplicates(["asset", "timestamp"])[["asset", "timestamp", "group", "company"]].copy()
    uniq["event_id"] = "U" + pd.Series(np.arange(len(uniq)), index=uniq.index).astype(str)
    uniq["announcement_id"], uniq["announce_date"], uniq["timing"] = uniq["event_id"], pd.NaT, "after close"
    car, _ = _cx.car_panel(uniq, returns, tests=("t_cs",), **car_kwargs)
    keyed = car.merge(uniq[["event_id", "timestamp"]], on="event_id")[
        ["asset", "timestamp", "window", "car", "market_ret"]]
    out = pev.merge(keyed, on=["asset", "timestamp"], how="inner")
    return _attach(out, surprise, "orig_announcement_id")


def _unique_releases(catalog: pd.DataFrame, cand: pd.DatetimeIndex, pick: np.ndarray
                     ) -> tuple[pd.DataFrame, np.ndarray]:
    """Distinct placebo releases (session, ticker, timing) over all draws and each draw's index into them.

    Returns
    -------
    (DataFrame, ndarray)
        Catalog-like frame ``announcement_id`` (``U<i>``), ``ticker, announce_date, timing``; and ``inv``
        shaped like ``pick``: the distinct release of (draw, real release).
    """
    q, levels = pd.factorize(catalog["ticker"].astype(str) + "\x00" + catalog["timing"].astype(str))
    first = np.unique(q, return_index=True)[1]                    # a release of each (ticker, timing) profile
    code, inv = np.unique(pick * len(levels) + q[None, :], return_inverse=True)
    src = first[code % len(levels)]
    ucat = pd.DataFrame({"announcement_id": [f"U{i}" for i in range(len(code))],
                         "ticker": catalog["ticker"].to_numpy()[src], "announce_date": cand[code // len(levels)],
                         "timing": catalog["timing"].to_numpy()[src]})
    return ucat, inv.reshape(pick.shape)


def _engine_cars(ucat: pd.DataFrame, groups: Sequence[str], returns: pd.DataFrame, assets: pd.Index,
                 car_kwargs: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """CAR and market return of every distinct (asset, timestamp) of the placebo releases, ONE engine call
    (no bootstrap, one cheap test: only the CARs are used).

    Returns
    -------
    (lookup, car, market_ret, dropped)
        ``lookup`` (distinct releases, assets): engine-event index or -1; ``car``/``market_ret`` (engine events
        + 1, windows) with a last all-NaN row (so index -1 and events the engine dropped read NaN);
        ``dropped``: engine drop reason -> number of distinct events.
    """
    uev = _cx.study_events(ucat, groups)
    a_code, a_uniq = pd.factorize(uev["asset"])
    t_code, t_uniq = pd.factorize(uev["timestamp"])
    v, key = pd.factorize(a_code.astype(np.int64) * len(t_uniq) + t_code)     # distinct (asset, timestamp)
    eng = pd.DataFrame({"event_id": np.arange(len(key)), "asset": np.asarray(a_uniq)[key // len(t_uniq)],
                        "timestamp": t_uniq[key % len(t_uniq)], "group": "placebo"})
    lookup = np.full((len(ucat), len(assets)), -1)
    lookup[pd.Index(ucat["announcement_id"]).get_indexer(uev["announcement_id"]),
           assets.get_indexer(uev["asset"])] = v
    panel, res = _cx.car_panel(eng, returns, n_boot=0, tests=("t_cs",), **car_kwargs)
    labels = pd.Index(_cx.windows_label(car_kwargs.get("windows", _cx.DEFAULT_WINDOWS)))
    car, mr = (np.full((len(key) + 1, len(labels)), np.nan) for _ in range(2))
    at = (panel["event_id"].to_numpy(int), labels.get_indexer(panel["window"]))
    car[at], mr[at] = panel["car"].to_numpy(float), panel["market_ret"].to_numpy(float)
    dropped = res.dropped["reason"].value_counts().to_dict() if len(res.dropped) else {}
    return lookup, car, mr, {str(k): int(v) for k, v in dropped.items()}


def placebo_study(catalog: pd.DataFrame, surprise: pd.Series, returns: pd.DataFrame, groups: Sequence[str],
                  n_placebo: int, seed: int, avoid: pd.Series | None = None, exclude: int = 5,
                  calendar: str = "XNYS", **car_kwargs) -> pd.DataFrame:
    """Placebo coefficients of every draw and (group, window), from ONE event-study call and matrix algebra.

    Same draws (:func:`placebo_catalog`) and coefficients as :func:`placebo_coefficients` on
    :func:`placebo_panel`, without the long panel: the CARs of the distinct (asset, timestamp) pairs of all
    draws are computed once (no bootstrap), then gathered into (draw x release-asset) arrays by integer
    indexing, and each cell's regressions are solved for all draws at once.

    Parameters
    ----------
    catalog : DataFrame
        Releases with a surprise (``announcement_id, ticker, announce_date, timing``).
    surprise : Series
        Surprise indexed by ``announcement_id``.
    car_kwargs
        ``windows, market, model`` (and other :func:`capflow.capex.car_panel` options except ``n_boot``).

    Returns
    -------
    DataFrame
        ``draw, group, window, coef``; ``attrs["dropped"]``: engine drop reason -> number of distinct
        (asset, placebo session) events, ``attrs["n_events"]``: distinct events sent to the engine.
    """
    cand, pick = _placebo_draws(catalog, n_placebo, seed, exclude, calendar, avoid)
    ucat, inv = _unique_releases(catalog, cand, pick)
    base = _cx.study_events(catalog, groups)[["announcement_id", "company", "asset", "group"]]
    base = base.assign(surprise=surprise.reindex(base["announcement_id"]).to_numpy(float)).dropna(
        subset=["surprise"])
    base = base.iloc[np.argsort((base["announcement_id"] + "|" + base["asset"] + "|" + base["group"]).to_numpy(),
                                kind="stable")].reset_index(drop=True)
    assets = pd.Index(pd.unique(base["asset"]))
    lookup, car, mr, dropped = _engine_cars(ucat, groups, returns, assets, car_kwargs)
    rel = pd.Index(catalog["announcement_id"]).get_indexer(base["announcement_id"])
    idx = lookup[inv[:, rel], assets.get_indexer(base["asset"])[None, :]]      # (draws, rows of base)
    labels = _cx.windows_label(car_kwargs.get("windows", _cx.DEFAULT_WINDOWS))
    out = []
    for w, window in enumerate(labels):
        for name, sub, fe in _subsets(base, groups):
            cols = sub.index.to_numpy()
            draws, coef = _cell_coef(sub, car[idx[:, cols], w], mr[idx[:, cols], w], fe)
            out.append(pd.DataFrame({"draw": draws, "group": name, "window": window, "coef": coef}))
    result = pd.concat(out, ignore_index=True)
    result.attrs.update({"dropped": dropped, "n_events": int(len(car) - 1)})
    return result
