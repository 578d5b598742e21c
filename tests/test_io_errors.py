"""Each typed error is raised where it should be, with a message that helps."""

import numpy as np
import pytest

from pamnet.errors import (
    EmbeddingError,
    EmptyInputError,
    EncodingError,
    InputNotFoundError,
    MissingCoordinatesError,
    OverlappingAtomsError,
    ParseError,
    SmilesError,
    TooLargeError,
    UnsupportedElementError,
    UnsupportedFormatError,
)
from pamnet.featurize import molecule_input
from pamnet.io import Limits, from_smiles, read, read_one, write

WATER = "3\n\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n"


@pytest.mark.parametrize("fmt", ["xyz", "sdf", "mol2", "pdb", "smiles"])
def test_empty_input(fmt, tmp_path):
    path = tmp_path / f"empty.{fmt}"
    path.write_text("  \n\n")
    with pytest.raises(EmptyInputError, match="empty"):
        read(path)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(InputNotFoundError, match="no such file"):
        read(tmp_path / "nope.pdb")
    with pytest.raises(UnsupportedFormatError, match="use one of"):
        read(WATER.encode(), fmt="docx")
    with pytest.raises(UnsupportedFormatError, match="cannot tell the format"):
        read(b"hello there world\nthis is prose, not a structure\n")


def test_parse_errors_carry_the_line_number():
    with pytest.raises(ParseError, match=":4: coordinates") as exc:
        read(b"3\n\nO 0 0 0\nH 0.96 zero 0\nH -0.24 0.93 0\n", fmt="xyz")
    assert exc.value.line == 4
    sdf = write(from_smiles("CCO"), fmt="sdf").splitlines()
    sdf[5] = sdf[5][:10] + "   xx.0000" + sdf[5][20:]
    with pytest.raises(ParseError) as exc:
        read("\n".join(sdf).encode(), fmt="sdf")
    assert exc.value.line == 6
    pdb = write(from_smiles("CCO"), fmt="pdb").splitlines()
    pdb[2] = pdb[2][:30] + "   1.2.3" + pdb[2][38:]
    with pytest.raises(ParseError, match="columns 31-38") as exc:
        read("\n".join(pdb).encode(), fmt="pdb")
    assert exc.value.line == 3
    with pytest.raises(ParseError, match="unknown element") as exc:
        read(b"2\n\nC 0 0 0\nQq 1.5 0 0\n", fmt="xyz")
    assert exc.value.line == 4


def test_unsupported_element_names_the_atom():
    s = from_smiles("CCS")
    with pytest.raises(UnsupportedElementError, match=r"S at atom 3 \(1-based\)"):
        molecule_input(s)


def _is_3d(s) -> bool:
    return np.linalg.matrix_rank(s.coords - s.coords.mean(0), tol=0.1) == 3


def test_2d_and_coordinate_free_sdf_records_are_embedded_from_their_connection_table():
    (s,) = read(_depiction("CCO", "2D").encode(), fmt="sdf")
    assert s.geometry == "mmff" and s.formula == "C2H6O" and _is_3d(s)
    assert any("marked 2D" in w and "ETKDG" in w for w in s.warnings)
    sdf = write(from_smiles("CCO"), fmt="sdf").splitlines()
    sdf[1] = "     RDKit          2D"  # a 3D geometry mislabelled 2D is kept as it is
    (s,) = read("\n".join(sdf).encode(), fmt="sdf")
    assert not s.warnings and np.allclose(s.coords, from_smiles("CCO").coords, atol=1e-4)
    flat = write(from_smiles("CCO"), fmt="sdf").splitlines()
    flat[1] = ""
    flat[4:13] = [line[:20] + "    0.0000" + line[30:] for line in flat[4:13]]
    (s,) = read("\n".join(flat).encode(), fmt="sdf")
    assert s.geometry == "mmff" and _is_3d(s)
    zero = [line[:30] if k in range(4, 13) else line for k, line in enumerate(sdf)]
    zero[4:13] = ["    0.0000    0.0000    0.0000" + line[30:] for line in sdf[4:13]]
    (s,) = read("\n".join(zero).encode(), fmt="sdf")
    assert any("no coordinates" in w for w in s.warnings) and _is_3d(s)
    # no bonds to build from: that record alone fails, with the reason
    atoms_only = zero[:4] + zero[4:13] + ["M  END"]
    atoms_only[3] = "  9  0  0  0  0  0  0  0  0  0999 V2000"
    with pytest.raises(EmbeddingError, match="no bonds to build them from"):
        read("\n".join(atoms_only).encode(), fmt="sdf")


