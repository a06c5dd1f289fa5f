"""The stages of ``benchmarks/device_check.sh`` (one per call, so the script can time each out), and
the summary that merges them into one JSON and prints the pass criteria.

    python benchmarks/device_check.py STAGE --device cuda --out DIR     # writes DIR/stages/STAGE.json
    python benchmarks/device_check.py summary --device cuda --out DIR   # DIR/device_check.json, exit 0/1

Stages (issue 20): ``env`` (versions, GPU, numerics settings), ``memory_tests``
(``tests/test_memory.py`` on the device), ``chunk`` (one real-size ``gpu``-preset population chunk
per PDE at its largest K, ~25 steps: peak memory against the memory model, OOM or not, synced step
time against the plan's reference estimate, achieved TFLOP/s), ``agreement`` (one small population
on the CPU and on the device: losses, final error, parameters; TF32 off and on), ``bench_step``
(``benchmarks/bench_step.py`` when it exists), ``reproduce`` (``reproduce --preset smoke`` on
notebooks 1, 3, 5, 6 headless; the stored rows must say the device).

``--device cpu`` is the same code at tiny sizes (CI runs it, so the script cannot rot): the chunk
stage shrinks every model and grid, the agreement stage compares the CPU with itself, the memory
tests run their model-only checks, and ``reproduce`` is skipped (the notebooks' own CI runs them).
Timings are reported, never judged: no criterion is a wall-clock threshold.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # random_dataset: the real layouts, defined once there

STAGES = ("env", "memory_tests", "chunk", "agreement", "bench_step", "reproduce")
MEMORY_RATIO = (0.75, 1.25)  # estimate / measured, the tolerance tests/test_memory.py holds
AGREE_FP32 = 1e-3  # relative difference of the final test error, CPU vs device, TF32 off
CHUNK_STEPS = 25


def _torch(threads=1):
    import torch

    torch.set_num_threads(threads)
    return torch


# ---------------------------------------------------------------------------------------------

def stage_env(dev: str) -> dict:
    torch = _torch()
    from mufno_lite import __version__
    from mufno_lite.device import configure_numerics

    out = {"python": platform.python_version(), "torch": torch.__version__, "mufno_lite": __version__,
           "cpu_count": os.cpu_count(), "cuda_available": torch.cuda.is_available(),
           "cuda_version": torch.version.cuda, "numerics": configure_numerics(dev)}
    if dev.startswith("cuda") and torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        out.update(gpu=p.name, gpu_memory_bytes=p.total_memory, capability=f"{p.major}.{p.minor}",
                   cudnn=torch.backends.cudnn.version(), gpu_count=torch.cuda.device_count())
    out["pass"] = out["cuda_available"] if dev.startswith("cuda") else True
    out["criterion"] = "the device is visible" if dev.startswith("cuda") else "always (CPU)"
    return out


def stage_memory_tests(dev: str) -> dict:
    args = [sys.executable, "-m", "pytest", str(ROOT / "tests" / "test_memory.py"), "-q", "-p", "no:cacheprovider"]
    if not dev.startswith("cuda"):
        args += ["-k", "components or members_per_chunk or budget"]  # the model-only checks (fast)
    env = dict(os.environ, MUFNO_THREADS="1", MUFNO_PRESET="smoke")
    if not dev.startswith("cuda"):
        env["CUDA_VISIBLE_DEVICES"] = ""
    r = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT)
    tail = (r.stdout + r.stderr).strip().splitlines()[-15:]
    return {"rc": r.returncode, "tail": tail, "pass": r.returncode == 0,
            "criterion": "tests/test_memory.py passes on the device (estimate within ±25 % of measured)"
            if dev.startswith("cuda") else "tests/test_memory.py's model checks pass (CPU form)"}


def _largest_tasks(dev: str, tiny: bool) -> list[dict]:
    """Per PDE, the gpu preset's population task at its largest K (then most members)."""
    from mufno_lite.experiments import EXPERIMENTS, experiment_config
    from mufno_lite.sweep import SweepConfig, population_tasks

    best: dict = {}
    for name in EXPERIMENTS:
        cfg = SweepConfig.from_dict(experiment_config(name, "gpu"))
        for t in population_tasks(cfg, cfg.expand(), device=dev):
            key = (t["model"]["K"], len(t["members"]), t["data"]["resolution"])
            if t["pde"] not in best or key > best[t["pde"]][0]:
                best[t["pde"]] = (key, name, t)
    out = []
    for pde, (_, name, t) in sorted(best.items()):
        t = dict(t, experiment=name)
        if tiny:  # the same path at sizes a CI machine runs in seconds
            params = dict(t["data"].get("params", {}))
            if pde == "navier_stokes":
                params["n_t"] = 4
            t["data"] = dict(t["data"], resolution=16 if pde != "burgers" else 64, n_train=8, n_test=4,
                             params=params)
            t["model"] = dict(t["model"], K=2, width=8, projection_width=16, padding=0)
            t["members"] = t["members"][:2]
            t["train"] = dict(t["train"], batch_size=4)
        out.append(t)
    return out


