"""How check() grades without holding the answers, and why it cannot hang.

* Every fixed answer is graded against the hashed key: the teacher's solution passes, an answer
  within its tolerance passes, one beyond 1.25× the tolerance fails; the key agrees with
  ``teacher/solutions.py``.
* The teacher's key needs ``teacher=True``, and is not in the installed package: no exercise holds
  a fixed answer, and no file of the package holds one in any of the forms the key prints.
* A student's function runs time-limited (issue 18, class 5): an endless loop, an exit or a crash
  in it costs a "not yet" naming the hidden case, in seconds, never the notebook.
"""
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mufno_lite.exercises import EXERCISES, check, reference
from mufno_lite.exercises.core import _fmt
from mufno_lite.exercises.key import graded_by_key, teacher_solutions, write_key
from mufno_lite.validation import ConfigError

REPO = Path(__file__).resolve().parent.parent
KEYED = [e for e in EXERCISES.values() if graded_by_key(e.id)]
SOLUTIONS = teacher_solutions()


def test_the_key_covers_every_fixed_answer_and_agrees_with_the_teacher():
    fixed = [e.id for e in EXERCISES.values() if e.solve is None and e.kind != "implement"]
    assert [e.id for e in KEYED] == fixed and len(fixed) >= 20
    n, changed = write_key(EXERCISES, SOLUTIONS, write=False)
    assert n == len(fixed) and not changed, "the key is stale: run `python teacher/make_key.py`"


@pytest.mark.parametrize("eid", [e.id for e in KEYED])
def test_a_fixed_answer_passes_within_its_tolerance_and_fails_beyond(eid):
    ex, right = EXERCISES[eid], SOLUTIONS[eid]
    assert check(eid, right, quiet=True)
    if ex.options:
        assert [k for k in ex.options if check(eid, k, quiet=True)] == [right]
    elif ex.rel_tol == 0:
        wrong = [*right[:-1], right[-1] + 0.5] if isinstance(right, list) else right + 1
        assert not check(eid, wrong, quiet=True) and check(eid, right, quiet=True)
        if not isinstance(right, list):
            assert check(eid, float(right) + 1e-12, quiet=True)
    else:
        r = ex.rel_tol
        for f in (1 + 0.99 * r, 1 - 0.99 * r, 1 + 0.3 * r):
            assert check(eid, right * f, quiet=True), (eid, f)
        for f in (1 + 1.3 * r, 1 - 1.3 * r, 1 + 10 * r, -1):
            assert not check(eid, right * f, quiet=True), (eid, f)


def test_wrong_types_are_a_not_yet_with_what_to_give(capsys):
    assert not check("02.1", "many")
    assert "the answer is a number or a list of numbers; got 'many'" in capsys.readouterr().out
    assert not check("01.1", [1, 2]) and "the answer is one number" in capsys.readouterr().out
    assert not check("01.1", True) and not check("01.1", float("nan"), quiet=True) and not check("01.1", 10**400, quiet=True)
    assert not check("03.6", "e") and "answer with one letter among a, b, c; got 'e'" in capsys.readouterr().out
    with pytest.raises(TypeError, match="exercise 01.1 does not use results="):
        check("01.1", 504.8, results=None)


def test_reference_is_behind_the_teacher_flag(monkeypatch, tmp_path):
    with pytest.raises(ConfigError, match=r"teacher must be True: reference\(\) is the teacher's answer key"):
        reference("02.3")
    with pytest.raises(ConfigError, match="teacher must be True"):
        reference(notebook="02", teacher="yes")
    assert reference("02.3", teacher=True) == SOLUTIONS["02.3"]
    monkeypatch.setenv("MUFNO_TEACHER_KEY", str(tmp_path / "nowhere.py"))
    with pytest.raises(ConfigError, match="the teacher's solutions are not on this machine"):
        reference("02.3", teacher=True)


