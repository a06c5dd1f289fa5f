"""The course's exercises, notebook by notebook: each question, its kind, its hint and how it is
graded (registered in :data:`mufno_lite.exercises.core.EXERCISES` as this module is imported).

A fixed answer is not here: it is in the teacher's ``teacher/solutions.py`` (source repository
only), and the package grades it against a hashed key (:mod:`.key`).  What is here: the graders of
the ``implement`` exercises (they compare the student's function with the library), and the
solutions that are computed from the student's own data (a results table, a spectrum)."""
from __future__ import annotations

import math

from .core import _choice, _fixed, _register, _sort


# --- 01 overview -----------------------------------------------------------------------------
_fixed("01.1", "How many times more parameters has the paper's FNO-3D (width 64, 4 layers) at K=24 than at K=3?",
       rel_tol=1e-3, hint="count_parameters(d=3, K=..., width=64)['total']; the spectral part grows like K^3", kind="compute")
_fixed("01.2", "Under μP with base K0=3, the spectral weights at K=32 learn with what fraction of the base LR?",
       hint="c(K) = sqrt(log K0 / log K)", kind="compute")


# --- 02 modes --------------------------------------------------------------------------------
_fixed("02.1", "How many complex spectral weights has an FNO-2D of width 32, K=12, 4 layers?",
       rel_tol=0, hint="per layer 2^(d-1) corner blocks of K^d complex m×m matrices", kind="compute")
_fixed("02.2", "On a 16-point non-last axis with K=4, give the gain of a cosine at frequencies 0..8 as a list.",
       rel_tol=0, hint="frequencies -K..K-1 are kept: what happens at exactly K?", kind="compute")
_fixed("02.3", "What is the smallest number of grid points on the last (rfft) axis that allows K=24?", rel_tol=0,
       hint="an n-point rfft has n//2 + 1 non-negative frequencies", kind="compute")


# --- 03 parametrization ----------------------------------------------------------------------
_fixed("03.1", "A learning rate of 3e-3 was tuned at K_proxy=4. By Algorithm 1, what LR should R use at K=64?",
       hint="eta_target = sqrt(log K_proxy / log K_target) * eta_proxy", kind="compute")
_fixed("03.2", "And the init variance 0.02 tuned at K_proxy=4, transferred to K=64?",
       hint="variances scale with the ratio itself, not its square root", kind="compute")
_fixed("03.3", "What does sqrt(2 d log K) predict for the maximum of K^d Gaussians in the paper's largest FNO-3D (K=24)?",
       hint="natural log; d = 3", kind="compute")


@_register("03.7", "Predict, then run: the coordinate check's `dR_entry` (largest entry of the first Adam update of the "
           "spectral weights) under μP at K = 64 with lr = 1e-2. Write your number, then run "
           "`cc64 = coord_check([3, 64], ('mup',), d=1, width=8, steps=1, lr=1e-2)` and "
           "`check('03.7', prediction, cc=cc64)`.", rel_tol=1e-2, kind="predict",
           hint="Adam's first step moves every entry by about its learning rate, and μP's spectral LR is lr·c(K)")
def _ex037(cc, K=None):
    t = cc[(cc["statistic"] == "dR_entry") & (cc["parametrization"] == "mup")]
    if t.empty:
        raise ValueError("cc has no μP dR_entry rows: run coord_check with 'mup' among the parametrizations")
    K = int(t["K"].max()) if K is None else K
    t = t[(t["K"] == K) & (t["step"] == t["step"].min())]
    return float(t["value"].mean())


# implement: the student writes μP's init scaling and its optimizer groups; check runs them on hidden cases
_INIT_CASES = [(K, d, fan_in, base_K) for K, d, fan_in, base_K in
               [(2, 1, 8, 3), (3, 2, 16, 3), (5, 3, 8, 3), (12, 1, 64, 3), (24, 3, 32, 3), (64, 2, 16, 3), (200, 1, 8, 4),
                (4, 2, 64, 4)]]


