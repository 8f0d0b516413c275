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

