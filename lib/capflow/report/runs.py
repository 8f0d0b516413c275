"""The run list (``reports.yaml``): which notebook runs under which name with which parameters.

The file is validated against a small schema before anything runs: a top-level ``runs:`` list, each entry a
mapping with exactly ``name`` (a safe slug: it becomes a folder under the output), ``notebook`` (a path inside
the ``notebooks/`` folder next to the run list) and optional ``parameters`` (a mapping). Every refusal is one
line naming the file, the entry and what would be valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from capflow import config
from capflow.report.params import ParameterError, notebook_parameters, suggest, validate_parameters

#: A run name: it becomes ``<output>/runs/<name>``, so no separators, no ``..``, no leading dot.
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
ENTRY_KEYS = ("name", "notebook", "parameters")
NOTEBOOK_SUFFIXES = (".ipynb", ".py")


class RunListError(ValueError):
    """``reports.yaml`` is malformed or a requested run name does not exist (one line)."""


@dataclass(frozen=True)
class RunSpec:
    """One entry of ``reports.yaml``.

    Attributes
    ----------
    name : str
        Unique run name (also its output folder; a safe slug, see :data:`RUN_NAME`).
    notebook : Path
        Absolute notebook path (``.ipynb`` or jupytext ``.py``).
    parameters : dict
        Values from the run list (validated with :meth:`resolve`).
    """

    name: str
    notebook: Path
    parameters: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_run_name(self.name)

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


def check_run_name(name: object, where: str = "run name") -> str:
    """Return ``name`` when it is a safe slug (letters, digits, ``_ . -``; no separators, no ``..``).

    Raises
    ------
    RunListError
        One line naming the value and what is valid.
    """
    if not isinstance(name, str) or not RUN_NAME.match(name) or ".." in name:
        raise RunListError(f"{where} {name!r} is not a safe name: use 1-80 letters, digits, '_', '-' or '.', "
                           "starting with a letter or digit, no '/' and no '..' (e.g. cascade_2026_02_05)")
    return name


def _read_yaml(path: Path) -> Any:
    import yaml

    from capflow.report.params import load_yaml

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RunListError(f"run list {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise RunListError(f"run list {path}: cannot be read ({exc.strerror or exc})") from None
    try:
        return load_yaml(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        hint = "; indent with spaces, not tabs" if "\t" in text else ""
        raise RunListError(f"run list {path}{at}: not valid YAML ({problem}){hint}") from None


def _notebook_path(raw: object, base: Path, root: Path, where: str) -> Path:
    if not isinstance(raw, str) or not raw.strip():
        raise RunListError(f"{where}.notebook must be a path string such as notebooks/01_liquidation_cascade.ipynb "
                           f"(got {raw!r})")
    nb = Path(raw)
    nb = (nb if nb.is_absolute() else base / nb).resolve()
    if not nb.is_relative_to(root.resolve()):
        raise RunListError(f"{where}.notebook {raw!r} is outside {root}; report notebooks must live in that folder")
    if nb.suffix not in NOTEBOOK_SUFFIXES or nb.is_dir():
        raise RunListError(f"{where}.notebook {raw!r} is not a notebook file; use an .ipynb or a jupytext .py file")
    return nb


def _entry(e: object, i: int, path: Path, root: Path) -> RunSpec:
    where = f"{path.name}: runs[{i}]"
    if not isinstance(e, dict):
        raise RunListError(f"{where} must be a mapping with name, notebook and parameters (got {type(e).__name__})")
    unknown = [k for k in e if k not in ENTRY_KEYS]
    if unknown:
        raise RunListError(f"{where}: unknown key {unknown[0]!r}; {suggest(str(unknown[0]), ENTRY_KEYS)}")
    if "name" not in e or "notebook" not in e:
        raise RunListError(f"{where} needs 'name' and 'notebook' (got {e!r})")
    name = check_run_name(e["name"], f"{where}.name")
    params = e.get("parameters") or {}
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise RunListError(f"{where}.parameters must be a mapping of name: value (got {params!r})")
    return RunSpec(name, _notebook_path(e["notebook"], path.parent, root, where), dict(params))


def load_runs(path: str | Path | None = None, notebooks_dir: str | Path | None = None) -> list[RunSpec]:
    """Read and validate the run list (default :data:`capflow.config.REPORTS_YAML`).

    Parameters
    ----------
    path : path, optional
        The run list; notebook paths in it are relative to its folder.
    notebooks_dir : path, optional
        The folder every notebook must live in (default: ``notebooks/`` next to the run list).

    Raises
    ------
    RunListError
        Missing or unreadable file, invalid YAML, an unknown key, a wrong type, an unsafe or duplicated name,
        or a notebook outside ``notebooks_dir`` (one line each).
    """
    path = Path(path) if path else config.REPORTS_YAML
    if not path.is_file():
        raise RunListError(f"run list {path} does not exist; pass --config FILE or create reports.yaml")
    root = Path(notebooks_dir) if notebooks_dir else path.parent / "notebooks"
    data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise RunListError(f"{path}: expected a top-level 'runs:' list of {{name, notebook, parameters}}")
    extra = [k for k in data if k != "runs"]
    if extra:
        raise RunListError(f"{path}: unknown top-level key {extra[0]!r}; the file holds only 'runs:'")
    runs, seen = [], set()
    for i, e in enumerate(data["runs"]):
        spec = _entry(e, i, path, root)
        if spec.name.lower() in seen:
            raise RunListError(f"{path}: run name {spec.name!r} is used twice; names must be unique")
        seen.add(spec.name.lower())
        runs.append(spec)
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
