"""Colours shared by the 3D views and the Plotly figures: one meaning per palette.

- Signed values (contributions, attributions): blue (negative) through near-white
  (zero) to red (positive), `DIVERGING_*`.
- The two kinds of interaction (edges, fusion attention, the global/local split of a
  contribution): purple (global, non-local) through near-white (balanced) to orange
  (local), `INTERACTION_*`. Colour-blind safe (ColorBrewer PuOr), and never red/blue,
  so "local" is never read as "positive".
"""

from __future__ import annotations

import numpy as np

BLUE = "#2166ac"
WHITE = "#f7f7f7"
RED = "#b2182b"
# (position in [0, 1], colour); a 5-stop RdBu, reversed so that low = blue.
DIVERGING_STOPS: list[tuple[float, str]] = [
    (0.0, BLUE),
    (0.25, "#67a9cf"),
    (0.5, WHITE),
    (0.75, "#ef8a62"),
    (1.0, RED),
]
# Plotly colorscale of the same map.
DIVERGING_SCALE = [[p, c] for p, c in DIVERGING_STOPS]

PURPLE = "#5e3c99"  # global (non-local)
ORANGE = "#e66101"  # local
INTERACTION_STOPS: list[tuple[float, str]] = [
    (0.0, PURPLE),
    (0.25, "#b2abd2"),
    (0.5, WHITE),
    (0.75, "#fdb863"),
    (1.0, ORANGE),
]
INTERACTION_SCALE = [[p, c] for p, c in INTERACTION_STOPS]

LOCAL_EDGE = ORANGE  # local interactions
GLOBAL_EDGE = "#8073ac"  # non-local interactions (a lighter purple: dashed lines)
PROTEIN_GREY = "#c8c8c8"


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def diverging(
    values: np.ndarray,
    vmin: float,
    vmax: float,
    levels: int | None = None,
    stops: list[tuple[float, str]] = DIVERGING_STOPS,
) -> list[str]:
    """'#rrggbb' per value on a map (`stops`, default the signed one), `vmin` -> its
    first colour (blue), `vmax` -> its last (red).

    levels: snap to this many evenly spaced colours (fewer style commands in 3D views).
    """
    v = np.asarray(values, dtype=float).reshape(-1)
    span = vmax - vmin
    t = np.full(v.shape, 0.5) if span <= 0 else np.clip((v - vmin) / span, 0.0, 1.0)
    t = np.nan_to_num(t, nan=0.5)
    if levels is not None and levels > 1:
        t = np.round(t * (levels - 1)) / (levels - 1)
    pos = np.array([p for p, _ in stops])
    rgb = np.stack([_rgb(c) for _, c in stops])  # [S, 3]
    out = np.stack([np.interp(t, pos, rgb[:, k]) for k in range(3)], axis=1)  # [V, 3]
    return ["#{:02x}{:02x}{:02x}".format(*np.rint(c).astype(int)) for c in out]


def symmetric_range(values: np.ndarray) -> float:
    """max |value| (1.0 when all are zero or not finite), for maps centred on 0."""
    v = np.abs(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    m = float(v.max()) if v.size else 0.0
    return m if m > 0 else 1.0


def observed_range(values: np.ndarray, low: float = 0.0, high: float = 1.0, least: float = 0.02):
    """(vmin, vmax) of the finite values, widened to at least `least` around their middle
    and kept in [low, high]: a colour scale over what a molecule actually shows (a model
    whose attention sits at 0.48-0.52 still shows its pattern), not the possible range."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return low, high
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < least:
        mid = 0.5 * (lo + hi)
        lo, hi = mid - least / 2, mid + least / 2
    return max(low, lo), min(high, hi)
