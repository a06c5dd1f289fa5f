"""Tests of `python -m mufno_lite` (sweep, status, export), with real kills and signals."""
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mufno_lite.cli import SUBCOMMANDS, build_parser, main, subcommand
from mufno_lite.store import ResultsStore, load_results

torch.set_num_threads(1)
yaml = pytest.importorskip("yaml")
REPO = Path(__file__).resolve().parents[1]

TINY = {
    "name": "cli_tiny",
    "pde": "burgers",
    "data": {"resolution": 16, "n_train": 12, "n_test": 4},
    "model": {"width": 8, "n_layers": 1, "projection_width": 8},
    "parametrizations": ["sp", "mup"],
    "K": [2, 3],
    "lr": {"start": -3, "stop": -2, "per_decade": 2},
    "seeds": [0],
    "batch_sizes": [4],
    "train": {"steps": 4},
}

# four populations of four runs, each ~0.5 s of training on one thread: room to interrupt between them
SLOW = {
    "name": "cli_slow",
    "pde": "burgers",
    "data": {"resolution": 32, "n_train": 20, "n_test": 4},
    "model": {"width": 8, "n_layers": 2, "projection_width": 16},
    "parametrizations": ["mup"],
    "K": [2, 3, 4, 5],
    "lr": [1e-3, 2e-3, 4e-3, 8e-3],
    "seeds": [0],
    "batch_sizes": [10],
    "train": {"steps": 200},
}


def write(tmp_path, d, name="c.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(d))
    return p


def test_parser_registry_is_extensible():
    assert {"sweep", "status", "export"} <= set(SUBCOMMANDS)

    @subcommand("hello-test", help="test only")
    def _hello(parser):
        parser.add_argument("--n", type=int, default=1)
        return lambda args: 40 + args.n

    try:
        assert main(["hello-test", "--n", "2"]) == 42
        assert "hello-test" in build_parser().format_help()
    finally:
        SUBCOMMANDS.pop("hello-test")


def test_bad_config_refused_before_anything_runs(tmp_path, capsys):
    bad = dict(TINY, train={"steps": -3})
    store = tmp_path / "r.sqlite"
    assert main(["sweep", str(write(tmp_path, bad)), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert "train.steps must be an integer in [1, " in err and "; got train.steps=-3" in err
    assert not store.exists()
    assert main(["sweep", str(write(tmp_path, dict(TINY, K=[2, 99]))), "--store", str(store)]) == 2
    assert "K[1]=99" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path / "nope.yaml"), "--store", str(store)]) == 2
    with pytest.raises(SystemExit) as e:
        main(["sweep", str(write(tmp_path, TINY)), "--device", "tpu"])
    assert e.value.code == 2
    assert not store.exists()


