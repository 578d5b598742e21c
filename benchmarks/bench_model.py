"""Model throughput, peak memory and scaling on this machine.

    python benchmarks/bench_model.py            # everything (a few minutes on 2 cores)
    python benchmarks/bench_model.py --quick    # smaller sizes, fewer repeats

Prints, for QM9-size batches (dim 128, 6 layers; batch 32 and 128) and single
large structures (complex and RNA mode; 1k-50k atoms):
- molecules/s or seconds per structure and the forward's peak memory above the model
  and inputs (sampled resident memory on CPU, max_memory_allocated on CUDA), each
  case in a fresh subprocess,
- the ratio of the forward time to the model's dense layers alone (every Linear
  + SiLU of the model run on random inputs of the shapes the forward gave it:
  the compute floor for this architecture),
- ratios against baselines run in the same process: the straightforward
  message layers (concatenate [x_i, x_j, rbf] per edge, then the MLP) instead
  of our split projections, and for graph construction (the task's own: radius
  graph for complexes, kNN for RNA) a dense N x N distance matrix instead of the
  cell list (reported as out of memory where it fails).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.baselines import naive_layers  # noqa: E402
from benchmarks.measure import peak_rss_during, timeit  # noqa: E402
from pamnet import geometry  # noqa: E402
from pamnet.config import ModelConfig  # noqa: E402
from pamnet.data import GraphInput, collate  # noqa: E402
from pamnet.model import PAMNet  # noqa: E402

QM9_CASES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "official" / "inputs.json"
TYPES = {"H": 0, "C": 1, "N": 2, "O": 3, "F": 4}


def qm9_molecules() -> list[GraphInput]:
    """The 30 QM9 molecules (DFT geometries, bonds) of the reference inputs."""
    out = []
    for c in json.loads(QM9_CASES.read_text())["qm9"]:
        b = torch.tensor(c["bonds"]).T
        out.append(
            GraphInput(
                pos=torch.tensor(c["pos"]),
                atom_type=torch.tensor([TYPES[e] for e in c["elements"]]),
                bond_index=torch.cat([b, b.flip(0)], 1),
            )
        )
    return out


def blob(n: int, seed: int = 0, density: float = 0.05, task: str = "complex") -> GraphInput:
    """n heavy atoms on a jittered cubic lattice at ~protein density (atoms / Å^3)."""
    g = torch.Generator().manual_seed(seed)
    spacing = density ** (-1 / 3)
    side = math.ceil(n ** (1 / 3))
    grid = torch.stack(torch.meshgrid(*[torch.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)[
        :n
    ]
    pos = grid.float() * spacing + (torch.rand(n, 3, generator=g) - 0.5) * spacing * 0.6
    if task == "rna":
        return GraphInput(pos=pos, atom_type=torch.randint(0, 3, (n,), generator=g))
    return GraphInput(pos=pos, atom_feat=torch.rand(n, 18, generator=g))


def dense_floor(model: PAMNet, batch, repeats: int) -> float:
    """Time of the model's Linear (+SiLU) layers alone, at the shapes of this forward."""
    shapes: list[tuple[torch.nn.Linear, tuple]] = []
    hooks = [
        m.register_forward_hook(lambda mod, inp, out: shapes.append((mod, inp[0].shape)))
        for m in model.modules()
        if isinstance(m, torch.nn.Linear)
    ]
    with torch.no_grad():
        model(batch)
    for h in hooks:
        h.remove()
    device = batch.pos.device
    inputs = [(mod, torch.randn(shape, device=device)) for mod, shape in shapes]

    def run():
        with torch.no_grad():
            for mod, x in inputs:
                torch.nn.functional.silu(mod(x))

    return timeit(run, repeats)


def model_for(task: str, dim: int, n_layer: int) -> PAMNet:
    torch.manual_seed(0)
    if task == "molecule":
        cfg = ModelConfig(task="molecule", dim=dim, n_layer=n_layer, cutoff_l=5.0, cutoff_g=5.0)
    elif task == "complex":
        cfg = ModelConfig(task="complex", dim=dim, n_layer=n_layer, cutoff_l=2.0, cutoff_g=6.0)
    else:
        cfg = ModelConfig(
            task="rna",
            dim=dim,
            n_layer=n_layer,
            cutoff_l=2.6,
            cutoff_g=20.0,
            num_atom_types=3,
            flow="target_to_source",
        )
    return PAMNet(cfg).eval()


