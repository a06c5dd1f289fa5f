"""Training one FNO, or a population of FNOs in lockstep.

Two entry points share every convention:

* :func:`train_model` trains one model with ``torch.optim.Adam``/``AdamW`` built by
  :func:`mufno_lite.parametrization.make_optimizer` (groups ``spectral`` with LR ``lr·c(K)`` and
  ``other`` with LR ``lr``) and an LR schedule that is a ``torch.optim.lr_scheduler.LambdaLR``
  (it scales every group's own initial LR, so the μP multiplier is kept).
* :func:`train_population` trains M members (each with its own learning rate, seed, Adam β₂ and
  init scale) of one architecture in lockstep as batched computations: population
  ``FNO(..., members=G)`` chunks whose parameters carry a leading member axis (on CUDA the largest
  G whose step fits 80 % of the device's memory by :mod:`mufno_lite.memory`'s model, the chunks
  then trained one after the other; on a CPU cache-sized chunks, often G = 1, because there
  batching members is memory-bound and gains nothing — see ``member_chunk`` and
  ``memory_budget``), and a population Adam
  (:class:`PopulationAdam`) that applies torch's update rule with per-member hyperparameters to
  the stacked tensors.  The loss is the *sum* over members of each member's batch-mean loss;
  members share no parameters, so each member receives exactly its own gradient and follows the
  same trajectory as a separate :func:`train_model` run (tested to float tolerance).

The package, one job per module: :mod:`.config` (``TrainConfig``, ``Member``, ``RunResult``),
:mod:`.common` (loss, schedule, batches, data adapter, evaluation, curves, the result both trainers
build), :mod:`.single` (:func:`train_model`), :mod:`.population` (:func:`train_population`),
:mod:`.evaluate` (:func:`evaluate`: rel-L2 per sample of a trained model on any test set and grid),
:mod:`.measure` (the memory of a real training step, measured against :mod:`mufno_lite.memory`'s estimate).
The public names (``__all__``) are importable from here (``from mufno_lite.train import train_model``);
anything else from its own module.

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

from ..flops import estimate_flops
from ..optim import PopulationAdam
from .config import Member, RunResult, TrainConfig, TrainingInterrupted
from .common import batch_schedule, lr_factor, relative_l2
from .single import train_model
from .evaluate import evaluate
from .population import train_population

__all__ = [
    "TrainConfig",
    "Member",
    "RunResult",
    "TrainingInterrupted",
    "PopulationAdam",
    "train_population",
    "train_model",
    "evaluate",
    "estimate_flops",
    "relative_l2",
    "lr_factor",
    "batch_schedule",
]
