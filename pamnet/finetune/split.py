"""How a fine-tune's rows are split: at random, or by a column of train/val/test."""

from __future__ import annotations

import torch

from pamnet.errors import DataError
from pamnet.tables import Table

SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val",
               "validation": "val", "test": "test", "testing": "test"}  # fmt: skip


def split_roles(table: Table, column: str) -> list[str]:
    """'train', 'val' or 'test' per row of a split column, or for a row with another
    value, the message saying so."""
    if column not in table.columns:
        raise DataError(
            f"{table.name}: no column {column!r} for the split; columns: {', '.join(table.columns)}"
        )
    out = []
    for v in table.frame[column].tolist():
        text = "" if v is None or (isinstance(v, float) and v != v) else str(v).strip()
        role = SPLIT_NAMES.get(text.lower())
        out.append(role or f"{text[:40]!r} is not train, val or test; mark every row with one")
    return out


def split_indices(
    n: int, val_fraction: float, seed: int, roles: list[str] | None = None
) -> tuple[list[int], list[int]]:
    """(train, val) index lists: from `roles` ('train'/'val' per structure, a split
    column) when given, else random, val getting round(n * fraction), at least 1 if > 0."""
    if roles is not None:
        train = [i for i, r in enumerate(roles) if r == "train"]
        if not train:
            raise DataError("the split column marks no usable row 'train'; nothing to train on")
        return train, [i for i, r in enumerate(roles) if r == "val"]
    if n < 2:
        raise DataError(f"need at least 2 usable rows to train and validate, got {n}")
    n_val = 0 if val_fraction <= 0 else min(n - 1, max(1, round(n * val_fraction)))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return sorted(perm[n_val:]), sorted(perm[:n_val])
