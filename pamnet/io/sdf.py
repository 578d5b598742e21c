"""MDL SDF / MOL files (V2000 and V3000): atoms, bonds with orders, charges, data fields."""

from __future__ import annotations

import numpy as np

from pamnet.errors import ParseError, StructureError
from pamnet.io._rdkit import mol_from_bonds, quiet
from pamnet.io._text import Limits, check_atoms
from pamnet.io.checks import why_not_3d
from pamnet.io.embed import rebuild_3d, table_mol
from pamnet.io.records import Record
from pamnet.rdkit_bonds import AROMATIC, bonds_of
from pamnet.structure import Structure, element_or_error
from pamnet.text import sdf_key, sdf_line

# V2000 atom-block charge codes (the "M  CHG" lines override them).
_CHARGE_CODE = {0: 0, 1: 3, 2: 2, 3: 1, 4: 0, 5: -1, 6: -2, 7: -3}
GEOMETRY_KINDS = ("dft", "mmff", "uff", "etkdg", "xtb", "file")  # written on header line 3
_ORDER = {1: 1.0, 2: 2.0, 3: 3.0, 4: AROMATIC}  # 5-8 are query types: order unknown (0)


def read_sdf(
    lines: list[str], source: str, limits: Limits, seed: int = 0
) -> list[Structure | Record]:
    """Every record of an SDF (records end with '$$$$'; a MOL file is one record); a
    record that cannot be read is a failed `Record` in its place. Records with 2D
    coordinates or none get 3D embedded from their connection table (`embed`)."""
    out: list[Structure | Record] = []
    start = 0
    for i, line in enumerate(lines + ["$$$$"]):
        if line.startswith("$$$$"):
            if any(x.strip() for x in lines[start:i]):
                k = len(out) + 1
                try:
                    out.append(_record(lines, start, i, source, k, limits, seed))
                except StructureError as exc:
                    title = lines[start].strip()[:80]
                    out.append(Record.failed(k, title, f"{source}#{k}", exc))
            start = i + 1
    return out


def _num(text: str, kind, line: int, source: str, what: str):
    try:
        return kind(text)
    except ValueError:
        raise ParseError(
            f"{what} {text.strip()!r} is not a number", line=line, source=source
        ) from None


def _record(lines, start, end, source, k, limits, seed) -> Structure:
    rec = lines[start:end]
    if len(rec) < 4:
        raise ParseError(
            "an SDF/MOL record needs 3 header lines and a counts line",
            line=start + len(rec),
            source=source,
        )
    counts = rec[3]
    if "V3000" in counts:
        parsed = _v3000(rec, start, source, limits)
    else:
        parsed = _v2000(rec, start, source, limits)
    elements, coords, bonds, orders, charges, m_end = parsed
    where = f"{source}#{k}"
    props = _properties(rec, m_end)
    name = rec[0].strip()
    comment = rec[2].strip().lower()
    s = Structure(
        elements=elements,
        coords=coords,
        bonds=bonds,
        bond_orders=orders,
        formal_charges=charges,
        properties=props,
        name=name or f"{source.rsplit('/', 1)[-1]}#{k}",
        source=where,
        smiles=props.get("smiles"),
        geometry=comment if comment in GEOMETRY_KINDS else "file",
    )
    why = why_not_3d(s, marked=rec[1][20:22])
    if why is None:
        return s
    return rebuild_3d(s, _table_mol(rec, s, where), why, seed=seed, max_atoms=limits.max_atoms)


def _table_mol(rec: list[str], s: Structure, where: str):
    """The record's connection table as a sanitized RDKit mol: RDKit's own MOL reader
    (stereo from wedges and parities), else our parse of atoms, bonds and charges."""
    from rdkit import Chem

    with quiet():
        try:
            mol = Chem.MolFromMolBlock("\n".join(rec), sanitize=True, removeHs=False)
        except Exception:  # noqa: BLE001 - RDKit raises several unrelated types
            mol = None
    return table_mol(s, where, read=mol)


