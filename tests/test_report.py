"""Report pipeline: parameter checks before any kernel, failing notebooks, secrets, escaping, index, manifest.

Executes only the small fixture notebooks of ``tests/fixtures/notebooks`` (fast, synthetic), never the studies.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from capflow import cli, config
from capflow.report import (DataMode, ParameterError, RunListError, kernel_env, load_runs, notebook_parameters,
                            parse_assignments, redact, run_reports, select, validate_parameters)
from capflow.report.params import parse_parameters_source

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
FAKE_KEY = "cg-FAKE-key-9f8e7d6c5b4a"
FAKE_TOKEN = "ghp_" + "FAKEtoken1234567890"  # fake, split so secret scanners do not flag it
XSS = '<img src=x onerror=alert("capflow-xss")><script>alert("capflow-xss")</script>'


@pytest.fixture(autouse=True)
def _state_dir(tmp_path, monkeypatch):
    """Recorded run durations go to a temporary folder, never the user's cache."""
    monkeypatch.setenv("CAPFLOW_STATE_DIR", str(tmp_path / "state"))


def _config(tmp_path: Path, runs: list[dict]) -> Path:
    """A run list in ``tmp_path`` whose notebooks are copied into ``tmp_path/notebooks`` (where they must live)."""
    import shutil

    path, nbdir = tmp_path / "reports.yaml", tmp_path / "notebooks"
    nbdir.mkdir(exist_ok=True)
    entries = []
    for r in runs:
        src = Path(r["notebook"])
        if src.is_absolute() and src.is_file() and src.parent != nbdir:
            shutil.copy(src, nbdir / src.name)
        entries.append({**r, "notebook": f"notebooks/{src.name}"})
    path.write_text(yaml.safe_dump({"runs": entries}))
    return path


# ------------------------------------------------------------------------------------------- parameter specs
def test_parameter_types_are_inferred_from_the_cell():
    src = ('event_date = "2026-02-05"  # the crash day\nn = 5\nalpha = 0.05\nfast = True\nassets = "TAO,NVDA"\n'
           'window = [-5, 10]\nend = None\nlabel: str = "2024-01-01"\nimport os\nx, y = 1, 2\n')
    specs = parse_parameters_source(src)
    assert {n: s.type for n, s in specs.items()} == {"event_date": "date", "n": "int", "alpha": "float",
                                                     "fast": "bool", "assets": "str", "window": "list",
                                                     "end": "date", "label": "str"}
    assert specs["event_date"].help == "the crash day" and specs["window"].default == [-5, 10]


def test_fixture_notebook_parameters_are_read():
    specs = notebook_parameters(FIXTURES / "ok_table.ipynb")
    assert list(specs) == ["label", "n", "start", "end", "output_dir"]
    assert specs["start"].type == "date" and specs["n"].type == "int"


SPECS = parse_parameters_source('start = "2024-01-01"\nend = "2024-01-31"\nn = 5\nalpha = 0.05\nlabel = "x"\n'
                                'window = [-5, 10]\nassets = ["TAO"]\noutput_dir = "."\n')


@pytest.mark.parametrize("values, words", [
    ({"strat": "2024-01-02"}, ["unknown parameter 'strat'", "did you mean start", "valid:"]),
    ({"start": 2024}, ["start=2024", "got int", "expected a date"]),
    ({"start": "2024-02-30"}, ["start='2024-02-30'", "not a calendar date"]),
    ({"start": "yesterday"}, ["start='yesterday'", "expected a date"]),
    ({"n": 2.5}, ["n=2.5", "got float", "expected int"]),
    ({"n": True}, ["n=True", "expected int"]),
    ({"label": 3}, ["label=3", "expected str"]),
    ({"start": "2024-03-01"}, ["start=2024-03-01 and end=2024-01-31", "must be on or before end"]),
    ({"window": [10, -5]}, ["window=[10, -5]", "first bound"]),
    ({"output_dir": "/tmp/x"}, ["output_dir", "--output"]),
])
def test_invalid_values_are_refused_with_one_line(values, words):
    with pytest.raises(ParameterError) as err:
        validate_parameters(SPECS, values, notebook="nb")
    msg = str(err.value)
    assert "\n" not in msg and "(notebook nb)" in msg
    for w in words:
        assert w in msg, msg


