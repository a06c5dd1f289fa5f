"""A plan before a run: populations, chunks, peak memory, FLOPs and time of a sweep, estimated.

For a sweep config (the dict of :func:`mufno_lite.experiments.experiment_config`),
:func:`plan_sweep` expands the runs (:meth:`SweepConfig.expand`), groups them into population
tasks (:func:`mufno_lite.sweep.population_tasks`, the trainer's unit of work) and, per population:

* **chunks**: members per chunk, the trainer's own rule.  On a GPU the largest chunk whose
  estimated peak (:func:`mufno_lite.memory.estimate_run_memory`) fits the budget, device memory ×
  ``safety`` (:func:`members_per_chunk`, which :func:`mufno_lite.train.train_population` uses on
  CUDA, training the chunks one after the other; an error naming the config when one member does
  not fit).  On a CPU the cache-sized rule of ``train_population`` (``_auto_chunk``).
* **peak memory** of one chunk, **FLOPs** (:func:`mufno_lite.flops.training_flops`, the number the
  trainers report) and **time** on the current device and on a named reference.

:func:`plan_experiments` plans a preset's experiments in order and counts a run that an earlier
experiment already has once (the store trains it once); :func:`reproduction_plan` is the plan of
``reproduce`` (one process per core on a CPU: the device time spread over the workers), and
``python -m mufno_lite plan --preset {smoke,quick,gpu,paper,all}`` prints it
(:func:`render_plan`).  Not counted: data generation and the notebooks' work outside the
experiments (coordinate checks, spectra, notebook 10's other widths).

Time model: ``FLOPs / sustained rate + steps × chunks × per-step overhead`` on the current device
(its measured rate includes its optimizer); on the reference, plus **optimizer traffic**:
``steps × members × parameter bytes × passes / memory bandwidth`` (:data:`OPTIMIZER_PASSES`, counted
in ``optim.py``; the Adam update is memory-bound, and at large K the spectral weights are the
largest tensors there are).  :func:`render_plan` prints these assumptions and which of the three
parts dominates the reference's GPU-hour figure.

* Current device: the sustained rate is measured (:func:`measure_flop_rate`: a few steps of the
  real population trainer on a small model of the same d, FLOPs from the same model / wall
  time), or passed in.
* Reference, :data:`H100`: an 80 GB H100 (SXM) at an assumed **6 TFLOP/s sustained** of counted
  FLOPs, plus 2 ms per chunk-step.  The argument: torch runs float32 matmuls in full FP32 unless
  TF32 is switched on (it is off by default), peak 67 TFLOP/s.  Of the counted FLOPs of a paper
  model (FNO-3D, width 64, 64³, K = 12) about 55 % are the pointwise 1×1 maps (large FP32 GEMMs:
  ~30-50 % of peak), about 40 % FFTs, which are bandwidth-bound at ~1 FLOP per byte of the
  3.35 TB/s HBM (≈ 3 TFLOP/s), and the rest elementwise work (GELU, bias, sum, padding, the
  spectral slicing copies: ~0.25 FLOP/byte, and ~10 passes over each activation per layer).
  Adding the times of the three kinds gives ~6-8 TFLOP/s for large grids, ≈ 10 % of peak; the
  per-mode complex matmuls are small batched GEMMs that do worse.  6 TFLOP/s is the low end;
  small 1-D models are launch-bound instead, which the per-step overhead (~400 kernels of
  ~5 µs for a 4-layer forward, backward and PopulationAdam) carries.  Not measured on a GPU:
  replace it with a measured rate when one has run (issue 10).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from .memory import MemoryBudgetError, device_budget, members_per_chunk  # noqa: F401  (the trainer's rule, re-exported)
from .optim import ADAM_PASSES

__all__ = [
    "ReferenceDevice",
    "H100",
    "MemoryBudgetError",
    "members_per_chunk",
    "device_budget",
    "measure_flop_rate",
    "PopulationPlan",
    "ExperimentPlan",
    "Plan",
    "plan_sweep",
    "plan_experiments",
    "render_plan",
    "reproduction_plan",
    "CONFIRM_ABOVE_S",
]


#: Passes over one member's parameter bytes per optimizer step: ``optim.PopulationAdam``'s foreach
#: step as the trainer runs it (:data:`mufno_lite.optim.ADAM_PASSES`, 23), decoupled weight decay
#: (2) and the elementwise clip (read and write the gradient, 2): 27 (the per-parameter loop before
#: issue 20's item 9 was 29; the gain of the foreach kernels on a GPU is mostly fewer launches and
#: no per-step host→device copies, which this traffic model does not count).
OPTIMIZER_PASSES = ADAM_PASSES + 2 + 2


@dataclass(frozen=True)
class ReferenceDevice:
    """A device to quote times on: its memory, a sustained FLOP rate, a per-step overhead, its
    memory bandwidth and the optimizer's passes over the parameters per step (the time model)."""

    name: str
    memory_bytes: float
    sustained_flops: float
    step_overhead_s: float
    memory_bandwidth: float = 3.35e12
    optimizer_passes: float = OPTIMIZER_PASSES

    def assumptions(self) -> str:
        """The time model's assumptions, in one line."""
        return (f"{self.sustained_flops / 1e12:g} TFLOP/s sustained on the counted FLOPs (float32, TF32 off), "
                f"{self.step_overhead_s * 1e3:g} ms per chunk-step (kernel launches and host syncs), optimizer "
                f"traffic {self.optimizer_passes:g} passes over each member's parameters per step at "
                f"{self.memory_bandwidth / 1e12:g} TB/s, chunks from {self.memory_bytes / 1e9:g} GB x 0.8")


