"""The implementations issue 20 (items 9 and 10) replaced, kept only so that ``bench_step.py`` can
time them side by side with today's in the same run (and state how far their results differ).

* :func:`permuted_spectral_forward`: ``SpectralConv.forward`` before the weight was stored in the
  contraction's layout: the weight in R[c, i, o, k] order, one matmul per corner on permuted
  operands (so the weight is copied on every forward and its gradient on every backward).
* :class:`LoopPopulationAdam`: ``PopulationAdam.step`` before torch's foreach kernels: one
  parameter at a time, with full-size temporaries (``rg * omb2``, ``v.sqrt()``, ``m / denom``).

Not part of the library; nothing imports this but the benchmark.
"""

from __future__ import annotations

import torch

from mufno_lite.fno.spectral import _check_grid


def permuted_spectral_forward(layer, x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``layer``'s product with the old contraction; ``kernel``: ([M,] corners, in, out, K…K), a
    contiguous tensor (the old parameter)."""
    single = layer.members is None
    if single:
        x, w = x.unsqueeze(0), kernel.unsqueeze(0)
    else:
        w = kernel
    M, B, C = x.shape[:3]
    spatial = x.shape[3:]
    _check_grid(layer.K, spatial)
    dims = tuple(range(3, 3 + layer.d))
    xf = torch.fft.rfftn(x, dim=dims)
    out_f = xf.new_zeros((M, B, layer.out_channels, *xf.shape[3:]))
    K, d = layer.K, layer.d
    nk = K**d
    for c, sl in enumerate(layer._corner_slices()):
        idx = (slice(None), slice(None), slice(None), *sl)
        a = xf[idx].reshape(M, B, C, nk).permute(0, 3, 1, 2)
        wc = w[:, c].reshape(M, C, layer.out_channels, nk).permute(0, 3, 1, 2)
        out_f[idx] = torch.matmul(a, wc).permute(0, 2, 3, 1).reshape(M, B, layer.out_channels, *([K] * d))
    out = torch.fft.irfftn(out_f, s=spatial, dim=dims)
    return out.squeeze(0) if single else out


class LoopPopulationAdam:
    """The per-parameter loop (all members active, no weight decay: the benchmark's case)."""

    def __init__(self, params, lrs, beta2s, *, beta1=0.9, eps=1e-8):
        self.M = len(lrs)
        self.lrs, self.beta2s, self.beta1, self.eps, self.t = list(lrs), list(beta2s), beta1, eps, 0
        self.entries = []
        for p in params:
            rp = torch.view_as_real(p) if p.is_complex() else p
            self.entries.append((p, rp, torch.zeros_like(rp), torch.zeros_like(rp)))
        dev, dt = self.entries[0][1].device, self.entries[0][1].dtype
        self._b2 = torch.tensor(self.beta2s, dtype=dt, device=dev)
        self._omb2 = torch.tensor([1 - v for v in self.beta2s], dtype=dt, device=dev)

    @torch.no_grad()
    def step(self, factor: float = 1.0, active=None) -> None:  # every member live in the benchmark
        self.t += 1
        t, b1 = self.t, self.beta1
        bc1 = 1 - b1**t
        dev, dt = self._b2.device, self._b2.dtype
        for p, rp, m, v in self.entries:
            g = p.grad
            rg = torch.view_as_real(g) if g.is_complex() else g
            shp = (self.M,) + (1,) * (rp.dim() - 1)
            sneg = torch.tensor([-(lr * factor / bc1) for lr in self.lrs], dtype=dt, device=dev).view(shp)
            bc2s = torch.tensor([(1 - b2**t) ** 0.5 for b2 in self.beta2s], dtype=dt, device=dev).view(shp)
            m.lerp_(rg, 1 - b1)
            v.mul_(self._b2.view(shp)).addcmul_(rg * self._omb2.view(shp), rg)
            denom = (v.sqrt() / bc2s).add_(self.eps)
            rp.add_((m / denom) * sneg)


def use_permuted_contraction(model) -> None:
    """Give every spectral layer of ``model`` the old parameter (contiguous, R[c, i, o, k]) and the
    old forward, in place (build the optimizer afterwards: the parameters are new objects)."""
    import types

    for layer in model.layers:
        sc = layer.spectral
        sc.weight = torch.nn.Parameter(sc.kernel.detach().contiguous())
        sc.forward = types.MethodType(lambda self, x: permuted_spectral_forward(self, x, self.weight), sc)
