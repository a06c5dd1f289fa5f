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


def _most_common(values):
    """The value most rows have (the base config of a sweep that varies one thing at a time); ties: the middle one."""
    vals = [_clean(v) for v in values]
    if not vals:
        return None
    counts = {}
    for v in vals:
        counts[v] = counts.get(v, 0) + 1
    top = max(counts.values())
    return _middle([v for v, n in counts.items() if n == top])


def _clean(v):
    """numpy / pandas scalars as plain Python numbers (for widget options)."""
    if hasattr(v, "item"):
        v = v.item()
    return v


# ===============================================================================================
# the results explorer
# ===============================================================================================


# ===============================================================================================
# configurations: what besides the seed makes two runs different
# ===============================================================================================

#: flattened config keys that are not a configuration difference: the seed (averaged over), the
#: plotted / filtered dimensions (K, parametrization, the hyperparameters of HPARAMS) and bookkeeping
#: of what is recorded (not how the model trains)
_NOT_A_DIFFERENCE = {"seed", "model.K", "parametrization.kind", "train.lr", "train.batch_size", "init_scale",
                     "train.curve_points", "train.eval_points", "train.eval_batch_size"}
#: the store's columns that describe a configuration (used when rows carry no ``config`` dict)
CONFIG_COLUMNS = ("d", "resolution", "n_train", "n_test", "data_seed", "width", "n_layers", "steps", "optimizer",
                  "schedule", "clip", "weight_decay", "pino_weight", "base_K")


def _flatten(cfg, prefix=""):
    out = {}
    for k, v in cfg.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif key == "train.betas" and isinstance(v, (list, tuple)) and len(v) == 2:
            out["train.beta1"] = v[0]  # β₂ is a hyperparameter of the explorer (HPARAMS); β₁ is config
        else:
            out[key] = tuple(v) if isinstance(v, list) else v
    return out


def _short(key: str) -> str:
    """``model.width`` → ``width``, ``train.clip`` → ``clip``; the data's keys keep ``data.``."""
    for head in ("model.", "train.", "parametrization."):
        if key.startswith(head):
            return key[len(head):]
    return key


def _same(v):
    """A hashable, NaN-safe stand-in for a config value (NaN and None are one value: "none")."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)) or (hasattr(v, "__float__") and _isnan(v)):
        return "none"
    return _clean(v)


def _isnan(v) -> bool:
    try:
        return bool(np.isnan(float(v)))
    except (TypeError, ValueError):
        return False


def config_fields(df) -> list[dict]:
    """Each row's configuration apart from the seed and the plotted dimensions, flattened: a list of dicts.

    From the rows' ``config`` dicts when every row has one (everything a run's id hashes), else from
    the store's config columns (:data:`CONFIG_COLUMNS`)."""
    if "config" in df.columns and len(df) and all(isinstance(c, dict) for c in df["config"]):
        flat = [_flatten(c) for c in df["config"]]
        return [{k: _same(v) for k, v in f.items() if k not in _NOT_A_DIFFERENCE} for f in flat]
    cols = [c for c in CONFIG_COLUMNS if c in df.columns]
    return [{c: _same(v) for c, v in zip(cols, row)} for row in df[cols].itertuples(index=False)]


def differing_fields(df) -> list[str]:
    """Config fields (short names) whose value differs between runs of one parametrization: runs that
    differ in any of them must not be averaged together (they are different experiments)."""
    if df.empty:
        return []
    fields = config_fields(df)
    pars = list(df["parametrization"].astype(str)) if "parametrization" in df.columns else [""] * len(df)
    keys = sorted({k for f in fields for k in f})
    out = []
    for k in keys:
        seen = {}
        for p, f in zip(pars, fields):
            seen.setdefault(p, set()).add(f.get(k, "none"))
        if any(len(v) > 1 for v in seen.values()):
            out.append(k)
    return out


def variant_labels(df, keys: Sequence[str]) -> list[str]:
    """One label per row naming its values of the differing config ``keys``, e.g. ``"width=4, clip=none"``."""
    fields = config_fields(df)
    return [", ".join(f"{_short(k)}={_fmt(f.get(k, 'none'))}" for k in keys) for f in fields]


def optimum_html(opt, x, variant=None) -> str:
    """The explorer's table beside the plot: the optimum per K and, over several K, its drift (HTML)."""
    from ..analysis import drift_summary

    t = opt.copy()
    t["parametrization"] = [_PAR_LABEL.get(p, p) for p in t["parametrization"]]
    t["edge"] = ["at grid edge" if e else "" for e in t["edge"]]
    cols = ["parametrization", "K"] + ([variant] if variant else []) + ["best_x", "best_metric", "n_seeds", "n_diverged", "edge"]
    heads = ["", "K"] + (["config"] if variant else []) + [f"best {x}", "value there", "seeds", "diverged", ""]
    parts = ["<b>optimum per K</b>", _small_table(t, cols, heads)]
    if t["K"].nunique() > 1:
        by = ("parametrization",) + ((variant,) if variant else ())
        dr = drift_summary(opt, by=by)
        dr["parametrization"] = [_PAR_LABEL.get(p, p) for p in dr["parametrization"]]
        parts += ["<br><b>drift of the optimum</b> (grid steps, largest K − smallest K)",
                  _small_table(dr, list(by) + ["K_min", "K_max", "drift_steps", "median_seed_spread_steps"],
                               ["", *(["config"] if variant else [])] + ["K from", "to", "drift", "seed spread"])]
    return "<div style='padding-left:8px'>" + "".join(parts) + "</div>"
