"""Progress everywhere: the mode rule (widgets in a Jupyter kernel, bars on a terminal, lines in logs),
line-based progress with counts and an ETA on stdout, its throttle, and the sweep's use of it."""
import io
import re
import sys
import types

import pytest

from mufno_lite import progress as P
from mufno_lite.sweep import SweepConfig, run_sweep
from mufno_lite.store import ResultsStore
from test_sweep import FakeTrainer, cfg, fake_data


class NotATty(io.StringIO):
    def isatty(self):
        return False


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("MUFNO_PROGRESS", raising=False)
    monkeypatch.setattr(sys, "stderr", NotATty())


def fake_kernel(monkeypatch):
    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))


def test_lines_have_counts_elapsed_and_eta():
    out, clock = NotATty(), FakeClock()
    p = P.LineProgress(40, "sweep demo", unit="runs", stream=out, clock=clock, extra=lambda: "1/10 populations")
    for _ in range(10):
        clock.t += 6.0
        p.update(1)
    p.close()
    lines = out.getvalue().splitlines()
    assert lines, "nothing written"
    assert lines[0] == "sweep demo: 1/40 runs (2%), 1/10 populations, 6s elapsed, ETA 3m54s"
    assert re.fullmatch(r"sweep demo: 10/40 runs \(25%\), 1/10 populations, 1m00s elapsed, ETA 3m00s", lines[-1])


def test_throttle_limits_the_number_of_lines():
    out, clock = NotATty(), FakeClock()
    p = P.LineProgress(1000, "x", stream=out, clock=clock, interval=30, step_fraction=0.05, min_gap=1)
    for _ in range(1000):  # 1000 updates in 100 s: at most one line per 5% (and one per 30 s)
        clock.t += 0.1
        p.update(1)
    p.close()
    n = len(out.getvalue().splitlines())
    assert 5 <= n <= 22, n
    assert out.getvalue().splitlines()[-1].startswith("x: 1000/1000 it (100%)")


def test_delay_keeps_short_loops_silent():
    out, clock = NotATty(), FakeClock()
    p = P.LineProgress(10, "short", stream=out, clock=clock, delay=60)
    for _ in range(10):
        clock.t += 1
        p.update(1)
    p.close()
    assert out.getvalue() == ""


def test_mode_rule(monkeypatch, no_env):
    assert P.progress_mode() == "lines" and not P.progress_enabled()  # not a terminal: lines
    assert P.progress_mode(False) == "off"
    monkeypatch.setattr(sys, "stderr", types.SimpleNamespace(isatty=lambda: True))
    assert P.progress_mode() == "bar" and P.progress_enabled()
    monkeypatch.setenv("CI", "true")
    assert P.progress_mode() == "lines"
    monkeypatch.setenv("MUFNO_PROGRESS", "off")
    assert P.progress_mode() == "off"
    monkeypatch.setenv("MUFNO_PROGRESS", "sometimes")
    with pytest.raises(ValueError, match="MUFNO_PROGRESS must be one of"):
        P.progress_mode()


def test_jupyter_kernel_chooses_widgets(monkeypatch, no_env):
    assert not P.in_jupyter_kernel()
    fake_kernel(monkeypatch)
    assert P.in_jupyter_kernel()
    assert P.progress_mode() == "widget" and P.progress_enabled()
    used = []
    import tqdm.auto

    class Widget:
        def __init__(self, iterable, **kw):
            used.append(kw)
            self.it = iterable

        def __iter__(self):
            return iter(self.it)

    monkeypatch.setattr(tqdm.auto, "tqdm", Widget)
    assert list(P.track(range(3), desc="gen")) == [0, 1, 2]
    assert used and used[0]["desc"] == "gen"
    monkeypatch.setenv("CI", "1")  # a kernel in CI (nbval) writes lines, not widgets
    assert P.progress_mode() == "lines"


def test_track_writes_lines_to_stdout(capsys, no_env):
    assert list(P.track(range(5), desc="gen", unit="chunks", min_gap=0)) == list(range(5))
    out, err = capsys.readouterr()
    assert "gen: 5/5 chunks (100%)" in out and err == ""


def test_sweep_progress_lines_on_stdout(tmp_path, capsys, monkeypatch, no_env):
    monkeypatch.setenv("CI", "true")
    st = ResultsStore(tmp_path / "r.sqlite")
    rep = run_sweep(SweepConfig.from_dict(cfg()), st, dataset_factory=fake_data, trainer=FakeTrainer())
    out, err = capsys.readouterr()
    assert rep.status == "complete"
    assert "sweep tiny: 16 runs to train in" in out
    assert re.search(r"sweep tiny: \d+/16 runs \(\d+%\), \d+/\d+ populations, \d+s elapsed, ETA", out)
    assert "sweep tiny: 16/16 runs (100%)" in out
    assert "sweep 'tiny': complete" in out  # the summary: stdout, not a pink box
    assert err == ""
    # failures still go to stderr
    run_sweep(SweepConfig.from_dict(cfg(name="tiny2", lr=[3e-3])), st, dataset_factory=fake_data, trainer=FakeTrainer(fail_K=4),
              progress=False)
    out, err = capsys.readouterr()
    assert "failed" in err and "sweep 'tiny2': partial" in out


def test_format_duration():
    assert [P.format_duration(s) for s in (0, 59.4, 60, 3599, 3600)] == ["0s", "59s", "1m00s", "59m59s", "1h00m"]


def test_long_burgers_solve_writes_lines(monkeypatch, capsys, no_env):
    """A solve longer than the delay writes "time steps" lines with an ETA (the clock is faked)."""
    import torch

    from mufno_lite.data import burgers

    ticks = iter(range(0, 10_000, 7))  # every clock read advances 7 s
    real = P.LineProgress

    def fake(*a, **kw):
        return real(*a, clock=lambda: float(next(ticks)), **kw)

    monkeypatch.setattr(burgers, "LineProgress", fake)
    u = burgers.solve_burgers(torch.zeros(2, 16), n_steps=20)
    assert u.shape == (2, 16)
    out = capsys.readouterr().out
    assert "Burgers solve (2 samples, n=16):" in out and "time steps" in out and "ETA" in out
    assert burgers.solve_burgers(torch.zeros(2, 16), n_steps=20, progress=False).shape == (2, 16)
    assert capsys.readouterr().out == ""
