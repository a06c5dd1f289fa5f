"""Tests of sweeps: validation, stable run ids, populations, failures, resuming, signals."""
import copy
import hashlib
import json
import math
import os
import pickle
import signal

import pytest
import torch

from mufno_lite.store import ResultsStore, load_results
from mufno_lite.sweep import (
    InProcessExecutor,
    SweepConfig,
    clear_dataset_cache,
    lr_grid,
    population_tasks,
    run_id_of,
    run_population_task,
    run_sweep,
    sweep_status,
)
from mufno_lite.train import RunResult, TrainingInterrupted

torch.set_num_threads(1)

BASE = {
    "name": "tiny",
    "pde": "burgers",
    "data": {"resolution": 16, "n_train": 12, "n_test": 4, "seed": 0},
    "model": {"width": 8, "n_layers": 1, "projection_width": 8},
    "parametrizations": ["sp", "mup"],
    "K": [2, 4],
    "lr": [1e-3, 1e-2],
    "seeds": [0, 1],
    "batch_sizes": [4],
    "train": {"steps": 5, "schedule": "constant"},
}


def cfg(**changes):
    d = copy.deepcopy(BASE)
    for k, v in changes.items():
        if "." in k:
            a, b = k.split(".")
            d[a][b] = v
        else:
            d[k] = v
    return d


class FakeTrainer:
    """Stands in for train_population: loss = f(lr, K); records the calls; can fail or stop."""

    def __init__(self, fail_K=None, stop_after_calls=None):
        self.calls = []
        self.fail_K = fail_K
        self.stop_after_calls = stop_after_calls

    def __call__(self, fno_config, parametrization, dataset, members, train, *, device="cpu", progress=None,
                 should_stop=None):
        self.calls.append((fno_config.K, parametrization.kind, [m.lr for m in members]))
        if self.fail_K is not None and fno_config.K == self.fail_K:
            raise RuntimeError(f"synthetic failure at K={fno_config.K}")
        for step in range(train.steps):
            if progress is not None:
                progress(step + 1, train.steps)
            if self.stop_after_calls is not None and len(self.calls) >= self.stop_after_calls and step == 1:
                os.kill(os.getpid(), signal.SIGINT)  # as if Ctrl-C arrived during this step
            if should_stop is not None and should_stop():
                raise TrainingInterrupted(step + 1, train.steps)
        out = []
        for m in members:
            loss = (math.log10(m.lr) + 2.5) ** 2 + 0.01 * fno_config.K + 0.001 * m.seed
            out.append(RunResult("done", loss, 2 * loss, [(1, 1.0), (train.steps, loss)], [(train.steps, 2 * loss)],
                                 None, 0.01, 0.01 * len(members), 1e6, 100))
        return out


def fake_data(pde, *, resolution, n_train, n_test, seed=0, cache_dir=None, device="cpu", **params):
    fake_data.calls += 1
    return {"pde": pde, "resolution": resolution}


fake_data.calls = 0


# ------------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------------

