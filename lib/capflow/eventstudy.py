"""Event studies on a returns panel: abnormal returns, CAR/CAAR/BHAR and a battery of test statistics.

Two entry points, :func:`event_study` (returns) and :func:`abnormal_volume` (log trading volume), vectorized over
events with numpy (no Python loop per event: events are processed in stacked arrays, in chunks of a few thousand
to bound memory).

Conventions
-----------
* ``returns``: DataFrame indexed by a sorted, unique UTC DatetimeIndex, one column per asset id, SIMPLE returns.
  NaN means "no trading period on that row": each asset's trading periods are its own finite rows, and every
  window is counted in those periods (an equity's day -1 before a Monday event is the Friday).
* Event anchor (relative period 0): the asset's first trading period whose timestamp is >= the event timestamp.
  When the index sits on a regular grid (every label a multiple of the smallest spacing, e.g. midnight dates
  or whole hours; bars labelled by their open time as in the snapshot), event timestamps are first floored to
  that grid, so the bar containing the event is period 0 (an event at 14:30 on a daily index is that date; a
  Saturday event is Monday for an equity, Saturday for crypto; 13:30 on hourly data is the 13:00 bar).
* Windows are inclusive ``(first, last)`` relative periods. The estimation window must not overlap the event
  window (:class:`EventStudyError` otherwise); every CAR window must lie inside the event window.

Drop rules (one reason per event, checked in this order, counted in ``result.dropped`` and logged as one
warning summary):

1. ``"asset not in returns"``: the asset has no column in ``returns``.
2. ``"no benchmark returns"``: no benchmark column for the event (market models).
3. ``"missing event-window returns"``: the asset has no trading period at/after the event, or the CAR span
   (from the earliest to the latest CAR-window period) runs outside the asset's data. Rule: an event is
   dropped if any return inside the largest CAR span is missing. Inside the data a return is never
   "missing": a NaN row is, by definition, not a trading period of that asset (a Saturday for an equity).
   Event-window periods outside the CAR span and outside the data only leave those AR rows out.
4. ``"estimation overlaps event window"``: with ``overlap="drop"`` (default), the estimation window contains
   part of the event window of another event of the same asset (``overlap="keep"`` keeps it). Windows that
   overlap by construction (estimation_window meets event_window) raise :class:`EventStudyError` instead.
5. ``"no benchmark returns"``: a benchmark/factor value is missing on a trading period of the asset inside
   the CAR span. (Inside the estimation window such rows are just excluded from the fit.)
6. ``"too few estimation obs"``: fewer than ``min_estimation`` estimation periods with the return and every
   regressor present (periods before the asset's first row count as missing).
7. ``"degenerate estimation regressors"``: singular X'X (e.g. a constant benchmark).
8. ``"asset is its own benchmark"`` (checked first, market models): the event's benchmark column is the asset
   itself (bitcoin against a bitcoin market), so its AR is identically 0 and its variance degenerate.

Normal-return models (``model``)
--------------------------------
OLS on the estimation window, ``p`` parameters, residual variance ``s_i^2 = e'e / (T_i - p)`` (divisor
``T_i - p``; ``T_i`` for market-adjusted, ``p = 0``). ``constant_mean`` (p = 1), ``market_adjusted`` (AR = r - m,
p = 0), ``market`` (p = 2), ``factor`` (intercept + factors) and ``dimson``: the Dimson (1979) aggregated-
coefficients model for an asset on another clock than its benchmark (stale or asynchronous closes): regress
r_t on m_{t-L}, .., m_t, .., m_{t+L} (``dimson_lags`` = L, default 1; lags counted in the asset's own trading
periods, like every window), beta = the sum of the 2L + 1 slopes, and AR_t = r_t - alpha - beta m_t with alpha
the regression intercept (the standard use of the Dimson beta in event studies: the lead/lag regression is
only the estimator of the true beta). Dimson rather than Scholes-Williams (1977): it is ONE OLS regression, so
the prediction-error variance below stays exact with the event-window row g_t = (1, m_t, .., m_t) against that
regression's (X'X)^-1, and L > 1 comes free; Scholes-Williams combines three separate slopes and the market's
autocorrelation, for which no single (X'X)^-1 exists. ``result.fit`` lists each event's coefficients.

Prediction-error corrected variances (MacKinlay 1997, eq. 7 and 12; see :mod:`capflow._estats`):
Var(AR_it) = s_i^2 (1 + x*_t'(X'X)^-1 x*_t), Var(CAR_i) = s_i^2 (L + g'(X'X)^-1 g), g = window sums of the
event-window regressor rows x*_t (Dimson: x*_t = g_t above). SAR = AR / sd(AR), SCAR = CAR / sd(CAR).

Statistics
----------
Per group and CAR window (``n`` events, CAR_i, SCAR_i, L = window length, L1 = estimation window length);
``tests`` selects them (default: all of ``TESTS``); rows of ``result.stats``. Conventions where papers or
packages differ are stated; "estudy2" is the R package estudy2 (Rudnytskyi; R/parametric_tests.R,
R/nonparametric_tests.R, R/car_*_tests.R), whose formulas were read and are followed where they apply.

* ``t_cs``: mean(CAR) / (sd(CAR) / sqrt(n)), sd with ddof 1; t(n - 1).
* ``patell`` (Patell 1976): sum_i SCAR_i / sqrt(sum_i d_i / (d_i - 2)), d_i = T_i - p the residual degrees of
  freedom of event i; N(0,1). Multi-day form: the SCAR of the window (the CAR standardized by its own
  prediction-error variance), not a sum of daily SARs / sqrt(L) (EventStudy/EST sum the SARs; equal when the
  leverage terms vanish). estudy2's ``patell`` uses (T - 2) / (T - 4) with T the estimation length, i.e. the
  same d_i for the market model.
* ``bmp`` (Boehmer, Musumeci & Poulsen 1991): mean(SCAR) / (sd(SCAR) / sqrt(n)), sd of SCAR with ddof 1 (as
  estudy2's ``boehmer``); t(n - 1).
* ``kp`` (Kolari & Pynnonen 2010): t_BMP * sqrt((1 - rbar) / (1 + (n - 1) rbar)), rbar = mean pairwise
  correlation of estimation residuals over all pairs of the group, pairs in different date clusters counting
  as 0 (cluster = the events' ``cluster`` column if given, else the event timestamp); t(n - 1). ``result.rbar``
  lists rbar per group.
* ``kp_patell`` (Kolari & Pynnonen 2010, adjusted Patell): Patell Z * sqrt((1 - rbar) / (1 + (n - 1) rbar));
  N(0,1).
* ``corrado`` (Corrado 1989; multi-period form of Cowan 1992 / Campbell & Wasley 1993 with the
  Corrado-Zivney 1992 uniform ranks): per event rank the ARs over the combined estimation + event window,
  U_it = K_it / (M_i + 1) - 1/2 (average ranks for ties, as estudy2's ``rank(ties.method = "average")``);
  Ubar_t = mean over events with a rank at relative period t; S_U = sqrt(mean_t Ubar_t^2) over the combined
  window; statistic sum_{t in w} Ubar_t / (sqrt(L) S_U); N(0,1). For a single period it is Corrado's (1989)
  test (estudy2's ``modified_rank_test`` divides by mean M_i instead of the number of periods: equal without
  missing cells).
* ``gen_sign`` (Cowan 1992): p_hat = mean_i (share of positive estimation-window ARs of event i); w = number of
  positive CARs; (w - n p_hat) / sqrt(n p_hat (1 - p_hat)); N(0,1) (normal approximation of the binomial).
* ``sign`` (simple sign test; Brown & Warner 1980): w = number of positive CARs (0 is not positive);
  (w - n/2) / sqrt(n/4), the normal approximation of Binomial(n, 1/2) (estudy2's ``sign_test`` on the CAR);
  N(0,1). It assumes a median AR of 0, which skewed daily returns violate: ``gen_sign`` corrects for that.
* ``wilcoxon`` (Wilcoxon signed-rank on the CARs): zero CARs dropped, average ranks of |CAR|, W+ = sum of the
  ranks of the positive CARs (estudy2's ``wilcoxon_test`` statistic); reported as z = (W+ - N(N+1)/4) /
  sqrt(N(N+1)(2N+1)/24 - sum(t^3 - t)/48) (tie-corrected, no continuity correction; N non-zero CARs, t tie
  sizes; = scipy.stats.wilcoxon(method="approx", correction=False)); N(0,1). estudy2 reports W+ itself with
  exact signed-rank quantiles; W+ = N(N+1)/4 + z * sd.
* ``cz_sign`` (Corrado & Zivney 1992 sign test, multi-day form): G_it = sign(AR_it - median_i), median_i of the
  event's ARs over the combined estimation + event window (estimation residuals and event-window ARs);
  S_t = sum_i G_it / sqrt(n_t); S_G = sqrt(sum_t S_t^2 / Mbar) over the combined window, Mbar = mean number of
  valid periods per event (estudy2's ``corrado_sign_test``, whose daily statistic is S_0 / S_G); statistic
  sum_{t in w} S_t / (sqrt(L) S_G) (summed over the window like the multi-day Corrado test); N(0,1).
* ``grank`` (Kolari & Pynnonen 2011 GRANK-T, see :mod:`capflow._es_grank`): estimation SAR_it = e_it / s_i;
  the CAR collapsed into one period, SCAR*_i = SCAR_i / S_SCAR (S_SCAR: cross-sectional sd of the group's
  SCARs, ddof 1: robust to event-induced volatility); U_it = K_it / (T_i + 2) - 1/2 over the T_i + 1
  generalized SARs (average ranks); Ubar_t = mean over the n_t events; S_U = sqrt((1/T) sum_t (n_t/n) Ubar_t^2),
  T = L1 + 1; Z = Ubar_0 / S_U; t_grank = Z sqrt((T - 2) / (T - 1 - Z^2)); t(T - 2). Z^2 >= T - 1 (only with
  missing cells or an extreme effect) gives +-inf. Robust to cross-correlation because S_U is the time-series
  variation of the mean rank: the rank test for a cascade, where every asset shares one date.
* ``bw_cda`` (Brown & Warner 1980, 1985 crude dependence adjustment): sum_{t in w} AAR_t / (sqrt(L) sd(AAR_est)),
  sd (ddof 1, R's ``sd`` as in estudy2's ``brown_warner_1985``) of the group's estimation-window AAR series in
  event time (= estudy2's calendar-time series when the events share dates); this is estudy2's
  ``car_brown_warner_1985`` (sum of the daily statistics / sqrt(L)). p from t(M - 1), M = periods of the AAR
  series (Brown & Warner's degrees of freedom; estudy2's CAR version reads normal critical values).
* ``lamb`` (Lamb 1995, as estudy2's ``lamb`` / ``car_lamb``): daily Lamb_t = AAR_t / (sd(AAR_est) sqrt(c_t)),
  c_t = mean_i (1 + x*_t'(X'X)_i^-1 x*_t) (for a market model on one common benchmark and estimation period this
  is estudy2's 1 + 1/T + (Rm_t - mean Rm)^2 / sum (Rm - mean Rm)^2; the mean over events generalizes it to
  event time and to the other models); statistic sum_{t in w} Lamb_t / sqrt(L); N(0,1) (estudy2).
* ``bhar_skew_t`` (Lyon, Barber & Tsai 1999, eq. 5; Johnson 1978): S = mean(BHAR) / sd(BHAR),
  g = sum_i (BHAR_i - mean)^3 / (n sd^3), sd with ddof 1 (LBT's sample sd; EventStudy/EST use the adjusted
  skewness n / ((n - 1)(n - 2))); t_sa = sqrt(n) (S + g S^2 / 3 + g / (6 n)); t(n - 1) (equal to t_cs of the
  BHARs when g = 0).
* Bootstrap CI of CAAR (``result.caar``): moving blocks (length ``block``) of the group's demeaned
  estimation-window AAR series are resampled into ``n_boot`` sums of L periods (the noise of an L-period CAAR,
  cross-correlation and autocorrelation included); CI = [CAAR - q(1 - alpha/2), CAAR - q(alpha/2)] (basic
  bootstrap).

Abnormal volume (:func:`abnormal_volume`; Campbell & Wasley 1996, the EventStudyTools abnormal volume
calculator): v_it = log(V_it + offset) (log volume, offset 1 by default; CW 1996 use log(turnover + 0.000255)),
mean-adjusted model: AV_it = v_it - mean of v_i over the estimation window (the constant-mean model on v, so the
same anchor, windows, drop rules and prediction-error variance s^2 (L + L^2 / T)); per-event t = CAV / sd(CAV),
and the cross-sectional and portfolio statistics above on the CAVs (``bw_cda`` is CW's portfolio t-test).

Results (:class:`EventStudyResult`): ``aar``, ``caar``, ``stats``, ``rbar`` (r-bar per group), ``dropped`` and
``params`` are computed by :func:`event_study`; the per-event tables ``ar``, ``car`` and ``fit`` are built on
first access (then cached; pickling builds them first). The AR table is recomputed from the stored coefficients
by the same fit, so it holds the same numbers; until it is built the result keeps a reference to the returns
panel.

Performance (``benchmarks/bench_eventstudy.py``; layout in :mod:`capflow._es_engine`): events run in chunks of
``_CHUNK``; per chunk one gather of the combined window, one masked OLS (closed-form 2x2 inverse for the market
model), and one argsort per event for every rank statistic, whose group sums come from the sort order by
``bincount`` (rows with every cell valid and no tie add fixed position patterns); group sums run over the rows of
each chunk ordered by group (``np.add.reduceat``), so their cost does not grow with the number of groups; chunks
whose cells are all valid skip the masking passes; assets traded in one unbroken run keep no per-row index.
GRANK's second pass compares in float32 first (exact: see :mod:`capflow._es_grank`). Only CAR-level arrays are
kept per event, so 500,000 asset-events stay within a few hundred MiB. ``tests`` skips the work of the
statistics not asked for (ranks, r-bar, GRANK's second pass).
"""

