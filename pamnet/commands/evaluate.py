"""`pamnet evaluate`: MAE per target of a QM9 model on its documented test split."""

from __future__ import annotations

import argparse
import json
import sys

from pamnet.commands._options import DEVICE, LEVEL, OUTPUT, THREADS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        parents=[DEVICE, THREADS, OUTPUT, LEVEL],
        help="MAE per target of a QM9 checkpoint on the documented split",
        description="Evaluate a QM9 checkpoint (default: the shipped checkpoints/qm9_pamnet.pt) "
        "on the split recorded in its metadata. MAE in the paper's units (energies in eV); "
        "for a calibrated checkpoint also the coverage of its intervals (the fraction of "
        "true values inside them) and their mean width.",
    )
    p.add_argument(
        "--checkpoint", default=None, help="name or path (default: the shipped QM9 model)"
    )
    p.add_argument("--dataset", default="qm9", choices=["qm9"])
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--limit", type=int, default=None, help="only the first N of the split")
    p.add_argument(
        "--geometry",
        default=None,
        choices=["dft", "mmff"],
        help="dft: QM9's geometries; mmff: rebuilt from each SMILES by our SMILES reader "
        "(molecules whose embedding fails are skipped and counted); default: the geometry "
        "the checkpoint was trained on",
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from pamnet import qm9, qm9_eval
    from pamnet.checkpoint import load_checkpoint
    from pamnet.device import resolve as resolve_device
    from pamnet.registry import resolve

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    path = resolve(args.checkpoint) if args.checkpoint else qm9.default_checkpoint()
    loaded = load_checkpoint(path, device)
    geometry = args.geometry or ("mmff" if loaded.metadata.get("geometry") == "mmff" else "dft")
    result = qm9_eval.evaluate(
        loaded, args.split, args.limit, geometry, args.batch_size, device, args.level
    )
    if args.format == "json":
        print(json.dumps(result))
        return 0
    print(f"{loaded.path}: {args.split} split, {geometry} geometry, n = {result['n']}")
    if "skipped" in result:
        print(f"skipped {result['skipped']} molecules (embedding failed or formula differs)")
    cover = result.get("coverage")
    if cover:
        print(
            f"  {'target':6s} {'MAE':>12s} {'unit':12s} {round(100 * args.level, 1):g}% coverage  mean width"
        )
    for t, v in result["mae"].items():
        line = f"  {t:6s} {v:12.5f} {result['units'][t]:12s}"
        if cover:
            line += f" {cover[t]:13.3f}  {result['width'][t]:.4g}"
        print(line)
    if not cover:
        print("  (no intervals: the checkpoint is not calibrated)")
    sys.stdout.flush()
    return 0
