"""Scale-out helpers for torchrun: split a library by rank, gather results on rank 0.

Batch prediction over a large library: under `torchrun --nproc_per_node N`, each
rank predicts `shard(items)` and rank 0 writes `gather(results)`. Distribution is
torch.distributed's own (Gloo on CPU, NCCL on GPUs); nothing here launches processes.
"""

from __future__ import annotations

from collections.abc import Sequence

from pamnet import distributed
from pamnet.distributed import leave  # noqa: F401 - re-exported for batch prediction
from pamnet.errors import ConfigError


def rank_and_world() -> tuple[int, int]:
    """(rank, world size): `pamnet.distributed.rank()` and `world_size()`."""
    return distributed.rank(), distributed.world_size()


def shard(items: Sequence, rank: int | None = None, world: int | None = None) -> list:
    """This rank's share of `items`: items[rank::world] (defaults: `rank_and_world()`)."""
    r, w = rank_and_world()
    rank, world = (r if rank is None else rank), (w if world is None else world)
    if not 0 <= rank < world:
        raise ConfigError(f"rank {rank} is outside a world of {world}")
    return list(items)[rank::world]


def unshard(parts: Sequence[Sequence]) -> list:
    """Inverse of `shard`: per-rank lists (rank order) back into the original order."""
    out = []
    for k in range(max((len(p) for p in parts), default=0)):
        out.extend(p[k] for p in parts if k < len(p))
    return out


def gather(local: Sequence) -> list | None:
    """All ranks' shards on rank 0, in the original order (None on other ranks).

    Uses `torch.distributed.all_gather_object` (Gloo/NCCL, set up by torchrun);
    without a process group it returns `local` unchanged.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return list(local)
    parts = [None] * dist.get_world_size()
    dist.all_gather_object(parts, list(local))
    return unshard(parts) if dist.get_rank() == 0 else None
