"""The numbers behind the Learn page: force-field terms vs PAMNet's graphs, and what
computing angles on every edge (DimeNet-style) would cost on the same structure.

A classical force field writes the energy as local terms (bond stretching, angle
bending, torsions) plus non-local ones (electrostatics, van der Waals).
PAMNet's local layer sees bonds with their distances and the angles between
pairs of bonds (one-hop: two bonds into the same atom; two-hop: a path k-j-i);
its global layer sees every pair within cutoff_g, distance only. A DimeNet-style
model computes the angle terms on the global graph instead, and their number
grows with the square of the neighbours per atom.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from pamnet.config import ModelConfig
from pamnet.data import GraphInput, collate

# Above this many angle terms a variant is counted but not timed (memory and time grow
# with terms x dim; the Learn page must stay responsive).
MAX_TIMED_TERMS = 200_000
TIMING_DIM = 64  # feature size of the timing model: a 1-block PAMNet of this width


def angle_term_counts(edge: torch.Tensor, num_nodes: int) -> tuple[int, int]:
    """(one-hop, two-hop) angle terms `geometry.one_hop` / `two_hop` would build on a
    symmetric directed graph, from degrees alone (no enumeration)."""
    src, dst = edge
    indeg = torch.bincount(dst, minlength=num_nodes)
    outdeg = torch.bincount(src, minlength=num_nodes)
    one_hop = int((indeg * indeg).sum())  # ordered pairs of edges into the same atom
    two_hop = int((indeg * outdeg).sum()) - int(edge.shape[1])  # k -> j -> i, k != i
    return one_hop, two_hop


def mm_terms(inp: GraphInput, task: str, cutoff_l: float, cutoff_g: float) -> pd.DataFrame:
    """Force-field terms and the PAMNet graph items that play their part, with counts.

    Columns: term, kind (local / non-local), count (unique geometric terms: bonds,
    bond angles, dihedrals, non-bonded pairs within cutoff_g), pamnet (the layer
    and item), pamnet_count (directed edges or angle terms; each bond angle is seen
    from both bonds and in both directions). Counts follow `task`'s graphs
    (molecule: local = bonds; complex: local = pairs within cutoff_l).
    """
    from pamnet.tasks import edge_counts, get_task

    batch = collate([inp])
    g = get_task(task).graphs(batch, cutoff_l, cutoff_g)
    n = batch.num_atoms
    src, dst = g.edge_l
    deg = torch.bincount(src, minlength=n).numpy()
    pairs = {(min(a, b), max(a, b)) for a, b in zip(src.tolist(), dst.tolist())}
    bonds = len(pairs)
    bends = int((deg * (deg - 1) // 2).sum())
    torsions = int(sum((deg[a] - 1) * (deg[b] - 1) for a, b in pairs))
    gsrc, gdst = g.edge_g
    nonbonded = len({(min(a, b), max(a, b)) for a, b in zip(gsrc.tolist(), gdst.tolist())} - pairs)
    c = edge_counts(inp, task, cutoff_l, cutoff_g)
    local = "bonds" if task == "molecule" else f"pairs within {cutoff_l:g} Å"
    angles = c["n_one_hop"] + c["n_two_hop"]
    return pd.DataFrame(
        [
            ("bond stretching", "local", bonds, f"local layer: edges ({local}), distances", c["n_local"]),
            ("angle bending", "local", bends, "local layer: one-hop + two-hop angle terms", angles),
            ("torsions", "local", torsions, "no explicit term: stacked local messages", 0),
            ("electrostatics + van der Waals", "non-local", nonbonded,
             f"global layer: pairs within {cutoff_g:g} Å, distances only", c["n_global"]),
        ],
        columns=["term", "kind", "count", "pamnet", "pamnet_count"],
    )  # fmt: skip


def _timing_input(inp: GraphInput, cfg: ModelConfig) -> GraphInput:
    """`inp` with placeholder atom inputs of the kind `cfg` reads (timings ignore them)."""
    n = inp.num_atoms
    return GraphInput(
        pos=inp.pos,
        atom_type=torch.zeros(n, dtype=torch.long) if cfg.uses_atom_types else None,
        atom_feat=None if cfg.uses_atom_types else torch.zeros(n, cfg.atom_feat_dim),
        bond_index=inp.bond_index,
        part=inp.part,
        sign=inp.sign,
    )


@torch.no_grad()
def angle_cost(
    inp: GraphInput,
    task: str,
    cutoff_l: float,
    cutoff_g: float,
    repeats: int = 15,
    budget_s: float = 1.0,
    max_terms: int = MAX_TIMED_TERMS,
) -> pd.DataFrame:
    """PAMNet vs a DimeNet-style variant of the same 1-block model, on one structure.

    The DimeNet-style variant is the same network (same weights, cutoff_l raised to
    cutoff_g so its angle basis reaches) run with the global graph as its local
    graph: angles on every edge. Rows: 'PAMNet', 'DimeNet-style'. Columns:
    angle-edge graph size (edges), one_hop, two_hop, angle_terms, angle_ms (building
    the angle terms: triplets, angles, basis, embedding), forward_ms (one block, all
    of it), timed (False when over `max_terms`: counted only); on the DimeNet-style
    row, ratio / ratio_low / ratio_high: its block time over PAMNet's, median and
    quartiles over the rounds, and rounds. Atom inputs are placeholders (any element
    works; times do not depend on them). Times are medians over rounds that run both
    models back to back (so a busy moment hits both), on one CPU thread: at least 5
    rounds, then more until the ratio's quartiles are within 10% of it, `repeats`
    rounds or `budget_s` seconds.
    """
    from pamnet.model import PAMNet
    from pamnet.tasks import task_for

    torch.manual_seed(0)
    cfg = ModelConfig(
        task=task, cutoff_l=cutoff_l, cutoff_g=cutoff_g, dim=TIMING_DIM, n_layer=1, num_targets=1
    )
    pamnet = PAMNet(cfg).eval()
    dimenet = PAMNet(ModelConfig(**{**cfg.to_dict(), "cutoff_l": max(cutoff_l, cutoff_g)})).eval()
    dimenet.load_state_dict(pamnet.state_dict())
    batch = collate([_timing_input(inp, cfg)])
    n = batch.num_atoms
    g = task_for(cfg).build_graphs(batch, cutoff_l, cutoff_g)
    variants = {
        "PAMNet": (pamnet, g),
        "DimeNet-style": (dimenet, g._replace(edge_l=g.edge_g, dist_l=g.dist_g)),
    }
    threads = torch.get_num_threads()
    # One thread: the figures then compare the work, not the thread pool (which on a
    # busy CPU can cost 10x on graphs this small). Process-wide, so restored at once.
    torch.set_num_threads(1)
    try:
        return pd.DataFrame(_time_variants(variants, batch, n, repeats, budget_s, max_terms))
    finally:
        torch.set_num_threads(threads)


def _time_variants(variants, batch, n, repeats, budget_s, max_terms) -> list[dict]:
    rows, timed = [], {}
    for name, (model, graphs) in variants.items():
        one, two = angle_term_counts(graphs.edge_l, n)
        rows.append({
            "model": name, "angle_edges": int(graphs.edge_l.shape[1]), "one_hop": one,
            "two_hop": two, "angle_terms": one + two, "angle_ms": float("nan"),
            "forward_ms": float("nan"), "timed": one + two <= max_terms,
        })  # fmt: skip
        if rows[-1]["timed"]:
            model(batch, graphs=graphs)  # warm-up
            timed[name] = (model, graphs)
    if not timed:
        return rows
    times = {name: ([], []) for name in timed}  # angle terms, whole block (s)
    start = time.perf_counter()
    while True:
        for name, (model, graphs) in timed.items():  # back to back, every round
            t0 = time.perf_counter()
            model.angle_terms(batch.pos, graphs, n)
            t1 = time.perf_counter()
            model(batch, graphs=graphs)
            times[name][0].append(t1 - t0)
            times[name][1].append(time.perf_counter() - t1)
        rounds = len(next(iter(times.values()))[1])
        ratio = _ratio(times)
        stable = ratio is not None and ratio[2] - ratio[1] <= 0.1 * ratio[0]
        spent = time.perf_counter() - start
        if rounds >= repeats or (rounds >= 5 and (stable or spent > budget_s)):
            break
    for row in rows:
        if row["model"] in times:
            angle, block = times[row["model"]]
            row["angle_ms"], row["forward_ms"] = 1e3 * np.median(angle), 1e3 * np.median(block)
    if ratio is not None:
        rows[1].update(ratio=ratio[0], ratio_low=ratio[1], ratio_high=ratio[2], rounds=rounds)
    return rows


def _ratio(times: dict) -> tuple[float, float, float] | None:
    """Median and quartiles of the DimeNet-style block time over PAMNet's, per round."""
    if len(times) < 2:
        return None
    pam, dime = (np.asarray(times[k][1]) for k in ("PAMNet", "DimeNet-style"))
    r = dime / pam
    return float(np.median(r)), float(np.quantile(r, 0.25)), float(np.quantile(r, 0.75))


__all__ = ["MAX_TIMED_TERMS", "angle_cost", "angle_term_counts", "mm_terms"]
