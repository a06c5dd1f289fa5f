"""Run every benchmark once, in short mode, one after the other (``make bench``).

Each benchmark prints its figures as ratios against a baseline measured in the same run, and the
number of torch threads it used.  Nothing passes or fails on time.  bench_peer.py runs under
``benchmarks/.venv-peer`` when that venv exists (neuraloperator is not a dependency; see its
docstring for how to create it), otherwise it measures mufno_lite alone.
"""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER = HERE / ".venv-peer" / "bin" / "python"

RUNS = [
    ([sys.executable, "bench_data.py", "--quick", "--threads", "1"], "PDE solvers: batched vs one at a time"),
    ([sys.executable, "bench_population.py", "--threads", "1"], "population vs sequential training"),
    ([sys.executable, "bench_pool.py"], "process pool vs in-process sweep"),
    ([str(PEER) if PEER.exists() else sys.executable, "bench_peer.py", "--threads", "1"], "mufno_lite vs neuraloperator"),
    ([sys.executable, "bench_ray.py", "--threads", "1", "--workers", "2"], "Ray executor overhead"),
    ([sys.executable, "bench_step.py", "--threads", "1"], "one population step: FLOP/s and bytes/s of peak, before/after"),
]


def main() -> int:
    failed = []
    for cmd, title in RUNS:
        print(f"\n===== {title}: {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))}", flush=True)
        rc = subprocess.call(cmd, cwd=HERE)
        if rc != 0:
            failed.append(title)
    if failed:
        print(f"\nbenchmarks that did not finish: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
