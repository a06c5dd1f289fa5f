"""``make book``: the executed notebooks of a run directory as a static HTML course site.

``python -m mufno_lite.book [RUN_DIR] [--out site]`` reads ``RUN_DIR/NN_*.ipynb`` (written by
``python -m mufno_lite reproduce``; default: the newest ``runs/*`` directory) and writes

* ``site/index.html`` — the course: per notebook its title, first paragraph, learning goals, time
  per preset (both read from the notebook's opening cell) and its exercises' kinds;
* ``site/NN_topic.html`` — one page per notebook, with links to the previous and next sections and
  to the index at its top and bottom;
* ``site/plotly.min.js`` and ``site/mathjax/`` — plotly.js (from the installed ``plotly``) and
  MathJax 2 (from the installed ``jupyter-server-mathjax``), so figures and formulas render offline;
  every page makes no request to the web.

Why nbconvert, and not jupyter-book or myst-nb: nbconvert comes with JupyterLab (the ``notebooks``
extra) and renders an executed notebook to HTML as JupyterLab shows it, with no Sphinx stack; what a
book tool would add (navigation, an index) is two small HTML snippets here.  The notebooks are
rendered as they were executed (no re-execution).

What is changed on the way: a plotly output (``application/vnd.plotly.v1+json``, which nbconvert
would drop) becomes a ``<div>`` drawn by the local plotly.js; a widget view (which needs a live
kernel) becomes a note saying how to open the notebook in JupyterLab (``make lab``); markdown, HTML
outputs and highlighted code pass through :func:`mufno_lite.safehtml.clean_html`, JavaScript outputs
are dropped and script tags that load from the web (require.js) are removed.

Rules for what it reads and writes (``--out``: :mod:`mufno_lite.outdir`): a notebook that is a
symbolic link or cannot be read stops the build with one line naming it (exit 2) — a course with
a page silently missing is not the course; ``--out`` is written only if it is new, empty or a
site this command made, never the run directory or a folder around or inside it.
"""
from __future__ import annotations

import argparse
import re
import secrets
import shutil
import sys
from pathlib import Path
from typing import Callable

from .outdir import check_output, owned_output
from .safehtml import clean_html, href, script_json, text
from .validation import ConfigError

__all__ = ["build_site", "render_page", "newest_run", "notebook_title", "read_notebook", "course_notebooks", "MATHJAX_DIR"]

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
JS_MIMES = ("application/javascript", "text/javascript", "application/x-javascript")
#: a script element of the template's head that loads from the web (require.js; mermaid.js when a page has a diagram)
_REMOTE_SCRIPT = re.compile(r"<script\b(?:(?!</script>).)*?https?://.*?</script>", re.I | re.S)
_NB = re.compile(r"\d\d_[^/\\\x00-\x1f]+\.ipynb")
#: where the site keeps MathJax, and how a page loads it (HTML-CSS output with the STIX-Web fonts that
#: jupyter-server-mathjax ships; ``Safe`` disables \\href{javascript:…} and friends in formulas; MathJax's
#: blank measuring font is a local() one, as its default about:blank URL is refused from file:// pages; the hidden
#: assistive MathML is off, as its CSS asks for TeX fonts the package does not ship, e.g. for \\mathcal)
MATHJAX_DIR = "mathjax"
_MATHJAX_SENTINEL = "mufno-local-mathjax"
_MATHJAX = f"""<script type="text/x-mathjax-config">
MathJax.Hub.Config({{tex2jax: {{inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]], displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]],
  processEscapes: true, processEnvironments: true}}, messageStyle: "none", showMathMenu: false,
  menuSettings: {{assistiveMML: false}},
  "HTML-CSS": {{availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
    styles: {{"@font-face": {{"font-family": "MathJax_Blank", src: "local('MathJax_Blank')"}}}}}}}});
MathJax.Hub.Register.StartupHook("End", function () {{ document.documentElement.setAttribute("data-mathjax", "done"); }});
</script>
<script src="{MATHJAX_DIR}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"></script>"""
_MATHJAX_SKIP = ("localization", "jax/output/SVG", "extensions/a11y")

_CSS = """
.mufno-nav{display:flex;justify-content:space-between;gap:1em;padding:.6em 1em;margin:0 0 1em 0;
  border-bottom:1px solid #ddd;font:14px/1.4 system-ui,sans-serif;background:#fafafa}
.mufno-nav a{text-decoration:none;color:#1a5fb4}
.mufno-widget-note{padding:.5em .8em;border-left:3px solid #1a5fb4;background:#f3f6fb;font:13px system-ui,sans-serif}
.mufno-plotly{width:100%;min-height:380px}
"""


