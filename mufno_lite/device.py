"""The torch device a run asks for, resolved on this machine (one definition for the package)."""

from __future__ import annotations

__all__ = ["DEVICES", "resolve_device"]

DEVICES = ("cpu", "cuda", "auto")


def resolve_device(device: str | None = "auto") -> str:
    """'auto' → 'cuda' if available else 'cpu'; 'cpu', 'cuda' and 'cuda:N' pass (CUDA must be
    available); ``None`` → 'cpu'.  Case-insensitive."""
    if device is None:
        return "cpu"
    dev = str(device).lower()
    if dev not in DEVICES and not dev.startswith("cuda:"):
        raise ValueError(f"device must be one of {list(DEVICES)} or 'cuda:N'; got device={device!r}")
    import torch

    if dev == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available here; use device='cpu' or 'auto'")
    return dev
