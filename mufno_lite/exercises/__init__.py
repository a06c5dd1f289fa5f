"""Exercises for a class: each notebook poses them, this module holds the reference solutions.

A teacher hands out the notebooks; students answer in a cell and call
``check("04.1", answer, results=table)``, which says whether the answer is right (within a stated
tolerance) and gives a hint if not.

Exercises come in kinds (``Exercise.kind``, :func:`list_exercises` ``kind=``):

* ``predict``: write a prediction down, then run something (seconds at the ``smoke`` preset) and
  check the prediction against what the run measured; the check reveals the measured value.
* ``explain``: a multiple-choice question (answer ``"a"``, ``"b"``, …; each wrong choice says why it is
  wrong) or a short number that follows from the notebook's argument.
* ``implement``: write a function (μP's init scaling, μP's optimizer groups); ``check`` runs it
  against :mod:`mufno_lite.parametrization` on hidden K, d and widths and says where it differs.
* ``explore``: use a widget or a table to find something; the answer is computed from the data.
* ``compute``: a number from the paper's formulas.  ``read``: a number read off the notebook's own
  results (kept few).

Answers that are fixed are graded against salted hashes (:mod:`.key`), so the installed package
holds none of them in plain text; the teacher's key is ``reference(..., teacher=True)``, which reads
``teacher/solutions.py`` of the source repository: ``reference(id, teacher=True, **data)`` returns
one solution, ``reference(teacher=True)`` (or ``reference(notebook="04", results=table,
teacher=True)``) prints the key as a table and ``as_dict=True`` returns it.  Solutions that depend
on data (e.g. "read the optimum off your sweep") are computed from the table the student passes, so
they are right for every preset; without it, :func:`check` says what to pass.  An ``implement``
answer runs in a time-limited child process (:mod:`.sandbox`).  :func:`paper_reference` prints the
paper's reported optima as a table.
"""
from __future__ import annotations

from . import course  # noqa: F401  (not a re-export: importing it registers every exercise)
from .core import EXERCISES, KINDS, check, list_exercises, paper_reference, question, reference

__all__ = ["EXERCISES", "KINDS", "check", "reference", "list_exercises", "question", "paper_reference"]
