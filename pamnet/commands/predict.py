"""`pamnet predict [FILES...] [--smiles S ...]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NamedTuple

from pamnet.commands._options import DEVICE, LEVEL
from pamnet.tables import TABLE_SUFFIXES
from pamnet.uncertainty import DEFAULT_CONFORMERS


def register(sub) -> None:
    p = sub.add_parser(
        "predict",
        parents=[DEVICE, LEVEL],
        help="predict properties of structures with a checkpoint",
        description="Predict with a shipped or fine-tuned checkpoint (default: the QM9 model). "
        "Every record of every input gives one row, in order: files first, then --smiles; "
        "a record that cannot be used is a failed row with its reason. 2D SDF/MOL/MOL2 "
        "records get 3D coordinates from their connection table. Under "
        "`torchrun --nproc_per_node N -m pamnet predict ...` the library is split by rank "
        "(Gloo on CPU, NCCL on GPUs) and rank 0 writes every result in input order.",
    )
    p.add_argument(
        "inputs",
        nargs="*",
        metavar="FILE_OR_SMILES",
        help="structure files (xyz, sdf, mol, mol2, pdb, cif, smi), tables of SMILES "
        "(csv, tsv; see --smiles-col), SMILES strings, or - for standard input",
    )
    p.add_argument(
        "--smiles",
        action="extend",
        nargs="+",
        default=[],
        metavar="S",
        help="SMILES strings (3D built for you); repeat it or give several; "
        "files may come before or after",
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
        choices=("table", "csv", "json", "sdf"),
        default=None,
        help="default: from -o's extension (csv, json, sdf); without -o a readable table "
        "on a terminal, CSV when the output is piped",
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
    p.add_argument(
        "--conformers",
        type=int,
        default=DEFAULT_CONFORMERS,
        metavar="K",
        help=f"SMILES inputs: predict over up to K distinct MMFF conformers and report "
        f"their mean, the spread widening the interval (default {DEFAULT_CONFORMERS}; 1 "
        "for one conformer, faster). Files with 3D coordinates use their own",
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--keep-impossible",
        action="store_true",
        help="keep values that cannot be (a negative dipole, polarizability, <R²>, ZPVE or "
        "heat capacity) instead of leaving them out; each is noted either way",
    )
    p.set_defaults(func=run)


def _output_format(args) -> str:
    if args.format:
        return args.format
    if args.output:
        return {".json": "json", ".sdf": "sdf"}.get(Path(args.output).suffix.lower(), "csv")
    return "table" if sys.stdout.isatty() else "csv"


def run(args) -> int:
    from pamnet import registry
    from pamnet.finetune.shard import gather, leave, shard
    from pamnet.io import Record
    from pamnet.predict import Prediction, Predictor, to_frame, to_sdf
    from pamnet.text import csv_safe

    if not args.inputs and not args.smiles:
        print(
            "error: give structure FILES, SMILES, - (standard input) or --smiles S", file=sys.stderr
        )
        return 2
    fmt = _output_format(args)
    _, device = _distributed(args.device)
    items: list = []  # Records, SMILES, and a _Failed for an input that could not be read
    names: list = []  # a table's --name-col value per item, else None
    for source in args.inputs:
        _gather(source, args, items, names, positional=True)
    for source in args.smiles:
        _gather(source, args, items, names, positional=False)
    # no --checkpoint: the MMFF-trained model when every input is built from SMILES
    usable = (it.structure if isinstance(it, Record) else it for it in items)
    geometry = registry.input_geometry(
        it for it in usable if it is not None and not isinstance(it, _Failed)
    )
    if args.conformers < 1:
        print(f"error: --conformers {args.conformers}: give 1 or more", file=sys.stderr)
        return 2
    predictor = Predictor.from_name(
        args.checkpoint or registry.default_name(geometry),
        device,
        keep_impossible=args.keep_impossible,
        level=args.level,
        conformers=args.conformers,
    )
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
    elif fmt == "table":
        text = readable_table(preds)
    else:
        text = csv_safe(to_frame(preds)).to_csv(index=False)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()  # before the summary on stderr
    n_bad = sum(not p.ok for p in preds)
    print(
        f"{len(preds) - n_bad} predicted, {n_bad} failed on {predictor.device_name} "
        f"with {predictor.loaded.path}",
        file=sys.stderr,
    )
    if fmt != "table":  # the table lists them already
        for p in preds:
            if not p.ok:
                print(f"  {p.name}: {p.error}", file=sys.stderr)
    return 0 if n_bad < len(preds) else 1


def _gather(source: str, args, items: list, names: list, positional: bool) -> None:
    """Append the items of one input: every record of a file (or of standard input),
    every row of a table, or one SMILES; a _Failed for an input that cannot be read.
    A positional input that is not a file is a SMILES unless it has a file's extension;
    a --smiles value is a SMILES unless it names a file."""
    from pamnet.errors import PamnetError
    from pamnet.io import FORMATS, format_of, is_file, read_records

    path = Path(source).expanduser()
    if source != "-" and not is_file(path):
        known = format_of(source) in FORMATS and format_of(source) != "smiles"
        if positional and (known or path.suffix.lower() in TABLE_SUFFIXES):
            items.append(_Failed(path.name, f"no such file: {source[:200]}; check the path"))
            names.append(None)
            return
        items.append(source)  # a SMILES string, embedded by the predictor
        names.append(None)
        return
    label = "stdin" if source == "-" else path.name
    try:
        if source == "-":
            data = _stdin_bytes()
            if _looks_like_table(data):
                rows = _table_rows(data, "stdin.csv", args.smiles_col, args.name_col)
                items.extend(smiles for smiles, _ in rows)
                names.extend(name for _, name in rows)
                return
            records = read_records(data, name=label)
        elif path.suffix.lower() in TABLE_SUFFIXES:
            rows = _table_rows(path, path.name, args.smiles_col, args.name_col)
            items.extend(smiles for smiles, _ in rows)
            names.extend(name for _, name in rows)
            return
        else:
            records = read_records(path)
    except PamnetError as exc:
        records = [_Failed(label, str(exc))]
    items.extend(records)
    names.extend([None] * len(records))


def _stdin_bytes() -> bytes:
    from pamnet.errors import TooLargeError
    from pamnet.io import Limits

    limit = Limits().max_bytes
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        raise TooLargeError(f"standard input is over the {limit / 1e6:.0f} MB limit; split it")
    return data


def _looks_like_table(data: bytes) -> bool:
    """A CSV/TSV with a SMILES column header (rather than a .smi list or a structure file)."""
    from pamnet.tables import guess_smiles_column

    first = data[:2000].decode("utf-8", "replace").lstrip().split("\n", 1)[0]
    for sep in (",", "\t"):
        if sep in first and guess_smiles_column([c.strip() for c in first.split(sep)]):
            return True
    return False


def readable_table(preds) -> str:
    """Predictions for people: one row per structure, values to 4 significant digits with
    units in the header, wrapped to the terminal's width; warnings and failures below."""
    import shutil

    import pandas as pd

    rows = []
    for k, p in enumerate(preds, start=1):
        row = {"#": k, "name": _short(p.name, 28), "atoms": p.n_atoms or ""}
        for t in p.targets:
            unit = p.units.get(t, "")
            row[f"{t} [{unit}]" if unit else t] = format_value(p, t)
        row["domain"] = p.domain.level if p.domain else ""
        row["status"] = (
            "failed" if not p.ok else (f"{len(p.warnings)} note(s)" if p.warnings else "ok")
        )
        rows.append(row)
    width = shutil.get_terminal_size((120, 24)).columns
    lines = [pd.DataFrame(rows).to_string(index=False, line_width=width)]
    levels = {p.level for p in preds if p.level}
    if levels:
        lines.append(f"± : {', '.join(f'{round(100 * v, 1):g}%' for v in levels)} prediction "
                     "intervals (--level); 'n/a': left out, see the notes")  # fmt: skip
    far = [p for p in preds if p.domain and p.domain.reasons]
    notes = [(k, p) for k, p in enumerate(preds, start=1) if p.warnings or not p.ok or p in far]
    if notes:
        lines.append("")
    for k, p in notes:
        whys = [p.error] if not p.ok else [*p.warnings]
        if p.ok and p.domain and p.domain.reasons:
            whys.insert(0, "domain " + p.domain.summary())
        for why in whys:
            lines.append(f"#{k} {_short(p.name, 28)}: {why}")
    return "\n".join(lines) + "\n"


def format_value(p, t: str) -> str:
    """'5.01 ± 0.21' (`with_error`), '5.012' uncalibrated, 'n/a' for a value left out,
    '' for a failed row."""
    from pamnet.predict import with_error

    value = p.values.get(t)
    return "" if value is None else with_error(value, p.errors.get(t))


def _short(text: str, n: int) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


class _Failed(NamedTuple):
    name: str
    error: str


def _table_rows(source, label: str, column: str | None, name_column: str | None) -> list[tuple]:
    """(SMILES, name or None) per row of a table (a path or bytes); every rank embeds only
    its own share."""
    from pamnet.errors import DataError
    from pamnet.tables import guess_smiles_column, read_table, smiles_column

    table = read_table(source, label) if isinstance(source, bytes) else read_table(source)
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
