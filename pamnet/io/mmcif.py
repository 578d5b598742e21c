"""mmCIF/PDBx through gemmi (preferred) or biotite, whichever is installed.

gemmi is in requirements.txt; where neither is installed, reading a .cif raises
UnsupportedFormatError saying what to install. Same conventions as the PDB reader (first model unless
`all_models`, one conformer per residue, roles per residue: `pamnet.io.roles`).
"""

from __future__ import annotations

import io
import re

import numpy as np

from pamnet.errors import PamnetError, ParseError, UnsupportedFormatError
from pamnet.io._text import Limits, check_atoms
from pamnet.io.pdb import _VIRTUAL_SITES, screen_atoms
from pamnet.io.roles import altloc_keep, residue_roles
from pamnet.structure import Structure, normalize_element

_LINE = re.compile(r"(?:line\s*|:)(\d+)")


def read_mmcif(text: str, source: str, limits: Limits, all_models: bool = False) -> list[Structure]:
    """Structures of an mmCIF file (one per model read)."""
    try:
        import gemmi  # noqa: F401

        reader = _gemmi_models
    except ImportError:
        try:
            import biotite.structure.io.pdbx  # noqa: F401

            reader = _biotite_models
        except ImportError:
            raise UnsupportedFormatError(
                "reading mmCIF needs gemmi or biotite: pip install gemmi "
                "(or convert the file to PDB)"
            ) from None
    try:
        models = reader(text, all_models)
        if not models:
            raise ParseError("no atoms in the mmCIF file (_atom_site is empty)", source=source)
        out = []
        for k, (name, cols) in enumerate(models):
            check_atoms(len(cols["x"]), limits, source)
            s = _structure(cols, source)
            s.name = name if len(models) == 1 else f"{name} model {k + 1}"
            s.source = f"{source}#{k + 1}"
            out.append(s)
    except PamnetError:
        raise
    except Exception as exc:  # the libraries raise RuntimeError/ValueError/KeyError...
        m = _LINE.search(str(exc))
        raise ParseError(
            f"not a readable mmCIF file: {str(exc).splitlines()[0] if str(exc) else exc!r}",
            line=int(m.group(1)) if m else None,
            source=source,
        ) from None
    return out


def _structure(cols: dict[str, list], source: str) -> Structure:
    a = {k: np.asarray(v) for k, v in cols.items()}
    altloc = np.array([x.strip() for x in cols["altloc"]])
    keep = altloc_keep(altloc, a["chain"], a["resseq"], a["icode"], a["name"], a["occ"])
    elements = np.array(
        [
            None if str(n).strip().upper() in _VIRTUAL_SITES else normalize_element(str(e))
            for e, n in zip(a["element"].tolist(), a["name"].tolist())
        ],
        dtype=object,
    )
    known = elements != None  # noqa: E711 - elementwise on an object array
    names = np.array([str(n) for n in a["name"].tolist()])
    chain = np.array([str(c) for c in a["chain"].tolist()])
    icode = np.array([str(c) for c in a["icode"].tolist()])
    resseq = a["resseq"].astype(np.int64)
    coords = np.stack([a["x"], a["y"], a["z"]], axis=1).astype(np.float64)
    where = np.array([f"atom {i + 1}" for i in range(len(names))])
    resname = np.array([str(r) for r in a["resname"].tolist()])
    keep, warnings, k = screen_atoms(
        keep, known, chain, resseq, icode, names, coords, resname, where
    )
    if k is not None:
        raise ParseError(
            f"no atom with a known element (atom {names[k]!r} says {a['element'][k]!r}); "
            "fill in _atom_site.type_symbol",
            source=source,
        )
    a = {k: v[keep] for k, v in a.items()}
    roles, resname, chain, resseq, icode = residue_roles(
        resname[keep], a["het"].astype(bool), chain[keep], resseq[keep], icode[keep],
        names[keep], elements[keep], coords[keep],
    )  # fmt: skip
    return Structure(
        elements=elements[keep].tolist(),
        warnings=warnings,
        coords=coords[keep],
        formal_charges=np.round(a["charge"].astype(np.float64)).astype(np.int64),
        atom_names=a["name"].tolist(),
        roles=roles,
        residue_names=resname.tolist(),
        residue_numbers=resseq.astype(np.int64),
        insertion_codes=icode.tolist(),
        chain_ids=chain.tolist(),
    )


def _empty() -> dict[str, list]:
    keys = "element x y z name altloc occ resname resseq icode chain het charge"
    return {k: [] for k in keys.split()}


def _gemmi_models(text: str, all_models: bool) -> list[tuple[str, dict]]:
    import gemmi

    doc = gemmi.cif.read_string(text)
    st = gemmi.make_structure_from_block(doc.sole_block())
    out = []
    for model in st:
        cols = _empty()
        for chain in model:
            for res in chain:
                het = res.het_flag == "H"
                icode = res.seqid.icode.strip()
                for atom in res:
                    p = atom.pos
                    for k, v in (
                        ("element", atom.element.name),
                        ("x", p.x),
                        ("y", p.y),
                        ("z", p.z),
                        ("name", atom.name),
                        ("altloc", atom.altloc.strip("\0 ")),
                        ("occ", atom.occ),
                        ("resname", res.name),
                        ("resseq", res.seqid.num),
                        ("icode", icode),
                        ("chain", chain.name),
                        ("het", het),
                        ("charge", atom.charge),
                    ):
                        cols[k].append(v)
        if cols["x"]:
            out.append((st.name, cols))
        if not all_models:
            break
    return out


def _biotite_models(text: str, all_models: bool) -> list[tuple[str, dict]]:
    from biotite.structure.io import pdbx

    cif = pdbx.CIFFile.read(io.StringIO(text))
    block = cif.block
    n_models = pdbx.get_model_count(cif) if all_models else 1
    out = []
    for model in range(1, n_models + 1):
        arr = pdbx.get_structure(
            cif, model=model, altloc="occupancy", extra_fields=["occupancy", "charge"]
        )
        n = len(arr)
        cols = {
            "element": arr.element.tolist(),
            "x": arr.coord[:, 0],
            "y": arr.coord[:, 1],
            "z": arr.coord[:, 2],
            "name": arr.atom_name.tolist(),
            "altloc": [""] * n,
            "occ": arr.occupancy,
            "resname": arr.res_name.tolist(),
            "resseq": arr.res_id,
            "icode": arr.ins_code.tolist(),
            "chain": arr.chain_id.tolist(),
            "het": arr.hetero,
            "charge": arr.charge,
        }
        if n:
            out.append((getattr(block, "name", "") or "structure", cols))
    return out
