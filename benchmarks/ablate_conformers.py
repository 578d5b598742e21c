"""Conformer ensembles for SMILES: which aggregate is closest to QM9's DFT values, and
what K conformers cost, SMILES to numbers, warm.

    python benchmarks/ablate_conformers.py [--n 300] [--k 5] [--threads 1]

Accuracy: the first `--n` molecules of the QM9 validation split (never tested on), each
predicted by the shipped MMFF model (`qm9_pamnet_mmff`) from its SMILES five ways:
the one conformer the model was trained on (`from_smiles`, seed 0), the lowest-MMFF-
energy conformer of the ensemble, the ensemble mean, the Boltzmann-weighted mean (MMFF
energies, 298 K) and the ensemble median. Prints the MAE per target of each, and
each over the single conformer's.

Cost: `Predictor.predict([smiles])` with K = 1 and K = `--k` on a few QM9-size and
drug-size molecules, fastest of 5 warm calls each, in the same process.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

KT_KCAL = 0.0019872 * 298.15  # RT at 298 K in kcal/mol
COST_SMILES = {
    "ethanol": "CCO",
    "hexanol": "CCCCCCO",
    "QM9-size ring": "OC1CCC(N)CC1",
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "ibuprofen": "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
}


def aggregates(values: np.ndarray, energies: np.ndarray) -> dict[str, np.ndarray]:
    """{name: [T]} from per-conformer values [K, T] and MMFF energies [K] (sorted)."""
    w = np.exp(-(energies - energies.min()) / KT_KCAL)
    return {
        "lowest energy": values[0],
        "mean": values.mean(0),
        "Boltzmann": (w[:, None] * values).sum(0) / w.sum(),
        "median": np.median(values, 0),
    }


def accuracy(n: int, k: int) -> None:
    from pamnet import qm9
    from pamnet.errors import PamnetError
    from pamnet.io import from_smiles
    from pamnet.io.smiles import conformers_from_smiles
    from pamnet.predict import Predictor

    pred = Predictor.from_name("qm9_pamnet_mmff", "cpu", conformers=1)
    lm = pred.loaded
    rows = qm9.split(int(lm.metadata.get("split", {}).get("seed", 0)))["val"][:n]
    data = qm9.load(rows)
    cols = [qm9.TARGETS.index(t) for t in lm.targets]
    errors: dict[str, list] = {}
    sizes, skipped = [], 0
    t0 = time.perf_counter()
    for smi, y in zip(data.smiles, data.y[:, cols].numpy()):
        try:
            single = from_smiles(smi)
            confs = conformers_from_smiles(smi, k)
        except PamnetError:
            skipped += 1
            continue
        rows_out = pred.predict([single, *confs], conformers=1)
        if not all(r.ok for r in rows_out):
            skipped += 1
            continue
        vals = np.array([[r.values[t] for t in lm.targets] for r in rows_out])
        energies = np.array([c.properties.get("mmff_energy", 0.0) for c in confs])
        ways = {"single (seed 0)": vals[0], **aggregates(vals[1:], energies)}
        for name, v in ways.items():
            errors.setdefault(name, []).append(np.abs(v - y))
        sizes.append(len(confs))
    print(
        f"{len(sizes)} QM9 validation molecules ({skipped} skipped), {np.mean(sizes):.2f} "
        f"conformers on average (K = {k}), {time.perf_counter() - t0:.0f} s"
    )
    mae = {name: np.nanmean(np.stack(e), 0) for name, e in errors.items()}
    base = mae["single (seed 0)"]
    print(f"{'target':7s}" + "".join(f"{name:>18s}" for name in mae))
    for j, t in enumerate(lm.targets):
        cells = "".join(f"{m[j]:11.4g} ({m[j] / base[j]:.2f})" for m in mae.values())
        print(f"{t:7s}{cells}")
    mean_ratio = {name: float(np.mean(m / base)) for name, m in mae.items()}
    print(
        "mean MAE ratio to the single conformer:", {k: round(v, 3) for k, v in mean_ratio.items()}
    )


def cost(k: int) -> None:
    from pamnet.predict import Predictor

    pred = Predictor.from_name("qm9_pamnet_mmff", "cpu")
    print(f"\nSMILES -> numbers, fastest of 5 warm calls ({torch.get_num_threads()} thread(s))")
    print(f"{'molecule':16s} {'K=1 ms':>8s} {f'K={k} ms':>8s} {'ratio':>6s} conformers")
    for name, smi in COST_SMILES.items():
        times = {}
        for kk in (1, k):
            best = math.inf
            pred.predict([smi], conformers=kk)  # warm
            for _ in range(5):
                t = time.perf_counter()
                (row,) = pred.predict([smi], conformers=kk)
                best = min(best, time.perf_counter() - t)
            times[kk] = best
        print(
            f"{name:16s} {1000 * times[1]:8.0f} {1000 * times[k]:8.0f} "
            f"{times[k] / times[1]:6.1f} {row.conformers}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cost-only", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if not args.cost_only:
        accuracy(args.n, args.k)
    cost(args.k)


if __name__ == "__main__":
    main()
