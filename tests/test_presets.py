"""Presets in one place: every experiment's runs stay the same (existing stores stay valid).

The digests pin the sorted run ids of every experiment under ``smoke`` and ``paper`` (``quick`` is
the preset tuned on the CPU and may change on purpose; its runs are checked by hand when it does;
``gpu`` is sized from estimates and will be re-sized once it has run on a GPU).
"""
import hashlib

import pytest

from mufno_lite import experiments, presets
from mufno_lite.sweep import SweepConfig

#: sha256 of the newline-joined sorted run ids of ``experiment_config(name, preset)``
RUN_ID_DIGESTS = {
    "burgers_lr@paper": "5169cce774a61b96252c80fa88d2d721db3045bf6e766082bb807d2d653c0e8d",
    "burgers_lr@smoke": "f9148fa9b00756af51526a920ec2bae893bf3d9bb1b159dd7ac3f023f47d3df5",
    "burgers_lr_spectral@paper": "e0c0881bed217cc4e245f42440489ec5680b140ebb5784b91608b7da741ba88c",
    "burgers_lr_spectral@smoke": "1fb48aba20209ac5ea27ac3467bd343e7156f8597d9e581fe3345f6cc78c1ab9",
    "burgers_noclip@paper": "e437a62b266b8b48d9f92082af33ae7100f08253338df07bb98ceabcebafbb92",
    "burgers_noclip@smoke": "486c1838d8d0516c616ffac5e26937828368946775cbd529e6d37982d9b112b4",
    "burgers_small_K@paper": "80f5575d7dc22532551b3d20aff0be68273b216ff10c4474d95a4fb20b481fb7",
    "burgers_small_K@smoke": "f9148fa9b00756af51526a920ec2bae893bf3d9bb1b159dd7ac3f023f47d3df5",
    "burgers_width@paper": "238c519b8bafe2add0a72e28773ee4e60a832980116a176b73c4ccaaeef3a46c",
    "burgers_width@smoke": "055eb3c5caf98bfe179c7b20baf64977499cafaced09cc56c7602524e08d7927",
    "darcy_batch@paper": "6b3bae4cd20a12a579040d5ffb93fab2e037f1d9856fb3f61f55bef2b7334fc7",
    "darcy_batch@smoke": "cab202bb87a2295bb992af0babf42135f4e05fe3f6e54546fe0edc60035e3078",
    "darcy_beta2@paper": "5227ebae305cf1c7a894a0226a8f27ad64ac58187d797c73bce9497231fa1e1e",
    "darcy_beta2@smoke": "f624d0bc2894f0c050a59fbad5f6c132e874951fd0f7380f4f6206ed4bab75e5",
    "darcy_lr@paper": "9879ba23367b7b510199b022ce1888bf00f516de3042a9eddd08fe6498209df3",
    "darcy_lr@smoke": "8c7704e19c0f1dc437bb14c352af9df44fd36869de67d2fde8409aea68532907",
    "darcy_pino_lr@paper": "b549fb4df87e0734b7497c33381ec80714c894171b60d1ccd26cb36875b6a784",
    "darcy_pino_lr@smoke": "628a75ed71f197f74229ad5ea7745d7cfa2ea0df03188bcc83ff080e37261169",
    "navier_stokes_lr@paper": "dfdb2657a1e84e506b56eedf37e274bb75b36d6ce66ca22baa8b834535333e3b",
    "navier_stokes_lr@smoke": "6ea534afff307ea73e822dab3b0a1b92971bcecc0d1aa95ab9f7b905bb068628",
    "overview_demo@paper": "9cc921d6f97f0f8b413ff1ab352bb23ba2ec9fdd3eb48b22532136706858201f",
    "overview_demo@smoke": "f9148fa9b00756af51526a920ec2bae893bf3d9bb1b159dd7ac3f023f47d3df5",
}


@pytest.mark.parametrize("key", sorted(RUN_ID_DIGESTS))
def test_run_ids_of_every_experiment_are_pinned(key):
    name, preset = key.split("@")
    ids = sorted(r.run_id for r in SweepConfig.from_dict(experiments.experiment_config(name, preset)).expand())
    assert hashlib.sha256("\n".join(ids).encode()).hexdigest() == RUN_ID_DIGESTS[key]


def test_every_experiment_and_preset_is_pinned():
    pinned = {k for k in RUN_ID_DIGESTS}
    assert pinned == {f"{n}@{p}" for n in experiments.EXPERIMENTS for p in presets.PRESETS if p not in ("quick", "gpu")}


def test_the_split_lr_sweeps_hold_the_other_groups_at_the_spectral_candidates_fixed_lr():
    from mufno_lite import search

    fixed = {search.CANDIDATES[n][1]["train"].get("lr_fixed") for n in search.CANDIDATES if n.endswith("_spectral")}
    assert fixed == {presets.SPLIT_LR_FIXED}
    for p in ("smoke", "paper"):
        assert experiments.experiment_config("burgers_lr_spectral", p)["train"]["lr_fixed"] == presets.SPLIT_LR_FIXED


def test_sections_are_copies_and_cover_every_preset():
    for name, per in presets.SECTIONS.items():
        assert set(per) == set(presets.PRESETS), name
    a = presets.section("explore", "smoke")
    a["K"].append(99)
    assert presets.section("explore", "smoke")["K"] == [2, 4]
    assert presets.section("limits", "quick")["widths"] == presets.WIDTHS["quick"]
    with pytest.raises(ValueError, match="section must be one of"):
        presets.section("nope", "smoke")