def stage_chunk(dev: str, tiny: bool) -> dict:
    torch = _torch()
    from mufno_lite.flops import training_flops
    from mufno_lite.fno import FNOConfig, count_parameters
    from mufno_lite.memory import estimate_run_memory, spatial_shape_of
    from mufno_lite.parametrization import Parametrization
    from mufno_lite.plan import H100
    from mufno_lite.train import Member, TrainConfig, train_population
    from test_gpu_rehearsal import random_dataset

    steps = 3 if tiny else CHUNK_STEPS
    res, ok = {}, True
    for task in _largest_tasks(dev, tiny):
        pde, fno = task["pde"], FNOConfig.from_dict(task["model"])
        data = task["data"]
        spatial = spatial_shape_of(pde, data, fno.d)
        tr = dict(task["train"], steps=steps, eval_points=1)
        tr["betas"] = tuple(tr["betas"])
        train = TrainConfig(**tr)
        members = [Member(lr=m["lr"], seed=m["seed"], beta2=m["beta2"], init_scale=m["init_scale"])
                   for m in task["members"]]
        p = task["parametrization"]
        par = Parametrization(p["kind"], p["base_K"] if p["base_K"] is not None else 3)
        stamps = []
        if dev.startswith("cuda"):  # before the data: the estimate counts the data set on the device
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        ds = random_dataset(pde, data["resolution"], data["n_train"], data["n_test"], 0, device=dev,
                            **data.get("params", {}))
        entry = {"experiment": task["experiment"], "K": fno.K, "width": fno.width, "grid": list(spatial),
                 "members": len(members), "batch": train.batch_size, "steps": steps}
        try:
            out = train_population(fno, par, ds, members, train, device=dev,
                                   progress=lambda s, t: stamps.append(time.perf_counter()))
        except Exception as e:  # noqa: BLE001  (an OOM that survived the retries, or a real failure)
            entry.update(error=f"{type(e).__name__}: {str(e)[:500]}", oom="out of" in str(e).lower(), pass_=False)
            res[pde], ok = entry, False
            continue
        ex = out[0].execution
        G = ex["member_chunk"]
        est = estimate_run_memory(dict(task, train=tr, data=data), members=G, device=dev).total
        gaps = [b - a for a, b in zip(stamps, stamps[1:])][1:]  # synced (train/gpu.py); first step warms up
        step_s = sorted(gaps)[len(gaps) // 2] if gaps else float("nan")
        flops = training_flops(fno, spatial, batch_size=train.batch_size, steps=1, n_test=0, n_evals=0) * G
        c = count_parameters(fno)
        opt_s = G * (c["spectral"] * 8 + c["other"] * 4) * H100.optimizer_passes / H100.memory_bandwidth
        entry.update(member_chunk=G, chunks=ex["chunks"], oom_retries=ex["oom_retries"], estimate_bytes=int(est),
                     step_s_measured=step_s, step_flops=flops, achieved_tflops=flops / step_s / 1e12 if gaps else None,
                     step_s_plan_reference=flops / H100.sustained_flops + H100.step_overhead_s + opt_s)
        if dev.startswith("cuda"):
            torch.cuda.synchronize()
            measured = torch.cuda.max_memory_allocated() - base
            entry.update(measured_bytes=int(measured), estimate_over_measured=est / max(measured, 1))
            entry["pass_"] = bool(MEMORY_RATIO[0] <= est / max(measured, 1) <= MEMORY_RATIO[1])
        else:
            entry["pass_"] = all(math.isfinite(r.final_train_loss) or r.status == "diverged" for r in out)
        ok = ok and entry["pass_"]
        res[pde] = entry
        del ds, out
        if dev.startswith("cuda"):
            torch.cuda.empty_cache()
    return {"pdes": res, "pass": ok,
            "criterion": (f"every chunk trains (no OOM left after the retries) and the memory model's estimate over "
                          f"the measured peak is within {MEMORY_RATIO}" if dev.startswith("cuda") else
                          "every tiny chunk trains to a finite loss (CPU form)")}


def _small_population(dev: str, tf32: bool, tiny: bool = False):
    torch = _torch()
    from mufno_lite.device import configure_numerics
    from mufno_lite.fno import FNOConfig
    from mufno_lite.train import Member, TrainConfig, train_population
    from test_gpu_rehearsal import random_dataset

    configure_numerics(dev, tf32=tf32)
    os.environ["MUFNO_TF32"] = "1" if tf32 else "0"  # train_population configures again: the same choice
    ds = random_dataset("burgers", 64 if tiny else 256, 16 if tiny else 64, 8 if tiny else 16, 0, device=dev)
    cfg = FNOConfig(d=1, K=8 if tiny else 16, width=8 if tiny else 32, n_layers=2 if tiny else 4,
                    projection_width=16 if tiny else 64)
    members = [Member(lr=lr, seed=s) for lr in (1e-3, 3e-3) for s in (0, 1)]
    train = TrainConfig(steps=10 if tiny else 50, batch_size=8 if tiny else 16, eval_points=2)
    res, model = train_population(cfg, "mup", ds, members, train, device=dev, return_model=True)
    params = torch.cat([p.detach().to("cpu").reshape(-1).real if not p.is_complex() else
                        torch.view_as_real(p.detach().to("cpu")).reshape(-1) for p in model.parameters()])
    os.environ.pop("MUFNO_TF32", None)
    return res, params


def stage_agreement(dev: str, tiny: bool) -> dict:
    torch = _torch()
    ref, ref_p = _small_population("cpu", False, tiny)
    out = {}
    for tf32 in (False, True):
        got, got_p = _small_population(dev, tf32, tiny)
        loss_rel = max(abs(a - b) / max(abs(a), 1e-12) for r, g in zip(ref, got)
                       for (_, a), (_, b) in zip(r.train_curve, g.train_curve))
        final_rel = max(abs(r.test_rel_l2 - g.test_rel_l2) / abs(r.test_rel_l2) for r, g in zip(ref, got))
        out["tf32_on" if tf32 else "tf32_off"] = {
            "max_rel_loss_curve": loss_rel, "max_rel_final_test_error": final_rel,
            "max_abs_param": float((ref_p - got_p).abs().max()), "param_scale": float(ref_p.abs().max()),
            "final_test_error_cpu": [r.test_rel_l2 for r in ref], "final_test_error_device": [g.test_rel_l2 for g in got]}
    _ = torch
    off = out["tf32_off"]["max_rel_final_test_error"]
    return {**out, "pass": off <= AGREE_FP32,
            "criterion": f"TF32 off: final test error within {AGREE_FP32:g} (relative) of the CPU's for every member"
                         + ("" if dev.startswith("cuda") else " (CPU form: the CPU against itself)")}


def stage_bench_step(dev: str, tiny: bool) -> dict:
    script = ROOT / "benchmarks" / "bench_step.py"
    if not script.exists():
        return {"skipped": "benchmarks/bench_step.py is not in this checkout", "pass": True,
                "criterion": "runs when present"}
    args = [sys.executable, str(script), "--device", dev] + (["--tiny"] if tiny else [])
    r = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, MUFNO_THREADS="1"))
    return {"rc": r.returncode, "tail": (r.stdout + r.stderr).strip().splitlines()[-20:], "pass": r.returncode == 0,
            "criterion": "bench_step.py exits 0"}


