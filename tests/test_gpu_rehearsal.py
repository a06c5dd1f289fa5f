"""CPU rehearsal of the GPU presets: every ``gpu`` and ``paper`` population at its real model size.

Each population of every experiment under ``gpu`` and ``paper`` is reduced to its *shape
signature*: the PDE, the whole model config (d, K, width, layers, projection, padding, channels),
the data grid, and the training flags that change what is computed (PINO residual, input/output
normalisation).  Populations with the same signature run the same tensors (LR, seed, β₂,
parametrization, clipping and step count change numbers, not shapes), so one run per signature
covers them all.  It trains **one member for two steps** through the sweep's own path
(:func:`mufno_lite.sweep.run_population_task`: task dict → FNOConfig, Parametrization,
TrainConfig → :func:`train_population` with a memory budget, so the GPU's memory-aware chunking
runs too), then evaluates, at the real K, width, layers, padding and grid.

Data: generating the real data sets here would take far longer than training (a Navier–Stokes set
at 64² × 64 frames, or 1000 Darcy solves at 85²), so :func:`random_dataset` gives random tensors in
the real layouts and shapes (``(N, 1, *grid)``; smooth: random values on a 4^d grid interpolated
to the real one, so that the untrained model's PINO residual is not a loss of 10⁹ that the
trainer calls diverged), normalisers fitted on them, Darcy's ``h`` for the PINO residual, two
training samples and one test sample.  The batch is 2 (a real batch axis; the
real batch only scales the activations).

Skipped, by name: signatures whose one-member training step at the **real batch** is estimated
(:func:`mufno_lite.memory.estimate_run_memory`) above :data:`LIMIT` = 6 GB, more than the CI
machine can hold next to the test suite.  Today that is Navier–Stokes at 64³ (paper, every K) and
at 32³ with K = 16 (gpu); ``test_the_skipped_signatures_are_named`` pins the list.
"""
from __future__ import annotations

import functools
import math

import pytest
import torch

from mufno_lite.canonical import canonical_json
from mufno_lite.data.memo import clear_dataset_cache
from mufno_lite.data.normalizers import UnitGaussianNormalizer
from mufno_lite.experiments import EXPERIMENTS, experiment_config
from mufno_lite.fno import FNOConfig, count_parameters
from mufno_lite.memory import estimate_run_memory, spatial_shape_of
from mufno_lite.sweep import SweepConfig, population_tasks, run_population_task
from mufno_lite.train import train_population

pytestmark = pytest.mark.slow  # about a minute on 2 cores in all

LIMIT = 6e9  # bytes: the largest one-member step rehearsed on the CI machine
PRESETS = ("gpu", "paper")


def random_dataset(pde, resolution, n_train, n_test, seed, cache_dir=None, device="cpu", **params):
    """A stand-in for :func:`mufno_lite.data.load_dataset`: random tensors with the real layout
    (x and y of shape ``(N, 1, *grid)``, the grid of :func:`spatial_shape_of`), pointwise
    normalisers fitted on the training split, and the metadata the trainer reads."""
    d = {"burgers": 1, "darcy": 2, "navier_stokes": 3}[pde]
    grid = spatial_shape_of(pde, {"resolution": resolution, "params": params}, d)
    import types

    g = torch.Generator().manual_seed(int(seed))
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[d]

    def smooth(n):  # random values on a 4^d grid, interpolated: smooth, so PINO's residual stays moderate
        coarse = torch.randn(n, 1, *([4] * d), generator=g)
        return torch.nn.functional.interpolate(coarse, size=grid, mode=mode, align_corners=True)

    x = smooth(n_train + n_test)
    y = smooth(n_train + n_test) + 2.0
    if pde == "darcy":
        x = x.abs() + 1.0  # a positive coefficient

    return types.SimpleNamespace(
        x_train=x[:n_train].to(device), y_train=y[:n_train].to(device), x_test=x[n_train:].to(device),
        y_test=y[n_train:].to(device), x_normalizer=UnitGaussianNormalizer(x[:n_train]),
        y_normalizer=UnitGaussianNormalizer(y[:n_train]), config={"pde": pde}, meta={"h": 1.0 / (resolution - 1)})