def _v2000(rec, start, source, limits):
    ln = start + 4  # 1-based line number of the counts line
    counts = rec[3]
    try:
        n, b = int(counts[0:3]), int(counts[3:6])
    except ValueError:
        parts = counts.split()
        if len(parts) < 2 or not (parts[0].isdecimal() and parts[1].isdecimal()):
            raise ParseError(
                "bad counts line: expected atom and bond counts in columns 1-6",
                line=ln,
                source=source,
            ) from None
        n, b = int(parts[0]), int(parts[1])
    check_atoms(n, limits, source)
    if n < 0 or b < 0 or 4 + n + b > len(rec):
        raise ParseError(
            f"counts line announces {n} atoms and {b} bonds but the record is shorter",
            line=ln,
            source=source,
        )
    elements, coords, charges = [], np.zeros((n, 3)), np.zeros(n, dtype=np.int64)
    for a in range(n):
        line, lno = rec[4 + a], start + 5 + a
        try:  # fixed columns first (the standard), then whitespace-separated fields
            xyz = [_num(line[c : c + 10], float, lno, source, "coordinate") for c in (0, 10, 20)]
            sym, chg = line[31:34], line[36:39].strip()
            if not sym.strip():
                raise ParseError("bad atom line: no element in columns 32-34", lno, source)
        except ParseError:
            parts = line.split()
            if len(parts) < 4:
                raise
            xyz = [_num(v, float, lno, source, "coordinate") for v in parts[:3]]
            sym, chg = parts[3], parts[5] if len(parts) > 5 else "0"
        coords[a] = xyz
        elements.append(element_or_error(sym, lno, source))
        code = _num(chg or "0", int, lno, source, "charge code")
        charges[a] = _CHARGE_CODE.get(code, 0)
    pairs, orders = np.zeros((b, 2), dtype=np.int64), np.zeros(b)
    for j in range(b):
        line, lno = rec[4 + n + j], start + 5 + n + j
        if len(line.rstrip()) >= 9:
            fields = (line[0:3], line[3:6], line[6:9])
        else:
            fields = tuple(line.split()[:3])
            if len(fields) < 3:
                raise ParseError(
                    "bad bond line: expected atom1 atom2 type", line=lno, source=source
                )
        a1, a2, t = (_num(f, int, lno, source, "bond field") for f in fields)
        if not (1 <= a1 <= n and 1 <= a2 <= n) or a1 == a2:
            raise ParseError(
                f"bond between atoms {a1} and {a2}, but there are {n} atoms",
                line=lno,
                source=source,
            )
        pairs[j] = (a1 - 1, a2 - 1)
        orders[j] = _ORDER.get(t, 0.0)
    m_end = 4 + n + b
    charges = _m_chg(rec, m_end, start, n, charges, source)
    return elements, coords, pairs, orders, charges, m_end


def _m_chg(rec, first, start, n, charges, source):
    """Apply "M  CHG" lines (they replace all atom-block charges)."""
    seen = False
    for i in range(first, len(rec)):
        line = rec[i]
        if line.startswith("M  END"):
            break
        if line.startswith("M  CHG"):
            if not seen:
                charges = np.zeros(n, dtype=np.int64)
                seen = True
            parts = line.split()[3:]
            for a, q in zip(parts[0::2], parts[1::2]):
                ai = _num(a, int, start + i + 1, source, "M  CHG atom")
                if not 1 <= ai <= n:
                    raise ParseError(
                        f"M  CHG names atom {ai}; there are {n}", line=start + i + 1, source=source
                    )
                charges[ai - 1] = _num(q, int, start + i + 1, source, "M  CHG charge")
    return charges


def _v3000(rec, start, source, limits):
    # Join continuation lines ("-" at the end) and keep their first line number.
    body, numbers, buf, buf_ln = [], [], "", None
    for i, line in enumerate(rec[4:], start=start + 5):
        if line.startswith("M  END"):
            break
        if not line.startswith("M  V30 "):
            continue
        text = line[7:].rstrip()
        buf_ln = buf_ln or i
        if text.endswith("-"):
            buf += text[:-1]
            continue
        body.append(buf + text)
        numbers.append(buf_ln)
        buf, buf_ln = "", None
    elements, coords, charges, pairs, orders = [], [], [], [], []
    block = None
    index_of: dict[int, int] = {}
    for text, lno in zip(body, numbers):
        parts = text.split()
        if not parts:
            continue
        if parts[0] in ("BEGIN", "END"):
            block = parts[1] if parts[0] == "BEGIN" and len(parts) > 1 else None
            continue
        if block == "ATOM":
            if len(parts) < 5:
                raise ParseError("bad V3000 atom line", line=lno, source=source)
            index_of[_num(parts[0], int, lno, source, "atom index")] = len(elements)
            elements.append(element_or_error(parts[1], lno, source))
            coords.append([_num(v, float, lno, source, "coordinate") for v in parts[2:5]])
            q = [p[4:] for p in parts[6:] if p.startswith("CHG=")]
            charges.append(_num(q[0], int, lno, source, "charge") if q else 0)
            check_atoms(len(elements), limits, source)
        elif block == "BOND":
            if len(parts) < 4:
                raise ParseError("bad V3000 bond line", line=lno, source=source)
            t, a1, a2 = (_num(v, int, lno, source, "bond field") for v in parts[1:4])
            if a1 not in index_of or a2 not in index_of or a1 == a2:
                raise ParseError(f"bond names unknown atom {a1} or {a2}", line=lno, source=source)
            pairs.append((index_of[a1], index_of[a2]))
            orders.append(_ORDER.get(t, 0.0))
    m_end = next((i for i, x in enumerate(rec) if x.startswith("M  END")), len(rec))
    return (
        elements,
        np.array(coords, dtype=np.float64).reshape(-1, 3),
        np.array(pairs, dtype=np.int64).reshape(-1, 2),
        np.array(orders, dtype=np.float64),
        np.array(charges, dtype=np.int64),
        m_end,
    )


