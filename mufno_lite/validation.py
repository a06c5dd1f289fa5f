"""One validation layer: :class:`ConfigError` and the checkers every config in the package uses.

A :class:`ConfigError` is a ``ValueError`` that also says *which* key was wrong (``key``), its
``value`` and what is ``allowed``, so a caller that nests configs (the sweep's ``train.steps``)
puts the key under a path with :meth:`ConfigError.with_key_prefix`, from those fields, never by
parsing the message.  Messages keep one style::

    <key> must be <allowed>; got <key>=<value>

(the value shortened by :func:`short`), and an unknown key says ``unknown key <key> (value …);
allowed keys: […]``.  The checkers accept Python's and numpy's numbers alike (``numbers.Integral``
/ ``numbers.Real``; never a bool) and return plain ``int`` / ``float`` / ``bool``.

>>> positive_int("steps", 0)
Traceback (most recent call last):
...
mufno_lite.validation.ConfigError: steps must be a positive integer; got steps=0
>>> try:
...     choice("optimizer", "sgd", ("adam", "adamw"))
... except ConfigError as e:
...     print(e.key, repr(e.value), e.allowed)
...     print(e.with_key_prefix("train"))
optimizer 'sgd' one of ('adam', 'adamw')
train.optimizer must be one of ('adam', 'adamw'); got train.optimizer='sgd'
"""

from __future__ import annotations

import math
import numbers
import reprlib
from typing import Any, Callable, Iterable, Mapping, Sequence

#: the most characters of a value an error message shows (:func:`short`)
MAX_VALUE_CHARS = 80

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxdeque = 6
_REPR.maxarray = 6
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = MAX_VALUE_CHARS

__all__ = ["ConfigError", "fail", "unknown_key", "short", "MAX_VALUE_CHARS", "positive_int", "integer",
           "positive_number", "positive", "number", "choice", "string", "boolean", "mapping", "known_keys",
           "optional", "fourier_modes"]


class ConfigError(ValueError):
    """A config value that is not allowed: ``key`` (name or path), ``value`` and ``allowed`` (words).

    Made from its fields (:func:`fail`, :func:`unknown_key`) when ``message`` is left out; a given
    ``message`` is for errors that say more than the style can (data that came out non-finite)."""

    def __init__(self, message: str | None = None, *, key: str | None = None, value: Any = None,
                 allowed: str | None = None, unknown: bool = False):
        self.key, self.value, self.allowed, self.unknown = key, value, allowed, unknown
        self.from_fields = message is None
        super().__init__(self._render() if message is None else message)

    def _render(self) -> str:
        if self.unknown:
            return f"unknown key {short(self.key)} (value {short(self.value)}); allowed keys: {self.allowed}"
        return f"{self.key} must be {self.allowed}; got {self.key}={short(self.value)}"

    def under(self, prefix: str) -> str:
        """The key as a path under ``prefix`` (``'train'`` → ``'train.steps'``); ``prefix`` if no key."""
        return f"{prefix}.{self.key}" if self.key else prefix

    def with_key_prefix(self, prefix: str) -> "ConfigError":
        """The same error with its key under ``prefix``, its message made again from its fields (an
        error with a message of its own keeps it, after the new key)."""
        key = self.under(prefix)
        if self.from_fields:
            return ConfigError(key=key, value=self.value, allowed=self.allowed, unknown=self.unknown)
        return ConfigError(f"{key}: {self}", key=key, value=self.value, allowed=self.allowed)


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
    """The error ``<key> must be <allowed>; got <key>=<value>`` (return it, then ``raise``); the value
    is shortened by :func:`short`."""
    return ConfigError(key=key, value=value, allowed=allowed)


def unknown_key(key: str, value: Any, allowed_keys: Iterable) -> ConfigError:
    """The error ``unknown key <key> (value …); allowed keys: [...]`` (return it, then ``raise``)."""
    return ConfigError(key=key, value=value, allowed=str(list(allowed_keys)), unknown=True)


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)  # numpy integers too; numpy's bool_ is not Integral


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)  # numpy's floats too; its bool is not Real


def _is_bool(v) -> bool:
    return isinstance(v, bool) or (type(v).__module__ == "numpy" and type(v).__name__ in ("bool", "bool_"))


def positive_int(key: str, v) -> int:
    """An integer (not a bool) ≥ 1."""
    if not _is_int(v) or v < 1:
        raise fail(key, v, "a positive integer")
    return int(v)


