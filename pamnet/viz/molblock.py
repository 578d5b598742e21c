"""Structure -> model text for 3Dmol.js, written from numbers we control.

The text embedded in a page never contains anything copied from the input file:
coordinates are formatted numbers, element symbols are checked against the
periodic table, and PDB residue/atom names and chain ids are reduced to
`[A-Za-z0-9']` (they only help 3Dmol draw cartoons). Atom order is kept, so atom
i of the structure is atom `index: i` in 3Dmol (hydrogens kept with `keepH`).
"""

from __future__ import annotations

import re

import numpy as np

from pamnet.errors import StructureError
from pamnet.structure import ATOMIC_NUMBERS, Structure, covalent_bonds

# Roles written as ATOM records (3Dmol draws cartoons and backbone for these).
POLYMER_ROLES = ("protein", "pocket", "nucleic")
# 3Dmol.js addModel options: keep hydrogens so indices match the structure.
MODEL_OPTIONS = {"keepH": True}


def safe_element(symbol: str) -> str:
    """`symbol` when it is a periodic-table symbol, else 'X'."""
    s = str(symbol)
    return s if s in ATOMIC_NUMBERS else "X"


def _alnum(text: str | None, width: int, default: str, extra: str = "") -> str:
    cleaned = re.sub(rf"[^A-Za-z0-9{re.escape(extra)}]", "", str(text or ""))[:width]
    return cleaned or default


def _finite_coords(s: Structure) -> np.ndarray:
    xyz = np.asarray(s.coords, dtype=float).reshape(-1, 3)
    if not np.isfinite(xyz).all():
        raise StructureError("cannot draw a structure with non-finite coordinates; check the file")
    return xyz


def model_text(s: Structure) -> tuple[str, str]:
    """(text, format) for `addModel`: PDB when residues are known, else SDF."""
    if s.residue_names is not None and any(r in POLYMER_ROLES for r in s.roles):
        return pdb_block(s), "pdb"
    return sdf_block(s), "sdf"


def pdb_block(s: Structure) -> str:
    """PDB ATOM/HETATM lines (no CONECT; 3Dmol bonds residues by distance)."""
    xyz = _finite_coords(s)
    if np.abs(xyz).max(initial=0.0) >= 9999.0:
        raise StructureError("coordinates beyond ±9999 Å do not fit a PDB line; check the units")
    lines = []
    for i, el in enumerate(s.elements):
        el = safe_element(el)
        record = "ATOM  " if s.roles[i] in POLYMER_ROLES else "HETATM"
        name = _alnum(s.atom_names[i] if s.atom_names else None, 4, el.upper(), extra="'")
        name = f" {name:<3s}" if len(name) < 4 and len(el) == 1 else f"{name:<4s}"
        resn = _alnum(s.residue_names[i] if s.residue_names else None, 3, "UNK")
        chain = _alnum(s.chain_ids[i] if s.chain_ids else None, 1, "A")
        resi = int(s.residue_numbers[i]) if s.residue_numbers is not None else 1
        resi = max(-999, min(9999, resi))
        x, y, z = xyz[i]
        lines.append(
            f"{record}{(i + 1) % 100000:5d} {name} {resn:>3s} {chain}{resi:4d}    "
            f"{x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00          {el:>2s}"
        )
    lines.append("END")
    return "\n".join(lines) + "\n"


def _bonds(s: Structure) -> tuple[np.ndarray, np.ndarray]:
    if s.bonds is not None:
        bonds = np.asarray(s.bonds, dtype=np.int64).reshape(-1, 2)
        orders = s.bond_orders if s.bond_orders is not None else np.ones(len(bonds))
        return bonds, np.asarray(orders, dtype=float)
    try:
        bonds = covalent_bonds(s.elements, s.coords)
    except (KeyError, ImportError):  # unknown elements: draw atoms without bonds
        bonds = np.zeros((0, 2), dtype=np.int64)
    return bonds, np.ones(len(bonds))


def _mdl_order(order: float) -> int:
    if order == 1.5:
        return 4
    return int(order) if order in (1, 2, 3) else 1


def sdf_block(s: Structure) -> str:
    """A one-record SDF (V2000, V3000 over 999 atoms or bonds) titled 'pamnet'."""
    xyz = _finite_coords(s)
    bonds, orders = _bonds(s)
    n, b = len(s.elements), len(bonds)
    els = [safe_element(e) for e in s.elements]
    if n <= 999 and b <= 999:
        lines = ["pamnet", "  pamnet-viz", "", f"{n:3d}{b:3d}  0  0  0  0  0  0  0  0999 V2000"]
        for (x, y, z), el in zip(xyz, els):
            lines.append(f"{x:10.4f}{y:10.4f}{z:10.4f} {el:<3s} 0  0  0  0  0  0  0  0  0  0  0  0")
        for (i, j), o in zip(bonds, orders):
            lines.append(f"{i + 1:3d}{j + 1:3d}{_mdl_order(o):3d}  0")
        lines.append("M  END")
    else:
        lines = ["pamnet", "  pamnet-viz", "", "  0  0  0  0  0  0  0  0  0  0999 V3000"]
        lines += ["M  V30 BEGIN CTAB", f"M  V30 COUNTS {n} {b} 0 0 0", "M  V30 BEGIN ATOM"]
        for k, ((x, y, z), el) in enumerate(zip(xyz, els), start=1):
            lines.append(f"M  V30 {k} {el} {x:.4f} {y:.4f} {z:.4f} 0")
        lines.append("M  V30 END ATOM")
        if b:
            lines.append("M  V30 BEGIN BOND")
            for k, ((i, j), o) in enumerate(zip(bonds, orders), start=1):
                lines.append(f"M  V30 {k} {_mdl_order(o)} {i + 1} {j + 1}")
            lines.append("M  V30 END BOND")
        lines += ["M  V30 END CTAB", "M  END"]
    return "\n".join(lines) + "\n$$$$\n"
