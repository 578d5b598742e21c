"""Our PAMNet against the official implementation: same weights, same batch, same machine.

    python benchmarks/bench_official.py --official PATH [--deps DIR] [--quick]

PATH is a checkout of github.com/XieResearchGroup/Physics-aware-Multiplex-GNN (commit
3c13aa6; nothing of it is in this repository) and DIR, if given, a folder put on
sys.path that holds the compiled torch_scatter, torch_sparse and torch_cluster the
official code imports (`pip install --target DIR ...` of wheels built for this torch).
Without them this script says what is missing and exits 2.

For QM9-size batches (dim 128, 6 layers; batch 32 and 128 of the reference QM9
molecules, ~18 atoms each) it prints, for both implementations: molecules/s (inference,
best of 10 forwards, in the best of 3 alternating rounds), peak memory of one forward
(resident memory above the model and inputs, sampled while it runs: graphs and
activations), the ratios ours/official, and the largest difference of the predictions.
Each implementation runs in its own subprocess, the two taking turns.
Then the compute floor: each one's dense matmul FLOPs per forward (counted at dispatch,
`measure.matmul_flops`), our time if only our matmuls ran, at the float32 GEMM rate
measured here, and the official time over that: the most any float32 implementation of
our arithmetic could gain.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import gemm_peak_flops, matmul_flops, peak_rss_during, timeit  # noqa: E402

CASES = ROOT / "tests" / "fixtures" / "official" / "inputs.json"
TYPES = {"H": 0, "C": 1, "N": 2, "O": 3, "F": 4}
CONFIG = {"dataset": "QM9", "dim": 128, "n_layer": 6, "cutoff_l": 5.0, "cutoff_g": 5.0,
          "flow": "source_to_target", "model": "PAMNet"}  # fmt: skip
NEEDED = ("torch_scatter", "torch_sparse", "torch_cluster")


def molecules(batch: int) -> list[dict]:
    qm9 = json.loads(CASES.read_text())["qm9"]
    return [qm9[i % len(qm9)] for i in range(batch)]


def official_batch(cases: list[dict]):
    """The official QM9 input: x = type index, edge_index = bonds both ways, pos, batch."""
    from types import SimpleNamespace

    xs, pos, edges, graph, offset = [], [], [], [], 0
    for g, c in enumerate(cases):
        n = len(c["elements"])
        xs += [TYPES[e] for e in c["elements"]]
        pos += c["pos"]
        b = torch.tensor(c["bonds"], dtype=torch.long).reshape(-1, 2).T + offset
        edges.append(torch.cat([b, b.flip(0)], 1))
        graph += [g] * n
        offset += n
    return SimpleNamespace(
        x=torch.tensor(xs, dtype=torch.float32),
        pos=torch.tensor(pos, dtype=torch.float32),
        edge_index=torch.cat(edges, 1),
        batch=torch.tensor(graph, dtype=torch.long),
    )


def official_pamnet(official: str):
    """The official (Config, PAMNet) classes, imported from the checkout at `official`.

    The official code (written for PyG 1.x, NumPy 1) takes `radius`/`knn` from
    torch_geometric, which then called torch_cluster; PyG 2.8 routes them through
    pyg-lib instead (not installable here), so they are pointed back at torch_cluster,
    as the code ran. Nothing else of it is changed."""
    import math

    import numpy as np
    import torch_cluster
    import torch_geometric.nn as tgnn

    tgnn.radius, tgnn.knn = torch_cluster.radius, torch_cluster.knn
    np.math = math  # its sympy basis code calls np.math.factorial (gone in NumPy 2)
    sys.path.insert(0, official)
    from models import Config, PAMNet

    return Config, PAMNet


def run_one(impl: str, weights: str, official: str, batch: int, repeats: int) -> dict:
    """In this (fresh) process: build `impl`'s model with `weights`, time the forward."""
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", torch.get_num_threads())))
    cases = molecules(batch)
    if impl == "official":
        Config, OfficialPAMNet = official_pamnet(official)
        model = OfficialPAMNet(Config("QM9", 128, 6, 5.0, 5.0)).eval()
        model.load_state_dict(torch.load(weights, weights_only=True))
        data = official_batch(cases)

        def forward():
            return model(data).reshape(-1)
    else:
        from pamnet.compat import official as compat

        model = compat.load(weights, CONFIG)
        inputs = compat._batch(cases, model.config)

        def forward():
            return model(inputs).prediction[:, 0]

    with torch.no_grad():
        seconds = timeit(forward, repeats)
        pred = forward()
        peak = peak_rss_during(forward)
        flops = matmul_flops(forward)
    return {"seconds": seconds, "peak_mib": peak, "pred": pred.tolist(), "flops": flops,
            "gemm_peak": gemm_peak_flops(), "threads": torch.get_num_threads()}  # fmt: skip


