"""μTransfer-FNO end to end (Algorithm 1 of Li, Yoo & Yang, ICML 2025), with its cost table.

:func:`mutransfer_experiment` does, through the sweep machinery and the results store (so a
re-run reuses every run already stored):

1. **Tune on the proxy.**  The grid (learning rates × the base config's batch sizes, β₂s and init
   scales) at ``K_proxy`` under μP, every point with every seed  → sweep ``<name>.proxy``.
2. **Pick** the hyperparameters with the lowest *mean final training loss* over seeds (diverged
   or failed runs count as +∞).  The pick by mean test error is reported beside it.
3. **Transfer.**  Algorithm 1 multiplies the spectral weights' LR by √(log K_proxy / log K_target)
   and their init variance by log K_proxy / log K_target, and copies everything else.  Under
   mufno_lite's μP the parametrization already applies exactly these factors at every K
   (c(K) = √(log K₀ / log K)), so **the base hyperparameters carry over unchanged**; the result
   records both spectral LRs and checks them against :func:`mufno_lite.parametrization.transfer`.
   (With ``parametrization='sp'`` the same copy is the *naive* transfer the paper warns about.)
4. **Train the target once** per seed at ``K_target``  → sweep ``<name>.transfer``.
5. **Direct tuning** for comparison: the same grid at ``K_target``, best by the same rule
   → sweep ``<name>.direct``.

Costs.  A method's tuning cost is the sum over the runs it needs of the measured per-run wall
time (``wall_time_s``: the population's wall time shared equally by its members) and of the
trainer's FLOP estimate (``flops``).  μTransfer pays for the proxy grid plus the target runs; direct
tuning for the target grid.  Ratios are relative to direct tuning (1×), as in the paper's table.
Caveats: wall times of populations of different sizes amortise differently; a target run that
coincides with a run of the direct grid (same id) is one stored row, counted in both methods.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from .parametrization import Parametrization, transfer
from .store import ResultsStore
from .sweep import SweepConfig, SweepReport, run_sweep, sweep_results

__all__ = ["mutransfer_experiment", "MuTransferResult", "ExperimentInterrupted", "aggregate_grid", "HP_KEYS"]

HP_KEYS = ("lr", "batch_size", "beta2", "init_scale")


class ExperimentInterrupted(RuntimeError):
    """A sweep of the experiment was stopped by a signal; ``report`` says where (re-run to resume)."""

    def __init__(self, report: SweepReport):
        super().__init__(f"sweep {report.sweep!r} was interrupted; re-run the experiment to resume")
        self.report = report


@dataclass
class MuTransferResult:
    """What :func:`mutransfer_experiment` found.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per method (direct tuning, μTransfer): test rel. L2 (mean, std over seeds), the
        chosen hyperparameters, runs, wall time, FLOPs and both cost ratios (direct = 1).
    selection : pandas.DataFrame
        The best grid point on the proxy and on the target, picked by train loss and by test error.
    proxy_grid, direct_grid : pandas.DataFrame
        Per grid point: mean/std of final train loss and test error over seeds.
    target_runs : pandas.DataFrame
        The target runs trained with the transferred hyperparameters.
    transferred : dict
        The transferred hyperparameters, and the spectral LR at proxy and target.
    notes : list of str
    reports : dict of SweepReport
    """

    table: object
    selection: object
    proxy_grid: object
    direct_grid: object
    target_runs: object
    transferred: dict
    notes: list = field(default_factory=list)
    reports: dict = field(default_factory=dict)

    def summary(self) -> str:
        t = self.table
        lines = []
        for _, r in t.iterrows():
            lines.append(f"{r['method']:<34} test rel. L2 {100 * r['test_rel_l2']:.2f}%  "
                         f"cost {r['cost_ratio_wall']:.2f}x (wall) {r['cost_ratio_flops']:.2f}x (FLOPs)  lr {r['lr']:.3g}")
        return "\n".join(lines + self.notes)


def _as_config(base) -> SweepConfig:
    if isinstance(base, SweepConfig):
        return base
    if isinstance(base, (str, os.PathLike)):
        return SweepConfig.from_file(base)
    if isinstance(base, Mapping):
        d = dict(base)
        d.setdefault("K", [2])
        d.setdefault("lr", [1e-3])
        return SweepConfig.from_dict(d)
    raise ValueError(f"base_config must be a SweepConfig, a dict or a file path; got {type(base).__name__}")


def aggregate_grid(df):
    """Mean/std over seeds of final train loss and test error per grid point (∞ for non-done runs)."""
    import numpy as np
    import pandas as pd

    if len(df) == 0:
        return pd.DataFrame(columns=[*HP_KEYS, "train_loss", "train_loss_std", "test_rel_l2", "test_rel_l2_std",
                                     "n_seeds", "n_ok"])
    d = df.copy()
    ok = d["status"] == "done"
    d["_train"] = np.where(ok & d["final_train_loss"].notna(), d["final_train_loss"], np.inf)
    d["_test"] = np.where(ok & d["test_rel_l2"].notna(), d["test_rel_l2"], np.inf)
    d["_ok"] = ok.astype(int)
    g = d.groupby(list(HP_KEYS), sort=True)
    out = g.agg(train_loss=("_train", "mean"), train_loss_std=("_train", "std"), test_rel_l2=("_test", "mean"),
                test_rel_l2_std=("_test", "std"), n_seeds=("seed", "nunique"), n_ok=("_ok", "sum")).reset_index()
    return out


def _best(grid, metric: str) -> dict:
    finite = grid[grid[metric].apply(lambda v: math.isfinite(v))]
    if len(finite) == 0:
        raise RuntimeError(f"no grid point has a finite mean {metric} (every run diverged or failed)")
    row = finite.sort_values([metric, "lr"]).iloc[0]
    return {k: (row[k].item() if hasattr(row[k], "item") else row[k]) for k in grid.columns}


def _hp(best: Mapping) -> dict:
    return {"lr": float(best["lr"]), "batch_size": int(best["batch_size"]), "beta2": float(best["beta2"]),
            "init_scale": float(best["init_scale"])}


def mutransfer_experiment(
    base_config,
    K_proxy: int,
    K_target: int,
    lr_grid: Sequence[float] | Mapping | None = None,
    seeds: Sequence[int] = (0,),
    store: ResultsStore | str | os.PathLike | None = None,
    *,
    parametrization: str = "mup",
    base_K: int | None = None,
    name: str | None = None,
    executor=None,
    dataset_factory: Callable | None = None,
    trainer: Callable | None = None,
    device: str | None = None,
    progress: bool | None = None,
    verbose: bool = False,
) -> MuTransferResult:
    """Tune on a proxy at ``K_proxy``, transfer to ``K_target``, compare with direct tuning.

    Parameters
    ----------
    base_config : SweepConfig, dict or path
        Everything but K, the LR grid, the seeds and the parametrization (which this function
        sets): pde, data, model, train, batch sizes / β₂s / init scales (tuned jointly with the LR).
    K_proxy, K_target : int
        Modes of the proxy and of the target model (K_proxy < K_target in the paper's use).
    lr_grid : list of float or eighth-decades spec, optional
        Base learning rates (default: the base config's).
    seeds : sequence of int
        Seeds of every grid point and of the target runs.
    store : ResultsStore or path, optional
        The results store (default ``$MUFNO_RESULTS`` or ``results/results.sqlite``).
    parametrization : {"mup", "sp"}
        μP (μTransfer); "sp" shows the naive transfer of an SP-tuned LR.
    base_K : int, optional
        μP's K₀ (default: the base config's).
    name : str, optional
        Prefix of the three sweep names (default ``<base name>.mutransfer.K<p>to<t>``).
    executor, dataset_factory, trainer, device, progress
        Passed to :func:`mufno_lite.sweep.run_sweep`.
    verbose : bool
        Print each sweep's summary line.

    Returns
    -------
    MuTransferResult
    """
    cfg = _as_config(base_config)
    par = Parametrization(parametrization, base_K if base_K is not None else cfg.base_K)
    Kp, Kt = int(K_proxy), int(K_target)
    if Kp == Kt:
        raise ValueError(f"K_proxy must differ from K_target; got K_proxy={K_proxy!r}, K_target={K_target!r}")
    prefix = name or f"{cfg.name}.mutransfer.{par.kind}.K{Kp}to{Kt}"
    par_entry = [{"kind": par.kind, "base_K": par.base_K}]
    common = dict(parametrizations=par_entry, base_K=par.base_K, seeds=list(seeds))
    if lr_grid is not None:
        common["lr"] = lr_grid if isinstance(lr_grid, Mapping) else list(lr_grid)
    proxy_cfg = cfg.replace(name=f"{prefix}.proxy", K=[Kp], **common)
    direct_cfg = cfg.replace(name=f"{prefix}.direct", K=[Kt], **common)
    st = store if isinstance(store, ResultsStore) else ResultsStore(store)
    run_kw = dict(executor=executor, dataset_factory=dataset_factory, trainer=trainer, device=device,
                  progress=progress, verbose=verbose)

    def sweep(c: SweepConfig) -> SweepReport:
        rep = run_sweep(c, st, **run_kw)
        if rep.status == "interrupted":
            raise ExperimentInterrupted(rep)
        return rep

    def rows(c: SweepConfig):
        return sweep_results(c, st)

    reports = {"proxy": sweep(proxy_cfg)}
    proxy_rows = rows(proxy_cfg)
    proxy_grid = aggregate_grid(proxy_rows)
    best_p = _best(proxy_grid, "train_loss")
    best_p_test = _best(proxy_grid, "test_rel_l2")
    hp = _hp(best_p)

    # Algorithm 1 on the spectral weights' LR, checked against what μP applies at K_target.
    spec_proxy = hp["lr"] * par.lr_multiplier(Kp)
    spec_alg1 = transfer({"lr": spec_proxy}, Kp, Kt)["lr"]
    spec_target = hp["lr"] * par.lr_multiplier(Kt)
    transferred = dict(hp, spectral_lr_proxy=spec_proxy, spectral_lr_target=spec_target,
                       spectral_lr_algorithm1=spec_alg1, rule=(
                           "muP: base hyperparameters carry over unchanged (the parametrization applies "
                           "Algorithm 1's sqrt(log K_proxy / log K_target) to the spectral LR)"
                           if par.kind == "mup" else "SP: naive transfer (hyperparameters copied, no rescaling)"))
    notes = []
    if par.kind == "mup" and not math.isclose(spec_alg1, spec_target, rel_tol=1e-9):
        notes.append(f"warning: spectral LR at target {spec_target:.4g} != Algorithm 1's {spec_alg1:.4g} "
                     f"(base_K={par.base_K})")

    target_cfg = cfg.replace(name=f"{prefix}.transfer", K=[Kt], parametrizations=par_entry, base_K=par.base_K,
                             seeds=list(seeds), lr=[hp["lr"]], batch_sizes=[hp["batch_size"]], beta2s=[hp["beta2"]],
                             init_scales=[hp["init_scale"]])
    reports["transfer"] = sweep(target_cfg)
    target_rows = rows(target_cfg)
    reports["direct"] = sweep(direct_cfg)
    direct_rows = rows(direct_cfg)
    direct_grid = aggregate_grid(direct_rows)
    best_d = _best(direct_grid, "train_loss")
    best_d_test = _best(direct_grid, "test_rel_l2")
    direct_best_rows = direct_rows
    for k, v in _hp(best_d).items():
        direct_best_rows = direct_best_rows[direct_best_rows[k] == v]

    import pandas as pd

    def cost(df):
        return float(df["wall_time_s"].fillna(0).sum()), float(df["flops"].fillna(0).sum())

    def test_stats(df):
        ok = df[df["status"] == "done"]["test_rel_l2"].astype(float)
        bad = int((df["status"] != "done").sum())
        mean = float(ok.mean()) if bad == 0 and len(ok) else math.inf
        return mean, float(ok.std()) if len(ok) > 1 else 0.0, float(df["final_train_loss"].astype(float).mean())

    d_wall, d_flops = cost(direct_rows)
    p_wall, p_flops = cost(proxy_rows)
    t_wall, t_flops = cost(target_rows)
    d_mean, d_std, d_train = test_stats(direct_best_rows)
    t_mean, t_std, t_train = test_stats(target_rows)
    if int((target_rows["status"] != "done").sum()):
        notes.append("some target runs diverged or failed: the μTransfer test error is reported as inf")
    label = "μTransfer-FNO" if par.kind == "mup" else "naive transfer (SP)"

    def ratio(a, b):
        return a / b if b > 0 else math.nan

    table = pd.DataFrame([
        {"method": f"direct tuning on the target (K={Kt})", "K_tuned": Kt, "test_rel_l2": d_mean,
         "test_rel_l2_std": d_std, "final_train_loss": d_train, **_hp(best_d), "n_runs": len(direct_rows),
         "wall_time_s": d_wall, "flops": d_flops, "cost_ratio_wall": 1.0, "cost_ratio_flops": 1.0},
        {"method": f"{label} (K={Kp} -> {Kt})", "K_tuned": Kp, "test_rel_l2": t_mean, "test_rel_l2_std": t_std,
         "final_train_loss": t_train, **hp, "n_runs": len(proxy_rows) + len(target_rows),
         "wall_time_s": p_wall + t_wall, "flops": p_flops + t_flops,
         "cost_ratio_wall": ratio(p_wall + t_wall, d_wall), "cost_ratio_flops": ratio(p_flops + t_flops, d_flops)},
    ])
    selection = pd.DataFrame([
        {"where": f"proxy K={Kp}", "by": "train loss", **_hp(best_p), "train_loss": best_p["train_loss"],
         "test_rel_l2": best_p["test_rel_l2"]},
        {"where": f"proxy K={Kp}", "by": "test error", **_hp(best_p_test), "train_loss": best_p_test["train_loss"],
         "test_rel_l2": best_p_test["test_rel_l2"]},
        {"where": f"target K={Kt}", "by": "train loss", **_hp(best_d), "train_loss": best_d["train_loss"],
         "test_rel_l2": best_d["test_rel_l2"]},
        {"where": f"target K={Kt}", "by": "test error", **_hp(best_d_test), "train_loss": best_d_test["train_loss"],
         "test_rel_l2": best_d_test["test_rel_l2"]},
    ])
    if _hp(best_p) != _hp(best_d):
        notes.append(f"the proxy's best lr {hp['lr']:.3g} differs from the target's best {best_d['lr']:.3g}")
    return MuTransferResult(table=table, selection=selection, proxy_grid=proxy_grid, direct_grid=direct_grid,
                            target_runs=target_rows, transferred=transferred, notes=notes, reports=reports)
