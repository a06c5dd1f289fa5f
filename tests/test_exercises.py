"""Reference solutions of the notebooks' exercises: right answers pass, wrong ones fail."""
import math

import pandas as pd
import pytest

from mufno_lite.exercises import EXERCISES, check, list_exercises, reference
from test_analysis_figures import synthetic


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
    assert {e for e, _ in list_exercises("03")} == {"03.1", "03.2", "03.3"}
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
    assert out[2].startswith("01.1") and out[2].rstrip().endswith("504.8") and len(out) == 4
    key = reference(as_dict=True)
    assert set(key) == set(EXERCISES) and key["02.3"] == 46 and key["04.1"] is None
    df = synthetic()
    reference(notebook="4", results=df)
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