def integer(key: str, v, *, lo: int | None = None, hi: int | None = None, allowed: str | None = None,
            from_float: bool = False) -> int:
    """An integer (not a bool) in ``[lo, hi]`` (either bound optional); with ``from_float`` an
    integral float too (``3.0``, as YAML and JSON may write it)."""
    if allowed is None:
        if lo is not None and hi is not None:
            allowed = f"an integer in [{lo}, {hi}]"
        else:
            allowed = "an integer" + (f" >= {lo}" if lo is not None else "") + (f" <= {hi}" if hi is not None else "")
    if from_float and isinstance(v, float) and v.is_integer():
        v = int(v)
    if not _is_int(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise fail(key, v, allowed)
    return int(v)


def positive_number(key: str, v) -> float:
    """A finite real number > 0, as ``float``."""
    if not _is_real(v) or not (math.isfinite(v) and v > 0):
        raise fail(key, v, "a positive finite number")
    return float(v)


def positive(key: str, v, *, integer: bool = False, allow_zero: bool = False):
    """A finite number > 0 (≥ 0 with ``allow_zero``), an integer with ``integer``; returns ``v``
    unchanged (the data modules pass it on as given)."""
    kind = "integer" if integer else "number"
    ok = _is_int(v) if integer else _is_real(v)
    if not ok or not math.isfinite(float(v)) or v < 0 or (v == 0 and not allow_zero):
        raise fail(key, v, f"a {'non-negative' if allow_zero else 'positive'} {'' if integer else 'finite '}{kind}")
    return v


def number(key: str, v, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
           hi_open: bool = False, finite: bool = True, allowed: str | None = None, from_string: bool = False) -> float:
    """A real number (not NaN; finite unless ``finite=False``) within the bounds, as ``float``; with
    ``from_string`` a string that reads as one too (YAML 1.1 reads ``1e-3`` as a string)."""
    if allowed is None:
        allowed = ("a finite number" if finite else "a number") + (
            f" {'>' if lo_open else '>='} {lo:g}" if lo is not None else "") + (
            f"{' and' if lo is not None else ''} {'<' if hi_open else '<='} {hi:g}" if hi is not None else "")
    if from_string and isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            pass
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
    try:
        ok = w in choices
    except TypeError:  # an unhashable value and a set of choices
        ok = False
    if not ok:
        raise fail(key, v, f"one of {tuple(choices)}")
    return w


def string(key: str, v, choices: Sequence | None = None) -> str:
    """A non-empty string, one of ``choices`` when given."""
    if not isinstance(v, str) or not v or (choices is not None and v not in choices):
        raise fail(key, v, f"one of {tuple(choices)}" if choices is not None else "a non-empty string")
    return v


def boolean(key: str, v) -> bool:
    """``True`` or ``False`` (numpy's too; not 0/1, not a string)."""
    if not _is_bool(v):
        raise fail(key, v, "True or False")
    return bool(v)


def mapping(key: str, v) -> dict:
    """A mapping, as a ``dict``."""
    if not isinstance(v, Mapping):
        raise fail(key, v, "a mapping (key: value)")
    return dict(v)


def known_keys(path: str, d: Mapping, allowed: Iterable[str]) -> None:
    """Every key of ``d`` is one of ``allowed``; else :func:`unknown_key` naming ``path.key`` (a key
    shown at most 40 characters long)."""
    allowed = list(allowed)
    for k in d:
        if k not in allowed:
            name = k[:40] if isinstance(k, str) else short(k, 40)
            raise unknown_key(f"{path}.{name}" if path else name, d[k], allowed)


def optional(check: Callable, key: str, v, **kwargs):
    """``None``, or whatever ``check(key, v, **kwargs)`` accepts."""
    return None if v is None else check(key, v, **kwargs)


def fourier_modes(key: str, K) -> int:
    """A number of Fourier modes per axis: an integer ≥ 2 (an integral float or numpy integer is
    accepted and returned as ``int``).  μP scales the spectral weights with log K, which vanishes
    at K = 1, and a one-mode FNO is a pointwise network with a constant kernel."""
    integral = isinstance(K, numbers.Integral) or (isinstance(K, float) and K.is_integer())
    if isinstance(K, bool) or not integral or int(K) < 2:
        raise fail(key, K, "an integer >= 2 (Fourier modes per axis; μP scales with log K, which is 0 at K=1)")
    return int(K)
