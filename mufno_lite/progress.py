"""Progress everywhere: one rule for the trainer, the sweep, data generation and ``reproduce``.

Four modes (:func:`progress_mode`):

``widget``
    Inside an interactive Jupyter kernel: ``tqdm.auto`` draws notebook widgets.
``bar``
    A terminal (stderr is a tty) and ``$CI`` unset: ``tqdm`` bars on stderr.
``lines``
    Everything else (papermill, CI logs, output piped to a file): plain lines on **stdout** with the
    count, the percentage, the elapsed time and an ETA, throttled by :class:`LineProgress` (at most
    one line every ``interval`` seconds, or one per ~5 % of the work, plus the last one).
``off``
    Nothing.

``$MUFNO_PROGRESS`` (``off`` / ``lines`` / ``bar`` / ``widget`` / ``auto``) overrides the
detection; ``reproduce`` sets it to ``lines`` for the notebooks it runs through papermill.

>>> import io
>>> out = io.StringIO()
>>> p = LineProgress(4, "demo", unit="runs", stream=out, interval=0, clock=iter(range(100)).__next__)
>>> for _ in range(4):
...     p.update(1)
>>> p.close()
>>> print(out.getvalue().splitlines()[-1])
demo: 4/4 runs (100%), 4s elapsed
"""

from __future__ import annotations

import os
import sys
import time
from typing import Callable, Iterable, TextIO

__all__ = ["progress_enabled", "progress_mode", "in_jupyter_kernel", "LineProgress", "track", "format_duration",
           "MODES"]

MODES = ("off", "lines", "bar", "widget")


