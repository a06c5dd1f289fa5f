"""`ResultsStore`: the SQLite file, its connections (read-only for readers, WAL and one
transaction per population for writers) and its tables."""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from typing import Iterable, Mapping, Sequence
from urllib.parse import quote

from ..outdir import special_file_kind
from .locks import wait_unlocked
from .rows import (
    ADDED_COLUMNS, COLUMNS, COLUMN_NAMES, INDEXED, JSON_COLUMNS, STATUSES, STORE_SCHEMA_VERSION, StoreError, _finite_or_none, _json_text, _one_line, _short, check_row_values, check_sweep_name, downsample_curve, resolve_store_path, utc_now,
)


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
        """Refuse a folder and anything but a regular file (a device, a FIFO, a socket), also behind a
        symbolic link: SQLite would write its journal beside it (``/dev/null-journal``)."""
        if str(self.path) == ":memory:":
            return
        if self.path.is_dir():
            raise self._fail("is a directory; --store needs a file path such as results/results.sqlite")
        if self.path.is_symlink() and not self.path.exists():
            raise self._fail(f"is a symbolic link to {os.readlink(self.path)!r}, which does not exist; give the "
                             "store file itself")
        kind = special_file_kind(self.path)
        if kind is not None:
            via = f" (through the link to {os.path.realpath(self.path)!r})" if self.path.is_symlink() else ""
            raise self._fail(f"is a {kind}{via}, not a regular file; --store needs a file path such as "
                             "results/results.sqlite")

    def _wait(self, con: sqlite3.Connection, statement):
        """``statement()``, waiting (announced, bounded by ``timeout_s``) while another process holds the lock."""
        return wait_unlocked(con, statement, path=self.path, timeout_s=self.timeout_s, fail=self._fail)

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
                    self._wait(con, lambda: self._check_kind(con, writing=True))
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
                self._wait(con, lambda: con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall())
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
            self._wait(con, lambda: con.execute("BEGIN IMMEDIATE"))
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
        mode = self._wait(con, lambda: con.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        if str(mode).lower() != "wal" and str(self.path) != ":memory:":
            raise self._fail(f"could not switch to WAL mode (got journal_mode={mode})")
        con.execute("PRAGMA synchronous = NORMAL")
        cols = ",\n  ".join(f"{n} {t}" for n, t in COLUMNS)
        self._wait(con, lambda: con.execute("BEGIN IMMEDIATE"))
        try:
            con.execute(f"CREATE TABLE IF NOT EXISTS runs (\n  {cols}\n)")
            have = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
            for n, t in COLUMNS:  # a store written before a column was added (nullable, no default)
                if n in ADDED_COLUMNS and n not in have:
                    con.execute(f"ALTER TABLE runs ADD COLUMN {n} {t}")
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
        if not row or not row[0]:
            return None
        try:
            return json.loads(row[0])
        except ValueError as e:
            raise self._fail(f"sweep {sweep[:80]!r} has a stored config that is not valid JSON ({e}); the row in "
                             "table sweeps is damaged: run the sweep again with --replace to rewrite it") from None

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
