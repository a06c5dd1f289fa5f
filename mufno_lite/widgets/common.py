"""What both widgets share: hyperparameter labels, figures as display items, small HTML tables."""

from __future__ import annotations

import html
import json
import math
from typing import Sequence

import numpy as np


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
