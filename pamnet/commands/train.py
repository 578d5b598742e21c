"""`pamnet train --dataset qm9`: train (or resume) a multi-target PAMNet on QM9."""

from __future__ import annotations

import argparse
import json

from pamnet.commands._options import DEVICE, THREADS
from pamnet.errors import ConfigError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        parents=[DEVICE, THREADS],
        help="train a PAMNet on QM9 (or resume a saved training state)",
        description="Train a PAMNet on QM9 with the documented split (seed 0: 110,000 train, "
        "10,000 validation, the rest test). Writes OUT/state.pt (resumable), OUT/best.pt and "
        "OUT/last.pt (EMA weights) and OUT/log.jsonl.",
    )
    p.add_argument("--dataset", default="qm9", choices=["qm9"])
    p.add_argument(
        "--targets", nargs="+", default=None, help="subset of QM9 targets (default all 12)"
    )
    p.add_argument(
        "--geometry",
        default="dft",
        choices=["dft", "mmff"],
        help="dft: QM9's geometries; mmff: each molecule rebuilt from its SMILES as the app "
        "builds SMILES input (cached after the first build, ~20 CPU-minutes)",
    )
    p.add_argument(
        "--init",
        metavar="CHECKPOINT",
        default=None,
        help="start from this checkpoint's weights, targets and normalization "
        "(e.g. qm9_pamnet to adapt the DFT model to MMFF geometries)",
    )
    p.add_argument("--workers", type=int, default=1, help="processes building MMFF geometries")
    p.add_argument("--variant", default="PAMNet", choices=["PAMNet", "PAMNet_s"])
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--n-layer", type=int, default=3)
    p.add_argument("--cutoff-g", type=float, default=5.0, help="global-graph radius, Å")
    p.add_argument("--epochs", type=int, default=None, help="default 5")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="default 1e-3 (kept on --resume)")
    p.add_argument("--warmup-epochs", type=float, default=None, help="default 1")
    p.add_argument(
        "--lr-decay",
        type=float,
        default=None,
        help="lr factor per epoch after warm-up (default 0.96; may be changed on --resume)",
    )
    p.add_argument(
        "--schedule",
        default=None,
        choices=["exp", "cosine"],
        help="lr after warm-up: exp (x --lr-decay per epoch) or cosine (to 1%% of --lr at the "
        "last epoch); default exp",
    )
    p.add_argument(
        "--restart-schedule",
        action="store_true",
        help="with --resume: a new warm-up and schedule from the saved step (use with "
        "--schedule cosine --lr ... --epochs ...)",
    )
    p.add_argument("--max-minutes", type=float, default=None, help="wall-clock budget")
    p.add_argument("--save-every-minutes", type=float, default=10.0)
    p.add_argument("--limit-train", type=int, default=None, help="use the first N train molecules")
    p.add_argument("--limit-val", type=int, default=None, help="validate on the first N only")
    p.add_argument("--seed", type=int, default=0, help="weight init and batch order")
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--resume", metavar="STATE", default=None, help="continue OUT/state.pt")
    p.add_argument("--out", default="runs/qm9", help="output folder")
    p.set_defaults(func=run)


def _datasets(
    targets: list[str], split_seed: int, limit_train, limit_val, geometry="dft", workers=1
):
    import torch

    from pamnet import qm9
    from pamnet.training import GraphDataset

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
                print(f"MMFF geometries: {done}/{total}", flush=True)

        limited = limit_train or limit_val
        if limited or qm9.mmff_cache_path().is_file():
            data, kept = qm9.load_mmff(rows, workers=workers, progress=progress)
        else:  # build (and cache) all of QM9 once, then select
            qm9.load_mmff(workers=workers, progress=progress)
            data, kept = qm9.load_mmff(rows)
        n = sum(k < len(rows_train) for k in kept)  # molecules that failed are left out
    train, val = data.subset(range(n)), data.subset(range(n, len(data)))
    return (
        GraphDataset(train.graphs(), train.y[:, cols].clone()),
        GraphDataset(val.graphs(), val.y[:, cols].clone()),
        train,
        cols,
    )


def _init_metadata(init, name) -> dict | None:
    """Where the starting weights came from (name, file hash, its own training record)."""
    if init is None:
        return None
    import hashlib

    from pamnet import registry

    path = registry.resolve(name)
    return {
        "checkpoint": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16],
        "geometry": init.metadata.get("geometry"),
        "training": init.metadata.get("training"),
    }


