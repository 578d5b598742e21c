"""Tasks: how a structure becomes local and global graphs, and how atoms pool.

Each task is a graph builder plus a readout; the model receives one and never
branches on the task itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

import torch
from torch import Tensor

from pamnet import geometry
from pamnet.config import ModelConfig
from pamnet.data import Batch, GraphInput, collate


class Graphs(NamedTuple):
    """Edges `[src, dst]` and their lengths (Å) for the two layers."""

    edge_g: Tensor  # [2, Eg]
    dist_g: Tensor  # [Eg]
    edge_l: Tensor  # [2, El]
    dist_l: Tensor  # [El]
    # True when the second half of edge_g is its first half reversed (radius graphs):
    # the global layer then computes each pair's distance features once.
    sym_g: bool = False


class GraphBuilder(Protocol):
    def __call__(self, batch: Batch, cutoff_l: float, cutoff_g: float) -> Graphs: ...


def _with_dist(edge: Tensor, pos: Tensor) -> tuple[Tensor, Tensor]:
    edge = geometry.remove_self_loops(edge)
    return edge, geometry.edge_distances(edge, pos)


def bonded_graphs(batch: Batch, cutoff_l: float, cutoff_g: float) -> Graphs:
    """Small molecules: local = chemical bonds, global = pairs within cutoff_g."""
    if batch.bond_index is None:
        raise ValueError("molecule mode needs bonds (bond_index) for the local graph")
    edge_g, dist_g = _both_ways(batch, cutoff_g)
    edge_l, dist_l = _with_dist(batch.bond_index, batch.pos)
    return Graphs(edge_g, dist_g, edge_l, dist_l, sym_g=True)


def radius_graphs(batch: Batch, cutoff_l: float, cutoff_g: float) -> Graphs:
    """Complexes: global = pairs within cutoff_g, local = those within cutoff_l."""
    edge_g, dist_g = _both_ways(batch, cutoff_g)
    keep = dist_g <= cutoff_l
    return Graphs(edge_g, dist_g, edge_g[:, keep], dist_g[keep], sym_g=True)


def _both_ways(batch: Batch, r: float) -> tuple[Tensor, Tensor]:
    """Pairs within r (same part) then the same pairs reversed, and their distances."""
    pairs = geometry.radius_pairs(batch.pos, r, batch.part)
    d = geometry.edge_distances(pairs, batch.pos)
    return torch.cat([pairs, pairs.flip(0)], 1), torch.cat([d, d])


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


class Task(NamedTuple):
    """A graph builder and per-atom readout weights (prediction = sum of weighted atoms)."""

    name: str
    build_graphs: GraphBuilder
    readout_weights: callable


def task_for(config: ModelConfig) -> Task:
    if config.task == "molecule":
        return Task("molecule", bonded_graphs, sum_weights)
    if config.task == "complex":
        return Task("complex", radius_graphs, sum_weights)
    return Task("rna", KnnGraphs(config.knn_k), mean_weights)


def edge_counts(
    inp: GraphInput, task: str, cutoff_l: float, cutoff_g: float, knn_k: int = 50
) -> dict:
    """Atoms, local and global edges (directed), non-local edges (global edges that are
    not local ones: what the global layer adds), and angle terms PAMNet would use."""
    cfg = ModelConfig(
        task=task, cutoff_l=cutoff_l, cutoff_g=cutoff_g, knn_k=knn_k, dim=1, n_layer=1
    )
    batch = collate([inp])
    g = task_for(cfg).build_graphs(batch, cutoff_l, cutoff_g)
    n = batch.num_atoms
    return {
        "n_atoms": n,
        "n_local": int(g.edge_l.shape[1]),
        "n_global": int(g.edge_g.shape[1]),
        "n_nonlocal": int(
            (~torch.isin(g.edge_g[0] * n + g.edge_g[1], g.edge_l[0] * n + g.edge_l[1])).sum()
        ),
        "n_two_hop": int(geometry.two_hop(g.edge_l, n).idx_i.numel()),
        "n_one_hop": int(geometry.one_hop(g.edge_l, n).idx_i.numel()),
    }
