"""Time to explain one QM9-size molecule on CPU.

    python benchmarks/bench_explain.py [--checkpoint NAME] [--threads N] [--repeats 3]

Measures, for a 20-atom drug-like molecule (paracetamol with hydrogens) and a
QM9-size one (9 heavy atoms, 19 with H):

* explain: fusion attention + exact contributions + tables (goal < 1 s);
* IG atoms / IG coords: Integrated Gradients, 50 Gauss-Legendre steps (goal < 5 s);
* IG coords (to 1%): steps doubled from 50 until the attributions add up within 1%
  (coordinates need a few hundred; see `pamnet.explain.attribution`).

--process: what a user of the CLI waits for, each a whole new process, timed to its
exit with its peak memory: `pamnet explain SMILES`, `... --ig-steps 50 --ig-tolerance 0`
(50 steps on atoms and on coordinates, the first target) and `... --ig-steps 50` (steps
doubled until the attributions add up within 1%, the default), beside the floor measured in the same run, a bare
`python -c "import torch"`, which no process using the model can go under. The page
path (click to chart) is `benchmarks/bench_pages.py --attention`.

Uses the checkpoint when it exists (default: the shipped QM9 model), else a
randomly initialised model of the official QM9 size (dim 128, 6 blocks): the
timings do not depend on the weights. float64 (the default of `explain`) and
float32 are both reported. Median wall and CPU seconds of `--repeats` runs after
one warm-up run; on a shared machine, compare CPU seconds (and try --threads 1:
intra-op threads on an oversubscribed CPU cost far more than they give).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from functools import partial

import torch

MOLECULES = {
    "paracetamol (20 atoms)": "CC(=O)Nc1ccc(O)cc1",
    "QM9-size C7H12O2 (21 atoms)": "CC1(C)OC(=O)CC1C",
}
GOALS = {
    "explain": 1.0,
    "IG atoms (50 steps)": 5.0,
    "IG coords (50 steps)": 5.0,
    "IG coords (to 1%)": float("nan"),  # no goal: steps doubled until they add up
}


def model_for(checkpoint: str | None):
    from pamnet import registry
    from pamnet.checkpoint import LoadedModel
    from pamnet.config import ModelConfig
    from pamnet.errors import CheckpointError
    from pamnet.model import PAMNet

    try:
        loaded = registry.load(checkpoint)
        return loaded, f"checkpoint {loaded.path}"
    except CheckpointError:
        torch.manual_seed(0)
        model = PAMNet(ModelConfig(dim=128, n_layer=6, num_targets=1)).eval()
        return LoadedModel(model, ["target"]), "random model, official QM9 size (dim 128, 6 blocks)"


def explain_tables(structure, loaded, dtype):
    from pamnet.explain import explain

    exp = explain(structure, loaded, dtype=dtype)
    return exp.to_frame(), exp.by_element(), exp.by_group()


def timed(fn, repeats: int, warm_up: bool = True) -> tuple[float, float]:
    """Median (wall, CPU) seconds; CPU time is what to compare on a busy machine."""
    if warm_up:
        fn()  # imports, basis functions, private model copy
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def process_times(smiles: str, repeats: int) -> None:
    """Median wall seconds and peak memory of whole processes (module docstring)."""
    import subprocess
    import sys

    cases = {
        "python -c 'import torch' (floor)": [sys.executable, "-c", "import torch"],
        "pamnet explain": [sys.executable, "-m", "pamnet", "explain", smiles],
        "pamnet explain --ig-steps 50 (exactly)": [
            sys.executable, "-m", "pamnet", "explain", smiles, "--ig-steps", "50",
            "--ig-tolerance", "0",
        ],
        "pamnet explain --ig-steps 50 (to 1%)": [
            sys.executable, "-m", "pamnet", "explain", smiles, "--ig-steps", "50",
        ],
    }  # fmt: skip
    print(f"whole processes, {smiles!r}, median of {repeats} (load {os.getloadavg()[0]:.1f}):")
    floor = None
    for label, cmd in cases.items():
        walls, peaks = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(proc.pid, 0)
            walls.append(time.perf_counter() - t0)
            peaks.append(usage.ru_maxrss / 1024)  # KiB -> MiB (Linux)
            if status != 0:
                raise SystemExit(f"{label} failed: {proc.stderr.read().decode()[-500:]}")
        wall = statistics.median(walls)
        floor = floor or wall
        print(
            f"  {label:42s} {wall:6.2f} s  {max(peaks):6.0f} MiB peak"
            + (f"  ({wall - floor:.2f} s over the floor)" if wall is not floor else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--process", action="store_true", help="whole CLI processes only")
    args = parser.parse_args()
    if args.process:
        process_times(MOLECULES["paracetamol (20 atoms)"], args.repeats)
        return
    if args.threads:
        torch.set_num_threads(args.threads)

    from pamnet.explain import attribute, explain
    from pamnet.io import from_smiles

    loaded, what = model_for(args.checkpoint)
    c = loaded.config
    print(f"model: {what}; {c.variant}, dim {c.dim}, {c.n_layer} blocks")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"CPU threads: {torch.get_num_threads()}, load average (1 min): {load:.1f}")
    print(f"{'molecule':30s} {'dtype':8s} {'what':22s} {'wall s':>7s} {'CPU s':>7s} {'goal s':>7s}")
    for label, smiles in MOLECULES.items():
        s = from_smiles(smiles)
        for dtype in (torch.float64, torch.float32):
            exp = explain(s, loaded, dtype=dtype)
            cases = {
                "explain": partial(explain_tables, s, loaded, dtype),
                "IG atoms (50 steps)": partial(
                    attribute, exp, loaded, on="atoms", n_steps=args.steps, dtype=dtype
                ),
                "IG coords (50 steps)": partial(
                    attribute, exp, loaded, on="coords", n_steps=args.steps, dtype=dtype
                ),
                "IG coords (to 1%)": partial(
                    attribute,
                    exp,
                    loaded,
                    on="coords",
                    n_steps=args.steps,
                    dtype=dtype,
                    tolerance=0.01,
                ),
            }
            for what_, fn in cases.items():
                adaptive = what_.endswith("(to 1%)")  # long: once, after the others warmed up
                wall, cpu = timed(fn, 1 if adaptive else args.repeats, warm_up=not adaptive)
                name = str(dtype).replace("torch.", "")
                print(
                    f"{label:30s} {name:8s} {what_:22s} {wall:7.3f} {cpu:7.3f} {GOALS[what_]:7.1f}"
                )
            for a in exp.attributions.values():
                print(
                    f"{'':30s} {'':8s} last IG {a.on}: {a.n_steps} steps, "
                    f"completeness error {a.relative_error:.2e}"
                )


if __name__ == "__main__":
    main()
