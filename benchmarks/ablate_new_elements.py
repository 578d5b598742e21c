"""Fine-tuning a QM9 model onto elements it has never seen: how to start the new
embedding rows, and how much of the base the fine-tune keeps.

    python benchmarks/ablate_new_elements.py [--epochs 10] [--threads 1] [--seeds 0 1 2]

Data: the CHEMBL2321810 series shipped in RDKit's Contrib folder (1,017 Nav1.7
aryl sulfonamides with pIC50; every molecule has S, about half Cl, a few Br and I),
read at run time from the installed package. Split: `FinetuneConfig`'s (10% held out
for validation, split seed 0). For each `--new-element-init` (group, mean, random)
the shipped MMFF model is fine-tuned for the same epochs and seed (per `--seeds`: the
seed of the 3D embedding, the new heads and the batch order); the script prints the
validation MAE per epoch, and the mean final MAE per init over the seeds. Then, on the first 500 QM9 test molecules (H/C/N/O/F,
DFT geometries), it prints how far the fine-tuned model's kept QM9 heads moved from
the base's predictions: fully fine-tuned, and with every group frozen (only the new
rows and the new head train), where nothing may move.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from pamnet import finetune, registry
from pamnet.checkpoint import load_checkpoint
from pamnet.inference import predict_graphs

CONTRIB = "FreeWilson/data/CHEMBL2321810"


def chembl_table(folder: Path) -> Path:
    from rdkit import RDConfig

    root = Path(RDConfig.RDContribDir) / CONTRIB
    smi = pd.read_csv(f"{root}.smi", sep=" ", header=None, names=["smiles", "name"])
    act = pd.read_csv(f"{root}_act.csv")
    table = smi.merge(act, left_on="name", right_on="Name")[["smiles", "name", "Act"]]
    path = folder / "chembl_nav17.csv"
    table.rename(columns={"Act": "pIC50"}).to_csv(path, index=False)
    return path


def qm9_test(n: int):
    from pamnet import qm9

    return qm9.load(qm9.split(0)["test"][:n]).graphs()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--base", default="qm9_pamnet_mmff")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--skip-base-check", action="store_true", help="only the init ablation")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="pamnet-elements-"))
    data = chembl_table(work)
    common = dict(
        data=str(data), targets=("pIC50",), base=args.base, epochs=args.epochs, device="cpu",
        batch_size=16, lr=5e-4,
    )  # fmt: skip
    runs, finals = {}, {}
    plan = [(how, ()) for how in ("group", "mean", "random")]
    if not args.skip_base_check:
        plan.append(("group", finetune.FREEZE_GROUPS))
    for seed in args.seeds:
        cache = None
        for how, freeze in plan:
            label = how + (" (all frozen)" if freeze else "")
            out = work / f"s{seed}-{label.replace(' ', '_').replace('(', '').replace(')', '')}"
            out.mkdir()
            if cache is not None:
                shutil.copy(cache, out / "dataset.pt")  # same data key: skip the 3D embedding
            cfg = finetune.FinetuneConfig(
                **common, seed=seed, element_init=how, freeze=freeze, output=str(out / "model.pt")
            )
            start = time.perf_counter()
            curve = []
            finetune.run(cfg, out, on_epoch=curve.append, log=lambda m: None)
            cache = cache or out / "dataset.pt"
            maes = [r.get("val_mae_pIC50", float("nan")) for r in curve]
            runs[label] = out / "model.pt"
            finals.setdefault(label, []).append(maes[-1])
            print(f"seed {seed} {label:20s} {time.perf_counter() - start:6.0f} s  val MAE per "
                  "epoch: " + " ".join(f"{v:.3f}" for v in maes), flush=True)  # fmt: skip
    print("\nfinal val MAE, mean over seeds " + str(args.seeds))
    for label, values in finals.items():
        print(
            f"  {label:20s} {sum(values) / len(values):.3f}  ({', '.join(f'{v:.3f}' for v in values)})"
        )
    if args.skip_base_check:
        return

    base = load_checkpoint(registry.resolve(args.base))
    graphs = qm9_test(500)
    before = predict_graphs(base.model, graphs, base.normalization)
    print(f"\nkept QM9 heads on 500 QM9 test molecules: mean |tuned - base| ({args.base})")
    for label in ("group", "group (all frozen)"):
        tuned = load_checkpoint(runs[label])
        after = predict_graphs(tuned.model, graphs, tuned.normalization)[:, : len(base.targets)]
        moved = (after - before).abs().mean(0)
        print(
            f"  {label:20s} " + " ".join(f"{t}={float(m):.3g}" for t, m in zip(base.targets, moved))
        )


if __name__ == "__main__":
    main()
