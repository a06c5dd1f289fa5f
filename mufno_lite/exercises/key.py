"""The answer key that :func:`~mufno_lite.exercises.check` grades against, without holding the answers.

For every exercise whose answer is fixed (it does not depend on the student's data) the package
ships only salted, slow hashes (``answer_key.json`` beside this module): PBKDF2-SHA256 of the
answer's *bucket*, never the answer.

* a multiple choice hashes its letter;
* an exact answer (``rel_tol=0``: an integer, a list, zero) hashes its canonical text (numbers
  rounded to 9 decimals, integers without a decimal point);
* a number with a relative tolerance r hashes the index of its bucket on a logarithmic grid of
  width ``-log(1 - r) / 4``, with its sign, and the key holds the hashes of the reference's bucket
  and its four neighbours on each side: an answer within r of the reference is always accepted,
  one more than about 1.25 r away never.

The reference solutions themselves are the teacher's (``teacher/solutions.py`` in the source
repository, not in the installed package); ``python teacher/make_key.py`` computes them and
rewrites the key (keeping the salts of unchanged answers), and a test checks that key and
solutions agree.  What a determined student can still recover is listed in the README ("For
teachers"): the hashes hide the answers from reading, not from a search over the few plausible
answers (``check`` itself answers such a search, one call per guess).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import secrets
from functools import lru_cache
from pathlib import Path

from ..validation import ConfigError

__all__ = ["KEY_FILE", "graded_by_key", "matches", "build_key", "write_key", "teacher_solutions", "TEACHER_KEY_ENV"]

KEY_FILE = Path(__file__).with_name("answer_key.json")
#: the environment variable naming the teacher's solutions file (default: the checkout's teacher/solutions.py)
TEACHER_KEY_ENV = "MUFNO_TEACHER_KEY"
_ITERATIONS = 20_000
#: buckets per tolerance: the key accepts within rel_tol always, beyond (1 + 1/_SPREAD)·rel_tol never
_SPREAD = 4


def _hash(salt: str, token: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", token.encode(), bytes.fromhex(salt), _ITERATIONS).hex()


def _how(ex) -> str:
    return "choice" if ex.options else ("exact" if ex.rel_tol == 0 else "rel")


def canonical(value) -> str:
    """The text an exact answer is hashed as: numbers to 9 decimals, lists element by element.

    >>> canonical([1.0, 0.5000000000001, 46]), canonical(4.0), canonical(-0.0)
    ('[1,0.5,46]', '4', '0')
    """
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(f"an exact answer is a number or a list of numbers; got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        return repr(v)
    r = round(v, 9) + 0.0
    return str(int(r)) if r.is_integer() else repr(r)


def _bucket(value, rel_tol: float) -> int | None:
    v = float(value)
    if not math.isfinite(v) or v == 0:
        return None
    return math.floor(math.log(abs(v)) / (-math.log1p(-rel_tol) / _SPREAD))


def _token(how: str, value, rel_tol: float) -> str:
    """The one token an answer is hashed as."""
    if how == "choice":
        return str(value)
    if how == "exact":
        return canonical(value)
    b = _bucket(value, rel_tol)
    if b is None:
        return "zero" if float(value) == 0 else repr(float(value))
    return f"{'-' if float(value) < 0 else '+'}{b}"


def _tokens(how: str, ref, rel_tol: float) -> list[str]:
    """The tokens the key holds for a reference answer: its own, and for a tolerance its neighbours' too."""
    one = _token(how, ref, rel_tol)
    if how != "rel" or one[0] not in "+-":
        return [one]
    b = int(one[1:])
    return [f"{one[0]}{b + j}" for j in range(-_SPREAD, _SPREAD + 1)]


@lru_cache(maxsize=1)
def _key() -> dict:
    try:
        return json.loads(KEY_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:  # pragma: no cover - a broken installation
        raise RuntimeError(f"the answer key {KEY_FILE} cannot be read ({e}): reinstall mufno-lite") from None


def graded_by_key(exercise_id: str) -> bool:
    """Whether ``exercise_id`` is graded against the hashed key (its answer does not depend on data)."""
    return exercise_id in _key()


def matches(ex, answer) -> bool:
    """Whether ``answer`` (already normalised: a letter, a number or a list) matches the key's entry."""
    entry = _key()[ex.id]
    if entry["how"] != _how(ex) or entry.get("rel_tol", 0) != (0 if ex.options else ex.rel_tol):
        raise RuntimeError(f"the answer key's entry for {ex.id} does not match the exercise: "
                           f"run `python teacher/make_key.py`")
    return _hash(entry["salt"], _token(entry["how"], answer, entry.get("rel_tol", 0))) in entry["hashes"]


def teacher_solutions(path: Path | str | None = None) -> dict:
    """The teacher's reference solutions: ``{id: answer}`` (an implement exercise's answer is a function).

    From ``path``, else ``$MUFNO_TEACHER_KEY``, else ``teacher/solutions.py`` of the source checkout;
    a :class:`ConfigError` saying where to find it when none is here (an installed package has none)."""
    from ..paths import repo_root

    where = path or os.environ.get(TEACHER_KEY_ENV) or (repo_root() / "teacher" / "solutions.py" if repo_root() else None)
    if where is None or not Path(where).is_file():
        raise ConfigError(f"the teacher's solutions are not on this machine ({where or 'no source checkout'}): they are "
                          f"teacher/solutions.py in the course's source repository, not part of the installed package; "
                          f"set {TEACHER_KEY_ENV}=PATH to use a copy", key=TEACHER_KEY_ENV, value=str(where),
                          allowed="the path of teacher/solutions.py")
    spec = importlib.util.spec_from_file_location("mufno_teacher_solutions", where)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SOLUTIONS


def build_key(solutions: dict, exercises: dict, old: dict | None = None) -> dict:
    """The key for every exercise with a fixed answer (``old``'s salt kept where the answer is unchanged)."""
    key = {}
    for eid, ex in exercises.items():
        if ex.solve is not None or ex.grade is not None:
            continue  # computed from the student's data, or graded against the library
        if eid not in solutions:
            raise KeyError(f"teacher/solutions.py has no solution for {eid}")
        how, value = _how(ex), solutions[eid]
        rel_tol = 0 if ex.options else ex.rel_tol
        tokens = _tokens(how, value, rel_tol)
        prev = (old or {}).get(eid)
        salt = secrets.token_hex(16)
        if prev and prev.get("how") == how and prev.get("rel_tol") == rel_tol:
            if sorted(_hash(prev["salt"], t) for t in tokens) == sorted(prev["hashes"]):
                salt = prev["salt"]
        key[eid] = {"how": how, "rel_tol": rel_tol, "salt": salt, "hashes": sorted(_hash(salt, t) for t in tokens)}
    return key


def write_key(exercises: dict, solutions: dict | None = None, *, write: bool = True) -> tuple[int, bool]:
    """Rebuild the key of ``exercises`` (:data:`mufno_lite.exercises.EXERCISES`, passed in so that this module
    stays below the registry) from the teacher's solutions; returns (answers, whether it changed).
    ``write=False`` only compares (``teacher/make_key.py --check``)."""
    old = json.loads(KEY_FILE.read_text(encoding="utf-8")) if KEY_FILE.exists() else {}
    new = build_key(teacher_solutions() if solutions is None else solutions, exercises, old)
    if write and new != old:
        KEY_FILE.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        _key.cache_clear()
    return len(new), new != old