def _grade_init(fn, at):
    from ..parametrization import Parametrization

    if not callable(fn):
        return False, ("pass your function itself, e.g. check(\"03.4\", mup_init_std) (no parentheses); "
                       f"got {type(fn).__name__}")
    for K, d, fan_in, base_K in _INIT_CASES:
        want = Parametrization("mup", base_K=base_K).spectral_init_std(K, d, fan_in)
        where = f"at K={K}, d={d}, fan_in={fan_in}, base_K={base_K}"
        at(where)
        try:
            got = float(fn(K, d, fan_in, base_K))
        except Exception as e:  # the student's code: report, never crash the notebook
            return False, f"your function raised {type(e).__name__}: {e} {where}"
        if math.isclose(got, want, rel_tol=1e-6):
            continue
        sp, r = math.sqrt(1.0 / fan_in), math.log(base_K) / math.log(K)
        for wrong, why in ((sp, "that is SP's std: μP multiplies it by √(log K₀ / log K)"),
                           (sp * r, "you scaled by log K₀ / log K, the variance's factor; the std takes its square root"),
                           ((1.0 / fan_in) * math.sqrt(r), "SP's variance is 1/fan_in, so its std is 1/√fan_in"),
                           (sp / math.sqrt(d * math.log(K)), "the rate 1/√(d log K) needs its constant: at K = K₀ μP "
                                                             "must equal SP, so divide by √(log K / log K₀) (d cancels)")):
            if math.isclose(got, wrong, rel_tol=1e-6):
                return False, f"{where} you return {got:.6g}, the library {want:.6g}: {why}"
        return False, f"{where} you return {got:.6g}, the library {want:.6g}"
    return True, f"matches mufno_lite.parametrization on {len(_INIT_CASES)} hidden cases"


def _warm_up():
    """The graders' imports and torch's first optimizer (seconds the first time): outside any case's limit."""
    import torch

    from .. import fno, parametrization  # noqa: F401

    torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-3)


_grade_init.prepare = _warm_up


_fixed("03.4", "Implement μP's init: write mup_init_std(K, d, fan_in, base_K=3), the standard deviation of a "
       "spectral weight entry under μP (SP's is 1/√fan_in), and pass the function itself.", kind="implement",
       grade=_grade_init, hint="μP multiplies SP's std by a factor that is 1 at K = K₀ and shrinks like 1/√(log K)")


_GROUP_CASES = [(1, 2, 3), (1, 3, 3), (1, 7, 3), (2, 5, 3), (1, 16, 4), (3, 4, 3)]


def _grade_groups(fn, at):
    import torch

    from ..fno import FNO
    from ..parametrization import Parametrization, param_groups

    if not callable(fn):
        return False, ("pass your function itself, e.g. check(\"03.5\", mup_param_groups) (no parentheses); "
                       f"got {type(fn).__name__}")
    lr = 2e-3
    for d, K, base_K in _GROUP_CASES:
        model = FNO(d=d, K=K, width=4, n_layers=2, parametrization=Parametrization("mup", base_K=base_K), seed=0)
        where = f"for an FNO-{d}D with K={K}, base_K={base_K}, lr={lr}"
        at(where)
        want = {id(p): g["lr"] for g in param_groups(model, lr, Parametrization("mup", base_K=base_K)) for p in g["params"]}
        names = {id(p): n for n, p in model.named_parameters()}
        seen: dict[int, float] = {}
        try:
            got = list(fn(model, lr, base_K))
            for g in got:
                for p in g["params"]:
                    if id(p) in seen:
                        return False, f"{where} {names.get(id(p), 'a parameter')} is in two groups"
                    seen[id(p)] = float(g.get("lr", lr))
            torch.optim.Adam(got, lr=lr)
        except Exception as e:
            return False, (f"{where} your groups failed ({type(e).__name__}: {e}); return a list of dicts "
                           "{'params': [...], 'lr': ...} that torch.optim.Adam accepts")
        missing = [names[i] for i in want if i not in seen]
        if missing:
            return False, f"{where} these parameters are in no group: {missing[:3]}; every parameter must be in one"
        spectral = {id(p) for _, p in model.named_parameter_groups()["spectral"]}
        c2 = math.log(base_K) / math.log(K)
        for i, w in want.items():
            g = seen[i]
            if math.isclose(g, w, rel_tol=1e-6):
                continue
            if i in spectral and math.isclose(g, lr, rel_tol=1e-6):
                why = "the spectral weights need lr · c(K) with c(K) = √(log K₀ / log K)"
            elif i in spectral and math.isclose(g, lr * c2, rel_tol=1e-6):
                why = "c(K) is the square root of log K₀ / log K"
            elif i not in spectral:
                why = "only the spectral weights are rescaled: P, W, Q and the biases keep the base lr"
            else:
                why = "compare with model.parametrization.lr_multiplier(model.K)"
            return False, f"{where} {names[i]} gets lr {g:.6g}, the library {w:.6g}: {why}"
    return True, f"matches mufno_lite.parametrization.param_groups on {len(_GROUP_CASES)} hidden models"


