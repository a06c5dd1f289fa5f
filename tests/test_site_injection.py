"""Script injection into the course site (issue 18, class 3): nothing that comes from a notebook runs.

A notebook is data (its file may come from anyone; a trace name may come from a shared store).
One site is built from notebooks that plant script in every place a notebook can hold text: a
plotly trace name and title (inside the page's ``<script>``), a markdown cell, an HTML output, a
markdown output, a JavaScript output, a code cell, a heading (the page's title, the navigation and
the index) and the notebook's file name (the links).  Each payload marks ``window.__pwned`` with
where it came from.  Checked twice: statically (nothing in a page's body that could run but the
site's own plotly script) and in chromium, which opens every page offline and finds no mark, no
``javascript:`` link, the plotly figure drawn and the math typeset.
"""
import nbformat
import pytest

from _site_helpers import CHROMIUM, CHROMIUM_ARGS, live_html, need_browser, offline_page, wait_for_math
from mufno_lite.book import build_site


def mark(where: str) -> str:
    return f"window.__pwned=(window.__pwned||[]).concat(['{where}'])"


def payloads(where: str) -> list[str]:
    """The variants: a script breaking out of its element, an event handler, a javascript: link,
    an SVG/iframe/form vector, a mutation-XSS shape, and an HTML comment opening a script."""
    m = mark(where)
    return [f"</script><script>{m}</script>", f'<img src=x onerror="{m}">', f'<a href="javascript:{m}">link</a>',
            f'<svg onload="{m}"></svg>', f'<iframe src="javascript:{m}"></iframe>',
            f'<math><mtext><table><mglyph><style><img src=x onerror="{m}">',
            f'<!--<script>{m}//', f'<form action="javascript:{m}"><button>go</button></form>']


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    run = tmp / "run"
    run.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "# 01 · Hostile " + payloads("heading")[1] + "\n\nThe factor $\\sqrt{\\log K_0/\\log K}$ stays math.\n\n"
        + " ".join(payloads("markdown")) + f"\n\n[a markdown link](javascript:{mark('md-link')})"))
    outs = [
        nbformat.v4.new_output("display_data", data={"text/html": " ".join(payloads("html-output")), "text/plain": "x"}),
        nbformat.v4.new_output("display_data", data={"text/markdown": " ".join(payloads("markdown-output")), "text/plain": "x"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": mark("js-output"), "text/plain": "js"}),
        nbformat.v4.new_output("display_data", data={"application/vnd.plotly.v1+json": {
            "data": [{"type": "scatter", "x": [1, 2], "y": [3, 4], "name": p} for p in payloads("trace-name")],
            "layout": {"title": {"text": payloads("layout-title")[0]}}}, "text/plain": "<plotly>"}),
    ]
    nb.cells.append(nbformat.v4.new_code_cell(f"x = 1  # {payloads('code')[0]}", outputs=outs, execution_count=1))
    # a file name cannot hold '/', so the file-name payloads are the attribute break-outs
    name = f'01_a"><img src=x onerror="{mark("file-name")}">.ipynb'.replace("/", "")
    nbformat.write(nb, run / name)
    nb2 = nbformat.v4.new_notebook()
    nb2.cells.append(nbformat.v4.new_markdown_cell("# 02 · Next\n\nLinks back to the hostile page."))
    nbformat.write(nb2, run / "02_next.ipynb")
    index = build_site(run, tmp / "site", quiet=True)
    return index.parent


def test_no_page_holds_anything_that_could_run(hostile_site):
    pages = sorted(hostile_site.glob("*.html"))
    assert len(pages) == 3
    for page in pages:
        assert live_html(page.read_text(encoding="utf-8")) == [], page.name
    hostile = next(p for p in pages if p.name.startswith("01_"))
    assert "stays math" in hostile.read_text() and "\\u003c/script\\u003e" in hostile.read_text()


@pytest.mark.browser
def test_nothing_planted_runs_in_chromium(hostile_site):
    sync_api = need_browser()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = offline_page(browser)
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            for path in sorted(hostile_site.glob("*.html")):
                page.goto(path.as_uri())
                page.wait_for_load_state("load")
                wait_for_math(page)
                if path.name.startswith("01_"):
                    page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=20_000)
                    names = page.locator(".legendtext").all_text_contents()
                    assert any("</script>" in n for n in names), names  # the payload shows as text
                    assert page.locator(".MathJax").count() >= 1
                page.wait_for_timeout(300)  # let anything queued (onerror, onload) fire
                assert page.evaluate("() => window.__pwned") is None, (path.name, page.evaluate("() => window.__pwned"))
                assert page.evaluate("() => document.querySelectorAll('[href^=\"javascript:\" i], [src^=\"javascript:\" i]').length") == 0
                # follow every link on the page (none may run script), then come back
                for href in page.locator("a[href]").evaluate_all("els => els.map(e => e.href)"):
                    if href.startswith("file:") and "#" not in href:
                        page.goto(href)
                        assert page.evaluate("() => window.__pwned") is None, href
                page.goto(path.as_uri())
            assert page.remote == [] and errors == [], (page.remote, errors)
        finally:
            browser.close()
