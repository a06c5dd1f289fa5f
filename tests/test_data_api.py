"""load_dataset API: shapes, determinism, independence of splits, validation, classic files."""
import math

import numpy as np
import pytest
import scipy.io
import torch

from mufno_lite.data import (PDES, UnitGaussianNormalizer, check_resolution_for_modes, darcy_residual, load_classic,
                             load_dataset)

torch.set_num_threads(1)


def test_burgers_shapes_determinism_and_test_independence():
    kw = dict(resolution=64, n_test=3, cache_dir=False, solve_resolution=256)
    a = load_dataset("burgers", n_train=5, seed=1, **kw)
    b = load_dataset("burgers", n_train=5, seed=1, **kw)
    c = load_dataset("burgers", n_train=2, seed=1, **kw)
    d = load_dataset("burgers", n_train=5, seed=2, **kw)
    assert a.x_train.shape == (5, 1, 64) and a.y_test.shape == (3, 1, 64)
    assert all(t.dtype == torch.float32 for t in (a.x_train, a.y_train, a.x_test, a.y_test))
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert torch.equal(a.x_test, c.x_test) and torch.equal(a.y_test, c.y_test)
    assert torch.equal(a.x_train[:2], c.x_train)
    assert not torch.allclose(a.x_train, d.x_train)
    assert not torch.allclose(a.x_train[:3], a.x_test)  # train/test streams differ
    assert a.config["solver_version"] and a.meta["h"] == 1 / 64
    # subsampling of the fine solve is pointwise
    fine = load_dataset("burgers", resolution=256, n_train=5, n_test=3, seed=1, cache_dir=False, solve_resolution=256)
    assert torch.equal(fine.x_train[..., ::4], a.x_train) and torch.equal(fine.y_train[..., ::4], a.y_train)


def test_darcy_dataset_and_pino_residual():
    ds = load_dataset("darcy", resolution=17, n_train=4, n_test=2, solve_resolution=33, cache_dir=False)
    assert ds.x_train.shape == (4, 1, 17, 17) and ds.y_train.shape == (4, 1, 17, 17)
    assert set(torch.unique(ds.x_train).tolist()) <= {3.0, 12.0}
    assert ds.meta["h"] == 1 / 16
    direct = load_dataset("darcy", resolution=33, n_train=4, n_test=2, cache_dir=False)
    assert torch.equal(direct.x_train[..., ::2, ::2], ds.x_train)  # same coefficient, node subsampling
    r = darcy_residual(direct.x_train.double(), direct.y_train.double(), h=direct.meta["h"])
    assert r.abs().max() < 1e-3  # float32 storage round-off only


def test_navier_stokes_dataset():
    ds = load_dataset("navier_stokes", resolution=16, n_train=3, n_test=2, n_t=4, t_final=0.5, cache_dir=False)
    assert ds.x_train.shape == (3, 1, 16, 16, 4) and ds.y_test.shape == (2, 1, 16, 16, 4)
    assert torch.equal(ds.x_train[..., 0], ds.x_train[..., 3])
    assert not torch.allclose(ds.y_train[..., 0], ds.y_train[..., 3])
    assert ds.meta["times"] == [0.125, 0.25, 0.375, 0.5] and math.isclose(ds.meta["length"], 2 * math.pi)
    assert ds.config["solve_resolution"] == 128
    fno = load_dataset("navier_stokes", resolution=16, n_train=2, n_test=1, n_t=2, forcing="fno", t_final=1.0,
                       cache_dir=False)
    assert fno.meta["length"] == 1.0 and fno.config["nu"] == 1e-3


def test_normalizer_roundtrip_and_state():
    x = torch.randn(10, 1, 8) * 3 + 2
    n = UnitGaussianNormalizer(x)
    enc = n.encode(x)
    assert torch.allclose(enc.mean(0), torch.zeros(1, 8), atol=1e-5)
    assert torch.allclose(n.decode(enc), x, atol=1e-5)
    m = UnitGaussianNormalizer.from_state_dict(n.state_dict())
    assert all(isinstance(v, torch.Tensor) for v in n.state_dict().values())
    assert torch.allclose(m.decode(enc), x, atol=1e-5)


@pytest.mark.parametrize("pde,kw,word", [
    ("heat", dict(resolution=32), "pde"),
    ("burgers", dict(resolution=4), "resolution"),
    ("burgers", dict(resolution=32, nu=0.0), "nu"),
    ("burgers", dict(resolution=32, nu=-1.0), "nu"),
    ("burgers", dict(resolution=32, n_train=0), "n_train"),
    ("burgers", dict(resolution=32, solve_resolution=100), "solve_resolution"),
    ("burgers", dict(resolution=32, viscosity=0.1), "viscosity"),
    ("darcy", dict(resolution=64, solve_resolution=100), "solve_resolution"),
    ("navier_stokes", dict(resolution=33), "resolution"),
    ("navier_stokes", dict(resolution=32, forcing="bogus"), "forcing"),
    ("navier_stokes", dict(resolution=32, n_t=0), "n_t"),
])
def test_bad_input_messages(pde, kw, word):
    args = dict(n_train=2, n_test=2, cache_dir=False)
    args.update(kw)
    with pytest.raises(ValueError, match=word) as exc:
        load_dataset(pde, **args)
    msg = str(exc.value)  # validation.py's style: "<key> must be <allowed>; got <key>=<value>", or an unknown key
    assert (f"{word} must be " in msg and f"; got {word}=" in msg) or f"unknown key '{word}'" in msg, msg


