"""Every published page, as its reader sees it: the whole run list executed into a fresh output folder, then each
page opened in headless Chromium at 1,400 px.

Checked on every page: the run succeeded with no error output; "Key findings" is on the first screen (its heading
within the first 1,200 px); no horizontal overflow of the page (wide tables scroll inside their own container);
no stderr box; no absolute path; no table cell with 5+ decimals or ``00:00:00+00:00``; no parameter name left in
code format where a value belongs; no console error. Screenshots are kept (``CAPFLOW_SCREENSHOT_DIR``, CI uploads
them) for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from capflow import config

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WIDTH = 1400
ABSOLUTE = re.compile(r"(?<![\w.])/(?:home|root|tmp|work|Users|var|opt|usr)/[\w.-]+")
LONG_DECIMALS = re.compile(r"\d\.\d{5,}")


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Run every entry of reports.yaml (offline, on the embedded snapshot) into a fresh folder."""
    from capflow.report import load_runs, run_reports
    from capflow.report.environment import detect_data_mode

    out = tmp_path_factory.mktemp("published") / "reports"
    mp = pytest.MonkeyPatch()
    mp.setenv("CAPFLOW_OFFLINE", "1")
    mp.delenv("CAPFLOW_SNAPSHOT", raising=False)
    mp.setenv("CAPFLOW_CACHE", str(tmp_path_factory.mktemp("cache")))
    mp.setenv("CAPFLOW_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    try:
        outcome = run_reports(load_runs(config.REPORTS_YAML), output=out, jobs=1, progress=False, force=True,
                              data_mode=detect_data_mode(probe=False), timeout=600)
    finally:
        mp.undo()
    return outcome, out


def _pages(out: Path) -> list[Path]:
    return sorted(out.glob("runs/*/*.public.html"))


def test_every_run_succeeds_without_error_output(published):
    import nbformat

    outcome, out = published
    bad = {r["name"]: r["error"] for r in outcome.manifest["runs"] if r["status"] != "ok"}
    assert not bad, bad
    for nb_path in out.glob("runs/*/*.ipynb"):
        nb = nbformat.read(nb_path, as_version=4)
        errs = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        stderr = [o for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
        assert not errs and not stderr, (nb_path.name, [o.get("text", o.get("evalue")) for o in errs + stderr][:3])
    names = {r["name"] for r in outcome.manifest["runs"]}
    assert len(_pages(out)) == len(names)


def test_index_shows_each_runs_key_numbers(published):
    outcome, out = published
    html = (out / "index.html").read_text()
    for r in outcome.manifest["runs"]:
        numbers = r["summary"].get("key_numbers") or {}
        assert numbers, f"{r['name']}: no key numbers in its summary"
        first = next(iter(numbers.values()))
        assert first.replace("<", "&lt;") in html, (r["name"], first)


def test_every_summary_has_a_headline_with_numbers(published):
    _, out = published
    for s in out.glob("runs/*/results/summary.json"):
        head = json.loads(s.read_text())["headline"]
        assert 3 <= len(head) <= 8 and all(re.search(r"\d", h) for h in head), s


def _parameter_names(notebook: Path) -> set[str]:
    from capflow.report import notebook_parameters

    return set(notebook_parameters(notebook)) - {"output_dir"}


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium; .ci/run does it)")
    sync = pytest.importorskip("playwright.sync_api")
    with sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    d = Path(os.environ.get("CAPFLOW_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


MEASURE = """() => {
  const heads = Array.from(document.querySelectorAll('h2'));
  const kf = heads.find(h => h.textContent.trim().startsWith('Key findings'));
  const cells = Array.from(document.querySelectorAll('td, th')).map(c => c.textContent.trim());
  const codes = Array.from(document.querySelectorAll('.jp-MarkdownCell code, .jp-RenderedMarkdown code'))
      .map(c => c.textContent.trim());
  return {scrollWidth: document.scrollingElement.scrollWidth,
          keyFindingsTop: kf ? kf.getBoundingClientRect().top + window.scrollY : null,
          stderr: document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]').length,
          errorsShown: document.querySelectorAll('[data-mime-type="application/vnd.jupyter.error"]').length,
          text: document.body.innerText, cells: cells, codes: codes,
          images: Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)};
}"""


def test_every_public_page_reads_well_at_1400_px(published, browser, shots):
    outcome, out = published
    notebooks = {r["name"]: Path(config.PROJ_ROOT / r["notebook"].replace("capflow/", "", 1))
                 for r in outcome.manifest["runs"]}
    problems = []
    for page_path in _pages(out):
        name = page_path.parent.name
        page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(page_path.as_uri(), wait_until="load")
        got = page.evaluate(MEASURE)
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        page.close()
        params = _parameter_names(notebooks[name]) if notebooks[name].is_file() else set()
        checks = {
            "horizontal overflow": got["scrollWidth"] > WIDTH,
            "no Key findings in the first 1,200 px": got["keyFindingsTop"] is None or got["keyFindingsTop"] > 1200,
            "stderr box": got["stderr"] > 0,
            "error output": got["errorsShown"] > 0,
            "absolute path": bool(ABSOLUTE.search(got["text"])),
            "5+ decimals in a table": any(LONG_DECIMALS.search(c) for c in got["cells"]),
            "00:00:00+00:00 in a table": any("00:00:00+00:00" in c for c in got["cells"]),
            "parameter name where a value belongs": bool(params & set(got["codes"])),
            "broken image": any(w == 0 for w in got["images"]),
            "console error": bool(errors),
        }
        problems += [f"{name}: {what}" for what, bad in checks.items() if bad]
    assert not problems, problems


def test_index_page_fits_and_links_every_report(published, browser, shots):
    _, out = published
    page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
    page.goto((out / "index.html").as_uri(), wait_until="load")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    links = page.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'))")
    page.screenshot(path=str(shots / "index.png"), full_page=True)
    page.close()
    assert width <= WIDTH
    for p in _pages(out):
        assert f"runs/{p.parent.name}/{p.name}" in links
