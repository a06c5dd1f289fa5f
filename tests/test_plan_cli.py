"""`plan`, `sweep --plan` and reproduce's confirmation before a long run (FLOP rates stubbed: no timing)."""
import pytest
import yaml

import mufno_lite.plan as plan_mod
from mufno_lite.cli import main
from mufno_lite.experiments import experiment_config
from mufno_lite.reproduce import confirm_plan


@pytest.fixture
def fixed_rate(monkeypatch):
    """1 GFLOP/s on this device for every d (the real one is measured, a few seconds)."""
    monkeypatch.setattr(plan_mod, "measure_flop_rate", lambda d, device="cpu", **k: 1e9)
    monkeypatch.setenv("MUFNO_WORKERS", "2")
    monkeypatch.delenv("MUFNO_YES", raising=False)


def test_plan_prints_a_table_per_preset_with_totals(fixed_rate, capsys):
    assert main(["plan", "--preset", "all", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    for p in ("smoke", "quick", "paper", "gpu"):
        assert f"preset {p}: device cpu" in out and f"burgers_lr@{p}" in out
    assert out.count("\ntotal ") == 4 and out.count("on 2 workers at once") == 4
    assert "H100" in out and "peak/chunk" in out


def test_plan_of_chosen_experiments(fixed_rate, capsys):
    assert main(["plan", "--preset", "paper", "--device", "cpu", "--experiments", "navier_stokes_lr"]) == 0
    out = capsys.readouterr().out
    assert "navier_stokes_lr@paper" in out and "burgers_lr@paper" not in out and "40.0 GB" in out


def test_sweep_plan_prints_the_plan_and_trains_nothing(fixed_rate, tmp_path, capsys):
    cfg = experiment_config("darcy_lr", "smoke")
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(cfg))
    store = tmp_path / "results.sqlite"
    assert main(["sweep", str(path), "--plan", "--device", "cpu", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "darcy_lr@smoke" in out and "sp K=2 b=10" in out and "mup K=4 b=10" in out and "total" in out
    assert not store.exists()


def test_reproduce_asks_for_yes_above_two_hours(fixed_rate, monkeypatch):
    logs = []
    with pytest.raises(ValueError, match=r"paper preset is estimated at .* more than 2h00m; pass --yes"):
        confirm_plan("paper", "cpu", log=logs.append)
    assert "plan (paper on cpu, 2 workers)" in logs[0] and "on the reference" in logs[0]
    planned = plan_mod.reproduction_plan("paper", "cpu")  # the same plan again, computed once more
    monkeypatch.setattr(plan_mod, "reproduction_plan", lambda *a, **k: planned)
    confirm_plan("paper", "cpu", yes=True, log=logs.append)
    monkeypatch.setenv("MUFNO_YES", "1")
    confirm_plan("paper", "cpu", log=logs.append)


def test_reproduce_cli_refuses_before_any_notebook_runs(fixed_rate, monkeypatch, capsys):
    import mufno_lite.reproduce as R

    monkeypatch.setattr(R, "reproduce", lambda *a, **k: pytest.fail("started without --yes"))
    assert main(["reproduce", "--preset", "paper", "--device", "cpu"]) == 2
    assert "pass --yes" in capsys.readouterr().err


def test_smoke_and_short_presets_are_never_stopped(fixed_rate, monkeypatch):
    monkeypatch.setattr(plan_mod, "reproduction_plan", lambda *a, **k: pytest.fail("smoke is not planned"))
    confirm_plan("smoke", "cpu")  # CI
    monkeypatch.undo()
    monkeypatch.setattr(plan_mod, "measure_flop_rate", lambda d, device="cpu", **k: 1e14)
    monkeypatch.delenv("MUFNO_YES", raising=False)
    logs = []
    confirm_plan("quick", "cpu", log=logs.append)  # a fast device: well under two hours
    assert logs and "plan (quick" in logs[0]
