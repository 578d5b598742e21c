"""One test group per reader, on small files written here or the bundled examples."""

import numpy as np
import pytest

from pamnet.errors import UnsupportedFormatError
from pamnet.examples import list_examples, load_example
from pamnet.io import format_of, from_smiles, read, read_one, to_rdkit
from pamnet.testing import SAMPLE_CIF


def pdb_line(rec, serial, name, resname, resseq, xyz, el="", altloc=" ", occ=1.0, chain="A"):
    n = f" {name:<3s}" if len(name) < 4 else name
    x, y, z = xyz
    return (
        f"{rec:<6s}{serial:5d} {n}{altloc}{resname:>3s} {chain}{resseq:4d}    "
        f"{x:8.3f}{y:8.3f}{z:8.3f}{occ:6.2f}{0:6.2f}          {el:>2s}  "
    )


# --- SMILES -------------------------------------------------------------------
def test_smiles_is_deterministic_and_has_hydrogens():
    a, b = from_smiles("CC(C)Cc1ccc(cc1)C(C)C(=O)O"), from_smiles("CC(C)Cc1ccc(cc1)C(C)C(=O)O")
    assert np.array_equal(a.coords, b.coords)
    assert a.element_counts() == {"C": 13, "H": 18, "O": 2}
    assert a.geometry == "mmff" and a.smiles and a.n_bonds == 33
    other = from_smiles("CC(C)Cc1ccc(cc1)C(C)C(=O)O", seed=2)  # RDKit: seeds 0, 1 agree
    assert not np.allclose(other.coords, a.coords)


def test_smi_file_with_names(tmp_path):
    p = tmp_path / "mols.smi"
    p.write_text("SMILES name\nCCO ethanol\n\n# comment\nc1ccccc1 benzene\n")
    got = read(p)
    assert [s.name for s in got] == ["ethanol", "benzene"]
    assert read("CCO", fmt="smiles")[0].formula == "C2H6O"


# --- XYZ ----------------------------------------------------------------------
XYZ = """3
name=water charge=0 geometry=dft
O 0.0 0.0 0.0
H 0.9572 0.0 0.0
H -0.2400 0.9266 0.0
2
hydrogen
1 0 0 0
1 0 0 0.74
"""


def test_xyz_multi_frame_with_fields():
    w, h2 = read(XYZ.encode(), fmt="xyz")
    assert w.name == "water" and w.geometry == "dft" and w.elements == ["O", "H", "H"]
    assert sorted(map(tuple, np.sort(w.bonds, 1).tolist())) == [(0, 1), (0, 2)]
    assert h2.name == "hydrogen" and h2.elements == ["H", "H"] and h2.n_bonds == 1
    assert w.source.endswith("#1") and h2.source.endswith("#2")


def test_xyz_charge_option_changes_perception():
    ion = from_smiles("[NH4+]")
    text = "5\n\n" + "\n".join(f"{e} {x} {y} {z}" for e, (x, y, z) in zip(ion.elements, ion.coords))
    assert read(text.encode(), fmt="xyz", charge=1)[0].formal_charges.sum() == 1


# --- SDF ----------------------------------------------------------------------
def test_sdf_multi_record_keeps_bonds_charges_properties():
    drugs = load_example("drugs")
    assert [s.name for s in drugs] == ["aspirin", "caffeine", "ibuprofen", "paracetamol"]
    assert all(s.bonds is not None and s.bond_orders is not None for s in drugs)
    assert drugs[0].properties["input_smiles"] == "CC(=O)Oc1ccccc1C(=O)O"
    assert drugs[0].geometry == "mmff" and drugs[0].smiles


def test_sdf_charges_v2000_and_v3000():
    from pamnet.io import write_sdf

    s = from_smiles("C[N+](C)(C)CC(=O)[O-]")
    v2 = read(write_sdf(s).encode(), fmt="sdf")[0]
    assert sorted(v2.formal_charges.tolist()) == sorted(s.formal_charges.tolist())
    from pamnet.io.sdf import _ctab_v3000

    block = f"x\n     RDKit          3D\n\n{_ctab_v3000(s, s.bonds, s.bond_orders)}M  END\n$$$$\n"
    v3 = read(block.encode(), fmt="sdf")[0]
    assert v3.elements == s.elements and np.allclose(v3.coords, s.coords, atol=1e-4)
    assert v3.formal_charges.tolist() == s.formal_charges.tolist()