def stage_reproduce(dev: str, out: Path, notebooks: bool) -> dict:
    if not notebooks:
        return {"skipped": "CPU form: the notebooks are run by their own CI (give --notebooks to run them here)",
                "pass": True, "criterion": "skipped"}
    store = out / "reproduce" / "results.sqlite"
    env = dict(os.environ, MUFNO_RESULTS=str(store), MUFNO_THREADS=os.environ.get("MUFNO_THREADS", "4"))
    args = [sys.executable, "-m", "mufno_lite", "reproduce", "--preset", "smoke", "--device", dev,
            "--only", "1", "3", "5", "6", "--out", str(out / "reproduce" / "run"), "--yes"]
    r = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env)
    devices = {}
    if store.exists():
        from mufno_lite.store import load_results

        df = load_results(store)
        devices = df["device"].value_counts().to_dict() if len(df) else {}
    want = dev.split(":")[0]
    rows_ok = bool(devices) and all(str(k).split(":")[0] == want for k in devices)
    return {"rc": r.returncode, "tail": (r.stdout + r.stderr).strip().splitlines()[-15:], "row_devices": devices,
            "pass": r.returncode == 0 and rows_ok,
            "criterion": f"the notebooks run (exit 0) and every stored row says {want}"}


# ---------------------------------------------------------------------------------------------

