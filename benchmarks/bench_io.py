"""Structure I/O benchmark: `python benchmarks/bench_io.py`.

1. SMILES -> 3D (ETKDGv3 + MMFF94) for 20 drug-sized molecules: median time
   (goal < 100 ms).
2. A 10,000-atom PDB (the bundled synthetic protein tiled on a grid, ligand in the
   middle copy): parse time, pocket extraction (`featurize.binding_site`: the ligand
   and whole residues within 6 Å), and the whole complex featurisation with the 18
   RDKit features (goal: parse + pocket < 1 s).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

DRUGS = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "caffeine": "Cn1c(=O)c2c(ncn2C)n(C)c1=O",
    "ibuprofen": "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",
    "naproxen": "COc1ccc2cc(ccc2c1)C(C)C(=O)O",
    "diclofenac": "OC(=O)Cc1ccccc1Nc1c(Cl)cccc1Cl",
    "metformin": "CN(C)C(=N)NC(=N)N",
    "nicotine": "CN1CCCC1c1cccnc1",
    "diazepam": "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21",
    "fluoxetine": "CNCCC(Oc1ccc(cc1)C(F)(F)F)c1ccccc1",
    "sildenafil": "CCCc1nn(C)c2c1nc([nH]c2=O)-c1cc(ccc1OCC)S(=O)(=O)N1CCN(C)CC1",
    "imatinib": "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(n1)-c1cccnc1",
    "atorvastatin": "CC(C)c1c(C(=O)Nc2ccccc2)c(-c2ccccc2)c(-c2ccc(F)cc2)n1CCC(O)CC(O)CC(=O)O",
    "lisinopril": "NCCCCC(NC(CCc1ccccc1)C(=O)O)C(=O)N1CCCC1C(=O)O",
    "omeprazole": "COc1ccc2[nH]c(nc2c1)S(=O)Cc1ncc(C)c(OC)c1C",
    "losartan": "CCCCc1nc(Cl)c(CO)n1Cc1ccc(cc1)-c1ccccc1-c1nnn[nH]1",
    "celecoxib": "Cc1ccc(cc1)-c1cc(nn1-c1ccc(cc1)S(N)(=O)=O)C(F)(F)F",
    "warfarin": "CC(=O)CC(c1ccccc1)c1c(O)c2ccccc2oc1=O",
    "propranolol": "CC(C)NCC(O)COc1cccc2ccccc12",
    "oseltamivir": "CCOC(=O)C1=CC(OC(CC)CC)C(NC(C)=O)C(N)C1",
}


def bench_smiles() -> float:
    from pamnet.io import from_smiles

    from_smiles("CCO")  # warm up imports
    times = []
    for name, smi in DRUGS.items():
        t = time.perf_counter()
        s = from_smiles(smi, name=name)
        times.append(time.perf_counter() - t)
        print(f"  {name:13s} {s.n_atoms:3d} atoms  {1000 * times[-1]:7.1f} ms  ({s.geometry})")
    return statistics.median(times)


def big_pdb(n_target: int = 10_000) -> Path:
    """The example protein tiled on a grid (30 Å apart) until ~n_target atoms."""
    from pamnet.examples import load_example
    from pamnet.io import write_pdb
    from pamnet.structure import Structure

    s = load_example("complex")[0]
    lig = np.array([r == "ligand" for r in s.roles])
    prot = s.select(~lig)
    n_copies = max(1, -(-(n_target - int(lig.sum())) // prot.n_atoms))  # ceil
    span = np.ptp(prot.coords, axis=0) + 8.0
    parts = []
    for k in range(n_copies):
        shift = span * np.array([k % 3, (k // 3) % 3, k // 9])
        c = prot.select(np.arange(prot.n_atoms))
        c.coords = c.coords + shift
        c.chain_ids = [chr(ord("A") + k % 26)] * c.n_atoms
        parts.append(c)
    ligand = s.select(lig)
    fields = {}
    for attr in ("elements", "atom_names", "roles", "residue_names", "chain_ids"):
        fields[attr] = sum((getattr(p, attr) for p in parts), []) + getattr(ligand, attr)
    big = Structure(
        coords=np.concatenate([p.coords for p in parts] + [ligand.coords]),
        residue_numbers=np.concatenate(
            [p.residue_numbers for p in parts] + [ligand.residue_numbers]
        ),  # fmt: skip
        **fields,
    )
    path = Path(tempfile.mkdtemp()) / "big.pdb"
    write_pdb(big, path)
    return path


def bench_pdb(repeats: int = 5) -> dict:
    from pamnet.featurize import binding_site, complex_input, find_ligand
    from pamnet.io import read_one

    path = big_pdb()
    read_one(path)  # warm up
    parse, pocket, full = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        s = read_one(path)
        t1 = time.perf_counter()
        site = binding_site(s, None, 6.0)  # the ligand and whole residues within 6 Å
        n_pocket = site.n_atoms - len(find_ligand(site))
        t2 = time.perf_counter()
        g = complex_input(s)
        t3 = time.perf_counter()
        parse.append(t1 - t0)
        pocket.append(t2 - t1)
        full.append(t3 - t2)
    return {
        "n_atoms": s.n_atoms,
        "bytes": path.stat().st_size,
        "n_pocket_all_atoms": n_pocket,
        "n_pocket_heavy": g.meta["n_pocket"],
        "parse_s": statistics.median(parse),
        "pocket_s": statistics.median(pocket),
        "complex_input_s": statistics.median(full),
    }


def main() -> None:
    print("SMILES -> 3D (ETKDGv3 + MMFF94, seed 0, single thread)")
    med = bench_smiles()
    print(f"median: {1000 * med:.1f} ms  (goal < 100 ms)\n")
    r = bench_pdb()
    print(f"PDB with {r['n_atoms']:,} atoms ({r['bytes'] / 1e6:.2f} MB), median of 5:")
    print(f"  parse                      {1000 * r['parse_s']:7.1f} ms")
    print(f"  ligand + 6 Å pocket        {1000 * r['pocket_s']:7.1f} ms  "
          f"(binding_site: {r['n_pocket_all_atoms']} atoms of whole residues, incl. H)")  # fmt: skip
    print(f"  complex_input (18 feats)   {1000 * r['complex_input_s']:7.1f} ms  "
          f"({r['n_pocket_heavy']} heavy pocket atoms)")  # fmt: skip
    total = r["parse_s"] + r["pocket_s"]
    print(f"  parse + pocket             {1000 * total:7.1f} ms  (goal < 1000 ms)")


if __name__ == "__main__":
    main()
