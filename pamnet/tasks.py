"""Tasks: the one place that says what differs between PAMNet's three settings.

A `Task` (looked up by name with `get_task`) owns how a structure becomes model
input (featurizer), how a batch becomes local and global graphs (graph builder),
how atoms pool into the prediction (readout), the official cutoffs, and what the
atoms carry (element types, or complex-mode feature vectors). The model receives
one and never branches on the task's name.

| task | local graph | global graph | readout | atom input |
| --- | --- | --- | --- | --- |
| molecule | chemical bonds | pairs within cutoff_g | sum | element types (QM9: H, C, N, O, F) |
| complex | pairs within cutoff_l | pairs within cutoff_g | E(complex) - E(pocket) - E(ligand) | 18 features |
| rna | kNN within cutoff_l | kNN within cutoff_g | mean | C, N, O types |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple, Protocol

import torch
from torch import Tensor

from pamnet import featurize, geometry
from pamnet.data import Batch, GraphInput, collate
from pamnet.errors import ConfigError


class Graphs(NamedTuple):
    """Edges `[src, dst]` and their lengths (Å) for the two layers.

    sym_g: the global edges are pairs listed twice, first one way then reversed
    (edge_g[:, E/2 + k] is edge_g[:, k] flipped, same distance), so the global layer
    computes each pair's distance features once. Only `Graphs.symmetric` sets it.
    """

    edge_g: Tensor  # [2, Eg]
    dist_g: Tensor  # [Eg]
    edge_l: Tensor  # [2, El]
    dist_l: Tensor  # [El]
    sym_g: bool = False

    @classmethod
    def symmetric(cls, pairs: Tensor, dist: Tensor, edge_l: Tensor, dist_l: Tensor) -> Graphs:
        """Global edges from undirected `pairs` [2, P] with lengths [P]: both directions,
        first the pairs as given then reversed, flagged `sym_g`."""
        edge_g = torch.cat([pairs, pairs.flip(0)], 1)  # [2, 2P]
        return cls(edge_g, torch.cat([dist, dist]), edge_l, dist_l, sym_g=True)


class GraphBuilder(Protocol):
    def __call__(self, batch: Batch, cutoff_l: float, cutoff_g: float) -> Graphs: ...


def _with_dist(edge: Tensor, pos: Tensor) -> tuple[Tensor, Tensor]:
    edge = geometry.remove_self_loops(edge)
    return edge, geometry.edge_distances(edge, pos)


def bonded_graphs(batch: Batch, cutoff_l: float, cutoff_g: float) -> Graphs:
    """Small molecules: local = chemical bonds, global = pairs within cutoff_g."""
    if batch.bond_index is None:
        raise ConfigError("molecule mode needs bonds (bond_index) for the local graph")
    pairs, dist = _pairs_within(batch, cutoff_g)
    edge_l, dist_l = _with_dist(batch.bond_index, batch.pos)
    return Graphs.symmetric(pairs, dist, edge_l, dist_l)


def radius_graphs(batch: Batch, cutoff_l: float, cutoff_g: float) -> Graphs:
    """Complexes: global = pairs within cutoff_g, local = those within cutoff_l."""
    pairs, dist = _pairs_within(batch, cutoff_g)
    g = Graphs.symmetric(pairs, dist, pairs[:, :0], dist[:0])
    keep = g.dist_g <= cutoff_l
    return g._replace(edge_l=g.edge_g[:, keep], dist_l=g.dist_g[keep])


def _pairs_within(batch: Batch, r: float) -> tuple[Tensor, Tensor]:
    """Undirected pairs [2, P] within r (same part) and their distances [P]."""
    pairs = geometry.radius_pairs(batch.pos, r, batch.part)
    return pairs, geometry.edge_distances(pairs, batch.pos)


@dataclass(frozen=True)
class KnnGraphs:
    """RNA: kNN edges [query, neighbour] (self included, then dropped), then both cutoffs."""

    k: int = 50

    def __call__(self, batch: Batch, cutoff_l: float, cutoff_g: float) -> Graphs:
        edge, dist = _with_dist(geometry.knn_graph(batch.pos, self.k, batch.part), batch.pos)
        g, local = dist <= cutoff_g, dist <= cutoff_l
        return Graphs(edge[:, g], dist[g], edge[:, local], dist[local])


def sum_weights(batch: Batch) -> Tensor:
    """Readout weight per atom for a signed sum, [N]."""
    return batch.sign


def mean_weights(batch: Batch) -> Tensor:
    """Readout weight per atom for a signed mean over each structure, [N]."""
    n = torch.bincount(batch.graph, minlength=batch.num_graphs).clamp(min=1)
    return batch.sign / n[batch.graph].to(batch.sign.dtype)


@dataclass(frozen=True)
class Task:
    """Everything that differs between PAMNet's settings (see the module's table).

    featurize(structure, **kw) -> GraphInput; build_graphs(batch, cutoff_l, cutoff_g)
    -> Graphs; readout_weights(batch) -> [N] weight of each atom in the prediction
    (prediction = sum of weighted atom outputs); cutoffs: the official (local,
    global) radii in Å; atom_input: 'types' (an embedding of `elements`, in this
    order) or 'features' (complex mode's per-atom feature vectors).
    """

    name: str
    featurize: Callable[..., GraphInput]
    build_graphs: GraphBuilder
    readout_weights: Callable[[Batch], Tensor]
    cutoffs: tuple[float, float]
    atom_input: str
    elements: tuple[str, ...] | None

    def cutoffs_or_default(
        self, cutoff_l: float | None = None, cutoff_g: float | None = None
    ) -> tuple[float, float]:
        """The given cutoffs (Å), the task's defaults where None."""
        dl, dg = self.cutoffs
        return float(dl if cutoff_l is None else cutoff_l), float(
            dg if cutoff_g is None else cutoff_g
        )

    def graphs(
        self, inp: GraphInput | Batch, cutoff_l: float | None = None, cutoff_g: float | None = None
    ) -> Graphs:
        """The local and global graphs of one input (or a batch) at these cutoffs."""
        batch = inp if isinstance(inp, Batch) else collate([inp])
        return self.build_graphs(batch, *self.cutoffs_or_default(cutoff_l, cutoff_g))


# Cutoffs (local, global) in Å of the official PAMNet scripts (main_qm9.py,
# main_pdbbind.py, main_rna.py).
TASKS: dict[str, Task] = {
    "molecule": Task(
        "molecule", featurize.molecule_input, bonded_graphs, sum_weights, (5.0, 5.0),
        "types", tuple(featurize.QM9_TYPES),
    ),
    "complex": Task(
        "complex", featurize.complex_input, radius_graphs, sum_weights, (2.0, 6.0),
        "features", None,
    ),
    "rna": Task(
        "rna", featurize.rna_input, KnnGraphs(), mean_weights, (2.6, 20.0),
        "types", tuple(featurize.RNA_TYPES),
    ),
}  # fmt: skip
TASK_NAMES = tuple(TASKS)


def get_task(name: str, knn_k: int | None = None) -> Task:
    """The task called `name`; knn_k: RNA's neighbour count (default 50)."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; use one of {', '.join(TASK_NAMES)}")
    task = TASKS[name]
    if knn_k is not None and isinstance(task.build_graphs, KnnGraphs):
        task = replace(task, build_graphs=KnnGraphs(knn_k))
    return task


def task_for(config) -> Task:
    """The task a `ModelConfig` names, with its kNN size and element table (config
    imports this module, so it is not imported here, not even for the annotation)."""
    task = get_task(config.task, knn_k=config.knn_k)
    elements = getattr(config, "elements", None)
    if elements and task.atom_input == "types":
        task = replace(
            task,
            elements=tuple(elements),
            featurize=_TypedFeaturizer(task.featurize, tuple(elements)),
        )
    return task


@dataclass(frozen=True)
class _TypedFeaturizer:
    """A task's featurizer with the model's element table (picklable, unlike a lambda)."""

    base: Callable[..., GraphInput]
    elements: tuple[str, ...]

    def __call__(self, structure, **kw) -> GraphInput:
        return self.base(structure, elements=self.elements, **kw)


def _pairs(edge: Tensor, n: int) -> Tensor:
    """Unordered pair keys (min * n + max) of directed edges [2, E], unique."""
    lo, hi = torch.minimum(edge[0], edge[1]), torch.maximum(edge[0], edge[1])
    return torch.unique(lo * n + hi)


def edge_counts(
    inp: GraphInput,
    task: str,
    cutoff_l: float | None = None,
    cutoff_g: float | None = None,
    knn_k: int = 50,
) -> dict:
    """Atoms; local, global and non-local (global but not local: what the global layer
    adds) edges, as pairs of atoms (`n_local`, ...) and as the directed edges messages
    run along (`n_local_directed`, ...); and the angle terms PAMNet would use.
    Cutoffs in Å, the task's defaults where None."""
    batch = collate([inp])
    g = get_task(task, knn_k=knn_k).graphs(batch, cutoff_l, cutoff_g)
    n = batch.num_atoms
    local_keys, global_keys = _pairs(g.edge_l, n), _pairs(g.edge_g, n)
    directed_nonlocal = ~torch.isin(g.edge_g[0] * n + g.edge_g[1], g.edge_l[0] * n + g.edge_l[1])
    return {
        "n_atoms": n,
        "n_local": int(local_keys.numel()),
        "n_global": int(global_keys.numel()),
        "n_nonlocal": int((~torch.isin(global_keys, local_keys)).sum()),
        "n_local_directed": int(g.edge_l.shape[1]),
        "n_global_directed": int(g.edge_g.shape[1]),
        "n_nonlocal_directed": int(directed_nonlocal.sum()),
        "n_two_hop": int(geometry.two_hop(g.edge_l, n).idx_i.numel()),
        "n_one_hop": int(geometry.one_hop(g.edge_l, n).idx_i.numel()),
    }