#: The reference: an 80 GB H100 at an assumed 6 TFLOP/s sustained (see the module docstring).
H100 = ReferenceDevice("H100 80GB @ 6 TFLOP/s sustained (assumed)", 80e9, 6e12, 2e-3)
#: The parts of a reference time, in the order :func:`render_plan` names them.
REFERENCE_PARTS = ("compute", "step_overhead", "optimizer_traffic")


_RATE_CACHE: dict = {}
# on a CPU, probe at the sizes a CPU runs (the quick preset's models): a small model reaches a lower
# rate than a larger one (per-step overhead), and a larger probe (32², width 32) made the plan ~2x
# optimistic for quick's 16² Darcy (a population measured 128 s alone against 69 s planned)
_PROBE = {1: dict(spatial=(128,), K=8, width=16, batch=20), 2: dict(spatial=(16, 16), K=6, width=16, batch=20),
          3: dict(spatial=(16, 16, 10), K=4, width=12, batch=10)}
# on a GPU small models are launch-bound: probe at the gpu preset's sizes instead
_PROBE_CUDA = {1: dict(spatial=(1024,), K=64, width=64, batch=20), 2: dict(spatial=(48, 48), K=12, width=64, batch=20),
               3: dict(spatial=(32, 32, 32), K=8, width=64, batch=10)}


def measure_flop_rate(d: int, device: str = "cpu", *, steps: int = 3, members: int = 2) -> float:
    """Sustained FLOP/s of the real population trainer on this device for a small d-D model
    (FLOPs as :mod:`mufno_lite.flops` counts them, over wall time; the first step is a warm-up).
    Cached per (device, d, threads)."""
    import types

    import torch

    from .flops import training_flops
    from .fno import FNOConfig
    from .train import Member, TrainConfig, train_population

    key = (str(device), int(d), torch.get_num_threads())
    if key in _RATE_CACHE:
        return _RATE_CACHE[key]
    p = (_PROBE_CUDA if str(device).startswith("cuda") else _PROBE)[int(d)]
    cfg = FNOConfig(d=d, K=p["K"], width=p["width"], n_layers=4, projection_width=2 * p["width"])
    g = torch.Generator().manual_seed(0)
    mk = lambda n: torch.randn(n, 1, *p["spatial"], generator=g)  # noqa: E731
    ds = types.SimpleNamespace(x_train=mk(p["batch"]), y_train=mk(p["batch"]), x_test=mk(1), y_test=mk(1))
    mem = [Member(lr=1e-3, seed=i) for i in range(members)]
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)

    def wall(st: int) -> float:
        tr = TrainConfig(steps=st, batch_size=p["batch"], normalize_x=False, schedule="constant")
        sync()
        t0 = time.perf_counter()
        train_population(cfg, "sp", ds, mem, tr, device=device)
        sync()
        return time.perf_counter() - t0

    wall(1)  # warm-up: first-call allocations and kernel choice would otherwise land in the 1-step time
    # the rate is the difference of a 1-step and a (1 + steps)-step run, each the best of two (a small
    # 1-D model's steps take well under a millisecond, so one noisy timing can make the difference
    # vanish or turn negative, which read as an absurd rate); if it still does, the whole run's mean
    t1 = min(wall(1) for _ in range(2))
    tn = min(wall(1 + steps) for _ in range(2))
    dt = tn - t1 if tn - t1 > 0.1 * tn else tn * steps / (1 + steps)
    flops = members * training_flops(cfg, p["spatial"], batch_size=p["batch"], steps=steps, n_test=0, n_evals=0)
    _RATE_CACHE[key] = flops / dt
    return _RATE_CACHE[key]


