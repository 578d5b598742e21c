"""Cached wrappers of slow `pamnet` calls, shared by the pages.

Models are resources (`st.cache_resource`: loaded once per process); everything
else is a pure result (`st.cache_data`) keyed on a content id (`Session.key`,
`session.input_key`) instead of the structure itself: arguments whose names start
with `_` are not hashed by Streamlit, so the id must change whenever they do.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pamnet import registry
from pamnet.data import GraphInput
from pamnet.predict import Predictor
from pamnet.structure import Structure
from ui.viewer import page_html


# --- device and checkpoints ---------------------------------------------------
@st.cache_resource(show_spinner=False)
def device_label(device: str = "auto") -> str:
    """'GPU: <name>' or 'CPU (n threads)'."""
    from pamnet.device import describe

    return describe(device)


def _checkpoint_files() -> tuple[tuple[str, int], ...]:
    files = []
    for folder in (registry.shipped_dir(), registry.user_dir()):
        if folder.is_dir():
            files += [(str(p), p.stat().st_mtime_ns) for p in sorted(folder.glob("*.pt"))]
    return tuple(files)


@st.cache_data(show_spinner=False, max_entries=8)
def _list_checkpoints(files: tuple[tuple[str, int], ...]) -> list[registry.CheckpointInfo]:
    return registry.list_checkpoints()


def checkpoints() -> list[registry.CheckpointInfo]:
    """Shipped then fine-tuned checkpoints; re-read only when a file appears or changes."""
    return _list_checkpoints(_checkpoint_files())


def default_checkpoint(
    infos: list[registry.CheckpointInfo], geometry: str | None = None
) -> str | None:
    """Name of the registry's default checkpoint for inputs of `geometry` if listed, else
    the first, else None."""
    try:
        stem = registry.resolve(None, geometry).stem
    except registry.CheckpointError:
        stem = None
    names = [i.name for i in infos]
    return stem if stem in names else (names[0] if names else None)


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def predictor(path: str, mtime_ns: int, device: str = "auto") -> Predictor:
    """A `Predictor` for the checkpoint file (reloaded when the file changes)."""
    return Predictor.from_name(path, device)


def mtime_ns(path: str | Path) -> int:
    return Path(path).stat().st_mtime_ns


# --- structure page -------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=16)
def model_input(key: str, task: str, kw: tuple, _structure: Structure) -> GraphInput:
    """`pamnet.viz.edges.model_input` (featurize; any element in molecule mode) of the
    structure with id `key`; kw: featurize keyword arguments as sorted items."""
    from pamnet.viz.edges import model_input as build

    return build(_structure, task, **dict(kw))


@st.cache_data(show_spinner=False, max_entries=64)
def edge_counts(key: str, task: str, kw: tuple, cutoff_l: float, cutoff_g: float, _inp) -> dict:
    """`pamnet.tasks.edge_counts` of the model input of `key`."""
    from pamnet.tasks import edge_counts as count

    return count(_inp, task, cutoff_l, cutoff_g)


@st.cache_data(show_spinner=False, max_entries=16)
def edge_view_html(
    key: str,
    task: str,
    kw: tuple,
    cutoff_l: float,
    cutoff_g: float,
    show_local: bool,
    show_global: bool,
    max_global_edges: int,
    focus: str | None,
    _structure: Structure,
    _inp: GraphInput,
    size: tuple[int, int] = (520, 440),
) -> tuple[str, dict]:
    """(`page_html(edge_view(...))`, what was drawn: n_*_drawn/total, capped, cap_rule,
    height). size: (width, height) of the viewer in px; keep it within its column."""
    from pamnet.viz import edge_view

    v = edge_view(
        _structure,
        task,
        cutoff_l,
        cutoff_g,
        show_local=show_local,
        show_global=show_global,
        max_global_edges=max_global_edges,
        focus=focus,
        inp=_inp,
        width=size[0],
        height=size[1],
        **dict(kw),
    )
    drawn = {
        "n_local_drawn": v.n_local_drawn,
        "n_local_total": v.n_local_total,
        "n_global_drawn": v.n_global_drawn,
        "n_global_total": v.n_global_total,
        "capped": v.capped,
        "cap_rule": v.cap_rule,
        "height": v.height,
    }
    return page_html(v), drawn


# --- predictions ----------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=512)
def predict_chunk(
    chunk_key: str,
    checkpoint_path: str,
    checkpoint_mtime_ns: int,
    device: str,
    kw: tuple,
    names: tuple[str, ...] | None,
    _items: list,
    level: float = 0.9,
    conformers: int = 1,
):
    """(`to_frame`, `to_sdf`, warnings per row) of one batch of items (SMILES or
    Structures) whose content id is `chunk_key`, with intervals at `level` and SMILES
    over `conformers` conformers; names replace the rows' names if given."""
    from pamnet.predict import to_frame, to_sdf

    model = predictor(checkpoint_path, checkpoint_mtime_ns, device)
    preds = model.predict(
        _items, batch_size=max(1, len(_items)), level=level, conformers=conformers, **dict(kw)
    )
    if names is not None:
        for p, name in zip(preds, names, strict=True):
            p.name = name
            if p.structure is not None:
                p.structure.name = name
    return to_frame(preds), to_sdf(preds), [list(p.warnings) for p in preds]


