"""Fuzzing the course's new surfaces (issue 18): the site's pages, its links, its output folder,
and ``check()``.  Each property could fail on a broken implementation: a page with live script, a
figure whose data changed on the way, a link that leaves its attribute, a folder changed although
it was refused, a ``check`` that raises something undocumented or hangs."""
import html
import json
import re
import tempfile
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _site_helpers import live_html
from mufno_lite.book import render_page
from mufno_lite.exercises import EXERCISES, check
from mufno_lite.exercises.key import graded_by_key
from mufno_lite.outdir import STAMP, OutputError, owned_output
from mufno_lite.safehtml import href

FRAGMENTS = ["<script>", "</script>", "<!--", "-->", "<img src=x onerror=alert(1)>", "javascript:", "<svg onload=x>",
             "<a href='javascript:x'>", "<iframe>", "<style>", "</style>", "\"", "'", "<", ">", "&", "$", "$$", "\\(",
             "<math><mtext><table><mglyph><style>", "<b>", "</b>", "<div class='jp-Mermaid'><pre class='mermaid'>",
             "\u2028", "`", "*", "# ", "\n", "\n\n", "[x](javascript:y)", "onerror=", "<base href=//x>", "&lt;script&gt;"]
hostile = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=12).map("".join)
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(md=hostile, html_out=hostile, names=st.lists(hostile, min_size=1, max_size=3), title=hostile)
def test_no_page_ever_holds_live_script_and_figures_keep_their_data(md, html_out, names, title):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(f"# {title}\n\n{md}"))
    spec = {"data": [{"type": "scatter", "x": [1], "y": [2], "name": n} for n in names], "layout": {"title": {"text": md}}}
    nb.cells.append(nbformat.v4.new_code_cell(md, execution_count=1, outputs=[
        nbformat.v4.new_output("display_data", data={"text/html": html_out, "text/markdown": md, "text/plain": "x"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": html_out, "text/plain": "js"}),
        nbformat.v4.new_output("display_data", data={"application/vnd.plotly.v1+json": spec, "text/plain": "p"})]))
    page, entry = render_page(nb, "01_x.ipynb", [("01_x.html", title), ("02_y.html", title)], 0)
    assert live_html(page) == []
    figs = re.search(r"var figs = (.*?);\nfigs\.forEach", page, re.S).group(1)
    assert "</" not in figs and "<!--" not in figs
    assert [t["name"] for t in json.loads(figs)[0]["data"]] == names  # escaped, not changed


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1).filter(lambda s: "/" not in s and "\x00" not in s))
def test_a_file_name_link_stays_in_its_attribute_and_points_at_the_file(name):
    link = href(name)
    assert not re.search(r"[\"'<>\s:]", link)
    assert unquote(html.unescape(link)) == name


names = st.text(alphabet="abc.-_ ", min_size=1, max_size=6).filter(lambda s: s not in (".", "..") and s.strip())
trees = st.recursive(st.just("file"), lambda kids: st.dictionaries(names, kids, min_size=1, max_size=3), max_leaves=6)


def _make(root, tree):
    for name, sub in tree.items():
        if sub == "file":
            (root / name).write_text(name)
        else:
            (root / name).mkdir()
            _make(root / name, sub)


def _snapshot(root):
    return sorted((str(p.relative_to(root)), p.read_text() if p.is_file() else None) for p in root.rglob("*"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=st.dictionaries(names, trees, min_size=1, max_size=3), stamped=st.booleans())
def test_a_folder_the_command_did_not_make_is_refused_and_left_as_it_was(tmp_path, tree, stamped):
    base = Path(tempfile.mkdtemp(dir=tmp_path))
    out = base / "out"
    out.mkdir()
    _make(out, tree)
    if stamped:  # a stamp that does not list what is there does not make it ours
        (out / STAMP).write_text(json.dumps({"kind": "site", "files": []}))
    before = _snapshot(out)
    with pytest.raises(OutputError):
        with owned_output(out, kind="site") as tmp:
            (tmp / "index.html").write_text("new")
    assert _snapshot(out) == before and [p.name for p in base.iterdir()] == ["out"]  # no temporary folder left


answers = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=6), st.lists(st.floats(allow_nan=False, width=32), max_size=10),
                    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2), st.complex_numbers())
FIXED = [e for e in EXERCISES if graded_by_key(e)]


@settings(max_examples=80, deadline=None)
@given(eid=st.sampled_from(FIXED), answer=answers)
def test_check_of_a_fixed_answer_returns_a_verdict_for_anything(eid, answer):
    if answer is None:
        with pytest.raises(ValueError, match="write your answer first"):
            check(eid, answer, quiet=True)
    else:
        assert check(eid, answer, quiet=True) in (True, False)


class Hostile:
    def __float__(self):
        raise RuntimeError("no")

    def __iter__(self):
        raise RuntimeError("no")


@settings(max_examples=8, deadline=None)  # each example forks a grader twice
@given(eid=st.sampled_from(["03.4", "03.5"]), value=st.one_of(answers, st.just(Hostile())))
def test_check_of_an_implementation_survives_any_returned_value(eid, value):
    assert check(eid, lambda *a, **k: value, quiet=True, timeout=5) is False  # a function returning it
    if value is not None:
        assert check(eid, value, quiet=True) is False  # the value itself, not a function
