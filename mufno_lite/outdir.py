"""Output folders that a command owns: it never deletes or replaces what it did not create.

``book --out DIR`` and ``make handout`` write a whole folder.  :func:`owned_output` decides
whether they may, before anything is written:

* a path that does not exist, or an empty folder: used;
* a folder that this kind of command made before (its stamp file :data:`STAMP` is there, and every
  file in it is one the stamp lists): replaced;
* anything else is refused with one line (:class:`OutputError`, exit 2 in the CLIs): a file, a
  symbolic link, a non-empty folder without a stamp or holding files the stamp does not list, and
  a path that is, contains or lies inside a protected folder (the run directory being read),
  compared after resolving symbolic links and ``..``.

The new folder is written beside the old one first (``.NAME.tmp-…``) and swapped in only when it is
complete, so a build that fails leaves the old folder as it was.  The stamp lists every file the
command wrote (paths relative to the folder), which is what makes the next replacement safe.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "notes").mkdir(); _ = (root / "notes" / "t.txt").write_text("mine")
>>> with owned_output(root / "notes", kind="site") as tmp:  # doctest: +ELLIPSIS
...     pass
Traceback (most recent call last):
...
mufno_lite.outdir.OutputError: --out is a folder that site did not make (it holds 't.txt'): give a new or empty folder; got --out=...
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import stat
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .validation import ConfigError

__all__ = ["OutputError", "STAMP", "owned_output", "check_output", "special_file_kind", "write_file"]

#: the stamp file that marks a folder as written by one of the package's commands
STAMP = ".mufno-output.json"


class OutputError(ConfigError):
    """An output path that a command may not write (it would delete or replace what it did not create)."""


def _fail(key: str, out: Path, why: str) -> OutputError:
    return OutputError(f"{key} {why}; got {key}={out}", key=key, value=str(out), allowed=why)


def _files(folder: Path) -> list[str]:
    """Every entry under ``folder`` (files, links, empty folders), relative, sorted; folders end in '/'."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        rel = Path(dirpath).relative_to(folder)
        for d in list(dirnames):
            p = Path(dirpath) / d
            if p.is_symlink():  # never followed: listed like a file
                filenames.append(d)
                dirnames.remove(d)
            elif not any(p.iterdir()):
                out.append(f"{(rel / d).as_posix()}/")
        out.extend((rel / f).as_posix() for f in filenames)
    return sorted(out)


def _read_stamp(folder: Path) -> dict | None:
    try:
        stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or not isinstance(stamp.get("files"), list):
        return None
    return stamp


def _foreign(folder: Path, kind: str) -> str | None:
    """Why ``folder`` (an existing directory) is not ours to replace, or None if it is."""
    entries = sorted(p.name for p in folder.iterdir())
    if not entries:
        return None
    stamp = _read_stamp(folder) if STAMP in entries else None
    if stamp is None:
        return f"is a folder that {kind} did not make (it holds {entries[0]!r}): give a new or empty folder"
    if stamp.get("kind") != kind:
        return f"was made by {stamp.get('kind')!r}, not by {kind}: give a new or empty folder"
    listed = set(stamp["files"]) | {STAMP}
    extra = [f for f in _files(folder) if f not in listed]
    if extra:
        return (f"holds {extra[0]!r}, which {kind} did not write: move it away (or give another folder); "
                f"nothing was changed")
    return None


def check_output(out: Path | str, *, kind: str, protect: Iterable[Path | str] = (), key: str = "--out") -> Path:
    """Refuse ``out`` (:class:`OutputError`) unless :func:`owned_output` may write it; returns it resolved."""
    out = Path(out)
    if out.is_symlink():
        raise _fail(key, out, "is a symbolic link: give the folder itself")
    if out.exists() and not out.is_dir():
        raise _fail(key, out, "is a file, not a folder")
    resolved = out.resolve()
    for p in protect:
        guard = Path(p).resolve()
        if resolved == guard or guard.is_relative_to(resolved) or resolved.is_relative_to(guard):
            where = "is" if resolved == guard else ("contains" if guard.is_relative_to(resolved) else "lies inside")
            raise _fail(key, out, f"{where} {guard}, which this command reads: give a folder outside it")
    if resolved.parent == resolved:
        raise _fail(key, out, "is a file-system root: give a folder of its own")
    if resolved.is_dir():
        why = _foreign(resolved, kind)
        if why:
            raise _fail(key, out, why)
    return resolved