def newest_run(root: Path | str | None = None) -> Path:
    """The newest run directory with executed notebooks under ``<root>/runs`` (root: the working directory)."""
    runs = Path(root or Path.cwd()) / "runs"
    cands = sorted((p for p in runs.glob("*") if p.is_dir() and any(_NB.fullmatch(f.name) for f in p.iterdir())),
                   key=lambda p: p.name)
    if not cands:
        raise FileNotFoundError(f"no executed notebooks under {runs}: run `make reproduce` (or "
                                f"`python -m mufno_lite reproduce --preset smoke`, a few minutes) first, "
                                f"or pass a run directory")
    return cands[-1]


def course_notebooks(folder: Path | str) -> list[Path]:
    """The course's notebooks in ``folder`` (``NN_name.ipynb``), in order; other files are ignored."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if _NB.fullmatch(p.name)) if folder.is_dir() else []


def read_notebook(path: Path):
    """A notebook of the course, or a :class:`ConfigError` naming the file (a symbolic link, not a file,
    not a notebook)."""
    import nbformat

    def bad(why):
        return ConfigError(f"{path} {why}", key="notebook", value=str(path), allowed="a readable notebook file")

    if path.is_symlink():
        raise bad("is a symbolic link: the site is built from the run's own files only (copy the notebook in)")
    if not path.is_file():
        raise bad("is not a file")
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as e:  # NotJSONError, ValidationError, UnicodeDecodeError, OSError …
        first = (str(e).strip().splitlines() or [""])[0][:160]
        raise bad(f"is not a readable notebook ({type(e).__name__}: {first})") from None
    return nb


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
                if not p.startswith(("*Li,", "|", "```", "**")):
                    t = re.sub(r"[*_`]", "", p)
                    return t if len(t) <= 320 else t[:317].rsplit(" ", 1)[0] + " …"
    return ""


def _labelled(nb, label: str) -> str:
    """The markdown after ``**<label>.**`` in the notebook's first two markdown cells, up to the next bold
    label or heading ('' if absent)."""
    md = [c.source for c in nb.cells if c.cell_type == "markdown"][:2]
    for source in md:
        m = re.search(rf"\*\*{re.escape(label)}\.\*\*(.*?)(?=\n\n\*\*|\n#|\Z)", source, re.S)
        if m:
            return m.group(1).strip()
    return ""


def _markdown(source: str) -> str:
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    return clean_html(MarkdownWithMath(renderer=IPythonRenderer(escape=False, exclude_anchor_links=True)).render(source))


def _exercise_kinds(name: str) -> str:
    from .exercises import EXERCISES, KINDS

    kinds = [e.kind for e in EXERCISES.values() if e.id.startswith(f"{name[:2]}.")]
    if not kinds:
        return ""
    return "Exercises: " + ", ".join(f"{kinds.count(k)} {k}" for k in KINDS if k in kinds)


def _widget_note(name: str) -> str:
    return (f'<div class="mufno-widget-note">An interactive widget is here when the notebook runs in '
            f'JupyterLab (<code>make lab</code>, then open <code>{text(name)}</code>); '
            f'a static page has no kernel to drive it.</div>')


def _prepare(nb, name: str, token: str) -> tuple[list[dict], int]:
    """Make a notebook's outputs renderable offline and safe; returns (plotly figures, widgets replaced).

    A plotly output becomes an empty ``<div>`` with an id no notebook can guess (``token``); its
    figure is drawn by one script at the end of the page (:func:`_plotly_script`)."""
    figures, n_widget = [], 0
    nb.metadata.pop("widgets", None)  # saved widget state: nbconvert would load the widget manager from the web
    for cell in nb.cells:
        outs = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data:
                for mime in JS_MIMES:
                    data.pop(mime, None)
                if PLOTLY_MIME in data:
                    spec = data.pop(PLOTLY_MIME)
                    spec = spec if isinstance(spec, dict) else {}
                    div_id = f"mufno-plotly-{token}-{len(figures) + 1}"
                    figures.append({"id": div_id, "data": spec.get("data", []), "layout": spec.get("layout", {}),
                                    "config": dict(spec.get("config", {}) if isinstance(spec.get("config"), dict) else {},
                                                   displaylogo=False, responsive=True)})
                    data.clear()
                    data["text/html"] = f'<div id="{div_id}" class="plotly-graph-div mufno-plotly"></div>'
                elif WIDGET_MIME in data:
                    n_widget += 1
                    data.clear()
                    data["text/html"] = _widget_note(name)
                if not data:  # only JavaScript was there
                    continue
            outs.append(out)
        if "outputs" in cell:
            cell["outputs"] = outs
    return figures, n_widget


def _plotly_script(figures: list[dict]) -> str:
    if not figures:
        return ""
    return ("<script>(function () { var figs = " + script_json(figures) + ";\n"
            "figs.forEach(function (f) { var el = document.getElementById(f.id);\n"
            "  if (el) { Plotly.newPlot(el, f.data, f.layout, f.config); } }); })();</script>")


def _nav(pages: list[tuple[str, str]], i: int) -> str:
    def link(j, left):
        if j < 0 or j >= len(pages):
            return "<span></span>"
        name, title = pages[j]
        words = f"← {title}" if left else f"{title} →"
        return f'<a href="{href(name)}" rel="{"prev" if left else "next"}">{text(words)}</a>'

    return (f'<nav class="mufno-nav">{link(i - 1, True)}<a href="index.html" rel="index">course index</a>'
            f'{link(i + 1, False)}</nav>')


def _page(body: str, nav: str, figures: list[dict]) -> str:
    head, sep, rest = body.partition("<body")
    head = _REMOTE_SCRIPT.sub("", head)
    head = head.replace(f'<script src="{_MATHJAX_SENTINEL}"> </script>', _MATHJAX, 1)
    extra = f"<style>{_CSS}</style>" + ('<script src="plotly.min.js"></script>' if figures else "")
    head = head.replace("</head>", extra + "</head>", 1)
    rest = re.sub(r"^([^>]*>)", lambda m: m.group(1) + nav, rest, count=1)
    cut = rest.rfind("</body>")
    rest = rest[:cut] + nav + _plotly_script(figures) + rest[cut:]
    return head + sep + rest


def _copy_mathjax(dest: Path) -> None:
    import jupyter_server_mathjax

    src = Path(jupyter_server_mathjax.__file__).parent / "static"

    def skip(folder, names):
        rel = Path(folder).relative_to(src).as_posix()
        return [n for n in names if (f"{rel}/{n}" if rel != "." else n) in _MATHJAX_SKIP]

    shutil.copytree(src, dest, ignore=skip)


def _exporter():
    from nbconvert import HTMLExporter

    # sanitize_html: markdown, HTML outputs and code through clean_html; JavaScript outputs dropped
    return HTMLExporter(template_name="lab", sanitize_html=True, filters={"clean_html": clean_html},
                        mathjax_url=_MATHJAX_SENTINEL)


def _index(title: str, entries: list[dict], run_dir: Path) -> str:
    items = []
    for e in entries:
        meta = f'{e["n_img"]} figure{"s" if e["n_img"] != 1 else ""}'
        meta += f', {e["n_plotly"]} interactive' if e["n_plotly"] else ""
        meta += f', {e["n_widget"]} widget{"s" if e["n_widget"] != 1 else ""} (live in JupyterLab)' if e["n_widget"] else ""
        goals = f'<div class="goals"><b>What you will learn.</b> {e["goals"]}</div>' if e["goals"] else ""
        time = f'<div class="time"><b>Time.</b> {e["time"]}</div>' if e["time"] else ""
        kinds = f'<p class="kinds">{text(e["kinds"])}</p>' if e["kinds"] else ""
        items.append(f'<li><a href="{href(e["page"])}">{text(e["title"])}</a><p>{text(e["summary"])}</p>'
                     f'{goals}{time}{kinds}<p class="meta">{meta}</p></li>')
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{text(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font:16px/1.5 system-ui,sans-serif;max-width:860px;margin:2em auto;padding:0 1em;color:#222}}
h1{{font-size:1.7em;margin-bottom:.2em}} ol{{padding-left:1.4em}} li{{margin:0 0 1.4em 0}}
li>a{{font-weight:600;font-size:1.05em;color:#1a5fb4;text-decoration:none}} li p{{margin:.2em 0}}
.goals,.time{{font-size:.92em;margin:.25em 0}} .goals p,.goals ol,.goals ul{{display:inline;margin:0}}
.kinds{{font-size:.9em;color:#1a5fb4}} .meta{{color:#666;font-size:.85em}} .src{{color:#666;font-size:.9em}}
</style>
{_MATHJAX}
</head>
<body>
<h1>{text(title)}</h1>
<p>A course in {len(entries)} notebooks on Li, Yoo &amp; Yang, <i>Maximal Update Parametrization and Zero-Shot
Hyperparameter Transfer for Fourier Neural Operators</i> (ICML 2025). These pages show the notebooks as they
were executed; to run them yourself, open them in JupyterLab (<code>make lab</code>).</p>
<ol>
{chr(10).join(items)}
</ol>
<p class="src">Built by <code>make book</code> from <code>{text(run_dir.name)}</code>.</p>
</body></html>
"""


