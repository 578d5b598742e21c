"""What a fine-tune is asked to do (`FinetuneConfig`), where it writes, and what it returns
(`FinetuneResult`): shared by the run (`finetune.run`) and its export (`finetune.export`)."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from pamnet.errors import ConfigError
from pamnet.finetune.heads import FREEZE_GROUPS

FRESH = "none"  # --base none: train a new model instead of fine-tuning one


@dataclass(frozen=True)
class FinetuneConfig:
    """Everything one fine-tune needs; JSON-ready (jobs store it). Paths as strings."""

    data: str
    targets: tuple[str, ...]
    smiles_col: str | None = None
    protein_col: str | None = None
    ligand_col: str | None = None
    root: str | None = None  # relative structure paths in a complex table start here
    base: str | None = None  # checkpoint name or path; None = registry default; 'none' = fresh
    name: str | None = None  # output checkpoint name (default: data stem + targets)
    output: str | None = None  # explicit .pt path instead of user_dir()/<name>.pt
    epochs: int = 30
    lr: float = 5e-4
    # per process (under torchrun the global batch is world x this); 32, not 16: 1.6x the
    # molecules/s on 2 threads, and as accurate on FreeSolv (compare_uncertainty, 3 splits)
    batch_size: int = 32
    val_fraction: float = 0.1
    split_seed: int = 0
    split_col: str | None = None  # a column of train/val/test per row instead of a random split
    patience: int | None = None  # stop after this many epochs without a 0.01% better val score
    freeze: tuple[str, ...] = ()
    new_heads: bool = False
    element_init: str = "group"  # new elements' embedding rows: group, mean or random
    units: dict = field(default_factory=dict)
    device: str = "auto"
    seed: int = 0  # new heads / fresh weights, batch order, SMILES embedding
    dim: int = 64  # fresh models only
    n_layer: int = 3  # fresh models only
    max_minutes: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))
        object.__setattr__(self, "freeze", tuple(self.freeze))
        if not self.targets:
            raise ConfigError("give at least one target column (--target COL)")
        unknown = set(self.freeze) - set(FREEZE_GROUPS)
        if unknown:
            raise ConfigError(f"unknown --freeze groups {sorted(unknown)}; use {FREEZE_GROUPS}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError("epochs and batch size must be positive, lr > 0")
        if self.element_init not in ("group", "mean", "random"):
            raise ConfigError("--new-element-init must be group, mean or random")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError("--val-fraction must be in [0, 1)")

    @classmethod
    def default(cls, name: str):
        """The default of a field (the page's and the CLI's defaults come from here)."""
        return cls.__dataclass_fields__[name].default

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(targets=list(self.targets), freeze=list(self.freeze))
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FinetuneConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def default_name(self) -> str:
        return safe_name(f"{Path(self.data).stem}-{'-'.join(self.targets)}")


def safe_name(text: str) -> str:
    """A file-name-safe checkpoint name ('my data (v2)' -> 'my-data-v2')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "finetuned"


def output_path(config: FinetuneConfig, unique: bool = True) -> Path:
    """Where the checkpoint goes: config.output, else user_dir()/<name>.pt (-2, -3... if taken).

    Jobs fix config.output when they are submitted, so a resumed job keeps its name.
    """
    from pamnet import registry

    if config.output:
        return Path(config.output)
    stem = safe_name(config.name or config.default_name())
    path = registry.user_dir() / f"{stem}.pt"
    k = 2
    while unique and path.exists():
        path, k = registry.user_dir() / f"{stem}-{k}.pt", k + 1
    return path


@dataclass
class FinetuneResult:
    """How a run ended: status 'finished', 'early-stopped', 'budget' or 'cancelled'."""

    status: str
    epochs_done: int
    metrics: list[dict]
    checkpoint: Path | None = None
    card: Path | None = None
    val_mae: dict[str, float] | None = None
    data: dict = field(default_factory=dict)

    def to_frame(self):
        """pandas table, one row per epoch (`metrics_row` columns)."""
        import pandas as pd

        return pd.DataFrame(self.metrics)

    def _repr_html_(self) -> str:
        import html

        mae = ", ".join(f"{t} {v:.4g}" for t, v in (self.val_mae or {}).items()) or "none"
        where = html.escape(str(self.checkpoint)) if self.checkpoint else "no checkpoint written"
        return (
            f"<div><b>fine-tune {html.escape(self.status)}</b> &middot; {self.epochs_done} "
            f"epochs &middot; validation MAE {html.escape(mae)}<br><code>{where}</code>"
            f"{self.to_frame().tail(5).to_html(index=False, float_format=lambda x: f'{x:.4g}')}"
            "</div>"
        )


def metrics_row(m) -> dict:
    """Flat per-epoch record: train_loss and val_loss (both normalized), val_mae_<target>."""
    row = {
        "epoch": m.epoch,
        "step": m.step,
        "train_loss": m.train_loss,
        "val_loss": m.val_score,
        "lr": m.lr,
        "elapsed_s": m.elapsed_s,
        "molecules_per_s": m.molecules_per_s,
    }
    row.update({f"val_mae_{t}": v for t, v in (m.val_mae or {}).items() if math.isfinite(v)})
    return row
