"""One style for every standard figure: readable axes, legends beside the data, visible optima.

The rules (each a function here, used by :mod:`mufno_lite.figures` and open to notebooks):

* **Integer axes** (K, batch size, width): ticks exactly at the swept values, labelled as plain
  integers (``3 8 16 64``, never ``3×10¹``), no minor ticks (:func:`int_axis`).
* **Learning-rate axes** (and other log-scaled hyperparameters): a log axis with major ticks at the
  decades and, when the shown range is narrow, a few labelled minor ticks at 2× and 5×; every label
  is a plain decimal (``0.001 0.002 0.005 0.01``), never ``2×10⁻²`` (:func:`lr_axis`).
* **No colliding tick labels**: :func:`declutter` draws the figure once and hides every tick label
  whose box overlaps the previous kept one (major ticks win over minor ones); :func:`finish` does it
  for every axes of a figure.  ``tests/test_style.py`` renders figures and checks the boxes.
* **Legends outside the data**: :func:`legend_outside` (right of the axes, no frame).
* **Optima stay visible**: :data:`Z` orders bands < lines < markers < stars; :func:`star_size`
  shrinks each later K's star so stars at the same point nest instead of hiding each other.
* **Off-scale curves**: :func:`offscale` names the curves whose best value lies more than
  ``factor`` above the best of all; the figure leaves them out of the y range and says so in a
  note (:func:`note_excluded`).
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

__all__ = ["Z", "plain_number", "int_axis", "lr_axis", "declutter", "finish", "legend_outside", "star_size",
           "offscale", "note_excluded", "tick_label_overlaps"]

#: z-orders: uncertainty bands, curves, run markers, optimum stars (always on top)
Z = {"band": 1, "line": 2, "marker": 3, "star": 6}


def plain_number(v: float) -> str:
    """A positive tick value as a plain decimal with at most 2 significant digits: 0.0005, 0.02, 0.3, 4, 2000."""
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else ""
    if abs(v) >= 1 and float(v).is_integer():
        return f"{int(v)}"
    digits = max(0, -int(math.floor(math.log10(abs(v)))) + 1)
    s = f"{v:.{digits}f}".rstrip("0").rstrip(".")
    return s


def _axis_of(ax, which: str):
    return ax.xaxis if which == "x" else ax.yaxis


def int_axis(ax, values: Iterable, which: str = "x", log: bool = True) -> None:
    """Ticks at exactly the (integer) ``values``, labelled as integers; a log scale unless ``log=False``."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter, NullLocator

    vals = sorted({int(round(float(v))) for v in values if v is not None and math.isfinite(float(v))})
    if log and vals and min(vals) > 0:
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis = _axis_of(ax, which)
    axis.set_major_locator(FixedLocator(vals))
    axis.set_major_formatter(FixedFormatter([str(v) for v in vals]))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def lr_axis(ax, which: str = "x") -> None:
    """A log axis with plain-decimal labels at the decades, plus labelled 2× and 5× minor ticks where
    the shown range is narrower than two decades (so that at least three labels show).  Call after
    the data are drawn (it reads the axis limits); :func:`declutter` removes any label that would
    still collide."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis = _axis_of(ax, which)
    lo, hi = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
    fmt = FuncFormatter(lambda v, _pos: plain_number(v))
    axis.set_major_locator(LogLocator(base=10, numticks=12))
    axis.set_major_formatter(fmt)
    axis.set_minor_locator(LogLocator(base=10, subs=tuple(range(2, 10)), numticks=12))
    axis.set_minor_formatter(NullFormatter())
    if lo > 0 and math.log10(hi / lo) < 2.0:
        ticks = [m * 10.0 ** e for e in range(int(math.floor(math.log10(lo))) - 1, int(math.ceil(math.log10(hi))) + 1)
                 for m in (1, 2, 5)]
        shown = [t for t in ticks if lo <= t <= hi]
        if len(shown) < 3:  # very narrow window: every integer multiple
            ticks = [m * 10.0 ** e for e in range(int(math.floor(math.log10(lo))) - 1, int(math.ceil(math.log10(hi))) + 1)
                     for m in range(1, 10)]
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_minor_locator(LogLocator(base=10, subs=tuple(range(2, 10)), numticks=12))
        (ax.set_xlim if which == "x" else ax.set_ylim)(lo, hi)


def _renderer(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _visible_labels(axis, renderer, minor: bool):
    out = []
    for t in axis.get_ticklabels(minor=minor):
        if t.get_visible() and t.get_text():
            out.append((t, t.get_window_extent(renderer)))
    return out


def _in_view(axis, label) -> bool:
    lo, hi = sorted(axis.get_view_interval())
    pos = label.get_position()[0 if axis.axis_name == "x" else 1]
    return lo * (1 - 1e-9) <= pos <= hi * (1 + 1e-9) if lo > 0 else lo <= pos <= hi


def _roundness(v: float) -> int:
    """0 for 1×10ⁿ, 1 for 5×10ⁿ, 2 for 2×10ⁿ, 3 otherwise (which tick label to keep when two collide)."""
    if not (v > 0 and math.isfinite(v)):
        return 3
    m = v / 10.0 ** math.floor(math.log10(v) + 1e-12)
    for rank, target in enumerate((1.0, 5.0, 2.0)):
        if abs(m - target) < 1e-6 or abs(m - 10 * target) < 1e-6:
            return rank
    return 3


def declutter(ax, which: str = "both", pad: float = 2.0) -> int:
    """Hide tick labels that would overlap a neighbour (majors first, then minors); returns how many were hidden.

    The decision is kept through later draws by wrapping the axis' formatters (they return "" at
    the hidden positions); axes whose tick labels are all hidden (e.g. the inner ones of shared
    axes) are left alone, since shared axes share their formatters."""
    from matplotlib.ticker import FuncFormatter

    fig = ax.figure
    hidden = 0
    for name in ("x", "y") if which == "both" else (which,):
        axis = _axis_of(ax, name)
        renderer = _renderer(fig)
        coord = 0 if name == "x" else 1
        kept, drop = [], {False: [], True: []}
        for minor in (False, True):
            labels = [(t, b) for t, b in _visible_labels(axis, renderer, minor) if _in_view(axis, t)]
            # round numbers first (1×, 5×, 2× a power of ten), then left to right / bottom to top
            labels.sort(key=lambda tb: (_roundness(tb[0].get_position()[coord]), tb[1].x0 if name == "x" else tb[1].y0))
            for t, b in labels:
                if any(b.padded(pad).overlaps(k) for k in kept):
                    drop[minor].append(t.get_position()[coord])
                    hidden += 1
                else:
                    kept.append(b)
        for minor, locs in drop.items():
            if not locs:
                continue
            orig = axis.get_minor_formatter() if minor else axis.get_major_formatter()

            def fmt(v, pos=None, _orig=orig, _locs=tuple(locs)):
                if any(abs(v - h) <= 1e-9 * max(abs(h), 1e-300) for h in _locs):
                    return ""
                return _orig(v, pos)

            (axis.set_minor_formatter if minor else axis.set_major_formatter)(FuncFormatter(fmt))
    return hidden


def finish(fig) -> None:
    """:func:`declutter` every axes of ``fig`` (call last, after ``tight_layout``)."""
    for ax in fig.axes:
        if ax.get_visible() and ax.axison:
            declutter(ax)


def tick_label_overlaps(ax, which: str = "both") -> list[tuple[str, str]]:
    """Pairs of visible tick labels (majors and minors) whose boxes overlap, after a draw: should be empty."""
    renderer = _renderer(ax.figure)
    out = []
    for name in ("x", "y") if which == "both" else (which,):
        axis = _axis_of(ax, name)
        labels = [(t, b) for minor in (False, True) for t, b in _visible_labels(axis, renderer, minor) if _in_view(axis, t)]
        for i in range(len(labels)):
            for j in range(i + 1, len(labels)):
                if labels[i][1].overlaps(labels[j][1]):
                    out.append((labels[i][0].get_text(), labels[j][0].get_text()))
    return out


def legend_outside(ax, **kw):
    """The legend right of the axes (never over the data); keyword arguments go to ``ax.legend``."""
    opts = dict(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=7, frameon=False)
    opts.update(kw)
    return ax.legend(**opts)


def star_size(i: int, n: int, largest: float = 15.0, smallest: float = 7.0) -> float:
    """Marker size of the ``i``-th of ``n`` stars: later ones smaller, so coinciding stars nest visibly."""
    if n <= 1:
        return largest
    return largest - (largest - smallest) * i / (n - 1)


def offscale(best: Mapping, factor: float = 30.0) -> list:
    """Keys of ``best`` (label → the curve's best value) whose best is more than ``factor`` × the lowest best.

    Such a curve (a K that cannot fit, say) would stretch a log y axis over decades and flatten the
    others: the figure draws the rest and names these in a note."""
    finite = {k: float(v) for k, v in best.items() if v is not None and math.isfinite(float(v)) and float(v) > 0}
    if len(finite) < 2:
        return []
    floor = min(finite.values())
    return [k for k, v in finite.items() if v > factor * floor]


def note_excluded(ax, labels: Sequence[str], best: Mapping | None = None) -> None:
    """A small note under the axes naming curves left out as off-scale (with their best values)."""
    if not labels:
        return
    parts = [f"{lab} (best {best[lab]:.2g})" if best and lab in best else str(lab) for lab in labels]
    ax.text(0.0, -0.32, "off-scale, not drawn: " + ", ".join(parts), transform=ax.transAxes, fontsize=7,
            color="0.3", ha="left", va="top")
