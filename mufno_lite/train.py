"""Training one FNO, or a population of FNOs in lockstep.

Two entry points share every convention:

* :func:`train_model` trains one model with ``torch.optim.Adam``/``AdamW`` built by
  :func:`mufno_lite.parametrization.make_optimizer` (groups ``spectral`` with LR ``lr·c(K)`` and
  ``other`` with LR ``lr``) and an LR schedule that is a ``torch.optim.lr_scheduler.LambdaLR``
  (it scales every group's own initial LR, so the μP multiplier is kept).
* :func:`train_population` trains M members (each with its own learning rate, seed, Adam β₂ and
  init scale) of one architecture in lockstep as batched computations: population
  ``FNO(..., members=G)`` chunks whose parameters carry a leading member axis (G = M on a GPU; on
  a CPU cache-sized chunks, often G = 1, because there batching members is memory-bound and gains
  nothing — see ``member_chunk``), and a population Adam
  (:class:`PopulationAdam`) that applies torch's update rule with per-member hyperparameters to
  the stacked tensors.  The loss is the *sum* over members of each member's batch-mean loss;
  members share no parameters, so each member receives exactly its own gradient and follows the
  same trajectory as a separate :func:`train_model` run (tested to float tolerance).

Conventions and decisions
-------------------------
* **Loss.**  Relative L2 per sample, ``‖pred − y‖₂ / ‖y‖₂`` over all non-batch axes
  (:func:`relative_l2`), averaged over the batch.  With ``normalize_y`` the model predicts the
  encoded target and its output is decoded (``dataset.y_normalizer.decode``) before the loss, so
  the loss is always measured in physical units.  With ``normalize_x`` the inputs are encoded
  with ``dataset.x_normalizer`` once, before training.
* **PINO.**  ``pino_weight > 0`` (Darcy only) adds ``pino_weight · mean(r²)`` where ``r`` is
  :func:`mufno_lite.data.darcy.darcy_residual` of the raw (un-encoded) coefficient and the
  decoded prediction on the interior nodes, with ``h = dataset.meta['h']`` when present.
* **Batches.**  Every epoch is a fresh permutation of the training set drawn from a generator
  seeded with ``data_seed``; batches are consecutive slices of ``batch_size`` samples and the
  incomplete last slice is dropped.  All members of a population, and a separate run with the same
  ``data_seed``, see the same batches in the same order.
* **Schedules** (a factor on every group's LR at 0-based step t, T = ``steps``):
  ``constant`` 1; ``cosine`` ½(1 + cos(π t/T)); ``warmup_cosine`` (t+1)/W for t < W, then the
  cosine over the remaining T − W steps.
* **Adam on complex weights.**  As in torch: a complex parameter is the pair (real, imaginary) of
  independent reals (``torch.view_as_real``), each with its own moments.  Element-wise clipping
  (``clip``) clips real and imaginary parts separately.  ``adam`` adds ``weight_decay·p`` to the
  gradient (L2); ``adamw`` decays the parameter by ``1 − lr·weight_decay`` (decoupled), with lr the
  group's LR (so spectral weights decay at ``lr·c(K)``), as torch does.
* **Divergence.**  A member whose batch loss is NaN, ±inf or above ``max_loss`` (default 1e6: a
  relative error of a million, from which no run recovers usefully) is *diverged*: a separate run
  stops there; in a population the member is frozen (its parameters keep the values that produced
  the bad loss, its gradient is masked out and it gets no further updates) while the others go
  on untouched.  Its result has ``status='diverged'``, ``diverged_at_step`` (1-based: the step
  whose forward pass produced the bad loss) and NaN final losses.
* **Curves.**  ``train_curve`` splits the steps into ``curve_points`` contiguous bins and reports
  (last step of the bin, mean batch loss in the bin); steps are counted from 1.  ``test_curve``
  holds the test error after ``eval_points`` evenly spaced steps (default 0: at the end only).
* **Cost.**  ``flops`` = 3 × forward FLOPs per training batch × steps (+ the PINO residual is
  neglected) + forward FLOPs of every evaluation pass, from :func:`estimate_flops` (the FLOP model
  lives in :mod:`mufno_lite.flops`; :class:`PopulationAdam` in :mod:`mufno_lite.optim`).
  ``wall_time_s`` is a member's share (population wall time / M).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import torch

from .flops import estimate_flops, training_flops
from .fno import FNO, FNOConfig, count_parameters
from .optim import PopulationAdam
from .parametrization import as_parametrization, clip_grad_elementwise_, make_optimizer
from .progress import progress_enabled
from .validation import ConfigError, choice, fail, integer, number, optional, positive_int, positive_number

__all__ = [
    "TrainConfig",
    "Member",
    "RunResult",
    "TrainingInterrupted",
    "PopulationAdam",
    "train_population",
    "train_model",
    "estimate_flops",
    "relative_l2",
    "lr_factor",
    "batch_schedule",
]

OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "cosine", "warmup_cosine")
#: Which parameter group the swept learning rate drives (see ``TrainConfig.lr_group``).
LR_GROUPS = ("all", "spectral", "other")
#: TrainConfig fields left out of a run's identity while they hold their default (so adding them
#: did not change the id of any run recorded before they existed).
OPTIONAL_TRAIN_FIELDS = {"lr_group": "all", "lr_fixed": None}


def _beta(name: str, v) -> float:
    return number(name, v, lo=0.0, hi=1.0, hi_open=True, allowed="a number in [0, 1)")


# --------------------------------------------------------------------------------------------
# configuration and results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """How to train (shared by every member of a population).

    Parameters
    ----------
    steps : int
        Optimizer steps.
    batch_size : int
        Samples per step (must not exceed the training set).
    optimizer : {"adam", "adamw"}
        ``adam`` applies ``weight_decay`` as an L2 term, ``adamw`` decoupled.
    lr : float
        Base learning rate of :func:`train_model` (population members carry their own).
    betas, eps, weight_decay
        As in ``torch.optim.Adam``; a member's ``beta2`` overrides ``betas[1]``.
    schedule : {"constant", "cosine", "warmup_cosine"}
        LR schedule (see the module docstring); ``warmup_steps`` for ``warmup_cosine``.
    clip : float or None
        Element-wise gradient clipping threshold (the paper uses 0.01), None for none.
    normalize_x, normalize_y : bool
        Encode inputs / train on encoded targets with the dataset's normalizers.
    pino_weight : float
        Weight of the mean squared Darcy residual added to the loss (Darcy only).
    data_seed : int
        Seed of the batch order.
    curve_points : int
        Length of the downsampled training-loss curve.
    eval_points : int
        Number of evenly spaced test evaluations *during* training (0: only at the end).
    max_loss : float
        A batch loss above this (or NaN/inf) marks the run as diverged.
    eval_batch_size : int or None
        Samples per forward pass in evaluation (None: chosen to bound memory).
    lr_group : {"all", "spectral", "other"}
        Which weights the (swept) learning rate ``lr`` drives.  ``all`` (default): every group,
        the spectral one at ``lr·c(K)``.  ``spectral``: only the spectral weights (at
        ``lr·c(K)``); lifting, pointwise W, projection and biases train at ``lr_fixed``.
        ``other``: only the non-spectral weights; the spectral ones train at ``lr_fixed·c(K)``.
        This isolates μP's mechanism: the √(log K) rule is about the spectral group alone.
    lr_fixed : float or None
        The LR of the groups ``lr`` does not drive (required unless ``lr_group='all'``).
    """

    steps: int = 400
    batch_size: int = 20
    optimizer: str = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_steps: int = 0
    clip: float | None = None
    normalize_x: bool = True
    normalize_y: bool = False
    pino_weight: float = 0.0
    data_seed: int = 0
    curve_points: int = 50
    eval_points: int = 0
    max_loss: float = 1e6
    eval_batch_size: int | None = None
    lr_group: str = "all"
    lr_fixed: float | None = None

    def __post_init__(self):
        # every error is a ConfigError (a ValueError) whose ``key`` names the field
        positive_int("steps", self.steps)
        positive_int("batch_size", self.batch_size)
        object.__setattr__(self, "optimizer", choice("optimizer", self.optimizer, OPTIMIZERS, lower=True))
        positive_number("lr", self.lr)
        if len(tuple(self.betas)) != 2:
            raise fail("betas", self.betas, "a pair (beta1, beta2)")
        object.__setattr__(self, "betas", (_beta("beta1", self.betas[0]), _beta("beta2", self.betas[1])))
        positive_number("eps", self.eps)
        number("weight_decay", self.weight_decay, lo=0)
        sch = choice("schedule", self.schedule, SCHEDULES, lower=True)
        object.__setattr__(self, "schedule", sch)
        w = integer("warmup_steps", self.warmup_steps, lo=0, hi=self.steps,
                    allowed=f"an integer in [0, steps={self.steps}]")
        if sch == "warmup_cosine" and w == 0:
            raise ConfigError("schedule='warmup_cosine' needs warmup_steps >= 1; got warmup_steps=0",
                              key="warmup_steps", value=w, allowed="an integer >= 1 with schedule='warmup_cosine'")
        optional(positive_number, "clip", self.clip)
        number("pino_weight", self.pino_weight, lo=0)
        integer("data_seed", self.data_seed)
        positive_int("curve_points", self.curve_points)
        integer("eval_points", self.eval_points, lo=0)
        number("max_loss", self.max_loss, lo=0, lo_open=True, finite=False, allowed="a positive number (inf allowed)")
        optional(positive_int, "eval_batch_size", self.eval_batch_size)
        grp = choice("lr_group", self.lr_group, LR_GROUPS, lower=True)
        object.__setattr__(self, "lr_group", grp)
        if grp == "all":
            if self.lr_fixed is not None:
                raise ConfigError(f"lr_fixed is only used with lr_group 'spectral' or 'other'; got lr_fixed={self.lr_fixed!r} "
                                  "with lr_group='all'", key="lr_fixed", value=self.lr_fixed,
                                  allowed="null with lr_group='all'")
        elif self.lr_fixed is None:
            raise fail("lr_fixed", None, f"a positive finite number when lr_group={grp!r}")
        else:
            object.__setattr__(self, "lr_fixed", positive_number("lr_fixed", self.lr_fixed))

    def group_lrs(self, lr: float) -> tuple[float, float]:
        """Base learning rates (spectral, other) for a swept ``lr`` (before the spectral
        multiplier c(K) and the schedule)."""
        if self.lr_group == "spectral":
            return float(lr), float(self.lr_fixed)
        if self.lr_group == "other":
            return float(self.lr_fixed), float(lr)
        return float(lr), float(lr)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["betas"] = list(self.betas)
        return out


@dataclass(frozen=True)
class Member:
    """One member of a population: its own learning rate, seed, Adam β₂ and init scale."""

    lr: float
    seed: int = 0
    beta2: float | None = None
    init_scale: float = 1.0

    def __post_init__(self):
        positive_number("lr", self.lr)
        integer("seed", self.seed)
        optional(_beta, "beta2", self.beta2)
        positive_number("init_scale", self.init_scale)


@dataclass
class RunResult:
    """Outcome of training one model (or one member of a population)."""

    status: str
    final_train_loss: float
    test_rel_l2: float
    train_curve: list[tuple[int, float]]
    test_curve: list[tuple[int, float]]
    diverged_at_step: int | None
    wall_time_s: float
    population_wall_time_s: float
    flops: float
    n_params: int

    def to_dict(self) -> dict:
        out = asdict(self)
        out["train_curve"] = [[int(s), float(v)] for s, v in self.train_curve]
        out["test_curve"] = [[int(s), float(v)] for s, v in self.test_curve]
        return out


class TrainingInterrupted(Exception):
    """``should_stop()`` returned true; raised after the current step has finished.

    Attributes ``step`` (steps completed) and ``total``.
    """

    def __init__(self, step: int, total: int):
        super().__init__(f"training interrupted after step {step} of {total}")
        self.step, self.total = step, total


# --------------------------------------------------------------------------------------------
# small shared pieces
# --------------------------------------------------------------------------------------------


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

    def __init__(self, dataset, train: TrainConfig, device, dtype, d: int):
        for name in ("x_train", "y_train", "x_test", "y_test"):
            if not isinstance(getattr(dataset, name, None), torch.Tensor):
                raise ValueError(f"dataset must have a tensor attribute {name!r}")
        dev = torch.device(device)
        self.device, self.dtype = dev, dtype
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
            from .data.darcy import darcy_residual  # noqa: F401  (fail early if missing)

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


def _eval_chunk(train: TrainConfig, members: int, width: int, spatial, n: int) -> int:
    if train.eval_batch_size is not None:
        return train.eval_batch_size
    budget = 1 << 23  # elements of the widest activation per forward pass
    per_sample = members * max(width, 128) * math.prod(spatial)
    return max(1, min(n, budget // max(per_sample, 1)))


@torch.no_grad()
def _evaluate(model, data: _Data, x, y, chunk: int) -> torch.Tensor:
    """Mean relative L2 over a split, per member ((M,) for a population, () for a model)."""
    total = None
    for i in range(0, x.shape[0], chunk):
        err = relative_l2(data.output(model(x[i : i + chunk])), y[i : i + chunk]).sum(-1)
        total = err if total is None else total + err
    return total / x.shape[0]


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


# --------------------------------------------------------------------------------------------
# a single model
# --------------------------------------------------------------------------------------------


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
    data = _Data(dataset, train, device, dtype, model.d)
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
    tick, close = _make_progress(progress, train.steps, "train")
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
    wall = time.perf_counter() - t0
    return _result(model.config, data, train, losses=losses, test_curve=test_curve, diverged_at=diverged,
                   steps_done=len(losses) + (diverged is not None), final_train=final_train, test=test,
                   wall=wall, population_wall=wall)


# --------------------------------------------------------------------------------------------
# a population
# --------------------------------------------------------------------------------------------


def _auto_chunk(fno_config: FNOConfig, spatial, batch_size: int, M: int, device) -> int:
    """Members per batched chunk: all of them on a GPU; on a CPU as many as keep the widest
    activation of a chunk within ~4 MiB (cache-sized), at least one."""
    if torch.device(device).type != "cpu":
        return M
    widest = batch_size * max(fno_config.width, fno_config.projection_width) * math.prod(
        n + p for n, p in zip(spatial, fno_config.pads)) * 4
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
    data = _Data(dataset, train, device, dtype, fno_config.d)
    n_train = data.x_train.shape[0]
    idx = batch_schedule(n_train, train.batch_size, train.steps, train.data_seed).to(data.device)
    G = min(member_chunk or _auto_chunk(fno_config, data.spatial, train.batch_size, M, data.device), M)
    chunks = _build_chunks(fno_config, par, members, train, G, dtype, data.device)
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
    return results, _merge_chunks(chunks, fno_config, par, M, dtype, data.device)
