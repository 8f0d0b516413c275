"""Liquidation cascades: the sourced event catalog, detection from prices, raw moves, clean estimation windows,
intraday anatomy, derivatives context and bands. Pure functions, frames in and frames out.

Price frames follow :func:`capflow.data.load_prices`: a wide frame indexed by UTC timestamp (daily bars labelled
by UTC date, intraday bars by their open time), one column per asset id. Nothing here invents a value: where the
data lacks something, the result says so.

Modules
-------
- :mod:`~capflow.cascade.catalog`: :func:`read_catalog`, :func:`merge_catalogs`, :func:`load_catalog`.
- :mod:`~capflow.cascade.detect`: :func:`drawdown_24h`, :func:`volume_zscore`, :func:`detect_cascades`.
- :mod:`~capflow.cascade.anatomy`: :func:`peak_trough`, :func:`first_crossing`, :func:`lead_lag`,
  :func:`crash_anatomy`, :func:`load_hourly`.
- :mod:`~capflow.cascade.derivatives`: :func:`derivatives_context`.
- :mod:`~capflow.cascade.bands`: :func:`caar_path_bands`, :func:`study_summary`.
- :mod:`~capflow.cascade.events`: :func:`cascade_events`, :func:`load_cascade_study`.
"""

from capflow.cascade._base import CascadeError
from capflow.cascade.anatomy import (Anatomy, crash_anatomy, drawdown_paths, first_crossing, half_recovery,
                                     lead_lag, lead_lag_summary, load_hourly, peak_trough)
from capflow.cascade.bands import caar_path_bands, study_summary
from capflow.cascade.catalog import CATALOG_COLUMNS, CATALOG_PATH, load_catalog, merge_catalogs, read_catalog
from capflow.cascade.derivatives import DerivativesContext, derivatives_context
from capflow.cascade.detect import (cascade_scores, detect_cascades, drawdown_24h, load_detection_inputs,
                                    volume_zscore)
from capflow.cascade.events import CascadeStudyInputs, cascade_events, load_cascade_study

__all__ = ["CascadeError", "Anatomy", "crash_anatomy", "drawdown_paths", "first_crossing", "half_recovery",
           "lead_lag", "lead_lag_summary", "load_hourly", "peak_trough", "caar_path_bands", "study_summary",
           "CATALOG_COLUMNS", "CATALOG_PATH", "load_catalog", "merge_catalogs", "read_catalog",
           "DerivativesContext", "derivatives_context", "cascade_scores", "detect_cascades", "drawdown_24h",
           "load_detection_inputs", "volume_zscore", "CascadeStudyInputs", "cascade_events", "load_cascade_study"]
