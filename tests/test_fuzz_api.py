"""Fuzzing the API entry points (issue 13): ``FNO``, ``transfer``, ``make_optimizer``,
``load_results``, ``load_dataset`` with hostile arguments.

The property: the call either raises a ``ValueError`` (a ``ConfigError``) whose one-line message
names the parameter, or it succeeds with a sane result (an ``int`` K, finite positive learning
rates, an optimizer whose settings are finite, rows only for a status that exists, finite data).
Derandomized; ``MUFNO_FUZZ_LOG=<file>`` records instead of failing (see ``test_fuzz_config.py``).
"""
from __future__ import annotations

import json
import math
import os
import signal

import numpy as np
import pytest
from hypothesis import example, HealthCheck, given, settings, strategies as st

LOG = os.environ.get("MUFNO_FUZZ_LOG")
SETTINGS = settings(max_examples=int(os.environ.get("MUFNO_FUZZ_EXAMPLES", "100")), deadline=None,
                    derandomize=True, suppress_health_check=list(HealthCheck), database=None)

hostile = st.one_of(
    st.sampled_from([0, 1, -1, 2, 3, 1.5, 2.0, 4.0, True, None, math.nan, math.inf, -math.inf, "x", "1e-3", "DONE",
                     "done", (0.9,), (0.9, 0.99, 0.999), (0.9, math.nan), [0.9, 0.999], 2 ** 70, -2 ** 70, 1e308,
                     np.int64(3), np.float32(1e-3), 0.0, 1e-3]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-10 ** 20, 10 ** 20),
    st.text(max_size=6),
)

#: hostile values without integers between 10**6 and 10**12 (a model that large may be legitimate
#: and would really be allocated)
hostile_small = hostile.filter(lambda v: not (isinstance(v, (int, float)) and 1e6 < abs(v) < 1e12))


def _record(cls: str, defect: str | None, detail: str = "") -> None:
    if LOG:
        with open(LOG, "a") as f:
            f.write(json.dumps({"suite": "api", "class": cls, "defect": defect, "detail": detail[:200]}) + "\n")
    else:
        assert defect is None, f"{cls}: {defect}: {detail[:500]}"


class _Hang(BaseException):
    pass


def _call(cls: str, names, fn, sane):
    """Run ``fn``; a ValueError must name one of ``names`` on one line; a result must be ``sane``
    (within a minute: a hang is a defect too)."""
    def hang(*_):
        raise _Hang()

    old = signal.signal(signal.SIGALRM, hang) if hasattr(signal, "SIGALRM") else None
    if old is not None:
        signal.alarm(60)
    try:
        out = fn()
    except _Hang:
        return _record(cls, "does not finish", "over 60 s")
    except ValueError as e:
        msg = str(e)
        if "\n" in msg or len(msg) > 600:
            return _record(cls, "message not one short line", msg)
        if not any(n in msg for n in names):
            return _record(cls, "message does not name the parameter", msg)
        return _record(cls, None)
    except Exception as e:  # TypeError, OverflowError, RuntimeError: not named as a bad argument
        return _record(cls, "crash", f"{type(e).__name__}: {e}")
    finally:
        if old is not None:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
    problem = sane(out)
    _record(cls, problem, "" if problem is None else repr(out)[:200])


def _finite_pos(v) -> bool:
    try:
        return not isinstance(v, (bool, str)) and math.isfinite(float(v)) and float(v) > 0
    except (TypeError, ValueError):
        return False


@SETTINGS
@given(seed=hostile, d=st.one_of(st.sampled_from([1, 2, 3]), hostile),
       K=st.one_of(st.sampled_from([2, 3, 2 ** 40, 10 ** 9, 5 * 10 ** 8]), st.integers(-4, 64), hostile_small))