def render_page(nb, name: str, pages: list[tuple[str, str]], i: int, *, exporter=None, token: str | None = None):
    """One notebook's page (HTML text) and its index entry; ``pages``: (file, title) of every page, this one ``i``."""
    exporter, token = exporter or _exporter(), token or secrets.token_hex(8)
    goals, time = _labelled(nb, "What you will learn"), _labelled(nb, "Time")
    figures, n_widget = _prepare(nb, name, token)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": pages[i][1]}})
    n_img = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    entry = dict(page=pages[i][0], title=pages[i][1], summary=_summary(nb), n_img=n_img, n_plotly=len(figures),
                 n_widget=n_widget, goals=_markdown(goals) if goals else "", time=_markdown(time) if time else "",
                 kinds=_exercise_kinds(name))
    return _page(body, _nav(pages, i), figures), entry


def build_site(run_dir: Path | str, out: Path | str = "site", *, title: str = "μP and μTransfer for Fourier Neural Operators",
               quiet: bool = False, transform: Callable | None = None, kind: str = "site") -> Path:
    """Render every ``NN_*.ipynb`` of ``run_dir`` into ``out``; returns ``out/index.html``.

    ``out`` must be new, empty or a site this function made (:func:`mufno_lite.outdir.owned_output`);
    a notebook that cannot be read raises a :class:`ConfigError` naming it before anything is written.
    ``transform(nb, name)`` edits each notebook before rendering (the student handout uses it)."""
    run_dir = Path(run_dir)
    notebooks = course_notebooks(run_dir)
    if not notebooks:
        raise FileNotFoundError(f"no executed notebooks (NN_*.ipynb) in {run_dir}: run "
                                f"`python -m mufno_lite reproduce --out-dir {run_dir}` first")
    check_output(out, kind=kind, protect=[run_dir])  # refuse before reading anything
    loaded = [(p, read_notebook(p)) for p in notebooks]
    import plotly

    with owned_output(out, kind=kind, protect=[run_dir]) as tmp:
        exporter, token = _exporter(), secrets.token_hex(8)
        pages = [(p.with_suffix(".html").name, notebook_title(nb)) for p, nb in loaded]
        entries = []
        for i, (path, nb) in enumerate(loaded):
            if transform is not None:
                transform(nb, path.name)
            page, entry = render_page(nb, path.name, pages, i, exporter=exporter, token=token)
            (tmp / entry["page"]).write_text(page, encoding="utf-8")
            entries.append(entry)
            if not quiet:
                print(f"  {entry['page']}: {entry['n_img']} figures, {entry['n_plotly']} plotly, {entry['n_widget']} widgets")
        shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", tmp / "plotly.min.js")
        _copy_mathjax(tmp / MATHJAX_DIR)
        (tmp / "index.html").write_text(_index(title, entries, run_dir), encoding="utf-8")
    out = Path(out)
    if not quiet:
        print(f"site: {len(entries)} pages -> {out / 'index.html'}")
    return out / "index.html"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mufno_lite.book", description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", help="a run directory of executed notebooks (default: the newest under runs/)")
    ap.add_argument("--out", default="site", help="the site's folder: new, empty, or a site made by this command "
                                                  "(then replaced); default: site")
    args = ap.parse_args(argv)
    return run_command("book", lambda run: build_site(run, args.out), args.run_dir)


def run_command(name: str, build: Callable[[Path], object], run_dir: str | None) -> int:
    """``build(run)`` on ``run_dir`` (default: the newest run); bad input is one line ``name: …`` and exit 2."""
    try:
        build(Path(run_dir) if run_dir else newest_run())
    except (FileNotFoundError, ConfigError) as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