from __future__ import annotations

import logging
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from capflow._es_calendar import Calendar as _Calendar
from capflow._es_calendar import floor_to_grid, utc_index
from capflow._es_common import MODELS, REASONS, TESTS, EventStudyError
from capflow._es_design import design as _design
from capflow._es_engine import Needs, Plan, run, structural_reasons
from capflow._es_frames import ar_table, car_table, fit_table, group_frames, members_of
from capflow._es_grank import scar_sd, threshold_sums
from capflow._es_pairs import Pairs

__all__ = ["event_study", "abnormal_volume", "EventStudyResult", "AbnormalVolumeResult", "EventStudyError",
           "MODELS", "TESTS", "VOLUME_TESTS", "REASONS"]

log = logging.getLogger(__name__)

VOLUME_TESTS = tuple(t for t in TESTS if t != "bhar_skew_t")
_CHUNK = 1024


class EventStudyResult:
    """Tidy outputs of :func:`event_study` (see the module docstring for formulas).

    Attributes
    ----------
    ar : event_id, asset, group, rel, timestamp, ret, normal, ar, sar (built on first access)
    car : event_id, asset, group, window, start, end, car, car_se, scar, t, p, bhar (built on first access)
    fit : event_id, asset, group, n_obs, dof, sigma, alpha, beta... (built on first access)
    aar : group, rel, aar, caar, n
    caar : group, window, caar, n, boot_lo, boot_hi
    stats : group, window, test, statistic, p_value, n
    rbar : group, rbar, n (Kolari-Pynnonen mean residual cross-correlation; NaN unless kp/kp_patell ran)
    dropped : event_id, asset, reason
    params : the inputs used
    """

    def __init__(self, ar: pd.DataFrame | Callable[[], pd.DataFrame], car: pd.DataFrame | Callable,
                 aar: pd.DataFrame, caar: pd.DataFrame, stats: pd.DataFrame, dropped: pd.DataFrame,
                 params: dict | None = None, rbar: pd.DataFrame | None = None,
                 fit: pd.DataFrame | Callable | None = None) -> None:
        self._tables = {"ar": ar, "car": car, "fit": fit}
        self.aar, self.caar, self.stats, self.dropped = aar, caar, stats, dropped
        self.params = params if params is not None else {}
        self.rbar = rbar if rbar is not None else pd.DataFrame(columns=["group", "rbar", "n"])

    def __getstate__(self) -> dict:
        """Pickling (and copying) builds the per-event tables first: the builders hold the returns panel."""
        for name in self._tables:
            self._table(name)
        return self.__dict__.copy()

    def _table(self, name: str) -> pd.DataFrame | None:
        t = self._tables[name]
        if callable(t):
            t = self._tables[name] = t()
        return t

    @property
    def ar(self) -> pd.DataFrame:
        """One row per kept event and event-window period (built on first access, then cached)."""
        return self._table("ar")

    @property
    def car(self) -> pd.DataFrame:
        """One row per kept event and CAR window (built on first access, then cached)."""
        return self._table("car")

    @property
    def fit(self) -> pd.DataFrame | None:
        """One row per kept event: estimation observations, residual sd and coefficients."""
        return self._table("fit")

    def summary(self) -> pd.DataFrame:
        """One row per (group, window): caar, n, bootstrap CI, and ``<test>`` / ``<test>_p`` for every test."""
        wide = self.stats.pivot_table(index=["group", "window"], columns="test", values=["statistic", "p_value"],
                                      sort=False)
        cols = {}
        for t in TESTS:
            if ("statistic", t) in wide.columns:
                cols[t] = wide[("statistic", t)]
                cols[f"{t}_p"] = wide[("p_value", t)]
        out = self.caar.set_index(["group", "window"]).join(pd.DataFrame(cols, index=wide.index))
        return out.reset_index()

    def __repr__(self) -> str:
        p = self.params
        return (f"EventStudyResult(model={p.get('model')!r}, events={p.get('n_events')}, kept={p.get('n_kept')}, "
                f"groups={p.get('groups')}, tests={p.get('tests')})")


