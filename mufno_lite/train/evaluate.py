"""Evaluating a trained model on any test set and at any resolution: :func:`evaluate`.

It runs the trainers' own evaluation loop (:func:`~mufno_lite.train.common._errors_in_chunks`) and
returns the relative L2 error of every sample.  How another resolution is handled (issue 11):

* **Normalisation.**  The training set's normalisers encode the inputs (and decode the outputs
  with ``normalize_y``).  A per-channel normaliser works on every grid; a pointwise one refuses
  another grid with a clear ``ValueError`` (:mod:`mufno_lite.data.normalizers`).
* **Padding.**  A fractional padding is a fraction of the axis on every grid.  An int padding
  counts grid points at the training resolution (``model.train_resolution``, set by the
  trainers, else the training split's grid of ``normalizers``) and is scaled to keep that
  fraction of the domain on the evaluation grid (:meth:`mufno_lite.fno.FNOConfig.pads_at`).
* **Grid channel.**  It follows the model's ``grid_convention``; data that state theirs
  (``meta["grid_convention"]``) must match it.
* **resolution=r** subsamples the data to r points per axis: every k-th point with
  k = (n − 1)/(r − 1) on an ``endpoint`` grid, k = n/r on a ``periodic`` one (k must be an
  integer; nothing is interpolated).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from .common import _decode, _device_budget, _encode, _errors_in_chunks, _eval_chunk, _normalizer_to, _real_dtype, \
    check_grid_convention, data_grid_convention, resolve_grid_convention
from .config import TrainConfig

__all__ = ["evaluate", "subsample"]


def subsample(t: torch.Tensor, resolution: int, convention: str = "periodic") -> torch.Tensor:
    """Every k-th point per spatial axis of ``(N, C, s…)`` so that each has ``resolution`` points."""
    out = t
    for ax in range(2, t.dim()):
        n = int(t.shape[ax])
        r = int(resolution)
        if r == n:
            continue
        if convention == "endpoint":
            ok, k = r >= 2 and (n - 1) % (r - 1) == 0, (n - 1) // max(r - 1, 1)
        else:
            ok, k = n % r == 0, n // max(r, 1)
        if not ok or r > n:
            rule = "(n-1)/(r-1)" if convention == "endpoint" else "n/r"
            raise ValueError(f"cannot subsample an axis of {n} points to resolution={r} on a {convention!r} grid: "
                             f"{rule} must be an integer (nothing is interpolated)")
        out = out.index_select(ax, torch.arange(0, n, k, device=t.device))
    return out


@torch.no_grad()
def evaluate(model, data, *, resolution: int | None = None, split: str = "test", normalizers=None,
             train: TrainConfig | None = None, normalize_x: bool | None = None, normalize_y: bool | None = None,
             train_resolution: Sequence[int] | int | None = None, batch_size: int | None = None,
             device=None) -> torch.Tensor:
    """Relative L2 error of every sample of a test set: ``(N,)``, or ``(M, N)`` for a population.

    Parameters
    ----------
    model : FNO
        A trained model (single or population).
    data : PDEDataset or (x, y)
        A data set (its ``split`` tensors are evaluated and its normalisers used), or a pair of
        arrays ``(x, y)`` (numpy or torch, ``(N, s…)`` or ``(N, C, s…)``) on any grid.
    resolution : int, optional
        Subsample the data to this many points per axis first (see the module docstring).
    split : {"test", "train"}
        Which split of a data set.
    normalizers : PDEDataset or (x_normalizer, y_normalizer), optional
        The training set's normalisers (default: ``data``'s, when it is a data set).  Required
        with arrays when a normalisation is on.
    train : TrainConfig, optional
        Takes ``normalize_x`` / ``normalize_y`` from it (as the model was trained); defaults
        True / False, TrainConfig's.
    train_resolution : int or tuple, optional
        The grid an int padding was chosen for (default: ``model.train_resolution``, else the
        training split of ``normalizers``/``data``).
    batch_size : int, optional
        Samples per forward pass (default: as in training: on a GPU the largest the memory model
        fits in the device's budget, on a CPU a cache-sized rule).
    device : optional
        Where to compute (default: the model's device).
    """
    from ..data.arrays import as_channel_first

    nx = (train.normalize_x if train is not None else True) if normalize_x is None else bool(normalize_x)
    ny = (train.normalize_y if train is not None else False) if normalize_y is None else bool(normalize_y)
    if split not in ("test", "train"):
        raise ValueError(f"split={split!r} is invalid: allowed values are ('test', 'train')")
    source = None
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ValueError("data must be a data set or a pair (x, y)")
        x = as_channel_first(data[0], model.d, name="x")
        y = as_channel_first(data[1], model.d, name="y")
        convention = None
    else:
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        source = data
        meta = getattr(data, "meta", None)
        convention = meta.get("grid_convention") if isinstance(meta, dict) else None
        model.config = resolve_grid_convention(model.config, data) if convention else model.config
        check_grid_convention(model.config, data)
    if normalizers is None:
        normalizers = source
    if isinstance(normalizers, (tuple, list)):
        xn, yn = normalizers
        ref = None
    elif normalizers is not None:
        xn, yn = getattr(normalizers, "x_normalizer", None), getattr(normalizers, "y_normalizer", None)
        ref = normalizers
        if data_grid_convention(normalizers):
            model.config = resolve_grid_convention(model.config, normalizers)
        check_grid_convention(model.config, normalizers)
        if convention is None:
            meta = getattr(normalizers, "meta", None)
            convention = meta.get("grid_convention") if isinstance(meta, dict) else None
    else:
        xn = yn = ref = None
    if (nx and xn is None) or (ny and yn is None):
        raise ValueError("a normalisation is on (normalize_x / normalize_y) but no normaliser was given: pass "
                         "normalizers=<the training data set>, or normalize_x=False / normalize_y=False")
    if resolution is not None:
        conv = convention or getattr(model.config, "grid_convention", None) or "endpoint"
        x, y = subsample(x, resolution, conv), subsample(y, resolution, conv)
    if train_resolution is None:
        train_resolution = model.train_resolution
    if train_resolution is None and ref is not None and isinstance(getattr(ref, "x_train", None), torch.Tensor):
        train_resolution = tuple(ref.x_train.shape[2:])
    if isinstance(train_resolution, int):
        train_resolution = (train_resolution,) * model.d
    p = next(model.parameters())
    dev = torch.device(device) if device is not None else p.device
    dtype = _real_dtype(model)
    model.to(dev)
    xn = _normalizer_to(xn, dev, dtype) if nx else None
    yn = _normalizer_to(yn, dev, dtype) if ny else None
    x = _encode(xn, x.to(dev, dtype))
    y = y.to(dev, dtype)
    members = model.members or 1
    chunk = batch_size or _eval_chunk(TrainConfig(), members, model.config.width, tuple(x.shape[2:]), x.shape[0],
                                      budget=_device_budget(dev), cfg=model.config, dtype=dtype)
    saved, was_training = model.train_resolution, model.training
    model.train_resolution = tuple(train_resolution) if train_resolution is not None else None
    model.eval()
    try:
        errs = list(_errors_in_chunks(model, lambda out: _decode(yn, out), x, y, chunk))
    finally:
        model.train_resolution = saved
        model.train(was_training)
    return torch.cat(errs, dim=-1)
