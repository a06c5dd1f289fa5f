"""The plan (mufno_lite.plan): chunking against a memory budget, totals, every smoke experiment."""
import math

import pytest

from mufno_lite.experiments import EXPERIMENTS, experiment_config
from mufno_lite.memory import estimate_step_memory
from mufno_lite.plan import (
    H100, MemoryBudgetError, Plan, members_per_chunk, plan_experiments, plan_sweep, render_plan,
)


def _fno3d(g):
    return estimate_step_memory(3, 12, 64, spatial=(64, 64, 64), batch=10, members=g)


def test_members_per_chunk_is_the_largest_that_fits_and_monotone_in_budget():
    sizes = []
    for gb in (45, 60, 80, 160, 640, 5000):
        G = members_per_chunk(_fno3d, gb * 1e9, 63)
        assert _fno3d(G).total <= gb * 1e9
        assert G == 63 or _fno3d(G + 1).total > gb * 1e9
        sizes.append(G)
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1] == 63


def test_one_member_that_does_not_fit_names_the_config():
    with pytest.raises(MemoryBudgetError, match=r"navier_stokes_lr@paper \(mup, K=24.*one member needs"):
        members_per_chunk(lambda g: estimate_step_memory(3, 24, 64, spatial=(64, 64, 64), batch=10, members=g),
                          16e9, 63, config="navier_stokes_lr@paper (mup, K=24)")
    # and from a sweep: a budget below one member's need
    with pytest.raises(MemoryBudgetError, match="darcy_lr@smoke"):
        plan_sweep(experiment_config("darcy_lr", "smoke"), device="cpu", budget_bytes=1e5, flop_rate=1e9)


def test_chunks_follow_the_budget_in_a_sweep():
    cfg = experiment_config("navier_stokes_lr", "paper")
    small = plan_sweep(cfg, device="cpu", budget_bytes=64e9, flop_rate=1e10)
    large = plan_sweep(cfg, device="cpu", budget_bytes=640e9, flop_rate=1e10)
    assert small.runs == large.runs == 630 and small.n_populations == 10
    for a, b in zip(small.populations, large.populations):
        assert a.chunk <= b.chunk and a.peak_bytes <= 64e9 and b.peak_bytes <= 640e9
        assert a.n_chunks == math.ceil(a.members / a.chunk)
    assert small.chunks > large.chunks
    assert small.flops == large.flops  # chunking does not change the work


def test_totals_are_sums():
    plan = plan_experiments("smoke", device="cpu", flop_rate=lambda d: 1e9 * d)
    assert isinstance(plan, Plan)
    assert plan.runs == sum(e.runs for e in plan.experiments)
    assert plan.populations == sum(len(e.populations) for e in plan.experiments)
    assert plan.chunks == sum(p.n_chunks for e in plan.experiments for p in e.populations)
    assert plan.flops == pytest.approx(sum(p.flops for e in plan.experiments for p in e.populations))
    assert plan.time_s == pytest.approx(sum(e.time_s for e in plan.experiments))
    assert plan.reference_time_s == pytest.approx(sum(p.reference_time_s for e in plan.experiments for p in e.populations))
    assert plan.peak_bytes == max(p.peak_bytes for e in plan.experiments for p in e.populations)
    for e in plan.experiments:
        assert e.runs == sum(p.members for p in e.populations)
        for p in e.populations:
            d = 3 if e.name.startswith("navier") else (2 if e.name.startswith("darcy") else 1)
            assert p.time_s == pytest.approx(p.flops / (1e9 * d))


def test_smoke_plan_of_every_experiment_runs_and_renders():
    plan = plan_experiments("smoke", device="cpu")  # measures this CPU's FLOP/s (a second or two)
    assert [e.name for e in plan.experiments] == [f"{n}@smoke" for n in EXPERIMENTS]
    assert all(r > 0 for r in plan.flop_rates.values())
    assert all(e.runs + e.reused > 0 and math.isfinite(e.reference_time_s) for e in plan.experiments)
    assert all(e.flops > 0 and e.time_s > 0 for e in plan.experiments if e.runs)
    text = render_plan(plan)
    assert "total" in text and H100.name in text
    for n in EXPERIMENTS:
        assert f"{n}@smoke" in text
    assert "total" in render_plan(plan.experiments[0])


