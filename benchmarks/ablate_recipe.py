"""The QM9 training recipe, one choice at a time, on the same data and the same budget.

    python benchmarks/ablate_recipe.py [--train 10000] [--val 2000] [--epochs 8]
        [--threads 1] [--arms first cosine ...] [--out runs/ablate_recipe]

Each arm trains a new model from the same initialisation (seed 0) on the first
`--train` molecules of the documented QM9 training split (DFT geometries, all 12
targets) for `--epochs` epochs, and is scored on the first `--val` validation molecules
after every epoch: the trainer's own score, the mean over targets of MAE / the target's
standard deviation (lower is better), on the EMA weights as `pamnet train` exports them.
Arms run one after another in this process, with the same threads.

--init CHECKPOINT starts every arm from a trained model instead (its weights, targets
and normalisation; `--lr` sets the arms' peak lr, e.g. 1e-4): that is how the loss
weighting arms are meant to run, on a model near its goal. "behind SchNet x2" doubles
the loss weight of each target whose validation MAE in the checkpoint's record is
above SchNet's published test MAE (`published_test_mae` in its metadata); "mu only"
trains the trunk for one target (the bound on what a per-target model gains there).

The arms (`ARMS`) start from the recipe the first shipped models used ("first": lr
1e-3 after a one-epoch warm-up, then x0.6 per epoch) and change one thing each: the
schedule (x0.96 per epoch, the trainer's default; cosine to 1% after a 0.2-epoch
warm-up), the EMA (none), the model size (dim 128; 4 blocks) and the batch (64).

Prints, per arm: parameters, molecules/s (training, the median epoch), the score after each epoch, and at the
end each target's MAE over the first arm's; writes OUT/ablate_recipe.json. One seed per
arm: differences of a few percent are within the noise of a run this short. A short
run also favours what learns fast early; it measures the recipe for a small budget,
which is this project's constraint, not the recipe for a long run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from pamnet import qm9, registry
from pamnet.config import ModelConfig
from pamnet.device import size_threads
from pamnet.qm9_recipe import new_trainer
from pamnet.training import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
FIRST = {"lr": 1e-3, "warmup_epochs": 1.0, "schedule": "exp", "lr_decay": 0.6}
COSINE = {"lr": 1e-3, "warmup_epochs": 0.2, "schedule": "cosine"}
# name: (TrainConfig fields, ModelConfig fields); each changes one thing from its parent
ARMS = {
    "first": (FIRST, {}),
    "exp 0.96": ({**FIRST, "lr_decay": 0.96}, {}),
    "cosine": (COSINE, {}),
    "cosine, no EMA": ({**COSINE, "ema_decay": 0.0}, {}),
    "cosine, dim 128": (COSINE, {"dim": 128}),
    "cosine, 4 blocks": (COSINE, {"n_layer": 4}),
    "cosine, batch 64": ({**COSINE, "batch_size": 64}, {}),
    "behind SchNet x2": ({**COSINE, "loss_weights": "behind SchNet"}, {}),
    "mu only": ({**COSINE, "loss_weights": "mu only"}, {}),
}
BASE_MODEL = {"dim": 64, "n_layer": 3}  # the shipped models' size


def behind_schnet(init: str) -> dict[str, float]:
    """Weight 2 for each target whose validation MAE (the checkpoint's training record)
    is above SchNet's published test MAE; the others 1."""
    meta = registry.load(init).metadata
    val, schnet = meta["training"]["epoch_metrics"]["val_mae"], meta["published_test_mae"]["schnet"]
    milli = {t: 1000 if qm9.UNITS[t] == "eV" else 1 for t in schnet}  # published in meV
    return {t: 2.0 for t, ref in schnet.items() if val[t] * milli[t] > ref}


def loss_weights(rule, init: str | None) -> dict[str, float] | None:
    if rule == "behind SchNet":
        if init is None:
            raise SystemExit("the 'behind SchNet x2' arm needs --init (a trained checkpoint)")
        return behind_schnet(init)
    if rule == "mu only":
        return {t: float(t == "mu") for t in qm9.TARGETS}
    return rule


def run_arm(name: str, args) -> dict:
    train_over, model_over = ARMS[name]
    train_over = {
        **train_over,
        "loss_weights": loss_weights(train_over.get("loss_weights"), args.init),
    }
    if args.lr is not None:
        train_over["lr"] = args.lr
    if args.init and model_over:
        raise SystemExit(f"arm {name!r} changes the model size: not with --init")
    config = TrainConfig(epochs=args.epochs, seed=0, device="cpu", **train_over)
    scores: list[float] = []
    rates: list[float] = []
    last: list = []  # the last epoch's metrics

    def on_epoch(m) -> None:
        scores.append(m.val_score)
        rates.append(m.molecules_per_s)
        last[:] = [m]
        print(f"  {name}: epoch {m.epoch} score {m.val_score:.4f} lr {m.lr:.2e} "
              f"{m.molecules_per_s:.0f} mol/s", flush=True)  # fmt: skip

    trainer = new_trainer(
        config,
        init=args.init,
        model=ModelConfig(**{**BASE_MODEL, **model_over}),
        limit_train=args.train,
        limit_val=args.val,
        callback=on_epoch,
        log=lambda _: None,
    )
    params = sum(p.numel() for p in trainer.model.parameters())
    start = time.perf_counter()
    trainer.fit()
    return {
        "arm": name,
        "train_config": train_over,
        "init": args.init,
        "model_config": model_over,
        "params": params,
        "wall_s": time.perf_counter() - start,
        # the median epoch: robust to other work slowing one epoch down
        "mol_per_s": float(torch.tensor(rates).median()),
        "scores": scores,
        "final_score": last[0].val_score,
        "val_mae": last[0].val_mae,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=int, default=10_000)
    ap.add_argument("--val", type=int, default=2_000)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    ap.add_argument("--init", default=None, help="start every arm from this checkpoint")
    ap.add_argument("--lr", type=float, default=None, help="every arm's peak lr")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "ablate_recipe")
    args = ap.parse_args()
    size_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{args.train} training and {args.val} validation molecules, {args.epochs} epochs, "
          f"{torch.get_num_threads()} thread(s), from {args.init or 'scratch'}", flush=True)  # fmt: skip
    results = []
    for name in args.arms:
        results.append(run_arm(name, args))
        (args.out / "ablate_recipe.json").write_text(json.dumps(results, indent=1))

    ref = results[0]
    print(f"\nval score (mean MAE/std over {len(qm9.TARGETS)} targets) after each epoch; "
          f"last columns: MAE over the '{ref['arm']}' arm's, per target")  # fmt: skip
    print(f"{'arm':18s} {'params':>7s} {'mol/s':>7s}  "
          + " ".join(f"{e + 1:>6d}" for e in range(args.epochs))
          + "  " + " ".join(f"{t:>6s}" for t in qm9.TARGETS))  # fmt: skip
    for r in results:
        ratios = [r["val_mae"][t] / ref["val_mae"][t] for t in qm9.TARGETS]
        print(f"{r['arm']:18s} {r['params']:7d} {r['mol_per_s']:7.0f}  "
              + " ".join(f"{s:6.4f}" for s in r["scores"])
              + "  " + " ".join(f"{x:6.3f}" for x in ratios))  # fmt: skip
    if args.init:
        print_against_schnet(args.init, results)


def print_against_schnet(init: str, results: list[dict]) -> None:
    """Validation MAE / SchNet's published test MAE, the start and each arm."""
    meta = registry.load(init).metadata
    schnet = meta["published_test_mae"]["schnet"]
    rows = [(f"{init} (start)", meta["training"]["epoch_metrics"]["val_mae"])]
    rows += [(r["arm"], r["val_mae"]) for r in results]
    print("\nval MAE / SchNet's published test MAE (< 1: better than SchNet)")
    print(f"{'':26s}" + " ".join(f"{t:>6s}" for t in schnet))
    for name, val in rows:
        ratio = [val[t] * (1000 if qm9.UNITS[t] == "eV" else 1) / schnet[t] for t in schnet]
        print(f"{name:26s}" + " ".join(f"{x:6.3f}" for x in ratio))


if __name__ == "__main__":
    main()
