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


# ------------------------------------------------------------------------------------------------
# where outputs go: a run directory, never the committed figures/ unless --update-figures
# ------------------------------------------------------------------------------------------------
from datetime import datetime, timezone  # noqa: E402

from mufno_lite import figures as F  # noqa: E402
from mufno_lite import paths, reproduce as R  # noqa: E402


def fake_checkout(tmp_path):
    repo = tmp_path / "course"
    (repo / "notebooks").mkdir(parents=True)
    return repo


def test_run_dir_follows_the_working_directory(tmp_path, monkeypatch):
    repo = fake_checkout(tmp_path)
    monkeypatch.setattr(paths, "repo_root", lambda: repo)
    when = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    # inside the checkout (e.g. in notebooks/): the checkout's runs/
    assert paths.run_dir("quick", when=when, cwd=repo / "notebooks") == repo / "runs" / "20250304T050607Z-quick"
    # elsewhere: under the working directory, whatever the package's location
    other = tmp_path / "student"
    other.mkdir()
    assert paths.run_dir("smoke", when=when, cwd=other) == other / "runs" / "20250304T050607Z-smoke"
    monkeypatch.chdir(other)
    out = R.resolve_out_dir(None, "quick")
    assert out.parent == other / "runs" and out.name.endswith("-quick")
    # an explicit --out-dir: relative to the working directory
    assert R.resolve_out_dir("mine", "quick") == other / "mine"
    assert R.resolve_out_dir(tmp_path / "abs", "quick") == tmp_path / "abs"


def test_figures_dir_rules(tmp_path, monkeypatch):
    repo = fake_checkout(tmp_path)
    monkeypatch.setattr(paths, "repo_root", lambda: repo)
    monkeypatch.setattr(F, "_repo_root", lambda: repo)
    monkeypatch.delenv(F.FIGURES_ENV, raising=False)
    # a student in JupyterLab: runs/interactive-<preset>/figures at the checkout's root, never figures/
    monkeypatch.chdir(repo / "notebooks")
    assert F.figures_dir("quick") == repo / "runs" / "interactive-quick" / "figures"
    assert F.figures_dir("smoke") == repo / "runs" / "interactive-smoke" / "figures"
    # reproduce's variable: exactly that directory (relative to the working directory)
    monkeypatch.setenv(F.FIGURES_ENV, str(tmp_path / "run" / "figures"))
    assert F.figures_dir("smoke") == tmp_path / "run" / "figures"
    monkeypatch.setenv(F.FIGURES_ENV, "rel")
    assert F.figures_dir("quick") == repo / "notebooks" / "rel"
    # the committed layout, written only with --update-figures
    assert F.committed_figures_dir("quick") == repo / "figures"
    assert F.committed_figures_dir("smoke") == repo / "figures" / "smoke"
    out = tmp_path / "runs" / "x"
    assert R.figures_dir_for_run(out, "quick") == out / "figures"
    assert R.figures_dir_for_run(out, "quick", update_figures=True) == repo / "figures"


def test_save_figure_prints_one_short_line(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    saved = F.save_figure(fig, "demo", preset="smoke", directory=tmp_path / "figs")
    plt.close(fig)
    assert [p.name for p in saved] == ["demo.png", "demo.svg"]  # still the list of paths
    assert repr(saved) == "saved figs/demo.png, .svg" and "PosixPath" not in repr(saved)


def test_remaining_estimate():
    assert R.remaining_estimate([], ["a"]) is None
    assert R.remaining_estimate([5.0], []) == 0.0
    assert R.remaining_estimate([10.0, 20.0], ["c"]) == 15.0
    plan = {"a": 10.0, "b": 30.0, "c": None}.get
    assert R.remaining_estimate([20.0], ["b"], estimate=plan, done=["a"]) == 60.0  # 2x the plan
    assert R.remaining_estimate([20.0], ["c"], estimate=plan, done=["a"]) == 20.0  # no plan for c: the mean


def test_reproduce_writes_figures_to_the_run_directory(tmp_path, monkeypatch):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    save = ("import os, matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
            "from mufno_lite.figures import save_figure\nfig = plt.figure()\n"
            "saved = save_figure(fig, 'nb_demo', preset=preset)\n"
            "assert os.environ['MUFNO_PROGRESS'] == 'lines'\n"
            "assert os.environ['MUFNO_THREADS'] == '1'  # one torch thread per kernel unless the user sets it\nsaved")
    write_nb(nbs / "01_fig.ipynb", [save])
    write_nb(nbs / "02_other.ipynb", ["z = 3"])
    committed = tmp_path / "committed_figures"
    monkeypatch.setattr(R, "committed_figures_dir", lambda preset: committed)
    monkeypatch.delenv("MUFNO_FIGURES_DIR", raising=False)
    monkeypatch.delenv("MUFNO_THREADS", raising=False)
    logs = []
    runs = reproduce("smoke", notebooks_dir=nbs, out_dir=tmp_path / "run1", log=logs.append)
    assert [r.status for r in runs] == ["ok", "ok"], [r.error for r in runs]
    assert (tmp_path / "run1" / "figures" / "nb_demo.png").exists()
    assert (tmp_path / "run1" / "figures" / "manifest.json").exists()
    assert not committed.exists()
    text = "\n".join(logs)
    assert "1/2 done" in text and "elapsed; about" in text and "for the 1 left" in text
    assert f"figures: {tmp_path / 'run1' / 'figures'}" in text
    assert "MUFNO_FIGURES_DIR" not in __import__("os").environ  # restored after the run
    runs = reproduce("smoke", notebooks_dir=nbs, out_dir=tmp_path / "run2", only=["1"], update_figures=True,
                     log=logs.append)
    assert runs[0].status == "ok", runs[0].error
    assert (committed / "nb_demo.svg").exists() and not (tmp_path / "run2" / "figures").exists()


def test_cli_flags():
    import argparse

    p = argparse.ArgumentParser()
    R._add_arguments(p)
    a = p.parse_args(["--preset", "smoke", "--out", "x", "--update-figures"])
    assert a.out_dir.name == "x" and a.update_figures
    assert not p.parse_args([]).update_figures
