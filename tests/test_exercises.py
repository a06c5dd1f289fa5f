"""Reference solutions of the notebooks' exercises: right answers pass, wrong ones fail.

The fixed answers come from the teacher's key (``teacher/solutions.py``, read by
``reference(..., teacher=True)``); ``check`` grades them against the package's hashed key."""
import functools
import math

import pandas as pd
import pytest

from mufno_lite.exercises import EXERCISES, check, list_exercises
from mufno_lite.exercises import reference as _reference
from test_analysis_figures import synthetic

reference = functools.partial(_reference, teacher=True)


def test_static_solutions():
    assert reference("01.1") == pytest.approx(905_995_073 / 1_794_881)
    assert reference("02.1") == 4 * 2 * 144 * 1024
    assert reference("02.2") == [1.0, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0, 0.0, 0.0]
    assert reference("02.3") == 46
    assert reference("03.1") == pytest.approx(3e-3 / math.sqrt(3))
    assert reference("03.2") == pytest.approx(0.02 / 3)
    assert check("02.3", 46, quiet=True) and not check("02.3", 48, quiet=True)
    assert check("03.1", 3e-3 / math.sqrt(3) * (1 + 1e-4), quiet=True)
    assert not check("03.1", 3e-3 / 3, quiet=True)
    assert not check("02.2", [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], quiet=True)


def test_data_dependent_solutions_follow_the_table():
    df = synthetic()
    assert reference("04.1", results=df) == pytest.approx(10**-2.875)
    assert reference("04.2", results=df) == -3
    assert reference("04.3", results=df) == 0
    assert check("05.2", -3, results=df, quiet=True) and not check("05.2", 3, results=df, quiet=True)


def test_every_exercise_is_listed_and_errors_are_clear(capsys):
    assert {e for e, _ in list_exercises("03")} == {"03.1", "03.2", "03.3", "03.4", "03.5", "03.6", "03.7"}
    assert len(EXERCISES) >= 18
    check("03.3", 0.0)
    assert "not yet" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"exercise_id must be one of .* got exercise_id='99.9'"):
        check("99.9", 1)


def test_cost_table_exercise():
    table = pd.DataFrame({"method": ["direct tuning on the target (K=4)", "μTransfer-FNO (K=2 -> 4)"], "cost_ratio_wall": [1.0, 0.42]})
    assert reference("09.1", table=table) == pytest.approx(0.42)
    assert check("09.1", 0.42, table=table, quiet=True)


def test_explorer_exercises():
    df = synthetic()
    assert reference("11.1", results=df) == 0
    assert reference("11.2") == 0.0


def test_check_without_its_data_says_what_to_pass():
    with pytest.raises(TypeError, match=r'exercise 04\.1 is computed from your data: pass results= .*'
                                        r'e\.g\. check\("04\.1", answer, results=results\)'):
        check("04.1", 0.01)
    with pytest.raises(TypeError, match=r"pass table= .*check\(\"09\.1\", answer, table=table\)"):
        check("09.1", 0.5)
    with pytest.raises(TypeError, match=r"exercise 01\.1 does not use results=; it takes nothing but the answer"):
        check("01.1", 500, results=None)
    with pytest.raises(TypeError, match=r'reference\("07\.2", results=results\)'):
        reference("07.2")


def test_reference_prints_a_table_and_keeps_the_dict(capsys):
    assert reference(notebook="01") is None
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["exercise", "question", "answer"] and out[1].startswith("--------")
    assert out[2].startswith("01.1") and out[2].rstrip().endswith("504.8") and len(out) == 2 + len(list_exercises("01"))
    key = reference(as_dict=True)
    assert set(key) == set(EXERCISES) and key["02.3"] == 46 and key["04.1"] is None
    df = synthetic()
    reference(notebook="4", results=df, spectrum=[0.9, 0.1])
    assert "needs" not in capsys.readouterr().out
    with pytest.raises(ValueError, match="notebook='99' has no exercises"):
        reference(notebook="99")


