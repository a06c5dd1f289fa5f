"""Helpers for tests/test_ray_executor.py that Ray workers must import by name.

The tests put this folder on the workers' PYTHONPATH; keep this module free of test-only imports.
"""
import os
from pathlib import Path


class CrashingTrainer:
    """The real ``train_population``, except that chosen populations kill their worker process.

    ``crash_once``: (parametrization kind, K) pairs whose first attempt calls ``os._exit(1)``
    (a marker file in ``marker_dir`` remembers the attempt); ``crash_always``: pairs that do it on
    every attempt.  Every attempt is logged as a line in ``marker_dir/attempts.log``.  Subclasses
    change how the process dies (:meth:`_die`) and what a surviving attempt returns (:meth:`_train`).
    """

    marker = "crashed"

    def __init__(self, marker_dir, crash_once=(), crash_always=()):
        self.marker_dir = str(marker_dir)
        self.crash_once = {tuple(x) for x in crash_once}
        self.crash_always = {tuple(x) for x in crash_always}

    def _die(self):
        os._exit(1)

    def _train(self, fno_config, parametrization, dataset, members, train, **kwargs):
        from mufno_lite.train import train_population

        return train_population(fno_config, parametrization, dataset, members, train, **kwargs)

    def __call__(self, fno_config, parametrization, dataset, members, train, **kwargs):
        key = (parametrization.kind, fno_config.K)
        d = Path(self.marker_dir)
        with open(d / "attempts.log", "a") as f:
            f.write(f"{key[0]} {key[1]} {os.getpid()}\n")
        if key in self.crash_always:
            self._die()
        if key in self.crash_once:
            marker = d / f"{self.marker}_{key[0]}_{key[1]}"
            if not marker.exists():
                marker.write_text(str(os.getpid()))
                self._die()
        return self._train(fno_config, parametrization, dataset, members, train, **kwargs)


def slow_trainer(fno_config, parametrization, dataset, members, train, **kwargs):
    """The real trainer after a pause (lets a test stop a sweep while tasks are running)."""
    import time

    time.sleep(float(os.environ.get("MUFNO_TEST_SLOW_S", "3")))
    from mufno_lite.train import train_population

    return train_population(fno_config, parametrization, dataset, members, train, **kwargs)


def refusing_trainer(fno_config, parametrization, dataset, members, train, **kwargs):
    """A trainer that always fails with a recognisable message (shows which trainer a worker ran)."""
    raise RuntimeError(f"refusing_trainer was called in process {os.getpid()}")
