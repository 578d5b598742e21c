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
    return f"CPU ({torch.get_num_threads()} threads)"