def test_valid_values_are_normalised():
    import datetime as dt

    got = validate_parameters(SPECS, {"start": dt.date(2024, 1, 5), "alpha": 1, "assets": "TAO, NVDA",
                                      "window": [-1, 1]})
    assert got == {"start": "2024-01-05", "alpha": 1.0, "assets": ["TAO", "NVDA"], "window": [-1, 1]}
    assert isinstance(got["alpha"], float)


def test_cli_values_are_parsed_as_yaml():
    got = parse_assignments(["n=5", "alpha=0.1", "d=2025-10-10", "a=[x, y]", "s=TAO,NVDA", "e="])
    assert got["n"] == 5 and got["alpha"] == 0.1 and str(got["d"]) == "2025-10-10"
    assert got["a"] == ["x", "y"] and got["s"] == "TAO,NVDA" and got["e"] == ""
    with pytest.raises(ParameterError, match="not key=value"):
        parse_assignments(["n"])


# ------------------------------------------------------------------------------------------------ run list
def test_project_run_list_has_the_nightly_runs():
    runs = {r.name: r for r in load_runs(config.REPORTS_YAML)}
    assert {"data_quality", "cascade_2026_02_05", "cascade_2025_10_10", "capex", "divergence"} <= set(runs)
    assert runs["cascade_2025_10_10"].parameters == {"event_date": "2025-10-10"}
    assert runs["divergence"].parameters == {"base_date": "2024-01-02"}
    for r in runs.values():  # every run whose notebook exists must validate against that notebook
        if r.exists:
            r.resolve()


