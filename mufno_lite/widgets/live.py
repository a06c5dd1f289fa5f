"""Live SP-vs-μP mini-training (:class:`LiveTraining`); its data sizes live in :mod:`mufno_lite.presets`."""

from __future__ import annotations

import html
from typing import Mapping

import numpy as np

from ..presets import LIVE_TRAINING
from .common import _fmt, _PAR_LABEL, _show, _small_table


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
        from ..fno import max_modes

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
            from ..data import load_dataset

            self._dataset = load_dataset(self.pde, resolution=self.resolution, n_train=self.n_train, n_test=self.n_test,
                                         seed=self.seed, device=self.device, **self.pde_params)
        return self._dataset

    def train(self, K: int | None = None, log10_lr: float | None = None, steps: int | None = None) -> dict:
        """Train SP and μP at (K, 10**log10_lr) for ``steps`` steps and redraw (sliders' values by default).

        Returns ``{"sp": RunResult, "mup": RunResult}``.
        """
        from ..fno import FNO, FNOConfig
        from ..parametrization import Parametrization
        from ..train import TrainConfig, train_model

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