@contextlib.contextmanager
def owned_output(out: Path | str, *, kind: str, protect: Iterable[Path | str] = (), key: str = "--out") -> Iterator[Path]:
    """Write a folder that replaces ``out`` only when complete: yields an empty folder to write into.

    Refuses first (see the module's rules); on success the written folder is stamped and becomes
    ``out`` (an old stamped ``out`` is removed); on an error it is removed and ``out`` is untouched.
    """
    target = check_output(out, kind=kind, protect=protect, key=key)
    target.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(4)
    tmp = target.parent / f".{target.name}.tmp-{token}"
    tmp.mkdir()
    try:
        yield tmp
        files = _files(tmp)
        (tmp / STAMP).write_text(json.dumps({"kind": kind, "files": files}, indent=1), encoding="utf-8")
        check_output(target, kind=kind, protect=protect, key=key)  # nothing foreign arrived meanwhile
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{token}"
            os.rename(target, old)
        os.rename(tmp, target)
        if old is not None:
            if _foreign(old, kind) is None:
                shutil.rmtree(old)
            else:  # pragma: no cover - something was added between the two checks: keep it
                print(f"{kind}: kept {old}: it holds files {kind} did not write")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


_KINDS = {stat.S_IFCHR: "character device", stat.S_IFBLK: "block device", stat.S_IFIFO: "FIFO (named pipe)",
          stat.S_IFSOCK: "socket", stat.S_IFDIR: "directory"}


def special_file_kind(path: Path | str) -> str | None:
    """What ``path`` is when it exists and is not a regular file (followed through symbolic links):
    ``"character device"``, ``"FIFO (named pipe)"``, ``"directory"``, …; None for a regular file or
    nothing at all."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) else _KINDS.get(stat.S_IFMT(mode), "special file")


def write_file(out: Path | str, write: Callable[[object], None], *, key: str = "--out") -> str:
    """Write one file all or nothing, never replacing what ``out`` is not: returns where it went.

    ``write(target)`` writes the content to a path or an open text stream.  ``out`` is

    * ``"-"``: standard output (``write(sys.stdout)``);
    * a new path or a regular file: written beside it first, then renamed over it (a failed write, a
      full disk, leaves the old file as it was; its permissions are kept);
    * a symbolic link: written through to the file it points at (the link stays a link);
    * a device, a FIFO, a socket or a folder (behind a link or not): refused by name
      (:class:`OutputError`), nothing written.

    A write error raises :class:`OutputError` naming ``out`` and the reason (exit 2 in the CLIs).
    """
    if str(out) == "-":
        try:
            write(sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise _fail(key, Path("-"), f"could not be written to standard output ({e.strerror or e})") from None
        return "standard output"
    out = Path(out)
    kind = special_file_kind(out)
    if kind is not None:
        via = f" (through the link to {os.path.realpath(out)!r})" if out.is_symlink() else ""
        raise _fail(key, out, f"is a {kind}{via}, not a regular file: give a file path such as results.csv "
                              f"(or - for standard output); nothing was written")
    target = Path(os.path.realpath(out)) if out.is_symlink() else out
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        with open(tmp, "rb+") as fh:  # the data on disk before the rename: a full disk shows here
            os.fsync(fh.fileno())
        if target.exists():
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _fail(key, out, f"could not be written ({e.strerror or e}); nothing was changed") from None
    return str(target)
