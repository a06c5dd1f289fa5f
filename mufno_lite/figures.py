"""Saving figures under deterministic names, with a manifest.

Every figure a notebook makes is written by :func:`save_figure` as PNG and SVG into the figures
directory and recorded in ``manifest.json`` beside it: the notebook, the preset, the git commit and
the figure's key numbers (e.g. the optimal learning rate per K).

Where figures go (:func:`figures_dir`):

* ``$MUFNO_FIGURES_DIR`` when set: exactly that directory.  ``reproduce`` sets it for the notebooks
  it runs: ``runs/<UTC time>-<preset>/figures`` by default, the committed ``figures/`` only with
  ``--update-figures``.
* Otherwise (a student running a notebook in JupyterLab): ``runs/interactive-<preset>/figures``
  under :func:`mufno_lite.paths.workspace_root` (the checkout's root when the notebook runs inside
  the checkout, else the working directory).  The committed ``figures/`` is never written by default.

:func:`committed_figures_dir` is the committed layout: ``figures/`` for ``quick`` and
``figures/<preset>/`` for the other presets.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from .paths import repo_root, workspace_root

__all__ = ["figures_dir", "committed_figures_dir", "save_figure", "read_manifest", "plot_hparam_curves", "plot_optimum_vs_K", "plotly_hparam_curves",
           "plot_spectra"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


_repo_root = repo_root  # the old private name


FIGURES_ENV = "MUFNO_FIGURES_DIR"


def committed_figures_dir(preset: str = "quick") -> Path:
    """The committed figures: ``<checkout>/figures`` for ``quick``, ``figures/<preset>`` otherwise
    (an installed package: under the working directory)."""
    repo = _repo_root()
    root = (repo if repo is not None else Path.cwd()) / "figures"
    return root if preset == "quick" else root / preset


def figures_dir(preset: str = "quick", *, cwd: Path | str | None = None) -> Path:
    """Where :func:`save_figure` writes: ``$MUFNO_FIGURES_DIR`` (exactly), else
    ``<workspace>/runs/interactive-<preset>/figures`` (see the module docstring)."""
    env = os.environ.get(FIGURES_ENV)
    if env:
        path = Path(env).expanduser()
        return path if path.is_absolute() else (Path(cwd) if cwd is not None else Path.cwd()) / path
    return workspace_root(cwd) / "runs" / f"interactive-{preset}" / "figures"


class SavedFigure(list):
    """The paths :func:`save_figure` wrote (a list), shown as one short line in a notebook."""

    def __repr__(self) -> str:
        if not self:
            return "saved nothing"
        first = Path(self[0])
        try:
            where = first.parent.resolve().relative_to(Path.cwd().resolve())
            where = where.as_posix() if str(where) != "." else "."
        except ValueError:
            where = first.parent.as_posix()
        exts = ", ".join(Path(p).suffix for p in self[1:])
        return f"saved {where}/{first.name}" + (f", {exts}" if exts else "")

    __str__ = __repr__


def _git_commit() -> str | None:
    repo = _repo_root()
    if repo is None:
        return None
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / "manifest.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_figure(fig, name: str, *, preset: str = "quick", notebook: str | None = None, key_numbers: dict | None = None,
                formats=("png", "svg"), directory: Path | None = None, dpi: int = 130) -> SavedFigure:
    """Write a matplotlib figure as ``<name>.png`` and ``<name>.svg`` and record it in the manifest.

    Output is deterministic for identical figures (no dates in the metadata, a fixed SVG hash salt).
    Returns the paths written as a :class:`SavedFigure` (a list whose repr is one short line,
    ``saved runs/…/figures/<name>.png, .svg``).
    """
    import matplotlib

    if not _NAME.match(name):
        raise ValueError(f"name must be letters, digits, '_', '.', '-' (no path); got name={name!r}")
    out_dir = Path(directory) if directory is not None else figures_dir(preset)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with matplotlib.rc_context({"svg.hashsalt": "mufno_lite", "svg.fonttype": "none"}):
        for fmt in formats:
            path = out_dir / f"{name}.{fmt}"
            meta = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".tmp-", suffix=f".{fmt}")
            os.close(fd)
            try:
                fig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta, bbox_inches="tight")
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            paths.append(path)
    manifest = read_manifest(out_dir)
    manifest[name] = {
        "files": [p.name for p in paths],
        "notebook": notebook,
        "preset": preset,
        "commit": _git_commit(),
        "saved_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "key_numbers": _jsonable(key_numbers or {}),
    }
    _atomic_write_text(out_dir / "manifest.json", json.dumps(dict(sorted(manifest.items())), indent=2, sort_keys=True) + "\n")
    return SavedFigure(paths)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):
        try:
            return obj.item()
        except (ValueError, RuntimeError):
            pass
    if isinstance(obj, float) and obj != obj:
        return None
    return obj


# ---------------------------------------------------------------------------------------------
# figures of the results table
# ---------------------------------------------------------------------------------------------

_PAR_TITLE = {"sp": "SP (standard)", "mup": "μP"}
_AXIS_LABEL = {"lr": "learning rate", "batch_size": "batch size", "beta2": "1 − β₂ (Adam; β₂ = 0.9 … 0.999)"}


def _axis(x: str, values):
    """Plot coordinate of a hyperparameter: Adam's β₂ is shown as 1 − β₂ on a log axis."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    return 1.0 - v if x == "beta2" else v