# --- MOL2 ---------------------------------------------------------------------
MOL2 = """@<TRIPOS>MOLECULE
acetate
 7 6 1 0 0
SMALL
USER_CHARGES

@<TRIPOS>ATOM
      1 C1         0.0000    0.0000    0.0000 C.3       1 ACT1       -0.20
      2 C2         1.5200    0.0000    0.0000 C.2       1 ACT1        0.70
      3 O1         2.1500    1.0700    0.0000 O.co2     1 ACT1       -0.80
      4 O2         2.1500   -1.0700    0.0000 O.co2     1 ACT1       -0.80
      5 H1        -0.3600    1.0200    0.0000 H         1 ACT1        0.03
      6 H2        -0.3600   -0.5100    0.8800 H         1 ACT1        0.03
      7 H3        -0.3600   -0.5100   -0.8800 H         1 ACT1        0.04
@<TRIPOS>BOND
     1     1     2    1
     2     2     3   ar
     3     2     4   ar
     4     1     5    1
     5     1     6    1
     6     1     7    1
"""


def test_mol2_types_charges_and_carboxylate():
    s = read_one(MOL2.encode(), fmt="mol2")
    assert s.name == "acetate" and s.elements[:4] == ["C", "C", "O", "O"]
    assert s.formal_charges.sum() == -1 and sorted(s.bond_orders.tolist())[-1] == 2.0
    assert s.partial_charges[2] == pytest.approx(-0.8)
    assert s.residue_names[0] == "ACT" and s.residue_numbers[0] == 1
    from rdkit import Chem

    assert Chem.MolToSmiles(Chem.RemoveHs(to_rdkit(s))) == "CC(=O)[O-]"


# --- PDB ----------------------------------------------------------------------
def _pdb() -> str:
    rows = [
        ("ATOM", 1, "N", "ALA", 1, (0.0, 0.0, 0.0), "N"),
        ("ATOM", 2, "CA", "ALA", 1, (1.46, 0.0, 0.0), "C"),
        ("ATOM", 3, "C", "ALA", 1, (2.0, 1.42, 0.0), ""),  # element from the atom name
        ("ATOM", 4, "O", "ALA", 1, (1.3, 2.4, 0.0), "O"),
        ("ATOM", 5, "CB", "ALA", 1, (2.0, -0.8, 1.2), "C"),
        ("HETATM", 8, "O", "HOH", 201, (8.0, 8.0, 8.0), "O"),
        ("HETATM", 9, "NA  ", "NA", 202, (-8.0, 8.0, 8.0), ""),  # element from name
        ("HETATM", 10, "C1", "LIG", 301, (5.0, 0.0, 0.0), "C"),
        ("HETATM", 11, "O1", "LIG", 301, (6.21, 0.0, 0.0), "O"),
        ("ATOM", 12, "P", "G", 401, (-5.0, -5.0, -5.0), "P"),
    ]
    lines = ["HEADER    TEST" + " " * 48 + "1ABC"]
    lines += [pdb_line(r, n, a, res, q, xyz, el) for r, n, a, res, q, xyz, el in rows[:5]]
    lines.append(pdb_line("ATOM", 6, "OG", "SER", 2, (3.0, 3.0, 3.0), "O", "A", 0.4))
    lines.append(pdb_line("ATOM", 7, "OG", "SER", 2, (3.6, 3.6, 3.6), "O", "B", 0.6))
    lines += [pdb_line(r, n, a, res, q, xyz, el) for r, n, a, res, q, xyz, el in rows[5:]]
    lines += ["CONECT   10   11   11", "CONECT   11   10   10", "END"]
    return "\n".join(lines) + "\n"


def test_pdb_roles_altlocs_elements_conect():
    s = read_one(_pdb().encode(), name="t.pdb")
    assert s.name == "1ABC"
    assert s.n_atoms == 11  # altloc A dropped
    og = s.atom_names.index("OG")
    assert np.allclose(s.coords[og], [3.6, 3.6, 3.6])  # the higher occupancy
    assert s.elements[2] == "C" and s.elements[s.residue_names.index("NA")] == "Na"
    roles = dict(zip(s.residue_names, s.roles))
    assert roles == {"ALA": "protein", "SER": "protein", "HOH": "water", "NA": "ion",
                     "LIG": "ligand", "G": "nucleic"}  # fmt: skip
    lig = [i for i, r in enumerate(s.residue_names) if r == "LIG"]
    assert s.bonds.tolist() == [lig] and s.bond_orders.tolist() == [2.0]


