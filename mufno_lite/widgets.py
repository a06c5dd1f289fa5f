"""Interactive explorers for notebooks: the results table, and a live SP-vs-μP mini-training.

Two classes, both ipywidgets front-ends over library functions:

* :class:`ResultsExplorer` draws the learning-rate curves of a results store
  (:func:`mufno_lite.figures.plotly_hparam_curves`) for a chosen PDE, sweep, parametrization(s),
  set of K, metric and hyperparameter on the x axis, with the optimum per K
  (:func:`mufno_lite.analysis.optimum_table`) and its drift across K in a table beside the plot.
* :class:`LiveTraining` trains a tiny FNO under SP and one under μP (same seed, same batches) for a
  few dozen steps at the learning rate and K the student picks, and draws both loss curves.

Decisions
---------
* **How figures reach the browser.**  plotly ≥ 6 builds ``go.FigureWidget`` on ``anywidget``,
  which is not a dependency of this project.  Instead each figure is an ordinary ``go.Figure``
  placed into an ``ipywidgets.Output`` as a display item of MIME type
  ``application/vnd.plotly.v1+json``; JupyterLab draws it with the ``jupyterlab-plotly``
  renderer that ships inside the ``plotly`` wheel (as do VS Code and nteract).  A change of a
  control replaces the whole plot; the current figure is always available as ``.figure``.
* **Testable without a browser.**  Every control change goes through one method
  (:meth:`ResultsExplorer.select`, :meth:`LiveTraining.train`) that tests can call directly; the
  widget callbacks only forward to them.  Nothing needs a running kernel.
* **Fixing the other hyperparameters.**  When the x axis is not the learning rate, a curve
  over (say) batch size is only meaningful at one learning rate, so every *other* swept
  hyperparameter (one with more than one value) gets a dropdown that fixes it; its default is
  the middle value of its grid.
* **Errors in callbacks** (which ipywidgets would only log to the browser console) are shown in
  the explorer's status line instead.
* **LiveTraining data**: :func:`mufno_lite.data.load_dataset` at a low resolution (Burgers at 32
  points: about a second to generate, then cached), loaded on the first click.  One click trains
  two models of width 32, 4 layers for 60 steps: 1–2 s on one CPU thread (Burgers; Darcy at 16×16
  and K = 8: about 4 s).  The drawn curve averages the batch loss over pairs of steps.  At ``K == base_K``
  μP *is* SP, so both curves coincide exactly there.
"""
from __future__ import annotations

import html
import json
import math
from contextlib import contextmanager
from typing import Mapping, Sequence

import numpy as np

from .presets import LIVE_TRAINING

__all__ = ["ResultsExplorer", "LiveTraining", "HPARAMS", "plotly_bundle"]

#: hyperparameters that can go on the explorer's x axis (where the table varies them)
HPARAMS = ("lr", "batch_size", "beta2", "init_scale")
_HPARAM_LABEL = {"lr": "learning rate", "batch_size": "batch size", "beta2": "Adam β₂", "init_scale": "init scale"}
_PAR_LABEL = {"sp": "SP", "mup": "μP"}
_ALL = "(all)"


def plotly_bundle(fig) -> dict:
    """The display bundle of a plotly figure for JupyterLab's plotly renderer (plus a text fallback)."""
    spec = json.loads(fig.to_json())
    spec["config"] = {"displaylogo": False, "responsive": True}
    n = len(spec.get("data", []))
    return {
        "application/vnd.plotly.v1+json": spec,
        "text/plain": f"<plotly figure: {n} traces; needs JupyterLab (or VS Code) with plotly's renderer>",
    }


def _show(out, fig) -> None:
    """Replace the contents of an ``ipywidgets.Output`` with one plotly figure."""
    out.outputs = ({"output_type": "display_data", "data": plotly_bundle(fig), "metadata": {}},)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.3g}"
    return str(v)


