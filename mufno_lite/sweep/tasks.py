"""Population tasks: grouping runs, training one population, the store rows of its members.

Populations and tasks
---------------------
Runs that share everything but (lr, seed, β₂, init_scale) form a population, chunked to
``max_population_size``.  A population *task* is a plain, picklable dict (see
:func:`population_tasks`); :func:`run_population_task` (top level, so it can be shipped to other
processes) trains one and returns one row dict per run, ready for
:meth:`ResultsStore.write_rows`.  A task that raises (anything but ``TrainingInterrupted``,
``KeyboardInterrupt``, ``SystemExit``) gives ``failed`` rows carrying the traceback; the sweep goes on.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from typing import Callable, Mapping, Sequence

from ..data.memo import load_dataset_cached
from ..device import configure_numerics, resolve_device
from ..fno import FNOConfig
from ..parametrization import Parametrization
from ..store import utc_now
from ..train import Member, TrainConfig, TrainingInterrupted
from .config import RunSpec, SweepConfig

__all__ = ["population_tasks", "run_population_task", "member_rows"]


def population_tasks(config: SweepConfig, runs: Sequence[RunSpec] | None = None, *, device: str | None = None) -> list[dict]:
    """Group runs into population tasks (plain dicts), each at most ``max_population_size`` runs.

    Task keys: ``task_id``, ``sweep``, ``pde``, ``data``, ``dataset_factory``, ``cache_dir``,
    (file data only: ``files``, the absolute paths, and ``pde_module``),
    ``model`` (FNOConfig dict with K), ``parametrization``, ``train`` (TrainConfig kwargs: betas
    carry the default β₂, members override it), ``device``, ``members`` (list of dicts with
    ``run_id``, ``lr``, ``seed``, ``beta2``, ``init_scale``, ``config``).
    """
    runs = config.expand() if runs is None else list(runs)
    groups: dict[str, list[RunSpec]] = {}
    for r in runs:
        groups.setdefault(r.population_key, []).append(r)
    dev = device or config.device
    tasks = []
    for key, members in groups.items():
        members = sorted(members, key=lambda r: (r.lr, r.seed, r.beta2, r.init_scale))
        m = config.max_population_size
        for i in range(0, len(members), m):
            chunk = members[i : i + m]
            c0 = chunk[0].config
            train = dict(c0["train"])
            train["betas"] = [train["betas"][0], config.beta2s[0]]
            tasks.append({
                "task_id": hashlib.sha256("".join(r.run_id for r in chunk).encode()).hexdigest()[:16],
                "sweep": config.name,
                "pde": c0["pde"],
                "data": c0["data"],
                "dataset_factory": config.dataset_factory,
                "cache_dir": config.cache_dir,
                **({"files": config.data["files"], "pde_module": config.pde_module}
                   if config.file_hashes else {}),  # own data: paths here, contents in the ids
                "model": c0["model"],
                "parametrization": c0["parametrization"],
                "train": train,
                "device": dev,
                "members": [
                    {"run_id": r.run_id, "lr": r.lr, "seed": r.seed, "beta2": r.beta2, "init_scale": r.init_scale,
                     "config": r.config}
                    for r in chunk
                ],
            })
    return tasks



def _versions() -> dict:
    import platform

    import torch

    from .. import __version__

    return {"torch_version": torch.__version__, "mufno_lite_version": __version__,
            "python_version": platform.python_version()}


def member_rows(task: Mapping, *, status: str | None = None, **fields) -> list[dict]:
    """The store rows of every member of ``task``: the run's identity columns (:func:`_base_row`),
    plus ``status`` and any other columns given (e.g. ``error``, ``created_at``), one per member."""
    extra = dict(fields)
    if status is not None:
        extra["status"] = status
    return [dict(_base_row(m, task), **extra) for m in task["members"]]


def _base_row(member: Mapping, task: Mapping) -> dict:
    cfg = member["config"]
    tr, md, dt = cfg["train"], cfg["model"], cfg["data"]
    return {
        "run_id": member["run_id"], "pde": cfg["pde"], "d": md["d"], "K": md["K"],
        "parametrization": cfg["parametrization"]["kind"], "base_K": cfg["parametrization"]["base_K"],
        "lr": tr["lr"], "seed": cfg["seed"], "batch_size": tr["batch_size"], "beta2": tr["betas"][1],
        "init_scale": cfg["init_scale"], "resolution": dt["resolution"], "n_train": dt["n_train"],
        "n_test": dt["n_test"], "data_seed": tr.get("data_seed"), "width": md["width"], "n_layers": md["n_layers"],
        "steps": tr.get("steps"), "optimizer": tr.get("optimizer"), "schedule": tr.get("schedule"),
        "clip": tr.get("clip"), "weight_decay": tr.get("weight_decay"), "pino_weight": tr.get("pino_weight"),
        "population_size": len(task["members"]), "population_id": task["task_id"], "device": task["device"],
        "config": cfg, **_versions(),
    }


def _get(res, name, default=None):
    if isinstance(res, Mapping):
        return res.get(name, default)
    return getattr(res, name, default)


def run_population_task(
    task: Mapping,
    dataset_factory: Callable | None = None,
    *,
    trainer: Callable | None = None,
    progress: Callable | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[dict]:
    """Train one population task and return one store row per member (in member order).

    ``trainer`` defaults to :func:`mufno_lite.train.train_population`.  Any exception but
    ``TrainingInterrupted`` (and ``KeyboardInterrupt``/``SystemExit``) turns into ``failed``
    rows whose ``error`` holds the traceback.
    """
    t0 = time.perf_counter()
    members = task["members"]
    if task.get("device") in (None, "auto"):
        # resolved where the task runs (a Ray worker may have a GPU the driver lacks)
        task = {**task, "device": resolve_device(task.get("device"))}
    try:
        configure_numerics(task["device"])  # before the data (a GPU generates it): the cuBLAS setting acts only then
        if trainer is None:
            from ..train import train_population as trainer
        ds = load_dataset_cached(task, dataset_factory)
        fno_cfg = FNOConfig.from_dict(task["model"])
        p = task["parametrization"]
        par = Parametrization(p["kind"], p["base_K"] if p["base_K"] is not None else 3)
        tr = dict(task["train"])
        tr["betas"] = tuple(tr["betas"])
        train_cfg = TrainConfig(**tr)
        mem = [Member(lr=m["lr"], seed=m["seed"], beta2=m["beta2"], init_scale=m["init_scale"]) for m in members]
        results = trainer(fno_cfg, par, ds, mem, train_cfg, device=task["device"], progress=progress,
                          should_stop=should_stop)
        if len(results) != len(members):
            raise RuntimeError(f"trainer returned {len(results)} results for {len(members)} members")
    except TrainingInterrupted:
        raise
    except Exception:  # recorded, the sweep goes on
        err = traceback.format_exc()
        now = utc_now()
        wall = time.perf_counter() - t0
        return member_rows(task, status="failed", error=err[-20000:], created_at=now, population_wall_time_s=wall)
    now = utc_now()
    rows = []
    for m, res in zip(members, results):
        row = _base_row(m, task)
        status = _get(res, "status", "done")
        row.update(
            status=status if status in ("done", "diverged") else "failed",
            final_train_loss=_get(res, "final_train_loss"), test_rel_l2=_get(res, "test_rel_l2"),
            train_curve=_get(res, "train_curve"), test_curve=_get(res, "test_curve"),
            diverged_at_step=_get(res, "diverged_at_step"), wall_time_s=_get(res, "wall_time_s"),
            population_wall_time_s=_get(res, "population_wall_time_s"), flops=_get(res, "flops"),
            n_params=_get(res, "n_params"), execution=_get(res, "execution"), created_at=now,
            error=None if status in ("done", "diverged") else f"trainer returned status={status!r}",
        )
        rows.append(row)
    return rows
