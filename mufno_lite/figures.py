"""Saving figures under deterministic names, with a manifest.

Every figure a notebook makes is written by :func:`save_figure` as PNG and SVG into the figures
directory and recorded in ``manifest.json`` beside it: the notebook, the preset, the git commit and
the figure's key numbers (e.g. the optimal learning rate per K).  The ``quick`` preset writes to
``figures/`` (committed); other presets to ``figures/<preset>/`` so that a smoke run never
overwrites the committed figures.  ``$MUFNO_FIGURES_DIR`` overrides the base directory.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["figures_dir", "save_figure", "read_manifest"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _repo_root() -> Path | None:
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() and (here / "mufno_lite").is_dir() else None


def figures_dir(preset: str = "quick") -> Path:
    base = os.environ.get("MUFNO_FIGURES_DIR")
    if base:
        root = Path(base)
    else:
        repo = _repo_root()
        root = repo / "figures" if repo is not None else Path.cwd() / "figures"
    return root if preset == "quick" else root / preset


def _git_commit() -> str | None:
    repo = _repo_root()
    if repo is None:
        return None
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / "manifest.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_figure(fig, name: str, *, preset: str = "quick", notebook: str | None = None, key_numbers: dict | None = None,
                formats=("png", "svg"), directory: Path | None = None, dpi: int = 130) -> list[Path]:
    """Write a matplotlib figure as ``<name>.png`` and ``<name>.svg`` and record it in the manifest.

    Output is deterministic for identical figures (no dates in the metadata, a fixed SVG hash salt).
    """
    import matplotlib

    if not _NAME.match(name):
        raise ValueError(f"name must be letters, digits, '_', '.', '-' (no path); got name={name!r}")
    out_dir = Path(directory) if directory is not None else figures_dir(preset)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with matplotlib.rc_context({"svg.hashsalt": "mufno_lite", "svg.fonttype": "none"}):
        for fmt in formats:
            path = out_dir / f"{name}.{fmt}"
            meta = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".tmp-", suffix=f".{fmt}")
            os.close(fd)
            try:
                fig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta, bbox_inches="tight")
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            paths.append(path)
    manifest = read_manifest(out_dir)
    manifest[name] = {
        "files": [p.name for p in paths],
        "notebook": notebook,
        "preset": preset,
        "commit": _git_commit(),
        "saved_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "key_numbers": _jsonable(key_numbers or {}),
    }
    _atomic_write_text(out_dir / "manifest.json", json.dumps(dict(sorted(manifest.items())), indent=2, sort_keys=True) + "\n")
    return paths


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):
        try:
            return obj.item()
        except (ValueError, RuntimeError):
            pass
    if isinstance(obj, float) and obj != obj:
        return None
    return obj
