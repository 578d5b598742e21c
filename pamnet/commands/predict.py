"""`pamnet predict [FILES...] [--smiles S ...]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NamedTuple

from pamnet.commands._options import DEVICE
from pamnet.tables import TABLE_SUFFIXES


def register(sub) -> None:
    p = sub.add_parser(
        "predict",
        parents=[DEVICE],
        help="predict properties of structures with a checkpoint",
        description="Predict with a shipped or fine-tuned checkpoint (default: the QM9 model). "
        "Files may hold several structures (multi-record SDF, multi-frame XYZ). Under "
        "`torchrun --nproc_per_node N -m pamnet predict ...` the library is split by rank "
        "(Gloo on CPU, NCCL on GPUs) and rank 0 writes every result in input order.",
    )
    p.add_argument(
        "files",
        nargs="*",
        help="structure files (xyz, sdf, mol, mol2, pdb, cif, smi) or tables of SMILES "
        "(csv, tsv; see --smiles-col)",
    )
    p.add_argument(
        "--smiles",
        nargs="+",
        default=[],
        metavar="S",
        help="SMILES strings (3D built for you); put FILES before --smiles",
    )
    p.add_argument(
        "--smiles-col",
        default=None,
        metavar="COL",
        help="tables: the column of SMILES (default: one called smiles, smi, ...)",
    )
    p.add_argument(
        "--name-col", default=None, metavar="COL", help="tables: a column naming each row"
    )
    p.add_argument("--checkpoint", default=None, help="name from `pamnet checkpoints` or a path")
    p.add_argument(
        "--attention",
        action="store_true",
        help="also output fusion attention and per-atom contributions (json)",
    )
    p.add_argument(
        "--format",
        choices=("csv", "json", "sdf"),
        default=None,
        help="default: from -o's extension, else csv",
    )
    p.add_argument(
        "--json", dest="format", action="store_const", const="json", help="same as --format json"
    )
    p.add_argument("-o", "--output", default=None, help="output file (default: standard output)")
    p.add_argument(
        "--ligand",
        default=None,
        help="complex mode: ligand residue name (default: picked automatically)",
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.set_defaults(func=run)


def run(args) -> int:
    from pamnet import registry
    from pamnet.errors import PamnetError
    from pamnet.finetune.shard import gather, leave, shard
    from pamnet.io import read
    from pamnet.predict import Prediction, Predictor, to_frame, to_sdf
    from pamnet.text import csv_safe

    if not args.files and not args.smiles:
        print("error: give structure FILES and/or --smiles S", file=sys.stderr)
        return 2
    fmt = args.format or {".json": "json", ".sdf": "sdf"}.get(
        Path(args.output or "").suffix.lower(), "csv"
    )
    _, device = _distributed(args.device)
    items: list = []  # structures and SMILES; a _Failed for what could not be read
    names: list = []  # a table's --name-col value per item, else None
    for path in args.files:
        try:
            if Path(path).suffix.lower() in TABLE_SUFFIXES:
                rows = _table_rows(path, args.smiles_col, args.name_col)
                items.extend(smiles for smiles, _ in rows)
                names.extend(name for _, name in rows)
                continue
            structures = read(path)
        except PamnetError as exc:
            structures = [_Failed(Path(path).name, str(exc))]
        items.extend(structures)
        names.extend([None] * len(structures))
    items.extend(args.smiles)
    names.extend([None] * len(args.smiles))
    # no --checkpoint: the MMFF-trained model when every input is built from SMILES
    geometry = registry.input_geometry(it for it in items if not isinstance(it, _Failed))
    predictor = Predictor.from_name(args.checkpoint or registry.default_name(geometry), device)
    lm = predictor.loaded
    items = [
        Prediction(it.name, 0, lm.targets, lm.units, error=it.error)
        if isinstance(it, _Failed)
        else it
        for it in items
    ]
    if args.attention and fmt != "json":
        print("note: attention and contributions are written with --format json", file=sys.stderr)
    kw = {"ligand_resname": args.ligand} if predictor.task == "complex" and args.ligand else {}
    # Under torchrun each rank predicts items[rank::world]; rank 0 writes all, in order.
    mine = shard(items)
    todo = [it for it in mine if not isinstance(it, Prediction)]
    done = iter(predictor.predict(todo, attention=args.attention, batch_size=args.batch_size, **kw))
    local = [it if isinstance(it, Prediction) else next(done) for it in mine]
    for p in local:
        p.input = None  # tensors need not travel between ranks
    preds = gather(local)
    leave()  # every rank has its share of the gather before any exits
    if preds is None:  # not rank 0
        return 0
    for p, name in zip(preds, names):
        p.name = name if name is not None else p.name

    if fmt == "json":
        text = json.dumps([p.to_dict(attention=args.attention) for p in preds], indent=1)
    elif fmt == "sdf":
        text = to_sdf(preds)
    else:
        text = csv_safe(to_frame(preds)).to_csv(index=False)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    n_bad = sum(not p.ok for p in preds)
    print(
        f"{len(preds) - n_bad} predicted, {n_bad} failed on {predictor.device_name} "
        f"with {predictor.loaded.path}",
        file=sys.stderr,
    )
    for p in preds:
        if not p.ok:
            print(f"  {p.name}: {p.error}", file=sys.stderr)
    return 0 if n_bad < len(preds) else 1


class _Failed(NamedTuple):
    name: str
    error: str


def _table_rows(path: str, column: str | None, name_column: str | None) -> list[tuple]:
    """(SMILES, name or None) per row of a table; every rank embeds only its own share."""
    from pamnet.errors import DataError
    from pamnet.tables import guess_smiles_column, read_table, smiles_column

    table = read_table(path)
    column = column or guess_smiles_column(table.columns)
    if column is None:
        raise DataError(
            f"{table.name}: no SMILES column found among {', '.join(table.columns)}; "
            "name it with --smiles-col"
        )
    if name_column is not None and name_column not in table.columns:
        raise DataError(f"{table.name}: no column {name_column!r} for --name-col")
    names = table.frame[name_column].tolist() if name_column else None
    rows = []
    for k, smi in enumerate(smiles_column(table.frame, column)):
        name = str(names[k]) if names else None
        empty = f"{table.name} row {k + 1}: empty {column!r} cell"
        rows.append((smi or _Failed(name or f"row {k + 1}", empty), name))
    return rows


def _distributed(device: str) -> tuple[int, str]:
    """Join torchrun's process group when launched by it: (rank, this rank's device)."""
    from pamnet import distributed

    if distributed.world_size() <= 1:
        return 0, device
    import torch

    use_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    dev = distributed.init(torch.device("cuda" if use_cuda else "cpu"))
    return distributed.rank(), str(dev) if use_cuda else ("cpu" if device == "auto" else device)
