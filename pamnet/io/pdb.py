"""PDB files: ATOM/HETATM records parsed column-wise with numpy (10k atoms in ~10 ms).

Alternate locations: one conformer per residue, the highest mean occupancy (first on
ties). MODELs: the first by default, all with `all_models=True`. Roles come from
residue names (`pamnet.io.residues`): protein, nucleic, water, ion; other HETATM
residues are 'ligand', except where `pamnet.io.roles` finds them part of the polymer. Bonds come from CONECT records where the file has them (a bond
listed twice is a double bond); otherwise `bonds` is None.
"""

from __future__ import annotations

from pathlib import PurePath

import numpy as np

from pamnet.errors import ParseError
from pamnet.io._text import Limits, check_atoms
from pamnet.io.residues import NUCLEIC, PROTEIN
from pamnet.io.roles import altloc_keep, residue_roles
from pamnet.structure import ATOMIC_NUMBERS, Structure, normalize_element

_WIDTH = 80


def _columns(m: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Bytes of columns [lo, hi) of the [n, 80] byte matrix, one string per row."""
    return np.ascontiguousarray(m[:, lo:hi]).view(f"S{hi - lo}").ravel()


def _text(m: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return np.char.strip(_columns(m, lo, hi).astype(f"U{hi - lo}"))


def _floats(m, lo, hi, line_numbers, source, what, default=None) -> np.ndarray:
    raw = _columns(m, lo, hi)
    if default is not None:
        raw = np.where(np.char.strip(raw) == b"", str(default).encode(), raw)
    try:
        return raw.astype(np.float64)
    except ValueError:
        for k, v in enumerate(raw):
            try:
                float(v)
            except ValueError:
                raise ParseError(
                    f"{what} {v.decode('latin-1').strip()!r} in columns {lo + 1}-{hi} "
                    "is not a number",
                    line=int(line_numbers[k]),
                    source=source,
                ) from None
        raise


def _select_models(lines: list[str], all_models: bool) -> list[list[int]]:
    """Line indices of ATOM/HETATM records, one list per model."""
    models: list[list[int]] = [[]]
    in_model = False
    for i, line in enumerate(lines):
        rec = line[:6]
        if rec == "ATOM  " or rec == "HETATM":
            models[-1].append(i)
        elif rec.startswith("MODEL"):
            if models[-1]:
                if not all_models:
                    break
                models.append([])
            in_model = True
        elif rec.startswith("ENDMDL"):
            if in_model and not all_models and models[-1]:
                break
            in_model = False
        elif rec.startswith("END") and not rec.startswith("ENDMDL"):
            break
    return [m for m in models if m]


def read_pdb(
    lines: list[str], source: str, limits: Limits, all_models: bool = False
) -> list[Structure]:
    """Structures of a PDB file: the first MODEL, or every MODEL with `all_models`."""
    models = _select_models(lines, all_models)
    if not models:
        raise ParseError(
            "no ATOM or HETATM records; is this a PDB file?", line=len(lines), source=source
        )
    header = next((x for x in lines[:50] if x.startswith("HEADER")), "")
    base = header[62:66].strip() or PurePath(source).stem
    conect = [i for i, x in enumerate(lines) if x.startswith("CONECT")]
    out = []
    for k, rows in enumerate(models):
        check_atoms(len(rows), limits, source)
        s = _parse_atoms(lines, np.array(rows), source)
        if conect:
            s.bonds, s.bond_orders = _conect(lines, conect, s.properties.pop("_serials"), source)
        s.properties.pop("_serials", None)
        s.name = base if len(models) == 1 else f"{base} model {k + 1}"
        s.source = f"{source}#{k + 1}"
        out.append(s)
    return out


def _parse_atoms(lines: list[str], rows: np.ndarray, source: str) -> Structure:
    raw = [lines[i].ljust(_WIDTH)[:_WIDTH].encode("latin-1", "replace") for i in rows]
    m = np.array(raw, dtype=f"S{_WIDTH}").view(np.uint8).reshape(len(raw), _WIDTH).copy()
    m[(m >= 128) | (m == 0)] = ord("?")  # PDB is ASCII; keeps numpy's fast ASCII decoding
    m = m.view("S1")
    line_no = rows + 1
    coords = np.stack(
        [_floats(m, c, c + 8, line_no, source, "coordinate") for c in (30, 38, 46)], 1
    )
    occupancy = _floats(m, 54, 60, line_no, source, "occupancy", default=1.0)
    hetatm = _columns(m, 0, 6) == b"HETATM"
    name_raw = _columns(m, 12, 16).astype("U4")
    names = np.char.strip(name_raw)
    altloc = _text(m, 16, 17)
    resname = _text(m, 17, 21)
    chain = _text(m, 21, 22)
    icode = _text(m, 26, 27)
    serial = _text(m, 6, 11)
    resseq_text = _text(m, 22, 26)
    try:
        resseq = np.where(resseq_text == "", "0", resseq_text).astype(np.int64)
    except ValueError:
        resseq = np.array([int(r) if r.lstrip("-").isdecimal() else 0 for r in resseq_text])
    keep = altloc_keep(altloc, chain, resseq, icode, names, occupancy)
    elements = np.array(_elements(_text(m, 76, 78), name_raw, resname), dtype=object)
    known = elements != None  # noqa: E711 - elementwise on an object array
    where = np.char.add("line ", line_no.astype(str))
    keep, warnings, k = screen_atoms(
        keep, known, chain, resseq, icode, names, coords, resname, where
    )
    if k is not None:
        raise ParseError(
            f"no atom with a known element (atom {str(name_raw[k]).strip()!r}, element "
            f"columns 77-78 {str(_text(m, 76, 78)[k])!r}); fill in the element column",
            line=int(line_no[k]),
            source=source,
        )
    if not keep.all():
        idx = np.nonzero(keep)[0]
        m, line_no, coords, hetatm, elements = (
            m[idx], line_no[idx], coords[idx], hetatm[idx], elements[idx]
        )  # fmt: skip
        name_raw, names, resname, chain, icode, serial, resseq = (
            a[idx] for a in (name_raw, names, resname, chain, icode, serial, resseq)
        )
    charges = _charges(_text(m, 78, 80))
    roles, resname, chain, resseq, icode = residue_roles(
        resname, hetatm, chain, resseq, icode, names, elements, coords
    )
    return Structure(
        elements=elements.tolist(),
        coords=coords,
        formal_charges=charges,
        warnings=warnings,
        atom_names=names.tolist(),
        roles=roles,
        residue_names=resname.tolist(),
        residue_numbers=resseq,
        insertion_codes=icode.tolist(),
        chain_ids=chain.tolist(),
        properties={"_serials": serial},
    )


def _elements(col, name_raw, resname) -> list[str | None]:
    """Element column, or inferred from the atom name when the column is blank; None
    for atoms that are no element (virtual sites such as TIP4P's MW, dummies, 'X')."""
    out = np.empty(len(col), dtype=object)
    pairs = np.char.add(np.char.add(col, "|"), np.char.add(name_raw, np.char.add("|", resname)))
    uniq, inverse = np.unique(pairs, return_inverse=True)
    for u, value in enumerate(uniq.tolist()):
        el_col, raw, res = value.split("|")
        if raw.strip().upper() in _VIRTUAL_SITES:
            el = None
        else:
            el = normalize_element(el_col) if el_col else _element_from_name(raw, res)
        out[inverse == u] = el
    return out.tolist()


# Water models' and force fields' massless sites: never chemical atoms, whatever the
# name's first letter suggests (MW would read as M..., EP as E..., LP as L...).
_VIRTUAL_SITES = {"MW", "EPW", "EP", "EP1", "EP2", "LP", "LP1", "LP2", "OM", "DUM"}


def screen_atoms(keep, known, chain, resseq, icode, names, coords, resname, where):
    """Leave out element-less atoms and repeated records (PDB and mmCIF alike):
    (rows kept, warnings naming what was left out, the first element-less row when
    nothing is left, else None)."""
    twin = _duplicates(chain, resseq, icode, names, coords) & keep
    warnings = _skipped_notes(~known & keep, twin & known, names, resname, chain, resseq, where)
    keep = keep & known & ~twin
    if keep.any():
        return keep, warnings, None
    return keep, warnings, int(np.nonzero(~known)[0][0]) if (~known).any() else 0


def _duplicates(chain, resseq, icode, names, coords) -> np.ndarray:
    """True for each record that repeats an earlier one: same atom of the same residue
    at the same coordinates (files written by some tools list atoms twice)."""
    key = np.char.add(np.char.add(chain, "|"), np.char.add(names, "|"))
    key = np.char.add(key, np.char.add(resseq.astype(str), icode))
    _, ids = np.unique(key, return_inverse=True)
    # PDB coordinates have 3 decimals: integers in 1e-3 Å identify a position exactly
    rows = np.column_stack([ids.reshape(-1), np.round(coords * 1000).astype(np.int64)])
    _, first = np.unique(rows, axis=0, return_index=True)
    twin = np.ones(len(key), dtype=bool)
    twin[first] = False
    return twin


def _skipped_notes(unknown, twin, names, resname, chain, resseq, where) -> list[str]:
    """Warnings naming the atoms left out (at most five of each kind); where[i] says
    where atom i is in the file ('line 12')."""
    notes = []
    for mask, what in (
        (unknown, "with no chemical element (virtual sites, dummies or unknown 'X' atoms)"),
        (twin, "that repeat an earlier record (same atom, same coordinates)"),
    ):
        idx = np.nonzero(mask)[0]
        if len(idx):
            named = ", ".join(
                f"{names[i]} ({resname[i]} {chain[i]}{resseq[i]}, {where[i]})"
                for i in idx[:5].tolist()
            )
            more = f" and {len(idx) - 5} more" if len(idx) > 5 else ""
            notes.append(f"left out {len(idx)} atom(s) {what}: {named}{more}")
    return notes


def _element_from_name(raw: str, resname: str) -> str | None:
    raw = raw.ljust(4)
    letters = "".join(c for c in raw if c.isalpha())
    if not letters:
        return None
    standard = resname in PROTEIN or resname in NUCLEIC
    if raw[0].isalpha() and not standard and len(letters) >= 2:
        two = normalize_element(letters[:2])
        if two is not None and letters[:2].upper() in {e.upper() for e in ATOMIC_NUMBERS}:
            return two
    return normalize_element(letters[0])


def _charges(col: np.ndarray) -> np.ndarray:
    out = np.zeros(len(col), dtype=np.int64)
    for value in np.unique(col).tolist():
        if len(value) == 2 and value[0].isdecimal() and value[1] in "+-":
            out[col == value] = int(value[0]) * (1 if value[1] == "+" else -1)
    return out


def _conect(lines, conect_rows, serials, source):
    index = {s: i for i, s in enumerate(serials.tolist()) if s}
    counts: dict[tuple[int, int], list[int]] = {}
    for r in conect_rows:
        line = lines[r]
        fields = [line[c : c + 5].strip() for c in range(6, min(len(line), 31), 5)]
        if not fields or fields[0] not in index:
            continue  # atom not in this model (or removed altloc)
        a = index[fields[0]]
        for f in fields[1:]:
            if not f:
                continue
            if not f.isdecimal() and f not in index:
                raise ParseError(f"CONECT names atom serial {f!r}", line=r + 1, source=source)
            b = index.get(f)
            if b is None or b == a:
                continue
            key = (min(a, b), max(a, b))
            c = counts.setdefault(key, [0, 0])
            c[0 if a < b else 1] += 1
    if not counts:
        return None, None
    pairs = np.array(sorted(counts), dtype=np.int64)
    orders = np.array([float(max(counts[k])) for k in sorted(counts)])
    orders[(orders < 1) | (orders > 3)] = 1.0
    return pairs, orders


# --- writing ----------------------------------------------------------------
def _atom_name(name: str, element: str) -> str:
    name = name[:4]
    if len(name) < 4 and len(element) == 1:
        return f" {name:<3s}"
    return f"{name:<4s}"


def format_pdb(structures: list[Structure], conect: bool = True) -> str:
    """PDB text; several structures become MODELs. Coordinates have 0.001 Å precision.

    Protein/nucleic atoms are ATOM records, the rest HETATM. With `conect`, every
    known bond is written as CONECT (a double bond twice), for up to 99,999 atoms.
    """
    out = []
    multi = len(structures) > 1
    for k, s in enumerate(structures):
        if multi:
            out.append(f"MODEL     {k + 1:4d}")
        out.extend(_atom_lines(s))
        if multi:
            out.append("ENDMDL")
    if conect and len(structures) == 1 and structures[0].bonds is not None:
        out.extend(_conect_lines(structures[0]))
    out.append("END")
    return "\n".join(out) + "\n"


def _atom_lines(s: Structure) -> list[str]:
    n = s.n_atoms
    names = s.atom_names or [f"{e}{(i + 1) % 1000}" for i, e in enumerate(s.elements)]
    resnames = s.residue_names or ["UNL"] * n
    resnums = s.residue_numbers if s.residue_numbers is not None else np.ones(n, dtype=int)
    chains = s.chain_ids or ["A"] * n
    icodes = s.insertion_codes or [""] * n
    lines = []
    for i in range(n):
        el = s.elements[i]
        rec = "ATOM  " if s.roles[i] in ("protein", "nucleic") else "HETATM"
        q = int(s.formal_charges[i])
        chg = f"{abs(q)}{'+' if q > 0 else '-'}" if q else "  "
        x, y, z = s.coords[i]
        res = resnames[i][:4]
        res4 = f"{res:>3s} " if len(res) <= 3 else res
        lines.append(
            f"{rec}{i % 99999 + 1:5d} {_atom_name(names[i], el)} {res4}"
            f"{(chains[i] or ' ')[:1]}{_resnum(int(resnums[i])):4d}{(icodes[i] or ' ')[:1]}   "
            f"{x:8.3f}{y:8.3f}{z:8.3f}{1.0:6.2f}{0.0:6.2f}          {el.upper():>2s}{chg}"
        )
    return lines


def _resnum(r: int) -> int:
    return r if -999 <= r <= 9999 else r % 10000


def _conect_lines(s: Structure) -> list[str]:
    if s.n_atoms > 99999 or s.bonds is None or len(s.bonds) == 0:
        return []
    orders = s.bond_orders if s.bond_orders is not None else np.ones(len(s.bonds))
    nbrs: dict[int, list[int]] = {}
    for (i, j), o in zip(s.bonds.tolist(), orders.tolist()):
        times = int(o) if o in (1.0, 2.0, 3.0) else 1
        nbrs.setdefault(i, []).extend([j] * times)
        nbrs.setdefault(j, []).extend([i] * times)
    lines = []
    for i in sorted(nbrs):
        partners = nbrs[i]
        for c in range(0, len(partners), 4):
            chunk = "".join(f"{p + 1:5d}" for p in partners[c : c + 4])
            lines.append(f"CONECT{i + 1:5d}{chunk}")
    return lines
