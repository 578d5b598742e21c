"""Exporting a finished run: the checkpoint where the registry finds it, a Markdown model
card beside it, and the validation-set predictions (for parity plots) in the run folder.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from pathlib import Path

from pamnet.checkpoint import LoadedModel, load_checkpoint, resave, stale_targets
from pamnet.finetune.config import FinetuneResult, output_path
from pamnet.inference import mae, predict_graphs
from pamnet.text import md

VAL_PREDICTIONS = "val_predictions.json"


def export(config, trainer, result, data, val, val_idx, status: str, rows: list[dict], log):
    """Write the checkpoint, its card and val_predictions.json; returns a FinetuneResult."""

    best = load_checkpoint(result.checkpoint_path, trainer.device)
    val_mae = None
    if val is not None:
        pred, lat = predict_graphs(
            best.model, val.graphs, best.normalization, 64, trainer.device, latent=True
        )
        keep = [k for k, t in enumerate(best.targets) if t in data.targets]
        _calibrate(best, data, val, val_idx, pred, lat, keep, trainer.device, log)
        err = mae(pred, val.y)
        val_mae = {best.targets[k]: float(err[k]) for k in keep}
        payload = {
            "targets": [best.targets[k] for k in keep],
            "units": {best.targets[k]: best.units.get(best.targets[k], "") for k in keep},
            "names": [data.names[i] for i in val_idx],
            "rows": [data.rows[i] for i in val_idx],
            "y_true": [[_json_num(val.y[i, k]) for k in keep] for i in range(len(val_idx))],
            "y_pred": [[_json_num(pred[i, k]) for k in keep] for i in range(len(val_idx))],
        }
        (trainer.out_dir / VAL_PREDICTIONS).write_text(json.dumps(payload))
    else:
        best.metadata["intervals"] = {"note": "no validation split: intervals not calibrated"}
    path = output_path(config)
    resave(best, path)
    card = path.with_suffix(".md")
    card.write_text(model_card(path.stem, best, result, val_mae, status))
    log(f"wrote {path}")
    return FinetuneResult(
        status, result.epochs_done, rows, path, card, val_mae, best.metadata.get("finetune", {})
    )


def _calibrate(best, data, val, val_idx, pred, lat, keep, device, log) -> None:
    """Calibrate `best`'s intervals on the validation split (in place), its latent bank
    from the training structures; too small a split is noted instead."""

    from pamnet.uncertainty import BANK_SIZE, MIN_CALIBRATION, bank_rows, calibrate

    targets = [best.targets[k] for k in keep]
    if len(val_idx) < MIN_CALIBRATION:
        note = (
            f"the validation split has {len(val_idx)} structures, under the "
            f"{MIN_CALIBRATION} needed to calibrate intervals: predictions come without "
            "them, and its validation MAE is a rough guide only"
        )
        best.metadata["intervals"] = {"note": note}
        log(f"intervals: {note}")
        return
    held = set(val_idx)
    train_idx = [i for i in range(len(data.graphs)) if i not in held]
    pick = bank_rows([data.graphs[i].num_atoms for i in train_idx], BANK_SIZE)
    bank_graphs = [data.graphs[train_idx[int(i)]] for i in pick]
    _, bank = predict_graphs(best.model, bank_graphs, best.normalization, 64, device, latent=True)
    sizes = [g.num_atoms for g in data.graphs]
    limits = {"dataset": Path(str(data.source)).name, "geometry": data.geometry}
    if data.task == "molecule":
        limits["max_atoms"] = max(sizes[i] for i in train_idx)
    best.calibration = calibrate(
        pred[:, keep].numpy(), val.y[:, keep].numpy(), lat, [sizes[i] for i in val_idx], bank,
        targets, limits, f"the fine-tune's validation split, {len(val_idx)} structures",
    )  # fmt: skip
    best.metadata["intervals"] = {"method": best.calibration.describe()}
    log(f"intervals: calibrated on {len(val_idx)} validation structures")


def _json_num(x) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


def model_card(name: str, loaded: LoadedModel, result, val_mae, status: str) -> str:
    """Markdown card: data, targets, split, epochs and validation MAE. Names, targets,
    units and paths come from the user: escaped (`pamnet.text.md`), so it renders inert."""
    ft = loaded.metadata.get("finetune", {})
    cfg, split = ft.get("config", {}), ft.get("split", {})
    c = loaded.config
    scores = [(m.val_score, m.epoch) for m in result.metrics if m.val_score is not None]
    best_epoch = min(scores)[1] if scores else result.epochs_done
    lines = [
        f"# {md(name)}",
        "",
        f"PAMNet ({c.task}, {c.variant}, dim {c.dim}, {c.n_layer} blocks) "
        + (f"fine-tuned from {md(ft['base'])}." if ft.get("base") else "trained from scratch."),
        "",
        "| target | unit | head | validation MAE |",
        "|---|---|---|---|",
    ]
    stale = stale_targets(loaded.metadata)
    for t in loaded.targets:
        head = "new" if t in ft.get("new_heads", []) else "from base"
        head = "from base, not shown (layers retrained)" if t in stale else head
        mae_txt = f"{val_mae[t]:.4g}" if val_mae and t in val_mae else "not trained here"
        lines.append(f"| {md(t)} | {md(loaded.units.get(t, ''))} | {head} | {mae_txt} |")
    if c.elements:
        lines += ["", f"Elements: {', '.join(c.elements)}."]
    lines += [
        "",
        f"- **Data**: {md(Path(str(ft.get('data'))).name)}: {ft.get('rows_used')} of "
        f"{ft.get('rows')} rows used "
        f"({ft.get('row_errors')} rejected); geometry {loaded.metadata.get('geometry')}.",
        f"- **Split**: random, seed {split.get('seed')}: {split.get('n_train')} train / "
        f"{split.get('n_val')} validation (fraction {split.get('val_fraction')}).",
        f"- **Training**: {result.epochs_done} epochs ({status}; best validation at epoch "
        f"{best_epoch}), lr {cfg.get('lr')}, batch {cfg.get('batch_size')}, frozen: "
        f"{', '.join(cfg.get('freeze') or []) or 'nothing'}; EMA weights of the best epoch.",
        f"- **Intervals**: {md(_intervals_line(loaded))}.",
        f"- **Made**: {datetime.datetime.now().isoformat(timespec='seconds')}.",
    ]
    if stale:
        lines.append(
            f"- **Not shown**: {md(', '.join(stale))} came with the base, but this fine-tune "
            "retrained the layers their heads read, so their values no longer mean what the "
            "base's did; predictions leave them out. To keep them, fine-tune with "
            "`--freeze embeddings,global,local`."
        )
    kept = [t for t in loaded.targets if t not in ft.get("targets", []) and t not in stale]
    if kept and c.elements and len(c.elements) > ft.get("base_elements", len(c.elements)):
        lines.append(
            f"- **Kept from the base**: {md(', '.join(kept))}, predicted only for molecules of "
            f"the base's elements ({', '.join(c.elements[: ft['base_elements']])})."
        )
    return "\n".join(lines) + "\n"


def _intervals_line(loaded: LoadedModel) -> str:
    iv = loaded.metadata.get("intervals") or {}
    if getattr(loaded, "calibration", None) is not None:
        return f"90% by default, {loaded.calibration.describe()}"
    return iv.get("note", "none (not calibrated)")


def val_predictions(out_dir: str | os.PathLike) -> dict | None:
    """The saved validation predictions of a finished run: targets, units, names, rows,
    y_true and y_pred ([n_val][T], None where missing); None before the run finishes."""
    path = Path(out_dir) / VAL_PREDICTIONS
    return json.loads(path.read_text()) if path.is_file() else None
