"""One-call data sets: :func:`load_dataset` returns seeded train/test tensors.

Layouts (float32, channel first):

============== ============================ ============================
PDE            ``x``                        ``y``
============== ============================ ============================
burgers        ``(N, 1, s)``  :math:`u_0`   ``(N, 1, s)`` :math:`u(\\cdot,T)`
darcy          ``(N, 1, s, s)`` :math:`a`   ``(N, 1, s, s)`` :math:`u`
navier_stokes  ``(N, 1, s, s, n_t)``        ``(N, 1, s, s, n_t)``
               :math:`\\omega(t_0)` repeated :math:`\\omega(t_0 + jT/n_t)`, j=1..n_t
============== ============================ ============================

Seeding: sample ``i`` of the train (test) split is drawn from its own random
stream keyed by ``(seed, pde, split, i)``, so the test set does not depend on
``n_train``. Solutions are computed in chunks of ``chunk_size`` samples; the
adaptive time step is shared within a chunk, so a sample can differ at the level
of the time-discretisation error (~1e-8 relative) if the chunking changes.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from ..validation import choice, fail, integer, positive
from ..modes import max_modes
from ..progress import progress_enabled
from .arrays import PDEDataset
from .burgers import burgers_initial_condition, solve_burgers
from .cache import SOLVER_VERSION, cached_arrays, resolve_cache_dir
from .darcy import DarcySolver, darcy_coefficient
from .grf import sample_noise
from .navier_stokes import ns_forcing, ns_initial_condition, solve_navier_stokes
from .normalizers import make_normalizer
from .params import DEFAULTS, MIN_RESOLUTION, _check_pde, check_generated, check_resolution, resolve_params

__all__ = ["load_dataset", "cache_config", "make_config", "generate_split", "check_resolution_for_modes", "dataset_meta"]

_SALT = {"burgers": 100, "darcy": 200, "navier_stokes": 300}
_SPLIT = {"train": 1, "test": 2}

_DEFAULTS = DEFAULTS  # every PDE's parameters and checks: data/params.py


# ----------------------------------------------------------------------------
# config
# ----------------------------------------------------------------------------
def _check_resolution(resolution, pde: Optional[str] = None) -> int:
    if pde is not None:  # the bounds of params.resolution_bounds, in one message
        return check_resolution(pde, resolution)
    return integer("resolution", resolution, lo=MIN_RESOLUTION)


def make_config(pde: str, resolution: int, **pde_params) -> dict:
    """Validate parameters and fill defaults into the full generation config.

    Parameters
    ----------
    pde : {"burgers", "darcy", "navier_stokes"}
        Problem.
    resolution : int
        Output grid size ``s`` (points per axis).
    **pde_params
        Overrides of the per-PDE defaults (see :func:`load_dataset`).

    Returns
    -------
    dict
        JSON-serialisable config (without sizes or seed).
    """
    _check_pde(pde)
    s = _check_resolution(resolution, pde)
    p = resolve_params(pde, s, pde_params)  # the one table of parameters and checks (data/params.py)
    return {"pde": pde, "solver_version": SOLVER_VERSION, "resolution": s, **p}


def dataset_meta(config: dict) -> dict:
    """Grid/time metadata of a config (``h``, domain, frames...)."""
    pde, s = config["pde"], config["resolution"]
    if pde == "burgers":
        return {"domain": [0.0, 1.0], "periodic": True, "h": 1.0 / s, "grid": "x_i = i/s, i=0..s-1",
                "nu": config["nu"], "t_final": config["t_final"]}
    if pde == "darcy":
        return {"domain": [[0.0, 1.0], [0.0, 1.0]], "periodic": False, "h": 1.0 / (s - 1),
                "grid": "nodes x_i = i/(s-1), i=0..s-1 (boundary included)", "f": config["f"],
                "boundary": "u = 0"}
    L, n_t, T, t0 = config["length"], config["n_t"], config["t_final"], config["t_start"]
    return {"domain": [[0.0, L], [0.0, L]], "periodic": True, "h": L / s, "length": L,
            "grid": "x_i = i L/s, i=0..s-1", "nu": config["nu"], "t_start": t0,
            "times": [t0 + T * (j + 1) / n_t for j in range(n_t)], "forcing": config["forcing"]}


# ----------------------------------------------------------------------------
# generation
# ----------------------------------------------------------------------------
def _chunk_burgers(cfg, seed, stream, idx, device):
    sr, s = cfg["solve_resolution"], cfg["resolution"]
    w = torch.as_tensor(sample_noise(seed, stream, idx, (sr,)), device=device)
    u0 = burgers_initial_condition(w, alpha=cfg["ic_alpha"], tau=cfg["ic_tau"], sigma=cfg["ic_sigma"],
                                   zero_mean=cfg.get("ic_zero_mean", False))
    u1 = solve_burgers(u0, nu=cfg["nu"], t_final=cfg["t_final"], dt_max=cfg["dt_max"], cfl=cfg["cfl"])
    r = sr // s
    return u0[:, None, ::r], u1[:, None, ::r]


def _chunk_darcy(cfg, seed, stream, idx, device, _solvers={}):
    sr, s, K = cfg["solve_resolution"], cfg["resolution"], cfg["n_modes"]
    w = torch.as_tensor(sample_noise(seed, stream, idx, (K, K)))
    a = darcy_coefficient(w, sr, alpha=cfg["psi_alpha"], tau=cfg["psi_tau"], a_plus=cfg["a_plus"],
                          a_minus=cfg["a_minus"]).numpy()
    if sr not in _solvers:
        _solvers.clear()
        _solvers[sr] = DarcySolver(sr)
    u = _solvers[sr].solve(a, cfg["f"])
    r = (sr - 1) // (s - 1)
    return torch.from_numpy(a[:, None, ::r, ::r]), torch.from_numpy(u[:, None, ::r, ::r])


def _chunk_ns(cfg, seed, stream, idx, device):
    sr, s = cfg["solve_resolution"], cfg["resolution"]
    L, n_t, T, t0 = cfg["length"], cfg["n_t"], cfg["t_final"], cfg["t_start"]
    w = torch.as_tensor(sample_noise(seed, stream, idx, (sr, sr)), device=device)
    w0 = ns_initial_condition(w, length=L, alpha=cfg["ic_alpha"], tau=cfg["ic_tau"], sigma=cfg["ic_sigma"])
    times = [t0 + T * (j + 1) / n_t for j in range(n_t)]
    if t0 > 0:
        times = [t0] + times
    f = ns_forcing(cfg["forcing"], sr, L, device=device)
    out = solve_navier_stokes(w0, times, nu=cfg["nu"], length=L, forcing=f, cfl=cfg["cfl"],
                              dt_max=cfg["dt_max"])
    if t0 > 0:
        w0, out = out[..., 0], out[..., 1:]
    r = sr // s
    x = w0[:, None, ::r, ::r, None].expand(-1, -1, -1, -1, n_t)
    return x, out[:, None, ::r, ::r, :]


_CHUNK = {"burgers": _chunk_burgers, "darcy": _chunk_darcy, "navier_stokes": _chunk_ns}


def _progress_default() -> bool:
    return progress_enabled()


def generate_split(config: dict, split: str, n: int, *, seed: int = 0, device="cpu",
                   progress: Optional[bool] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Generate ``n`` samples of one split (no caching).

    Parameters
    ----------
    config : dict
        From :func:`make_config`.
    split : {"train", "test"}
        Random stream.
    n : int
        Number of samples (indices ``0..n-1`` of the stream).
    seed : int
        User seed.
    device : str or torch.device
        Where the spectral solvers run (Darcy always solves on the CPU).
    progress : bool, optional
        Show a ``tqdm`` bar over chunks (default: only on a tty and without ``$CI``).

    Returns
    -------
    tuple of numpy.ndarray
        ``(x, y)`` float32 arrays in the layouts of the module docstring.
    """
    choice("split", split, tuple(_SPLIT))
    pde = config["pde"]
    stream = _SALT[pde] + _SPLIT[split]
    cs = config["chunk_size"]
    starts = list(range(0, n, cs))
    if progress is None:
        progress = _progress_default()
    it = starts
    if progress and starts:
        from tqdm.auto import tqdm
        it = tqdm(starts, desc=f"{pde} {split}", unit="chunk")
    xs, ys = [], []
    for st in it:
        idx = range(st, min(n, st + cs))
        x, y = _CHUNK[pde](config, seed, stream, idx, device)
        xs.append(x.to("cpu", torch.float32).numpy())
        ys.append(y.to("cpu", torch.float32).numpy())
    if not xs:
        raise ValueError(f"n={n} is invalid: need at least one sample")
    return np.ascontiguousarray(np.concatenate(xs)), np.ascontiguousarray(np.concatenate(ys))


