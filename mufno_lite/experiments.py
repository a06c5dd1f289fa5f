"""The paper's experiments as named sweeps, one definition per preset.

A notebook asks for an experiment by name (``run_experiment("burgers_lr", S)``); the sweep runs
through the shared results store, so runs another notebook already trained are reused (a run's
id is the hash of its full config), and an interrupted notebook resumes where it stopped.

Sizes per preset are chosen so that ``smoke`` runs in seconds (CI), ``quick`` shows the paper's
effects on a 2-core CPU, and ``paper`` follows the paper (4 Fourier layers, width 64, GELU, Adam,
element-wise gradient clipping at 0.01, its K ranges) for a GPU.  The choices for ``quick`` and
what they showed are documented in the notebooks and in ``figures/manifest.json``.
"""
from __future__ import annotations

import copy
from typing import Any

__all__ = ["EXPERIMENTS", "experiment_config", "run_experiment", "summarize"]


# ---- shared bases ---------------------------------------------------------------------------
_SMOKE_TRAIN = {"steps": 20, "schedule": "cosine", "clip": 0.01}
_SMOKE_MODEL = {"width": 8, "n_layers": 2, "projection_width": 16}

#: The search's choice for the quick preset (``python -m mufno_lite search-quick``; the declared rule
#: is in :mod:`mufno_lite.search` and the README).  The quick Burgers sweeps are these candidates on a
#: window of learning rates around their optima (so their runs are a subset of the search's runs).
#: Applied on 2026-11-24 to the session tier: no candidate met the criterion; the rule's fallback
#: (most negative SP drift among global-LR Burgers candidates) gave burgers_nu1e-2_w16.
#:
#: The quick budget.  ``quick`` must reproduce every notebook in at most 60 minutes on 2 cores from an
#: empty store (issue 9; the aim is 30).  Measured on one core: ~3 s per Burgers run (width 16,
#: 128 points, 400 steps), ~6 s per Darcy run at 16² (~24 s at 32²), ~10 s per Navier–Stokes run.
#: So Darcy runs at 16² with K 3 → 8, notebooks 7–10 use three seeds on windows of the learning-rate
#: grid that bracket burgers_lr's and darcy_lr's optima, and the sizes add up to about 90 CPU-minutes
#: of training (45 minutes on two processes); the README gives the measured wall time.
QUICK_CHOICE = {"burgers": "burgers_nu1e-2_w16", "burgers_spectral": "burgers_nu1e-2_w16_spectral"}
#: zero-mean classic FNO initial data (the targets carry energy beyond small K; see notebook 4)
_BURGERS_DATA = {"ic_zero_mean": True, "ic_alpha": 2.5, "ic_tau": 7.0, "ic_sigma": 49.0}


def _candidate(name: str) -> dict:
    from .search import CANDIDATES

    return copy.deepcopy(CANDIDATES[name][1])


