"""Standard parametrization (SP) and μP for FNO, and Algorithm 1's transfer rule.

The paper (Li, Yoo & Yang, ICML 2025, Theorem 3.5) writes the spectral weights of every Fourier
layer in the abc-form R = a(K)·r, r_ij ~ N(0, b(K)²), learning rate η_R = c(K)·η, and finds for Adam

    SP:  a = 1, b = Θ(1),                c = 1
    μP:  a = 1, b(K) = Θ(1/√(d log K)),  c(K) = Θ(1/√(d log K)).

What mufno_lite decides (the paper leaves the constants open):

* **Normalisation at a base K₀.**  μP is defined relative to SP at a base number of modes
  ``base_K`` (default 3, the smallest K of the paper's sweeps):

      b_μP(K) = b_SP · √(log K₀ / log K),      c_μP(K) = √(log K₀ / log K).

  The d in √(d log K) and the base of the logarithm cancel in these ratios.  At K = K₀ both
  multipliers are exactly 1.0, so μP and SP give bit-identical parameters and optimiser groups
  (tested).  K must be ≥ 2 (log 1 = 0).
* **b_SP.**  Spectral weights are complex with E|r_ij|² = init_scale² / m_in (real and imaginary
  parts i.i.d. N(0, init_scale²/(2 m_in))): each m×m block then has spectral norm ≈ 2·init_scale
  for every K, i.e. b = Θ(1) in K.
* **Everything else stays standard** in both parametrizations: lifting P, pointwise W, projection
  Q and all biases use PyTorch's default linear initialisation and the base learning rate.  The
  theory concerns R only.
* **Complex weights and Adam.**  ``torch.optim.Adam``/``AdamW`` treat a complex parameter as the
  pair (real part, imaginary part) of independent reals (they run on ``torch.view_as_real``), so
  each of the two gets its own second-moment estimate (tested in ``tests/test_parametrization.py``).
  Element-wise gradient clipping likewise clips real and imaginary parts separately.

The learning-rate multiplier lives in the optimiser's parameter group (key ``lr_mult``); the
group's ``lr`` is ``base_lr · lr_mult``.  LR schedulers (which scale each group's own initial LR)
therefore act relatively, and ``base_lr(optimizer)`` recovers the base LR for logs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping

import torch

from .validation import fail, fourier_modes, number

__all__ = [
    "Parametrization",
    "SP",
    "as_parametrization",
    "make_optimizer",
    "param_groups",
    "clip_grad_elementwise_",
    "base_lr",
    "transfer",
    "mup_ratio",
]

KINDS = ("sp", "mup")


def _check_K(K, name: str = "K") -> int:
    return fourier_modes(name, K)


def mup_ratio(K: int, base_K: int) -> float:
    """log K₀ / log K: the μP factor on the spectral init *variance* (its square root scales LR)."""
    K, base_K = _check_K(K), _check_K(base_K, "base_K")
    if K == base_K:
        return 1.0
    return math.log(base_K) / math.log(K)


@dataclass(frozen=True)
class Parametrization:
    """How the spectral weights are initialised and how fast they learn, as a function of K.

    Parameters
    ----------
    kind : {"sp", "mup"}
        Standard parametrization or μP (Theorem 3.5).
    base_K : int
        K₀ at which μP equals SP exactly (default 3).  Ignored by SP.
    """

    kind: str = "sp"
    base_K: int = 3

    def __post_init__(self):
        kind = str(self.kind).lower().replace("μ", "mu")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got kind={self.kind!r}")
        object.__setattr__(self, "kind", kind)
        _check_K(self.base_K, "base_K")
        object.__setattr__(self, "base_K", int(self.base_K))

    # b(K)/b_SP and c(K)
    def init_multiplier(self, K: int, d: int | None = None) -> float:
        """b(K)/b_SP: factor on the standard deviation of the spectral weights."""
        if self.kind == "sp":
            _check_K(K)
            return 1.0
        return math.sqrt(mup_ratio(K, self.base_K))

    def lr_multiplier(self, K: int, d: int | None = None) -> float:
        """c(K): factor on the learning rate of the spectral weights."""
        if self.kind == "sp":
            _check_K(K)
            return 1.0
        return math.sqrt(mup_ratio(K, self.base_K))

    def spectral_init_std(self, K: int, d: int, fan_in: int, init_scale: float = 1.0) -> float:
        """Standard deviation √E|r_ij|² of a spectral weight entry."""
        if not (init_scale > 0 and math.isfinite(init_scale)):
            raise ValueError(f"init_scale must be a positive finite number; got init_scale={init_scale!r}")
        return init_scale * math.sqrt(1.0 / fan_in) * self.init_multiplier(K, d)

    def abc(self, K: int, d: int) -> dict[str, float]:
        """The abc-parametrization (a, b, c) at K, with b in units of b_SP."""
        return {"a": 1.0, "b": self.init_multiplier(K, d), "c": self.lr_multiplier(K, d)}

    @property
    def name(self) -> str:
        return "SP" if self.kind == "sp" else f"μP(K₀={self.base_K})"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "base_K": self.base_K}


SP = Parametrization("sp")


def as_parametrization(p) -> Parametrization:
    """Accept a Parametrization, a kind string ("sp", "mup", "μP") or a dict."""
    if p is None:
        return SP
    if isinstance(p, Parametrization):
        return p
    if isinstance(p, str):
        return Parametrization(p)
    if isinstance(p, Mapping):
        return Parametrization(**p)
    raise ValueError(f"parametrization must be 'sp', 'mup', a dict or a Parametrization; got {p!r}")


# --------------------------------------------------------------------------------------------
# optimiser construction
# --------------------------------------------------------------------------------------------


def param_groups(model, lr: float, parametrization: Parametrization | None = None) -> list[dict]:
    """Optimiser parameter groups for an FNO: ``spectral`` (lr · c(K)) and ``other`` (lr).

    Any other ``torch.nn.Module`` gets one group ``other`` of all its parameters at ``lr`` under SP
    (the default for it); μP is refused for it by name (it has no spectral weights nor K to scale by).
    """
    if not isinstance(model, torch.nn.Module):
        raise fail("model", model, "an FNO (or another torch.nn.Module)")
    number("lr", lr, lo=0.0, lo_open=True, allowed="a positive finite number")
    if not hasattr(model, "named_parameter_groups"):  # a plain module: no spectral weights
        par = as_parametrization(parametrization)
        if par.kind != "sp":
            raise fail("parametrization", par.name, f"SP for a {type(model).__name__} (μP scales the spectral "
                                                    "weights of an FNO by its K; this module has none)")
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise fail("model", type(model).__name__, "a module with trainable parameters")
        return [{"params": params, "lr": lr, "lr_mult": 1.0, "name": "other"}]
    par = as_parametrization(parametrization if parametrization is not None else model.parametrization)
    groups = model.named_parameter_groups()
    mult = par.lr_multiplier(model.K, model.d)
    out = []
    for name, mul in (("spectral", mult), ("other", 1.0)):
        params = [p for _, p in groups[name]]
        if params:
            out.append({"params": params, "lr": lr * mul, "lr_mult": mul, "name": name})
    return out


def make_optimizer(
    model,
    lr: float,
    *,
    optimizer: str = "adam",
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    parametrization: Parametrization | None = None,
) -> torch.optim.Optimizer:
    """Adam or AdamW whose parameter groups carry the parametrization's LR multipliers."""
    opt = str(optimizer).lower()
    if opt not in ("adam", "adamw"):
        raise fail("optimizer", optimizer, "'adam' or 'adamw'")
    number("lr", lr, lo=0.0, lo_open=True, allowed="a positive finite number")
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise fail("betas", betas, "a pair (beta1, beta2), each in [0, 1)")
    b1, b2 = betas
    for nm, v in (("beta1", b1), ("beta2", b2)):
        number(nm, v, lo=0.0, hi=1.0, hi_open=True, allowed="in [0, 1)")
    number("eps", eps, lo=0.0, lo_open=True, allowed="a positive finite number")
    number("weight_decay", weight_decay, lo=0.0, allowed="a finite number >= 0")
    groups = param_groups(model, lr, parametrization)
    cls = torch.optim.Adam if opt == "adam" else torch.optim.AdamW
    return cls(groups, lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay)


