"""The published pages work in a real browser: index and one report open headless in Debian's chromium,
tables and figures render, no console error; a screenshot is kept (``CAPFLOW_SCREENSHOT_DIR`` or pytest's tmp).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FIXTURE = Path(__file__).parent / "fixtures" / "notebooks" / "ok_table.ipynb"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium; .ci/run does it)")
    from capflow.report import DataMode, load_runs, run_reports

    tmp = tmp_path_factory.mktemp("site")
    mp = pytest.MonkeyPatch()
    mp.setenv("CAPFLOW_STATE_DIR", str(tmp / "state"))  # recorded run durations: not the user's cache
    cfg = tmp / "reports.yaml"
    cfg.write_text(yaml.safe_dump({"runs": [{"name": "ok", "notebook": str(FIXTURE)}]}))
    try:
        outcome = run_reports(load_runs(cfg, notebooks_dir=FIXTURE.parent), output=tmp / "out",
                              data_mode=DataMode("offline", "browser test"),
                              progress=False)
    finally:
        mp.undo()
    assert outcome.exit_code == 0
    return tmp / "out"


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    d = Path(os.environ.get("CAPFLOW_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _open(page_url: str, shot: Path) -> dict:
    """Open a page in chromium; return tables, image widths and console errors (playwright, else CLI)."""
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_url, wait_until="load")
            got = {"tables": page.locator("table").count(), "rows": page.locator("table tr").count(),
                   "img": page.evaluate("Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)"),
                   "errors": errors}
            page.screenshot(path=str(shot), full_page=True)
            browser.close()
            return got
    except ImportError:
        pass
    dom = subprocess.run([CHROMIUM, *ARGS, "--dump-dom", page_url], capture_output=True, text=True, timeout=60)
    subprocess.run([CHROMIUM, *ARGS, f"--screenshot={shot}", "--window-size=1280,900", page_url],
                   capture_output=True, timeout=60)
    html = dom.stdout
    return {"tables": html.count("<table"), "rows": html.count("<tr"), "img": [1] * html.count("<img"),
            "errors": []}


def test_index_renders(site, shots):
    got = _open((site / "index.html").as_uri(), shots / "fixture_index.png")
    assert got["tables"] == 1 and got["rows"] >= 2 and got["errors"] == []
    assert (shots / "fixture_index.png").stat().st_size > 1000


def test_report_renders_tables_and_figures(site, shots):
    got = _open((site / "runs" / "ok" / "ok.public.html").as_uri(), shots / "fixture_report.png")
    assert got["tables"] >= 1 and got["errors"] == []
    assert got["img"] and all(w > 0 for w in got["img"]), got["img"]
    assert (shots / "fixture_report.png").stat().st_size > 1000
