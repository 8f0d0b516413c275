"""The parquet cache: atomic writes, lossless merges, metadata, corrupt files moved aside. SYNTHETIC data."""

from __future__ import annotations

import multiprocessing
import os
import warnings

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capflow.data import cache


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("CAPFLOW_CACHE", str(tmp_path / "cache"))


def frame(days: dict[str, float], tag: str = "synthetic") -> pd.DataFrame:
    idx = pd.DatetimeIndex([pd.Timestamp(d) for d in days], name="timestamp").tz_localize("UTC")
    return pd.DataFrame({"price": list(days.values()), "source": pd.array([tag] * len(days), dtype="string")},
                        index=idx)


def temp_files(asset: str = "bitcoin") -> list:
    folder = cache.path_for("coingecko", asset, "1d").parent
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")] if folder.exists() else []


def test_merge_known_answer_newer_wins_and_nothing_lost():
    old = frame({"2024-01-01": 1.0, "2024-01-02": 2.0, "2024-01-03": 3.0}, "old")
    new = frame({"2024-01-02": 20.0, "2024-01-03": np.nan, "2024-01-04": 40.0}, "new")
    out = cache.merge(old, new)
    assert list(out["price"]) == [1.0, 20.0, 3.0, 40.0]  # NaN in the newer fetch keeps the older value
    assert list(out["source"]) == ["old", "new", "new", "new"]


def test_write_read_roundtrip_with_metadata():
    f = frame({"2024-01-01": 1.0, "2024-01-02": 2.5})
    meta = cache.write("coingecko", "bitcoin", "1d", f, span=("2024-01-01", "2024-01-03"))
    got, meta2 = cache.read("coingecko", "bitcoin", "1d")
    pd.testing.assert_frame_equal(got, f, check_freq=False)
    assert str(got.index.tz) == "UTC"
    assert meta2 == meta
    assert meta["rows"] == 2 and meta["source"] == "coingecko" and meta["first"].startswith("2024-01-01")
    assert meta["spans"] == [["2024-01-01T00:00:00+00:00", "2024-01-03T00:00:00+00:00"]]
    assert meta["capflow_version"] and pd.Timestamp(meta["fetched_at"]).tzinfo is not None


def test_write_merges_with_existing_file_and_spans():
    cache.write("coingecko", "bitcoin", "1d", frame({"2024-01-01": 1.0, "2024-01-02": 2.0}))
    meta = cache.write("coingecko", "bitcoin", "1d", frame({"2024-01-02": 22.0, "2024-01-05": 5.0}),
                       span=("2024-01-02", "2024-01-05"))
    got, _ = cache.read("coingecko", "bitcoin", "1d")
    assert list(got["price"]) == [1.0, 22.0, 5.0]
    assert meta["spans"] == [["2024-01-01T00:00:00+00:00", "2024-01-05T00:00:00+00:00"]]


