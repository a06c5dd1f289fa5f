"""The GPU path's logic, checked on a CPU (issue 20, items 1-7): the Ray executor's GPU request, each
process's share of the device's memory, out-of-memory retries (an injected OOM), the TF32 decision
and CUDA determinism (set in one place, stored in the run row), a cache key of its own for data
generated on a GPU, and clocks that synchronise on CUDA (patched calls)."""
import json
import math
import os
import sqlite3
import types

import pytest
import torch

import mufno_lite.train.population as P
from mufno_lite import device as D
from mufno_lite.memory import MemoryBudgetError, device_budget
from mufno_lite.train import Member, TrainConfig, train_population

from test_population_chunks import CFG, MEMBERS, TRAIN, _same
from test_train import _heat_dataset


@pytest.fixture
def restore_numerics():
    """configure_numerics changes process-wide torch flags: put them back."""
    saved = (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision,
             torch.backends.cudnn.rnn.fp32_precision, torch.get_float32_matmul_precision(),
             torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic,
             torch.are_deterministic_algorithms_enabled(), os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
    yield
    (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision,
     torch.backends.cudnn.rnn.fp32_precision) = saved[:3]
    torch.set_float32_matmul_precision(saved[3])
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[4], saved[5]
    torch.use_deterministic_algorithms(saved[6])
    if saved[7] is None:
        os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    else:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = saved[7]


# ---- 1. Ray: a cuda sweep asks for a GPU per task, or is refused in one line ----------------------

def test_ray_gpu_request_defaults_to_one_for_cuda_and_refuses_zero():
    from mufno_lite.sweep.executors.ray import gpus_per_task

    assert gpus_per_task("cuda", None) == 1 and gpus_per_task("cuda:1", None) == 1
    assert gpus_per_task("cpu", None) == 0 and gpus_per_task("auto", None) == 0
    assert gpus_per_task("cuda", 0.5) == 0.5
    with pytest.raises(ValueError, match="--ray-num-gpus 0 with device 'cuda'"):
        gpus_per_task("cuda", 0)


def test_ray_executor_request_and_its_refusals():
    pytest.importorskip("ray")
    from mufno_lite.sweep.executors.ray import RayExecutor

    ex = RayExecutor(num_gpus_per_task=1)
    assert ex._options()["num_gpus"] == 1 and ex.device == "cuda"
    with pytest.raises(ValueError, match="num_gpus_per_task must be > 0 with device='cuda'"):
        RayExecutor(device="cuda", num_gpus_per_task=0)
    cpu = RayExecutor(num_gpus_per_task=0)
    with pytest.raises(ValueError, match="num_gpus_per_task=0 but the tasks train on 'cuda'"):
        cpu.check_tasks([{"device": "cpu"}, {"device": "cuda"}])
    cpu.check_tasks([{"device": "cpu"}])  # nothing to refuse


def test_cli_refuses_a_cuda_ray_sweep_without_gpus_in_one_line(tmp_path, capsys):
    from mufno_lite.cli import main
    from test_ray_executor import TINY

    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(TINY))
    code = main(["sweep", str(cfg), "--store", str(tmp_path / "r.sqlite"), "--executor", "ray", "--device", "cuda",
                 "--ray-num-gpus", "0", "--progress", "off"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--ray-num-gpus 0" in err
    assert not (tmp_path / "r.sqlite").exists()


def test_cli_gives_a_cuda_ray_sweep_one_gpu_per_task(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    import mufno_lite.sweep as sweep_pkg
    import mufno_lite.sweep.executors.ray as R
    from mufno_lite.cli import main
    from test_ray_executor import TINY

    seen = {}

    class Recorder:
        def __init__(self, **kw):
            seen.update(kw)

        def close(self):
            pass

    monkeypatch.setattr(R, "RayExecutor", Recorder)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the driver "has" a GPU
    monkeypatch.setattr(sweep_pkg, "run_sweep", lambda *a, **k: types.SimpleNamespace(status="done", n_failed=0))
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(TINY))
    assert main(["sweep", str(cfg), "--store", str(tmp_path / "r.sqlite"), "--executor", "ray",
                 "--device", "cuda", "--progress", "off"]) == 0
    assert seen["num_gpus_per_task"] == 1


# ---- 2. the memory budget is the process's share of the device ------------------------------------

def _fake_gpu(monkeypatch, total=10e9):
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda dev: types.SimpleNamespace(total_memory=total))


def test_device_budget_is_this_process_share(monkeypatch):
    _fake_gpu(monkeypatch)
    monkeypatch.delenv(D.DEVICE_SHARE_ENV, raising=False)
    assert device_budget("cuda") == pytest.approx(8e9)
    monkeypatch.setenv(D.DEVICE_SHARE_ENV, "0.25")
    assert device_budget("cuda") == pytest.approx(2e9)
    assert device_budget("cuda", share=0.5) == pytest.approx(4e9)
    assert device_budget("cpu") is None
    for bad in ("0", "1.5", "half"):
        monkeypatch.setenv(D.DEVICE_SHARE_ENV, bad)
        with pytest.raises(ValueError, match=f"MUFNO_DEVICE_SHARE={bad!r}"):
            device_budget("cuda")
    with pytest.raises(ValueError, match="share=2"):
        device_budget("cuda", share=2)


def test_ray_task_sets_its_gpu_fraction_as_share(monkeypatch):
    import mufno_lite.sweep.tasks as T
    from mufno_lite.sweep.executors.ray import _run_population_remote

    monkeypatch.setattr(T, "run_population_task", lambda task, **kw: os.environ.get(D.DEVICE_SHARE_ENV))
    monkeypatch.delenv(D.DEVICE_SHARE_ENV, raising=False)
    assert _run_population_remote({"device": "cuda"}, None, None, 0, None, 0.5) == "0.5"
    assert _run_population_remote({"device": "cuda"}, None, None, 0, None, 2) == "1.0"


def test_pool_workers_on_one_gpu_each_get_their_share(tmp_path):
    from mufno_lite.sweep import ExecutionContext, SweepConfig, population_tasks
    from mufno_lite.sweep.executors.pool import LocalPoolExecutor, gpu_share
    from test_ray_executor import TINY

    assert gpu_share([{"device": "cuda"}] * 3, 4) == pytest.approx(1 / 3)
    assert gpu_share([{"device": "cuda"}] * 8, 4) == pytest.approx(0.25)
    assert gpu_share([{"device": "cpu"}] * 8, 4) is None
    from _fault_helpers import fake_data
    from _gpu_helpers import share_trainer

    cfg = SweepConfig.from_dict(dict(TINY, K=[2, 3], parametrizations=["mup"], seeds=[0], lr=[1e-3],
                                     cache_dir=str(tmp_path)))
    tasks = population_tasks(cfg, device="cuda")
    assert len(tasks) == 2
    got = []
    LocalPoolExecutor(workers=4).map_populations(
        tasks, lambda task, rows: got.extend(rows),
        context=ExecutionContext(trainer=share_trainer, dataset_factory=fake_data))
    assert len(got) == 2 and all("DEVICE_SHARE=0.5 device=cuda" in r["error"] for r in got)


# ---- 3. out of memory: free, halve, retry, record; then fail naming the architecture -------------

def _inject_oom(monkeypatch, max_members):
    """_run_steps raises torch.cuda.OutOfMemoryError for any chunk above ``max_members`` members."""
    orig = P._run_steps
    freed = []

    def run_steps(chunks, *a, **k):
        if max(len(c.ids) for c in chunks) > max_members:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        return orig(chunks, *a, **k)

    monkeypatch.setattr(P, "_run_steps", run_steps)
    monkeypatch.setattr(P, "free_device_memory", lambda dev: freed.append(str(dev)))
    return freed


def test_injected_oom_halves_the_chunk_and_gives_the_same_results(monkeypatch):
    data = _heat_dataset()
    ref = train_population(CFG, "mup", data, MEMBERS, TRAIN, member_chunk=2)
    freed = _inject_oom(monkeypatch, 2)
    got, model = train_population(CFG, "mup", data, MEMBERS, TRAIN, memory_budget=1e12, return_model=True)
    assert freed == ["cpu"]  # one OOM (5 members), freed once, then chunks of 2, 2, 1
    for a, b in zip(ref, got):
        _same(a, b)
    ex = got[0].execution
    assert ex["member_chunk"] == 2 and ex["sequential"] is True
    assert [(e["members"], e["retry_with"]) for e in ex["oom_retries"]] == [(5, 2)]
    assert "injected" in ex["oom_retries"][0]["error"]
    assert model.members == len(MEMBERS)


def test_oom_halves_repeatedly_down_to_one_member(monkeypatch):
    data = _heat_dataset()
    ref = train_population(CFG, "mup", data, MEMBERS[:4], TRAIN, member_chunk=1)
    _inject_oom(monkeypatch, 1)
    got = train_population(CFG, "mup", data, MEMBERS[:4], TRAIN, memory_budget=1e12)
    for a, b in zip(ref, got):
        _same(a, b)
    assert [(e["members"], e["retry_with"]) for e in got[0].execution["oom_retries"]] == [(4, 2), (2, 1)]


def test_oom_with_one_member_fails_naming_architecture_and_memory(monkeypatch):
    data = _heat_dataset()
    _inject_oom(monkeypatch, 0)
    with pytest.raises(MemoryBudgetError) as e:
        train_population(CFG, "mup", data, MEMBERS[:2], TRAIN, memory_budget=1e12)
    msg = str(e.value)
    assert "FNO d=1 K=4 width=8 n_layers=2" in msg and "one member per chunk" in msg
    assert "chunk sizes tried: 2 -> 1" in msg and " GB for one member's training step" in msg
    assert "injected" in msg


def test_oom_failure_becomes_failed_rows_with_the_message(monkeypatch, tmp_path):
    from mufno_lite.sweep import SweepConfig, population_tasks, run_population_task
    from test_ray_executor import TINY

    _inject_oom(monkeypatch, 0)
    cfg = SweepConfig.from_dict(dict(TINY, K=[2], parametrizations=["mup"], seeds=[0], lr=[1e-3], cache_dir=str(tmp_path)))
    rows = run_population_task(population_tasks(cfg)[0])
    assert rows[0]["status"] == "failed" and "out of device memory with one member" in rows[0]["error"]


# ---- 4 and 7. one TF32 decision and CUDA determinism, set in one place, stored in the row ---------

def test_tf32_is_off_by_default_and_set_in_one_place(monkeypatch, restore_numerics):
    monkeypatch.delenv("MUFNO_TF32", raising=False)
    s = D.configure_numerics("cpu")
    assert D.TF32 is False and s["tf32_matmul"] is False and s["tf32_cudnn"] is False
    assert s["float32_matmul_precision"] == "highest"
    monkeypatch.setenv("MUFNO_TF32", "1")
    s = D.configure_numerics("cpu")
    assert s["tf32_matmul"] and s["tf32_cudnn"] and torch.backends.cuda.matmul.fp32_precision == "tf32"
    assert D.configure_numerics("cpu", tf32=False)["tf32_matmul"] is False  # the argument wins
    monkeypatch.setenv("MUFNO_TF32", "maybe")
    with pytest.raises(ValueError, match="MUFNO_TF32='maybe'"):
        D.configure_numerics("cpu")


def test_cuda_determinism_is_configured(monkeypatch, restore_numerics):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    torch.backends.cudnn.benchmark = True
    assert D.configure_numerics("cpu")["cudnn_benchmark"] is True  # a CPU run leaves CUDA's flags alone
    s = D.configure_numerics("cuda")
    assert s["cublas_workspace_config"] == ":4096:8" == os.environ["CUBLAS_WORKSPACE_CONFIG"]
    assert s["cudnn_benchmark"] is False and s["cudnn_deterministic"] is True and s["deterministic_algorithms"]


def test_numerics_and_chunking_are_stored_in_the_run_row(tmp_path, monkeypatch, restore_numerics):
    from mufno_lite.store import ResultsStore, load_results
    from mufno_lite.sweep import SweepConfig, population_tasks, run_population_task
    from test_ray_executor import TINY

    monkeypatch.delenv("MUFNO_TF32", raising=False)
    cfg = SweepConfig.from_dict(dict(TINY, K=[2], parametrizations=["mup"], seeds=[0], cache_dir=str(tmp_path)))
    rows = run_population_task(population_tasks(cfg)[0])
    assert rows[0]["status"] == "done"
    ex = rows[0]["execution"]
    assert ex["tf32_matmul"] is False and ex["oom_retries"] == [] and ex["member_chunk"] >= 1
    store = ResultsStore(tmp_path / "r.sqlite")
    store.write_rows(rows)
    df = load_results(tmp_path / "r.sqlite")
    assert df["execution"].iloc[0]["tf32_matmul"] is False


def test_an_older_store_without_the_execution_column_is_read_and_extended(tmp_path):
    from mufno_lite.store import ResultsStore, load_results

    path = tmp_path / "old.sqlite"
    store = ResultsStore(path)
    store.write_rows([{"run_id": "a", "status": "done", "config": {"x": 1}}])
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE runs DROP COLUMN execution")  # as a store written before the column
    con.commit()
    con.close()
    assert load_results(path)["execution"].tolist() == [None]  # read-only: NULL
    ResultsStore(path).write_rows([{"run_id": "b", "status": "done", "config": {}, "execution": {"tf32_matmul": False}}])
    df = load_results(path).set_index("run_id")
    assert df.loc["b", "execution"] == {"tf32_matmul": False} and df.loc["a", "execution"] is None


# ---- 5. data generated on a GPU has its own cache key ---------------------------------------------

def test_gpu_generated_data_has_its_own_cache_key(monkeypatch, tmp_path):
    import mufno_lite.data.dataset as DS
    from mufno_lite.data.cache import config_key

    seen = []

    class Stop(Exception):
        pass

    def capture(cache_dir, pde, config, generate):
        seen.append(config)
        raise Stop

    monkeypatch.setattr(DS, "cached_arrays", capture)
    for dev in ("cpu", "cuda"):
        with pytest.raises(Stop):
            DS.load_dataset("burgers", resolution=16, n_train=2, n_test=1, cache_dir=tmp_path, device=dev)
    cpu, gpu = seen
    assert "generated_on" not in cpu and gpu == {**cpu, "generated_on": "cuda"}
    assert config_key(cpu) != config_key(gpu)
    assert DS.cache_config(cpu, torch.device("cuda:1")) == gpu


# ---- 6. clocks synchronise on CUDA ---------------------------------------------------------------

def test_synchronize_and_synced_progress(monkeypatch):
    from mufno_lite.train.gpu import synced_progress

    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda dev=None: calls.append(str(dev)))
    D.synchronize("cpu")
    assert calls == []
    D.synchronize("cuda")
    assert calls == ["cuda"]
    stamps = []
    cb = lambda s, t: stamps.append((len(calls), s))  # noqa: E731
    assert synced_progress(cb, "cpu") is cb and synced_progress(None, "cuda") is None
    synced = synced_progress(cb, "cuda")
    synced(1, 10)
    synced(2, 10)
    assert stamps == [(2, 1), (3, 2)]  # the device was synchronised before each callback