def test_sweep_status_export_in_process(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CI", "1")
    cfgp = write(tmp_path, TINY)
    store = tmp_path / "r.sqlite"
    assert main(["sweep", str(cfgp), "--store", str(store), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "12 runs, 12 to run" in out and not store.exists()
    assert main(["sweep", str(cfgp), "--store", str(store), "--max-populations", "1", "--threads", "1"]) == 0
    assert ResultsStore(store).count() == 3
    assert main(["status", str(cfgp), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "12 runs" in out and "pending: 9" in out
    assert main(["status", "--store", str(store), "--sweep", "cli_tiny"]) == 0
    out = capsys.readouterr().out
    assert "12 runs" in out and "pending: 9" in out and "?" not in out
    assert main(["sweep", str(cfgp), "--store", str(store), "--threads", "0"]) == 2
    # the env variable names the store when --store is absent
    monkeypatch.setenv("MUFNO_RESULTS", str(store))
    assert main(["sweep", str(cfgp)]) == 0
    out = capsys.readouterr().out  # the summary goes to stdout (warnings and errors to stderr)
    assert "3 already stored" in out and "complete" in out
    assert main(["status", "--sweep", "cli_tiny"]) == 0
    out = capsys.readouterr().out
    assert "12 runs" in out and "pending" not in out
    csvp = tmp_path / "out" / "r.csv"
    assert main(["export", "--store", str(store), "--sweep", "cli_tiny", "--csv", str(csvp)]) == 0
    rows = list(csv.DictReader(csvp.open()))
    assert len(rows) == 12 and {r["K"] for r in rows} == {"2", "3"}
    assert json.loads(rows[0]["config"])["train"]["steps"] == 4 and len(json.loads(rows[0]["train_curve"])) >= 2
    assert main(["status", "--store", str(tmp_path / "missing.sqlite")]) == 2


# ------------------------------------------------------------------------------------------------
# real processes: SIGKILL, SIGTERM, SIGINT
# ------------------------------------------------------------------------------------------------


def _env():
    env = dict(os.environ, CI="1", PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    env.pop("MUFNO_RESULTS", None)
    return env


def _start(cfgp, store):
    return subprocess.Popen([sys.executable, "-m", "mufno_lite", "sweep", str(cfgp), "--store", str(store)],
                            cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _rows(store):
    if not Path(store).exists():
        return []
    try:
        con = sqlite3.connect(str(store), timeout=10)
        try:
            return con.execute("SELECT run_id, status, created_at, population_id FROM runs").fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError:  # schema not created yet
        return []


def _wait_for_rows(proc, store, n, timeout=60):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        rows = _rows(store)
        if len(rows) >= n:
            return rows
        if proc.poll() is not None:
            pytest.fail(f"sweep ended early (rc={proc.returncode}): {proc.stderr.read()}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("no population finished in time")


def _check_consistent(store, pop_size=4):
    st = ResultsStore(store)
    assert st.integrity_check() == "ok"
    df = load_results(st)
    assert df["run_id"].is_unique
    sizes = df.groupby("population_id").size()
    assert (sizes == pop_size).all(), "a population was stored partially"
    return df


def test_sigkill_loses_at_most_the_population_in_flight(tmp_path):
    cfgp, store = write(tmp_path, SLOW), tmp_path / "kill.sqlite"
    proc = _start(cfgp, store)
    _wait_for_rows(proc, store, 4)
    proc.kill()  # SIGKILL
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    df = _check_consistent(store)
    assert 4 <= len(df) < 16 and set(df["status"]) <= {"done", "diverged"}
    before = df.set_index("run_id")[["created_at", "population_id"]]
    out = subprocess.run([sys.executable, "-m", "mufno_lite", "sweep", str(cfgp), "--store", str(store)], cwd=REPO,
                         env=_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"{len(df)} already stored" in out.stdout
    after = _check_consistent(store)
    assert len(after) == 16 and set(after["status"]) == {"done"}
    assert len(ResultsStore(store).sweep_run_ids("cli_slow")) == 16
    again = after.set_index("run_id").loc[before.index, ["created_at", "population_id"]]
    assert again.equals(before)  # the earlier rows were not recomputed


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly_with_rows_recorded(tmp_path, sig, code):
    cfgp, store = write(tmp_path, SLOW), tmp_path / "sig.sqlite"
    proc = _start(cfgp, store)
    _wait_for_rows(proc, store, 4)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"{signal.Signals(sig).name} received" in err
    assert "Resume with: python -m mufno_lite sweep" in err and "interrupted" in err
    assert "Traceback" not in err
    df = _check_consistent(store)
    assert 4 <= len(df) < 16


def test_summary_subcommand(tmp_path, capsys):
    from mufno_lite.cli import main
    from mufno_lite.experiments import run_experiment

    store = tmp_path / "s.sqlite"
    run_experiment("burgers_lr", preset="smoke", store=store, device="cpu", progress=False, verbose=False)
    assert main(["summary", "--store", str(store), "--preset", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "burgers_lr@smoke" in out and "fit_drift_steps" in out
    # the pooled slope over all K, beside theory's (smoke has two K: no slope verdict)
    assert "slope of the fitted optimal log10-LR" in out and "fewer than 3 K" in out and "(bound; one LR)" in out
    from mufno_lite.experiments import SLOPE_COLS, summarize

    _, drift = summarize(store, "smoke", n_boot=100, metrics=("tail_train_loss",))
    assert set(SLOPE_COLS) <= set(drift.columns)
    sp = drift.set_index("parametrization").loc["sp"]
    assert sp["theory_slope"] == -1.0 and sp["n_K"] == 2 and sp["slope_verdict"] == "fewer than 3 K"
    assert main(["summary", "--store", str(store), "--preset", "paper"]) == 2
