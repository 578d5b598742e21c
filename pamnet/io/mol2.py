"""Tripos MOL2: atoms (SYBYL types), bonds with orders, partial charges, substructures.

SYBYL types carry no formal charges; the usual conventions are applied: N.4 is +1,
and a carboxylate/phosphate/sulfonate drawn with O.co2 and 'ar' bonds gets one
double bond per centre with the remaining oxygens single-bonded and -1.
"""

from __future__ import annotations

import re

import numpy as np

from pamnet.errors import ParseError, StructureError
from pamnet.io._text import Limits, check_atoms
from pamnet.io.checks import why_not_3d
from pamnet.io.embed import rebuild_3d, table_mol
from pamnet.io.records import Record
from pamnet.io.residues import role_of
from pamnet.rdkit_bonds import AROMATIC
from pamnet.structure import Structure, element_or_error, normalize_element

_BOND = {"1": 1.0, "2": 2.0, "3": 3.0, "ar": AROMATIC, "am": 1.0, "du": 1.0, "un": 0.0}
_SUBST = re.compile(r"^([A-Za-z]+?)(-?\d+)?$")
_DOUBLE_BONDS_TO_OCO2 = {"C": 1, "P": 1, "S": 2, "N": 1}


def read_mol2(
    lines: list[str], source: str, limits: Limits, seed: int = 0
) -> list[Structure | Record]:
    """Every @<TRIPOS>MOLECULE block of the file; one that cannot be read is a failed
    `Record` in its place. Molecules drawn flat or without coordinates get 3D
    embedded from their atoms and bonds (`embed`)."""
    starts = [i for i, x in enumerate(lines) if x.strip().upper() == "@<TRIPOS>MOLECULE"]
    if not starts:
        raise ParseError(
            "no @<TRIPOS>MOLECULE section; is this a MOL2 file?", line=1, source=source
        )
    ends = starts[1:] + [len(lines)]
    out: list[Structure | Record] = []
    for k, (a, b) in enumerate(zip(starts, ends), start=1):
        try:
            s = _molecule(lines, a, b, source, k, limits)
            why = why_not_3d(s) if "molecule" in s.roles[:1] else None
            if why:
                s = rebuild_3d(s, table_mol(s, s.source), why, seed, max_atoms=limits.max_atoms)
            out.append(s)
        except StructureError as exc:
            title = lines[a + 1].strip()[:80] if a + 1 < b else ""
            out.append(Record.failed(k, title, f"{source}#{k}", exc))
    return out


def _sections(lines, a, b) -> dict[str, tuple[int, int]]:
    heads = [(i, lines[i].strip().upper()) for i in range(a, b) if lines[i].startswith("@<TRIPOS>")]
    out = {}
    for (i, name), nxt in zip(heads, heads[1:] + [(b, "")]):
        out.setdefault(name[9:], (i + 1, nxt[0]))
    return out


