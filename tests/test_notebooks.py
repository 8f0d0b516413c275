"""Every notebook in notebooks/: diffable pairs, clean .ipynb, papermill sees every parameter, the study shape.

Notebooks are discovered from disk, so a study notebook is tested as soon as it lands. Their execution is tested
through the real report pipeline, every run of reports.yaml on warm kernels: tests/test_published_pages.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from capflow import config

NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("*.ipynb"))
PAIRS = sorted(config.NOTEBOOKS_DIR.glob("*.py"))
IDS = [p.stem for p in NOTEBOOKS]


def _cells(path: Path) -> list[tuple[str, str]]:
    import jupytext

    return [(c.cell_type, c.source.strip()) for c in jupytext.read(path).cells]


def test_there_are_notebooks():
    assert any(p.stem == "00_data_quality" for p in NOTEBOOKS)


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=IDS)
def test_pair_agrees(ipynb):
    py = ipynb.with_suffix(".py")
    assert py.is_file(), f"{ipynb.name} has no paired {py.name} (jupytext --set-formats ipynb,py:percent)"
    assert _cells(ipynb) == _cells(py), f"{ipynb.name} and {py.name} differ: run jupytext --sync {py}"


@pytest.mark.parametrize("py", PAIRS, ids=[p.stem for p in PAIRS])
def test_every_script_has_its_notebook(py):
    assert py.with_suffix(".ipynb").is_file(), f"{py.name}: run jupytext --to ipynb {py}"


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=IDS)
def test_papermill_sees_every_parameter(ipynb):
    """papermill skips a parameter line holding two '=' (e.g. '>=' in a comment): capflow and papermill must agree."""
    import papermill

    from capflow.report import notebook_parameters

    assert set(papermill.inspect_notebook(str(ipynb))) == set(notebook_parameters(ipynb))


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=IDS)
def test_committed_notebook_is_clean(ipynb):
    import nbformat

    nb = nbformat.read(ipynb, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), f"{ipynb.name}: strip outputs"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{ipynb.name}: exactly one cell tagged parameters"
    assert "output_dir" in tagged[0].source
    assert not any("!pip" in c.source or "sys.path" in c.source for c in code)


@pytest.mark.parametrize("py", PAIRS, ids=[p.stem for p in PAIRS])
def test_notebook_has_the_study_shape(py):
    """Parameters, then load/run with the key findings shown first; at most 12 code cells; no logic that another
    notebook would need (no function or class definitions)."""
    import ast

    cells = [(t, s) for t, s in _cells(py)]
    code = [s for t, s in cells if t == "code"]
    assert len(code) <= 12, f"{py.name}: {len(code)} code cells"
    for src in code:
        tree = ast.parse("\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))))
        defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                                            ast.Lambda))]
        assert not defs, f"{py.name}: defines {type(defs[0]).__name__} in a cell; move it to lib/capflow"
    first = code[1] if len(code) > 1 else ""
    assert "show.findings(" in first, f"{py.name}: the cell after the parameters must show the key findings"
    assert cells[0][0] == "markdown" and cells[0][1].startswith("# "), f"{py.name}: title and question first"
    assert any("result.save(" in s for s in code), f"{py.name}: saves its tables and summary"
