"""Every notebook in notebooks/: diffable pairs, clean .ipynb, and a real run on the snapshot with small defaults.

Notebooks are discovered from disk, so a study notebook is tested as soon as it lands.
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


def _cases():
    cases = [pytest.param(p, {}, id=p.stem) for p in NOTEBOOKS]
    cascade = config.NOTEBOOKS_DIR / "01_liquidation_cascade.ipynb"
    if cascade.is_file():
        cases.append(pytest.param(cascade, {"event_date": "2025-10-10"}, id="01_liquidation_cascade-2025-10-10"))
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("ipynb, params", _cases())
def test_notebook_runs_on_the_snapshot(ipynb, params, snapshot_root, tmp_path, monkeypatch):
    import nbformat
    import papermill as pm

    from capflow.report import notebook_parameters, validate_parameters
    from capflow.report.kernel import kernel_options

    validate_parameters(notebook_parameters(ipynb), params, notebook=ipynb.stem)
    for k, v in {"CAPFLOW_SNAPSHOT": str(snapshot_root), "CAPFLOW_OFFLINE": "1", "CAPFLOW_SOURCES": "snapshot",
                 "CAPFLOW_CACHE": str(tmp_path / "cache"),
                 "MPLBACKEND": "module://matplotlib_inline.backend_inline"}.items():
        monkeypatch.setenv(k, v)
    out = tmp_path / "results"
    out.mkdir()
    try:
        pm.execute_notebook(str(ipynb), str(tmp_path / "out.ipynb"), parameters={**params, "output_dir": str(out)},
                            kernel_name="python3", progress_bar=False, execution_timeout=300, cwd=str(tmp_path),
                            **kernel_options())  # IPC transport, as capflow run uses
    except pm.PapermillExecutionError as exc:
        pytest.fail(f"{ipynb.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}")
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert any(out.iterdir()), f"{ipynb.name} wrote nothing to output_dir"
