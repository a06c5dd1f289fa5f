"""Exercises for a class: each notebook poses them, this module holds the reference solutions.

A teacher hands out the notebooks; students answer in a cell and call
``check("04.1", answer, results=table)``, which says whether the answer is right (within a stated
tolerance) and gives a hint if not.  ``reference(id, **data)`` returns the solution itself;
``reference()`` (or ``reference(notebook="04", results=table)``) prints the answer key as a table, and
``reference(as_dict=True)`` returns it as a dict.  Solutions that depend on data (e.g. "read the
optimum off your sweep") are computed from the table the student passes, so they are right for every
preset; without it, :func:`check` says what to pass.  :func:`paper_reference` prints the paper's
reported optima as a table.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["EXERCISES", "check", "reference", "list_exercises", "paper_reference"]


@dataclass(frozen=True)
class Exercise:
    id: str
    question: str
    solve: Callable[..., Any]
    rel_tol: float = 1e-3
    hint: str = ""


EXERCISES: dict[str, Exercise] = {}


def _register(id: str, question: str, rel_tol: float = 1e-3, hint: str = ""):
    def deco(fn):
        EXERCISES[id] = Exercise(id, question, fn, rel_tol, hint)
        return fn

    return deco


# --- 01 overview -----------------------------------------------------------------------------
@_register("01.1", "How many times more parameters has the paper's FNO-3D (width 64, 4 layers) at K=24 than at K=3?",
           rel_tol=1e-3, hint="count_parameters(d=3, K=..., width=64)['total']; the spectral part grows like K^3")
def _ex011():
    from .fno import count_parameters

    return count_parameters(d=3, K=24, width=64)["total"] / count_parameters(d=3, K=3, width=64)["total"]


@_register("01.2", "Under μP with base K0=3, the spectral weights at K=24 learn with what fraction of the base LR?",
           hint="c(K) = sqrt(log K0 / log K)")
def _ex012():
    return math.sqrt(math.log(3) / math.log(24))


# --- 02 modes --------------------------------------------------------------------------------
@_register("02.1", "How many complex spectral weights has an FNO-2D of width 32, K=12, 4 layers?",
           rel_tol=0, hint="per layer 2^(d-1) corner blocks of K^d complex m×m matrices")
def _ex021():
    return 4 * 2 * 12**2 * 32 * 32


@_register("02.2", "On a 16-point non-last axis with K=4, give the gain of a cosine at frequencies 0..8 as a list.",
           rel_tol=0, hint="frequencies -K..K-1 are kept: what happens at exactly K?")
def _ex022():
    from .fno import mode_response

    return [g for _, g in mode_response(4, (16, 16), axis=0)]


@_register("02.3", "What is the smallest number of grid points on the last (rfft) axis that allows K=24?", rel_tol=0,
           hint="an n-point rfft has n//2 + 1 non-negative frequencies")
def _ex023():
    n = 1
    while n // 2 + 1 < 24:
        n += 1
    return n


# --- 03 parametrization ----------------------------------------------------------------------
@_register("03.1", "A learning rate of 3e-3 was tuned at K_proxy=4. By Algorithm 1, what LR should R use at K=64?",
           hint="eta_target = sqrt(log K_proxy / log K_target) * eta_proxy")
def _ex031():
    from .parametrization import transfer

    return transfer({"lr": 3e-3}, 4, 64)["lr"]


@_register("03.2", "And the init variance 0.02 tuned at K_proxy=4, transferred to K=64?",
           hint="variances scale with the ratio itself, not its square root")
def _ex032():
    from .parametrization import transfer

    return transfer({"init_var": 0.02}, 4, 64)["init_var"]


@_register("03.3", "What does sqrt(2 d log K) predict for the maximum of K^d Gaussians in the paper's largest FNO-3D (K=24)?",
           hint="natural log; d = 3")
def _ex033():
    return math.sqrt(2 * 3 * math.log(24))


# --- 04-09: read the sweeps ------------------------------------------------------------------
def _opt(results, parametrization, K=None, metric="final_train_loss", x="lr"):
    from .analysis import optimum_table

    t = optimum_table(results, x=x, metric=metric, by=("parametrization", "K"))
    t = t[t["parametrization"] == parametrization]
    K = int(t["K"].max()) if K is None else K
    return float(t[t["K"] == K]["best_x"].iloc[0])


def _drift(results, parametrization, metric="final_train_loss"):
    from .analysis import drift_summary, optimum_table

    t = drift_summary(optimum_table(results, metric=metric, by=("pde", "parametrization", "K")))
    return float(t[t["parametrization"] == parametrization]["drift_steps"].iloc[0])


for _nb in ("04", "05", "06"):
    _register(f"{_nb}.1", "From your results table: the SP-optimal learning rate (final training loss) at the largest K.",
              hint="analysis.optimum_table(results) — or find the minimum of the seed-mean curve yourself")(
        lambda results, _p="sp": _opt(results, _p))
    _register(f"{_nb}.2", "By how many grid steps does the SP optimum move from the smallest to the largest K? (signed)",
              rel_tol=0, hint="log10(lr_Kmax / lr_Kmin) divided by the grid spacing (1/8 decade)")(
        lambda results: _drift(results, "sp"))
    _register(f"{_nb}.3", "And the μP optimum?", rel_tol=0, hint="same computation for parametrization 'mup'")(
        lambda results: _drift(results, "mup"))


@_register("07.1", "From the batch-size table: the μP-optimal batch size at the largest K.", rel_tol=0)
def _ex071(results):
    return _opt(results, "mup", x="batch_size")


@_register("07.2", "From the β₂ table: the μP-optimal β₂ at the largest K.", rel_tol=0)
def _ex072(results):
    return _opt(results, "mup", x="beta2")


@_register("08.1", "PINO: the μP-optimal learning rate at the largest K.")
def _ex081(results):
    return _opt(results, "mup")


@_register("09.1", "From the cost table: μTransfer's tuning cost as a fraction of direct tuning (wall time).", rel_tol=1e-6)
def _ex091(table):
    t = table.set_index("method") if "method" in table.columns else table
    row = [m for m in t.index if str(m).startswith("μTransfer")]
    if not row:
        raise ValueError(f"table has no μTransfer-FNO row; rows are {list(t.index)}")
    return float(t.loc[row[0], "cost_ratio_wall"])


@_register("11.1", "With the explorer on Burgers (final training loss): by how many grid steps does μP's optimum move "
           "from the smallest to the largest K?", rel_tol=0, hint="the drift table beside the plot, or explorer.optimum")
def _ex111(results):
    return _drift(results[results["pde"] == "burgers"], "mup")


@_register("11.2", "Press Train with K = 3 (μP's base K0): what is the difference between the SP and μP final losses?",
           rel_tol=0, hint="at K0 the two parametrizations are the same model, bit for bit")
def _ex112():
    return 0.0


# --- api --------------------------------------------------------------------------------------
def list_exercises(notebook: str | None = None) -> list[tuple[str, str]]:
    return [(e.id, e.question) for e in EXERCISES.values() if notebook is None or e.id.startswith(f"{notebook}.")]


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
    from .analysis import PAPER_REPORTED

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


def check(exercise_id: str, answer, *, quiet: bool = False, **data) -> bool:
    """Grade an answer: True if it matches the reference within the exercise's tolerance."""
    ex = _get(exercise_id)
    ok = _close(answer, _solve(ex, data, "check"), ex.rel_tol)
    if not quiet:
        print(f"{exercise_id}: {'correct ✓' if ok else 'not yet ✗'}" + ("" if ok or not ex.hint else f"  hint: {ex.hint}"))
    return ok
