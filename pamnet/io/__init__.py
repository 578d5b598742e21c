"""Structure input/output: `read` any supported file (or bytes), `write` SDF/XYZ/PDB.

Formats read: SMILES (.smi, or a string with fmt='smiles'), XYZ, SDF/MOL, MOL2,
PDB, mmCIF (needs gemmi or biotite). Every reader returns `list[Structure]` or
raises a `pamnet.errors.StructureError` subclass; reading never runs or fetches
anything. Every structure is checked: not empty, within `Limits`, finite
coordinates, no two atoms closer than 0.5 Å.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pamnet.errors import (
    EmptyInputError,
    InputNotFoundError,
    StructureError,
    UnsupportedFormatError,
)
from pamnet.io._rdkit import structure_to_mol as to_rdkit
from pamnet.io._text import Limits, check_size, decode, decompress, read_bytes, split_lines
from pamnet.io.checks import check_structure
from pamnet.io.mmcif import read_mmcif
from pamnet.io.mol2 import read_mol2
from pamnet.io.pdb import format_pdb, read_pdb
from pamnet.io.records import Record
from pamnet.io.sdf import format_sdf, read_sdf
from pamnet.io.smiles import MAX_SMILES_ATOMS, from_smiles, read_smiles
from pamnet.io.xyz import format_xyz, read_xyz
from pamnet.structure import Structure

FORMATS = ("smiles", "xyz", "sdf", "mol2", "pdb", "cif")
WRITE_FORMATS = ("sdf", "xyz", "pdb")
_ALIASES = {
    "smi": "smiles", "smiles": "smiles", "xyz": "xyz", "sdf": "sdf", "sd": "sdf",
    "mol": "sdf", "mdl": "sdf", "mol2": "mol2", "ml2": "mol2", "pdb": "pdb", "ent": "pdb",
    "cif": "cif", "mmcif": "cif", "pdbx": "cif",
}  # fmt: skip

__all__ = [
    "FORMATS",
    "Limits",
    "Structure",
    "format_of",
    "from_smiles",
    "is_file",
    "Record",
    "read",
    "read_file_or_smiles",
    "read_records",
    "read_one",
    "to_rdkit",
    "write",
    "write_pdb",
    "write_sdf",
    "write_xyz",
]


def format_of(name: str) -> str | None:
    """Format from a file name's extension ('x.SDF' -> 'sdf', 'x.pdb.gz' -> 'pdb'), or
    None. Whether the bytes are compressed is told by their content (`decompress`)."""
    suffixes = [s.lower().lstrip(".") for s in Path(name).suffixes]
    if suffixes and suffixes[-1] == "zip":
        raise UnsupportedFormatError(
            f"{Path(name).name} is a zip archive; extract the structure file first"
        )
    if suffixes and suffixes[-1] in ("gz", "bz2", "xz"):
        suffixes = suffixes[:-1]
    return _ALIASES.get(suffixes[-1]) if suffixes else None


def _normalize_fmt(fmt: str) -> str:
    key = fmt.lower().lstrip(".")
    if key not in _ALIASES:
        raise UnsupportedFormatError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return _ALIASES[key]


def sniff(text: str) -> str | None:
    """Guess the format from the content, or None."""
    head = text[:200_000]
    if "@<TRIPOS>" in head:
        return "mol2"
    if re.search(r"^(ATOM  |HETATM)", head, re.M):
        return "pdb"
    if head.lstrip().startswith("data_") and "_atom_site." in head:
        return "cif"
    if re.search(r"^M  END|V[23]000", head, re.M):
        return "sdf"
    lines = [x for x in split_lines(head) if x.strip()]
    if lines and lines[0].strip().isdecimal():
        return "xyz"
    if lines and all(len(x.split()) <= 2 for x in lines[:20]):
        return "smiles"
    return None


def read(
    source: str | os.PathLike | bytes,
    fmt: str | None = None,
    name: str | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen dataclass, safe as a default
    **options,
) -> list[Structure]:
    """Every structure in a file, in bytes, or (fmt='smiles') in a SMILES string; the
    first record that cannot be read raises its error. `read_records` keeps going
    instead (one `Record` per record, failed ones with their reason). Options as there."""
    return [r.unwrap() for r in read_records(source, fmt, name, limits, **options)]


def read_records(
    source: str | os.PathLike | bytes,
    fmt: str | None = None,
    name: str | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen dataclass, safe as a default
    *,
    charge: int | None = None,
    all_models: bool = False,
    seed: int = 0,
) -> list[Record]:
    """One `Record` per record of a file, of bytes, or (fmt='smiles') of a SMILES
    string, in order: its `structure`, or the typed `error` that kept it out (a bad
    SDF/MOL2 record or .smi line fails alone). Problems of the file as a whole (not
    found, too large, unknown format, unreadable text, no records; a PDB, mmCIF or
    XYZ that does not parse) raise their `StructureError`.

    Records with 2D coordinates or none (SDF/MOL, MOL2) get 3D built from their
    connection table, RDKit ETKDG + MMFF94, with a note in `warnings`.

    source: path, bytes (e.g. an upload), or a SMILES string with fmt='smiles'
    (a `str` is then never opened as a file; pass a Path to read a .smi file).
    fmt: one of `FORMATS` (or an extension such as 'mol'); default from the file
    name's extension (or `name`'s, for bytes), else sniffed from the content.
    name: label used in messages and as the source (defaults to the file name).
    charge: total charge (e) for bond perception in XYZ files. all_models: every
    PDB/mmCIF MODEL instead of the first. seed: embedding seed for SMILES.
    """
    if fmt is not None:
        fmt = _normalize_fmt(fmt)
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        label = name or "input"
        check_size(data, limits, label)
    else:
        path = Path(source)
        # A str with fmt='smiles' is always SMILES text, never a path: text typed
        # into the app must not be able to name (and echo) a server file.
        if fmt == "smiles" and isinstance(source, str):
            limit = min(limits.max_atoms, MAX_SMILES_ATOMS)
            s = from_smiles(str(source), seed=seed, name=name, max_atoms=limit)
            return [Record.of(1, check_structure(s, limits))]
        if not is_file(path):
            raise InputNotFoundError(
                f"no such file: {str(source)[:200]}; check the path "
                "(to read a SMILES string use from_smiles() or fmt='smiles')"
            )
        data = read_bytes(path, limits)
        label = name or path.name
    if fmt is None:
        fmt = format_of(label)
    text = decode(decompress(data, limits, label), label)
    if fmt is None:
        fmt = sniff(text)
        if fmt is None:
            raise UnsupportedFormatError(
                f"cannot tell the format of {label}; give a file extension or "
                f"fmt= one of {', '.join(FORMATS)}"
            )
    items = _dispatch(text, fmt, label, limits, charge, all_models, seed)
    if not items:
        raise EmptyInputError(f"{label} holds no structures; give a file with at least one atom")
    records = []
    for k, item in enumerate(items, start=1):
        if isinstance(item, Record):
            records.append(item)
            continue
        try:
            records.append(Record.of(k, check_structure(item, limits)))
        except StructureError as exc:
            records.append(Record.failed(k, item.name, item.source or f"{label}#{k}", exc))
    return records


def read_file_or_smiles(source: str | os.PathLike, fmt: str | None = None, **options):
    """`read(source)` when it names a file, else `source` read as a SMILES string (the
    command line's FILE_OR_SMILES). A name with a structure-file extension that is not
    a file is `InputNotFoundError`, not a confusing SMILES error."""
    path = Path(source).expanduser()
    if is_file(path):
        return read(path, fmt=fmt, **options)
    if (fmt and _normalize_fmt(fmt) != "smiles") or format_of(str(source)) not in (None, "smiles"):
        raise InputNotFoundError(
            f"no such file: {str(source)[:200]}; give a structure file or a SMILES string"
        )
    options.pop("charge", None)  # XYZ bond perception only
    return read(str(source), fmt="smiles", **options)


def is_file(path: Path) -> bool:
    """Whether `path` names a file (False, not an error, for text too long to be a path)."""
    try:
        return path.is_file()
    except (OSError, ValueError):  # e.g. a SMILES too long to be a file name
        return False


def _dispatch(text, fmt, label, limits, charge, all_models, seed) -> list[Structure | Record]:
    if fmt == "smiles":
        return read_smiles(text, label, limits, seed=seed)
    if fmt == "cif":
        return read_mmcif(text, label, limits, all_models=all_models)
    lines = split_lines(text)
    if fmt == "xyz":
        return read_xyz(lines, label, limits, charge=charge)
    if fmt == "sdf":
        return read_sdf(lines, label, limits, seed=seed)
    if fmt == "mol2":
        return read_mol2(lines, label, limits, seed=seed)
    if fmt == "pdb":
        return read_pdb(lines, label, limits, all_models=all_models)
    raise UnsupportedFormatError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def read_one(
    source: str | os.PathLike | bytes,
    fmt: str | None = None,
    name: str | None = None,
    limits: Limits = Limits(),  # noqa: B008
    **options,
) -> Structure:
    """The first structure of `read(...)` (the rest, if any, are ignored)."""
    return read(source, fmt=fmt, name=name, limits=limits, **options)[0]


# --- writing ----------------------------------------------------------------
def _as_list(structures: Structure | list[Structure]) -> list[Structure]:
    return [structures] if isinstance(structures, Structure) else list(structures)


def write(
    structures: Structure | list[Structure],
    path: str | os.PathLike | None = None,
    fmt: str | None = None,
    predictions: list[dict] | None = None,
) -> str:
    """Write SDF, XYZ or PDB (format from `fmt` or the extension); returns the text.

    predictions: per structure, name -> value, written as SDF data fields.
    """
    fmt = _normalize_fmt(fmt) if fmt else (format_of(str(path)) if path else None)
    if fmt not in WRITE_FORMATS:
        raise UnsupportedFormatError(
            f"cannot write {fmt or 'an unknown format'}; write one of {', '.join(WRITE_FORMATS)}"
        )
    items = _as_list(structures)
    if fmt == "sdf":
        text = format_sdf(items, predictions)
    elif fmt == "xyz":
        text = format_xyz(items)
    else:
        text = format_pdb(items)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def write_sdf(structures, path=None, predictions: list[dict] | None = None) -> str:
    """SDF text (V2000, or V3000 over 999 atoms/bonds) with predictions as data fields."""
    return write(structures, path, "sdf", predictions)


def write_xyz(structures, path=None) -> str:
    """Multi-frame XYZ text (coordinates to 1e-8 Å)."""
    return write(structures, path, "xyz")


def write_pdb(structures, path=None) -> str:
    """PDB text (several structures -> MODELs; CONECT for known bonds)."""
    return write(structures, path, "pdb")