# validation.py's message style: "<key> must be <allowed>; got <key>=<value>" (or "unknown key ...")
BAD = [
    ({"bogus": 1}, "unknown key 'bogus'"),
    ({"train.stepz": 5}, "unknown key 'train.stepz'"),
    ({"train.steps": "many"}, "train.steps must be an integer.*; got train.steps='many'"),
    ({"train.steps": 0}, r"train.steps must be an integer in \[1, .*; got train.steps=0"),
    ({"train.lr": 1e-3}, "train.lr must be left out.*`lr` grid.*; got train.lr=0.001"),
    ({"train.schedule": "sawtooth"}, "train.schedule must be one of .*'cosine'.*; got train.schedule='sawtooth'"),
    ({"train.betas": [0.9, 1.0]}, r"train.betas\[1\] must be .* < 1; got train.betas\[1\]=1.0"),
    ({"K": [1, 2]}, r"K\[0\] must be an integer in \[2, 9\]; got K\[0\]=1"),
    ({"K": [2, 10]}, r"K\[1\] must be an integer in \[2, 9\]; got K\[1\]=10"),
    ({"lr": [1e-3, -1e-2]}, r"lr\[1\] must be a finite number > 0; got lr\[1\]=-0.01"),
    ({"lr": [0]}, r"lr\[0\] must be a finite number > 0; got lr\[0\]=0"),
    ({"lr": {"start": -2, "stop": -3}}, "lr.stop must be a number >= lr.start=-2.0; got lr.stop=-3.0"),
    ({"beta2s": [0.99, 1.0]}, r"beta2s\[1\] must be a number in \[0, 1\); got beta2s\[1\]=1.0"),
    ({"seeds": []}, r"seeds must be a non-empty list; got seeds=\[\]"),
    ({"seeds": [0, 0]}, "without duplicates"),
    ({"parametrizations": ["xp"]}, r"parametrizations\[0\] must be one of \['sp', 'mup'\].*; got parametrizations\[0\]='xp'"),
    ({"model.K": 4}, "model.K must be left out.*top-level `K`.*; got model.K=4"),
    ({"model.width": 0}, "model.width must be an integer .*; got model.width=0"),
    ({"model.d": 2}, "model.d must be 1 .*; got model.d=2"),
    ({"batch_sizes": [13]}, r"batch_sizes\[0\] must be an integer in \[1, 12\]; got batch_sizes\[0\]=13"),
    ({"data.resolution": "32"}, "data.resolution must be an integer .*; got data.resolution='32'"),
    ({"device": "tpu"}, "device must be one of \\('cpu', 'cuda', 'auto'\\); got device='tpu'"),
    ({"init_scales": [0.0]}, r"init_scales\[0\] must be a finite number > 0; got init_scales\[0\]=0.0"),
    ({"max_population_size": 0}, "max_population_size must be an integer .*; got max_population_size=0"),
]


@pytest.mark.parametrize("change,match", BAD, ids=[m for _, m in BAD])
def test_invalid_configs_name_key_and_value(change, match):
    with pytest.raises(ValueError, match=match):
        SweepConfig.from_dict(cfg(**change))


def test_missing_required_and_unknown_pde():
    d = cfg()
    del d["data"]["n_train"]
    with pytest.raises(ValueError, match="data.n_train must be .*required.*; got data.n_train=None"):
        SweepConfig.from_dict(d)
    # another PDE needs a dataset_factory (its data), then model.d (issue 13: refused, not failed at run time)
    with pytest.raises(ValueError, match="pde must be .*dataset_factory; got pde='heat'"):
        SweepConfig.from_dict(cfg(pde="heat", **{"model.d": 1}))
    factory = "mufno_lite.data:load_dataset"
    with pytest.raises(ValueError, match="model.d must be 1, 2 or 3 \\(required for pde='heat'.*; got model.d=None"):
        SweepConfig.from_dict(cfg(pde="heat", dataset_factory=factory))
    c = SweepConfig.from_dict(cfg(pde="heat", dataset_factory=factory, **{"model.d": 1}))
    assert c.model["d"] == 1


def test_padding_raises_the_K_limit():
    with pytest.raises(ValueError, match="K"):
        SweepConfig.from_dict(cfg(K=[10]))
    assert SweepConfig.from_dict(cfg(K=[10], **{"model.padding": 2})).K == (10,)


def test_eighth_decade_grid():
    g = lr_grid({"start": -3.25, "stop": -1.875, "per_decade": 8})
    assert len(g) == 12
    assert g[0] == pytest.approx(10 ** -3.25, rel=1e-11) and g[-1] == pytest.approx(10 ** -1.875, rel=1e-11)
    for a, b in zip(g, g[1:]):
        assert b / a == pytest.approx(10 ** 0.125, rel=1e-10)
    assert lr_grid([3e-3, 1e-3]) == [3e-3, 1e-3]
    assert SweepConfig.from_dict(cfg(lr={"start": -3, "stop": -2, "per_decade": 8})).lrs == tuple(
        lr_grid({"start": -3, "stop": -2}))