class AbnormalVolumeResult:
    """Tidy outputs of :func:`abnormal_volume` (log-volume mean-adjusted model).

    Attributes
    ----------
    av : event_id, asset, group, rel, timestamp, log_volume, normal, av, sav (built on first access)
    cav : event_id, asset, group, window, start, end, cav, cav_se, t, p (built on first access)
    aav : group, rel, aav, caav, n
    stats : group, window, test, statistic, p_value, n
    dropped, params : as in :class:`EventStudyResult`
    """

    def __init__(self, res: EventStudyResult, centre: pd.Series | None = None) -> None:
        self._res, self._centre = res, centre
        self.aav = res.aar.rename(columns={"aar": "aav", "caar": "caav"})
        self.stats, self.dropped, self.params = res.stats, res.dropped, res.params

    @property
    def av(self) -> pd.DataFrame:
        out = self._res.ar.rename(columns={"ret": "log_volume", "ar": "av", "sar": "sav"})
        if self._centre is not None:  # back to log volumes (the engine saw them centred per asset)
            shift = out["asset"].map(self._centre).to_numpy(dtype=float)
            out["log_volume"] = out["log_volume"] + shift
            out["normal"] = out["normal"] + shift
        return out

    @property
    def cav(self) -> pd.DataFrame:
        return self._res.car.drop(columns=["scar", "bhar"]).rename(columns={"car": "cav", "car_se": "cav_se"})


