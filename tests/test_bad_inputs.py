"""Bad inputs and faults, table-driven: each case is (input, expected message fragment), run in a sandbox.

Every case checks three things: the refusal is ONE line, it contains the expected fragment (naming the
parameter, file or option and what is valid), and nothing outside the output folder was written or removed (a
``victim`` folder beside it stays byte-for-byte the same). Every future bug of this kind adds a row here.

Numbers in these cases are SYNTHETIC.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import tiny_snapshot
import yaml

from capflow import cli

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
DAYS = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")


# ---------------------------------------------------------------------------------------------- the sandbox
@dataclass
class Sandbox:
    root: Path

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def victim(self) -> Path:
        return self.root / "victim"

    def run_list(self, text: str | bytes | list | dict, name: str = "reports.yaml") -> Path:
        path = self.root / name
        if isinstance(text, (list, dict)):
            text = yaml.safe_dump(text)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path


def _tree(root: Path) -> dict[str, str]:
    """Path -> content hash of every file below ``root`` (folders as entries too)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


@pytest.fixture
def box(tmp_path, monkeypatch):
    """A sandbox: a victim folder, a notebooks/ folder with the tiny fixture, a private cache and snapshot."""
    (tmp_path / "victim" / "sub").mkdir(parents=True)
    (tmp_path / "victim" / "keep.txt").write_text("do not touch")
    (tmp_path / "victim" / "sub" / "data.csv").write_text("a,b\n1,2\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "ok.ipynb").write_bytes((FIXTURES / "ok_table.ipynb").read_bytes())
    (tmp_path / "notebooks" / "a_folder.ipynb").mkdir()
    (tmp_path / "notes.txt").write_text("not a notebook")
    tiny_snapshot.use(monkeypatch, tmp_path)
    monkeypatch.setenv("CAPFLOW_OFFLINE", "1")
    monkeypatch.setenv("CAPFLOW_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    before = _tree(tmp_path / "victim")
    yield Sandbox(tmp_path)
    assert _tree(tmp_path / "victim") == before, "a case wrote or removed files outside the output folder"
    leftovers = list(tmp_path.glob("out/.capflow-staging-*"))
    assert not leftovers, f"staging folders left behind: {leftovers}"


def _one_line(msg: str, fragment: str) -> None:
    msg = msg.strip()
    assert msg, "no message"
    assert "\n" not in msg, f"not one line: {msg!r}"
    assert "Traceback" not in msg
    assert fragment in msg, f"{fragment!r} not in {msg!r}"


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    code = cli.main(argv)
    return code, capsys.readouterr().err


# ------------------------------------------------------------------------------ 1. the run list (reports.yaml)
OK_RUN = {"name": "ok", "notebook": "notebooks/ok.ipynb"}
RUN_LIST_CASES = [
    ("bad YAML", "runs: [a, b\n", "not valid YAML"),
    ("tab indentation", "runs:\n\t- name: ok\n", "indent with spaces, not tabs"),
    ("not UTF-8", b"runs:\n  - name: \xff\xfe\n", "not UTF-8"),
    ("top level is a list", [OK_RUN], "top-level 'runs:' list"),
    ("runs is a mapping", {"runs": OK_RUN}, "top-level 'runs:' list"),
    ("empty file", "", "top-level 'runs:' list"),
    ("unknown top-level key", {"runs": [OK_RUN], "jobs": 2}, "unknown top-level key 'jobs'"),
    ("entry is a string", {"runs": ["ok"]}, "runs[0] must be a mapping"),
    ("entry is a list", {"runs": [["ok"]]}, "runs[0] must be a mapping"),
    ("unknown entry key", {"runs": [{**OK_RUN, "paramters": {}}]}, "unknown key 'paramters'"),
    ("missing name", {"runs": [{"notebook": "notebooks/ok.ipynb"}]}, "needs 'name' and 'notebook'"),
    ("missing notebook", {"runs": [{"name": "ok"}]}, "needs 'name' and 'notebook'"),
    ("name with a slash", {"runs": [{**OK_RUN, "name": "a/b"}]}, "is not a safe name"),
    ("name escaping upwards", {"runs": [{**OK_RUN, "name": "../../victim"}]}, "is not a safe name"),
    ("name with dots only", {"runs": [{**OK_RUN, "name": ".."}]}, "is not a safe name"),
    ("absolute name", {"runs": [{**OK_RUN, "name": "/tmp/victim"}]}, "is not a safe name"),
    ("hidden name", {"runs": [{**OK_RUN, "name": ".hidden"}]}, "is not a safe name"),
    ("empty name", {"runs": [{**OK_RUN, "name": ""}]}, "is not a safe name"),
    ("name with a space", {"runs": [{**OK_RUN, "name": "my run"}]}, "is not a safe name"),
    ("name is a list", {"runs": [{**OK_RUN, "name": ["a"]}]}, "is not a safe name"),
    ("name is a number", {"runs": [{**OK_RUN, "name": 5}]}, "is not a safe name"),
    ("name with a backslash", {"runs": [{**OK_RUN, "name": "a\\b"}]}, "is not a safe name"),
    ("duplicate names", {"runs": [OK_RUN, OK_RUN]}, "is used twice"),
    ("duplicate names, other case", {"runs": [OK_RUN, {**OK_RUN, "name": "OK"}]}, "is used twice"),
    ("notebook outside notebooks/", {"runs": [{**OK_RUN, "notebook": "../x.ipynb"}]}, "is outside"),
    ("notebook absolute elsewhere", {"runs": [{**OK_RUN, "notebook": "/etc/passwd"}]}, "is outside"),
    ("notebook escapes by ..", {"runs": [{**OK_RUN, "notebook": "notebooks/../notes.txt"}]}, "is outside"),
    ("notebook is a folder", {"runs": [{**OK_RUN, "notebook": "notebooks/a_folder.ipynb"}]}, "not a notebook file"),
    ("notebook wrong suffix", {"runs": [{**OK_RUN, "notebook": "notebooks/ok.txt"}]}, "not a notebook file"),
    ("notebook is a list", {"runs": [{**OK_RUN, "notebook": ["a.ipynb"]}]}, "must be a path string"),
    ("notebook is empty", {"runs": [{**OK_RUN, "notebook": ""}]}, "must be a path string"),
    ("parameters is a list", {"runs": [{**OK_RUN, "parameters": ["n", 5]}]}, "parameters must be a mapping"),
    ("parameters with number keys", {"runs": [{**OK_RUN, "parameters": {5: 1}}]}, "parameters must be a mapping"),
    ("parameter of the wrong type", {"runs": [{**OK_RUN, "parameters": {"n": "five"}}]}, "n='five'"),
    ("unknown parameter", {"runs": [{**OK_RUN, "parameters": {"nn": 5}}]}, "unknown parameter 'nn'"),
    ("impossible date", {"runs": [{**OK_RUN, "parameters": {"start": "2026-02-30"}}]}, "not a calendar date"),
]


@pytest.mark.parametrize("case, text, fragment", RUN_LIST_CASES, ids=[c[0] for c in RUN_LIST_CASES])
def test_run_list_is_refused_with_one_line(box, capsys, case, text, fragment):
    cfg = box.run_list(text)
    code, err = _cli(["run", "--all", "--config", str(cfg), "--output", str(box.out), "--quiet"], capsys)
    assert code == 2
    _one_line(err, fragment)
    assert not (box.out / "runs").exists()


# -------------------------------------------------------------------------------------- 2. command-line options
CLI_CASES = [
    ("jobs zero", ["--jobs", "0"], "--jobs 0"),
    ("jobs negative", ["--jobs", "-2"], "--jobs -2"),
    ("timeout negative", ["--timeout", "-5"], "--timeout -5"),
    ("timeout not a number", ["--timeout", "nan"], "--timeout nan"),
    ("timeout infinite", ["--timeout", "inf"], "--timeout inf"),
    ("unknown kernel", ["--kernel", "no-such-kernel"], "--kernel 'no-such-kernel' is not an installed"),
    ("parameter without =", ["-p", "n"], "not key=value"),
    ("unknown parameter", ["-p", "lable=x"], "did you mean label"),
    ("impossible date", ["-p", "start=2026-02-30"], "not a calendar date"),
    ("not a date", ["-p", "start=yesterday"], "expected a date"),
    ("int expected", ["-p", "n=2.5"], "expected int"),
    ("start after end", ["-p", "start=2024-03-01"], "must be on or before end"),
    ("reserved parameter", ["-p", "output_dir=/tmp"], "--output DIR instead"),
    ("bad YAML value", ["-p", "n=[1,"], "is not valid YAML"),
]


@pytest.mark.parametrize("case, extra, fragment", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_option_is_refused_before_any_work(box, capsys, case, extra, fragment):
    cfg = box.run_list({"runs": [OK_RUN]})
    code, err = _cli(["run", "ok", "--config", str(cfg), "--output", str(box.out), "--quiet", *extra], capsys)
    assert code == 2
    _one_line(err, fragment)
    assert not (box.out / "runs").exists()


def _output_is_file(box):
    box.out.write_text("I am a file")
    return str(box.out), "is a file, not a folder"


def _output_under_file(box):
    (box.root / "plain").write_text("x")
    return str(box.root / "plain" / "out"), "cannot create the folder"


def _output_in_proc(box):
    return "/proc/capflow-cannot-be-here", "cannot create the folder"


OUTPUT_CASES = [_output_is_file, _output_under_file, _output_in_proc]


@pytest.mark.parametrize("make", OUTPUT_CASES, ids=[f.__name__ for f in OUTPUT_CASES])
def test_unusable_output_folder(box, capsys, make):
    cfg = box.run_list({"runs": [OK_RUN]})
    out, fragment = make(box)
    code, err = _cli(["run", "ok", "--config", str(cfg), "--output", out, "--quiet"], capsys)
    assert code == 2
    _one_line(err, fragment)


SELECT_CASES = [
    ("no run named", [], "name the runs to execute or pass --all"),
    ("unknown run", ["nope"], "unknown run 'nope'"),
    ("close run name", ["ko"], "valid: ok"),
]


@pytest.mark.parametrize("case, names, fragment", SELECT_CASES, ids=[c[0] for c in SELECT_CASES])
def test_run_selection_errors(box, capsys, case, names, fragment):
    cfg = box.run_list({"runs": [OK_RUN]})
    code, err = _cli(["run", *names, "--config", str(cfg), "--output", str(box.out), "--quiet"], capsys)
    assert code == 2
    _one_line(err, fragment)


def test_missing_run_list(box, capsys):
    code, err = _cli(["run", "--all", "--config", str(box.root / "nope.yaml"), "--output", str(box.out)], capsys)
    assert code == 2
    _one_line(err, "does not exist")


# ------------------------------------------------------------------------------------ 3. library entry points
def _load(*args, **kw):
    from capflow.data import load_prices

    return load_prices(*args, **kw)


def _rets(values, cols=("x",)):
    return pd.DataFrame(np.asarray(values, float).reshape(len(DAYS), len(cols)), index=DAYS, columns=list(cols))


def _simple(prices):
    from capflow.returns import simple_returns

    return simple_returns(prices)


def _cum(returns):
    from capflow.returns import cumulative_returns

    return cumulative_returns(returns)


def _basket(returns):
    from capflow.returns import basket_returns

    return basket_returns(returns)


def _es(returns, events=None):
    from capflow.eventstudy import event_study

    events = events if events is not None else pd.DataFrame(
        {"event_id": ["e"], "asset": ["x"], "timestamp": [DAYS[3]]})
    return event_study(returns, events, model="constant_mean", estimation_window=(-3, -2), event_window=(0, 0),
                       car_windows=[(0, 0)], min_estimation=1, n_boot=0)


LIBRARY_CASES: list[tuple[str, Callable[[], object], str]] = [
    ("assets None", lambda: _load(None, "2024-01-01", "2024-01-03"), "assets"),
    ("assets an int", lambda: _load(5, "2024-01-01", "2024-01-03"), "assets"),
    ("assets empty list", lambda: _load([], "2024-01-01", "2024-01-03"), "assets"),
    ("assets empty string", lambda: _load("", "2024-01-01", "2024-01-03"), "assets"),
    ("unknown asset", lambda: _load("NOPECOIN", "2024-01-01", "2024-01-03"), "NOPECOIN"),
    ("unknown group", lambda: _load("ai_tokens", "2024-01-01", "2024-01-03"), "ai_token"),
    ("start not a date", lambda: _load("BTC", "soon", "2024-01-03"), "start='soon'"),
    ("impossible start", lambda: _load("BTC", "2024-02-30", "2024-03-03"), "start='2024-02-30'"),
    ("start after end", lambda: _load("BTC", "2024-01-05", "2024-01-03"), "start must be on or before end"),
    ("bad freq", lambda: _load("BTC", "2024-01-01", "2024-01-03", freq="2d"), "freq='2d'"),
    ("bad field", lambda: _load("BTC", "2024-01-01", "2024-01-03", field="vwap"), "field='vwap'"),
    ("bad missing", lambda: _load("BTC", "2024-01-01", "2024-01-03", missing="skip"), "missing='skip'"),
    ("bad sources", lambda: _load("BTC", "2024-01-01", "2024-01-03", sources=["web"]), "sources="),
    ("range outside data", lambda: _load("BTC", "2020-01-01", "2020-01-03"), "covers"),
    ("returns of None", lambda: _simple(None), "must be a DataFrame"),
    ("returns of an int", lambda: _simple(5), "must be a DataFrame"),
    ("returns of a list", lambda: _simple([1.0, 2.0]), "must be a DataFrame"),
    ("returns of an empty frame", lambda: _simple(pd.DataFrame()), "is empty"),
    ("prices without a date index", lambda: _simple(pd.DataFrame({"x": [1.0, 2.0]})), "indexed by timestamps"),
    ("infinite price", lambda: _simple(_rets([1, 2, np.inf, 3, 4])), "not positive finite"),
    ("negative price", lambda: _simple(_rets([1, 2, -3, 3, 4])), "not positive finite"),
    ("zero price", lambda: _simple(_rets([1, 0, 3, 3, 4])), "not positive finite"),
    ("text prices", lambda: _simple(pd.DataFrame({"x": list("abcde")}, index=DAYS)), "not numeric"),
    ("unsorted index", lambda: _simple(_rets([1, 2, 3, 4, 5]).iloc[::-1]), "sorted and unique"),
    ("cumulative of None", lambda: _cum(None), "must be a DataFrame"),
    ("basket of an empty frame", lambda: _basket(pd.DataFrame(index=DAYS)), "is empty"),
]


@pytest.mark.parametrize("case, call, fragment", LIBRARY_CASES, ids=[c[0] for c in LIBRARY_CASES])
def test_library_entry_point_refuses_with_one_line(box, case, call, fragment):
    with pytest.raises((ValueError, KeyError)) as err:
        call()
    msg = err.value.args[0] if isinstance(err.value, KeyError) else str(err.value)
    _one_line(str(msg), fragment)


RETURNS_CASES: list[tuple[str, Callable[[], pd.DataFrame], str]] = [
    ("price levels passed as returns", lambda: _rets([100, 101, 99, 102, 103]), "look like price levels"),
    ("infinite return", lambda: _rets([0.01, np.inf, 0.0, 0.01, 0.0]), "infinite values"),
    ("return of -100%", lambda: _rets([0.01, -1.0, 0.0, 0.01, 0.0]), "<= -100%"),
    ("returns as text", lambda: pd.DataFrame({"x": list("abcde")}, index=DAYS), "not numeric"),
    ("empty returns", lambda: pd.DataFrame(index=DAYS), "is empty"),
]


@pytest.mark.parametrize("case, make, fragment", RETURNS_CASES, ids=[c[0] for c in RETURNS_CASES])
def test_implausible_returns_are_refused(case, make, fragment):
    from capflow.checks import check_returns

    with pytest.raises(ValueError) as err:
        check_returns(make(), "returns")
    _one_line(str(err.value), fragment)


# ------------------------------------------------------------------------------------ 4. data faults (sources)
SNAPSHOT_CASES = [
    ("non-numeric price", "2024-01-02,bitcoin,abc,,,bn_spot_ry", "holds 'abc', not a number"),
    ("infinite price", "2024-01-02,bitcoin,inf,,,bn_spot_ry", "positive, finite price"),
    ("negative price", "2024-01-02,bitcoin,-5,,,bn_spot_ry", "positive, finite price"),
    ("zero price", "2024-01-02,bitcoin,0,,,bn_spot_ry", "line 3 (asset bitcoin)"),
    ("negative volume", "2024-01-02,bitcoin,5,,-1,bn_spot_ry", "'volume_usd'"),
    ("non-numeric market cap", "2024-01-02,bitcoin,5,big,,bn_spot_ry", "'market_cap_usd'"),
]


@pytest.mark.parametrize("case, row, fragment", SNAPSHOT_CASES, ids=[c[0] for c in SNAPSHOT_CASES])
def test_bad_snapshot_value_names_file_column_and_line(monkeypatch, tmp_path, case, row, fragment):
    from capflow.data import load_prices

    text = "date,asset,price_usd,market_cap_usd,volume_usd,source\n2024-01-01,bitcoin,100,,,bn_spot_ry\n" + row + "\n"
    tiny_snapshot.use(monkeypatch, tmp_path, crypto_daily=text)
    monkeypatch.setenv("CAPFLOW_OFFLINE", "1")
    with pytest.raises(ValueError) as err:
        load_prices("BTC", "2024-01-01", "2024-01-02")
    _one_line(str(err.value), fragment)
    assert "crypto_daily.csv" in str(err.value)
    assert not list((tmp_path / "cache").rglob("*.parquet")), "an invalid snapshot reached the cache"


class _ScriptedCoinGecko:
    """Fake CoinGecko client answering from a script of frames (SYNTHETIC prices)."""

    script: list = []
    calls: list = []

    def __init__(self, *a, **k):
        pass

    def history(self, coin_id, start, end, freq="1d"):
        _ScriptedCoinGecko.calls.append((pd.Timestamp(start), pd.Timestamp(end)))
        item = _ScriptedCoinGecko.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


def _daily(first: str, last: str, price: float = 100.0) -> pd.DataFrame:
    idx = pd.date_range(first, last, freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame({"price": price + np.arange(len(idx)), "market_cap": 1e9, "volume": 1e6}, index=idx)


@pytest.fixture
def live(monkeypatch, tmp_path):
    from capflow.data import coingecko, resolve

    tiny_snapshot.use(monkeypatch, tmp_path)
    monkeypatch.delenv("CAPFLOW_OFFLINE", raising=False)
    monkeypatch.setenv("CAPFLOW_LIVE_SOURCES", "coingecko,yahoo")  # these tests fake CoinGecko and Yahoo
    monkeypatch.setenv("CAPFLOW_SOURCES", "cache,live,snapshot")
    _ScriptedCoinGecko.script, _ScriptedCoinGecko.calls = [], []
    monkeypatch.setattr(coingecko, "CoinGeckoClient", _ScriptedCoinGecko)
    resolve.reset_network_state()
    yield _ScriptedCoinGecko
    resolve.reset_network_state()


def test_empty_live_answer_does_not_poison_the_cache(live):
    """Serious case 3: an empty answer for 01-01..01-20, a good one for 01-21..02-10, then a request for
    01-01..02-10 must call the source again (the first 20 days were never covered)."""
    from capflow.data import cache, load_prices

    empty = _daily("2024-01-01", "2024-01-20").iloc[:0]
    live.script = [empty, _daily("2024-01-21", "2024-02-10"), _daily("2024-01-01", "2024-02-10")]
    with pytest.raises(ValueError, match="coingecko returned no price for BTC"):
        load_prices("BTC", "2024-01-01", "2024-01-20", sources=["cache", "live"])
    load_prices("BTC", "2024-01-21", "2024-02-10", sources=["cache", "live"])
    got = load_prices("BTC", "2024-01-01", "2024-02-10", sources=["cache", "live"])
    assert len(live.calls) == 3, "the cache served a range it never received"
    assert got["bitcoin"].notna().sum() == 41
    meta = cache.read_meta("coingecko", "bitcoin", "1d")
    assert meta["spans"] and meta["spans"][0][0].startswith("2024-01-01")


def test_short_live_answer_marks_only_what_came_back(live):
    from capflow.data import cache, load_prices

    live.script = [_daily("2024-01-10", "2024-01-20")]  # asked 01-01..01-20, got 01-10..01-20
    load_prices("BTC", "2024-01-01", "2024-01-20", sources=["cache", "live"])
    spans = cache.read_meta("coingecko", "bitcoin", "1d")["spans"]
    assert [s[0][:10] for s in spans] == ["2024-01-10"] and spans[0][1][:10] == "2024-01-20"


def test_live_answer_with_a_hole_is_covered_in_two_pieces(live):
    from capflow.data import cache, load_prices

    frame = _daily("2024-01-01", "2024-01-20").drop(pd.Timestamp("2024-01-10", tz="UTC"))
    live.script = [frame]
    load_prices("BTC", "2024-01-01", "2024-01-20", sources=["cache", "live"])
    spans = [[a[:10], b[:10]] for a, b in cache.read_meta("coingecko", "bitcoin", "1d")["spans"]]
    assert spans == [["2024-01-01", "2024-01-09"], ["2024-01-11", "2024-01-20"]]


LIVE_BAD = [
    ("negative price", -5.0, "positive, finite price"),
    ("zero price", 0.0, "positive, finite price"),
    ("infinite price", np.inf, "positive, finite price"),
]


@pytest.mark.parametrize("case, value, fragment", LIVE_BAD, ids=[c[0] for c in LIVE_BAD])
def test_invalid_live_price_is_refused_and_never_cached(live, case, value, fragment):
    from capflow.data import cache, load_prices
    from capflow.data.request import SourceFallbackWarning

    frame = _daily("2024-01-01", "2024-01-03")
    frame.iloc[1, 0] = value
    live.script = [frame]
    with pytest.warns(SourceFallbackWarning) as rec:
        got = load_prices("BTC", "2024-01-01", "2024-01-03")  # served by the snapshot instead
    msgs = [str(w.message) for w in rec if issubclass(w.category, SourceFallbackWarning)]
    assert len(msgs) == 1
    _one_line(msgs[0], fragment)
    assert "BTC: live failed" in msgs[0] and "served from snapshot" in msgs[0]
    assert got.attrs["provenance"]["bitcoin"]["layer"] == "snapshot"
    assert cache.read_meta("coingecko", "bitcoin", "1d") is None


def test_fallback_line_says_why_live_failed(live):
    from capflow.data import errors, load_prices
    from capflow.data.request import SourceFallbackWarning

    live.script = [errors.RateLimitedError("coingecko: rate limited (HTTP 429) fetching 'bitcoin'", source="coingecko")]
    with pytest.warns(SourceFallbackWarning, match=r"BTC: live failed \(coingecko: rate limited"):
        got = load_prices("BTC", "2024-01-01", "2024-01-03")
    assert "rate limited" in got.attrs["provenance"]["bitcoin"]["fallback"]


def test_cache_files_are_world_readable_and_stale_temps_removed(tmp_path, monkeypatch):
    from capflow.data import cache

    monkeypatch.setenv("CAPFLOW_CACHE", str(tmp_path / "c"))
    path = cache.path_for("coingecko", "bitcoin", "1d")
    path.parent.mkdir(parents=True)
    stale = path.parent / f".{path.name}.abc123.tmp"
    stale.write_bytes(b"x" * 1000)  # what a killed writer leaves
    cache.write("coingecko", "bitcoin", "1d", _daily("2024-01-01", "2024-01-03"))
    assert oct(path.stat().st_mode & 0o777) == oct(0o644 & ~_umask())
    assert not stale.exists()


def test_an_old_temp_file_of_a_killed_writer_is_removed_on_the_next_read(tmp_path, monkeypatch):
    import time

    from capflow.data import cache

    monkeypatch.setenv("CAPFLOW_CACHE", str(tmp_path / "c"))
    path = cache.path_for("coingecko", "bitcoin", "1d")
    path.parent.mkdir(parents=True)
    old, fresh = path.parent / f".{path.name}.dead.tmp", path.parent / f".{path.name}.live.tmp"
    old.write_bytes(b"x" * 1000)
    fresh.write_bytes(b"y")
    past = time.time() - 2 * cache.STALE_TEMP_SECONDS
    os.utime(old, (past, past))
    assert cache.read("coingecko", "bitcoin", "1d") is None
    assert not old.exists() and fresh.exists()  # a temp file a writer may still be filling is left alone


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_cache_write_refuses_invalid_values(tmp_path, monkeypatch):
    from capflow.data import cache
    from capflow.data.validate import InvalidDataError

    monkeypatch.setenv("CAPFLOW_CACHE", str(tmp_path / "c"))
    bad = _daily("2024-01-01", "2024-01-03")
    bad.iloc[0, 0] = np.nan
    bad.iloc[2, 0] = -1.0
    with pytest.raises(InvalidDataError, match=r"row 2024-01-03T00:00:00\+00:00 holds -1.0"):
        cache.write("coingecko", "bitcoin", "1d", bad)
    assert not cache.path_for("coingecko", "bitcoin", "1d").exists()


# ------------------------------------------------------------------------------ 5. rate limits (CoinGecko)
class _Clock:
    def __init__(self):
        self.t, self.sleeps = 1717200000.0, []  # 2024-06-01

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.sleeps.append(s)
        self.t += s


class _Adapter:
    """A requests transport adapter answering from a script: (status, body bytes, headers)."""

    def __init__(self, answers):
        self.answers = list(answers)

    def send(self, request, **kw):
        import requests

        status, body, headers = self.answers.pop(0)
        resp = requests.Response()
        resp.status_code, resp._content, resp.url, resp.reason, resp.request = status, body, request.url, "x", request
        resp.headers.update(headers)
        return resp

    def close(self):
        pass


def _client_with(answers, **kw):
    import json
    import random

    from capflow.data import coingecko as cg

    api = cg._make_api(None, None, 30)
    api.session.mount("https://", _Adapter([(s, json.dumps(b).encode() if not isinstance(b, bytes) else b, h)
                                            for s, b, h in answers]))
    clock = _Clock()
    return cg.CoinGeckoClient(plan="public", api=api, clock=clock, sleep=clock.sleep, rng=random.Random(0), **kw), clock


OK_BODY = {"prices": [[1704067200000, 1.0], [1704153600000, 2.0]], "market_caps": [[1704067200000, 1.0],
           [1704153600000, 1.0]], "total_volumes": [[1704067200000, 1.0], [1704153600000, 1.0]]}
BODY_429 = {"status": {"error_code": 429, "error_message": "You've exceeded the Rate Limit."}}


def test_retry_after_header_is_honoured_when_the_body_is_json():
    client, clock = _client_with([(429, BODY_429, {"Retry-After": "7"}), (200, OK_BODY, {})])
    client.history("bitcoin", "2024-01-01", "2024-01-02")
    assert clock.sleeps[-1] == 7.0


def test_retry_after_beyond_the_cap_is_not_slept():
    from capflow.data.errors import RateLimitedError

    client, clock = _client_with([(429, BODY_429, {"Retry-After": "86400"}), (200, OK_BODY, {})])
    with pytest.raises(RateLimitedError) as err:
        client.history("bitcoin", "2024-01-01", "2024-01-02")
    assert max(clock.sleeps, default=0) < 60
    _one_line(str(err.value), "asked to wait 86,400 s")


def test_retry_after_cap_is_configurable(monkeypatch):
    from capflow.data.errors import RateLimitedError

    monkeypatch.setenv("CAPFLOW_MAX_RETRY_WAIT", "5")
    client, clock = _client_with([(429, BODY_429, {"Retry-After": "7"}), (200, OK_BODY, {})])
    with pytest.raises(RateLimitedError, match="more than the 5 s"):
        client.history("bitcoin", "2024-01-01", "2024-01-02")
    monkeypatch.setenv("CAPFLOW_MAX_RETRY_WAIT", "soon")
    with pytest.raises(ValueError, match="CAPFLOW_MAX_RETRY_WAIT='soon'"):
        _client_with([])


# ----------------------------------------------------------------------------- 6. publishing: XSS, secrets
XSS_STRINGS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<style>body{display:none}</style>",
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "<form action=https://evil.example><input></form>",
    "<object data=x></object>",
]


@pytest.mark.parametrize("payload", XSS_STRINGS)
def test_sanitizer_removes_active_content(payload):
    from capflow.report.sanitize import sanitize_page

    page = sanitize_page(f"<html><head><title>t</title></head><body><table><tr><td>{payload}</td></tr></table>"
                         "</body></html>")
    body = page.split("<body>", 1)[1].lower()
    for bad in ("<script", "onerror", "onload", "javascript:", "<iframe", "<svg", "<style", "<form", "<object",
                "data:text"):
        assert bad not in body, (payload, body)


def test_sanitizer_keeps_tables_links_and_figures():
    from capflow.report.sanitize import sanitize_page

    body = ('<table class="dataframe"><thead><tr><th>a</th></tr></thead><tbody><tr><td>1.0%</td></tr></tbody></table>'
            '<a href="runs/x.html">x</a><img src="data:image/png;base64,iVBORw0KGgo=" alt="fig">'
            '<h2 id="key-findings">Key findings</h2><p><strong>b</strong> <code>c</code></p>')
    out = sanitize_page(f"<html><head><style>.x{{}}</style></head><body>{body}</body></html>")
    for keep in ('<table class="dataframe">', '<td>1.0%</td>', 'href="runs/x.html"', 'src="data:image/png;base64',
                 '<h2 id="key-findings">', "<strong>b</strong>", "<style>.x{}</style>"):
        assert keep in out, keep


def test_page_without_body_is_not_published():
    from capflow.report.sanitize import sanitize_page

    with pytest.raises(ValueError, match="no <body>"):
        sanitize_page("<script>alert(1)</script>")


REDACTION_CASES = [
    # (env, text, expected)
    ({"GITHUB_TOKEN": "2026"}, "BTC 2026-02-05 fell 14.0% to 62,909.86 in 2026", "BTC 2026-02-05 fell 14.0% to 62,909.86 in 2026"),
    ({"MY_API_KEY": "12345678901234567890"}, "id 12345678901234567890", "id 12345678901234567890"),
    ({"COINGECKO_DEMO_API_KEY": "CG-abcDEF123456789xyz"}, "key=CG-abcDEF123456789xyz;", "key=[REDACTED];"),
    ({"COINGECKO_DEMO_API_KEY": "CG-abcDEF123456789xyz"}, "xCG-abcDEF123456789xyzx", "xCG-abcDEF123456789xyzx"),
    ({"SOME_SECRET": "shortish"}, "shortish words", "shortish words"),
    ({"SOME_SECRET": "a-long-secret-value-1234"}, "v=a-long-secret-value-1234", "v=[REDACTED]"),
    ({"GITHUB_TOKEN": "ghp_" + "FAKE0123456789abcdef"}, '"ghp_FAKE0123456789abcdef"', '"[REDACTED]"'),
    ({"PASSWORD": "2026-02-05T00:00:00Z"}, "at 2026-02-05T00:00:00Z", "at 2026-02-05T00:00:00Z"),
]


@pytest.mark.parametrize("env, text, expected", REDACTION_CASES)
def test_redaction_takes_keys_never_numbers_or_dates(env, text, expected):
    from capflow.report.environment import redact, secret_values

    assert redact(text, secret_values(env)) == expected


PATH_CASES = [
    ("{out}/runs/x/results/a.csv", "./runs/x/results/a.csv"),
    ("{proj}/lib/capflow/eventstudy.py line 3", "capflow/lib/capflow/eventstudy.py line 3"),
    ("{home}/notes", "~/notes"),
    ("{out}x/other", "{out}x/other"),
]


@pytest.mark.parametrize("template, expected", PATH_CASES)
def test_published_text_shows_no_absolute_paths(tmp_path, template, expected):
    from capflow import config
    from capflow.report.environment import Scrubber, path_replacements

    out = tmp_path / "out"
    scrub = Scrubber((), tuple(path_replacements(out)))
    fill = {"out": str(out.resolve()), "proj": str(config.PROJ_ROOT), "home": str(Path.home())}
    assert scrub(template.format(**fill)) == expected.format(**fill)


# ------------------------------------------------------------------------- 7. publishing: faults mid-run
def _publish_once(box) -> Path:
    """A previous report in the output folder (as a published one looks: index, manifest, one run's files)."""
    box.run_list({"runs": [OK_RUN]})
    run = box.out / "runs" / "ok"
    (run / "results").mkdir(parents=True)
    for name, text in {"ok.ipynb": '{"cells": []}', "ok.html": "<html>previous</html>", "run.log": "previous",
                       "results/table.csv": "a,b\n1,2\n"}.items():
        (run / name).write_text(text)
    (box.out / "index.html").write_text('<html><a href="runs/ok/ok.html">ok</a></html>')
    (box.out / "manifest.json").write_text('{"status": "ok"}')
    return box.out


def _interrupt(monkeypatch):
    """Ctrl-C in the main thread once every run has executed into the staging folder, before publishing."""
    from capflow.report import pipeline

    real = pipeline.execute_jobs

    def run_then_interrupt(*a, **k):
        real(*a, **k)
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "execute_jobs", run_then_interrupt)


def _disk_full(monkeypatch):
    """The disk fills up while the executed notebook is written."""
    from capflow.report import execute

    def full(*a, **k):
        raise OSError(28, "No space left on device", "ok.ipynb")

    monkeypatch.setattr(execute, "_finish_notebook", full)


def _disk_full_at_index(monkeypatch):
    """The disk fills up while the index is written, after every run succeeded."""
    from capflow.report import pipeline

    def full(*a, **k):
        raise OSError(28, "No space left on device", "index.html")

    monkeypatch.setattr(pipeline, "render_index", full)


@pytest.mark.slow
@pytest.mark.parametrize("fault, code, fragment", [
    (_interrupt, 130, "interrupted; nothing was published"),
    (_disk_full, 1, "disk full while writing run ok"),
    (_disk_full_at_index, 1, "No space left on device (index.html)"),
])
def test_fault_mid_run_leaves_the_previous_report_whole(box, capsys, monkeypatch, fault, code, fragment):
    out = _publish_once(box)
    before = _tree(out)
    assert (out / "runs" / "ok" / "ok.ipynb").is_file() and (out / "index.html").is_file()
    fault(monkeypatch)
    cfg = box.root / "reports.yaml"
    got, err = _cli(["run", "ok", "--config", str(cfg), "--output", str(out), "--quiet", "--force", "--no-html"],
                    capsys)
    assert got == code
    _one_line(err.strip().splitlines()[-1], fragment)
    after = _tree(out)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed <= {".capflow-hashes.json"}, changed  # the previous report is untouched
    assert not list(out.glob(".capflow-staging-*"))


def test_stale_staging_folder_of_a_killed_run_is_removed(tmp_path):
    from capflow.report.staging import STAGING_PREFIX, Staging

    dead = tmp_path / f"{STAGING_PREFIX}999999999-dead"
    (dead / "runs" / "x").mkdir(parents=True)
    (dead / "runs" / "x" / "big.tmp").write_bytes(b"x" * 100)
    with Staging(tmp_path) as stage:
        assert not dead.exists() and stage.root.is_dir()
    assert not stage.root.exists()


def test_run_name_cannot_reach_outside_the_output(tmp_path):
    from capflow.report.runs import RunListError, RunSpec

    for bad in ("../../victim", "/abs/path", "a/../../b", "..", "."):
        with pytest.raises(RunListError, match="is not a safe name"):
            RunSpec(bad, tmp_path / "x.ipynb")
