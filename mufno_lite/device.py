"""The torch device a run asks for, resolved on this machine (one definition for the package)."""

from __future__ import annotations

__all__ = ["DEVICES", "resolve_device"]

DEVICES = ("cpu", "cuda", "auto")


def resolve_device(device: str | None) -> str:
    """'auto' → 'cuda' if available else 'cpu'; 'cpu'/'cuda' pass (cuda must be available)."""
    if device is None:
        return "cpu"
    if device not in DEVICES and not str(device).startswith("cuda:"):
        raise ValueError(f"device must be one of {list(DEVICES)}; got device={device!r}")
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available; allowed here: ['cpu', 'auto']")
    return device

