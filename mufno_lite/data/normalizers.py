"""Normalizers: pointwise standardisation fitted on training data (:class:`UnitGaussianNormalizer`)."""

from __future__ import annotations

from typing import Dict, Optional

import torch


class UnitGaussianNormalizer:
    """Pointwise standardisation fitted on training data (as in FNO).

    ``encode(x) = (x - mean) / (std + eps)``, ``decode`` its inverse, with
    ``mean``/``std`` taken over the sample axis (shape ``x.shape[1:]``).

    Parameters
    ----------
    x : torch.Tensor, optional
        Training tensor ``(N, ...)`` to fit on.
    eps : float
        Guard against zero std (e.g. Dirichlet boundary nodes).
    """

    def __init__(self, x: Optional[torch.Tensor] = None, eps: float = 1e-5):
        self.eps = float(eps)
        self.mean: Optional[torch.Tensor] = None
        self.std: Optional[torch.Tensor] = None
        if x is not None:
            self.mean = x.mean(0)
            self.std = x.std(0) if x.shape[0] > 1 else torch.zeros_like(self.mean)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise ``x`` (broadcast over leading batch axes)."""
        return (x - self.mean.to(x)) / (self.std.to(x) + self.eps)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`encode`."""
        return x * (self.std.to(x) + self.eps) + self.mean.to(x)

    def to(self, device) -> "UnitGaussianNormalizer":
        """Move the statistics to ``device`` (in place); returns ``self``."""
        self.mean, self.std = self.mean.to(device), self.std.to(device)
        return self

    def state_dict(self) -> Dict[str, torch.Tensor]:
        """Tensors only (safe for ``torch.save``/``torch.load(weights_only=True)``)."""
        return {"mean": self.mean, "std": self.std, "eps": torch.tensor(self.eps, dtype=torch.float64)}

    @classmethod
    def from_state_dict(cls, state: Dict[str, torch.Tensor]) -> "UnitGaussianNormalizer":
        """Rebuild from :meth:`state_dict`."""
        obj = cls(eps=float(state["eps"]))
        obj.mean, obj.std = state["mean"], state["std"]
        return obj
