"""`pamnet train --dataset qm9`: train (or resume) a multi-target PAMNet on QM9."""

from __future__ import annotations

import argparse
import json
import math

from pamnet.commands._options import DEVICE, THREADS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        parents=[DEVICE, THREADS],
        help="train a PAMNet on QM9 (or resume a saved training state)",
        description="Train a PAMNet on QM9 with the documented split (seed 0: 110,000 train, "
        "10,000 validation, the rest test). Writes OUT/state.pt (resumable), OUT/best.pt and "
        "OUT/last.pt (EMA weights) and OUT/log.jsonl.",
    )
    p.add_argument("--dataset", default="qm9", choices=["qm9"])
    p.add_argument(
        "--targets",
        action="extend",
        nargs="+",
        default=None,
        help="subset of QM9 targets (default all 12)",
    )
    p.add_argument(
        "--geometry",
        default="dft",
        choices=["dft", "mmff"],
        help="dft: QM9's geometries; mmff: each molecule rebuilt from its SMILES as the app "
        "builds SMILES input (cached after the first build, ~20 CPU-minutes)",
    )
    p.add_argument(
        "--init",
        metavar="CHECKPOINT",
        default=None,
        help="start from this checkpoint's weights, targets and normalization "
        "(e.g. qm9_pamnet to adapt the DFT model to MMFF geometries)",
    )
    p.add_argument("--workers", type=int, default=1, help="processes building MMFF geometries")
    p.add_argument("--variant", default="PAMNet", choices=["PAMNet", "PAMNet_s"])
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--n-layer", type=int, default=3)
    p.add_argument("--cutoff-g", type=float, default=5.0, help="global-graph radius, Å")
    p.add_argument("--epochs", type=int, default=None, help="default 5")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="default 1e-3 (kept on --resume)")
    p.add_argument("--warmup-epochs", type=float, default=None, help="default 1")
    p.add_argument(
        "--lr-decay",
        type=float,
        default=None,
        help="lr factor per epoch after warm-up (default 0.96; may be changed on --resume)",
    )
    p.add_argument(
        "--schedule",
        default=None,
        choices=["exp", "cosine"],
        help="lr after warm-up: exp (x --lr-decay per epoch) or cosine (to 1%% of --lr at the "
        "last epoch); default exp",
    )
    p.add_argument(
        "--restart-schedule",
        action="store_true",
        help="with --resume: a new warm-up and schedule from the saved step (use with "
        "--schedule cosine --lr ... --epochs ...)",
    )
    p.add_argument(
        "--loss-weight",
        action="append",
        metavar="TARGET=W",
        default=None,
        help="weigh TARGET's error by W in the loss, the others by 1 (repeat for several, e.g. "
        "--loss-weight mu=2 --loss-weight cv=1.5; '*=0' --loss-weight mu=1 trains for mu alone); "
        "kept on --resume unless given again",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the training steps: about 1.3x the molecules/s on CPU after 0.5-3 "
        "min of compiling; needs a C++ compiler (g++) on CPU; not kept on --resume (give it "
        "again)",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="train as N processes of one thread each (torchrun ranks, DDP over Gloo on CPU), "
        "each on its share of every batch: the same batches and updates as one process; "
        "with --compile on 2 free cores about 1.25x the molecules/s of one process "
        "(benchmarks/bench_train.py --processes); --batch-size stays the whole batch; N is "
        "cut to the cores idle now",
    )
    p.add_argument("--max-minutes", type=float, default=None, help="wall-clock budget")
    p.add_argument("--save-every-minutes", type=float, default=10.0)
    p.add_argument("--limit-train", type=int, default=None, help="use the first N train molecules")
    p.add_argument("--limit-val", type=int, default=None, help="validate on the first N only")
    p.add_argument("--seed", type=int, default=0, help="weight init and batch order")
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--resume", metavar="STATE", default=None, help="continue OUT/state.pt")
    p.add_argument("--out", default="runs/qm9", help="output folder")
    p.add_argument(
        "--dipole-head",
        metavar="TARGET",
        default=None,
        help="read TARGET (e.g. mu) out as |sum_i q_i (r_i - centroid)| from per-atom charges, "
        "not as a sum of atomic terms (pamnet.heads; with --resume or --init the weights are "
        "kept and that output channel becomes the charges)",
    )
    p.set_defaults(func=run)


def _print_epoch(m) -> None:
    vals = ""
    if m.val_mae:
        vals = " val MAE " + " ".join(f"{k}={v:.4g}" for k, v in m.val_mae.items())
    print(
        f"epoch {m.epoch} step {m.step} loss {m.train_loss:.4f} lr {m.lr:.2e} "
        f"{m.molecules_per_s:.0f} mol/s {m.elapsed_s / 60:.1f} min{vals}",
        flush=True,
    )


def loss_weights(items: list[str] | None) -> dict[str, float] | None:
    """{"mu": 2.0} from ["mu=2"]; a clear error for anything else."""
    if not items:
        return None
    from pamnet.errors import ConfigError

    weights = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            weights[name.strip()] = math.nan
        if not name.strip() or not 0 <= weights[name.strip()] < math.inf:
            raise ConfigError(
                f"--loss-weight {item!r}: expected TARGET=W with W a number >= 0, e.g. mu=2"
            )
    return weights