def _properties(rec: list[str], m_end: int) -> dict[str, str]:
    props: dict[str, str] = {}
    i = m_end
    while i < len(rec) and not rec[i].startswith("M  END"):
        i += 1
    key, values = None, []
    for line in rec[i + 1 :]:
        if line.startswith(">"):
            if key is not None:
                props[key] = "\n".join(values).strip()
            lt, gt = line.find("<"), line.rfind(">")
            key = line[lt + 1 : gt] if 0 <= lt < gt else line[1:].strip()
            values = []
        elif key is not None:
            if line.strip() == "":
                props[key] = "\n".join(values).strip()
                key, values = None, []
            else:
                values.append(line)
    if key is not None:
        props[key] = "\n".join(values).strip()
    return props


# --- writing ----------------------------------------------------------------
def _kekule(s: Structure) -> tuple[np.ndarray, np.ndarray]:
    """Bonds and orders to write: perceived if missing, aromatic turned Kekulé if possible."""
    if s.bonds is None:
        s = s.perceive_bonds()
    orders = s.bond_orders if s.bond_orders is not None else np.ones(len(s.bonds))
    if np.any(orders == AROMATIC):
        try:
            pairs, new = bonds_of(mol_from_bonds(s))
            return pairs, new
        except Exception:  # keep type-4 aromatic bonds
            pass
    return s.bonds, orders


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:.10g}"
    return str(v)


def format_sdf(structures: list[Structure], predictions: list[dict] | None = None) -> str:
    """SDF text; `predictions[k]` (name -> value) are written as data fields of record k."""
    chunks = []
    for k, s in enumerate(structures):
        bonds, orders = _kekule(s)
        props = dict(s.properties)
        if s.smiles and "smiles" not in props:
            props["smiles"] = s.smiles
        if predictions is not None and k < len(predictions):
            props.update(predictions[k])
        big = s.n_atoms > 999 or len(bonds) > 999 or np.abs(s.coords).max() >= 1e4
        ctab = _ctab_v3000(s, bonds, orders) if big else _ctab_v2000(s, bonds, orders)
        name = sdf_line(s.name, limit=80)
        head = f"{name}\n  {'pamnet':<8s}{'':10s}3D\n{s.geometry}\n"  # dim code: cols 21-22
        data = "".join(
            f">  <{sdf_key(key)}>\n{sdf_line(_value(v))}\n\n" for key, v in props.items()
        )
        chunks.append(head + ctab + "M  END\n" + data + "$$$$\n")
    return "".join(chunks)


def _order_code(o: float) -> int:
    return {1.0: 1, 2.0: 2, 3.0: 3, AROMATIC: 4}.get(float(o), 8)


def _ctab_v2000(s, bonds, orders) -> str:
    lines = [f"{s.n_atoms:3d}{len(bonds):3d}  0  0  0  0  0  0  0  0999 V2000"]
    for e, (x, y, z) in zip(s.elements, s.coords.tolist()):
        lines.append(f"{x:10.4f}{y:10.4f}{z:10.4f} {e:<3s} 0  0  0  0  0  0  0  0  0  0  0  0")
    for (i, j), o in zip(bonds.tolist(), orders.tolist()):
        lines.append(f"{i + 1:3d}{j + 1:3d}{_order_code(o):3d}  0")
    charged = [(i + 1, int(q)) for i, q in enumerate(s.formal_charges) if q]
    for c in range(0, len(charged), 8):
        part = charged[c : c + 8]
        lines.append(f"M  CHG{len(part):3d}" + "".join(f" {i:3d} {q:3d}" for i, q in part))
    return "\n".join(lines) + "\n"


def _ctab_v3000(s, bonds, orders) -> str:
    lines = [
        "  0  0  0     0  0            999 V3000",
        "M  V30 BEGIN CTAB",
        f"M  V30 COUNTS {s.n_atoms} {len(bonds)} 0 0 0",
        "M  V30 BEGIN ATOM",
    ]
    for i, (e, (x, y, z)) in enumerate(zip(s.elements, s.coords.tolist())):
        q = int(s.formal_charges[i])
        lines.append(f"M  V30 {i + 1} {e} {x:.4f} {y:.4f} {z:.4f} 0" + (f" CHG={q}" if q else ""))
    lines += ["M  V30 END ATOM", "M  V30 BEGIN BOND"]
    for b, ((i, j), o) in enumerate(zip(bonds.tolist(), orders.tolist())):
        lines.append(f"M  V30 {b + 1} {_order_code(o)} {i + 1} {j + 1}")
    lines += ["M  V30 END BOND", "M  V30 END CTAB"]
    return "\n".join(lines) + "\n"
