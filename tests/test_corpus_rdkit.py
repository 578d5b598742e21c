"""Real files from a corpus no one here wrote: the structure files RDKit ships in its
Data/ and Contrib/ folders (NCI 2D SDF, kinase ligands in 3D, ChEMBL SMILES). Every
record is read or refused on its own with a typed one-line reason, no hang; 2D records
come out 3D; every record read is the molecule RDKit itself reads there, stereo included;
`pamnet predict` gives one row per record of the 2D SDF. File discovery and the .smi
subsets are shared with `benchmarks/corpus_counts.py`, which prints the counts."""

import io
import os
import signal
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from benchmarks.corpus_counts import rdkit_files, readable, record_count, smiles_lines
from pamnet.errors import (
    EmbeddingError,
    OverlappingAtomsError,
    PamnetError,
    ParseError,
    StructureError,
)
from pamnet.io import read, read_records, to_rdkit
from pamnet.rdkit_bonds import quiet

pytestmark = pytest.mark.slow
Chem = pytest.importorskip("rdkit.Chem")

NCI = "first_200.props.sdf"  # 200 records drawn in 2D, S, Cl, Br, I, P, Si, Se, Cu among them
QM9_ELEMENTS = {"H", "C", "N", "O", "F"}
TIMEOUT_S = 60  # per file; the NCI SDF takes ~9 s (200 embeddings)

# Refused on purpose: (file, record name) -> (error type, words in its message).
EXPECTED_REFUSALS = {
    ("CHEMBL2321810_scaffold.mol", "MolHeader"): (ParseError, "unknown element symbol 'R#'"),
    # a cobalt complex: ETKDG finds no coordinates
    ("first_5K.smi", "2920"): (EmbeddingError, "found no 3D coordinates"),
}
# Every record refused, with the same reason (none now: cdk2.smi, 'name SMILES' lines,
# is read as such; see test_name_first_smiles_files_are_read).
EXPECTED_FILE_REFUSALS: dict = {}


class _Hang(Exception):
    pass


def _alarm(*_):
    raise _Hang


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, tuple[Path, str, Path, list]]:
    """file name -> (the file, its format, the file read (a .smi subset), its Records):
    each file read once, with a time limit."""
    files = rdkit_files()
    if not any(path.name == NCI for path, _ in files):
        missing = pytest.fail if os.environ.get("CI") else pytest.skip
        missing(f"RDKit's data files ({NCI}) are not installed with RDKit here")
    workdir = tmp_path_factory.mktemp("smiles")
    out = {}
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for path, fmt in files:
            used = readable(path, fmt, workdir)
            signal.alarm(TIMEOUT_S)
            try:
                out[path.name] = (path, fmt, used, read_records(used))
            except _Hang:
                pytest.fail(f"{path.name}: still reading after {TIMEOUT_S} s")
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert len(out) == len(files)  # file names are unique: one entry per file
    return out


def test_every_record_is_read_or_refused_alone_with_a_one_line_typed_reason(corpus):
    assert {"egfr.sdf", "cdk2.sdf", "cmet_ligands.sdf", "CHEMBL2321810.smi"} <= set(corpus)
    counts: Counter = Counter()
    refused = {}
    for name, (_, fmt, used, records) in corpus.items():
        assert len(records) == record_count(used, fmt), name
        assert [r.index for r in records] == list(range(1, len(records) + 1))
        for r in records:
            counts[fmt, "read" if r.ok else type(r.error).__name__] += 1
            if r.ok:
                assert r.structure.n_atoms > 0
                continue
            assert isinstance(r.error, StructureError), (name, r.index, r.error)
            message = str(r.error)
            assert message and "\n" not in message and "Traceback" not in message
            assert r.message == message
            refused[name, r.name] = r.error
    print(dict(counts))
    for name, (kind, words) in EXPECTED_FILE_REFUSALS.items():
        records = corpus[name][3]
        assert records and not any(r.ok for r in records)
        assert all(isinstance(r.error, kind) and words in r.message for r in records)
    rest = {key: e for key, e in refused.items() if key[0] not in EXPECTED_FILE_REFUSALS}
    assert set(rest) == set(EXPECTED_REFUSALS), set(rest) ^ set(EXPECTED_REFUSALS)
    for key, (kind, words) in EXPECTED_REFUSALS.items():
        assert isinstance(rest[key], kind) and words in str(rest[key]), (key, rest[key])