# --- explanations (Attention and Learn pages) ---------------------------------------
@st.cache_data(show_spinner="Explaining the prediction…", max_entries=16)
def explanation(key: str, path: str, mtime: int, kw: tuple, _item, device: str = "auto"):
    """`pamnet.explain.explain` of the item with id `key` under one checkpoint file;
    kw: featurize keyword arguments as sorted items."""
    return explain_now(path, mtime, kw, _item, device)


def explain_now(path: str, mtime: int, kw: tuple, item, device: str = "auto", progress=None):
    """`explanation` without the cache, with progress(fraction, text) per layer: for
    large structures, whose page draws progress (a cached function may not draw into a
    block of the page that called it) and keeps the result in its session."""
    from pamnet.explain import explain

    return explain(item, predictor(path, mtime, device), progress=progress, **dict(kw))


def with_gradients(
    base, path: str, mtime: int, target: str, steps: int, device="auto",
    tolerance: float | None = None, progress=None,
):  # fmt: skip
    """A copy of the explanation `base` plus Integrated Gradients of `target` on atom
    inputs and coordinates, `steps` steps, doubled until they add up within `tolerance`
    when given (see `pamnet.explain.attribute`); progress(fraction, text) after each
    pass (a Streamlit call there lets a click stop it). Not cached, like `explain_now`."""
    import copy

    from pamnet.explain import attribute

    exp, model = copy.deepcopy(base), predictor(path, mtime, device)
    for on in ("atoms", "coords"):
        attribute(exp, model, target, on, steps, tolerance=tolerance, progress=progress)
    return exp


@st.cache_data(show_spinner=False, max_entries=32)
def mm_table(key: str, task: str, cutoff_l: float, cutoff_g: float, _inp):
    """`pamnet.explain.cost.mm_terms` of the input with id `key`."""
    from pamnet.explain.cost import mm_terms

    return mm_terms(_inp, task, cutoff_l, cutoff_g)


@st.cache_data(show_spinner="Timing PAMNet and the DimeNet-style variant…", max_entries=32)
def timing(key: str, task: str, cutoff_l: float, cutoff_g: float, _inp):
    """`pamnet.explain.cost.angle_cost` of the input with id `key`."""
    from pamnet.explain.cost import angle_cost

    return angle_cost(_inp, task, cutoff_l, cutoff_g)


# --- fine-tuning ------------------------------------------------------------------------
@st.cache_data(show_spinner="Reading the data…", max_entries=4)
def finetune_table(data: bytes, name: str):
    """`pamnet.finetune.read_table` of an upload."""
    from pamnet import finetune

    return finetune.read_table(data, name)


@st.cache_data(show_spinner="Checking rows…", max_entries=8)
def row_errors(data: bytes, name: str, cmap):
    """Every row's problems (`finetune.check_rows`) as a table: row, column, message.
    Complex tables name structure files inside `paths.structures_dir()` only."""
    import pandas as pd

    from pamnet import finetune
    from pamnet.paths import structures_dir

    errors = finetune.check_rows(finetune_table(data, name), cmap, root=structures_dir())
    return pd.DataFrame([vars(e) for e in errors], columns=["row", "column", "message"])


@st.cache_resource(show_spinner=False)
def has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()
