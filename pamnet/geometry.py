"""Graph construction in plain PyTorch: radius and kNN graphs, triplets, angles.

Edges are `edge_index = [src, dst]` ([2, E] long). All functions work on CPU and
CUDA tensors. Neighbour search uses a cell list (cells of edge `r`, 27 neighbour
cells per atom), so work and memory grow with the number of atoms times the
local density, never with N x N; queries are processed in chunks to bound the
candidate buffer.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from pamnet.errors import ConfigError, TooLargeError

# Candidate pairs examined at once; bounds peak memory of a search (~40 B/pair).
_CHUNK_CANDIDATES = 1 << 22

_OFFSETS = torch.tensor(
    [(dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1)],
    dtype=torch.long,
)


def _empty_edges(device: torch.device) -> Tensor:
    return torch.empty(2, 0, dtype=torch.long, device=device)


def _segments(counts: Tensor) -> tuple[Tensor, Tensor]:
    """For groups of sizes `counts`: (group id, position in group) of each item."""
    total = int(counts.sum())
    group = torch.repeat_interleave(torch.arange(counts.numel(), device=counts.device), counts)
    start = torch.cumsum(counts, 0) - counts
    within = torch.arange(total, device=counts.device) - start[group]
    return group, within


def radius(
    x: Tensor,
    y: Tensor,
    r: float,
    batch_x: Tensor | None = None,
    batch_y: Tensor | None = None,
) -> Tensor:
    """All pairs (y_idx, x_idx) with |x - y| <= r and equal batch ids.

    x: [Nx, 3], y: [Ny, 3]. Returns [2, E] long, row 0 indexing y, row 1 x,
    grouped by y index.
    """
    device = x.device
    if x.shape[0] == 0 or y.shape[0] == 0:
        return _empty_edges(device)
    if not r > 0:
        raise ConfigError(f"the cutoff must be a positive distance in Å, got {r}")
    batch_x = (
        torch.zeros(x.shape[0], dtype=torch.long, device=device) if batch_x is None else batch_x
    )
    batch_y = (
        torch.zeros(y.shape[0], dtype=torch.long, device=device) if batch_y is None else batch_y
    )

    # Integer cell coordinates, shifted so every neighbour cell index is >= 0.
    lo = torch.minimum(x.detach().amin(0), y.detach().amin(0))
    cx = torch.floor((x.detach() - lo) / r).long() + 1
    cy = torch.floor((y.detach() - lo) / r).long() + 1
    ext = torch.maximum(cx.amax(0), cy.amax(0)) + 2  # [3]
    nb = int(torch.maximum(batch_x.max(), batch_y.max())) + 1
    if nb * float(ext.prod()) >= 2**62:
        raise TooLargeError(
            "the structure is too spread out for a neighbour search at this cutoff "
            "(coordinates far apart): check the coordinates, or cut out the region you need"
        )

    def key(b: Tensor, c: Tensor) -> Tensor:
        return ((b * ext[0] + c[:, 0]) * ext[1] + c[:, 1]) * ext[2] + c[:, 2]

    kx = key(batch_x, cx)
    kx_sorted, order = torch.sort(kx)
    offsets = _OFFSETS.to(device)
    r2 = r * r
    rows, cols = [], []
    ny = y.shape[0]
    # Estimate candidates per query from the mean cell occupancy to size chunks.
    occupancy = x.shape[0] / max(1, torch.unique_consecutive(kx_sorted).numel())
    step = max(1, int(_CHUNK_CANDIDATES / max(1.0, 27 * occupancy)))
    for s in range(0, ny, step):
        q = torch.arange(s, min(ny, s + step), device=device)
        nkey = key(batch_y[q].repeat_interleave(27), (cy[q][:, None, :] + offsets).reshape(-1, 3))
        lo_i = torch.searchsorted(kx_sorted, nkey, side="left")
        hi_i = torch.searchsorted(kx_sorted, nkey, side="right")
        counts = hi_i - lo_i
        group, within = _segments(counts)
        cand = order[lo_i[group] + within]
        qi = q.repeat_interleave(27)[group]
        d2 = (y[qi].detach() - x[cand].detach()).pow(2).sum(-1)
        keep = d2 <= r2
        rows.append(qi[keep])
        cols.append(cand[keep])
    row = torch.cat(rows)
    col = torch.cat(cols)
    return torch.stack([row, col])


def radius_graph(pos: Tensor, r: float, batch: Tensor | None = None, loop: bool = False) -> Tensor:
    """Edges between atoms of the same batch id within `r` Å, both directions.

    pos: [N, 3]. Returns [2, E] long `[src, dst]`, no self loops unless `loop`.
    """
    edge = radius(pos, pos, r, batch, batch)
    if not loop:
        edge = edge[:, edge[0] != edge[1]]
    return edge


def radius_pairs(pos: Tensor, r: float, batch: Tensor | None = None) -> Tensor:
    """Each unordered pair of atoms of the same batch id within `r` Å once: [2, P] long
    with row 0 < row 1 (`radius_graph` is these and their reverses)."""
    edge = radius(pos, pos, r, batch, batch)
    return edge[:, edge[0] < edge[1]]


def knn(
    x: Tensor, y: Tensor, k: int, batch_x: Tensor | None = None, batch_y: Tensor | None = None
) -> Tensor:
    """For each point of y, its k nearest points of x with the same batch id.

    Returns [2, E] long, row 0 indexing y (the query), row 1 x; a query itself
    is among its neighbours when y is x. Fewer than k when its batch is smaller.
    Grown from a cell-list radius search, so large structures stay linear.
    """
    device = x.device
    if x.shape[0] == 0 or y.shape[0] == 0 or k <= 0:
        return _empty_edges(device)
    batch_x = (
        torch.zeros(x.shape[0], dtype=torch.long, device=device) if batch_x is None else batch_x
    )
    batch_y = (
        torch.zeros(y.shape[0], dtype=torch.long, device=device) if batch_y is None else batch_y
    )
    nb = int(torch.maximum(batch_x.max(), batch_y.max())) + 1
    size_x = torch.bincount(batch_x, minlength=nb)
    want = torch.clamp(size_x[batch_y], max=k)  # neighbours each query can have

    # First radius: the 90th percentile of the exact k-th neighbour distance of a
    # sample of queries (brute force on the sample only), so most finish in one pass.
    n_sample = max(1, min(256, y.shape[0], (1 << 24) // max(1, x.shape[0])))
    sample = torch.randperm(y.shape[0], generator=torch.Generator().manual_seed(0))[:n_sample]
    sample = sample.to(device)
    d2 = torch.cdist(y[sample].detach(), x.detach()).pow(2)  # [S, Nx]
    d2 = d2.masked_fill(batch_y[sample][:, None] != batch_x[None, :], math.inf)
    kth = d2.topk(int(want[sample].max()), dim=1, largest=False).values[:, -1]
    kth = kth[torch.isfinite(kth)]
    r = float(kth.quantile(0.9).sqrt()) * 1.01 + 1e-3 if kth.numel() else 1.0
    pending = torch.arange(y.shape[0], device=device)
    rows, cols = [], []
    while pending.numel():
        e = radius(x, y[pending], r, batch_x, batch_y[pending])
        q_local, cand = e[0], e[1]
        found = torch.bincount(q_local, minlength=pending.numel())
        done = found >= want[pending]
        if bool(done.any()):
            sel = done[q_local]
            ql, c = q_local[sel], cand[sel]
            d2 = (y[pending][ql].detach() - x[c].detach()).pow(2).sum(-1)
            # One sort by (query, distance): d2 / (r^2 + 1) lies in [0, 1).
            o = torch.argsort(ql.double() + d2.double() / (r * r + 1.0))
            ql, c = ql[o], c[o]
            _, within = _segments(torch.bincount(ql, minlength=pending.numel()))
            keep = within < want[pending][ql]
            rows.append(pending[ql[keep]])
            cols.append(c[keep])
        pending = pending[~done]
        r *= 1.6
    row, col = torch.cat(rows), torch.cat(cols)
    o = torch.argsort(row, stable=True)
    return torch.stack([row[o], col[o]])


def knn_graph(pos: Tensor, k: int, batch: Tensor | None = None) -> Tensor:
    """`knn(pos, pos, k)` as edges `[query, neighbour]`, self pairs included."""
    return knn(pos, pos, k, batch, batch)


def remove_self_loops(edge_index: Tensor) -> Tensor:
    return edge_index[:, edge_index[0] != edge_index[1]]


def edge_distances(edge_index: Tensor, pos: Tensor) -> Tensor:
    """|pos[dst] - pos[src]| per edge, [E]."""
    src, dst = edge_index
    return (pos[dst] - pos[src]).pow(2).sum(-1).sqrt()


class TwoHop(NamedTuple):
    """Paths k -> j -> i over directed edges (k != i): [T] each."""

    idx_i: Tensor
    idx_j: Tensor
    idx_k: Tensor
    idx_kj: Tensor  # edge k -> j
    idx_ji: Tensor  # edge j -> i


class OneHop(NamedTuple):
    """Pairs of edges (j -> i, j2 -> i) into the same atom: [P] each.

    As in the official code, each edge is also paired with itself (j2 == j,
    angle pi): its mask removes only self loops.
    """

    idx_i: Tensor  # shared target i
    idx_j: Tensor  # source of the edge being updated
    idx_j2: Tensor  # source of the neighbouring edge
    idx_jj: Tensor  # edge j2 -> i
    idx_ji: Tensor  # edge j -> i


def _incoming(edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor, Tensor]:
    """Edges sorted by target, with start pointer and in-degree per node."""
    dst = edge_index[1]
    order = torch.argsort(dst, stable=True)
    indeg = torch.bincount(dst, minlength=num_nodes)
    ptr = torch.cumsum(indeg, 0) - indeg
    return order, ptr, indeg


def two_hop(edge_index: Tensor, num_nodes: int) -> TwoHop:
    """All two-hop paths k -> j -> i of a directed graph, excluding k == i."""
    src, dst = edge_index
    order, ptr, indeg = _incoming(edge_index, num_nodes)
    e_id, within = _segments(indeg[src])  # for edge j->i, the edges into j
    idx_kj = order[ptr[src[e_id]] + within]
    idx_i, idx_j, idx_k = dst[e_id], src[e_id], src[idx_kj]
    keep = idx_i != idx_k
    return TwoHop(idx_i[keep], idx_j[keep], idx_k[keep], idx_kj[keep], e_id[keep])


def one_hop(edge_index: Tensor, num_nodes: int) -> OneHop:
    """All ordered pairs of edges into the same atom (self pairs kept, see OneHop)."""
    src, dst = edge_index
    order, ptr, indeg = _incoming(edge_index, num_nodes)
    e_id, within = _segments(indeg[dst])  # for edge j->i, the edges into i
    idx_jj = order[ptr[dst[e_id]] + within]
    keep = dst[e_id] != src[idx_jj]
    e_id, idx_jj = e_id[keep], idx_jj[keep]
    return OneHop(dst[e_id], src[e_id], src[idx_jj], idx_jj, e_id)


def _angle(u: Tensor, v: Tensor) -> Tensor:
    """Angle between vectors in [0, pi], stable for near-parallel vectors."""
    return torch.atan2(torch.linalg.cross(u, v).norm(dim=-1), (u * v).sum(-1))


def two_hop_angles(pos: Tensor, t: TwoHop) -> Tensor:
    """Angle between (pos_j - pos_i) and (pos_k - pos_j), [T]."""
    return _angle(pos[t.idx_j] - pos[t.idx_i], pos[t.idx_k] - pos[t.idx_j])


def one_hop_angles(pos: Tensor, p: OneHop) -> Tensor:
    """Angle between (pos_i - pos_j) and (pos_j2 - pos_i), [P] (official convention)."""
    return _angle(pos[p.idx_i] - pos[p.idx_j], pos[p.idx_j2] - pos[p.idx_i])
