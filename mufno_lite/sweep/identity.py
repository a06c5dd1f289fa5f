"""Run identity: a run's canonical config, its id (sha256 of the canonical JSON), :class:`RunSpec`
and the population key (the decisions are in :mod:`mufno_lite.sweep.config`'s docstring, "Run identity")."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Mapping

from ..canonical import canonical_json


SCHEMA_VERSION = 2  # 2: spectral weights drawn on their own streams (common random numbers across K)


def _canon_float(x: float) -> float:
    """Round to 12 significant digits so that equal grids give equal ids despite float noise."""
    return float(f"{float(x):.12g}")


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: its id, its canonical config and the population it trains in."""

    run_id: str
    config: dict
    population_key: str

    @property
    def lr(self) -> float:
        return self.config["train"]["lr"]

    @property
    def seed(self) -> int:
        return self.config["seed"]

    @property
    def beta2(self) -> float:
        return self.config["train"]["betas"][1]

    @property
    def init_scale(self) -> float:
        return self.config["init_scale"]



_canonical_json = canonical_json  # the old private name


def run_id_of(config: Mapping) -> str:
    """sha256 hex digest of a run config's canonical JSON."""
    return hashlib.sha256(_canonical_json(config).encode()).hexdigest()


def _jsonable(x):
    if isinstance(x, tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, float):
        return _canon_float(x)
    return x


def _population_key(cfg: Mapping) -> str:
    c = copy.deepcopy(dict(cfg))
    c.pop("seed"), c.pop("init_scale")
    c["train"].pop("lr")
    c["train"]["betas"] = c["train"]["betas"][:1]
    return _canonical_json(c)
