"""Tests of the SQLite results store (mufno_lite.store)."""
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mufno_lite.store import (
    DEFAULT_STORE,
    ResultsStore,
    StoreError,
    downsample_curve,
    load_results,
    resolve_store_path,
)

from mufno_lite.store.rows import MAX_CURVE_POINTS

REPO = Path(__file__).resolve().parents[1]


def make_row(i, status="done", **kw):
    row = {
        "run_id": f"run{i:04d}", "status": status, "pde": "burgers", "K": 2 + i % 3, "parametrization": "mup",
        "base_K": 3, "lr": 1e-3 * (1 + i), "seed": i % 2, "batch_size": 10, "beta2": 0.999, "init_scale": 1.0,
        "final_train_loss": 0.1 * i if status == "done" else None, "test_rel_l2": 0.2 * i if status == "done" else None,
        "train_curve": [(s, 1.0 / s) for s in range(1, 11)], "test_curve": [(10, 0.5)],
        "config": {"i": i, "lr": 1e-3 * (1 + i)}, "error": "boom" if status == "failed" else None,
    }
    row.update(kw)
    return row


def test_roundtrip_types_filters_and_wal(tmp_path):
    st = ResultsStore(tmp_path / "sub" / "r.sqlite")
    assert st.write_rows([make_row(i) for i in range(6)], sweeps=["a"]) == 6
    with st.connect() as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    df = load_results(st.path)
    assert len(df) == 6 and df["run_id"].is_unique
    r = df.set_index("run_id").loc["run0003"]
    assert r["train_curve"] == [[s, 1.0 / s] for s in range(1, 11)]
    assert r["config"] == {"i": 3, "lr": 4e-3}
    assert r["K"] == 2 and r["lr"] == pytest.approx(4e-3) and r["sweeps"] == ["a"]
    assert r["final_train_loss"] == pytest.approx(0.3)
    assert r["torch_version"] is None and r["created_at"] is not None
    # filters: equality, membership, sweep
    assert set(load_results(st, K=2)["run_id"]) == {"run0000", "run0003"}
    assert set(load_results(st, K=[3, 4])["run_id"]) == {"run0001", "run0002", "run0004", "run0005"}
    assert len(load_results(st, sweep="a", seed=1)) == 3
    assert len(load_results(st, sweep="nope", missing_ok=True)) == 0
    with pytest.raises(StoreError, match="sweep 'nope' is not in .*known sweeps: \\['a'\\]"):
        load_results(st, sweep="nope")  # issue 18, class 11: not a silent empty table
    with pytest.raises(ValueError, match="unknown filter column 'Kay'"):
        load_results(st, Kay=2)


def test_row_validation(tmp_path):
    st = ResultsStore(tmp_path / "r.sqlite")
    with pytest.raises(ValueError, match="unknown columns.*'bogus'"):
        st.write_rows([make_row(0, bogus=1)])
    with pytest.raises(ValueError, match="status must be one of.*got status='ok'"):
        st.write_rows([make_row(0, status="ok")])
    with pytest.raises(ValueError, match="non-empty 'config'"):
        st.write_rows([make_row(0, config=None)])
    assert st.count() == 0


def test_population_written_atomically(tmp_path):
    st = ResultsStore(tmp_path / "r.sqlite")
    rows = [make_row(i) for i in range(5)]
    rows[3]["K"] = [1, 2]  # sqlite cannot bind a list: fails in the middle of the transaction
    with pytest.raises((sqlite3.InterfaceError, sqlite3.ProgrammingError)):
        st.write_rows(rows)
    assert st.count() == 0
    assert st.integrity_check() == "ok"


def test_replace_semantics(tmp_path):
    st = ResultsStore(tmp_path / "r.sqlite")
    st.write_rows([make_row(1, status="failed"), make_row(2)])
    st.write_rows([make_row(1, status="done", final_train_loss=0.5)])  # retried failed run -> done
    st.write_rows([make_row(2, status="failed")])  # a failure never overwrites a result
    df = load_results(st).set_index("run_id")
    assert df.loc["run0001", "status"] == "done" and df.loc["run0001", "final_train_loss"] == 0.5
    assert df.loc["run0001", "error"] is None
    assert df.loc["run0002", "status"] == "done" and df.loc["run0002", "final_train_loss"] == pytest.approx(0.2)
    assert st.statuses() == {"run0001": "done", "run0002": "done"}
    assert st.statuses(["run0002", "missing"]) == {"run0002": "done"}


def test_run_in_several_sweeps_and_registration(tmp_path):
    st = ResultsStore(tmp_path / "r.sqlite")
    st.register_sweep("s1", ["run0000", "run0001"], {"name": "s1"})
    st.write_rows([make_row(0)], sweeps=["s1"])
    st.write_rows([make_row(0)], sweeps=["s2"])
    assert st.sweep_names() == ["s1", "s2"]
    assert sorted(st.sweep_run_ids("s1")) == ["run0000", "run0001"]
    df = load_results(st)
    assert len(df) == 1 and df.loc[0, "sweeps"] == ["s1", "s2"]


def test_downsample_and_nonfinite(tmp_path):
    curve = [(s, float(s)) for s in range(1000)]
    ds = downsample_curve(curve)
    assert len(ds) <= MAX_CURVE_POINTS and ds[0] == [0, 0.0] and ds[-1] == [999, 999.0]
    assert downsample_curve(curve[:5]) == [[s, float(s)] for s in range(5)]
    st = ResultsStore(tmp_path / "r.sqlite")
    st.write_rows([make_row(0, status="diverged", final_train_loss=float("nan"), train_curve=[(1, 1.0), (2, float("inf"))],
                            test_curve=curve)])
    r = load_results(st).iloc[0]
    assert r["train_curve"] == [[1, 1.0], [2, None]]
    assert len(r["test_curve"]) <= MAX_CURVE_POINTS
    assert r["final_train_loss"] != r["final_train_loss"]  # NaN stays missing


def test_store_path_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("MUFNO_RESULTS", raising=False)
    assert resolve_store_path() == Path(DEFAULT_STORE) == Path("results/results.sqlite")
    monkeypatch.setenv("MUFNO_RESULTS", str(tmp_path / "env.sqlite"))
    assert resolve_store_path() == tmp_path / "env.sqlite"
    assert resolve_store_path(tmp_path / "x.sqlite") == tmp_path / "x.sqlite"


WRITER = textwrap.dedent("""
    import sys
    from mufno_lite.store import ResultsStore
    path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    st = ResultsStore(path, timeout_s=60)
    for b in range(n // 10):
        rows = [{"run_id": f"{tag}-{b}-{i}", "status": "done", "K": i, "lr": 1e-3, "config": {"b": b, "i": i},
                 "train_curve": [[s, 1.0] for s in range(50)]} for i in range(10)]
        st.write_rows(rows, sweeps=[tag, "shared"])
        st.statuses([r["run_id"] for r in rows])
""")


def test_two_processes_write_one_store(tmp_path):
    path = tmp_path / "c.sqlite"
    ResultsStore(path).initialise()  # create the schema first, as a sweep would (reads never create it)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag, "300"], cwd=REPO,
                              stderr=subprocess.PIPE, text=True) for tag in ("p1", "p2")]
    for p in procs:
        _, err = p.communicate(timeout=90)
        assert p.returncode == 0, err
    st = ResultsStore(path)
    assert st.integrity_check() == "ok"
    df = load_results(st)
    assert len(df) == 600 and df["run_id"].is_unique
    assert len(st.sweep_run_ids("shared")) == 600 and len(st.sweep_run_ids("p1")) == 300
