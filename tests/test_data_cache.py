"""Cache: atomic writes, checksums, corruption detection, no pickle."""
import os
import zipfile

import numpy as np
import pytest
import torch

from mufno_lite.data import load_dataset
from mufno_lite.data.cache import CacheError, config_key, load_arrays, resolve_cache_dir, save_arrays

torch.set_num_threads(1)
KW = dict(resolution=32, n_train=4, n_test=3, seed=3, solve_resolution=128)


def _only_file(d):
    files = [p for p in os.listdir(d) if p.endswith(".npz")]
    assert len(files) == 1, files
    return os.path.join(d, files[0])


def test_roundtrip_and_key(tmp_path):
    cfg = {"a": 1, "b": [1, 2]}
    arr = {"x": np.arange(6, dtype=np.float32).reshape(2, 3)}
    p = save_arrays(tmp_path / "f.npz", arr, cfg)
    out = load_arrays(p, cfg)
    assert np.array_equal(out["x"], arr["x"]) and list(out) == ["x"]
    assert config_key(cfg) == config_key({"b": [1, 2], "a": 1}) != config_key({"a": 2, "b": [1, 2]})
    with pytest.raises(CacheError, match="different config"):
        load_arrays(p, {"a": 2})
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]  # temp file replaced


def test_cache_hit_reuses_file(tmp_path):
    d1 = load_dataset("burgers", cache_dir=tmp_path, **KW)
    path = _only_file(tmp_path)
    mtime = os.stat(path).st_mtime_ns
    d2 = load_dataset("burgers", cache_dir=tmp_path, **KW)
    assert os.stat(path).st_mtime_ns == mtime
    assert torch.equal(d1.x_train, d2.x_train) and torch.equal(d1.y_test, d2.y_test)


def test_truncated_file_detected_and_regenerated(tmp_path):
    ref = load_dataset("burgers", cache_dir=tmp_path, **KW)
    path = _only_file(tmp_path)
    size = os.path.getsize(path)
    with open(path, "r+b") as fh:
        fh.truncate(size // 2)
    with pytest.warns(RuntimeWarning, match=os.path.basename(path)):
        again = load_dataset("burgers", cache_dir=tmp_path, **KW)
    assert torch.equal(ref.y_train, again.y_train)
    assert os.path.getsize(path) == size
    load_arrays(path)  # repaired file verifies


def test_modified_bytes_detected(tmp_path):
    ref = load_dataset("burgers", cache_dir=tmp_path, **KW)
    path = _only_file(tmp_path)
    with np.load(path) as z:  # rewrite one value in a structurally valid archive
        arrays = {k: z[k].copy() for k in z.files}
    arrays["y_train"][0, 0, 5] += 1.0
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(CacheError, match="checksum"):
        load_arrays(path)
    with pytest.warns(RuntimeWarning, match="corrupted cache file"):
        again = load_dataset("burgers", cache_dir=tmp_path, **KW)
    assert torch.equal(ref.y_train, again.y_train)


def test_object_array_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(CacheError):
        load_arrays(path)
    assert zipfile.is_zipfile(path)


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    p = save_arrays(tmp_path / "f.npz", {"x": np.ones(3)}, {"v": 1})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        save_arrays(p, {"x": np.zeros(3)}, {"v": 2})
    monkeypatch.undo()
    assert np.array_equal(load_arrays(p, {"v": 1})["x"], np.ones(3))
    assert sorted(os.listdir(tmp_path)) == ["f.npz"]  # no temp file left behind


def test_cache_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("MUFNO_CACHE_DIR", str(tmp_path / "env"))
    assert resolve_cache_dir(None) == tmp_path / "env"
    assert resolve_cache_dir(False) is None
    assert resolve_cache_dir(tmp_path / "x") == tmp_path / "x"
    load_dataset("burgers", **KW)  # cache_dir=None -> env var
    assert _only_file(tmp_path / "env")
    load_dataset("burgers", cache_dir=False, resolution=32, n_train=2, n_test=2, solve_resolution=64)
    assert len(os.listdir(tmp_path / "env")) == 1
