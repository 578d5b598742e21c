"""One fine-tune run: config, training with `pamnet.training.Trainer`, export with a card.

`run` resumes from `out_dir/state.pt` when present, stops early on `patience`,
stops within one batch when `stop()` turns true (state saved), and exports the
best EMA weights with a Markdown model card to `registry.user_dir()/<name>.pt`,
where the Predict page lists them. Under `torchrun` the trainer runs DDP as is.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch

from pamnet import distributed
from pamnet.checkpoint import load_checkpoint
from pamnet.data import GraphInput
from pamnet.errors import ConfigError
from pamnet.finetune.config import FRESH, FinetuneConfig, FinetuneResult, metrics_row
from pamnet.finetune.data import FinetuneData, RowError, load_dataset, split_indices
from pamnet.finetune.elements import QM9_ELEMENTS, extended, present, remap
from pamnet.finetune.export import export
from pamnet.finetune.heads import Adapted, adapt, freeze, fresh
from pamnet.model import PAMNet
from pamnet.paths import atomic_write


def _data_key(config: FinetuneConfig) -> str:
    digest = hashlib.sha256(Path(config.data).read_bytes()).hexdigest()[:16]
    cols = [config.targets, config.smiles_col, config.protein_col, config.ligand_col, config.seed,
            config.split_col]  # fmt: skip
    return digest + json.dumps(cols)


def _load_cached(path: Path, key: str) -> FinetuneData | None:
    if not path.is_file():
        return None
    saved = torch.load(path, weights_only=True)
    if saved.get("key") != key:
        return None
    d = saved["data"]
    return FinetuneData(
        **{
            **d,
            "graphs": [GraphInput(**g) for g in d["graphs"]],
            "errors": [RowError(**e) for e in d["errors"]],
        }
    )


def _save_cached(path: Path, key: str, data: FinetuneData) -> None:
    graphs = [{k: v for k, v in vars(g).items() if k != "meta"} for g in data.graphs]
    d = {**vars(data), "graphs": graphs, "errors": [asdict(e) for e in data.errors]}
    atomic_write(path, lambda tmp: torch.save({"key": key, "data": d}, tmp))


def prepare_data(
    config: FinetuneConfig,
    out_dir: Path | None = None,
    log=print,
    stop: Callable[[], bool] | None = None,
) -> FinetuneData:
    """load_dataset for a config, cached in out_dir/dataset.pt (resumes skip featurizing)."""

    key = _data_key(config)
    cached = _load_cached(out_dir / "dataset.pt", key) if out_dir else None
    if cached is not None:
        log(f"data: {len(cached.graphs)} structures from the cache")
        return cached
    last = [0.0]

    def progress(i: int, n: int) -> None:
        if time.monotonic() - last[0] > 2 or i == n:
            last[0] = time.monotonic()
            log(f"featurizing {i}/{n}")

    data = load_dataset(
        config.data,
        config.targets,
        config.smiles_col,
        config.protein_col,
        config.ligand_col,
        root=config.root,
        seed=config.seed,
        progress=progress,
        stop=stop,
        split_col=config.split_col,
        workers=torch.get_num_threads(),  # the cores this job was given (--threads)
    )
    held = f", {data.held_out} test rows held out" if data.held_out else ""
    log(f"data: {len(data.graphs)} of {data.n_rows} rows usable, {len(data.errors)} errors{held}")
    for e in data.errors[:10]:
        log(f"  row {e.row} [{e.column}]: {e.message}")
    if len(data.errors) > 10:
        log(f"  ... {len(data.errors) - 10} more in row_errors.csv")
    if out_dir is not None and distributed.rank() == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        _save_cached(out_dir / "dataset.pt", key, data)
        data.report().to_csv(out_dir / "row_errors.csv", index=False)
    return data


def run(
    config: FinetuneConfig,
    out_dir: str | os.PathLike | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    stop: Callable[[], bool] | None = None,
    log: Callable[[str], None] = print,
    on_first_step: Callable[[], None] | None = None,
) -> FinetuneResult:
    """Fine-tune (or resume, if out_dir/state.pt exists) and export the best checkpoint.

    out_dir: the trainer's folder (state.pt, best.pt, log.jsonl, dataset cache,
    val_predictions.json); None uses a temporary folder. on_epoch(metrics_row) runs
    on rank 0. stop(): checked before every batch (single process) and after
    every epoch; the state is saved and the result's status is 'cancelled'.
    """

    from pamnet.training import GraphDataset, TrainConfig, Trainer, load_state

    if out_dir is None:
        out_dir = Path(tempfile.mkdtemp(prefix="pamnet-finetune-"))
    out_dir = Path(out_dir)
    stop = stop or (lambda: False)
    # torch.optim imports torch._dynamo (1.3 s) on the first optimizer: in a thread, it
    # overlaps the featurizing, whose SMILES embedding waits on worker processes
    threading.Thread(target=importlib.import_module, args=("torch._dynamo",), daemon=True).start()
    data = prepare_data(config, out_dir, log, stop)
    train_idx, val_idx = split_indices(
        len(data.graphs), config.val_fraction, config.split_seed, data.split
    )
    y_train = data.y[train_idx]
    world = distributed.world_size()
    graphs = [data.graphs[i] for i in train_idx]
    first = [on_first_step] if world == 1 and on_first_step is not None else []

    def should_stop() -> bool:
        while first:
            first.pop()()
        return world == 1 and stop()

    train_cfg = TrainConfig(
        epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        warmup_epochs=min(1.0, config.epochs / 10),
        lr_decay=0.98,
        ema_decay=0.99,
        max_minutes=config.max_minutes,
        save_every_minutes=1.0,
        seed=config.seed,
        device=config.device,
        eval_batch_size=64,
    )
    state_path = out_dir / "state.pt"
    resuming = state_path.is_file()
    in_data = present(data.graphs) if data.task == "molecule" else ()
    if resuming:  # the Trainer rebuilds itself from the state; read what the data needs
        state = load_state(state_path)
        targets, new = state["targets"], state["metadata"]["finetune"]["new_heads"]
        elements = state["model_config"].get("elements") or QM9_ELEMENTS
        base_count = state["metadata"]["finetune"].get("base_elements", len(elements))
        log(f"resuming from epoch {state['epoch']} (step {state['step']})")
    else:
        adapted, base, base_count, base_meta = _build(config, data, y_train, in_data)
        model, targets, norm = adapted.model, adapted.targets, adapted.normalization
        units, new = adapted.units, adapted.new
        elements = model.config.elements or QM9_ELEMENTS
        metadata = _metadata(config, data, train_idx, val_idx, new, base)
        metadata["finetune"]["base_elements"] = base_count
        metadata["target_elements"] = _target_elements(
            adapted, base_meta, elements, elements[:base_count], _trunk_trained(config.freeze)
        )
    if data.task == "molecule":
        remap(data.graphs, elements)
        if base_count and len(elements) > base_count:
            log(f"elements: {', '.join(elements[:base_count])} from the base, "
                f"{', '.join(elements[base_count:])} added ({config.element_init} init)")  # fmt: skip
        elif not base_count:
            log(f"elements: {', '.join(elements)} (a new model)")

    def frozen(net: PAMNet) -> None:
        heads = [targets.index(t) for t in new] if "heads" in config.freeze else ()
        added = range(base_count, len(elements)) if data.task == "molecule" else ()
        freeze(net, config.freeze, heads, tuple(added))

    col = {t: k for k, t in enumerate(data.targets)}

    def table(idx):
        y = torch.full((len(idx), len(targets)), math.nan, dtype=torch.float64)
        for k, t in enumerate(targets):
            if t in col:
                y[:, k] = data.y[idx, col[t]]
        return y

    train = GraphDataset(graphs, table(train_idx))
    val = GraphDataset([data.graphs[i] for i in val_idx], table(val_idx)) if val_idx else None
    outcome = {"status": "finished"}
    trainer = None

    def callback(m) -> bool | None:
        row = metrics_row(m)
        mae_txt = " ".join(f"{t}={v:.4g}" for t, v in (m.val_mae or {}).items() if t in col)
        log(f"epoch {m.epoch}/{config.epochs} loss {m.train_loss:.4f} val {mae_txt}")
        if on_epoch is not None:
            on_epoch(row)
        if stop():
            outcome["status"] = "cancelled"
            return False
        if config.patience and _no_progress(trainer.history, config.patience):
            outcome["status"] = "early-stopped"
            log(f"early stop: no better validation score in {config.patience} epochs")
            return False
        return None

    if resuming:
        trainer = Trainer.from_state(
            state_path, train, val, out_dir=out_dir, callback=callback,
            should_stop=should_stop, prepare=frozen, epochs=config.epochs,
            device=config.device, max_minutes=config.max_minutes,
        )  # fmt: skip
    else:
        frozen(model)
        trainer = Trainer(
            model, train, norm, targets, train_cfg, val=val, out_dir=out_dir,
            units=units, metadata=metadata, callback=callback, should_stop=should_stop,
        )  # fmt: skip
    if trainer.rank == 0:
        log(
            f"training {len(train)} structures, validating {len(val_idx)}, on {trainer.device}"
            f"{f' x {trainer.world} processes' if trainer.world > 1 else ''}"
        )
    result = trainer.fit()
    if result.stopped_by_request:
        log(f"cancelled at epoch {trainer.epoch}, batch {trainer.batch_in_epoch}; state saved")
        return FinetuneResult("cancelled", trainer.epoch, [metrics_row(m) for m in trainer.history])
    if result.stopped_by_budget:
        outcome["status"] = "budget"
    if outcome["status"] == "cancelled" and trainer.rank == 0:
        log(f"cancelled at epoch {trainer.epoch}, batch {trainer.batch_in_epoch}; state saved")
    rows = [metrics_row(m) for m in result.metrics]
    distributed.leave()  # rank 0 exports alone, the others may exit
    if outcome["status"] == "cancelled" or trainer.rank != 0:
        return FinetuneResult(outcome["status"], result.epochs_done, rows)
    return export(config, trainer, result, data, val, val_idx, outcome["status"], rows, log)


def _no_progress(history, patience: int, min_rel: float = 1e-4) -> bool:
    """True after `patience` epochs without a val score `min_rel` below the best so far."""
    scores = [m.val_score for m in history if m.val_score is not None]
    best, since = math.inf, 0
    for score in scores:
        if score < best * (1 - min_rel):
            best, since = score, 0
        else:
            since += 1
    return since >= patience


def _build(
    config: FinetuneConfig, data: FinetuneData, y_train: torch.Tensor, in_data: tuple[str, ...]
) -> tuple[Adapted, str | None, int, dict | None]:
    """The model to train, the base checkpoint's name (None for a fresh model), how many
    of the model's elements came from the base (molecule mode), and its metadata."""
    from pamnet import registry

    if config.base == FRESH or (data.task == "complex" and config.base is None):
        elements = in_data or None
        adapted = fresh(
            data.task, data.targets, y_train, config.dim, config.n_layer, config.seed,
            config.units, elements,
        )  # fmt: skip
        return adapted, None, 0, None
    path = registry.resolve(config.base)
    base = load_checkpoint(path)
    if base.config.task != data.task:
        raise ConfigError(
            f"the base checkpoint {path.stem} is a {base.config.task} model but the data are "
            f"{data.task} structures; pick a {data.task} checkpoint or --base none"
        )
    base_elements = base.config.elements or (QM9_ELEMENTS if data.task == "molecule" else ())
    elements = extended(base_elements, in_data) if data.task == "molecule" else None
    adapted = adapt(
        base, data.targets, y_train, config.new_heads, config.units, config.seed,
        elements, config.element_init,
    )  # fmt: skip
    return adapted, path.stem, len(base_elements), base.metadata