def test_check_resolution_for_modes():
    check_resolution_for_modes("darcy", 64, 32)
    check_resolution_for_modes("navier_stokes", 64, (16, 16, 9), n_t=16)
    with pytest.raises(ValueError, match="modes"):
        check_resolution_for_modes("burgers", 32, 17)
    with pytest.raises(ValueError, match="time axis"):
        check_resolution_for_modes("navier_stokes", 64, (8, 8, 10), n_t=16)
    assert PDES == ("burgers", "darcy", "navier_stokes")


def test_classic_burgers_and_darcy_mat(tmp_path):
    rng = np.random.default_rng(0)
    a, u = rng.standard_normal((6, 8192)), rng.standard_normal((6, 8192))
    scipy.io.savemat(tmp_path / "burgers_data_R10.mat", {"a": a, "u": u})
    ds = load_dataset("burgers", resolution=1024, n_train=4, n_test=2, files=[tmp_path / "burgers_data_R10.mat"])
    assert ds.x_train.shape == (4, 1, 1024)
    assert np.allclose(ds.x_train[:, 0].numpy(), a[:4, ::8]) and np.allclose(ds.y_test[:, 0].numpy(), u[4:, ::8])
    coeff, sol = rng.uniform(3, 12, (3, 421, 421)), rng.standard_normal((3, 421, 421))
    scipy.io.savemat(tmp_path / "d1.mat", {"coeff": coeff, "sol": sol})
    scipy.io.savemat(tmp_path / "d2.mat", {"coeff": coeff[::-1], "sol": sol[::-1]})
    dd = load_classic("darcy", [tmp_path / "d1.mat", tmp_path / "d2.mat"], resolution=85, n_train=2, n_test=1)
    assert dd.x_train.shape == (2, 1, 85, 85) and dd.meta["h"] == 1 / 84
    assert np.allclose(dd.x_train[1, 0].numpy(), coeff[1, ::5, ::5])
    assert np.allclose(dd.x_test[0, 0].numpy(), coeff[0, ::5, ::5])  # last of reversed second file
    with pytest.raises(ValueError, match="resolution"):
        load_classic("darcy", tmp_path / "d1.mat", resolution=64, n_train=1, n_test=1)
    with pytest.raises(KeyError, match="coeff"):
        load_classic("darcy", tmp_path / "burgers_data_R10.mat", n_train=1, n_test=1)


def test_classic_mat_v73_needs_h5py(tmp_path):
    p = tmp_path / "v73.mat"
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    p.write_bytes(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM" + b"\x00" * 400)
    try:
        import h5py  # noqa: F401
        pytest.skip("h5py installed")
    except ImportError:
        pass
    with pytest.raises(ImportError, match="h5py"):
        load_classic("burgers", p, n_train=1, n_test=1)


def test_classic_pino_navier_stokes_npy(tmp_path):
    rng = np.random.default_rng(1)
    part1 = rng.standard_normal((3, 9, 16, 16)).astype(np.float32)  # (N, T+1, S, S)
    part2 = rng.standard_normal((2, 9, 16, 16)).astype(np.float32)
    np.save(tmp_path / "NS_fft_Re500_T4000_p1.npy", part1)
    np.save(tmp_path / "NS_fft_Re500_T4000_p2.npy", part2)
    ds = load_dataset("navier_stokes", resolution=8, n_t=4, n_train=3, n_test=2,
                      files=[tmp_path / "NS_fft_Re500_T4000_p1.npy", tmp_path / "NS_fft_Re500_T4000_p2.npy"])
    assert ds.x_train.shape == (3, 1, 8, 8, 4) and ds.y_test.shape == (2, 1, 8, 8, 4)
    assert np.allclose(ds.x_train[1, 0, ..., 2].numpy(), part1[1, 0, ::2, ::2])
    assert np.allclose(ds.y_train[2, 0, ..., 0].numpy(), part1[2, 2, ::2, ::2])  # frame T/n_t = 2
    assert np.allclose(ds.y_test[1, 0, ..., 3].numpy(), part2[1, 8, ::2, ::2])
    np.save(tmp_path / "obj.npy", np.array([None, {}], dtype=object))
    with pytest.raises(ValueError):
        load_classic("navier_stokes", tmp_path / "obj.npy", n_train=1, n_test=1)
    with pytest.raises(ValueError, match="n_t"):
        load_classic("navier_stokes", tmp_path / "NS_fft_Re500_T4000_p1.npy", n_t=3, n_train=1, n_test=1)