def test_experiments_hold_no_sizes_of_their_own():
    """Every experiment's config is its base's, changed only where presets.EXPERIMENT_SIZES says."""
    import ast
    import pathlib

    tree = ast.parse(pathlib.Path(experiments.__file__).read_text())
    keys = ("K", "lr", "seeds", "width", "resolution", "steps", "n_train", "batch_sizes")
    literal = (ast.List, ast.Dict, ast.Constant)
    sizes = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Dict) and any(
        isinstance(k, ast.Constant) and k.value in keys and isinstance(v, literal) for k, v in zip(n.keys, n.values))]
    sizes += [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and any(
        kw.arg in keys and isinstance(kw.value, literal) for kw in n.keywords)]
    assert not sizes, f"size literals in experiments.py at lines {sizes}"


def test_auto_picks_gpu_on_cuda_and_quick_on_a_cpu(monkeypatch):
    import torch

    monkeypatch.delenv("MUFNO_PRESET", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert presets.resolve_preset("auto") == "gpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert presets.resolve_preset("auto") == "quick"
    monkeypatch.setenv("MUFNO_PRESET", "paper")
    assert presets.resolve_preset("auto") == "paper"


def test_the_gpu_preset_keeps_the_paper_architecture_and_fits_its_budget():
    """Width 64, 4 layers everywhere but the demo; the plan's reference time is at most 2.5 H100-hours
    (2 before issue 20 counted the optimizer's memory traffic: 1.79 -> 2.27 h)."""
    from mufno_lite.plan import plan_experiments

    for name in experiments.EXPERIMENTS:
        m = experiments.experiment_config(name, "gpu")["model"]
        assert (m["width"], m["n_layers"]) == (64, 4), name
    for pde in ("burgers", "darcy"):
        assert experiments.experiment_config(f"{pde}_lr", "gpu")["K"] == presets.PAPER_K[pde]
    plan = plan_experiments("gpu", device="cpu", flop_rate=1e10)
    assert plan.runs > 1000 and 1.0 * 3600 < plan.reference_time_s <= 2.5 * 3600
    paper = plan_experiments("paper", device="cpu", flop_rate=1e10)
    assert 100 * 3600 < paper.reference_time_s < 150 * 3600  # 133.7 h (116.4 h before the optimizer traffic was counted)


def test_quick_lr_transfer_sweeps_have_four_K_and_windows_that_bracket_the_recorded_optima():
    """Issue 19: every quick LR-transfer sweep of notebooks 4-6 and 8 has at least four K; its window
    holds the optima recorded at K_min and K_max (figures/manifest.json, earlier quick runs) with at
    least one grid value on each side."""
    recorded = {"burgers_lr": (-2.09, -2.21), "darcy_lr": (-1.58, -1.74), "navier_stokes_lr": (-1.22, -1.29),
                "darcy_pino_lr": (-1.50, -1.75)}
    import math

    for name, optima in recorded.items():
        cfg = SweepConfig.from_dict(experiments.experiment_config(name, "quick"))
        assert len(cfg.K) >= 4, name
        logs = sorted(math.log10(v) for v in cfg.lrs)
        for o in optima:
            assert logs[0] < o - 0.1 and o + 0.1 < logs[-1], (name, o, logs)
    assert len(SweepConfig.from_dict(experiments.experiment_config("burgers_lr_spectral", "quick")).K) >= 4


def test_batch_and_beta2_sweeps_hold_the_data_budget_fixed():
    """A fixed number of epochs: a bigger batch takes fewer steps (the samples seen equal up to each
    epoch's remainder), and the
    batch-20 runs are darcy_lr's own (the same steps, so the same run ids)."""
    cfg = SweepConfig.from_dict(experiments.experiment_config("darcy_batch", "quick"))
    assert cfg.epochs == 10
    seen = {}
    for r in cfg.expand():
        t = r.config["train"]
        seen.setdefault(t["batch_size"], set()).add(t["steps"] * t["batch_size"])
    n = cfg.data["n_train"]
    assert set(seen) == set(cfg.batch_sizes) and len(seen) >= 4
    # every step a full batch: the samples seen are epochs · n_train less each epoch's remainder
    assert all(v == {cfg.epochs * (n // b) * b} and cfg.epochs * (n - b) < min(v) for b, v in seen.items())
    lr_ids = {r.run_id for r in SweepConfig.from_dict(experiments.experiment_config("darcy_lr", "quick")).expand()}
    bs20 = {r.run_id for r in cfg.expand() if r.config["train"]["batch_size"] == 20}
    assert bs20 and bs20 <= lr_ids
    beta = SweepConfig.from_dict(experiments.experiment_config("darcy_beta2", "quick"))
    assert beta.epochs == cfg.epochs and {r.config["train"]["steps"] for r in beta.expand()} == {cfg.steps_for(20)}


def test_epochs_refuses_train_steps_beside_it_and_a_long_warmup():
    from mufno_lite.validation import ConfigError

    base = experiments.experiment_config("darcy_batch", "smoke")
    base["train"] = {k: v for k, v in base["train"].items() if k != "steps"}
    cfg = SweepConfig.from_dict({**base, "epochs": 2})
    assert [cfg.steps_for(b) for b in cfg.batch_sizes] == [16, 8, 4]
    assert SweepConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="train.steps must be left out"):
        SweepConfig.from_dict({**base, "epochs": 2, "train": {**base["train"], "steps": 30}})
    with pytest.raises(ConfigError, match="epochs must be"):
        SweepConfig.from_dict({**base, "epochs": 0})
    with pytest.raises(ConfigError, match="train.warmup_steps"):
        SweepConfig.from_dict({**base, "epochs": 2, "train": {**base["train"], "schedule": "warmup_cosine",
                                                              "warmup_steps": 6}})