def _trunk_trained(freeze) -> bool:
    """Whether a fine-tune changes what the base's heads read (any layer below them)."""
    return not {"embeddings", "global", "local"} <= set(freeze)


def _target_elements(
    adapted: Adapted, base_meta: dict | None, table, base_elements, trunk_trained: bool
) -> dict:
    """Per target, the elements it may be predicted for: the whole table for heads
    trained here; for heads kept from the base, the base's elements (the rows added
    for new elements never met those heads) while the layers they read are frozen, and
    none (stale: `checkpoint.stale_targets`, left out of predictions) once those layers
    are retrained: measured, a full fine-tune moves the kept QM9 heads by several times
    their test error (benchmarks/ablate_new_elements.py)."""
    if adapted.model.config.task != "molecule":
        return {}
    if base_meta is None:
        return {t: list(table) for t in adapted.targets}
    inherited = base_meta.get("target_elements") or {}
    out = {}
    for t in adapted.targets:
        if t in adapted.new:
            out[t] = list(table)
        elif trunk_trained:
            out[t] = []
        else:
            out[t] = list(inherited.get(t, base_elements))
    return out


def _metadata(config, data: FinetuneData, train_idx, val_idx, new, base: str | None) -> dict:
    return {
        "dataset": f"fine-tune data {data.source}",
        "geometry": data.geometry,
        "finetune": {
            "base": base,
            "data": data.source,
            "targets": list(data.targets),
            "new_heads": list(new),
            "rows": data.n_rows,
            "rows_used": len(data.graphs),
            "row_errors": len(data.errors),
            "split": {
                "column": config.split_col,
                "held_out_test_rows": data.held_out,
                "seed": config.split_seed,
                "val_fraction": config.val_fraction,
                "n_train": len(train_idx),
                "n_val": len(val_idx),
                "val_rows": [data.rows[i] for i in val_idx],
            },
            "config": config.to_dict(),
        },
    }