def test_spans_merge_and_cover():
    spans = cache.merge_spans([["2024-01-01", "2024-01-10"], ["2024-01-11", "2024-01-20"], ["2024-02-01", "2024-02-02"]])
    assert spans == [["2024-01-01T00:00:00+00:00", "2024-01-20T00:00:00+00:00"], ["2024-02-01T00:00:00+00:00", "2024-02-02T00:00:00+00:00"]]
    assert cache.spans_cover(spans, pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-20"))
    assert not cache.spans_cover(spans, pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-21"))
    hourly = cache.merge_spans([["2024-01-01T00:00", "2024-01-01T05:00"], ["2024-01-01T07:00", "2024-01-01T09:00"]],
                               step=pd.Timedelta(hours=1))
    assert len(hourly) == 2  # the 06:00 bar is not covered


days = st.dictionaries(st.integers(0, 40), st.one_of(st.floats(1e-6, 1e6, allow_nan=False), st.just(np.nan)),
                       max_size=25)


def _f(d: dict[int, float], tag: str) -> pd.DataFrame:
    return frame({str(pd.Timestamp("2024-01-01") + pd.Timedelta(days=k))[:10]: v for k, v in sorted(d.items())}, tag)


@settings(max_examples=150, deadline=None)
@given(days, days)
def test_merge_never_loses_rows(old_d, new_d):
    old, new = _f(old_d, "old"), _f(new_d, "new")
    out = cache.merge(old, new)
    assert set(out.index) == set(old.index) | set(new.index)
    assert out.index.is_monotonic_increasing and out.index.is_unique
    for ts in out.index:
        n = new["price"].get(ts, np.nan)
        o = old["price"].get(ts, np.nan)
        want = n if not np.isnan(n) else o
        assert (np.isnan(want) and np.isnan(out.at[ts, "price"])) or out.at[ts, "price"] == want


@settings(max_examples=15, deadline=None)
@given(st.lists(days, min_size=1, max_size=4))
def test_sequence_of_writes_keeps_every_timestamp(batches):
    path = cache.path_for("coingecko", "bitcoin", "1d")
    if path.exists():
        path.unlink()
    seen = set()
    for i, b in enumerate(batches):
        f = _f(b, f"fetch{i}")
        seen |= set(f.index)
        if len(f):
            cache.write("coingecko", "bitcoin", "1d", f)
    got = cache.read("coingecko", "bitcoin", "1d")
    assert (set(got[0].index) if got else set()) == seen


def test_crash_mid_write_keeps_old_file_and_no_temp(monkeypatch):
    cache.write("coingecko", "bitcoin", "1d", frame({"2024-01-01": 1.0}))
    before = cache.path_for("coingecko", "bitcoin", "1d").read_bytes()

    def half_write(table, fh, **kw):
        fh.write(b"PAR1 half a parquet file")
        raise KeyboardInterrupt("simulated crash")

    with monkeypatch.context() as m, pytest.raises(KeyboardInterrupt):
        m.setattr(cache.pq, "write_table", half_write)
        cache.write("coingecko", "bitcoin", "1d", frame({"2024-01-02": 2.0}))
    assert cache.path_for("coingecko", "bitcoin", "1d").read_bytes() == before
    assert temp_files() == []
    got, _ = cache.read("coingecko", "bitcoin", "1d")
    assert list(got["price"]) == [1.0]


def test_crash_before_rename_keeps_old_file(monkeypatch):
    cache.write("coingecko", "bitcoin", "1d", frame({"2024-01-01": 1.0}))

    def fail_replace(src, dst):
        raise OSError("simulated power cut before rename")

    with monkeypatch.context() as m, pytest.raises(OSError, match="power cut"):
        m.setattr(cache.os, "replace", fail_replace)
        cache.write("coingecko", "bitcoin", "1d", frame({"2024-01-02": 2.0}))
    assert temp_files() == []
    assert list(cache.read("coingecko", "bitcoin", "1d")[0]["price"]) == [1.0]


def test_garbage_file_is_moved_aside_with_warning():
    path = cache.path_for("coingecko", "bitcoin", "1d")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a parquet file")
    with pytest.warns(cache.CacheCorruptWarning, match="moved aside"):
        assert cache.read("coingecko", "bitcoin", "1d") is None
    assert not path.exists()
    aside = list(path.parent.glob("bitcoin.parquet.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b"not a parquet file"


def test_metadata_row_mismatch_is_corrupt():
    f = frame({"2024-01-01": 1.0, "2024-01-02": 2.0})
    meta = cache._build_meta("coingecko", "bitcoin", "1d", f, [], None) | {"rows": 3}
    path = cache.path_for("coingecko", "bitcoin", "1d")
    path.parent.mkdir(parents=True)
    pq.write_table(cache._to_table(f, meta), path)
    with pytest.warns(cache.CacheCorruptWarning, match="3 rows"):
        assert cache.read("coingecko", "bitcoin", "1d") is None


def test_parquet_without_capflow_metadata_is_corrupt():
    path = cache.path_for("coingecko", "bitcoin", "1d")
    path.parent.mkdir(parents=True)
    frame({"2024-01-01": 1.0}).reset_index().to_parquet(path)
    with pytest.warns(cache.CacheCorruptWarning, match="no capflow metadata"):
        assert cache.read_meta("coingecko", "bitcoin", "1d") is None


def test_asset_ids_with_symbols_get_safe_file_names():
    p = cache.path_for("yahoo", "^GSPC", "1d")
    assert p.name == "%5EGSPC.parquet" and p.parent.parent.parent == cache.config.cache_dir()


def _writer(cache_dir: str, offset: int) -> None:
    os.environ["CAPFLOW_CACHE"] = cache_dir
    for i in range(8):
        k = offset + i
        cache.write("coingecko", "bitcoin", "1d",
                    frame({str(pd.Timestamp("2024-01-01") + pd.Timedelta(days=k))[:10]: float(k) + 1.0}))


def test_concurrent_writers_leave_a_whole_file_with_all_rows(tmp_path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path / "cache"), o)) for o in (0, 100)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a corrupt file would warn
        got, meta = cache.read("coingecko", "bitcoin", "1d")
    assert len(got) == 16 and meta["rows"] == 16
    assert temp_files() == []


def test_entries_lists_files():
    cache.write("coingecko", "bitcoin", "1d", frame({"2024-01-01": 1.0}))
    cache.write("yahoo", "^GSPC", "1d", frame({"2024-01-02": 1.0}))
    e = cache.entries()
    assert sorted(e["asset"]) == ["^GSPC", "bitcoin"] and list(e["rows"]) == [1, 1]
