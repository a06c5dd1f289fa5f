"""What a training run is given and what it returns: `TrainConfig`, `Member`, `RunResult`.

The conventions these fields follow are in :mod:`mufno_lite.train`'s docstring.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..validation import choice, fail, integer, number, optional, positive_int, positive_number


OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "cosine", "warmup_cosine")
#: Which parameter group the swept learning rate drives (see ``TrainConfig.lr_group``).
LR_GROUPS = ("all", "spectral", "other")
#: TrainConfig fields left out of a run's identity while they hold their default (so adding them
#: did not change the id of any run recorded before they existed).
OPTIONAL_TRAIN_FIELDS = {"lr_group": "all", "lr_fixed": None}


def _beta(name: str, v) -> float:
    return number(name, v, lo=0.0, hi=1.0, hi_open=True, allowed="a number in [0, 1)")


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
            raise fail("warmup_steps", w, "an integer >= 1 with schedule='warmup_cosine'")
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
                raise fail("lr_fixed", self.lr_fixed, "None with lr_group='all' (it is used with lr_group 'spectral' "
                                                      "or 'other' only)")
        elif self.lr_fixed is None:
            raise fail("lr_fixed", None, f"a positive finite number when lr_group={grp!r}")
        else:
            object.__setattr__(self, "lr_fixed", positive_number("lr_fixed", self.lr_fixed))

    @classmethod
    def for_epochs(cls, epochs: int, n_train: int, **fields) -> "TrainConfig":
        """A TrainConfig of ``epochs`` passes over ``n_train`` samples: ``steps = epochs · ⌊n_train /
        batch_size⌋`` (every step a full batch; the batches of an epoch are a permutation, its last
        ``n_train mod batch_size`` samples wait for the next epoch, as with ``steps``)."""
        positive_int("epochs", epochs)
        positive_int("n_train", n_train)
        bs = fields.get("batch_size", cls.batch_size)
        positive_int("batch_size", bs)
        if bs > n_train:
            raise fail("batch_size", bs, f"an integer <= n_train={n_train}")
        return cls(steps=int(epochs) * (int(n_train) // int(bs)), **fields)

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
    #: how it ran: numerics (TF32, determinism; :func:`mufno_lite.device.configure_numerics`),
    #: chunking and out-of-memory retries (:func:`mufno_lite.train.train_population`)
    execution: dict | None = None

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
