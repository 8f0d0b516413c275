"""Inference for the capex study: CAR-on-surprise regressions that fit ~100 clustered events.

One call, :func:`run_study`, goes catalog -> surprises -> events -> ONE event study -> regressions per (group,
window) with cluster-robust, Driscoll-Kraay and wild-cluster-bootstrap inference -> placebo dates ->
leave-one-company-out. The pieces live in:

* :mod:`capflow.capex_design`: design matrices in numpy (built once per window, subsets as row masks), OLS with
  CRV1 / Driscoll-Kraay / HC1 covariances, the restricted wild-cluster bootstrap on cluster sums;
* :mod:`capflow.capex_placebo`: placebo dates (one engine call for all draws, batched regressions).

Model (one row per release x asset x window): ``car = a + b * surprise + c * market_ret + FE + e`` with company
fixed effects (and asset-group fixed effects when groups are pooled); see :mod:`capflow.capex_design` for the
standard errors and the bootstrap. Nothing here prints or warns: what was skipped is returned (``attrs`` and the
fields of :class:`CapexStudy`) for the caller's notes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from capflow import capex as _cx
from capflow.capex import CapexError
from capflow.capex_design import (COVS, WEIGHTS, Design, Fit, PanelArrays, check_min, cluster_codes,  # noqa: F401
                                  cluster_cov, cluster_weights, design, driscoll_kraay_cov, fit_design,
                                  fit_regression, hc1_cov, panel_arrays, panel_subsets, partial_out, session_index,
                                  subset_design, subset_masks, wild_cluster_bootstrap)
from capflow.capex_placebo import (_attach, placebo_catalog, placebo_coefficients, placebo_panel,  # noqa: F401
                                   placebo_study, placebo_summary)

log = logging.getLogger(__name__)

#: Engine tests computed for the real releases (the CAAR table shows the Kolari-Pynnonen-adjusted BMP test).
CAAR_TESTS: tuple[str, ...] = ("kp",)


# ----------------------------------------------------------------------------------------------------------------
# tables over groups and windows
# ----------------------------------------------------------------------------------------------------------------
def _window_len(label: str) -> int:
    a, b = (int(v) for v in label.strip("[]").split(","))
    return max(b - a, 1)


def regression_table(panel: pd.DataFrame, groups: Sequence[str] | None = None, n_boot: int = 999,
                     weights: str = "rademacher", seed: int = 0, alpha: float = 0.05,
                     min_events: int = 10) -> pd.DataFrame:
    """Coefficient of ``surprise`` per (group, window): pooled and per group, clustered, HAC and bootstrap.

    Each window's panel becomes arrays once (:func:`capflow.capex_design.panel_arrays`); every cell is a row mask.

    Parameters
    ----------
    panel : DataFrame
        From :func:`capflow.capex.car_panel` plus ``surprise`` and ``announce_date``.
    n_boot, weights, seed
        Wild-cluster bootstrap draws, weight distribution, base seed (each cell gets ``seed + 100 * window
        number + cell number``).

    Returns
    -------
    DataFrame
        One row per (group, window): ``coef``, ``n``, ``n_clusters``, ``se_/p_/lo_/hi_`` for ``cluster``,
        ``hac``, ``hc1`` and ``boot`` (wild-cluster bootstrap p-value and interval), plus ``t_cluster``.
    """
    rows = []
    for w_i, (window, wpanel) in enumerate(panel.groupby("window", sort=False)):
        arrays = panel_arrays(wpanel, fixed_effects=("company", "group"))
        for g_i, (name, mask, fe) in enumerate(subset_masks(arrays, groups)):
            d = subset_design(arrays, mask, fe)
            check_min(d.n_clusters, min_events, f"group {name}, window {window}")
            f = fit_design(d, 1, _window_len(window), alpha)
            wb = wild_cluster_bootstrap(d.y, d.X, d.clusters, col=1, n_boot=n_boot, weights=weights,
                                        seed=seed + 100 * w_i + g_i, alpha=alpha)
            rows.append({"group": name, "window": window, **f.row(), "t_cluster": wb["t"], "p_boot": wb["p"],
                         "lo_boot": wb["lo"], "hi_boot": wb["hi"]})
    return pd.DataFrame(rows)


def leave_one_company_out(panel: pd.DataFrame, groups: Sequence[str] | None = None, alpha: float = 0.05,
                          min_events: int = 5) -> pd.DataFrame:
    """Every (group, window) fit repeated without each company's releases (clustered SEs).

    Returns
    -------
    DataFrame
        ``dropped, group, window, coef, se_cluster, p_cluster, n, n_clusters``. A fit with fewer than
        ``min_events`` clusters left is skipped and named in ``attrs["skipped"]`` (one string each).
    """
    rows, skipped = [], []
    companies = sorted(panel["company"].unique())
    for window, wpanel in panel.groupby("window", sort=False):
        arrays = panel_arrays(wpanel, fixed_effects=("company", "group"))
        company = arrays.column("company")
        cells = subset_masks(arrays, groups if groups is not None else list(pd.unique(wpanel["group"])))
        for dropped in companies:
            for name, mask, fe in cells:
                d = subset_design(arrays, mask & (company != dropped), fe)
                if d.n_clusters < min_events:
                    skipped.append(f"without {dropped}, {name} {window}: {d.n_clusters} announcement dates "
                                   f"(< {min_events})")
                    continue
                f = fit_design(d, 1, _window_len(window), alpha)
                rows.append({"dropped": dropped, "group": name, "window": window, "coef": f.coef,
                             "se_cluster": f.se["cluster"], "p_cluster": f.p["cluster"], "n": f.n,
                             "n_clusters": f.n_clusters})
    cols = ["dropped", "group", "window", "coef", "se_cluster", "p_cluster", "n", "n_clusters"]
    out = pd.DataFrame(rows, columns=cols)
    order = {c: i for i, c in enumerate(companies)}
    out = out.sort_values("dropped", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    out.attrs["skipped"] = skipped
    return out


def cell_partial(panel: pd.DataFrame, group: str, window: str, groups: Sequence[str] | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Residualized surprise and CAR of one (group, window) cell (:func:`capflow.capex_design.partial_out`):
    the added-variable plot, whose slope is the cell's coefficient."""
    arrays = panel_arrays(panel[panel["window"] == window], fixed_effects=("company", "group"), with_periods=False)
    cells = {name: (mask, fe) for name, mask, fe in subset_masks(arrays, groups)}
    if group not in cells:
        raise CapexError(f"parameter group={group!r} is not a cell; valid: {', '.join(cells)}")
    mask, fe = cells[group]
    return partial_out(subset_design(arrays, mask, fe))


