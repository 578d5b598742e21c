"""Training throughput (molecules/s, forward + backward + Adam step) of PAMNet on QM9.

    python benchmarks/bench_train.py [--threads 1] [--batch-size 32] [--steps 10] [--devices cpu cuda]
    python benchmarks/bench_train.py --trainer [--rounds 3] [--n 640] [--compile]
    python benchmarks/bench_train.py --backward 18 1500 6000 [--rounds 3]
    python benchmarks/bench_train.py --processes [--rounds 3] [--n 2560] [--epochs 3]

--processes: whole `pamnet train` processes as a user starts them, on the first `--n`
QM9 training molecules for `--epochs` epochs, in turn, `--rounds` times: the trainer as it
was when issue 16 was filed (`--filed`, a git worktree of that commit, torch's default
threads), today's eager trainer (threads sized to the free cores), `--compile`, and
`--processes 2 --compile` (two torchrun ranks of one thread, 16 molecules each of every
batch of 32: the same updates), and with a batch of 64 (another recipe, printed as such). Each arm's
molecules/s is the median over rounds of its epochs after the first (the compiled
arms compile in the first), printed with the ratio to the filed trainer and the wall
time of the whole process. Run it on a quiet machine: it measures the machine.
`--beside K` keeps K other processes busy (one core each) throughout, as a second job
would: how the trainers share a machine.

--trainer: `pamnet.training.Trainer.fit` as `pamnet train` runs it (batches collated and
graphs built per step, L1 loss, clipping, Adam, schedule, EMA), one epoch over `--n` QM9
molecules, the shipped size (dim 64, 3 blocks), no validation; against the same trainer
with the step's bookkeeping as it was before (Adam's per-tensor loop, the EMA's
per-tensor loop), alternating in the same process; molecules/s of each and the ratio.

--trainer --compile: the same Trainer.fit with `TrainConfig(compile=True)` (`pamnet train
--compile`) against it without, one trainer each, an epoch of each in turn after one
warm-up epoch each (the compiled one's first epoch compiles; its time is printed);
molecules/s of each epoch and the ratio.

--backward: forward + backward of one random structure of each size (atoms), as a
training step or Integrated Gradients runs it, against `baselines.sliced_layers` (the
layers before their chunks were split rather than sliced), alternating; median seconds.

Uses QM9 molecules when qm9pack is installed (about 18 atoms each), else random
molecules of the same size. Runs on CPU, and on CUDA when a GPU is present; prints
training (forward + backward + Adam) and inference (forward only, no_grad) molecules/s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

from pamnet.config import ModelConfig
from pamnet.data import GraphInput, collate
from pamnet.model import PAMNet

SIZES = [("PAMNet", 64, 3), ("PAMNet", 128, 4), ("PAMNet_s", 64, 3), ("PAMNet", 128, 6)]


def molecules(n: int) -> tuple[list[GraphInput], str]:
    try:
        from pamnet import qm9

        rows = qm9.split(0)["train"][:n]
        return qm9.load(rows).graphs(), "QM9 train molecules"
    except Exception:  # noqa: BLE001 - no qm9pack: fall back to random molecules
        from pamnet.testing import random_molecule

        return [random_molecule(18, seed=i) for i in range(n)], "random 18-atom molecules"


def throughput(
    graphs: list[GraphInput], variant: str, dim: int, n_layer: int, batch_size: int,
    steps: int, device: torch.device, train: bool = True,
) -> float:  # fmt: skip
    """Molecules/s of training steps (train) or of no_grad forwards in eval mode."""
    torch.manual_seed(0)
    model = PAMNet(ModelConfig(variant=variant, dim=dim, n_layer=n_layer, num_targets=12))
    model.to(device).train(train)
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    batches = [
        collate(graphs[i : i + batch_size])
        for i in range(0, len(graphs) - batch_size + 1, batch_size)
    ]
    n_mol, t0 = 0, 0.0
    for k in range(steps + 2):  # two warm-up steps
        if k == 2:
            if device.type == "cuda":
                torch.cuda.synchronize()
            n_mol, t0 = 0, time.perf_counter()
        batch = batches[k % len(batches)].to(device)
        if train:
            loss = model(batch).prediction.abs().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        else:
            with torch.no_grad():
                model(batch)
        n_mol += batch.num_graphs
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n_mol / (time.perf_counter() - t0)


def _baseline_ema_update(self, model) -> None:
    """The EMA update before it was one foreach pass (the before of --trainer)."""
    with torch.no_grad():
        self.num_updates += 1
        d = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        for k, v in model.state_dict().items():
            s = self.shadow[k]
            if s.is_floating_point():
                s.mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                s.copy_(v)


def _qm9_data(graphs):
    """(`graphs` with random targets, QM9's normalisation) for `_qm9_trainer`."""
    from pamnet import qm9
    from pamnet.training_types import GraphDataset

    data = GraphDataset(graphs, torch.randn(len(graphs), 12, dtype=torch.float64))
    return data, qm9.normalization(qm9.load(qm9.split(0)["train"][:2000]))


def _qm9_trainer(data, norm, callback=None, **config):
    """A Trainer of the shipped size (dim 64, 3 blocks, seed 0), batch 32, CPU;
    `config`: more TrainConfig fields."""
    from pamnet import qm9
    from pamnet.training import Trainer
    from pamnet.training_types import TrainConfig

    torch.manual_seed(0)
    model = PAMNet(ModelConfig(dim=64, n_layer=3, num_targets=12))
    config = TrainConfig(batch_size=32, device="cpu", **config)
    return Trainer(model, data, norm, list(qm9.TARGETS), config, callback=callback)


def trainer_rates(graphs, rounds: int) -> None:
    """Molecules/s of Trainer.fit, now and as before, alternating (module docstring)."""
    from unittest import mock

    from pamnet.ema import EMA

    data, norm = _qm9_data(graphs)

    def fit(before: bool) -> float:
        trainer = _qm9_trainer(data, norm, epochs=1)
        model, config = trainer.model, trainer.config
        if before:
            trainer.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)  # loop
            trainer.scheduler = torch.optim.lr_scheduler.LambdaLR(
                trainer.optimizer, trainer._lr_factor
            )
        patch = mock.patch.object(EMA, "update", _baseline_ema_update) if before else None
        t0 = time.perf_counter()
        if patch:
            with patch:
                trainer.fit()
        else:
            trainer.fit()
        return len(graphs) / (time.perf_counter() - t0)

    fit(False)  # warm-up
    now, before = [], []
    for _ in range(rounds):
        before.append(fit(True))
        now.append(fit(False))
    b, n = sorted(before)[rounds // 2], sorted(now)[rounds // 2]
    print(f"Trainer.fit, {len(graphs)} molecules, batch 32, {torch.get_num_threads()} thread(s), "
          f"median of {rounds}: before {b:.0f} mol/s, now {n:.0f} mol/s, ratio {n / b:.2f} "
          f"(each round's ratio: {', '.join(f'{x / y:.2f}' for x, y in zip(now, before))})")  # fmt: skip


def compile_rates(graphs, rounds: int) -> None:
    """Molecules/s of Trainer.fit eager and compiled, epoch by epoch in turn (docstring)."""

    data, norm = _qm9_data(graphs)

    def trainer(compile: bool):  # stops after every epoch; the next fit() continues the run
        return _qm9_trainer(data, norm, lambda m: False, epochs=rounds + 1, compile=compile)

    eager, comp = trainer(False), trainer(True)
    t0 = time.perf_counter()
    comp.fit()
    print(f"compiled: first epoch (compiling) {time.perf_counter() - t0:.0f} s", flush=True)
    eager.fit()
    rates: dict[str, list[float]] = {"eager": [], "compiled": []}
    for _ in range(rounds):
        for name, t in (("eager", eager), ("compiled", comp)):
            t.fit()
            rates[name].append(t.history[-1].molecules_per_s)
    e, c = (sorted(rates[k])[rounds // 2] for k in ("eager", "compiled"))
    print(f"Trainer.fit, {len(graphs)} molecules, batch 32, {torch.get_num_threads()} thread(s), "
          f"median of {rounds} epochs: eager {e:.0f} mol/s, compiled {c:.0f} mol/s, ratio "
          f"{c / e:.2f} (each round: "
          f"{', '.join(f'{x / y:.2f}' for x, y in zip(rates['compiled'], rates['eager']))})")  # fmt: skip


def backward_times(sizes: list[int], rounds: int) -> None:
    """Forward + backward seconds of one structure per size, now vs sliced (docstring)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.*
    from benchmarks.baselines import sliced_layers
    from pamnet.testing import random_molecule

    torch.manual_seed(0)
    model = PAMNet(ModelConfig(dim=64, n_layer=3, num_targets=12)).train()

    def step(batch) -> float:
        t0 = time.perf_counter()
        model(batch).prediction.sum().backward()
        return time.perf_counter() - t0

    for n in sizes:
        batch = collate([random_molecule(n, seed=0)])
        step(batch)  # warm-up
        now, before = [], []
        for _ in range(rounds):
            with sliced_layers(model):
                before.append(step(batch))
            now.append(step(batch))
        b, a = sorted(before)[rounds // 2], sorted(now)[rounds // 2]
        print(f"{n:6d} atoms, forward + backward, median of {rounds}: sliced {b:.3f} s, "
              f"now {a:.3f} s, speed-up {b / a:.2f}x")  # fmt: skip


FILED = "371e15a"  # main when issue 16 was filed (stop 18 started from it)


def process_rates(n: int, epochs: int, rounds: int, filed: str, beside: int = 0) -> None:
    """Whole `pamnet train` processes: filed, eager, compiled, two ranks (docstring)."""
    import json
    import shutil
    import statistics
    import subprocess
    import tempfile

    root = Path(__file__).resolve().parents[1]
    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    old = tmp / "filed"
    made = subprocess.run(
        ["git", "-C", str(root), "worktree", "add", "--detach", str(old), filed],
        capture_output=True, text=True,
    )  # fmt: skip
    if made.returncode != 0:
        raise SystemExit(f"cannot check out {filed} (a full git clone is needed): {made.stderr}")
    common = [
        "train", "--dataset", "qm9", "--limit-train", str(n), "--limit-val", "64",
        "--epochs", str(epochs), "--lr", "1e-4", "--warmup-epochs", "0.1",
        "--save-every-minutes", "1000",
    ]  # fmt: skip
    py = [sys.executable, "-m", "pamnet"]
    arms = {
        f"filed ({filed}), default threads": (py, [], old),
        "now, eager": (py, [], root),
        "now, --compile": (py, ["--compile"], root),
        "now, --processes 2 --compile": (py, ["--compile", "--processes", "2"], root),
        "--processes 2 --batch-size 64 --compile (another recipe)": (
            py, ["--compile", "--processes", "2", "--batch-size", "64"], root,
        ),
    }  # fmt: skip
    rates: dict[str, list[float]] = {a: [] for a in arms}
    walls: dict[str, list[float]] = {a: [] for a in arms}
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(beside)]
    try:
        for r in range(rounds):
            for arm, (launch, extra, cwd) in arms.items():
                out = tmp / f"run{r}_{len(rates[arm])}_{abs(hash(arm))}"
                env = {**os.environ, "PYTHONPATH": str(cwd)}
                t0 = time.perf_counter()
                done = subprocess.run(
                    launch + common + ["--out", str(out)] + extra,
                    cwd=cwd, env=env, capture_output=True, text=True,
                )  # fmt: skip
                wall = time.perf_counter() - t0
                if done.returncode != 0:
                    raise SystemExit(f"{arm} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
                log = [json.loads(line) for line in open(out / "log.jsonl")]
                rates[arm].append(statistics.median(m["molecules_per_s"] for m in log[1:]))
                walls[arm].append(wall)
                print(f"round {r + 1}: {arm}: {rates[arm][-1]:.0f} mol/s, {wall:.0f} s wall",
                      flush=True)  # fmt: skip
    finally:
        for b in busy:
            b.kill()
        subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(old)])
        shutil.rmtree(tmp, ignore_errors=True)
    base = statistics.median(rates[next(iter(arms))])
    print(f"\n{n} QM9 molecules, {epochs} epochs per process, {os.cpu_count()} CPUs, "
          f"{beside} busy process(es) beside, median of {rounds} processes (epochs after the "
          "first):")  # fmt: skip
    for arm in arms:
        rate = statistics.median(rates[arm])
        print(f"  {arm:58s} {rate:5.0f} mol/s  x{rate / base:.2f} the filed trainer  "
              f"(process {statistics.median(walls[arm]):.0f} s)")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--trainer", action="store_true", help="Trainer.fit, now vs before")
    p.add_argument("--compile", action="store_true", help="--trainer: compiled vs eager")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--processes", action="store_true", help="whole pamnet train processes")
    p.add_argument("--epochs", type=int, default=3, help="--processes: epochs per process")
    p.add_argument("--filed", default=FILED, help="--processes: the baseline's commit")
    p.add_argument("--beside", type=int, default=0, help="--processes: busy processes beside")
    p.add_argument("--n", type=int, default=None,
                   help="--trainer: molecules per epoch (640); --processes: training molecules "
                   "(2560)")  # fmt: skip
    p.add_argument("--backward", type=int, nargs="+", metavar="ATOMS", default=None,
                   help="forward + backward of one structure per size, now vs sliced")  # fmt: skip
    p.add_argument("--devices", nargs="+", choices=["cpu", "cuda"], default=None,
                   help="default: cpu, and cuda when present")  # fmt: skip
    args = p.parse_args()
    if args.processes:
        process_rates(args.n or 2560, args.epochs, args.rounds, args.filed, args.beside)
        return
    torch.set_num_threads(args.threads)
    if args.backward:
        backward_times(args.backward, args.rounds)
        return
    if args.trainer:
        graphs, what = molecules(args.n or 640)
        print(what)
        (compile_rates if args.compile else trainer_rates)(graphs, args.rounds)
        return
    graphs, what = molecules(args.batch_size * 8)
    print(f"{what}, batch {args.batch_size}, {args.threads} CPU thread(s)")
    names = args.devices or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in map(torch.device, names):
        for variant, dim, n_layer in SIZES:
            rates = [
                throughput(graphs, variant, dim, n_layer, args.batch_size, args.steps, device, t)
                for t in (True, False)
            ]
            print(f"{device.type:4s} {variant:8s} dim {dim:3d} layers {n_layer}: "
                  f"train {rates[0]:8.1f} mol/s, inference {rates[1]:8.1f} mol/s")  # fmt: skip


if __name__ == "__main__":
    main()