def test_paper_reference_table(capsys):
    from mufno_lite.analysis import PAPER_REPORTED
    from mufno_lite.exercises import paper_reference

    assert paper_reference("navier_stokes") is None
    out = capsys.readouterr().out
    assert "navier_stokes  SP               K=3: 1.80e-03, K=24: 7.40e-04" in out and "{" not in out
    assert paper_reference(as_dict=True) == PAPER_REPORTED
    with pytest.raises(ValueError, match="keys must be among"):
        paper_reference("heat")


# ---- the four kinds ------------------------------------------------------------------------------
from mufno_lite.exercises import course as E  # noqa: E402
from mufno_lite.exercises import KINDS, question  # noqa: E402


def test_every_kind_is_taught_and_reading_numbers_is_a_minority():
    kinds = [e.kind for e in EXERCISES.values()]
    for kind in ("predict", "explain", "implement", "explore"):
        assert kind in kinds, kind
    assert set(kinds) <= set(KINDS)
    assert kinds.count("read") < len(kinds) / 3
    assert [e for e, _ in list_exercises(kind="implement")] == ["03.4", "03.5"]
    with pytest.raises(ValueError, match="kind must be one of"):
        list_exercises(kind="copy")


@pytest.mark.parametrize("eid", [e.id for e in EXERCISES.values() if e.options])
def test_multiple_choice_right_passes_wrong_fails_with_why(eid, capsys):
    ex = EXERCISES[eid]
    right = reference(eid)
    assert right in ex.options and question(eid).count("\n  (") == len(ex.options)
    assert check(eid, right.upper() + ")")
    assert ex.feedback[right] in capsys.readouterr().out  # why it is right
    assert set(ex.feedback) == set(ex.options)  # which options have feedback says nothing
    for wrong in ex.options:
        if wrong != right:
            assert not check(eid, wrong)
            out = capsys.readouterr().out
            assert "not yet" in out and "hint:" in out and ex.feedback.get(wrong, "") in out
    assert not check(eid, "zz")
    assert "answer with one letter among" in capsys.readouterr().out


def test_explain_numbers():
    assert reference("04.6") == pytest.approx(-2.31, abs=0.01)
    assert reference("09.2") == pytest.approx(0.225)
    assert reference("10.1") == pytest.approx(0.80, abs=0.01)
    assert check("04.6", -2.30, quiet=True) is False and check("04.6", reference("04.6"), quiet=True)
    assert not check("09.2", 0.3, quiet=True)


def my_init_std(K, d, fan_in, base_K=3):
    return math.sqrt(1 / fan_in) * math.sqrt(math.log(base_K) / math.log(K))


@pytest.mark.parametrize("wrong, says", [
    (lambda K, d, fan_in, base_K=3: math.sqrt(1 / fan_in), "that is SP's std"),
    (lambda K, d, fan_in, base_K=3: math.sqrt(1 / fan_in) * math.log(base_K) / math.log(K), "the variance's factor"),
    (lambda K, d, fan_in, base_K=3: (1 / fan_in) * math.sqrt(math.log(base_K) / math.log(K)), "1/√fan_in"),
    (lambda K, d, fan_in, base_K=3: math.sqrt(1 / fan_in) / math.sqrt(d * math.log(K)), "d cancels"),
    (lambda K, d, fan_in, base_K=3: 1 / 0, "raised ZeroDivisionError"),
    (lambda K, d, fan_in, base_K=3: math.sqrt(1 / fan_in) * math.sqrt(math.log(3) / math.log(K)), "base_K=4"),
    (my_init_std(3, 1, 8), "pass your function itself"),
])
def test_implement_init_std(wrong, says, capsys):
    assert check("03.4", my_init_std)
    assert "correct" in capsys.readouterr().out
    assert not check("03.4", wrong)
    out = capsys.readouterr().out
    assert "not yet" in out and says in out
    assert reference("03.4").__name__ == "mup_init_std" and check("03.4", reference("03.4"), quiet=True)


def my_groups(model, lr, base_K=3):
    g = model.named_parameter_groups()
    c = math.sqrt(math.log(base_K) / math.log(model.K))
    return [{"params": [p for _, p in g["spectral"]], "lr": lr * c}, {"params": [p for _, p in g["other"]], "lr": lr}]