def _run_as_ranks(args: argparse.Namespace) -> int | None:
    """Run this same command as `--processes` torchrun ranks and wait for them; None when
    fewer than two cores are free (then this process trains alone)."""
    import os
    import subprocess
    import sys

    from pamnet.device import idle_cores

    n = min(args.processes, idle_cores())
    if n < 2:
        print(f"--processes {args.processes}: only one core is free, training in one process",
              flush=True)  # fmt: skip
        return None
    if n < args.processes:
        print(f"--processes {args.processes}: {n} cores are free, running {n}", flush=True)
    # the same arguments, then the ranks' count (argparse keeps the last --processes)
    launch = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={n}",
        "-m",
        "pamnet",
        *args.argv,
        f"--processes={n}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        return subprocess.run(launch, env=env).returncode
    except KeyboardInterrupt:  # torchrun got the signal too and stops its ranks
        return 130


def _rank_batch(args: argparse.Namespace, world: int) -> int:
    """Molecules per rank for a whole batch of --batch-size (a new run) or of the saved
    run's (a resume: its batch per rank times its ranks)."""
    from pamnet.errors import ConfigError

    if args.resume:
        from pamnet.training import load_state

        state = load_state(args.resume)
        whole = int(state["train_config"]["batch_size"]) * int(state.get("world_size", 1))
        if whole % world:
            raise ConfigError(f"the saved run's batch of {whole} does not split into {world} "
                              "equal parts; choose --processes dividing it")  # fmt: skip
        return whole // world
    if args.batch_size % world:
        raise ConfigError(f"--batch-size {args.batch_size} does not split into {world} equal "
                          "parts; choose a multiple of --processes")  # fmt: skip
    return args.batch_size // world


def run(args: argparse.Namespace) -> int:
    from pamnet import distributed

    relaunch = args.processes > 1 and distributed.world_size() == 1
    if relaunch and (code := _run_as_ranks(args)) is not None:
        return code

    from pamnet import qm9_recipe
    from pamnet.config import ModelConfig
    from pamnet.device import size_threads
    from pamnet.training import TrainConfig

    world, first = distributed.world_size(), distributed.rank() == 0
    if args.threads or world > 1:  # ranks: one thread each, the ranks are the parallelism
        size_threads(args.threads or 1)  # kept as given, not re-sized while training
    log = lambda message: first and print(message, flush=True)  # noqa: E731
    if args.resume:
        overrides = {"device": args.device, "compile": args.compile}
        overrides["batch_size"] = _rank_batch(args, world)  # the whole batch stays the run's
        if args.loss_weight:
            overrides["loss_weights"] = loss_weights(args.loss_weight)
        for name in ("epochs", "max_minutes", "lr_decay", "schedule", "warmup_epochs", "lr"):
            if getattr(args, name) is not None:
                overrides[name] = getattr(args, name)
        trainer = qm9_recipe.resume_trainer(
            args.resume,
            out_dir=args.out,
            workers=args.workers,
            callback=_print_epoch,
            restart_schedule=args.restart_schedule,
            log=log,
            dipole_head=args.dipole_head,
            **overrides,
        )
        log(f"resuming at epoch {trainer.epoch}, step {trainer.step}")
    else:
        config = TrainConfig(
            epochs=args.epochs or 5,
            batch_size=_rank_batch(args, world) if args.processes > 1 else args.batch_size,
            lr=args.lr if args.lr is not None else 1e-3,
            warmup_epochs=args.warmup_epochs if args.warmup_epochs is not None else 1.0,
            schedule=args.schedule or "exp",
            lr_decay=args.lr_decay if args.lr_decay is not None else 0.96,
            max_minutes=args.max_minutes,
            save_every_minutes=args.save_every_minutes,
            seed=args.seed,
            device=args.device,
            loss_weights=loss_weights(args.loss_weight),
            compile=args.compile,
        )
        trainer = qm9_recipe.new_trainer(
            config,
            targets=args.targets,
            geometry=args.geometry,
            init=args.init,
            model=ModelConfig(
                variant=args.variant, dim=args.dim, n_layer=args.n_layer, cutoff_g=args.cutoff_g
            ),
            split_seed=args.split_seed,
            limit_train=args.limit_train,
            limit_val=args.limit_val,
            out_dir=args.out,
            workers=args.workers,
            callback=_print_epoch,
            log=log,
            dipole_head=args.dipole_head,
        )
        ranks = f" x {world} processes" if world > 1 else ""
        log(
            f"training {len(trainer.targets)} targets on {len(trainer.train_set)} molecules "
            f"({trainer.steps_per_epoch} steps/epoch) on {trainer.device}{ranks}"
        )
    result = trainer.fit()
    summary = {
        "epochs_done": result.epochs_done,
        "step": result.step,
        "elapsed_min": round(result.elapsed_s / 60, 2),
        "stopped_by_budget": result.stopped_by_budget,
        "state": str(result.state_path),
        "checkpoint": str(result.checkpoint_path),
    }
    log(json.dumps(summary))
    distributed.leave()
    return 0
