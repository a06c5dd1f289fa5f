"""Fixtures shared by the course tests: one smoke reproduction of every notebook per session
(``smoke_run``, a few minutes on 2 cores) and the site built from it (``smoke_site``), so the
browser walk, the math check and the handout test reuse one run."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """A smoke reproduction of every course notebook (executed notebooks in ``run/``)."""
    tmp = tmp_path_factory.mktemp("smoke_run")
    env = dict(os.environ, MUFNO_PRESET="smoke", MUFNO_THREADS="1", OMP_NUM_THREADS="1",
               MUFNO_RESULTS=str(tmp / "results.sqlite"), PYTHONPATH=str(REPO))
    env.pop("MUFNO_FIGURES_DIR", None)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "mufno_lite", "reproduce", "--preset", "smoke", "--out-dir", str(tmp / "run")],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(f"smoke reproduction: {time.monotonic() - t0:.0f} s")
    return tmp / "run"


@pytest.fixture(scope="session")
def smoke_site(smoke_run, tmp_path_factory):
    """The course site of ``smoke_run``: (run directory, site/index.html)."""
    from mufno_lite.book import build_site

    index = build_site(smoke_run, tmp_path_factory.mktemp("smoke_site") / "site", quiet=True)
    return smoke_run, index