def _molecule(lines, a, b, source, k, limits) -> Structure:
    sec = _sections(lines, a, b)
    mol_lo, _ = sec["MOLECULE"]
    name = lines[mol_lo].strip() if mol_lo < b else ""
    if "ATOM" not in sec:
        raise ParseError(
            "MOL2 molecule without an @<TRIPOS>ATOM section", line=a + 1, source=source
        )
    lo, hi = sec["ATOM"]
    rows = [(i, lines[i].split()) for i in range(lo, hi) if lines[i].strip()]
    check_atoms(len(rows), limits, source)
    elements, coords, names, types = [], np.zeros((len(rows), 3)), [], []
    resnames, resnums, charges = [], [], []
    index_of: dict[str, int] = {}
    for n, (i, p) in enumerate(rows):
        if len(p) < 6:
            raise ParseError("MOL2 atom line needs: id name x y z type", line=i + 1, source=source)
        try:
            coords[n] = [float(v) for v in p[2:5]]
        except ValueError:
            raise ParseError(
                f"coordinates {' '.join(p[2:5])!r} are not numbers", line=i + 1, source=source
            ) from None
        index_of[p[0]] = n
        names.append(p[1])
        types.append(p[5])
        base = p[5].split(".")[0]
        if base.islower():  # GAFF/GAFF2 (antechamber): c3, ca, oh, hc, n3, cl, br, ss, p5
            base = _gaff_element(base)
        elif base.upper() in ("DU", "LP", "ANY", "HAL", "HET"):
            base = (
                normalize_element(re.sub(r"[^A-Za-z]", "", p[1])[:2])
                or normalize_element(re.sub(r"[^A-Za-z]", "", p[1])[:1])
                or base
            )
        elements.append(element_or_error(base, i + 1, source))
        subst = p[7] if len(p) > 7 else "UNL"
        m = _SUBST.match(subst)
        resnames.append(m.group(1)[:4] if m else subst[:4])
        num = m.group(2) if m and m.group(2) else (p[6] if len(p) > 6 else "1")
        resnums.append(int(num) if num.lstrip("-").isdecimal() else 0)
        charges.append(p[8] if len(p) > 8 else "0")
    try:
        partial = np.array([float(c) for c in charges])
    except ValueError:
        partial = None
    bonds, orders = _bonds(lines, sec, index_of, source)
    formal = _formal_charges(elements, types, bonds, orders)
    macro = any(role_of(r, True) in ("protein", "nucleic") for r in set(resnames))
    roles = [role_of(r, True) for r in resnames] if macro else ["molecule"] * len(elements)
    return Structure(
        elements=elements,
        coords=coords,
        bonds=bonds,
        bond_orders=orders,
        formal_charges=formal,
        partial_charges=partial if partial is not None and partial.any() else None,
        atom_names=names,
        roles=roles,
        residue_names=resnames,
        residue_numbers=resnums,
        properties={"sybyl_types": " ".join(types)},
        name=name or f"{source.rsplit('/', 1)[-1]}#{k}",
        source=f"{source}#{k}",
    )


def _gaff_element(atom_type: str) -> str:
    """Element of a GAFF atom type: its first letter, except cl and br (GAFF's `ca` is
    an aromatic carbon, never calcium)."""
    return atom_type[:2] if atom_type[:2] in ("cl", "br") else atom_type[:1]


def _bonds(lines, sec, index_of, source):
    if "BOND" not in sec:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    lo, hi = sec["BOND"]
    pairs, orders = [], []
    for i in range(lo, hi):
        p = lines[i].split()
        if not p:
            continue
        if len(p) < 4:
            raise ParseError("MOL2 bond line needs: id atom1 atom2 type", line=i + 1, source=source)
        if p[1] not in index_of or p[2] not in index_of or p[1] == p[2]:
            raise ParseError(
                f"bond between unknown atoms {p[1]} and {p[2]}", line=i + 1, source=source
            )
        t = p[3].lower()
        if t == "nc":
            continue
        if t not in _BOND:
            raise ParseError(f"unknown MOL2 bond type {p[3]!r}", line=i + 1, source=source)
        pairs.append((index_of[p[1]], index_of[p[2]]))
        orders.append(_BOND[t])
    return np.array(pairs, dtype=np.int64).reshape(-1, 2), np.array(orders, dtype=np.float64)


def _formal_charges(elements, types, bonds, orders) -> np.ndarray:
    """N.4 -> +1; O.co2 groups -> one (or two, for S) double bond(s), other O.co2 -1."""
    q = np.zeros(len(elements), dtype=np.int64)
    for i, t in enumerate(types):
        if t.upper() == "N.4":
            q[i] = 1
    oco2 = {i for i, t in enumerate(types) if t.upper() == "O.CO2"}
    if not oco2 or len(bonds) == 0:
        return q
    by_center: dict[int, list[int]] = {}
    for b, (i, j) in enumerate(bonds.tolist()):
        if i in oco2 and j not in oco2:
            by_center.setdefault(j, []).append(b)
        elif j in oco2 and i not in oco2:
            by_center.setdefault(i, []).append(b)
    for center, blist in by_center.items():
        if not all(orders[b] in (AROMATIC, 0.0) for b in blist):
            continue  # the file gave explicit orders; trust them
        n_double = _DOUBLE_BONDS_TO_OCO2.get(elements[center], 1)
        for r, b in enumerate(blist):
            oxygen = bonds[b, 0] if bonds[b, 0] != center else bonds[b, 1]
            if r < n_double:
                orders[b] = 2.0
            else:
                orders[b] = 1.0
                q[oxygen] = -1
    return q
