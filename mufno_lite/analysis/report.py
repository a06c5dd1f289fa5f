"""Sentences for notebooks: the drift and the transfer in words, and the optima the paper reports."""

from __future__ import annotations

import math


#: Optima the paper reports (learning rates of Adam; its own μP normalisation, see the README).
PAPER_REPORTED = {
    "navier_stokes": {"sp": {3: 1.8e-3, 24: 7.4e-4}, "mup": {"all K": 4.2e-3}},
    "darcy": {"sp": "shifts clearly with K", "mup": "stable across K"},
    "darcy_pino": {"mup": {"all K": 5.6e-3}},
    "darcy_batch": {"mup": {"all K": 20}, "sp": "moves with K"},
    "darcy_beta2": {"mup": {"all K": 0.98}, "sp": "moves with K"},
    "burgers": {"sp": "drifts with K (K = 3 to 512)", "mup": "stable"},
}


def _num(v: float, fmt: str = "+.1f") -> str:
    if not math.isfinite(v):
        return "n/a"
    text = format(v, fmt)
    return "0" if float(text) == 0 else text.replace("-", "−")


def _row_name(r: dict, several_pdes: bool) -> str:
    """A table row's subject in a sentence: "SP", "μP", prefixed by the PDE when the table holds several."""
    name = {"sp": "SP", "mup": "μP"}.get(r.get("parametrization"), str(r.get("parametrization", "")))
    return f"{r['pde']} {name}" if several_pdes else name


def describe_drift(boot, x_label: str = "learning rate") -> str:
    """One short sentence per row of :func:`bootstrap_drift`'s table, e.g. "SP: the optimal learning
    rate moved −2.3 steps from K=3 to K=128 (90% interval −3.1 to −1.2; theory −2.6; 5 seeds):
    moves as predicted." """
    lines = []
    several_pdes = "pde" in boot.columns and boot["pde"].nunique() > 1
    for r in boot.to_dict("records"):
        name = _row_name(r, several_pdes)
        ci = int(round(100 * float(r.get("ci", 0.9))))
        theory = f"; theory {_num(r['predicted_drift'])}" if math.isfinite(float(r.get("predicted_drift", float("nan")))) else ""
        edges = [f"K={r[k]}" for k, e in (("K_min", "edge_K_min"), ("K_max", "edge_K_max")) if r.get(e)]
        edge = f" (optimum at the grid edge at {' and '.join(edges)})" if edges else ""
        lines.append(
            f"{name}: the optimal {x_label} moved {_num(r['drift'])} steps from K={r['K_min']} to K={r['K_max']} "
            f"({ci}% interval {_num(r['drift_lo'])} to {_num(r['drift_hi'])}{theory}; {r['n_seeds']} seed"
            f"{'s' if r['n_seeds'] != 1 else ''}): {r['verdict']}{edge}."
        )
    return "\n".join(lines)


def describe_slope(slope, x_label: str = "learning rate") -> str:
    """One sentence per row of :func:`~mufno_lite.analysis.bootstrap_slope`'s table, e.g. "SP: the
    optimal learning rate's slope against log √(log K) over K = 3, 8, 24, 64 is −0.42 (90% interval
    −0.80 to −0.04; theory −1, a bound with one LR; 4 seeds): falls with K." """
    lines = []
    several_pdes = "pde" in slope.columns and slope["pde"].nunique() > 1
    for r in slope.to_dict("records"):
        name = _row_name(r, several_pdes)
        ci = int(round(100 * float(r.get("ci", 0.9))))
        theory = _num(float(r["theory_slope"]), "+.0f")
        if r.get("parametrization") == "sp" and r.get("lr_group", "all") == "all":
            theory += ", a bound with one LR"
        Ks = ", ".join(str(k) for k in r["Ks"])
        edge = f" (optimum at the grid edge at K={', '.join(str(k) for k in r['edge_Ks'])})" if r.get("edge_Ks") else ""
        lines.append(
            f"{name}: the optimal {x_label}'s slope against log √(log K) over K = {Ks} is {_num(r['slope'], '+.2f')} "
            f"({ci}% interval {_num(r['slope_lo'], '+.2f')} to {_num(r['slope_hi'], '+.2f')}; theory {theory}; "
            f"{r['n_seeds']} seed{'s' if r['n_seeds'] != 1 else ''}): {r['verdict']}{edge}."
        )
    return "\n".join(lines)


def describe_transfer(drift, x_label: str = "learning rate") -> str:
    """One plain sentence per parametrization, computed from :func:`drift_summary`'s table, or, for
    a table with bootstrap intervals (:func:`bootstrap_drift`, or :func:`mufno_lite.experiments.summarize`'s
    drift table), the short sentences of :func:`describe_drift`."""
    if "drift_lo" in drift.columns:
        return describe_drift(drift, x_label=x_label)
    lines = []
    for r in drift.itertuples():
        name = "SP" if r.parametrization == "sp" else "μP"
        spread = r.fit_seed_spread_steps
        noise = (f"{'resolved beyond' if r.fit_resolved else 'within'} the seed spread ({spread:.2f} steps)"
                 if spread == spread else "one seed: noise not assessable")
        move = "no move on the grid" if r.drift_steps == 0 else f"{r.drift_steps:+g} grid steps"
        lines.append(f"{name}: optimal {x_label} {r.best_at_K_min:.3g} (K={r.K_min}) → {r.best_at_K_max:.3g} "
                     f"(K={r.K_max}): {move}, fitted {r.fit_drift_steps:+.2f}; {noise}.")
    return "\n".join(lines)


def _steps(n: float) -> str:
    n = float(n)
    word = "step" if abs(n) == 1 else "steps"
    return f"{abs(n):g} grid {word}" if n == int(n) else f"{abs(n):.2f} grid steps"


def describe_direction(drift, x_label: str = "learning rate") -> str:
    """Which way each parametrization's optimum moved, and whether that is the paper's picture.

    ``drift`` is :func:`drift_summary`'s table (uses ``drift_steps``, the move on the grid) or
    :func:`bootstrap_drift`'s (uses ``drift``, the fitted move, and its interval).  The paper's
    picture: SP's optimum moves down (to a smaller value) as K grows while μP's stays.  With
    intervals, "moves down" needs the interval below 0 and "stays" the interval to contain 0;
    without, a move of at least one grid step counts and μP must move less than one.
    """
    rows = {r["parametrization"]: r for r in drift.to_dict("records")}
    if not {"sp", "mup"} <= set(rows):
        raise ValueError(f"drift must have an 'sp' and a 'mup' row; it has {sorted(rows)}")
    sp, mu = rows["sp"], rows["mup"]
    boot = "drift_lo" in drift.columns

    def move(r) -> tuple[float, str]:
        v = float(r["drift"] if boot else r["drift_steps"])
        if v == 0 or not math.isfinite(v):
            return v, "did not move" if v == 0 else "could not be located"
        return v, f"moved {_steps(v)} {'down' if v < 0 else 'up'}"

    (vs, ws), (vm, wm) = move(sp), move(mu)
    if boot:
        sp_down = float(sp["drift_hi"]) < 0
        mu_stays = float(mu["drift_lo"]) <= 0 <= float(mu["drift_hi"])
    else:
        sp_down, mu_stays = vs <= -1, abs(vm) < 1
    shows = "shows" if sp_down and mu_stays else "does not show"
    return (f"From K={sp['K_min']} to K={sp['K_max']}, SP's best {x_label} {ws} and μP's {wm}: this run {shows} "
            f"the paper's picture (SP's optimum moves down, μP's stays).")
