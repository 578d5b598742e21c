"""Time to explain one QM9-size molecule on CPU.

    python benchmarks/bench_explain.py [--checkpoint NAME] [--threads N] [--repeats 3]

Measures, for a 20-atom drug-like molecule (paracetamol with hydrogens) and a
QM9-size one (9 heavy atoms, 19 with H):

* explain: fusion attention + exact contributions + tables (goal < 1 s);
* IG atoms / IG coords: Integrated Gradients, 50 Gauss-Legendre steps (goal < 5 s);
* IG coords (to 1%): steps doubled from 50 until the attributions add up within 1%
  (coordinates need a few hundred; see `pamnet.explain.attribution`).

--process: what a user of the CLI waits for, each a whole new process, timed to its
exit with its peak memory: `pamnet predict SMILES`, `pamnet explain SMILES`, `...
--ig-steps 50 --ig-tolerance 0` (50 steps on atoms and on coordinates, the first
target) and `... --ig-steps 50` (steps doubled until the attributions add up within
1%, the default). First fresh (PAMNET_SERVE=0), beside the floor of a fresh process, a
bare `python -c "import torch"`; then through a `pamnet serve` this script starts (in
a folder of its own) and stops, beside the floor of any client, `python -c pass`. The
page path (click to chart) is `benchmarks/bench_pages.py --attention`.

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


def _whole_processes(cases: dict, repeats: int, env: dict, floor_label: str, server=None) -> None:
    import subprocess

    floor = None
    for label, cmd in cases.items():
        walls, peaks = [], []
        for _ in range(repeats):
            # GNU time reports the command's own peak (this process's rusage would count
            # the fork, which holds torch, before the exec)
            t0 = time.perf_counter()
            timer = ["/usr/bin/time", "-f", "%M"] if os.path.exists("/usr/bin/time") else []
            done = subprocess.run(
                [*timer, *cmd],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
            )
            walls.append(time.perf_counter() - t0)
            if done.returncode != 0:
                raise SystemExit(f"{label} failed: {done.stderr.decode()[-500:]}")
            peaks.append(int(done.stderr.split()[-1]) / 1024 if timer else float("nan"))
        wall = statistics.median(walls)
        if server and label != floor_label:  # the work ran in a worker forked from the
            time.sleep(0.7)  # server (reaped within 0.5 s): its peak
            peaks.append(server()["last_call_peak_mib"])
        floor = wall if label == floor_label else floor
        print(
            f"  {label:42s} {wall:6.2f} s  {max(peaks):6.0f} MiB peak"
            + (f"  ({wall - floor:+.2f} s over the floor)" if label != floor_label else "")
        )


def process_times(smiles: str, repeats: int) -> None:
    """Median wall seconds and peak memory of whole processes (module docstring), run
    fresh (PAMNET_SERVE=0) and then through a `pamnet serve` started here."""
    import shutil
    import subprocess
    import sys
    import tempfile

    pamnet = [sys.executable, "-m", "pamnet"]
    cases = {
        "pamnet predict": [*pamnet, "predict", smiles],
        "pamnet explain": [*pamnet, "explain", smiles],
        "pamnet explain --ig-steps 50 (exactly)": [
            *pamnet, "explain", smiles, "--ig-steps", "50", "--ig-tolerance", "0",
        ],
        "pamnet explain --ig-steps 50 (to 1%)": [*pamnet, "explain", smiles, "--ig-steps", "50"],
    }  # fmt: skip
    fresh_floor = "python -c 'import torch' (floor)"
    env = {**os.environ, "PAMNET_SERVE": "0"}
    print(f"whole processes, {smiles!r}, median of {repeats} (load {os.getloadavg()[0]:.1f}):")
    print(" fresh (no server):")
    floor_case = {fresh_floor: [sys.executable, "-c", "import torch"]}
    _whole_processes({**floor_case, **cases}, repeats, env, fresh_floor)

    env = {k: v for k, v in os.environ.items() if k != "PAMNET_SERVE"}
    env["PAMNET_SERVE_DIR"] = tempfile.mkdtemp(prefix="pserve")
    t0 = time.perf_counter()
    server = subprocess.Popen([*pamnet, "serve", "--detach", "--idle-minutes", "5"], env=env)
    if server.wait() != 0:
        raise SystemExit("pamnet serve --detach failed")
    print(
        f" through `pamnet serve` (started, warmed up and ready in {time.perf_counter() - t0:.1f} s):"
    )
    floor_case = {"python -c pass (floor)": [sys.executable, "-c", "pass"]}
    try:
        from unittest import mock

        from pamnet.serve import client as serve

        def status() -> dict:
            with mock.patch.dict(os.environ, env, clear=True):
                return serve.status()

        _whole_processes({**floor_case, **cases}, repeats, env, "python -c pass (floor)", status)
        pid = status()["pid"]
        rss = next(line for line in open(f"/proc/{pid}/status") if line.startswith("VmRSS"))
        print(
            f"  the server holds {int(rss.split()[1]) / 1024:.0f} MiB; a served call's peak is "
            "the larger of its client's and its worker's (forked from the server, pages shared)"
        )
    finally:
        subprocess.run([*pamnet, "serve", "--stop"], env=env, capture_output=True)
        time.sleep(1.0)  # the server removes its socket as it exits
        shutil.rmtree(env["PAMNET_SERVE_DIR"], ignore_errors=True)


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
