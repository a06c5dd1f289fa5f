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

The package: :mod:`.explorer` (:class:`ResultsExplorer`), :mod:`.live` (:class:`LiveTraining`) and
:mod:`.common` (what both share); the public names (``__all__``) are importable from here.
"""

from __future__ import annotations

from .common import HPARAMS, plotly_bundle
from .explorer import ResultsExplorer
from .live import LiveTraining

__all__ = ["ResultsExplorer", "LiveTraining", "HPARAMS", "plotly_bundle"]
