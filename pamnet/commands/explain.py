"""`pamnet explain FILE_OR_SMILES [--checkpoint C] [--ig-steps N] [--json]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pamnet.commands._options import DEVICE, OUTPUT


def register(sub) -> None:
    p = sub.add_parser(
        "explain",
        parents=[DEVICE, OUTPUT],
        help="explain a prediction: fusion attention, per-atom contributions, IG",
        description="Fusion attention (global vs local share per block and atom), per-atom "
        "contributions that add up to the prediction, sums by element / functional group / "
        "residue / ligand vs pocket, and optionally Integrated Gradients. Every structure "
        "of a file is explained in turn.",
    )
    p.add_argument("source", metavar="FILE_OR_SMILES", help="structure file or a SMILES string")
    p.add_argument("--checkpoint", default=None, help="name from `pamnet checkpoints` or a path")
    p.add_argument(
        "--ig-steps",
        type=int,
        default=0,
        metavar="N",
        help="Integrated Gradients starting with N steps (0: none; 50 is usually enough "
        "for atoms, coordinates often need a few hundred: see --ig-tolerance)",
    )
    p.add_argument(
        "--ig-tolerance",
        type=float,
        default=0.01,
        metavar="T",
        help="double the IG steps (up to 800) until the attributions add up to "
        "f(input) - f(baseline) within this fraction (0: exactly N steps; default 0.01)",
    )
    p.add_argument(
        "--ig-on",
        nargs="+",
        choices=("atoms", "coords"),
        default=["atoms", "coords"],
        help="what IG attributes to: atom inputs (zero-embedding baseline) and/or "
        "coordinates (dissociated baseline)",
    )
    p.add_argument("--target", default=None, help="target for the tables and IG (default: first)")
    p.add_argument("--top", type=int, default=10, help="atoms listed by |contribution|")
    p.add_argument("--ligand", default=None, help="complex mode: ligand residue name")
    p.add_argument("-o", "--output", default=None, help="output file (default: standard output)")
    p.set_defaults(func=run)


def _columns(df, exp, k: int) -> list[str]:
    """Identity columns plus the chosen target's columns (QM9 has 12 targets)."""
    col = exp.column(k)
    others = [exp.column(j) for j in range(len(exp.targets)) if j != k]
    return [c for c in df.columns if not any(c.startswith(o) for o in others) or c == col]


def _text(exp, k: int, top: int) -> str:
    import pandas as pd

    col = exp.column(k)
    fmt = {"float_format": lambda x: f"{x:.5g}", "index": False}
    from pamnet.predict import with_error

    preds = ", ".join(
        f"{t} = {with_error(v, exp.errors.get(t))} {exp.units.get(t, '')}".strip()
        for t, v in exp.values.items()
    )
    out = [f"== {exp.name} ({exp.task}; {exp.checkpoint})", f"prediction: {preds}"]
    if exp.errors:
        out.append(f"± : {round(100 * exp.level)}% prediction intervals")
    if exp.domain is not None:
        out.append(f"domain: {exp.domain.summary()}")
    out += [f"warning: {w}" for w in exp.warnings]
    if exp.has_offset:
        out.append(
            f"contributions include the normalization offset (mean + atom references), "
            f"{exp.offset[:, k].sum():.6g} in all; columns '... offset' show it per atom, "
            "the rest is what the network learned"
        )
    atoms = exp.to_frame()
    if atoms["residue"].isna().all():
        atoms = atoms.drop(columns="residue")
    size = atoms[col] - (atoms[f"{col} offset"] if exp.has_offset else 0.0)
    order = size.abs().sort_values(ascending=False).index[:top]
    learned = "learned " if exp.has_offset else ""
    sections = [
        ("per block", exp.layer_frame()),
        ("by element", exp.by_element()),
        ("by functional group (an atom can be in several groups)", exp.by_group()),
        ("by residue", exp.by_residue()),
        ("ligand vs pocket (each atom's two copies added)", exp.by_side()),
        (f"top {top} atoms by |{learned}{col}|", atoms.loc[order]),
    ]
    for title, df in sections:
        if df.empty or (title.startswith("ligand") and exp.task != "complex"):
            continue
        df = df[_columns(df, exp, k)]
        out += ["", f"-- {title}", pd.DataFrame(df).to_string(**fmt)]
    for a in exp.attributions.values():
        out.append(
            f"IG {a.on} ({a.baseline}, {a.n_steps} steps): f(input) - f(baseline) = "
            f"{a.f_input - a.f_baseline:.6g}, sum of attributions {a.per_row.sum():.6g}, "
            f"completeness error {a.relative_error:.2%}"
            + (" (over 1%: raise --ig-steps)" if a.relative_error > 0.01 else "")
        )
    return "\n".join(out) + "\n"


def run(args) -> int:
    from pamnet import registry
    from pamnet.explain import explain
    from pamnet.io import read_file_or_smiles
    from pamnet.predict import Predictor

    structures = read_file_or_smiles(args.source)
    # no --checkpoint: the default for these inputs (the MMFF-trained model for a SMILES)
    name = args.checkpoint or registry.default_name(registry.input_geometry(structures))
    predictor = Predictor.from_name(name, args.device)
    kw = {"ligand_resname": args.ligand} if predictor.task == "complex" and args.ligand else {}
    results, texts = [], []
    for s in structures:
        exp = explain(
            s,
            predictor,
            ig_steps=args.ig_steps,
            ig_target=args.target,
            ig_on=tuple(args.ig_on),
            ig_tolerance=args.ig_tolerance or None,
            device=args.device,
            **kw,
        )
        if args.format == "json":
            results.append(exp.to_dict())
        else:
            texts.append(_text(exp, exp.target_index(args.target), args.top))
    text = json.dumps(results, indent=1) + "\n" if args.format == "json" else "\n".join(texts)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0
