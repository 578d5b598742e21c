"""Plotly figures: attention, contributions, graph cost vs cutoff, training, parity.

Labels from files (atom labels, names) are HTML-escaped before they reach Plotly,
which renders a subset of HTML in text; Plotly shows the escaped text as written.
"""

from __future__ import annotations

import numpy as np

from pamnet import geometry
from pamnet.data import GraphInput, collate
from pamnet.errors import ConfigError
from pamnet.tasks import edge_counts, get_task
from pamnet.viz import html as H
from pamnet.viz.colors import (
    DIVERGING_SCALE,
    GLOBAL_EDGE,
    INTERACTION_STOPS,
    LOCAL_EDGE,
    diverging,
    observed_range,
    symmetric_range,
)
from pamnet.viz.edges import model_input

# Global-share colour scale: high (global) purple ... low (local) orange, as in the 3D views.
GLOBAL_SHARE_SCALE = [[1.0 - p, c] for p, c in reversed(INTERACTION_STOPS)]


def _numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def _labels(labels, n: int) -> list[str]:
    if labels is None:
        return [str(i + 1) for i in range(n)]
    labels = [H.escape(x) for x in labels]
    if len(labels) != n:
        raise ConfigError(f"{len(labels)} atom labels for {n} atoms")
    return labels


def atom_labels(structure) -> list[str]:
    """'C1', 'N7 (ALA A12 N)', ... per atom of a `Structure` (raw text; plots escape it)."""
    return [structure.atom_label(i) for i in range(structure.n_atoms)]


def _rows_of(obj, what: str):
    """(array, row labels or None) from a Prediction or Explanation (`what`: 'attention'
    or 'contributions'), or (obj, None) for a plain array."""
    value = getattr(obj, what, None)
    if value is None or isinstance(obj, np.ndarray) or hasattr(obj, "detach"):
        return obj, None
    rows = getattr(obj, "rows", None)  # an Explanation: one label per model-input row
    if rows is not None and "label" in rows:
        return value, list(rows["label"])
    s = getattr(obj, "structure", None)  # a Prediction of a molecule: rows are its atoms
    n = np.shape(value)[1]
    return value, atom_labels(s) if s is not None and s.n_atoms == n else None


def attention_heatmap(attention, atom_labels=None, title: str = "Fusion attention"):
    """Heat map of the global share of the fusion attention, blocks x atoms.

    attention: [L, N, 2] (global, local), or a Prediction (with attention=True) or an
    Explanation, whose atom labels are then used. z is attention[..., 0], shape [L, N];
    purple = more global, orange = more local, over the range the values show
    (`colors.observed_range`; the colour bar's title says so). Atoms sit at
    x = 0..N-1 with tick labels, so repeated labels stay separate columns.
    """
    import plotly.graph_objects as go

    attention, found = _rows_of(attention, "attention")
    atom_labels = atom_labels if atom_labels is not None else found
    a = _numpy(attention)
    if a.ndim != 3 or a.shape[-1] != 2:
        raise ConfigError(f"attention must be [L, N, 2] (global, local), got {a.shape}")
    n_layer, n = a.shape[:2]
    labels = _labels(atom_labels, n)
    z = a[:, :, 0]  # [L, N]
    lo, hi = observed_range(z)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(range(n)),
            y=[f"block {i + 1}" for i in range(n_layer)],
            customdata=np.tile(np.array(labels, dtype=object), (n_layer, 1)),
            zmin=lo,
            zmax=hi,
            colorscale=GLOBAL_SHARE_SCALE,
            colorbar={
                "title": {"text": "global share<br>(this range;<br>possible 0-1)"},
                "tickvals": [lo, 0.5 * (lo + hi), hi],
                "ticktext": [f"{lo:.3f} local", f"{0.5 * (lo + hi):.3f}", f"{hi:.3f} global"],
            },
            hovertemplate="%{customdata}<br>%{y}<br>global share %{z:.3f}<extra></extra>",
        )
    )
    _atom_axis(fig, labels)
    fig.update_layout(title=H.escape(title), yaxis={"autorange": "reversed"})
    return fig


def _atom_axis(fig, labels: list[str], max_ticks: int = 60) -> None:
    step = max(1, int(np.ceil(len(labels) / max_ticks)))
    ticks = list(range(0, len(labels), step))
    fig.update_xaxes(tickvals=ticks, ticktext=[labels[i] for i in ticks], title="atom")


