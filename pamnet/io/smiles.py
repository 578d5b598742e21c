"""SMILES -> 3D: RDKit ETKDGv3 embedding then MMFF94 (or UFF) optimisation, seeded."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from rdkit import Chem

from pamnet.errors import PamnetError, SmilesError, StructureError
from pamnet.io._rdkit import mol_to_structure, quiet
from pamnet.io._text import Limits, split_lines
from pamnet.io.embed import MAX_EMBED_ATOMS, embed_3d, embed_conformers, with_hydrogens
from pamnet.io.records import Record
from pamnet.structure import Structure

MAX_SMILES_ATOMS = MAX_EMBED_ATOMS
_MAX_SMILES_CHARS = 5000


def from_smiles(
    smiles: str,
    seed: int = 0,
    name: str | None = None,
    optimize: bool = True,
    max_atoms: int = MAX_SMILES_ATOMS,
) -> Structure:
    """One 3D `Structure` from a SMILES string (hydrogens added, coordinates in Å).

    The same SMILES and seed always give the same geometry (single-threaded
    ETKDGv3, fixed random seed; RDKit treats seeds 0 and 1 alike). geometry is
    'mmff', 'uff' or 'etkdg'.
    Raises SmilesError (unparseable), EmbeddingError (no 3D coordinates found) or
    TooLargeError (over `max_atoms` atoms with hydrogens).
    """
    text, mol = _parse(smiles)
    molh = with_hydrogens(mol, f"the SMILES {text[:60]!r}", max_atoms)
    geometry = embed_3d(molh, seed, repr(text[:60]), optimize=optimize)
    canonical = Chem.MolToSmiles(mol)
    return mol_to_structure(
        molh,
        name=name or text,
        source="smiles",
        smiles=canonical,
        geometry=geometry,
        properties={"input_smiles": text},
    )


def smiles_source(item) -> tuple[str, str] | None:
    """(SMILES, name) of an item built from a SMILES: a string, or a structure (or a
    Record of one) whose properties hold its 'input_smiles' (a .smi line); else None."""
    try:
        item = item.unwrap() if hasattr(item, "unwrap") else item  # a Record
    except PamnetError:
        return None  # a failed record
    if isinstance(item, str):
        return item, item
    smiles = (getattr(item, "properties", None) or {}).get("input_smiles")
    return None if smiles is None else (smiles, item.name)


def _built(job: tuple[str, int]) -> Structure | str:
    """`from_smiles(smiles, seed)`, or the message of the PamnetError it raised."""
    try:
        return from_smiles(job[0], seed=job[1])
    except PamnetError as exc:
        return str(exc)


def _conformers_built(job: tuple[str, int, str | None]) -> list[Structure] | str:
    """`conformers_from_smiles(smiles, k, name=name)`, or its error's message."""
    try:
        return conformers_from_smiles(job[0], job[1], name=job[2])
    except PamnetError as exc:
        return str(exc)


MIN_PARALLEL = 16  # fewer SMILES than this are built in this process: a pool costs more


def _in_order(fn, jobs: list, workers: int) -> Iterator:
    """fn(job) for each job, in order: here, or with workers > 1 (and at least
    `MIN_PARALLEL` jobs) in that many forked processes, which run RDKit only. A seeded
    embedding gives the same geometry in any process. Close the iterator
    (`contextlib.closing`) to stop the workers early. The workers import nothing: a fork
    copies a lock another thread held (the app's), and an import there could wait forever."""
    import multiprocessing as mp

    if workers < 2 or len(jobs) < MIN_PARALLEL or "fork" not in mp.get_all_start_methods():
        yield from map(fn, jobs)
        return
    # fork, not spawn: spawn re-runs the caller's __main__ (a notebook or stdin cannot)
    pool = mp.get_context("fork").Pool(min(workers, len(jobs)))
    try:
        yield from pool.imap(fn, jobs, chunksize=4)
    finally:
        pool.terminate()
        pool.join()


def from_smiles_many(
    smiles: Sequence[str], seed: int = 0, workers: int = 1
) -> Iterator[Structure | str]:
    """`from_smiles` of each SMILES, in order; where one cannot be built, the message
    saying why takes its place. workers: processes (`_in_order`)."""
    return _in_order(_built, [(text, seed) for text in smiles], workers)