def test_fuzz_fno(seed, d, K):
    from mufno_lite.fno import FNO

    def sane(m):
        if type(m.config.K) is not int or type(m.config.d) is not int:
            return "non-int K or d kept in the config"
        if seed is not None and (isinstance(seed, (bool, float, str)) or not -(1 << 63) <= int(seed) < (1 << 64)):
            return f"seed={seed!r} accepted"
        return None

    _call("api_fno", ["seed", "d=", "d must", "K", "grid"],
          lambda: FNO(d=d, K=K, seed=seed, width=2, n_layers=1, projection_width=2), sane)


@SETTINGS
@given(lr=hostile, init_std=hostile, Kp=st.one_of(st.just(3), hostile), Kt=st.one_of(st.just(8), hostile))
def test_fuzz_transfer(lr, init_std, Kp, Kt):
    from mufno_lite.parametrization import transfer

    def sane(out):
        for k in ("lr", "init_std"):
            if out.get(k) is not None and not _finite_pos(out[k]):
                return f"{k}={out[k]!r} out of a transfer"
        return None

    _call("api_transfer", ["lr", "init_std", "K_proxy", "K_target"],
          lambda: transfer({"lr": lr, "init_std": init_std, "batch_size": 20}, Kp, Kt), sane)


@SETTINGS
@given(lr=st.one_of(st.just(1e-3), hostile), betas=st.one_of(st.just((0.9, 0.999)), hostile),
       eps=st.one_of(st.just(1e-8), hostile), wd=st.one_of(st.just(0.0), hostile))
def test_fuzz_make_optimizer(lr, betas, eps, wd):
    from mufno_lite.fno import FNO
    from mufno_lite.parametrization import make_optimizer

    model = FNO(K=2, width=2, n_layers=1, projection_width=2)

    def sane(opt):
        for g in opt.param_groups:
            if not (_finite_pos(g["lr"]) and _finite_pos(g["eps"]) and math.isfinite(float(g["weight_decay"]))
                    and g["weight_decay"] >= 0):
                return "optimizer with a non-finite or non-positive setting"
        return None

    _call("api_optimizer", ["lr", "beta", "eps", "weight_decay"],
          lambda: make_optimizer(model, lr, betas=betas, eps=eps, weight_decay=wd), sane)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    from mufno_lite.store import ResultsStore

    path = tmp_path_factory.mktemp("fuzz_api") / "s.sqlite"
    ResultsStore(path).initialise()  # an empty store (a missing one is refused, issue 18)
    return path


@SETTINGS
@given(column=st.sampled_from(["K", "status", "lr", "pde", "seed", "parametrization"]), value=hostile)
def test_fuzz_load_results_filters(store_path, column, value):
    from mufno_lite.store import load_results, STATUSES
    from mufno_lite.store.rows import COLUMNS

    kind = dict(COLUMNS)[column].split()[0]

    def sane(df):
        v = value
        if v is None:
            return None
        if column == "status" and v not in STATUSES:
            return f"status={v!r} gave {len(df)} rows silently (not a status)"
        if kind == "INTEGER" and (isinstance(v, (bool, float, str)) or not isinstance(v, (int, np.integer))):
            return f"{column}={v!r} gave {len(df)} rows silently (not an integer)"
        if kind == "REAL" and (isinstance(v, (bool, str)) or not isinstance(v, (int, float, np.number))):
            return f"{column}={v!r} gave {len(df)} rows silently (not a number)"
        if kind == "TEXT" and not isinstance(v, str):
            return f"{column}={v!r} gave {len(df)} rows silently (not a string)"
        return None

    _call("api_load_results", [column], lambda: load_results(store_path, **{column: value}), sane)