def measure(case: dict) -> dict:
    """One case, run in this process: timings and (CPU) peak RSS growth."""
    device = torch.device(case.get("device", "cpu"))
    model = model_for(case["task"], case["dim"], case["n_layer"]).to(device)
    if case["task"] == "molecule":
        mols = qm9_molecules()
        items = [mols[i % len(mols)] for i in range(case["batch"])]
    else:
        items = [blob(case["atoms"], task=case["task"])]
    batch = collate(items).to(device)
    with torch.no_grad():
        t = timeit(lambda: model(batch), case["repeats"])
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            model(batch)
            peak = (torch.cuda.max_memory_allocated() - base) / 2**20
        else:
            peak = peak_rss_during(lambda: model(batch))
    out = {**case, "seconds": t, "peak_mib": peak}
    out["floor_seconds"] = dense_floor(model, batch, case["repeats"])
    if case.get("baseline"):
        with naive_layers(model), torch.no_grad():
            out["naive_seconds"] = timeit(lambda: model(batch), case["repeats"])
    if case.get("dense_graph"):
        out["dense_graph"] = dense_graph_check(batch.pos, case)
    return out


def dense_graph_check(pos: torch.Tensor, case: dict) -> str:
    """The task's own neighbour search (complex: radius graph at the global cutoff; RNA:
    kNN with k = 50) against a dense N x N distance matrix: time ratio, or where dense
    runs out of memory."""
    if case["task"] == "complex":
        cell = timeit(lambda: geometry.radius_graph(pos, 6.0), 1)

        def dense():
            return (torch.cdist(pos, pos) <= 6.0).nonzero()
    else:
        cell = timeit(lambda: geometry.knn_graph(pos, 50), 1)

        def dense():
            return torch.cdist(pos, pos).topk(50, dim=1, largest=False).indices

    need_gib = pos.shape[0] ** 2 * 4 * 3 / 2**30  # distances, mask and temporaries
    budget = float(os.environ.get("BENCH_DENSE_GIB", "8"))
    if need_gib > budget:
        return f"dense N x N needs ~{need_gib:.0f} GiB > {budget:.0f} GiB budget: skipped (OOM)"
    try:
        t = timeit(dense, 1)
    except RuntimeError as exc:  # allocation failure
        return f"dense failed: {str(exc)[:60]}"
    return f"cell list {cell * 1e3:.0f} ms vs dense {t * 1e3:.0f} ms ({t / cell:.1f}x)"


def run_isolated(case: dict) -> dict:
    """Run `measure(case)` in a fresh interpreter so peak memory is its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--case", json.dumps(case)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        return {**case, "error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(measure(json.loads(args.case))))
        return
    reps = 2 if args.quick else 5
    print(f"device: {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("\nQM9-size batches (dim 128, 6 layers, reference QM9 molecules, ~18 atoms each)")
    print(f"{'batch':>6} {'mol/s':>9} {'peak MiB':>9} {'fwd/dense':>10} {'naive/ours':>11}")
    for b in (32, 128):
        r = run_isolated(
            dict(
                task="molecule",
                dim=128,
                n_layer=6,
                batch=b,
                repeats=reps,
                baseline=True,
                device=args.device,
            )
        )
        if "error" in r:
            print(f"{b:>6} error: {r['error']}")
            continue
        print(
            f"{b:>6} {b / r['seconds']:>9.0f} {r['peak_mib']:>9.0f} "
            f"{r['seconds'] / r['floor_seconds']:>10.2f} {r['naive_seconds'] / r['seconds']:>11.2f}"
        )

    sizes = (1000, 5000, 20000) if args.quick else (1000, 5000, 20000, 50000)
    for task in ("complex", "rna"):
        print(
            f"\nSingle {task} structures (dim 128, 6 layers"
            f"{', cutoffs 2/6 Å' if task == 'complex' else ', kNN 50, cutoffs 2.6/20 Å'})"
        )
        print(
            f"{'atoms':>7} {'s/struct':>9} {'us/atom':>8} {'peak MiB':>9} {'fwd/dense':>10}  graph"
        )
        for n in sizes:
            r = run_isolated(
                dict(
                    task=task,
                    dim=128,
                    n_layer=6,
                    atoms=n,
                    repeats=1 if n > 5000 else reps,
                    dense_graph=True,
                    device=args.device,
                )
            )
            if "error" in r:
                print(f"{n:>7} error: {r['error']}")
                continue
            print(
                f"{n:>7} {r['seconds']:>9.3f} {r['seconds'] / n * 1e6:>8.1f} {r['peak_mib']:>9.0f} "
                f"{r['seconds'] / r['floor_seconds']:>10.2f}  {r['dense_graph']}"
            )


if __name__ == "__main__":
    main()