def conformers_many(
    smiles: Sequence[str], k: int, names: Sequence[str | None], workers: int = 1
) -> Iterator[list[Structure] | str]:
    """`conformers_from_smiles` of each SMILES (k conformers, its name), in order; an
    error's message in place of one that cannot be built. workers: as `from_smiles_many`."""
    return _in_order(_conformers_built, [(s, k, n) for s, n in zip(smiles, names)], workers)


def _parse(smiles: str) -> tuple[str, Chem.Mol]:
    """(stripped text, RDKit mol) of one SMILES, or a SmilesError saying what is wrong."""
    text = smiles.strip()
    if not text:
        raise SmilesError("empty SMILES; give e.g. CC(=O)Oc1ccccc1C(=O)O")
    if len(text) > _MAX_SMILES_CHARS or any(c.isspace() for c in text):
        raise SmilesError(f"{text[:40]!r}... is not a single SMILES (too long or contains spaces)")
    with quiet():
        try:
            mol = Chem.MolFromSmiles(text)
        except Exception:  # RDKit may raise instead of returning None
            mol = None
    if mol is None:
        raise SmilesError(
            f"RDKit cannot parse the SMILES {text!r}; check brackets, ring-closure digits "
            "and valences (e.g. a carbon with five bonds)"
        )
    if mol.GetNumAtoms() == 0:
        raise SmilesError(f"the SMILES {text!r} has no atoms")
    return text, mol


def conformers_from_smiles(
    smiles: str,
    k: int = 5,
    seed: int = 0,
    name: str | None = None,
    max_atoms: int = MAX_SMILES_ATOMS,
) -> list[Structure]:
    """Up to k distinct MMFF94-minimised conformers of a SMILES (`embed_conformers`),
    lowest MMFF energy first, each with properties 'mmff_energy' (kcal/mol) and
    'conformer' (1-based). A molecule MMFF cannot type gives one conformer
    (`from_smiles`), and a rigid one may give fewer than k."""
    text, mol = _parse(smiles)
    molh = with_hydrogens(mol, f"the SMILES {text[:60]!r}", max_atoms)
    found = embed_conformers(molh, k, seed, repr(text[:60]))
    if not found:
        return [from_smiles(text, seed=seed, name=name, max_atoms=max_atoms)]
    canonical = Chem.MolToSmiles(mol)
    return [
        mol_to_structure(
            molh,
            conf_id=cid,
            name=name or text,
            source="smiles",
            smiles=canonical,
            geometry="mmff",
            properties={"input_smiles": text, "mmff_energy": energy, "conformer": j + 1},
        )
        for j, (cid, energy) in enumerate(found)
    ]


def read_smiles(text: str, source: str, limits: Limits, seed: int = 0) -> list[Structure | Record]:
    """A .smi file: one 'SMILES [name]' per line; '#' comments and blank lines skipped.
    A line that cannot be parsed or embedded is a failed `Record` in its place. A line
    written 'name SMILES' (the first field not a SMILES, the second one) is read so,
    with a note."""
    out: list[Structure | Record] = []
    for lineno, line in enumerate(split_lines(text), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 1)
        if lineno == 1 and parts[0].upper() in ("SMILES", "SMI"):
            continue  # header line
        name = parts[1].strip() if len(parts) > 1 else None
        k = len(out) + 1
        limit = min(MAX_SMILES_ATOMS, limits.max_atoms)
        try:
            try:
                s = from_smiles(parts[0], seed=seed, name=name, max_atoms=limit)
            except SmilesError:
                swapped = _name_first(parts)
                if swapped is None:
                    raise
                name = parts[0]
                s = from_smiles(swapped, seed=seed, name=name, max_atoms=limit)
                s.warnings.append("read as 'name SMILES' (the first field is not a SMILES)")
        except StructureError as exc:
            err = type(exc)(f"{source}:{lineno}: {exc}")
            out.append(Record.failed(k, name or parts[0][:60], f"{source}#{k}", err))
            continue
        s.source = f"{source}#{k}"
        out.append(s)
    return out


def _name_first(parts: list[str]) -> str | None:
    """The second field of a 'name SMILES' line, when it alone is a SMILES."""
    if len(parts) < 2 or len(parts[1].split()) != 1:
        return None
    with quiet():
        try:
            ok = Chem.MolFromSmiles(parts[1].strip()) is not None
        except Exception:  # noqa: BLE001 - RDKit may raise instead of returning None
            ok = False
    return parts[1].strip() if ok else None
