"""The results explorer (:class:`ResultsExplorer`): hyperparameter curves of a results store, with filters.

The decisions it follows are in :mod:`mufno_lite.widgets`' docstring."""

from __future__ import annotations

import html
from contextlib import contextmanager
from typing import Mapping

import numpy as np

from .common import _ALL, _clean, _fmt, _HPARAM_LABEL, _middle, _PAR_LABEL, _show, _small_table, HPARAMS


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
            from ..store import ResultsStore, load_results

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
        from ..store import load_results

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
            for name, value in (("pde", pde), ("sweep", sweep)):  # each choice narrows the next one's options
                if value is not None:
                    opts = list(c[name].options)
                    if value not in opts:
                        raise ValueError(f"{name} must be one of {opts}; got {name}={value!r}")
                    c[name].value = value
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

        from ..analysis import metric_label, optimum_table
        from ..figures import plotly_hparam_curves

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
        from ..analysis import drift_summary

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
