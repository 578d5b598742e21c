"""Evaluating a QM9 model on its documented split, on DFT or MMFF geometries."""

from __future__ import annotations

import torch

from pamnet import qm9, qm9_mmff
from pamnet.device import resolve as resolve_device
from pamnet.errors import DataError
from pamnet.inference import mae, predict_graphs
from pamnet.qm9 import TARGETS, UNITS


def evaluate(
    loaded,
    split_name: str = "test",
    limit: int | None = None,
    geometry: str = "dft",
    batch_size: int = 128,
    device: str | torch.device = "auto",
) -> dict:
    """MAE per target of a loaded QM9 model on a split of its own documented split.

    Returns {"mae": {target: MAE}, "units": {target: unit}, "n": molecules} plus
    "skipped" (molecules whose MMFF geometry could not be built) for geometry "mmff".
    """
    if split_name not in ("train", "val", "test"):
        raise DataError(f"split must be train, val or test, got {split_name!r}")
    if geometry not in ("dft", "mmff"):
        raise DataError(f"geometry must be dft or mmff, got {geometry!r}")
    unknown = [t for t in loaded.targets if t not in TARGETS]
    if unknown:
        raise DataError(f"the checkpoint predicts {unknown}, which are not QM9 targets")
    seed = int(loaded.metadata.get("split", {}).get("seed", 0))
    rows = qm9.split(seed)[split_name]
    rows = rows[:limit] if limit else rows
    data = qm9.load(rows) if geometry == "dft" else qm9_mmff.load_mmff(rows)[0]
    graphs = data.graphs()
    cols = [TARGETS.index(t) for t in loaded.targets]
    y = data.y[:, cols]
    device = resolve_device(device)
    pred = predict_graphs(loaded.model.to(device), graphs, loaded.normalization, batch_size, device)
    err = mae(pred, y) if len(graphs) else torch.full((len(cols),), float("nan"))
    out = {
        "mae": {t: float(e) for t, e in zip(loaded.targets, err)},
        "units": {t: UNITS[t] for t in loaded.targets},
        "n": len(graphs),
    }
    if geometry == "mmff":
        out["skipped"] = len(rows) - len(graphs)
    return out
