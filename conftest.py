"""Shared test settings, for tests/ and notebooks/: one torch thread (two threads on two busy cores
can be 10-50x slower on small ops), the smoke preset for notebooks, a throwaway results store and a
private data cache per session."""
import os

import tempfile

os.environ.setdefault("MUFNO_PRESET", "smoke")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# notebooks executed by nbval inherit this: a throwaway results store, never the repo's
os.environ.setdefault("MUFNO_RESULTS", os.path.join(tempfile.mkdtemp(prefix="mufno_results_"), "results.sqlite"))

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    if "MUFNO_CACHE_DIR" not in os.environ:
        os.environ["MUFNO_CACHE_DIR"] = str(tmp_path_factory.mktemp("mufno_cache"))
    yield