# --------------------------------------------------------------------------------------------
# plans
# --------------------------------------------------------------------------------------------


@dataclass
class PopulationPlan:
    """One population task: its members, chunking, peak bytes per chunk, FLOPs and times."""

    parametrization: str
    K: int
    batch_size: int
    members: int
    chunk: int
    n_chunks: int
    peak_bytes: int
    flops: float
    time_s: float
    reference_time_s: float
    steps: int
    #: ``reference_time_s`` by part (:data:`REFERENCE_PARTS`): FLOPs / rate, steps x chunks x
    #: overhead, optimizer bytes / bandwidth
    reference_parts: dict = field(default_factory=dict)


@dataclass
class ExperimentPlan:
    """A sweep's plan: its populations and totals."""

    name: str
    runs: int
    populations: list = field(default_factory=list)
    reused: int = 0  # runs of this sweep already planned by an earlier one (or in ``skip``): not trained again

    @property
    def n_populations(self) -> int:
        return len(self.populations)

    @property
    def chunks(self) -> int:
        return sum(p.n_chunks for p in self.populations)

    @property
    def peak_bytes(self) -> int:
        return max((p.peak_bytes for p in self.populations), default=0)

    @property
    def flops(self) -> float:
        return sum(p.flops for p in self.populations)

    @property
    def time_s(self) -> float:
        return sum(p.time_s for p in self.populations)

    @property
    def reference_time_s(self) -> float:
        return sum(p.reference_time_s for p in self.populations)

    @property
    def reference_parts(self) -> dict:
        return {k: sum(p.reference_parts.get(k, 0.0) for p in self.populations) for k in REFERENCE_PARTS}


@dataclass
class Plan:
    """Plans of several sweeps on one device, with the reference's name and the totals."""

    device: str
    flop_rates: dict
    budget_bytes: float | None
    reference: ReferenceDevice
    experiments: list = field(default_factory=list)
    workers: int = 1  # populations trained at once on this device (a CPU's process pool)
    preset: str | None = None

    @property
    def runs(self) -> int:
        return sum(e.runs for e in self.experiments)

    @property
    def reused(self) -> int:
        return sum(e.reused for e in self.experiments)

    @property
    def wall_s(self) -> float:
        """Estimated wall time on this device: :attr:`time_s` spread evenly over :attr:`workers`."""
        return self.time_s / max(self.workers, 1)

    @property
    def populations(self) -> int:
        return sum(e.n_populations for e in self.experiments)

    @property
    def chunks(self) -> int:
        return sum(e.chunks for e in self.experiments)

    @property
    def peak_bytes(self) -> int:
        return max((e.peak_bytes for e in self.experiments), default=0)

    @property
    def flops(self) -> float:
        return sum(e.flops for e in self.experiments)

    @property
    def time_s(self) -> float:
        return sum(e.time_s for e in self.experiments)

    @property
    def reference_time_s(self) -> float:
        return sum(e.reference_time_s for e in self.experiments)

    @property
    def reference_parts(self) -> dict:
        return {k: sum(e.reference_parts[k] for e in self.experiments) for k in REFERENCE_PARTS}


def _resolve(device: str) -> str:
    from .device import resolve_device

    return resolve_device(device)