def base_lr(optimizer: torch.optim.Optimizer) -> float:
    """The base learning rate (group lr / its multiplier), as schedulers have set it now."""
    g = optimizer.param_groups[0]
    return g["lr"] / g.get("lr_mult", 1.0)


def clip_grad_elementwise_(parameters: Iterable[torch.Tensor], clip: float) -> None:
    """Clip every gradient entry to [−clip, clip] (real and imaginary parts separately).

    The paper's experiments use clip = 0.01 so that updates are sub-Gaussian (its theory's
    assumption).
    """
    if not (clip > 0):
        raise ValueError(f"clip must be > 0; got clip={clip!r}")
    for p in parameters:
        if p.grad is None:
            continue
        g = torch.view_as_real(p.grad) if p.grad.is_complex() else p.grad
        g.clamp_(-clip, clip)


# --------------------------------------------------------------------------------------------
# Algorithm 1: μTransfer-FNO
# --------------------------------------------------------------------------------------------

TRANSFER_RULES = {"lr": 0.5, "init_var": 1.0, "init_std": 0.5}


def transfer(hparams: Mapping, K_proxy: int, K_target: int) -> dict:
    """Transfer hyperparameters tuned at K_proxy to K_target (Algorithm 1 of the paper).

    ``lr`` (the learning rate of the spectral weights) is multiplied by √(log K_proxy / log K_target),
    ``init_var`` (their init variance σ²) by log K_proxy / log K_target and ``init_std`` by its
    square root; every other entry (batch size, Adam β₂, …) is copied unchanged.  The rule does not
    depend on d or the grid resolution.

    With mufno_lite's μP the base hyperparameters need no transfer: the parametrization applies
    exactly this factor to the spectral weights' LR and init at every K (tested).
    """
    Kp, Kt = _check_K(K_proxy, "K_proxy"), _check_K(K_target, "K_target")
    if not isinstance(hparams, Mapping):
        raise fail("hparams", hparams, "a mapping of hyperparameters (e.g. {'lr': 1e-3})")
    ratio = 1.0 if Kp == Kt else math.log(Kp) / math.log(Kt)
    out = dict(hparams)
    for key, power in TRANSFER_RULES.items():
        if key in out:  # None too: a transferred hyperparameter must be a value (not silently copied)
            number(f"hparams[{key!r}]", out[key], lo=0.0, lo_open=True, allowed="a positive finite number")
            out[key] = out[key] * ratio**power
    return out
