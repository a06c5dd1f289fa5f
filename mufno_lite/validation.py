"""One validation layer: :class:`ConfigError` and the checkers every config in the package uses.

A :class:`ConfigError` is a ``ValueError`` that also says *which* key was wrong (``key``), its
``value`` and what is ``allowed``, so a caller that nests configs (the sweep's ``train.steps``)
can prefix the key path without parsing the message.  Messages keep one style::

    <key> must be <allowed>; got <key>=<value!r>

>>> positive_int("steps", 0)
Traceback (most recent call last):
...
mufno_lite.validation.ConfigError: steps must be a positive integer; got steps=0
>>> try:
...     choice("optimizer", "sgd", ("adam", "adamw"))
... except ConfigError as e:
...     print(e.key, repr(e.value), e.allowed)
optimizer 'sgd' one of ('adam', 'adamw')
"""

from __future__ import annotations

import math
import reprlib
from typing import Any, Callable, Sequence

#: the most characters of a value an error message shows (:func:`short`)
MAX_VALUE_CHARS = 80

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxdeque = 6
_REPR.maxarray = 6
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = MAX_VALUE_CHARS

__all__ = ["ConfigError", "fail", "short", "MAX_VALUE_CHARS", "positive_int", "integer", "positive_number", "number", "choice", "boolean",
           "optional", "fourier_modes"]


class ConfigError(ValueError):
    """A config value that is not allowed: ``key`` (name or path), ``value`` and ``allowed`` (words)."""

    def __init__(self, message: str, *, key: str | None = None, value: Any = None, allowed: str | None = None):
        super().__init__(message)
        self.key, self.value, self.allowed = key, value, allowed

    def under(self, prefix: str) -> str:
        """The key as a path under ``prefix`` (``'train'`` → ``'train.steps'``); ``prefix`` if no key."""
        return f"{prefix}.{self.key}" if self.key else prefix


def short(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """``repr(value)`` for a message, at most ``limit`` characters, in bounded time and memory.

    A huge or self-referential value (a YAML alias bomb, a 10⁶-item list, an int of 10⁵ digits)
    is never formatted whole: nesting deeper than 3 levels and more than 6 items per container
    show as ``...``, and the result is cut to ``limit`` characters.

    >>> short([[[[1]]]] * 1000)
    '[[[[...]]], [[[...]]], [[[...]]], [[[...]]], [[[...]]], [[[...]]], ...]'
    >>> len(short("x" * 1000)), short(2 ** 20000)
    (80, '<int of 20001 bits>')
    >>> short(0.5), short("sgd")
    ('0.5', "'sgd'")
    """
    try:
        text = _REPR.repr(value)
    except Exception:  # e.g. an int too long to print, or a broken __repr__
        text = f"<int of {value.bit_length()} bits>" if isinstance(value, int) else f"<{type(value).__name__}>"
    text = " ".join(text.split())  # one line
    if len(text) > limit:
        quote = text[0] if text[:1] in ("'", '"') else ""
        text = text[: limit - 3 - len(quote)] + "..." + quote
    return text


def fail(key: str, value: Any, allowed: str) -> ConfigError:
    """The error ``<key> must be <allowed>; got <key>=<value!r>`` (return it, then ``raise``);
    the value is shortened by :func:`short`."""
    return ConfigError(f"{key} must be {allowed}; got {key}={short(value)}", key=key, value=value, allowed=allowed)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def positive_int(key: str, v) -> int:
    """An ``int`` (not a bool) ≥ 1."""
    if not _is_int(v) or v < 1:
        raise fail(key, v, "a positive integer")
    return v


def integer(key: str, v, *, lo: int | None = None, hi: int | None = None, allowed: str | None = None) -> int:
    """An ``int`` (not a bool) in ``[lo, hi]`` (either bound optional)."""
    if allowed is None:
        if lo is not None and hi is not None:
            allowed = f"an integer in [{lo}, {hi}]"
        else:
            allowed = "an integer" + (f" >= {lo}" if lo is not None else "") + (f" <= {hi}" if hi is not None else "")
    if not _is_int(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise fail(key, v, allowed)
    return v


def positive_number(key: str, v) -> float:
    """A finite real number > 0, as ``float``."""
    if not _is_real(v) or not (math.isfinite(v) and v > 0):
        raise fail(key, v, "a positive finite number")
    return float(v)


def number(key: str, v, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
           hi_open: bool = False, finite: bool = True, allowed: str | None = None) -> float:
    """A real number (not NaN; finite unless ``finite=False``) within the bounds, as ``float``."""
    if allowed is None:
        allowed = ("a finite number" if finite else "a number") + (
            f" {'>' if lo_open else '>='} {lo}" if lo is not None else "") + (
            f" and {'<' if hi_open else '<='} {hi}" if hi is not None else "")
    ok = _is_real(v) and not math.isnan(v) and (math.isfinite(v) or not finite)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v < hi if hi_open else v <= hi
    if not ok:
        raise fail(key, v, allowed)
    return float(v)


def choice(key: str, v, choices: Sequence, *, lower: bool = False):
    """One of ``choices`` (compared after ``str(v).lower()`` when ``lower``); returns the match."""
    w = str(v).lower() if lower else v
    if w not in choices:
        raise fail(key, v, f"one of {tuple(choices)}")
    return w


def boolean(key: str, v) -> bool:
    """``True`` or ``False`` (not 0/1, not a string)."""
    if not isinstance(v, bool):
        raise fail(key, v, "True or False")
    return v


def optional(check: Callable, key: str, v, **kwargs):
    """``None``, or whatever ``check(key, v, **kwargs)`` accepts."""
    return None if v is None else check(key, v, **kwargs)


def fourier_modes(key: str, K) -> int:
    """A number of Fourier modes per axis: an integer ≥ 2 (an integral float or numpy integer is
    accepted and returned as ``int``).  μP scales the spectral weights with log K, which vanishes
    at K = 1, and a one-mode FNO is a pointwise network with a constant kernel."""
    import numbers

    integral = isinstance(K, numbers.Integral) or (isinstance(K, float) and K.is_integer())
    if isinstance(K, bool) or not integral or int(K) < 2:
        raise fail(key, K, "an integer >= 2 (Fourier modes per axis; μP scales with log K, which is 0 at K=1)")
    return int(K)
