"""How trustworthy the shipped models' numbers are, measured: impossible values, domain
and interval width on QM9's test split and on drug-like molecules no model trained on.

    python benchmarks/trust_report.py [--drugs 300] [--test-limit N] [--threads 1]

1. QM9 test split (DFT model, DFT geometries): how many predictions of a quantity that
   cannot be negative (`pamnet.targets.NONNEGATIVE`) came out negative (these are left
   out of every prediction, with a note), and the same for the MMFF model on MMFF
   geometries.
2. Drug-like molecules: the first `--drugs` H/C/N/O/F SMILES of RDKit's NCI file
   (`first_5K.smi`, shipped with RDKit), predicted by the MMFF model as a user would
   (`pamnet.predict`, 5 conformers): negatives before flagging, domain levels with their
   most common reasons, and the mean interval half-width of the drugs over that of the
   in-domain QM9 test molecules (the intervals must widen out of the domain).
3. Normalised vs plain conformal on the QM9 test split: the plain (one width for every
   molecule) interval that covers as much, and its mean width over the normalised one's.
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

import numpy as np
import torch

from pamnet.targets import NONNEGATIVE

ALLOWED = {"H", "C", "N", "O", "F"}


def drug_smiles(n: int) -> list[str]:
    from rdkit import Chem, RDConfig, RDLogger

    RDLogger.DisableLog("rdApp.*")
    path = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    out = []
    for line in path.read_text().splitlines():
        smi = line.split()[0] if line.strip() else ""
        mol = Chem.MolFromSmiles(smi) if smi else None
        if mol is None or "." in smi:
            continue
        if {a.GetSymbol() for a in mol.GetAtoms()} <= ALLOWED and mol.GetNumHeavyAtoms() >= 10:
            out.append(smi)
        if len(out) == n:
            break
    return out


def qm9_negatives(name: str, limit: int | None) -> dict:
    from pamnet import qm9_eval
    from pamnet.checkpoint import load_checkpoint
    from pamnet.inference import predict_graphs
    from pamnet.registry import resolve

    lm = load_checkpoint(resolve(name), "cpu")
    geometry = lm.metadata.get("geometry", "dft")
    data, _ = qm9_eval._split_data(lm, "test", limit, geometry)
    pred, lat = predict_graphs(lm.combined, data.graphs(), lm.normalization, latent=True)
    neg = {t: int((pred[:, lm.targets.index(t)] < 0).sum()) for t in NONNEGATIVE}
    out = {"n": len(pred), "negative": neg}
    cal = lm.calibration
    if cal is not None:
        r = cal.ratio(lat)
        n_atoms = data.n_atoms().numpy()
        inside = r <= cal.r_near
        out["half_width_in_domain"] = {
            t: float(cal.half_width(t, r, n_atoms)[inside].mean()) for t in cal.targets
        }
        out["plain_over_normalised"] = plain_ratio(cal, pred.numpy(), data, lm, r, n_atoms)
    return out


def plain_ratio(cal, pred, data, lm, r, n_atoms) -> dict:
    """Mean width of the one-width interval with the normalised one's coverage, over the
    normalised interval's mean width, per target (< 1: normalising costs width)."""
    from pamnet import qm9

    y = data.y[:, [qm9.TARGETS.index(t) for t in lm.targets]].numpy()
    out = {}
    for k, t in enumerate(cal.targets):
        hw = cal.half_width(t, r, n_atoms)
        err = np.abs(pred[:, k] - y[:, k])
        cover = float((err <= hw).mean())
        out[t] = round(float(np.quantile(err, cover)) / float(hw.mean()), 3)
    return out


def drugs(n: int) -> dict:
    import pamnet

    smiles = drug_smiles(n)
    raw = pamnet.predict(smiles, checkpoint="qm9_pamnet_mmff", device="cpu", keep_impossible=True)
    ok = [p for p in raw if p.ok]
    neg = {t: sum(p.values[t] < 0 for p in ok) for t in NONNEGATIVE}
    levels = collections.Counter(p.domain.level for p in ok)
    reasons = collections.Counter(
        r.split(";")[0].split(" (")[0] for p in ok for r in p.domain.reasons
    )
    widths = {t: float(np.mean([p.errors[t] for p in ok if t in p.errors])) for t in ok[0].errors}
    return {
        "n": len(smiles),
        "predicted": len(ok),
        "negative_before_flagging": neg,
        "domain": dict(levels),
        "reasons": dict(reasons.most_common(6)),
        "half_width": widths,
        "heavy_atoms": float(np.mean([sum(e != "H" for e in p.structure.elements) for p in ok])),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drugs", type=int, default=300)
    p.add_argument("--test-limit", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    for name in ("qm9_pamnet", "qm9_pamnet_mmff"):
        res = qm9_negatives(name, args.test_limit)
        print(
            f"{name} on the QM9 test split ({res['n']} molecules): negative values", res["negative"]
        )
        if "plain_over_normalised" in res:
            print("  one-width interval of equal coverage, mean width over the normalised one's:",
                  res["plain_over_normalised"])  # fmt: skip
        if name == "qm9_pamnet_mmff":
            mmff_in = res.get("half_width_in_domain")
    d = drugs(args.drugs)
    print(f"\n{d['predicted']} of {d['n']} drug-like NCI molecules predicted (MMFF model, 5 "
          f"conformers; {d['heavy_atoms']:.1f} heavy atoms on average)")  # fmt: skip
    print("  negative before flagging (each left out with a note):", d["negative_before_flagging"])
    print("  domain:", d["domain"], "\n  most common reasons:", d["reasons"])
    if mmff_in:
        ratio = {t: round(d["half_width"][t] / mmff_in[t], 2) for t in d["half_width"]}
        print("  mean ± of the drugs over that of in-domain QM9 test molecules:", ratio)


if __name__ == "__main__":
    main()
