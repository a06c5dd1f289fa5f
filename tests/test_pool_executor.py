"""The process-pool executor gives the same results table as in-process training."""
import pytest

from mufno_lite.sweep.executors.pool import LocalPoolExecutor
from mufno_lite.store import load_results
from mufno_lite.sweep import SweepConfig, run_sweep

CFG = dict(name="pool_test", pde="burgers", data={"resolution": 16, "n_train": 16, "n_test": 4, "seed": 0},
           model={"width": 4, "n_layers": 1, "projection_width": 8}, parametrizations=["sp", "mup"], base_K=2,
           K=[2, 3], lr=[1e-3, 1e-2], seeds=[0], batch_sizes=[8], train={"steps": 5}, device="cpu")


def test_pool_matches_in_process(tmp_path):
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    run_sweep(SweepConfig.from_dict(CFG), a, verbose=False, progress=False, handle_signals=False)
    run_sweep(SweepConfig.from_dict(CFG), b, verbose=False, progress=False, handle_signals=False,
              executor=LocalPoolExecutor(workers=2))
    ra, rb = load_results(a).set_index("run_id"), load_results(b).set_index("run_id")
    assert sorted(ra.index) == sorted(rb.index) and len(ra) == 8
    assert (rb["status"] == "done").all()
    for col in ("final_train_loss", "test_rel_l2"):
        assert rb.loc[ra.index, col].to_numpy() == pytest.approx(ra[col].to_numpy(), rel=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"workers must be an integer in \[1, 1024\]; got workers=0"):
        LocalPoolExecutor(workers=0)
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        LocalPoolExecutor(workers=1, threads=0)
