"""The paper's experiments as named sweeps, composed from the sizes in :mod:`mufno_lite.presets`.

A notebook asks for an experiment by name (``run_experiment("burgers_lr", S)``); the sweep runs
through the shared results store, so runs another notebook already trained are reused (a run's
id is the hash of its full config), and an interrupted notebook resumes where it stopped.

This module holds no sizes: :data:`mufno_lite.presets.BASES` has each PDE's base sweep per preset and
:data:`mufno_lite.presets.EXPERIMENT_SIZES` what each experiment changes; :data:`EXPERIMENTS` is
their composition (name → preset → sweep config without name).
"""
from __future__ import annotations

import copy
import sys
from typing import Any, Mapping

from .presets import BASES as _BASE_SIZES
from .presets import EXPERIMENT_SIZES, PRESETS

__all__ = ["EXPERIMENTS", "experiment_config", "run_experiment", "summarize"]

_MERGED = ("train", "model", "data")  # keys whose dict values are merged into the base's


def _candidate(name: str) -> dict:
    from .search import CANDIDATES

    return copy.deepcopy(CANDIDATES[name][1])


def _apply(cfg: dict, change: Mapping) -> dict:
    for key, val in copy.deepcopy(dict(change)).items():
        if key != "search_candidate":
            cfg[key] = {**cfg[key], **val} if key in _MERGED and isinstance(val, dict) else val
    return cfg


def _resolve(cfg: Mapping) -> dict:
    """A preset entry as a sweep config: a search candidate's config with the entry's other keys
    applied to it, or a copy of the entry."""
    return _apply(_candidate(cfg["search_candidate"]), cfg) if "search_candidate" in cfg else copy.deepcopy(dict(cfg))


def _compose(spec: Mapping, preset: str) -> dict:
    """An experiment's config under a preset: its base with the preset's changes applied."""
    change = spec.get(preset, {})
    if "search_candidate" in change:
        cfg = _resolve(change)
    else:
        cfg = _apply(_resolve(_BASE_SIZES[spec["base"]][preset]), change)
    cfg.setdefault("parametrizations", ["sp", "mup"])
    if cfg.get("epochs") is not None:  # a fixed data budget sets each run's steps (SweepConfig.steps_for)
        cfg["train"] = {k: v for k, v in cfg["train"].items() if k != "steps"}
    # the paper's experiments state the FNO reference code's settings (issue 11): the pointwise
    # normaliser, the endpoint grid channel, an int padding in grid points at the training resolution.
    # Both are their defaults and so are left out of the run ids (which stay those recorded).
    cfg["data"] = {**cfg["data"], "normalize": cfg["data"].get("normalize", "pointwise")}
    cfg["model"] = {**cfg.get("model", {}), "grid_convention": cfg.get("model", {}).get("grid_convention", "endpoint")}
    return cfg


#: each PDE's base sweep per preset (search candidates resolved)
BASES: dict[str, dict[str, dict]] = {pde: {p: _resolve(c) for p, c in per.items()} for pde, per in _BASE_SIZES.items()}
#: experiment name -> preset -> sweep config (without name)
EXPERIMENTS: dict[str, dict[str, dict]] = {name: {p: _compose(spec, p) for p in PRESETS}
                                           for name, spec in EXPERIMENT_SIZES.items()}


def experiment_config(name: str, preset: str) -> dict[str, Any]:
    """The sweep config (a dict for :meth:`mufno_lite.sweep.SweepConfig.from_dict`) of an experiment.

    ``preset``: a preset's name, used as it is, or ``auto`` (resolved here, once:
    :func:`mufno_lite.presets.resolve_preset`)."""
    from .presets import resolve_preset

    if name not in EXPERIMENTS:
        raise ValueError(f"experiment must be one of {sorted(EXPERIMENTS)}; got experiment={name!r}")
    p = preset if preset in PRESETS else resolve_preset(preset)
    cfg = copy.deepcopy(EXPERIMENTS[name][p])
    cfg["name"] = f"{name}@{p}"
    cfg.setdefault("base_K", 3)
    cfg.setdefault("max_population_size", 64)
    cfg.setdefault("device", "auto")
    return cfg


