"""Evaluating a QM9 model on its documented split, on DFT or MMFF geometries."""

from __future__ import annotations

import numpy as np
import torch

from pamnet import qm9, qm9_mmff
from pamnet.device import resolve as resolve_device
from pamnet.errors import DataError
from pamnet.inference import mae, predict_graphs
from pamnet.qm9 import TARGETS, UNITS
from pamnet.uncertainty import DEFAULT_LEVEL


def _split_data(loaded, split_name: str, limit: int | None, geometry: str, rows=None):
    """(molecules, rows asked for) of a split of the checkpoint's documented split."""
    if split_name not in ("train", "val", "test"):
        raise DataError(f"split must be train, val or test, got {split_name!r}")
    if geometry not in ("dft", "mmff"):
        raise DataError(f"geometry must be dft or mmff, got {geometry!r}")
    unknown = [t for t in loaded.targets if t not in TARGETS]
    if unknown:
        raise DataError(f"the checkpoint predicts {unknown}, which are not QM9 targets")
    seed = int(loaded.metadata.get("split", {}).get("seed", 0))
    rows = qm9.split(seed)[split_name] if rows is None else rows
    rows = rows[:limit] if limit else rows
    data = qm9.load(rows) if geometry == "dft" else qm9_mmff.load_mmff(rows)[0]
    return data, rows


def evaluate(
    loaded,
    split_name: str = "test",
    limit: int | None = None,
    geometry: str = "dft",
    batch_size: int = 128,
    device: str | torch.device = "auto",
    level: float = DEFAULT_LEVEL,
) -> dict:
    """MAE per target of a loaded QM9 model on a split of its own documented split.

    Returns {"mae": {target: MAE}, "units": {target: unit}, "n": molecules} plus
    "skipped" (molecules whose MMFF geometry could not be built) for geometry "mmff",
    and, for a calibrated checkpoint, "level", "coverage" {target: fraction of true
    values inside the intervals}, "width" {target: mean interval width} and "domain"
    {level: molecules}.
    """
    data, rows = _split_data(loaded, split_name, limit, geometry)
    graphs = data.graphs()
    cols = [TARGETS.index(t) for t in loaded.targets]
    y = data.y[:, cols]
    device = resolve_device(device)
    cal = loaded.calibration
    model = loaded.combined.to(device)
    norm = loaded.normalization
    if cal is not None and graphs:
        pred, lat = predict_graphs(model, graphs, norm, batch_size, device, latent=True)
    else:
        pred = predict_graphs(model, graphs, norm, batch_size, device)
    err = mae(pred, y) if len(graphs) else torch.full((len(cols),), float("nan"))
    out = {
        "mae": {t: float(e) for t, e in zip(loaded.targets, err)},
        "units": {t: UNITS[t] for t in loaded.targets},
        "n": len(graphs),
    }
    if geometry == "mmff":
        out["skipped"] = len(rows) - len(graphs)
    if cal is not None and graphs:
        out.update(
            interval_report(cal, pred.numpy(), y.numpy(), lat, data.n_atoms().numpy(), level)
        )
    return out


def interval_report(cal, pred, y, latents, n_atoms, level: float = DEFAULT_LEVEL) -> dict:
    """Coverage and mean width of `cal`'s intervals at `level` on held-out predictions,
    overall and by latent-distance domain (structures past `cal.r_near` vs the rest)."""
    r = cal.ratio(latents)
    far = r > cal.r_near
    cover, width = {}, {}
    by = {"in-domain": ~far, "near or outside": far}
    cover_by = {name: {} for name in by}
    width_by = {name: {} for name in by}

    def mean(x, rows):
        return float(x[rows].mean()) if rows.any() else float("nan")

    for k, t in enumerate(cal.targets):
        hw = cal.half_width(t, r, n_atoms, level)
        ok = np.isfinite(y[:, k])
        inside = (np.abs(pred[:, k] - y[:, k]) <= hw).astype(float)
        cover[t] = mean(inside, ok)
        width[t] = float(2 * hw.mean())
        for name, rows in by.items():
            cover_by[name][t] = mean(inside, ok & rows)
            width_by[name][t] = mean(2 * hw, rows)
    return {
        "level": level,
        "coverage": cover,
        "width": width,
        "coverage_by_domain": cover_by,
        "width_by_domain": width_by,
        "domain": {name: int(rows.sum()) for name, rows in by.items()},
    }


def calibrate(
    loaded,
    geometry: str = "dft",
    limit: int | None = None,
    batch_size: int = 128,
    device: str | torch.device = "auto",
):
    """A `Calibration` for a QM9 model from its validation split (never trained on),
    on `geometry`; the latent bank from `BANK_SIZE` training molecules spread over their
    sizes (`bank_rows`)."""
    from pamnet.uncertainty import BANK_SIZE, bank_rows
    from pamnet.uncertainty import calibrate as fit

    device = resolve_device(device)
    model = loaded.combined.to(device)
    norm = loaded.normalization
    val, _ = _split_data(loaded, "val", limit, geometry)
    seed = int(loaded.metadata.get("split", {}).get("seed", 0))
    train_rows = qm9.split(seed)["train"]
    pick = bank_rows(qm9.heavy_atoms()[train_rows.numpy()], BANK_SIZE)
    train, _ = _split_data(loaded, "train", None, geometry, rows=train_rows[pick])
    _, bank = predict_graphs(model, train.graphs(), norm, batch_size, device, latent=True)
    pred, lat = predict_graphs(model, val.graphs(), norm, batch_size, device, latent=True)
    cols = [TARGETS.index(t) for t in loaded.targets]
    limits = {
        "dataset": "QM9",
        "max_heavy": qm9.MAX_HEAVY,
        "max_atoms": qm9.MAX_ATOMS,
        "charged": False,
        "geometry": geometry,
    }
    source = f"QM9 validation split, {geometry.upper()} geometries"
    return fit(
        pred.numpy(), val.y[:, cols].numpy(), lat, val.n_atoms().numpy(), bank,
        loaded.targets, limits, source,
    )  # fmt: skip
