"""The CLI is a leaf: every subcommand is registered in mufno_lite.cli and nothing imports it back."""
import subprocess
import sys

import yaml

from mufno_lite.cli import SUBCOMMANDS, build_parser, main


def test_library_modules_do_not_import_the_cli():
    code = ("import sys, mufno_lite.experiments, mufno_lite.reproduce, mufno_lite.sweep, mufno_lite.search; "
            "print('mufno_lite.cli' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_every_subcommand_is_registered_in_the_cli_module():
    build_parser()
    assert list(SUBCOMMANDS) == ["sweep", "status", "export", "search-quick", "reproduce", "experiment", "summary", "plan"]
    for name, (_, configure) in SUBCOMMANDS.items():
        assert configure.__module__ == "mufno_lite.cli", name


def test_dry_run_goes_through_run_sweep(tmp_path, monkeypatch, capsys):
    import mufno_lite.sweep as sweep

    calls = []
    real = sweep.run_sweep

    def spy(*args, **kwargs):
        calls.append(kwargs.get("dry_run"))
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep, "run_sweep", spy)
    cfg = dict(name="leaf", pde="burgers", data={"resolution": 16, "n_train": 8, "n_test": 4}, K=[2, 3],
               lr=[1e-3, 1e-2], parametrizations=["sp"], train={"steps": 2}, batch_sizes=[8])
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(cfg))
    store = tmp_path / "r.sqlite"
    assert main(["sweep", str(p), "--store", str(store), "--dry-run"]) == 0
    assert calls == [True] and not store.exists()
    assert "4 runs, 4 to run" in capsys.readouterr().out