def isolated(impl: str, weights: str, official: str, batch: int, repeats: int, deps) -> dict:
    env = dict(os.environ)
    if deps:
        env["PYTHONPATH"] = os.pathsep.join([deps, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    args = [sys.executable, __file__, "--worker", impl, weights, official, str(batch), str(repeats)]
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if out.returncode:
        raise SystemExit(f"{impl} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def missing_deps(deps: str | None) -> list[str]:
    code = f"import importlib.util as u, json; print(json.dumps([m for m in {list(NEEDED)!r} if u.find_spec(m) is None]))"
    env = dict(os.environ, PYTHONPATH=deps or "")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip() or "[]")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", help="checkout of the official PAMNet repository")
    ap.add_argument("--deps", help="folder holding torch_scatter, torch_sparse, torch_cluster")
    ap.add_argument("--quick", action="store_true", help="3 repeats, 1 round (default 10, 3)")
    ap.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        impl, weights, official, batch, repeats = args.worker
        print(json.dumps(run_one(impl, weights, official, int(batch), int(repeats))))
        return
    if not args.official or not (Path(args.official) / "models.py").is_file():
        sys.exit("give --official PATH: a checkout of the official PAMNet repository (models.py)")
    lacking = missing_deps(args.deps)
    if lacking:
        print(f"the official code needs {', '.join(lacking)} (compiled for torch "
              f"{torch.__version__}); pass --deps DIR holding them", file=sys.stderr)  # fmt: skip
        sys.exit(2)
    repeats, rounds = (3, 1) if args.quick else (10, 3)
    threads = os.environ.get("BENCH_THREADS", str(torch.get_num_threads()))
    print(f"torch {torch.__version__}, {threads} CPU thread(s); dim 128, 6 layers, QM9 molecules")
    print(f"{'batch':>6} {'ours mol/s':>11} {'official':>9} {'speed-up':>9} "
          f"{'ours MiB':>9} {'official':>9} {'memory':>7} {'max |dpred|':>12}")  # fmt: skip
    floors = []
    with tempfile.TemporaryDirectory() as tmp:
        weights = str(Path(tmp) / "official_state.pt")
        # the official class's own random initialisation, saved as its state dict
        if args.deps:
            sys.path.insert(0, args.deps)
        Config, OfficialPAMNet = official_pamnet(args.official)
        torch.manual_seed(0)
        torch.save(OfficialPAMNet(Config("QM9", 128, 6, 5.0, 5.0)).state_dict(), weights)
        for batch in (32, 128):
            # Alternate the two, `rounds` times: a shared machine's slow spells then hit
            # both, and each keeps its fastest round.
            runs = {"ours": [], "official": []}
            for _ in range(rounds):
                for impl in runs:
                    runs[impl].append(
                        isolated(impl, weights, args.official, batch, repeats, args.deps)
                    )
            ours, them = (min(r, key=lambda run: run["seconds"]) for r in runs.values())
            diff = max(abs(a - b) for a, b in zip(ours["pred"], them["pred"]))
            print(f"{batch:>6} {batch / ours['seconds']:>11.0f} {batch / them['seconds']:>9.0f} "
                  f"{them['seconds'] / ours['seconds']:>8.2f}x {ours['peak_mib']:>9.0f} "
                  f"{them['peak_mib']:>9.0f} {ours['peak_mib'] / them['peak_mib']:>6.2f}x "
                  f"{diff:>12.2e}")  # fmt: skip
            floors.append((batch, ours, them))
    # The compute floor: matmul FLOPs at this machine's float32 GEMM rate, nothing else.
    print(
        "\nmatmul work per forward and the speed-up it allows (GEMM peak "
        f"{floors[0][1]['gemm_peak'] / 1e9:.0f} GFLOP/s measured here):"
    )
    print(f"{'batch':>6} {'ours GFLOP':>11} {'official':>9} {'ours floor ms':>14} "
          f"{'ours ms':>8} {'official ms':>12} {'max speed-up':>13}")  # fmt: skip
    for batch, ours, them in floors:
        floor = ours["flops"] / ours["gemm_peak"]
        print(f"{batch:>6} {ours['flops'] / 1e9:>11.2f} {them['flops'] / 1e9:>9.2f} "
              f"{floor * 1e3:>14.1f} {ours['seconds'] * 1e3:>8.1f} "
              f"{them['seconds'] * 1e3:>12.1f} {them['seconds'] / floor:>12.2f}x")  # fmt: skip
    print(
        "max speed-up: the official time over ours if everything but our matmuls took no "
        "time and they ran at the measured peak; an upper bound on what float32 can reach."
    )


if __name__ == "__main__":
    main()
