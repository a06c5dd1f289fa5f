"""A student's function, graded where its endless loop or crash cannot take the notebook down.

``check("03.4", f)`` calls the student's ``f`` on hidden cases.  A bug there (an endless loop, a
``sys.exit()``, a segfault in an extension) must cost the student a "not yet", not their kernel.
So :func:`run_limited` runs the whole grader in a **forked child process**: the child inherits the
function as it is in memory (no pickling, so a function defined in a notebook works), tells the
parent which hidden case it starts (``at(where)``), and sends back the verdict.  The parent waits
at most ``limit`` seconds per case (and :data:`STARTUP_LIMIT` for the grader's own imports before the
first); past that it kills the child and says which case timed out.
The student's prints inside the child come back with the verdict.

Where ``fork`` does not exist (Windows) the grader runs in a daemon thread instead: the limit still
holds for the verdict, but a thread cannot be killed, so an endless loop keeps running in the
background until the kernel restarts (the message says so).

>>> run_limited(lambda f, at: (f(1) == 2, ""), lambda x: x + 1, limit=5)
(True, '')
>>> def grade(f, at):
...     at("at case x=3")
...     return f(3) == 4, ""
>>> ok, why = run_limited(grade, lambda x: any(iter(int, 1)), limit=0.2)
>>> ok, why.startswith("your function did not return within 0.2 s at case x=3")
(False, True)
"""
from __future__ import annotations

import io
import multiprocessing as mp
import sys
import threading
import time
import warnings
from typing import Callable

__all__ = ["run_limited", "DEFAULT_LIMIT"]

#: seconds a student's function may take on one hidden case
DEFAULT_LIMIT = 5.0
#: seconds the grader may take before its first case (imports: torch, the first time in a process)
STARTUP_LIMIT = 120.0
_MAX_PRINTED = 2000


def _timed_out(limit: float, where: str, tail: str = "") -> str:
    return (f"your function did not return within {limit:g} s {where} (an endless loop, or far too slow?); "
            f"the grader stopped it{tail}")


def _child(conn, grade, answer) -> None:
    out = io.StringIO()
    sys.stdout = sys.stderr = out  # the kernel's streams belong to the parent process
    try:
        ok, note = grade(answer, lambda where: conn.send(("at", str(where))))
        verdict = ("done", bool(ok), str(note))
    except BaseException as e:  # noqa: BLE001 - the student's code may raise anything, SystemExit included
        verdict = ("done", False, f"your function stopped the grader ({type(e).__name__}: {e})")
    conn.send(verdict + (out.getvalue()[-_MAX_PRINTED:],))
    conn.close()


def _forked(grade, answer, limit: float) -> tuple[bool, str]:
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, grade, answer), daemon=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork in a threaded process (Python ≥ 3.12 warns)
        proc.start()
    send.close()
    where, deadline = "before its first case", time.monotonic() + max(limit, STARTUP_LIMIT)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, _timed_out(limit, where)
            if not recv.poll(min(left, 0.25)):
                continue
            try:
                msg = recv.recv()
            except EOFError:
                proc.join(1)
                return False, f"your function ended the grader's process (exit code {proc.exitcode}) {where}"
            if msg[0] == "at":
                where, deadline = msg[1], time.monotonic() + limit
                continue
            _, ok, note, printed = msg
            if printed:
                print(printed, end="" if printed.endswith("\n") else "\n")
            return ok, note
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        recv.close()


def _threaded(grade, answer, limit: float) -> tuple[bool, str]:
    state = {"where": "before its first case", "since": time.monotonic() + max(limit, STARTUP_LIMIT) - limit}

    def at(where):
        state.update(where=str(where), since=time.monotonic())

    def run():
        try:
            state["verdict"] = grade(answer, at)
        except BaseException as e:  # noqa: BLE001
            state["verdict"] = (False, f"your function stopped the grader ({type(e).__name__}: {e})")

    worker = threading.Thread(target=run, daemon=True, name="mufno-check")
    worker.start()
    while worker.is_alive():
        worker.join(0.05)
        if worker.is_alive() and time.monotonic() - state["since"] > limit:
            return False, _timed_out(limit, state["where"], "; it keeps running in the background on this system "
                                                              "(no fork): restart the kernel")
    return state["verdict"]


def run_limited(grade: Callable, answer, *, limit: float = DEFAULT_LIMIT, method: str | None = None) -> tuple[bool, str]:
    """``grade(answer, at)`` → ``(ok, message)``, each hidden case limited to ``limit`` seconds.

    ``grade`` calls ``at(where)`` before each case (``where``: words like ``"at K=2, d=1"``); its
    attribute ``grade.prepare()``, if it has one, runs here first (the grader's imports and warm-up,
    done once per process rather than in every child and inside no case's limit).
    ``method``: ``"fork"`` (the default where it exists) or ``"thread"``."""
    method = method or ("fork" if "fork" in mp.get_all_start_methods() else "thread")
    if method not in ("fork", "thread"):
        raise ValueError(f"method must be 'fork' or 'thread'; got method={method!r}")
    prepare = getattr(grade, "prepare", None)
    if prepare is not None:  # one-time work (imports, torch's first optimizer) in this process, not in every child
        prepare()
    return (_forked if method == "fork" else _threaded)(grade, answer, float(limit))
