"""What the trainer takes and gives back, and its saved state on disk: `TrainConfig`,
`GraphDataset`, `EpochMetrics`, `TrainResult`, `save_state` / `load_state` (the
trainer itself is `pamnet.training.Trainer`)."""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch import Tensor

from pamnet.data import GraphInput
from pamnet.errors import CheckpointError, ConfigError, DataError
from pamnet.paths import atomic_write

STATE_FORMAT = "pamnet-studio-train/1"


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; saved inside the training state."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    warmup_epochs: float = 1.0  # linear warm-up from lr/steps to lr
    lr_decay: float = 0.96  # schedule "exp": lr multiplied by this per epoch after warm-up
    schedule: str = "exp"  # "exp" (per-epoch decay) or "cosine" (to min_lr_factor at the end)
    min_lr_factor: float = 0.01  # cosine: the last step's lr as a fraction of lr
    schedule_start: int = 0  # step at which this schedule (and its warm-up) began: a restart
    ema_decay: float = 0.999
    clip_norm: float = 10.0  # max global gradient norm
    weight_decay: float = 0.0
    max_minutes: float | None = None  # wall-clock budget of one fit() call; stops after saving
    save_every_minutes: float = 10.0
    eval_batch_size: int = 128
    seed: int = 0  # weight init (when the trainer builds the model) and batch order
    device: str = "auto"
    # {target: w}: the loss is the mean of w_t |error_t| (normalised units); others w = 1,
    # or w["*"] when given (e.g. {"*": 0, "mu": 1}: one target only)
    loss_weights: dict[str, float] | None = None
    compile: bool = False  # torch.compile the training forward/backward (pamnet.device.compiled)

    def to_dict(self) -> dict:
        return asdict(self)

    def weight_vector(self, targets: list[str]) -> list[float] | None:
        """`loss_weights` in the order of `targets`; "*" weighs the targets not named
        (default 1). None: all 1."""
        unknown = sorted(set(self.loss_weights or {}) - set(targets) - {"*"})
        if unknown:
            raise ConfigError(f"loss weights for {unknown}: not among the targets {targets}")
        if not self.loss_weights:
            return None
        rest = float(self.loss_weights.get("*", 1.0))
        weights = [float(self.loss_weights.get(t, rest)) for t in targets]
        if not any(w > 0 for w in weights):
            raise ConfigError(f"loss weights {self.loss_weights}: at least one target needs W > 0")
        return weights

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class GraphDataset:
    """Structures and their targets: graphs [n], y [n, T] physical units, NaN = missing."""

    graphs: list[GraphInput]
    y: Tensor

    def __post_init__(self) -> None:
        if self.y.ndim != 2 or self.y.shape[0] != len(self.graphs):
            raise DataError(
                f"targets must be [n_structures, n_targets]; got {tuple(self.y.shape)} "
                f"for {len(self.graphs)} structures"
            )

    def __len__(self) -> int:
        return len(self.graphs)


@dataclass
class EpochMetrics:
    """What the per-epoch callback receives. MAEs in the targets' physical units."""

    epoch: int  # 1-based, the epoch just finished (or interrupted)
    step: int
    train_loss: float  # mean L1 on normalized targets over the epoch's batches
    val_mae: dict[str, float] | None
    val_score: float | None  # mean over targets of MAE / std: lower is better
    lr: float
    elapsed_s: float  # over all resumes
    molecules_per_s: float
    complete: bool  # False when the budget stopped the run inside this epoch

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    metrics: list[EpochMetrics]
    epochs_done: int
    step: int
    elapsed_s: float
    stopped_by_budget: bool
    state_path: Path | None
    checkpoint_path: Path | None  # EMA weights of the best validation score (else last)
    stopped_by_request: bool = False  # should_stop() was true; the state is saved


def _as_tuple(x):
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


def rng_state() -> dict:
    """The random states a resumed run continues from (torch, CUDA, Python)."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"torch": torch.get_rng_state(), "cuda": cuda, "python": random.getstate()}


def set_rng_state(rng: dict) -> None:
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    random.setstate(_as_tuple(rng["python"]))


def save_state(path: str | os.PathLike, state: dict) -> None:
    """Write a training state (`Trainer.state_dict()`) atomically."""
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_state(path: str | os.PathLike) -> dict:
    """A training state saved by `Trainer` (loaded with weights_only=True)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such training state") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        raise CheckpointError(f"{path}: not a readable training state ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError(
            f"{path}: not a PAMNet Studio training state (made by `pamnet train`, state.pt)"
        )
    return state
