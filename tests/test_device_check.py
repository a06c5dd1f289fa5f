"""``benchmarks/device_check.sh --device cpu``: the GPU check's own code at tiny sizes, so that it
cannot rot where no GPU is (issue 20)."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "device_check.sh"


def test_cpu_form_passes_and_writes_one_json_and_a_log(tmp_path):
    out = tmp_path / "check"
    r = subprocess.run([str(SCRIPT), str(out), "--device", "cpu"], capture_output=True, text=True, timeout=300,
                       env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "MUFNO_THREADS": "1",
                            "HOME": str(tmp_path), "MUFNO_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    report = json.loads((out / "device_check.json").read_text())
    assert report["pass"] is True and report["device"] == "cpu"
    st = report["stages"]
    assert list(st) == ["env", "memory_tests", "chunk", "agreement", "bench_step", "reproduce"]
    assert all(s["pass"] for s in st.values())
    assert set(st["chunk"]["pdes"]) == {"burgers", "darcy", "navier_stokes"}
    for e in st["chunk"]["pdes"].values():
        assert e["estimate_bytes"] > 0 and e["step_s_measured"] > 0 and e["oom_retries"] == []
    assert st["agreement"]["tf32_off"]["max_rel_final_test_error"] == 0.0  # the CPU against itself
    assert st["env"]["numerics"]["tf32_matmul"] is False
    log = (out / "device_check.log").read_text()
    assert "=== chunk (timeout" in log and "device_check: PASS" in log and "pass criteria" in r.stdout


def test_bad_arguments_are_refused_in_one_line(tmp_path):
    for args in (["--device", "tpu"], ["--bogus"]):
        r = subprocess.run([str(SCRIPT), str(tmp_path / "x"), *args], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage" in r.stderr


def _driver():
    import importlib.util

    spec = importlib.util.spec_from_file_location("device_check", ROOT / "benchmarks" / "device_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_reproduce_stage_checks_that_every_stored_row_says_the_device(tmp_path, monkeypatch):
    """The GPU-only stage's logic, with the notebooks' run replaced by rows written to its store."""
    import types

    from mufno_lite.store import ResultsStore

    dc = _driver()
    for devices, want in ((["cuda", "cuda"], True), (["cuda", "cpu"], False)):
        out = tmp_path / "-".join(devices)
        seen = {}

        def fake_run(args, env, **kw):
            seen["args"], store = args, env["MUFNO_RESULTS"]
            ResultsStore(store).write_rows([{"run_id": f"r{i}", "status": "done", "config": {}, "device": d}
                                            for i, d in enumerate(devices)])
            return types.SimpleNamespace(returncode=0, stdout="", stderr="")

        monkeypatch.setattr(dc.subprocess, "run", fake_run)
        r = dc.stage_reproduce("cuda", out, notebooks=True)
        assert r["pass"] is want and r["row_devices"] == {d: devices.count(d) for d in set(devices)}
        args = seen["args"]
        assert args[args.index("--only") + 1: args.index("--only") + 5] == ["1", "3", "5", "6"]
        assert args[args.index("--device") + 1] == "cuda" and args[args.index("--preset") + 1] == "smoke"
