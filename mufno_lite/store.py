"""The results store: one SQLite file, one row per training run.

Conventions and decisions
-------------------------
* **Location.**  :func:`resolve_store_path` picks the file: an explicit path (``--store``) wins,
  else the environment variable ``MUFNO_RESULTS``, else ``results/results.sqlite`` relative to the
  current directory.  Parent folders are created on first write.
* **Tables.**
  ``runs`` (primary key ``run_id``, the sha256 of the run's full config, see
  :mod:`mufno_lite.sweep`): the config as canonical JSON plus flattened, indexed columns (pde, K,
  parametrization, base_K, lr, seed, batch_size, beta2, init_scale, resolution, steps, …), the
  outcome (``status`` ∈ {done, diverged, failed}, final_train_loss, test_rel_l2, curves as JSON,
  wall time, FLOPs, parameter count, error text), the device and package versions, and
  ``created_at`` (UTC, ISO 8601, microseconds).
  ``sweep_runs(sweep, run_id)``: which sweeps a run belongs to (a run can belong to several; rows
  are added when a sweep is planned, so runs not yet in ``runs`` are *pending*).
  ``sweeps(name, config, updated_at)``: the last config each sweep was run with.
* **Concurrency.**  WAL journal, ``busy_timeout`` of 60 s, one short-lived connection per call.
  Writes use ``BEGIN IMMEDIATE`` so that two processes never deadlock on a lock upgrade; all rows
  of one population go in ONE transaction, so a killed process leaves either all of them or none.
* **Replacement.**  Writing a run that is already stored replaces it (``INSERT OR REPLACE``
  semantics: a retried failed run becomes done), except that a *failed* row never overwrites a
  done or diverged one (two processes racing on one run cannot lose a result).
* **Reading never writes.**  The read methods (:meth:`ResultsStore.statuses`, ``sweep_names``,
  ``sweep_run_ids``, ``sweep_config``, ``count``, ``integrity_check``) and :func:`load_results` open
  the file read-only (an SQLite ``file:…?mode=ro`` URI): they never create a file or a folder,
  never change the journal mode and never create the schema.  Decision: to the library a missing
  store (or an empty SQLite file) holds no runs — ``load_results`` returns an empty table,
  ``statuses`` an empty dict — while the CLI's read commands (``status``, ``export``, ``summary``)
  refuse a missing store with a one-line error.  (Reading a WAL store may leave SQLite's own
  ``-wal``/``-shm`` side files next to it, as any reader does; a store on a read-only medium is
  read with ``immutable=1``.)  Only the writers (:meth:`ResultsStore.write_rows`,
  :meth:`ResultsStore.register_sweep`, :meth:`ResultsStore.connect`) create folders, the file, the
  schema and switch it to WAL.
* **Refusals.**  A file that is not an SQLite database (random bytes, truncated), a folder, an
  SQLite file that is not a results store (other tables, no ``meta.schema_version``) and a store
  written by a newer version (``schema_version`` > :data:`STORE_SCHEMA_VERSION`) raise
  :class:`StoreError` (a ``ValueError``) whose one-line message names the path and what was found;
  every ``sqlite3`` error is re-raised as a :class:`StoreError` naming the path.
* **Row values.**  Integer columns must hold integers that fit SQLite's signed 64 bits (a seed of
  2**70 is refused with the column, run and value named, before anything is written: the other
  populations' rows are unaffected); numpy scalars are converted.  :func:`check_row_values` is the
  same check for callers that want to refuse before training (``run_sweep`` does).
* **Sweep names** are one line of printable text (:func:`check_sweep_name`): a newline would split
  on read-back.
* **Curves** are stored as JSON lists of ``[step, value]`` pairs, downsampled to at most
  :data:`MAX_CURVE_POINTS` points (first and last kept); :func:`load_results` parses them back.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping, Sequence
from urllib.parse import quote

from .canonical import canonical_json

__all__ = [
    "DEFAULT_STORE",
    "ResultsStore",
    "resolve_store_path",
    "load_results",
    "downsample_curve",
    "utc_now",
    "STATUSES",
    "StoreError",
    "check_sweep_name",
    "check_row_values",
    "STORE_SCHEMA_VERSION",
]

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
    ("created_at", "TEXT"),
    ("error", "TEXT"),
    ("config", "TEXT NOT NULL"),
]
COLUMN_NAMES = [c for c, _ in COLUMNS]
JSON_COLUMNS = ("train_curve", "test_curve", "config")
INDEXED = ("pde", "K", "parametrization", "lr", "status", "seed", "batch_size", "resolution")


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INTEGER_COLUMNS = tuple(n for n, t in COLUMNS if t.startswith("INTEGER"))
_OUR_TABLES = {"runs", "sweep_runs", "sweeps", "meta"}


class StoreError(ValueError):
    """The results store cannot be used: not an SQLite file, not a results store, a newer schema,
    a folder, an unwritable path, a corrupt file (the message names the path and what was found)."""


def _short(value, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (error messages never print a whole value)."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


class ResultsStore:
    """A SQLite results file (see the module docstring for the schema and the rules).

    Parameters
    ----------
    path : str or PathLike, optional
        The file; see :func:`resolve_store_path` for the default.
    timeout_s : float
        How long a writer waits for another process's lock (``busy_timeout``).
    """

    def __init__(self, path: str | os.PathLike | None = None, timeout_s: float = 60.0):
        self.path = resolve_store_path(path)
        self.timeout_s = float(timeout_s)
        self._initialised = False

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r})"

    # ---- connections -------------------------------------------------------------------------
    def _fail(self, what: str) -> StoreError:
        return StoreError(f"results store {str(self.path)!r}: {_one_line(what)}")

    def _check_path(self) -> None:
        if str(self.path) != ":memory:" and self.path.is_dir():
            raise self._fail("is a directory; --store needs a file path such as results/results.sqlite")

    def _check_kind(self, con: sqlite3.Connection, *, writing: bool) -> bool:
        """Whether the file holds a results store (False: an empty SQLite file); refuses a foreign
        SQLite file and a newer schema."""
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return False
        if "meta" not in tables or "runs" not in tables:
            raise self._fail(f"is an SQLite database but not a mufno_lite results store (tables: "
                             f"{_short(sorted(tables), 120)}); give another --store path")
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        try:
            version = int(row[0]) if row else None
        except (TypeError, ValueError):
            version = None
        if version is None:
            raise self._fail(f"has no valid schema_version (found {_short(row and row[0])}); not a mufno_lite "
                             "results store")
        if version > STORE_SCHEMA_VERSION:
            raise self._fail(f"has store schema version {version}, newer than this mufno_lite reads "
                             f"({STORE_SCHEMA_VERSION}); upgrade mufno_lite or use another store")
        return True

    @contextmanager
    def _errors(self):
        """Re-raise sqlite3 and OS errors as one-line :class:`StoreError` naming the path."""
        try:
            yield
        except (StoreError, sqlite3.InterfaceError, sqlite3.ProgrammingError):
            raise  # the latter two: a value the caller gave cannot be bound (not the file's fault)
        except sqlite3.DatabaseError as e:
            text = str(e)
            if "not a database" in text or "malformed" in text:
                text += " (the file is corrupt, truncated or not a results store)"
            raise self._fail(text) from None
        except sqlite3.Error as e:
            raise self._fail(str(e)) from None
        except OSError as e:
            raise self._fail(f"{e.strerror or e} ({type(e).__name__})") from None

    @contextmanager
    def connect(self):
        """A fresh autocommit connection for writing (closed on exit): creates the folder, the file
        and the schema (WAL) on first use; refuses a foreign or newer store."""
        with self._errors():
            self._check_path()
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(str(self.path), timeout=self.timeout_s, isolation_level=None)
            try:
                con.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
                if not self._initialised:
                    self._check_kind(con, writing=True)
                    self._init_schema(con)
                    self._initialised = True
                yield con
            finally:
                con.close()

    @contextmanager
    def read(self):
        """A read-only connection (``mode=ro``; closed on exit), or ``None`` when there is no store
        (a missing file or an empty SQLite file).  Never creates or changes anything."""
        if str(self.path) == ":memory:":
            with self.connect() as con:
                yield con
            return
        with self._errors():
            self._check_path()
            if not self.path.exists():
                yield None
                return
            uri = "file:" + quote(str(self.path.resolve())) + "?mode=ro"
            try:
                con = sqlite3.connect(uri, uri=True, timeout=self.timeout_s, isolation_level=None)
                con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            except sqlite3.OperationalError:
                if os.access(self.path.parent, os.W_OK):
                    raise
                # a read-only medium: no writer can be active, read the file as it is
                con = sqlite3.connect(uri + "&immutable=1", uri=True, timeout=self.timeout_s, isolation_level=None)
            try:
                con.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
                if not self._check_kind(con, writing=False):
                    yield None
                    return
                yield con
            finally:
                con.close()

    @contextmanager
    def transaction(self):
        """A connection inside ``BEGIN IMMEDIATE … COMMIT`` (rolled back on error)."""
        with self.connect() as con:
            _begin_immediate(con, self.timeout_s)
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def initialise(self) -> "ResultsStore":
        """Create the folder, the file and the schema now (as the first write would); returns ``self``."""
        with self.connect():
            pass
        return self

    def _init_schema(self, con: sqlite3.Connection) -> None:
        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal" and str(self.path) != ":memory:":
            raise self._fail(f"could not switch to WAL mode (got journal_mode={mode})")
        con.execute("PRAGMA synchronous = NORMAL")
        cols = ",\n  ".join(f"{n} {t}" for n, t in COLUMNS)
        _begin_immediate(con, self.timeout_s)
        try:
            con.execute(f"CREATE TABLE IF NOT EXISTS runs (\n  {cols}\n)")
            for c in INDEXED:
                con.execute(f"CREATE INDEX IF NOT EXISTS idx_runs_{c} ON runs({c})")
            con.execute(
                "CREATE TABLE IF NOT EXISTS sweep_runs (sweep TEXT NOT NULL, run_id TEXT NOT NULL, "
                "PRIMARY KEY (sweep, run_id))"
            )
            con.execute("CREATE INDEX IF NOT EXISTS idx_sweep_runs_run ON sweep_runs(run_id)")
            con.execute(
                "CREATE TABLE IF NOT EXISTS sweeps (name TEXT PRIMARY KEY, config TEXT, updated_at TEXT)"
            )
            con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            con.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(STORE_SCHEMA_VERSION),)
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    # ---- writing -----------------------------------------------------------------------------
    def register_sweep(self, name: str, run_ids: Iterable[str], config: Mapping | None = None, *,
                       replace: bool = False) -> None:
        """Record that runs belong to sweep ``name`` (one transaction; idempotent).  ``replace``:
        first forget which runs the sweep listed (the runs' rows stay; other sweeps keep them)."""
        check_sweep_name(name)
        ids = list(run_ids)
        with self.transaction() as con:
            if replace:
                con.execute("DELETE FROM sweep_runs WHERE sweep = ?", (name,))
            con.executemany("INSERT OR IGNORE INTO sweep_runs(sweep, run_id) VALUES (?, ?)", [(name, r) for r in ids])
            if config is not None:
                con.execute(
                    "INSERT OR REPLACE INTO sweeps(name, config, updated_at) VALUES (?, ?, ?)",
                    (name, _json_text(dict(config)), utc_now()),
                )

    def write_rows(self, rows: Sequence[Mapping], sweeps: Iterable[str] = ()) -> int:
        """Write result rows in ONE transaction (all or nothing); returns the number written.

        Each row is a mapping with at least ``run_id``, ``status`` and ``config``; unknown keys are
        refused.  A failed row does not replace a stored done/diverged row.
        """
        rows = list(rows)
        if not rows:
            return 0
        sweeps = [check_sweep_name(s) for s in sweeps]
        prepared = [self._prepare(r) for r in rows]
        names = COLUMN_NAMES
        placeholders = ", ".join("?" for _ in names)
        updates = ", ".join(f"{n} = excluded.{n}" for n in names if n != "run_id")
        sql = (
            f"INSERT INTO runs ({', '.join(names)}) VALUES ({placeholders}) "
            f"ON CONFLICT(run_id) DO UPDATE SET {updates} "
            "WHERE excluded.status != 'failed' OR runs.status = 'failed'"
        )
        with self.transaction() as con:
            con.executemany(sql, [tuple(p[n] for n in names) for p in prepared])
            if sweeps:
                con.executemany(
                    "INSERT OR IGNORE INTO sweep_runs(sweep, run_id) VALUES (?, ?)",
                    [(s, p["run_id"]) for s in sweeps for p in prepared],
                )
        return len(prepared)

    @staticmethod
    def _prepare(row: Mapping) -> dict:
        unknown = set(row) - set(COLUMN_NAMES)
        if unknown:
            raise ValueError(f"row has unknown columns {sorted(unknown)}; allowed: {COLUMN_NAMES}")
        for key in ("run_id", "status", "config"):
            if row.get(key) in (None, ""):
                raise ValueError(f"row needs a non-empty {key!r}; got {key}={row.get(key)!r}")
        if row["status"] not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}; got status={row['status']!r}")
        out = {n: row.get(n) for n in COLUMN_NAMES}
        for n, v in out.items():  # numpy scalars -> Python numbers (sqlite3 binds only those)
            if v is not None and hasattr(v, "item") and not isinstance(v, (int, float, str, bytes)):
                out[n] = v.item()
        check_row_values(out)
        for c in ("train_curve", "test_curve"):
            if out[c] is not None and not isinstance(out[c], str):
                out[c] = downsample_curve(out[c])
        for c in JSON_COLUMNS:
            out[c] = _json_text(out[c])
        for c in ("final_train_loss", "test_rel_l2", "wall_time_s", "population_wall_time_s", "flops"):
            out[c] = _finite_or_none(out[c])
        if out["created_at"] is None:
            out["created_at"] = utc_now()
        return out

    # ---- reading (read-only: never creates or changes the file) ------------------------------
    def statuses(self, run_ids: Iterable[str] | None = None) -> dict[str, str]:
        """``{run_id: status}`` of the stored runs (of ``run_ids`` only, if given); ``{}`` without a store."""
        with self.read() as con:
            if con is None:
                return {}
            if run_ids is None:
                return dict(con.execute("SELECT run_id, status FROM runs").fetchall())
            ids = list(run_ids)
            out: dict[str, str] = {}
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                q = f"SELECT run_id, status FROM runs WHERE run_id IN ({', '.join('?' for _ in chunk)})"
                out.update(con.execute(q, chunk).fetchall())
            return out

    def exists(self) -> bool:
        """Whether the file holds a results store (refuses a foreign or newer file, like the reads)."""
        with self.read() as con:
            return con is not None

    def sweep_names(self) -> list[str]:
        with self.read() as con:
            if con is None:
                return []
            return [r[0] for r in con.execute("SELECT DISTINCT sweep FROM sweep_runs ORDER BY sweep")]

    def sweep_config(self, sweep: str) -> dict | None:
        """The config a sweep was last run with (as ``SweepConfig.to_dict`` wrote it), or None."""
        with self.read() as con:
            row = None if con is None else con.execute("SELECT config FROM sweeps WHERE name = ?", (sweep,)).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def sweep_run_ids(self, sweep: str) -> list[str]:
        with self.read() as con:
            if con is None:
                return []
            return [r[0] for r in con.execute("SELECT run_id FROM sweep_runs WHERE sweep = ?", (sweep,))]

    def count(self) -> int:
        with self.read() as con:
            return 0 if con is None else con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` ("ok" for a sound file)."""
        with self.read() as con:
            if con is None:
                raise self._fail("does not exist (no results store to check)")
            return con.execute("PRAGMA integrity_check").fetchone()[0]

    def load(self, sweep: str | None = None, **filters):
        """Same as :func:`load_results` on this store."""
        return load_results(self, sweep=sweep, **filters)


def _begin_immediate(con: sqlite3.Connection, timeout_s: float) -> None:
    # busy_timeout covers BEGIN IMMEDIATE too; the loop is a guard for WAL-recovery races.
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            con.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _check_filters(sweep, filters: dict) -> None:
    """``load_results``'s arguments, refused by name before the store is opened: a known column,
    a value of the column's type (``status`` one of :data:`STATUSES`), a string ``sweep``."""
    from .validation import ConfigError, short

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


def load_results(store, sweep: str | None = None, **filters):
    """The runs of a store as a pandas DataFrame, one row per run.

    Parameters
    ----------
    store : ResultsStore, str or PathLike
        The store (or its path).
    sweep : str, optional
        Only runs that belong to this sweep.
    **filters
        ``column=value`` (equality) or ``column=[v1, v2, …]`` (membership) on any column of
        ``runs``, e.g. ``load_results(s, K=[3, 8], parametrization="mup", status="done")``.

    Returns
    -------
    pandas.DataFrame
        Empty (with the columns) when the store does not exist: reading creates nothing.
        Columns as in ``runs`` plus ``sweeps`` (list of sweep names); ``train_curve`` and
        ``test_curve`` are lists of ``[step, value]`` pairs, ``config`` a dict.  Sorted by
        pde, parametrization, K, lr, seed.
    """
    import pandas as pd

    _check_filters(sweep, filters)
    st = store if isinstance(store, ResultsStore) else ResultsStore(store)
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
    cols = ", ".join(f"r.{c}" for c in COLUMN_NAMES)
    sql = (
        f"SELECT {cols}, (SELECT group_concat(s.sweep, char(10)) FROM sweep_runs s WHERE s.run_id = r.run_id) "
        f"AS sweeps FROM runs r"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY r.pde, r.parametrization, r.K, r.lr, r.seed, r.run_id"
    with st.read() as con:
        data = [] if con is None else con.execute(sql, params).fetchall()
    df = pd.DataFrame(data, columns=COLUMN_NAMES + ["sweeps"])
    for c in JSON_COLUMNS:
        df[c] = [json.loads(v) if isinstance(v, str) else None for v in df[c]]
    df["sweeps"] = [sorted(v.split("\n")) if isinstance(v, str) else [] for v in df["sweeps"]]
    for c in ("base_K", "diverged_at_step", "data_seed", "n_params"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("Int64")  # nullable: SP has no base_K
    for c in ("lr", "beta2", "init_scale", "final_train_loss", "test_rel_l2", "wall_time_s", "flops", "clip"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df
