"""The QM9 training recipe: the documented split, the model, its normalisation and the
trainer, new or resumed. `pamnet train` only parses options and calls these; notebooks
can too:

    from pamnet import qm9_recipe
    from pamnet.training import TrainConfig
    trainer = qm9_recipe.new_trainer(TrainConfig(epochs=1), limit_train=1000, out_dir="runs/x")
    trainer.fit()
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import torch

from pamnet import qm9, qm9_mmff, registry
from pamnet.checkpoint import Normalization
from pamnet.config import ModelConfig
from pamnet.errors import ConfigError
from pamnet.heads import with_dipole_head
from pamnet.model import PAMNet
from pamnet.training import EpochMetrics, GraphDataset, TrainConfig, Trainer, load_state
from pamnet.training_types import save_state

DATASET = "QM9 (qm9pack CSVs, 130,831 molecules, B3LYP/6-31G(2df,p))"


def datasets(
    targets: list[str],
    split_seed: int = 0,
    limit_train: int | None = None,
    limit_val: int | None = None,
    geometry: str = "dft",
    workers: int = 1,
    log: Callable[[str], None] = print,
) -> tuple[GraphDataset, GraphDataset, qm9.QM9, list[int]]:
    """(train, val, the train molecules, target columns) of the documented split, on DFT
    geometries or MMFF ones rebuilt from the SMILES (molecules that fail are left out)."""
    unknown = [t for t in targets if t not in qm9.TARGETS]
    if unknown:
        raise ConfigError(f"unknown QM9 targets {unknown}; choose from {list(qm9.TARGETS)}")
    cols = [qm9.TARGETS.index(t) for t in targets]
    parts = qm9.split(split_seed)
    rows_train = parts["train"][:limit_train] if limit_train else parts["train"]
    rows_val = parts["val"][:limit_val] if limit_val else parts["val"]
    rows = torch.cat([rows_train, rows_val])
    if geometry == "dft":
        data = qm9.load(rows)  # only these rows parsed without a cache
        n = len(rows_train)
    else:

        def progress(done, total):
            if done % 10_000 == 0:
                log(f"MMFF geometries: {done}/{total}")

        limited = limit_train or limit_val
        if limited or qm9_mmff.mmff_cache_path().is_file():
            data, kept = qm9_mmff.load_mmff(rows, workers=workers, progress=progress)
        else:  # build (and cache) all of QM9 once, then select
            qm9_mmff.load_mmff(workers=workers, progress=progress)
            data, kept = qm9_mmff.load_mmff(rows)
        n = sum(k < len(rows_train) for k in kept)  # molecules that failed are left out
    train, val = data.subset(range(n)), data.subset(range(n, len(data)))
    return (
        GraphDataset(train.graphs(), train.y[:, cols].clone()),
        GraphDataset(val.graphs(), val.y[:, cols].clone()),
        train,
        cols,
    )


def heads_metadata(config: ModelConfig, targets: list[str]) -> dict | None:
    """{target: "dipole"} for a target read out by the dipole head (set now, or
    inherited from an `init` checkpoint); None for the paper's readout."""
    k = config.dipole_target
    return None if k is None else {targets[k]: "dipole"}


def init_metadata(init, name: str | None) -> dict | None:
    """Where the starting weights came from (name, file hash, its own training record)."""
    if init is None:
        return None
    path = registry.resolve(name)
    return {
        "checkpoint": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16],
        "geometry": init.metadata.get("geometry"),
        "training": init.metadata.get("training"),
    }


