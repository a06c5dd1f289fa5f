"""The exercise machinery: the registry, graders, ``check``, ``question``, ``reference`` and the
answer-key tables.  The exercises themselves are in :mod:`mufno_lite.exercises.course`.

Three ways an answer is graded: against the hashed key (:mod:`.key`) when the answer is fixed;
against a solution computed from the student's data (``Exercise.solve``); or, for ``implement``,
by running the student's function against the library in a time-limited child process
(:mod:`.sandbox`)."""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable

from ..validation import ConfigError, short
from . import key as _key
from .sandbox import DEFAULT_LIMIT, run_limited


#: the kinds of exercise, in the order a notebook lists them
KINDS = ("predict", "explain", "implement", "explore", "compute", "read")


@dataclass(frozen=True)
class Exercise:
    id: str
    question: str
    #: the solution computed from the student's data (``None``: a fixed answer, graded by the hashed key)
    solve: Callable[..., Any] | None = None
    rel_tol: float = 1e-3
    hint: str = ""
    kind: str = "read"
    #: multiple choice: {letter: text}; the answer is a letter
    options: dict | None = None
    #: multiple choice: {wrong letter: why it is wrong}
    feedback: dict | None = None
    #: custom grading: grade(answer, reference) -> (ok, message); for ``implement``: grade(function, at)
    #: -> (ok, message), calling at(where) before each hidden case
    grade: Callable[..., tuple] | None = None


EXERCISES: dict[str, Exercise] = {}


def _register(id: str, question: str, rel_tol: float = 1e-3, hint: str = "", kind: str = "read", **extra):
    """Register an exercise whose solution is computed from data (decorate the solution)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got kind={kind!r}")

    def deco(fn):
        EXERCISES[id] = Exercise(id, question, fn, rel_tol, hint, kind, **extra)
        return fn

    return deco


def _fixed(id: str, question: str, rel_tol: float = 1e-3, hint: str = "", kind: str = "compute", **extra) -> None:
    """Register an exercise with a fixed answer (graded by the hashed key) or an ``implement`` one."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got kind={kind!r}")
    EXERCISES[id] = Exercise(id, question, None, rel_tol, hint, kind, **extra)


def _choice(id: str, question: str, options: dict, feedback: dict, hint: str = "") -> None:
    """Register a multiple-choice ``explain`` exercise (answer: one letter; the letter is in the key only).

    ``feedback`` has a line for *every* option (why it is wrong; for the right one, why it is right),
    so which letters have feedback tells nothing."""
    if set(feedback) != set(options):
        raise ValueError(f"exercise {id}: feedback must cover every option {sorted(options)}; got {sorted(feedback)}")
    _fixed(id, question, hint=hint, kind="explain", options=options, feedback=feedback)


def _sort() -> None:
    """Put the registry in id order (notebooks list their exercises in that order)."""
    ordered = sorted(EXERCISES.items(), key=lambda kv: tuple(int(x) for x in kv[0].split(".")))
    EXERCISES.clear()
    EXERCISES.update(ordered)


# --- api --------------------------------------------------------------------------------------
def list_exercises(notebook: str | None = None, kind: str | None = None) -> list[tuple[str, str]]:
    """``(id, question)`` of every exercise, or of one notebook's (``notebook="04"``) or one kind's."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got kind={kind!r}")
    nb = None if notebook is None else str(notebook).zfill(2)
    return [(e.id, e.question) for e in EXERCISES.values()
            if (nb is None or e.id.startswith(f"{nb}.")) and (kind is None or e.kind == kind)]


def question(exercise_id: str) -> str:
    """The question as a notebook shows it: for multiple choice, with its lettered options."""
    ex = _get(exercise_id)
    if not ex.options:
        return ex.question
    return ex.question + "\n" + "\n".join(f"  ({k}) {v}" for k, v in ex.options.items())


_WHAT = {"results": "the notebook's results table, the DataFrame its sweep returned",
         "table": "the cost table (e.g. result.table)"}


def _needs(ex: Exercise) -> list[str]:
    """The data an exercise's solution is computed from (its required arguments)."""
    if ex.solve is None:
        return []
    return [n for n, p in inspect.signature(ex.solve).parameters.items()
            if p.default is inspect.Parameter.empty and not n.startswith("_")
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _get(exercise_id: str) -> Exercise:
    ex = EXERCISES.get(str(exercise_id))
    if ex is None:
        raise ValueError(f"exercise_id must be one of {sorted(EXERCISES)}; got exercise_id={exercise_id!r}")
    return ex


def _solve(ex: Exercise, data: dict, call: str):
    needs = _needs(ex)
    params = inspect.signature(ex.solve).parameters if ex.solve is not None else {}
    missing = [n for n in needs if n not in data]
    extra = [n for n in data if n not in params or n.startswith("_")]
    if missing:
        what = "; ".join(f"{n}= ({_WHAT[n]})" if n in _WHAT else f"{n}=" for n in missing)
        example = ", ".join(f"{n}={n}" for n in needs)
        answer = ", answer" if call == "check" else ""
        raise TypeError(f"exercise {ex.id} is computed from your data: pass {what}, "
                        f'e.g. {call}("{ex.id}"{answer}, {example})')
    if extra:
        takes = ", ".join(f"{n}=" for n in needs) or "nothing but the answer"
        raise TypeError(f"exercise {ex.id} does not use {', '.join(f'{n}=' for n in extra)}; it takes {takes}")
    return ex.solve(**data) if ex.solve is not None else None


def _fmt(v) -> str:
    if callable(v):
        return f"the function {v.__module__}.{v.__name__}"
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v.is_integer() and abs(v) >= 1e4:
            return f"{v:,.0f}"
        return f"{v:.2e}" if 0 < abs(v) < 1e-2 else f"{v:.4g}"
    return str(v)


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    clip = [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in clip)) if clip else len(h) for i, h in enumerate(header)]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(tuple("-" * w for w in widths)), *(line(r) for r in clip)])


def _teacher_only(teacher) -> None:
    if teacher is not True:
        raise ConfigError("teacher must be True: reference() is the teacher's answer key, e.g. "
                          "reference(notebook=\"03\", teacher=True) (it reads teacher/solutions.py of the source "
                          f"repository); students grade with check(); got teacher={short(teacher)}",
                          key="teacher", value=teacher, allowed="True")


def reference(exercise_id: str | None = None, *, notebook: str | None = None, as_dict: bool = False,
              teacher: bool = False, **data):
    """The reference solutions, for teachers only (``teacher=True``).

    ``reference("04.1", results=table, teacher=True)`` returns one solution (computed from ``data``
    for data-dependent exercises; a fixed answer comes from the teacher's ``teacher/solutions.py``,
    which the installed package does not contain).  ``reference(teacher=True)`` prints the answer
    key as a table (``notebook="04"``: that notebook's exercises; data-dependent ones are computed
    when their data is passed, else say what they need) and returns nothing;
    ``as_dict=True`` returns ``{id: answer}`` (``None`` where the data is missing).
    """
    _teacher_only(teacher)
    solutions = _key.teacher_solutions()

    def solved(e, given):
        if e.solve is not None:
            return _solve(e, given, "reference")
        _solve(e, given, "reference")  # refuses data a fixed answer does not use
        return solutions[e.id]

    if exercise_id is not None:
        return solved(_get(exercise_id), data)
    chosen = [e for e in EXERCISES.values() if notebook is None or e.id.startswith(f"{str(notebook).zfill(2)}.")]
    if not chosen:
        raise ValueError(f"notebook={notebook!r} has no exercises; notebooks with exercises: "
                         f"{sorted({e.id.split('.')[0] for e in EXERCISES.values()})}")
    answers, shown = {}, []
    for e in chosen:
        needs = _needs(e)
        if all(n in data for n in needs):
            answers[e.id] = solved(e, {n: data[n] for n in needs})
            text = _fmt(answers[e.id])
        else:
            answers[e.id] = None
            text = "needs " + ", ".join(f"{n}=" for n in needs)
        shown.append((e.id, e.question, text))
    if as_dict:
        return answers
    print(_table(shown, ("exercise", "question", "answer")))
    return None


def paper_reference(*keys: str, as_dict: bool = False):
    """Print what the paper reports (:data:`mufno_lite.analysis.PAPER_REPORTED`) as a table, one row per
    experiment and parametrization; ``keys`` select experiments (e.g. ``"burgers"``).
    ``as_dict=True`` returns the raw dict (of the selected experiments) instead."""
    from ..analysis import PAPER_REPORTED

    unknown = [k for k in keys if k not in PAPER_REPORTED]
    if unknown:
        raise ValueError(f"keys must be among {sorted(PAPER_REPORTED)}; got {unknown}")
    chosen = {k: PAPER_REPORTED[k] for k in (keys or PAPER_REPORTED)}
    if as_dict:
        return chosen
    rows = []
    for exp, by_par in chosen.items():
        for par, val in by_par.items():
            name = {"sp": "SP", "mup": "μP"}.get(par, par)
            if isinstance(val, dict):
                text = ", ".join(f"{k if isinstance(k, str) else f'K={k}'}: {_fmt(v)}" for k, v in val.items())
            else:
                text = str(val)
            rows.append((exp, name, text))
    print("The paper reports (Li, Yoo & Yang, ICML 2025):")
    print(_table(rows, ("experiment", "parametrization", "optimum")))
    return None


def _close(a, b, rel_tol) -> bool:
    if isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and len(a) == len(b) and all(_close(x, y, rel_tol) for x, y in zip(a, b))
    try:
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        return a == b
    if rel_tol == 0:
        return abs(a - b) <= 1e-9 * max(1.0, abs(b))
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-12)


def _letter(ex: Exercise, answer) -> str | None:
    letter = str(answer).strip().strip("()").strip(").").lower() if isinstance(answer, str) else None
    return letter if letter in ex.options else None


def _grade_by_key(ex: Exercise, answer) -> tuple[bool, str]:
    """Grade a fixed answer against the hashed key (:mod:`.key`)."""
    if ex.options:
        letter = _letter(ex, answer)
        if letter is None:
            return False, f"answer with one letter among {', '.join(ex.options)}; got {short(answer)}"
        return _key.matches(ex, letter), (ex.feedback or {}).get(letter, "")
    try:
        value = [float(a) for a in answer] if ex.rel_tol == 0 and isinstance(answer, (list, tuple)) else float(answer)
        if isinstance(answer, bool):
            raise TypeError
    except (TypeError, ValueError, OverflowError):
        what = "a number or a list of numbers" if ex.rel_tol == 0 else "one number"
        return False, f"the answer is {what}; got {short(answer)}"
    return _key.matches(ex, value), ""


def check(exercise_id: str, answer, *, quiet: bool = False, timeout: float | None = None, **data) -> bool:
    """Grade an answer: True if it matches the reference within the exercise's tolerance.

    Prints ``correct ✓`` or ``not yet ✗`` with a hint (for a multiple choice, why that choice is
    wrong or right; for an implementation, the first hidden case where it differs from the library;
    for a prediction, what the run measured).  ``quiet=True`` prints nothing.  An implementation
    runs in a child process, at most ``timeout`` seconds per hidden case (default
    :data:`~mufno_lite.exercises.sandbox.DEFAULT_LIMIT`).
    """
    ex = _get(exercise_id)
    if answer is None:
        raise ValueError(f"exercise {ex.id}: write your answer first (it is None); the question: {question(ex.id)}")
    if timeout is not None and not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
                                    and 0 < timeout < math.inf):
        raise ConfigError(f"timeout must be a positive number of seconds; got timeout={short(timeout)}",
                          key="timeout", value=timeout, allowed="a positive number")
    if ex.kind == "implement":
        _solve(ex, data, "check")  # refuses data it does not use
        ok, note = run_limited(ex.grade, answer, limit=timeout or DEFAULT_LIMIT)
    elif ex.solve is None:
        _solve(ex, data, "check")
        ok, note = _grade_by_key(ex, answer)
    else:
        ref = _solve(ex, data, "check")
        if ex.grade is not None:
            ok, note = ex.grade(answer, ref)
        else:
            ok, note = _close(answer, ref, ex.rel_tol), ""
    if not quiet:
        hint = note if note else ("" if ok else ex.hint)
        print(f"{exercise_id}: {'correct ✓' if ok else 'not yet ✗'}" + (f"  {'' if ok else 'hint: '}{hint}" if hint else ""))
    return ok
