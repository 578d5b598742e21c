"""`pamnet inspect FILE_OR_SMILES`: what we read, and the graph PAMNet would build."""

from __future__ import annotations

import json
from pathlib import Path

from pamnet.commands._options import OUTPUT

MAX_SHOWN = 20  # structures summarised from one file
MAX_LISTED = 60  # atoms listed in the text output without --atoms


def register(sub) -> None:
    p = sub.add_parser(
        "inspect",
        parents=[OUTPUT],
        help="show atoms, roles, bonds and graph sizes of a structure",
        description="Read a structure file (or a SMILES string, built in 3D) and show what "
        "was read and how many local/global edges PAMNet would use at the given cutoffs.",
    )
    p.add_argument("source", metavar="FILE_OR_SMILES", help="a structure file, or a SMILES")
    p.add_argument("--task", choices=("molecule", "complex", "rna"), default=None,
                   help="default: complex for a protein with a ligand, rna for nucleic acids, "
                   "else molecule")  # fmt: skip
    p.add_argument("--cutoff-l", type=float, default=None, help="local cutoff, Å")
    p.add_argument("--cutoff-g", type=float, default=None, help="global cutoff, Å")
    p.add_argument("--ligand", default=None, metavar="RESNAME",
                   help="complex mode: ligand residue name, or a ligand file (SDF/MOL2/PDB)")  # fmt: skip
    p.add_argument(
        "--input-format", dest="fmt", default=None, help="file format (default: from the content)"
    )
    p.add_argument("--charge", type=int, default=None, help="total charge for XYZ bond perception")
    p.add_argument(
        "--atoms",
        action="store_true",
        help=f"list every atom and bond (default: only for up to {MAX_LISTED} atoms)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from pamnet.io import read_file_or_smiles

    structures = read_file_or_smiles(args.source, fmt=args.fmt, charge=args.charge)
    ligand, resname = _ligand_arg(args.ligand)
    reports = [_report(s, args, ligand, resname) for s in structures[:MAX_SHOWN]]
    if args.format == "json":
        print(json.dumps(reports, indent=1))
    else:
        for r, s in zip(reports, structures):
            print(_text(r))
            if args.atoms or s.n_atoms <= MAX_LISTED:
                print(_atoms_text(s))
            else:
                print(f"  ({s.n_atoms:,} atoms: --atoms lists them, --json gives them all)")
        if len(structures) > MAX_SHOWN:
            print(f"... and {len(structures) - MAX_SHOWN} more structures (not shown)")
    return 1 if any("error" in r for r in reports) else 0


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _ligand_arg(value: str | None):
    if value and _exists(Path(value)):
        from pamnet.io import read_one

        return read_one(value), None
    return None, value


def _report(s, args, ligand, resname) -> dict:
    from pamnet.errors import PamnetError
    from pamnet.featurize import guess_task
    from pamnet.tasks import edge_counts, get_task
    from pamnet.viz.edges import model_input  # graphs only: no model's element list applies

    task = args.task or ("complex" if ligand is not None else guess_task(s))
    cl, cg = get_task(task).cutoffs_or_default(args.cutoff_l, args.cutoff_g)
    out = {
        "name": s.name,
        "source": s.source,
        "formula": s.formula,
        "geometry": s.geometry,
        "n_atoms": s.n_atoms,
        "elements": s.element_counts(),
        "roles": s.role_counts(),
        "n_bonds": s.n_bonds,
        "bonds_from": _bonds_from(s),
        "smiles": s.smiles,
        "task": task,
        "cutoff_l": cl,
        "cutoff_g": cg,
        "warnings": list(s.warnings),
        "atoms": s.atom_table().to_dict(orient="records"),
        "bonds": s.display_bonds().tolist(),  # 0-based atom pairs
    }
    kw = {}
    if task == "complex":
        kw = {"ligand": ligand, "ligand_resname": resname}
    if task == "molecule" and ligand is None and {"protein", "nucleic"} & set(s.roles):
        out["warnings"].append(_no_ligand_note(s))
    try:
        inp = model_input(s, task, **kw)
        out["graph"] = edge_counts(inp, task, cl, cg)
        if task == "complex":
            out["n_pocket"], out["n_ligand"] = inp.meta["n_pocket"], inp.meta["n_ligand"]
            out["ligand"] = inp.meta["ligand_resname"]
        out["warnings"] += inp.meta.get("warnings", [])
    except PamnetError as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def _no_ligand_note(s) -> str:
    from pamnet.featurize import ligand_residues

    kind = "a protein" if "protein" in s.roles else "a nucleic acid"
    extra = ligand_residues(s, additives=True)
    also = f" (only crystallisation additives: {', '.join(extra)})" if extra else ""
    return (
        f"{kind} with no ligand{also}: shown as one molecule; complex mode needs a ligand: "
        "--ligand RESNAME for a HETATM residue in the file, or --ligand FILE (SDF/MOL2)"
    )


def _bonds_from(s) -> str:
    from pamnet.io._rdkit import _bonds_complete

    if s.bonds is None:
        return "not in the file; perceived from the geometry when needed"
    if s.geometry in ("etkdg", "mmff", "uff") and s.smiles:
        from pamnet.io.embed import EMBEDDED

        drawn = any(w.startswith(EMBEDDED) for w in s.warnings)
        return "from the file's connection table" if drawn else "from the SMILES"
    if not _bonds_complete(s):
        return "from the file, partial (e.g. CONECT for HETATM only)"
    return "from the file"


def _counts(d: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items())


def _text(r: dict) -> str:
    lines = [
        f"{r['name']}  ({r['source']})",
        f"  formula   {r['formula']}   geometry: {r['geometry']}"
        + (f"   smiles: {r['smiles']}" if r["smiles"] else ""),
        f"  atoms     {r['n_atoms']}: {_counts(r['elements'])}",
        f"  roles     {_counts(r['roles'])}",
        f"  bonds     {r['n_bonds'] if r['n_bonds'] is not None else '-'} ({r['bonds_from']})",
        f"  task      {r['task']}  cutoff_l {r['cutoff_l']} Å  cutoff_g {r['cutoff_g']} Å",
    ]
    if "n_pocket" in r:
        lines.append(
            f"  complex   ligand {r['ligand']}: {r['n_ligand']} heavy atoms; "
            f"pocket {r['n_pocket']} atoms"
        )
    if "graph" in r:
        g = r["graph"]
        lines.append(
            f"  graph     {g['n_atoms']} atoms; edges as atom pairs: local {g['n_local']}, "
            f"non-local {g['n_nonlocal']}, global {g['n_global']} (messages run both ways: "
            f"{g['n_local_directed']}, {g['n_nonlocal_directed']}, {g['n_global_directed']} "
            f"directed); two-hop angles {g['n_two_hop']}, one-hop angles {g['n_one_hop']}"
        )
    for w in r["warnings"]:
        lines.append(f"  warning   {w}")
    if "error" in r:
        lines.append(f"  error     {r['error']}")
    return "\n".join(lines)


def _atoms_text(s) -> str:
    table = s.atom_table()
    bonded: list[list[int]] = [[] for _ in range(s.n_atoms)]
    for i, j in s.display_bonds().tolist():
        bonded[i].append(j + 1)
        bonded[j].append(i + 1)
    table["bonded to"] = [" ".join(map(str, sorted(b))) for b in bonded]
    return "  " + table.to_string(index=False, float_format=lambda x: f"{x:.3f}").replace(
        "\n", "\n  "
    )
