"""Colours shared by the 3D views and the Plotly figures.

One diverging map is used everywhere: blue (global / negative) through near-white
(balanced / zero) to red (local / positive), so the attention heat map, the
attention-coloured atoms and the edge colours tell the same story.
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

LOCAL_EDGE = "#d6604d"  # red side: local interactions
GLOBAL_EDGE = "#4393c3"  # blue side: non-local interactions
PROTEIN_GREY = "#c8c8c8"


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def diverging(values: np.ndarray, vmin: float, vmax: float, levels: int | None = None) -> list[str]:
    """'#rrggbb' per value on the diverging map, `vmin` -> blue, `vmax` -> red.

    levels: snap to this many evenly spaced colours (fewer style commands in 3D views).
    """
    v = np.asarray(values, dtype=float).reshape(-1)
    span = vmax - vmin
    t = np.full(v.shape, 0.5) if span <= 0 else np.clip((v - vmin) / span, 0.0, 1.0)
    t = np.nan_to_num(t, nan=0.5)
    if levels is not None and levels > 1:
        t = np.round(t * (levels - 1)) / (levels - 1)
    pos = np.array([p for p, _ in DIVERGING_STOPS])
    rgb = np.stack([_rgb(c) for _, c in DIVERGING_STOPS])  # [S, 3]
    out = np.stack([np.interp(t, pos, rgb[:, k]) for k in range(3)], axis=1)  # [V, 3]
    return ["#{:02x}{:02x}{:02x}".format(*np.rint(c).astype(int)) for c in out]


def symmetric_range(values: np.ndarray) -> float:
    """max |value| (1.0 when all are zero or not finite), for maps centred on 0."""
    v = np.abs(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    m = float(v.max()) if v.size else 0.0
    return m if m > 0 else 1.0
