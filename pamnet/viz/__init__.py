"""Views and figures shared by the app and the notebooks (issue 8).

3D (py3Dmol): `edge_view`, `attention_view`, `channel_view`, `contribution_view` return objects
that show themselves in Jupyter and give a standalone page with `.to_html()`
for Streamlit (`st.iframe(view.to_html(), height=...)`).
Plotly: `attention_heatmap`, `channel_bars`, `contribution_bars`, `cost_vs_cutoff`, `loss_curves`,
`parity_plot` (`attention_heatmap` and `contribution_bars` also take a Prediction or
an Explanation, `loss_curves` a FinetuneResult). No Streamlit import here: pages call these and render.
"""

from __future__ import annotations

from pamnet.viz.channels import channel_bars
from pamnet.viz.colorings import (
    attention_view,
    channel_view,
    contribution_view,
    local_share,
    per_atom,
)
from pamnet.viz.edges import (
    EdgePairs,
    EdgeView,
    edge_view,
    graph_pairs,
    row_index,
)
from pamnet.viz.plots import (
    atom_labels,
    attention_heatmap,
    contribution_bars,
    cost_table,
    cost_vs_cutoff,
    loss_curves,
    parity_plot,
)
from pamnet.viz.view import MolView

__all__ = [
    "EdgePairs",
    "EdgeView",
    "MolView",
    "atom_labels",
    "attention_heatmap",
    "attention_view",
    "channel_bars",
    "channel_view",
    "contribution_bars",
    "contribution_view",
    "cost_table",
    "cost_vs_cutoff",
    "edge_view",
    "graph_pairs",
    "local_share",
    "loss_curves",
    "parity_plot",
    "per_atom",
    "row_index",
]
