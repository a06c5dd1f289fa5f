"""Packaging promises: environment.yml agrees with pyproject.toml (conda can't run here), torch is
held by the constraints file, notebooks are stored output-free with a tagged parameters cell."""
import json
import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "pip" in deps
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
    version = python.split("=")[-1]
    req_python = pyproject()["project"]["requires-python"]
    assert req_python.startswith(">=") and tuple(map(int, version.split("."))) >= tuple(map(int, req_python[2:].split(".")))
    editable = [x for x in pip_section if x.startswith("-e")]
    assert len(editable) == 1
    extras = set(re.search(r"\[(.*)\]", editable[0]).group(1).split(","))
    optional = pyproject()["project"]["optional-dependencies"]
    assert extras <= set(optional), extras
    env_reqs = {Requirement(x).name: str(Requirement(x).specifier) for x in pip_section if not x.startswith("-e") and not x.startswith("torch")}
    wanted = list(pyproject()["project"]["dependencies"]) + [r for e in sorted(extras) for r in optional[e]]
    py_reqs = {Requirement(x).name: str(Requirement(x).specifier) for x in wanted if not x.startswith("torch")}
    assert env_reqs == py_reqs


def test_torch_is_pinned_everywhere():
    constraints = (ROOT / "constraints.txt").read_text().split()
    assert "torch==2.13.0" in constraints
    env = (ROOT / "environment.yml").read_text()
    assert "torch==2.13.0" in env
    makefile = (ROOT / "Makefile").read_text()
    installs = [line for line in makefile.splitlines() if re.search(r"(pip|\$\(PIP\)) install", line) and "--upgrade pip" not in line]
    assert installs and all("-c constraints.txt" in line for line in installs), installs
    torch_req = next(r for r in pyproject()["project"]["dependencies"] if r.startswith("torch"))
    assert Requirement(torch_req).specifier.contains("2.13.0")


def test_ci_calls_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make reproduce" in readme
    assert re.search(r"^make test\b", (ROOT / ".ci" / "run").read_text(), re.M)


def test_notebooks_are_output_free_with_parameters_cell():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), path.name
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, path.name
        src = "".join(tagged[0]["source"])
        assert re.search(r'^preset = "auto"', src, re.M) and re.search(r"^device = ", src, re.M), path.name
        # the cell after the parameters seeds and picks the device through the library
        idx = nb["cells"].index(tagged[0])
        nxt = "".join(nb["cells"][idx + 1]["source"])
        assert "setup(preset, device, seed" in nxt, path.name


def _make_recipe(makefile: str, target: str) -> list[str]:
    lines = makefile.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^{re.escape(target)}:", line))
    out = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        out.append(line)
    return out


def test_make_test_installs_nothing_with_sudo_and_make_lab_exists():
    makefile = (ROOT / "Makefile").read_text()
    deps = " ".join(_make_recipe(makefile, "browser-deps") + _make_recipe(makefile, "test"))
    # browser-deps only checks and prints the instruction; `make test` never runs sudo or apt-get
    assert "apt-get install" in deps and not re.search(r"^\s*(sudo|apt-get)\b|;\s*(sudo|apt-get)\b|&&\s*(sudo|apt-get)\b", deps)
    assert all("echo" in line or "apt-get" not in line for line in _make_recipe(makefile, "browser-deps"))
    lab = " ".join(_make_recipe(makefile, "lab"))
    assert "jupyterlab" in lab and "notebooks" in lab and "$(LAB_ARGS)" in lab
    assert re.search(r"^LAB_ARGS \?= \$\(if \$\(CI\),--no-browser,\)", makefile, re.M)
