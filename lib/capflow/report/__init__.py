"""Reports: run notebooks with papermill (parameters validated first), HTML, an index and a run manifest.

Public API
----------
- :func:`load_runs`, :func:`select`, :class:`RunSpec`: the run list (``reports.yaml``).
- :func:`notebook_parameters`, :func:`validate_parameters`, :func:`parse_assignments`, :class:`ParameterError`.
- :func:`run_reports` -> :class:`ReportOutcome`: execute, render, write ``index.html`` and ``manifest.json``;
  offline runs unchanged since their last success are skipped unless ``force=True``
  (:mod:`capflow.report.fingerprint`: hash cache, fingerprints, recorded durations for longest-first scheduling).
- :mod:`capflow.report.kernel`: report kernels over IPC with their stderr captured and filtered.
- :mod:`capflow.report.pool`: the warm kernel pool (``--jobs N`` kernels started once, heavy modules pre-imported,
  state reset between runs by :mod:`capflow.report.kernelside`, a dead or timed-out kernel replaced);
  ``run_reports(isolate=True)`` runs each notebook in a fresh kernel instead.
- :func:`detect_data_mode`, :class:`DataMode`, :func:`kernel_env`, :func:`redact`: data mode and secrets.
"""

from capflow.report.environment import DataMode, detect_data_mode, kernel_env, redact, secret_values
from capflow.report.params import (ParameterError, ParameterSpec, notebook_parameters, parse_assignments,
                                   validate_parameters)
from capflow.report.pipeline import ReportOutcome, prepare, run_reports
from capflow.report.runs import RunListError, RunSpec, load_runs, select

__all__ = ["DataMode", "detect_data_mode", "kernel_env", "redact", "secret_values", "ParameterError",
           "ParameterSpec", "notebook_parameters", "parse_assignments", "validate_parameters", "ReportOutcome",
           "prepare", "run_reports", "RunListError", "RunSpec", "load_runs", "select"]
