"""Tests of the Ray executor: same results as in process, retries of dead workers, stopping,
shutdown, and that Ray stays an optional, lazily imported extra.

The Ray tests run on a private local instance (2 CPUs, no dashboard, loopback only) shared by the
module, except the shutdown test, which starts and stops its own (it runs first, before the
shared one exists).  Workers import ``tests/_ray_helpers.py`` by name: its folder is put on their
PYTHONPATH.
"""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from mufno_lite.store import ResultsStore, load_results
from mufno_lite.sweep import ExecutionContext, SweepConfig, population_tasks, run_sweep

torch.set_num_threads(1)

HERE = Path(__file__).resolve().parent
try:
    import ray  # noqa: F401

    HAVE_RAY = True
except ImportError:
    HAVE_RAY = False


TINY = {
    "name": "tiny_ray",
    "pde": "burgers",
    "data": {"resolution": 16, "n_train": 12, "n_test": 4, "seed": 0},
    "model": {"width": 8, "n_layers": 1, "projection_width": 8},
    "parametrizations": ["sp", "mup"],
    "K": [2, 3],
    "lr": [1e-3, 1e-2],
    "seeds": [0, 1],
    "batch_sizes": [4],
    "train": {"steps": 8, "schedule": "constant"},
}


def _env_for_workers():
    """Environment Ray's processes inherit when the instance starts (restored by the caller)."""
    return {
        "PYTHONPATH": os.pathsep.join([str(HERE)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
        "RAY_AUTH_MODE": "disabled",
        "RAY_USAGE_STATS_ENABLED": "0",
        "OMP_NUM_THREADS": "1",
    }


def _start(ex):
    saved = {k: os.environ.get(k) for k in _env_for_workers()}
    os.environ.update(_env_for_workers())
    try:
        ex.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return ex


# ------------------------------------------------------------------------------------------------
# without Ray: optional import, clear error, argument checks
# ------------------------------------------------------------------------------------------------


def test_importing_the_package_does_not_import_ray():
    code = ("import sys, mufno_lite, mufno_lite.sweep, mufno_lite.cli, mufno_lite.sweep.executors.ray; "
            "mufno_lite.cli.build_parser(); print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_missing_ray_gives_install_hint(monkeypatch):
    from mufno_lite.sweep.executors import ray as ray_executor

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'mufno-lite\[cluster\]'"):
        ray_executor.RayExecutor()
    with pytest.raises(ImportError, match="optional dependency 'ray'"):
        ray_executor.import_ray()


def test_cli_asks_for_ray_and_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    import json

    from mufno_lite.cli import main

    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(TINY))
    monkeypatch.setitem(sys.modules, "ray", None)
    code = main(["sweep", str(cfg), "--store", str(tmp_path / "r.sqlite"), "--executor", "ray", "--progress", "off"])
    assert code == 2
    assert "pip install 'mufno-lite[cluster]'" in capsys.readouterr().err
    assert not (tmp_path / "r.sqlite").exists()  # refused before anything ran


@pytest.mark.parametrize("kw, match", [
    ({"cpus_per_task": -1}, "cpus_per_task=-1"),
    ({"cpus_per_task": 0}, "cpus_per_task=0"),
    ({"max_retries": 1.5}, "max_retries=1.5"),
    ({"max_retries": -1}, "max_retries=-1"),
    ({"num_gpus_per_task": "1"}, "num_gpus_per_task='1'"),
    ({"memory_per_task": 0}, "memory_per_task=0"),
    ({"num_cpus": 0}, "num_cpus=0"),
    ({"address": "auto", "num_cpus": 2}, "num_cpus=2 with address='auto'"),
    ({"address": ""}, "address=''"),
    ({"device": "tpu"}, "device='tpu'"),
    ({"init_kwargs": [1]}, r"init_kwargs=\[1\]"),
])
def test_bad_arguments_name_parameter_and_value(kw, match):
    from mufno_lite.sweep.executors.ray import RayExecutor

    with pytest.raises(ValueError, match=match):
        RayExecutor(**kw)


# ------------------------------------------------------------------------------------------------
# with Ray
# ------------------------------------------------------------------------------------------------


@pytest.mark.ray
@pytest.mark.skipif(not HAVE_RAY, reason="ray is not installed (pip install 'mufno-lite[cluster]')")
def test_close_shuts_down_the_local_instance_it_started(tmp_path):
    import psutil
    import ray

    from mufno_lite.sweep.executors.ray import RayExecutor

    assert not ray.is_initialized()
    before = {p.pid for p in psutil.Process().children(recursive=True)}

    def mine(signum, frame):  # pragma: no cover - never called
        pass

    old = signal.signal(signal.SIGTERM, mine)
    ex = RayExecutor(num_cpus=1)
    try:
        _start(ex)
        assert signal.getsignal(signal.SIGTERM) is mine  # ray.init's own handler was undone
    finally:
        signal.signal(signal.SIGTERM, old)
    with ex:
        assert ray.is_initialized() and ex.init_time_s > 0
        started = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
        names = " ".join(" ".join(p.cmdline()) for p in started if p.is_running())
        assert "raylet" in names and "gcs_server" in names
        c = SweepConfig.from_dict(dict(TINY, parametrizations=["sp"], K=[2], lr=[1e-3], seeds=[0],
                                       train={"steps": 2, "schedule": "constant"}))
        rep = run_sweep(c, ResultsStore(tmp_path / "r.sqlite"), executor=ex, verbose=False)
        assert rep.status == "complete" and rep.n_done == 1
        started += [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert not ray.is_initialized()
    deadline = time.time() + 20
    alive = started
    while time.time() < deadline:
        alive = [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not alive:
            break
        time.sleep(0.25)
    assert not alive, f"ray processes still running after close(): {[(p.pid, p.name()) for p in alive]}"


@pytest.fixture(scope="module")
def shared_ray():
    """One local Ray instance (2 CPUs) for the tests below; shut down at the end of the module."""
    from mufno_lite.sweep.executors.ray import RayExecutor

    ex = RayExecutor(num_cpus=2, cpus_per_task=1, max_retries=1)
    _start(ex)
    yield ex
    ex.close()
    import ray

    assert not ray.is_initialized()


@pytest.mark.ray
@pytest.mark.skipif(not HAVE_RAY, reason="ray is not installed (pip install 'mufno-lite[cluster]')")
def test_same_results_through_ray_as_in_process(tmp_path, shared_ray):
    import ray

    assert {n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]} == {"127.0.0.1"}  # loopback only
    c = SweepConfig.from_dict(TINY)
    st_local, st_ray = ResultsStore(tmp_path / "local.sqlite"), ResultsStore(tmp_path / "ray.sqlite")
    rep_local = run_sweep(c, st_local, verbose=False)
    rep_ray = run_sweep(c, st_ray, executor=shared_ray, verbose=False)
    assert rep_local.status == rep_ray.status == "complete"
    assert rep_ray.n_populations_run == 4 and rep_ray.n_done + rep_ray.n_diverged == 16
    a = load_results(st_local, sweep="tiny_ray").set_index("run_id").sort_index()
    b = load_results(st_ray, sweep="tiny_ray").set_index("run_id").sort_index()
    assert list(a.index) == list(b.index) and len(a) == 16
    assert list(a["status"]) == list(b["status"])
    for col in ("final_train_loss", "test_rel_l2"):
        assert torch.allclose(torch.tensor(a[col].to_numpy()), torch.tensor(b[col].to_numpy()), rtol=1e-6, atol=0)
    assert [cv[-1][0] for cv in a["train_curve"]] == [cv[-1][0] for cv in b["train_curve"]]
    assert [cv[-1][1] for cv in a["train_curve"]] == pytest.approx([cv[-1][1] for cv in b["train_curve"]], rel=1e-6)
    assert set(b["population_id"]) == {t["task_id"] for t in population_tasks(c)}
    # worker processes differ from the driver
    assert (b["population_wall_time_s"] > 0).all()
    # resuming through Ray runs nothing more
    again = run_sweep(c, st_ray, executor=shared_ray, verbose=False)
    assert again.n_skipped == 16 and again.n_populations_run == 0 and again.status == "complete"


@pytest.mark.ray
@pytest.mark.skipif(not HAVE_RAY, reason="ray is not installed (pip install 'mufno-lite[cluster]')")
def test_dead_workers_are_retried_then_recorded_failed(tmp_path, shared_ray):
    from _ray_helpers import CrashingTrainer

    from mufno_lite.sweep.executors.ray import RayExecutor

    ex = RayExecutor(max_retries=1)  # joins the running instance, does not own it
    c = SweepConfig.from_dict(dict(TINY, seeds=[0], train={"steps": 3, "schedule": "constant"}))
    st = ResultsStore(tmp_path / "r.sqlite")
    trainer = CrashingTrainer(tmp_path, crash_once=[("sp", 2)], crash_always=[("mup", 3)])
    rep = run_sweep(c, st, executor=ex, trainer=trainer, verbose=False)
    df = load_results(st, sweep="tiny_ray")
    by = {(p, k): set(g["status"]) for (p, k), g in df.groupby(["parametrization", "K"])}
    assert by == {("sp", 2): {"done"}, ("sp", 3): {"done"}, ("mup", 2): {"done"}, ("mup", 3): {"failed"}}
    assert rep.status == "partial" and rep.n_failed == 2 and rep.n_done == 6
    err = df[df["status"] == "failed"]["error"].iloc[0]
    assert "WorkerCrashedError" in err and "after 2 attempt(s)" in err
    attempts = (tmp_path / "attempts.log").read_text().split("\n")
    count = lambda p, k: sum(1 for line in attempts if line.startswith(f"{p} {k} "))  # noqa: E731
    assert count("sp", 2) == 2 and count("mup", 3) == 2 and count("sp", 3) == 1 and count("mup", 2) == 1
    ex.close()
    import ray

    assert ray.is_initialized()  # the shared instance was not this executor's to stop
    # a re-run retries only what is not done: the failed population, which now succeeds
    (tmp_path / "attempts.log").unlink()
    rep2 = run_sweep(c, st, executor=ex, trainer=CrashingTrainer(tmp_path), verbose=False)
    assert rep2.n_skipped == 6 and rep2.n_populations_run == 1 and rep2.n_done == 2 and rep2.status == "complete"
    assert (tmp_path / "attempts.log").read_text().split()[:2] == ["mup", "3"]
    assert set(load_results(st, sweep="tiny_ray")["status"]) == {"done"}


@pytest.mark.ray
@pytest.mark.skipif(not HAVE_RAY, reason="ray is not installed (pip install 'mufno-lite[cluster]')")
def test_stop_cancels_outstanding_tasks(shared_ray, monkeypatch):
    from _ray_helpers import slow_trainer

    c = SweepConfig.from_dict(dict(TINY, K=[2, 3, 4], seeds=[0], train={"steps": 2, "schedule": "constant"}))
    tasks = population_tasks(c)
    assert len(tasks) == 6
    results = []
    ctx = ExecutionContext(trainer=slow_trainer, should_stop=lambda: len(results) >= 1)
    t0 = time.perf_counter()
    shared_ray.map_populations(tasks, lambda task, rows: results.append((task["task_id"], rows)), context=ctx)
    wall = time.perf_counter() - t0
    # 2 CPUs: at most the 2 first tasks finish (together); the other 4 are cancelled, not waited for
    assert 1 <= len(results) <= 2 and wall < 3 * 3.0 + 5
    assert all(r["status"] == "done" for _, rows in results for r in rows)
    # the instance is still usable afterwards (cancelled tasks freed their CPUs)
    ctx2 = ExecutionContext()
    more = []
    shared_ray.map_populations(tasks[:1], lambda task, rows: more.append(rows), context=ctx2)
    assert len(more) == 1 and more[0][0]["status"] == "done"


@pytest.mark.ray
@pytest.mark.skipif(not HAVE_RAY, reason="ray is not installed (pip install 'mufno-lite[cluster]')")
def test_sigint_during_a_ray_sweep_stops_it_cleanly(tmp_path, shared_ray):
    from _ray_helpers import slow_trainer

    c = SweepConfig.from_dict(dict(TINY, seeds=[0], train={"steps": 2, "schedule": "constant"}))
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    try:
        rep = run_sweep(c, ResultsStore(tmp_path / "r.sqlite"), executor=shared_ray, trainer=slow_trainer,
                        verbose=False)
    finally:
        timer.cancel()
    assert rep.status == "interrupted" and rep.exit_code == 130 and rep.n_populations_run == 0
    assert time.perf_counter() - t0 < 2.9  # did not wait for the 3 s tasks


@pytest.mark.ray
@pytest.mark.skipif(not HAVE_RAY, reason="ray is not installed (pip install 'mufno-lite[cluster]')")
def test_cli_sweep_with_the_ray_executor(tmp_path, shared_ray, capsys):
    import json

    import ray

    from mufno_lite.cli import main

    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(dict(TINY, K=[2], seeds=[0], train={"steps": 2, "schedule": "constant"})))
    store = tmp_path / "r.sqlite"
    code = main(["sweep", str(cfg), "--store", str(store), "--executor", "ray", "--ray-max-retries", "1",
                 "--progress", "off", "--threads", "1"])
    assert code == 0 and ray.is_initialized()  # joined the running instance, left it running
    assert set(load_results(ResultsStore(store))["status"]) <= {"done", "diverged"}
    assert main(["sweep", str(cfg), "--store", str(store), "--executor", "ray", "--ray-address", "auto",
                 "--ray-num-cpus", "2"]) == 2
    assert "num_cpus applies to a local instance only" in capsys.readouterr().err
