"""Base models for fine-tuning: new output heads, data normalization, freezing by group.

Targets the base checkpoint already predicts keep their heads and normalization;
new targets get new rows in every layer's `W_out` (old rows copied) and a
normalization from the training data. Freeze groups: embeddings (atom input,
radial and spherical bases), global, local (the message-passing layers) and heads
(each layer's `W_out` and fusion score `W`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from pamnet.checkpoint import LoadedModel, Normalization
from pamnet.config import ModelConfig
from pamnet.errors import ConfigError
from pamnet.model import PAMNet
from pamnet.tasks import get_task

FREEZE_GROUPS = ("embeddings", "global", "local", "heads")


def param_group(name: str) -> str:
    """Freeze group of a PAMNet parameter name: embeddings, global, local or heads."""
    parts = name.split(".")
    if parts[0] in ("global_layer", "local_layer"):
        if len(parts) > 2 and parts[2] in ("W_out", "W"):
            return "heads"
        return "global" if parts[0] == "global_layer" else "local"
    return "embeddings"


def freeze(
    model: PAMNet,
    groups: Sequence[str],
    trainable_outputs: Sequence[int] = (),
    trainable_elements: Sequence[int] = (),
) -> dict:
    """Stop training the named groups; returns {group: (trainable, frozen) parameter counts}.

    With 'heads' frozen, outputs `trainable_outputs` (new targets) of every `W_out`
    still learn: their rows keep gradients, the other rows get zero gradients. With
    'embeddings' frozen, the rows `trainable_elements` (elements new to the model) learn.
    """
    unknown = set(groups) - set(FREEZE_GROUPS)
    if unknown:
        raise ConfigError(
            f"unknown freeze groups {sorted(unknown)}; use {', '.join(FREEZE_GROUPS)}"
        )
    counts = {g: [0, 0] for g in FREEZE_GROUPS}
    for pname, p in model.named_parameters():
        group = param_group(pname)
        frozen = group in groups
        rows = trainable_outputs if ".W_out." in f".{pname}" else ()
        rows = trainable_elements if pname == "embeddings" else rows
        if frozen and rows:
            mask = torch.zeros(p.shape[0], *([1] * (p.ndim - 1)), dtype=p.dtype)
            mask[list(rows)] = 1.0
            p.register_hook(lambda g, m=mask: g * m.to(g.device))
            counts[group][0] += int(mask.sum()) * (p.numel() // p.shape[0])
            counts[group][1] += p.numel() - int(mask.sum()) * (p.numel() // p.shape[0])
            continue
        p.requires_grad_(not frozen)
        counts[group][1 if frozen else 0] += p.numel()
    return {g: tuple(c) for g, c in counts.items()}


@dataclass
class Adapted:
    """A model ready to train: all its targets (base ones first) and their normalization."""

    model: PAMNet
    targets: list[str]
    normalization: Normalization
    units: dict[str, str]
    new: list[str]  # targets whose heads start fresh


def data_normalization(y: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-column mean and std of [n, T] targets, NaN skipped (std 1 when undefined)."""
    mean, std = [], []
    for col in y.double().T:
        v = col[~torch.isnan(col)]
        m = float(v.mean()) if len(v) else 0.0
        s = float(v.std()) if len(v) > 1 else 0.0
        mean.append(m)
        std.append(s if s > 1e-12 else 1.0)
    return mean, std


def fresh(
    task: str,
    targets: Sequence[str],
    y_train: torch.Tensor,
    dim: int = 64,
    n_layer: int = 3,
    seed: int = 0,
    units: dict | None = None,
    elements: tuple[str, ...] | None = None,
) -> Adapted:
    """A newly initialised model with the task's official cutoffs (`Task.cutoffs`);
    elements: a molecule model's element table (default QM9's five)."""
    cut_l, cut_g = get_task(task).cutoffs
    torch.manual_seed(seed)
    model = PAMNet(
        ModelConfig(
            task=task,
            dim=dim,
            n_layer=n_layer,
            num_targets=len(targets),
            cutoff_l=cut_l,
            cutoff_g=cut_g,
            elements=elements if task == "molecule" else None,
        )  # fmt: skip
    )
    mean, std = data_normalization(y_train)
    norm = Normalization(mean, std, [False] * len(targets))
    return Adapted(model, list(targets), norm, dict(units or {}), list(targets))


def adapt(
    base: LoadedModel,
    targets: Sequence[str],
    y_train: torch.Tensor,
    new_heads: bool = False,
    units: dict | None = None,
    seed: int = 0,
    elements: tuple[str, ...] | None = None,
    element_init: str = "group",
) -> Adapted:
    """Extend `base` to predict `targets` too; y_train: [n, len(targets)] training values.

    Known targets keep their heads (or, with new_heads, start fresh with a data
    normalization); new ones append rows to every `W_out`. elements: the molecule
    model's new element table, the base's first (`pamnet.finetune.elements`); the
    added elements' embedding rows start as `element_init` says.
    """
    from pamnet.finetune.elements import QM9_ELEMENTS, new_rows

    old = list(base.targets)
    added = [t for t in targets if t not in old]
    fresh_heads = added + ([t for t in targets if t in old] if new_heads else [])
    all_targets = old + added
    base_elements = base.config.elements or (
        QM9_ELEMENTS if base.config.task == "molecule" else None
    )
    grow = elements is not None and tuple(elements) != tuple(base_elements or ())
    if grow and tuple(elements[: len(base_elements)]) != tuple(base_elements):
        raise ConfigError(f"elements {elements} must start with the base's {base_elements}")
    cfg = replace(base.config, num_targets=len(all_targets))
    if grow:
        cfg = replace(cfg, elements=tuple(elements))
    torch.manual_seed(seed)
    model = PAMNet(cfg)
    state = model.state_dict()
    keep = [k for k, t in enumerate(old) if t not in fresh_heads]
    for key, value in base.model.state_dict().items():
        if key.endswith(("W_out.weight", "W_out.bias")):
            state[key][keep] = value[keep].to(state[key].dtype)
        elif key == "embeddings" and grow:
            n = len(base_elements)
            state[key][:n] = value
            state[key][n:] = new_rows(
                value, base_elements, elements[n:], element_init, state[key][n:]
            )
        else:
            state[key] = value
    model.load_state_dict(state)

    base_norm = base.normalization or Normalization(
        [0.0] * len(old), [1.0] * len(old), [False] * len(old)
    )
    mean, std = data_normalization(y_train)
    col = {t: k for k, t in enumerate(targets)}
    norm = Normalization(
        mean=[mean[col[t]] if t in fresh_heads else base_norm.mean[k] for k, t in enumerate(old)]
        + [mean[col[t]] for t in added],
        std=[std[col[t]] if t in fresh_heads else base_norm.std[k] for k, t in enumerate(old)]
        + [std[col[t]] for t in added],
        per_atom=[
            False if t in fresh_heads else bool(base_norm.per_atom[k]) for k, t in enumerate(old)
        ]
        + [False] * len(added),
        atom_ref=None
        if base_norm.atom_ref is None
        else [
            [0.0 if t in fresh_heads else r[k] for k, t in enumerate(old)] + [0.0] * len(added)
            for r in base_norm.atom_ref
        ]
        # elements new to the model: no reference values (their kept targets are not
        # predicted for them; see `target_elements` in the fine-tune's metadata)
        + [[0.0] * len(all_targets)] * (cfg.num_atom_types - len(base_norm.atom_ref)),
    )
    return Adapted(model, all_targets, norm, {**base.units, **(units or {})}, fresh_heads)
