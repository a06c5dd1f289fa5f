"""Reading sweeps: the optimum per K, its spread over seeds, and whether it moves.

All functions take the results table of :func:`mufno_lite.store.load_results` (one row per run)
and return small pandas tables.  Decisions, stated once:

* A hyperparameter's **optimum** at fixed (parametrization, K) is the grid value whose *mean over
  seeds* of the metric is smallest.  Runs that diverged or failed count as +∞ (a grid value where
  any seed diverged cannot be optimal unless all values diverged).
* The **seed spread** is read from per-seed optima: for every seed separately, the grid value
  that is best for that seed; we report their range in grid steps.
* **Grid steps** are measured on log10 of the hyperparameter (on −log10(1−β₂) for Adam's β₂), in
  units of the grid's spacing (an eighth of a decade for the default learning-rate grid), so "the
  optimum moved 2 steps" is independent of the grid's origin.
* The **fitted optimum** refines the grid optimum: a parabola in (log10 x, log loss) through the
  best grid point and up to two neighbours on each side; its vertex (kept inside the fitted points)
  is a sub-grid estimate that is less sensitive to one noisy grid point.  Per-seed fitted optima
  give ``fit_seed_spread_steps``.
* The **drift** of the optimum across K is (optimum at the largest K) − (optimum at the smallest K)
  in grid steps; ``max_step_deviation`` is the largest distance of any K's optimum from the median
  optimum.  The paper's claim, in these terms: under μP the optimum stays within about one grid
  step for all K; under SP it moves.
* **Tail training loss** (``tail_train_loss``, the default metric of the bootstrap): the mean of
  the last 20% of the stored training-curve bins (bins are equal-width in steps, so this is the
  mean batch loss over the last 20% of training; at least one bin, ⌈20% of the bins⌉).  It is less
  noisy than the last batch's loss.  Diverged runs get +∞, other runs that are not ``done`` NaN.
* **Noise: a paired bootstrap over seeds.**  Seeds are common random numbers (the same seed is the
  same init stream and data order at every hyperparameter value and every K), so a replicate
  resamples the *seeds* with replacement, the same multiset for every (K, x) of a
  (pde, parametrization) group; averages the metric over the resampled seeds per (K, x) (+∞ if a
  resampled seed diverged there, as above); takes the fitted optimum per K in grid steps; and the
  drift from it.  Intervals (90% by default) are t-intervals from the replicates' standard error
  (:func:`~mufno_lite.analysis.bootstrap.interval`; ``method="percentile"`` gives the replicates'
  quantiles, which the search's criterion was declared with and still reads); the
  point estimate uses every seed once (so it equals ``fit_drift_steps`` of :func:`drift_summary`).
  A replicate where every grid point at some K is +∞ has no optimum there (NaN); such replicates
  are counted (``n_boot_nan``) and left out of the interval.  With few seeds the percentile
  interval is too narrow: on 200 planted sweeps per case at a nominal 90% it covered a per-K
  optimum 62% / 76% / 81% of the time with 3 / 4 / 6 seeds and a drift 63% / 73% / 82%; the
  t-interval covered the per-K optimum 93% / 92% / 91% (tests/test_analysis_bootstrap.py).  The
  generator is seeded with ``rng_seed`` afresh for every group: results are deterministic and do
  not depend on which other groups are in the table.
* **Theory's prediction** (:func:`predicted_drift_steps`): μP rescales the spectral weights' Adam
  LR by √(log K₀ / log K), so under SP the optimal *spectral-weight* LR should move by
  log10 √(log K_min / log K_max) decades from K_min to K_max (K 3→32: −2.0 eighth-decade steps;
  3→128: −2.6), and under μP by 0.  For one global LR (what our sweeps vary) this is an upper bound
  on the magnitude: the global optimum also depends on weights μP does not rescale (lifting,
  projection, skip connections).  Only learning-rate sweeps get a prediction.
* **Verdicts** (:func:`drift_verdict`), from the drift's interval, in this order: fewer than 3 seeds
  → "too few seeds"; the point estimate's grid optimum at an end of the grid at K_min or K_max →
  "at grid edge" (the true optimum may be outside; the interval is unreliable); the interval
  excludes 0 with the sign of the prediction → "moves as predicted"; excludes 0 with the opposite
  sign → "moves opposite to prediction"; contains 0 → "no resolved drift".  With no predicted
  movement (μP, or no prediction), an interval excluding 0 gives "moves (up)" / "moves (down)".
  Two more: "not estimable" (after "too few seeds": no optimum in the point estimate or in every
  replicate, e.g. all runs at one end diverged) and "one K only".
* **The pooled slope** (:mod:`.slope`, :func:`bootstrap_slope`): every K at once, the OLS slope of
  the fitted optimal log10-LR against log10 √(ln K), with the same paired bootstrap over seeds;
  theory's slope is −1 for SP's spectral-group LR (diluted towards 0 when one LR drives every
  weight) and 0 for μP.  Its interval is a t-interval from the bootstrap's standard error (the
  percentile interval covered a planted slope 62–82% of the time at a nominal 90% with 3–6 seeds; the
  t-interval 90–93%; tests/test_analysis_slope.py).  Its criterion: :data:`SLOPE_CRITERION`.
* **Success criterion** (:func:`meets_criterion`, declared by the project): the SP drift is at most
  −2 steps (point estimate) with its 90% interval excluding 0, and μP's 90% interval contains 0 or
  |μP drift| ≤ 1 step.

The package: :mod:`.optimum` (the optimum per K and its drift), :mod:`.bootstrap` (the paired
bootstrap, intervals, verdicts, the criterion), :mod:`.report` (sentences for notebooks, the
paper's reported optima); the public names (``__all__``) are importable from here.
"""
from __future__ import annotations

from .optimum import add_tail_loss, drift_summary, grid_step, metric_label, METRICS, optimum_table, tail_train_loss
from .bootstrap import bootstrap_drift, bootstrap_optima, drift_verdict, meets_criterion, predicted_drift_steps
from .slope import bootstrap_slope, log_sqrt_log_K, meets_slope_criterion, SLOPE_CRITERION, theory_slope
from .report import describe_direction, describe_drift, describe_slope, describe_transfer, PAPER_REPORTED

__all__ = [
    "optimum_table", "drift_summary", "describe_transfer", "describe_drift", "describe_direction", "grid_step", "metric_label", "METRICS",
    "PAPER_REPORTED", "tail_train_loss", "add_tail_loss", "predicted_drift_steps", "bootstrap_optima",
    "bootstrap_drift", "drift_verdict", "meets_criterion",
    "bootstrap_slope", "describe_slope", "log_sqrt_log_K", "meets_slope_criterion", "SLOPE_CRITERION", "theory_slope",
]