_grade_groups.prepare = _warm_up


_fixed("03.5", "Implement μP's optimizer: write mup_param_groups(model, lr, base_K=3) returning torch optimizer "
       "groups [{'params': [...], 'lr': ...}, ...] for an FNO, and pass the function itself.", kind="implement",
       grade=_grade_groups,
       hint="model.named_parameter_groups() splits 'spectral' from 'other'; model.K is its number of modes")

_choice("03.6", "Multiple choice. Why does μP for FNO scale with 1/√(d log K) and not with the width m?",
          hint="what does the kernel integral do with each of its K^d modes?",
          options={"a": "the kernel's operator norm is a maximum over K^d per-mode blocks, and the maximum of n "
                        "Gaussians grows like √(2 log n)",
                   "b": "a neuron sums K^d terms, so a central-limit argument gives 1/√(K^d)",
                   "c": "the number of parameters grows like K^d, and the LR must shrink with the model's size"},
          feedback={"a": "each mode acts through its own block, and the largest block sets the norm of the whole",
                    "b": "sums over m give width-μP's rules; the modes are not summed, each acts separately",
                    "c": "then the factor would be a power of K, not √(log K)"})


# --- 04-09: read, predict and explain the sweeps ---------------------------------------------
def _opt(results, parametrization, K=None, metric="final_train_loss", x="lr"):
    from ..analysis import optimum_table

    t = optimum_table(results, x=x, metric=metric, by=("parametrization", "K"))
    t = t[t["parametrization"] == parametrization]
    if t.empty:
        raise ValueError(f"results has no {parametrization!r} runs; it has {sorted(set(results['parametrization']))}")
    K = int(t["K"].max()) if K is None else K
    return float(t[t["K"] == K]["best_x"].iloc[0])


def _drift(results, parametrization, metric="final_train_loss"):
    from ..analysis import drift_summary, optimum_table

    t = drift_summary(optimum_table(results, metric=metric, by=("pde", "parametrization", "K")))
    return float(t[t["parametrization"] == parametrization]["drift_steps"].iloc[0])


class _Measured(float):
    """A measured optimum that carries its grid spacing (log10 units) for grading predictions."""

    step: float = 0.125


def _predicted_opt(results, parametrization, K=None):
    import numpy as np

    v = _Measured(_opt(results, parametrization, K))
    lrs = np.log10(np.unique(results["lr"].to_numpy(dtype=float)))
    v.step = float(np.median(np.diff(lrs))) if len(lrs) > 1 else 0.125
    return v


