"""The notebooks' prose agrees with their output.

Two checks, both able to fail (the fake notebooks below show how):

* **Markdown asserts no result.**  A markdown sentence may describe what a result *would* mean
  (conditional: "if", "whether", …) or what the paper or theory says (attributed), but it may not
  state an outcome ("under μP the star stays put") that a run can contradict.  Development history
  ("the pilot", "an earlier version") is banned outright.
* **Printed verdicts match the notebook's own data.**  Each notebook runs under the `smoke` preset
  with one extra cell at its end, which recomputes ``describe_drift`` for every bootstrap-drift
  table and ``describe_direction`` for every drift table in the kernel.  Every verdict sentence
  printed by the notebook must be among them (x labels aside), so a hard-coded or stale verdict fails.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))

#: phrases that state an outcome of a run
CLAIMS = [r"tends? to move", r"should stay", r"stays? put", r"\bmoves? (left|right|down|up)\b", r"\bis stable\b",
          r"\b(clearly|indeed) (moves|shifts|drifts)\b", r"\bconfirm(s|ed)?\b", r"\bas predicted\b",
          r"\b(largest|smallest) batch (often |always )?wins\b", r"\bwe (see|find|observe) that\b",
          r"\b(does not|doesn't) move\b", r"\bhardly grows\b", r"smaller than seed noise", r"\bshows? the effect\b"]
#: phrases that make a sentence conditional or attributed
HEDGES = r"\b(if|whether|when|unless|predicts?|prediction|theory|theorem|paper|reports?|claims?|expects?|ideally|would|could|may|might|can)\b"
#: development history: never in a notebook
HISTORY = [r"\bthe pilot\b", r"\ban earlier (grid|version|run)\b", r"\bproject's notes\b", r"\bcommitted results\b"]

VERDICT = re.compile(r"(?:^|\s)(?P<name>SP|μP): the optimal .+? moved (?P<rest>.+)$")
DIRECTION = re.compile(r"^From K=\d+ to K=\d+, SP's best .+$")
MARK = "PROSE-CHECK "

RECOMPUTE = f'''
import json as _json
import pandas as _pd
from mufno_lite.analysis import describe_direction as _ddir, describe_drift as _dd
_keys = {{"drift": [], "direction": []}}
for _v in list(globals().values()):
    if not isinstance(_v, _pd.DataFrame) or "parametrization" not in _v.columns:
        continue
    if {{"drift", "drift_lo", "drift_hi", "verdict"}} <= set(_v.columns):
        _keys["drift"] += [_dd(_v.iloc[[_i]]) for _i in range(len(_v))]
    if "drift_steps" in _v.columns or "drift_lo" in _v.columns:
        _by = [c for c in ("width", "pde", "clip") if c in _v.columns]
        for _, _g in (_v.groupby(_by) if _by else [(None, _v)]):
            try:
                _keys["direction"].append(_ddir(_g))
            except Exception:
                pass
print({MARK!r} + _json.dumps(_keys))
'''


def _sentences(text: str) -> list[str]:
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n\s*[*\-\d]+[.)]?\s+|\n\n", text) if s.strip()]


def markdown_problems(nb) -> list[str]:
    """Sentences of markdown cells that assert an outcome unhedged, or mention development history."""
    out = []
    for c in nb.cells:
        if c.cell_type != "markdown":
            continue
        for s in _sentences(c.source):
            low = s.lower()
            if re.match(r"\([a-z]\) ", low):  # a multiple-choice option is not a claim
                continue
            for pat in HISTORY:
                if re.search(pat, low):
                    out.append(f"[{c.get('id')}] development history ({pat}): {s}")
            if re.search(HEDGES, low):
                continue
            for pat in CLAIMS:
                if re.search(pat, low):
                    out.append(f"[{c.get('id')}] asserts a result ({pat}): {s}")
                    break
    return out


def _key(line: str) -> str | None:
    m = VERDICT.search(line)
    return f"{m['name']}: {m['rest'].strip()}" if m else None


def _stream_lines(nb):
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        for o in c.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stdout":
                yield from o["text"].splitlines()


def verdict_problems(executed) -> list[str]:
    """Printed verdict sentences not recomputed from the kernel's own tables (the last cell's output)."""
    recomputed = None
    for line in _stream_lines(executed):
        if line.startswith(MARK):
            recomputed = json.loads(line[len(MARK):])
    if recomputed is None:
        return ["the recompute cell printed nothing"]
    drift_keys = {_key(s) for text in recomputed["drift"] for s in text.splitlines()}
    directions = set(recomputed["direction"])
    out = []
    for line in _stream_lines(executed):
        if line.startswith(MARK):
            continue
        k = _key(line)
        if k is not None and k not in drift_keys:
            out.append(f"printed verdict not found in the notebook's own bootstrap tables: {line.strip()}")
        if DIRECTION.match(line.strip()) and line.strip() not in directions:
            out.append(f"printed direction sentence not found in the notebook's own drift tables: {line.strip()}")
    return out


def count_verdicts(executed) -> int:
    return sum(1 for line in _stream_lines(executed) if not line.startswith(MARK)
               and (_key(line) is not None or DIRECTION.match(line.strip())))


# ---- the checkers can fail ------------------------------------------------------------------
def _md(*texts):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(t) for t in texts]
    return nb


def test_markdown_checker_flags_unhedged_claims_and_history():
    bad = _md("**What to look for.** Under SP the star tends to move left as K grows. Under μP it stays put.",
              "We compare with the data of an earlier version of this notebook.")
    problems = markdown_problems(bad)
    assert len(problems) == 3, problems
    assert "tends? to move" in problems[0] and "stays? put" in problems[1] and "development history" in problems[2]
    good = _md("The paper predicts that under SP the star moves left. If the μP star stays put, this run shows it.",
               "Whether the largest batch wins at every K, the table says.")
    assert markdown_problems(good) == []


def _executed(printed: str, boot_rows: list[dict]):
    """A fake executed notebook: one cell printing ``printed``, and the recompute cell's output for
    a bootstrap table with ``boot_rows``."""
    import pandas as pd

    from mufno_lite.analysis import describe_direction, describe_drift

    boot = pd.DataFrame(boot_rows)
    keys = {"drift": [describe_drift(boot.iloc[[i]]) for i in range(len(boot))], "direction": [describe_direction(boot)]}
    nb = nbformat.v4.new_notebook()
    cells = []
    for text in (printed, MARK + json.dumps(keys)):
        c = nbformat.v4.new_code_cell("")
        c.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text + "\n")]
        cells.append(c)
    nb.cells = cells
    return nb, boot


ROWS = [dict(parametrization="sp", K_min=3, K_max=64, n_seeds=6, drift=-0.93, drift_lo=-2.18, drift_hi=0.2,
             predicted_drift=-2.31, verdict="no resolved drift", ci=0.9),
        dict(parametrization="mup", K_min=3, K_max=64, n_seeds=6, drift=0.01, drift_lo=-0.87, drift_hi=1.27,
             predicted_drift=0.0, verdict="no resolved drift", ci=0.9)]


def test_verdict_checker_passes_computed_sentences_and_fails_a_contradicting_one():
    from mufno_lite.analysis import describe_direction, describe_drift
    import pandas as pd

    boot = pd.DataFrame(ROWS)
    honest = describe_drift(boot, x_label="spectral-group learning rate") + "\n" + describe_direction(boot)
    nb, _ = _executed(honest, ROWS)
    assert verdict_problems(nb) == [] and count_verdicts(nb) == 3
    # a hard-coded sentence that contradicts the table: SP "moves as predicted" with another interval
    lie = ("SP: the optimal learning rate moved −2.3 steps from K=3 to K=64 (90% interval −3.1 to −1.2; theory −2.3; "
           "6 seeds): moves as predicted.\nFrom K=3 to K=64, SP's best learning rate moved 2.30 grid steps down and "
           "μP's did not move: this run shows the paper's picture (SP's optimum moves down, μP's stays).")
    nb, _ = _executed(lie, ROWS)
    problems = verdict_problems(nb)
    assert len(problems) == 2 and "bootstrap tables" in problems[0] and "drift tables" in problems[1]


def test_every_notebook_markdown_asserts_no_result():
    problems = {p.name: markdown_problems(nbformat.read(p, as_version=4)) for p in NOTEBOOKS}
    assert not any(problems.values()), {k: v for k, v in problems.items() if v}


def test_every_notebook_has_the_course_structure():
    for p in NOTEBOOKS:
        nb = nbformat.read(p, as_version=4)
        md = [c.source for c in nb.cells if c.cell_type == "markdown"]
        assert "**What you will learn.**" in md[0] or "**What you will learn.**" in "".join(md[:2]), p.name
        assert "**Time.**" in md[0] and "`quick`" in md[0] and "`smoke`" in md[0], p.name
        heads = [s.splitlines()[0] for s in md if s.startswith("## ")]
        assert heads[-2:] == ["## Summary", "## Exercises"], (p.name, heads[-2:])
        assert nb.cells[-1].cell_type == "code" and "check(" in nb.cells[-1].source, p.name
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{p.name} is stored with outputs"


def test_every_exercise_is_posed_in_its_notebook():
    from mufno_lite.exercises import EXERCISES

    for eid in EXERCISES:
        nb = next(p for p in NOTEBOOKS if p.name.startswith(eid.split(".")[0]))
        text = nbformat.read(nb, as_version=4)
        md = "".join(c.source for c in text.cells if c.cell_type == "markdown")
        code = "".join(c.source for c in text.cells if c.cell_type == "code")
        assert f"**{eid}**" in md and f'check("{eid}"' in code, (eid, nb.name)


# ---- the notebooks themselves, executed under smoke -------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_printed_verdicts_match_the_notebooks_own_tables(path, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("MUFNO_PRESET", "smoke")
    monkeypatch.setenv("MUFNO_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.setenv("MUFNO_PROGRESS", "off")
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(RECOMPUTE))
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    assert verdict_problems(nb) == []
    if path.name.startswith(("01", "04", "05", "06", "07", "08", "10")):
        assert count_verdicts(nb) > 0, "this notebook prints computed verdicts; none were found"


def test_describe_direction_reads_grid_and_fitted_drifts():
    import pandas as pd

    from mufno_lite.analysis import describe_direction

    grid = pd.DataFrame([dict(parametrization="sp", K_min=3, K_max=64, drift_steps=1),
                         dict(parametrization="mup", K_min=3, K_max=64, drift_steps=1)])
    assert describe_direction(grid) == ("From K=3 to K=64, SP's best learning rate moved 1 grid step up and μP's moved "
                                        "1 grid step up: this run does not show the paper's picture (SP's optimum "
                                        "moves down, μP's stays).")
    grid["drift_steps"] = [-2, 0]
    assert "moved 2 grid steps down and μP's did not move: this run shows" in describe_direction(grid)
    boot = pd.DataFrame(ROWS)
    assert "this run does not show" in describe_direction(boot)          # SP's interval contains 0
    boot.loc[0, "drift_hi"] = -0.5
    assert "moved 0.93 grid steps down" in describe_direction(boot) and "this run shows" in describe_direction(boot)
    with pytest.raises(ValueError, match="must have an 'sp' and a 'mup' row"):
        describe_direction(grid.iloc[:1])