def test_yaml_json_and_round_trip(tmp_path):
    yaml = pytest.importorskip("yaml")
    c = SweepConfig.from_dict(cfg())
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg()))
    (tmp_path / "c.json").write_text(json.dumps(cfg()))
    assert SweepConfig.from_file(tmp_path / "c.yaml") == c == SweepConfig.from_file(tmp_path / "c.json")
    assert SweepConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="not found"):
        SweepConfig.from_file(tmp_path / "missing.yaml")


# ------------------------------------------------------------------------------------------------
# run ids and populations
# ------------------------------------------------------------------------------------------------


def test_run_ids_are_stable_and_complete():
    a = SweepConfig.from_dict(cfg())
    b = SweepConfig.from_dict(cfg(name="other", K=[4, 3], lr=[1e-2, 3e-3], seeds=[1], max_population_size=3))
    ra, rb = {r.run_id: r for r in a.expand()}, {r.run_id: r for r in b.expand()}
    assert len(ra) == a.n_runs == 16 and len(rb) == b.n_runs == 8
    shared = set(ra) & set(rb)
    # same (par, K=4, lr=1e-2, seed=1) in both sweeps -> same id
    assert len(shared) == 2
    for rid in shared:
        assert ra[rid].config == rb[rid].config
        assert rid == hashlib.sha256(json.dumps(ra[rid].config, sort_keys=True, separators=(",", ":"))
                                     .encode()).hexdigest() == run_id_of(ra[rid].config)
    c = ra[next(iter(shared))].config
    assert c["model"]["K"] == 4 and c["train"]["lr"] == 1e-2 and c["seed"] == 1 and c["train"]["batch_size"] == 4
    assert c["train"]["betas"] == [0.9, 0.999] and c["schema"] == 2 and c["data"]["resolution"] == 16
    assert c["train"]["max_loss"] > 0  # the FULL TrainConfig, defaults included
    # any change of the full config changes every id
    for change in ({"train.steps": 6}, {"data.seed": 1}, {"data.n_train": 11}, {"model.width": 9},
                   {"beta2s": [0.99]}, {"init_scales": [2.0]}, {"batch_sizes": [3]}, {"data.params": {"nu": 0.05}}):
        assert not set(ra) & {r.run_id for r in SweepConfig.from_dict(cfg(**change)).expand()}, change
    # float noise in the LR does not change the id; SP ignores base_K, muP does not
    noisy = {r.run_id for r in SweepConfig.from_dict(cfg(lr=[1e-3 * (1 + 1e-15), 1e-2])).expand()}
    assert noisy == set(ra)
    sp4 = SweepConfig.from_dict(cfg(base_K=4))
    ids4 = {r.run_id: r.config["parametrization"] for r in sp4.expand()}
    assert {k for k, p in ids4.items() if p["kind"] == "sp"} <= set(ra)
    assert not {k for k, p in ids4.items() if p["kind"] == "mup"} & set(ra)


def test_populations_group_and_chunk():
    c = SweepConfig.from_dict(cfg(lr=[1e-3, 2e-3, 3e-3], beta2s=[0.99, 0.999], max_population_size=5))
    tasks = population_tasks(c)
    # 2 parametrizations x 2 K = 4 populations of 3 lr x 2 seeds x 2 beta2 = 12 runs -> chunks 5, 5, 2
    assert len(tasks) == 12 and sorted(len(t["members"]) for t in tasks) == [2] * 4 + [5] * 8
    ids = [m["run_id"] for t in tasks for m in t["members"]]
    assert len(ids) == len(set(ids)) == c.n_runs == 48
    for t in tasks:
        keys = {(t["parametrization"]["kind"], t["model"]["K"], m["config"]["train"]["batch_size"]) for m in t["members"]}
        assert len(keys) == 1
        assert {m["beta2"] for m in t["members"]} <= {0.99, 0.999}
    assert pickle.loads(pickle.dumps(tasks)) == tasks
    assert len({t["task_id"] for t in tasks}) == 12


