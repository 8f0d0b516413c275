"""Notebook parameters: read a notebook's ``parameters`` cell, then check user values before any kernel starts.

Papermill only *warns* about unknown parameters and never checks types; capflow refuses both with one line that
names the parameter, what was wrong and what is valid.
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
import io
import json
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

#: Parameters the runner sets itself (``--output``); users may not pass them.
RESERVED: frozenset[str] = frozenset({"output_dir"})
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")
_DATE_NAME = re.compile(r"(^|_)(date|start|end|since|until|base_date|as_of)$|_date$|^date_")


class _NoDatesLoader(yaml.SafeLoader):
    """YAML's safe loader that keeps date-like scalars as strings: capflow checks dates itself, with one-line
    errors (PyYAML would raise a bare "day is out of range for month" for ``2026-02-30``)."""


_NoDatesLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def load_yaml(text: str):
    """Parse YAML text safely, dates kept as strings (see :class:`_NoDatesLoader`)."""
    return yaml.load(text, Loader=_NoDatesLoader)  # noqa: S506 - a SafeLoader subclass


class ParameterError(ValueError):
    """A run parameter is unknown, of the wrong type, or has an invalid value (one line, names the parameter)."""


@dataclass(frozen=True)
class ParameterSpec:
    """One assignment of a notebook's ``parameters`` cell.

    Attributes
    ----------
    name : str
    default : object
        The literal default (None when the default is not a literal).
    type : str
        One of ``date, int, float, bool, str, list, dict, any``.
    help : str
        The assignment's trailing comment, if any.
    """

    name: str
    default: Any
    type: str
    help: str = ""


def _type_of(name: str, default: Any, annotation: str | None) -> str:
    if annotation in {"date", "datetime", "int", "float", "bool", "str", "list", "dict"}:
        return "date" if annotation == "datetime" else annotation
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, (int, float, list, dict)):
        return type(default).__name__
    if isinstance(default, str) and _ISO_DATE.match(default):
        return "date"
    if (default is None or default == "") and _DATE_NAME.search(name):
        return "date"
    return "str" if isinstance(default, str) else "any"


def _comments(source: str) -> dict[int, str]:
    out: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        pass
    return out


def parse_parameters_source(source: str) -> dict[str, ParameterSpec]:
    """Parameters declared by the source of a ``parameters`` cell (simple assignments, in order).

    Parameters
    ----------
    source : str
        Python source of the cell; each ``name = literal`` or ``name: type = literal`` is one parameter.

    Returns
    -------
    dict
        ``{name: ParameterSpec}`` in declaration order.
    """
    comments = _comments(source)
    specs: dict[str, ParameterSpec] = {}
    for stmt in ast.parse(source).body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name, value, ann = stmt.targets[0].id, stmt.value, None
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            name, value = stmt.target.id, stmt.value
            ann = stmt.annotation.id if isinstance(stmt.annotation, ast.Name) else None
        else:
            continue
        try:
            default = ast.literal_eval(value)
        except ValueError:
            default = None
        specs[name] = ParameterSpec(name, default, _type_of(name, default, ann), comments.get(stmt.lineno, ""))
    return specs


def notebook_parameters(path: str | Path) -> dict[str, ParameterSpec]:
    """Parameters of a notebook (``.ipynb`` or jupytext ``.py``) from its cell tagged ``parameters``.

    Raises
    ------
    FileNotFoundError
        The notebook does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"notebook {path} does not exist")
    for cell in notebook_cells(path):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return parse_parameters_source(cell["source"])
    return {}


def notebook_cells(path: str | Path) -> list[dict]:
    """Cells of a notebook as ``{"cell_type", "source" (str), "metadata"}`` dicts.

    An ``.ipynb`` is read as plain JSON (no nbformat import: ``capflow run`` starts its kernels meanwhile); a
    jupytext ``.py`` through jupytext.
    """
    path = Path(path)
    if path.suffix != ".ipynb":
        import jupytext

        return [{"cell_type": c.cell_type, "source": c.source, "metadata": dict(c.metadata)}
                for c in jupytext.read(path).cells]
    with open(path, encoding="utf-8") as fh:
        cells = json.load(fh).get("cells", [])
    return [{"cell_type": c.get("cell_type", ""), "metadata": c.get("metadata", {}),
             "source": c["source"] if isinstance(c.get("source"), str) else "".join(c.get("source", []))}
            for c in cells]


