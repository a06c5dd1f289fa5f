"""The torch device a run asks for, resolved on this machine, and how it computes there (one
definition for the package).

Numerics on a GPU (decisions)
-----------------------------
* **TF32 is off** (:data:`TF32`): the paper's numbers are float32, and TF32 matmuls/convolutions
  keep only 10 mantissa bits (about 1e-3 relative error per product), enough to move a learning-rate
  optimum on an Ampere/Hopper GPU.  :func:`configure_numerics` sets it, for both cuBLAS matmuls and
  cuDNN, in this one place; the trainers call it before they compute and record what it returns in
  every run row (the store's ``execution`` column).  ``$MUFNO_TF32=1`` (or ``tf32=True``) turns it
  on, e.g. to measure what it changes (``benchmarks/device_check.sh`` does).
* **Determinism** (``deterministic=True``, the default): ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (set
  before the first cuBLAS call of the process, or it has no effect), ``cudnn.benchmark`` off,
  ``cudnn.deterministic`` on and ``torch.use_deterministic_algorithms(True, warn_only=True)`` (an op
  without a deterministic CUDA kernel warns instead of failing).  What that buys:

  - **bit-reproducible**: the same run twice on the same GPU model, driver, CUDA/cuFFT and torch
    versions, chunk size and batch order (the FNO's ops are FFTs, batched matmuls, elementwise
    maps and sums, all deterministic under these settings; the data indexing needs no gradient);
  - **not bit-reproducible**: across GPU models or library versions (other kernels, other
    summation orders), between a GPU and a CPU (about 1e-6 relative per step in float32, which
    training can amplify; ``device_check.sh`` measures the agreement), between chunk sizes (the
    member axis is batched differently), and after an out-of-memory retry halved the chunk (the
    row's ``execution`` says when that happened).  Data generated on a GPU differs in the last
    bits from CPU data, so it is cached under its own key (:mod:`mufno_lite.data.cache`).
* **Share of a device** (:func:`device_share`): a process that shares one GPU with others (a Ray
  task with ``num_gpus < 1``, the pool's workers) budgets only its share of the memory;
  ``$MUFNO_DEVICE_SHARE`` carries it into the worker processes.
"""

from __future__ import annotations

import os

__all__ = ["DEVICES", "resolve_device", "TF32", "configure_numerics", "numerics_settings", "synchronize",
           "device_share", "DEVICE_SHARE_ENV"]

DEVICES = ("cpu", "cuda", "auto")

#: The TF32 decision: off, as the paper's float32 numbers (see the module docstring).
TF32 = False
#: cuBLAS's documented setting for deterministic results (a 4 MiB workspace, 8 of them).
CUBLAS_WORKSPACE = ":4096:8"
#: The environment variable that carries a process's share of its device (0 < share <= 1).
DEVICE_SHARE_ENV = "MUFNO_DEVICE_SHARE"


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


def _env_flag(name: str):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    v = raw.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"${name} must be 0 or 1 (or true/false); got {name}={raw!r}")


def _set_tf32(torch, on: bool) -> None:
    mm, conv = ("tf32" if on else "ieee"), ("tf32" if on else "ieee")
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):  # torch >= 2.9: the precision API
        torch.backends.cuda.matmul.fp32_precision = mm
        torch.backends.cudnn.conv.fp32_precision = conv
        torch.backends.cudnn.rnn.fp32_precision = conv
    else:  # pragma: no cover  (older torch)
        torch.backends.cuda.matmul.allow_tf32 = on
        torch.backends.cudnn.allow_tf32 = on
    torch.set_float32_matmul_precision("high" if on else "highest")


def numerics_settings() -> dict:
    """What this process computes with now: TF32 for matmuls and cuDNN, the determinism flags,
    the cuBLAS workspace setting (the dict the run rows store)."""
    import torch

    mm = getattr(torch.backends.cuda.matmul, "fp32_precision", None)
    conv = getattr(getattr(torch.backends.cudnn, "conv", None), "fp32_precision", None)
    tf32_mm = (mm == "tf32") if mm is not None else bool(torch.backends.cuda.matmul.allow_tf32)
    tf32_cudnn = (conv == "tf32") if conv is not None else bool(torch.backends.cudnn.allow_tf32)
    return {"tf32_matmul": tf32_mm, "tf32_cudnn": tf32_cudnn,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
            "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
            "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
            "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG")}


def configure_numerics(device="cpu", *, tf32: bool | None = None, deterministic: bool = True) -> dict:
    """Set the numerics of this process for training on ``device`` (see the module docstring) and
    return :func:`numerics_settings`.

    ``tf32``: None → ``$MUFNO_TF32`` if set, else :data:`TF32` (off).  The TF32 flags are set on
    every device (they only act on CUDA); the determinism settings only for a CUDA device, since
    they change nothing a CPU run needs and ``use_deterministic_algorithms`` is process-wide.
    """
    import torch

    if tf32 is None:
        tf32 = _env_flag("MUFNO_TF32")
    if tf32 is None:
        tf32 = TF32
    if not isinstance(tf32, bool):
        raise ValueError(f"tf32 must be True, False or None; got tf32={tf32!r}")
    _set_tf32(torch, tf32)
    if str(device).startswith("cuda") and deterministic:
        # must be in the environment before the process's first cuBLAS call to act
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)
    return numerics_settings()


def synchronize(device) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously: a timer read without this
    measures the launches, not the work); nothing on a CPU."""
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)


def device_share(default: float = 1.0) -> float:
    """This process's share of its device's memory: ``$MUFNO_DEVICE_SHARE`` (set by the executors
    in the processes that share a GPU), else ``default``."""
    raw = os.environ.get(DEVICE_SHARE_ENV)
    if raw is None or raw.strip() == "":
        return default
    try:
        share = float(raw)
    except ValueError:
        share = float("nan")
    if not 0 < share <= 1:
        raise ValueError(f"${DEVICE_SHARE_ENV} must be a number in (0, 1], the process's share of its device; "
                         f"got {DEVICE_SHARE_ENV}={raw!r}")
    return share
