"""``make handout``: the course for students — notebooks and a site, without the teacher's key.

``python -m mufno_lite.handout [RUN_DIR] [--out handout]`` writes

* ``handout/notebooks/NN_*.ipynb`` — the course's notebooks (from the checkout's ``notebooks/``,
  output-free) in their student version (below);
* ``handout/site/`` — the course site (:mod:`mufno_lite.book`) of ``RUN_DIR``'s executed notebooks
  (default: the newest ``runs/*``), in the same student version;
* ``handout/README.md`` — for students: how to open, run and check an answer.

The student version of a notebook: the sentence that points teachers to ``reference(...)`` is
removed (a notebook still calling ``reference`` stops the build), and it carries nbgrader's cell
metadata (schema 3): the Exercises cell is read-only, the answer cell an ordinary editable one, and one locked
*grade cell* per exercise, 1 point each, asserts ``check(..., quiet=True)`` on the answer (a cell
that raises scores 0, as nbgrader's autograder counts it).  Nothing in a handout holds an answer:
``check`` grades fixed answers against the package's hashed key, and the teacher's solutions
(``teacher/solutions.py``) stay in the source repository.

``--out`` follows :mod:`mufno_lite.outdir`: a new or empty folder, or a handout made before.
"""
from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

from .book import build_site, course_notebooks, read_notebook, run_command
from .outdir import owned_output
from .validation import ConfigError

__all__ = ["build_handout", "student_notebook"]

_TEACHER_LINE = re.compile(r"\s*Teachers: `reference\([^`]*\)` prints the answer key\.")
_REFERENCE_CALL = re.compile(r"(?<![\w.])reference\(|teacher\s*=\s*True")
_NBGRADER = {"schema_version": 3, "task": False}

README = """# {title}: the student handout

These are the course's notebooks (`notebooks/`) and its pages as a teacher executed them (`site/`,
open `site/index.html`; it works offline).

**Run a notebook.** Install the package (`pip install "mufno-lite[notebooks]"`, or `make setup` in a
copy of the course's repository), open JupyterLab on `notebooks/` and run a notebook from the top.
Its first cell sets `preset`: `smoke` runs in seconds (numbers mean nothing), `quick` is meaningful
on a laptop CPU.

**Answer an exercise.** Each notebook ends with its exercises. Write your answer into the cell
below them (`answer_03_1 = 0.0021`, a letter for a multiple choice, a function for an "implement"
exercise) and run it: `check` says whether it is right and, if not, gives a hint. `check` knows the
answers only as salted hashes, so it cannot print them; an exercise computed from your own data
(your results table) is graded against that data. The last cells of a notebook are grade cells for
a teacher's autograder (nbgrader): one per exercise, each fails until its answer is right.
"""


def _grade_cells(nb, nn: str) -> list:
    """One nbgrader grade cell per ``check(...)`` call of the notebook's last (answer) cell."""
    import nbformat

    source = nb.cells[-1].source
    cells = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                and node.args and isinstance(node.args[0], ast.Constant)):
            call = ast.get_source_segment(source, node)
            eid = node.args[0].value
            cell = nbformat.v4.new_code_cell(f"assert {call[:-1]}, quiet=True), \"{eid} is not right yet\"")
            cell.metadata["nbgrader"] = dict(_NBGRADER, grade=True, solution=False, locked=True, points=1,
                                             grade_id=f"check_{eid.replace('.', '_')}")
            cells.append((eid, cell))
    cells.sort(key=lambda c: tuple(int(x) for x in c[0].split(".")))
    if not cells:
        return []
    head = nbformat.v4.new_markdown_cell(
        f"### Grade cells ({len(cells)} exercises)\n\nFor a teacher's autograder (nbgrader): each cell below passes "
        "when its exercise's answer is right and fails (scores 0) until then. Run them to see your score.")
    head.metadata["nbgrader"] = dict(_NBGRADER, grade=False, solution=False, locked=True, grade_id=f"grading_{nn}")
    return [head] + [c for _, c in cells]


def student_notebook(nb, name: str, *, grade_cells: bool = True):
    """Turn a course notebook into its student version, in place (see the module); returns it."""
    nn = name[:2]
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.source = _TEACHER_LINE.sub("", cell.source)
        if _REFERENCE_CALL.search(cell.source):
            raise ConfigError(f"{name}: cell {i} still uses the teacher's key ({_REFERENCE_CALL.search(cell.source)[0]!r}); "
                              "a student notebook must not", key="notebook", value=name, allowed="no reference(...) call")
    exercises = [c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## Exercises")]
    for c in exercises:
        c.metadata["nbgrader"] = dict(_NBGRADER, grade=False, solution=False, locked=True, grade_id=f"exercises_{nn}")
    if grade_cells and nb.cells and nb.cells[-1].cell_type == "code" and "check(" in nb.cells[-1].source:
        nb.cells.extend(_grade_cells(nb, nn))  # the answer cell itself stays an ordinary, editable cell
    return nb


def build_handout(run_dir: Path | str, out: Path | str = "handout", *, notebooks: Path | str | None = None,
                  quiet: bool = False) -> Path:
    """Write the student handout of ``run_dir`` (executed notebooks) into ``out``; returns ``out``."""
    import nbformat

    from .paths import repo_root

    source = Path(notebooks) if notebooks is not None else (repo_root() / "notebooks" if repo_root() else None)
    if source is None or not course_notebooks(source):
        raise FileNotFoundError(f"no course notebooks in {source or 'this installation'}: pass --notebooks DIR "
                                "(the course repository's notebooks/)")
    run_dir = Path(run_dir)
    loaded = [(p, read_notebook(p)) for p in course_notebooks(source)]
    with owned_output(out, kind="handout", protect=[run_dir, source]) as tmp:
        (tmp / "notebooks").mkdir()
        for path, nb in loaded:
            nbformat.write(student_notebook(nb, path.name), tmp / "notebooks" / path.name)
        build_site(run_dir, tmp / "site", quiet=True, title="μP and μTransfer for Fourier Neural Operators",
                   transform=lambda nb, name: student_notebook(nb, name, grade_cells=False))
        (tmp / "README.md").write_text(README.format(title="μP and μTransfer for Fourier Neural Operators"),
                                       encoding="utf-8")
    if not quiet:
        print(f"handout: {len(loaded)} student notebooks and their site -> {Path(out)}")
    return Path(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mufno_lite.handout", description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", help="a run directory of executed notebooks (default: the newest under runs/)")
    ap.add_argument("--out", default="handout", help="the handout's folder: new, empty, or a handout made before")
    ap.add_argument("--notebooks", help="the course notebooks (default: the checkout's notebooks/)")
    args = ap.parse_args(argv)
    return run_command("handout", lambda run: build_handout(run, args.out, notebooks=args.notebooks), args.run_dir)


if __name__ == "__main__":
    raise SystemExit(main())
