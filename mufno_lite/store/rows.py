"""The store's row schema and the checks and conversions of its values (columns, statuses, sweep
names, integers, curves, JSON, timestamps, where the file lives).  The decisions are in
:mod:`mufno_lite.store`'s docstring."""

from __future__ import annotations

import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

from ..canonical import canonical_json
from ..validation import short as _short  # messages never print a whole value

DEFAULT_STORE = os.path.join("results", "results.sqlite")
STATUSES = ("done", "diverged", "failed")
MAX_CURVE_POINTS = 200
STORE_SCHEMA_VERSION = 1

# (name, SQL type) of the flattened columns, in table order.
COLUMNS: list[tuple[str, str]] = [
    ("run_id", "TEXT PRIMARY KEY"),
    ("status", "TEXT NOT NULL"),
    ("pde", "TEXT"),
    ("d", "INTEGER"),
    ("K", "INTEGER"),
    ("parametrization", "TEXT"),
    ("base_K", "INTEGER"),
    ("lr", "REAL"),
    ("seed", "INTEGER"),
    ("batch_size", "INTEGER"),
    ("beta2", "REAL"),
    ("init_scale", "REAL"),
    ("resolution", "INTEGER"),
    ("n_train", "INTEGER"),
    ("n_test", "INTEGER"),
    ("data_seed", "INTEGER"),
    ("width", "INTEGER"),
    ("n_layers", "INTEGER"),
    ("steps", "INTEGER"),
    ("optimizer", "TEXT"),
    ("schedule", "TEXT"),
    ("clip", "REAL"),
    ("weight_decay", "REAL"),
    ("pino_weight", "REAL"),
    ("final_train_loss", "REAL"),
    ("test_rel_l2", "REAL"),
    ("diverged_at_step", "INTEGER"),
    ("train_curve", "TEXT"),
    ("test_curve", "TEXT"),
    ("wall_time_s", "REAL"),
    ("population_wall_time_s", "REAL"),
    ("population_size", "INTEGER"),
    ("population_id", "TEXT"),
    ("flops", "REAL"),
    ("n_params", "INTEGER"),
    ("device", "TEXT"),
    ("torch_version", "TEXT"),
    ("mufno_lite_version", "TEXT"),
    ("python_version", "TEXT"),
    ("execution", "TEXT"),
    ("created_at", "TEXT"),
    ("error", "TEXT"),
    ("config", "TEXT NOT NULL"),
]
COLUMN_NAMES = [c for c, _ in COLUMNS]
JSON_COLUMNS = ("train_curve", "test_curve", "config", "execution")
#: Columns added after the first schema: a writer adds them to an older store's table (``ALTER TABLE``).
ADDED_COLUMNS = ("execution",)
INDEXED = ("pde", "K", "parametrization", "lr", "status", "seed", "batch_size", "resolution")


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INTEGER_COLUMNS = tuple(n for n, t in COLUMNS if t.startswith("INTEGER"))
_OUR_TABLES = {"runs", "sweep_runs", "sweeps", "meta"}


class StoreError(ValueError):
    """The results store cannot be used: not an SQLite file, not a results store, a newer schema,
    a folder, an unwritable path, a corrupt file (the message names the path and what was found)."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def check_sweep_name(name) -> str:
    """A sweep name: a non-empty string of printable characters, no newline or other control
    character (``ValueError`` otherwise, naming the value)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"sweep name must be a non-empty string; got name={_short(name)}")
    bad = [c for c in name if not c.isprintable()]
    if bad:
        raise ValueError(f"sweep name must be printable text without newlines or control characters; "
                         f"got name={_short(name)} (contains {_short(bad[0])})")
    return name


def check_row_values(row: Mapping) -> None:
    """Refuse a row whose integer columns do not fit SQLite's signed 64-bit integers (``ValueError``
    naming the column, the run and the value)."""
    for c in INTEGER_COLUMNS:
        v = row.get(c)
        if v is None:
            continue
        if hasattr(v, "item") and not isinstance(v, (int, float, str)):
            v = v.item()
        if isinstance(v, bool):
            continue
        if isinstance(v, int) and not INT64_MIN <= v <= INT64_MAX:
            raise ValueError(f"{c} must be an integer in [-2**63, 2**63 - 1] to be stored; got {c}={_short(v)} "
                             f"(run {_short(row.get('run_id'))})")


def utc_now() -> str:
    """The current UTC time as ISO 8601 with microseconds (sortable as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def resolve_store_path(path: str | os.PathLike | None = None, *, base: str | os.PathLike | None = None) -> Path:
    """The store file: ``path`` if given, else ``$MUFNO_RESULTS``, else ``results/results.sqlite``
    (relative, or under ``base``: the notebooks pass the repository root)."""
    if path is not None and str(path) != "":
        return Path(path)
    env = os.environ.get("MUFNO_RESULTS")
    if env:
        return Path(env)
    return Path(DEFAULT_STORE) if base is None else Path(base) / DEFAULT_STORE


def downsample_curve(curve, max_points: int = MAX_CURVE_POINTS) -> list | None:
    """At most ``max_points`` evenly spaced entries of a curve, the first and last included."""
    if curve is None:
        return None
    pts = [list(p) if isinstance(p, (tuple, list)) else p for p in curve]
    n = len(pts)
    if n <= max_points:
        return pts
    idx = sorted({round(i * (n - 1) / (max_points - 1)) for i in range(max_points)})
    return [pts[i] for i in idx]


def _json_default(obj):
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _finite_or_none(v):
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _json_text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    # NaN/inf are not JSON; store them as null
    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, (list, tuple)):
            return [clean(y) for y in x]
        if isinstance(x, dict):
            return {k: clean(y) for k, y in x.items()}
        return x

    return canonical_json(clean(v), default=_json_default)
