"""The memory of one training step, measured: the real :func:`~mufno_lite.train.train_population`
on one chunk, against the model of :mod:`mufno_lite.memory` (which sits below the trainer and
only estimates).

**Measurement on a CPU** (:func:`measure_step_memory`): the rise of the peak RSS of a fresh
process over its RSS before the step, with glibc's mmap threshold fixed at 64 KiB
(``MALLOC_MMAP_THRESHOLD_``; :func:`measure_in_subprocess` sets it).  Then every tensor of
64 KiB or more is its own mapping, returned to the system when freed, and peak RSS follows the
peak of live tensor bytes, the quantity ``torch.cuda.max_memory_allocated`` reports on a GPU
and the one a GPU budget is about.  With glibc's default (a threshold that grows to 32 MiB
after the first frees) freed blocks stay in the heap and the peak RSS of the same step is about
1.4–2.1 × higher (``bench_memory.py`` prints both): that is the CPU allocator's overhead, not
the model's.  ``tracemalloc`` does not see torch's allocations, and the profiler's memory
events were not needed once RSS tracked live bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Mapping

from ..fno import FNOConfig
from ..memory import estimate_config_memory

__all__ = ["measure_step_memory", "measure_in_subprocess"]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak_rss() -> bool:
    """Reset the process's peak RSS (VmHWM) to its current RSS (Linux ≥ 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _peak_rss_bytes() > 0
    except OSError:
        return False


def _peak_rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _max_rss_bytes() -> int:
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb if sys.platform == "darwin" else kb * 1024


def measure_step_memory(d: int, K: int, width: int, n_layers: int = 4, projection_width: int = 128,
                        spatial=64, batch: int = 20, members: int = 1, *, padding=0, steps: int = 2,
                        device: str = "cpu", n_test: int = 2, clip: float | None = 0.01) -> dict:
    """Peak memory of ``steps`` steps of the real :func:`~mufno_lite.train.train_population` on
    one chunk (``member_chunk=members``), synthetic data (``n_train = batch``), in this process.

    On a CPU: the rise of the peak RSS over the RSS just before the call, after a small warm-up
    run of the same d (so the libraries' lazy allocations are not counted); the peak is reset
    first through ``/proc/self/clear_refs`` (Linux), else ``ru_maxrss`` is used, which is only
    valid in a fresh process whose peak so far is its current RSS (:func:`measure_in_subprocess`).
    On CUDA: ``torch.cuda.max_memory_allocated`` over ``memory_allocated`` before the call.
    Returns ``{"measured": bytes, "method": ..., "threads": ..., "estimate": MemoryEstimate dict}``;
    the estimate is made for exactly this run (data that is not copied on a CPU).
    """
    import types

    import torch

    from .config import Member, TrainConfig
    from .population import train_population

    if isinstance(spatial, int):
        spatial = (spatial,) * d
    spatial = tuple(spatial)
    cfg = FNOConfig(d=d, K=K, width=width, n_layers=n_layers, projection_width=projection_width,
                    padding=tuple(padding) if isinstance(padding, (list, tuple)) else padding)
    cuda = str(device).startswith("cuda")

    def dataset(n, nt, sp):
        g = torch.Generator().manual_seed(0)
        mk = lambda k: torch.randn(k, 1, *sp, generator=g).to(device)  # noqa: E731
        return types.SimpleNamespace(x_train=mk(n), y_train=mk(n), x_test=mk(nt), y_test=mk(nt))

    def run(c, ds, b, g, st):
        tr = TrainConfig(steps=st, batch_size=b, normalize_x=False, clip=clip, eval_batch_size=None,
                         schedule="constant")
        mem = [Member(lr=1e-3, seed=i) for i in range(g)]
        train_population(c, "sp", ds, mem, tr, device=device, member_chunk=g)

    run(FNOConfig(d=d, K=2, width=2, n_layers=1, projection_width=2), dataset(2, 2, (8,) * d), 2, 1, 1)
    ds = dataset(batch, n_test, spatial)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        run(cfg, ds, batch, members, steps)
        torch.cuda.synchronize()
        measured, method = torch.cuda.max_memory_allocated() - base, "cuda.max_memory_allocated"
    else:
        base = _rss_bytes()
        if _reset_peak_rss():
            run(cfg, ds, batch, members, steps)
            measured, method = _peak_rss_bytes() - base, "peak RSS (VmHWM)"
        else:
            if _max_rss_bytes() > base + (8 << 20):
                raise RuntimeError("peak RSS already above the current RSS: measure in a fresh process")
            run(cfg, ds, batch, members, steps)
            measured, method = _max_rss_bytes() - base, "peak RSS (ru_maxrss)"
    est = estimate_config_memory(cfg, spatial, batch, members, n_train=batch, n_test=n_test, normalize_x=False,
                                 data_on_device=False)
    return {"measured": int(measured), "method": method, "threads": torch.get_num_threads(),
            "device": str(device), "estimate": est.to_dict()}


def measure_in_subprocess(spec: Mapping, *, timeout: float = 300, threads: int = 1,
                          fixed_mmap_threshold: bool = True) -> dict:
    """:func:`measure_step_memory` (``**spec``) in a fresh Python process with ``threads`` torch
    threads; returns its dict (plus ``allocator``).  ``fixed_mmap_threshold`` sets glibc's
    ``MALLOC_MMAP_THRESHOLD_=65536`` there (see the module docstring); False keeps the default."""
    code = (
        "import json, sys, torch\n"
        f"torch.set_num_threads({int(threads)})\n"
        "from mufno_lite.train.measure import measure_step_memory\n"
        "print('RESULT ' + json.dumps(measure_step_memory(**json.loads(sys.argv[1]))))\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), MUFNO_THREADS=str(threads))
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    if fixed_mmap_threshold:
        env["MALLOC_MMAP_THRESHOLD_"] = "65536"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(dict(spec))], capture_output=True, text=True,
                         timeout=timeout, env=env)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            res = json.loads(line[len("RESULT "):])
            res["allocator"] = "mmap>=64KiB" if fixed_mmap_threshold else "glibc default"
            return res
    raise RuntimeError(f"measurement failed (rc={out.returncode}): {out.stderr[-2000:]}")
