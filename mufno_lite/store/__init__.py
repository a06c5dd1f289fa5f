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
  store (or an empty SQLite file) holds no runs — ``statuses`` returns an empty dict — but
  :func:`load_results` refuses a missing store and an unknown ``sweep`` by name, as the CLI's read
  commands (``status``, ``export``, ``summary``) do (one check, :func:`require_source`; a silent
  empty table hid typos), unless asked ``missing_ok=True`` (a sweep planned but not run yet).  (Reading a WAL store may leave SQLite's own
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

from .rows import (
    DEFAULT_STORE, STATUSES, STORE_SCHEMA_VERSION, StoreError, check_row_values, check_sweep_name, downsample_curve,
    resolve_store_path, utc_now,
)
from .sqlite import ResultsStore
from .load import load_results, require_source

__all__ = [
    "DEFAULT_STORE",
    "ResultsStore",
    "resolve_store_path",
    "load_results",
    "require_source",
    "downsample_curve",
    "utc_now",
    "STATUSES",
    "StoreError",
    "check_sweep_name",
    "check_row_values",
    "STORE_SCHEMA_VERSION",
]

