"""Measured vs estimated peak memory of one population training step (mufno_lite.memory).

Usage::

    MUFNO_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/bench_memory.py [--default-allocator]

For each size of ``tests/test_memory.py`` (and a few more), the real ``train_population`` runs
2 steps on one chunk in a fresh process with one torch thread; the table gives the estimate
(:func:`mufno_lite.memory.estimate_step_memory`), the measurement (peak RSS rise with glibc's mmap
threshold fixed at 64 KiB, or ``torch.cuda.max_memory_allocated`` on a GPU), their ratio, and with
``--default-allocator`` also the peak RSS under glibc's default settings (the CPU allocator's own
overhead, not the model's).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from mufno_lite.train.measure import measure_in_subprocess  # noqa: E402
from test_memory import SIZES  # noqa: E402

EXTRA = {
    "2d_K6_w64_P32_M2": dict(d=2, K=6, width=64, projection_width=32, spatial=32, batch=10, members=2),
    "3d_K8_w16_P16_M2": dict(d=3, K=8, width=16, projection_width=16, spatial=16, batch=2, members=2),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--default-allocator", action="store_true", help="also measure with glibc's default malloc settings")
    args = ap.parse_args()
    torch.set_num_threads(1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"torch {torch.__version__}, device {device}, torch threads in each measurement: 1 "
          f"(this process: {torch.get_num_threads()})")
    head = f"{'size':22s} {'spec':70s} {'estimate':>9s} {'measured':>9s} {'est/meas':>8s} {'peak phase':>10s}"
    if args.default_allocator:
        head += f" {'glibc RSS':>9s} {'ratio':>6s}"
    print(head)
    ratios = []
    for name, spec in {**SIZES, **EXTRA}.items():
        t0 = time.time()
        r = measure_in_subprocess(dict(spec, device=device))
        est, meas = r["estimate"]["total"], r["measured"]
        ratios.append(est / meas)
        line = (f"{name:22s} {json.dumps(spec)[:70]:70s} {est / 1e6:8.1f}M {meas / 1e6:8.1f}M {est / meas:8.2f} "
                f"{r['estimate']['peak_phase']:>10s}")
        if args.default_allocator and device == "cpu":
            g = measure_in_subprocess(dict(spec, device=device), fixed_mmap_threshold=False)["measured"]
            line += f" {g / 1e6:8.1f}M {g / meas:6.2f}"
        print(line + f"  ({time.time() - t0:.1f} s; threads {r['threads']}, {r['method']})", flush=True)
    print(f"est/measured: min {min(ratios):.2f}, max {max(ratios):.2f}")


if __name__ == "__main__":
    main()