def summary(dev: str, out: Path) -> int:
    stages, ok = {}, True
    for name in STAGES:
        f = out / "stages" / f"{name}.json"
        if f.exists():
            stages[name] = json.loads(f.read_text())
        else:
            stages[name] = {"pass": False, "error": "no result (timed out or crashed: see the log)"}
        ok = ok and bool(stages[name].get("pass"))
    result = {"device": dev, "pass": ok, "stages": stages, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (out / "device_check.json").write_text(json.dumps(result, indent=1, default=str))
    print("\ndevice_check: pass criteria")
    for name, st in stages.items():
        mark = "PASS" if st.get("pass") else "FAIL"
        note = st.get("skipped") or st.get("error") or ""
        print(f"  {mark}  {name:<13} {st.get('criterion', '')}{'  [' + note + ']' if note else ''}")
        if name == "chunk":
            for pde, e in st.get("pdes", {}).items():
                if "error" in e:
                    print(f"        {pde}: {e['error'][:160]}")
                    continue
                mem = (f"peak {e['measured_bytes'] / 1e9:.2f} GB vs estimate {e['estimate_bytes'] / 1e9:.2f} GB"
                       if "measured_bytes" in e else f"estimate {e['estimate_bytes'] / 1e9:.3f} GB")
                print(f"        {pde}: K={e['K']} G={e['member_chunk']} {mem}; step {e['step_s_measured'] * 1e3:.1f} ms "
                      f"measured vs {e['step_s_plan_reference'] * 1e3:.1f} ms plan (H100 reference); "
                      f"{e['achieved_tflops'] or float('nan'):.3f} TFLOP/s; OOM retries {len(e['oom_retries'])}")
        if name == "agreement":
            for k in ("tf32_off", "tf32_on"):
                if k in st:
                    a = st[k]
                    print(f"        {k}: final error rel diff {a['max_rel_final_test_error']:.2e}, loss curve "
                          f"{a['max_rel_loss_curve']:.2e}, params {a['max_abs_param']:.2e} (scale {a['param_scale']:.2g})")
    print(f"device_check: {'PASS' if ok else 'FAIL'} -> {out / 'device_check.json'}")
    return 0 if ok else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stage", choices=STAGES + ("summary",))
    ap.add_argument("--device", default="cuda", help="cuda (real sizes) or cpu (tiny sizes)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--notebooks", action="store_true", help="run the reproduce stage on a CPU too")
    a = ap.parse_args(argv)
    if a.device not in ("cpu", "cuda") and not a.device.startswith("cuda:"):
        ap.error(f"--device must be cpu, cuda or cuda:N; got --device {a.device}")
    if a.stage == "summary":
        return summary(a.device, a.out)
    tiny = not a.device.startswith("cuda")
    t0 = time.perf_counter()
    try:
        if a.stage == "env":
            r = stage_env(a.device)
        elif a.stage == "memory_tests":
            r = stage_memory_tests(a.device)
        elif a.stage == "chunk":
            r = stage_chunk(a.device, tiny)
        elif a.stage == "agreement":
            r = stage_agreement(a.device, tiny)
        elif a.stage == "bench_step":
            r = stage_bench_step(a.device, tiny)
        else:
            r = stage_reproduce(a.device, a.out, a.notebooks or not tiny)
    except Exception as e:  # noqa: BLE001  (recorded; the other stages go on)
        import traceback

        traceback.print_exc()
        r = {"pass": False, "error": f"{type(e).__name__}: {str(e)[:500]}"}
    r["wall_s"] = round(time.perf_counter() - t0, 2)
    (a.out / "stages").mkdir(parents=True, exist_ok=True)
    (a.out / "stages" / f"{a.stage}.json").write_text(json.dumps(r, indent=1, default=str))
    print(json.dumps({k: v for k, v in r.items() if k not in ("tail",)}, default=str)[:2000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