def _finish(arrays: Dict[str, np.ndarray], config: dict, meta: dict, device, normalize: str = "pointwise") -> PDEDataset:
    t = {k: torch.from_numpy(np.ascontiguousarray(v)).to(device=device, dtype=torch.float32)
         for k, v in arrays.items()}
    if config["pde"] == "navier_stokes" and t["x_train"].ndim == 4:  # cache stores only omega(t0)
        n_t = t["y_train"].shape[-1]
        for k in ("x_train", "x_test"):
            t[k] = t[k][..., None].repeat(1, 1, 1, 1, n_t)
    return PDEDataset(t["x_train"], t["y_train"], t["x_test"], t["y_test"], config,
                      make_normalizer(normalize, t["x_train"]), make_normalizer(normalize, t["y_train"]), meta)


def cache_config(config: dict, device) -> dict:
    """The config a generated data set is cached under: ``config`` itself when it is generated on a
    CPU (so existing caches stay valid), with ``generated_on`` (the device type) otherwise: a GPU's
    FFTs and solves differ from the CPU's in the last bits, so its arrays are another data set."""
    kind = torch.device(device).type
    return config if kind == "cpu" else {**config, "generated_on": kind}


def load_dataset(pde: str, *, resolution: Optional[int] = None, n_train: int, n_test: int, seed: int = 0,
                 cache_dir=None, device="cpu", progress: Optional[bool] = None,
                 files: Optional[Sequence[str]] = None, normalize: str = "pointwise", **pde_params) -> PDEDataset:
    """Generate (or load from cache / classic files) a seeded train/test data set.

    Parameters
    ----------
    pde : {"burgers", "darcy", "navier_stokes"}
        Problem (see :mod:`.burgers`, :mod:`.darcy`, :mod:`.navier_stokes`).
    resolution : int
        Output points per axis ``s`` (>= 8; even for Navier--Stokes). With
        ``files`` it may be ``None`` (file resolution).
    n_train, n_test : int
        Split sizes (> 0).
    seed : int
        Seed; the same seed and config give identical tensors.
    cache_dir : None, False or path
        Cache location (``None``: ``$MUFNO_CACHE_DIR`` or ``~/.cache/mufno_lite/data``;
        ``False``: no cache).
    device : str or torch.device
        Device of the returned tensors and of the spectral solves.
    progress : bool, optional
        Progress bar over generation chunks.
    files : sequence of path, optional
        Load classic FNO/PINO files instead of generating
        (see :func:`~mufno_lite.data.legacy.load_classic`).
    normalize : {"pointwise", "channel", "none"}
        The normalisers (not part of the cache key).  The built-in PDEs keep the FNO reference
        code's ``"pointwise"`` by default (tied to the training grid: it refuses another
        resolution); ``"channel"`` is valid at every resolution (:mod:`.normalizers`).
    **pde_params
        Burgers: ``nu=0.1, t_final=1.0, solve_resolution=(multiple of s >= max(1024, 2/nu),
        see burgers_default_solve_resolution), ic_alpha=2, ic_tau=5, ic_sigma=25,
        ic_zero_mean=False, dt_max=2e-3, cfl=1.0, chunk_size=400``. ``ic_zero_mean``
        (bool) removes the k=0 mode of :math:`u_0` (and so of :math:`u(T)`, the mean being
        conserved); with ``False`` the random mean holds almost all of the target's energy
        at nu=0.1. The classic FNO generator is ``ic_alpha=2.5, ic_tau=7, ic_sigma=49,
        ic_zero_mean=True, nu=1e-3``.
        Darcy: ``a_plus=12, a_minus=3, psi_alpha=2, psi_tau=3, solve_resolution=s,
        n_modes=solve_resolution, f=1.0, chunk_size=100``.
        Navier--Stokes: ``forcing="kolmogorov"|"fno"|"none", nu, length, t_final
        (flow defaults), t_start=0, n_t=16, solve_resolution=s*max(2, ceil(128/s)),
        ic_alpha=2.5, ic_tau=7, ic_sigma=7**1.5, cfl=0.5, dt_max=0.05, chunk_size=16``
        (on a CPU, FFT cost is linear in the batch, and a smaller chunk shares
        the CFL step with fewer samples; raise it on a GPU).

    Returns
    -------
    PDEDataset
    """
    _check_pde(pde)
    positive("n_train", n_train, integer=True)
    positive("n_test", n_test, integer=True)
    if files is not None:
        from .legacy import load_classic
        return load_classic(pde, files, resolution=resolution, n_train=n_train, n_test=n_test,
                            device=device, **pde_params)
    if resolution is None:
        raise fail("resolution", None, f"the output grid size, an integer >= {MIN_RESOLUTION} (e.g. 64)")
    integer("seed", seed, lo=0)
    base = make_config(pde, resolution, **pde_params)
    config = {**base, "n_train": int(n_train), "n_test": int(n_test), "seed": int(seed)}

    def generate():
        xtr, ytr = generate_split(base, "train", n_train, seed=seed, device=device, progress=progress)
        xte, yte = generate_split(base, "test", n_test, seed=seed, device=device, progress=progress)
        if pde == "navier_stokes":  # store omega(t0) once, not n_t copies
            xtr, xte = xtr[..., 0], xte[..., 0]
        out = {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}
        check_generated(pde, config, out)  # finite, before it is cached or returned
        return out

    arrays = cached_arrays(resolve_cache_dir(cache_dir), pde, cache_config(config, device), generate)
    return _finish(arrays, config, dataset_meta(config), device, normalize)


