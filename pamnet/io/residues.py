"""Residue-name vocabularies used to give each PDB/mmCIF/MOL2 atom a role."""

from __future__ import annotations

PROTEIN = frozenset(
    "ALA ARG ASN ASP CYS GLN GLU GLY HIS ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL "
    # protonation / force-field variants and common modified residues
    "HID HIE HIP HSD HSE HSP CYX CYM ASH GLH LYN ARN TYM "
    "MSE SEP TPO PTR CSO CME MLY HYP PCA SEC PYL ACE NME NH2 UNK "
    # GROMOS variants; caps (Amber NHE, Maestro NMA, formyl FOR)
    "LYSH ASPH GLUH HISA HISB HISH CYS1 CYS2 ARGN NHE NMA FOR".split()
)
# Amber's terminal residues are these names with an N or C in front (NALA, CSER, NHIE).
_TERMINAL_BASES = frozenset(
    "ALA ARG ASN ASP CYS GLN GLU GLY HIS ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL "
    "HID HIE HIP CYX CYM ASH GLH LYN".split()
)

NUCLEIC = frozenset(
    "A C G U I T N DA DC DG DT DI DU DN "
    # Amber/CHARMM names, with terminal variants
    "RA RC RG RU RA5 RC5 RG5 RU5 RA3 RC3 RG3 RU3 ADE CYT GUA URA THY "
    "DA5 DC5 DG5 DT5 DA3 DC3 DG3 DT3 "
    # common modified nucleotides
    "PSU 5MC 5MU 1MA 2MG 7MG M2G OMC OMG H2U 4SU".split()
)

WATER = frozenset("HOH WAT H2O DOD TIP TIP3 TIP4 TIP5 SOL T3P T4P SPC".split())

IONS = frozenset(
    "NA K LI RB CS MG CA SR BA ZN MN FE FE2 CU CU1 CO NI CD HG PB AL "
    "CL BR IOD F AG AU PT PD NA+ K+ CL- SO4 PO4 NH4 "
    # CHARMM/GROMACS ion names
    "SOD POT CLA CAL CES LIT RUB BAR ZN2".split()
)

# Crystallisation additives: picked as "the ligand" only when nothing else is there.
ADDITIVES = frozenset(
    "GOL EDO PEG PG4 PGE 1PE MPD DMS ACT ACY FMT BME TRS EPE MES IMD CIT "
    "NAG NDG BMA MAN FUC GAL SO4 PO4 NO3 SCN "
    # more PEGs and alcohols, buffers, acids, reductants, salts, detergents, sugars
    "P6G 2PE 12P 15P PE4 PE8 7PE XPE MRD PGO PGR HEZ IPA EOH MOH URE GAI "
    "BTB B3P MPO PIN CAC AZI BCT CO3 FLC TLA TAR MLI MLA SIN DTT "
    "BOG LDA LMT OLC GLC BGC XYS SIA FUL NGA A2G".split()
)


def role_of(resname: str, hetatm: bool) -> str:
    """'protein' | 'nucleic' | 'water' | 'ion' | 'ligand' | 'other' for one residue name."""
    r = resname.strip().upper()
    if r in WATER:
        return "water"
    if r in PROTEIN or (len(r) == 4 and r[0] in "NC" and r[1:] in _TERMINAL_BASES):
        return "protein"
    if r in NUCLEIC:
        return "nucleic"
    if r in IONS:
        return "ion"
    return "ligand" if hetatm else "other"
