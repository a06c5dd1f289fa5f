"""The memory model of one training step of a population chunk, and the chunk size for a budget.

:func:`estimate_step_memory` predicts the peak memory (bytes) of one step of
:func:`mufno_lite.train.train_population` for a chunk of ``members`` models trained as one batched
``FNO(members=G)`` with its :class:`~mufno_lite.optim.PopulationAdam`: forward, backward, the
optimizer step, and the evaluation passes between steps.
:func:`mufno_lite.train.measure.measure_step_memory` measures the same thing on this machine
(peak RSS on a CPU, ``torch.cuda.max_memory_allocated`` on a GPU; it trains, so it sits beside
the trainer); ``tests/test_memory.py`` keeps the two within ±25 % and
``benchmarks/bench_memory.py`` prints the table.

What is counted (the shapes are those of :mod:`mufno_lite.fno`; S is the bytes of one real
element, 4 in float32; a complex element is 2S)
---------------------------------------------------------------------------------------------
* **State**, allocated for the whole run: the parameters (complex spectral weights at 2S, the
  rest at S), their gradients, and Adam's two moments (``PopulationAdam`` keeps
  ``zeros_like(view_as_real(p))`` twice): 4 × the parameters.  The previous step's gradients are
  alive during the next forward (``_chunk_step`` drops them just before ``backward``), so the
  backward phases below subtract them again and add back what they have re-created.
* **Saved activations** (what autograd keeps from the forward for the backward), per member and
  sample, with N the grid points, Nₚ the padded grid points, m the width, P the projection width,
  C the lifting input channels (``in_channels`` + d grid coordinates): the lifting input (C·N;
  ``bmm`` copies it when the member axis is an ``expand``); per Fourier layer its input (kept by
  the pointwise ``bmm``) and its pre-activation (kept by GELU), 2·m·Nₚ; per layer and corner
  (2^(d−1) of them) the input block of the per-mode product, K^d·m complex (gathered into one
  ``bmm`` operand; the weight itself is read as a view, never copied: it is stored in the
  product's layout), and, only when the chunk has G > 1 members, the pointwise weight broadcast
  over the batch; the projection input (m·N), pre-activation and activation (2·P·N); the output
  and loss terms.
* **The training step's peak** is the largest of four moments, each measured op by op on a CPU
  (a storage-tracking dispatch mode) before it was written down: the last Fourier layer's
  forward (its ``rfftn`` output and zeroed spectrum, ≈ m·Nₚ each, and its output; or the three
  outputs of σ(W v + K v)); the end of the forward (every saved tensor); the start of the
  backward (every saved tensor + one gradient of the widest activation − the dropped
  gradients); the backward through the last Fourier layer (the projection freed; two gradients,
  the transforms' two half-spectra and the layer's new weight gradient).  ``workspace`` is that
  peak minus the saved activations (≤ 0 when the peak is the end of the forward or the dropped
  gradients outweigh the working set).
* **Optimizer step**: off a CPU its one temporary, the denominator of a bucket of at most the
  largest parameter's bytes (:mod:`mufno_lite.optim`'s foreach step), is one copy of the largest
  parameter tensor; on a CPU the per-parameter loop's (``v.sqrt()/bc``, ``m/denom``, the product
  with the step) are three; live while the activations are freed (L2 decay adds one, not counted).
* **Evaluation** (no gradient, ``eval_batch`` samples): the widest moment of a forward that
  keeps nothing (a layer's input and transforms, or the projection's input and two P-wide
  tensors); the state is alive.
* **Data** on the device: ``x_train`` (raw and, with ``normalize_x``, encoded), ``y_train``,
  ``x_test`` and ``y_test`` (:class:`mufno_lite.train.common._Data`); zero unless ``n_train`` is given.
  On a CPU ``Tensor.to`` does not copy, so only the encoded inputs are new there.
* **Not counted**: the CUDA context and library handles (a few hundred MB on a GPU, outside
  ``max_memory_allocated``), the data set on the host, allocator rounding and fragmentation (the
  CUDA caching allocator rounds to 512 B; fragmentation is what a budget's safety factor is
  for), cuFFT work areas beyond the tensors above (cuFFT's work area goes through torch's
  caching allocator and is about one transform's size: not validated here, there is no GPU),
  the PINO residual (a few 1-channel tensors, negligible next to width-m activations).

The peak is ``state + data + max(train, optimizer, eval)``.  No fitted fudge factor
(``ALLOCATOR_OVERHEAD`` is 1.0): every term is a tensor of :mod:`mufno_lite.fno`,
:mod:`mufno_lite.optim` or :mod:`mufno_lite.train`.

>>> est = estimate_step_memory(d=1, K=16, width=64, n_layers=4, projection_width=128,
...                            spatial=(1024,), batch=20, members=3)
>>> est.total == sum(est.state.values()) + est.data + est.phases[est.peak_phase]
True
>>> est.peak_phase
'train'
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Mapping, Sequence

from .device import device_share
from .fno import FNOConfig, count_parameters

__all__ = [
    "MemoryEstimate",
    "estimate_step_memory",
    "estimate_config_memory",
    "estimate_run_memory",
    "spatial_shape_of",
    "eval_batch_size",
    "eval_batch_for_budget",
    "ALLOCATOR_OVERHEAD",
    "MemoryBudgetError",
    "members_per_chunk",
    "device_budget",
]

#: Multiplier on the modelled bytes for allocator overhead (none: measured within ±25 % without).
ALLOCATOR_OVERHEAD = 1.0
_EVAL_BUDGET = 1 << 23  # elements of the widest activation per evaluation pass (train.common._eval_chunk)


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak bytes of one training step of a population chunk, by component.

    ``state``: params, grads, adam_m, adam_v.  ``phases``: the part that is not always alive,
    per phase (``train`` = saved activations + working set, ``optimizer``, ``eval``); the peak is
    the largest.  ``activations`` and ``workspace`` split ``phases['train']``.  ``total`` =
    sum(state) + data + phases[peak_phase], times :data:`ALLOCATOR_OVERHEAD`.
    """

    members: int
    state: dict
    activations: int
    workspace: int
    phases: dict
    data: int
    peak_phase: str
    total: int
    shape: dict = field(default_factory=dict)

    @property
    def per_member_state(self) -> int:
        return sum(self.state.values()) // max(self.members, 1)

    def breakdown(self) -> dict:
        """Flat {component: bytes}, the peak phase's parts only, plus ``total``."""
        out = dict(self.state)
        out["data"] = self.data
        if self.peak_phase == "train":
            out["activations"], out["workspace"] = self.activations, self.workspace
        else:
            out[self.peak_phase] = self.phases[self.peak_phase]
        out["total"] = self.total
        return out

    def to_dict(self) -> dict:
        return asdict(self)


