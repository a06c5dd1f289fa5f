"""The pieces both trainers share: loss, LR schedule, batches, the data adapter, evaluation,
curves, progress bars and the assembly of a :class:`~mufno_lite.train.config.RunResult`."""

from __future__ import annotations

import math

import torch

from ..flops import training_flops
from ..fno import FNOConfig, count_parameters
from ..memory import device_budget, eval_batch_for_budget, eval_batch_size
from ..progress import progress_enabled
from .config import RunResult, TrainConfig


#: Steps between the trainers' reads of the training losses from the device (issue 20, item 8):
#: in between nothing is read back, so a GPU is never idle waiting for the host; results do not
#: depend on it (a divergence is detected and frozen on the device, the host learns of it later).
LOSS_READ_EVERY = 50


def relative_l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample relative L2 error ‖pred − target‖₂ / ‖target‖₂.

    The norms run over all axes of ``target`` but its first (the batch axis); ``pred`` may carry
    extra leading axes (a population's member axis), so (M, B, …) against (B, …) gives (M, B).
    """
    if pred.shape[pred.dim() - target.dim():] != target.shape:
        raise ValueError(
            f"pred shape {tuple(pred.shape)} does not end with the target shape {tuple(target.shape)}"
        )
    nd = target.dim() - 1
    if nd < 1:
        raise ValueError(f"target needs a batch axis and at least one more; got shape {tuple(target.shape)}")
    dims = tuple(range(-nd, 0))
    diff = torch.linalg.vector_norm(pred - target, dim=dims)
    ref = torch.linalg.vector_norm(target, dim=dims)
    return diff / ref


def lr_factor(train: TrainConfig, step: int) -> float:
    """Schedule factor applied to every group's LR at 0-based step ``step``."""
    T, s = train.steps, step
    if train.schedule == "constant":
        return 1.0
    if train.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * s / T))
    W = train.warmup_steps
    if s < W:
        return (s + 1) / W
    rest = T - W
    return 1.0 if rest <= 0 else 0.5 * (1.0 + math.cos(math.pi * (s - W) / rest))


def batch_schedule(n: int, batch_size: int, steps: int, seed: int) -> torch.Tensor:
    """Indices of every batch, shape (steps, batch_size) (see the module docstring)."""
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} exceeds the number of training samples n_train={n}")
    g = torch.Generator().manual_seed(int(seed))
    per_epoch = n // batch_size
    epochs = -(-steps // per_epoch)
    perms = [torch.randperm(n, generator=g)[: per_epoch * batch_size] for _ in range(epochs)]
    return torch.cat(perms).view(-1, batch_size)[:steps]


def _call_or(obj, name):
    fn = getattr(obj, name, None)
    return fn if callable(fn) else None


def _normalizer_to(norm, device, dtype):
    """Move a normalizer to a device/dtype if it knows how (``.to``); return the usable object."""
    if norm is None:
        return None
    to = _call_or(norm, "to")
    if to is not None:
        try:
            out = to(device=device, dtype=dtype)
        except TypeError:
            out = to(device)
        return norm if out is None else out
    return norm


def _encode(norm, x):
    return x if norm is None else norm.encode(x)


def _decode(norm, y):
    return y if norm is None else norm.decode(y)


class _Data:
    """The dataset's tensors on the training device, inputs encoded once."""

    def __init__(self, dataset, train: TrainConfig, device, dtype, d: int, model_config=None):
        for name in ("x_train", "y_train", "x_test", "y_test"):
            if not isinstance(getattr(dataset, name, None), torch.Tensor):
                raise ValueError(f"dataset must have a tensor attribute {name!r}")
        dev = torch.device(device)
        self.device, self.dtype = dev, dtype
        if model_config is not None:
            check_grid_convention(model_config, dataset)  # the caller resolved a None first
        xn = _normalizer_to(getattr(dataset, "x_normalizer", None), dev, dtype) if train.normalize_x else None
        self.y_norm = _normalizer_to(getattr(dataset, "y_normalizer", None), dev, dtype) if train.normalize_y else None
        if train.normalize_x and xn is None:
            raise ValueError("normalize_x=True but the dataset has no x_normalizer")
        if train.normalize_y and self.y_norm is None:
            raise ValueError("normalize_y=True but the dataset has no y_normalizer")
        with torch.no_grad():
            self.x_train_raw = dataset.x_train.to(dev, dtype)
            self.x_train = _encode(xn, self.x_train_raw).contiguous()
            self.y_train = dataset.y_train.to(dev, dtype).contiguous()
            self.x_test = _encode(xn, dataset.x_test.to(dev, dtype)).contiguous()
            self.y_test = dataset.y_test.to(dev, dtype).contiguous()
        if self.x_train.dim() != d + 2:
            raise ValueError(
                f"x_train must have shape (N, C, {', '.join(['n'] * d)}) for d={d}; got {tuple(self.x_train.shape)}"
            )
        if self.x_train.shape[0] != self.y_train.shape[0] or self.x_test.shape[0] != self.y_test.shape[0]:
            raise ValueError("x and y must have the same number of samples in each split")
        for name in ("x_train", "y_train", "x_test", "y_test"):  # NaN data would pass as "done" or "diverged"
            t = getattr(self, name)
            if not bool(torch.isfinite(t).all()):
                bad = int(t.numel() - torch.isfinite(t).sum())
                raise ValueError(f"dataset.{name} has {bad} NaN or inf value(s) of {t.numel()} (after normalisation); "
                                 f"training needs finite data")
        self.spatial = tuple(self.x_train.shape[2:])
        self.pino = train.pino_weight > 0
        self.h = None
        if self.pino:
            pde = None
            for attr in ("config", "meta"):
                dct = getattr(dataset, attr, None)
                if isinstance(dct, dict) and dct.get("pde") is not None:
                    pde = str(dct["pde"]).lower()
            if d != 2 or (pde is not None and pde != "darcy"):
                raise ValueError(
                    f"pino_weight > 0 needs a Darcy dataset (2-D, pde='darcy'); got d={d}, pde={pde!r}"
                )
            meta = getattr(dataset, "meta", None)
            self.h = meta.get("h") if isinstance(meta, dict) else None
            from ..data.darcy import darcy_residual  # noqa: F401  (fail early if missing)

            self._residual = darcy_residual

    def output(self, out: torch.Tensor) -> torch.Tensor:
        return _decode(self.y_norm, out)

    def residual_sq(self, a_raw: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Mean squared Darcy residual per leading (member) index: u (…, B, 1, s, s) → (…)."""
        lead = u.shape[: u.dim() - a_raw.dim()]
        n = int(math.prod(lead))
        uu = u.reshape(n * a_raw.shape[0], *a_raw.shape[1:])
        aa = a_raw.unsqueeze(0).expand(n, *a_raw.shape).reshape_as(uu)
        r = self._residual(aa, uu, h=self.h)
        return r.reshape(*lead, -1).pow(2).mean(-1)


def _eval_chunk(train: TrainConfig, members: int, width: int, spatial, n: int, *, budget: float | None = None,
                cfg: FNOConfig | None = None, dtype=torch.float32, n_train: int = 0, n_test: int = 0,
                data_on_device: bool = True) -> int:
    """Samples per evaluation pass: ``train.eval_batch_size`` when set; with a memory ``budget``
    (a GPU) the largest the memory model fits in it beside the state and the data
    (:func:`mufno_lite.memory.eval_batch_for_budget`); else (a CPU) at most 2²³ elements of the
    widest activation per pass, a cache-sized rule (:func:`mufno_lite.memory.eval_batch_size`)."""
    if train.eval_batch_size is not None:
        return train.eval_batch_size
    if budget is not None and cfg is not None:
        return eval_batch_for_budget(cfg, spatial, members, n, budget, dtype=dtype, n_train=n_train, n_test=n_test,
                                     normalize_x=train.normalize_x, data_on_device=data_on_device)
    return eval_batch_size(members, width, spatial, n)


def _device_budget(device) -> float | None:
    """The memory budget of the trainers on ``device`` (None on a CPU)."""
    return device_budget(str(device)) if torch.device(device).type == "cuda" else None


def _errors_in_chunks(model, output, x, y, chunk: int):
    """Relative L2 per sample, ``chunk`` samples per forward pass: yields (…, b) tensors in order.

    The one evaluation loop: the trainers' :func:`_evaluate` and the public
    :func:`mufno_lite.train.evaluate` both run it.
    """
    for i in range(0, x.shape[0], chunk):
        yield relative_l2(output(model(x[i : i + chunk])), y[i : i + chunk])


@torch.no_grad()
def _evaluate(model, data: _Data, x, y, chunk: int) -> torch.Tensor:
    """Mean relative L2 over a split, per member ((M,) for a population, () for a model)."""
    total = None
    for err in _errors_in_chunks(model, data.output, x, y, chunk):
        err = err.sum(-1)
        total = err if total is None else total + err
    return total / x.shape[0]


def data_grid_convention(dataset) -> str | None:
    """The grid convention a data set states (``meta["grid_convention"]``: the own-data path), or None."""
    meta = getattr(dataset, "meta", None)
    return meta.get("grid_convention") if isinstance(meta, dict) else None


def resolve_grid_convention(model_config, dataset):
    """The model config with ``grid_convention=None`` ("follow the data") replaced by the data's
    stated convention, or ``"endpoint"`` for data that state none (the built-in PDEs); a config
    that names one is returned as it is (and refused by :func:`check_grid_convention` if it
    disagrees with the data)."""
    if getattr(model_config, "grid_convention", "endpoint") is not None:
        return model_config
    from dataclasses import replace

    return replace(model_config, grid_convention=data_grid_convention(dataset) or "endpoint")


def check_grid_convention(model_config, dataset) -> None:
    """Refuse a model whose grid channel does not follow the data's stated grid convention.

    Only data that state one (``meta["grid_convention"]``: the own-data path) are checked; the
    built-in PDEs' experiments keep the endpoint channel they were recorded with.  A model that
    follows the data (``None``) is never refused.
    """
    conv = data_grid_convention(dataset)
    mine = getattr(model_config, "grid_convention", "endpoint")
    if conv is not None and mine is not None and getattr(model_config, "grid", False) and conv != mine:
        raise ValueError(f"the data's grid convention is {conv!r} but the model's grid_convention is {mine!r}; "
                         f"build the model with grid_convention={conv!r} (or state the data's grid as {mine!r})")


def _downsample(losses: list[float], n_points: int, upto: int | None = None) -> list[tuple[int, float]]:
    """Bin the per-step losses (steps 1..len) into at most n_points (last step, mean) pairs."""
    vals = losses if upto is None else losses[:upto]
    n = len(vals)
    if n == 0:
        return []
    k = min(n_points, n)
    out = []
    for j in range(k):
        a, b = (j * n) // k, ((j + 1) * n) // k
        seg = vals[a:b]
        out.append((b, float(sum(seg) / len(seg))))
    return out


def _eval_steps(train: TrainConfig) -> set[int]:
    if train.eval_points <= 0:
        return set()
    T, k = train.steps, train.eval_points
    return {max(1, round(T * (j + 1) / (k + 1))) for j in range(k)} - {T}


def _make_progress(progress, total: int, desc: str):
    """Return (callback(step), close()) from None, a callable(step, total), or True (tqdm)."""
    if progress is None or progress is False:
        return (lambda step: None), (lambda: None)
    if progress is True:
        from tqdm.auto import tqdm

        quiet = not progress_enabled()
        bar = tqdm(total=total, desc=desc, disable=quiet, leave=False)
        return (lambda step: bar.update(1)), bar.close
    if callable(progress):
        return (lambda step: progress(step, total)), (lambda: None)
    raise ValueError(f"progress must be None, True or a callable(step, total); got progress={progress!r}")


def _real_dtype(model) -> torch.dtype:
    for p in model.parameters():
        return p.real.dtype if p.is_complex() else p.dtype
    return torch.get_default_dtype()


def convert_model_dtype(model, dtype: torch.dtype):
    """Cast a model to a real dtype, its complex spectral weights to the matching complex dtype.

    Plain ``model.to(dtype)`` does this for an :class:`~mufno_lite.fno.FNO`, because
    :meth:`SpectralConv._apply <mufno_lite.fno.SpectralConv._apply>` converts the complex weight
    through its real view (torch alone would drop the imaginary parts); this helper only checks
    the dtype first.
    """
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64; got dtype={dtype!r}")
    return model.to(dtype)


def _result(fno_config: FNOConfig, data: "_Data", train: TrainConfig, *, losses: list[float],
            test_curve: list[tuple[int, float]], diverged_at: int | None, steps_done: int, final_train: float,
            test: float, wall: float, population_wall: float) -> RunResult:
    """One model's :class:`RunResult` (both trainers): curves binned, FLOPs counted (:func:`training_flops`)."""
    done = diverged_at is None
    return RunResult(
        status="done" if done else "diverged",
        final_train_loss=final_train,
        test_rel_l2=test,
        train_curve=_downsample(losses, train.curve_points),
        test_curve=test_curve,
        diverged_at_step=diverged_at,
        wall_time_s=wall,
        population_wall_time_s=population_wall,
        flops=training_flops(fno_config, data.spatial, batch_size=train.batch_size, steps=steps_done,
                             n_test=data.x_test.shape[0], n_evals=len(test_curve),
                             n_train_eval=data.x_train.shape[0] if done else 0),
        n_params=count_parameters(fno_config)["total"],
    )
