"""Training one FNO (:func:`train_model`)."""

from __future__ import annotations

import math
import time
from typing import Callable

import torch

from ..device import configure_numerics, synchronize
from ..fno import FNO
from ..parametrization import clip_grad_elementwise_, make_optimizer
from .common import (
    _Data, _eval_chunk, _eval_steps, _evaluate, _make_progress, _real_dtype, _result, batch_schedule, lr_factor,
    relative_l2,
)
from .config import RunResult, TrainConfig, TrainingInterrupted
from .gpu import synced_progress


def train_model(model: FNO, dataset, train: TrainConfig, *, device="cpu", progress=None,
                should_stop: Callable[[], bool] | None = None) -> RunResult:
    """Train one FNO (in place) with torch's Adam/AdamW and return its :class:`RunResult`.

    Parameters
    ----------
    model : FNO
        A single model (``members=None``); its parametrization sets the spectral LR multiplier.
    dataset
        A ``PDEDataset``-like object (``x_train``, ``y_train``, ``x_test``, ``y_test``,
        ``x_normalizer``, ``y_normalizer``, ``meta``).
    train : TrainConfig
    device : str or torch.device
        The model is moved there; data too.  Computation runs in the model's dtype.
    progress : callable(step, total) or None
    should_stop : callable() -> bool, optional
        Checked after every step; when it returns true :class:`TrainingInterrupted` is raised.
    """
    if not isinstance(train, TrainConfig):
        raise ValueError(f"train must be a TrainConfig; got {type(train).__name__}")
    if not isinstance(model, FNO) or model.members is not None:
        raise ValueError("train_model needs a single FNO (members=None); use train_population for populations")
    t0 = time.perf_counter()
    model.to(device)
    dtype = _real_dtype(model)
    data = _Data(dataset, train, device, dtype, model.d, model.config)
    numerics = configure_numerics(data.device)  # TF32 off, CUDA determinism (device.py): recorded in the result
    model.train_resolution = tuple(data.spatial)  # an int padding keeps its fraction on other grids
    idx = batch_schedule(data.x_train.shape[0], train.batch_size, train.steps, train.data_seed).to(data.device)
    opt = make_optimizer(model, train.lr, optimizer=train.optimizer, betas=train.betas, eps=train.eps,
                         weight_decay=train.weight_decay)
    if train.lr_group != "all":
        base = dict(zip(("spectral", "other"), train.group_lrs(train.lr)))
        for g in opt.param_groups:
            g["lr"] = base[g["name"]] * g["lr_mult"]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(train, s))
    params = list(model.parameters())
    chunk = _eval_chunk(train, 1, model.config.width, data.spatial, max(data.x_train.shape[0], 1))
    eval_at = _eval_steps(train)
    tick, close = _make_progress(synced_progress(progress, data.device), train.steps, "train")
    losses: list[float] = []
    test_curve: list[tuple[int, float]] = []
    diverged = None
    try:
        for step in range(train.steps):
            b = idx[step]
            xb, yb = data.x_train[b], data.y_train[b]
            pred = data.output(model(xb))
            loss = relative_l2(pred, yb).mean()
            if data.pino:
                loss = loss + train.pino_weight * data.residual_sq(data.x_train_raw[b], pred)
            lv = float(loss.detach())
            if not (math.isfinite(lv) and lv <= train.max_loss):
                diverged = step + 1
                break
            losses.append(lv)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if train.clip is not None:
                clip_grad_elementwise_(params, train.clip)
            opt.step()
            sched.step()
            if step + 1 in eval_at:
                model.eval()
                test_curve.append((step + 1, float(_evaluate(model, data, data.x_test, data.y_test, chunk))))
                model.train()
            tick(step + 1)
            if should_stop is not None and should_stop():
                raise TrainingInterrupted(step + 1, train.steps)
    finally:
        close()
    if diverged is None:
        final_train = float(_evaluate(model, data, data.x_train, data.y_train, chunk))
        test = float(_evaluate(model, data, data.x_test, data.y_test, chunk))
        test_curve.append((train.steps, test))
    else:
        final_train = test = float("nan")
    synchronize(data.device)  # the wall clock includes the device's queued work
    wall = time.perf_counter() - t0
    res = _result(model.config, data, train, losses=losses, test_curve=test_curve, diverged_at=diverged,
                  steps_done=len(losses) + (diverged is not None), final_train=final_train, test=test,
                  wall=wall, population_wall=wall)
    res.execution = numerics
    return res
