"""Atoms coloured by what the model did: fusion attention and contributions.

Both use the diverging map of `pamnet.viz.colors` (blue ... near-white ... red):

* attention_view: the share of the LOCAL layer in the fusion attention,
  0 (all global, blue) ... 0.5 (balanced, white) ... 1 (all local, red);
* contribution_view: per-atom contribution, symmetric around 0: negative blue,
  positive red, the scale running from -max|c| to +max|c|.

Atoms the model does not see (hydrogens and far protein atoms in complex mode,
non-C/N/O atoms in RNA mode) stay in element colours / grey cartoon.
"""

from __future__ import annotations

import numpy as np

from pamnet.errors import ConfigError
from pamnet.structure import Structure
from pamnet.viz import html as H
from pamnet.viz.colors import DIVERGING_STOPS, diverging, symmetric_range
from pamnet.viz.view import (
    LARGE_STRUCTURE,
    MolView,
    draw_atoms,
    new_view,
    resolve_focus,
    stick_atoms,
    zoom,
)

# Atom colours are snapped to this many steps of the map (one style command each).
COLOR_LEVELS = 41


def _numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def per_atom(
    values, n_atoms: int, atom_index=None, reduce: str = "first"
) -> tuple[np.ndarray, np.ndarray]:
    """Row values -> ([n_atoms] values, [n_atoms] bool has-value).

    atom_index: [rows] structure atom of each model-input row (see
    `pamnet.viz.edges.row_index`); identity when None. Complex inputs hold each
    atom up to twice (complex part, then pocket or ligand part): reduce='first'
    keeps the complex part (attention), 'sum' adds them (signed contributions).
    """
    v = _numpy(values).reshape(-1)
    idx = np.arange(len(v)) if atom_index is None else np.asarray(atom_index, dtype=np.int64)
    if len(idx) != len(v):
        raise ConfigError(f"{len(v)} values for {len(idx)} rows in atom_index")
    if len(idx) and (idx.min() < 0 or idx.max() >= n_atoms):
        raise ConfigError(f"atom_index must lie in [0, {n_atoms}); match values to the structure")
    out = np.full(n_atoms, np.nan)
    has = np.zeros(n_atoms, dtype=bool)
    if reduce == "sum":
        out[np.unique(idx)] = 0.0
        np.add.at(out, idx, v)
    elif reduce == "first":
        first = np.unique(idx, return_index=True)[1]
        out[idx[first]] = v[first]
    else:
        raise ConfigError(f"reduce must be 'first' or 'sum', got {reduce!r}")
    has[idx] = True
    return out, has


def local_share(attention, layer: int | None = None) -> np.ndarray:
    """[N] local share of the fusion attention [L, N, 2] (global, local): one layer or the mean."""
    a = _numpy(attention)
    if a.ndim == 1:
        return a
    if a.ndim != 3 or a.shape[-1] != 2:
        raise ConfigError(f"attention must be [L, N, 2] (global, local) or [N], got {a.shape}")
    return a[layer, :, 1] if layer is not None else a[:, :, 1].mean(0)


def _colored_view(s, values, has, vmin, vmax, focus, width, height, legend, title) -> MolView:
    focus_idx = resolve_focus(s, focus)
    if focus_idx is None and s.n_atoms > LARGE_STRUCTURE:
        focus_idx = np.nonzero(has)[0]
    colors = diverging(np.nan_to_num(values, nan=0.5 * (vmin + vmax)), vmin, vmax, COLOR_LEVELS)
    v = new_view(s, width, height)
    draw_atoms(v, s, stick_atoms(s, focus_idx) & has, colors)
    zoom(v, focus_idx)
    return MolView(view=v, legend_html=legend, title=title, width=width, height=height)


def attention_view(
    structure: Structure,
    attention,
    *,
    atom_index=None,
    layer: int | None = None,
    focus=None,
    width: int = 640,
    height: int = 480,
) -> MolView:
    """Atoms coloured by local-vs-global preference of the fusion attention.

    attention: [L, N, 2] softmax weights (global, local) from
    `PAMNet(..., return_attention=True)`, or [N] local shares in [0, 1].
    layer: one block (0-based) or None for the mean over blocks. atom_index: [N]
    structure atom of each row (`edges.row_index`), identity when None.
    Colours: blue = global (0), white = balanced (0.5), red = local (1).
    """
    share = local_share(attention, layer)
    values, has = per_atom(share, structure.n_atoms, atom_index, reduce="first")
    which = "mean over blocks" if layer is None else f"block {layer + 1}"
    legend = H.gradient_legend(
        f"fusion attention, local share ({which})",
        DIVERGING_STOPS,
        "global 0",
        "1 local",
    )
    values = np.clip(values, 0.0, 1.0)
    return _colored_view(
        structure, values, has, 0.0, 1.0, focus, width, height, legend, structure.name
    )


def contribution_view(
    structure: Structure,
    values,
    *,
    atom_index=None,
    target: int = 0,
    unit: str = "",
    focus=None,
    width: int = 640,
    height: int = 480,
) -> MolView:
    """Atoms coloured by contribution to the prediction, symmetric around 0.

    values: [N] per-atom values, or [L, N, T] contributions from
    `PAMNet(..., return_contributions=True)` (summed over blocks, column `target`).
    Rows of the same atom (complex parts) are summed. Colours: blue negative,
    white 0, red positive; the scale is ±max|value|.
    """
    v = _numpy(values)
    if v.ndim == 3:
        v = v[:, :, target].sum(0)
    elif v.ndim != 1:
        raise ConfigError(f"contributions must be [N] or [L, N, T], got {v.shape}")
    per, has = per_atom(v, structure.n_atoms, atom_index, reduce="sum")
    vmax = symmetric_range(per[has])
    u = f" {unit}" if unit else ""
    legend = H.gradient_legend(
        "per-atom contribution", DIVERGING_STOPS, f"-{vmax:.3g}{u}", f"+{vmax:.3g}{u}"
    )
    return _colored_view(
        structure, per, has, -vmax, vmax, focus, width, height, legend, structure.name
    )


__all__ = ["attention_view", "contribution_view", "local_share", "per_atom"]
