"""`pamnet finetune --data FILE --target COL ...`: fine-tune on your own data.

Runs in the foreground (`torchrun --nproc_per_node N -m pamnet finetune ...` for DDP),
or as a background job with --background (see `pamnet jobs`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from pamnet.commands._options import DEVICE, THREADS
from pamnet.errors import ConfigError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "finetune",
        parents=[DEVICE, THREADS],
        help="fine-tune a checkpoint (or train a new model) on a CSV/SDF of your data",
        description="Fine-tune on a CSV of SMILES + target columns, an SDF with property "
        "fields, or a CSV of complexes (protein file, ligand file or residue name, affinity). "
        "Targets the base already predicts reuse its heads; new ones get new heads. The "
        "result goes to the fine-tuned checkpoint folder (listed by `pamnet checkpoints` and "
        "the app) with a model card, unless -o says otherwise.",
    )
    p.add_argument("--data", required=True, help="CSV or SDF file")
    p.add_argument(
        "--target",
        action="extend",
        nargs="+",
        required=True,
        metavar="COL",
        help="target column(s); repeat it or give several",
    )
    p.add_argument("--smiles-col", default=None, help="SMILES column (default: found by name)")
    p.add_argument("--protein-col", default=None, help="complex tables: protein file column")
    p.add_argument("--ligand-col", default=None, help="complex tables: ligand file/resname column")
    p.add_argument(
        "--root",
        default=None,
        help="complex tables: the folder their file paths are relative to (default: the "
        "table's folder); files outside it are refused",
    )
    p.add_argument(
        "--base",
        default=None,
        help="checkpoint name or path (default: the registry default; complexes: a new "
        "model); 'none' trains a new model",
    )
    p.add_argument("-o", "--output", default=None, help="checkpoint path (default: user folder)")
    p.add_argument("--name", default=None, help="checkpoint name (default: data stem + targets)")
    # defaults: FinetuneConfig's (not imported here: it imports torch)
    p.add_argument("--epochs", type=int, default=None, help="default 30")
    p.add_argument("--lr", type=float, default=None, help="default 5e-4")
    p.add_argument("--batch-size", type=int, default=None, help="default 32; per process")
    p.add_argument("--val-fraction", type=float, default=None, help="default 0.1")
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument(
        "--split-col",
        default=None,
        metavar="COL",
        help="a column saying train, val or test per row (as Chemprop's --splits-column): "
        "val rows validate and calibrate the intervals, test rows are not read at all; "
        "replaces the random --val-fraction split",
    )
    p.add_argument("--seed", type=int, default=0, help="new weights, batch order, 3D embedding")
    p.add_argument("--patience", type=int, default=None, help="early stop after N flat epochs")
    p.add_argument(
        "--freeze",
        default="",
        metavar="GROUPS",
        help="comma-separated: embeddings, local, global, heads",
    )
    p.add_argument(
        "--new-heads", action="store_true", help="fresh heads even for targets the base knows"
    )
    p.add_argument(
        "--new-element-init",
        choices=("group", "mean", "random"),
        default="group",
        help="elements the base model lacks (S, Cl, Br, ...) get embedding rows started from "
        "the lighter element of their group (default), the mean of the base's rows, or random",
    )
    p.add_argument(
        "--unit", action="append", default=[], metavar="COL=UNIT", help="unit of a target"
    )
    p.add_argument("--dim", type=int, default=64, help="new models only")
    p.add_argument("--n-layer", type=int, default=3, help="new models only")
    p.add_argument("--max-minutes", type=float, default=None, help="wall-clock budget")
    p.add_argument(
        "--work-dir",
        default=None,
        help="keep the training state here (a rerun with the same folder resumes); "
        "default: a temporary folder removed afterwards",
    )
    p.add_argument("--check", action="store_true", help="only read the data and report bad rows")
    p.add_argument("--background", action="store_true", help="submit as a job and return")
    p.add_argument("--nproc", type=int, default=1, help="--background: processes (torchrun)")
    p.set_defaults(func=run)


def parse_units(items: list[str]) -> dict[str, str]:
    units = {}
    for item in items:
        col, sep, unit = item.partition("=")
        if not sep or not col.strip():
            raise ConfigError(f"--unit wants COL=UNIT, got {item!r}")
        units[col.strip()] = unit.strip()
    return units


def config_from_args(args: argparse.Namespace):
    from pamnet.finetune import FinetuneConfig

    given = {k: getattr(args, k) for k in ("epochs", "lr", "batch_size", "val_fraction")}
    return FinetuneConfig(
        **{k: v for k, v in given.items() if v is not None},
        data=str(Path(args.data).resolve()),
        targets=tuple(args.target),
        smiles_col=args.smiles_col,
        protein_col=args.protein_col,
        ligand_col=args.ligand_col,
        base=args.base,
        name=args.name,
        output=str(Path(args.output).resolve()) if args.output else None,
        split_seed=args.split_seed,
        split_col=args.split_col,
        patience=args.patience,
        freeze=tuple(g.strip() for g in args.freeze.split(",") if g.strip()),
        new_heads=args.new_heads,
        element_init=args.new_element_init,
        units=parse_units(args.unit),
        device=args.device,
        seed=args.seed,
        dim=args.dim,
        n_layer=args.n_layer,
        max_minutes=args.max_minutes,
        root=str(Path(args.root).resolve()) if args.root else None,
    )


def _check(config) -> int:
    import torch

    from pamnet.finetune import load_dataset

    data = load_dataset(
        config.data,
        config.targets,
        config.smiles_col,
        config.protein_col,
        config.ligand_col,
        root=config.root,
        seed=config.seed,
        workers=torch.get_num_threads(),  # the cores --threads gave this command
    )
    print(f"{len(data.graphs)} of {data.n_rows} rows usable ({data.task} mode)")
    if data.task == "molecule":
        from pamnet.finetune.elements import present

        print(f"elements: {', '.join(present(data.graphs))}")
    for e in data.errors:
        print(f"  row {e.row} [{e.column}]: {e.message}")
    return 0


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if args.check:
        return _check(config)
    if args.background:
        from pamnet import jobs

        job = jobs.submit(config, nproc=args.nproc)
        print(f"job {job.id} ({job.name}) started; follow it with `pamnet jobs show {job.id}`")
        return 0
    from pamnet import finetune

    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="pamnet-ft-"))
    try:
        result = finetune.run(config, work, log=lambda m: print(m, flush=True))
    except KeyboardInterrupt:
        print(f"interrupted; the state is in {work}" if args.work_dir else "interrupted")
        return 130
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    if result.checkpoint is not None:
        summary = {
            "status": result.status,
            "epochs": result.epochs_done,
            "checkpoint": str(result.checkpoint),
            "val_mae": result.val_mae,
        }
        print(json.dumps(summary), flush=True)
    return 0 if result.status != "cancelled" else 1
