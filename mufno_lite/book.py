"""``make book``: the executed notebooks of a run directory as a static HTML course site.

``python -m mufno_lite.book [RUN_DIR] [--out site]`` reads ``RUN_DIR/NN_*.ipynb`` (written by
``python -m mufno_lite reproduce``; default: the newest ``runs/*`` directory) and writes

* ``site/index.html`` — the course: one entry per notebook (its title and first paragraph), in order;
* ``site/NN_topic.html`` — one page per notebook, with links to the previous and next sections and
  to the index at its top and bottom;
* ``site/plotly.min.js`` — plotly.js, copied from the installed ``plotly`` package, so the
  interactive figures work offline.

Why nbconvert, and not jupyter-book or myst-nb: nbconvert comes with JupyterLab (the ``notebooks``
extra) and renders an executed notebook to HTML as JupyterLab shows it, so the site needs no new
dependency and no Sphinx stack; what a book tool would add (navigation, an index) is two small
HTML snippets here.  The notebooks are rendered as they were executed (no re-execution).

What is changed on the way: a plotly output (``application/vnd.plotly.v1+json``, which nbconvert
would drop) becomes a ``<div>`` drawn by the local plotly.js; a widget view (which needs a live
kernel) becomes a note saying how to open the notebook in JupyterLab (``make lab``); script tags
that load from the web (require.js, MathJax) are removed, so a page makes no network request
(formulas then show as their TeX source).
"""
from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
from pathlib import Path

__all__ = ["build_site", "newest_run", "notebook_title"]

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.I)
_NB = re.compile(r"^\d\d_.+\.ipynb$")

_CSS = """
.mufno-nav{display:flex;justify-content:space-between;gap:1em;padding:.6em 1em;margin:0 0 1em 0;
  border-bottom:1px solid #ddd;font:14px/1.4 system-ui,sans-serif;background:#fafafa}
.mufno-nav a{text-decoration:none;color:#1a5fb4}
.mufno-widget-note{padding:.5em .8em;border-left:3px solid #1a5fb4;background:#f3f6fb;font:13px system-ui,sans-serif}
"""


def newest_run(root: Path | str | None = None) -> Path:
    """The newest run directory with executed notebooks under ``<root>/runs`` (root: the working directory)."""
    runs = Path(root or Path.cwd()) / "runs"
    cands = sorted((p for p in runs.glob("*") if p.is_dir() and any(_NB.match(f.name) for f in p.iterdir())),
                   key=lambda p: p.name)
    if not cands:
        raise FileNotFoundError(f"no executed notebooks under {runs}: run `make reproduce` (or "
                                f"`python -m mufno_lite reproduce --preset smoke`, a few minutes) first, "
                                f"or pass a run directory")
    return cands[-1]


def notebook_title(nb) -> str:
    """The first markdown heading of a notebook (without the leading #'s)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return "untitled"


def _summary(nb) -> str:
    """The first plain paragraph of the first markdown cell (after its heading), as text."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            paras = [p.strip() for p in cell.source.split("\n\n") if p.strip() and not p.strip().startswith("#")]
            for p in paras:
                if not p.startswith(("*Li,", "|", "```")):
                    text = re.sub(r"[*_`]", "", p)
                    return text if len(text) <= 320 else text[:317].rsplit(" ", 1)[0] + " …"
    return ""


def _plotly_html(spec: dict, div_id: str) -> str:
    data = json.dumps(spec.get("data", []))
    layout = json.dumps(spec.get("layout", {}))
    config = json.dumps(dict(spec.get("config", {}), displaylogo=False, responsive=True))
    return (f'<div id="{div_id}" class="plotly-graph-div mufno-plotly" style="width:100%;min-height:380px"></div>\n'
            f'<script>Plotly.newPlot("{div_id}", {data}, {layout}, {config});</script>')


def _widget_note(name: str) -> str:
    return (f'<div class="mufno-widget-note">An interactive widget is here when the notebook runs in '
            f'JupyterLab (<code>make lab</code>, then open <code>{html.escape(name)}</code>); '
            f'a static page has no kernel to drive it.</div>')


def _prepare(nb, name: str) -> tuple[int, int]:
    """Make a notebook's outputs renderable offline; returns (plotly figures, widgets) replaced."""
    n_plotly = n_widget = 0
    stem = Path(name).stem
    nb.metadata.pop("widgets", None)  # saved widget state: nbconvert would load the widget manager from the web
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data")
            if not data:
                continue
            if PLOTLY_MIME in data:
                n_plotly += 1
                data["text/html"] = _plotly_html(data.pop(PLOTLY_MIME), f"plotly-{stem}-{n_plotly}")
                data.pop("text/plain", None)
            elif WIDGET_MIME in data:
                n_widget += 1
                data.pop(WIDGET_MIME)
                data.clear()
                data["text/html"] = _widget_note(name)
    return n_plotly, n_widget


