"""The course site (mufno_lite.book, `make book`).

Without a browser: a small synthetic notebook (a matplotlib PNG, a plotly figure, a widget view)
becomes a page with the PNG embedded, a plotly div drawn by the local plotly.js, a note instead
of the widget, prev/next links, and no script loaded from the web.  What ``--out`` may replace
(issue 18, class 1) and what a broken notebook does (class 6) are checked here too.

In a real browser (marked ``browser``; Debian's /usr/bin/chromium driven by playwright, skipped
with the reason when either is missing): the session's smoke reproduction (``tests/conftest.py``),
the site built from it, and every page opened from disk with every request that is not a file
aborted and recorded: each image loaded, no console errors, no request attempted, the formulas
typeset by MathJax (no raw ``$…$`` left), a drawn plotly figure wherever the notebook has one, the
prev/next links leading through the whole course.  A synthetic page checks the math alone, fast.
``MUFNO_SCREENSHOTS=1`` also writes the index's screenshot to ``figures/screenshots/site_index.png``.
"""
import base64
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from _site_helpers import CHROMIUM, CHROMIUM_ARGS, need_browser, offline_page, wait_for_math
from mufno_lite.book import build_site, notebook_title
from mufno_lite.outdir import STAMP

REPO = Path(__file__).resolve().parent.parent


def _png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([1, 2, 3], [1, 4, 9])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _notebook(path: Path, title: str, plotly: bool = False, widget: bool = False) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(f"# {title}\n\nWhat this section teaches, in one paragraph."))
    outs = [nbformat.v4.new_output("display_data", data={"image/png": _png(), "text/plain": "<Figure>"})]
    if plotly:
        outs.append(nbformat.v4.new_output("display_data", data={
            "application/vnd.plotly.v1+json": {"data": [{"type": "scatter", "x": [1, 2], "y": [3, 4]}], "layout": {}},
            "text/plain": "<plotly figure>"}))
    if widget:
        outs.append(nbformat.v4.new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
            "text/plain": "HBox()"}))
    nb.cells.append(nbformat.v4.new_code_cell("plot()", outputs=outs, execution_count=1))
    nbformat.write(nb, path)


