"""The results explorer (:class:`ResultsExplorer`): hyperparameter curves of a results store, with filters.

The decisions it follows are in :mod:`mufno_lite.widgets`' docstring."""

from __future__ import annotations

import html
from contextlib import contextmanager
from typing import Mapping

import numpy as np

from .common import (_ALL, _clean, _fmt, _HPARAM_LABEL, _most_common, _PAR_LABEL, _show, differing_fields, HPARAMS,
                     optimum_html, variant_labels)


class ResultsExplorer:
    """Learning-rate (or other hyperparameter) curves of a results table, with filters.

    Parameters
    ----------
    source : ResultsStore, str, PathLike or pandas.DataFrame
        A store (re-read by :meth:`reload` and the *Reload* button) or a table shaped like
        :func:`mufno_lite.store.load_results`'s (at least ``pde, parametrization, K, seed,
        status`` and the metric and hyperparameter columns).
    pde, sweep, parametrizations, Ks, metric, x
        Initial selection (see :meth:`select`); defaults: one sweep, the most recent one (of
        ``pde`` when given; a notebook passes its own sweep), its PDE, every parametrization and
        K present, ``final_train_loss`` against ``lr``; the *at …* dropdowns start at the value
        most runs have.

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
    configs : list of str
        When the rows differ in more than the seed (e.g. width, clip, steps): one label per
        configuration, each drawn as its own curves (column ``_config`` of ``data``); else empty.
    message : str or None
        The text shown instead of a figure (no runs match, nothing finite, too many configurations).
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
            from ..store import ResultsStore, load_results, require_source

            self._store = source if isinstance(source, ResultsStore) else ResultsStore(source)
            require_source(self._store, hint=" (nothing to explore: run a sweep into it first, or give a DataFrame)")
            table = load_results(self._store)
        self._check_metric(metric)
        self._check_x_name(x)
        self._busy = False
        self.figure = None
        self.optimum = None
        self.data = None
        self.configs = []  # the configurations drawn apart (labels), when runs differ in more than the seed
        self.message = None

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
        if sweep is not None and pde is None and sweep != _ALL:
            pde = self._sweep_pde(sweep)  # the sweep's own PDE (None if no such sweep: select says so)
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
            if keep not in pdes:  # first call: the PDE of the most recent sweep
                recent = self._recent_sweep(self.table)
                keep = self._sweep_pde(recent) if recent is not None else pdes[0]
            self.controls["pde"].options = pdes
            self.controls["pde"].value = keep if keep in pdes else pdes[0]
            self._refresh_options(new_slice=False)  # a reload keeps the choices that still exist

    def reload(self) -> None:
        """Re-read the store (new runs of a sweep in progress appear) and redraw."""
        if self._store is None:
            raise ValueError("reload needs an explorer built from a ResultsStore or a path, not a DataFrame")
        from ..store import load_results

        self._set_table(load_results(self._store))
        self.update()

    def _sweep_names(self, df):
        """The sweeps offered for rows ``df`` (a sweep name per row in ``df["sweeps"]``, a list)."""
        if "sweeps" not in df.columns:
            return []
        return sorted({s for v in df["sweeps"] if isinstance(v, (list, tuple)) for s in v})

    def _sweep_rows(self, df, sweep):
        if sweep in (None, _ALL):
            return df
        return df[[isinstance(v, (list, tuple)) and sweep in v for v in df["sweeps"]]]

    def _recent_sweep(self, df):
        """The sweep whose newest run is the newest (``created_at``), else the last name; None without sweeps."""
        names = self._sweep_names(df)
        if not names:
            return None
        if "created_at" not in df.columns:
            return names[-1]
        newest = {n: str(self._sweep_rows(df, n)["created_at"].dropna().astype(str).max() or "") for n in names}
        return max(names, key=lambda n: (newest[n], n))

    def _sweep_pde(self, sweep):
        rows = self._sweep_rows(self.table, sweep)
        return str(rows["pde"].iloc[0]) if len(rows) else None

    def _pde_rows(self):
        return self.table[self.table["pde"].astype(str) == self.controls["pde"].value]

    def _base_rows(self):
        """Rows of the chosen PDE and sweep."""
        return self._sweep_rows(self._pde_rows(), self.controls["sweep"].value)

    def _fixed_rows(self, rows, upto=None):
        """``rows`` at the value of every shown *at …* dropdown (those before ``upto`` only, when given)."""
        for h, w in self.fixed.items():
            if h == upto:
                break
            if w.layout.display != "none" and w.value is not None and h in rows.columns:
                rows = rows[np.isclose(rows[h].astype(float), float(w.value), rtol=1e-9, atol=0)]
        return rows

    def _varied(self, df) -> list[str]:
        """Hyperparameters with more than one value among ``df``'s rows (lr always counts)."""
        out = []
        for h in HPARAMS:
            if h in df.columns and (h == "lr" or df[h].dropna().nunique() > 1):
                out.append(h)
        return out

    def _refresh_options(self, new_slice: bool = True) -> None:
        """Options of every control from the rows above it in the cascade PDE → sweep → x → *at …*
        → SP / μP → K, so that a control never offers a value the current slice lacks (selection
        kept where possible; a sweep that no longer exists falls back to the PDE's most recent).  A new
        slice (``new_slice``: another PDE or sweep) re-derives the *at …* values from its own rows
        (the value most of its runs have), so a value chosen on another grid never carries over."""
        c = self.controls
        t = self._pde_rows()
        names = self._sweep_names(t)
        sweeps = [_ALL] + names
        keep = c["sweep"].value
        if keep not in sweeps:
            keep = self._recent_sweep(t) or _ALL
        c["sweep"].options = sweeps
        c["sweep"].value = keep
        base = self._base_rows()
        varied = self._varied(base)
        keep = c["x"].value
        c["x"].options = [(_HPARAM_LABEL[h], h) for h in varied]
        c["x"].value = keep if keep in varied else "lr"
        if new_slice:
            for w in self.fixed.values():
                w.options, w.value = [], None
        self._refresh_fixed(base)

    def _refresh_fixed(self, base=None) -> None:
        base = self._base_rows() if base is None else base
        x = self.controls["x"].value
        for h, w in self.fixed.items():
            rows = self._fixed_rows(base, upto=h)  # each dropdown offers what the ones above it leave
            vals = sorted(_clean(v) for v in rows[h].dropna().unique()) if h in rows.columns else []
            if h == x or len(vals) < 2:
                w.layout.display = "none"
                w.options, w.value = [], None
                continue
            keep = w.value
            w.options = [(_fmt(v), v) for v in vals]
            w.value = keep if keep in vals else _most_common(rows[h].dropna())
            w.layout.display = ""
        self._refresh_pars_and_Ks(self._fixed_rows(base))

    def _refresh_pars_and_Ks(self, rows) -> None:
        c = self.controls
        pars = [p for p in ("sp", "mup") if p in set(rows["parametrization"])]
        pars += sorted(set(map(str, rows["parametrization"].dropna())) - set(pars))
        opts = {v for _, v in c["parametrizations"].options}
        had_all = set(c["parametrizations"].value) == opts
        keep = [] if had_all else [p for p in c["parametrizations"].value if p in pars]
        c["parametrizations"].options = [(_PAR_LABEL.get(p, p), p) for p in pars]
        c["parametrizations"].value = tuple(keep or pars)
        rows = rows[rows["parametrization"].isin(c["parametrizations"].value)]
        Ks = sorted(int(k) for k in rows["K"].dropna().unique())
        opts = {v for _, v in c["Ks"].options}
        had_all = set(c["Ks"].value) == opts  # all selected: new K join in
        keep = [] if had_all else [k for k in c["Ks"].value if k in Ks]
        c["Ks"].options = [(str(k), k) for k in Ks]
        c["Ks"].value = tuple(keep or Ks)

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
            owner = change["owner"]
            with self._quiet():
                if owner in (self.controls["pde"], self.controls["sweep"]):
                    self._refresh_options()
                elif owner is self.controls["x"] or owner in self.fixed.values():
                    self._refresh_fixed()
                elif owner is self.controls["parametrizations"]:
                    self._refresh_pars_and_Ks(self._fixed_rows(self._base_rows()))
            self.update()

        self._guard(apply)

    def select(self, *, pde: str | None = None, sweep: str | None = None, parametrizations=None, Ks=None,
               metric: str | None = None, x: str | None = None, fixed: Mapping | None = None):
        """Change the selection (as the controls would) and redraw; returns ``self.figure``.

        The choices narrow each other in this order: PDE → sweep → x → the *at …* values → SP / μP → K;
        each control only offers the values present in the rows the choices before it leave.

        Parameters
        ----------
        pde : str
            One of the PDEs in the table.
        sweep : str
            A sweep name, or ``"(all)"`` (runs of every sweep; configurations that differ are
            drawn as separate curves, never averaged).
        parametrizations : sequence of str
            Subset of the parametrizations present (``"sp"``, ``"mup"``).
        Ks : sequence of int
            Subset of the K values present in the current slice; a K outside it raises a
            ValueError saying which choice hides it.
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
                    raise ValueError(f"sweep must be one of {opts} (the sweeps with runs of {c['pde'].value}); got sweep={sweep!r}")
                c["sweep"].value = sweep
                self._refresh_options()
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
                self._refresh_fixed()
            if parametrizations is not None:
                pars = [parametrizations] if isinstance(parametrizations, str) else list(parametrizations)
                opts = [v for _, v in c["parametrizations"].options]
                bad = [p for p in pars if p not in opts]
                if bad or not pars:
                    raise ValueError(f"parametrizations must be a non-empty subset of {opts}; got parametrizations={parametrizations!r}")
                c["parametrizations"].value = tuple(pars)
                self._refresh_pars_and_Ks(self._fixed_rows(self._base_rows()))
            if Ks is not None:
                ks = [Ks] if isinstance(Ks, (int, np.integer)) else list(Ks)
                opts = [v for _, v in c["Ks"].options]
                bad = [k for k in ks if k not in opts]
                if bad or not ks:
                    why = "; ".join(self._why_no_K(int(k)) for k in bad) if bad else "give at least one K"
                    raise ValueError(f"Ks must be a non-empty subset of {opts}; got Ks={Ks!r}: {why}")
                c["Ks"].value = tuple(int(k) for k in ks)
            if metric is not None:
                self._check_metric(metric)
                c["metric"].value = metric
        self.update()
        return self.figure

    def _why_no_K(self, K: int) -> str:
        """Which choice hides K (for the error of :meth:`select`)."""
        c = self.controls
        pde_rows = self._pde_rows()
        if not (pde_rows["K"] == K).any():
            return f"{c['pde'].value} has no runs at K={K}"
        base = self._base_rows()
        k_rows = base[base["K"] == K]
        if k_rows.empty:
            names = self._sweep_names(pde_rows[pde_rows["K"] == K])
            return f"sweep {c['sweep'].value!r} has no runs at K={K} (sweeps that have: {', '.join(names) or 'none'})"
        for h, w in self.fixed.items():
            if w.layout.display != "none" and w.value is not None:
                rows = self._fixed_rows(base, upto=h)
                rows = rows[rows["K"] == K]
                if len(rows) and not np.isclose(rows[h].astype(float), float(w.value), rtol=1e-9, atol=0).any():
                    has = ", ".join(_fmt(_clean(v)) for v in sorted(rows[h].dropna().unique()))
                    return f"K={K} has no runs at {_HPARAM_LABEL[h]} = {_fmt(w.value)} (it has {_HPARAM_LABEL[h]} {has}): change 'at {h}'"
        pars = [_PAR_LABEL.get(p, p) for p in c["parametrizations"].value]
        return f"K={K} has no runs under {' / '.join(pars)}"

    def selection(self) -> dict:
        """The current selection as a dict (the arguments of :meth:`select`)."""
        c = self.controls
        return dict(pde=c["pde"].value, sweep=c["sweep"].value, parametrizations=tuple(c["parametrizations"].value),
                    Ks=tuple(c["Ks"].value), metric=c["metric"].value, x=c["x"].value,
                    fixed={h: w.value for h, w in self.fixed.items() if w.layout.display != "none"})

    #: at most this many different configurations (besides the seed) are drawn side by side
    MAX_CONFIGS = 6

    def _message(self, title, text, status):
        """Show ``text`` instead of a figure (a filter left nothing to draw, or runs that must not be mixed)."""
        import plotly.graph_objects as go

        fig = go.Figure()
        fig.add_annotation(text=text.replace("\n", "<br>"), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                           font=dict(size=13))
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        fig.update_layout(title=title, height=380, width=560, template="plotly_white")
        self.figure, self.optimum, self.message = fig, None, text
        self._table.value = f"<i>{html.escape(text).replace(chr(10), '<br>')}</i>"
        self._status.value = html.escape(status)
        _show(self._out, fig)
        return fig

    def _selection_words(self, sel) -> str:
        parts = [f"{sel['pde']}", f"sweep {sel['sweep']}", " / ".join(_PAR_LABEL.get(p, p) for p in sel["parametrizations"]),
                 "K " + ", ".join(str(k) for k in sel["Ks"])]
        parts += [f"{_HPARAM_LABEL[h]} = {_fmt(v)}" for h, v in sel["fixed"].items()]
        return " · ".join(parts)

    def update(self):
        """Redraw the figure and the optimum table from the current selection; returns the figure.

        Runs whose configurations differ in anything but the seed (say width, clip or steps) are
        never averaged: each configuration gets its own curves, labelled by the fields that differ
        (and the status line names them); more than :attr:`MAX_CONFIGS` configurations are refused
        with a message.  A selection with no runs, or with no finite loss, says so instead of
        drawing empty axes.  ``self.message`` is the text shown instead of a figure (else None)."""
        from ..analysis import metric_label, optimum_table
        from ..figures import plotly_hparam_curves

        sel = self.selection()
        d = self._fixed_rows(self._base_rows())
        d = d[d["parametrization"].isin(sel["parametrizations"]) & d["K"].isin(sel["Ks"])]
        self.data, self.configs, self.message = d, [], None
        metric, x = sel["metric"], sel["x"]
        title = f"{sel['pde']} · {metric_label(metric)}"
        if sel["fixed"]:
            title += " · " + ", ".join(f"{h}={_fmt(v)}" for h, v in sel["fixed"].items())
        if d.empty:
            return self._message(title, f"no runs match this selection:\n{self._selection_words(sel)}", "0 runs")
        finite = (d["status"] == "done") & np.isfinite(d[metric].astype(float))
        if not finite.any():
            counts = ", ".join(f"{n} {s}" for s, n in d["status"].value_counts().items())
            return self._message(title, f"nothing to plot: none of the {len(d)} runs of this selection has a finite "
                                        f"{metric} ({counts})", f"{len(d)} runs, none finished")
        keys = differing_fields(d)
        variant = None
        if keys:
            labels = variant_labels(d, keys)
            n_conf = len(set(labels))
            names = ", ".join(k.split(".", 1)[1] if k.startswith(("model.", "train.", "parametrization.")) else k for k in keys)
            if n_conf > self.MAX_CONFIGS:
                return self._message(title, f"these runs differ in {names} (besides the seed): {n_conf} configurations,\n"
                                            f"too many to draw apart and never averaged. Pick one sweep.",
                                     f"{len(d)} runs in {n_conf} configurations: not drawn")
            d = d.assign(_config=labels)
            self.data, self.configs, variant = d, sorted(set(labels)), "_config"
        fig = plotly_hparam_curves(d, x=x, metric=metric, title=title, parametrizations=tuple(sel["parametrizations"]),
                                   variant=variant)
        npar = len({p for p in d["parametrization"]})
        fig.update_layout(width=max(560, 420 * npar), height=420, margin=dict(l=60, r=20, t=70, b=50))
        self.figure = fig
        by = ("parametrization", "K") + ((variant,) if variant else ())
        opt = optimum_table(d, x=x, metric=metric, by=by)
        self.optimum = opt
        self._table.value = optimum_html(opt, x, variant)
        n_div = int((d["status"] == "diverged").sum())
        n_fail = int((d["status"] == "failed").sum())
        n_seeds = d["seed"].nunique()
        status = (f"{len(d)} runs ({n_seeds} seed{'s' if n_seeds != 1 else ''})" + (f", {n_div} diverged" if n_div else "")
                  + (f", {n_fail} failed" if n_fail else ""))
        if variant:
            status += f"; they differ in {names}: {len(self.configs)} configurations drawn apart (dash style), never averaged"
        self._status.value = html.escape(status)
        _show(self._out, fig)
        return fig

    # ---- display -----------------------------------------------------------------------------
    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