def parse_assignments(items: Iterable[str]) -> dict[str, Any]:
    """Parse ``-p key=value`` strings; each value is read as YAML (``5`` is an int, ``[a, b]`` a list)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"-p {item!r} is not key=value; write for example -p event_date=2025-10-10")
        try:
            out[key.strip()] = load_yaml(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ParameterError(f"-p {key.strip()}: value {raw!r} is not valid YAML ({exc.problem})") from exc
    return out


def _date(name: str, value: Any, where: str) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            dt.datetime.fromisoformat(value.strip())
            return value.strip()
        except ValueError:
            pass
        raise ParameterError(f"parameter {name}={value!r}{where}: not a calendar date; use YYYY-MM-DD, "
                             "e.g. 2026-02-05")
    raise ParameterError(f"parameter {name}={value!r}{where}: got {type(value).__name__}, expected a date "
                         "(YYYY-MM-DD, e.g. 2026-02-05)")


def coerce(spec: ParameterSpec, value: Any, where: str = "") -> Any:
    """Check one value against its parameter's type; return it normalised (dates as ISO strings).

    Raises
    ------
    ParameterError
        Wrong type or unparsable value; the message names the parameter and what is valid.
    """
    kind, name = spec.type, spec.name
    if value is None and (spec.default is None or kind == "any"):
        return None
    if kind == "date":
        if value in ("", None) and spec.default in ("", None):
            return value
        return _date(name, value, where)
    if kind == "any":
        return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
    if kind == "list" and isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    ok = {"bool": lambda v: isinstance(v, bool),
          "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
          "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          "str": lambda v: isinstance(v, str),
          "list": lambda v: isinstance(v, (list, tuple)),
          "dict": lambda v: isinstance(v, dict)}[kind]
    if not ok(value):
        raise ParameterError(f"parameter {name}={value!r}{where}: got {type(value).__name__}, expected {kind} "
                             f"(default: {spec.default!r})")
    return float(value) if kind == "float" else list(value) if kind == "list" else value


def suggest(name: str, valid: Iterable[str]) -> str:
    """``did you mean X? valid: A, B, ...``: the tail of an unknown-name error."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"{hint}valid: {', '.join(valid) if valid else '(the notebook has no parameters cell)'}"


def _check_ranges(values: Mapping[str, Any], where: str) -> None:
    for name, start in values.items():
        if "start" not in name:
            continue
        end_name = name.replace("start", "end")
        end = values.get(end_name)
        if end_name == name or start in (None, "") or end in (None, ""):
            continue
        try:
            s, e = dt.datetime.fromisoformat(str(start)), dt.datetime.fromisoformat(str(end))
        except ValueError:
            continue
        if s > e:
            raise ParameterError(f"parameters {name}={start} and {end_name}={end}{where}: {name} must be on or "
                                 f"before {end_name}")
    for name, win in values.items():
        if name.endswith("window") and isinstance(win, list) and len(win) == 2 and \
                all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in win) and win[0] > win[1]:
            raise ParameterError(f"parameter {name}={win}{where}: the window's first bound must not exceed the "
                                 "second, e.g. [-5, 10]")


def validate_parameters(specs: Mapping[str, ParameterSpec], values: Mapping[str, Any], notebook: str = "",
                        allow_reserved: bool = False) -> dict[str, Any]:
    """Check values for a notebook's parameters; return them normalised, defaults not included.

    Parameters
    ----------
    specs : mapping
        From :func:`notebook_parameters`.
    values : mapping
        Requested values (from ``reports.yaml`` and ``-p``).
    notebook : str
        Notebook name used in messages.
    allow_reserved : bool
        Accept :data:`RESERVED` names (the runner itself passes ``output_dir``).

    Raises
    ------
    ParameterError
        Unknown name (with the nearest valid ones), wrong type, unparsable date or a start after its end.
    """
    where = f" (notebook {notebook})" if notebook else ""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in RESERVED and not allow_reserved:
            raise ParameterError(f"parameter {name}{where} is set by capflow run; use --output DIR instead")
        if name not in specs:
            raise ParameterError(f"unknown parameter {name!r}{where}; {suggest(name, specs)}")
        out[name] = coerce(specs[name], value, where)
    merged = {n: s.default for n, s in specs.items()} | out
    _check_ranges(merged, where)
    return out