def test_site_from_synthetic_notebooks(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    _notebook(run / "01_first.ipynb", "01 · First")
    _notebook(run / "02_second.ipynb", "02 · Second", plotly=True, widget=True)
    _notebook(run / "03_third.ipynb", "03 · Third")
    (run / "notes.ipynb").write_text("{}")  # not a course notebook: ignored
    index = build_site(run, tmp_path / "site", quiet=True)
    site = index.parent
    assert sorted(p.name for p in site.iterdir()) == [STAMP, "01_first.html", "02_second.html", "03_third.html",
                                                       "index.html", "mathjax", "plotly.min.js"]
    assert (site / "mathjax" / "MathJax.js").is_file()
    idx = index.read_text()
    assert idx.index("01_first.html") < idx.index("02_second.html") < idx.index("03_third.html")
    assert "What this section teaches" in idx and "1 interactive" in idx
    second = (site / "02_second.html").read_text()
    assert 'href="01_first.html" rel="prev"' in second and 'href="03_third.html" rel="next"' in second
    assert 'href="index.html"' in second
    assert "Plotly.newPlot(" in second and '<script src="plotly.min.js"></script>' in second
    assert "make lab" in second and "widget-view" not in second
    assert "data:image/png;base64," in second
    for page in site.glob("*.html"):
        text = page.read_text()
        assert not [s for s in ('src="http://', 'src="https://') if s in text], page.name  # nothing from the web
    first = (site / "01_first.html").read_text()
    assert 'rel="prev"' not in first and "plotly.min.js" not in first
    assert notebook_title(nbformat.read(run / "01_first.ipynb", as_version=4)) == "01 · First"


def test_book_cli_says_what_to_do_without_notebooks(tmp_path):
    out = subprocess.run([sys.executable, "-m", "mufno_lite.book", str(tmp_path), "--out", str(tmp_path / "s")],
                         capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert out.returncode == 2 and "no executed notebooks" in out.stderr and "reproduce" in out.stderr



def _book(*args, cwd):
    """``python -m mufno_lite.book ARGS`` as a subprocess (exit code, stderr)."""
    return subprocess.run([sys.executable, "-m", "mufno_lite.book", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=300)


class _Out:
    def __init__(self, returncode, stderr):
        self.returncode, self.stderr = returncode, stderr


def _main(capsys, *args):
    """The book's CLI in this process (the same ``main``, without a new interpreter's start-up)."""
    import mufno_lite.book as book

    capsys.readouterr()
    rc = book.main([str(a) for a in args])
    return _Out(rc, capsys.readouterr().err)


@pytest.fixture
def run_dir(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    _notebook(run / "01_first.ipynb", "01 · First")
    return run


# ---- --out never deletes or replaces what book did not create (issue 18, class 1) ---------------
def test_out_refuses_a_folder_it_did_not_make_and_keeps_its_files(run_dir, tmp_path):
    mine = tmp_path / "v"
    mine.mkdir()
    (mine / "t").write_text("x")
    out = _book(run_dir, "--out", mine, cwd=tmp_path)  # the reproduction, as a command
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "did not make" in out.stderr and "'t'" in out.stderr
    assert (mine / "t").read_text() == "x" and sorted(p.name for p in mine.iterdir()) == ["t"]


@pytest.mark.parametrize("target, says", [
    ("{run}", "is "), ("{run}/..", "contains"), ("{run}/site", "lies inside"), ("{tmp}/link/..", "contains"),
])
def test_out_is_never_the_run_a_folder_around_it_or_inside_it(run_dir, tmp_path, target, says, capsys):
    (tmp_path / "link").symlink_to(run_dir)  # {tmp}/link/.. resolves to the run's parent
    before = sorted(p.name for p in run_dir.iterdir())
    out = _main(capsys, run_dir, "--out", target.format(run=run_dir, tmp=tmp_path))
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert says in out.stderr and "this command reads" in out.stderr
    assert sorted(p.name for p in run_dir.iterdir()) == before and not (run_dir / "site").exists()


def test_out_naming_a_file_or_a_symlink_is_one_line(run_dir, tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("keep")
    out = _main(capsys, run_dir, "--out", f)
    assert out.returncode == 2 and out.stderr.strip() == f"book: --out is a file, not a folder; got --out={f}"
    assert f.read_text() == "keep"
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "ln").symlink_to(tmp_path / "elsewhere")
    out = _main(capsys, run_dir, "--out", tmp_path / "ln")
    assert out.returncode == 2 and "symbolic link" in out.stderr and (tmp_path / "ln").is_symlink()


def test_out_replaces_only_a_site_it_made_and_only_whole(run_dir, tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"
    build_site(run_dir, site, quiet=True)
    stamp = (site / STAMP).read_text()
    assert "index.html" in stamp and "mathjax/MathJax.js" in stamp
    _notebook(run_dir / "02_second.ipynb", "02 · Second")
    build_site(run_dir, site, quiet=True)  # its own site: replaced
    assert (site / "02_second.html").exists()
    # a build that fails half-way leaves the old site as it was, and no temporary folder behind
    import mufno_lite.book as book

    monkeypatch.setattr(book, "_copy_mathjax", lambda dest: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError, match="disk full"):
        build_site(run_dir, site, quiet=True)
    monkeypatch.undo()
    assert (site / "mathjax" / "MathJax.js").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["run", "site"]
    (site / "notes.txt").write_text("mine")  # a file the site did not write: now it is not book's to replace
    out = _main(capsys, run_dir, "--out", site)
    assert out.returncode == 2 and "'notes.txt', which site did not write" in out.stderr
    assert (site / "notes.txt").read_text() == "mine"


# ---- a notebook that cannot be read (issue 18, class 6) -------------------------------------------
@pytest.mark.parametrize("kind", ["corrupt", "symlink", "not json object"])
def test_a_broken_or_linked_notebook_stops_the_book_with_one_line(run_dir, tmp_path, kind, capsys):
    bad = run_dir / "02_bad.ipynb"
    if kind == "corrupt":
        bad.write_text('{"cells": [')
    elif kind == "symlink":
        secret = tmp_path / "private.ipynb"
        _notebook(secret, "private")
        bad.symlink_to(secret)
    else:
        bad.write_text("[1, 2]")
    out = _book(run_dir, "--out", tmp_path / "site", cwd=tmp_path) if kind == "corrupt" else \
        _main(capsys, run_dir, "--out", tmp_path / "site")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert str(bad) in out.stderr and ("symbolic link" in out.stderr if kind == "symlink" else "not a readable notebook" in out.stderr)
    assert not (tmp_path / "site").exists()


# ---- math, offline, in a real browser -------------------------------------------------------------
@pytest.mark.browser
def test_math_is_typeset_offline_in_chromium(tmp_path):
    sync_api = need_browser()
    run = tmp_path / "run"
    run.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "# 01 · μP's factor\n\nThe init variance $\\sigma^2 \\propto 1/(d\\log K)$, with $a<b$ escaped, and\n\n"
        "$$\\eta(K) = \\eta_0\\sqrt{\\log K_0/\\log K}$$\n\n**What you will learn.** Why $1/\\sqrt{d\\log K}$.\n\n"
        "**Time.** `smoke`: seconds. `quick`: 5 s."))
    nbformat.write(nb, run / "01_math.ipynb")
    index = build_site(run, tmp_path / "site", quiet=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for page_file in (index.parent / "01_math.html", index):
                page = offline_page(browser)
                errors = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(page_file.as_uri())
                n_math, raw = wait_for_math(page)
                assert n_math >= (4 if page_file != index else 1) and raw == [], (page_file.name, n_math, raw)
                assert page.locator(".MathJax .math").count() >= 1  # HTML-CSS output, not the TeX source
                assert page.remote == [] and errors == [], (page.remote, errors)
                page.close()
        finally:
            browser.close()


# ---- the real site in a real browser -----------------------------------------------------------
@pytest.mark.browser
@pytest.mark.slow
def test_every_page_of_the_site_renders_in_chromium(smoke_site):
    sync_api = need_browser()
    run, index = smoke_site
    site = index.parent
    notebooks = sorted(p for p in run.glob("[0-9][0-9]_*.ipynb"))
    expected_plotly, expected_imgs, has_math = {}, {}, {}
    for p in notebooks:
        nb = nbformat.read(p, as_version=4)
        outs = [o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])]
        expected_plotly[p.with_suffix(".html").name] = sum("application/vnd.plotly.v1+json" in d for d in outs)
        expected_imgs[p.with_suffix(".html").name] = sum("image/png" in d for d in outs)
        has_math[p.with_suffix(".html").name] = any("$" in c.source for c in nb.cells if c.cell_type == "markdown")
    course = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [p.name for p in notebooks] == [p.name for p in course] and sum(expected_imgs.values()) > 0
    assert sum(has_math.values()) >= 6
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = offline_page(browser, viewport={"width": 1200, "height": 900})
            errors = []
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(index.as_uri())
            links = page.locator("ol li > a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
            assert links == [p.with_suffix(".html").name for p in notebooks]
            assert page.locator("li .goals").count() == len(notebooks) and page.locator("li .time").count() == len(notebooks)
            assert page.locator("li .kinds").count() == len(notebooks)
            wait_for_math(page)
            if os.environ.get("MUFNO_SCREENSHOTS"):
                shots = REPO / "figures" / "screenshots"
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / "site_index.png"), full_page=False)
            # walk the course by its "next" links, from the first page to the last
            page.locator("ol li > a").first.click()
            seen = []
            while True:
                page.wait_for_load_state("load")
                name = page.url.rsplit("/", 1)[-1]
                seen.append(name)
                imgs = page.evaluate("() => Array.from(document.images).map(i => [i.complete && i.naturalWidth > 0, i.src.slice(0, 40)])")
                assert len(imgs) >= expected_imgs[name], f"{name}: {len(imgs)} images, the notebook has {expected_imgs[name]}"
                assert all(ok for ok, _ in imgs), (name, [s for ok, s in imgs if not ok])
                if expected_plotly[name]:
                    page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=20_000)
                    assert page.locator(".js-plotly-plot").count() == expected_plotly[name], name
                n_math, raw = wait_for_math(page)
                assert raw == [] and (n_math > 0 or not has_math[name]), (name, n_math, raw)
                assert page.locator("nav.mufno-nav a[rel=index]").count() == 2
                assert not errors and page.remote == [], (name, errors, page.remote)
                nxt = page.locator("nav.mufno-nav a[rel=next]").first
                if nxt.count() == 0:
                    break
                nxt.click()
            assert seen == [p.with_suffix(".html").name for p in notebooks]
        finally:
            browser.close()
