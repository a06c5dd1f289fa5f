"""The same sweep trained in process and by the local process pool (one process per core).

Prints the wall time of each and their ratio (pool speed-up), the worker count and the torch threads
per process.  The sweep: Burgers, width 32, 4 layers, 256 points, K in {3, 32}, SP and μP, 4 learning
rates x 2 seeds, so 4 populations of 8 members (sizes of the quick preset, fewer steps).

    python benchmarks/bench_pool.py [--workers 2] [--steps 60]
"""
import argparse
import os
import tempfile
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from mufno_lite.sweep.executors.pool import LocalPoolExecutor
    from mufno_lite.sweep import SweepConfig, run_sweep

    cfg = dict(name="bench_pool", pde="burgers", data={"resolution": 256, "n_train": 400, "n_test": 100, "seed": 0},
               model={"width": 32, "n_layers": 4, "projection_width": 128}, parametrizations=["sp", "mup"], base_K=3,
               K=[3, 32], lr=[1e-3, 2e-3, 4e-3, 8e-3], seeds=[0, 1], batch_sizes=[20], train={"steps": args.steps}, device="cpu")
    config = SweepConfig.from_dict(cfg)
    print(f"torch threads per process: 1; pool workers: {args.workers}; {config.n_runs} runs in 4 populations, {args.steps} steps")
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        from mufno_lite.data import load_dataset

        load_dataset("burgers", resolution=256, n_train=400, n_test=100, seed=0)  # fill the data cache first
        for label, executor in (("in-process", None), ("pool", LocalPoolExecutor(workers=args.workers))):
            t0 = time.perf_counter()
            run_sweep(config, os.path.join(tmp, f"{label}.sqlite"), executor=executor, verbose=False, progress=False, handle_signals=False)
            times[label] = time.perf_counter() - t0
            print(f"{label:10s} {times[label]:7.1f} s")
    print(f"pool speed-up: {times['in-process'] / times['pool']:.2f}x  (ideal {min(args.workers, 4)}x)")


if __name__ == "__main__":
    main()