def test_2d_records_keep_stereo_charges_and_explicit_hydrogens():
    from rdkit import Chem
    from rdkit.Chem import AllChem

    for smiles in ("C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O", "F/C=C/F", "F/C=C\\F", "C[N+](C)(C)C"):
        m = Chem.MolFromSmiles(smiles)
        AllChem.Compute2DCoords(m)
        for block in (Chem.MolToMolBlock(m), Chem.MolToV3KMolBlock(m)):  # 2D, implicit H
            (s,) = read(block.encode(), fmt="sdf")
            back = Chem.MolToSmiles(Chem.RemoveHs(_mol(s)))
            assert back == Chem.MolToSmiles(m), (smiles, back)
    explicit = Chem.AddHs(Chem.MolFromSmiles("[2H]C([2H])O"))
    AllChem.Compute2DCoords(explicit)
    (s,) = read(Chem.MolToMolBlock(explicit).encode(), fmt="sdf")
    assert s.n_atoms == explicit.GetNumAtoms()


def _mol(s):
    from rdkit import Chem

    from pamnet.io import to_rdkit

    mol = to_rdkit(s)
    Chem.AssignStereochemistryFrom3D(mol)
    return mol


def _depiction(smiles: str, tag: str = "") -> str:
    """RDKit's 2D drawing of a molecule with hydrogens, as a mol block marked `tag`."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    m = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.Compute2DCoords(m)
    lines = Chem.MolToMolBlock(m).splitlines()
    lines[1] = lines[1][:20] + tag.ljust(2) + lines[1][22:]
    return "\n".join(lines)


def _flat_xyz(s, drop_z: bool = True) -> bytes:
    c = s.coords - s.coords.mean(0)
    c = c @ np.linalg.svd(c)[2].T  # the molecule's plane -> xy
    rows = [
        f"{e} {x:.5f} {y:.5f} {0.0 if drop_z else z:.5f}" for e, (x, y, z) in zip(s.elements, c)
    ]
    return f"{len(rows)}\n\n" + "\n".join(rows) + "\n"


def test_2d_drawings_are_told_from_planar_molecules_in_every_format():
    # SDF drawings are embedded (even when they claim 3D), saying why
    (s,) = read(_depiction("CCO", "3D").encode(), fmt="sdf")
    assert any("4 neighbours in one plane" in w for w in s.warnings) and _is_3d(s)
    (s,) = read(_depiction("c1ccccc1", "3D").encode(), fmt="sdf")
    assert any("not a real bond length" in w for w in s.warnings)
    with pytest.raises(MissingCoordinatesError, match="4 neighbours"):  # XYZ: bonds perceived
        read(_flat_xyz(from_smiles("CCO")).encode(), fmt="xyz")
    with pytest.raises(MissingCoordinatesError, match=r"every atom is at \(0, 0, 0\)"):
        read(b"3\nno coordinates\nO 0 0 0\nH 0 0 0\nH 0 0 0\n", fmt="xyz")
    # a real planar molecule from quantum chemistry (benzene in the xy plane) is fine
    (flat,) = read(_flat_xyz(from_smiles("c1ccccc1")).encode(), fmt="xyz")
    assert any("one plane" in w for w in flat.warnings)
    untagged = write(flat, fmt="sdf").splitlines()
    untagged[1] = ""
    assert read("\n".join(untagged).encode(), fmt="sdf")[0].n_atoms == 12
    (co2,) = read(b"3\n\nO -1.16 0 0\nC 0 0 0\nO 1.16 0 0\n", fmt="xyz")  # collinear
    assert not any("one plane" in w for w in co2.warnings)


def test_overlapping_atoms_are_named():
    text = "3\n\nO 0 0 0\nH 0.96 0 0\nH 0.9 0.1 0\n"
    with pytest.raises(OverlappingAtomsError, match=r"H2 and H3 \(1-based\)"):
        read(text.encode(), fmt="xyz")


def test_limits_on_atoms_and_bytes(tmp_path):
    with pytest.raises(TooLargeError, match="3 atoms, over the 2-atom limit"):
        read(WATER.encode(), fmt="xyz", limits=Limits(max_atoms=2))
    path = tmp_path / "w.xyz"
    path.write_text(WATER)
    with pytest.raises(TooLargeError, match="MB limit"):
        read(path, limits=Limits(max_bytes=10))
    with pytest.raises(TooLargeError):
        read(WATER.encode(), fmt="xyz", limits=Limits(max_bytes=10))
    with pytest.raises(TooLargeError, match="62 atoms with hydrogens, over the 50"):
        read("C" * 20, fmt="smiles", limits=Limits(max_atoms=50))  # checked before embedding


def test_bad_smiles_and_failed_embedding(monkeypatch):
    for bad in ["C1CC", "C(C", "CC(C)(C)(C)(C)C", "not a smiles", ""]:
        with pytest.raises(SmilesError):
            from_smiles(bad)
    import pamnet.io.embed as embed

    monkeypatch.setattr(embed.AllChem, "EmbedMolecule", lambda *a, **k: -1)
    with pytest.raises(EmbeddingError, match="another seed"):
        from_smiles("CCO")


def test_encodings():
    latin1 = "2\nCaf\xe9 name\nC 0 0 0\nO 1.2 0 0\n".encode("latin-1")
    assert read_one(latin1, fmt="xyz").properties["comment"] == "Caf\xe9 name"
    bom = b"\xef\xbb\xbf" + WATER.encode()
    assert read_one(bom, fmt="xyz").n_atoms == 3
    with pytest.raises(EncodingError, match="NUL"):
        read(b"3\n\x00\x00\x00binary", fmt="xyz")
    with pytest.raises(EncodingError, match="gzip"):
        read(b"\x1f\x8b\x08\x00" + bytes(range(1, 40)), fmt="pdb")
    with pytest.raises(EncodingError, match="control characters"):
        read(bytes(np.random.default_rng(0).integers(1, 32, 400, dtype=np.uint8)), fmt="xyz")


def test_smiles_text_never_opens_a_file(tmp_path, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("top-secret-line\n")
    monkeypatch.chdir(tmp_path)
    from pamnet.errors import PamnetError
    from pamnet.io import read

    with pytest.raises(PamnetError) as info:
        read("secret.txt", fmt="smiles")
    assert "top-secret-line" not in str(info.value)
    smi = tmp_path / "mols.smi"
    smi.write_text("CCO ethanol\n")
    assert read(smi)[0].n_atoms == 9  # a Path is a file


def test_a_duplicated_atom_is_named_with_its_twin_never_itself():
    from pamnet.io.checks import find_overlap

    rng = np.random.default_rng(0)
    for _ in range(300):
        coords = rng.normal(size=(20, 3)) * 20
        a, b = rng.choice(20, size=2, replace=False)
        coords[b] = coords[a]  # an exact duplicate: distance 0, a tie for the tree
        i, j, d = find_overlap(coords)
        assert (i, j) == (min(a, b), max(a, b)) and d == 0.0


def test_a_mol2_drawn_flat_or_without_coordinates_is_embedded_too():
    from rdkit import Chem

    mol = Chem.MolFromMolBlock(_depiction("CC(=O)O"), removeHs=False)
    conf = mol.GetConformer()
    for zero in (False, True):
        atoms = [
            f"{a.GetIdx() + 1} {a.GetSymbol()}{a.GetIdx() + 1} "
            + ("0 0 0" if zero else " ".join(f"{v:.4f}" for v in conf.GetAtomPosition(a.GetIdx())))
            + f" {a.GetSymbol()}{'.2' if a.GetSymbol() in 'CO' else ''} 1 UNL 0.0"
            for a in mol.GetAtoms()
        ]
        order = {1.0: "1", 2.0: "2"}
        bonds = [
            f"{k + 1} {b.GetBeginAtomIdx() + 1} {b.GetEndAtomIdx() + 1} {order[b.GetBondTypeAsDouble()]}"
            for k, b in enumerate(mol.GetBonds())
        ]
        text = (
            f"@<TRIPOS>MOLECULE\nacetic\n{len(atoms)} {len(bonds)} 1\nSMALL\nNO_CHARGES\n\n"
            "@<TRIPOS>ATOM\n" + "\n".join(atoms) + "\n@<TRIPOS>BOND\n" + "\n".join(bonds) + "\n"
        )
        (s,) = read(text.encode(), fmt="mol2")
        assert s.formula == "C2H4O2" and _is_3d(s) and s.geometry == "mmff"
        assert any("connection table" in w for w in s.warnings)


def test_salt_and_cocrystal_fragments_are_embedded_apart():
    for smiles in ("CC(=O)[O-].[Na+]", "Cl.CCN", "c1ccccc1.c1ccccc1.O.O.O", "C[N+](C)(C)C.[Cl-]"):
        for seed in range(3):
            s = from_smiles(smiles, seed=seed)
            parts = s.fragments()
            assert len(parts) > 1
            for a in range(len(parts)):
                for b in range(a + 1, len(parts)):
                    pa, pb = s.coords[parts[a]], s.coords[parts[b]]
                    gap = np.linalg.norm(pa[:, None] - pb[None], axis=-1).min()
                    assert gap >= 3.0, (smiles, seed, gap)
