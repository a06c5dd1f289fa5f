"""The layers of ARCHITECTURE.md, and the import graph of the package at module granularity.

* No import loop: the graph of every import of the package by every module (at import time *and*
  inside functions) has no cycle.  A loop is allowed by nothing.
* No import runs up the layers, at import time or lazily, except the few in :data:`LAZY_UPWARD`
  (each with the one-line reason it must be lazy).
* The CLI is a leaf (nothing imports it, not even lazily); a package's ``__init__`` re-exports its
  ``__all__`` only; no library file is over 500 lines.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PKG = ROOT / "mufno_lite"

LAYERS = {
    0: "validation canonical device paths progress presets modes spectra outdir safehtml",
    1: "data",
    2: "fno parametrization theory",
    3: "train optim flops memory",
    4: "sweep store",
    5: "experiments search mutransfer coord_check analysis exercises plan",
    6: "figures style book handout widgets session reproduce",
    7: "cli cli_read __main__",
}
LAYER = {m: n for n, mods in LAYERS.items() for m in mods.split()}

#: (importing module, imported module) -> why the import must run up the layers (lazily). Empty: none does.
LAZY_UPWARD: dict[tuple[str, str], str] = {}

MAX_LINES = 500


# ------------------------------------------------------------------------------------------------
# the import graph
# ------------------------------------------------------------------------------------------------


def _modules(pkg: pathlib.Path) -> dict[str, pathlib.Path]:
    """Dotted module name -> file, packages by their ``__init__.py``."""
    out = {}
    for p in pkg.rglob("*.py"):
        parts = list(p.relative_to(pkg.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _at_import_time(tree):
    """The nodes run when the module is imported (function bodies left out)."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def import_graph(pkg: pathlib.Path = PKG) -> list[tuple[str, str, int, bool]]:
    """Every import of the package's own modules: (importer, imported module, line, lazy).

    ``from a import b`` is an edge to ``a.b`` when that is a module, else to ``a`` (its
    ``__init__`` for a package); ``import a.b`` an edge to ``a.b``."""
    mods = _modules(pkg)
    root = pkg.name

    def owner(name: str) -> str | None:  # the module that defines ``name`` (the nearest one above it)
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges = []
    for m, path in mods.items():
        tree = ast.parse(path.read_text())
        eager = {id(n) for n in _at_import_time(tree)}
        here = m.split(".") if path.name == "__init__.py" else m.split(".")[:-1]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                if mod != root and not mod.startswith(root + "."):
                    continue
                targets = [owner(f"{mod}.{a.name}") if f"{mod}.{a.name}" in mods else owner(mod) for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [owner(a.name) for a in node.names if a.name == root or a.name.startswith(root + ".")]
            else:
                continue
            for t in targets:
                if t and t != m:
                    edges.append((m, t, node.lineno, id(node) not in eager))
    return edges


def import_loops(edges) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iteratively)."""
    graph: dict[str, set] = {}
    for a, b, *_ in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, on, stack, loops, counter = {}, {}, set(), [], [], [0]
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        loops.append(sorted(comp))
    return loops


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYER.get(parts[1]) if len(parts) > 1 else None


def upward_imports(edges) -> list[str]:
    """The imports from a lower layer to a higher one that :data:`LAZY_UPWARD` does not allow."""
    bad = []
    for a, b, line, lazy in edges:
        la, lb = _layer(a), _layer(b)
        if la is not None and lb is not None and lb > la and not (lazy and (a, b) in LAZY_UPWARD):
            bad.append(f"{a}:{line} (layer {la}) imports {b} (layer {lb}){' lazily' if lazy else ''}")
    return bad


# ------------------------------------------------------------------------------------------------
# the package
# ------------------------------------------------------------------------------------------------


def test_every_module_has_a_layer_and_a_line_in_architecture_md():
    tops = {p.relative_to(PKG).parts[0].removesuffix(".py") for p in PKG.rglob("*.py")} - {"__init__"}
    assert tops <= set(LAYER), sorted(tops - set(LAYER))
    text = (ROOT / "ARCHITECTURE.md").read_text()
    for m in tops:
        assert (f"`{m}/`" if (PKG / m).is_dir() else f"`{m}.py`") in text, m
    for path in PKG.rglob("*.py"):  # and every module inside a package
        rel = path.relative_to(PKG)
        if len(rel.parts) > 1 and path.name != "__init__.py":
            assert f"`{rel.as_posix()}`" in text or f"`{path.name}`" in text, rel.as_posix()


def test_no_import_loop_lazy_imports_included():
    loops = import_loops(import_graph())
    assert not loops, loops


def test_no_import_runs_up_the_layers_lazy_or_not():
    edges = import_graph()
    assert not upward_imports(edges), "\n".join(upward_imports(edges))
    used = {(a, b) for a, b, _, lazy in edges if lazy}
    assert set(LAZY_UPWARD) <= used, f"allowed but no longer imported: {sorted(set(LAZY_UPWARD) - used)}"


def test_nothing_imports_the_cli():
    bad = [f"{a}:{line}" for a, b, line, _ in import_graph() if b == "mufno_lite.cli" and a != "mufno_lite.__main__"]
    assert not bad, bad


def test_package_faces_re_export_only_their_all():
    """A package's ``__init__`` binds, by import, only the names of its ``__all__`` (and submodules it
    imports for their side effect); private names are imported from their defining modules."""
    bad = []
    for init in PKG.rglob("__init__.py"):
        tree = ast.parse(init.read_text())
        public = next((ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                       and any(getattr(t, "id", None) == "__all__" for t in n.targets)), [])
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                for a in node.names:
                    name = a.asname or a.name
                    submodule = node.level == 1 and node.module is None and (init.parent / f"{a.name}.py").exists()
                    if name not in public and not submodule:
                        bad.append(f"{init.relative_to(ROOT)}:{node.lineno} {name}")
    assert not bad, bad


def test_no_library_file_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in PKG.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


# ------------------------------------------------------------------------------------------------
# the checks themselves see what they are for
# ------------------------------------------------------------------------------------------------


def test_the_checks_find_a_lazy_loop_and_an_upward_import(tmp_path, monkeypatch):
    pkg = tmp_path / "mufno_lite"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "__init__.py").write_text("from .a import f\n__all__ = ['f']\n")
    (pkg / "data" / "a.py").write_text("from .b import g\n\ndef f():\n    return g\n")
    (pkg / "data" / "b.py").write_text("def g():\n    from . import a  # lazy: closes the loop\n    return a\n")
    (pkg / "validation.py").write_text("def h():\n    from .data.a import f\n    return f\n")  # layer 0 -> 1
    edges = import_graph(pkg)
    assert ("mufno_lite.data", "mufno_lite.data.a") in {(a, b) for a, b, *_ in edges}
    assert import_loops(edges) == [["mufno_lite.data.a", "mufno_lite.data.b"]]
    assert upward_imports(edges) == ["mufno_lite.validation:2 (layer 0) imports mufno_lite.data.a (layer 1) lazily"]
    monkeypatch.setitem(LAZY_UPWARD, ("mufno_lite.validation", "mufno_lite.data.a"), "a reason")
    assert upward_imports(edges) == []


@pytest.mark.parametrize("source", ["from ..train import train_model", "import mufno_lite.train.single"])
def test_an_eager_upward_import_is_never_allowed(tmp_path, monkeypatch, source):
    pkg = tmp_path / "mufno_lite"
    (pkg / "data").mkdir(parents=True)
    (pkg / "train").mkdir()
    for p in ("__init__.py", "data/__init__.py", "train/__init__.py", "train/single.py"):
        (pkg / p).write_text("")
    (pkg / "data" / "x.py").write_text(source + "\n")
    edges = import_graph(pkg)
    monkeypatch.setitem(LAZY_UPWARD, ("mufno_lite.data.x", edges[0][1]), "a reason")
    assert len(upward_imports(edges)) == 1 and "lazily" not in upward_imports(edges)[0]
