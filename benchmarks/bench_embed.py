"""3D from 2D: molecules/s when a drawn SDF is read (each record embedded from its
connection table), against building the same molecules from their SMILES.

    python benchmarks/bench_embed.py [--threads 1] [--repeats 2] [--cli]

Input: RDKit's own `Data/NCI/first_200.props.sdf` (200 records drawn in 2D, read at
run time from the installed package). Both paths do the same work per molecule
(RDKit ETKDGv3 + MMFF94, seeded, one thread), so the ratio shows what reading the
file adds. --cli also times the whole `pamnet predict FILE -o out.csv` process (what a
user waits for: Python start, imports, reading, embedding, the model, writing).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def nci_sdf() -> Path:
    from rdkit import RDConfig

    return Path(RDConfig.RDDataDir) / "NCI" / "first_200.props.sdf"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cli", action="store_true")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from pamnet.io import from_smiles, read_records

    path = nci_sdf()
    file_s = smiles_s = float("inf")
    for _ in range(args.repeats):  # alternated, the fastest of each: load hits both alike
        start = time.perf_counter()
        records = read_records(path)
        file_s = min(file_s, time.perf_counter() - start)
        smiles = [r.structure.smiles for r in records if r.ok]
        start = time.perf_counter()
        built = [from_smiles(s) for s in smiles]
        smiles_s = min(smiles_s, time.perf_counter() - start)
    n = len(records)
    print(f"load average {os.getloadavg()[0]:.1f}; {path.name}: {n} records drawn in 2D")
    print(f"  read_records (2D -> 3D): {n / file_s:6.1f} molecules/s ({file_s:.2f} s, "
          f"{sum(r.ok for r in records)} read)")  # fmt: skip
    print(f"  from_smiles, same ones: {len(built) / smiles_s:6.1f} molecules/s ({smiles_s:.2f} s)")
    print(f"  ratio file / SMILES time: {file_s / smiles_s * len(built) / n:.2f}")
    if args.cli:
        out = Path(tempfile.mkdtemp()) / "out.csv"
        cmd = [sys.executable, "-m", "pamnet", "predict", str(path), "-o", str(out)]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        print(f"  `pamnet predict {path.name}` whole process: {wall:.1f} s "
              f"({done.stderr.strip().splitlines()[0][:80] if done.stderr else done.returncode})")  # fmt: skip


if __name__ == "__main__":
    main()