def _grade_prediction(answer, ref):
    try:
        a = float(answer)
    except (TypeError, ValueError):
        return False, f"a prediction is one positive number (a learning rate); got {answer!r}"
    if not a > 0:
        return False, f"a learning rate is positive; got {a!r}"
    steps = math.log10(a / float(ref)) / ref.step
    ok = abs(steps) <= 1 + 1e-9
    return ok, (f"the run's optimum is {float(ref):.3g}; your prediction {a:.3g} is {abs(steps):.1f} grid steps "
                f"{'above' if steps > 0 else 'below'} it (within 1 step counts)")


_register("04.1", "From your results table: the SP-optimal learning rate (final training loss) at the largest K.",
          hint="analysis.optimum_table(results) — or find the minimum of the seed-mean curve yourself")(
    lambda results: _opt(results, "sp"))
for _nb in ("04", "05", "06"):
    _register(f"{_nb}.2", "By how many grid steps does the SP optimum (final training loss) move from the smallest to "
              "the largest K? (signed)",
              rel_tol=0, hint="log10(lr_Kmax / lr_Kmin) divided by the grid spacing (1/8 decade)")(
        lambda results: _drift(results, "sp"))
    _register(f"{_nb}.3", "And the μP optimum?", rel_tol=0, hint="same computation for parametrization 'mup'")(
        lambda results: _drift(results, "mup"))


@_register("04.4", "Explore the data: the smallest K whose K-mode layer keeps at least 99% of the target's energy "
           "(energy beyond K at most 1%).", rel_tol=0, kind="explore",
           hint="energy_beyond(spectrum, K) for K = 1, 2, 3, …: the first K where it is <= 0.01")
def _ex044(spectrum):
    from ..spectra import energy_beyond

    for K in range(1, len(spectrum) + 1):
        if energy_beyond(spectrum, K) <= 0.01:
            return K
    return len(spectrum)


_choice("04.5", "Multiple choice. A sweep gives SP's drift −0.93 steps with the 90% interval [−2.18, +0.20]; theory "
        "predicts −2.31. What may you conclude?",
        {"a": "SP's optimum moves as theory predicts", "b": "this sweep cannot tell whether SP's optimum moves",
         "c": "SP's optimum does not move", "d": "theory is wrong at this scale"},
        {"a": "the interval contains 0, so 'moves' is not resolved",
         "b": "the interval reaches from near theory's value to beyond 0: neither is excluded, so nothing is resolved", "c": "the interval also reaches −2.18: a "
         "drift near theory's value is not excluded either", "d": "the interval contains −2.31's neighbourhood "
         "down to −2.18 and 0 alike; nothing is refuted"})


_fixed("04.6", "Theory's SP drift in eighth-decade grid steps for the spectral learning rate from K = 3 to K = 64: "
       "8 · log10(√(log 3 / log 64)).", kind="compute", hint="a negative number: the LR should shrink")


_choice("05.4", "Multiple choice. Theory predicts an SP drift of −1.11 steps for Darcy from K = 3 to 8 but −2.31 for "
        "Burgers from K = 3 to 64. Why is the Darcy number smaller?",
        {"a": "the drift grows with log(log K_max / log K_min), and 8 is much closer to 3 than 64 is",
         "b": "Darcy is two-dimensional, and d makes the drift smaller",
         "c": "Darcy's solution is smooth, so K matters less"},
        {"a": "the factor √(log K₀ / log K) changes much less from 3 to 8 than from 3 to 64",
         "b": "d cancels in the ratio log K₀ / log K", "c": "the theory's number depends on K only, not on the data"})

_choice("06.4", "Multiple choice. The Navier–Stokes loss curve at K = 3 is nearly flat near its minimum. What does that "
        "do to the fitted optimum?",
        {"a": "it makes the optimum more precise", "b": "small loss differences (and seed noise) decide where the "
         "optimum is, so it is weak evidence", "c": "nothing: the bootstrap interval removes the noise"},
        {"b": "near a flat minimum, noise of a size smaller than the curve's dips moves the argmin by grid points",
         "a": "a flat curve has no sharp minimum to locate", "c": "the interval measures the noise; it cannot remove it"})