def check_resolution_for_modes(pde: str, resolution: int, modes, n_t: Optional[int] = None) -> None:
    """Raise ``ValueError`` if the grid cannot carry ``modes`` Fourier modes per axis.

    Rule: ``modes <= max_modes(resolution, last_axis=False) = resolution // 2`` on every
    spatial axis and, for the Navier--Stokes time axis (the FNO's last, rFFT axis),
    ``modes_t <= max_modes(n_t, last_axis=True) = n_t // 2 + 1``
    (:func:`mufno_lite.fno.max_modes` is the one definition of the largest K on a grid).

    Why the spatial axes use the stricter, non-rFFT limit even where the model's rFFT axis
    would take one mode more (the sweep checks K with :func:`~mufno_lite.fno.max_modes` per
    axis, so a 1-D sweep at resolution 32 allows K = 17), precisely:

    * even ``s``: the extra mode is frequency ``s/2``, the Nyquist frequency, which a real field
      sampled on ``s`` points represents by a cosine only (its sine samples are all zero), so
      data meant to exercise ``modes`` modes should resolve them without it;
    * odd ``s``: there is no Nyquist frequency and frequency ``s // 2`` is fully resolved, so here
      the rule is one mode more conservative than the data need.  It is kept parity-independent
      on purpose: it is then the model's own limit on its non-rFFT axes, so data that pass this
      check fit the model on *every* axis, whatever the dimension.

    The time axis has no such recommendation.  Both statements are tested in
    ``tests/test_sweep_package.py`` (``test_largest_K_data_check_and_model_limit`` and
    ``test_why_the_data_limit_leaves_out_one_rfft_mode``).

    Parameters
    ----------
    pde : {"burgers", "darcy", "navier_stokes"}
        Problem.
    resolution : int
        Points per spatial axis.
    modes : int or tuple of int
        Modes per axis (one int for all axes, or one per axis; for
        Navier--Stokes a 3-tuple ``(kx, ky, kt)``).
    n_t : int, optional
        Number of frames (Navier--Stokes time axis).
    """
    _check_pde(pde)
    s = _check_resolution(resolution, pde)
    dims = {"burgers": 1, "darcy": 2, "navier_stokes": 3 if n_t is not None else 2}[pde]
    ks = (modes,) * dims if isinstance(modes, (int, np.integer)) else tuple(modes)
    if len(ks) < dims - (1 if pde == "navier_stokes" else 0) or len(ks) > dims:
        raise fail("modes", modes, f"an int or {dims} values for pde={pde!r}")
    for ax, k in enumerate(ks):
        positive("modes", k, integer=True)
        if pde == "navier_stokes" and ax == 2:
            kmax = max_modes(n_t, last_axis=True)
            if k > kmax:
                raise fail("modes", k, f"an integer <= {kmax} on the time axis for n_t={n_t}")
        elif k > max_modes(s, last_axis=False):
            raise fail("modes", k, f"an integer <= {max_modes(s, last_axis=False)} (resolution // 2) for "
                                   f"resolution={s}; a resolution >= {2 * k} holds it")
