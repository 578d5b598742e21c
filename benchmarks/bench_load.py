"""Fine-tuning under load: two jobs beside the running app, each against its solo speed.

    python benchmarks/bench_load.py [--n 372] [--epochs 4] [--threads-each N]

The data: the first `--n` molecules of QM9's validation split as a CSV of SMILES and
HOMO-LUMO gaps (QM9 size, like the fine-tunes users run). Each job is a whole
`pamnet finetune --data ... --target gap --work-dir DIR` process from the shipped MMFF
model; its speed is the training molecules/s of its epochs after the first (the
trainer's log.jsonl), so that embedding the SMILES and loading are not counted.

1. Solo: one job on the otherwise quiet machine.
2. Loaded: `streamlit run app.py` serving (a page opened, so that it has imported its
   models), then two jobs started at the same moment.
Prints each job's molecules/s and its ratio to the solo figure (goal: >= 0.4 each),
and the load average. `--threads-each N` fixes each loaded job's torch threads at N
(`--threads N`; e.g. 2, torch's default on 2 cores) instead of sizing them to the
free cores, to show what oversubscription costs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_pages import _port, _serve  # noqa: E402


def write_data(n: int, folder: Path) -> Path:
    from pamnet import qm9

    rows = qm9.split(0)["val"][:n]
    data = qm9.load(rows)
    gap = data.y[:, qm9.TARGETS.index("gap")].tolist()
    path = folder / "qm9_gap.csv"
    path.write_text("smiles,gap\n" + "".join(f"{s},{g}\n" for s, g in zip(data.smiles, gap)))
    return path


def start_job(data: Path, work: Path, epochs: int, threads: int | None) -> subprocess.Popen:
    env = {**os.environ, "PAMNET_DATA_DIR": str(work / "data")}
    cmd = [sys.executable, "-m", "pamnet", "finetune", "--data", str(data), "--target", "gap",
           "--epochs", str(epochs), "--work-dir", str(work / "run"), "--name", work.name,
           *(["--threads", str(threads)] if threads else [])]  # fmt: skip
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def rate(work: Path) -> float:
    rows = [json.loads(x) for x in (work / "run" / "log.jsonl").read_text().splitlines()]
    rates = [r["molecules_per_s"] for r in rows[1:] if r.get("complete", True)]
    return statistics.mean(rates)


def run_jobs(data: Path, epochs: int, n_jobs: int, threads: int | None) -> list[float]:
    works = [Path(tempfile.mkdtemp(prefix=f"pamnet-load{k}-")) for k in range(n_jobs)]
    procs = [start_job(data, w, epochs, threads) for w in works]
    for p in procs:
        _, err = p.communicate()
        if p.returncode:
            raise SystemExit(f"a fine-tune failed: {err.decode()[-800:]}")
    return [rate(w) for w in works]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=372)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--threads-each", type=int, default=None)
    args = ap.parse_args()
    data = write_data(args.n, Path(tempfile.mkdtemp(prefix="pamnet-load-")))
    (solo,) = run_jobs(data, args.epochs, 1, None)
    print(f"solo: {solo:.1f} molecules/s (load {os.getloadavg()[0]:.1f})", flush=True)
    port = _port()
    server = _serve(port)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30).read()
        time.sleep(5)
        rates = run_jobs(data, args.epochs, 2, args.threads_each)
    finally:
        server.terminate()
        server.wait(timeout=30)
    how = f"{args.threads_each} threads each, fixed" if args.threads_each else "threads sized"
    cells = ", ".join(f"{r:.1f} molecules/s ({r / solo:.2f} of solo)" for r in rates)
    print(f"two jobs beside the app ({how}; load {os.getloadavg()[0]:.1f}): {cells}")


if __name__ == "__main__":
    main()
