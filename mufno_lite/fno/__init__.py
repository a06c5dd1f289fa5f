"""Fourier Neural Operators (FNO) for d = 1, 2, 3 with one stated meaning of K.

The model is the one of Li et al. (2021) as written in the μP-FNO paper (Li, Yoo & Yang, ICML 2025):

    G = Q ∘ σ(W_L + K_L) ∘ … ∘ σ(W_1 + K_1) ∘ P,     (K_l v)(x) = F⁻¹[R_l · T_K(F v)](x)

with lifting P, pointwise (1×1) linear maps W_l with bias, GELU σ, a two-layer projection Q, and
spectral weights R_l.

**The meaning of K (the one place it is defined).**  K is the number of Fourier modes kept *per
axis*: on the last axis (the one transformed by ``rfft``) the non-negative frequencies 0 … K−1;
on every other axis the FFT index blocks ``[:K]`` and ``[-K:]``, i.e. the frequencies −K … K−1.
So R_l holds 2^(d−1) "corner" blocks of K^d complex m×m matrices, which is the original FNO
convention and the one that reproduces the paper's parameter counts (FNO-3D, width 64, 4 layers:
1.8M parameters at K = 3, 906M at K = 24).  One consequence, tested in ``tests/test_fno.py``: a real
cosine at frequency exactly K along a non-last axis passes at *half* amplitude (its −K half is kept,
its +K half is not); frequencies |k| < K pass, |k| > K are removed.

**Populations.**  ``FNO(..., members=M)`` stores every parameter with a leading member axis of
size M: M independent models that share the architecture and are evaluated in one batched
computation (used by :mod:`mufno_lite.train` to train learning-rate sweeps in lockstep).  With
``members=None`` (the default) parameters have their ordinary shapes.  Member i of a population
initialised with seeds ``[s_0, …]`` is bit-identical to a single model initialised with seed s_i.

Tensor layout is channel-first: a single model maps (B, C_in, *spatial) → (B, C_out, *spatial); a
population maps (B, C_in, *spatial) (one batch shared by all members) or (M, B, C_in, *spatial) →
(M, B, C_out, *spatial).

The package: :mod:`.spectral` (K on a grid, the spectral layer, one Fourier layer) and
:mod:`.network` (``FNOConfig``, ``count_parameters``, ``FNO``); the public names (``__all__``) are importable from here.
"""

from __future__ import annotations

from ..modes import max_modes  # defined there, part of this package's API
from .spectral import check_K, kept_frequencies, mode_response, SpectralConv
from .network import count_parameters, FNO, FNOConfig, GRID_CONVENTIONS, grid_coordinates

__all__ = [
    "FNOConfig",
    "FNO",
    "SpectralConv",
    "kept_frequencies",
    "max_modes",
    "count_parameters",
    "check_K",
    "mode_response",
    "grid_coordinates",
    "GRID_CONVENTIONS",
]
