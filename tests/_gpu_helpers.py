"""Helpers for tests/test_gpu_path.py that spawned pool workers import by name (keep it light)."""
import os


def share_trainer(fno_config, par, dataset, members, train, *, device="cpu", progress=None, should_stop=None):
    """A trainer that only reports the worker's device share (as its failure message)."""
    raise RuntimeError(f"DEVICE_SHARE={os.environ.get('MUFNO_DEVICE_SHARE')} device={device}")
