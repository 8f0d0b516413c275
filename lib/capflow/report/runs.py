"""The run list (``reports.yaml``): which notebook runs under which name with which parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from capflow import config
from capflow.report.params import ParameterError, notebook_parameters, suggest, validate_parameters


class RunListError(ValueError):
    """``reports.yaml`` is malformed or a requested run name does not exist (one line)."""


@dataclass(frozen=True)
class RunSpec:
    """One entry of ``reports.yaml``.

    Attributes
    ----------
    name : str
        Unique run name (also its output folder).
    notebook : Path
        Absolute notebook path (``.ipynb`` or jupytext ``.py``).
    parameters : dict
        Values from the run list (validated with :meth:`resolve`).
    """

    name: str
    notebook: Path
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        """True when the notebook file is on disk."""
        return self.notebook.is_file()

    def resolve(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Validated parameters: run-list values, then ``overrides`` (from ``-p``), defaults not included.

        Raises
        ------
        ParameterError
            An unknown name, a wrong type or an invalid value (one line naming the run and the parameter).
        """
        specs = notebook_parameters(self.notebook)
        try:
            return validate_parameters(specs, {**self.parameters, **(overrides or {})}, notebook=self.notebook.stem)
        except ParameterError as exc:
            raise ParameterError(f"run {self.name}: {exc}") from None


def load_runs(path: str | Path | None = None) -> list[RunSpec]:
    """Read the run list (default :data:`capflow.config.REPORTS_YAML`); notebook paths are relative to it.

    Raises
    ------
    RunListError
        Missing file, a malformed entry, or a duplicated name.
    """
    path = Path(path) if path else config.REPORTS_YAML
    if not path.is_file():
        raise RunListError(f"run list {path} does not exist; pass --config FILE or create reports.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise RunListError(f"{path}: expected a top-level 'runs:' list of {{name, notebook, parameters}}")
    runs, seen = [], set()
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not e.get("name") or not e.get("notebook"):
            raise RunListError(f"{path}: runs[{i}] needs 'name' and 'notebook' (got {e!r})")
        if e["name"] in seen:
            raise RunListError(f"{path}: run name {e['name']!r} is used twice; names must be unique")
        if not isinstance(e.get("parameters") or {}, dict):
            raise RunListError(f"{path}: runs[{i}].parameters must be a mapping of name: value")
        seen.add(e["name"])
        nb = Path(e["notebook"])
        runs.append(RunSpec(str(e["name"]), nb if nb.is_absolute() else (path.parent / nb).resolve(),
                            dict(e.get("parameters") or {})))
    return runs


def select(runs: list[RunSpec], names: Iterable[str] = (), all_runs: bool = False) -> list[RunSpec]:
    """The runs to execute: every run with ``all_runs``, else those named (in the order given).

    Raises
    ------
    RunListError
        No selection, or an unknown name (with the nearest valid ones).
    """
    names = list(names)
    valid = [r.name for r in runs]
    if all_runs:
        return list(runs)
    if not names:
        raise RunListError(f"name the runs to execute or pass --all; runs: {', '.join(valid)}")
    by_name = {r.name: r for r in runs}
    for n in names:
        if n not in by_name:
            raise RunListError(f"unknown run {n!r}; {suggest(n, valid)}")
    return [by_name[n] for n in dict.fromkeys(names)]