def run_experiment(name: str, session=None, *, preset: str | None = None, store=None, device: str | None = None,
                   progress: bool | None = None, overrides: dict | None = None, verbose: bool = True, executor="auto",
                   if_changed: str = "replace"):
    """Run (or resume) an experiment's sweep and return its results table.

    Runs already in the store are not trained again.  The sweep is named ``<experiment>@<preset>``
    by the package, so when this version's config of it expands to other runs than the store lists
    under that name (other sizes in a newer version, other ``overrides``), the name is moved to
    this config's runs (``if_changed='replace'``: rows already stored are kept and reused); pass
    ``'refuse'`` to be asked instead (see :func:`mufno_lite.sweep.run_sweep`).  ``overrides`` replaces top-level keys of the
    config (e.g. ``{"K": [3, 64]}``) for exploration; the sweep name then gets a ``+custom`` suffix.
    ``executor="auto"`` trains populations in one process per core on a CPU (see
    :func:`mufno_lite.sweep.executors.default.default_executor`); pass ``None`` for in-process.
    """
    from .presets import resolve_preset
    from .sweep import SweepConfig, run_sweep, sweep_results
    from .sweep.executors.default import default_executor

    preset = resolve_preset(preset or (session.preset if session is not None else "auto"))  # once
    store = store or (session.results_store if session is not None else None)
    device = device or (session.device if session is not None else None)
    cfg = experiment_config(name, preset)
    if overrides:
        cfg.update(copy.deepcopy(overrides))
        cfg["name"] += "+custom"
    config = SweepConfig.from_dict(cfg)
    if executor == "auto":
        executor = default_executor(preset, device)
    report = run_sweep(config, store, device=device, progress=progress, handle_signals=False, verbose=verbose,
                       executor=executor, if_changed=if_changed)
    if getattr(report, "status", "complete") == "interrupted":
        raise KeyboardInterrupt(f"sweep {config.name} was interrupted; run the cell again to resume")
    # exactly the runs of this config (a sweep name may also list runs of an earlier version of it)
    return sweep_results(config, store)


def _configure_cli():
    """The ``experiment`` subcommand's ``configure(parser) -> run`` (:mod:`mufno_lite.cli` registers it)."""

    def _configure(p):
        p.add_argument("name", choices=sorted(EXPERIMENTS))
        p.add_argument("--preset", default="auto", help="smoke, quick, paper or auto")
        p.add_argument("--store", default=None, help="results store (default $MUFNO_RESULTS or results/results.sqlite)")
        p.add_argument("--device", default=None)

        def run(args) -> int:
            from .analysis import drift_summary, optimum_table

            try:
                df = run_experiment(args.name, preset=args.preset, store=args.store, device=args.device)
            except ValueError as exc:
                print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
                return 2
            print(df.groupby(["parametrization", "K", "status"]).size().to_string())
            if df["lr"].nunique() > 1 and (df["status"] == "done").any():
                print(drift_summary(optimum_table(df)).to_string(index=False))
            return 0

        return run

    return _configure


SUMMARY_METRICS = ("tail_train_loss", "final_train_loss", "test_rel_l2")
#: the pooled slope's columns in :func:`summarize`'s drift table (learning-rate sweeps)
SLOPE_COLS = ("n_K", "slope", "slope_lo", "slope_hi", "theory_slope", "lr_group", "slope_verdict")