def _elem_size(dtype) -> int:
    name = str(dtype).replace("torch.", "")
    if name in ("float32", "float", "f4"):
        return 4
    if name in ("float64", "double", "f8"):
        return 8
    raise ValueError(f"dtype must be float32 or float64; got dtype={dtype!r}")


def eval_batch_size(members: int, width: int, spatial: Sequence[int], n: int, eval_batch: int | None = None) -> int:
    """Samples per evaluation pass, the rule of ``train.common._eval_chunk`` (None: bounded by 2²³
    elements of the widest activation)."""
    if eval_batch is not None:
        return int(eval_batch)
    per_sample = members * max(width, 128) * math.prod(spatial)
    return max(1, min(n, _EVAL_BUDGET // max(per_sample, 1)))


def estimate_step_memory(d: int, K: int, width: int, n_layers: int = 4, projection_width: int = 128,
                         spatial: Sequence[int] | int = 64, batch: int = 20, members: int = 1, *,
                         padding: int | Sequence[int] = 0, in_channels: int = 1, out_channels: int = 1,
                         coords: bool = True, dtype="float32", n_train: int = 0, n_test: int = 0,
                         normalize_x: bool = True, eval_batch: int | None = None,
                         data_on_device: bool = True) -> MemoryEstimate:
    """Estimated peak bytes of one training step of a chunk of ``members`` FNOs.

    Parameters
    ----------
    d, K, width, n_layers, projection_width, padding, in_channels, out_channels
        The architecture (:class:`mufno_lite.fno.FNOConfig`); ``coords`` is its ``grid`` flag.
    spatial : int or sequence of int
        The data grid (points per axis, before padding); an int means that on every axis.
    batch : int
        Training samples per step.
    members : int
        Models in the chunk (the leading member axis of every parameter and activation).
    dtype : "float32" or "float64"
    n_train, n_test : int
        Samples of the data set (its tensors on the device; 0 leaves the data out).  The final
        evaluation runs over ``max(n_train, n_test)`` samples in passes of ``eval_batch``.
    normalize_x : bool
        Whether encoded copies of the inputs are kept next to the raw ones.
    eval_batch : int, optional
        ``TrainConfig.eval_batch_size`` (None: the trainer's rule, :func:`eval_batch_size`).
    data_on_device : bool
        False when the raw data tensors already live where training runs (a CPU: ``Tensor.to``
        does not copy); then only the encoded inputs are new.

    See the module docstring for what is counted.
    """
    cfg = FNOConfig(d=d, K=K, width=width, n_layers=n_layers, projection_width=projection_width,
                    in_channels=in_channels, out_channels=out_channels, grid=coords,
                    padding=tuple(padding) if isinstance(padding, (list, tuple)) else padding)
    return estimate_config_memory(cfg, spatial, batch, members, dtype=dtype, n_train=n_train, n_test=n_test,
                                  normalize_x=normalize_x, eval_batch=eval_batch, data_on_device=data_on_device)


def estimate_config_memory(cfg: FNOConfig, spatial, batch: int, members: int, *, dtype="float32",
                           n_train: int = 0, n_test: int = 0, normalize_x: bool = True,
                           eval_batch: int | None = None, data_on_device: bool = True) -> MemoryEstimate:
    """:func:`estimate_step_memory` for an :class:`~mufno_lite.fno.FNOConfig`."""
    if isinstance(spatial, int):
        spatial = (spatial,) * cfg.d
    spatial = tuple(int(n) for n in spatial)
    if len(spatial) != cfg.d:
        raise ValueError(f"spatial must have d={cfg.d} entries; got spatial={spatial}")
    for name, v in (("batch", batch), ("members", members)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer; got {name}={v!r}")
    S = _elem_size(dtype)
    G, B, m, P, L = members, batch, cfg.width, cfg.projection_width, cfg.n_layers
    Cc, Co, d, K = cfg.lifting_in, cfg.out_channels, cfg.d, cfg.K
    padded = tuple(n + p for n, p in zip(spatial, cfg.pads_at(spatial)))
    N, Np = math.prod(spatial), math.prod(padded)
    corners, nk = 2 ** (d - 1), K**d

    counts = count_parameters(cfg)
    p_bytes = G * (counts["spectral"] * 2 * S + counts["other"] * S)
    state = {"params": p_bytes, "grads": p_bytes, "adam_m": p_bytes, "adam_v": p_bytes}
    layer_w = G * corners * m * m * nk * 2 * S  # one spectral weight tensor (the largest parameter)
    largest = max(layer_w, G * m * max(Cc, m, P) * S, G * P * Co * S)
    half = G * math.prod(padded[:-1]) * (padded[-1] // 2 + 1) * 2 * S  # one half-spectrum, per (sample, channel)

    def parts(b: int) -> dict:
        unit = G * b * m * Np * S  # one Fourier-layer activation of the chunk
        lift = G * b * Cc * N * S  # lifting input, copied by bmm (its member axis is an expand)
        # per-mode bmm operand: the input blocks (a copy; the spectral weight is a view) and, for
        # G > 1 only, the pointwise weight broadcast over the batch
        corner = L * corners * G * nk * m * b * 2 * S
        if G > 1:
            corner += L * G * b * m * m * S
        proj = G * (b * m * N + 2 * b * P * N + b * m * P + b * P * Co + 3 * b * Co * N) * S
        layers = lift + corner + 2 * L * unit  # every Fourier layer's input and pre-activation
        hs = b * m * half
        return {"unit": unit, "layers": layers, "proj": proj, "half": hs,
                "widest": G * b * max(P * N, m * Np) * S, "saved": layers + proj}

    def train_phase(b: int) -> tuple[int, int, int]:
        """(peak bytes beyond the state, saved activations, working set) of the training step."""
        q = parts(b)
        u, hs = q["unit"], q["half"]
        # last Fourier layer, forward (old gradients alive): its input is saved, its output is being
        # built: rfftn output + zeroed spectrum + inverse transform's output, or spectral output +
        # pointwise output + bias sum
        fwd_layer = q["layers"] - u + max(2 * hs + u, 3 * u)
        fwd_end = q["saved"]  # the projection's bias add / GELU: every saved tensor is alive
        # backward (old gradients dropped: −params): at its start one gradient of the widest
        # activation; through the last Fourier layer, the projection freed, its gradients
        # (grad_out, grad_pre, pointwise grad_x) and the two transforms' buffers
        bwd0 = q["saved"] + q["widest"] - p_bytes
        bwd_layer = q["layers"] + 2 * u + 2 * hs - p_bytes + layer_w
        peak = max(fwd_layer, fwd_end, bwd0, bwd_layer)
        return int(peak), int(q["saved"]), int(peak - q["saved"])

    train, act, ws = train_phase(B)
    nmax = max(n_train, n_test, 1)
    eb = eval_batch_size(G, m, spatial, nmax, eval_batch)
    q = parts(eb)
    # no_grad forward: the layer's input, rfftn output, zeroed spectrum, output (or the three
    # outputs of the layer's sum); at the projection, its input and two P-wide tensors
    eval_bytes = max(q["unit"] + max(2 * q["half"] + q["unit"], 3 * q["unit"]),
                     G * eb * (m * N + 2 * P * N) * S)
    # the optimizer's temporaries: one largest parameter (the foreach step, off a CPU) or three (the
    # per-parameter loop PopulationAdam runs on a CPU)
    phases = {"train": train, "optimizer": largest if data_on_device else 3 * largest, "eval": int(eval_bytes)}
    data = 0
    if n_train:
        xin, yout = cfg.in_channels * N * S, Co * N * S
        if data_on_device:
            data = n_train * (xin * (2 if normalize_x else 1) + yout) + n_test * (xin + yout)
        elif normalize_x:
            data = (n_train + n_test) * xin
    peak = max(phases, key=phases.get)
    total = int(ALLOCATOR_OVERHEAD * (sum(state.values()) + data + phases[peak]))
    shape = {"d": d, "K": K, "width": m, "n_layers": L, "projection_width": P, "spatial": list(spatial),
             "padding": list(cfg.pads_at(spatial)), "batch": B, "members": G, "dtype": str(dtype).replace("torch.", ""),
             "eval_batch": eb}
    return MemoryEstimate(members=G, state=state, activations=int(act), workspace=int(ws), phases=phases,
                          data=int(data), peak_phase=peak, total=total, shape=shape)


def eval_batch_for_budget(cfg: FNOConfig, spatial, members: int, n: int, budget_bytes: float, *,
                          dtype="float32", n_train: int = 0, n_test: int = 0, normalize_x: bool = True,
                          data_on_device: bool = True) -> int:
    """Samples per evaluation pass on a device with a memory budget (issue 20, item 11): the
    largest ``eb ≤ n`` whose evaluation pass (``phases['eval']`` of :func:`estimate_config_memory`)
    fits ``budget_bytes`` beside what stays allocated during it (the chunk's state and the data
    set), at least 1.  On a CPU the trainers keep :func:`eval_batch_size`'s cache-sized rule.

    >>> cfg = FNOConfig(d=3, K=8, width=32, n_layers=4)
    >>> eval_batch_size(4, 32, (64, 64, 20), 200)  # the CPU rule: one sample per pass
    1
    >>> eval_batch_for_budget(cfg, (64, 64, 20), 4, 200, 40e9)  # 40 GB: 103 samples per pass
    103
    """
    n = max(int(n), 1)

    def est(eb: int) -> MemoryEstimate:
        return estimate_config_memory(cfg, spatial, 1, members, dtype=dtype, n_train=n_train, n_test=n_test,
                                      normalize_x=normalize_x, eval_batch=eb, data_on_device=data_on_device)

    base = est(1)
    fixed = sum(base.state.values()) + base.data

    def fits(eb: int) -> bool:
        return ALLOCATOR_OVERHEAD * (fixed + est(eb).phases["eval"]) <= budget_bytes

    return _largest_fitting(fits, n)


# --------------------------------------------------------------------------------------------
# chunks for a memory budget (the trainer's rule on a GPU; mufno_lite.plan quotes it)
# --------------------------------------------------------------------------------------------


class MemoryBudgetError(ValueError):
    """Even one member of a population does not fit the memory budget."""


def members_per_chunk(estimate_fn: Callable[[int], object], budget_bytes: float, n_members: int, *,
                      config: str = "this population") -> int:
    """The largest chunk size G ≤ ``n_members`` with ``estimate_fn(G) <= budget_bytes``.

    ``estimate_fn`` returns bytes (or an object with ``.total``) and must grow with G.  Raises
    :class:`MemoryBudgetError` naming ``config`` when one member does not fit.

    >>> members_per_chunk(lambda g: 100 + 10 * g, 175, 63)
    7
    >>> members_per_chunk(lambda g: 100 + 10 * g, 1e9, 63)
    63
    """
    if isinstance(n_members, bool) or not isinstance(n_members, int) or n_members < 1:
        raise ValueError(f"n_members must be a positive integer; got n_members={n_members!r}")

    def fits(g: int) -> bool:
        e = estimate_fn(g)
        return float(getattr(e, "total", e)) <= budget_bytes

    if not fits(1):
        one = estimate_fn(1)
        need = float(getattr(one, "total", one))
        raise MemoryBudgetError(
            f"{config}: one member needs an estimated {need / 1e9:.2f} GB per training step, more than the "
            f"memory budget of {budget_bytes / 1e9:.2f} GB; use a smaller K, width, batch or grid, or a device "
            f"with more memory")
    return _largest_fitting(fits, n_members)


def device_budget(device: str, safety: float = 0.8, share: float | None = None) -> float | None:
    """Memory budget of a chunk on ``device``: total memory × ``safety`` × this process's ``share``
    of the device on CUDA (the rest is for the CUDA context, cuFFT plans and fragmentation), None
    on a CPU (the cache-sized rule).

    ``share`` (0 < share ≤ 1): None → :func:`mufno_lite.device.device_share`, i.e.
    ``$MUFNO_DEVICE_SHARE``, which the executors set in processes that share one GPU (a Ray task's
    GPU fraction, 1/workers for the pool); 1 in a process of its own.
    """
    if not 0 < safety <= 1:
        raise ValueError(f"safety must be in (0, 1]; got safety={safety!r}")
    if share is None:
        share = device_share()
    elif isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise ValueError(f"share must be a number in (0, 1], the process's share of the device; got share={share!r}")
    if not str(device).startswith("cuda"):
        return None
    import torch

    return torch.cuda.get_device_properties(torch.device(device)).total_memory * safety * share


# --------------------------------------------------------------------------------------------
# from a sweep's run config or population task
# --------------------------------------------------------------------------------------------


def spatial_shape_of(pde: str, data: Mapping, d: int) -> tuple[int, ...]:
    """The data grid of a sweep's ``data`` block: (s,), (s, s) or (s, s, n_t) for Navier–Stokes
    (``n_t`` from ``data.params`` or the data set's default)."""
    s = int(data["resolution"])
    if d == 3:
        n_t = (data.get("params") or {}).get("n_t")
        if n_t is None:
            from .data.dataset import make_config

            n_t = make_config(pde, s)["n_t"]
        return (s, s, int(n_t))
    return (s,) * d


def estimate_run_memory(run, members: int | None = None, *, device: str = "cuda", dtype="float32") -> MemoryEstimate:
    """:func:`estimate_step_memory` for a sweep run: a :class:`~mufno_lite.sweep.RunSpec`, its
    ``config`` dict, or a population task dict.  ``members``: the chunk size (default: a task's
    member count, else 1).  ``device`` decides whether the raw data is copied (any but ``cpu``)."""
    cfg = getattr(run, "config", run)
    if not isinstance(cfg, Mapping) or "model" not in cfg or "data" not in cfg:
        raise ValueError("run must be a RunSpec, a run config dict or a population task (with 'model' and 'data')")
    if members is None:
        members = len(cfg["members"]) if isinstance(cfg.get("members"), list) else 1
    fno = FNOConfig.from_dict(cfg["model"])
    tr = cfg.get("train", {})
    data = cfg["data"]
    return estimate_config_memory(
        fno, spatial_shape_of(cfg.get("pde", ""), data, fno.d), int(tr.get("batch_size", 20)), int(members),
        dtype=dtype, n_train=int(data.get("n_train", 0)), n_test=int(data.get("n_test", 0)),
        normalize_x=bool(tr.get("normalize_x", True)), eval_batch=tr.get("eval_batch_size"),
        data_on_device=str(device).split(":")[0] != "cpu")


def _largest_fitting(fits, n: int) -> int:
    """The largest m in [1, n] with ``fits(m)``, by bisection (``fits`` is monotone; 1 is taken to fit)."""
    if fits(n):
        return n
    lo, hi = 1, n  # fits(lo), not fits(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo
