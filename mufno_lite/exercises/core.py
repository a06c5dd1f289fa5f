"""The exercise machinery: the registry, graders, ``check``, ``question``, ``reference`` and the
answer-key tables.  The exercises themselves are in :mod:`mufno_lite.exercises.course`."""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable


#: the kinds of exercise, in the order a notebook lists them
KINDS = ("predict", "explain", "implement", "explore", "compute", "read")


@dataclass(frozen=True)
class Exercise:
    id: str
    question: str
    solve: Callable[..., Any]
    rel_tol: float = 1e-3
    hint: str = ""
    kind: str = "read"
    #: multiple choice: {letter: text}; the answer is a letter
    options: dict | None = None
    #: multiple choice: {wrong letter: why it is wrong}
    feedback: dict | None = None
    #: custom grading: grade(answer, reference) -> (ok, message)
    grade: Callable[..., tuple] | None = None


EXERCISES: dict[str, Exercise] = {}


def _register(id: str, question: str, rel_tol: float = 1e-3, hint: str = "", kind: str = "read", **extra):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got kind={kind!r}")

    def deco(fn):
        EXERCISES[id] = Exercise(id, question, fn, rel_tol, hint, kind, **extra)
        return fn

    return deco


def _choice(id: str, question: str, options: dict, answer: str, feedback: dict, hint: str = ""):
    """Register a multiple-choice ``explain`` exercise (answer: one letter)."""
    _register(id, question, hint=hint, kind="explain", options=options, feedback=feedback)(lambda: answer)


# --- api --------------------------------------------------------------------------------------
# notebooks list their exercises in id order
_ordered = sorted(EXERCISES.items(), key=lambda kv: tuple(int(x) for x in kv[0].split(".")))
EXERCISES.clear()
EXERCISES.update(_ordered)


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
    missing = [n for n in needs if n not in data]
    extra = [n for n in data if n not in inspect.signature(ex.solve).parameters or n.startswith("_")]
    if missing:
        what = "; ".join(f"{n}= ({_WHAT[n]})" if n in _WHAT else f"{n}=" for n in missing)
        example = ", ".join(f"{n}={n}" for n in needs)
        answer = ", answer" if call == "check" else ""
        raise TypeError(f"exercise {ex.id} is computed from your data: pass {what}, "
                        f'e.g. {call}("{ex.id}"{answer}, {example})')
    if extra:
        takes = ", ".join(f"{n}=" for n in needs) or "nothing but the answer"
        raise TypeError(f"exercise {ex.id} does not use {', '.join(f'{n}=' for n in extra)}; it takes {takes}")
    return ex.solve(**data)


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


def reference(exercise_id: str | None = None, *, notebook: str | None = None, as_dict: bool = False, **data):
    """The reference solutions.

    ``reference("04.1", results=table)`` returns one solution (computed from ``data`` for
    data-dependent exercises).  ``reference()`` prints the answer key as a table (``notebook="04"``:
    that notebook's exercises; data-dependent ones are computed when their data is passed, else
    say what they need) and returns nothing; ``reference(as_dict=True)`` returns ``{id: answer}``
    (``None`` where the data is missing).
    """
    if exercise_id is not None:
        return _solve(_get(exercise_id), data, "reference")
    chosen = [e for e in EXERCISES.values() if notebook is None or e.id.startswith(f"{str(notebook).zfill(2)}.")]
    if not chosen:
        raise ValueError(f"notebook={notebook!r} has no exercises; notebooks with exercises: "
                         f"{sorted({e.id.split('.')[0] for e in EXERCISES.values()})}")
    answers, shown = {}, []
    for e in chosen:
        needs = _needs(e)
        if all(n in data for n in needs):
            answers[e.id] = e.solve(**{n: data[n] for n in needs})
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


def _grade_choice(ex: Exercise, answer, ref) -> tuple[bool, str]:
    letter = str(answer).strip().strip("()").strip(").").lower() if isinstance(answer, str) else None
    if letter not in ex.options:
        return False, f"answer with one letter among {', '.join(ex.options)}; got {answer!r}"
    if letter == ref:
        return True, ""
    return False, (ex.feedback or {}).get(letter, "")


def check(exercise_id: str, answer, *, quiet: bool = False, **data) -> bool:
    """Grade an answer: True if it matches the reference within the exercise's tolerance.

    Prints ``correct ✓`` or ``not yet ✗`` with a hint (for a multiple choice, why that choice is
    wrong; for an implementation, the first hidden case where it differs from the library; for a
    prediction, what the run measured).  ``quiet=True`` prints nothing.
    """
    ex = _get(exercise_id)
    if answer is None:
        raise ValueError(f"exercise {ex.id}: write your answer first (it is None); the question: {question(ex.id)}")
    ref = _solve(ex, data, "check")
    note = ""
    if ex.grade is not None:
        ok, note = ex.grade(answer, ref)
    elif ex.options:
        ok, note = _grade_choice(ex, answer, ref)
    else:
        ok = _close(answer, ref, ex.rel_tol)
    if not quiet:
        hint = note if note else ("" if ok else ex.hint)
        print(f"{exercise_id}: {'correct ✓' if ok else 'not yet ✗'}" + (f"  {'' if ok else 'hint: '}{hint}" if hint else ""))
    return ok