def contribution_bars(values, atom_labels=None, unit: str = "", title: str = "Contributions"):
    """Bar per atom, coloured on the diverging map symmetric around 0.

    values: [N] (e.g. contributions[:, :, t].sum(0)), or a Prediction (with
    attention=True) or an Explanation: its first target's per-row contributions summed
    over blocks. One bar per value.
    """
    import plotly.graph_objects as go

    values, found = _rows_of(values, "contributions")
    atom_labels = atom_labels if atom_labels is not None else found
    v = _numpy(values)
    v = v[:, :, 0].sum(0) if v.ndim == 3 else v.reshape(-1)
    labels = _labels(atom_labels, len(v))
    vmax = symmetric_range(v)
    fig = go.Figure(
        go.Bar(
            x=list(range(len(v))),
            y=v,
            marker={"color": diverging(v, -vmax, vmax)},
            customdata=labels,
            hovertemplate="%{customdata}<br>%{y:.4g}<extra></extra>",
        )
    )
    _atom_axis(fig, labels)
    fig.update_layout(title=H.escape(title), yaxis_title=H.escape(f"contribution {unit}".strip()))
    return fig


def _two_hop_count(edge, num_nodes: int, limit: int = 2_000_000) -> int:
    """Two-hop paths k -> j -> i (k != i): by `geometry.two_hop` when small, else by degrees.

    The closed form: sum over edges j -> i of indeg(j), minus edges whose reverse exists.
    """
    import torch

    src, dst = edge
    indeg = torch.bincount(dst, minlength=num_nodes)
    total = int(indeg[src].sum())
    if total <= limit:
        return int(geometry.two_hop(edge, num_nodes).idx_i.numel())
    key = src * num_nodes + dst
    back = dst * num_nodes + src
    return total - int(torch.isin(back, key).sum())


def cost_table(
    structure_or_input,
    task: str = "molecule",
    cutoffs=None,
    which: str = "global",
    cutoff_l: float | None = None,
    cutoff_g: float | None = None,
    knn_k: int = 50,
):
    """Edges and angle terms per cutoff, as a DataFrame (one row per cutoff).

    which: 'global' sweeps cutoff_g (cutoff_l fixed), 'local' sweeps cutoff_l
    (cutoff_g fixed; local edges are a subset of global ones for complex/RNA, so
    they plateau beyond cutoff_g), 'both' sets both to each value. Columns:
    cutoff, n_atoms, n_local, n_global, n_two_hop, n_one_hop (PAMNet's local angle
    terms, from `tasks.edge_counts`), pamnet_angles (two-hop + one-hop), and
    dimenet_angles (two-hop triplets of the global graph: angles on every edge).
    """
    import pandas as pd

    if which not in ("global", "local", "both"):
        raise ConfigError(f"which must be 'global', 'local' or 'both', got {which!r}")
    inp = (
        structure_or_input
        if isinstance(structure_or_input, GraphInput)
        else model_input(structure_or_input, task)
    )
    spec = get_task(task, knn_k=knn_k)
    cl0, cg0 = spec.cutoffs_or_default(cutoff_l, cutoff_g)
    if cutoffs is None:
        cutoffs = np.arange(2.0, 10.01, 1.0)
    batch = collate([inp])
    rows = []
    for c in [float(c) for c in cutoffs]:
        cl = c if which in ("local", "both") else cl0
        cg = c if which in ("global", "both") else cg0
        counts = edge_counts(inp, task, cl, cg, knn_k=knn_k)
        g = spec.graphs(batch, cl, cg)
        rows.append(
            {
                "cutoff": c,
                "cutoff_l": cl,
                "cutoff_g": cg,
                **counts,
                "pamnet_angles": counts["n_two_hop"] + counts["n_one_hop"],
                "dimenet_angles": _two_hop_count(g.edge_g, batch.num_atoms),
            }
        )
    return pd.DataFrame(rows)


def cost_vs_cutoff(
    structure_or_input,
    task: str = "molecule",
    cutoffs=None,
    which: str = "global",
    cutoff_l: float | None = None,
    cutoff_g: float | None = None,
    knn_k: int = 50,
    log_y: bool = True,
):
    """Edges and angle terms against a cutoff (Å): PAMNet's cost vs DimeNet-style.

    Lines: local and global edges (pairs of atoms), PAMNet angle terms (two-hop + one-hop
    on the local graph only) and DimeNet-style angles (two-hop triplets on the
    global graph). See `cost_table` for `which` and the numbers themselves.
    """
    import plotly.graph_objects as go

    df = cost_table(structure_or_input, task, cutoffs, which, cutoff_l, cutoff_g, knn_k)
    series = [
        ("n_local", "local edges (pairs)", LOCAL_EDGE, "solid"),
        ("n_global", "global edges (pairs)", GLOBAL_EDGE, "solid"),
        ("pamnet_angles", "PAMNet angle terms (local graph)", LOCAL_EDGE, "dash"),
        ("dimenet_angles", "DimeNet-style angles (global graph)", "#555555", "dot"),
    ]
    fig = go.Figure()
    for col, name, color, dash in series:
        fig.add_trace(
            go.Scatter(
                x=df["cutoff"],
                y=df[col],
                name=name,
                mode="lines+markers",
                line={"color": color, "dash": dash},
            )
        )
    fixed = (
        f"cutoff_l = {df['cutoff_l'].iloc[0]:g} Å"
        if which == "global"
        else f"cutoff_g = {df['cutoff_g'].iloc[0]:g} Å"
        if which == "local"
        else ""
    )
    fig.update_layout(
        title=H.escape(
            f"Graph cost vs {'both cutoffs' if which == 'both' else 'cutoff_' + which[0]}"
            + (f" ({fixed})" if fixed else "")
        ),
        xaxis_title="cutoff (Å)",
        yaxis_title="count",
        yaxis_type="log" if log_y else "linear",
    )
    if log_y:  # ticks at powers of ten only: no "5, 2, 1000, 5, 2" minor labels
        fig.update_yaxes(dtick=1, exponentformat="none", separatethousands=True)
    return fig


