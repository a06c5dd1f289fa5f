"""Reading a sweep config file (YAML or JSON) safely: :func:`read_config_file`.

Hostile or careless files get a one-line :class:`~mufno_lite.validation.ConfigError` naming the
file, never a parser traceback, and never a long wait:

* the file is at most :data:`MAX_FILE_BYTES`;
* YAML is read with the safe loader (no ``!!python/...`` tags; an unknown tag is an error), a
  duplicate key in a mapping is refused (YAML and JSON alike), and aliases are bounded: the
  document, with every alias expanded, may hold at most :data:`MAX_NODES` nodes, and an alias
  that contains itself is refused — checked on the parsed node graph before any Python object is
  built, so an alias bomb (``a: &a [*b, *b, …]`` nested) fails at once;
* garbage (a syntax error, a document that is not a mapping) names the file and, for YAML, the
  line and column.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..validation import ConfigError, short

__all__ = ["read_config_file", "MAX_FILE_BYTES", "MAX_NODES"]

MAX_FILE_BYTES = 1 << 20
MAX_NODES = 100_000


def _error(path, what: str) -> ConfigError:
    what = " ".join(str(what).split())
    return ConfigError(f"cannot read sweep config {str(path)!r}: {what}", key="<file>", value=str(path),
                       allowed="a YAML or JSON mapping (plain data, no duplicate keys, bounded aliases)")


def _yaml_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        """The safe loader, refusing duplicate keys."""

        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = set()
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        dup = key in seen
                        seen.add(key)
                    except TypeError:
                        continue  # unhashable: the base class says so
                    if dup:
                        mark = key_node.start_mark
                        raise _Refused(f"duplicate key {short(key)} at line {mark.line + 1}, "
                                            f"column {mark.column + 1}")
            return super().construct_mapping(node, deep=deep)

    return Loader


class _Refused(Exception):
    pass


def _check_graph(root) -> None:
    """Count the nodes of the document with aliases expanded (memoised per node), refusing more
    than MAX_NODES and self-containing aliases; iterative, so depth costs no recursion."""
    import yaml

    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        kids = []
        if isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            kids = [x for pair in node.value for x in pair]
        if done:
            on_path.discard(nid)
            size[nid] = 1 + sum(size[id(k)] for k in kids)
            if size[nid] > MAX_NODES:
                mark = node.start_mark
                raise _Refused(f"the document expands to more than {MAX_NODES} values (aliases counted "
                                    f"each time they are used), at line {mark.line + 1}")
            continue
        if nid in size:
            continue
        if nid in on_path:
            mark = node.start_mark
            raise _Refused(f"an alias contains itself (line {mark.line + 1}, column {mark.column + 1})")
        on_path.add(nid)
        stack.append((node, True))
        for k in kids:
            if id(k) not in size:
                stack.append((k, False))


def _load_yaml(text: str):
    import yaml

    loader = _yaml_loader()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_graph(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise _Refused(f"duplicate key {short(k)}")
        out[k] = v
    return out


def read_config_file(path: str | os.PathLike):
    """The plain data of a ``.yaml``/``.yml`` or ``.json`` sweep config (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"sweep config file not found: path={str(p)!r}")
    suffix = p.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise ValueError(f"sweep config must be .yaml, .yml or .json; got path={str(p)!r}")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise _error(p, f"the file has {p.stat().st_size} bytes (allowed: at most {MAX_FILE_BYTES})")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise _error(p, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        if suffix == ".json":
            raw = json.loads(text, object_pairs_hook=_no_duplicates)
        else:
            raw = _load_yaml(text)
    except _Refused as e:
        raise _error(p, e) from None
    except json.JSONDecodeError as e:
        raise _error(p, f"{e.msg} at line {e.lineno}, column {e.colno}") from None
    except RecursionError:
        raise _error(p, "nested too deeply") from None
    except Exception as e:  # yaml.YAMLError and its marked errors (syntax, unknown tags)
        import yaml

        if not isinstance(e, yaml.YAMLError):
            raise
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise _error(p, f"{problem}{where}") from None
    if not isinstance(raw, dict):
        raise _error(p, f"the document is {short(raw)}, not a mapping (key: value)")
    return raw