BASES: dict[str, dict[str, dict]] = {
    "burgers": {
        "smoke": dict(pde="burgers", data={"resolution": 32, "n_train": 40, "n_test": 10, "seed": 0,
                                           "params": dict(_BURGERS_DATA, nu=1e-2)}, model=_SMOKE_MODEL,
                      K=[2, 4], lr=[1e-3, 3e-3, 1e-2, 3e-2], seeds=[0, 1, 2], batch_sizes=[10], train=_SMOKE_TRAIN),
        # the chosen candidate on a 13-point window around its optima (its runs are the search's own)
        "quick": dict(_candidate(QUICK_CHOICE["burgers"]), lr={"start": -2.75, "stop": -1.25, "per_decade": 8}),
        "paper": dict(pde="burgers", data={"resolution": 1024, "n_train": 1000, "n_test": 200, "seed": 0,
                                           "params": dict(_BURGERS_DATA, nu=1e-3)},
                      model={"width": 64, "n_layers": 4, "projection_width": 128},
                      K=[3, 8, 16, 32, 64, 128, 256, 512], lr={"start": -4.0, "stop": -1.5, "per_decade": 8},
                      seeds=[0, 1, 2], batch_sizes=[20], train={"steps": 5000, "schedule": "cosine", "clip": 0.01}),
    },
    "darcy": {
        "smoke": dict(pde="darcy", data={"resolution": 16, "n_train": 40, "n_test": 10, "seed": 0}, model=_SMOKE_MODEL,
                      K=[2, 4], lr=[1e-3, 3e-3, 1e-2, 3e-2], seeds=[0], batch_sizes=[10], train=_SMOKE_TRAIN),
        # 16² (padding 2: the same 1/8 of the domain as 4 at 32²), K 3 → 8: ~6 s per run on one core,
        # a quarter of 32²'s cost, so four Darcy notebooks fit the quick budget (see QUICK_CHOICE)
        "quick": dict(pde="darcy", data={"resolution": 16, "n_train": 500, "n_test": 100, "seed": 0},
                      model={"width": 16, "n_layers": 4, "projection_width": 64, "padding": 2},
                      K=[3, 8], lr={"start": -2.375, "stop": -1.125, "per_decade": 8}, seeds=[0, 1, 2, 3],
                      batch_sizes=[20], train={"steps": 250, "schedule": "cosine", "clip": 0.01, "normalize_y": True}),
        "paper": dict(pde="darcy", data={"resolution": 85, "n_train": 1000, "n_test": 200, "seed": 0},
                      model={"width": 64, "n_layers": 4, "projection_width": 128, "padding": 9},
                      K=[3, 6, 12, 16, 24], lr={"start": -4.0, "stop": -1.5, "per_decade": 8}, seeds=[0, 1, 2],
                      batch_sizes=[20], train={"steps": 5000, "schedule": "cosine", "clip": 0.01, "normalize_y": True}),
    },
    "navier_stokes": {
        "smoke": dict(pde="navier_stokes", data={"resolution": 16, "n_train": 8, "n_test": 4, "seed": 0, "params": {"n_t": 4}},
                      model=_SMOKE_MODEL, K=[2, 3], lr=[1e-3, 3e-3, 1e-2], seeds=[0], batch_sizes=[4], train=_SMOKE_TRAIN),
        "quick": dict(pde="navier_stokes", data={"resolution": 16, "n_train": 60, "n_test": 20, "seed": 0, "params": {"n_t": 8}},
                      model={"width": 12, "n_layers": 4, "projection_width": 32},
                      K=[3, 5], lr={"start": -1.625, "stop": -0.875, "per_decade": 8}, seeds=[0, 1, 2],
                      batch_sizes=[10], train={"steps": 150, "schedule": "cosine", "clip": 0.01}),
        "paper": dict(pde="navier_stokes", data={"resolution": 64, "n_train": 800, "n_test": 200, "seed": 0, "params": {"n_t": 64}},
                      model={"width": 64, "n_layers": 4, "projection_width": 128},
                      K=[3, 6, 12, 16, 24], lr={"start": -4.0, "stop": -1.5, "per_decade": 8}, seeds=[0, 1, 2],
                      batch_sizes=[10], train={"steps": 5000, "schedule": "cosine", "clip": 0.01}),
    },
}


def _lr_sweep(pde: str) -> dict[str, dict]:
    return {p: dict(BASES[pde][p], parametrizations=["sp", "mup"]) for p in BASES[pde]}


def _darcy_variant(**override) -> dict[str, dict]:
    out = {}
    for p, base in BASES["darcy"].items():
        cfg = copy.deepcopy(base)
        for key, val in override.get(p, {}).items():
            if key == "train":
                cfg["train"] = {**cfg["train"], **val}
            else:
                cfg[key] = val
        cfg["parametrizations"] = ["sp", "mup"]
        out[p] = cfg
    return out


EXPERIMENTS: dict[str, dict[str, dict]] = {
    "burgers_lr": _lr_sweep("burgers"),
    "darcy_lr": _lr_sweep("darcy"),
    "navier_stokes_lr": _lr_sweep("navier_stokes"),
    # batch size and Adam β2 (paper §5, Darcy): one fixed LR, near the optimum of darcy_lr at this preset
    # (quick: 10^-1.875, so the batch-20 / default-β2 runs are darcy_lr's own runs, reused)
    "darcy_batch": _darcy_variant(
        smoke={"lr": [3e-3], "batch_sizes": [5, 10, 20]},
        quick={"lr": [10 ** -1.875], "seeds": [0, 1, 2], "batch_sizes": [5, 10, 20, 40]},
        paper={"lr": [10 ** -2.5], "batch_sizes": [5, 10, 20, 40, 80]},
    ),
    "darcy_beta2": _darcy_variant(
        smoke={"lr": [3e-3], "beta2s": [0.9, 0.99]},
        quick={"lr": [10 ** -1.875], "seeds": [0, 1, 2], "beta2s": [0.9, 0.98, 0.995, 0.999]},
        paper={"lr": [10 ** -2.5], "beta2s": [0.9, 0.95, 0.98, 0.99, 0.995, 0.999]},
    ),
    # PINO: data loss + weighted Darcy residual
    "darcy_pino_lr": _darcy_variant(
        smoke={"train": {"pino_weight": 0.1}},
        quick={"lr": {"start": -2.125, "stop": -1.375, "per_decade": 8}, "seeds": [0, 1, 2],
               "train": {"pino_weight": 0.1}},
        paper={"train": {"pino_weight": 0.1}},
    ),
}


