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
