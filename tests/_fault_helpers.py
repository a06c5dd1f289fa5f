"""Helpers for tests/test_fuzz_store.py that spawned pool workers import by name (keep it light:
no test-only imports; the pool's workers get the parent's sys.path, which holds this folder)."""
import math
import os
import signal
import time

from _ray_helpers import CrashingTrainer  # same folder: the workers import it by name too


def fake_data(pde, *, resolution, n_train, n_test, seed=0, cache_dir=None, device="cpu", **params):
    """A dataset factory that generates nothing (the trainers below ignore the data)."""
    return {"pde": pde, "resolution": resolution}


def _results(members, steps):
    from mufno_lite.train import RunResult

    out = []
    for m in members:
        loss = (math.log10(m.lr) + 2.5) ** 2 + 0.001 * m.seed
        out.append(RunResult("done", loss, 2 * loss, [(1, 1.0), (steps, loss)], [(steps, 2 * loss)],
                             None, 0.01, 0.01 * len(members), 1e6, 100))
    return out


class KillingTrainer(CrashingTrainer):
    """Instant fake results, except that chosen populations SIGKILL their own worker process.

    ``kill_once``: (parametrization kind, K) pairs whose first attempt kills the worker (a marker
    file in ``marker_dir`` remembers it); ``kill_always``: pairs that do it on every attempt.  Every
    attempt appends a line to ``marker_dir/attempts.log``.
    """

    marker = "killed"

    def __init__(self, marker_dir, kill_once=(), kill_always=()):
        super().__init__(marker_dir, crash_once=kill_once, crash_always=kill_always)

    def _die(self):
        os.kill(os.getpid(), signal.SIGKILL)

    def _train(self, fno_config, parametrization, dataset, members, train, **kwargs):
        return _results(members, train.steps)


def interrupting_trainer(fno_config, parametrization, dataset, members, train, **kwargs):
    """Sends SIGINT to the sweep's process (the pool's parent) as if Ctrl-C was pressed, then takes
    a while (the parent stops the pool meanwhile).  Only the (sp, K=2) population sends it: a second
    Ctrl-C would abort at once, by design."""
    if parametrization.kind == "sp" and fno_config.K == 2:
        os.kill(os.getppid(), signal.SIGINT)
    time.sleep(3.0)
    return _results(members, train.steps)
