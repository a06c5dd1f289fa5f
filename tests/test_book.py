"""The course site (mufno_lite.book, `make book`).

Without a browser: a small synthetic notebook (a matplotlib PNG, a plotly figure, a widget view)
becomes a page with the PNG embedded, a plotly div drawn by the local plotly.js, a note instead
of the widget, prev/next links, and no script loaded from the web.

In a real browser (marked ``browser``; Debian's /usr/bin/chromium driven by playwright, skipped
with the reason when either is missing): one smoke reproduction of every notebook into a temp
dir, the site built from it, and every page opened from disk: each image loaded, no console
errors, a drawn plotly figure wherever the notebook has one, the prev/next links leading through
the whole course.  ``MUFNO_SCREENSHOTS=1`` also writes the index's screenshot to
``figures/screenshots/site_index.png``.
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

from mufno_lite.book import build_site, notebook_title

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--allow-file-access-from-files"]


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
    assert sorted(p.name for p in site.iterdir()) == ["01_first.html", "02_second.html", "03_third.html", "index.html",
                                                       "plotly.min.js"]
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


# ---- the real site in a real browser -----------------------------------------------------------

@pytest.fixture(scope="module")
def smoke_site(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser test skipped: {CHROMIUM} not found (sudo apt-get install -y chromium; nothing is installed for you)")
    pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    tmp = tmp_path_factory.mktemp("book")
    env = dict(os.environ, MUFNO_PRESET="smoke", MUFNO_THREADS="1", OMP_NUM_THREADS="1",
               MUFNO_RESULTS=str(tmp / "results.sqlite"), PYTHONPATH=str(REPO))
    env.pop("MUFNO_FIGURES_DIR", None)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "mufno_lite", "reproduce", "--preset", "smoke", "--out-dir", str(tmp / "run")],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    index = build_site(tmp / "run", tmp / "site", quiet=True)
    print(f"smoke reproduction + site: {time.monotonic() - t0:.0f} s")
    return tmp / "run", index


@pytest.mark.browser
@pytest.mark.slow
def test_every_page_of_the_site_renders_in_chromium(smoke_site):
    from playwright.sync_api import sync_playwright

    run, index = smoke_site
    site = index.parent
    notebooks = sorted(p for p in run.glob("[0-9][0-9]_*.ipynb"))
    expected_plotly, expected_imgs = {}, {}
    for p in notebooks:
        nb = nbformat.read(p, as_version=4)
        outs = [o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])]
        expected_plotly[p.with_suffix(".html").name] = sum("application/vnd.plotly.v1+json" in d for d in outs)
        expected_imgs[p.with_suffix(".html").name] = sum("image/png" in d for d in outs)
    course = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [p.name for p in notebooks] == [p.name for p in course] and sum(expected_imgs.values()) > 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors = []
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(index.as_uri())
            links = page.locator("ol li > a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
            assert links == [p.with_suffix(".html").name for p in notebooks]
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
                assert page.locator("nav.mufno-nav a[rel=index]").count() == 2
                assert not errors, (name, errors)
                nxt = page.locator("nav.mufno-nav a[rel=next]").first
                if nxt.count() == 0:
                    break
                nxt.click()
            assert seen == [p.with_suffix(".html").name for p in notebooks]
        finally:
            browser.close()
