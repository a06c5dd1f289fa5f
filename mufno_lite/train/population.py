"""Training a population of FNOs in lockstep (:func:`train_population`), as a handful of named steps."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from ..device import configure_numerics, synchronize
from ..fno import FNO, FNOConfig
from ..memory import device_budget, estimate_config_memory, members_per_chunk
from ..optim import PopulationAdam
from ..parametrization import as_parametrization, clip_grad_elementwise_
from ..validation import positive_int
from .common import (
    _Data, _eval_chunk, _eval_steps, _evaluate, _make_progress, _result, batch_schedule, convert_model_dtype,
    lr_factor, relative_l2,
)
from .config import Member, TrainConfig, TrainingInterrupted
from .gpu import free_device_memory, is_oom, oom_event, oom_failure, oom_message, synced_progress


def _auto_chunk(fno_config: FNOConfig, spatial, batch_size: int, M: int, device) -> int:
    """Members per batched chunk without a memory budget: all of them off the CPU; on a CPU as
    many as keep the widest activation of a chunk within ~4 MiB (cache-sized), at least one.
    (On CUDA :func:`train_population` uses :func:`_memory_chunk` instead.)"""
    if torch.device(device).type != "cpu":
        return M
    widest = batch_size * max(fno_config.width, fno_config.projection_width) * math.prod(
        n + p for n, p in zip(spatial, fno_config.pads_at(spatial))) * 4
    return max(1, min(M, (4 << 20) // max(widest, 1)))


def _memory_chunk(fno_config: FNOConfig, data: "_Data", train: TrainConfig, M: int, budget: float, dtype) -> int:
    """Members per chunk so that one chunk's training step fits ``budget`` bytes by the memory
    model (:func:`mufno_lite.memory.estimate_config_memory`, the data set's tensors included);
    :class:`~mufno_lite.memory.MemoryBudgetError`, naming the config, when one member does not fit."""
    n_train, n_test = data.x_train.shape[0], data.x_test.shape[0]
    on_device = data.device.type != "cpu"

    def estimate(g: int) -> int:
        return estimate_config_memory(
            fno_config, data.spatial, train.batch_size, g, dtype=dtype, n_train=n_train, n_test=n_test,
            normalize_x=train.normalize_x, eval_batch=train.eval_batch_size, data_on_device=on_device).total

    return members_per_chunk(estimate, budget, M, config=_describe(fno_config, data, train, M))


def _describe(fno_config: FNOConfig, data: "_Data", train: TrainConfig, M: int) -> str:
    """The architecture and sizes, as error messages name them."""
    return (f"FNO d={fno_config.d} K={fno_config.K} width={fno_config.width} n_layers={fno_config.n_layers}, "
            f"grid {'x'.join(map(str, data.spatial))}, batch {train.batch_size}, {M} members on {data.device}")


def _one_member_bytes(fno_config: FNOConfig, data: "_Data", train: TrainConfig, dtype) -> int:
    return estimate_config_memory(
        fno_config, data.spatial, train.batch_size, 1, dtype=dtype, n_train=data.x_train.shape[0],
        n_test=data.x_test.shape[0], normalize_x=train.normalize_x, eval_batch=train.eval_batch_size,
        data_on_device=data.device.type != "cpu").total


def _check_population_args(fno_config, train, members, member_chunk) -> list[Member]:
    if not isinstance(fno_config, FNOConfig):
        raise ValueError(f"fno_config must be an FNOConfig; got {type(fno_config).__name__}")
    if not isinstance(train, TrainConfig):
        raise ValueError(f"train must be a TrainConfig; got {type(train).__name__}")
    members = list(members)
    if not members:
        raise ValueError("members must contain at least one Member; got an empty sequence")
    for i, mem in enumerate(members):
        if not isinstance(mem, Member):
            raise ValueError(f"members[{i}] must be a Member; got {mem!r}")
    if member_chunk is not None:
        positive_int("member_chunk", member_chunk)
    return members


def _chunk_ranges(M: int, G: int) -> list[list[int]]:
    return [list(range(start, min(start + G, M))) for start in range(0, M, G)]


@dataclass
class _Chunk:
    """Consecutive members trained as one batched ``FNO(members=len(ids))`` with its own optimizer."""

    ids: list[int]
    model: FNO
    opt: PopulationAdam
    params: list


def _build_chunk(fno_config: FNOConfig, par, members: list[Member], ids: list[int], train: TrainConfig, dtype,
                 device, train_resolution=None) -> _Chunk:
    """The batched model and optimizer of the members ``ids`` (``train_resolution``: the training grid,
    recorded on the model so that an int padding keeps its fraction of the domain on other grids)."""
    mult = par.lr_multiplier(fno_config.K, fno_config.d)
    sub = [members[i] for i in ids]
    model = FNO(fno_config, parametrization=par, members=len(ids), seed=[m.seed for m in sub],
                init_scale=[m.init_scale for m in sub])
    if train_resolution is not None:
        model.train_resolution = tuple(train_resolution)
    if dtype != torch.float32:
        convert_model_dtype(model, dtype)
    model.to(device)
    groups = model.named_parameter_groups()
    split = [train.group_lrs(m.lr) for m in sub]
    opt = PopulationAdam(
        [([p for _, p in groups["spectral"]], mult, [s for s, _ in split]),
         ([p for _, p in groups["other"]], 1.0, [o for _, o in split])],
        lrs=[m.lr for m in sub],
        beta2s=[train.betas[1] if m.beta2 is None else m.beta2 for m in sub],
        beta1=train.betas[0], eps=train.eps, weight_decay=train.weight_decay,
        decoupled=train.optimizer == "adamw",
    )
    return _Chunk(ids, model, opt, list(model.parameters()))


def _build_chunks(fno_config: FNOConfig, par, members: list[Member], train: TrainConfig, G: int, dtype,
                  device) -> list[_Chunk]:
    """Every chunk of size ``G`` at once (lockstep training)."""
    return [_build_chunk(fno_config, par, members, ids, train, dtype, device) for ids in _chunk_ranges(len(members), G)]


def _chunk_step(c: _Chunk, data: "_Data", train: TrainConfig, step: int, b, factor: float, alive: list[bool],
                diverged_at: list, loss_log: torch.Tensor) -> None:
    """One training step of one chunk on batch ``b``: losses logged, divergences frozen, live members updated."""
    ids = c.ids
    act = [alive[i] for i in ids]
    if not any(act):
        loss_log[step, ids[0]: ids[-1] + 1] = float("nan")
        return
    xb, yb = data.x_train[b], data.y_train[b]
    pred = data.output(c.model(xb))  # (G, B, C, *sp)
    per = relative_l2(pred, yb).mean(-1)  # (G,)
    if data.pino:
        per = per + train.pino_weight * data.residual_sq(data.x_train_raw[b], pred)
    pv = per.detach()
    ok = (torch.isfinite(pv) & (pv <= train.max_loss)).tolist()
    for j, i in enumerate(ids):
        if act[j] and not ok[j]:
            act[j] = alive[i] = False
            diverged_at[i] = step + 1
    loss_log[step, ids[0]: ids[-1] + 1] = pv.to("cpu", torch.float64)
    if not any(act):
        return
    if all(act):
        total = per.sum()
    else:
        mask = torch.tensor(act, device=per.device)
        total = torch.where(mask, per, torch.zeros((), dtype=per.dtype, device=per.device)).sum()
    for p in c.params:
        p.grad = None
    total.backward()
    if train.clip is not None:
        clip_grad_elementwise_(c.params, train.clip)
    c.opt.step(factor, None if all(act) else act)


def _evaluate_chunks(chunks: list[_Chunk], data: "_Data", x, y, eval_chunk: int, alive: list[bool]) -> list[float]:
    """Mean relative L2 of every member on (x, y); NaN for members of chunks with no live member."""
    out = [float("nan")] * len(alive)
    for c in chunks:
        if any(alive[i] for i in c.ids):
            for i, v in zip(c.ids, _evaluate(c.model, data, x, y, eval_chunk).tolist()):
                out[i] = float(v)
    return out


def _merge_chunks(chunks: list[_Chunk], fno_config: FNOConfig, par, M: int, dtype, device) -> FNO:
    """The trained population as one ``FNO(members=M)``."""
    if len(chunks) == 1:
        return chunks[0].model
    whole = FNO(fno_config, parametrization=par, members=M, seed=[0] * M)
    if dtype != torch.float32:
        convert_model_dtype(whole, dtype)
    whole.to(device)
    with torch.no_grad():
        subs = [dict(c.model.named_parameters()) for c in chunks]
        for name, p in whole.named_parameters():
            p.copy_(torch.cat([sd[name] for sd in subs]))
    return whole


def _run_steps(chunks: list[_Chunk], data: "_Data", train: TrainConfig, idx, eval_at, eval_chunk: int,
               alive: list[bool], diverged_at: list, loss_log: torch.Tensor, test_curves: list, tick,
               should_stop, offset: int, total: int) -> int:
    """Every step of ``chunks`` in lockstep (each step runs all of them on the same batch); returns
    the steps run (fewer when all their members diverged).  ``offset``/``total``: where these steps
    sit in the whole run's progress (chunk-sequential training runs this once per chunk)."""
    ids = [i for c in chunks for i in c.ids]
    steps_run = 0
    for step in range(train.steps):
        factor = lr_factor(train, step)
        for c in chunks:
            _chunk_step(c, data, train, step, idx[step], factor, alive, diverged_at, loss_log)
        steps_run = step + 1
        if not any(alive[i] for i in ids):
            break
        if step + 1 in eval_at:
            values = _evaluate_chunks(chunks, data, data.x_test, data.y_test, eval_chunk, alive)
            for i in ids:
                if alive[i]:
                    test_curves[i].append((step + 1, values[i]))
        tick(offset + step + 1)
        if should_stop is not None and should_stop():
            raise TrainingInterrupted(offset + step + 1, total)
    return steps_run


def train_population(fno_config: FNOConfig, parametrization, dataset, members: Sequence[Member],
                     train: TrainConfig, *, device="cpu", progress=None,
                     should_stop: Callable[[], bool] | None = None,
                     dtype: torch.dtype = torch.float32, member_chunk: int | None = None,
                     memory_budget: float | None = None, return_model: bool = False):
    """Train M FNOs of one architecture as batched computations, chunk by chunk.

    Parameters
    ----------
    fno_config : FNOConfig
    parametrization : "sp", "mup", dict or Parametrization
    dataset
        A ``PDEDataset``-like object (see :func:`train_model`).
    members : sequence of Member
        One entry per model: learning rate, init seed, Adam β₂ (None: ``train.betas[1]``) and
        init scale of the spectral weights.
    train : TrainConfig
    device : str or torch.device
    progress : None, callable(step, total) or True (a ``tqdm.auto`` bar, quiet when the
        environment variable ``CI`` is set or stderr is not a terminal)
    should_stop : callable() -> bool, optional
        Checked after every step; when true :class:`TrainingInterrupted` is raised.
    dtype : torch.float32 or torch.float64
    member_chunk : int, optional
        Members evaluated in one batched forward/backward.  The members are split into
        consecutive chunks of this size, each a population ``FNO(members=chunk)`` with its own
        :class:`PopulationAdam`.  Results do not depend on it (up to float rounding).  Default:
        on a CPU as many as keep a chunk's widest activation within ~4 MiB, because there a
        batched population is memory-bound and slower than cache-sized pieces (see
        ``benchmarks/bench_population.py``); on CUDA the largest chunk whose training step fits
        the memory budget by the memory model (see ``memory_budget``).
    memory_budget : float, optional
        Bytes one chunk's training step may use (:func:`mufno_lite.memory.estimate_config_memory`,
        the data set's tensors included).  Default: None on a CPU (the cache-sized rule above), on
        CUDA :func:`mufno_lite.memory.device_budget` (80 % of this process's share of the device's
        memory).  With a budget
        the chunk size comes from it (unless ``member_chunk`` is given) and, when there is more
        than one chunk, the chunks are trained **one after the other**: each is built, runs every
        step and its final evaluation, and is freed before the next is built, so one chunk's
        model, optimizer and activations are in memory at a time.  Without a budget all chunks
        are built up front and every step runs all of them (lockstep).  Both orders give the same
        results: members share nothing but the batch order, which comes from ``train.data_seed``.
        :class:`~mufno_lite.memory.MemoryBudgetError` (naming the architecture) when even one
        member does not fit.  A ``torch.cuda.OutOfMemoryError`` halves the chunk and trains its
        members again, down to one member (:mod:`mufno_lite.train.gpu`); each result's
        ``execution`` records the numerics (TF32, determinism), the chunking and those retries.
    return_model : bool
        Also return the trained population as one ``FNO(members=M)`` (``(results, model)``); on
        the CPU when chunk-sequential training ran off the CPU (the whole population may not fit
        the device).

    Returns
    -------
    list of RunResult, one per member in order (and the model if ``return_model``).
    """
    members = _check_population_args(fno_config, train, members, member_chunk)
    if memory_budget is not None and not (isinstance(memory_budget, (int, float)) and memory_budget > 0):
        raise ValueError(f"memory_budget must be a positive number of bytes; got memory_budget={memory_budget!r}")
    par = as_parametrization(parametrization)
    M = len(members)
    t0 = time.perf_counter()
    data = _Data(dataset, train, device, dtype, fno_config.d, fno_config)
    numerics = configure_numerics(data.device)  # TF32 off, CUDA determinism (device.py): recorded in the rows
    n_train = data.x_train.shape[0]
    idx = batch_schedule(n_train, train.batch_size, train.steps, train.data_seed).to(data.device)
    budget = memory_budget if memory_budget is not None else (
        device_budget(str(data.device)) if data.device.type == "cuda" else None)
    if member_chunk is not None:
        G = min(member_chunk, M)
    elif budget is not None:
        G = _memory_chunk(fno_config, data, train, M, budget, dtype)
    else:
        G = min(_auto_chunk(fno_config, data.spatial, train.batch_size, M, data.device), M)
    ranges = _chunk_ranges(M, G)
    sequential = budget is not None and len(ranges) > 1
    rounds = [[r] for r in ranges] if sequential else [ranges]
    keep_on = torch.device("cpu") if sequential else data.device  # where finished chunks wait for return_model
    eval_chunk = _eval_chunk(train, G, fno_config.width, data.spatial, n_train)
    eval_at = _eval_steps(train)
    total = train.steps * len(rounds)
    tick, close = _make_progress(synced_progress(progress, data.device), total, f"population M={M}")
    loss_log = torch.empty(train.steps, M, dtype=torch.float64)
    alive = [True] * M
    diverged_at: list[int | None] = [None] * M
    test_curves: list[list[tuple[int, float]]] = [[] for _ in range(M)]
    final_train = [float("nan")] * M
    final_test = [float("nan")] * M
    finished: list[_Chunk] = []
    steps_run = 0
    oom: list[dict] = []  # the halvings after an out-of-memory error (train/gpu.py)
    try:
        r = 0
        while r < len(rounds):
            group, chunks = rounds[r], None
            try:
                chunks = [_build_chunk(fno_config, par, members, ids, train, dtype, data.device, data.spatial)
                          for ids in group]
                done = _run_steps(chunks, data, train, idx, eval_at, eval_chunk, alive, diverged_at, loss_log,
                                  test_curves, tick, should_stop, r * train.steps, total)
                ids = [i for c in chunks for i in c.ids]
                if any(alive[i] for i in ids):
                    tr = _evaluate_chunks(chunks, data, data.x_train, data.y_train, eval_chunk, alive)
                    te = _evaluate_chunks(chunks, data, data.x_test, data.y_test, eval_chunk, alive)
                    for i in ids:
                        if alive[i]:
                            final_train[i], final_test[i] = tr[i], te[i]
                            test_curves[i].append((train.steps, te[i]))
            except RuntimeError as err:  # torch.cuda.OutOfMemoryError, or cuFFT/cuBLAS failing to allocate
                if not is_oom(err):
                    raise
                oom_text = oom_message(err)  # leave the except block first: its traceback holds the tensors
            else:
                oom_text = None
            if oom_text is not None:
                # drop this round, free, halve the chunk size of it and of every round still to come, and
                # train their members from step 0 (those of later rounds had not started)
                g = max(len(ids) for ids in group)
                ids = [i for later in rounds[r:] for ids in later for i in ids]
                chunks = None
                free_device_memory(data.device)
                if g == 1:
                    raise oom_failure(_describe(fno_config, data, train, M),
                                      _one_member_bytes(fno_config, data, train, dtype), budget, data.device,
                                      oom_text, oom)
                G = g // 2
                oom.append(oom_event(g, G, oom_text))
                for i in ids:
                    loss_log[:, i] = float("nan")
                    alive[i], diverged_at[i], test_curves[i] = True, None, []
                    final_train[i] = final_test[i] = float("nan")
                rounds[r:] = [[[ids[j] for j in sub]] for sub in _chunk_ranges(len(ids), G)]
                if not sequential:  # from now on one chunk at a time; finished chunks wait on the CPU
                    sequential, keep_on = True, torch.device("cpu")
                    finished = [_Chunk(c.ids, c.model.to(keep_on), None, []) for c in finished]
                eval_chunk = _eval_chunk(train, G, fno_config.width, data.spatial, n_train)
                total = train.steps * len(rounds)
                continue
            steps_run = max(steps_run, done)
            if return_model:
                for c in chunks:
                    c.opt = None
                    finished.append(c if keep_on == data.device else _Chunk(c.ids, c.model.to(keep_on), None, []))
            del chunks  # one chunk's model, optimizer and gradients in memory at a time
            r += 1
    finally:
        close()
    synchronize(data.device)  # the wall clock below includes the device's queued work
    wall = time.perf_counter() - t0
    execution = {**numerics, "member_chunk": G, "chunks": -(-M // G), "sequential": bool(sequential),
                 "memory_budget": None if budget is None else float(budget), "oom_retries": oom}
    log = loss_log[:steps_run].tolist()
    results = []
    for i in range(M):
        dv = diverged_at[i]
        upto = steps_run if dv is None else dv - 1
        results.append(_result(
            fno_config, data, train, losses=[row[i] for row in log[:upto]], test_curve=test_curves[i],
            diverged_at=dv, steps_done=steps_run if dv is None else dv, final_train=final_train[i],
            test=final_test[i], wall=wall / M, population_wall=wall,
        ))
        results[-1].execution = execution
    if not return_model:
        return results
    whole = _merge_chunks(finished, fno_config, par, M, dtype, keep_on)
    whole.train_resolution = tuple(data.spatial)  # an int padding keeps its fraction of the domain on other grids
    return results, whole
