"""Memory-aware chunks of train_population: chunk sizes from the memory model within a budget,
chunk-sequential training (one chunk in memory at a time) equal to lockstep, and the error when one
member cannot fit.  On a CPU a ``memory_budget`` forces the GPU's path."""
import gc
import math
import weakref

import pytest
import torch

import mufno_lite.train.population as P
from mufno_lite.fno import FNOConfig
from mufno_lite.memory import MemoryBudgetError, estimate_config_memory
from mufno_lite.train import Member, TrainConfig, TrainingInterrupted, train_population

from test_train import _heat_dataset

CFG = FNOConfig(d=1, K=4, width=8, n_layers=2, projection_width=16)
MEMBERS = [Member(lr=2e-3, seed=0, beta2=0.999), Member(lr=6e-3, seed=1, beta2=0.99),
           Member(lr=1.5e-2, seed=2, beta2=0.98, init_scale=0.7), Member(lr=4e-3, seed=3),
           Member(lr=1e4, seed=4)]  # the last one diverges
TRAIN = TrainConfig(steps=15, batch_size=10, optimizer="adamw", weight_decay=0.1, schedule="warmup_cosine",
                    warmup_steps=3, clip=0.01, normalize_y=True, eval_points=3, max_loss=1e3)


def _budget_for(G, data, train=TRAIN, cfg=CFG):
    """A budget that holds a chunk of G members but not G + 1 (CPU: the raw data is not copied)."""
    est = lambda g: estimate_config_memory(cfg, tuple(data.x_train.shape[2:]), train.batch_size, g,  # noqa: E731
                                           n_train=data.x_train.shape[0], n_test=data.x_test.shape[0],
                                           normalize_x=train.normalize_x, data_on_device=False).total
    assert est(G) < est(G + 1)
    return (est(G) + est(G + 1)) / 2


def _same(a, b):
    assert a.status == b.status and a.diverged_at_step == b.diverged_at_step
    for f in ("final_train_loss", "test_rel_l2"):
        x, y = getattr(a, f), getattr(b, f)
        assert (math.isnan(x) and math.isnan(y)) or x == y, f
    assert a.train_curve == b.train_curve and a.test_curve == b.test_curve and a.flops == b.flops


@pytest.mark.parametrize("G", [1, 2])
def test_chunk_sequential_equals_lockstep_bit_for_bit(G):
    data = _heat_dataset()
    seen = []
    orig = P._build_chunk

    def spy(*a, **k):
        seen.append(a[3])
        return orig(*a, **k)

    lock, lock_model = train_population(CFG, "mup", data, MEMBERS, TRAIN, member_chunk=G, return_model=True)
    P._build_chunk = spy
    try:
        seq, seq_model = train_population(CFG, "mup", data, MEMBERS, TRAIN, memory_budget=_budget_for(G, data),
                                          return_model=True)
    finally:
        P._build_chunk = orig
    # the budget chose G members per chunk (one chunk in memory at a time: the next test)
    assert seen == [list(range(s, min(s + G, 5))) for s in range(0, 5, G)]
    assert seq[4].status == "diverged" and seq[0].status == "done"
    for a, b in zip(seq, lock):
        _same(a, b)
    assert all(a.test_curve and len(a.test_curve) == 4 for a in seq[:4])
    for (n, p), (_, q) in zip(seq_model.named_parameters(), lock_model.named_parameters()):
        assert torch.equal(p, q), n


def test_chunk_sequential_keeps_one_chunk_in_memory():
    data = _heat_dataset()
    refs: list = []
    alive_at_build = []
    orig = P._build_chunk

    def spy(*a, **k):
        gc.collect()
        alive_at_build.append(sum(r() is not None for r in refs))
        c = orig(*a, **k)
        refs.append(weakref.ref(c.model))
        return c

    P._build_chunk = spy
    try:
        train_population(CFG, "sp", data, MEMBERS, TRAIN, memory_budget=_budget_for(1, data))
        seq_builds = list(alive_at_build)
        refs.clear(), alive_at_build.clear()
        train_population(CFG, "sp", data, MEMBERS, TRAIN, member_chunk=1)  # lockstep: all up front
    finally:
        P._build_chunk = orig
    assert seq_builds == [0, 0, 0, 0, 0]
    assert alive_at_build == [0, 1, 2, 3, 4]


def test_chunk_sequential_matches_the_default_cpu_chunks_and_progress_counts_every_chunk():
    data = _heat_dataset()
    default = train_population(CFG, "sp", data, MEMBERS, TRAIN)  # today's CPU rule (one chunk here)
    ticks = []
    # read_every=1: the host learns of a divergence at its step (by default, at the next read)
    seq = train_population(CFG, "sp", data, MEMBERS, TRAIN, memory_budget=_budget_for(2, data),
                           progress=lambda s, t: ticks.append((s, t)), read_every=1)
    for a, b in zip(seq, default):
        assert a.status == b.status
        if a.status == "done":
            assert a.final_train_loss == pytest.approx(b.final_train_loss, rel=1e-5)
            assert a.test_rel_l2 == pytest.approx(b.test_rel_l2, rel=1e-5)
    # three chunks of 15 steps; the diverged member's chunk stops early
    assert {t for _, t in ticks} == {45} and ticks[:15] == [(s, 45) for s in range(1, 16)]
    assert seq[4].status == "diverged" and ticks[-1] == (30 + seq[4].diverged_at_step - 1, 45)


def test_interrupt_reports_progress_over_all_chunks():
    data = _heat_dataset()
    calls = iter(range(100))
    with pytest.raises(TrainingInterrupted) as err:
        train_population(CFG, "sp", data, MEMBERS[:4], TRAIN, memory_budget=_budget_for(2, data),
                         should_stop=lambda: next(calls) >= 19)
    assert (err.value.step, err.value.total) == (20, 30)


def test_a_budget_below_one_member_names_the_architecture():
    data = _heat_dataset()
    with pytest.raises(MemoryBudgetError, match=r"FNO d=1 K=4 width=8 .*grid 32, batch 10, 5 members.*one member needs"):
        train_population(CFG, "sp", data, MEMBERS, TRAIN, memory_budget=1e4)
    with pytest.raises(ValueError, match="memory_budget"):
        train_population(CFG, "sp", data, MEMBERS, TRAIN, memory_budget=0)


def test_a_large_budget_is_one_lockstep_chunk():
    data = _heat_dataset()
    built = []
    orig = P._build_chunk
    P._build_chunk = lambda *a, **k: built.append(a[3]) or orig(*a, **k)
    try:
        train_population(CFG, "sp", data, MEMBERS[:3], TrainConfig(steps=2, batch_size=10), memory_budget=1e12)
    finally:
        P._build_chunk = orig
    assert built == [[0, 1, 2]]
