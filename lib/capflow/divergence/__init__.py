"""Divergence between AI equities and crypto: how much, when, who transmits shocks to whom, and do AI tokens trade
like AI or like crypto (DESIGN.md layer 4; the study shape is :mod:`capflow.studies.divergence`).

Modules, in the order data flows:

- :mod:`~capflow.divergence.sample`: baskets, base date and late starts, windows, basket membership, levels.
- :mod:`~capflow.divergence.clocks`: UTC closes vs intraday snapshots; the close-only statistics sample.
- :mod:`~capflow.divergence.windows`: the performance window (any end date) and the statistics sample.
- :mod:`~capflow.divergence.performance`: cumulative, year-to-date and drawdown at any end date, with the clock
  of each end value.
- :mod:`~capflow.divergence.stats`: rolling correlation/beta, the two-factor decomposition, log spread,
  cointegration, breaks, Markov regimes.
- :mod:`~capflow.divergence.spillover`: Diebold-Yilmaz (2012) connectedness from a VAR's generalized FEVD.
- :mod:`~capflow.divergence.prose`: key findings and method text computed from the numbers.
- :mod:`~capflow.divergence.sources`: the data-reading helpers (only the study's ``load_inputs`` calls them).

Frame contract: UTC DatetimeIndex, one column per asset id or basket name; returns are simple unless a name says
log. Nothing here prints or warns: drops and caveats are returned for the study's notes.
"""

from capflow.divergence.clocks import (BENCHMARK, SHORT_SERIES, ClockInfo, clock_info, clocks_of,
                                       close_clock_end, close_clock_ends, close_only_prices, truncate_short_series)
from capflow.divergence.performance import (Performance, asset_levels, end_values, performance, performance_table,
                                            year_end_before)
from capflow.divergence.sample import (DEFAULT_BASE, DEFAULT_BASKETS, DivergenceError, basket_exits,
                                       basket_membership, basket_table, check_windows, default_end, first_prices,
                                       last_prices, levels, levels_to_last, membership_cut, membership_end,
                                       membership_spans, resolve_baskets, start_dates, thin_tail, uncapped_days)
from capflow.divergence.spillover import (Connectedness, directional, generalized_fevd, rolling_connectedness,
                                          select_lags, var_connectedness)
from capflow.divergence.stats import (CoMovement, Regimes, change_points, chow_test, co_movement, cointegration,
                                      log_spread, markov_regimes, rolling_betas, rolling_corr_beta,
                                      rolling_correlations, rolling_two_factor)
from capflow.divergence.windows import (PerformanceWindow, StatsSample, performance_end, performance_window,
                                        statistics_sample)

__all__ = [
    "BENCHMARK", "SHORT_SERIES", "ClockInfo", "clock_info", "clocks_of", "close_clock_end", "close_clock_ends",
    "close_only_prices", "truncate_short_series", "Performance", "asset_levels", "end_values", "performance",
    "performance_table", "year_end_before", "DEFAULT_BASE", "DEFAULT_BASKETS", "DivergenceError", "basket_exits",
    "basket_membership", "basket_table", "check_windows", "default_end", "first_prices", "last_prices", "levels",
    "levels_to_last", "membership_cut", "membership_end", "membership_spans", "resolve_baskets", "start_dates",
    "thin_tail", "uncapped_days", "Connectedness", "directional", "generalized_fevd", "rolling_connectedness",
    "select_lags", "var_connectedness", "CoMovement", "Regimes", "change_points", "chow_test", "co_movement",
    "cointegration", "log_spread", "markov_regimes", "rolling_betas", "rolling_corr_beta", "rolling_correlations",
    "rolling_two_factor", "PerformanceWindow", "StatsSample", "performance_end", "performance_window",
    "statistics_sample",
]
