"""One set of checkers, one message style, errors re-keyed by their fields (validation.py), as the
data parameters and the sweep config use them."""
import numpy as np
import pytest

from mufno_lite.data.params import resolve_params
from mufno_lite.sweep import SweepConfig
from mufno_lite.validation import (
    ConfigError, boolean, choice, fail, integer, known_keys, number, positive, positive_int, string,
)

SWEEP = dict(name="v", pde="burgers", data={"resolution": 16, "n_train": 8, "n_test": 4},
             model={"width": 4, "n_layers": 1, "projection_width": 8}, K=[2], lr=[1e-3])


def test_with_key_prefix_rebuilds_the_message_from_the_fields():
    assert choice("optimizer", "adam", ("adam", "adamw")) == "adam"
    with pytest.raises(ConfigError) as exc:
        integer("steps", 0, lo=1)
    moved = exc.value.with_key_prefix("train")
    assert (moved.key, moved.value, moved.allowed) == ("train.steps", 0, "an integer >= 1")
    assert str(moved) == "train.steps must be an integer >= 1; got train.steps=0"
    unknown = ConfigError(key="viscosity", value=0.1, allowed="['nu']", unknown=True).with_key_prefix("data.params")
    assert str(unknown) == "unknown key 'data.params.viscosity' (value 0.1); allowed keys: ['nu']"
    own = ConfigError("darcy data are not finite", key="params").with_key_prefix("data")
    assert own.key == "data.params" and str(own) == "data.params: darcy data are not finite"


def test_numpy_numbers_in_bools_out():
    assert integer("n", np.int64(3)) == 3 and type(integer("n", np.int64(3))) is int
    assert number("x", np.float32(0.5)) == 0.5 and positive_int("n", np.int32(2)) == 2
    assert boolean("b", np.True_) is True
    for check, v in ((integer, True), (integer, np.True_), (number, False), (positive, True), (boolean, 1),
                     (boolean, "true"), (string, ""), (integer, 2.0)):
        with pytest.raises(ConfigError):
            check("k", v)
    assert integer("n", 2.0, from_float=True) == 2 and number("x", "1e-3", from_string=True) == 1e-3
    with pytest.raises(ConfigError, match=r"x must be a finite number >= 0 and < 1; got x=1.0"):
        number("x", 1.0, lo=0.0, hi=1.0, hi_open=True)


def test_known_keys_and_fail():
    known_keys("train", {"steps": 1}, ["steps"])
    with pytest.raises(ConfigError, match=r"unknown key 'train.stepz' \(value 5\); allowed keys: \['steps'\]") as e:
        known_keys("train", {"stepz": 5}, ["steps"])
    assert e.value.unknown and e.value.key == "train.stepz"
    assert str(fail("K", [1] * 1000, "a list")) == "K must be a list; got K=[1, 1, 1, 1, 1, 1, ...]"  # shortened


def test_data_parameters_and_the_sweep_share_checkers_and_style():
    assert resolve_params("burgers", 32, {"ic_zero_mean": np.True_, "nu": 1})["ic_zero_mean"] is True
    assert resolve_params("burgers", 32, {"nu": 1})["nu"] == 1 and type(resolve_params("burgers", 32, {"nu": 1})["nu"]) is int
    with pytest.raises(ConfigError, match=r"^nu must be a finite number >= 1e-05 and <= 1000; got nu=-1$"):
        resolve_params("burgers", 32, {"nu": -1})
    cases = [
        ({"params": {"nu": -1}}, "data.params.nu", r"data\.params\.nu must be a finite number >= 1e-05 .*; got data\.params\.nu=-1"),
        ({"params": {"viscosity": 1}}, "data.params.viscosity", r"unknown key 'data\.params\.viscosity'"),
        ({"resolution": 4}, "data.resolution", r"data\.resolution must be an integer in \[8, .*; got data\.resolution=4"),
    ]
    for change, key, match in cases:
        with pytest.raises(ConfigError, match=match) as e:
            SweepConfig.from_dict({**SWEEP, "data": {**SWEEP["data"], **change}})
        assert e.value.key == key
    with pytest.raises(ConfigError, match=r"data\.resolution must be an even integer \(Navier-Stokes\); "
                                          r"got data\.resolution=33") as e:
        SweepConfig.from_dict({**SWEEP, "pde": "navier_stokes", "K": [2], "data": {**SWEEP["data"], "resolution": 33}})
    assert e.value.key == "data.resolution" and e.value.value == 33
