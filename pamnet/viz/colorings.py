"""Atoms coloured by what the model did: fusion attention and contributions.

Two palettes of `pamnet.viz.colors`, one meaning each:

* attention_view: the share of the LOCAL layer in the fusion attention, purple (more
  global) ... near-white ... orange (more local), over the range the structure shows;
* channel_view: the share of each atom's learned contribution that came through the
  local layers, in the same purple-orange palette;
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
from pamnet.viz.colors import (
    DIVERGING_STOPS,
    INTERACTION_STOPS,
    diverging,
    observed_range,
    symmetric_range,
)
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


def _colored_view(
    s, values, has, vmin, vmax, focus, width, height, legend, title, stops=DIVERGING_STOPS
) -> MolView:
    focus_idx = resolve_focus(s, focus)
    if focus_idx is None and s.n_atoms > LARGE_STRUCTURE:
        focus_idx = np.nonzero(has)[0]
    mid = 0.5 * (vmin + vmax)
    colors = diverging(np.nan_to_num(values, nan=mid), vmin, vmax, COLOR_LEVELS, stops)
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
    Colours: purple = more global, orange = more local, over the range this structure
    shows (`colors.observed_range`; the legend gives it), not the possible 0-1: a
    trained model's shares often sit near 0.5, and their pattern is the point.
    """
    share = local_share(attention, layer)
    values, has = per_atom(share, structure.n_atoms, atom_index, reduce="first")
    values = np.clip(values, 0.0, 1.0)
    lo, hi = observed_range(values[has])
    which = "mean over blocks" if layer is None else f"block {layer + 1}"
    legend = H.gradient_legend(
        f"local share of the fusion attention ({which}); scale over this structure's "
        "range, the possible one is 0 to 1",
        INTERACTION_STOPS,
        f"{lo:.3f} more global",
        f"more local {hi:.3f}",
    )
    return _colored_view(
        structure, values, has, lo, hi, focus, width, height, legend, structure.name,
        INTERACTION_STOPS,
    )  # fmt: skip


def channel_view(
    structure: Structure,
    via_global,
    via_local,
    *,
    atom_index=None,
    focus=None,
    width: int = 640,
    height: int = 480,
) -> MolView:
    """Atoms coloured by where their learned contribution came from: the local fraction
    |local part| / (|global part| + |local part|) of one target, purple (through the
    global, non-local layers) to orange (through the local layers), over the range this
    structure shows. via_global, via_local: [N] per row (`Explanation.channels` summed
    over blocks); rows of one atom are added first."""
    g, has = per_atom(_numpy(via_global), structure.n_atoms, atom_index, reduce="sum")
    loc, _ = per_atom(_numpy(via_local), structure.n_atoms, atom_index, reduce="sum")
    total = np.abs(g) + np.abs(loc)
    frac = np.where(total > 0, np.abs(loc) / np.where(total > 0, total, 1.0), 0.5)
    lo, hi = observed_range(frac[has])
    legend = H.gradient_legend(
        "share of the atom's learned contribution that came through the local layers; "
        "scale over this structure's range, the possible one is 0 to 1",
        INTERACTION_STOPS,
        f"{lo:.2f} via global",
        f"via local {hi:.2f}",
    )
    return _colored_view(
        structure, frac, has, lo, hi, focus, width, height, legend, structure.name,
        INTERACTION_STOPS,
    )  # fmt: skip


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


__all__ = ["attention_view", "channel_view", "contribution_view", "local_share", "per_atom"]