def _nav(pages: list[tuple[str, str]], i: int | None) -> str:
    def link(j, arrow_left):
        if j is None or j < 0 or j >= len(pages):
            return "<span></span>"
        href, title = pages[j]
        text = f"← {title}" if arrow_left else f"{title} →"
        return f'<a href="{href}" rel="{"prev" if arrow_left else "next"}">{html.escape(text)}</a>'

    if i is None:
        return ""
    return (f'<nav class="mufno-nav">{link(i - 1, True)}<a href="index.html" rel="index">course index</a>'
            f'{link(i + 1, False)}</nav>')


def _page(body: str, nav: str, uses_plotly: bool) -> str:
    body = _REMOTE_SCRIPT.sub("", body)
    head = f"<style>{_CSS}</style>" + ('<script src="plotly.min.js"></script>' if uses_plotly else "")
    body = body.replace("</head>", head + "</head>", 1)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, body, count=1)
    return body.replace("</body>", nav + "</body>", 1)


def build_site(run_dir: Path | str, out: Path | str = "site", *, title: str = "μP and μTransfer for Fourier Neural Operators",
               quiet: bool = False) -> Path:
    """Render every ``NN_*.ipynb`` of ``run_dir`` into ``out`` (replaced); returns ``out/index.html``."""
    import nbformat
    import plotly
    from nbconvert import HTMLExporter

    run_dir, out = Path(run_dir), Path(out)
    notebooks = sorted(p for p in run_dir.iterdir() if _NB.match(p.name)) if run_dir.is_dir() else []
    if not notebooks:
        raise FileNotFoundError(f"no executed notebooks (NN_*.ipynb) in {run_dir}: run "
                                f"`python -m mufno_lite reproduce --out-dir {run_dir}` first")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    exporter = HTMLExporter(template_name="lab")
    loaded = [(p, nbformat.read(p, as_version=4)) for p in notebooks]
    pages = [(p.with_suffix(".html").name, notebook_title(nb)) for p, nb in loaded]
    entries = []
    for i, (path, nb) in enumerate(loaded):
        n_plotly, n_widget = _prepare(nb, path.name)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": pages[i][1]}})
        (out / pages[i][0]).write_text(_page(body, _nav(pages, i), n_plotly > 0), encoding="utf-8")
        n_img = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
        entries.append((pages[i][0], pages[i][1], _summary(nb), n_img, n_plotly, n_widget))
        if not quiet:
            print(f"  {pages[i][0]}: {n_img} figures, {n_plotly} plotly, {n_widget} widgets")
    shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", out / "plotly.min.js")
    meta = (run_dir / "manifest.json")
    items = "\n".join(
        f'<li><a href="{href}">{html.escape(t)}</a><p>{html.escape(s)}</p>'
        f'<p class="meta">{ni} figure{"s" if ni != 1 else ""}'
        + (f", {npl} interactive" if npl else "") + (f", {nw} widget{'s' if nw != 1 else ''} (live in JupyterLab)" if nw else "")
        + "</p></li>"
        for href, t, s, ni, npl, nw in entries)
    index = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font:16px/1.5 system-ui,sans-serif;max-width:860px;margin:2em auto;padding:0 1em;color:#222}}
h1{{font-size:1.7em;margin-bottom:.2em}} ol{{padding-left:1.4em}} li{{margin:0 0 1.1em 0}}
li>a{{font-weight:600;font-size:1.05em;color:#1a5fb4;text-decoration:none}} li p{{margin:.2em 0}}
.meta{{color:#666;font-size:.85em}} .src{{color:#666;font-size:.9em}}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>A course in {len(entries)} notebooks on Li, Yoo &amp; Yang, <i>Maximal Update Parametrization and Zero-Shot
Hyperparameter Transfer for Fourier Neural Operators</i> (ICML 2025). These pages show the notebooks as they
were executed; to run them yourself, open them in JupyterLab (<code>make lab</code>).</p>
<ol>
{items}
</ol>
<p class="src">Built by <code>make book</code> from <code>{html.escape(run_dir.name)}</code>{' (its figures manifest: figures/manifest.json)' if meta.exists() or (run_dir / 'figures' / 'manifest.json').exists() else ''}.</p>
</body></html>
"""
    (out / "index.html").write_text(index, encoding="utf-8")
    if not quiet:
        print(f"site: {len(entries)} pages -> {out / 'index.html'}")
    return out / "index.html"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mufno_lite.book", description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", help="a run directory of executed notebooks (default: the newest under runs/)")
    ap.add_argument("--out", default="site", help="the site's folder (replaced; default: site)")
    args = ap.parse_args(argv)
    try:
        run = Path(args.run_dir) if args.run_dir else newest_run()
        build_site(run, args.out)
    except FileNotFoundError as e:
        print(f"book: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