def test_pdb_models_differ():
    blocks = []
    for k in range(2):
        atoms = [pdb_line("ATOM", i + 1, "CA", "GLY", i + 1, (3.8 * i, float(k), 0.0), "C")
                 for i in range(3)]  # fmt: skip
        blocks.append(f"MODEL     {k + 1}\n" + "\n".join(atoms) + "\nENDMDL")
    both = read("\n".join(blocks).encode(), fmt="pdb", all_models=True)
    assert [s.coords[0, 1] for s in both] == [0.0, 1.0]
    assert read("\n".join(blocks).encode(), fmt="pdb")[0].coords[0, 1] == 0.0


def test_pdb_10k_atoms_is_fast():
    import time

    lines = [
        pdb_line("ATOM", i % 99999 + 1, "CA", "GLY", i % 9999 + 1,
                 (3.8 * (i % 30), 3.8 * ((i // 30) % 30), 3.8 * (i // 900)), "C")
        for i in range(10_000)
    ]  # fmt: skip
    data = ("\n".join(lines) + "\n").encode()
    t = time.perf_counter()
    s = read_one(data, fmt="pdb")
    assert s.n_atoms == 10_000 and time.perf_counter() - t < 1.0


# --- mmCIF --------------------------------------------------------------------


def test_mmcif_without_a_library_says_what_to_install(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_cif_libs(name, *a, **kw):
        if name.startswith(("gemmi", "biotite")):
            raise ImportError(name)
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_cif_libs)
    with pytest.raises(UnsupportedFormatError, match="pip install gemmi"):
        read(SAMPLE_CIF.encode(), fmt="cif")


def test_mmcif_with_gemmi():
    pytest.importorskip("gemmi")
    s = read_one(SAMPLE_CIF.encode(), name="t.cif")
    assert s.elements == ["N", "C", "C", "O", "O"]
    assert s.roles == ["protein"] * 4 + ["water"] and s.residue_names[-1] == "HOH"


# --- dispatch -----------------------------------------------------------------
def test_format_from_extension_and_content():
    assert format_of("a/B.SDF") == "sdf" and format_of("x.mol") == "sdf"
    assert format_of("x.ent") == "pdb" and format_of("x.txt") is None
    assert format_of("x.pdb.gz") == "pdb" and format_of("x.sdf.bz2") == "sdf"
    with pytest.raises(UnsupportedFormatError, match="zip"):
        format_of("x.pdb.zip")
    assert read_one(_pdb().encode()).n_atoms == 11  # sniffed: PDB
    assert read_one(MOL2.encode()).name == "acetate"  # sniffed: MOL2


def test_every_bundled_example_reads():
    for ex in list_examples():
        structures = load_example(ex.name)
        assert structures and all(s.n_atoms > 0 for s in structures), ex.name
        assert ex.path.stat().st_size < 300_000 and ex.description


def test_compression_is_told_by_content_not_name(tmp_path):
    import bz2
    import gzip
    import lzma

    from pamnet.errors import TooLargeError
    from pamnet.io import Limits

    text = _pdb().encode()
    (tmp_path / "plain.pdb.gz").write_bytes(text)  # mis-named: plain text
    assert read_one(tmp_path / "plain.pdb.gz").n_atoms == 11
    for ext, pack in (("gz", gzip.compress), ("bz2", bz2.compress), ("xz", lzma.compress)):
        (tmp_path / f"real.pdb.{ext}").write_bytes(pack(text))
        assert read_one(tmp_path / f"real.pdb.{ext}").n_atoms == 11
        assert read_one(pack(text), fmt="pdb").n_atoms == 11  # an upload without a name
    bomb = gzip.compress(b"REMARK " + b" " * 2_000_000)  # 2 MB from ~2 kB
    with pytest.raises(TooLargeError, match="decompresses"):
        read(bomb, fmt="pdb", limits=Limits(max_bytes=1_000_000))
