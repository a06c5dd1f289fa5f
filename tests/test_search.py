"""The recorded search: every declared candidate is a valid sweep, the table is computed from the
store, and the declared choice rule picks what it says."""
import pandas as pd
import pytest

from mufno_lite import search
from mufno_lite.sweep import SweepConfig


def test_every_declared_candidate_is_a_valid_sweep_with_enough_seeds():
    assert {t for t, _ in search.CANDIDATES.values()} == set(search.TIERS)
    for name in search.CANDIDATES:
        cfg = SweepConfig.from_dict(search.candidate_config(name))
        assert cfg.name == f"search-quick/{name}"
        assert len(cfg.seeds) >= 4 and len(cfg.K) >= 2 and {p["kind"] for p in cfg.parametrizations} == {"sp", "mup"}
        lrs = sorted(cfg.lrs)
        assert lrs[-1] >= 1e-1 - 1e-12 and lrs[-1] / lrs[0] >= 10 ** 1.74  # the grid rule: extended to 1e-1
    assert search._select("session") == [n for n, (t, _) in search.CANDIDATES.items() if t == "session"]
    with pytest.raises(ValueError, match="candidate"):
        search.candidate_config("nope")
    with pytest.raises(ValueError, match="tier"):
        search._select("weekend")


def test_quick_burgers_sweeps_are_windows_of_the_chosen_candidates():
    """The quick Burgers sweeps run the chosen candidates on a window of learning rates (and fewer
    seeds), at the candidate's K and, since issue 19, two more between them: every quick run at the
    candidate's K is one of the search's runs, shared through the store, and the window keeps every
    K and parametrization of the candidate."""
    from mufno_lite.experiments import experiment_config
    from mufno_lite.presets import QUICK_CHOICE

    for exp, key in (("burgers_lr", "burgers"), ("burgers_lr_spectral", "burgers_spectral")):
        a = SweepConfig.from_dict(experiment_config(exp, "quick")).expand()
        b = SweepConfig.from_dict(search.candidate_config(QUICK_CHOICE[key])).expand()
        cand_K = {r.config["model"]["K"] for r in b}
        shared = {r.run_id for r in a if r.config["model"]["K"] in cand_K}
        assert shared < {r.run_id for r in b}  # a strict subset: the runs are shared
        kinds = lambda runs: {(r.config["model"]["K"], r.config["parametrization"]["kind"]) for r in runs}
        assert kinds(b) <= kinds(a) and len({r.config["model"]["K"] for r in a}) >= 4
        assert len({r.lr for r in a}) >= 7


def _row(name, sp, sp_lo, sp_hi, mup, mup_lo, mup_hi, cpu, meets, pde="burgers", grp="all"):
    return dict(candidate=name, tier="session", pde=pde, lr_group=grp, runs=10, runs_expected=10, status="complete",
                cpu_min=cpu, sp_drift=sp, sp_lo=sp_lo, sp_hi=sp_hi, mup_drift=mup, mup_lo=mup_lo, mup_hi=mup_hi,
                sp_verdict="v", mup_verdict="v", K_min=3, K_max=64, n_seeds=6, predicted_sp=-2.3, meets=meets)


def test_choice_rule():
    t = pd.DataFrame([_row("a", -2.5, -3, -2, 0, -0.5, 0.5, 9.0, True), _row("b", -3, -4, -2, 0, -1, 1, 4.0, True),
                      _row("c", -5, -6, -4, 3, 2, 4, 1.0, False)])
    assert search.choose(t)[0] == "b"  # cheapest among those meeting the criterion
    t = pd.DataFrame([_row("a", 0.5, -1, 2, 1, 0, 2, 9.0, False), _row("b", -0.7, -2, 1, 1, 0, 2, 4.0, False),
                      _row("s", -5, -6, -4, 0, -1, 1, 1.0, False, grp="spectral")])
    name, why = search.choose(t)
    assert name == "b" and "no candidate met" in why  # most negative SP drift among global-LR Burgers candidates
    assert search.choose(pd.DataFrame([dict(candidate="x", status="not run", runs=0, runs_expected=4)]))[0] is None
    text = search.format_table(t)
    assert "-0.70 [-2.00, +1.00]" in text and text.count("\n") == 4


def test_search_runs_through_the_store_and_reports_intervals(tmp_path, monkeypatch):
    tiny = dict(pde="burgers", data={"resolution": 16, "n_train": 20, "n_test": 5, "seed": 0,
                                      "params": {"ic_zero_mean": True, "nu": 0.05}},
                model={"width": 4, "n_layers": 1, "projection_width": 8}, K=[2, 4],
                lr=[3e-3, 1e-2, 3e-2, 1e-1], seeds=[0, 1, 2], batch_sizes=[10],
                train={"steps": 6, "schedule": "cosine", "clip": 0.01})
    monkeypatch.setattr(search, "CANDIDATES", {"tiny": ("session", tiny), "later": ("extended", tiny)})
    store = tmp_path / "s.sqlite"
    table = search.run_search(store, tier="session", executor=None, n_boot=200)
    assert list(table["candidate"]) == ["tiny"] and table["status"].iloc[0] == "complete"
    r = table.iloc[0]
    assert r["runs"] == r["runs_expected"] == 2 * 2 * 4 * 3 and r["cpu_min"] >= 0
    assert r["sp_lo"] <= r["sp_drift"] <= r["sp_hi"] and r["mup_lo"] <= r["mup_drift"] <= r["mup_hi"]
    assert r["predicted_sp"] < 0 and r["sp_verdict"] and r["mup_verdict"]
    again = search.run_search(store, tier="session", report_only=True, n_boot=200)
    pd.testing.assert_frame_equal(again, table)
    assert search.search_table(store, ["later"])["status"].iloc[0] == "not run"