@settings(max_examples=int(os.environ.get("MUFNO_FUZZ_DATA", "12")), deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck), database=None)
@given(case=st.one_of(
    st.tuples(st.just("darcy"), st.sampled_from(["f", "a_plus", "psi_tau"]), hostile),
    st.tuples(st.just("burgers"), st.sampled_from(["nu", "ic_sigma", "cfl", "dt_max"]),
              st.sampled_from([math.nan, math.inf, -1.0, 0.0, "x", 1e4, 50.0, 0.3])),
))
@example(case=("darcy", "f", math.nan))
@example(case=("darcy", "f", -math.inf))
@example(case=("burgers", "cfl", 50.0))
@example(case=("burgers", "ic_sigma", 1e4))
def test_fuzz_load_dataset_params(case):
    from mufno_lite.data import load_dataset

    pde, key, value = case
    res = 8 if pde == "darcy" else 16

    def sane(ds):
        for t in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
            if not bool(np.isfinite(t.numpy()).all()):
                return f"{pde} {key}={value!r} returned non-finite data"
        if pde == "burgers" and float(ds.y_train.abs().max()) > float(ds.x_train.abs().max()) * 1.05 + 1e-6:
            return f"burgers {key}={value!r} broke the maximum principle"
        return None

    _call("api_load_dataset", [key], lambda: load_dataset(pde, resolution=res, n_train=2, n_test=2, cache_dir=False,
                                                         progress=False, **{key: value}), sane)


# ---- own data (issue 18): from_arrays, the file readers, registered loaders ---------------------------

POISON = st.sampled_from([None, math.nan, math.inf, -math.inf, 1e300])
SHAPES = st.sampled_from([(), (4,), (4, 1), (4, 8), (0, 8), (4, 1, 8), (4, 2, 8), (4, 8, 8), (4, 2, 8, 8), (2, 1, 1)])
DTYPES = st.sampled_from(["float32", "float64", "float16", "int32", "bool", "complex64", "object", "U1"])
ARRAY_NAMES = ["x_train", "y_train", "x_test", "y_test", "grid", "d=", "normalize", "split", "samples", "channels"]
FUZZ_OWN = settings(max_examples=int(os.environ.get("MUFNO_FUZZ_OWN", "60")), deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck), database=None)


