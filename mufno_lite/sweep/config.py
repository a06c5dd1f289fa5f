"""Sweep configuration: loading and validating a sweep into a :class:`SweepConfig`, and expanding it into runs.

The parts' checkers live in :mod:`.validate` (with :func:`lr_grid`), run identity (:class:`RunSpec`,
:func:`run_id_of`) in :mod:`.identity`.

A sweep is a grid over parametrizations × K × batch size (one *population* per combination) and
learning rate × seed × β₂ × init scale (the *members* of a population, trained in lockstep by
:func:`mufno_lite.train.train_population`).

Configuration (YAML, JSON or a dict; see ``configs/burgers_smoke.yaml``)
-------------------------------------------------------------------------
::

    name: burgers_smoke            # required
    pde: burgers                   # required; d follows from it (burgers 1, darcy 2, navier_stokes 3)
    data: {resolution: 32, n_train: 40, n_test: 10, seed: 0, params: {nu: 0.1}}
    model: {width: 8, n_layers: 2, projection_width: 16, padding: 0}   # FNOConfig fields but K
    parametrizations: [sp, mup]    # or {kind: mup, base_K: 3}; plain strings use `base_K`
    base_K: 3
    K: [2, 3, 4]
    lr: {start: -3.25, stop: -1.875, per_decade: 8}    # 10^(start + k/8), k = 0, 1, … (stop included)
                                                       # or an explicit list [1e-3, 3e-3]
    seeds: [0, 1]
    batch_sizes: [20]
    beta2s: [0.999]                # default: train.betas[1]
    init_scales: [1.0]
    train: {steps: 400, schedule: cosine, clip: null, ...}   # TrainConfig fields but lr, batch_size
    epochs: null                   # or an integer: a fixed data budget, steps = epochs · ⌊n_train / batch_size⌋
                                   # per batch size (a bigger batch takes fewer steps; train.steps unused)
    max_population_size: 64
    device: cpu                    # cpu | cuda | auto
    dataset_factory: null          # optional "module:function" with load_dataset's signature (imported when validated)
    # your own PDE's data (files, normalize, grid, pde_module): see sweep/owndata.py and configs/heat1d_own_data.yaml
    cache_dir: null                # optional data cache folder (not part of a run's identity)

Everything is validated before anything runs: an unknown key, a wrong type or an out-of-range
value raises ``ValueError`` naming the key path (``train.steps``), the value and what is allowed.

Run identity
------------
A run's config is the canonical dict ``{schema, pde, data, model (the full FNOConfig incl. K),
parametrization {kind, base_K}, train (the full TrainConfig with this run's lr, batch_size and
betas = (β₁, β₂)), seed, init_scale}`` (plus ``dataset_factory`` when one is named); its id is the
sha256 of that dict's canonical JSON (sorted keys, no spaces).  So the same run in two sweeps
has the same id, and the store holds it once.  Decisions: learning rates are rounded to 12
significant digits (so 10^(−3.25 + k/8) gives one id whatever float noise); SP runs carry
``base_K = None`` (SP does not depend on it); the device, the cache folder and the population a
run was trained in are *not* part of its identity.  Adding a field to TrainConfig changes every id.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from dataclasses import dataclass
from typing import Mapping, Sequence

from ..device import DEVICES
from ..data.params import check_resolution
from ..fno import FNOConfig, max_modes
from ..train.config import OPTIONAL_TRAIN_FIELDS
from ..fno.network import padding_points
from ..fno.network import GRID_CONVENTIONS, OPTIONAL_MODEL_FIELDS
from . import owndata
from .identity import _canon_float, _jsonable, _population_key, run_id_of, RunSpec, SCHEMA_VERSION
from ..validation import ConfigError, boolean, fail, integer, known_keys, mapping, number, string
from .validate import _DATA_KEYS, _GRID_OWNED, _list, _lr_spec, _MODEL_KEYS, _positive_float, _TOP_KEYS
from .validate import _data_params, _factory, _plain, _sizes, _train_fields, _validate_train, LIMITS

__all__ = ["PDE_DIMS", "PARAM_KINDS", "SweepConfig"]

PDE_DIMS = {"burgers": 1, "darcy": 2, "navier_stokes": 3}
PARAM_KINDS = ("sp", "mup")


@dataclass(frozen=True)
class SweepConfig:
    """A validated, normalised sweep (build with :meth:`from_dict` or :meth:`from_file`)."""

    name: str
    pde: str
    data: dict
    model: dict
    parametrizations: tuple
    K: tuple
    lrs: tuple
    seeds: tuple
    batch_sizes: tuple
    beta2s: tuple
    init_scales: tuple
    train: dict
    max_population_size: int = 64
    device: str = "cpu"
    dataset_factory: str | None = None
    cache_dir: str | None = None
    description: str = ""
    base_K: int = 3
    # own data (sweep/owndata.py): the module registering the pde, the data files' sha256, the loader
    pde_module: str | None = None
    file_hashes: dict | None = None
    loader: str | None = None
    #: a fixed data budget: each run's steps = epochs · ⌊n_train / batch_size⌋ (None: train.steps)
    epochs: int | None = None

    # ---- construction ------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, raw: Mapping, *, base_dir: str | os.PathLike | None = None) -> "SweepConfig":
        """Validate a plain dict (see the module docstring) and return a SweepConfig.

        One checker per block (:meth:`_check_top`, :meth:`_check_data`, :meth:`_check_model`,
        :meth:`_check_parametrizations`, :meth:`_check_K`, :meth:`_check_grids`), in the order the
        blocks depend on each other.  ``base_dir``: the folder relative ``data.files`` paths start
        from (the config file's in :meth:`from_file`; default the working directory)."""
        raw = mapping("<config>", raw)
        known_keys("", raw, _TOP_KEYS)
        name, pde, factory = cls._check_top(raw)
        data, data_raw = cls._check_data(raw, pde, generated=factory is None and pde in PDE_DIMS)
        own = owndata.prepare_data(pde, raw, data_raw, data, base_dir)  # own data: files, normalize, grid
        if factory is None and pde not in PDE_DIMS and own["file_hashes"] is None and own["loader"] is None:
            raise fail("pde", pde, f"one of {list(PDE_DIMS)}, or any name with data.files (your own data), "
                                   "a registered pde (register_pde) or a dataset_factory")
        model = cls._check_model(raw, pde, data, own["d"])
        d = model["d"]
        base_K = integer("base_K", raw.get("base_K", 3), lo=2, from_float=True)
        pars = cls._check_parametrizations(raw, base_K)
        n_t = _time_frames(pde, d, data["params"]) if factory is None else None
        K = cls._check_K(raw, data, model, n_t)
        lrs, seeds, train, batch_sizes, beta2s, init_scales = cls._check_grids(raw, pde, data)
        epochs = raw.get("epochs")
        if epochs is not None:
            epochs = integer("epochs", epochs, lo=1, hi=LIMITS["epochs"], from_float=True)
            if "steps" in (raw.get("train") or {}):
                raise fail("train.steps", raw["train"]["steps"], "left out here (the top-level `epochs` sets the steps)")
            fewest = min(max(1, epochs * (data["n_train"] // int(bs))) for bs in batch_sizes)
            if int(train.get("warmup_steps") or 0) > fewest:
                raise fail("train.warmup_steps", train["warmup_steps"],
                           f"an integer <= {fewest} (the steps of the largest batch size at epochs={epochs})")
        mps = integer("max_population_size", raw.get("max_population_size", 64), lo=1,
                      hi=LIMITS["max_population_size"], from_float=True)
        device = string("device", raw.get("device", "cpu"), DEVICES)
        n_runs = (len(pars) * len(K) * len(batch_sizes) * len(lrs) * len(seeds) * len(beta2s) * len(init_scales))
        spatial = [data["resolution"]] * (d if n_t is None else d - 1) + ([n_t] if n_t is not None else [])
        _sizes(pde=pde, data=data, model=model, K=K, batch_sizes=batch_sizes, n_runs=n_runs, spatial=spatial)
        if factory is not None:
            _factory(factory, data["params"])  # importable, callable as it will be called, or refused now
        cache_dir = raw.get("cache_dir")
        if cache_dir is not None:
            cache_dir = string("cache_dir", str(cache_dir))
        desc = raw.get("description", "")
        if not isinstance(desc, str):
            raise fail("description", desc, "a string")
        return cls(
            name=name, pde=pde, data=data, model=model, parametrizations=tuple(pars), K=tuple(K),
            lrs=tuple(lrs), seeds=tuple(seeds), batch_sizes=tuple(batch_sizes), beta2s=tuple(beta2s),
            init_scales=tuple(init_scales), train=train, max_population_size=mps, device=device,
            dataset_factory=factory, cache_dir=cache_dir, description=desc, base_K=base_K,
            pde_module=own["pde_module"], file_hashes=own["file_hashes"], loader=own["loader"], epochs=epochs,
        )

    @staticmethod
    def _check_top(raw: Mapping) -> tuple[str, str, str | None]:
        """The required keys, ``name``, ``pde`` and ``dataset_factory`` (its form)."""
        for req in ("name", "pde", "data", "K", "lr"):
            if req not in raw:
                raise fail(req, None, "a value (this key is required)")
        name = string("name", raw["name"])
        pde = string("pde", raw["pde"])
        factory = raw.get("dataset_factory")
        if factory is not None:
            factory = string("dataset_factory", factory)
            if ":" not in factory:
                raise fail("dataset_factory", factory, "null or 'package.module:function'")
        return name, pde, factory

    @staticmethod
    def _check_data(raw: Mapping, pde: str, *, generated: bool) -> tuple[dict, dict]:
        """The ``data`` block (sizes, seed, plain ``params``; a generated data set's parameters through
        ``load_dataset``'s own checks); returns it and the raw block for the own-data checks."""
        data_raw = mapping("data", raw["data"])
        known_keys("data", data_raw, _DATA_KEYS)
        for req in ("resolution", "n_train", "n_test"):
            if req not in data_raw:
                raise fail(f"data.{req}", None, "a positive integer (this key is required)")
        params_raw = mapping("data.params", data_raw.get("params", {}) or {})
        _plain("data.params", params_raw)
        data = {
            "resolution": check_resolution(pde, data_raw["resolution"], key="data.resolution", generated=generated,
                                           from_float=True),
            "n_train": integer("data.n_train", data_raw["n_train"], lo=1, hi=LIMITS["data.n"], from_float=True),
            "n_test": integer("data.n_test", data_raw["n_test"], lo=1, hi=LIMITS["data.n"], from_float=True),
            "seed": integer("data.seed", data_raw.get("seed", 0), lo=0, hi=LIMITS["seed"], from_float=True),
            "params": _jsonable(params_raw),
        }
        if generated:  # the same checks as load_dataset's, now
            _data_params(pde, data["resolution"], data["params"])
        return data, data_raw

    @staticmethod
    def _check_model(raw: Mapping, pde: str, data: Mapping, own_d: int | None) -> dict:
        """The ``model`` block: every FNOConfig field but K, defaults filled; ``d`` from the pde."""
        model_raw = mapping("model", raw.get("model", {}) or {})
        if "K" in model_raw:
            raise fail("model.K", model_raw["K"], "left out here (the top-level `K` list sets it)")
        known_keys("model", model_raw, _MODEL_KEYS)
        d_default = PDE_DIMS.get(pde, own_d)
        if "d" in model_raw:
            d = integer("model.d", model_raw["d"], lo=1, hi=3, from_float=True)
            if d_default is not None and d != d_default:
                raise fail("model.d", d, f"{d_default} (pde={pde!r} has {d_default} dimension(s))")
        elif d_default is None:
            raise fail("model.d", None, f"1, 2 or 3 (required for pde={pde!r}; known pdes: {list(PDE_DIMS)})")
        else:
            d = d_default
        fno_defaults = {**{k: v[0] for k, v in OPTIONAL_MODEL_FIELDS.items()}, "grid_convention": "endpoint",
                        **FNOConfig().to_dict()}  # a built-in sweep keeps the endpoint channel it was recorded with
        model = {"d": d}
        for k in _MODEL_KEYS[1:]:
            v = model_raw.get(k, fno_defaults[k])
            if k == "grid":
                model[k] = boolean(f"model.{k}", v)
            elif k == "grid_convention":
                model[k] = string(f"model.{k}", v, GRID_CONVENTIONS)
            elif k == "padding":
                if isinstance(v, (list, tuple)):
                    if len(v) != d:
                        raise fail("model.padding", v, f"an integer >= 0 or a list of {d} integers >= 0")
                    model[k] = [owndata.padding_value(f"model.padding[{i}]", x, data["resolution"])
                                for i, x in enumerate(v)]
                else:
                    model[k] = owndata.padding_value("model.padding", v, data["resolution"])
            else:
                hi = {"width": LIMITS["model.width"], "n_layers": LIMITS["model.n_layers"],
                      "projection_width": LIMITS["model.projection_width"]}.get(k, LIMITS["model.channels"])
                model[k] = integer(f"model.{k}", v, lo=1, hi=hi, from_float=True)

        owndata.check_model_grid(pde, data, model_raw, model)
        return model

    @staticmethod
    def _check_parametrizations(raw: Mapping, base_K: int) -> list[dict]:
        """``parametrizations``: names or ``{kind, base_K}`` mappings, without duplicates."""
        pars = []
        for i, p in enumerate(_list("parametrizations", raw.get("parametrizations", ["sp", "mup"]), lambda p, x: x)):
            path = f"parametrizations[{i}]"
            if isinstance(p, str):
                kind, bk = p.lower().replace("μ", "mu"), base_K
                if kind not in PARAM_KINDS:
                    raise fail(path, p, f"one of {list(PARAM_KINDS)} or {{kind: ..., base_K: ...}}")
            elif isinstance(p, Mapping):
                known_keys(path, p, ("kind", "base_K"))
                kind = string(f"{path}.kind", str(p.get("kind", "")).lower().replace("μ", "mu"), PARAM_KINDS)
                bk = p.get("base_K")
                bk = base_K if bk is None else integer(f"{path}.base_K", bk, lo=2, from_float=True)
            else:
                raise fail(path, p, f"one of {list(PARAM_KINDS)} or {{kind: ..., base_K: ...}}")
            entry = {"kind": kind, "base_K": None if kind == "sp" else bk}
            if entry in pars:
                raise fail("parametrizations", raw.get("parametrizations"), f"a list without duplicates ({entry} repeats)")
            pars.append(entry)
        return pars

    @staticmethod
    def _check_K(raw: Mapping, data: Mapping, model: Mapping, n_t: int | None) -> list[int]:
        """``K``: integers from 2 to the largest K the (padded) grid holds, the time axis included."""
        d = model["d"]
        pads = model["padding"] if isinstance(model["padding"], list) else [model["padding"]] * d
        pads = [padding_points(p, data["resolution"]) for p in pads]
        kmax = _max_K(d, data["resolution"], pads, n_t=n_t)
        if n_t is not None and kmax < _max_K(d, data["resolution"], pads):
            def check_K(p, x):  # the time axis is the tighter limit: say so
                try:
                    return integer(p, x, lo=2, hi=kmax, from_float=True)
                except ConfigError as e:
                    raise fail(p, x, f"{e.allowed} (navier_stokes's time axis has data.params.n_t={n_t} frames"
                                     f"{f' + padding {pads[2]}' if pads[2] else ''})") from None
        else:
            def check_K(p, x):
                return integer(p, x, lo=2, hi=kmax, from_float=True)
        return _list("K", raw["K"], check_K)

    @staticmethod
    def _check_grids(raw: Mapping, pde: str, data: Mapping) -> tuple:
        """The members' grids and the ``train`` block: (lrs, seeds, train, batch_sizes, beta2s, init_scales)."""
        lrs = _lr_spec("lr", raw["lr"])
        seeds = _list("seeds", raw.get("seeds", [0]),
                      lambda p, x: integer(p, x, lo=0, hi=LIMITS["seed"], from_float=True))
        train = _validate_train(mapping("train", raw.get("train", {}) or {}))
        if train.get("pino_weight") and pde != "darcy":
            raise fail("train.pino_weight", train["pino_weight"], f"0 for pde={pde!r} (the PINO residual is Darcy's)")
        bs_default = _train_fields().get("batch_size", 20) or 20
        batch_sizes = _list(
            "batch_sizes", raw.get("batch_sizes", [min(bs_default, data["n_train"])]),
            lambda p, x: integer(p, x, lo=1, hi=data["n_train"], from_float=True),
        )
        beta1, beta2_default = train.get("betas") or (0.9, 0.999)
        beta2s = _list(
            "beta2s", raw.get("beta2s", [beta2_default]),
            lambda p, x: _canon_float(number(p, x, lo=0.0, hi=1.0, hi_open=True, allowed="a number in [0, 1)",
                                             from_string=True)),
        )
        init_scales = _list("init_scales", raw.get("init_scales", [1.0]), lambda p, x: _canon_float(_positive_float(p, x)))
        return lrs, seeds, train, batch_sizes, beta2s, init_scales

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "SweepConfig":
        """Load a sweep from a ``.yaml``/``.yml`` or ``.json`` file (read safely:
        :func:`mufno_lite.sweep.configfile.read_config_file`)."""
        from .configfile import read_config_file

        raw = read_config_file(path)
        return cls.from_dict(raw, base_dir=Path(path).resolve().parent)

    def to_dict(self) -> dict:
        """A plain dict that :meth:`from_dict` turns back into this config."""
        train = {k: v for k, v in self.train.items()
                 if k not in _GRID_OWNED and not (k == "steps" and self.epochs is not None)}
        return _jsonable({
            "name": self.name, "description": self.description, "pde": self.pde, "data": self.data,
            "model": self.model, "parametrizations": [dict(p) for p in self.parametrizations],
            "base_K": self.base_K, "K": list(self.K), "lr": list(self.lrs), "seeds": list(self.seeds),
            "batch_sizes": list(self.batch_sizes), "beta2s": list(self.beta2s),
            "init_scales": list(self.init_scales), "train": train,
            "max_population_size": self.max_population_size, "device": self.device,
            "dataset_factory": self.dataset_factory, "cache_dir": self.cache_dir,
            **({"pde_module": self.pde_module} if self.pde_module is not None else {}),
            **({"epochs": self.epochs} if self.epochs is not None else {}),
        })

    def replace(self, **changes) -> "SweepConfig":
        """A new, re-validated config with some top-level keys changed (``lr`` for the grid)."""
        d = self.to_dict()
        for k, v in changes.items():
            if k == "lrs":
                k = "lr"
            d[k] = copy.deepcopy(v)
        return SweepConfig.from_dict(d)

    # ---- expansion ---------------------------------------------------------------------------
    def run_config(self, *, parametrization: Mapping, K: int, batch_size: int, lr: float, seed: int,
                   beta2: float, init_scale: float) -> dict:
        """The canonical config of one run (what its id hashes)."""
        fno = FNOConfig.from_dict(self.model, K=int(K))
        train = dict(self.train)
        for k, default in OPTIONAL_TRAIN_FIELDS.items():  # absent from the id while at their default
            if k in train and train[k] == default:
                del train[k]
        beta1 = (train.get("betas") or (0.9, 0.999))[0]
        train.update(lr=_canon_float(lr), batch_size=int(batch_size), betas=[beta1, _canon_float(beta2)])
        if self.epochs is not None:  # a fixed data budget: a bigger batch takes fewer steps
            train["steps"] = self.steps_for(batch_size)
        cfg = {
            "schema": SCHEMA_VERSION,
            "pde": self.pde,
            "data": owndata.identity_data(self.data, self.file_hashes, self.loader),
            "model": fno.to_dict(),
            "parametrization": {"kind": parametrization["kind"], "base_K": parametrization["base_K"]},
            "train": train,
            "seed": int(seed),
            "init_scale": _canon_float(init_scale),
        }
        if self.dataset_factory is not None:
            cfg["dataset_factory"] = self.dataset_factory
        return _jsonable(cfg)

    def steps_for(self, batch_size: int) -> int:
        """The optimizer steps of a run with this batch size: ``train.steps``, or with ``epochs``
        set, ``epochs · ⌊n_train / batch_size⌋`` (at least 1)."""
        if self.epochs is None:
            return int(self.train["steps"])
        return max(1, int(self.epochs) * (int(self.data["n_train"]) // int(batch_size)))

    def expand(self) -> list[RunSpec]:
        """All runs of the grid, in a deterministic order (population by population)."""
        runs = []
        for par in self.parametrizations:
            for K in self.K:
                for bs in self.batch_sizes:
                    for lr in self.lrs:
                        for seed in self.seeds:
                            for b2 in self.beta2s:
                                for s in self.init_scales:
                                    cfg = self.run_config(parametrization=par, K=K, batch_size=bs, lr=lr,
                                                          seed=seed, beta2=b2, init_scale=s)
                                    runs.append(RunSpec(run_id_of(cfg), cfg, _population_key(cfg)))
        return runs

    @property
    def n_runs(self) -> int:
        return (len(self.parametrizations) * len(self.K) * len(self.batch_sizes) * len(self.lrs)
                * len(self.seeds) * len(self.beta2s) * len(self.init_scales))


def _max_K(d: int, resolution: int, pads: Sequence[int], n_t: int | None = None) -> int:
    """Largest K the grid allows on the spatial axes and, when ``n_t`` is known (navier_stokes's
    frames), on the time axis (the model's last, rFFT axis, padded like the others)."""
    if d == 1:
        return max_modes(resolution + pads[0], last_axis=True)
    n_space = 2 if d >= 2 else 1
    kmax = min(max_modes(resolution + pads[i], last_axis=(i == d - 1)) for i in range(n_space))
    if n_t is not None and d == 3:
        kmax = min(kmax, max_modes(n_t + pads[2], last_axis=True))
    return kmax


def _time_frames(pde: str, d: int, params: Mapping) -> int | None:
    """The frames of the time axis (navier_stokes's ``n_t``, default from the data's table), else None."""
    if pde != "navier_stokes" or d != 3:
        return None
    from ..data.params import DEFAULTS

    return int(params.get("n_t", DEFAULTS["navier_stokes"]["n_t"]))
