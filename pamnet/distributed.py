"""torch.distributed in one place: who am I, joining torchrun's group, waiting, leaving.

Under `torchrun` the launcher sets RANK, WORLD_SIZE and LOCAL_RANK; `init` joins the
process group (NCCL on GPU, Gloo on CPU). Without torchrun everything here is a
no-op for a world of one. torch is imported inside the functions, so job workers
can read their rank without loading it.
"""

from __future__ import annotations

import os
import sys


def _group():
    """torch.distributed when a process group is up, else None (never imports torch)."""
    dist = sys.modules.get("torch.distributed")
    return dist if dist is not None and dist.is_available() and dist.is_initialized() else None


def rank() -> int:
    """This process's rank (0 for a single process)."""
    if (dist := _group()) is not None:
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """Number of processes in the run (1 without torchrun)."""
    if (dist := _group()) is not None:
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_rank() -> int:
    """This process's index on its machine (selects its GPU)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def init(device):
    """Join torchrun's process group when WORLD_SIZE > 1; returns this rank's device.

    device: a torch.device; on CUDA the result is `cuda:<local rank>` (and made current).
    """
    import torch
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if _group() is not None and device.type == "cuda":
        device = torch.device("cuda", local_rank())
        torch.cuda.set_device(device)
    return device


def barrier() -> None:
    """Wait for every rank (no-op without a process group)."""
    if (dist := _group()) is not None:
        dist.barrier()


def leave() -> None:
    """Wait for every rank, then close the process group (no-op without one).

    A rank that exits straight after a collective can close its sockets while a slower
    peer is still reading from them (Gloo then fails with "connection closed by peer")."""
    if (dist := _group()) is not None:
        dist.barrier()
        dist.destroy_process_group()