def _curve_frame(df, x, metric):
    import numpy as np

    d = df.copy()
    ok = (d["status"] == "done") & np.isfinite(d[metric].astype(float))
    d["_y"] = d[metric].astype(float).where(ok)
    return d


def plot_hparam_curves(df, *, x: str = "lr", metrics=("final_train_loss", "test_rel_l2"), title: str | None = None,
                       parametrizations=("sp", "mup"), opt=None, intervals=None, drift=None, offscale_factor: float = 30.0):
    """Loss against a hyperparameter, one curve per K, SP beside μP (the paper's Figures 1-3).

    Each curve is the seed mean; the band spans the seeds' min to max; a star marks the optimum per K
    (from :func:`mufno_lite.analysis.optimum_table`); an ``x`` on the top edge marks grid values where
    a seed diverged.  Rows: metrics; columns: parametrizations.  ``intervals``: a table of
    :func:`mufno_lite.analysis.bootstrap_optima` for the first metric, drawn as a horizontal bar
    (the optimum's 90% bootstrap interval) through a diamond at the fitted optimum.  ``drift``: a
    table of :func:`mufno_lite.analysis.bootstrap_drift`; each column's title then states the
    measured drift with its interval next to the theory's prediction.

    Style (:mod:`mufno_lite.style`): plain-decimal learning-rate ticks that never collide, integer
    ticks at the swept values for batch size, the legend right of the last column, stars above
    bands and lines (later K's stars smaller, so coinciding ones stay visible), and a K whose best
    loss is more than ``offscale_factor`` × the panel row's best left out of the y range and named
    in a note under the panel.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from . import style
    from .analysis import metric_label, optimum_table

    if df.empty:
        raise ValueError("the results table is empty: nothing to plot")
    pars = [p for p in parametrizations if p in set(df["parametrization"])]
    Ks = sorted(df["K"].unique())
    cmap = plt.get_cmap("plasma")
    colors = {K: cmap(0.1 + 0.75 * i / max(1, len(Ks) - 1)) for i, K in enumerate(Ks)}
    fig, axes = plt.subplots(len(metrics), len(pars), figsize=(4.6 * len(pars) + 0.9, 3.3 * len(metrics)), squeeze=False,
                             sharex=True)
    for r, metric in enumerate(metrics):
        d = _curve_frame(df, x, metric)
        table = optimum_table(df, x=x, metric=metric, by=("parametrization", "K"))
        # off-scale K: best seed-mean loss far above the row's best (one y range per metric row)
        best_of = {}
        for K in Ks:
            t = table[table["K"] == K]["best_metric"]
            best_of[K] = float(np.nanmin(t.to_numpy(dtype=float))) if len(t) and np.isfinite(t).any() else np.nan
        off = style.offscale(best_of, offscale_factor)
        drawn = d[~d["K"].isin(off)]
        finite = drawn["_y"].dropna()
        ylo, yhi = (finite.min(), finite.quantile(0.95)) if len(finite) else (1e-3, 1)
        for c, par in enumerate(pars):
            ax = axes[r][c]
            for i, K in enumerate(Ks):
                g = d[(d["parametrization"] == par) & (d["K"] == K)]
                if g.empty or K in off:
                    continue
                stats = g.groupby(x)["_y"].agg(["mean", "min", "max"])
                xs = _axis(x, stats.index.to_numpy(dtype=float))
                ax.plot(xs, stats["mean"], "-o", ms=2.5, lw=1.3, color=colors[K], label=f"K={K}", zorder=style.Z["line"])
                ax.fill_between(xs, stats["min"], stats["max"], color=colors[K], alpha=0.15, lw=0, zorder=style.Z["band"])
                best = table[(table["parametrization"] == par) & (table["K"] == K)]
                if not best.empty and np.isfinite(best["best_metric"].iloc[0]):
                    ax.plot(_axis(x, best["best_x"].to_numpy(dtype=float)), best["best_metric"], "*",
                            ms=style.star_size(i, len(Ks)), color=colors[K], mec="k", mew=0.6, zorder=style.Z["star"] + i)
                if intervals is not None and r == 0:
                    iv = intervals[(intervals["parametrization"] == par) & (intervals["K"] == K)]
                    if not iv.empty and np.isfinite(iv["opt"].iloc[0]) and np.isfinite(stats["mean"].min()):
                        o, lo, hi = (float(iv[c].iloc[0]) for c in ("opt", "opt_lo", "opt_hi"))
                        yb = float(stats["mean"].min()) / 1.12
                        ax.errorbar([o], [yb], xerr=[[max(o - lo, 0.0)], [max(hi - o, 0.0)]], fmt="D", ms=4,
                                    color=colors[K], mec="k", mew=0.5, capsize=3, lw=1.2, zorder=style.Z["marker"])
                div = g[g["status"] == "diverged"][x].unique()
                if len(div):
                    ax.plot(_axis(x, np.asarray(div, dtype=float)), [yhi * 1.4] * len(div), "x", color=colors[K], ms=5,
                            clip_on=False, zorder=style.Z["marker"])
            ax.set_yscale("log")
            ax.set_ylim(ylo / 1.25, yhi * 1.6)
            style.note_excluded(ax, [f"K={K}" for K in off], {f"K={K}": best_of[K] for K in off})
            head = f"{_PAR_TITLE.get(par, par)}"
            if drift is not None and r == 0:
                dr = drift[drift["parametrization"] == par]
                if not dr.empty and np.isfinite(dr["drift"].iloc[0]):
                    q = dr.iloc[0]
                    theory = f"; theory {q['predicted_drift']:+.1f}" if np.isfinite(q["predicted_drift"]) else ""
                    head += (f"\ndrift {q['drift']:+.1f} steps [{q['drift_lo']:+.1f}, {q['drift_hi']:+.1f}]{theory}"
                             f"\n{q['verdict']}")
            ax.set_title(head, fontsize=9 if drift is not None else 10)
            if c == 0:
                ax.set_ylabel(metric_label(metric), fontsize=8)
            if r == len(metrics) - 1:
                ax.set_xlabel(_AXIS_LABEL.get(x, x))
        style.legend_outside(axes[r][-1])
    for ax in axes.flat:  # after all data: the shared x axis knows its full range
        if x == "batch_size":
            style.int_axis(ax, df[x].dropna().unique(), "x")
        else:
            style.lr_axis(ax, "x")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    style.finish(fig)
    return fig


def plot_optimum_vs_K(optima, slope=None, *, title: str | None = None, parametrizations=("sp", "mup"), ax=None):
    """The optimal learning rate against K (the paper's picture of the drift): per parametrization
    the fitted optimum per K with its bootstrap interval (a table of
    :func:`mufno_lite.analysis.bootstrap_optima`), SP beside μP on one axis, and theory's line
    through SP's first point (slope −1 in log lr against log √(log K); μP's is flat through its
    first point).  ``slope``: a table of :func:`mufno_lite.analysis.bootstrap_slope`; the legend then
    states each measured slope with its interval beside theory's."""
    import matplotlib.pyplot as plt
    import numpy as np

    from . import style
    from .analysis.slope import log_sqrt_log_K, THEORY_SLOPE

    if optima.empty:
        raise ValueError("the optima table is empty: nothing to plot")
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.4, 3.8))
    colors = {"sp": "#c0392b", "mup": "#2471a3"}
    pars = [p for p in parametrizations if p in set(optima["parametrization"])]
    Ks_all = np.sort(optima["K"].unique())
    for j, par in enumerate(pars):
        g = optima[optima["parametrization"] == par].sort_values("K")
        Ks = g["K"].to_numpy(dtype=float) * (1 + 0.025 * (j - (len(pars) - 1) / 2))  # side by side
        o = g["opt"].to_numpy(dtype=float)
        lo = np.maximum(o - g["opt_lo"].to_numpy(dtype=float), 0.0)
        hi = np.maximum(g["opt_hi"].to_numpy(dtype=float) - o, 0.0)
        label = _PAR_TITLE.get(par, par)
        if slope is not None:
            r = slope[slope["parametrization"] == par]
            if not r.empty and np.isfinite(r["slope"].iloc[0]):
                q = r.iloc[0]
                label += (f": slope {q['slope']:+.2f} [{q['slope_lo']:+.2f}, {q['slope_hi']:+.2f}]"
                          f" (theory {q['theory_slope']:+.0f})")
        ax.errorbar(Ks, o, yerr=[lo, hi], fmt="o-", ms=5, lw=1.2, capsize=3, color=colors.get(par), label=label,
                    zorder=style.Z["marker"])
        ok = np.isfinite(o)
        if ok.any() and par in THEORY_SLOPE:
            K0, o0 = float(g["K"].to_numpy(dtype=float)[ok][0]), float(o[ok][0])
            Kl = np.geomspace(Ks_all.min(), Ks_all.max(), 50)
            line = o0 * 10 ** (THEORY_SLOPE[par] * (log_sqrt_log_K(Kl) - log_sqrt_log_K([K0])[0]))
            ax.plot(Kl, line, "--", lw=1, color=colors.get(par), alpha=0.7, zorder=style.Z["line"],
                    label=f"theory, {_PAR_TITLE.get(par, par)} (slope {THEORY_SLOPE[par]:+.0f})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    style.int_axis(ax, Ks_all, "x")
    style.lr_axis(ax, "y")
    ax.set_xlabel("K (Fourier modes kept)")
    ax.set_ylabel("optimal learning rate (fitted)")
    if title:
        ax.set_title(title, fontsize=10)
    style.legend_outside(ax, fontsize=7)
    if fig is not None:
        fig.tight_layout()
        style.finish(fig)
    return fig if fig is not None else ax.figure


def plotly_hparam_curves(df, *, x: str = "lr", metric: str = "final_train_loss", title: str | None = None,
                         parametrizations=("sp", "mup"), variant: str | None = None):
    """Interactive version of :func:`plot_hparam_curves` for one metric: hover shows each run's
    config (K, lr, seed, batch size, β₂, steps) and metrics.

    ``variant``: a column whose values split the runs of one K into separate curves (different
    configurations, never averaged), drawn with different dash styles and named in the legend
    (``K=8 · width=4``).  Stars (the optimum per curve) are drawn after all curves, so no curve
    covers them; integer hyperparameters (batch size) get ticks at the swept values."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from .analysis import metric_label, optimum_table

    if df.empty:
        raise ValueError("the results table is empty: nothing to plot")
    pars = [p for p in parametrizations if p in set(df["parametrization"])]
    fig = make_subplots(rows=1, cols=len(pars), subplot_titles=[_PAR_TITLE.get(p, p) for p in pars], shared_yaxes=True)
    d = _curve_frame(df, x, metric)
    if variant is None:
        d = d.assign(_variant="")
        variant_col = "_variant"
    else:
        variant_col = variant
    by = ("parametrization", "K", variant_col)
    table = optimum_table(d, x=x, metric=metric, by=by)
    Ks = sorted(df["K"].unique())
    variants = sorted(set(d[variant_col]))
    dashes = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
    import plotly.colors as pc

    palette = pc.sample_colorscale("Plasma", [0.1 + 0.75 * i / max(1, len(Ks) - 1) for i in range(len(Ks))])
    stars = []
    for c, par in enumerate(pars, 1):
        for i, K in enumerate(Ks):
            for j, var in enumerate(variants):
                g = d[(d["parametrization"] == par) & (d["K"] == K) & (d[variant_col] == var)]
                if g.empty:
                    continue
                name = f"K={K}" + (f" · {var}" if var else "")
                group = f"K{K}|{var}"
                mean = g.groupby(x)["_y"].mean()
                fig.add_trace(go.Scatter(x=_axis(x, mean.index.to_numpy(dtype=float)), y=mean.values, mode="lines",
                                         line=dict(color=palette[i], dash=dashes[j % len(dashes)]), name=name,
                                         legendgroup=group, showlegend=c == 1, hoverinfo="skip"), row=1, col=c)
                hover = [
                    f"K={r.K} · {par} · lr={r.lr:.3g} · seed={r.seed}<br>batch={r.batch_size} · β₂={r.beta2} · steps={r.steps}"
                    + (f"<br>{var}" if var else "")
                    + f"<br>train loss={r.final_train_loss:.4g} · test rel L2={r.test_rel_l2:.4g}<br>status={r.status} · run {str(r.run_id)[:10]}"
                    for r in g.itertuples()
                ]
                fig.add_trace(go.Scatter(x=_axis(x, g[x].to_numpy(dtype=float)), y=g["_y"], mode="markers",
                                         marker=dict(color=palette[i], size=5, opacity=0.6), legendgroup=group, showlegend=False,
                                         text=hover, hoverinfo="text"), row=1, col=c)
                best = table[(table["parametrization"] == par) & (table["K"] == K) & (table[variant_col] == var)]
                if not best.empty:
                    stars.append((c, go.Scatter(
                        x=_axis(x, best["best_x"].to_numpy(dtype=float)), y=best["best_metric"], mode="markers",
                        marker=dict(symbol="star", size=16 - 6 * i / max(1, len(Ks) - 1), color=palette[i],
                                    line=dict(width=1, color="black")),
                        legendgroup=group, showlegend=False, hovertext=f"optimum {name}: {x}={best['best_x'].iloc[0]:.3g}",
                        hoverinfo="text")))
        if x == "batch_size":
            vals = sorted(int(v) for v in d[x].dropna().unique())
            fig.update_xaxes(type="log", tickmode="array", tickvals=vals, ticktext=[str(v) for v in vals],
                             title_text=_AXIS_LABEL.get(x, x), row=1, col=c)
        else:
            fig.update_xaxes(type="log", title_text=_AXIS_LABEL.get(x, x), row=1, col=c)
    for c, trace in stars:  # last: above every curve
        fig.add_trace(trace, row=1, col=c)
    fig.update_yaxes(type="log", title_text=metric_label(metric), row=1, col=1)
    fig.update_layout(title=title, height=420, width=460 * len(pars), template="plotly_white")
    return fig


# ---------------------------------------------------------------------------------------------
# Fourier energy spectra
# ---------------------------------------------------------------------------------------------


def plot_spectra(spectra, Ks=(), ax=None, title: str | None = None):
    """Energy per shell (normalised to total energy, log scale), one line per label.

    ``spectra`` maps a label to a spectrum from :mod:`mufno_lite.spectra` (entry ``s - 1`` is the
    energy of shell ``s``, the smallest K that keeps the mode).  A dotted vertical line at
    ``K + 1/2`` for each K of ``Ks`` separates the shells a K-mode layer keeps (left) from those it
    removes (right), labelled "K=…".  Shells with zero energy are not drawn.  The legend sits
    outside the axes, to the right.  Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if not spectra:
        raise ValueError("spectra is empty: give at least one {label: spectrum}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
    else:
        fig = ax.figure
    lo = np.inf
    for label, e in spectra.items():
        e = np.asarray(e, dtype=float)
        total = e.sum()
        if e.ndim != 1 or not total > 0:
            raise ValueError(f"spectrum {label!r} must be a 1-D array with positive total energy")
        y = e / total
        y = np.where(y > 0, y, np.nan)
        ax.plot(np.arange(1, len(e) + 1), y, "-", lw=1.3, label=str(label))
        if np.isfinite(y).any():
            lo = min(lo, np.nanmin(y))
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlabel("shell (smallest K keeping the mode)")
    ax.set_ylabel("energy fraction per shell")
    for K in Ks:
        ax.axvline(K + 0.5, color="0.35", ls=":", lw=1)
        ax.text(K + 0.5, 1.0, f"K={K}", transform=ax.get_xaxis_transform(), rotation=90, ha="right", va="top",
                fontsize=7, color="0.3")
    if np.isfinite(lo):
        ax.set_ylim(max(lo, 1e-30) / 3, 3.0)
    from . import style

    style.legend_outside(ax, fontsize=8)
    if title:
        ax.set_title(title)
    style.int_axis(ax, [k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if k <= max(len(e) for e in spectra.values())]
                   + [int(k) for k in Ks], "x")
    style.declutter(ax, "x")
    return fig