def in_jupyter_kernel() -> bool:
    """True inside an IPython *kernel* (JupyterLab, classic notebook, papermill, nbval), not a terminal IPython."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 — any failure means "no kernel"
        return False
    if shell is None:
        return False
    return getattr(shell, "kernel", None) is not None or type(shell).__name__ == "ZMQInteractiveShell"


def _stderr_is_tty() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


def progress_mode(progress: bool | None = None) -> str:
    """The progress mode: ``'off'``, ``'lines'``, ``'bar'`` or ``'widget'`` (see the module docstring).

    ``progress=False`` is ``'off'``; ``True`` asks for bars (a widget in a kernel, else a tqdm bar);
    ``None`` detects: ``$MUFNO_PROGRESS`` if set, else a widget in an interactive Jupyter kernel,
    a bar on a terminal, lines otherwise (``$CI`` set means lines, never widgets or bars).
    """
    if progress is not None and not isinstance(progress, bool):
        raise ValueError(f"progress must be True, False or None; got progress={progress!r}")
    if progress is False:
        return "off"
    env = os.environ.get("MUFNO_PROGRESS", "auto").strip().lower() or "auto"
    if env not in MODES + ("auto",):
        raise ValueError(f"MUFNO_PROGRESS must be one of {MODES + ('auto',)}; got MUFNO_PROGRESS={env!r}")
    if progress is True:
        if env in ("bar", "widget", "lines"):
            return env
        return "widget" if in_jupyter_kernel() else "bar"
    if env != "auto":
        return env
    ci = bool(os.environ.get("CI"))
    if in_jupyter_kernel() and not ci:
        return "widget"
    if _stderr_is_tty() and not ci:
        return "bar"
    return "lines"


def progress_enabled(progress: bool | None = None) -> bool:
    """Whether to draw ``tqdm.auto`` bars: ``progress`` if it is given; otherwise on in an interactive
    Jupyter kernel (widgets) or on a terminal (stderr a tty), off under ``$CI`` and in logs (where
    :class:`LineProgress` writes lines instead)."""
    if progress is not None:
        return bool(progress)
    return progress_mode(None) in ("bar", "widget")


def format_duration(seconds: float) -> str:
    """``'45s'``, ``'3m07s'``, ``'2h05m'``.

    >>> format_duration(4.2), format_duration(187), format_duration(7500)
    ('4s', '3m07s', '2h05m')
    """
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return "?"
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


class LineProgress:
    """Line-based progress for logs: ``"<desc>: 12/40 runs (30%), 1m12s elapsed, ETA 2m48s"``.

    A line is written when ``interval`` seconds have passed since the last one, or when the work
    advanced by ``step_fraction`` of ``total`` (and ``min_gap`` seconds have passed), and always at
    :meth:`close` if anything new happened.  ``delay``: write nothing during the first ``delay``
    seconds (short loops stay silent).  ``extra``: a callable returning text appended to each line
    (e.g. "3/10 populations").  Lines go to ``stream`` (default: ``sys.stdout`` at write time).
    """

    def __init__(self, total: int | None, desc: str, *, unit: str = "it", stream: TextIO | None = None,
                 interval: float = 30.0, step_fraction: float = 0.05, min_gap: float = 1.0, delay: float = 0.0,
                 extra: Callable[[], str] | None = None, clock: Callable[[], float] = time.monotonic,
                 initial: int = 0):
        self.total = int(total) if total is not None else None
        self.desc, self.unit = desc, unit
        self.stream = stream
        self.interval, self.step_fraction, self.min_gap, self.delay = interval, step_fraction, min_gap, delay
        self.extra = extra
        self._clock = clock
        self.t0 = clock()
        self.n = int(initial)
        self._start_n = self.n
        self._last_t: float | None = None
        self._last_n = self.n
        self.lines_written = 0
        self.closed = False

    # -- the numbers -------------------------------------------------------------------------
    def eta(self, now: float | None = None) -> float | None:
        """Seconds left, from this session's rate; ``None`` when unknown."""
        if self.total is None:
            return None
        now = self._clock() if now is None else now
        done = self.n - self._start_n
        if done <= 0:
            return None
        return (now - self.t0) / done * max(0, self.total - self.n)

    def line(self, now: float | None = None) -> str:
        now = self._clock() if now is None else now
        elapsed = now - self.t0
        if self.total:
            text = f"{self.desc}: {self.n}/{self.total} {self.unit} ({100 * self.n / self.total:.0f}%)"
        else:
            text = f"{self.desc}: {self.n} {self.unit}"
        if self.extra is not None:
            more = self.extra()
            if more:
                text += f", {more}"
        text += f", {format_duration(elapsed)} elapsed"
        eta = self.eta(now)
        if eta is not None and self.total is not None and self.n < self.total:
            text += f", ETA {format_duration(eta)}"
        return text

    # -- writing -----------------------------------------------------------------------------
    def _write(self, now: float) -> None:
        stream = self.stream if self.stream is not None else sys.stdout
        print(self.line(now), file=stream, flush=True)
        self._last_t, self._last_n = now, self.n
        self.lines_written += 1

    def _due(self, now: float) -> bool:
        if now - self.t0 < self.delay:
            return False
        if self._last_t is None:
            return True
        since = now - self._last_t
        if since >= self.interval:
            return True
        if self.total and (self.n - self._last_n) >= self.step_fraction * self.total and since >= self.min_gap:
            return True
        return False

    def write_now(self) -> None:
        """Write a line now (e.g. the starting line), whatever the throttle says."""
        self._write(self._clock())

    def update(self, n: int = 1) -> None:
        self.n += int(n)
        now = self._clock()
        if self._due(now):
            self._write(now)

    def set(self, n: int) -> None:
        """Set the count to ``n`` (for callbacks that report an absolute step)."""
        self.update(int(n) - self.n)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        now = self._clock()
        if self.n != self._last_n and now - self.t0 >= self.delay:
            self._write(now)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def track(iterable: Iterable, total: int | None = None, desc: str = "", *, unit: str = "it",
          progress: bool | None = None, **line_kwargs):
    """Iterate with progress in the current mode: a ``tqdm.auto`` bar or widget, throttled lines on
    stdout, or nothing.  ``line_kwargs`` go to :class:`LineProgress` (e.g. ``interval``, ``delay``).

    >>> list(track(range(3), progress=False))
    [0, 1, 2]
    """
    mode = progress_mode(progress)
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    if mode in ("bar", "widget"):
        from tqdm.auto import tqdm

        yield from tqdm(iterable, total=total, desc=desc, unit=unit, dynamic_ncols=True)
        return
    if mode == "off":
        yield from iterable
        return
    p = LineProgress(total, desc, unit=unit, **line_kwargs)
    try:
        for item in iterable:
            yield item
            p.update(1)
    finally:
        p.close()
