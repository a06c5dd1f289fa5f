"""`load_results`: a store's runs as a pandas DataFrame, filtered and with curves parsed."""

from __future__ import annotations

import json
import numbers

from .rows import COLUMN_NAMES, COLUMNS, JSON_COLUMNS, STATUSES, StoreError, _short
from .sqlite import ResultsStore


def _check_filters(sweep, filters: dict) -> None:
    """``load_results``'s arguments, refused by name before the store is opened: a known column,
    a value of the column's type (``status`` one of :data:`STATUSES`), a string ``sweep``."""
    from ..validation import ConfigError, short

    if sweep is not None and not isinstance(sweep, str):
        raise ConfigError(f"sweep must be None or a sweep name (a string); got sweep={short(sweep)}", key="sweep",
                          value=sweep, allowed="None or a string")
    types = dict(COLUMNS)
    for col, val in filters.items():
        if col not in types:
            raise ConfigError(f"unknown filter column {short(col)}; allowed: {COLUMN_NAMES}", key=str(col), value=val,
                              allowed=f"one of {COLUMN_NAMES}")
        vals = list(val) if isinstance(val, (list, tuple, set)) else [val]
        kind = types[col].split()[0]
        for v in vals:
            if v is None:
                continue
            if col == "status":
                ok, allowed = v in STATUSES, f"one of {STATUSES} (or a list of them)"
            elif kind == "INTEGER":
                ok = isinstance(v, numbers.Integral) and not isinstance(v, bool) and -(1 << 63) <= v < (1 << 63)
                allowed = "an integer (or a list of them)"
            elif kind == "REAL":
                ok = isinstance(v, numbers.Real) and not isinstance(v, bool)
                allowed = "a number (or a list of them)"
            else:
                ok, allowed = isinstance(v, str), "a string (or a list of them)"
            if not ok:
                raise ConfigError(f"filter {col} must be {allowed}; got {col}={short(val)}", key=col, value=val,
                                  allowed=allowed)


def _parse(store: ResultsStore, run_id, column: str, text):
    """One stored JSON value; a garbage one is refused naming the store, the run and the column."""
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError as e:
        raise StoreError(f"results store {str(store.path)!r}: run {str(run_id)[:80]!r} has a {column} that is not "
                         f"valid JSON ({e}; found {_short(text, 60)}): the row is damaged; delete it (it is "
                         "retrained by the next sweep) or restore the store from a copy") from None


def require_source(store: ResultsStore, sweep: str | None = None, *, hint: str = "") -> None:
    """Refuse (:class:`StoreError`) a store that does not exist (or holds no results store yet) and a
    ``sweep`` it does not list, naming the path and the known sweeps.  ``hint`` ends the first message
    (how to name another store).  What ``load_results`` and the CLI's read commands both check."""
    if not store.exists():
        raise StoreError(f"no results store at {str(store.path)!r}{hint or ' (nothing was written there yet: run a sweep first, or pass missing_ok=True for an empty table)'}")
    if sweep is None:
        return
    names = store.sweep_names()
    if sweep not in names:
        shown = ", ".join(repr(n) for n in names[:20]) + (", ..." if len(names) > 20 else "")
        raise StoreError(f"sweep {sweep[:80]!r} is not in {str(store.path)!r}; known sweeps: [{shown}]")


def load_results(store, sweep: str | None = None, *, missing_ok: bool = False, **filters):
    """The runs of a store as a pandas DataFrame, one row per run.

    Parameters
    ----------
    store : ResultsStore, str or PathLike
        The store (or its path).
    sweep : str, optional
        Only runs that belong to this sweep.
    missing_ok : bool
        ``False`` (default): a store that does not exist and a ``sweep`` it does not list are
        refused (:class:`~mufno_lite.store.StoreError` naming the path, or the known sweeps).
        ``True``: both give an empty table (a sweep that is planned but has not run yet).
    **filters
        ``column=value`` (equality) or ``column=[v1, v2, …]`` (membership) on any column of
        ``runs``, e.g. ``load_results(s, K=[3, 8], parametrization="mup", status="done")``.

    Returns
    -------
    pandas.DataFrame
        Empty (with the columns) when nothing matches (or, with ``missing_ok``, when there is no
        store or no such sweep): reading creates nothing.
        Columns as in ``runs`` plus ``sweeps`` (list of sweep names); ``train_curve`` and
        ``test_curve`` are lists of ``[step, value]`` pairs, ``config`` a dict.  Sorted by
        pde, parametrization, K, lr, seed.
    """
    import pandas as pd

    _check_filters(sweep, filters)
    if not isinstance(missing_ok, bool):
        raise ValueError(f"missing_ok must be True or False; got missing_ok={_short(missing_ok)}")
    st = store if isinstance(store, ResultsStore) else ResultsStore(store)
    if not missing_ok:
        require_source(st, sweep)
    where, params = [], []
    for col, val in filters.items():
        if col not in COLUMN_NAMES:
            raise ValueError(f"unknown filter column {col!r}; allowed: {COLUMN_NAMES}")
        if isinstance(val, (list, tuple, set)):
            vals = list(val)
            if not vals:
                raise ValueError(f"filter {col} has an empty list of values")
            where.append(f"r.{col} IN ({', '.join('?' for _ in vals)})")
            params.extend(vals)
        elif val is None:
            where.append(f"r.{col} IS NULL")
        else:
            where.append(f"r.{col} = ?")
            params.append(val)
    if sweep is not None:
        where.append("r.run_id IN (SELECT run_id FROM sweep_runs WHERE sweep = ?)")
        params.append(sweep)
    with st.read() as con:
        data = [] if con is None else con.execute(_select(con, where), params).fetchall()
    df = pd.DataFrame(data, columns=COLUMN_NAMES + ["sweeps"])
    for c in JSON_COLUMNS:
        df[c] = [_parse(st, r, c, v) for r, v in zip(df["run_id"], df[c])]
    df["sweeps"] = [sorted(v.split("\n")) if isinstance(v, str) else [] for v in df["sweeps"]]
    for c in ("base_K", "diverged_at_step", "data_seed", "n_params"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("Int64")  # nullable: SP has no base_K
    for c in ("lr", "beta2", "init_scale", "final_train_loss", "test_rel_l2", "wall_time_s", "flops", "clip"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df


def _select(con, where: list) -> str:
    """The query of :func:`load_results`; a column that a store written by an older version lacks
    (added since, e.g. ``execution``) reads as NULL (a read-only connection cannot add it)."""
    have = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
    cols = ", ".join(f"r.{c}" if c in have else f"NULL AS {c}" for c in COLUMN_NAMES)
    sql = (
        f"SELECT {cols}, (SELECT group_concat(s.sweep, char(10)) FROM sweep_runs s WHERE s.run_id = r.run_id) "
        f"AS sweeps FROM runs r"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY r.pde, r.parametrization, r.K, r.lr, r.seed, r.run_id"
