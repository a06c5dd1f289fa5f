"""benchmarks/bench_external.py (issue 22): mufno_lite beside neuraloperator on the same files.

The real comparison needs neuraloperator's files and a peer venv (README, "Your own data"); here the
pipeline runs on small files in the same format, and the side-by-side table is checked on rows
whose numbers are known."""
import importlib.util
import json
import pathlib
import sys

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_external  # noqa: E402


def _files(folder):
    g = torch.Generator().manual_seed(0)
    a = torch.rand(72, 32, 32, generator=g) > 0.5
    u = torch.cumsum(torch.cumsum(a.float(), 1), 2) / 100.0
    torch.save({"x": a[:64, ::2, ::2].contiguous(), "y": u[:64, ::2, ::2].contiguous()}, folder / "darcy_train_16.pt")
    torch.save({"x": a[64:, ::2, ::2].contiguous(), "y": u[64:, ::2, ::2].contiguous()}, folder / "darcy_test_16.pt")
    torch.save({"x": a[64:].contiguous(), "y": u[64:].contiguous()}, folder / "darcy_test_32.pt")
    return folder


def test_table_puts_the_libraries_side_by_side():
    rows = [
        {"library": "neuraloperator 2.0.0", "seed": 0, "test16": 0.10, "zero_shot32": 0.15, "step_ms": 10.0, "params_real": 5},
        {"library": "neuraloperator 2.0.0", "seed": 1, "test16": 0.12, "zero_shot32": 0.17, "step_ms": 30.0, "params_real": 5},
        {"library": "mufno_lite sp", "seed": 0, "test16": 0.11, "zero_shot32": 0.13, "step_ms": 8.0, "params_real": 4},
        {"library": "mufno_lite sp", "seed": 1, "test16": 0.13, "zero_shot32": 0.14, "step_ms": 12.0, "params_real": 4},
    ]
    out = bench_external.table(rows).splitlines()
    peer, mine = out[2], out[3]
    assert "| 10.00 / 12.00% | 11.00% | +0.00 |" in peer and "| 20.0 | 1.00 |" in peer
    # mean 12% against the peer's 11%: +1.00 point; 10 ms against 20 ms: 0.50×
    assert "| 11.00 / 13.00% | 12.00% | +1.00 | 13.00 / 14.00% | 13.50% | 10.0 | 0.50 |" in mine


def test_variants_are_neuraloperator_differences_one_at_a_time():
    from dataclasses import fields

    from mufno_lite.fno import FNOConfig

    base = FNOConfig(d=2, K=8, **bench_external.BASE)
    for name, (par, opts) in bench_external.VARIANTS.items():
        cfg = FNOConfig(d=2, K=8, **{**bench_external.BASE, **opts})
        changed = {f.name for f in fields(cfg) if getattr(cfg, f.name) != getattr(base, f.name)}
        assert changed == set(opts), name  # every option named changes the model, nothing else does
        assert par in ("sp", "mup")
    assert len(bench_external.VARIANTS["nop"][1]) == 5


def test_mufno_only_run_prints_real_parameter_counts(tmp_path, capsys):
    folder = _files(tmp_path)
    rc = bench_external.main(["--data", str(folder), "--no-peer", "--epochs", "1", "--n-train", "64", "--n-test", "8",
                              "--seeds", "0", "--variants", "sp", "nop", "--json", str(tmp_path / "rows.json")])
    assert rc == 0
    text = capsys.readouterr().out
    rows = json.loads((tmp_path / "rows.json").read_text())["rows"]
    assert [r["library"] for r in rows] == ["mufno_lite sp", "mufno_lite nop"]
    assert rows[0]["params_real"] == 1_057_281 and f"{1_057_281:,}" in text and "real scalars" in text
    assert all(r["grid"] == "periodic" for r in rows)  # the model took the files' convention
    assert rows[1]["params_real"] != rows[0]["params_real"]
    assert bench_external.main(["--report", str(tmp_path / "rows.json")]) == 0  # the table again, from the rows
    assert capsys.readouterr().out.strip() == bench_external.table(rows)


def test_missing_files_and_a_broken_peer_are_named(tmp_path, capsys):
    assert bench_external.main(["--data", str(tmp_path), "--no-peer"]) == 2
    assert "darcy_train_16.pt" in capsys.readouterr().out
    if importlib.util.find_spec("neuralop") is not None:
        pytest.skip("neuraloperator is importable here")
    folder = _files(tmp_path)
    with pytest.raises(RuntimeError, match="peer run failed"):
        bench_external.main(["--data", str(folder), "--peer-python", sys.executable, "--epochs", "1", "--n-train", "64",
                             "--n-test", "8", "--seeds", "0", "--variants", "sp"])
