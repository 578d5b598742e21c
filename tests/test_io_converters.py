"""PDB/mmCIF as converters and MD tools write them: hydrogens as HETATM, Amber terminal
residue names, whole residues as HETATM, modified residues and caps in the chain,
alternate locations, crystallisation additives. A peptide alone is a protein; the
ligand is what a structural biologist would call the ligand."""

from __future__ import annotations

import numpy as np
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


# --- modified residues, caps and ions in real files (MDAnalysis test corpus) ------
def _corpus():
    return pytest.importorskip("MDAnalysisTests.datafiles")


def test_real_nmr_peptide_with_a_hetatm_modified_residue_is_a_protein():
    # neopetrosiamide (2JUY): methionine sulfoxide SME written as HETATM, hydrogens and all,
    # peptide-bonded in the chain; it was picked as the 'ligand' of a complex
    s = read_one(_corpus().PDB_multiframe)
    sme = [i for i, r in enumerate(s.residue_names) if r == "SME"]
    assert len(sme) == 18 and {s.roles[i] for i in sme} == {"protein"}
    _assert_peptide(s)


def test_real_gramicidin_caps_are_part_of_the_peptide():
    # 1GRM: a formyl cap (ATOM FOR) and an ethanolamine cap (HETATM ETA) on each chain
    s = read_one(_corpus().PDB_HOLE)
    assert {r for n, r in zip(s.residue_names, s.roles) if n in ("FOR", "ETA")} == {"protein"}
    _assert_peptide(s)


def test_real_gromos_and_charmm_names():
    s = read_one(_corpus().TRC_PDB_VAC)  # GROMOS: LYSH, and chloride as CL-
    assert set(s.roles) == {"protein", "ion"}
    rna = read_one(_corpus().RNA_PDB)  # CHARMM36: potassium as POT
    assert {r for n, r in zip(rna.residue_names, rna.roles) if n == "POT"} == {"ion"}


def test_real_crystal_structure_with_only_additives_is_a_protein(tmp_path, capsys):
    # 4E43: glycerol, DMSO, acetate and beta-mercaptoethanol, no ligand
    s = read_one(_corpus().PDB_full)
    assert guess_task(s) == "molecule"
    assert {s.residue_names[i] for i in find_ligand(s)} == {"GOL"}  # asked for: the largest
    assert main(["inspect", _corpus().PDB_full, "--json"]) == 0
    out = capsys.readouterr().out
    assert "only crystallisation additives: ACT, BME, DMS, GOL" in out


# --- ligand detection ---------------------------------------------------------------
def _residue(name, num, atoms, origin, chain="B", rec="HETATM", start=100):
    """Lines of a HETATM residue: atoms = element symbols, laid out 1.4 Å apart."""
    x0, y0, z0 = origin
    return [
        _line(rec, start + k, f"{el}{k + 1}", name, num, (x0 + 1.4 * k, y0, z0), el, chain)
        for k, el in enumerate(atoms)
    ]


def _with(*residues) -> bytes:
    body = peptide_pdb().decode().replace("END\n", "")
    return (body + "\n".join(line for r in residues for line in r) + "\nEND\n").encode()


def test_additives_waters_and_ions_are_not_the_ligand_when_a_real_one_is_there():
    data = _with(
        _residue("P6G", 1, "COCCOCCOCCOCCOCCOC", (0, 8, 0)),  # a PEG bigger than the ligand
        _residue("FLC", 2, "CCCCCCOOOOOOO", (0, -8, 0)),  # citrate
        _residue("NAG", 3, "CCCCCCCCNOOOOO", (0, 0, 8)),  # a glycan on an Asn
        _residue("SOD", 4, "N", (8, 8, 8)),
        _residue("HOH", 5, "O", (-8, 8, 8)),
        _residue("LIG", 6, "CCNCO", (8, 0, 0)),
    )
    s = read_one(data, fmt="pdb")
    assert guess_task(s) == "complex"
    assert {s.residue_names[i] for i in find_ligand(s)} == {"LIG"}
    assert {s.roles[i] for i in range(s.n_atoms) if s.residue_names[i] == "SOD"} == {"ion"}


def test_a_glycan_alone_is_only_taken_when_asked_for():
    s = read_one(_with(_residue("NAG", 3, "CCCCCCCCNOOOOO", (0, 0, 8))), fmt="pdb")
    assert guess_task(s) == "molecule"
    assert {s.residue_names[i] for i in find_ligand(s)} == {"NAG"}


def test_a_covalent_ligand_on_a_side_chain_stays_a_ligand():
    og = next(xyz for a, r, xyz in _HEAVY if a == "OG")
    s = read_one(_with(_residue("LIG", 6, "CCO", (og[0], og[1] + 1.43, og[2]))), fmt="pdb")
    assert guess_task(s) == "complex"
    assert {s.residue_names[i] for i in find_ligand(s)} == {"LIG"}


# --- alternate locations ------------------------------------------------------------
def test_alternate_locations_keep_one_conformer_per_residue():
    # per atom, the highest occupancy would take CA and CG from A but CB from B
    rows = [("N", " ", 1.0), ("CA", "A", 0.5), ("CA", "B", 0.5), ("CB", "A", 0.45),
            ("CB", "B", 0.55), ("CG", "A", 0.6), ("CG", "B", 0.4)]  # fmt: skip
    lines = [
        _line("ATOM", k + 1, a, "LEU", 1, (1.5 * k, 5.0 if alt == "B" else 0.0, 0.0),
              a[0], altloc=alt, occ=occ)
        for k, (a, alt, occ) in enumerate(rows)
    ]  # fmt: skip
    s = read_one(("\n".join(lines) + "\nEND\n").encode(), fmt="pdb")
    assert s.atom_names == ["N", "CA", "CB", "CG"]
    assert np.all(s.coords[:, 1] == 0.0)  # all from conformer A (mean occupancy 0.52)


# --- mmCIF --------------------------------------------------------------------------
def peptide_cif(names=_AMBER, heavy_rec="HETATM") -> bytes:
    cols = ("group_PDB id type_symbol label_atom_id label_alt_id label_comp_id "
            "label_asym_id label_entity_id label_seq_id pdbx_PDB_ins_code Cartn_x Cartn_y "
            "Cartn_z occupancy B_iso_or_equiv auth_seq_id auth_comp_id auth_asym_id "
            "auth_atom_id pdbx_PDB_model_num").split()  # fmt: skip
    atoms = [(heavy_rec, a, r, xyz, a[0]) for a, r, xyz in _HEAVY]
    atoms += [("HETATM", a, r, xyz, "H") for a, r, xyz in _HYDROGENS]
    rows = [
        f"{rec} {k + 1} {el} {a} . {names[r]} A 1 {r} ? {x:.3f} {y:.3f} {z:.3f} 1.00 0.00 "
        f"{r} {names[r]} A {a} 1"
        for k, (rec, a, r, (x, y, z), el) in enumerate(atoms)
    ]
    head = "data_PEP\nloop_\n" + "".join(f"_atom_site.{c}\n" for c in cols)
    return (head + "\n".join(rows) + "\n").encode()


def test_mmcif_peptide_with_hetatm_residues_and_hydrogens_is_a_protein():
    _assert_peptide(read_one(peptide_cif(_AMBER), fmt="mmcif"))
    _assert_peptide(read_one(peptide_cif(_STANDARD, heavy_rec="ATOM"), fmt="mmcif"))
