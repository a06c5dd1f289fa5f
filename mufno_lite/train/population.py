"""Training a population of FNOs in lockstep (:func:`train_population`), as a handful of named steps."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from ..fno import FNO, FNOConfig
from ..optim import PopulationAdam
from ..parametrization import as_parametrization, clip_grad_elementwise_
from ..validation import positive_int
from .common import (
    _Data, _eval_chunk, _eval_steps, _evaluate, _make_progress, _result, batch_schedule, convert_model_dtype,
    lr_factor, relative_l2,
)
from .config import Member, TrainConfig, TrainingInterrupted


def _auto_chunk(fno_config: FNOConfig, spatial, batch_size: int, M: int, device) -> int:
    """Members per batched chunk: all of them on a GPU; on a CPU as many as keep the widest
    activation of a chunk within ~4 MiB (cache-sized), at least one."""
    if torch.device(device).type != "cpu":
        return M
    widest = batch_size * max(fno_config.width, fno_config.projection_width) * math.prod(
        n + p for n, p in zip(spatial, fno_config.pads_at(spatial))) * 4
    return max(1, min(M, (4 << 20) // max(widest, 1)))


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


@dataclass
class _Chunk:
    """Consecutive members trained as one batched ``FNO(members=len(ids))`` with its own optimizer."""

    ids: list[int]
    model: FNO
    opt: PopulationAdam
    params: list


def _build_chunks(fno_config: FNOConfig, par, members: list[Member], train: TrainConfig, G: int, dtype,
                  device) -> list[_Chunk]:
    mult = par.lr_multiplier(fno_config.K, fno_config.d)
    M = len(members)
    chunks = []
    for start in range(0, M, G):
        ids = list(range(start, min(start + G, M)))
        sub = [members[i] for i in ids]
        model = FNO(fno_config, parametrization=par, members=len(ids), seed=[m.seed for m in sub],
                    init_scale=[m.init_scale for m in sub])
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
        chunks.append(_Chunk(ids, model, opt, list(model.parameters())))
    return chunks


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


def train_population(fno_config: FNOConfig, parametrization, dataset, members: Sequence[Member],
                     train: TrainConfig, *, device="cpu", progress=None,
                     should_stop: Callable[[], bool] | None = None,
                     dtype: torch.dtype = torch.float32, member_chunk: int | None = None,
                     return_model: bool = False):
    """Train M FNOs of one architecture in lockstep, as batched computations.

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
        :class:`PopulationAdam`; every step runs all chunks on the same batch.  Results do not
        depend on it (up to float rounding).  Default: all members on a GPU; on a CPU as many as
        keep a chunk's widest activation within ~4 MiB, because there a batched population is
        memory-bound and slower than cache-sized pieces (see ``benchmarks/bench_population.py``).
    return_model : bool
        Also return the trained population as one ``FNO(members=M)`` (``(results, model)``).

    Returns
    -------
    list of RunResult, one per member in order (and the model if ``return_model``).
    """
    members = _check_population_args(fno_config, train, members, member_chunk)
    par = as_parametrization(parametrization)
    M = len(members)
    t0 = time.perf_counter()
    data = _Data(dataset, train, device, dtype, fno_config.d, fno_config)
    n_train = data.x_train.shape[0]
    idx = batch_schedule(n_train, train.batch_size, train.steps, train.data_seed).to(data.device)
    G = min(member_chunk or _auto_chunk(fno_config, data.spatial, train.batch_size, M, data.device), M)
    chunks = _build_chunks(fno_config, par, members, train, G, dtype, data.device)
    for c in chunks:  # an int padding keeps its fraction of the domain on other grids
        c.model.train_resolution = tuple(data.spatial)
    eval_chunk = _eval_chunk(train, G, fno_config.width, data.spatial, n_train)
    eval_at = _eval_steps(train)
    tick, close = _make_progress(progress, train.steps, f"population M={M}")
    loss_log = torch.empty(train.steps, M, dtype=torch.float64)
    alive = [True] * M
    diverged_at: list[int | None] = [None] * M
    test_curves: list[list[tuple[int, float]]] = [[] for _ in range(M)]
    steps_run = 0
    try:
        for step in range(train.steps):
            factor = lr_factor(train, step)
            for c in chunks:
                _chunk_step(c, data, train, step, idx[step], factor, alive, diverged_at, loss_log)
            steps_run = step + 1
            if not any(alive):
                break
            if step + 1 in eval_at:
                for i, v in enumerate(_evaluate_chunks(chunks, data, data.x_test, data.y_test, eval_chunk, alive)):
                    if alive[i]:
                        test_curves[i].append((step + 1, v))
            tick(step + 1)
            if should_stop is not None and should_stop():
                raise TrainingInterrupted(step + 1, train.steps)
    finally:
        close()
    final_train = [float("nan")] * M
    final_test = [float("nan")] * M
    if any(alive):
        tr = _evaluate_chunks(chunks, data, data.x_train, data.y_train, eval_chunk, alive)
        te = _evaluate_chunks(chunks, data, data.x_test, data.y_test, eval_chunk, alive)
        for i in range(M):
            if alive[i]:
                final_train[i], final_test[i] = tr[i], te[i]
                test_curves[i].append((train.steps, te[i]))
    wall = time.perf_counter() - t0
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
    if not return_model:
        return results
    whole = _merge_chunks(chunks, fno_config, par, M, dtype, data.device)
    whole.train_resolution = tuple(data.spatial)
    return results, whole
