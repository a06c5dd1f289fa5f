"""The population optimizer: Adam/AdamW over stacked member parameters, per-member LR and β₂.

:class:`PopulationAdam` is what :func:`mufno_lite.train.train_population` steps; it reproduces
``torch.optim.Adam``/``AdamW`` member by member (tested against torch in ``tests/test_train.py``
and ``tests/test_step_perf.py``).

**How it runs (issue 20, item 9).**  Two paths, one update.  ``foreach=True`` (the default on
CUDA): every parameter of shape ``(M, …)`` is split once, at construction, into its M member
slices (views, no copy) and so are its two moments; a step runs torch's ``_foreach_*`` kernels
over all (member, parameter) slices of a bucket at once, the same sequence of kernels as
``torch.optim.Adam(foreach=True)`` (bit for bit, member by member): ``lerp_`` (first moment),
``mul_`` and ``addcmul_`` (second moment), ``sqrt``, ``div_``, ``add_`` (the denominator),
``addcdiv_`` (the update).  Per-member values (step size, β₂, 1 − β₂, √(1 − β₂ᵗ), AdamW's decay)
are lists of Python floats, one per slice: kernel arguments, so a step copies nothing from the
host to the device and reads nothing back.  On CUDA a list of slices runs as a few multi-tensor
launches instead of ~10 kernels per parameter.  The only full-size temporary is the denominator
(as in torch's foreach Adam), where the loop makes five (``rg · (1 − β₂)``, ``√v``, ``√v / bc``,
``m / denom`` and its product with the step); to bound it, a group's parameters run in buckets of
at most the largest parameter's bytes (each spectral weight alone, the small ones together), so
the step's extra memory is one largest parameter (two with L2 decay), what :mod:`mufno_lite.memory`
counts.  ``foreach=False`` (the default on a CPU): the per-parameter loop with ``(M, 1, …)``
factors, op for op the step recorded results were computed with; on a CPU torch's foreach kernels
are a loop over the slices (M times the ops), measured 1.7× slower than the loop for 12 members of
an FNO-1D of width 32 (``benchmarks/bench_step.py``'s ``old_adam`` variant shows the same).  The
two paths differ by float rounding only (≤ 2e-7 after 20 steps, ``tests/test_step_perf.py``).

:data:`ADAM_PASSES` is the memory traffic of one step in units of the (real-view) parameter
bytes, what :mod:`mufno_lite.plan` can count.
"""

from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["PopulationAdam", "ADAM_PASSES"]

#: Full-size reads + writes of one foreach step as the trainer runs it on CUDA (a device mask, every member live),
#: per byte of (real-view) parameters, no weight decay: ``masked_fill_`` of the gradient (2),
#: ``lerp_`` (m, g → m: 3), ``mul_`` (v → v: 2), ``addcmul_`` (v, g, g → v: 4), ``sqrt`` (v → d: 2),
#: ``div_`` by √(1 − β₂ᵗ) (2), ``add_`` eps (2), ``div_`` by the mask (2), ``addcdiv_`` (p, m, d → p: 4):
#: 23 (19 without a mask).  Decoupled decay adds 2 (``mul_`` of p), L2 decay 3 (g + wd·p, a new tensor).
ADAM_PASSES = 23


