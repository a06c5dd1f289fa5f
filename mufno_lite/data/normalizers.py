"""Normalizers fitted on the training split: per channel (:class:`ChannelNormalizer`, the default of
the own-data path) or pointwise (:class:`UnitGaussianNormalizer`, the FNO reference code's, kept by
the built-in PDEs).

Decision (issue 11).  A pointwise normaliser holds one mean and one standard deviation per grid
point, so it is tied to the training grid: it refuses a tensor on another grid with a clear
message instead of broadcasting or failing deep in torch.  (Re-interpolating the statistics to the
new grid is not done: a pointwise std on a Dirichlet boundary is ~0 and any interpolation mixes
boundary and interior scales, so there is no interpolation we could justify in general.)  A
per-channel normaliser holds one scalar mean and std per channel (over samples and grid points, as
neuraloperator does), so it applies at every resolution.  Use :func:`make_normalizer` to build
either by name (``"channel"``, ``"pointwise"``, ``"none"``).
"""

from __future__ import annotations

from typing import Dict, Optional

import torch

__all__ = ["NORMALIZATIONS", "UnitGaussianNormalizer", "ChannelNormalizer", "IdentityNormalizer", "make_normalizer",
           "normalizer_from_state_dict"]

#: the names :func:`make_normalizer` accepts
NORMALIZATIONS = ("channel", "pointwise", "none")


class UnitGaussianNormalizer:
    """Pointwise standardisation fitted on training data (as in FNO).

    ``encode(x) = (x - mean) / (std + eps)``, ``decode`` its inverse, with
    ``mean``/``std`` taken over the sample axis (shape ``x.shape[1:]``).  Tied to the training
    grid: a tensor on another grid raises ``ValueError`` (see the module docstring).

    Parameters
    ----------
    x : torch.Tensor, optional
        Training tensor ``(N, ...)`` to fit on.
    eps : float
        Guard against zero std (e.g. Dirichlet boundary nodes).
    """

    kind = "pointwise"

    def __init__(self, x: Optional[torch.Tensor] = None, eps: float = 1e-5):
        self.eps = float(eps)
        self.mean: Optional[torch.Tensor] = None
        self.std: Optional[torch.Tensor] = None
        if x is not None:
            self.mean = x.mean(0)
            self.std = x.std(0) if x.shape[0] > 1 else torch.zeros_like(self.mean)

    def _check(self, x: torch.Tensor) -> None:
        shape = tuple(self.mean.shape)
        if x.dim() < len(shape) or tuple(x.shape[x.dim() - len(shape):]) != shape:
            raise ValueError(
                f"this pointwise normaliser was fitted on samples of shape {shape} and cannot encode or "
                f"decode a tensor of shape {tuple(x.shape)}: pointwise statistics belong to the training "
                "grid. Evaluate at the training resolution, or normalise per channel "
                "(normalize='channel', see mufno_lite.data.normalizers)")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise ``x`` (broadcast over leading batch axes)."""
        self._check(x)
        return (x - self.mean.to(x)) / (self.std.to(x) + self.eps)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`encode`."""
        self._check(x)
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


class ChannelNormalizer(UnitGaussianNormalizer):
    """Per-channel standardisation: one scalar mean and std per channel, fitted over the samples
    and every grid point of the training tensor ``(N, C, s…)``; valid at any resolution.

    The statistics have shape ``(C, 1, …, 1)`` so they broadcast over ``(…, B, C, s…)`` whatever
    the grid (and over a population's member axis).
    """

    kind = "channel"

    def __init__(self, x: Optional[torch.Tensor] = None, eps: float = 1e-5):
        super().__init__(None, eps)
        if x is not None:
            if x.dim() < 3:
                raise ValueError(f"ChannelNormalizer needs a tensor (N, C, s...); got shape {tuple(x.shape)}")
            dims = [0] + list(range(2, x.dim()))
            self.mean = x.mean(dim=dims, keepdim=True)[0]
            self.std = (x.std(dim=dims, keepdim=True)[0] if x[:, 0].numel() > 1
                        else torch.zeros_like(self.mean))

    def _check(self, x: torch.Tensor) -> None:
        d = self.mean.dim() - 1
        if x.dim() < d + 2 or x.shape[x.dim() - d - 1] != self.mean.shape[0]:
            raise ValueError(f"this per-channel normaliser has {self.mean.shape[0]} channel(s) on a {d}-D grid; "
                             f"got a tensor of shape {tuple(x.shape)}")


class IdentityNormalizer:
    """``normalize="none"``: encode and decode return their input."""

    kind = "none"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def to(self, device) -> "IdentityNormalizer":
        return self


def make_normalizer(kind: str, x: Optional[torch.Tensor]):
    """A normaliser fitted on ``x`` by name: ``"channel"``, ``"pointwise"`` or ``"none"`` (the identity)."""
    if kind not in NORMALIZATIONS:
        raise ValueError(f"normalize={kind!r} is invalid: allowed values are {NORMALIZATIONS}")
    if kind == "none":
        return IdentityNormalizer()
    return (ChannelNormalizer if kind == "channel" else UnitGaussianNormalizer)(x)


def normalizer_from_state_dict(state: Dict[str, torch.Tensor]):
    """Rebuild either normaliser from its ``state_dict`` (per channel when the stats are (C, 1, …))."""
    mean = state["mean"]
    per_channel = mean.dim() >= 2 and all(n == 1 for n in mean.shape[1:])
    cls = ChannelNormalizer if per_channel else UnitGaussianNormalizer
    obj = cls(eps=float(state["eps"]))
    obj.mean, obj.std = state["mean"], state["std"]
    return obj