def test_trainers_synchronise_before_reading_the_wall_clock(monkeypatch):
    import mufno_lite.train.single as S
    from mufno_lite.fno import FNO

    seen = []
    monkeypatch.setattr(P, "synchronize", lambda dev: seen.append(("population", str(dev))))
    monkeypatch.setattr(S, "synchronize", lambda dev: seen.append(("single", str(dev))))
    data = _heat_dataset()
    train_population(CFG, "sp", data, MEMBERS[:2], TrainConfig(steps=2, batch_size=4))
    S.train_model(FNO(CFG, parametrization="sp"), data, TrainConfig(steps=2, batch_size=4))
    assert seen == [("population", "cpu"), ("single", "cpu")]


def test_numerics_are_configured_before_the_data_is_loaded(monkeypatch):
    """cuBLAS reads CUBLAS_WORKSPACE_CONFIG when its handle is made: a GPU data generator may make it."""
    import mufno_lite.sweep.tasks as T

    order = []
    monkeypatch.setattr(T, "configure_numerics", lambda dev: order.append(("numerics", dev)))

    def load(task, factory):
        order.append(("data", task["device"]))
        raise RuntimeError("stop here")

    monkeypatch.setattr(T, "load_dataset_cached", load)
    task = {"device": "cuda", "members": [], "task_id": "x"}
    assert T.run_population_task(task) == []  # no members: no rows, the failure is recorded per member
    assert order == [("numerics", "cuda"), ("data", "cuda")]


def test_cufft_allocation_failure_counts_as_oom_and_other_errors_propagate(monkeypatch):
    from mufno_lite.train.gpu import is_oom

    assert is_oom(torch.cuda.OutOfMemoryError("x")) and is_oom(RuntimeError("cuFFT error: CUFFT_ALLOC_FAILED"))
    assert not is_oom(RuntimeError("shape mismatch")) and not is_oom(ValueError("CUDA out of memory"))
    data = _heat_dataset()
    orig = P._run_steps
    monkeypatch.setattr(P, "free_device_memory", lambda dev: None)

    def cufft(chunks, *a, **k):
        if max(len(c.ids) for c in chunks) > 1:
            raise RuntimeError("cuFFT error: CUFFT_ALLOC_FAILED")
        return orig(chunks, *a, **k)

    monkeypatch.setattr(P, "_run_steps", cufft)
    got = train_population(CFG, "mup", data, MEMBERS[:2], TRAIN, memory_budget=1e12)
    assert [(e["members"], e["retry_with"]) for e in got[0].execution["oom_retries"]] == [(2, 1)]

    def broken(chunks, *a, **k):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(P, "_run_steps", broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        train_population(CFG, "mup", data, MEMBERS[:2], TRAIN, memory_budget=1e12)
