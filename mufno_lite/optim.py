"""The population optimizer: Adam/AdamW over stacked member parameters, per-member LR and β₂.

:class:`PopulationAdam` is what :func:`mufno_lite.train.train_population` steps; it reproduces
``torch.optim.Adam``/``AdamW`` member by member (tested against torch in ``tests/test_train.py``).
"""

from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["PopulationAdam"]


class PopulationAdam:
    """Adam/AdamW over stacked population parameters with per-member LR and β₂.

    Every parameter has a leading member axis M.  For member i and a parameter in group g the
    update is exactly ``torch.optim.Adam``'s (single-tensor implementation) with
    ``lr = lr_i · mult_g · factor`` and ``betas = (beta1, beta2_i)``: bias-corrected moments, ``eps``
    added to the corrected root second moment, L2 weight decay (``adam``) or decoupled decay
    (``adamw``).  Complex parameters are updated through their ``view_as_real`` views, as torch
    does.  Members whose ``active`` flag is false are left exactly as they are.

    Parameters
    ----------
    groups : list of (list of tensors, multiplier) or (list of tensors, multiplier, lrs)
        A group's own per-member base LRs (length M) replace ``lrs`` for that group (used to
        hold one group at a fixed LR while the other's is swept).
    lrs, beta2s : sequence of float, length M
    """

    def __init__(self, groups, lrs: Sequence[float], beta2s: Sequence[float], *, beta1: float = 0.9,
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = False):
        self.M = len(lrs)
        if len(beta2s) != self.M:
            raise ValueError("lrs and beta2s must have one entry per member")
        self.lrs = [float(v) for v in lrs]
        self.beta2s = [float(v) for v in beta2s]
        self.beta1, self.eps, self.wd, self.decoupled = float(beta1), float(eps), float(weight_decay), decoupled
        self.t = 0
        self.groups = []
        self.group_lrs = []
        for group in groups:
            params, mult = group[0], group[1]
            own = list(group[2]) if len(group) > 2 and group[2] is not None else None
            if own is not None and len(own) != self.M:
                raise ValueError(f"a group's lrs must have one entry per member (M={self.M}); got {len(own)}")
            self.group_lrs.append(self.lrs if own is None else [float(v) for v in own])
            entries = []
            for p in params:
                if p.shape[0] != self.M:
                    raise ValueError(f"parameter with leading size {p.shape[0]} in a population of M={self.M}")
                rp = torch.view_as_real(p) if p.is_complex() else p
                entries.append((p, rp, torch.zeros_like(rp), torch.zeros_like(rp)))
            self.groups.append((entries, float(mult)))
        ref = self.groups[0][0][0][1] if self.groups and self.groups[0][0] else None
        self._dtype = ref.dtype if ref is not None else torch.float32
        self._device = ref.device if ref is not None else torch.device("cpu")
        self._b2 = torch.tensor(self.beta2s, dtype=self._dtype, device=self._device)
        # (1 - beta2) computed in double precision and then cast, as torch does with its scalar
        self._omb2 = torch.tensor([1 - v for v in self.beta2s], dtype=self._dtype, device=self._device)

    @torch.no_grad()
    def step(self, factor: float = 1.0, active: Sequence[bool] | None = None) -> None:
        """One update with every LR multiplied by ``factor``; inactive members are not touched."""
        self.t += 1
        t = self.t
        act = [True] * self.M if active is None else [bool(a) for a in active]
        all_active = all(act)
        b1 = self.beta1
        bc1 = 1 - b1**t
        bc2_sqrt = [(1 - b2**t) ** 0.5 for b2 in self.beta2s]
        mask = None if all_active else torch.tensor(act, device=self._device)
        for (entries, mult), base in zip(self.groups, self.group_lrs):
            lr = [base[i] * mult * factor if act[i] else 0.0 for i in range(self.M)]
            step_neg = [-(v / bc1) for v in lr]
            cache = {}
            for p, rp, m, v in entries:
                g = p.grad
                if g is None:
                    continue
                rg = torch.view_as_real(g) if g.is_complex() else g
                nd = rp.dim()
                if nd not in cache:
                    shp = (self.M,) + (1,) * (nd - 1)
                    cache[nd] = (
                        torch.tensor(step_neg, dtype=self._dtype, device=self._device).view(shp),
                        torch.tensor(bc2_sqrt, dtype=self._dtype, device=self._device).view(shp),
                        self._b2.view(shp),
                        self._omb2.view(shp),
                        None if mask is None else (~mask).view(shp),
                        torch.tensor([1 - x * self.wd for x in lr], dtype=self._dtype,
                                     device=self._device).view(shp) if (self.decoupled and self.wd) else None,
                    )
                sneg, bc2s, b2, omb2, dead, decay = cache[nd]
                if dead is not None:
                    rg = rg.masked_fill(dead, 0.0)
                if self.wd != 0:
                    if self.decoupled:
                        rp.mul_(decay)
                    else:
                        rg = rg.add(rp, alpha=self.wd)
                m.lerp_(rg, 1 - b1)
                v.mul_(b2).addcmul_(rg * omb2, rg)
                denom = (v.sqrt() / bc2s).add_(self.eps)
                rp.add_((m / denom) * sneg)
