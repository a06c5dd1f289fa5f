"""The teacher's answer key: the reference solution of every exercise whose answer is fixed.

Not part of the installed package (students get only salted hashes of these answers, in
``mufno_lite/exercises/answer_key.json``).  Read it through ``reference(..., teacher=True)``;
after changing an answer here, rewrite the hashed key with
``python teacher/make_key.py`` (``tests/test_exercises.py`` checks the two agree).

Exercises computed from the student's own data (04.1, 07.2, …) have no entry: their solution is a
computation on that data, in ``mufno_lite/exercises/course.py``.
"""
import math

from mufno_lite.fno import count_parameters, mode_response
from mufno_lite.parametrization import transfer


def mup_init_std(K, d, fan_in, base_K=3):
    """03.4: the std of a μP spectral weight entry (init_scale 1): SP's 1/√fan_in times √(log K₀ / log K)."""
    return math.sqrt(1.0 / fan_in) * math.sqrt(math.log(base_K) / math.log(K))


def mup_param_groups(model, lr, base_K=3):
    """03.5: μP's optimizer groups for an FNO (spectral weights at lr·c(K), everything else at lr)."""
    groups = model.named_parameter_groups()
    c = math.sqrt(math.log(base_K) / math.log(model.K))
    return [{"params": [p for _, p in groups["spectral"]], "lr": lr * c},
            {"params": [p for _, p in groups["other"]], "lr": lr}]


def _smallest_rfft_points(K):
    n = 1
    while n // 2 + 1 < K:
        n += 1
    return n


SOLUTIONS = {
    "01.1": count_parameters(d=3, K=24, width=64)["total"] / count_parameters(d=3, K=3, width=64)["total"],
    "01.2": math.sqrt(math.log(3) / math.log(32)),
    "01.4": "b",
    "02.1": 4 * 2 * 12**2 * 32 * 32,
    "02.2": [g for _, g in mode_response(4, (16, 16), axis=0)],
    "02.3": _smallest_rfft_points(24),
    "02.4": "b",
    "03.1": transfer({"lr": 3e-3}, 4, 64)["lr"],
    "03.2": transfer({"init_var": 0.02}, 4, 64)["init_var"],
    "03.3": math.sqrt(2 * 3 * math.log(24)),
    "03.4": mup_init_std,
    "03.5": mup_param_groups,
    "03.6": "a",
    "04.5": "b",
    "04.6": 8 * math.log10(math.sqrt(math.log(3) / math.log(64))),
    "05.4": "a",
    "06.4": "b",
    "07.3": "b",
    "08.2": "b",
    "09.2": (10 * 1 + 8) / (10 * 8),
    "10.1": 8 * math.log10(math.sqrt(math.log(3) / math.log(2))),
    "10.3": "b",
    "11.2": 0.0,
    "12.1": "a",
    "12.3": 4,
}