def plan_sweep(raw: Mapping, *, device: str = "auto", budget_bytes: float | None = None, safety: float = 0.8,
               flop_rate: float | Callable[[int], float] | None = None, step_overhead_s: float = 0.0,
               reference: ReferenceDevice = H100, skip: set | None = None) -> ExperimentPlan:
    """The plan of one sweep config (a dict for :meth:`SweepConfig.from_dict`, or a SweepConfig).

    ``budget_bytes``: the chunk's memory budget; default :func:`device_budget` (None on a CPU:
    the trainer's cache-sized rule).  ``flop_rate``: FLOP/s on ``device`` (a number, or a function
    of d); default :func:`measure_flop_rate`.  ``step_overhead_s``: per chunk-step on ``device``.
    Reference times use ``reference``'s memory × ``safety`` as the chunk budget.  ``skip``: run
    ids not to plan (already planned by another sweep, or in the store); they count as ``reused``.
    """
    from .flops import training_flops
    from .fno import FNOConfig, count_parameters
    from .memory import estimate_run_memory, spatial_shape_of
    from .sweep import SweepConfig, population_tasks

    cfg = raw if isinstance(raw, SweepConfig) else SweepConfig.from_dict(raw)
    dev = _resolve(device)
    budget = device_budget(dev, safety) if budget_bytes is None else budget_bytes
    ref_budget = reference.memory_bytes * safety
    runs = cfg.expand()
    todo = [r for r in runs if not skip or r.run_id not in skip]
    tasks = population_tasks(cfg, todo, device=dev) if todo else []
    out = ExperimentPlan(cfg.name, len(todo), reused=len(runs) - len(todo))
    for task in tasks:
        fno = FNOConfig.from_dict(task["model"])
        tr = task["train"]
        B, steps, M = int(tr["batch_size"]), int(tr["steps"]), len(task["members"])
        spatial = spatial_shape_of(task["pde"], task["data"], fno.d)
        par = task["parametrization"]["kind"]
        where = f"{cfg.name} ({par}, K={fno.K}, batch {B}, {M} members)"
        est = lambda g, d=dev: estimate_run_memory(task, g, device=d).total  # noqa: E731
        if budget is None:
            from .train.population import _auto_chunk  # today's CPU rule

            G = min(_auto_chunk(fno, spatial, B, M, "cpu"), M)
        else:
            G = members_per_chunk(est, budget, M, config=where)
        n_chunks = -(-M // G)
        # the reference's own chunking; a population that does not fit it gets an infinite time
        try:
            G_ref = members_per_chunk(lambda g: estimate_run_memory(task, g, device="cuda").total, ref_budget, M,
                                      config=where)
        except MemoryBudgetError:
            G_ref = 0
        data = task["data"]
        n_evals = int(tr.get("eval_points", 0) or 0) + 1
        flops = M * training_flops(fno, spatial, batch_size=B, steps=steps, n_test=int(data["n_test"]),
                                   n_evals=n_evals, n_train_eval=int(data["n_train"]))
        rate = flop_rate(fno.d) if callable(flop_rate) else flop_rate
        if rate is None:
            rate = measure_flop_rate(fno.d, dev)
        t = flops / rate + steps * n_chunks * step_overhead_s
        counts = count_parameters(fno)
        member_bytes = counts["spectral"] * 8 + counts["other"] * 4  # float32; complex spectral weights
        parts = {"compute": flops / reference.sustained_flops,
                 "step_overhead": steps * -(-M // G_ref) * reference.step_overhead_s if G_ref else math.inf,
                 "optimizer_traffic": steps * M * member_bytes * reference.optimizer_passes / reference.memory_bandwidth}
        t_ref = sum(parts.values()) if G_ref else math.inf
        out.populations.append(PopulationPlan(par, fno.K, B, M, G, n_chunks, int(est(G)), float(flops), float(t),
                                              float(t_ref), steps, parts))
    return out


def plan_experiments(preset: str, names: Sequence[str] | None = None, *, dedupe: bool = True, workers: int = 1,
                     **kwargs) -> Plan:
    """:func:`plan_sweep` of every experiment of :data:`mufno_lite.experiments.EXPERIMENTS` (or
    ``names``) at ``preset``; keyword arguments as :func:`plan_sweep`.

    ``dedupe``: a run that an earlier experiment already has (same run id) is counted once, as the
    shared store trains it once (e.g. ``darcy_batch``'s batch-20 runs are ``darcy_lr``'s).
    ``workers``: populations trained at once here (a CPU's process pool); :attr:`Plan.wall_s`
    spreads the device time over them.
    """
    from .experiments import EXPERIMENTS, experiment_config
    from .presets import resolve_preset
    from .sweep import SweepConfig
    from .sweep.executors.pool import check_workers

    workers = check_workers(workers)
    dev = _resolve(kwargs.pop("device", "auto"))
    rate = kwargs.pop("flop_rate", None)
    rates: dict = {}

    def rate_of(d: int) -> float:
        if d not in rates:
            rates[d] = (rate(d) if callable(rate) else rate) if rate is not None else measure_flop_rate(d, dev)
        return rates[d]

    safety = kwargs.get("safety", 0.8)
    budget = kwargs.get("budget_bytes")
    preset = resolve_preset(preset)
    plan = Plan(dev, rates, device_budget(dev, safety) if budget is None else budget,
                kwargs.get("reference", H100), workers=int(workers), preset=preset)
    seen: set = set()
    for name in (names if names is not None else list(EXPERIMENTS)):
        cfg = SweepConfig.from_dict(experiment_config(name, preset))
        plan.experiments.append(plan_sweep(cfg, device=dev, flop_rate=rate_of, skip=seen if dedupe else None,
                                           **kwargs))
        if dedupe:
            seen.update(r.run_id for r in cfg.expand())
    return plan


#: ``reproduce`` asks for ``--yes`` (or ``MUFNO_YES=1``) above this estimated wall time (seconds)
CONFIRM_ABOVE_S = 2 * 3600


def reproduction_plan(preset: str, device: str = "auto", workers: int | None = None) -> Plan:
    """The plan of a whole reproduction (every experiment, shared runs once) as ``reproduce`` runs
    it: on a CPU one process per core (``$MUFNO_WORKERS``) with one torch thread each, so the FLOP
    rate is measured with one thread; on a GPU one population at a time."""
    import torch

    from .sweep.executors.pool import check_workers, env_workers

    dev = _resolve(device)
    workers = (1 if dev.startswith("cuda") else env_workers()) if workers is None else check_workers(workers)
    threads = torch.get_num_threads()
    if not dev.startswith("cuda"):
        torch.set_num_threads(1)
    try:
        return plan_experiments(preset, device=dev, workers=workers)
    finally:
        torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------------------------


def _bytes(n: float) -> str:
    for unit, f in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= f:
            return f"{n / f:.1f} {unit}"
    return f"{int(n)} B"


def _dur(s: float) -> str:
    if math.isinf(s):
        return "does not fit"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.1f} s"


def render_plan(plan: Plan | ExperimentPlan) -> str:
    """A plain-text table: one row per experiment (per population for a single sweep), totals.

    ``runs`` are the runs to train; ``reused`` those an earlier experiment of the plan already has
    (trained once, shared through the store)."""
    if isinstance(plan, ExperimentPlan):
        rows = [(f"{p.parametrization} K={p.K} b={p.batch_size}", 1, p.members, 0, p.n_chunks, p.peak_bytes, p.flops,
                 p.time_s, p.reference_time_s) for p in plan.populations]
        total = ("total", plan.n_populations, plan.runs, plan.reused, plan.chunks, plan.peak_bytes, plan.flops,
                 plan.time_s, plan.reference_time_s)
        head, ref, dev = plan.name, H100.name, "this device"
        cols = ("population",)
        foot = []
    else:
        rows = [(e.name, e.n_populations, e.runs, e.reused, e.chunks, e.peak_bytes, e.flops, e.time_s,
                 e.reference_time_s) for e in plan.experiments]
        total = ("total", plan.populations, plan.runs, plan.reused, plan.chunks, plan.peak_bytes, plan.flops,
                 plan.time_s, plan.reference_time_s)
        budget = "cache-sized chunks (CPU rule)" if plan.budget_bytes is None else f"budget {_bytes(plan.budget_bytes)}"
        rates = ", ".join(f"{d}-D {r / 1e9:.1f} GFLOP/s" for d, r in sorted(plan.flop_rates.items()))
        head = (f"preset {plan.preset}: " if plan.preset else "") + \
            f"device {plan.device} ({budget}; measured {rates or 'n/a'})"
        ref, dev = plan.reference.name, plan.device
        cols = ("experiment",)
        foot = [f"on {plan.workers} workers at once: about {_dur(plan.wall_s)} on {plan.device}"] if plan.workers > 1 else []
    w = max([len(str(r[0])) for r in rows + [total]] + [len(cols[0])])
    lines = [head, f"reference: {ref}",
             f"{cols[0]:<{w}} {'pops':>5} {'runs':>6} {'reused':>6} {'chunks':>6} {'peak/chunk':>11} {'FLOPs':>9} "
             f"{'time ' + dev:>14} {'time ref':>12}"]
    for r in rows + [None, total]:
        if r is None:
            lines.append("-" * len(lines[-1]))
            continue
        lines.append(f"{r[0]:<{w}} {r[1]:>5} {r[2]:>6} {r[3]:>6} {r[4]:>6} {_bytes(r[5]):>11} {r[6]:>9.2e} "
                     f"{_dur(r[7]):>14} {_dur(r[8]):>12}")
    return "\n".join(lines + foot + _reference_lines(plan))


def _reference_lines(plan) -> list[str]:
    """The reference time's assumptions and parts, and the part that dominates it."""
    ref = getattr(plan, "reference", H100)
    parts = plan.reference_parts
    total = sum(parts.values())
    if not parts or not math.isfinite(total) or total <= 0:
        return [f"reference assumptions: {ref.assumptions()}"]
    names = {"compute": "compute (FLOPs / sustained rate)", "step_overhead": "per-step overhead",
             "optimizer_traffic": "optimizer traffic"}
    split = ", ".join(f"{names[k]} {_dur(v)} ({100 * v / total:.0f} %)" for k, v in parts.items())
    top = max(parts, key=parts.get)
    return [f"reference assumptions: {ref.assumptions()}",
            f"reference time {_dur(total)} = {split}; dominated by {names[top]}"]
