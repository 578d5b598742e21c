"""Model outputs <-> physical units: one place for normalisation and atom references.

A model learns targets normalised by a `Normalization`: for structure g with atoms i,

    y_g = std * raw_g + sum_i share_i        (physical units)
    share_i = mean (per-atom targets) or mean / n_g (per-structure ones) + atom_ref[type_i]

`per_atom_reference` gives each atom's share [N, T]; `reference_term` is its sum per
structure [G, T]. Inference (`pamnet.inference`) and training both import this module;
neither imports the other for it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pamnet.checkpoint import Normalization
from pamnet.data import Batch


def per_atom_reference(batch: Batch, norm: Normalization) -> Tensor:
    """[N, T] float64: each atom's share of the offset (the mean per atom, or the
    structure's mean split evenly over its atoms, plus the atom's reference)."""
    dev = batch.pos.device
    n = torch.bincount(batch.graph, minlength=batch.num_graphs).to(torch.float64)
    mean = torch.tensor(norm.mean, dtype=torch.float64, device=dev)  # [T]
    per_atom = torch.tensor(norm.per_atom, dtype=torch.bool, device=dev)  # [T]
    share = torch.where(per_atom, mean, mean / n[batch.graph][:, None])  # [N, T]
    if norm.atom_ref is not None:
        table = torch.tensor(norm.atom_ref, dtype=torch.float64, device=dev)  # [types, T]
        share = share + table[batch.atom_type]
    return share


def reference_term(batch: Batch, norm: Normalization) -> Tensor:
    """[G, T] float64: the offset of each structure, the sum of its atoms' shares."""
    share = per_atom_reference(batch, norm)
    out = torch.zeros(batch.num_graphs, share.shape[1], dtype=torch.float64, device=share.device)
    return out.index_add_(0, batch.graph, share)


def _std(norm: Normalization, device) -> Tensor:
    return torch.tensor(norm.std, dtype=torch.float64, device=device)  # [T]


def to_physical(raw: Tensor, batch: Batch, norm: Normalization | None) -> Tensor:
    """Model output [G, T] -> physical units, float64."""
    if norm is None:
        return raw.double()
    return raw.double() * _std(norm, raw.device) + reference_term(batch, norm)


def to_normalized(y: Tensor, batch: Batch, norm: Normalization | None) -> Tensor:
    """Physical targets [G, T] -> what the raw model output should be, float64."""
    if norm is None:
        return y.double()
    return (y.double() - reference_term(batch, norm)) / _std(norm, y.device)


def physical_contributions(contrib: Tensor, batch: Batch, norm: Normalization | None) -> Tensor:
    """Raw per-block, per-atom contributions [L, N, T] -> physical units, float64; each
    atom's offset share is split evenly over the L blocks, so everything sums to
    `to_physical` of the prediction."""
    c = contrib.double()
    if norm is None:
        return c
    return c * _std(norm, c.device) + per_atom_reference(batch, norm)[None] / c.shape[0]