@_register("07.1", "From the batch-size table: the μP-optimal batch size (final training loss) at the largest K.", rel_tol=0)
def _ex071(results):
    return _opt(results, "mup", x="batch_size")


@_register("07.2", "From the β₂ table: the μP-optimal β₂ (final training loss) at the largest K.", rel_tol=0)
def _ex072(results):
    return _opt(results, "mup", x="beta2")


_choice("07.3", "Multiple choice. Every batch size trains for the same number of steps. Why can the largest batch win "
        "at every K?",
        {"a": "larger batches give less noisy gradients only under μP", "b": "in the same number of steps a larger "
         "batch sees more data", "c": "a larger batch raises the effective learning rate"},
        {"b": "batch size × steps examples are seen: with the steps fixed, the largest batch trains on the most data",
         "a": "the parametrization does not change how much data a step sees", "c": "Adam normalises the step; the "
         "batch size changes the gradient's noise, not its scale"},
        hint="count the training examples seen in `train.steps` steps")


@_register("08.1", "PINO: the μP-optimal learning rate (final training loss) at the largest K.")
def _ex081(results):
    return _opt(results, "mup")


_choice("08.2", "Multiple choice. What is the 'final training loss' of a PINO run here?",
        {"a": "the data loss plus the weighted PDE residual", "b": "the relative L2 data error on the training set",
         "c": "the PDE residual alone"},
        {"b": "the metric stays the data error, so a PINO sweep reads on the same scale as a data-only one",
         "a": "the residual is a training signal, not the metric, so the two sweeps stay comparable",
         "c": "a residual alone would not compare with notebook 5's data-only sweep"})


@_register("09.1", "From the cost table: μTransfer's tuning cost as a fraction of direct tuning (wall time).", rel_tol=1e-6)
def _ex091(table):
    t = table.set_index("method") if "method" in table.columns else table
    row = [m for m in t.index if str(m).startswith("μTransfer")]
    if not row:
        raise ValueError(f"table has no μTransfer-FNO row; rows are {list(t.index)}")
    return float(t.loc[row[0], "cost_ratio_wall"])


_fixed("09.2", "A grid of 10 learning rates; a target run costs 8 proxy runs. μTransfer pays the grid at the proxy "
       "plus one target run, direct tuning pays the grid at the target. μTransfer's cost as a fraction of direct "
       "tuning?", kind="explain", hint="count both costs in units of one proxy run")


# --- 10 limits --------------------------------------------------------------------------------
_fixed("10.1", "μP at K = 2 (below K₀ = 3) multiplies the spectral LR by √(log 3 / log 2). How many eighth-decade "
       "grid steps is that? (signed)", kind="explain", hint="8 · log10(factor); a factor above 1 is a positive shift")


_register("10.2", "Predict, then run: μP's optimal learning rate at the largest K for a width you have not run yet. "
          "Write your prediction, then run the width sweep at that width and check it against the run.",
          kind="predict", grade=_grade_prediction,
          hint="μP-FNO scales K only: nothing in it accounts for the width")(
    lambda results: _predicted_opt(results, "mup"))

_choice("10.3", "Multiple choice. Element-wise clipping at 0.01 bounds every entry of the gradient. How can that hide a "
        "K-dependence of the optimal learning rate?",
        {"a": "clipped gradients make Adam's steps smaller at large K only",
         "b": "when most entries are clipped, the update no longer grows with the gradient, so the LR's effect is "
              "blunted at every K",
         "c": "clipping changes the number of Fourier modes the model keeps"},
        {"b": "a clipped update has the same size whatever the learning rate's K-dependent factor asks for",
         "a": "Adam normalises each entry's step whatever K is", "c": "K is fixed by the architecture, not by training"})


