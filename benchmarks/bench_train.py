"""Training throughput (molecules/s, forward + backward + Adam step) of PAMNet on QM9.

    python benchmarks/bench_train.py [--threads 1] [--batch-size 32] [--steps 10]

Uses QM9 molecules when qm9pack is installed (about 18 atoms each), else random
molecules of the same size. Runs on CPU, and on CUDA when a GPU is present.
"""

from __future__ import annotations

import argparse
import time

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
    steps: int, device: torch.device,
) -> float:  # fmt: skip
    torch.manual_seed(0)
    model = PAMNet(ModelConfig(variant=variant, dim=dim, n_layer=n_layer, num_targets=12))
    model.to(device).train()
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
        loss = model(batch).prediction.abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        n_mol += batch.num_graphs
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n_mol / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=10)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    graphs, what = molecules(args.batch_size * 8)
    print(f"{what}, batch {args.batch_size}, {args.threads} CPU thread(s)")
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        for variant, dim, n_layer in SIZES:
            rate = throughput(graphs, variant, dim, n_layer, args.batch_size, args.steps, device)
            print(f"{device.type:4s} {variant:8s} dim {dim:3d} layers {n_layer}: {rate:8.1f} mol/s")


if __name__ == "__main__":
    main()