@functools.lru_cache(maxsize=1)
def signatures() -> dict:
    """{signature id: (task, real-batch one-member estimate in bytes, [populations it covers])}."""
    out: dict = {}
    for preset in PRESETS:
        for name in EXPERIMENTS:
            cfg = SweepConfig.from_dict(experiment_config(name, preset))
            for task in population_tasks(cfg, cfg.expand(), device="cpu"):
                tr = task["train"]
                key = canonical_json({"pde": task["pde"], "model": task["model"], "data": {
                    "resolution": task["data"]["resolution"], "params": task["data"].get("params", {})},
                    "pino": tr.get("pino_weight", 0) > 0, "nx": tr.get("normalize_x"), "ny": tr.get("normalize_y")})
                par, K = task["parametrization"]["kind"], task["model"]["K"]
                label = f"{cfg.name}:{par}:K={K}:b={tr['batch_size']}"
                one = dict(task, data=dict(task["data"], n_train=tr["batch_size"], n_test=1))
                need = estimate_run_memory(one, 1, device="cpu").total
                if key not in out:
                    md = task["model"]
                    sid = (f"{task['pde']}-K{K}-w{md['width']}-{task['data']['resolution']}"
                           f"{'-nt' + str(task['data']['params']['n_t']) if task['pde'] == 'navier_stokes' else ''}"
                           f"{'-pino' if tr.get('pino_weight', 0) > 0 else ''}")
                    while sid in {v[3] for v in out.values()}:
                        sid += "+"
                    out[key] = [task, need, [label], sid]
                else:
                    out[key][1] = max(out[key][1], need)
                    out[key][2].append(label)
    return {v[3]: tuple(v[:3]) for v in out.values()}


def _ids():
    return sorted(signatures())


@pytest.mark.parametrize("sid", _ids())
def test_population_trains_at_real_size_on_the_cpu(sid):
    task, need, covers = signatures()[sid]
    if need > LIMIT:
        pytest.skip(f"{sid}: one member at the real batch needs an estimated {need / 1e9:.1f} GB > "
                    f"{LIMIT / 1e9:.0f} GB on the CI machine ({len(covers)} populations, e.g. {covers[0]})")
    small = dict(task, members=task["members"][:1], device="cpu",
                 data=dict(task["data"], n_train=2, n_test=1),
                 train=dict(task["train"], steps=2, batch_size=2, eval_points=0))
    trainer = functools.partial(train_population, memory_budget=LIMIT)  # the GPU's chunking path
    try:
        rows = run_population_task(small, random_dataset, trainer=trainer)
    finally:
        clear_dataset_cache()
    assert len(rows) == 1
    row = rows[0]
    assert row["status"] == "done", row.get("error")
    md = dict(task["model"])
    if isinstance(md.get("padding"), list):
        md["padding"] = tuple(md["padding"])
    assert row["n_params"] == count_parameters(FNOConfig(**md))["total"]
    assert math.isfinite(row["final_train_loss"]) and math.isfinite(row["test_rel_l2"]) and row["flops"] > 0


def test_the_skipped_signatures_are_named():
    skipped = sorted(sid for sid, (_, need, _) in signatures().items() if need > LIMIT)
    assert skipped == ["navier_stokes-K12-w64-64-nt64", "navier_stokes-K16-w64-32-nt32",
                       "navier_stokes-K16-w64-64-nt64", "navier_stokes-K24-w64-64-nt64",
                       "navier_stokes-K3-w64-64-nt64", "navier_stokes-K6-w64-64-nt64"]
    # every population of both presets is covered by a signature
    total = sum(len(v[2]) for v in signatures().values())
    expected = 0
    for preset in PRESETS:
        for name in EXPERIMENTS:
            cfg = SweepConfig.from_dict(experiment_config(name, preset))
            expected += len(population_tasks(cfg, cfg.expand(), device="cpu"))
    assert total == expected