def new_trainer(
    config: TrainConfig,
    targets: list[str] | None = None,
    geometry: str = "dft",
    init: str | None = None,
    model: ModelConfig | None = None,
    split_seed: int = 0,
    limit_train: int | None = None,
    limit_val: int | None = None,
    out_dir: str | os.PathLike | None = None,
    workers: int = 1,
    callback: Callable[[EpochMetrics], bool | None] | None = None,
    log: Callable[[str], None] = print,
    dipole_head: str | None = None,
) -> Trainer:
    """A trainer for a new run. init: a checkpoint name to start from (its weights,
    targets and normalisation: they were learned together); else a new `model`
    (default dim 64, 3 blocks) on `targets` (default all 12), normalised by the
    training set's statistics with QM9's atom references."""
    start = registry.load(init) if init else None
    if start is not None and targets and list(targets) != list(start.targets):
        raise ConfigError(
            f"--init {init} predicts {start.targets}; leave out --targets or give exactly those"
        )
    targets = list(start.targets if start else (targets or qm9.TARGETS))
    train, val, train_q9, cols = datasets(
        targets, split_seed, limit_train, limit_val, geometry, workers, log
    )
    torch.manual_seed(config.seed)
    if start is not None:
        net, norm = start.model, start.normalization
    else:
        full = qm9.normalization(train_q9)
        norm = Normalization(
            mean=[full.mean[c] for c in cols],
            std=[full.std[c] for c in cols],
            per_atom=[full.per_atom[c] for c in cols],
            atom_ref=[[row[c] for c in cols] for row in full.atom_ref],
        )
        base = model or ModelConfig(dim=64, n_layer=3)
        net = PAMNet(ModelConfig(**{**base.to_dict(), "num_targets": len(targets)}))
    if dipole_head is not None:  # the same weights, `dipole_head` read out as a dipole
        head_config, norm = with_dipole_head(net.config, norm, targets, dipole_head)
        weights, net = net.state_dict(), PAMNet(head_config)
        net.load_state_dict(weights)
    metadata = {
        "dataset": DATASET,
        "geometry": geometry,
        "bonds": (
            "perceived from the geometry like the XYZ reader (Structure.perceive_bonds)"
            if geometry == "dft"
            else "from the SMILES (as for SMILES input in the app)"
        ),
        "init": init_metadata(start, init),
        "heads": heads_metadata(net.config, targets),
        "split": qm9.split_metadata(split_seed),
        "data": {
            "name": "qm9",
            "split_seed": split_seed,
            "limit_train": limit_train,
            "limit_val": limit_val,
            "n_train": len(train),
            "n_val": len(val),
        },
    }
    return Trainer(
        net,
        train,
        norm,
        targets,
        config,
        val=val,
        out_dir=out_dir,
        units={t: qm9.UNITS[t] for t in targets},
        metadata=metadata,
        callback=callback,
    )


def resume_trainer(
    state: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    workers: int = 1,
    callback: Callable[[EpochMetrics], bool | None] | None = None,
    restart_schedule: bool = False,
    log: Callable[[str], None] = print,
    dipole_head: str | None = None,
    **overrides,
) -> Trainer:
    """The trainer of a saved run, on the same data (overrides: TrainConfig fields).

    dipole_head: a target to read out by the dipole head from now on (`pamnet.heads`):
    the state is converted into OUT/state_dipole_start.pt (the best score reset, as
    that target's error starts over) and resumed from there."""
    saved = load_state(state)
    if dipole_head is not None:
        if out_dir is None:
            raise ConfigError("--dipole-head on --resume needs --out for the converted state")
        head_config, norm = with_dipole_head(
            ModelConfig.from_dict(saved["model_config"]),
            Normalization.from_dict(saved["normalization"]),
            saved["targets"],
            dipole_head,
        )
        saved["model_config"], saved["normalization"] = head_config.to_dict(), norm.to_dict()
        saved["best_score"] = float("inf")
        saved["metadata"] = {
            **saved["metadata"],
            "heads": heads_metadata(head_config, saved["targets"]),
        }
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        state = Path(out_dir) / "state_dipole_start.pt"
        save_state(state, saved)
    meta = saved["metadata"].get("data", {})
    train, val, _, _ = datasets(
        saved["targets"],
        meta.get("split_seed", 0),
        meta.get("limit_train"),
        meta.get("limit_val"),
        saved["metadata"].get("geometry", "dft"),
        workers,
        log,
    )
    return Trainer.from_state(
        state,
        train,
        val,
        out_dir=out_dir,
        callback=callback,
        restart_schedule=restart_schedule,
        **overrides,
    )