def test_run_list_errors(tmp_path):
    with pytest.raises(RunListError, match="does not exist"):
        load_runs(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("runs:\n  - name: a\n")
    with pytest.raises(RunListError, match=r"runs\[0\] needs 'name' and 'notebook'"):
        load_runs(bad)
    runs = load_runs(_config(tmp_path, [{"name": "cascade", "notebook": "x.ipynb"}]))
    with pytest.raises(RunListError, match="did you mean cascade"):
        select(runs, ["cascad"])
    with pytest.raises(RunListError, match="or pass --all"):
        select(runs, [])


# --------------------------------------------------------------------------------------- secrets and modes
def test_kernel_env_drops_credentials(monkeypatch):
    base = {"PATH": "/bin", "COINGECKO_DEMO_API_KEY": FAKE_KEY, "GITHUB_TOKEN": FAKE_TOKEN, "AWS_SECRET": "abcd"}
    off = kernel_env(DataMode("offline", "test", "/snap"), "r", base)
    assert "COINGECKO_DEMO_API_KEY" not in off and "GITHUB_TOKEN" not in off and "AWS_SECRET" not in off
    assert off["CAPFLOW_OFFLINE"] == "1" and off["CAPFLOW_SNAPSHOT"] == "/snap" and off["PATH"] == "/bin"
    on = kernel_env(DataMode("online", "test"), "r", base)
    assert on["COINGECKO_DEMO_API_KEY"] == FAKE_KEY and "GITHUB_TOKEN" not in on and "CAPFLOW_OFFLINE" not in on


def test_redact_covers_escaped_forms():
    s = 'a"b&c<d'
    text = f'raw {s} json {json.dumps(s)} html a&quot;b&amp;c&lt;d end'
    out = redact(text, [s])
    assert out.count("[REDACTED]") == 3 and "b&c" not in out and "b&amp;c" not in out


# ---------------------------------------------------------------------------- refused before any kernel
@pytest.fixture
def no_kernel(monkeypatch):
    """Fail the test if anything tries to execute a notebook."""
    import papermill

    from capflow.report import pipeline

    calls = []
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(pipeline, "execute_jobs", lambda *a, **k: calls.append(a) or {})
    return calls


@pytest.mark.parametrize("param, words", [
    ("lable=hello", ["unknown parameter 'lable'", "did you mean label"]),
    ("start=5", ["start=5", "expected a date"]),
    ("n=2024-01-01", ["n=", "expected int"]),
    ("start=2024-03-01", ["must be on or before end"]),
])
def test_cli_refuses_bad_parameters_before_execution(tmp_path, capsys, no_kernel, param, words):
    cfg = _config(tmp_path, [{"name": "ok", "notebook": str(FIXTURES / "ok_table.ipynb")}])
    code = cli.main(["run", "ok", "--config", str(cfg), "--output", str(tmp_path / "out"), "-p", param])
    err = capsys.readouterr().err.strip()
    assert code == 2 and no_kernel == []
    assert len(err.splitlines()) == 1 and err.startswith("capflow run: error: run ok:"), err
    for w in words:
        assert w in err, err
    assert not (tmp_path / "out").exists()


def test_validate_command_executes_nothing(tmp_path, capsys, no_kernel):
    cfg = _config(tmp_path, [{"name": "ok", "notebook": str(FIXTURES / "ok_table.ipynb"),
                              "parameters": {"n": 3}},
                             {"name": "later", "notebook": str(tmp_path / "missing.ipynb")}])
    assert cli.main(["validate", "--all", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "ok       ok" in out and "n=3" in out and "missing  later" in out and no_kernel == []


# ------------------------------------------------------------------------- one real run of three fixtures
@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reports")
    cfg = _config(tmp, [
        {"name": "ok", "notebook": str(FIXTURES / "ok_table.ipynb"), "parameters": {"label": XSS, "n": 4}},
        {"name": "failing", "notebook": str(FIXTURES / "failing.ipynb")},
        {"name": "leaky", "notebook": str(FIXTURES / "leaky.py")},
        {"name": "not_yet", "notebook": str(tmp / "not_written_yet.ipynb")},
    ])
    mp = pytest.MonkeyPatch()
    mp.setenv("COINGECKO_DEMO_API_KEY", FAKE_KEY)  # passed to kernels online: redaction must catch it
    mp.setenv("MY_SERVICE_TOKEN", FAKE_TOKEN)  # never passed to kernels
    mp.setenv("CAPFLOW_STATE_DIR", str(tmp / "state"))
    try:
        outcome = run_reports(load_runs(cfg), jobs=2, output=tmp / "out", timeout=120,
                              data_mode=DataMode("online", "forced by the test"), progress=False,
                              argv=["capflow", "run", "--all", f"--token={FAKE_TOKEN}"])
    finally:
        mp.undo()
    return outcome, tmp / "out"


def _status(manifest, name):
    return next(r for r in manifest["runs"] if r["name"] == name)


def test_failed_notebook_is_rendered_and_marked(pipeline_run):
    outcome, out = pipeline_run
    assert outcome.exit_code == 1
    m = outcome.manifest
    assert _status(m, "ok")["status"] == "ok" and _status(m, "leaky")["status"] == "ok"
    failed = _status(m, "failing")
    assert failed["status"] == "failed" and "deliberate failure" in failed["error"]
    for page in ("failing.html", "failing.public.html"):
        html = (out / "runs" / "failing" / page).read_text()
        assert "RuntimeError" in html and "deliberate failure for the report tests" in html
        assert "this cell runs" in html
    index = outcome.index.read_text()
    assert re.search(r'data-run="failing" data-status="failed"', index)
    assert re.search(r'data-run="ok" data-status="ok"', index)
    assert _status(m, "not_yet")["status"] == "missing" and 'data-run="not_yet" data-status="missing"' in index


def test_results_and_links_are_kept(pipeline_run):
    outcome, out = pipeline_run
    run = out / "runs" / "ok"
    for f in ("ok.ipynb", "ok.html", "ok.public.html", "results/table.csv", "results/summary.json", "run.log"):
        assert (run / f).is_file(), f
    index = outcome.index.read_text()
    for href in ("runs/ok/ok.html", "runs/ok/ok.public.html", "runs/ok/ok.ipynb", "runs/ok/results/table.csv"):
        assert f'href="{href}"' in index
    assert "2024-01-31" in index and "synthetic" in index  # as-of and sources from the notebook's summary
    assert "Data mode: online" in index
    code_free = (run / "ok.public.html").read_text()
    assert "mark_synthetic" not in code_free and "mark_synthetic" in (run / "ok.html").read_text()
    assert "cdnjs" not in code_free and "<img" in code_free


def test_each_report_states_the_data_mode(pipeline_run):
    import nbformat

    _, out = pipeline_run
    nb = nbformat.read(out / "runs" / "ok" / "ok.ipynb", as_version=4)
    banner = [c for c in nb.cells if "capflow-banner" in c.metadata.get("tags", [])]
    assert len(banner) == 1 and "forced by the test" in banner[0].source and "Online" in banner[0].source
    assert "forced by the test" in (out / "runs" / "ok" / "ok.public.html").read_text()


def test_manifest_records_versions_hashes_and_timings(pipeline_run):
    outcome, out = pipeline_run
    m = json.loads((out / "manifest.json").read_text())
    assert m["capflow_version"] and m["packages"]["papermill"] and m["packages"]["pandas"]
    assert "commit" in m["git"] and m["data"]["mode"] == "online" and m["status"] == "failed"
    assert m["counts"] == {"ok": 2, "skipped": 0, "failed": 1, "missing": 1}
    ok = _status(m, "ok")
    assert re.fullmatch(r"[0-9a-f]{64}", ok["inputs"]["ok_table.ipynb"]) and ok["duration_s"] > 0
    assert ok["timings"]["execute_s"] > 0 and ok["timings"]["html_s"] > 0  # HTML rendered by the parent
    assert ok["fingerprint"] is None and ok["parts"]["data"] is None  # online: data unknown, never skipped
    assert "notebook_json" not in ok and not (out / "runs" / "ok" / "run.json").exists()
    assert ok["parameters"] == {"label": XSS, "n": 4}


def test_no_secret_in_any_output(pipeline_run):
    _, out = pipeline_run
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 10
    for p in files:
        data = p.read_bytes()
        assert FAKE_KEY.encode() not in data and FAKE_TOKEN.encode() not in data, p
    leak = json.loads((out / "runs" / "leaky" / "results" / "leak.json").read_text())
    assert leak["key"] == "[REDACTED]"  # the kernel saw the live key (online) and redaction removed it
    assert "MY_SERVICE_TOKEN" not in leak["names"]  # other credentials never reach the kernel
    assert "MY_SERVICE_TOKEN" not in leak["launch_names"] and "PATH" in leak["launch_names"]  # nor its launch env
    assert "[REDACTED]" in (out / "runs" / "leaky" / "leaky.html").read_text()


def test_script_values_are_escaped(pipeline_run):
    outcome, out = pipeline_run
    index = outcome.index.read_text()
    assert XSS not in index and "&lt;script&gt;alert(" in index
    for page in ("ok.html", "ok.public.html"):
        html = (out / "runs" / "ok" / page).read_text()
        body = html.split("<body", 1)[1]
        assert not re.search(r"<img[^>]*onerror", body) and not re.search(r"<script", body), page
        assert "Basket in prose" in body and "<td" in body  # the Styler table and the prose survive, defused


def test_index_shows_data_as_of_layers_and_sources(pipeline_run):
    outcome, _ = pipeline_run
    index = outcome.index.read_text()
    row = index[index.index('data-run="ok"'):index.index('data-run="failing"')]
    assert '<td class="as-of">2024-01-31</td>' in row  # data_summary: the latest date of any asset
    assert '<span class="badge layer-cache">cache</span><span class="badge layer-snapshot">snapshot</span>' in row
    assert "synthetic-0, synthetic-1, synthetic-2, synthetic-3 +3 more" in row  # 7 sources, 4 shown
    assert "synthetic/fixture-repo" in row  # the full list stays in the tooltip


def test_kernel_stderr_is_kept_and_noise_dropped(pipeline_run):
    outcome, out = pipeline_run
    ok = _status(outcome.manifest, "ok")
    assert ok["kernel_messages"] == ["capflow-fixture: a line on the kernel's own stderr"]
    assert "a line on the kernel's own stderr" in (out / "runs" / "ok" / "run.log").read_text()
    assert _status(outcome.manifest, "failing")["kernel_messages"] == []


def test_kernel_messages_filter(tmp_path):
    from capflow.report.kernel import kernel_messages

    f = tmp_path / "k.stderr"
    f.write_text("[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All communication\n\n"
                 "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel.\nSegmentation fault in libfoo\n")
    assert kernel_messages(f) == ["Segmentation fault in libfoo"]
    assert kernel_messages(tmp_path / "absent") == []


def test_index_cells_are_compact_and_escaped():
    from capflow.report.index import render_index, short_list

    assert short_list(["a", "b"]) == "a, b" and short_list(list("abcdef"), limit=2) == "a, b +4 more"
    assert short_list(["x" * 50], width=10) == "xxxxxxx..."
    run = {"name": "r", "notebook": "/x/r.ipynb", "parameters": {}, "status": "ok", "duration_s": 1.0,
           "started": "", "error": "", "files": {}, "results": [],
           "summary": {"data_as_of": "2026-02-05", "data_layers": ["snapshot", XSS],
                       "data_sources": ["coingecko", XSS, "yahoo"]}}
    manifest = {"runs": [run], "data": {"mode": "offline", "note": "n"}, "generated_at": "t", "wall_seconds": 1.0,
                "jobs": 1, "capflow_version": "0", "git": {"commit": None}, "python": "3",
                "counts": {"ok": 1, "skipped": 0, "failed": 0, "missing": 0}}
    html = render_index(manifest, {"r": "runs/r"})
    assert XSS not in html and "<td class=\"as-of\">2026-02-05</td>" in html
    assert '<span class="badge layer-snapshot">snapshot</span>' in html and "coingecko, &lt;img src=x" in html


# ---------------------------------------------------------------------------------- skipping unchanged runs
TINY = """# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
x = 1  # a number
output_dir = "."

# %%
import json, pathlib, time
pathlib.Path(output_dir, "summary.json").write_text(json.dumps({"x": x, "stamp": time.time_ns()}))
"""


def _stamp(out: Path) -> int:
    return json.loads((out / "runs" / "tiny" / "results" / "summary.json").read_text())["stamp"]


def test_unchanged_runs_are_skipped(tmp_path, monkeypatch):
    from capflow.report import pipeline

    # other work on the library or the parquet cache while the test runs must not change the fingerprint
    monkeypatch.setattr(pipeline, "tree_hash", lambda *a, **k: "library-source-hash")
    monkeypatch.setenv("CAPFLOW_SOURCES", "snapshot")
    (tmp_path / "notebooks").mkdir(exist_ok=True)
    nb = tmp_path / "notebooks" / "tiny.py"
    nb.write_text(TINY)
    runs, out = load_runs(_config(tmp_path, [{"name": "tiny", "notebook": str(nb)}])), tmp_path / "out"
    mode = DataMode("offline", "skip test", str(tmp_path / "no-snapshot"))

    def run(**kw):
        return run_reports(runs, output=out, data_mode=mode, progress=False, html=False, argv=["t"], **kw)

    first = run()
    rec1, stamp1 = _status(first.manifest, "tiny"), _stamp(out)
    assert rec1["status"] == "ok" and rec1["fingerprint"] and (out / "runs" / "tiny" / "run.json").is_file()
    second = run()
    rec2 = _status(second.manifest, "tiny")
    assert second.exit_code == 0 and rec2["status"] == "skipped" and _stamp(out) == stamp1
    assert rec2["files"] == rec1["files"] and rec2["started"] == rec1["started"]
    index = second.index.read_text()
    assert "skipped (unchanged)" in index and 'href="runs/tiny/tiny.ipynb"' in index
    assert second.manifest["counts"]["skipped"] == 1 and second.manifest["status"] == "ok"
    assert _status(run(force=True).manifest, "tiny")["status"] == "ok" and _stamp(out) != stamp1  # --force
    stamp2 = _stamp(out)
    nb.write_text(TINY.replace("# a number", "# a changed comment"))
    assert _status(run().manifest, "tiny")["status"] == "ok" and _stamp(out) != stamp2  # notebook edited
    assert _status(run().manifest, "tiny")["status"] == "skipped"
    # parameters, data and environment are parts of the fingerprint (checked without executing)
    ctx = pipeline._context(mode, tmp_path / "ctx", False, "python3")
    fp = pipeline.run_fingerprint(runs[0], {}, ctx)
    assert fp["fingerprint"] != pipeline.run_fingerprint(runs[0], {"x": 2}, ctx)["fingerprint"]
    online = pipeline._context(DataMode("online", "t"), tmp_path / "ctx", False, "python3")
    assert pipeline.run_fingerprint(runs[0], {}, online)["fingerprint"] is None  # live data: never skipped
    assert pipeline.run_fingerprint(runs[0], {}, pipeline._context(mode, tmp_path / "ctx", True, "python3")
                                    )["fingerprint"] != fp["fingerprint"]  # HTML now requested


def test_longest_recorded_run_starts_first(tmp_path):
    from capflow.report.execute import RunJob
    from capflow.report.fingerprint import load_durations, save_durations
    from capflow.report.pipeline import schedule

    jobs = [RunJob(n, "nb", {}, "o", {}, [], "") for n in ("a", "b", "c", "d")]
    assert [j.name for j in schedule(jobs, {})] == ["a", "b", "c", "d"]  # nothing recorded: run-list order
    save_durations({"b": 2.0, "d": 9.5})
    save_durations({"c": 4.0})
    assert load_durations() == {"b": 2.0, "c": 4.0, "d": 9.5}
    assert [j.name for j in schedule(jobs, load_durations())] == ["d", "c", "b", "a"]


def test_fingerprint_parts_and_hash_cache(tmp_path):
    from capflow.report.fingerprint import HashCache, fingerprint, tree_hash

    (tmp_path / "lib").mkdir()
    src = tmp_path / "lib" / "a.py"
    src.write_text("x = 1\n")
    cache = HashCache(tmp_path / "hashes.json")
    h1 = tree_hash(tmp_path / "lib", cache)
    assert tree_hash(tmp_path / "lib", cache) == h1 and (cache.hits, cache.misses) == (1, 1)
    cache.save()
    again = HashCache(tmp_path / "hashes.json")
    assert tree_hash(tmp_path / "lib", again) == h1 and again.hits == 1 and again.misses == 0  # persisted
    src.write_text("x = 2\n")
    assert tree_hash(tmp_path / "lib", again) != h1 and again.misses == 1  # new size/mtime: re-hashed
    parts = {"notebook": "a", "parameters": "b", "library": "c", "data": "d", "environment": "e"}
    assert fingerprint(parts) != fingerprint({**parts, "data": "D"}) and fingerprint({**parts, "data": None}) is None


def test_cli_run_has_no_kernel_noise_on_stderr(tmp_path):
    (tmp_path / "notebooks").mkdir(exist_ok=True)
    nb = tmp_path / "notebooks" / "tiny.py"
    nb.write_text(TINY)
    cfg = _config(tmp_path, [{"name": "tiny", "notebook": str(nb)}])
    exe = Path(sys.executable).with_name("capflow")
    env = {**os.environ, "CAPFLOW_OFFLINE": "1"}
    res = subprocess.run([str(exe), "run", "--all", "--config", str(cfg), "--output", str(tmp_path / "o"),
                          "--quiet", "--no-html"], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert "ok       tiny" in res.stdout
    assert "without encryption" not in res.stderr and "KeyboardInterrupt" not in res.stderr, res.stderr


# ---------------------------------------------------------------------------------------- warm kernel pool
def _facts(out: Path, name: str) -> dict:
    return json.loads((out / "runs" / name / "results" / "summary.json").read_text())


@pytest.fixture(scope="module")
def pool_run(tmp_path_factory):
    """One warm kernel (--jobs 1) for: pollute, check, a run that kills its kernel, a run that times out, check."""
    tmp = tmp_path_factory.mktemp("pool")
    names = ["pollute", "check", "kills", "sleepy", "after"]
    books = ["pollute", "isolation_check", "kills_kernel", "sleepy", "isolation_check"]
    cfg = _config(tmp, [{"name": n, "notebook": str(FIXTURES / f"{b}.ipynb")} for n, b in zip(names, books)])
    mp = pytest.MonkeyPatch()
    mp.setenv("CAPFLOW_STATE_DIR", str(tmp / "state"))  # no recorded durations: run-list order
    try:
        outcome = run_reports(load_runs(cfg), jobs=1, output=tmp / "out", timeout=3, progress=False,
                              data_mode=DataMode("offline", "pool test", str(tmp / "no-snapshot")), argv=["t"],
                              force=True)
    finally:
        mp.undo()
    return outcome, tmp / "out"


def test_pool_reuses_one_kernel_and_nothing_leaks(pool_run):
    import nbformat

    outcome, out = pool_run
    polluter, check = _facts(out, "pollute"), _facts(out, "check")
    assert polluter["pid"] == check["pid"]  # the same warm kernel ran both (else this test proves nothing)
    assert _status(outcome.manifest, "check")["status"] == "ok", _status(outcome.manifest, "check")["error"]
    assert check["polluted_defined"] is False and check["linewidth"] == 1.5 and check["env_polluted"] is False
    assert check["max_rows"] == 60 and check["np_divide"] == "warn" and check["sys_path_polluted"] is False
    assert check["probe_warned"] == 1 and "inline" in check["backend"] and check["figures"] == []
    assert check["interactive"] is True  # as the inline backend leaves it in a fresh kernel (pollute: plt.ioff())
    # per-run environment and working directory
    assert polluter["run_name"] == "pollute" and check["run_name"] == "check" and check["data_mode"] == "offline"
    assert check["cwd"] == "./results"  # the run's own results folder, shown relative in published files
    nb = nbformat.read(out / "runs" / "check" / "check.ipynb", as_version=4)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts[0] == 1 and counts == sorted(counts)  # a fresh session: numbering starts again at 1


def test_pool_replaces_a_dead_or_timed_out_kernel(pool_run):
    outcome, out = pool_run
    m = outcome.manifest
    assert outcome.exit_code == 1 and m["counts"]["failed"] == 2 and m["counts"]["ok"] == 3
    kills, sleepy, after = (_status(m, n) for n in ("kills", "sleepy", "after"))
    assert kills["status"] == "failed" and "Kernel died" in kills["error"], kills["error"]
    assert sleepy["status"] == "failed" and "Timeout" in sleepy["error"], sleepy["error"]
    assert after["status"] == "ok", after["error"]
    for name in ("kills", "sleepy"):  # a failed run still renders, and its banner says why
        page = (out / "runs" / name / f"{name}.html").read_text()
        assert "FAILED" in page and (out / "runs" / name / f"{name}.public.html").is_file()
    assert "about to exit the kernel process" in (out / "runs" / "kills" / "kills.html").read_text()
    pids = [_facts(out, n)["pid"] for n in ("check", "kills", "sleepy", "after")]
    assert pids[0] == pids[1] and len(set(pids[1:])) == 3  # a new kernel after the death and after the timeout


def test_isolate_gives_each_run_a_fresh_kernel(tmp_path):
    names = ["pollute", "check"]
    cfg = _config(tmp_path, [{"name": n, "notebook": str(FIXTURES / f"{b}.ipynb")}
                             for n, b in zip(names, ["pollute", "isolation_check"])])
    outcome = run_reports(load_runs(cfg), jobs=1, output=tmp_path / "out", timeout=60, progress=False, html=False,
                          data_mode=DataMode("offline", "isolate test", str(tmp_path / "none")), argv=["t"],
                          isolate=True)
    out = tmp_path / "out"
    assert outcome.exit_code == 0 and _facts(out, "pollute")["pid"] != _facts(out, "check")["pid"]
    assert _facts(out, "check")["run_name"] == "check"


def test_cli_passes_isolate(tmp_path, monkeypatch):
    import capflow.report as report

    seen = {}

    def fake(runs, overrides, **kw):
        seen.update(kw)
        raise SystemExit(0)

    monkeypatch.setattr(report, "run_reports", fake)
    cfg = _config(tmp_path, [{"name": "ok", "notebook": str(FIXTURES / "ok_table.ipynb")}])
    for argv, expected in ((["--isolate"], True), ([], False)):
        with pytest.raises(SystemExit):
            cli.main(["run", "--all", "--config", str(cfg), *argv])
        assert seen["isolate"] is expected


def test_notebook_imports_are_found(tmp_path):
    from capflow.report.pool import notebook_imports, warm_modules

    (tmp_path / "notebooks").mkdir(exist_ok=True)
    nb = tmp_path / "notebooks" / "n.py"
    nb.write_text("# %%\n%matplotlib inline\nimport os, numpy as np\nfrom capflow import plots\n"
                  "from .rel import x\n\ndef f():\n    import hidden\n# %%\nthis is not python(\n")
    assert notebook_imports([str(nb), str(tmp_path / "absent.py")]) == ["os", "numpy", "capflow", "capflow.plots"]
    assert warm_modules([str(nb)]) == ["os", "numpy", "capflow", "capflow.plots"]  # no study: its own imports
    study = tmp_path / "notebooks" / "s.py"
    study.write_text("# %%\nimport numpy as np\nfrom capflow.studies import cascade as study\n")
    mods = warm_modules([str(study)])
    assert mods[0] == "numpy" and "statsmodels.api" in mods and mods.count("numpy") == 1  # a study: the heavy set
    assert "capflow.studies.cascade" in mods
    assert warm_modules([str(FIXTURES / "pollute.py")]) == ["json", "os", "sys", "warnings", "pathlib",
                                                            "pathlib.Path", "matplotlib", "matplotlib.pyplot",
                                                            "numpy", "pandas"]


# --------------------------------------------------------------------------------------- nightly workflow
def test_nightly_workflow_is_valid():
    pytest.importorskip("check_jsonschema")  # pinned in requirements.txt; run from this interpreter, not PATH
    wf = config.PROJ_ROOT / ".github" / "workflows" / "nightly.yml"
    res = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(wf)], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    doc = yaml.safe_load(wf.read_text())
    on = doc[True] if True in doc else doc["on"]  # YAML 1.1 reads the key `on` as True
    cron = on["schedule"][0]["cron"]
    assert cron.split()[0] not in ("0", "00") and "workflow_dispatch" in on
    text = wf.read_text()
    for needle in ("requirements.txt", "actions/cache", "make reports", "secrets.COINGECKO_DEMO_API_KEY",
                   "if: always()", "actions/deploy-pages", "actions/upload-pages-artifact"):
        assert needle in text, needle


def test_a_title_cut_at_the_figure_edge_warns_and_a_wrapped_one_does_not():
    """Constrained layout does not fit a long left title: the published PNG would cut it (the coverage
    heatmap's did). ``show.png`` names it in a FigureLayoutWarning, which the page test sees as stderr."""
    import warnings

    from capflow.plots import new_figure, set_title
    from capflow.studies import show

    title = "Share of expected bars present per month: 20 of 34 assets complete in every month of their life " \
            "(grey: before the first or after the last bar)"
    fig, ax = new_figure((12, 4))
    ax.set_title(title, loc="left", fontsize=11)
    with pytest.warns(show.FigureLayoutWarning, match="figure title cut"):
        show.png(fig)
    fig, ax = new_figure((12, 4))
    set_title(ax, title)
    with warnings.catch_warnings():
        warnings.simplefilter("error", show.FigureLayoutWarning)
        assert show.png(fig)[:4] == b"\x89PNG"
