"""Wall time of one sweep through the Ray executor (local instance) against the in-process executor.

The sweep: Burgers, resolution ``--resolution``, FNO width 8 (2 layers), K ∈ {2, 3, 4, 5} × {SP, μP}
= 8 populations of ``--lrs`` members each (one seed), ``--steps`` steps.  The data set is
generated once beforehand into a temporary cache, so both sides only read it.

* **in-process**: :class:`~mufno_lite.sweep.InProcessExecutor`, ``torch.set_num_threads(--threads)``.
* **ray**: :class:`~mufno_lite.sweep.executors.ray.RayExecutor` on a private local instance with
  ``--workers`` CPUs, one CPU and ``--threads`` torch threads per population, so up to
  ``--workers`` populations train at once.  Timed: ``ray.init`` alone; the first sweep (cold:
  the workers still import torch and read the data); a second sweep of the same shape into
  another store (warm workers; other learning rates so nothing is skipped).

Printed: the times and the overhead ratio ray / in-process, including and excluding ``ray.init``
(< 1 means Ray was faster, as it can be with several free cores).  The machine is shared:
figures are comparisons within one run; nothing passes or fails on time.

    RAY_AUTH_MODE=disabled .venv/bin/python benchmarks/bench_ray.py --threads 1 --workers 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def sweep_config(name: str, args, lr_offset: float = 0.0) -> dict:
    lrs = [10 ** (-3.0 + lr_offset + 0.25 * i) for i in range(args.lrs)]
    return {
        "name": name,
        "pde": "burgers",
        "data": {"resolution": args.resolution, "n_train": 40, "n_test": 10, "seed": 0},
        "model": {"width": 8, "n_layers": 2, "projection_width": 16},
        "parametrizations": ["sp", "mup"],
        "K": [2, 3, 4, 5],
        "lr": lrs,
        "seeds": [0],
        "batch_sizes": [10],
        "train": {"steps": args.steps, "schedule": "cosine"},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads in process and per Ray task")
    ap.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray instance")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--lrs", type=int, default=4, help="members per population")
    ap.add_argument("--resolution", type=int, default=32)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="bench_ray_")
    os.environ["MUFNO_CACHE_DIR"] = os.path.join(tmp, "cache")  # inherited by the Ray workers
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    import torch

    torch.set_num_threads(args.threads)
    from mufno_lite.data import load_dataset
    from mufno_lite.sweep.executors.ray import RayExecutor
    from mufno_lite.store import ResultsStore
    from mufno_lite.sweep import SweepConfig, run_sweep

    load_dataset("burgers", resolution=args.resolution, n_train=40, n_test=10, seed=0)  # fill the cache
    print(f"threads: in-process torch={torch.get_num_threads()}; ray: {args.workers} CPUs, "
          f"1 CPU and torch={args.threads} per population; os.cpu_count()={os.cpu_count()}")

    cfg = SweepConfig.from_dict(sweep_config("bench", args))
    print(f"sweep: {cfg.n_runs} runs in 8 populations, {args.steps} steps, resolution {args.resolution}")

    t0 = time.perf_counter()
    rep = run_sweep(cfg, ResultsStore(os.path.join(tmp, "local.sqlite")), verbose=False, progress=False)
    t_local = time.perf_counter() - t0
    assert rep.status == "complete", rep.summary()
    print(f"in-process            : {t_local:7.2f} s")

    ex = RayExecutor(num_cpus=args.workers, cpus_per_task=1, torch_threads=args.threads)
    try:
        t0 = time.perf_counter()
        ex.start()
        t_init = time.perf_counter() - t0
        t0 = time.perf_counter()
        rep = run_sweep(cfg, ResultsStore(os.path.join(tmp, "ray.sqlite")), executor=ex, verbose=False,
                        progress=False)
        t_cold = time.perf_counter() - t0
        assert rep.status == "complete", rep.summary()
        cfg2 = SweepConfig.from_dict(sweep_config("bench2", args, lr_offset=0.125))
        t0 = time.perf_counter()
        rep = run_sweep(cfg2, ResultsStore(os.path.join(tmp, "ray2.sqlite")), executor=ex, verbose=False,
                        progress=False)
        t_warm = time.perf_counter() - t0
        assert rep.status == "complete", rep.summary()
    finally:
        ex.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"ray.init              : {t_init:7.2f} s")
    print(f"ray sweep, cold       : {t_cold:7.2f} s   (workers import torch, read the data)")
    print(f"ray sweep, warm       : {t_warm:7.2f} s")
    print(f"ratio ray/in-process  : incl. init {(t_init + t_cold) / t_local:5.2f}   "
          f"excl. init {t_cold / t_local:5.2f}   warm {t_warm / t_local:5.2f}")


if __name__ == "__main__":
    main()
