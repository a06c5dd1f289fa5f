"""A store locked by another process: who holds the lock (where the system can tell) and a bounded,
announced wait for it (what :class:`~mufno_lite.store.ResultsStore` does before it reads or writes).

SQLite itself only reports ``database is locked``; it cannot say by whom.  On Linux the kernel lists
every POSIX lock in ``/proc/locks`` with the process id and the file's inode, which is what SQLite's
locks are, so :func:`lock_holders` names the process (its id and command line) that holds a lock on
the store or its ``-wal`` / ``-shm`` files.  Elsewhere it names nobody and the message says
"another process".

:func:`wait_unlocked` runs one statement; a lock that outlasts a short grace period (ordinary
concurrent writers hand the lock on well within it) is announced at once on stderr, naming the
store and the holder, and waited for up to the store's timeout; then it gives up with a
:class:`~mufno_lite.store.StoreError` saying the store is still locked and by what.
"""
from __future__ import annotations

import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

__all__ = ["lock_holders", "is_lock_error", "wait_unlocked", "GRACE_S"]

#: how long a statement waits silently before the lock is announced (seconds)
GRACE_S = 0.5
T = TypeVar("T")


def is_lock_error(e: BaseException) -> bool:
    """Whether ``e`` is SQLite's "database is locked" / "busy"."""
    text = str(e).lower()
    return isinstance(e, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    text = " ".join(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)
    return text if len(text) <= 120 else text[:117] + "..."


def lock_holders(path: str | os.PathLike) -> list[str]:
    """``["pid N (command line)", …]`` of the other processes holding a lock on the store file or its
    ``-wal`` / ``-shm`` files (from ``/proc/locks``; empty where that is not available)."""
    keys = set()
    for suffix in ("", "-wal", "-shm"):
        try:
            st = os.stat(f"{path}{suffix}")
        except OSError:
            continue
        keys.add((os.major(st.st_dev), os.minor(st.st_dev), st.st_ino))
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    pids = []
    for line in lines:
        parts = line.split()
        if "->" in parts:  # a waiter ("1: -> POSIX ..."), not a holder
            continue
        try:
            pid, dev = int(parts[4]), parts[5].split(":")
            key = (int(dev[0], 16), int(dev[1], 16), int(dev[2]))
        except (IndexError, ValueError):
            continue
        if key in keys and pid != os.getpid() and pid not in pids:
            pids.append(pid)
    return [f"pid {p} ({_cmdline(p)})" for p in pids]


def _by_whom(path) -> str:
    who = lock_holders(path)
    return "by " + ", ".join(who) if who else "by another process"


def wait_unlocked(con: sqlite3.Connection, statement: Callable[[], T], *, path, timeout_s: float,
                  fail: Callable[[str], Exception]) -> T:
    """``statement()`` on ``con``, waiting for another process's lock: silently for :data:`GRACE_S`,
    then with one line on stderr, for ``timeout_s`` in all; then ``fail(message)`` is raised.

    ``con``'s ``busy_timeout`` is the grace period while this waits and ``timeout_s`` afterwards.
    """
    deadline = time.monotonic() + max(float(timeout_s), 0.0)
    con.execute(f"PRAGMA busy_timeout = {int(min(GRACE_S, timeout_s) * 1000)}")
    announced = False
    try:
        while True:
            try:
                out = statement()
                if announced:
                    print(f"results store {str(path)!r}: unlocked, continuing", file=sys.stderr, flush=True)
                return out
            except sqlite3.OperationalError as e:
                if not is_lock_error(e):
                    raise
                left = deadline - time.monotonic()
                if left <= 0:
                    raise fail(f"is locked {_by_whom(path)}; still locked after waiting {timeout_s:g} s (let that "
                               f"process finish or stop it, then run this again; the wait is --wait SECONDS)") from None
                if not announced:
                    print(f"results store {str(path)!r} is locked {_by_whom(path)}; waiting up to {timeout_s:g} s "
                          "for it ...", file=sys.stderr, flush=True)
                    announced = True
                time.sleep(min(0.05, max(left, 0.0)))
    finally:
        con.execute(f"PRAGMA busy_timeout = {int(max(float(timeout_s), 0.0) * 1000)}")