def _all_at(model, lr, base_K=3, mult=lambda K, b: 1.0, other=1.0):
    g = model.named_parameter_groups()
    return [{"params": [p for _, p in g["spectral"]], "lr": lr * mult(model.K, base_K)},
            {"params": [p for _, p in g["other"]], "lr": lr * other}]


@pytest.mark.parametrize("wrong, says", [
    (lambda m, lr, b=3: [{"params": list(m.parameters()), "lr": lr}], "need lr · c(K)"),
    (lambda m, lr, b=3: _all_at(m, lr, b, lambda K, b: math.log(b) / math.log(K)), "square root"),
    (lambda m, lr, b=3: _all_at(m, lr, b, lambda K, b: math.sqrt(math.log(b) / math.log(K)), other=0.5), "keep the base lr"),
    (lambda m, lr, b=3: my_groups(m, lr, b)[:1], "in no group"),
    (lambda m, lr, b=3: my_groups(m, lr, b) + my_groups(m, lr, b)[:1], "in two groups"),
    (lambda m, lr, b=3: [{"lr": lr}], "torch.optim.Adam accepts"),
    (lambda m, lr, b=3: _all_at(m, lr, 3, lambda K, b: math.sqrt(math.log(3) / math.log(K))), "base_K=4"),
])
def test_implement_param_groups(wrong, says, capsys):
    assert check("03.5", my_groups, quiet=True)
    assert not check("03.5", wrong)
    out = capsys.readouterr().out
    assert "not yet" in out and says in out, out


def test_predict_coordinate_check():
    from mufno_lite.coord_check import coord_check

    cc = coord_check([3, 8], ("mup",), d=1, width=4, n_layers=1, steps=1, lr=1e-2, seeds=[0])
    truth = 1e-2 * math.sqrt(math.log(3) / math.log(8))
    assert reference("03.7", cc=cc) == pytest.approx(truth, rel=1e-3)
    assert check("03.7", truth, cc=cc, quiet=True) and not check("03.7", 1e-2, cc=cc, quiet=True)


def test_predict_an_optimum_is_graded_in_grid_steps(capsys):
    df = synthetic()
    measured = float(reference("01.3", results=df))
    assert measured == pytest.approx(10**-2.875)
    assert check("01.3", measured * 10**0.12, results=df)     # within one eighth-decade step
    assert "grid steps above" in capsys.readouterr().out
    assert not check("01.3", measured * 10**0.3, results=df)
    out = capsys.readouterr().out
    assert "not yet" in out and f"the run's optimum is {measured:.3g}" in out
    assert not check("10.2", "fast", results=df)
    assert "one positive number" in capsys.readouterr().out
    assert check("10.2", reference("10.2", results=df), results=df, quiet=True)


def test_explore_exercises_computed_from_the_data():
    import numpy as np

    spectrum = np.array([0.5, 0.3, 0.15, 0.045, 0.005])
    assert reference("04.4", spectrum=spectrum) == 4
    assert check("04.4", 4, spectrum=spectrum, quiet=True) and not check("04.4", 3, spectrum=spectrum, quiet=True)
    df = synthetic()
    best = reference("11.3", results=df)
    assert isinstance(best, list) and best
    assert check("11.3", best[0], results=df, quiet=True)
    assert not check("11.3", "K", results=df, quiet=True)


def test_an_unanswered_exercise_says_so():
    with pytest.raises(ValueError, match=r"(?s)exercise 04\.5: write your answer first .*\(a\) SP's optimum"):
        check("04.5", None)


def test_own_data_exercises_grade_right_and_wrong_answers():
    import pandas as pd

    zero_shot = pd.DataFrame({"x same-grid error": [1.09, 1.0, 1.04]}, index=pd.Index([32, 64, 128], name="grid"))
    assert check("12.1", "a", quiet=True) and not check("12.1", "b", quiet=True)
    assert check("12.2", 1.04, results=zero_shot, quiet=True)
    assert not check("12.2", 1.09, results=zero_shot, quiet=True)  # the coarser grid's ratio, not the finer one's
    assert check("12.3", 4, quiet=True) and not check("12.3", 2, quiet=True)
