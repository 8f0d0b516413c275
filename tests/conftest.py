"""Shared pytest configuration: headless plots, snapshot location, no network."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def snapshot_root():
    """The real offline snapshot folder; tests needing it are skipped when it is absent."""
    from capflow import config

    root = config.snapshot_dir()
    if root is None:
        pytest.skip("no snapshot folder (set CAPFLOW_SNAPSHOT)")
    return root


@pytest.fixture
def offline_env(monkeypatch, tmp_path):
    """Offline mode with an empty, private cache folder."""
    monkeypatch.setenv("CAPFLOW_OFFLINE", "1")
    monkeypatch.setenv("CAPFLOW_CACHE", str(tmp_path / "cache"))
    return tmp_path



#: The longest test files, started first so that two workers finish together (pytest-xdist hands out whole files
#: in collection order): the published report set, the report pipeline, the faults, the real-data studies.
FIRST = ("test_published_pages", "test_report", "test_bad_inputs", "test_divergence_study", "test_browser",
         "test_cascade_study", "test_cascades_study")


def pytest_collection_modifyitems(config, items):
    """Collect the longest files first (see :data:`FIRST`); the order of tests inside a file is kept."""
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda it: rank.get(it.fspath.purebasename, len(FIRST)))