def summarize(store, preset: str | None = None, *, n_boot: int = 2000, ci: float = 0.90, rng_seed: int = 0,
              metrics=SUMMARY_METRICS):
    """Optimum per (sweep, parametrization, K) and the drift across K, for every sweep in the store:
    the paper's experiments (optionally one preset) and, without a preset, custom sweeps (your own
    configs and PDEs, every run stored under their name), per metric (``tail_train_loss`` is added to the
    results from the training curves).  Returns (optima, drift) DataFrames.

    The drift table has :func:`~mufno_lite.analysis.drift_summary`'s columns plus the paired
    bootstrap over seeds of :func:`~mufno_lite.analysis.bootstrap_drift` (fitted optimum):
    ``n_seeds``, ``opt_at_K_min``, ``opt_at_K_max``, ``drift`` (= ``fit_drift_steps`` unrounded),
    ``drift_lo``, ``drift_hi``, ``predicted_drift`` (LR sweeps only), ``edge_K_min``,
    ``edge_K_max``, ``n_boot``, ``n_boot_nan``, ``ci`` and ``verdict``; for learning-rate sweeps also
    the pooled slope over all K of :func:`~mufno_lite.analysis.bootstrap_slope` (the same resamples'
    seed): ``n_K``, ``slope``, ``slope_lo``, ``slope_hi``, ``theory_slope``, ``lr_group`` and
    ``slope_verdict`` (NaN / empty for other sweeps)."""
    import pandas as pd

    from .analysis import add_tail_loss, bootstrap_drift, bootstrap_slope, drift_summary, optimum_table
    from .presets import PRESETS
    from .store import ResultsStore

    st = store if isinstance(store, ResultsStore) else ResultsStore(store)
    optima, drifts = [], []
    boot_cols = ["n_seeds", "opt_at_K_min", "opt_at_K_max", "drift", "drift_lo", "drift_hi", "predicted_drift",
                 "edge_K_min", "edge_K_max", "n_boot", "n_boot_nan", "ci", "verdict"]
    by = ("pde", "parametrization")
    for sweep in st.sweep_names():
        name, _, p = sweep.partition("@")
        if name not in EXPERIMENTS or p not in PRESETS:
            # a custom sweep (your own config or PDE): all its stored runs, shown without a preset filter
            if preset:
                continue
            from .store import load_results

            cfg = st.sweep_config(sweep) or {}
            df = load_results(st, sweep=sweep)
        elif preset and p != preset:
            continue
        else:
            from .sweep import SweepConfig, sweep_results

            cfg = experiment_config(name, p)
            df = sweep_results(SweepConfig.from_dict(cfg), st)
        df = df[df["status"].isin(["done", "diverged"])]
        if df.empty:
            continue
        df = add_tail_loss(df)
        x = next((c for c in ("lr", "batch_size", "beta2") if df[c].nunique() > 1), None)
        if x is None:
            continue
        for metric in metrics:
            o = optimum_table(df, x=x, metric=metric, by=(*by, "K")).assign(sweep=sweep, x=x, metric=metric)
            optima.append(o)
            d = drift_summary(o)
            b = bootstrap_drift(df, x=x, metric=metric, n_boot=n_boot, ci=ci, rng_seed=rng_seed, by=by,
                                base_K=int(cfg.get("base_K", 3)))
            d = d.merge(b[[*by, *boot_cols]], on=list(by), how="left")
            if x == "lr":
                lr_group = str((cfg.get("train") or {}).get("lr_group", "all"))
                sl = bootstrap_slope(df, metric=metric, n_boot=n_boot, ci=ci, rng_seed=rng_seed, by=by, lr_group=lr_group)
                sl = sl.rename(columns={"verdict": "slope_verdict"})
                d = d.merge(sl[[*by, *SLOPE_COLS]], on=list(by), how="left")
            drifts.append(d.assign(sweep=sweep, x=x, metric=metric))
    if not optima:
        raise ValueError(f"no sweeps with a swept hyperparameter{' for preset ' + preset if preset else ''} "
                         f"in the store {st.path}")
    return pd.concat(optima, ignore_index=True), pd.concat(drifts, ignore_index=True)


