"""``make handout``: the student version of the course holds no answer, and still grades.

Fast: the student version of a course notebook (teacher's line gone, nbgrader grade cells that
pass on right answers and fail on missing ones, a notebook still calling ``reference`` refused).
Slow (the session's smoke reproduction): the whole handout built, and no fixed answer found in any
file of it, in any of the forms the key table prints; ``--out`` follows the same rule as the book's.
"""
import ast
import json

import nbformat
import pytest

from mufno_lite.handout import build_handout, student_notebook
from mufno_lite.outdir import OutputError
from mufno_lite.validation import ConfigError
from test_course_grading import ANSWER_FORMS, REPO, SOLUTIONS

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _student(name: str):
    path = next(p for p in NOTEBOOKS if p.name.startswith(name))
    return student_notebook(nbformat.read(path, as_version=4), path.name), path


def test_the_student_notebook_has_nbgrader_grade_cells_and_no_teacher_line():
    nb, path = _student("03")
    text = json.dumps(nb)
    assert "Teachers:" not in text and "teacher=True" not in text and "Teachers:" in path.read_text()
    grade = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert [c.metadata.nbgrader.grade_id for c in grade] == [f"check_03_{i}" for i in range(1, 8)]
    for c in grade:
        meta = c.metadata.nbgrader
        assert c.cell_type == "code" and meta.locked and not meta.solution and meta.points == 1 and meta.schema_version == 3
        node = ast.parse(c.source).body[0]
        assert isinstance(node, ast.Assert) and "quiet=True" in c.source
    assert "cc=cc64, quiet=True" in grade[-1].source
    exercises = next(c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## Exercises"))
    assert exercises.metadata.nbgrader.locked and not exercises.metadata.nbgrader.grade
    nbformat.validate(nb)


def test_grade_cells_pass_on_right_answers_and_fail_on_missing_ones():
    nb, _ = _student("02")
    answer_cell = next(c for c in nb.cells if c.cell_type == "code" and "answer_02_1 = None" in c.source)
    grade = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    ns = {}
    exec(answer_cell.source, ns)  # as handed out: every answer None
    for c in grade:
        with pytest.raises((AssertionError, ValueError)):
            exec(c.source, ns)
    for i in range(1, 5):
        ns[f"answer_02_{i}"] = SOLUTIONS[f"02.{i}"]
    for c in grade:
        exec(c.source, ns)  # no exception: full points
    ns["answer_02_3"] = 48
    with pytest.raises(AssertionError, match="02.3 is not right yet"):
        exec(next(c for c in grade if "02.3" in c.source).source, ns)


def test_a_notebook_that_still_calls_the_key_is_refused():
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("paper_reference('burgers')"))  # the paper's numbers: fine
    student_notebook(nb, "04_x.ipynb")
    nb.cells.append(nbformat.v4.new_code_cell("reference(notebook='04', teacher=True)"))
    with pytest.raises(ConfigError, match="04_x.ipynb: cell 1 still uses the teacher's key"):
        student_notebook(nb, "04_x.ipynb")


@pytest.mark.slow
def test_the_handout_holds_no_answer_and_follows_the_output_rule(smoke_run, tmp_path):
    out = build_handout(smoke_run, tmp_path / "handout", quiet=True)
    notebooks = sorted((out / "notebooks").glob("*.ipynb"))
    assert [p.name for p in notebooks] == [p.name for p in NOTEBOOKS]
    assert len(list((out / "site").glob("[0-9][0-9]_*.html"))) == len(NOTEBOOKS) and (out / "README.md").exists()
    scanned, leaks = 0, []
    for path in out.rglob("*"):
        if not path.is_file() or "mathjax" in path.parts or path.name == "plotly.min.js":
            continue  # third-party JavaScript, copied from its package
        text = path.read_text(encoding="utf-8", errors="replace")
        scanned += 1
        leaks += [(path.name, eid, s) for eid, forms in ANSWER_FORMS.items() for s in forms if s in text]
        leaks += [(path.name, "reference", "reference(") for _ in [0] if "reference(notebook" in text]
        leaks += [(path.name, "key table", "answer") for _ in [0] if "exercise  question  answer" in text]
        for eid, value in SOLUTIONS.items():
            if isinstance(value, str):  # a multiple choice's letter, as an answer would be written
                nn, k = eid.split(".")
                leaks += [(path.name, eid, value) for pat in (f'answer_{nn}_{k} = "{value}"', f'"{eid}": "{value}"',
                                                              f'check(\\"{eid}\\", \\"{value}\\"') if pat in text]
    assert scanned >= 2 * len(NOTEBOOKS) + 2 and leaks == [], leaks
    build_handout(smoke_run, out, quiet=True)  # its own handout: replaced
    (out / "mine.txt").write_text("x")
    with pytest.raises(OutputError, match="'mine.txt', which handout did not write"):
        build_handout(smoke_run, out, quiet=True)
    with pytest.raises(OutputError, match="this command reads"):
        build_handout(smoke_run, smoke_run / "handout", quiet=True)