def _burgers_variant(**per_preset) -> dict[str, dict]:
    out = {}
    for p, base in BASES["burgers"].items():
        cfg = copy.deepcopy(base)
        for key, val in per_preset.get(p, {}).items():
            cfg[key] = {**cfg[key], **val} if key in ("train", "model", "data") and isinstance(val, dict) else val
        cfg.setdefault("parametrizations", ["sp", "mup"])
        out[p] = cfg
    return out


def _spectral_split(quick_name: str) -> dict[str, dict]:
    """The mechanism: only the spectral group's LR is swept; the other groups train at a fixed LR."""
    out = _lr_sweep("burgers")
    # the candidate on 9 learning rates around its optima and its first four seeds (runs shared with the search)
    out["quick"] = dict(_candidate(quick_name), parametrizations=["sp", "mup"], seeds=[0, 1, 2, 3],
                        lr={"start": -2.5, "stop": -1.5, "per_decade": 8})
    fixed = out["quick"]["train"]["lr_fixed"]
    for p in ("smoke", "paper"):
        out[p] = copy.deepcopy(out[p])
        out[p]["train"] = {**out[p]["train"], "lr_group": "spectral", "lr_fixed": fixed}
    return out


EXPERIMENTS["burgers_lr_spectral"] = _spectral_split(QUICK_CHOICE["burgers_spectral"])

# notebook 10's quick sweeps: three seeds on a window around burgers_lr's optima (subsets of its runs)
_LIMITS_LR = {"start": -2.375, "stop": -1.625, "per_decade": 8}
_LIMITS_LR_WIDE = {"start": -2.5, "stop": -1.5, "per_decade": 8}  # K = 2 … 4 spans a wider range of optima

EXPERIMENTS.update({
    # notebook 1: a two-minute demo on a laptop (a small Burgers model, two K, one seed)
    "overview_demo": _burgers_variant(
        quick={"data": {"resolution": 128}, "model": {"width": 16, "projection_width": 64}, "K": [3, 64],
               "lr": {"start": -3.0, "stop": -1.5, "per_decade": 4}, "seeds": [0], "train": {"steps": 200}},
        paper={"K": [3, 128], "seeds": [0]},
    ),
    # notebook 10, limits: very small K; no clipping (compare with burgers_lr's clip = 0.01)
    "burgers_small_K": _burgers_variant(quick={"K": [2, 3, 4], "seeds": [0, 1, 2], "lr": _LIMITS_LR_WIDE},
                                        paper={"K": [2, 3, 4, 6]}),
    "burgers_noclip": _burgers_variant(
        smoke={"train": {"clip": None}}, quick={"seeds": [0, 1, 2], "lr": _LIMITS_LR, "train": {"clip": None}},
        paper={"K": [3, 512], "train": {"clip": None}},
    ),
    # notebook 10, limits: width and K together (μP-FNO scales K only; run once per width)
    "burgers_width": _burgers_variant(smoke={"parametrizations": ["mup"]},
                                      quick={"seeds": [0, 1, 2], "lr": _LIMITS_LR, "parametrizations": ["mup"]},
                                      paper={"K": [3, 512], "parametrizations": ["mup"]}),
})

WIDTHS = {"smoke": [4, 8], "quick": [16, 32], "paper": [32, 64, 128]}


def experiment_config(name: str, preset: str) -> dict[str, Any]:
    """The sweep config (a dict for :meth:`mufno_lite.sweep.SweepConfig.from_dict`) of an experiment."""
    from .presets import resolve_preset

    if name not in EXPERIMENTS:
        raise ValueError(f"experiment must be one of {sorted(EXPERIMENTS)}; got experiment={name!r}")
    p = resolve_preset(preset)
    cfg = copy.deepcopy(EXPERIMENTS[name][p])
    cfg["name"] = f"{name}@{p}"
    cfg.setdefault("base_K", 3)
    cfg.setdefault("max_population_size", 64)
    cfg.setdefault("device", "auto")
    return cfg


def default_executor(preset: str, device: str | None):
    """All local cores for real sweeps on a CPU (one process per core, one torch thread each);
    in-process for ``smoke`` (CI) and on a GPU.  ``$MUFNO_WORKERS`` sets the process count."""
    import os

    workers = int(os.environ.get("MUFNO_WORKERS", os.cpu_count() or 1))
    if preset == "smoke" or workers < 2 or (device or "cpu").startswith("cuda"):
        return None
    if device in (None, "auto"):
        import torch

        if torch.cuda.is_available():
            return None
    from .pool_executor import LocalPoolExecutor

    return LocalPoolExecutor(workers=workers, threads=1)


