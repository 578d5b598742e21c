"""Model inputs: one structure (`GraphInput`) and a batch of them (`Batch`).

A structure is a set of atoms split into *parts*. Graphs (radius, kNN) are built
inside a part only; the readout sums (or averages) per-atom outputs per
*structure*, each atom weighted by its `sign`. A small molecule or an RNA is one
part with sign +1. A protein-ligand complex is three parts, complex (+1),
pocket (-1) and ligand (-1), so the readout is E(complex) - E(pocket) - E(ligand).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from pamnet.errors import ConfigError


@dataclass
class GraphInput:
    """One structure ready for the model.

    pos: [N, 3] float, Å. atom_type: [N] long embedding index (molecule: H,C,N,O,F
    = 0..4; RNA: C,N,O = 0..2) or None. atom_feat: [N, F] float features (complex
    mode) or None. bond_index: [2, B] long, both directions, the local graph of
    molecule mode, or None. part: [N] long part id (0 when None). sign: [N] float
    readout sign (1 when None). name: free text for tables.
    """

    pos: Tensor
    atom_type: Tensor | None = None
    atom_feat: Tensor | None = None
    bond_index: Tensor | None = None
    part: Tensor | None = None
    sign: Tensor | None = None
    name: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def num_atoms(self) -> int:
        return int(self.pos.shape[0])


@dataclass
class Batch:
    """Several structures concatenated.

    graph: [N] structure id of each atom; part: [N] globally unique part id
    (graphs are built within a part); sign: [N] float; bond_index: [2, B] with
    global atom indices, or None.
    """

    pos: Tensor
    graph: Tensor
    part: Tensor
    sign: Tensor
    num_graphs: int
    atom_type: Tensor | None = None
    atom_feat: Tensor | None = None
    bond_index: Tensor | None = None
    names: list[str] = field(default_factory=list)

    @property
    def num_atoms(self) -> int:
        return int(self.pos.shape[0])

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Batch:
        def mv(t: Tensor | None, floating: bool = False) -> Tensor | None:
            if t is None:
                return None
            if floating and dtype is not None:
                return t.to(device=device, dtype=dtype)
            return t.to(device)

        return replace(
            self,
            pos=mv(self.pos, True),
            graph=mv(self.graph),
            part=mv(self.part),
            sign=mv(self.sign, True),
            atom_type=mv(self.atom_type),
            atom_feat=mv(self.atom_feat, True),
            bond_index=mv(self.bond_index),
        )


def collate(items: list[GraphInput]) -> Batch:
    """Concatenate structures into one `Batch` (atom and part ids offset)."""
    if not items:
        raise ConfigError("collate needs at least one structure")
    pos, graph, part, sign, types, feats, bonds, names = [], [], [], [], [], [], [], []
    atom_off = part_off = 0
    for g, it in enumerate(items):
        n = it.num_atoms
        pos.append(it.pos)
        graph.append(torch.full((n,), g, dtype=torch.long))
        p = it.part if it.part is not None else torch.zeros(n, dtype=torch.long)
        part.append(p.long() + part_off)
        part_off += int(p.max()) + 1 if n else 1
        sign.append(it.sign if it.sign is not None else torch.ones(n, dtype=it.pos.dtype))
        types.append(it.atom_type)
        feats.append(it.atom_feat)
        if it.bond_index is not None:
            bonds.append(it.bond_index.long() + atom_off)
        names.append(it.name)
        atom_off += n
    has_types = [t is not None for t in types]
    has_feats = [f is not None for f in feats]
    if any(has_types) and not all(has_types) or any(has_feats) and not all(has_feats):
        raise ConfigError(
            "cannot batch structures with different kinds of atom input (element types for "
            "molecules and RNA, feature vectors for complexes); predict them separately"
        )
    return Batch(
        pos=torch.cat(pos),
        graph=torch.cat(graph),
        part=torch.cat(part),
        sign=torch.cat(sign),
        num_graphs=len(items),
        atom_type=torch.cat(types).long() if all(has_types) else None,
        atom_feat=torch.cat(feats) if all(has_feats) else None,
        bond_index=torch.cat(bonds, 1) if bonds else None,
        names=names,
    )
