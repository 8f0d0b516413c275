"""A fresh clone, with nothing beside it and no network, runs a study on its own embedded snapshot (the report
pipeline on top of it is tested by tests/test_published_pages.py; CI itself runs on a clean clone).

The clone is made from the committed HEAD (what a new user gets), in a temporary folder with no ``../shared``;
``CAPFLOW_SNAPSHOT`` is unset and ``CAPFLOW_OFFLINE=1``. The clone's own ``lib`` comes first on ``PYTHONPATH`` so
the clone's code (and its ``data/snapshot``) is what runs, with this environment's installed packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from capflow import config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    if shutil.which("git") is None or not (config.PROJ_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    where = tmp_path_factory.mktemp("fresh") / "capflow"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(config.PROJ_ROOT), str(where)], check=True)
    assert not (where.parent / "shared").exists()
    return where


def _env(clone: Path, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPFLOW_")}
    env.update({"PYTHONPATH": str(clone / "lib"), "CAPFLOW_OFFLINE": "1", "CAPFLOW_CACHE": str(tmp / "cache"),
                "CAPFLOW_STATE_DIR": str(tmp / "state"), "MPLBACKEND": "Agg",
                "CAPFLOW_CALENDARS": str(config.calendar_dir())})  # sessions stored once per machine, as for users
    return env


def test_fresh_clone_has_its_data_and_runs_a_study_offline(clone, tmp_path):
    if not (clone / "data" / "snapshot" / "market").is_dir():
        pytest.skip("the embedded snapshot is not committed yet")
    env = _env(clone, tmp_path)
    probe = subprocess.run([sys.executable, "-c", "import capflow.config as c, json; "
                            "print(json.dumps([str(c.PROJ_ROOT), str(c.snapshot_dir(required=True))]))"],
                           env=env, capture_output=True, text=True, check=True, cwd=clone)
    root, snap = json.loads(probe.stdout)
    assert root == str(clone) and snap == str(clone / "data" / "snapshot")
    code = ("import capflow.data as d; import capflow.studies.quality as q; "
            "p = q.Params(start='2026-01-01'); r = q.run(q.load_inputs(p), p); print(r.headline()[0]); "
            "f = d.load_prices('BTC,TAO,NVDA', '2026-02-04', '2026-02-05'); print(f.attrs['provenance']['bitcoin'])")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=clone,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "assets** cover" in run.stdout and "'layer': 'snapshot'" in run.stdout and "bn_spot_ry" in run.stdout
