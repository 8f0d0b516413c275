"""Who transmits shocks to whom: Diebold-Yilmaz (2012) connectedness from a VAR and its generalized FEVD.

A VAR(p) with a constant is fitted by OLS (``statsmodels.tsa.api.VAR``) to daily close-only returns of a few
series (listwise-complete rows). Its moving-average matrices ``A_h`` (``A_0 = I``) and residual covariance
``Sigma`` give the generalized forecast-error variance decomposition of Pesaran & Shin (1998), which does not
depend on the ordering of the variables:

    theta_ij(H) = Sigma_jj^-1 * sum_{h<H} (e_i' A_h Sigma e_j)^2 / sum_{h<H} (e_i' A_h Sigma A_h' e_i)

(``Sigma_jj`` is the variance of shock ``j``; DY 2012 write "standard deviation", the GIRF scaling squared).
Rows do not sum to one, so each row is normalised: ``d_ij = theta_ij / sum_j theta_ij`` (rows sum to 100%).
``d_ij`` is the share of the ``H``-step forecast-error variance of ``i`` due to shocks in ``j``. From it:

- FROM others to ``i``: ``sum_{j != i} d_ij``; TO others from ``j``: ``sum_{i != j} d_ij`` (column sum);
- NET of ``i``: TO - FROM (positive: a net transmitter);
- pairwise net from ``i`` to ``j``: ``d_ji - d_ij``;
- total connectedness: ``sum_{i != j} d_ij / K`` (the mean FROM), the share of forecast-error variance that
  comes from spillovers.

All measures are fractions here (shown as percentages). The rolling version refits the VAR with the full-sample
lag order on each window of ``window`` complete rows. Point estimates: no standard errors are computed.

References: Diebold & Yilmaz (2012) "Better to give than to receive", IJF 28(1); Pesaran & Shin (1998)
"Generalized impulse response analysis in linear multivariate models", Economics Letters 58(1).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from capflow.divergence.sample import DivergenceError

#: Lag-order criteria accepted by :func:`select_lags`.
CRITERIA: tuple[str, ...] = ("aic", "bic", "hqic", "fpe")


def generalized_fevd(ma: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Row-normalised generalized forecast-error variance decomposition (Pesaran-Shin; module docstring).

    Parameters
    ----------
    ma : ndarray, shape (H, K, K)
        Moving-average matrices ``A_0 = I, A_1, ..., A_{H-1}`` of the VAR (``VARResults.ma_rep(H - 1)``).
    sigma : ndarray, shape (K, K)
        Residual covariance matrix (any positive scale: the result is invariant to it).

    Returns
    -------
    ndarray, shape (K, K)
        ``d[i, j]``: share of variable ``i``'s H-step forecast-error variance due to shocks in ``j``; rows sum to 1.
    """
    ma, sigma = np.asarray(ma, float), np.asarray(sigma, float)
    if ma.ndim != 3 or ma.shape[1:] != sigma.shape or sigma.shape[0] != sigma.shape[1]:
        raise DivergenceError(f"parameter ma must have shape (H, K, K) matching sigma (K, K); got {ma.shape} "
                              f"and {sigma.shape}")
    a_sigma = ma @ sigma                                            # (H, K, K): A_h Sigma
    num = (a_sigma ** 2).sum(axis=0) / np.diag(sigma)[None, :]      # sum_h (e_i' A_h Sigma e_j)^2 / Sigma_jj
    den = np.einsum("hik,hik->i", a_sigma, ma)                      # sum_h e_i' A_h Sigma A_h' e_i
    theta = num / den[:, None]
    return theta / theta.sum(axis=1, keepdims=True)


def directional(d: np.ndarray) -> dict[str, np.ndarray | float]:
    """TO, FROM, NET (per variable) and total connectedness of a row-normalised table ``d`` (fractions)."""
    off = d - np.diag(np.diag(d))
    to, frm = off.sum(axis=0), off.sum(axis=1)
    return {"to": to, "from": frm, "net": to - frm, "total": float(off.sum() / d.shape[0])}