# ----------------------------------------------------------------------------------------------------------------
# the whole study
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class CapexStudy:
    """Everything the capex report shows (tidy frames) plus the parameters used and what was skipped.

    ``placebo_dropped``: engine drop reason -> count over the distinct (asset, placebo session) events;
    ``loo_skipped``: leave-one-out fits skipped for too few clusters.
    """

    catalog: pd.DataFrame
    surprises: pd.DataFrame
    panel: pd.DataFrame
    event_result: object
    coefficients: pd.DataFrame
    placebo: pd.DataFrame
    placebo_summary: pd.DataFrame
    leave_one_out: pd.DataFrame
    timing: pd.DataFrame
    params: dict
    provenance: pd.DataFrame = field(default_factory=pd.DataFrame)
    placebo_dropped: dict = field(default_factory=dict)
    loo_skipped: list = field(default_factory=list)


def _provenance(returns: pd.DataFrame) -> pd.DataFrame:
    from capflow.data import provenance_table

    return provenance_table(returns) if returns.attrs.get("provenance") else pd.DataFrame()


def load_study_returns(catalog: pd.DataFrame, events: pd.DataFrame, market: str) -> pd.DataFrame:
    """Returns of every event asset and the market, 420 days before the first release to 30 after the last
    (:func:`capflow.capex.study_returns`: nothing printed, drops and messages in ``attrs``)."""
    start = catalog["announce_date"].min() - pd.Timedelta(days=420)
    end = catalog["announce_date"].max() + pd.Timedelta(days=30)
    return _cx.study_returns([*events["asset"].unique(), market], start, end)


