"""Overhead of the job machinery: from `jobs.submit` to the worker's first training step.

    python benchmarks/bench_jobs.py [--repeats 3] [--threads 1]

Each repeat submits a tiny fine-tune (16 molecules from an SDF, a dim-8 one-block
base) in a fresh data folder, waits for the worker's 'first training step' event in
the job database, then cancels the job and times how long the worker takes to
save and exit. Phases (seconds after submit, from the database's timestamps):
running = the worker process has started Python and marked itself running;
data = structures read; model = base loaded, heads built, trainer ready;
first step = the first batch is being assembled. For scale, the time to start
Python and import what any worker needs (torch, the torch._dynamo that creating a
torch optimizer imports, pandas, RDKit, SciPy) is printed first: the job machinery's
own overhead is the difference. Goal: first step < 5 s on CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SMILES = [
    "C",
    "CC",
    "CCC",
    "CCCC",
    "CCO",
    "CCN",
    "CC=O",
    "CO",
    "CN",
    "OCCO",
    "CC(C)C",
    "CC(=O)O",
    "c1ccccc1",
    "C1CCC1",
    "CCOC",
    "CF",
]


def _setup(folder: Path) -> Path:
    """A base checkpoint 'bench' and a 16-molecule SDF with a 'mw' field in `folder`."""
    import torch
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    from pamnet.checkpoint import Normalization, save_checkpoint
    from pamnet.config import ModelConfig
    from pamnet.io import from_smiles, write_sdf
    from pamnet.model import PAMNet

    torch.manual_seed(0)
    cfg = ModelConfig(dim=8, n_layer=1, num_targets=1, num_rbf=6)  # 7x6 angle basis: precomputed
    save_checkpoint(
        folder / "ckpts" / "bench.pt",
        PAMNet(cfg),
        ["homo"],
        {"homo": "eV"},
        Normalization([0.0], [1.0], [False]),
        {},
    )
    data = folder / "mols.sdf"
    mw = [{"mw": Descriptors.MolWt(Chem.MolFromSmiles(s)) / 10} for s in SMILES]
    write_sdf([from_smiles(s) for s in SMILES], data, predictions=mw)
    return data


FLOOR = (  # what any worker must import before its first step, without our code
    "import torch, pandas, rdkit.Chem.AllChem, scipy.spatial\n"
    "torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # imports torch._dynamo\n"
)


def _python_s(code: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t


def _first(logs: list[dict], prefix: str) -> float | None:
    return next((r["ts"] for r in logs if r["message"].startswith(prefix)), None)


def one_run(data: Path, timeout: float = 120.0) -> dict:
    from pamnet import jobs
    from pamnet.finetune import FinetuneConfig

    store = jobs.JobStore()
    cfg = FinetuneConfig(
        data=str(data), targets=["mw"], base="bench", epochs=1000, batch_size=4, device="cpu"
    )
    t0 = time.time()
    job = jobs.submit(cfg, store=store)
    submitted = time.time() - t0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = store.logs(job.id, 100)
        if _first(logs, "first training step") is not None:
            break
        if not store.get(job.id).active:
            raise RuntimeError(f"job ended: {store.get(job.id).error}")
        time.sleep(0.02)
    else:
        raise RuntimeError(f"no first training step within {timeout} s")
    row = store.get(job.id)
    phases = {
        "submit": submitted,
        "running": row.started_at - t0,
        "data": _first(logs, "data:") - t0,
        "model": _first(logs, "training ") - t0,
        "first step": _first(logs, "first training step") - t0,
    }
    t1 = time.perf_counter()
    done = jobs.cancel(job.id, store, wait=30)
    phases["cancel"] = time.perf_counter() - t1
    if done.status != "cancelled":
        raise RuntimeError(f"cancel left the job {done.status}")
    return phases


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of the workers")
    args = p.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory(prefix="pamnet-bench-jobs-") as tmp:
        folder = Path(tmp)
        os.environ.update(
            PAMNET_DATA_DIR=str(folder / "data"), PAMNET_CHECKPOINTS=str(folder / "ckpts")
        )
        data = _setup(folder)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"{os.cpu_count()} CPUs, load average {load:.1f}; python -c 'import torch': "
            f"{_python_s('import torch'):.2f} s; imports a worker needs (torch, its "
            f"optimizer's torch._dynamo, pandas, RDKit, SciPy): {_python_s(FLOOR):.2f} s"
        )
        runs = []
        for k in range(args.repeats):
            runs.append(one_run(data))
            print(f"run {k + 1}: " + ", ".join(f"{n} {v:.2f} s" for n, v in runs[-1].items()))
        med = {n: statistics.median(r[n] for r in runs) for n in runs[0]}
        print("median: " + ", ".join(f"{n} {v:.2f} s" for n, v in med.items()))
        verdict = "meets" if med["first step"] < 5 else "misses"
        print(f"submit -> first training step: {med['first step']:.2f} s ({verdict} the 5 s goal)")


if __name__ == "__main__":
    main()
