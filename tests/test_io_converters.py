"""PDB/mmCIF as converters and MD tools write them: hydrogens as HETATM, Amber terminal
residue names, whole residues as HETATM, modified residues and caps in the chain,
alternate locations, crystallisation additives. A peptide alone is a protein; the
ligand is what a structural biologist would call the ligand."""

from __future__ import annotations

import pytest

from pamnet.cli import main
from pamnet.errors import StructureError
from pamnet.featurize import complex_input, find_ligand, guess_task
from pamnet.io import read_one

# Ala-Gly-Ser with every hydrogen (RDKit ETKDG + MMFF, seed 7): heavy atoms, then the
# hydrogens after them, as Open Babel and other converters order them.
_HEAVY = [
    ("N", 1, (3.749, -1.524, -0.254)), ("CA", 1, (4.019, -0.194, 0.339)),
    ("C", 1, (2.799, 0.728, 0.123)), ("O", 1, (2.882, 1.922, -0.147)),
    ("CB", 1, (5.288, 0.409, -0.249)), ("N", 2, (1.600, 0.083, 0.315)),
    ("CA", 2, (0.340, 0.732, 0.035)), ("C", 2, (-0.830, -0.213, 0.308)),
    ("O", 2, (-0.691, -1.419, 0.501)), ("N", 3, (-2.061, 0.405, 0.298)),
    ("CA", 3, (-3.293, -0.385, 0.307)), ("C", 3, (-3.625, -0.833, -1.116)),
    ("O", 3, (-3.093, -0.459, -2.151)), ("CB", 3, (-4.452, 0.433, 0.881)),
    ("OG", 3, (-4.533, 1.711, 0.241)), ("OXT", 3, (-4.617, -1.749, -1.162)),
]  # fmt: skip
_HYDROGENS = [
    ("H1", 1, (3.676, -1.419, -1.268)), ("H2", 1, (4.562, -2.121, -0.101)),
    ("HA", 1, (4.142, -0.315, 1.421)), ("HB1", 1, (5.188, 0.580, -1.327)),
    ("HB2", 1, (6.150, -0.248, -0.085)), ("HB3", 1, (5.512, 1.374, 0.218)),
    ("H", 2, (1.634, -0.937, 0.307)), ("HA2", 2, (0.258, 1.625, 0.662)),
    ("HA3", 2, (0.324, 1.025, -1.020)), ("H", 3, (-2.141, 1.308, -0.159)),
    ("HA", 3, (-3.132, -1.288, 0.907)), ("HB2", 3, (-4.286, 0.614, 1.948)),
    ("HB3", 3, (-5.412, -0.078, 0.757)), ("HG", 3, (-5.268, 2.192, 0.662)),
    ("HXT", 3, (-4.689, -1.960, -2.118)),
]  # fmt: skip
_STANDARD = {1: "ALA", 2: "GLY", 3: "SER"}
_AMBER = {1: "NALA", 2: "GLY", 3: "CSER"}


def _line(rec, serial, name, resname, resseq, xyz, el, chain="A", altloc=" ", occ=1.0):
    atom = f" {name:<3s}" if len(name) < 4 else name
    res = f"{resname:>3s} " if len(resname) <= 3 else resname
    x, y, z = xyz
    return (
        f"{rec:<6s}{serial:5d} {atom}{altloc}{res}{chain}{resseq:4d}    "
        f"{x:8.3f}{y:8.3f}{z:8.3f}{occ:6.2f}{0:6.2f}          {el:>2s}  "
    )


def peptide_pdb(names=_STANDARD, heavy_rec="ATOM", h_rec="HETATM", h_residue=None) -> bytes:
    """Ala-Gly-Ser; `h_residue` = (resname, chain, number) puts every hydrogen in one
    residue of its own, as some tools write added hydrogens."""
    lines = [_line(heavy_rec, i + 1, a, names[r], r, xyz, a[0]) for i, (a, r, xyz) in
             enumerate(_HEAVY)]  # fmt: skip
    for k, (a, r, xyz) in enumerate(_HYDROGENS):
        res, chain, num = h_residue or (names[r], "A", r)
        lines.append(_line(h_rec, len(_HEAVY) + k + 1, a, res, num, xyz, "H", chain))
    return ("\n".join(lines) + "\nEND\n").encode()


def _assert_peptide(s):
    assert set(s.roles) == {"protein"}, sorted(set(zip(s.residue_names, s.roles)))
    assert guess_task(s) == "molecule"
    with pytest.raises(StructureError, match="--ligand"):
        find_ligand(s)


# --- hydrogens and terminal names ------------------------------------------------
def test_amber_terminal_names_with_hetatm_hydrogens_read_as_a_peptide():
    # The reported file: NALA/CSER heavy atoms as ATOM, hydrogens as HETATM. It was read
    # as a complex whose 'ligand' (NALA's hydrogens) had no heavy atom.
    s = read_one(peptide_pdb(_AMBER), fmt="pdb")
    assert s.n_atoms == 31
    _assert_peptide(s)


def test_whole_residues_as_hetatm_with_terminal_names_are_protein():
    _assert_peptide(read_one(peptide_pdb(_AMBER, heavy_rec="HETATM"), fmt="pdb"))
    _assert_peptide(read_one(peptide_pdb(_STANDARD, heavy_rec="HETATM"), fmt="pdb"))


def test_hydrogens_in_a_residue_of_their_own_join_the_heavy_atom_they_are_bonded_to():
    s = read_one(peptide_pdb(h_residue=("UNL", "B", 999)), fmt="pdb")
    _assert_peptide(s)
    hg = s.atom_names.index("HG")
    assert (s.residue_names[hg], s.chain_ids[hg], int(s.residue_numbers[hg])) == ("SER", "A", 3)


def test_a_hydrogen_only_ligand_is_never_picked():
    # a real ligand next to the peptide: the hydrogens' own residue is not it
    lig = _line("HETATM", 90, "C1", "LIG", 50, (8.0, 0.0, 0.0), "C")
    lig2 = _line("HETATM", 91, "O1", "LIG", 50, (9.2, 0.0, 0.0), "O")
    data = peptide_pdb(_AMBER).decode().replace("END\n", f"{lig}\n{lig2}\nEND\n").encode()
    s = read_one(data, fmt="pdb")
    assert guess_task(s) == "complex"
    assert {s.residue_names[i] for i in find_ligand(s)} == {"LIG"}


def test_predicting_a_peptide_in_complex_mode_says_what_to_do():
    s = read_one(peptide_pdb(_AMBER), fmt="pdb")
    with pytest.raises(StructureError, match="no HETATM ligand.*needs a ligand.*--ligand"):
        complex_input(s)


def test_inspect_a_converter_peptide_exits_0_and_says_what_complex_mode_needs(tmp_path, capsys):
    path = tmp_path / "peptide.pdb"
    path.write_bytes(peptide_pdb(_AMBER))
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "protein 31" in out and "ligand" not in out.split("roles")[1].split("\n")[0]
    assert "complex mode needs a ligand" in out and "--ligand" in out
    assert "error" not in out