def _print_epoch(m) -> None:
    vals = ""
    if m.val_mae:
        vals = " val MAE " + " ".join(f"{k}={v:.4g}" for k, v in m.val_mae.items())
    print(
        f"epoch {m.epoch} step {m.step} loss {m.train_loss:.4f} lr {m.lr:.2e} "
        f"{m.molecules_per_s:.0f} mol/s {m.elapsed_s / 60:.1f} min{vals}",
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    import torch

    from pamnet import qm9
    from pamnet.checkpoint import Normalization
    from pamnet.config import ModelConfig
    from pamnet.model import PAMNet
    from pamnet.training import TrainConfig, Trainer, load_state

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.resume:
        state = load_state(args.resume)
        meta = state["metadata"].get("data", {})
        train, val, _, _ = _datasets(
            state["targets"],
            meta.get("split_seed", 0),
            meta.get("limit_train"),
            meta.get("limit_val"),
            state["metadata"].get("geometry", "dft"),
            args.workers,
        )
        overrides = {"device": args.device}
        for name in ("epochs", "max_minutes", "lr_decay", "schedule", "warmup_epochs"):
            if getattr(args, name) is not None:
                overrides[name] = getattr(args, name)
        if args.lr is not None:
            overrides["lr"] = args.lr
        trainer = Trainer.from_state(
            args.resume,
            train,
            val,
            out_dir=args.out,
            callback=_print_epoch,
            restart_schedule=args.restart_schedule,
            **overrides,
        )
        print(f"resuming at epoch {trainer.epoch}, step {trainer.step}", flush=True)
    else:
        init = None
        if args.init:
            from pamnet import registry

            init = registry.load(args.init)
            if args.targets and list(args.targets) != list(init.targets):
                raise ConfigError(
                    f"--init {args.init} predicts {init.targets}; leave out --targets "
                    "or give exactly those"
                )
        targets = list(init.targets if init else (args.targets or qm9.TARGETS))
        train, val, train_q9, cols = _datasets(
            targets,
            args.split_seed,
            args.limit_train,
            args.limit_val,
            args.geometry,
            args.workers,
        )
        torch.manual_seed(args.seed)
        if init is not None:
            # the starting model's scales stay: its weights were learned against them
            model, norm = init.model, init.normalization
        else:
            full = qm9.normalization(train_q9)
            norm = Normalization(
                mean=[full.mean[c] for c in cols],
                std=[full.std[c] for c in cols],
                per_atom=[full.per_atom[c] for c in cols],
                atom_ref=[[row[c] for c in cols] for row in full.atom_ref],
            )
            model = PAMNet(
                ModelConfig(
                    variant=args.variant,
                    dim=args.dim,
                    n_layer=args.n_layer,
                    cutoff_g=args.cutoff_g,
                    num_targets=len(targets),
                )
            )
        config = TrainConfig(
            epochs=args.epochs or 5,
            batch_size=args.batch_size,
            lr=args.lr if args.lr is not None else 1e-3,
            warmup_epochs=args.warmup_epochs if args.warmup_epochs is not None else 1.0,
            schedule=args.schedule or "exp",
            lr_decay=args.lr_decay if args.lr_decay is not None else 0.96,
            max_minutes=args.max_minutes,
            save_every_minutes=args.save_every_minutes,
            seed=args.seed,
            device=args.device,
        )
        metadata = {
            "dataset": "QM9 (qm9pack CSVs, 130,831 molecules, B3LYP/6-31G(2df,p))",
            "geometry": args.geometry,
            "bonds": (
                "perceived from the geometry like the XYZ reader (Structure.perceive_bonds)"
                if args.geometry == "dft"
                else "from the SMILES (as for SMILES input in the app)"
            ),
            "init": _init_metadata(init, args.init),
            "split": qm9.split_metadata(args.split_seed),
            "data": {
                "name": "qm9",
                "split_seed": args.split_seed,
                "limit_train": args.limit_train,
                "limit_val": args.limit_val,
                "n_train": len(train),
                "n_val": len(val),
            },
        }
        trainer = Trainer(
            model,
            train,
            norm,
            targets,
            config,
            val=val,
            out_dir=args.out,
            units={t: qm9.UNITS[t] for t in targets},
            metadata=metadata,
            callback=_print_epoch,
        )
        print(
            f"training {len(targets)} targets on {len(train)} molecules "
            f"({trainer.steps_per_epoch} steps/epoch) on {trainer.device}",
            flush=True,
        )
    result = trainer.fit()
    summary = {
        "epochs_done": result.epochs_done,
        "step": result.step,
        "elapsed_min": round(result.elapsed_s / 60, 2),
        "stopped_by_budget": result.stopped_by_budget,
        "state": str(result.state_path),
        "checkpoint": str(result.checkpoint_path),
    }
    print(json.dumps(summary), flush=True)
    return 0