def _small_table(df, columns: Sequence[str], headers: Sequence[str]) -> str:
    head = "".join(f"<th style='padding:2px 6px'>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td style='padding:2px 6px;text-align:right'>{html.escape(_fmt(r[c]))}</td>" for c in columns) + "</tr>"
        for _, r in df.iterrows()
    )
    return f"<table style='border-collapse:collapse;font-size:12px'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _middle(values):
    vals = sorted(values)
    return vals[(len(vals) - 1) // 2]


def _clean(v):
    """numpy / pandas scalars as plain Python numbers (for widget options)."""
    if hasattr(v, "item"):
        v = v.item()
    return v


# ===============================================================================================
# the results explorer
# ===============================================================================================


class ResultsExplorer:
    """Learning-rate (or other hyperparameter) curves of a results table, with filters.

    Parameters
    ----------
    source : ResultsStore, str, PathLike or pandas.DataFrame
        A store (re-read by :meth:`reload` and the *Reload* button) or a table shaped like
        :func:`mufno_lite.store.load_results`'s (at least ``pde, parametrization, K, seed,
        status`` and the metric and hyperparameter columns).
    pde, sweep, parametrizations, Ks, metric, x
        Initial selection (see :meth:`select`); defaults: the first PDE, all sweeps, every
        parametrization and K present, ``final_train_loss`` against ``lr``.

    Attributes
    ----------
    widget : ipywidgets.Widget
        The explorer (also shown by just evaluating the object in a notebook).
    figure : plotly.graph_objects.Figure
        The figure now shown.
    optimum : pandas.DataFrame or None
        The optimum table now shown (one row per parametrization and K).
    data : pandas.DataFrame
        The rows the figure is drawn from (after every filter).
    """

    METRICS = ("final_train_loss", "test_rel_l2")

    def __init__(self, source, *, pde: str | None = None, sweep: str | None = None, parametrizations=None, Ks=None,
                 metric: str = "final_train_loss", x: str = "lr"):
        import ipywidgets as W
        import pandas as pd

        self._store = None
        if isinstance(source, pd.DataFrame):
            table = source.copy()
        else:
            from .store import ResultsStore, load_results

            self._store = source if isinstance(source, ResultsStore) else ResultsStore(source)
            table = load_results(self._store)
        self._check_metric(metric)
        self._check_x_name(x)
        self._busy = False
        self.figure = None
        self.optimum = None
        self.data = None

        style = {"description_width": "92px"}

        def wide():  # one Layout per widget: a shared one would hide them all together
            return W.Layout(width="250px")

        self.controls = {
            "pde": W.Dropdown(description="PDE", style=style, layout=wide()),
            "sweep": W.Dropdown(description="sweep", style=style, layout=wide()),
            "parametrizations": W.SelectMultiple(description="SP / μP", rows=2, style=style, layout=wide()),
            "Ks": W.SelectMultiple(description="K", rows=5, style=style, layout=wide()),
            "metric": W.Dropdown(description="metric", options=[(m, m) for m in self.METRICS], value=metric,
                                 style=style, layout=wide()),
            "x": W.Dropdown(description="x axis", style=style, layout=wide()),
        }
        self.fixed = {h: W.Dropdown(description=f"at {h}", style=style, layout=wide()) for h in HPARAMS}
        for name, w in list(self.controls.items()) + [(f"fixed_{h}", w) for h, w in self.fixed.items()]:
            w.add_class(f"mufno-{name.replace('_', '-').lower()}")
        self._status = W.HTML(layout=W.Layout(width="250px"))
        self._reload = W.Button(description="Reload", icon="refresh", tooltip="re-read the results store",
                                layout=W.Layout(width="120px", display="" if self._store is not None else "none"))
        self._out = W.Output(layout=W.Layout(min_width="480px"))
        self._out.add_class("mufno-explorer-figure")
        self._table = W.HTML(layout=W.Layout(min_width="260px"))
        self._table.add_class("mufno-explorer-optimum")
        left = W.VBox([self.controls["pde"], self.controls["sweep"], self.controls["parametrizations"], self.controls["Ks"],
                       self.controls["metric"], self.controls["x"], *self.fixed.values(), self._reload, self._status])
        self.widget = W.HBox([left, self._out, self._table], layout=W.Layout(flex_flow="row wrap", align_items="flex-start"))
        self.widget.add_class("mufno-explorer")

        self._set_table(table)
        initial = dict(pde=pde, sweep=sweep, parametrizations=parametrizations, Ks=Ks, metric=metric, x=x)
        self.select(**{k: v for k, v in initial.items() if v is not None})
        for w in list(self.controls.values()) + list(self.fixed.values()):
            w.observe(self._on_change, names="value")
        self._reload.on_click(lambda _b: self._guard(self.reload))

    # ---- validation --------------------------------------------------------------------------
    def _check_metric(self, metric):
        if metric not in self.METRICS:
            raise ValueError(f"metric must be one of {list(self.METRICS)}; got metric={metric!r}")

    @staticmethod
    def _check_x_name(x):
        if x not in HPARAMS:
            raise ValueError(f"x must be one of {list(HPARAMS)}; got x={x!r}")

    # ---- data --------------------------------------------------------------------------------
    def _set_table(self, table) -> None:
        need = ("pde", "parametrization", "K", "seed", "status", "lr", *self.METRICS)
        missing = [c for c in need if c not in table.columns]
        if missing:
            raise ValueError(f"the results table lacks columns {missing}; it has {list(table.columns)}")
        if table.empty:
            raise ValueError("the results table is empty: nothing to explore (run a sweep first)")
        self.table = table.reset_index(drop=True)
        pdes = sorted(str(p) for p in self.table["pde"].dropna().unique())
        with self._quiet():
            keep = self.controls["pde"].value
            self.controls["pde"].options = pdes
            self.controls["pde"].value = keep if keep in pdes else pdes[0]
            self._refresh_options()

    def reload(self) -> None:
        """Re-read the store (new runs of a sweep in progress appear) and redraw."""
        if self._store is None:
            raise ValueError("reload needs an explorer built from a ResultsStore or a path, not a DataFrame")
        from .store import load_results

        self._set_table(load_results(self._store))
        self.update()

    def _sweep_names(self, df):
        if "sweeps" not in df.columns:
            return []
        return sorted({s for v in df["sweeps"] if isinstance(v, (list, tuple)) for s in v})

    def _base_rows(self):
        """Rows of the chosen PDE and sweep."""
        t = self.table
        t = t[t["pde"].astype(str) == self.controls["pde"].value]
        sweep = self.controls["sweep"].value
        if sweep not in (None, _ALL):
            t = t[[isinstance(v, (list, tuple)) and sweep in v for v in t["sweeps"]]]
        return t

    def _varied(self, df) -> list[str]:
        """Hyperparameters with more than one value among ``df``'s rows (lr always counts)."""
        out = []
        for h in HPARAMS:
            if h in df.columns and (h == "lr" or df[h].dropna().nunique() > 1):
                out.append(h)
        return out

    def _refresh_options(self) -> None:
        """Options of every control from the rows of the chosen PDE and sweep (selection kept where possible)."""
        c = self.controls
        t = self.table[self.table["pde"].astype(str) == c["pde"].value]
        sweeps = [_ALL] + self._sweep_names(t)
        keep = c["sweep"].value
        c["sweep"].options = sweeps
        c["sweep"].value = keep if keep in sweeps else _ALL
        base = self._base_rows()
        pars = [p for p in ("sp", "mup") if p in set(base["parametrization"])]
        pars += sorted(set(map(str, base["parametrization"].dropna())) - set(pars))
        had_all = set(c["parametrizations"].value) == {v for _, v in c["parametrizations"].options}
        keep = [] if had_all else [p for p in c["parametrizations"].value if p in pars]
        c["parametrizations"].options = [(_PAR_LABEL.get(p, p), p) for p in pars]
        c["parametrizations"].value = tuple(keep or pars)
        Ks = sorted(int(k) for k in base["K"].dropna().unique())
        had_all = set(c["Ks"].value) == {v for _, v in c["Ks"].options}  # all selected: new K join in
        keep = [] if had_all else [k for k in c["Ks"].value if k in Ks]
        c["Ks"].options = [(str(k), k) for k in Ks]
        c["Ks"].value = tuple(keep or Ks)
        varied = self._varied(base)
        keep = c["x"].value
        c["x"].options = [(_HPARAM_LABEL[h], h) for h in varied]
        c["x"].value = keep if keep in varied else "lr"
        self._refresh_fixed(base)

    def _refresh_fixed(self, base=None) -> None:
        base = self._base_rows() if base is None else base
        x = self.controls["x"].value
        for h, w in self.fixed.items():
            vals = sorted(_clean(v) for v in base[h].dropna().unique()) if h in base.columns else []
            if h == x or len(vals) < 2:
                w.layout.display = "none"
                w.options, w.value = [], None
                continue
            keep = w.value
            w.options = [(_fmt(v), v) for v in vals]
            w.value = keep if keep in vals else _middle(vals)
            w.layout.display = ""

    # ---- selection and drawing ---------------------------------------------------------------
    @contextmanager
    def _quiet(self):
        was, self._busy = self._busy, True
        try:
            yield
        finally:
            self._busy = was

    def _guard(self, fn, *args):
        try:
            fn(*args)
        except Exception as e:  # shown to the student instead of vanishing into the browser console
            self._status.value = f"<span style='color:#b00'>{html.escape(type(e).__name__)}: {html.escape(str(e))}</span>"

    def _on_change(self, change) -> None:
        if self._busy:
            return

        def apply():
            with self._quiet():
                if change["owner"] in (self.controls["pde"], self.controls["sweep"]):
                    self._refresh_options()
                elif change["owner"] is self.controls["x"]:
                    self._refresh_fixed()
            self.update()

        self._guard(apply)

    def select(self, *, pde: str | None = None, sweep: str | None = None, parametrizations=None, Ks=None,
               metric: str | None = None, x: str | None = None, fixed: Mapping | None = None):
        """Change the selection (as the controls would) and redraw; returns ``self.figure``.

        Parameters
        ----------
        pde : str
            One of the PDEs in the table.
        sweep : str
            A sweep name, or ``"(all)"``.
        parametrizations : sequence of str
            Subset of the parametrizations present (``"sp"``, ``"mup"``).
        Ks : sequence of int
            Subset of the K values present.
        metric : {"final_train_loss", "test_rel_l2"}
        x : {"lr", "batch_size", "beta2", "init_scale"}
            Must be varied in the chosen rows.
        fixed : dict
            Values of the *other* varied hyperparameters, e.g. ``{"lr": 1e-3}`` when ``x="batch_size"``.
        """
        c = self.controls
        with self._quiet():
            if pde is not None:
                opts = list(c["pde"].options)
                if pde not in opts:
                    raise ValueError(f"pde must be one of {opts}; got pde={pde!r}")
                c["pde"].value = pde
                self._refresh_options()
            if sweep is not None:
                opts = list(c["sweep"].options)
                if sweep not in opts:
                    raise ValueError(f"sweep must be one of {opts}; got sweep={sweep!r}")
                c["sweep"].value = sweep
                self._refresh_options()
            if parametrizations is not None:
                pars = [parametrizations] if isinstance(parametrizations, str) else list(parametrizations)
                opts = [v for _, v in c["parametrizations"].options]
                bad = [p for p in pars if p not in opts]
                if bad or not pars:
                    raise ValueError(f"parametrizations must be a non-empty subset of {opts}; got parametrizations={parametrizations!r}")
                c["parametrizations"].value = tuple(pars)
            if Ks is not None:
                ks = [Ks] if isinstance(Ks, (int, np.integer)) else list(Ks)
                opts = [v for _, v in c["Ks"].options]
                bad = [k for k in ks if k not in opts]
                if bad or not ks:
                    raise ValueError(f"Ks must be a non-empty subset of {opts}; got Ks={Ks!r}")
                c["Ks"].value = tuple(int(k) for k in ks)
            if metric is not None:
                self._check_metric(metric)
                c["metric"].value = metric
            if x is not None:
                self._check_x_name(x)
                opts = [v for _, v in c["x"].options]
                if x not in opts:
                    raise ValueError(f"x must be a hyperparameter varied in the selected runs, one of {opts}; got x={x!r}")
                c["x"].value = x
                self._refresh_fixed()
            for h, v in (fixed or {}).items():
                if h not in self.fixed or self.fixed[h].layout.display == "none":
                    shown = [k for k, w in self.fixed.items() if w.layout.display != "none"]
                    raise ValueError(f"fixed hyperparameter must be one of {shown}; got {h!r}")
                opts = [o for _, o in self.fixed[h].options]
                match = [o for o in opts if np.isclose(float(o), float(v), rtol=1e-9, atol=0)]
                if not match:
                    raise ValueError(f"fixed {h} must be one of {opts}; got {h}={v!r}")
                self.fixed[h].value = match[0]
        self.update()
        return self.figure

    def selection(self) -> dict:
        """The current selection as a dict (the arguments of :meth:`select`)."""
        c = self.controls
        return dict(pde=c["pde"].value, sweep=c["sweep"].value, parametrizations=tuple(c["parametrizations"].value),
                    Ks=tuple(c["Ks"].value), metric=c["metric"].value, x=c["x"].value,
                    fixed={h: w.value for h, w in self.fixed.items() if w.layout.display != "none"})

    def update(self):
        """Redraw the figure and the optimum table from the current selection; returns the figure."""
        import plotly.graph_objects as go

        from .analysis import metric_label, optimum_table
        from .figures import plotly_hparam_curves

        sel = self.selection()
        d = self._base_rows()
        d = d[d["parametrization"].isin(sel["parametrizations"]) & d["K"].isin(sel["Ks"])]
        for h, v in sel["fixed"].items():
            d = d[np.isclose(d[h].astype(float), float(v), rtol=1e-9, atol=0)]
        self.data = d
        metric, x = sel["metric"], sel["x"]
        title = f"{sel['pde']} · {metric_label(metric)}"
        if sel["fixed"]:
            title += " · " + ", ".join(f"{h}={_fmt(v)}" for h, v in sel["fixed"].items())
        if d.empty:
            fig = go.Figure()
            fig.add_annotation(text="no runs match this selection", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
            fig.update_layout(title=title, height=380, width=480, template="plotly_white")
            self.figure, self.optimum = fig, None
            self._table.value = "<i>no runs</i>"
            self._status.value = "0 runs"
            _show(self._out, fig)
            return fig
        fig = plotly_hparam_curves(d, x=x, metric=metric, title=title, parametrizations=tuple(sel["parametrizations"]))
        npar = len({p for p in d["parametrization"]})
        fig.update_layout(width=max(480, 400 * npar), height=400, margin=dict(l=60, r=20, t=70, b=50))
        self.figure = fig
        opt = optimum_table(d, x=x, metric=metric, by=("parametrization", "K"))
        self.optimum = opt
        self._table.value = self._optimum_html(opt, x)
        n_div = int((d["status"] == "diverged").sum())
        n_fail = int((d["status"] == "failed").sum())
        n_seeds = d["seed"].nunique()
        self._status.value = (f"{len(d)} runs ({n_seeds} seed{'s' if n_seeds != 1 else ''})" + (f", {n_div} diverged" if n_div else "")
                              + (f", {n_fail} failed" if n_fail else ""))
        _show(self._out, fig)
        return fig

    @staticmethod
    def _optimum_html(opt, x) -> str:
        from .analysis import drift_summary

        t = opt.copy()
        t["parametrization"] = [_PAR_LABEL.get(p, p) for p in t["parametrization"]]
        t["edge"] = ["at grid edge" if e else "" for e in t["edge"]]
        parts = ["<b>optimum per K</b>",
                 _small_table(t, ["parametrization", "K", "best_x", "best_metric", "n_seeds", "n_diverged", "edge"],
                              ["", "K", f"best {x}", "value there", "seeds", "diverged", ""])]
        if t["K"].nunique() > 1:
            dr = drift_summary(opt, by=("parametrization",))
            dr["parametrization"] = [_PAR_LABEL.get(p, p) for p in dr["parametrization"]]
            parts += ["<br><b>drift of the optimum</b> (grid steps, largest K − smallest K)",
                      _small_table(dr, ["parametrization", "K_min", "K_max", "drift_steps", "median_seed_spread_steps"],
                                   ["", "K from", "to", "drift", "seed spread"])]
        return "<div style='padding-left:8px'>" + "".join(parts) + "</div>"

    # ---- display -----------------------------------------------------------------------------
    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


# ===============================================================================================
# live training
# ===============================================================================================

_LIVE_DEFAULTS = LIVE_TRAINING  # data per PDE (sizes live in mufno_lite.presets)


class LiveTraining:
    """Train a tiny FNO under SP and one under μP side by side, at a learning rate and K of your choice.

    Both models start from the same seed and see the same batches; they differ only in the
    parametrization of the spectral weights (μP scales their init and Adam learning rate by
    ``sqrt(log base_K / log K)``), so at ``K == base_K`` the two curves are identical and as K grows
    they separate.

    Parameters
    ----------
    pde : {"burgers", "darcy"}
        Data from :func:`mufno_lite.data.load_dataset` (loaded on the first training, cached).
    resolution, n_train, n_test : int
        Data size (default resolution: 32 for Burgers, 16 for Darcy).
    width, n_layers, projection_width : int
        The FNO.
    base_K : int
        μP's base: μP equals SP at this K.
    K, log10_lr, steps : initial slider values.
    batch_size : int
    seed : int
        Model seed (the batch order uses ``data_seed = seed``).
    schedule : str
        LR schedule of :class:`mufno_lite.train.TrainConfig`.
    dataset : PDEDataset-like, optional
        Use these tensors instead of loading (tests).
    device : str
    pde_params : dict, optional
        Extra arguments of ``load_dataset`` (default for Burgers: ``nu=0.1``).

    Attributes
    ----------
    widget, figure
        The widget, and the plotly figure of the last training.
    last : dict or None
        ``{"sp": RunResult, "mup": RunResult}`` of the last training.
    history : list of dict
        One row per parametrization and click: K, lr, steps, parametrization, status, losses.
    """

    PDES = tuple(_LIVE_DEFAULTS)

    def __init__(self, pde: str = "burgers", *, resolution: int | None = None, n_train: int = 64, n_test: int = 16,
                 width: int = 32, n_layers: int = 4, projection_width: int = 64, base_K: int = 3, K: int = 8,
                 log10_lr: float = -2.0, steps: int = 60, batch_size: int = 16, seed: int = 0, schedule: str = "cosine",
                 dataset=None, device: str = "cpu", pde_params: Mapping | None = None):
        import ipywidgets as W

        if pde not in self.PDES:
            raise ValueError(f"pde must be one of {list(self.PDES)}; got pde={pde!r}")
        for name, v, lo in (("n_train", n_train, 1), ("n_test", n_test, 1), ("width", width, 1), ("n_layers", n_layers, 1),
                            ("projection_width", projection_width, 1), ("base_K", base_K, 2), ("batch_size", batch_size, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}; got {name}={v!r}")
        if batch_size > n_train:
            raise ValueError(f"batch_size must not exceed n_train={n_train}; got batch_size={batch_size!r}")
        from .fno import max_modes

        spec = _LIVE_DEFAULTS[pde]
        self.pde = pde
        self.resolution = int(resolution or spec["resolution"])
        self.max_K = max(2, min(spec["max_K"], max_modes(self.resolution, last_axis=(pde == "burgers"))))
        self.n_train, self.n_test = n_train, n_test
        self.width, self.n_layers, self.projection_width = width, n_layers, projection_width
        self.base_K, self.batch_size, self.seed, self.schedule, self.device = base_K, batch_size, seed, schedule, device
        self.pde_params = dict(spec["pde_params"] if pde_params is None else pde_params)
        self._dataset = dataset
        self.figure = None
        self.last = None
        self.history: list[dict] = []
        self._check(K=K, log10_lr=log10_lr, steps=steps)

        style = {"description_width": "110px"}
        self.sliders = {
            "log10_lr": W.FloatSlider(value=log10_lr, min=-4.0, max=0.0, step=0.25, description="log₁₀ LR",
                                      readout_format=".2f", continuous_update=False, style=style, layout=W.Layout(width="360px")),
            "K": W.IntSlider(value=K, min=2, max=self.max_K, description="K (modes)", continuous_update=False,
                             style=style, layout=W.Layout(width="360px")),
            "steps": W.IntSlider(value=steps, min=10, max=300, step=10, description="steps", continuous_update=False,
                                 style=style, layout=W.Layout(width="360px")),
        }
        for k, w in self.sliders.items():
            w.add_class(f"mufno-live-{k.replace('_', '-').lower()}")
        self.keep = W.Checkbox(value=False, description="keep earlier curves", indent=False)
        self.button = W.Button(description="Train", button_style="primary", icon="play")
        self.button.add_class("mufno-live-train")
        self._status = W.HTML()
        self._out = W.Output(layout=W.Layout(min_width="560px"))
        self._out.add_class("mufno-live-figure")
        self._table = W.HTML()
        self.button.on_click(self._on_click)
        controls = W.VBox([*self.sliders.values(), W.HBox([self.button, self.keep]), self._status])
        self.widget = W.VBox([controls, W.HBox([self._out, self._table], layout=W.Layout(flex_flow="row wrap"))])
        self.widget.add_class("mufno-live")

    def _check(self, *, K, log10_lr, steps):
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or not 2 <= K <= self.max_K:
            raise ValueError(f"K must be an integer in [2, {self.max_K}] (resolution {self.resolution}); got K={K!r}")
        if isinstance(log10_lr, bool) or not isinstance(log10_lr, (int, float)) or not -6 <= log10_lr <= 1:
            raise ValueError(f"log10_lr must be a number in [-6, 1]; got log10_lr={log10_lr!r}")
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= 5000:
            raise ValueError(f"steps must be an integer in [1, 5000]; got steps={steps!r}")

    @property
    def dataset(self):
        """The training data (loaded and cached on first use)."""
        if self._dataset is None:
            from .data import load_dataset

            self._dataset = load_dataset(self.pde, resolution=self.resolution, n_train=self.n_train, n_test=self.n_test,
                                         seed=self.seed, device=self.device, **self.pde_params)
        return self._dataset

    def train(self, K: int | None = None, log10_lr: float | None = None, steps: int | None = None) -> dict:
        """Train SP and μP at (K, 10**log10_lr) for ``steps`` steps and redraw (sliders' values by default).

        Returns ``{"sp": RunResult, "mup": RunResult}``.
        """
        from .fno import FNO, FNOConfig
        from .parametrization import Parametrization
        from .train import TrainConfig, train_model

        s = self.sliders
        K = int(s["K"].value) if K is None else K
        log10_lr = float(s["log10_lr"].value) if log10_lr is None else log10_lr
        steps = int(s["steps"].value) if steps is None else steps
        self._check(K=K, log10_lr=log10_lr, steps=steps)
        K, steps, lr = int(K), int(steps), float(10.0 ** log10_lr)
        data = self.dataset
        d = data.x_train.dim() - 2
        cfg = FNOConfig(d=d, K=K, width=self.width, n_layers=self.n_layers, in_channels=data.x_train.shape[1],
                        out_channels=data.y_train.shape[1], projection_width=self.projection_width)
        tc = TrainConfig(steps=steps, batch_size=self.batch_size, lr=lr, schedule=self.schedule, data_seed=self.seed,
                         curve_points=max(1, steps // 2))  # mean of 2 steps per point: less batch noise
        results = {}
        for par in ("sp", "mup"):
            self._status.value = f"training {_PAR_LABEL[par]} (K={K}, lr={lr:.3g}, {steps} steps)…"
            model = FNO(cfg, parametrization=Parametrization(par, base_K=self.base_K), seed=self.seed)
            results[par] = train_model(model, data, tc, device=self.device)
        self.last = results
        for par, r in results.items():
            self.history.append(dict(K=K, lr=lr, steps=steps, parametrization=par, status=r.status,
                                     final_train_loss=r.final_train_loss, test_rel_l2=r.test_rel_l2,
                                     diverged_at_step=r.diverged_at_step, curve=[list(p) for p in r.train_curve]))
        self._draw(K, lr)
        sp, mu = results["sp"], results["mup"]
        same = sp.train_curve == mu.train_curve
        self._status.value = (f"K={K}, lr={lr:.3g}: final loss SP {_fmt(sp.final_train_loss)} ({sp.status}), "
                              f"μP {_fmt(mu.final_train_loss)} ({mu.status})" + (" — identical: K = base_K" if same else ""))
        return results

    def _on_click(self, _button=None) -> None:
        self.button.disabled = True
        self.button.description = "Training…"
        try:
            self.train()
        except Exception as e:
            self._status.value = f"<span style='color:#b00'>{html.escape(type(e).__name__)}: {html.escape(str(e))}</span>"
        finally:
            self.button.disabled = False
            self.button.description = "Train"

    def _draw(self, K, lr) -> None:
        import plotly.graph_objects as go

        colors = {"sp": "#1f77b4", "mup": "#d62728"}
        fig = go.Figure()
        runs = self.history if self.keep.value else self.history[-2:]
        n = len(runs)
        for i, row in enumerate(runs):
            current = i >= n - 2
            par = row["parametrization"]
            steps_, vals = zip(*row["curve"]) if row["curve"] else ((), ())
            label = f"{_PAR_LABEL[par]} K={row['K']} lr={row['lr']:.3g}"
            fig.add_trace(go.Scatter(x=list(steps_), y=list(vals), mode="lines", name=label if current else f"{label} (earlier)",
                                     line=dict(color=colors[par], width=2.2 if current else 1, dash="solid" if par == "sp" else "dash"),
                                     opacity=1.0 if current else 0.35, meta="current" if current else "earlier"))
            if row["status"] == "diverged" and row["diverged_at_step"]:
                fig.add_trace(go.Scatter(x=[row["diverged_at_step"]], y=[vals[-1] if vals else 1.0], mode="markers",
                                         marker=dict(symbol="x", size=12, color=colors[par]), showlegend=False,
                                         hovertext=f"{label}: diverged at step {row['diverged_at_step']}", hoverinfo="text",
                                         meta="diverged"))
        fig.update_yaxes(type="log", title_text="training loss (relative L2)")
        fig.update_xaxes(title_text="step")
        fig.update_layout(title=f"{self.pde}: SP vs μP at K={K}, lr={lr:.3g} (μP = SP at K={self.base_K})",
                          width=620, height=380, template="plotly_white", margin=dict(l=60, r=20, t=50, b=50),
                          legend=dict(font=dict(size=10)))
        self.figure = fig
        _show(self._out, fig)
        import pandas as pd

        def cell(row):
            return "diverged" if row["status"] == "diverged" else row["final_train_loss"]

        clicks = [dict(K=a["K"], lr=a["lr"], steps=a["steps"], sp=cell(a), mup=cell(b))
                  for a, b in zip(self.history[0::2], self.history[1::2])]
        table = pd.DataFrame(clicks[::-1][:12])
        self._table.value = ("<div style='padding-left:8px'><b>final training loss, latest clicks first</b>"
                             + _small_table(table, ["K", "lr", "steps", "sp", "mup"], ["K", "lr", "steps", "SP", "μP"]) + "</div>")

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