def test_the_2d_nci_records_come_out_3d_with_a_note(corpus):
    records = corpus[NCI][3]
    assert len(records) == 200 and all(r.ok for r in records)
    kinds = Counter(r.structure.geometry for r in records)
    assert set(kinds) <= {"mmff", "uff", "etkdg"} and kinds["mmff"] >= 190, kinds
    elements = set().union(*(r.structure.elements for r in records))
    assert {"S", "Cl", "Br", "I", "P", "Si", "Se", "Cu"} <= elements
    n_planar = 0
    for r in records:
        s = r.structure
        assert any("3D built from the connection table" in w for w in s.warnings), r.index
        assert np.ptp(s.coords[:, 2]) > 0.1  # not the file's drawing (every z = 0)
        lengths = np.linalg.norm(s.coords[s.bonds[:, 0]] - s.coords[s.bonds[:, 1]], axis=1)
        assert 0.9 < lengths.min() and lengths.max() < 2.6, (r.index, lengths.min(), lengths.max())
        spread = np.linalg.svd(s.coords - s.coords.mean(0), compute_uv=False)  # Å * sqrt(n)
        tetrahedral = np.bincount(s.bonds.ravel(), minlength=s.n_atoms).max() >= 4
        if tetrahedral:  # an sp3 centre: the geometry spans 3 dimensions
            assert spread[2] > 0.05 * spread[0], (r.index, spread)
        n_planar += spread[2] < 1e-3 * spread[0]
    assert n_planar < 20  # quinones, nitroarenes: planar molecules are planar


def _cip_labels(mol, n: int) -> dict[tuple, str]:
    """CIP labels (R/S of atoms, E/Z of double bonds) among the first `n` atoms."""
    from rdkit.Chem import rdCIPLabeler

    mol = Chem.Mol(mol)
    rdCIPLabeler.AssignCIPLabels(mol)
    out = {}
    for a in mol.GetAtoms():
        if a.GetIdx() < n and a.HasProp("_CIPCode"):
            out["atom", a.GetIdx()] = a.GetProp("_CIPCode")
    for b in mol.GetBonds():
        i, j = sorted((b.GetBeginAtomIdx(), b.GetEndAtomIdx()))
        if j < n and b.HasProp("_CIPCode"):
            out["bond", i, j] = b.GetProp("_CIPCode")
    return out


def _without_stereo(mol) -> str:
    mol = Chem.Mol(mol)
    Chem.RemoveStereochemistry(mol)
    return Chem.MolToSmiles(Chem.RemoveHs(mol))


def differences(ours, theirs) -> list[str]:
    """How our structure differs from RDKit's reading of the same record: [] when the
    file's atoms (in order), connectivity, bond orders, charges and hydrogen counts agree
    and every stereo element RDKit's reading specifies (the CIP label of an atom or a
    double bond) has the same label in our 3D geometry. Stereo the record leaves open
    (an undrawn centre, a crossed double bond) is not compared: a 3D conformer
    necessarily picks one."""
    mol = to_rdkit(ours)
    Chem.AssignStereochemistryFrom3D(mol)
    n = theirs.GetNumAtoms()
    if ours.elements[:n] != [a.GetSymbol() for a in theirs.GetAtoms()]:
        return ["atoms differ"]
    out = []
    if _without_stereo(mol) != _without_stereo(theirs):
        out.append(f"{_without_stereo(theirs)} read as {_without_stereo(mol)}")
    mine, reference = _cip_labels(mol, n), _cip_labels(theirs, n)
    out += [f"{k}: {v} read as {mine.get(k)}" for k, v in reference.items() if mine.get(k) != v]
    return out


def test_every_record_read_is_the_molecule_rdkit_reads(corpus):
    compared, stereo, rdkit_refused = Counter(), Counter(), []
    for name, (_, fmt, used, records) in corpus.items():
        if fmt == "sdf":  # with the hydrogens the file has, in the file's atom order
            theirs = list(Chem.SDMolSupplier(str(used), removeHs=False))
        else:
            with quiet():  # RDKit logs every SMILES it cannot parse
                theirs = [_smiles_of_line(x) for x in smiles_lines(used)]
        assert len(theirs) == len(records), name
        for r, mol in zip(records, theirs):
            if mol is None:
                rdkit_refused.append((name, r.index))
                assert not r.ok, (name, r.index)  # what RDKit cannot read, we refuse
                continue
            if not r.ok:
                continue
            assert differences(r.structure, mol) == [], (name, r.index)
            compared[fmt] += 1
            stereo[fmt] += len(_cip_labels(mol, mol.GetNumAtoms()))
    print(f"compared with RDKit: {dict(compared)}, stereo labels: {dict(stereo)}, "
          f"refused by RDKit too: {len(rdkit_refused)}")  # fmt: skip
    assert compared["sdf"] == 636 and compared["smiles"] >= 250
    assert stereo["sdf"] > 500  # the 3D files' centres, and the NCI file's E/Z bonds


