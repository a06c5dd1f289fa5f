"""Canonical JSON: the one text form of a config that ids and cache keys hash.

Sorted keys, no spaces, ASCII only.  Run ids (:func:`mufno_lite.sweep.run_id_of`), the data
cache's keys (:mod:`mufno_lite.data.cache`), the in-process dataset cache and the store's JSON
columns all use it, so changing it changes every id: don't.

>>> canonical_json({"b": 1, "a": [1.5, "μ"]})
'{"a":[1.5,"\\\\u03bc"],"b":1}'
"""

from __future__ import annotations

import json
from typing import Any, Callable

__all__ = ["canonical_json"]


def canonical_json(obj: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    """``obj`` as canonical JSON; ``default`` converts objects JSON does not know (as in :func:`json.dumps`)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=default)