def _real(t: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(t) if t.is_complex() else t


class PopulationAdam:
    """Adam/AdamW over stacked population parameters with per-member LR and β₂.

    Every parameter has a leading member axis M.  For member i and a parameter in group g the
    update is exactly ``torch.optim.Adam``'s with ``lr = lr_i · mult_g · factor`` and
    ``betas = (beta1, beta2_i)``: bias-corrected moments, ``eps`` added to the corrected root
    second moment, L2 weight decay (``adam``) or decoupled decay (``adamw``).  Complex parameters
    are updated through their ``view_as_real`` views, as torch does.  Members whose ``active``
    flag is false are left exactly as they are (parameters and moments).

    Parameters
    ----------
    groups : list of (list of tensors, multiplier) or (list of tensors, multiplier, lrs)
        A group's own per-member base LRs (length M) replace ``lrs`` for that group (used to
        hold one group at a fixed LR while the other's is swept).
    lrs, beta2s : sequence of float, length M
    """

    def __init__(self, groups, lrs: Sequence[float], beta2s: Sequence[float], *, beta1: float = 0.9,
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = False,
                 foreach: bool | None = None):
        self.M = len(lrs)
        if len(beta2s) != self.M:
            raise ValueError("lrs and beta2s must have one entry per member")
        self.lrs = [float(v) for v in lrs]
        self.beta2s = [float(v) for v in beta2s]
        self.beta1, self.eps, self.wd, self.decoupled = float(beta1), float(eps), float(weight_decay), decoupled
        self.t = 0
        self.groups = []  # per group: ([(p, real view, m, v), …], multiplier)
        self.group_lrs = []
        self._slices = []  # per group: per parameter (its member slices of real view, m, v)
        self._buckets = []  # per group: lists of parameter indices run by one set of foreach calls
        for group in groups:
            params, mult = group[0], group[1]
            own = list(group[2]) if len(group) > 2 and group[2] is not None else None
            if own is not None and len(own) != self.M:
                raise ValueError(f"a group's lrs must have one entry per member (M={self.M}); got {len(own)}")
            self.group_lrs.append(self.lrs if own is None else [float(v) for v in own])
            entries, slices = [], []
            for p in params:
                if p.shape[0] != self.M:
                    raise ValueError(f"parameter with leading size {p.shape[0]} in a population of M={self.M}")
                rp = _real(p)
                m, v = torch.zeros_like(rp), torch.zeros_like(rp)
                entries.append((p, rp, m, v))
                slices.append((rp.unbind(0), m.unbind(0), v.unbind(0)))
            self.groups.append((entries, float(mult)))
            self._slices.append(slices)
        cap = max((e[1].numel() * e[1].element_size() for entries, _ in self.groups for e in entries), default=0)
        for entries, _ in self.groups:
            buckets, size = [], cap + 1
            for j, e in enumerate(entries):
                nbytes = e[1].numel() * e[1].element_size()
                if size + nbytes > cap:
                    buckets.append([])
                    size = 0
                buckets[-1].append(j)
                size += nbytes
            self._buckets.append(buckets)
        ref = self.groups[0][0][0][1] if self.groups and self.groups[0][0] else None
        self._dtype = ref.dtype if ref is not None else torch.float32
        self._device = ref.device if ref is not None else torch.device("cpu")
        self.foreach = (self._device.type != "cpu") if foreach is None else bool(foreach)
        self._b2 = torch.tensor(self.beta2s, dtype=self._dtype, device=self._device)
        # (1 - beta2) computed in double precision and then cast, as torch does with its scalar
        self._omb2 = torch.tensor([1 - v for v in self.beta2s], dtype=self._dtype, device=self._device)

    def _member_lists(self, g: int, bucket: list[int], members: list[int]):
        """(params, grads, m, v, member of each) over the slices of ``bucket`` of group ``g`` that have a gradient."""
        ps, gs, ms, vs, who, rgs, kept = [], [], [], [], [], [], []
        for j in bucket:
            p, rps, mms, vvs = self.groups[g][0][j][0], *self._slices[g][j]
            if p.grad is None:
                continue
            rgs.append(_real(p.grad).unbind(0))
            kept.append((rps, mms, vvs))
        for i in members:  # member by member
            for rg, (rps, mms, vvs) in zip(rgs, kept):
                ps.append(rps[i]), gs.append(rg[i]), ms.append(mms[i]), vs.append(vvs[i]), who.append(i)
        return ps, gs, ms, vs, who

    @torch.no_grad()
    def step(self, factor: float = 1.0, active: Sequence[bool] | torch.Tensor | None = None) -> None:
        """One update with every LR multiplied by ``factor``; inactive members' parameters are not touched.

        ``active``: None (all), a sequence of M bools (inactive members are skipped: parameters
        and moments stay exactly as they are), or a bool tensor of shape (M,) on the parameters'
        device (what the trainer passes, so that nothing is read back to the host): every member
        is run, an inactive member's gradient is zeroed (NaN included) and its denominator
        divided by 0, so its update is exactly 0 and its parameters stay as they are (its moments,
        never used again, decay).
        """
        self.t += 1
        t = self.t
        live = None
        if isinstance(active, torch.Tensor):
            live = active
            members = list(range(self.M))
        else:
            members = list(range(self.M)) if active is None else [i for i, a in enumerate(active) if a]
        if not members:
            return
        if not self.foreach:
            return self._step_loop(factor, live, members)
        if live is not None:
            dead = ~live
            for entries, _ in self.groups:
                for p, rp, _, _ in entries:
                    if p.grad is not None:
                        _real(p.grad).masked_fill_(dead.view((self.M,) + (1,) * (rp.dim() - 1)), 0.0)
        bc1 = 1 - self.beta1**t
        bc2_sqrt = [(1 - b2**t) ** 0.5 for b2 in self.beta2s]
        for g, ((_, mult), base) in enumerate(zip(self.groups, self.group_lrs)):
            for bucket in self._buckets[g]:
                self._step_bucket(g, bucket, members, base, mult, factor, bc1, bc2_sqrt, live)

    def _step_bucket(self, g: int, bucket: list[int], members: list[int], base: list[float], mult: float,
                     factor: float, bc1: float, bc2_sqrt: list[float], live: torch.Tensor | None) -> None:
        """torch's foreach Adam over the members' slices of one bucket (see the module docstring);
        the slices are listed member by member, so member i's are ``[i·n, (i+1)·n)``."""
        ps, gs, ms, vs, who = self._member_lists(g, bucket, members)
        if not ps:
            return
        lr = [base[i] * mult * factor for i in who]  # (base·mult)·factor, torch's order
        n = len(ps) // len(members)
        if self.wd != 0:
            if not self.decoupled:
                gs = torch._foreach_add(gs, ps, alpha=self.wd)
            elif live is None:
                torch._foreach_mul_(ps, [1 - x * self.wd for x in lr])
            else:  # decay only the live members: factor 1 for the others, computed on the device
                decay = [1 - base[i] * mult * factor * self.wd for i in members]
                keep = torch.where(live, 0.0, 1.0).to(ps[0].dtype)
                for k, i in enumerate(members):  # 1 − lr·wd for a live member, exactly 1 for a frozen one
                    torch._foreach_mul_(ps[k * n:(k + 1) * n], keep[i].add(decay[k]).clamp_(max=1.0))
        torch._foreach_lerp_(ms, gs, 1 - self.beta1)
        torch._foreach_mul_(vs, [self.beta2s[i] for i in who])
        torch._foreach_addcmul_(vs, gs, gs, [1 - self.beta2s[i] for i in who])
        denom = torch._foreach_sqrt(vs)
        torch._foreach_div_(denom, [bc2_sqrt[i] for i in who])
        torch._foreach_add_(denom, self.eps)
        if live is not None:  # a frozen member's denominator becomes inf: its update m / inf is 0
            livef = live.to(denom[0].dtype)
            for k, i in enumerate(members):
                torch._foreach_div_(denom[k * n:(k + 1) * n], livef[i])
        torch._foreach_addcdiv_(ps, ms, denom, [-(x / bc1) for x in lr])

    def _step_loop(self, factor: float, live: torch.Tensor | None, members: list[int]) -> None:
        """The per-parameter loop (``foreach=False``, the default on a CPU): the same update with
        per-member ``(M, 1, …)`` factors, op for op the step before issue 20 (results on a CPU are
        those recorded before it, bit for bit).  Frozen members get step 0 and decay factor 1."""
        t, b1 = self.t, self.beta1
        bc1 = 1 - b1**t
        bc2_sqrt = [(1 - b2**t) ** 0.5 for b2 in self.beta2s]
        on = set(members)
        f64 = dict(dtype=torch.float64, device=self._device)
        for (entries, mult), base in zip(self.groups, self.group_lrs):
            lr = torch.tensor([base[i] * mult * factor if i in on else 0.0 for i in range(self.M)], **f64)
            if live is not None:
                lr = torch.where(live, lr, 0.0)
            cache = {}
            for p, rp, m, v in entries:
                g = p.grad
                if g is None:
                    continue
                rg = _real(g)
                nd = rp.dim()
                if nd not in cache:
                    shp = (self.M,) + (1,) * (nd - 1)
                    frozen = (~live if live is not None else
                              torch.tensor([i not in on for i in range(self.M)], device=self._device))
                    cache[nd] = (
                        (-(lr / bc1)).to(self._dtype).view(shp),
                        torch.tensor(bc2_sqrt, dtype=self._dtype, device=self._device).view(shp),
                        self._b2.view(shp), self._omb2.view(shp),
                        None if live is None and len(on) == self.M else frozen.view(shp),
                        (1 - lr * self.wd).to(self._dtype).view(shp) if (self.decoupled and self.wd) else None,
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
