"""The layers of ARCHITECTURE.md.

At import time a module imports only from its own layer or below (imports inside functions may
reach up, lazily); the CLI is a leaf (nothing imports it, not even lazily).
"""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PKG = ROOT / "mufno_lite"

LAYERS = {
    0: "validation canonical device paths progress presets modes spectra",
    1: "data",
    2: "fno parametrization theory",
    3: "train optim flops memory",
    4: "sweep store",
    5: "experiments search mutransfer coord_check analysis exercises plan",
    6: "figures style book widgets session reproduce",
    7: "cli __main__",
}
LAYER = {m: n for n, mods in LAYERS.items() for m in mods.split()}


def _module_level(tree):
    """The nodes run at import time (function bodies left out)."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def _imports(path: pathlib.Path, lazy: bool = False):
    """(line, [top-level package module]) for every import of the package in ``path``."""
    rel = path.relative_to(PKG).with_suffix("")
    pkg = list(rel.parts[:-1])
    tree = ast.parse(path.read_text())
    for node in (ast.walk(tree) if lazy else _module_level(tree)):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = pkg[: len(pkg) - (node.level - 1)]
            parts = base + (node.module.split(".") if node.module else [])
            yield node.lineno, (parts[:1] if parts else [a.name for a in node.names])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mufno_lite."):
            yield node.lineno, [node.module.split(".")[1]]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("mufno_lite."):
                    yield node.lineno, [a.name.split(".")[1]]


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


def test_no_module_imports_upwards_at_import_time():
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        top = path.relative_to(PKG).parts[0].removesuffix(".py")
        if top == "__init__":
            continue
        for line, targets in _imports(path):
            for t in targets:
                if t in LAYER and LAYER[t] > LAYER[top]:
                    bad.append(f"{path.relative_to(ROOT)}:{line} ({top}, layer {LAYER[top]}) imports {t} (layer {LAYER[t]})")
    assert not bad, "\n".join(bad)


def test_nothing_imports_the_cli():
    bad = [f"{p.relative_to(ROOT)}:{line}" for p in sorted(PKG.rglob("*.py")) if p.name not in ("cli.py", "__main__.py")
           for line, targets in _imports(p, lazy=True) if "cli" in targets]
    assert not bad, bad
