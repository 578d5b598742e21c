"""Device choice: `auto` is CUDA when present, else CPU."""

from __future__ import annotations

import torch

from pamnet.errors import ConfigError


def resolve(device: str | torch.device = "auto") -> torch.device:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' -> torch.device; 'cuda' without a GPU is an error."""
    if isinstance(device, torch.device):
        return device
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            "--device cuda was asked for, but no CUDA GPU is visible; use --device auto or cpu"
        )
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {device!r}: {exc}; use auto, cpu or cuda") from None


def describe(device: torch.device | str = "auto") -> str:
    """Human-readable name: the GPU's model, or 'CPU (n threads)'."""
    d = resolve(device)
    if d.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(d)}"
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'s' if n != 1 else ''})"


def free_cores() -> int:
    """CPU cores this process may use that other processes are not already busy on: the
    cores it is allowed (affinity) less the 1-minute load average, at least 1. Torch's
    default of one thread per core spins instead of working when other jobs hold cores
    (measured: a fine-tune fell from ~93 to ~5 molecules/s beside other processes)."""
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores, round(cores - busy)))


def size_threads(threads: int | None = None) -> int:
    """Set torch's CPU threads: `threads` when given, else `free_cores()`; returns it."""
    n = int(threads) if threads else free_cores()
    torch.set_num_threads(max(1, n))
    return torch.get_num_threads()
