"""`pamnet inspect` on files and SMILES."""

import json

from pamnet.cli import main
from pamnet.examples import get_example


def test_inspect_complex_text(capsys):
    assert main(["inspect", str(get_example("complex").path)]) == 0
    out = capsys.readouterr().out
    assert "ligand BEN: 9 heavy atoms" in out and "edges as atom pairs: local" in out
    assert "cutoff_l 2.0" in out  # the official PDBbind cutoffs by default


def test_inspect_smiles_json_with_cutoffs(capsys):
    assert main(["inspect", "CCO", "--json", "--cutoff-l", "3", "--cutoff-g", "4"]) == 0
    (r,) = json.loads(capsys.readouterr().out)
    assert r["elements"] == {"C": 2, "H": 6, "O": 1} and r["task"] == "molecule"
    assert set(r["graph"]) == {
        "n_atoms", "n_local", "n_global", "n_nonlocal", "n_two_hop", "n_one_hop",
        "n_local_directed", "n_global_directed", "n_nonlocal_directed",
    }  # fmt: skip
    # one convention: pairs of atoms (8 bonds), the directed count beside it
    assert r["graph"]["n_local"] == 8 and r["graph"]["n_local_directed"] == 16
    assert r["graph"]["n_global_directed"] == 2 * r["graph"]["n_global"]
    assert r["cutoff_g"] == 4.0
    assert [a["element"] for a in r["atoms"]] == ["C", "C", "O"] + ["H"] * 6
    assert len(r["bonds"]) == 8 and [0, 1] in r["bonds"] and r["atoms"][2]["degree"] == 2


def test_inspect_lists_atoms_and_bonds_and_names_a_missing_file(capsys, tmp_path):
    assert main(["inspect", "CO"]) == 0
    out = capsys.readouterr().out
    assert "bonded to" in out and out.count(" molecule ") >= 6  # one line per atom
    assert main(["inspect", str(get_example("complex").path)]) == 0
    assert "--atoms lists them" in capsys.readouterr().out  # too many to list by default
    assert main(["inspect", str(tmp_path / "nowhere.sdf")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_inspect_rna_and_errors(capsys):
    assert main(["inspect", str(get_example("rna").path), "--task", "rna"]) == 0
    assert main(["inspect", "CCS"]) == 0  # no model's element list: S is fine here
    assert "error" not in capsys.readouterr().out
    assert main(["inspect", "C1CC"]) == 1
    assert "cannot parse the SMILES" in capsys.readouterr().err


def test_inspect_applies_no_models_element_list(tmp_path, capsys):
    """A protein alone (S in Cys/Met) and a sulfonamide are reported, exit 0: inspect
    predicts nothing, so no model's element list applies."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    from pamnet.io import from_smiles, write_pdb, write_sdf
    from pamnet.structure import Structure

    drug = tmp_path / "sulfa.sdf"
    write_sdf([from_smiles("Nc1ccc(cc1)S(=O)(=O)N")], drug)
    assert main(["inspect", str(drug), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)[0]
    assert "graph" in report and "error" not in report and report["elements"]["S"] == 1

    pep = Chem.AddHs(Chem.MolFromSequence("MCG"), addResidueInfo=True)
    AllChem.EmbedMolecule(pep, randomSeed=3)
    info = [a.GetPDBResidueInfo() for a in pep.GetAtoms()]
    s = Structure(
        elements=[a.GetSymbol() for a in pep.GetAtoms()],
        coords=pep.GetConformer().GetPositions(),
        atom_names=[i.GetName().strip() for i in info],
        roles=["protein"] * pep.GetNumAtoms(),
        residue_names=[i.GetResidueName().strip() for i in info],
        residue_numbers=[i.GetResidueNumber() for i in info],
        chain_ids=["A"] * pep.GetNumAtoms(),
    )
    (tmp_path / "pep.pdb").write_text(write_pdb(s))
    assert main(["inspect", str(tmp_path / "pep.pdb"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)[0]
    assert "error" not in report and report["elements"]["S"] == 2
    assert any("complex mode needs a ligand" in w for w in report["warnings"])