def test_flops_match_the_trainers_count():
    """The plan's FLOPs per run are what train_population reports (flops.training_flops)."""
    from mufno_lite.flops import training_flops
    from mufno_lite.fno import FNOConfig

    e = plan_sweep(experiment_config("burgers_lr", "smoke"), device="cpu", flop_rate=1e9)
    p = e.populations[0]
    cfg = experiment_config("burgers_lr", "smoke")
    fno = FNOConfig(d=1, K=p.K, **cfg["model"])
    one = training_flops(fno, (cfg["data"]["resolution"],), batch_size=p.batch_size, steps=cfg["train"]["steps"],
                         n_test=cfg["data"]["n_test"], n_evals=1, n_train_eval=cfg["data"]["n_train"])
    assert p.flops == pytest.approx(p.members * one)


def test_runs_shared_between_experiments_are_planned_once():
    """darcy_batch@paper's batch-20 runs at 10^-2.5 are darcy_lr@paper's: the store trains them once."""
    from mufno_lite.sweep import SweepConfig

    names = ["darcy_lr", "darcy_batch"]
    both = plan_experiments("paper", names, device="cpu", flop_rate=1e10)
    apart = plan_experiments("paper", names, device="cpu", flop_rate=1e10, dedupe=False)
    lr_ids = {r.run_id for r in SweepConfig.from_dict(experiment_config("darcy_lr", "paper")).expand()}
    batch_ids = {r.run_id for r in SweepConfig.from_dict(experiment_config("darcy_batch", "paper")).expand()}
    shared = len(lr_ids & batch_ids)
    assert shared == 5 * 2 * 3  # five K, sp and mup, three seeds
    assert both.experiments[1].reused == shared and apart.reused == 0
    assert both.runs == apart.runs - shared == len(lr_ids | batch_ids)
    assert both.flops < apart.flops and both.experiments[0].flops == apart.experiments[0].flops
    assert "reused" in render_plan(both)


def test_workers_spread_the_device_time():
    one = plan_experiments("smoke", ["burgers_lr"], device="cpu", flop_rate=1e9)
    two = plan_experiments("smoke", ["burgers_lr"], device="cpu", flop_rate=1e9, workers=2)
    assert two.wall_s == pytest.approx(one.time_s / 2) and one.wall_s == one.time_s
    assert "on 2 workers" in render_plan(two)


def test_reference_time_counts_compute_overhead_and_optimizer_traffic_and_names_the_dominant():
    from mufno_lite.fno import FNOConfig, count_parameters
    from mufno_lite.plan import OPTIMIZER_PASSES, REFERENCE_PARTS

    plan = plan_experiments("smoke", device="cpu", flop_rate=1e9)
    for e in plan.experiments:
        for p in e.populations:
            assert set(p.reference_parts) == set(REFERENCE_PARTS)
            assert p.reference_time_s == pytest.approx(sum(p.reference_parts.values()))
            assert p.reference_parts["compute"] == pytest.approx(p.flops / H100.sustained_flops)
    e = next(e for e in plan.experiments if e.populations)
    p = e.populations[0]
    from mufno_lite.experiments import experiment_config

    fno = FNOConfig.from_dict(dict(experiment_config(e.name.split("@")[0], "smoke")["model"], K=p.K,
                                   d=1 if e.name.startswith("burgers") else 2 if e.name.startswith("darcy") else 3))
    c = count_parameters(fno)
    want = p.steps * p.members * (c["spectral"] * 8 + c["other"] * 4) * OPTIMIZER_PASSES / H100.memory_bandwidth
    assert p.reference_parts["optimizer_traffic"] == pytest.approx(want)
    parts = plan.reference_parts
    text = render_plan(plan)
    top = max(parts, key=parts.get)
    names = {"compute": "compute", "step_overhead": "per-step overhead", "optimizer_traffic": "optimizer traffic"}
    assert f"dominated by {names[top]}" in text and "reference assumptions:" in text
    assert f"{OPTIMIZER_PASSES} passes" in text
