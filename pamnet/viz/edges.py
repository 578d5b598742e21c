"""3D views of PAMNet's two graphs: local edges solid, non-local edges dashed.

Edges come from the task's graph builder (`pamnet.tasks`) on the featurised input
(`pamnet.featurize`), mapped back to atoms of the structure, so the picture is
exactly the graph the model sees. Each undirected pair is drawn once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from pamnet.data import GraphInput
from pamnet.errors import ConfigError, UnsupportedElementError
from pamnet.structure import Structure, combine
from pamnet.tasks import get_task
from pamnet.viz import html as H
from pamnet.viz.colors import GLOBAL_EDGE, LOCAL_EDGE
from pamnet.viz.view import (
    MolView,
    draw_atoms,
    new_view,
    resolve_focus,
    stick_atoms,
    zoom,
)

CAP_RULES = ("shortest", "even")
LOCAL_RADIUS = 0.17  # wider than the sticks (0.12), so local edges show around bonds


def model_input(structure: Structure, task: str, **featurize_kw) -> GraphInput:
    """The task's featurizer (`tasks.get_task(task).featurize`), except that molecule mode
    also accepts elements outside H, C, N, O, F here: the graphs do not depend on the
    element (atom_type is left None)."""
    try:
        return get_task(task).featurize(structure, **featurize_kw)
    except UnsupportedElementError:
        if task != "molecule":
            raise
    n = structure.n_atoms
    return GraphInput(
        pos=torch.as_tensor(structure.coords, dtype=torch.get_default_dtype()),
        bond_index=torch.as_tensor(structure.bond_index(), dtype=torch.long),
        part=torch.zeros(n, dtype=torch.long),
        name=structure.name,
        meta={"task": "molecule", "note": "elements outside QM9: graphs only"},
    )


def row_index(inp: GraphInput, n_atoms: int, ligand_offset: int = 0) -> np.ndarray:
    """[rows] structure atom index of each model-input row.

    molecule: identity; rna: meta['atom_index']; complex: meta['rows'] (pocket rows
    index the protein, ligand rows the ligand's structure, shifted by `ligand_offset`
    when the ligand was given separately and appended after the protein).
    """
    meta = inp.meta or {}
    if "rows" in meta:
        idx = [i + (ligand_offset if role == "ligand" else 0) for role, i in meta["rows"]]
        return np.asarray(idx, dtype=np.int64)
    if "atom_index" in meta:
        return np.asarray(meta["atom_index"], dtype=np.int64)
    if inp.num_atoms != n_atoms:
        raise ConfigError(
            f"model input has {inp.num_atoms} rows for {n_atoms} atoms and no row map in meta"
        )
    return np.arange(n_atoms, dtype=np.int64)


class EdgePairs(NamedTuple):
    """Undirected pairs (i < j, structure atom indices) and their lengths in Å."""

    local: np.ndarray  # [El, 2]
    local_dist: np.ndarray  # [El]
    nonlocal_: np.ndarray  # [Eg, 2] global pairs that are not local
    nonlocal_dist: np.ndarray  # [Eg]
    atoms: np.ndarray  # structure indices of the atoms the model sees


def _undirected(edge: torch.Tensor, rows: np.ndarray) -> np.ndarray:
    e = rows[edge.cpu().numpy()]  # [2, E] structure indices
    lo, hi = np.minimum(e[0], e[1]), np.maximum(e[0], e[1])
    keep = lo != hi
    if not keep.any():
        return np.zeros((0, 2), dtype=np.int64)
    n = int(hi.max()) + 1
    key = np.unique(lo[keep].astype(np.int64) * n + hi[keep])  # 1-D: far faster than axis=0
    return np.stack([key // n, key % n], axis=1)


def graph_pairs(
    structure: Structure,
    task: str = "molecule",
    cutoff_l: float | None = None,
    cutoff_g: float | None = None,
    knn_k: int = 50,
    inp: GraphInput | None = None,
    ligand_offset: int = 0,
    **featurize_kw,
) -> EdgePairs:
    """Local and non-local (global minus local) pairs of `structure` under `task`.

    inp: the featurised input if you have it (else built with `model_input`).
    """
    if inp is None:
        inp = model_input(structure, task, **featurize_kw)
    rows = row_index(inp, structure.n_atoms, ligand_offset)
    g = get_task(task, knn_k=knn_k).graphs(inp, cutoff_l, cutoff_g)
    local = _undirected(g.edge_l, rows)
    glob = _undirected(g.edge_g, rows)
    n = structure.n_atoms
    is_local = np.isin(glob[:, 0] * n + glob[:, 1], local[:, 0] * n + local[:, 1])
    nonlocal_ = glob[~is_local]

    def lengths(p: np.ndarray) -> np.ndarray:
        return np.linalg.norm(structure.coords[p[:, 1]] - structure.coords[p[:, 0]], axis=1)

    return EdgePairs(local, lengths(local), nonlocal_, lengths(nonlocal_), np.unique(rows))


def cap_pairs(dist: np.ndarray, max_edges: int, rule: str = "shortest") -> np.ndarray:
    """Indices of at most `max_edges` pairs, by `rule`.

    'shortest': the shortest first. 'even': evenly spaced ranks of the pairs sorted
    by length, so the drawn edges span the whole range of distances.
    """
    if rule not in CAP_RULES:
        raise ConfigError(f"cap rule must be one of {CAP_RULES}, got {rule!r}")
    order = np.argsort(dist, kind="stable")
    if len(order) <= max_edges:
        return order
    if max_edges <= 0:
        return order[:0]
    if rule == "shortest":
        return order[:max_edges]
    ranks = np.unique(np.linspace(0, len(order) - 1, max_edges).round().astype(np.int64))
    return order[ranks]


@dataclass
class EdgeView(MolView):
    """A `MolView` of the two graphs, with what was drawn.

    n_local_drawn / n_local_total: local pairs drawn (at most `MAX_LOCAL_EDGES`) /
    in the focus region. n_atoms_drawn / n_atoms_total: atoms sent to the viewer /
    in the structure (over `VIEW_MAX_ATOMS`, a region: the focus, else the atoms
    nearest the centre, plus the drawn edges' ends).
    n_global_drawn / n_global_total: non-local pairs (global minus local) drawn /
    in the focus region before the cap. capped: fewer non-local pairs drawn than
    exist (rule in cap_rule). focus: atom indices zoomed to (None = all).
    """

    n_local_drawn: int = 0
    n_local_total: int = 0
    n_global_drawn: int = 0
    n_global_total: int = 0
    capped: bool = False
    cap_rule: str = "shortest"
    focus: np.ndarray | None = None
    n_atoms_drawn: int = 0
    n_atoms_total: int = 0
    local_pairs: np.ndarray | None = None  # [n_local_drawn, 2]
    global_pairs: np.ndarray | None = None  # [n_global_drawn, 2]


# Work proportional to what is shown: the browser draws every cylinder and line one
# by one, so big structures show a region and the edges are capped (counts stay whole).
VIEW_MAX_ATOMS = 5_000  # above this, the view holds a region, not the whole structure
FOCUS_ATOMS = 1_500  # the automatic region: this many atoms nearest the centre
MAX_LOCAL_EDGES = 3_000  # solid cylinders drawn at most (shortest first)


def _within(s: Structure, atoms: np.ndarray, r: float) -> np.ndarray:
    """Sorted indices of the atoms within `r` Å of any of `atoms` (those included)."""
    from scipy.spatial import cKDTree

    d, _ = cKDTree(s.coords[atoms]).query(s.coords, distance_upper_bound=r + 1e-6)
    return np.nonzero(d <= r + 1e-6)[0]


def central_atoms(s: Structure, k: int = FOCUS_ATOMS) -> np.ndarray:
    """Indices of the `k` atoms nearest the structure's centroid, sorted."""
    if s.n_atoms <= k:
        return np.arange(s.n_atoms)
    d = np.linalg.norm(s.coords - s.coords.mean(0), axis=1)
    return np.sort(np.argpartition(d, k - 1)[:k])


def edge_view(
    structure: Structure,
    task: str = "molecule",
    cutoff_l: float | None = None,
    cutoff_g: float | None = None,
    show_local: bool = True,
    show_global: bool = True,
    max_global_edges: int = 2000,
    focus=None,
    colors: dict | None = None,
    width: int = 640,
    height: int = 480,
    *,
    cap_rule: str = "shortest",
    ligand: Structure | None = None,
    inp: GraphInput | None = None,
    knn_k: int = 50,
    **featurize_kw,
) -> EdgeView:
    """The local (solid) and non-local (dashed) graphs of `structure` under `task`.

    cutoff_l / cutoff_g: Å, the task's defaults (`Task.cutoffs`) when None.
    max_global_edges: at most this many non-local pairs are drawn, chosen by
    `cap_rule` ('shortest' first, default, or 'even' over the sorted lengths).
    focus: None (complex: the pocket + ligand atoms the model sees; else all),
    'all', 'ligand', 'pocket', or atom indices / [N] bool mask: only edges with an
    end in the focus are drawn and the camera zooms to it. colors: {'local':
    '#rrggbb', 'global': '#rrggbb'}. ligand: a separate ligand for task='complex'
    (drawn appended after the protein). inp: a ready `Task.featurize` result.
    Returns an `EdgeView` (`.view` is the py3Dmol view; `.to_html()` for the app).
    """
    colors = {"local": LOCAL_EDGE, "global": GLOBAL_EDGE, **(colors or {})}
    for key in ("local", "global"):
        H.css_color(colors[key])  # reject anything that is not a plain colour
    shown, offset = structure, 0
    if ligand is not None:
        if task != "complex":
            raise ConfigError("ligand= is only used with task='complex'")
        shown, offset = combine(structure, ligand), structure.n_atoms
        if inp is None:
            inp = model_input(structure, task, ligand=ligand, **featurize_kw)
    n_total = shown.n_atoms
    auto_region = False
    region_first = task == "molecule" and n_total > VIEW_MAX_ATOMS
    if region_first:
        # Region first: every pair with an end in the focus lies within cutoff_g of it,
        # so the graphs of that neighbourhood are exact there (bonds are shorter).
        focus_idx = resolve_focus(shown, focus)
        auto_region = focus_idx is None
        if auto_region:
            focus_idx = central_atoms(shown)
        near = _within(shown, focus_idx, get_task(task).cutoffs_or_default(cutoff_l, cutoff_g)[1])
        new_index = np.full(n_total, -1, dtype=np.int64)
        new_index[near] = np.arange(len(near))
        shown, focus_idx, inp = shown.select(near), new_index[focus_idx], None
    pairs = graph_pairs(
        shown, task, cutoff_l, cutoff_g, knn_k=knn_k, inp=inp, ligand_offset=offset, **featurize_kw
    )
    if not region_first:
        if focus is None and task == "complex":
            focus_idx = pairs.atoms
        else:
            focus_idx = resolve_focus(shown, focus)
            auto_region = focus_idx is None and n_total > VIEW_MAX_ATOMS
            if auto_region:
                focus_idx = central_atoms(shown)

    def in_focus(p: np.ndarray) -> np.ndarray:
        if focus_idx is None:
            return np.ones(len(p), dtype=bool)
        return np.isin(p[:, 0], focus_idx) | np.isin(p[:, 1], focus_idx)

    keep_l = in_focus(pairs.local)
    local, local_d = pairs.local[keep_l], pairs.local_dist[keep_l]
    keep_g = in_focus(pairs.nonlocal_)
    glob, glob_d = pairs.nonlocal_[keep_g], pairs.nonlocal_dist[keep_g]
    chosen = cap_pairs(glob_d, max_global_edges, cap_rule) if show_global else glob_d[:0]
    glob_drawn = glob[np.sort(chosen)] if len(chosen) else np.zeros((0, 2), np.int64)
    chosen_l = cap_pairs(local_d, MAX_LOCAL_EDGES) if show_local else local_d[:0]
    local_drawn = local[np.sort(chosen_l)] if len(chosen_l) else np.zeros((0, 2), np.int64)

    ends = np.concatenate([local_drawn.ravel(), glob_drawn.ravel()]).astype(np.int64)
    if shown.n_atoms > VIEW_MAX_ATOMS:
        # only the region travels to the browser: focus atoms and the drawn edges' ends
        region = np.unique(np.concatenate([focus_idx, ends]))
        new_index = np.full(shown.n_atoms, -1, dtype=np.int64)
        new_index[region] = np.arange(len(region))
        shown, focus_idx = shown.select(region), new_index[focus_idx]
        local_drawn, glob_drawn, ends = (new_index[a] for a in (local_drawn, glob_drawn, ends))
    v = new_view(shown, width, height)
    sticks = stick_atoms(shown, focus_idx)
    sticks[ends] = True
    draw_atoms(v, shown, sticks)
    xyz = np.round(shown.coords, 3)
    for i, j in local_drawn.tolist():
        v.addCylinder(_cylinder(xyz[i], xyz[j], LOCAL_RADIUS, colors["local"]))
    for i, j in glob_drawn.tolist():
        v.addLine(_dashed_line(xyz[i], xyz[j], colors["global"]))
    zoom(v, focus_idx)

    n_g, n_gt = len(glob_drawn), len(glob)
    how = "shortest first" if cap_rule == "shortest" else "evenly sampled by length"
    capped = bool(show_global and n_g < n_gt)
    capped_l = bool(show_local and len(local_drawn) < len(local))
    rows = [
        (
            colors["local"],
            f"local edges (solid): {len(local_drawn)} of {len(local)} pairs"
            + (f", capped at {MAX_LOCAL_EDGES}, shortest first" if capped_l else ""),
        ),
        (
            colors["global"],
            f"non-local edges (dashed): {n_g} of {n_gt} pairs"
            + (f", capped at {max_global_edges}, {how}" if capped else ""),
        ),
    ]
    cl, cg = get_task(task).cutoffs_or_default(cutoff_l, cutoff_g)
    local_rule = "bonds" if task == "molecule" else f"≤ {cl:g} Å"
    legend = (
        '<div class="pamnet-legend">'
        + H.escape(f"{task} graphs: local = {local_rule}, global ≤ {cg:g} Å")
        + "".join(H.swatch(c, t) for c, t in rows)
        + (
            H.escape(
                f"Showing {shown.n_atoms:,} of {n_total:,} atoms: "
                + ("those nearest the centre" if auto_region else "the focus and its edges")
                + "; counts are for the whole structure."
            )
            if shown.n_atoms < n_total
            else ""
        )
        + "</div>"
    )
    return EdgeView(
        view=v,
        legend_html=legend,
        title=shown.name,
        width=width,
        height=height,
        meta={"task": task, "cutoff_l": cl, "cutoff_g": cg},
        n_local_drawn=len(local_drawn),
        n_local_total=len(local),
        n_global_drawn=n_g,
        n_global_total=n_gt,
        capped=capped or capped_l,
        cap_rule=cap_rule,
        n_atoms_drawn=shown.n_atoms,
        n_atoms_total=n_total,
        focus=focus_idx,
        local_pairs=local_drawn,
        global_pairs=glob_drawn,
    )


def _ends(a: np.ndarray, b: np.ndarray) -> dict:
    return {
        "start": {"x": float(a[0]), "y": float(a[1]), "z": float(a[2])},
        "end": {"x": float(b[0]), "y": float(b[1]), "z": float(b[2])},
    }


def _cylinder(a: np.ndarray, b: np.ndarray, radius: float, color: str) -> dict:
    return {**_ends(a, b), "radius": radius, "color": color, "fromCap": 1, "toCap": 1}


def _dashed_line(a: np.ndarray, b: np.ndarray, color: str) -> dict:
    # GL lines, not dashed cylinders: 3Dmol builds a cylinder mesh per dash, which made a
    # binding site's 2,000 non-local edges cost the browser seconds without a GPU
    return {**_ends(a, b), "color": color, "dashed": True, "dashLength": 0.25, "gapLength": 0.2}


__all__ = [
    "CAP_RULES",
    "EdgePairs",
    "EdgeView",
    "cap_pairs",
    "edge_view",
    "graph_pairs",
    "model_input",
    "row_index",
]