def _forms(value) -> set[str]:
    """The texts a fixed answer could be written as (in a key table, a repr, a notebook's output)."""
    if isinstance(value, str) or callable(value):
        return set()
    if isinstance(value, list):
        return {_fmt(value), repr(value)}
    v = float(value)
    out = {_fmt(value), repr(value), f"{v:.6g}", f"{v:.5g}", f"{v:.4g}", f"{v:.3e}"}
    digits = lambda s: sum(ch.isdigit() for ch in s.lstrip("-0.").split("e")[0])  # noqa: E731
    return {s for s in out if digits(s) >= 4}  # short numbers (46, 4, 0.0) occur everywhere: not a sign of a leak


ANSWER_FORMS = {eid: _forms(SOLUTIONS[eid]) for eid in SOLUTIONS}


def test_the_installed_package_holds_no_fixed_answer_in_plain_text():
    assert all(EXERCISES[e.id].solve is None for e in KEYED)  # nothing to call for a fixed answer
    assert sum(map(len, ANSWER_FORMS.values())) >= 30
    leaks = []
    for path in (REPO / "mufno_lite").rglob("*"):
        if path.is_file() and path.suffix in (".py", ".json", ".txt", ".md"):
            text = path.read_text(encoding="utf-8", errors="replace")
            leaks += [(path.name, eid, s) for eid, forms in ANSWER_FORMS.items() for s in forms if s in text]
    assert leaks == []


# ---- a student's function cannot hang or kill the grader (issue 18, class 5) ----------------------
def endless(K, d, fan_in, base_K=3):
    if K == 5:  # the third hidden case
        while True:
            pass
    return math.sqrt(1 / fan_in) * math.sqrt(math.log(base_K) / math.log(K))


def test_an_endless_loop_is_stopped_and_its_case_named(capsys):
    ok = check("03.4", endless, timeout=0.5)
    out = capsys.readouterr().out
    assert ok is False and "did not return within 0.5 s at K=5, d=3, fan_in=8, base_K=3" in out, out


def test_the_default_limit_holds_for_a_notebook_that_never_sets_one():
    """The issue's reproduction, as a student would run it: today's check() never returns."""
    code = ("from mufno_lite.exercises import check\n"
            "def f(K, d, fan_in, base_K=3):\n    while True: pass\n"
            "print('result', check('03.4', f))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO), MUFNO_THREADS="1", OMP_NUM_THREADS="1"))
    assert "result False" in proc.stdout and "did not return within 5 s at K=2" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("body, says", [
    ("raise SystemExit(3)", "stopped the grader (SystemExit: 3)"),
    ("import os; os._exit(7)", "ended the grader's process (exit code 7) at K=2"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "ended the grader's process (exit code -9)"),
    ("print('debug', K); return 1 / 0", "raised ZeroDivisionError"),
])
def test_an_exit_or_a_crash_in_the_students_function_is_a_not_yet(body, says, capsys):
    ns = {}
    exec(f"def f(K, d, fan_in, base_K=3):\n    {body}\n", ns)
    assert check("03.4", ns["f"]) is False
    out = capsys.readouterr().out
    assert says in out, out
    if "debug" in body:
        assert "debug 2" in out  # the student's own prints come back


def test_without_fork_the_limit_still_holds_in_a_thread(monkeypatch, capsys):
    import threading
    import time

    import mufno_lite.exercises.sandbox as sandbox

    stop = threading.Event()  # the thread cannot be killed: this test ends its loop itself

    def slow(K, d, fan_in, base_K=3):
        while K == 5 and not stop.is_set():
            time.sleep(0.01)
        return math.sqrt(1 / fan_in) * math.sqrt(math.log(base_K) / math.log(K))

    monkeypatch.setattr(sandbox.mp, "get_all_start_methods", lambda: ["spawn"])
    try:
        assert check("03.4", slow, timeout=0.5) is False
        out = capsys.readouterr().out
        assert "did not return within 0.5 s at K=5" in out and "restart the kernel" in out, out
    finally:
        stop.set()


def test_timeout_is_checked_by_name():
    with pytest.raises(ConfigError, match="timeout must be a positive number of seconds; got timeout=0"):
        check("03.4", endless, timeout=0)