def test_the_nci_drawings_keep_their_double_bond_geometry(corpus):
    path = corpus[NCI][0]
    theirs = list(Chem.SDMolSupplier(str(path), removeHs=False))
    labelled = [
        (r, m) for r, m in zip(corpus[NCI][3], theirs) if _cip_labels(m, m.GetNumAtoms())
    ]  # E/Z from the drawing: the only stereo these 200 records specify
    assert len(labelled) >= 8
    assert all(differences(r.structure, m) == [] for r, m in labelled)


def _records_of(path: Path, first: int) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [x + "$$$$\n" for x in text.split("$$$$\n")[:first]]


@pytest.mark.parametrize("name", [NCI, "egfr.sdf"])
def test_a_record_cut_short_or_with_a_bad_element_fails_alone(corpus, name):
    one, two, three = _records_of(corpus[name][0], 3)
    lines = three.splitlines(keepends=True)
    n_atoms = int(lines[3][:3])
    cut = "".join(lines[: 4 + n_atoms // 2])  # the file ends inside record 3's atom block
    records = read_records((one + two + cut).encode(), fmt="sdf", name="cut.sdf")
    assert [r.ok for r in records] == [True, True, False]
    assert isinstance(records[2].error, ParseError) and "shorter" in records[2].message
    lines = two.splitlines(keepends=True)
    lines[4] = lines[4][:31] + "Xx " + lines[4][34:]  # record 2's first atom
    records = read_records((one + "".join(lines) + three).encode(), fmt="sdf", name="bad.sdf")
    assert [r.ok for r in records] == [True, False, True]
    assert isinstance(records[1].error, ParseError)
    assert "unknown element symbol 'Xx'" in records[1].message and "bad.sdf:" in records[1].message


def _smiles_of_line(line: str):
    """RDKit's molecule of a .smi line: its first field, else (a 'name SMILES' line)
    its second."""
    fields = line.split()
    mol = Chem.MolFromSmiles(fields[0])
    if mol is None and len(fields) == 2:
        mol = Chem.MolFromSmiles(fields[1])
    return mol


def test_name_first_smiles_files_are_read(corpus):
    records = corpus["cdk2.smi"][3]  # 'ZINC... SMILES' on every line
    assert records and all(r.ok for r in records), [r.message for r in records if not r.ok][:3]
    assert all(r.name.startswith("ZINC") for r in records)
    assert all("read as 'name SMILES'" in " ".join(r.structure.warnings) for r in records)


def test_salt_fragments_are_not_embedded_on_top_of_each_other():
    # ETKDG embeds each fragment on its own and used to put them on top of each other,
    # refused then as duplicate atoms; `io.embed` now sets fragments apart
    smi = "\n".join(
        [
            "OC(=O)C1=CC=CN=C1.OC2=C3N=CC=CC3=CC=C2 3942",
            "CC(NC(=O)C(CCCCN)N1Cc2[nH]c3ccccc3c2CC(NC(=O)Cc2ccccc2)C1=O)c1ccccc1"
            ".O=C(O)C(F)(F)F A_3",
        ]
    )
    records = read_records(smi.encode(), fmt="smiles", name="salts.smi")
    assert all(r.ok for r in records), [r.message for r in records]
    assert not any(isinstance(r.error, OverlappingAtomsError) for r in records)


def test_predict_gives_one_row_per_record_of_the_2d_sdf(corpus, tiny_registry, capsys):
    import pandas as pd

    from pamnet.cli import main

    path = corpus[NCI][0]
    elements = [{a.GetSymbol() for a in m.GetAtoms()} for m in Chem.SDMolSupplier(str(path))]
    start = time.perf_counter()
    assert main(["predict", str(path), "--checkpoint", "tiny", "--format", "csv"]) == 0
    seconds = time.perf_counter() - start
    rows = pd.read_csv(io.StringIO(capsys.readouterr().out), keep_default_na=False)
    assert len(rows) == 200
    assert rows["name"].tolist() == [f"{NCI}#{k}" for k in range(1, 201)]  # titles are blank
    n_ok = 0
    for (_, row), known in zip(rows.iterrows(), elements):
        others = sorted(known - QM9_ELEMENTS)
        if others:
            assert row["error"] and any(f"has {e} " in row["error"] for e in others), row
        else:
            assert not row["error"], row
            n_ok += 1
    print(f"predict: {n_ok} of 200 predicted in {seconds:.1f} s")
    assert n_ok > 100


def test_the_strict_reader_raises_the_refused_records_error(corpus):
    path, _, _, records = corpus["CHEMBL2321810_scaffold.mol"]
    with pytest.raises(PamnetError) as info:
        read(path)
    assert type(info.value) is type(records[0].error)