def run_study(catalog: pd.DataFrame, measure: str = "yoy", groups: Sequence[str] = _cx.DEFAULT_GROUPS,
              windows: Sequence[tuple[int, int]] = _cx.DEFAULT_WINDOWS, market: str = "QQQ",
              model: str = "constant_mean", n_boot: int = 199, n_placebo: int = 99, weights: str = "rademacher",
              seed: int = 0, min_events: int = 15, alpha: float = 0.05, returns: pd.DataFrame | None = None,
              estimation_window: tuple[int, int] = (-250, -11), min_estimation: int = 60) -> CapexStudy:
    """Catalog -> surprises -> events -> ONE event study -> regressions, bootstrap, placebo, leave-one-out.

    Parameters
    ----------
    catalog : DataFrame
        From :func:`capflow.capex.load_announcements`.
    measure : str
        Surprise measure, one of :data:`capflow.capex.MEASURES`.
    groups : sequence of str
        Asset groups (registry tags) plus ``own`` (the reporting company).
    windows : sequence of (int, int)
        CAR windows in trading periods of each asset.
    market : str
        Market proxy (control ``market_ret``).
    n_boot, n_placebo, weights, seed
        Wild-cluster-bootstrap draws, placebo draws, bootstrap weights, seed of all randomness.
    min_events : int
        Fewer announcement dates with a surprise and CARs -> :class:`CapexError`.
    returns : DataFrame, optional
        Simple returns to use instead of loading them (studies pass what they loaded; tests synthetic ones).
    estimation_window, min_estimation
        The engine's estimation window (trading periods) and the fewest estimation returns an event needs.
    """
    surprise = _cx.capex_surprise(catalog, measure).set_axis(catalog["announcement_id"])
    usable = catalog[surprise.notna().to_numpy()]
    check_min(usable["announce_date"].nunique(), min_events, f"the catalog with a {measure} surprise")
    events = _cx.study_events(catalog, groups)
    returns = load_study_returns(catalog, events, market) if returns is None else returns
    kw = dict(windows=windows, market=market, model=model, estimation_window=tuple(estimation_window),
              min_estimation=min_estimation)
    panel, res = _cx.car_panel(events, returns, n_boot=n_boot, seed=seed, tests=CAAR_TESTS, **kw)
    panel = _attach(panel, surprise)
    check_min(panel.dropna(subset=["surprise", "car"])["announce_date"].nunique(), min_events,
              f"the CAR panel with a {measure} surprise")
    table = regression_table(panel, groups, n_boot, weights, seed, alpha, min_events=min(min_events, 10))
    placebo = pd.DataFrame(columns=["draw", "group", "window", "coef"])
    if n_placebo:
        placebo = placebo_study(usable, surprise, returns, groups, n_placebo, seed + 1,
                                avoid=catalog["announce_date"], **kw)
    loo = leave_one_company_out(panel, groups, alpha)
    params = {"measure": measure, "groups": list(groups), "windows": [list(w) for w in windows], "market": market,
              "model": model, "n_boot": n_boot, "n_placebo": n_placebo, "weights": weights, "seed": seed,
              "min_events": min_events, "alpha": alpha, "estimation_window": list(estimation_window),
              "min_estimation": min_estimation}
    return CapexStudy(catalog, _cx.surprise_table(catalog), panel, res, table, placebo,
                      placebo_summary(placebo, table) if len(placebo) else pd.DataFrame(), loo,
                      _cx.timing_rules(), params, _provenance(returns),
                      placebo_dropped=dict(placebo.attrs.get("dropped", {})), loo_skipped=loo.attrs["skipped"])