def test_run_population_task_rows_and_failure():
    c = SweepConfig.from_dict(cfg())
    task = population_tasks(c)[0]
    rows = run_population_task(task, dataset_factory=fake_data, trainer=FakeTrainer())
    assert [r["run_id"] for r in rows] == [m["run_id"] for m in task["members"]]
    assert all(r["status"] == "done" and r["population_size"] == 4 for r in rows)
    assert rows[0]["torch_version"] == torch.__version__ and rows[0]["python_version"]
    rows = run_population_task(task, dataset_factory=fake_data, trainer=FakeTrainer(fail_K=task["model"]["K"]))
    assert all(r["status"] == "failed" and "synthetic failure" in r["error"] for r in rows)

    def interrupted(*a, **k):
        raise TrainingInterrupted(1, 5)

    with pytest.raises(TrainingInterrupted):
        run_population_task(task, dataset_factory=fake_data, trainer=interrupted)


# ------------------------------------------------------------------------------------------------
# running, failures, resuming, signals
# ------------------------------------------------------------------------------------------------


def test_failed_population_recorded_and_retried(tmp_path):
    st = ResultsStore(tmp_path / "r.sqlite")
    c = SweepConfig.from_dict(cfg())
    clear_dataset_cache()
    fake_data.calls = 0
    rep = run_sweep(c, st, dataset_factory=fake_data, trainer=FakeTrainer(fail_K=4), verbose=False)
    assert (rep.n_done, rep.n_failed, rep.status, rep.exit_code) == (8, 8, "partial", 0)
    assert fake_data.calls == 1  # loaded once, shared by the 4 populations
    df = load_results(st, sweep="tiny")
    assert len(df) == 16
    assert set(df[df.K == 4]["status"]) == {"failed"} and set(df[df.K == 2]["status"]) == {"done"}
    assert df[df.K == 4]["error"].str.contains("RuntimeError: synthetic failure at K=4").all()
    before = df.set_index("run_id")["created_at"]
    tr = FakeTrainer()
    rep2 = run_sweep(c, st, dataset_factory=fake_data, trainer=tr, verbose=False)
    assert rep2.n_skipped == 8 and rep2.n_done == 8 and rep2.status == "complete"
    assert {k for k, _, _ in tr.calls} == {4}  # only the failed runs were retried
    after = load_results(st, sweep="tiny").set_index("run_id")
    assert set(after["status"]) == {"done"} and after["error"].isna().all()
    done_before = before[df.set_index("run_id")["status"] == "done"]
    assert (after.loc[done_before.index, "created_at"] == done_before).all()
    st_df = sweep_status(c, st)
    assert set(st_df["status"]) == {"done"}


def test_max_populations_dry_run_and_resume(tmp_path):
    st = ResultsStore(tmp_path / "r.sqlite")
    c = SweepConfig.from_dict(cfg())
    dry = run_sweep(c, st, dry_run=True, dataset_factory=fake_data, trainer=FakeTrainer(), verbose=False)
    assert dry.status == "dry-run" and dry.remaining == 16 and dry.n_populations == 4
    assert not st.path.exists()
    rep = run_sweep(c, st, max_populations=1, dataset_factory=fake_data, trainer=FakeTrainer(), verbose=False)
    assert rep.status == "partial" and rep.n_done == 4 and rep.remaining == 12
    assert set(sweep_status(c, st)["status"].value_counts().items()) == {("done", 4), ("pending", 12)}
    rep = run_sweep(c, st, dataset_factory=fake_data, trainer=FakeTrainer(), verbose=False)
    assert rep.n_skipped == 4 and rep.n_done == 12 and rep.status == "complete"