# ----------------------------------------------------------------------------------------------- validation
def _window(value: object, name: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise EventStudyError(f"{name}={value!r} is not a pair of integers; use e.g. (-250, -11)") from exc
    if a > b:
        raise EventStudyError(f"{name}={value!r} starts after it ends; use (first, last) with first <= last")
    return a, b


def _check_windows(estimation_window, event_window, car_windows) -> tuple:
    est = _window(estimation_window, "estimation_window")
    evt = _window(event_window, "event_window")
    if not (est[1] < evt[0] or est[0] > evt[1]):
        raise EventStudyError(f"estimation_window={est} overlaps event_window={evt}; use disjoint windows "
                              "such as (-250, -11) and (-10, 10)")
    if isinstance(car_windows, tuple) and len(car_windows) == 2 and all(np.isscalar(v) for v in car_windows):
        car_windows = (car_windows,)
    cars = tuple(_window(w, "car_windows") for w in car_windows)
    if not cars:
        raise EventStudyError("car_windows is empty; give at least one window such as ((0, 0),)")
    bad = [w for w in cars if w[0] < evt[0] or w[1] > evt[1]]
    if bad:
        raise EventStudyError(f"car_windows {bad} fall outside event_window={evt}; widen event_window or "
                              "shrink the CAR windows")
    return est, evt, cars


def _check_scalars(model: str, overlap: str, min_estimation: int, est: tuple, n_boot: int, block: int,
                   alpha: float, n_factors: int, lags: int) -> None:
    if model not in MODELS:
        raise EventStudyError(f"model={model!r} is unknown; use one of {', '.join(MODELS)}")
    if overlap not in ("drop", "keep"):
        raise EventStudyError(f"overlap={overlap!r} is unknown; use 'drop' or 'keep'")
    if model == "dimson" and lags < 1:
        raise EventStudyError(f"dimson_lags={lags} is invalid; use an integer >= 1 (benchmark leads and lags)")
    n_par = {"constant_mean": 1, "market_adjusted": 0, "market": 2, "factor": 1 + n_factors,
             "dimson": 2 + 2 * lags}[model]
    if not n_par + 3 <= min_estimation <= est[1] - est[0] + 1:
        raise EventStudyError(f"min_estimation={min_estimation} must lie in [{n_par + 3}, "
                              f"{est[1] - est[0] + 1}] (parameters + 3 .. estimation_window length)")
    if n_boot < 0 or block < 1 or block > est[1] - est[0] + 1:
        raise EventStudyError(f"n_boot={n_boot}, block={block}: use n_boot >= 0 and 1 <= block <= "
                              "the estimation_window length")
    if not 0 < alpha < 1:
        raise EventStudyError(f"alpha={alpha} must lie strictly between 0 and 1")


def _check_tests(tests: Sequence[str] | str | None, valid: tuple[str, ...]) -> tuple[str, ...]:
    if tests is None:
        return valid
    names = (tests,) if isinstance(tests, str) else tuple(tests)
    bad = [t for t in names if t not in valid]
    if bad or not names:
        raise EventStudyError(f"tests={list(names)!r} has unknown or no names {bad}; use any of {', '.join(valid)}")
    return tuple(t for t in valid if t in names)


def _utc_stamps(col: pd.Series) -> pd.Series:
    """Event timestamps as UTC datetime64[ns] (naive = UTC); datetime columns skip the parser."""
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return col.dt.tz_convert("UTC").dt.as_unit("ns")
    if pd.api.types.is_datetime64_dtype(col.dtype):
        return col.dt.tz_localize("UTC").dt.as_unit("ns")
    try:
        return pd.to_datetime(col, utc=True).dt.as_unit("ns")
    except (ValueError, TypeError) as exc:
        raise EventStudyError(f"events.timestamp is not parseable as dates: {exc}") from exc


def _check_events(events: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(events, pd.DataFrame):
        raise EventStudyError(f"events must be a DataFrame, got {type(events).__name__}")
    missing = [c for c in ("event_id", "asset", "timestamp") if c not in events.columns]
    if missing:
        raise EventStudyError(f"events is missing columns {missing}; required: event_id, asset, timestamp "
                              "(optional: group, benchmark, cluster)")
    if events.empty:
        raise EventStudyError("events is empty; give at least one row (event_id, asset, timestamp)")
    if not events["event_id"].is_unique:
        dup = events.loc[events["event_id"].duplicated(), "event_id"].iloc[0]
        raise EventStudyError(f"events.event_id must be unique; {dup!r} repeats")
    ev = events.reset_index(drop=True).copy(deep=False)      # new columns below; the caller's frame is untouched
    ev["timestamp"] = _utc_stamps(ev["timestamp"])
    if ev["timestamp"].isna().any():
        raise EventStudyError("events.timestamp has missing values; every event needs a timestamp")
    ev["group"] = ev["group"].fillna("all").astype(str) if "group" in ev else "all"
    return ev


# -------------------------------------------------------------------------------------------------------- API
def event_study(returns: pd.DataFrame, events: pd.DataFrame, market: pd.DataFrame | pd.Series | None = None,
                benchmark: str | Mapping[str, str] | None = None, factors: pd.DataFrame | None = None,
                model: str = "market", estimation_window: Sequence[int] = (-250, -11),
                event_window: Sequence[int] = (-10, 10),
                car_windows: Sequence[Sequence[int]] = ((0, 0), (0, 1), (-1, 1), (0, 5), (-5, 10)),
                min_estimation: int = 60, n_boot: int = 1000, block: int = 5, seed: int = 0,
                alpha: float = 0.05, overlap: str = "drop", tests: Sequence[str] | None = None,
                dimson_lags: int = 1, estimation_exclude: pd.DataFrame | None = None) -> EventStudyResult:
    """Abnormal returns, CAR/BHAR, AAR/CAAR and test statistics for a table of events.

    Parameters
    ----------
    returns : DataFrame indexed by a sorted unique DatetimeIndex (UTC; naive = UTC), one column per asset id,
        simple returns; NaN = no trading period of that asset on that row.
    events : DataFrame with columns event_id (unique), asset, timestamp; optional group, benchmark (a column
        of ``market``) and cluster (date-cluster label for the Kolari-Pynnonen correlation).
    market : benchmark returns (DataFrame, or a Series for one benchmark) on the same kind of index; required
        for models "market", "market_adjusted" and "dimson".
    benchmark : market column for every event (str) or per asset ({asset: column}); used where events has no
        benchmark value. Not needed when ``market`` has one column.
    factors : factor returns (DataFrame) for model "factor" (regressors besides the intercept).
    model : "constant_mean" | "market_adjusted" | "market" | "factor" | "dimson".
    estimation_window, event_window : inclusive relative periods in each asset's own trading periods.
    car_windows : windows (inside event_window) for CAR, BHAR, CAAR and the statistics.
    min_estimation : fewer valid estimation observations drop the event.
    n_boot, block, seed, alpha : moving-block bootstrap of CAAR (n_boot=0 skips it); CI level 1 - alpha.
    overlap : "drop" (default) or "keep" events whose estimation window meets another event of the same asset.
    tests : names from ``TESTS`` to compute (default all); fewer tests skip their work (ranks, r-bar, GRANK's
        second pass).
    dimson_lags : leads and lags L of the benchmark for model "dimson" (regressors m_{t-L} .. m_{t+L}).
    estimation_exclude : boolean DataFrame on the returns' index and columns (missing cells False): True marks an
        observation that never enters an estimation sample (a catalogued crash, an earnings day), while it stays
        a trading period, so windows are counted as without it and event windows keep it.

    Event times: an event whose asset has an exchange calendar (``events.calendar``, else the asset registry) is
    placed by THE anchor rule, :func:`capflow.calendars.anchor` (after the close: the next session); other assets
    use the first trading period at or after the grid-floored time.

    Returns
    -------
    EventStudyResult
        Tidy frames keyed on event_id; group "all" always present. See the module docstring for the rules.
    """
    est, evt, cars = _check_windows(estimation_window, event_window, car_windows)
    ev = _check_events(events)
    chosen = _check_tests(tests, TESTS)
    n_fac = factors.shape[1] if isinstance(factors, pd.DataFrame) and model == "factor" else 0
    lags = int(dimson_lags) if model == "dimson" else 0
    _check_scalars(model, overlap, int(min_estimation), est, int(n_boot), int(block), float(alpha), n_fac, lags)
    _check_returns(returns)
    params = {"model": model, "estimation_window": est, "event_window": evt, "car_windows": cars,
              "min_estimation": int(min_estimation), "n_boot": int(n_boot), "block": int(block),
              "seed": seed, "alpha": float(alpha), "overlap": overlap, "tests": chosen, "dimson_lags": lags}
    cal = _Calendar.build(returns, utc_index(returns, "returns"))
    cal.exclude = _exclusion_array(estimation_exclude, returns)
    ev = _calendar_anchor(ev, cal.index)
    des = _design(model, ev, cal.index, market, benchmark, factors, lags)
    plan = _make_plan(cal, ev, des, est, evt, cars, overlap, int(min_estimation))
    return _study(plan, ev, cars, chosen, params)


def abnormal_volume(volumes: pd.DataFrame, events: pd.DataFrame, estimation_window: Sequence[int] = (-250, -11),
                    event_window: Sequence[int] = (-10, 10),
                    car_windows: Sequence[Sequence[int]] = ((0, 0), (0, 1), (-1, 1), (0, 5), (-5, 10)),
                    min_estimation: int = 60, offset: float = 1.0, overlap: str = "drop",
                    tests: Sequence[str] | None = ("t_cs", "patell", "bmp", "kp", "corrado", "sign", "wilcoxon",
                                                   "grank", "bw_cda")) -> AbnormalVolumeResult:
    """Abnormal log trading volume around events (Campbell & Wasley 1996; mean-adjusted log-volume model).

    Parameters
    ----------
    volumes : DataFrame like ``returns`` of :func:`event_study` (sorted unique DatetimeIndex, one column per
        asset), trading volume (shares, coins or turnover) >= 0; NaN = no trading period on that row.
    events : as for :func:`event_study` (event_id, asset, timestamp; optional group, cluster).
    estimation_window, event_window, car_windows, min_estimation, overlap : as for :func:`event_study`, with the
        same anchor and trading-period conventions.
    offset : v = log(volume + offset) (> 0; 1 for share counts, 0.000255 for percent turnover as in CW 1996).
    tests : names from ``VOLUME_TESTS`` (the returns battery without ``bhar_skew_t``), default the usual set.

    Returns
    -------
    AbnormalVolumeResult
        ``av`` (per event and period), ``cav`` (per event and window, t statistics), ``aav``, ``stats``.
    """
    if not isinstance(volumes, pd.DataFrame):
        raise EventStudyError(f"volumes must be a DataFrame (rows: timestamps, columns: assets), "
                              f"got {type(volumes).__name__}")
    if not (np.isfinite(offset) and offset > 0):
        raise EventStudyError(f"offset={offset!r} must be a positive number (v = log(volume + offset))")
    values = volumes.to_numpy(dtype=float)
    if (values < 0).any():
        raise EventStudyError("volumes has negative values; give trading volume >= 0 (NaN = no trading period)")
    logv = pd.DataFrame(np.log(values + offset), index=volumes.index, columns=volumes.columns)
    # Centre each asset's log volume on its median: the mean-adjusted model is invariant to a constant per asset
    # (abnormal volume, its variance, ranks and signs are unchanged), and the values then sit on the scale of
    # returns, which event_study checks (log volumes of 10-20 would read as price levels).
    centre = logv.median()
    logv = logv - centre
    chosen = _check_tests(tests, VOLUME_TESTS)
    res = event_study(logv, events, model="constant_mean", estimation_window=estimation_window,
                      event_window=event_window, car_windows=car_windows, min_estimation=min_estimation,
                      n_boot=0, overlap=overlap, tests=chosen)
    res.params.update(model="log_volume_mean_adjusted", offset=float(offset))
    return AbnormalVolumeResult(res, centre)


def _check_returns(returns: object) -> None:
    """A non-empty DataFrame of simple returns, not price levels (one line); non-finite cells are allowed: they
    mark periods that are not trading periods."""
    from capflow.checks import check_returns

    if not isinstance(returns, pd.DataFrame):
        raise EventStudyError(f"returns must be a DataFrame (rows: timestamps, columns: assets), "
                              f"got {type(returns).__name__}")
    check_returns(returns, "returns", EventStudyError, strict=False)


def _exclusion_array(exclude: pd.DataFrame | None, returns: pd.DataFrame) -> np.ndarray | None:
    """``estimation_exclude`` aligned on the returns panel as a bool array (None when nothing is excluded)."""
    if exclude is None:
        return None
    if not isinstance(exclude, pd.DataFrame):
        raise EventStudyError(f"estimation_exclude must be a boolean DataFrame on the returns' index and columns, "
                              f"got {type(exclude).__name__}")
    aligned = exclude.reindex(index=returns.index, columns=returns.columns).fillna(False).astype(bool)
    arr = aligned.to_numpy()
    return arr if arr.any() else None


def _calendar_anchor(ev: pd.DataFrame, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Event timestamps moved to the bar that holds them on each asset's calendar (THE anchor rule); assets
    without a known calendar keep their timestamps (the engine floors them to the grid)."""
    from capflow import calendars

    if len(index) > 1 and (index == index.normalize()).all():
        freq = "1d"
    elif len(index) > 1 and np.diff(index.asi8).min() == pd.Timedelta(hours=1).value:
        freq = "1h"
    else:
        return ev
    if "calendar" in ev.columns:
        codes = ev["calendar"]
    else:
        from capflow import assets as _assets

        codes = ev["asset"].astype(str).str.strip().str.lower().map(_assets.calendars_by_name())
    stamps = pd.DatetimeIndex(ev["timestamp"]).asi8.copy()
    for code in pd.unique(codes.dropna()):
        rows = np.flatnonzero((codes == code).to_numpy())
        try:
            stamps[rows] = calendars.anchor(pd.DatetimeIndex(ev["timestamp"].iloc[rows]), code, freq).asi8
        except calendars.CalendarError:
            continue  # outside the stored sessions: the engine's own rule
    out = ev.copy(deep=False)
    out["timestamp"] = pd.DatetimeIndex(stamps).tz_localize("UTC")
    return out


def _make_plan(cal: _Calendar, ev: pd.DataFrame, design, est: tuple, evt: tuple, cars: tuple, overlap: str,
               min_estimation: int) -> Plan:
    asset = cal.columns.get_indexer(ev["asset"].to_numpy())
    k0 = np.where(asset >= 0, cal.anchor(np.maximum(asset, 0), pd.DatetimeIndex(ev["timestamp"])), 0)
    reason = structural_reasons(cal, design, asset, k0, est, evt, cars, overlap)
    evt_rels = np.arange(evt[0], evt[1] + 1)
    windows = np.array([(evt_rels >= w[0]) & (evt_rels <= w[1]) for w in cars], dtype=float)
    span = windows.any(axis=0)
    span = (evt_rels >= evt_rels[span].min()) & (evt_rels <= evt_rels[span].max())
    return Plan(cal, design, asset, k0, reason, np.arange(est[0], est[1] + 1), evt_rels, windows, span,
                min_estimation)


def _study(plan: Plan, ev: pd.DataFrame, cars: tuple, tests: tuple[str, ...], params: dict) -> EventStudyResult:
    """Pass 1 (and GRANK's pass 2), then the group frames; per-event tables are left to first access."""
    codes, names = pd.factorize(ev["group"])
    groups = ["all"] + sorted(set(names) - {"all"})
    gidx = pd.Index(groups).get_indexer(names)[codes]
    need = Needs.of(tests)
    chunk = _CHUNK
    pairs = None
    if need.pairs:
        pairs = Pairs(plan.cal, plan.asset, plan.k0, plan.est_rels, ev, gidx, np.flatnonzero(plan.reason == 0))
    r = run(plan, gidx, len(groups), need, chunk, pairs)
    params = {**params, "rbar": dict(zip(groups, r.rbar.tolist()))}
    members = members_of(gidx[r.kept], len(groups))
    scar_t = np.ascontiguousarray(r.res["scar"].T)              # (W, n): window by window
    grank_sums = None
    if need.grank:
        grank_sums = threshold_sums(plan, r.kept, r.res, r.res["scar"], scar_sd(scar_t, members), gidx, chunk)
    aar, caar, stats, rbar = group_frames(r, plan, groups, members, scar_t, tests, cars, params, grank_sums)
    dropped = _dropped(ev, plan.reason)
    params = {**params, "n_events": len(ev), "n_kept": int(r.kept.size), "groups": groups,
              "n_anchored_later": _anchored_later(plan, ev, r.kept)}
    kept, res = r.kept, r.res
    return EventStudyResult(lambda: ar_table(plan, ev, kept, chunk), lambda: car_table(plan, ev, kept, res, cars),
                            aar, caar, stats, dropped, params, rbar, lambda: fit_table(plan, ev, kept, res))


def _dropped(ev: pd.DataFrame, reason: np.ndarray) -> pd.DataFrame:
    dropped = ev.loc[reason != 0, ["event_id", "asset"]].assign(
        reason=np.asarray(REASONS, dtype=object)[reason[reason != 0]]).reset_index(drop=True)
    if len(dropped):
        counts = dropped["reason"].value_counts()
        log.warning("event_study: dropped %d of %d events (%s)", len(dropped), len(ev),
                    "; ".join(f"{r}: {c}" for r, c in counts.items()))
    return dropped


def _anchored_later(plan: Plan, ev: pd.DataFrame, kept: np.ndarray) -> int:
    """Kept events whose period 0 is a later trading period than their (grid-floored) timestamp."""
    ts = floor_to_grid(plan.cal.index, pd.DatetimeIndex(ev["timestamp"])).asi8[kept]
    day0 = plan.cal.row_at(plan.asset[kept], plan.k0[kept])
    moved = int(np.count_nonzero(plan.cal.index.asi8[day0] != ts))
    if moved:
        log.info("event_study: %d kept events fell on a non-trading period of their asset and were anchored to "
                 "its next trading period", moved)
    return moved
