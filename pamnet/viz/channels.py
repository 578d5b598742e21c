"""Where a prediction comes from: its parts through the local and the global layers."""

from __future__ import annotations

import numpy as np

from pamnet.viz import html as H
from pamnet.viz.colors import GLOBAL_EDGE, ORANGE, PURPLE


def channel_bars(frame, title: str = "Where each prediction comes from"):
    """Per target, one bar split into the learned part that came through the local layers
    (orange) and the part through the global, non-local layers (purple), as fractions of
    the learned total |local| + |global| (targets have different units). The hover gives
    each part in the target's unit, and the offset (mean and atom references) that
    completes the value. frame: `Explanation.channel_frame()`."""
    import plotly.graph_objects as go

    glob = frame["via global"].to_numpy(dtype=float)
    loc = frame["via local"].to_numpy(dtype=float)
    scale = np.abs(glob) + np.abs(loc)
    scale = np.where(scale > 0, scale, 1.0)
    names = [H.escape(f"{t} [{u}]" if u else t) for t, u in zip(frame["target"], frame["unit"])]
    info = np.stack(
        [loc, glob, frame["offset"].to_numpy(dtype=float), frame["value"].to_numpy(dtype=float)], 1
    )
    hover = (
        "%{y}<br>via local %{customdata[0]:.4g}<br>via global %{customdata[1]:.4g}"
        "<br>offset %{customdata[2]:.4g}<br>value %{customdata[3]:.4g}<extra></extra>"
    )
    fig = go.Figure(
        [
            go.Bar(
                y=names,
                x=np.abs(loc) / scale,
                name="through the local layers",
                orientation="h",
                marker={"color": ORANGE},
                customdata=info,
                hovertemplate=hover,
            ),
            go.Bar(
                y=names,
                x=np.abs(glob) / scale,
                name="through the global layers",
                orientation="h",
                marker={"color": PURPLE, "line": {"color": GLOBAL_EDGE}},
                customdata=info,
                hovertemplate=hover,
            ),
        ]  # fmt: skip
    )
    fig.update_layout(
        title=H.escape(title) if title else None,
        barmode="stack",
        xaxis={"title": "share of the learned part (|local| and |global|)", "range": [0, 1]},
        yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        height=150 + 28 * len(names),
        margin={"l": 10, "r": 10, "t": 70 if title else 40, "b": 10},
    )
    return fig


__all__ = ["channel_bars"]
