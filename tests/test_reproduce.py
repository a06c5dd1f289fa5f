"""Batch reproduction: a failing notebook is named with its cell and error; the others still run;
--only selects notebooks and refuses unknown names."""
import nbformat
import pytest

from mufno_lite.reproduce import _select, reproduce


def write_nb(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('preset = "auto"\ndevice = "auto"', metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_failure_names_notebook_and_cell(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    write_nb(nbs / "01_ok.ipynb", ["x = 1", "assert preset == 'smoke', preset"])
    write_nb(nbs / "02_broken.ipynb", ["y = 2", "raise RuntimeError('boom in cell three')"])
    logs = []
    runs = reproduce("smoke", notebooks_dir=nbs, out_dir=tmp_path / "out", log=logs.append)
    status = {r.notebook: r for r in runs}
    assert status["01_ok.ipynb"].status == "ok"
    bad = status["02_broken.ipynb"]
    assert bad.status == "FAILED" and "RuntimeError" in bad.error and "boom in cell three" in bad.error
    text = "\n".join(logs)
    assert "FAILED in 02_broken.ipynb at cell" in text and "1 ok, 1 failed" in text
    assert (tmp_path / "out" / "02_broken.ipynb").exists()  # the executed copy, with its traceback


def test_only_selects_and_refuses_unknown(tmp_path):
    paths = [tmp_path / n for n in ("01_overview.ipynb", "04_lr_transfer_burgers.ipynb", "10_limits.ipynb")]
    assert _select(paths, ["4"]) == [paths[1]]
    assert _select(paths, ["burgers", "1"]) == [paths[0], paths[1]]
    assert _select(paths, ["10"]) == [paths[2]]
    with pytest.raises(ValueError, match="only='99' matches no notebook; the notebooks are: 01_overview"):
        _select(paths, ["99"])
