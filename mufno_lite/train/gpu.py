"""What training does differently on a GPU: running out of memory, and clocks that wait for it.

Out of memory (decision)
------------------------
The memory model (:mod:`mufno_lite.memory`) sizes a chunk for the budget, but it does not count
fragmentation, cuFFT plans or another process on the same GPU.  When a chunk's training raises
``torch.cuda.OutOfMemoryError`` (or cuFFT / cuBLAS fail to allocate, :func:`is_oom`),
:func:`mufno_lite.train.train_population` drops that chunk,
frees the cached blocks (:func:`free_device_memory`), halves the chunk size and trains the same
members again from their first step (members share nothing but the batch order, so they end as
they would have with the smaller chunk from the start: bit for bit on a CPU, see
:mod:`mufno_lite.device` for a GPU), down to one member per chunk.  Each halving is an
:func:`oom_event` in the run's ``execution`` record (the store's ``execution`` column).  One member that still does not
fit is a :class:`~mufno_lite.memory.MemoryBudgetError` naming the architecture, the memory the
model estimates for it and what the device has (:func:`oom_failure`): the population's rows are
``failed`` with that message, and a re-run fails the same way until the sizes change.

Clocks
------
CUDA kernels run asynchronously: a timer read after launching a step measures the launches.
:func:`synced_progress` makes a progress callback (what benchmarks and the live widget time
steps with) see the device's time; the trainers synchronise before reading their wall clocks.
"""

from __future__ import annotations

import gc
import torch

from ..device import synchronize
from ..memory import MemoryBudgetError

__all__ = ["is_oom", "free_device_memory", "oom_message", "oom_event", "oom_failure", "synced_progress"]

#: What the CUDA libraries say when their own allocation fails (they raise a plain RuntimeError)
_ALLOC_FAILED = ("CUFFT_ALLOC_FAILED", "CUBLAS_STATUS_ALLOC_FAILED", "CUDA out of memory", "CUDA error: out of memory")


def is_oom(err: BaseException) -> bool:
    """Whether ``err`` is running out of device memory: ``torch.cuda.OutOfMemoryError``, or a
    ``RuntimeError`` of cuFFT / cuBLAS / the CUDA runtime failing to allocate."""
    if isinstance(err, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(err, RuntimeError) and any(s in str(err) for s in _ALLOC_FAILED)


def free_device_memory(device) -> None:
    """Drop unreferenced tensors and return CUDA's cached blocks (``torch.cuda.empty_cache``)."""
    gc.collect()
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()

def oom_message(err: BaseException) -> str:
    """The first line of torch's out-of-memory message (what the record and the error keep)."""
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__


def oom_event(members: int, retry_with: int, message: str) -> dict:
    """One halving, as recorded in the run's ``execution``: the chunk size that ran out of memory,
    the one tried next, and torch's message (:func:`oom_message`)."""
    return {"members": int(members), "retry_with": int(retry_with), "error": str(message)}


def oom_failure(where: str, need_bytes: float, budget: float | None, device, message: str,
                events: list) -> MemoryBudgetError:
    """The error when one member per chunk still runs out of memory (see the module docstring)."""
    total = None
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        total = torch.cuda.get_device_properties(torch.device(device)).total_memory
    tried = " -> ".join(str(e["members"]) for e in events) + " -> 1" if events else "1"
    return MemoryBudgetError(
        f"{where}: out of device memory with one member per chunk (chunk sizes tried: {tried}); the memory "
        f"model estimates {need_bytes / 1e9:.2f} GB for one member's training step"
        + (f", budget {budget / 1e9:.2f} GB" if budget else "")
        + (f", device total {total / 1e9:.2f} GB" if total else "")
        + f"; use a smaller K, width, batch or grid, fewer workers on this GPU, or a larger device "
          f"(torch: {message})")


def synced_progress(progress, device):
    """``progress`` itself, or, for a callable on CUDA, one that synchronises the device before each
    call (so a timestamp taken in it includes the step's kernels)."""
    if not callable(progress) or progress is True or torch.device(device).type != "cuda":
        return progress

    def synced(step: int, total: int) -> None:
        synchronize(device)
        progress(step, total)

    return synced