def _format_drift_table(d) -> str:
    """Per sweep × parametrization: K range, fitted optima at its ends, drift with interval, theory,
    seeds, verdict."""
    import math

    import pandas as pd

    def num(v, fmt="+.2f"):
        return "n/a" if v is None or not math.isfinite(float(v)) else format(float(v), fmt)

    rows = []
    for r in d.to_dict("records"):
        ci = int(round(100 * float(r["ci"])))
        rows.append({
            "sweep": r["sweep"], "param": r["parametrization"], "K": f"{r['K_min']}→{r['K_max']}",
            "opt@K_min": num(r["opt_at_K_min"], ".3g"), "opt@K_max": num(r["opt_at_K_max"], ".3g"),
            "fit_drift_steps": num(r["drift"]), f"{ci}% interval": f"[{num(r['drift_lo'])}, {num(r['drift_hi'])}]",
            "theory": num(r["predicted_drift"]), "seeds": r["n_seeds"], "verdict": r["verdict"],
        })
    return pd.DataFrame(rows).to_string(index=False)


def _format_slope_table(d) -> str:
    """Per learning-rate sweep × parametrization: the K used, the pooled slope with its interval,
    theory's slope, seeds and the slope's verdict."""
    import math

    import pandas as pd

    def num(v):
        return "n/a" if v is None or not math.isfinite(float(v)) else format(float(v), "+.2f")

    rows = []
    for r in d.to_dict("records"):
        if "slope" not in r or r.get("x") != "lr":
            continue
        ci = int(round(100 * float(r["ci"])))
        theory = num(r["theory_slope"])
        if r.get("parametrization") == "sp" and r.get("lr_group") == "all":
            theory += " (bound; one LR)"
        rows.append({"sweep": r["sweep"], "param": r["parametrization"], "K": f"{r['K_min']}→{r['K_max']} ({r['n_K']})",
                     "slope": num(r["slope"]), f"{ci}% interval": f"[{num(r['slope_lo'])}, {num(r['slope_hi'])}]",
                     "theory": theory, "seeds": r["n_seeds"], "verdict": r["slope_verdict"]})
    return pd.DataFrame(rows).to_string(index=False) if rows else "(no learning-rate sweeps)"


def _configure_summary_cli():
    """The ``summary`` subcommand's ``configure(parser) -> run`` (:mod:`mufno_lite.cli` registers it)."""

    def _configure(p):
        p.add_argument("--store", default=None)
        p.add_argument("--preset", default=None, help="only this preset's sweeps")
        p.add_argument("--metric", default="tail_train_loss", choices=list(SUMMARY_METRICS),
                       help="tail_train_loss: mean training loss over the last 20%% of steps (default)")
        p.add_argument("--n-boot", type=int, default=2000, help="bootstrap replicates (resampling seeds)")
        p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap's generator")

        def run(args) -> int:
            from .store import resolve_store_path

            path = resolve_store_path(args.store)
            if not path.exists():  # a read command: never creates a store
                print(f"error: no results store at {str(path)!r} (pass --store PATH, or set $MUFNO_RESULTS)",
                      file=sys.stderr)
                return 2
            try:
                optima, drift = summarize(resolve_store_path(args.store), args.preset, n_boot=args.n_boot,
                                          rng_seed=args.seed, metrics=(args.metric,))
            except ValueError as exc:
                print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
                return 2
            o = optima[optima["metric"] == args.metric]
            d = drift[drift["metric"] == args.metric]
            print(f"metric: {args.metric}; optimum (grid) per K:")
            print(o.pivot_table(index=["sweep", "K"], columns="parametrization", values="best_x").to_string(float_format=lambda v: f"{v:.3g}"))
            print()
            print("drift of the fitted optimum from K_min to K_max, grid steps (t-interval from the paired bootstrap over seeds):")
            print(_format_drift_table(d))
            print()
            print("slope of the fitted optimal log10-LR against log10 sqrt(ln K), all K (t-interval from the paired "
                  "bootstrap over seeds; theory: SP -1, mu-P 0):")
            print(_format_slope_table(d))
            return 0

        return run

    return _configure
