"""Exponential moving average of a model's weights, used for evaluation and export."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn


class EMA:
    """shadow = d * shadow + (1 - d) * weight after each step, d = min(decay, (1+n)/(10+n)).

    The warm-up of d (n = updates so far) keeps early shadows from being dominated
    by the random initialisation; it reaches `decay` after ~10/(1-decay) steps.
    Floating-point parameters and buffers are tracked; integer buffers are copied.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999):
        self.decay = float(decay)
        self.num_updates = 0
        self.shadow: dict[str, Tensor] = {
            k: v.detach().clone() for k, v in model.state_dict().items()
        }

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.num_updates += 1
        d = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        shadow, live = [], []
        for k, v in model.state_dict().items():
            s = self.shadow[k]
            if s.is_floating_point():
                shadow.append(s)
                live.append(v)
            else:
                s.copy_(v)
        torch._foreach_lerp_(shadow, live, 1 - d)  # s += (1 - d) (v - s): one pass, all tensors

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """Temporarily load the averaged weights into `model` (restored on exit)."""
        backup = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield model
        finally:
            model.load_state_dict(backup)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "num_updates": self.num_updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        self.decay = float(state["decay"])
        self.num_updates = int(state["num_updates"])
        for k, v in state["shadow"].items():
            self.shadow[k].copy_(v)
