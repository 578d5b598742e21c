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


def _best_time(fn, repeats: int, budget_s: float) -> float:
    """Fastest of up to `repeats` runs, fewer once `budget_s` is spent (at least one):
    the least disturbed by other work on the machine."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats and (not times or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.min(times))


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
    repeats: int = 5,
    budget_s: float = 0.5,
    max_terms: int = MAX_TIMED_TERMS,
) -> pd.DataFrame:
    """PAMNet vs a DimeNet-style variant of the same 1-block model, on one structure.

    The DimeNet-style variant is the same network (same weights, cutoff_l raised to
    cutoff_g so its angle basis reaches) run with the global graph as its local
    graph: angles on every edge. Rows: 'PAMNet', 'DimeNet-style'. Columns:
    angle-edge graph size (edges), one_hop, two_hop, angle_terms, angle_ms (building
    the angle terms: triplets, angles, basis, embedding), forward_ms (one block, all
    of it), timed (False when over `max_terms`: counted only). Atom inputs are
    placeholders (any element works; times do not depend on them). Each figure is the
    fastest of up to `repeats` runs within `budget_s` seconds, on one CPU thread.
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
    rows = []
    for name, (model, graphs) in variants.items():
        one, two = angle_term_counts(graphs.edge_l, n)
        row = {
            "model": name,
            "angle_edges": int(graphs.edge_l.shape[1]),
            "one_hop": one,
            "two_hop": two,
            "angle_terms": one + two,
            "angle_ms": float("nan"),
            "forward_ms": float("nan"),
            "timed": one + two <= max_terms,
        }
        if row["timed"]:
            model(batch, graphs=graphs)  # warm-up
            row["angle_ms"] = 1e3 * _best_time(
                lambda m=model, gr=graphs: m.angle_terms(batch.pos, gr, n), repeats, budget_s
            )
            row["forward_ms"] = 1e3 * _best_time(
                lambda m=model, gr=graphs: m(batch, graphs=gr), repeats, budget_s
            )
        rows.append(row)
    return rows


__all__ = ["MAX_TIMED_TERMS", "angle_cost", "angle_term_counts", "mm_terms"]