def test_sigint_in_process_stops_cleanly(tmp_path, capsys):
    st = ResultsStore(tmp_path / "r.sqlite")
    c = SweepConfig.from_dict(cfg())
    tr = FakeTrainer(stop_after_calls=2)  # SIGINT during the 2nd population
    old = signal.getsignal(signal.SIGINT)
    rep = run_sweep(c, st, dataset_factory=fake_data, trainer=tr, config_path="c.yaml")
    assert signal.getsignal(signal.SIGINT) is old  # handlers restored
    assert rep.status == "interrupted" and rep.signal == signal.SIGINT and rep.exit_code == 130
    assert len(tr.calls) == 2 and rep.n_done == 4 and st.count() == 4  # 1st population kept, 2nd dropped
    err = capsys.readouterr().err
    assert "SIGINT received" in err and "Resume with: python -m mufno_lite sweep c.yaml --store" in err
    rep = run_sweep(c, st, dataset_factory=fake_data, trainer=FakeTrainer(), verbose=False)
    assert rep.status == "complete" and rep.n_skipped == 4 and st.count() == 16


class RecordingExecutor(InProcessExecutor):
    def __init__(self):
        self.seen = []

    def map_populations(self, tasks, on_result, *, context):
        self.seen.append(len(tasks))
        super().map_populations(list(reversed(tasks)), on_result, context=context)


def test_custom_executor_is_used(tmp_path):
    ex = RecordingExecutor()
    rep = run_sweep(cfg(), tmp_path / "r.sqlite", executor=ex, dataset_factory=fake_data, trainer=FakeTrainer(),
                    verbose=False)
    assert ex.seen == [4] and rep.n_done == 16


def test_real_trainer_and_data_end_to_end(tmp_path):
    c = SweepConfig.from_dict(cfg(K=[2, 3], seeds=[0]))
    st = ResultsStore(tmp_path / "r.sqlite")
    rep = run_sweep(c, st, verbose=False)
    assert rep.status == "complete" and rep.n_done + rep.n_diverged == 8
    df = load_results(st, sweep="tiny")
    assert len(df) == 8 and set(df["status"]) <= {"done", "diverged"}
    assert (df["n_params"] > 0).all() and (df["flops"] > 0).all() and (df["wall_time_s"] > 0).all()
    assert all(len(cv) >= 2 and cv[-1][0] == 5 for cv in df["train_curve"])
    assert set(df["parametrization"]) == {"sp", "mup"} and df[df.parametrization == "sp"]["base_K"].isna().all()
    # muP equals SP at K = base_K = 3 exactly (same init and optimiser), and differs at K = 2
    key = ["K", "lr", "seed"]
    sp = df[df.parametrization == "sp"].set_index(key)["final_train_loss"]
    mup = df[df.parametrization == "mup"].set_index(key)["final_train_loss"]
    assert (sp.loc[3] == mup.loc[3]).all() and not (sp.loc[2] == mup.loc[2]).all()


def test_run_experiment_returns_only_the_current_configs_runs(tmp_path):
    """An earlier version of an experiment's config under the same sweep name: the experiment's table
    holds exactly the runs of the config as it is now, and the name moves to them (issue 13: never
    merged), while the older rows stay in the store."""
    from mufno_lite.experiments import experiment_config, run_experiment
    from mufno_lite.store import load_results

    store = tmp_path / "s.sqlite"
    older = experiment_config("darcy_batch", "smoke")
    older["lr"] = [1e-2]  # an earlier version of the same experiment, same sweep name
    run_sweep(SweepConfig.from_dict(older), store, verbose=False, progress=False, handle_signals=False)
    now = run_experiment("darcy_batch", preset="smoke", store=store, device="cpu", progress=False, verbose=False)
    assert set(load_results(store, sweep="darcy_batch@smoke")["lr"]) == {3e-3}
    assert len(load_results(store, lr=1e-2)) > 0  # kept, no longer listed under the name
    assert set(now["lr"]) == {3e-3} and len(now) == 12
