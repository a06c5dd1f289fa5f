"""What the course-site tests share: how to launch chromium, how to open a page with every request
that is not a local file aborted (and recorded), and the HTML checks for live script."""
import os
from html.parser import HTMLParser

import pytest

CHROMIUM = "/usr/bin/chromium"
#: how every site test launches Debian's chromium (headless, no network services of its own)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--allow-file-access-from-files"]
#: what marks MathJax's output (HTML-CSS output jax) and its end of typesetting
MATH_DONE = "() => document.documentElement.getAttribute('data-mathjax') === 'done'"
RAW_MATH = r"""() => Array.from(document.querySelectorAll('.jp-RenderedMarkdown, .goals, .time'))
  .map(e => { const c = e.cloneNode(true); c.querySelectorAll('code, pre, script').forEach(x => x.remove()); return c.textContent; })
  .filter(t => /\\$[^$\\s][^$]*\\$/.test(t))"""


def need_browser():
    """Skip (saying why) unless chromium and playwright are here; returns playwright's sync_api."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser test skipped: {CHROMIUM} not found (sudo apt-get install -y chromium; nothing is installed for you)")
    return pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")


def offline_page(browser, **kw):
    """A new page whose every request that is not ``file:`` or ``data:`` is aborted and recorded in
    ``page.remote`` (a site that works offline attempts none)."""
    page = browser.new_page(**kw)
    page.remote = []

    def route(r):
        if r.request.url.startswith(("file:", "data:", "about:")):
            r.continue_()
        else:
            page.remote.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return page


def wait_for_math(page, timeout=30_000):
    """Wait until MathJax has typeset the page; returns (MathJax elements, raw $…$ texts left)."""
    page.wait_for_function(MATH_DONE, timeout=timeout)
    page.evaluate("() => new Promise(r => MathJax.Hub.Queue(r))")
    return page.locator(".MathJax, .MathJax_Display").count(), page.evaluate(RAW_MATH)


class _Live(HTMLParser):
    """Finds what could run in a page's body: script elements, event-handler attributes,
    javascript: URLs, frames and objects."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.in_body, self.found, self.scripts = False, [], []
        self._script = None

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.in_body = True
        if not self.in_body:
            return
        for name, value in attrs:
            v = (value or "").strip().lower().replace("\t", "").replace("\n", "")
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action", "formaction", "data") and v.startswith(("javascript:", "vbscript:", "data:text")):
                self.found.append(f"<{tag} {name}={v[:40]}>")
        if tag in ("iframe", "object", "embed", "base", "form", "frame", "meta", "link", "svg", "math"):
            self.found.append(f"<{tag}>")
        if tag == "script":
            self._script = []

    def handle_data(self, data):
        if self._script is not None:
            self._script.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append("".join(self._script))
            self._script = None


def live_html(page_html: str) -> list[str]:
    """Anything in a page's body that could run, other than the site's own one plotly script."""
    p = _Live()
    p.feed(page_html)
    own = [s for s in p.scripts if s.startswith("(function () { var figs = ")]
    return p.found + [f"<script>{s[:60]}" for s in p.scripts if s not in own] + (["two plotly scripts"] if len(own) > 1 else [])