def _hostile_array(shape, dtype, poison):
    a = np.random.default_rng(0).random(shape if shape else ()).astype("float64")
    if poison is not None and a.size:
        a.reshape(-1)[a.size // 2] = poison
    if dtype in ("object", "U1"):
        return a.astype(dtype)
    with np.errstate(all="ignore"):
        return a.astype(dtype)


def _finite_dataset(ds):
    for t in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        if t.dtype != torch.float32 or not bool(torch.isfinite(t).all()) or t.numel() == 0:
            return f"returned {t.dtype} / non-finite / empty data of shape {tuple(t.shape)}"
    return None


import torch  # noqa: E402


@FUZZ_OWN
@given(shape=SHAPES, dtype=DTYPES, poison=POISON, which=st.integers(0, 3),
       grid=st.sampled_from(["periodic", "endpoint", "x"]), d=st.sampled_from([None, 1, 2, 3, 0, "x"]))
def test_fuzz_from_arrays(shape, dtype, poison, which, grid, d):
    from mufno_lite.data import PDEDataset

    good = np.random.default_rng(1).random(shape if shape else ()).astype(np.float32)
    arrays = [good] * 4
    arrays[which] = _hostile_array(shape, dtype, poison)
    _call("api_from_arrays", ARRAY_NAMES, lambda: PDEDataset.from_arrays(*arrays, grid=grid, d=d), _finite_dataset)


def _write_hostile_file(path, kind, shape, poison):
    if kind == "bytes":
        path.write_bytes(np.random.default_rng(len(str(path))).bytes(300))
    elif kind == "forged_npy":
        hdr = np.lib.format.header_data_from_array_1_0(np.zeros((2, 2)))
        hdr["shape"] = shape
        with open(path, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, hdr)
            fh.write(b"\0" * 128)
    else:  # arrays holding poison, saved in the file's own format
        x = _hostile_array((6, 8), "float32", poison)
        y = np.ones((6, 8), np.float32)
        if path.suffix == ".npz":
            np.savez(path, x=x, y=y)
        elif path.suffix == ".npy":
            np.save(path, x)
        elif path.suffix == ".mat":
            import scipy.io

            scipy.io.savemat(path, {"x": x, "y": y})
        else:
            torch.save({"x": torch.from_numpy(x), "y": torch.from_numpy(y)}, path)


@FUZZ_OWN
@given(ext=st.sampled_from([".npz", ".npy", ".mat", ".pt"]), kind=st.sampled_from(["bytes", "forged_npy", "arrays"]),
       shape=st.lists(st.integers(0, 2 ** 40), min_size=0, max_size=4).map(tuple), poison=POISON)
def test_fuzz_own_data_files(tmp_path_factory, ext, kind, shape, poison):
    from mufno_lite.data import load_files

    path = tmp_path_factory.mktemp("own") / f"data{ext}"
    _write_hostile_file(path, kind, shape, poison)
    source = (path, path) if ext == ".npy" else path
    _call("api_own_data_files", [str(path)], lambda: load_files(source, n_train=4, n_test=2), _finite_dataset)


@FUZZ_OWN
@given(out=st.sampled_from(["none", "int", "str", "short", "dict_missing", "poison", "raise_runtime", "raise_key",
                            "raise_zero", "wrong_d", "few"]), poison=POISON)
def test_fuzz_registered_loader(out, poison):
    from mufno_lite.data.registry import load_registered, register_pde, unregister_pde

    x = np.random.default_rng(2).random((6, 16)).astype(np.float32)

    def loader(files, *, n_train, n_test, resolution, seed):
        if out.startswith("raise"):
            raise {"raise_runtime": RuntimeError("boom"), "raise_key": KeyError("x"),
                   "raise_zero": ZeroDivisionError("0")}[out]
        return {"none": None, "int": 5, "str": "xy", "short": (x, x), "dict_missing": {"x_train": x},
                "poison": (x, _hostile_array((6, 16), "float32", poison), x, x), "wrong_d": (x[:, None, :, None],) * 4,
                "few": (x[:2], x[:2], x, x)}[out]

    register_pde("fuzzy", 1, loader, replace=True)
    try:
        _call("api_registered_loader", ["pde 'fuzzy'"],
              lambda: load_registered("fuzzy", {"train": "a", "test": "b"}, n_train=4, n_test=2, resolution=16),
              _finite_dataset)
    finally:
        unregister_pde("fuzzy")


# ---- plan flags (issue 18): out-of-bounds --workers, bad --experiments / --device ----------------------

@settings(max_examples=int(os.environ.get("MUFNO_FUZZ_PLAN", "25")), deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck), database=None)
@given(flag=st.sampled_from(["--workers", "--experiments", "--device", "--preset"]),
       value=st.one_of(st.integers(max_value=0), st.integers(min_value=1025, max_value=10 ** 30),
                       st.text(min_size=1, max_size=8).filter(lambda s: not s.startswith("-") and s.strip())))
def test_fuzz_plan_flags(flag, value, capsys):
    """Every refused value ends with exit 2 and one ``error`` line naming the flag (argparse's own
    errors included); none of these values is a valid one, so nothing is planned."""
    from mufno_lite.cli import main
    from mufno_lite.presets import PRESETS

    v = str(value)
    try:
        if flag == "--workers" and 1 <= int(v) <= 1024:
            return  # a valid count (as argparse reads it)
    except ValueError:
        pass
    if flag == "--device" and (v in ("cpu", "auto") or v.startswith("cuda")) or flag == "--preset" and \
            v in PRESETS + ("auto", "all"):
        return
    if flag == "--experiments":
        from mufno_lite.experiments import EXPERIMENTS

        if v in EXPERIMENTS:
            return
    try:
        code = main(["plan", "--preset", "smoke", flag, v] if flag != "--preset" else ["plan", flag, v])
    except SystemExit as e:  # argparse: usage line + "error: argument --flag: ..."
        code = e.code
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    problem = None
    if code != 2:
        problem = f"exit {code}"
    elif len(lines) != 1 or "Traceback" in err:
        problem = "not one error line"
    elif flag.lstrip("-") not in lines[0] and repr(v)[1:-1][:20] not in lines[0]:
        problem = "error does not name the flag or the value"
    _record("cli_plan_flags", problem, f"{flag} {v!r}: {err[-300:]}")