def run_experiment(name: str, session=None, *, preset: str | None = None, store=None, device: str | None = None,
                   progress: bool | None = None, overrides: dict | None = None, verbose: bool = True, executor="auto"):
    """Run (or resume) an experiment's sweep and return its results table.

    Runs already in the store are not trained again.  ``overrides`` replaces top-level keys of the
    config (e.g. ``{"K": [3, 64]}``) for exploration; the sweep name then gets a ``+custom`` suffix.
    ``executor="auto"`` trains populations in one process per core on a CPU (see
    :func:`default_executor`); pass ``None`` for in-process.
    """
    from .presets import resolve_preset
    from .sweep import SweepConfig, run_sweep, sweep_results

    preset = preset or (session.preset if session is not None else "auto")
    store = store or (session.results_store if session is not None else None)
    device = device or (session.device if session is not None else None)
    cfg = experiment_config(name, preset)
    if overrides:
        cfg.update(copy.deepcopy(overrides))
        cfg["name"] += "+custom"
    config = SweepConfig.from_dict(cfg)
    if executor == "auto":
        executor = default_executor(resolve_preset(preset), device)
    report = run_sweep(config, store, device=device, progress=progress, handle_signals=False, verbose=verbose,
                       executor=executor)
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
                print(f"error: {exc}")
                return 2
            print(df.groupby(["parametrization", "K", "status"]).size().to_string())
            if df["lr"].nunique() > 1 and (df["status"] == "done").any():
                print(drift_summary(optimum_table(df)).to_string(index=False))
            return 0

        return run

    return _configure


SUMMARY_METRICS = ("tail_train_loss", "final_train_loss", "test_rel_l2")


def summarize(store, preset: str | None = None, *, n_boot: int = 2000, ci: float = 0.90, rng_seed: int = 0,
              metrics=SUMMARY_METRICS):
    """Optimum per (experiment, parametrization, K) and the drift across K, for every experiment
    sweep in the store (optionally one preset), per metric (``tail_train_loss`` is added to the
    results from the training curves).  Returns (optima, drift) DataFrames.

    The drift table has :func:`~mufno_lite.analysis.drift_summary`'s columns plus the paired
    bootstrap over seeds of :func:`~mufno_lite.analysis.bootstrap_drift` (fitted optimum):
    ``n_seeds``, ``opt_at_K_min``, ``opt_at_K_max``, ``drift`` (= ``fit_drift_steps`` unrounded),
    ``drift_lo``, ``drift_hi``, ``predicted_drift`` (LR sweeps only), ``edge_K_min``,
    ``edge_K_max``, ``n_boot``, ``n_boot_nan``, ``ci`` and ``verdict``."""
    import pandas as pd

    from .analysis import add_tail_loss, bootstrap_drift, drift_summary, optimum_table
    from .presets import PRESETS
    from .store import ResultsStore

    st = store if isinstance(store, ResultsStore) else ResultsStore(store)
    optima, drifts = [], []
    boot_cols = ["n_seeds", "opt_at_K_min", "opt_at_K_max", "drift", "drift_lo", "drift_hi", "predicted_drift",
                 "edge_K_min", "edge_K_max", "n_boot", "n_boot_nan", "ci", "verdict"]
    by = ("pde", "parametrization")
    for sweep in st.sweep_names():
        name, _, p = sweep.partition("@")
        if name not in EXPERIMENTS or p not in PRESETS or (preset and p != preset):
            continue
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
            drifts.append(d.assign(sweep=sweep, x=x, metric=metric))
    if not optima:
        raise ValueError(f"no experiment sweeps{' for preset ' + preset if preset else ''} in the store {st.path}")
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

            try:
                optima, drift = summarize(resolve_store_path(args.store), args.preset, n_boot=args.n_boot,
                                          rng_seed=args.seed, metrics=(args.metric,))
            except ValueError as exc:
                print(f"error: {exc}")
                return 2
            o = optima[optima["metric"] == args.metric]
            d = drift[drift["metric"] == args.metric]
            print(f"metric: {args.metric}; optimum (grid) per K:")
            print(o.pivot_table(index=["sweep", "K"], columns="parametrization", values="best_x").to_string(float_format=lambda v: f"{v:.3g}"))
            print()
            print("drift of the fitted optimum from K_min to K_max, grid steps (paired bootstrap over seeds):")
            print(_format_drift_table(d))
            return 0

        return run

    return _configure
