"""The K-coordinate check: what μP promises, measured.

mup's coordinate check trains networks of growing *width* for a few steps and plots the size of
every layer's activations; under μP they stay flat.  Here the scaled dimension is the number of
Fourier modes K.  For each K and parametrization, an FNO takes a few Adam steps on one fixed batch
and we record, per module and per step:

``act_rms``
    root-mean-square entry of the module's output (the lifting, each Fourier layer after its
    activation, the projection output);
``act_delta_rms``
    RMS of the change of that output since step 0 (how far training has moved the features);
``R_opnorm`` (Fourier layers only)
    operator norm of the kernel integral: the maximum over kept modes of the spectral norm of the
    m×m block of R (by Parseval, the norm of K as an operator on band-limited L² functions);
``dR_opnorm``
    the same for the update R_t − R_0;
``dR_entry``
    the largest real or imaginary entry of R_t − R_0.  After one Adam step this is exactly
    lr·c(K) (Adam's first update is ±lr per real coordinate), a closed form the tests check.

The result is a tidy pandas table with one row per (K, parametrization, seed, module, step,
statistic); :func:`plot_coord_check` draws SP beside μP.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch

from .fno import FNO, FNOConfig, max_modes
from .parametrization import Parametrization, as_parametrization, make_optimizer

__all__ = ["coord_check", "coord_check_summary", "kernel_opnorm", "plot_coord_check", "STATISTICS"]

STATISTICS = ("act_rms", "act_delta_rms", "R_opnorm", "dR_opnorm", "dR_entry")


def kernel_opnorm(weight: torch.Tensor) -> float:
    """max over kept modes of the spectral norm of the m×m block of a spectral weight.

    ``weight`` has the stored layout of :class:`mufno_lite.fno.SpectralConv` (corners, K, …, K,
    in, out), without a member axis: every trailing (in, out) matrix is one mode's block.
    """
    w = weight.detach()
    cin, cout = w.shape[-2:]
    blocks = w.reshape(-1, cin, cout)
    return float(torch.linalg.matrix_norm(blocks.to(torch.complex128), ord=2).max())


def _rms(t: torch.Tensor) -> float:
    return float(t.detach().double().pow(2).mean().sqrt())


def _default_grid(d: int, Kmax: int) -> tuple[int, ...]:
    n = 2 * Kmax
    while any(Kmax > max_modes(n, axis == d - 1) for axis in range(d)):
        n += 1
    return (n,) * d


def coord_check(
    Ks: Sequence[int],
    parametrizations: Iterable = ("sp", "mup"),
    *,
    d: int = 1,
    width: int = 64,
    n_layers: int = 4,
    steps: int = 3,
    lr: float = 1e-2,
    batch_size: int = 8,
    grid: Sequence[int] | None = None,
    seeds: Sequence[int] = (0,),
    optimizer: str = "adam",
    clip: float | None = None,
    base_K: int = 3,
    progress=None,
    inputs="white",
    targets=None,
):
    """Run the K-coordinate check and return a tidy :class:`pandas.DataFrame`.

    Parameters
    ----------
    Ks : sequence of int
        Numbers of Fourier modes to compare.
    parametrizations : iterable of str or Parametrization
        Usually ``("sp", "mup")``; strings get ``base_K``.
    d, width, n_layers : int
        FNO architecture (the paper: width 64, 4 layers).
    steps : int
        Adam steps taken on the fixed batch (rows for steps 0 … steps).
    lr : float
        Base learning rate (the spectral group gets lr·c(K)).
    grid : sequence of int, optional
        Grid of the fixed batch; default the smallest grid allowing max(Ks) on every axis.
    seeds : sequence of int
        Seeds for the model initialisation (the batch is fixed by seed 12345).
    inputs : "white" or tensor
        ``"white"`` (default): a fixed batch of white noise, equal energy in every Fourier mode, the
        worst case the theory is built on.  A tensor of shape ``(B, 1, n_1, …, n_d)``: these inputs
        (e.g. samples of a data set, with the data's decaying spectrum); the grid is theirs.  The
        rows record which (column ``inputs``: ``"white noise"`` or ``"data"``).
    targets : tensor, optional
        Targets for the data inputs (same shape); default the same smooth nonlinear target as for
        white noise (the input low-passed and squared).
    """
    import pandas as pd

    Ks = [int(K) for K in Ks]
    if not Ks:
        raise ValueError("Ks must list at least one K")
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got steps={steps!r}")
    pars = [
        as_parametrization(p) if not isinstance(p, str) else Parametrization(p, base_K=base_K)
        for p in parametrizations
    ]
    if isinstance(inputs, str):
        if inputs != "white":
            raise ValueError(f"inputs must be 'white' or a tensor of shape (B, 1, *grid); got inputs={inputs!r}")
        grid = tuple(grid) if grid is not None else _default_grid(d, max(Ks))
        gen = torch.Generator().manual_seed(12345)
        x = torch.randn(batch_size, 1, *grid, generator=gen)
        kind = "white noise"
    else:
        x = torch.as_tensor(inputs, dtype=torch.float32)
        if x.dim() != d + 2 or x.shape[1] != 1:
            raise ValueError(f"inputs must have shape (B, 1, {', '.join(['n'] * d)}) for d={d}; got {tuple(x.shape)}")
        grid = tuple(x.shape[2:])
        if any(max(Ks) > max_modes(n, axis == d - 1) for axis, n in enumerate(grid)):
            raise ValueError(f"inputs grid {grid} is too small for K={max(Ks)}")
        kind = "data"
    if targets is not None:
        target = torch.as_tensor(targets, dtype=torch.float32)
        if target.shape != x.shape:
            raise ValueError(f"targets must have the inputs' shape {tuple(x.shape)}; got {tuple(target.shape)}")
    else:
        # a smooth fixed target: the input low-passed and squared (nonlinear, resolvable by every K)
        xf = torch.fft.rfftn(x, dim=tuple(range(2, 2 + d)))
        target = torch.fft.irfftn(xf * _lowpass(grid), s=grid, dim=tuple(range(2, 2 + d)))
        target = target**2 - target.pow(2).mean()

    rows = []
    total = len(Ks) * len(pars) * len(seeds)
    done = 0
    for par in pars:
        for K in Ks:
            for seed in seeds:
                model = FNO(FNOConfig(d=d, K=K, width=width, n_layers=n_layers), parametrization=par, seed=seed)
                rows += [dict(r, inputs=kind) for r in _check_one(model, x, target, steps, lr, optimizer, clip, par, seed)]
                done += 1
                if progress is not None:
                    progress(done, total)
    return pd.DataFrame(rows)


def _lowpass(grid):
    freqs = [torch.fft.fftfreq(n, 1.0 / n) for n in grid[:-1]] + [torch.fft.rfftfreq(grid[-1], 1.0 / grid[-1])]
    mesh = torch.meshgrid(*freqs, indexing="ij")
    k2 = sum(f**2 for f in mesh)
    return (k2 <= 4.0).to(torch.float32)


def _check_one(model, x, target, steps, lr, optimizer, clip, par, seed):
    from .parametrization import clip_grad_elementwise_

    names = ["lifting"] + [f"layer{i + 1}" for i in range(len(model.layers))] + ["projection"]
    modules = [model.lifting, *model.layers, model.projection2]
    acts: dict[str, torch.Tensor] = {}
    hooks = [
        m.register_forward_hook(lambda mod, inp, out, name=name: acts.__setitem__(name, out.detach()))
        for name, m in zip(names, modules)
    ]
    opt = make_optimizer(model, lr, optimizer=optimizer)
    R0 = [w.detach().clone() for w in model.spectral_parameters()]
    act0: dict[str, torch.Tensor] = {}
    rows = []
    base = {"K": model.K, "d": model.d, "width": model.config.width, "parametrization": par.kind, "seed": seed}

    def record(step):
        for name in names:
            a = acts[name]
            rows.append({**base, "module": name, "step": step, "statistic": "act_rms", "value": _rms(a)})
            if step > 0:
                rows.append({**base, "module": name, "step": step, "statistic": "act_delta_rms", "value": _rms(a - act0[name])})
        for i, (w, w0) in enumerate(zip(model.spectral_parameters(), R0)):
            name = f"layer{i + 1}"
            rows.append({**base, "module": name, "step": step, "statistic": "R_opnorm", "value": kernel_opnorm(w)})
            if step > 0:
                dw = w.detach() - w0
                rows.append({**base, "module": name, "step": step, "statistic": "dR_opnorm", "value": kernel_opnorm(dw)})
                rows.append({**base, "module": name, "step": step, "statistic": "dR_entry", "value": float(torch.view_as_real(dw).abs().max())})

    try:
        for step in range(steps + 1):
            opt.zero_grad(set_to_none=True)
            out = model(x)
            if step == 0:
                act0.update(acts)
            record(step)
            if step == steps:
                break
            loss = (out - target).pow(2).mean()
            loss.backward()
            if clip is not None:
                clip_grad_elementwise_(model.parameters(), clip)
            opt.step()
    finally:
        for h in hooks:
            h.remove()
    return rows


def plot_coord_check(df, *, step: int | None = None, statistics: Sequence[str] | None = None, title: str | None = None):
    """SP beside μP: one row of panels per statistic, x = K (log scale), one line per module.

    Values are averaged over seeds.  ``step`` defaults to the last recorded step.
    """
    import matplotlib.pyplot as plt

    if df.empty:
        raise ValueError("the coordinate-check table is empty")
    step = int(df["step"].max()) if step is None else step
    statistics = list(statistics) if statistics is not None else [s for s in STATISTICS if s in set(df["statistic"])]
    pars = list(dict.fromkeys(df["parametrization"]))
    sub = df[df["step"] == step]
    fig, axes = plt.subplots(len(statistics), len(pars), figsize=(4.2 * len(pars), 2.6 * len(statistics)), squeeze=False, sharex=True)
    modules = list(dict.fromkeys(df["module"]))
    cmap = plt.get_cmap("viridis")
    for r, stat in enumerate(statistics):
        lo, hi = np.inf, -np.inf
        for c, par in enumerate(pars):
            ax = axes[r][c]
            s = sub[(sub["statistic"] == stat) & (sub["parametrization"] == par)]
            for j, mod in enumerate(modules):
                m = s[s["module"] == mod].groupby("K")["value"].mean()
                if m.empty:
                    continue
                ax.plot(m.index, m.values, "o-", ms=3, color=cmap(j / max(1, len(modules) - 1)), label=mod)
                lo, hi = min(lo, m.values.min()), max(hi, m.values.max())
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_title(f"{'SP' if par == 'sp' else 'μP'} · {stat} · step {step}", fontsize=9)
            if r == len(statistics) - 1:
                ax.set_xlabel("K (Fourier modes per axis)")
        if np.isfinite(lo):
            for c in range(len(pars)):
                axes[r][c].set_ylim(lo / 1.3, hi * 1.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def coord_check_summary(df, step: int | None = None):
    """Growth of each statistic from the smallest to the largest K, per parametrization.

    For every (parametrization, statistic, module) the value at max K divided by the value at
    min K (seed means), at ``step`` (default: the last).  A ratio near 1 means "stays flat in K".
    Returns a DataFrame indexed by (statistic, module) with one column per parametrization, plus
    a row ``mean`` per statistic (geometric mean over modules).
    """
    import pandas as pd

    step = int(df["step"].max()) if step is None else step
    sub = df[df["step"] == step]
    means = sub.groupby(["parametrization", "statistic", "module", "K"])["value"].mean().reset_index()
    kmin, kmax = means["K"].min(), means["K"].max()
    lo = means[means["K"] == kmin].set_index(["parametrization", "statistic", "module"])["value"]
    hi = means[means["K"] == kmax].set_index(["parametrization", "statistic", "module"])["value"]
    ratio = (hi / lo).rename("growth").reset_index()
    table = ratio.pivot_table(index=["statistic", "module"], columns="parametrization", values="growth")
    geo = ratio.assign(lg=np.log(ratio["growth"])).groupby(["statistic", "parametrization"])["lg"].mean().apply(np.exp)
    geo = geo.reset_index().assign(module="mean (geometric)").pivot_table(index=["statistic", "module"], columns="parametrization", values="lg")
    out = pd.concat([table, geo]).sort_index()
    out.columns.name = f"growth K={kmin}→{kmax}"
    return out