@dataclass
class Connectedness:
    """Full-sample connectedness (fractions; see the module docstring).

    Attributes
    ----------
    table : DataFrame
        ``d``: rows = receiving variable, columns = shocked variable; rows sum to 1.
    directional : DataFrame
        Indexed by variable: ``to``, ``from``, ``net``, ``own`` (the diagonal).
    pairwise_net : DataFrame
        ``[i, j] = d_ji - d_ij``: net transmission from ``i`` to ``j`` (antisymmetric).
    total : float
    lags, horizon, n : int
        VAR lag order, forecast horizon (rows) and number of complete rows used.
    start, end : Timestamp
        First and last row used.
    """

    table: pd.DataFrame
    directional: pd.DataFrame
    pairwise_net: pd.DataFrame
    total: float
    lags: int
    horizon: int
    n: int
    start: pd.Timestamp
    end: pd.Timestamp


def _complete(returns: pd.DataFrame, min_rows: int) -> pd.DataFrame:
    data = returns.dropna()
    if len(data) < min_rows:
        raise DivergenceError(f"connectedness needs at least {min_rows} complete rows of "
                              f"{list(returns.columns)}; got {len(data)}")
    return data


def select_lags(returns: pd.DataFrame, max_lags: int = 5, criterion: str = "bic") -> int:
    """VAR lag order chosen by ``criterion`` among 1..``max_lags`` (listwise-complete rows; at least 1)."""
    from statsmodels.tsa.api import VAR

    if criterion not in CRITERIA:
        raise DivergenceError(f"parameter criterion={criterion!r} is not valid; use one of {', '.join(CRITERIA)}")
    data = _complete(returns, 10 * max_lags + returns.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chosen = VAR(data.to_numpy(float)).select_order(int(max_lags)).selected_orders[criterion]
    return max(1, int(chosen))


def _fit_gfevd(values: np.ndarray, lags: int, horizon: int) -> np.ndarray:
    from statsmodels.tsa.api import VAR

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = VAR(values).fit(lags, trend="c")
    return generalized_fevd(res.ma_rep(horizon - 1), res.sigma_u)


def var_connectedness(returns: pd.DataFrame, lags: int, horizon: int = 10) -> Connectedness:
    """Diebold-Yilmaz connectedness of the columns of ``returns`` (module docstring).

    Parameters
    ----------
    returns : DataFrame
        Daily returns, one column per variable (UTC DatetimeIndex); rows with any NaN are dropped.
    lags : int
        VAR lag order (see :func:`select_lags`).
    horizon : int
        Forecast horizon ``H`` in rows (sessions).
    """
    if lags < 1 or horizon < 1:
        raise DivergenceError(f"parameters lags={lags} and horizon={horizon} must both be at least 1")
    data = _complete(returns, 5 * lags * returns.shape[1] + 10)
    d = _fit_gfevd(data.to_numpy(float), lags, horizon)
    names = [str(c) for c in data.columns]
    dirs = directional(d)
    table = pd.DataFrame(d, index=names, columns=names)
    frame = pd.DataFrame({"to": dirs["to"], "from": dirs["from"], "net": dirs["net"], "own": np.diag(d)},
                         index=names)
    pair = pd.DataFrame(d.T - d, index=names, columns=names)
    return Connectedness(table, frame, pair, dirs["total"], lags, horizon, len(data), data.index[0], data.index[-1])


def rolling_connectedness(returns: pd.DataFrame, window: int, lags: int, horizon: int = 10,
                          step: int = 1) -> pd.DataFrame:
    """Total and NET connectedness on rolling windows of ``window`` complete rows.

    Parameters
    ----------
    returns : DataFrame
        As in :func:`var_connectedness`.
    window : int
        Complete rows per window (DY 2012 use 200).
    lags, horizon : int
        Fixed VAR lag order and forecast horizon for every window.
    step : int
        Rows between consecutive window ends (1: every row).

    Returns
    -------
    DataFrame
        Indexed by the date of each window's last row: ``total`` and one ``net:<variable>`` column per variable.
    """
    data = returns.dropna()
    k = data.shape[1]
    if window < 5 * lags * k + 10 or window > len(data):
        raise DivergenceError(f"parameter connectedness_window={window} is not valid for {k} variables with "
                              f"{lags} lag(s) and {len(data)} complete rows; use {5 * lags * k + 10}..{len(data)}")
    values = data.to_numpy(float)
    ends = range(window, len(data) + 1, max(1, int(step)))
    rows = []
    for stop in ends:
        dirs = directional(_fit_gfevd(values[stop - window:stop], lags, horizon))
        rows.append([dirs["total"], *dirs["net"]])
    cols = ["total"] + [f"net:{c}" for c in data.columns]
    return pd.DataFrame(rows, index=data.index[[s - 1 for s in ends]], columns=cols)