# --- 12 your own data ---------------------------------------------------------------------------
_choice("12.1", "Multiple choice. Why is the own-data default normaliser per channel, not pointwise?",
        {"a": "pointwise statistics belong to the training grid's points, so they have no meaning on another grid",
         "b": "per-channel statistics fit the training data more closely",
         "c": "a pointwise normaliser changes how many Fourier modes the model keeps"},
        {"a": "a channel's mean and spread mean the same on every grid, a grid point's do not",
         "b": "pointwise statistics fit the training grid *more* closely; that is what ties them to it",
         "c": "normalisation acts on values, not on the model's modes"})


@_register("12.2", "From your zero-shot table: the error at twice the training grid divided by the error at the "
           "training grid.", rel_tol=0.01, kind="read", hint="the column 'x same-grid error' at the largest grid")
def _ex122(results):
    return float(results.sort_index()["x same-grid error"].iloc[-1])


_fixed("12.3", "A model trained on 64 points with padding=2 (grid points) is evaluated on 128 points. How many "
       "points does it pad there?", rel_tol=0, kind="explain",
       hint="an int padding is a fraction of the domain, set at the training grid")


# --- 01 predict and explain --------------------------------------------------------------------
_register("01.3", "Predict, then run: SP's optimal learning rate at a K between the demo's two. Write your prediction "
          "from the two curves, then run the demo at that K and check it against the run.", kind="predict",
          grade=_grade_prediction, hint="theory: the spectral LR shrinks like √(log K₀ / log K) as K grows")(
    lambda results: _predicted_opt(results, "sp"))

_choice("01.4", "Multiple choice. At K = K₀ = 3, how do an SP run and a μP run with the same seed and learning rate "
        "differ?",
        {"a": "μP's spectral weights start smaller", "b": "they do not: mufno_lite's μP equals SP at K₀, bit for bit",
         "c": "μP's spectral weights learn faster"},
        {"b": "both of μP's factors are √(log K₀ / log K), which is 1 at K = K₀",
         "a": "the factor √(log K₀ / log K) is 1 at K = K₀", "c": "the LR factor is also 1 at K = K₀"})

_choice("02.4", "Multiple choice. Why does a cosine at frequency exactly K on a non-last axis pass at half gain?",
        {"a": "the FFT halves every frequency at the edge of the grid",
         "b": "a cosine is the sum of e^{+iKx} and e^{−iKx}; the block [-K:] keeps −K but [:K] stops at K−1",
         "c": "the rfft of the last axis drops half the energy"},
        {"b": "of the cosine's two exponentials one falls inside the kept block and one just outside",
         "a": "only frequency K is affected, and only on non-last axes", "c": "the probe is on a non-last axis"})


# --- 11 explore ---------------------------------------------------------------------------------
@_register("11.1", "With the explorer on Burgers (final training loss): by how many grid steps does μP's optimum move "
           "from the smallest to the largest K?", rel_tol=0, hint="the drift table beside the plot, or explorer.optimum",
           kind="explore")
def _ex111(results):
    return _drift(results[results["pde"] == "burgers"], "mup")


_fixed("11.2", "Press Train with K = 3 (μP's base K0): what is the difference between the SP and μP final losses?",
       rel_tol=0, hint="what are μP's factors at K = K₀?", kind="explore")


def _grade_member(answer, ref):
    try:
        a = int(answer)
    except (TypeError, ValueError):
        return False, f"the answer is one K (an integer); got {answer!r}"
    return a in ref, "" if a in ref else "read the optimum table with the metric set to test_rel_l2"


@_register("11.3", "Switch the explorer's metric to test_rel_l2 on Burgers: at which K is μP's optimal learning rate "
           "the largest?", kind="explore", grade=_grade_member,
           hint="explorer.select(metric='test_rel_l2'), then explorer.optimum")
def _ex113(results):
    from ..analysis import optimum_table

    r = results[(results["pde"] == "burgers") & (results["parametrization"] == "mup")]
    t = optimum_table(r, metric="test_rel_l2", by=("parametrization", "K"))
    return sorted(int(k) for k in t[t["best_x"] == t["best_x"].max()]["K"])


_sort()