def loss_curves(
    metrics, x: str | None = None, y=None, log_y: bool = False, title: str = "Training"
):
    """Lines of each loss/metric column against epoch (or step).

    metrics: list of dicts (one per epoch), a DataFrame, or a `FinetuneResult` /
    anything with `.metrics`, e.g. with epoch, train_loss, val_loss, val_mae. x: the x
    column ('epoch', else 'step', else the row number). y: the columns to plot; default
    every column whose name ends in 'loss', else every numeric column but x.
    """
    import pandas as pd
    import plotly.graph_objects as go

    metrics = getattr(metrics, "metrics", metrics)

    df = metrics if isinstance(metrics, pd.DataFrame) else pd.DataFrame(list(metrics))
    if x is None:
        x = next((c for c in ("epoch", "step") if c in df.columns), None)
    xs = df[x] if x is not None else pd.Series(range(1, len(df) + 1))
    if y is None:
        numeric = [c for c in df.columns if c != x and pd.api.types.is_numeric_dtype(df[c])]
        y = [c for c in numeric if str(c).endswith("loss")] or numeric
    fig = go.Figure()
    for col in [y] if isinstance(y, str) else y:
        fig.add_trace(go.Scatter(x=xs, y=df[col], name=H.escape(col), mode="lines+markers"))
    fig.update_layout(
        title=H.escape(title),
        xaxis_title=H.escape(x or "epoch"),
        yaxis_title="value",
        yaxis_type="log" if log_y else "linear",
    )
    if log_y:
        fig.update_yaxes(dtick=1, exponentformat="power")
    return fig


def parity_plot(y_true, y_pred, target: str = "", unit: str = "", labels=None):
    """Predicted vs true with the y = x line; MAE, RMSE and R² in the title.

    labels: optional text per point (e.g. structure names; escaped) for hover.
    """
    import plotly.graph_objects as go

    t = _numpy(y_true).reshape(-1)
    p = _numpy(y_pred).reshape(-1)
    if t.shape != p.shape:
        raise ConfigError(f"y_true has {t.size} values, y_pred {p.size}")
    err = p - t
    mae = float(np.abs(err).mean()) if t.size else float("nan")
    rmse = float(np.sqrt((err**2).mean())) if t.size else float("nan")
    ss_tot = float(((t - t.mean()) ** 2).sum()) if t.size else 0.0
    r2 = 1.0 - float((err**2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    lo = float(np.nanmin(np.concatenate([t, p]))) if t.size else 0.0
    hi = float(np.nanmax(np.concatenate([t, p]))) if t.size else 1.0
    u = f" ({unit})" if unit else ""
    text = None if labels is None else _labels(labels, t.size)
    fig = go.Figure(
        [
            go.Scatter(
                x=[lo, hi],
                y=[lo, hi],
                mode="lines",
                name="y = x",
                line={"color": "#888888", "dash": "dash"},
                hoverinfo="skip",
            ),
            go.Scatter(
                x=t,
                y=p,
                mode="markers",
                name=H.escape(target or "prediction"),
                marker={"color": GLOBAL_EDGE, "opacity": 0.7},
                text=text,
                hovertemplate=("%{text}<br>" if text else "")
                + "true %{x:.4g}<br>pred %{y:.4g}<extra></extra>",
            ),
        ]
    )
    fig.update_layout(
        title=H.escape(
            f"{target or 'Prediction'}: MAE {mae:.4g}{' ' + unit if unit else ''}, "
            f"RMSE {rmse:.4g}, "
            + (
                f"R² {r2:.3f}"
                if np.isfinite(r2)
                else f"R² n/a ({t.size} point{'s' * (t.size != 1)})"
            )
            + f", n = {t.size}"
        ),
        xaxis_title=H.escape(f"true{u}"),
        yaxis_title=H.escape(f"predicted{u}"),
    )
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


__all__ = [
    "DIVERGING_SCALE",
    "GLOBAL_SHARE_SCALE",
    "atom_labels",
    "attention_heatmap",
    "contribution_bars",
    "cost_table",
    "cost_vs_cutoff",
    "loss_curves",
    "parity_plot",
]
